# breakdown.gp: peak memory per category (params, grads, optimizer, activations kept, transient,
# workspace) for each measured network, stacked bars in MiB.
# Variables: data (file with a header row: label then one column per category), ncols, out, fmt.
load "plots/common.gp"
set title "Peak memory per category".suffix
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.7
set ylabel "MiB"
set xtics rotate by -35 left
set bmargin 9
set key outside right top
plot for [i=2:ncols] data using i:xtic(1) title columnheader(i) lc rgb PALETTE[(i-2)%8+1]
