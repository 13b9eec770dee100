# The version matrix: the cases whose trace differs between CPython
# releases, one row each, one column per release, coloured by which
# distinct trace the release gives (the first one from the left, the
# second, ...).
#
#   gnuplot -e 'datafile="versions.dat"; outfile="versions.svg"; ncases=20; ncols=11' plots/versions.gp
#
# datafile (tools/versions.py --plot-data): index 0 the cells `x y class`
# (0 the first distinct trace, 1 the second, ..., 9 no result), index 1 the
# case labels `y "case"`, index 2 the release labels `x "release"`.
if (!exists("datafile")) datafile = "versions.dat"
if (!exists("outfile")) outfile = "versions.svg"
if (!exists("ncases")) ncases = 20
if (!exists("ncols")) ncols = 11
if (!exists("plotsdir")) plotsdir = "plots"
load plotsdir . "/common.gp"
set terminal svg size 900, (ncases * 14 + 260) dynamic enhanced font "DejaVu Sans,9" background rgb "white"
set output outfile
set title "Which trace each CPython release gives, where releases differ" font ",13"
set palette defined (0 "#4c78a8", 1 "#f58518", 2 "#54a24b", 3 "#e45756", 4 "#b279a2", \
                     5 "#9d755d", 6 "#bab0ac", 7 "#eeca3b", 8 "#72b7b2", 9 "#ffffff")
set cbrange [0:9]
unset colorbox
set xrange [-0.5:ncols-0.5]
set yrange [-0.5:ncases-0.5]
set x2range [-0.5:ncols-0.5]
unset xtics
set x2tics rotate by 35 left scale 0 font ",10"
set ytics scale 0 font ",8"
set tmargin 8
set lmargin 70
unset grid
set key outside right top vertical Left reverse samplen 1 title "trace"
set style fill solid 1.0 noborder
plot datafile index 0 using 1:2:3 with image pixels notitle, \
     datafile index 1 using (NaN):1:ytic(2) notitle, \
     datafile index 2 using 1:(NaN):x2tic(2) axes x2y1 notitle, \
     keyentry with boxes fc rgb "#4c78a8" title "A", \
     keyentry with boxes fc rgb "#f58518" title "B", \
     keyentry with boxes fc rgb "#54a24b" title "C", \
     keyentry with boxes fc rgb "#e45756" title "D", \
     keyentry with boxes fc rgb "#ffffff" title "no result"
