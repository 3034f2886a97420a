/* PLACEHOLDER: being written; every function reports RV_ERR_UNSUPPORTED. */
#include "backend_cpu.h"

rv_status rv_cpu_linear_forward(rv_ctx *ctx, float *y, const float *x, const float *w,
                                const float *b, int N, int I, int O)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_linear_backward(rv_ctx *ctx, float *d_x, float *d_w, float *d_b,
                                 const float *d_y, const float *x, const float *w, int N, int I,
                                 int O)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}
