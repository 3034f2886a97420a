/*
 * dispatch.h (internal): how a public op reaches the backend table, and the per-op timing of
 * profile.h that rides on it.
 *
 * RV_PROFILE_OPS lists every timed op once, with its report category: each public op wrapper
 * ends in RV_DISPATCH(ctx, name, args...), which needs the op's RV_OP_<name> id from this list,
 * so an op added to the backend table without a line here does not compile. A backend entry
 * that is not a public op (init, alloc, workspace queries) is not listed.
 *
 * The public op wrappers in lib/ops/ include this header (and through it backend.h) and end
 * in RV_DISPATCH: in dry-run mode (memory planning) return RV_OK without touching memory; with
 * profiling off, call the backend (one flag test more than a bare call); with profiling on,
 * rv_profile_begin / rv_profile_end wrap the call (device synchronized before and after,
 * monotonic clock, outermost call only).
 */
#ifndef RV_DISPATCH_H
#define RV_DISPATCH_H

#include <revnet/profile.h>
#include "core/backend.h"

#define RV_PROFILE_OPS(X)                                                                 \
    X(conv_forward, RV_PROFILE_CONV_FWD)                                                  \
    X(conv_backward_data, RV_PROFILE_CONV_BWD_DATA)                                       \
    X(conv_backward_filter, RV_PROFILE_CONV_BWD_FILTER)                                   \
    X(bn_forward, RV_PROFILE_BN)                                                          \
    X(bn_backward, RV_PROFILE_BN)                                                         \
    X(bn_relu_forward, RV_PROFILE_BN)                                                     \
    X(bn_relu_backward, RV_PROFILE_BN)                                                    \
    X(relu_forward, RV_PROFILE_ELEMENTWISE)                                               \
    X(relu_backward, RV_PROFILE_ELEMENTWISE)                                              \
    X(add, RV_PROFILE_ELEMENTWISE)                                                        \
    X(sub, RV_PROFILE_ELEMENTWISE)                                                        \
    X(axpy, RV_PROFILE_ELEMENTWISE)                                                       \
    X(copy, RV_PROFILE_ELEMENTWISE)                                                       \
    X(fill, RV_PROFILE_ELEMENTWISE)                                                       \
    X(avgpool2_forward, RV_PROFILE_OTHER)                                                 \
    X(avgpool2_backward, RV_PROFILE_OTHER)                                                \
    X(chpad_forward, RV_PROFILE_OTHER)                                                    \
    X(chpad_backward, RV_PROFILE_OTHER)                                                   \
    X(gap_forward, RV_PROFILE_OTHER)                                                      \
    X(gap_backward, RV_PROFILE_OTHER)                                                     \
    X(maxpool3s2_forward, RV_PROFILE_OTHER)                                               \
    X(maxpool3s2_backward, RV_PROFILE_OTHER)                                              \
    X(linear_forward, RV_PROFILE_OTHER)                                                   \
    X(linear_backward, RV_PROFILE_OTHER)                                                  \
    X(softmax_xent, RV_PROFILE_OTHER)                                                     \
    X(sgd_update, RV_PROFILE_OTHER)                                                       \
    X(upload, RV_PROFILE_OTHER)                                                           \
    X(download, RV_PROFILE_OTHER)

#define RV_OP_ENUM_ENTRY(name, category) RV_OP_##name,
typedef enum { RV_PROFILE_OPS(RV_OP_ENUM_ENTRY) RV_OP_N } rv_op_id;
#undef RV_OP_ENUM_ENTRY

/* The counters a context keeps (context.c embeds one). */
typedef struct {
    int on;
    int depth;              /* ops in progress on this context: only depth 1 is timed */
    long calls[RV_OP_N];
    double ms[RV_OP_N];
} rv_profile_state;

/* The context's counters (context.c). */
rv_profile_state *rv_ctx_profile_state(rv_ctx *ctx);

/* Opens a timed call: synchronizes the device (so earlier queued work is not charged to this
 * op) and reads the clock into *t0_ms. Returns the synchronization's status; the op must not
 * run when it fails, and rv_profile_end must still be called with that status. */
rv_status rv_profile_begin(rv_ctx *ctx, rv_profile_state *p, double *t0_ms);
/* Closes it: synchronizes again (so the op's own queued work is inside the interval), adds the
 * time to op's total when this was the outermost call, and returns s, or the second
 * synchronization's failure when s is RV_OK. */
rv_status rv_profile_end(rv_ctx *ctx, rv_profile_state *p, rv_op_id op, double t0_ms,
                         rv_status s);

#define RV_DISPATCH(ctx, fn, ...)                                                         \
    do {                                                                                  \
        if (rv_ctx_dry_run(ctx)) return RV_OK;                                            \
        rv_profile_state *prof_ = rv_ctx_profile_state(ctx);                              \
        if (!prof_->on) return rv_ctx_backend(ctx)->fn((ctx), __VA_ARGS__);               \
        double t0_ms_;                                                                    \
        rv_status s_ = rv_profile_begin((ctx), prof_, &t0_ms_);                           \
        if (s_ == RV_OK) s_ = rv_ctx_backend(ctx)->fn((ctx), __VA_ARGS__);                \
        return rv_profile_end((ctx), prof_, RV_OP_##fn, t0_ms_, s_);                      \
    } while (0)

#endif
