# common.gp: terminal and style shared by every figure. Variables from make-plots.sh:
#   out (path without extension), fmt ("png" or "svg").
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
