/*
 * bench_step.h: `revbench bench step` (bench_step.c): images/s of whole training steps and a
 * per-op breakdown of where a step goes.
 */
#ifndef RB_BENCH_STEP_H
#define RB_BENCH_STEP_H

#include <stdint.h>
#include <revnet/model.h>
#include <revnet/profile.h>

/* What one measurement gives; times in ms per step. */
typedef struct {
    int steps;          /* plain steps, and as many profiled ones when breakdown */
    int breakdown;      /* whether the profiled steps ran (the fields below them are 0 if not) */
    double median_ms;   /* plain steps: median and mean wall time */
    double mean_ms;
    double profiled_ms; /* profiled steps: mean wall time */
    double category_ms[RV_PROFILE_N_CATEGORIES]; /* profiled steps: the ops' time per category */
    double category_flop[RV_PROFILE_N_CATEGORIES]; /* and their counted work per step (the
                                                      convolutions'; 0 for the rest) */
    double ops_ms;      /* the sum of category_ms */
    double outside_ms;  /* profiled_ms - ops_ms: time outside every op */
} rb_step_bench;

/*
 * Runs the warm-up steps, then `steps` plain and (when breakdown) `steps` profiled training
 * steps alternately
 * (rv_model_train_step in mode, SGD, rv_ctx_sync) on the host batch x, y, and fills *out. The
 * model must have mode planned. Leaves the context's profile counters holding the profiled
 * steps' totals (for the per-op table) and profiling off. The first failing step's status,
 * with the message on ctx.
 */
rv_status rb_bench_step_measure(rv_ctx *ctx, rv_model *m, rv_backward_mode mode,
                                const float *x, const int32_t *y, int steps, int breakdown,
                                rb_step_bench *out);

/* The command: argv[0] is "step". Returns an exit status (common/exit_status.h). */
int rb_bench_step(int argc, char **argv);

#endif
