/*
 * sgd.c: the public SGD step of sgd.h: argument and hyperparameter checks, then dispatch through
 * the context's backend. The reference CPU loop, with the update rule, is
 * lib/backends/cpu_ref/sgd.c.
 */
#include "core/dispatch.h"
#include "core/op_args.h"

#include <math.h>

/* Contract in sgd.h. Validates, then dispatches. Hyperparameters must be finite and lr,
 * momentum and wd non-negative: anything else is a configuration mistake, not a step. */
rv_status rv_sgd_update(rv_ctx *ctx, float *w, float *v, const float *g, size_t n, float lr,
                        float momentum, float wd)
{
    static const char op[] = "sgd_update";
    RV_ARGS(ctx, op, (w, v, g), (n));
    if (!isfinite(lr) || !isfinite(momentum) || !isfinite(wd) || lr < 0.0f || momentum < 0.0f ||
        wd < 0.0f)
        return rv_ctx_fail(ctx, RV_ERR_ARG,
                           "%s: lr, momentum and wd must be finite and >= 0 (got %g, %g, %g)",
                           op, (double)lr, (double)momentum, (double)wd);
    RV_DISPATCH(ctx, sgd_update, w, v, g, n, lr, momentum, wd);
}
