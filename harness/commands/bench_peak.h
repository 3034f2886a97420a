/*
 * bench_peak.h: `revbench bench peak` (bench_peak.c): this CPU's fused multiply-add peak,
 * measured now, the ceiling a training step's convolutions run under.
 */
#ifndef RB_BENCH_PEAK_H
#define RB_BENCH_PEAK_H

/* The command: argv[0] is "peak". Returns an exit status (common/exit_status.h). */
int rb_bench_peak(int argc, char **argv);

#endif
