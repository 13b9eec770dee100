# The conformance matrix as a heat map: one row per case, one column per
# implementation, coloured by status.
#
#   gnuplot -e 'datafile="matrix.dat"; outfile="matrix.svg"; ncases=250; nimpls=9' plots/matrix.gp
#
# datafile (tools/plotdata.py, from `loopspec run --json`): index 0 the cells
# `x y code` (codes: 0 PASS, 1 FAIL, 2 UNSUPPORTED, 3 TIMEOUT, 4 CRASH,
# 5 ERROR, 6 FLAKY, 7 not for the implementation's profile, 8 no result),
# index 1 the case labels `y "case"`, index 2 the implementation labels
# `x "impl"`.
if (!exists("datafile")) datafile = "matrix.dat"
if (!exists("outfile")) outfile = "matrix.svg"
if (!exists("ncases")) ncases = 250
if (!exists("nimpls")) nimpls = 9
if (!exists("plotsdir")) plotsdir = "plots"
load plotsdir . "/common.gp"
set terminal svg size 900, (ncases * 12 + 260) dynamic enhanced font "DejaVu Sans,9" background rgb "white"
set output outfile
set title "Conformance: every case on every implementation" font ",13"
set palette defined (0 "#2ca02c", 1 "#d62728", 2 "#d9d9d9", 3 "#ff7f0e", 4 "#9467bd", \
                     5 "#8c564b", 6 "#f2c80f", 7 "#f7f7f7", 8 "#ffffff")
set cbrange [0:8]
unset colorbox
set xrange [-0.5:nimpls-0.5]
set yrange [-0.5:ncases-0.5]
set x2range [-0.5:nimpls-0.5]
unset xtics
set x2tics rotate by 35 left scale 0 font ",10"
set ytics scale 0 font ",8"
set tmargin 10
set lmargin 62

unset grid
set key outside right top vertical Left reverse samplen 1 title "status"
set style fill solid 1.0 noborder
plot datafile index 0 using 1:2:3 with image pixels notitle, \
     datafile index 1 using (NaN):1:ytic(2) notitle, \
     datafile index 2 using 1:(NaN):x2tic(2) axes x2y1 notitle, \
     keyentry with boxes fc rgb "#2ca02c" title "PASS", \
     keyentry with boxes fc rgb "#d62728" title "FAIL", \
     keyentry with boxes fc rgb "#d9d9d9" title "unsupported", \
     keyentry with boxes fc rgb "#ff7f0e" title "TIMEOUT", \
     keyentry with boxes fc rgb "#9467bd" title "CRASH", \
     keyentry with boxes fc rgb "#8c564b" title "ERROR", \
     keyentry with boxes fc rgb "#f2c80f" title "FLAKY", \
     keyentry with boxes fc rgb "#f7f7f7" title "not its profile"
