# ns per operation, per benchmark case and implementation: grouped bars (the
# median) with error bars (min to max over the timed runs), log scale.
#
#   gnuplot -e 'datafile="bench.dat"; outfile="bench.svg"; nimpls=9' plots/bench.gp
#
# datafile (tools/plotdata.py, from `loopspec bench --json`): a header line
# `case IMPL IMPL-min IMPL-max ...`, then one line per case with the median,
# min and max ns/op of each implementation, `-` where it skipped the case.
if (!exists("datafile")) datafile = "bench.dat"
if (!exists("outfile")) outfile = "bench.svg"
if (!exists("nimpls")) nimpls = 9
if (!exists("plotsdir")) plotsdir = "plots"
load plotsdir . "/common.gp"
set terminal svg size 1100,560 dynamic enhanced font "DejaVu Sans,11" background rgb "white"
set output outfile
set title "Cost of one operation: median ns/op, error bars min to max of the timed runs (log scale; lower is faster)"
set datafile missing "-"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.92
set logscale y 10
set format y "10^{%L}"
set yrange [1:*]
set ylabel "ns per operation"
set grid ytics mytics
set mytics 10
set xtics rotate by -25 nomirror scale 0 font ",10"
set key outside right top vertical Left reverse noautotitle samplen 1.5
set bmargin 6
set errorbars lc rgb "#333333"
plot for [i=0:nimpls-1] datafile using 2+3*i:3+3*i:4+3*i:xtic(1) \
    title columnheader(2+3*i) lt (i+1)
