# angle.gp: angle in degrees between the parameter gradient from stored activations and the one
# from reconstructed activations, during training (the paper's reconstruction-error figure).
# Variables: dir, files (columns: step angle), titles, ymax (largest angle), out, fmt.
load "plots/common.gp"
set title "Gradient angle: stored vs reconstructed activations"
set xlabel "training step"
set ylabel "angle (degrees)"
set key top left
# Log scale: the angle spans orders of magnitude (large at initialization, tiny once trained).
set logscale y
set format y "10^{%L}"
set yrange [*:(ymax > 0 ? 3 * ymax : 1)]
plot for [i=1:words(files)] dir."/".word(files,i) using 1:2 with linespoints \
     lw 1.4 pt 7 ps 0.6 lc rgb PALETTE[(i-1)%8+1] title (word(titles,i))
