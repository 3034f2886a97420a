# cpugpu.gp: time per training step on the CPU and on the GPU for each network (log scale).
# Variables: data (columns: label cpu_ms cuda_ms, header row), out, fmt.
load "plots/common.gp"
set title "Time per training step, CPU against GPU".suffix
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set ylabel "ms per step"
set xtics rotate by -35 left
set bmargin 9
plot data using 2:xtic(1) title columnheader(2) lc rgb PALETTE[1], \
     "" using 3 title columnheader(3) lc rgb PALETTE[2]
