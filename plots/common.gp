# common.gp: terminal and style shared by every figure. Variables from make-plots.sh:
#   out (path without extension), fmt ("png" or "svg"), suffix (appended to the title: which
#   results these are, e.g. " (reference results)").
if (fmt eq "svg") {
    set terminal svg size 900,520 dynamic enhanced font "sans,11"
    set output out.".svg"
} else {
    set terminal pngcairo size 900,520 enhanced font "sans,10"
    set output out.".png"
}
set grid lc rgb "#dddddd"
set key top right noopaque
set border lc rgb "#444444"
array PALETTE[8] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
# The reference results under your runs: the same hues, 55% transparent (ARGB), thinner lines.
array PALETTE_REF[8] = ["#8c1f77b4", "#8cd62728", "#8c2ca02c", "#8c9467bd", "#8cff7f0e", "#8c17becf", "#8c8c564b", "#8ce377c2"]
if (!exists("suffix")) suffix = ""
# colour(i, ref) and width(ref): the style of series i, of the reference when ref is 1.
colour(i, ref) = ref ? PALETTE_REF[(i-1)%8+1] : PALETTE[(i-1)%8+1]
width(ref) = ref ? 1.0 : 1.6
# An axis on which every point has one value (a run evaluated once, with eval_every = 0, or an
# angle measured once) has an empty range, which gnuplot widens with a warning, and
# make-plots.sh refuses a figure that warns. SPAN sets lo and hi to the range of column COL
# over the files in FILES (in dir) and pad to a margin for widening it by hand; NPOINTS sets
# npoints to the row counts of those files, one word each (a one-row series needs a point
# marker to show at all). Both reset the axes to autoscale first (stats reads only the points
# inside the current ranges). Use: FILES = "a.dat b.dat"; COL = 1; eval SPAN.
SPAN = 'lo = 1e300; hi = -1e300; set autoscale; do for [f in FILES] { stats dir."/".f using COL nooutput; ' . \
       'lo = (STATS_min < lo) ? STATS_min : lo; hi = (STATS_max > hi) ? STATS_max : hi }; ' . \
       'pad = (abs(lo) > 20) ? 0.05 * abs(lo) : 1'
NPOINTS = 'npoints = ""; set autoscale; do for [f in FILES] { stats dir."/".f using 1 nooutput; ' . \
          'npoints = npoints . sprintf(" %d", STATS_records) }'
