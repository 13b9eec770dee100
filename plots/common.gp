# Shared by the loopspec plots: one colour per implementation, in the
# registry's order (harness/casekit/impls.py), and the SVG terminal.
set linetype 1 lc rgb "#222222"
set linetype 2 lc rgb "#1f77b4"
set linetype 3 lc rgb "#6baed6"
set linetype 4 lc rgb "#2ca02c"
set linetype 5 lc rgb "#ff7f0e"
set linetype 6 lc rgb "#9467bd"
set linetype 7 lc rgb "#c5b0d5"
set linetype 8 lc rgb "#d62728"
set linetype 9 lc rgb "#8c564b"
set linetype 10 lc rgb "#e377c2"
set linetype 11 lc rgb "#7f7f7f"
set linetype 12 lc rgb "#bcbd22"
set linetype cycle 12
set border lc rgb "#444444"
set grid lc rgb "#dddddd" lt 1
