# Ordering diff of one (case, implementation) pair: each line's position in
# the expected trace against its position in the actual one.  A trace in the
# expected order lies on the diagonal; a reordering shows as points off it;
# an expected line that never came sits on the bottom row (actual position
# "none", its text upwards), an unexpected line on the left column
# (expected position "none").
#
#   gnuplot -e 'datafile="x.dat"; outfile="x.svg"; titletext="case on impl"; npos=6' \
#           plots/orderdiff.gp
#
# datafile (tools/plotdata.py, from `loopspec run --json`): one line per
# point: expected-position actual-position kind "text" (kind 0 matched,
# 1 missing, 2 extra).
if (!exists("datafile")) datafile = "orderdiff.dat"
if (!exists("outfile")) outfile = "orderdiff.svg"
if (!exists("titletext")) titletext = ""
if (!exists("npos")) npos = 10
if (!exists("plotsdir")) plotsdir = "plots"
load plotsdir . "/common.gp"
set terminal svg size 560,520 dynamic enhanced font "DejaVu Sans,10" background rgb "white"
set output outfile
set title titletext noenhanced font ",11"
set size ratio -1
set xrange [-0.5:npos+0.5+npos*0.35]
set yrange [-0.5:npos+0.5]
if (npos <= 25) { set xtics 1; set ytics 1 }
set xtics add ("none" 0)
set ytics add ("none" 0)
set xlabel "position in the expected trace"
set ylabel "position in the actual trace"
set grid
set key outside bottom center horizontal samplen 1 font ",9"
set offsets 0, 0, 0, 0
plot x with lines dt 2 lc rgb "#999999" title "in order", \
     datafile using ($3 == 0 ? $1 : NaN):2 with points pt 7 ps 1.1 lc rgb "#1f77b4" title "line", \
     datafile using ($3 == 1 ? $1 : NaN):2 with points pt 6 ps 1.3 lc rgb "#d62728" title "missing", \
     datafile using ($3 == 2 ? $1 : NaN):2 with points pt 4 ps 1.3 lc rgb "#ff7f0e" title "unexpected", \
     datafile using 1:($3 == 1 ? NaN : $2):(npos <= 30 ? stringcolumn(4) : "") with labels \
         left offset 0.8,0 font ",8" tc rgb "#444444" noenhanced notitle, \
     datafile using 1:($3 == 1 ? $2 : NaN):(npos <= 30 ? stringcolumn(4) : "") with labels \
         rotate by 90 left offset 0,0.9 font ",8" tc rgb "#a33" noenhanced notitle
