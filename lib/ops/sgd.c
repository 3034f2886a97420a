/*
 * sgd.c: SGD with heavy-ball momentum and L2 weight decay (sgd.h), as TensorFlow's
 * MomentumOptimizer in the authors' release:
 *
 *   v <- momentum * v + (g + wd * w)
 *   w <- w - lr * v
 *
 * Owns: the public wrapper (validation, then dispatch) and the CPU implementation, an
 * elementwise loop split statically over threads (each element is independent, so the thread
 * count cannot change a result).
 */
#include "backends/cpu_ref/backend_cpu.h"
#include "core/op_args.h"

#include <math.h>

rv_status rv_cpu_sgd_update(rv_ctx *ctx, float *w, float *v, const float *g, size_t n,
                            float lr, float momentum, float wd)
{
    (void)ctx;
#pragma omp parallel for simd schedule(static) if (parallel : n >= 32768)
    for (size_t i = 0; i < n; i++) {
        float vi = momentum * v[i] + (g[i] + wd * w[i]);
        v[i] = vi;
        w[i] -= lr * vi;
    }
    return RV_OK;
}

/* Contract in sgd.h. Validates, then dispatches. Hyperparameters must be finite and lr,
 * momentum and wd non-negative: anything else is a configuration mistake, not a step. */
rv_status rv_sgd_update(rv_ctx *ctx, float *w, float *v, const float *g, size_t n, float lr,
                        float momentum, float wd)
{
    static const char op[] = "sgd_update";
    RV_ARG_CTX(ctx);
    RV_ARG_PTR(ctx, op, w);
    RV_ARG_PTR(ctx, op, v);
    RV_ARG_PTR(ctx, op, g);
    RV_ARG_POS(ctx, op, n);
    if (!isfinite(lr) || !isfinite(momentum) || !isfinite(wd) || lr < 0.0f || momentum < 0.0f ||
        wd < 0.0f)
        return rv_ctx_fail(ctx, RV_ERR_ARG,
                           "%s: lr, momentum and wd must be finite and >= 0 (got %g, %g, %g)",
                           op, (double)lr, (double)momentum, (double)wd);
    RV_DISPATCH(ctx, sgd_update, w, v, g, n, lr, momentum, wd);
}
