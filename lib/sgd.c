/* PLACEHOLDER: being written; every function reports RV_ERR_UNSUPPORTED. */
#include "backend_cpu.h"

rv_status rv_cpu_sgd_update(rv_ctx *ctx, float *w, float *v, const float *g, size_t n,
                            float lr, float momentum, float wd)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}
