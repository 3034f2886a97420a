/*
 * dispatch.h (internal): how a public op reaches the backend table, and the per-op timing of
 * profile.h that rides on it.
 *
 * RV_PROFILE_OPS(X) is every timed op, X(P, name, category) with an empty P: the ops of the
 * backend table (backend.h's lists, which carry their report categories) and the host/device
 * copies. Each public op wrapper ends in RV_DISPATCH(ctx, name, args...), which needs the op's
 * RV_OP_<name> id generated from it, so a wrapper cannot exist for an op that has no id. A
 * backend entry that is not a public op (init, alloc) or does no device work (the
 * RV_BACKEND_QUERY_OPS) has none.
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

/* The copies between host and device, apart from backend.h's op lists because the table holds
 * them among its memory entries, with their own signatures, and their public form is
 * rv_ctx_upload / rv_ctx_download (context.h). */
#define RV_PROFILE_COPY_OPS(X, P) X(P, upload, OTHER) X(P, download, OTHER)

/* Report order: by what an op sees of an activation, the fused batch-norm passes beside batch
 * norm, the copies last. */
#define RV_PROFILE_OPS(X)                                                                 \
    RV_BACKEND_LAYOUT_OPS(X, ) RV_BACKEND_FUSED_OPS(X, ) RV_BACKEND_FLAT_OPS(X, )         \
    RV_PROFILE_COPY_OPS(X, )

#define RV_OP_ENUM_ENTRY(P, name, category) RV_OP_##name,
typedef enum { RV_PROFILE_OPS(RV_OP_ENUM_ENTRY) RV_OP_N } rv_op_id;
#undef RV_OP_ENUM_ENTRY

/* The counters a context keeps (context.c embeds one). */
typedef struct {
    int on;
    int depth;              /* ops in progress on this context: only depth 1 is timed */
    long calls[RV_OP_N];
    double ms[RV_OP_N];
    double flop[RV_OP_N];   /* counted work of the timed calls (RV_DISPATCH_COUNTED) */
} rv_profile_state;

/* The context's counters (context.c). */
rv_profile_state *rv_ctx_profile_state(rv_ctx *ctx);

/* Opens a timed call: synchronizes the device (so earlier queued work is not charged to this
 * op) and reads the clock into *t0_ms. Returns the synchronization's status; the op must not
 * run when it fails, and rv_profile_end must still be called with that status. */
rv_status rv_profile_begin(rv_ctx *ctx, rv_profile_state *p, double *t0_ms);
/* Closes it: synchronizes again (so the op's own queued work is inside the interval), adds the
 * time and flop (the call's arithmetic work, 0 where it is not counted) to op's totals when
 * this was the outermost call and it succeeded (a failed call's time is still added: it was
 * spent), and returns s, or the second synchronization's failure when s is RV_OK. */
rv_status rv_profile_end(rv_ctx *ctx, rv_profile_state *p, rv_op_id op, double t0_ms,
                         double flop, rv_status s);

/* RV_DISPATCH_COUNTED: RV_DISPATCH for an op whose arithmetic work is counted; flop is an
 * expression evaluated only while profiling is on. */
#define RV_DISPATCH_COUNTED(ctx, fn, flop, ...)                                           \
    do {                                                                                  \
        if (rv_ctx_dry_run(ctx)) return RV_OK;                                            \
        rv_profile_state *prof_ = rv_ctx_profile_state(ctx);                              \
        if (!prof_->on) return rv_ctx_backend(ctx)->fn((ctx), __VA_ARGS__);               \
        double t0_ms_;                                                                    \
        rv_status s_ = rv_profile_begin((ctx), prof_, &t0_ms_);                           \
        if (s_ == RV_OK) s_ = rv_ctx_backend(ctx)->fn((ctx), __VA_ARGS__);                \
        return rv_profile_end((ctx), prof_, RV_OP_##fn, t0_ms_, (flop), s_);              \
    } while (0)

#define RV_DISPATCH(ctx, fn, ...) RV_DISPATCH_COUNTED(ctx, fn, 0.0, __VA_ARGS__)

#endif
