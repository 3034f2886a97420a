# curves.gp: training curves of matched networks: cross-entropy and top-1 error against steps,
# training dotted, test solid (the paper's training-curve figures).
# Variables: dir (data folder), archs (space-separated), title, out, fmt.
# Data: dir/ARCH.METRIC.dat, two columns (step, value); make-plots.sh passes only non-empty ones
# in lossfiles/errfiles, with the arch index for the colour in losscol/errcol and the dash
# type (3 dotted for training, 1 solid for test) in lossdt/errdt, and 1 in lossref/errref for
# a series of the reference results (drawn lighter and thinner under yours).
load "plots/common.gp"
if (!exists("lossref")) lossref = ""
if (!exists("errref")) errref = ""
lref(i) = (words(lossref) >= i) ? int(word(lossref,i)) : 0
eref(i) = (words(errref) >= i) ? int(word(errref,i)) : 0
# ranges(FILES): x and y ranges of one panel, widened by hand where empty (common.gp), and
# the point size of each series: 0 (lines only) unless it has one row, which lines cannot show.
ranges = 'eval NPOINTS; COL = 2; eval SPAN; ylo = lo; yhi = hi; ypad = pad; COL = 1; eval SPAN; ' . \
         'if (lo == hi) { set xrange [lo - pad : hi + pad] }; ' . \
         'if (ylo == yhi) { set yrange [ylo - ypad : yhi + ypad] }'
psize(i) = (int(word(npoints,i)) == 1) ? 1.0 : 0
set multiplot layout 1,2 title title.suffix
set xlabel "training step"
set ylabel "cross-entropy"
FILES = lossfiles; eval ranges
plot for [i=1:words(lossfiles)] dir."/".word(lossfiles,i) using 1:2 with linespoints \
     lw width(lref(i)) lc rgb colour(int(word(losscol,i)), lref(i)) dt int(word(lossdt,i)) \
     pt 7 ps psize(i) title (word(losstitles,i))
set ylabel "top-1 error (%)"
FILES = errfiles; eval ranges
plot for [i=1:words(errfiles)] dir."/".word(errfiles,i) using 1:2 with linespoints \
     lw width(eref(i)) lc rgb colour(int(word(errcol,i)), eref(i)) dt int(word(errdt,i)) \
     pt 7 ps psize(i) title (word(errtitles,i))
unset multiplot
