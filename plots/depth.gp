# depth.gp: a quantity (activation memory or step time) against network depth, one line per
# technique (ResNet standard, ResNet checkpoint, RevNet reversible, ...), log-log axes.
# Variables: dir, files (series data files, columns: layers value), titles, refs (1 for a
# reference series), ylabel, title, out, fmt, suffix.
load "plots/common.gp"
set title title.suffix
set logscale xy
set xlabel "layers (L)"
set ylabel ylabel
set key top left
if (!exists("refs")) refs = ""
ref(i) = (words(refs) >= i) ? int(word(refs,i)) : 0
plot for [i=1:words(files)] dir."/".word(files,i) using 1:2 with linespoints \
     lw width(ref(i)) pt 7 ps 0.8 lc rgb colour(i, ref(i)) title (word(titles,i))
