# depth.gp: a quantity (activation memory or step time) against network depth, one line per
# technique (ResNet standard, ResNet checkpoint, RevNet reversible, ...), log-log axes.
# Variables: dir, files (series data files, columns: layers value), titles, ylabel, title, out, fmt.
load "plots/common.gp"
set title title
set logscale xy
set xlabel "layers (L)"
set ylabel ylabel
set key top left
plot for [i=1:words(files)] dir."/".word(files,i) using 1:2 with linespoints \
     lw 1.6 pt 7 ps 0.8 lc rgb PALETTE[(i-1)%8+1] title (word(titles,i))
