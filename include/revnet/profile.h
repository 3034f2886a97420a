/*
 * profile.h: per-op wall-clock times of everything a context runs, to see where a training
 * step goes.
 *
 * Every public op (rv_conv_forward, rv_bn_backward, rv_relu_forward, rv_sgd_update, ...) and
 * every host/device copy (rv_ctx_upload, rv_ctx_download) dispatches through one place (the
 * backend table, lib/core/dispatch.h). While profiling is on, that place waits for the
 * device before and after the call (rv_ctx_sync: a no-op on the CPU, the stream drained on a
 * GPU, so that a time covers the op's own work and not queued earlier work or only its launch)
 * and adds the elapsed monotonic-clock time to the op's total. Off (the default) it costs one
 * flag test per op and changes nothing; on a GPU, on, it also takes away the overlap of
 * host and device, so profiled steps are slower there and their times are an attribution,
 * not a throughput.
 *
 * An op that a backend implements by calling other public ops is timed once, as the outer op
 * (nested calls are not counted), so the op totals never exceed the wall time they cover.
 * Time spent outside every op (the memory planner's bookkeeping, host code between ops) is
 * not attributed: a caller gets it as its own wall time minus rv_profile_total_ms.
 *
 * Owns nothing: the counters live on the context, one set per context; a context is used by
 * one thread at a time, like every other part of it.
 */
#ifndef RV_PROFILE_H
#define RV_PROFILE_H

#include "context.h"

/* Where an op's time is reported. */
typedef enum {
    RV_PROFILE_CONV_FWD = 0,    /* rv_conv_forward */
    RV_PROFILE_CONV_BWD_DATA,   /* rv_conv_backward_data (input gradient) */
    RV_PROFILE_CONV_BWD_FILTER, /* rv_conv_backward_filter (weight gradient) */
    RV_PROFILE_BN,              /* batch norm forward and backward */
    RV_PROFILE_ELEMENTWISE,     /* ReLU forward/backward, add, sub, axpy, copy, fill */
    RV_PROFILE_OTHER,           /* pooling, channel padding, FC, loss, SGD update, copies
                                   between host and device */
    RV_PROFILE_N_CATEGORIES
} rv_profile_category;

/* "conv_fwd", "conv_bwd_data", "conv_bwd_filter", "bn", "elementwise", "other"; NULL for a
 * value out of range. */
const char *rv_profile_category_name(rv_profile_category c);

/* One op's totals since the last reset. */
typedef struct {
    const char *name;             /* the op, as in the backend table: "conv_forward", ... */
    rv_profile_category category;
    long calls;                   /* calls timed (outermost calls while profiling was on) */
    double ms;                    /* their summed wall time */
    double flop;                  /* their arithmetic work, where it is counted: the
                                     convolutions' 2 x multiply-adds (rv_conv_macs) for each
                                     pass; 0 for every other op */
} rv_profile_entry;

/* Turns timing on (on != 0) or off. Counters are kept when it is turned off. */
void rv_profile_enable(rv_ctx *ctx, int on);
int rv_profile_enabled(const rv_ctx *ctx);
/* Zeroes every op's calls and time. */
void rv_profile_reset(rv_ctx *ctx);

/* The number of ops that are timed (the same for every context), and op i's totals in *out
 * (0 <= i < rv_profile_n_ops()). RV_ERR_ARG with a message for i out of range or NULL out. */
int rv_profile_n_ops(void);
rv_status rv_profile_get(rv_ctx *ctx, int i, rv_profile_entry *out);

/* Summed time of the ops of one category / of every op since the last reset. */
double rv_profile_category_ms(const rv_ctx *ctx, rv_profile_category c);
double rv_profile_total_ms(const rv_ctx *ctx);
/* Summed counted work (floating-point operations) of the ops of one category: the three
 * convolution categories have it, the others are 0. Work / time is the rate a backend reached
 * on those ops, to set beside the machine's peak (`revbench bench peak`). */
double rv_profile_category_flop(const rv_ctx *ctx, rv_profile_category c);

#endif
