/*
 * sgd.c (reference CPU backend): SGD with heavy-ball momentum and L2 weight decay (sgd.h), as
 * TensorFlow's MomentumOptimizer in the authors' release:
 *
 *   v <- momentum * v + (g + wd * w)
 *   w <- w - lr * v
 *
 * Owns nothing. An elementwise loop split statically over threads (each element is independent, so
 * the thread count cannot change a result).
 */
#include "backends/cpu_ref/backend_cpu.h"

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
