/*
 * measure.h: what the harness measures of its own process: wall-clock time, peak resident
 * memory, and the median of repeated timings.
 */
#ifndef RB_MEASURE_H
#define RB_MEASURE_H

#include <stddef.h>

/* Wall-clock milliseconds from a monotonic clock. */
double rb_now_ms(void);
/* Max resident set size of this process in bytes (getrusage). */
size_t rb_max_rss_bytes(void);
/* The median of v[0 .. n-1] (n >= 1), the mean of the middle two for an even n. Sorts v in
 * place. */
double rb_median(double *v, int n);
/* GFLOP/s of flop floating-point operations in ms milliseconds (0 for a non-positive ms). */
double rb_gflops(double flop, double ms);

#endif
