# angle.gp: angle in degrees between the parameter gradient from stored activations and the one
# from reconstructed activations, during training (the paper's reconstruction-error figure).
# Variables: dir, files (columns: step angle), titles, refs (1 for a reference series),
# ymax (largest angle), out, fmt, suffix.
load "plots/common.gp"
set title "Gradient angle: stored vs reconstructed activations".suffix
set xlabel "training step"
set ylabel "angle (degrees)"
set key top left
# Log scale: the angle spans orders of magnitude (large at initialization, tiny once trained).
set logscale y
set format y "10^{%L}"
set yrange [*:(ymax > 0 ? 3 * ymax : 1)]
FILES = files; COL = 1; eval SPAN
if (lo == hi) { set xrange [lo - pad : hi + pad] }
if (!exists("refs")) refs = ""
ref(i) = (words(refs) >= i) ? int(word(refs,i)) : 0
plot for [i=1:words(files)] dir."/".word(files,i) using 1:2 with linespoints \
     lw width(ref(i)) pt 7 ps 0.6 lc rgb colour(i, ref(i)) title (word(titles,i))
