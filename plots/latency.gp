# Timer lateness per implementation: how late `await sleep(d)` wakes, one box
# per delay d (box p25-p75, whiskers p5-p95, black bar the median), on a
# symmetric log scale (a loop that wakes early shows below 0).
#
#   gnuplot -e 'datafile="latency.dat"; outfile="latency.svg"; nimpls=6;
#               ndelays=6; implnames="a b ..."; delaynames="0 0.1 ..."' plots/latency.gp
#
# datafile (tools/plotdata.py, from `loopspec latency --json`): one block per
# delay (gnuplot's `index`), one line per implementation:
# x p5 p25 median p75 p95 "impl" "delay".
if (!exists("datafile")) datafile = "latency.dat"
if (!exists("outfile")) outfile = "latency.svg"
if (!exists("nimpls")) nimpls = 6
if (!exists("ndelays")) ndelays = 6
if (!exists("implnames")) implnames = ""
if (!exists("delaynames")) delaynames = ""
if (!exists("plotsdir")) plotsdir = "plots"
load plotsdir . "/common.gp"
set terminal svg size 1100,520 dynamic enhanced font "DejaVu Sans,11" background rgb "white"
set output outfile
set title "Timer lateness: how late sleep(d) wakes (box p25-p75, whiskers p5-p95, bar the median)"
sl(v) = (v >= 0 ? 1 : -1) * log10(1 + abs(v))
set ytics ("-10 ms" sl(-10000), "-1 ms" sl(-1000), "-100 µs" sl(-100), "-10 µs" sl(-10), \
           "0" 0, "10 µs" sl(10), "100 µs" sl(100), "1 ms" sl(1000), "10 ms" sl(10000), \
           "100 ms" sl(100000))
set yrange [sl(-10000):sl(30000)]
set ylabel "lateness (symmetric log scale)"
set grid ytics
set xrange [-0.6:nimpls-0.4]
set xtics () scale 0
set for [i=1:nimpls] xtics add (word(implnames, i) i-1)
set boxwidth 0.8/ndelays*0.85 absolute
set style fill solid 0.7 border rgb "#333333"
set key outside right top vertical title "delay d" Left reverse samplen 1.5
set arrow from graph 0, first 0 to graph 1, first 0 nohead lc rgb "#888888" dt 2
plot for [k=0:ndelays-1] datafile index k using 1:(sl($3)):(sl($2)):(sl($6)):(sl($5)) \
         with candlesticks whiskerbars 0.5 lt (k+2) title word(delaynames, k+1)." ms", \
     for [k=0:ndelays-1] datafile index k using 1:(sl($4)):(sl($4)):(sl($4)):(sl($4)) \
         with candlesticks lt -1 lw 2 notitle
