/* PLACEHOLDER: being written; every function reports RV_ERR_UNSUPPORTED. */
#include "backend_cpu.h"

rv_status rv_cpu_bn_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                            float *run_mean, float *run_var, const float *x, const float *gamma,
                            const float *beta, int N, int C, int HW, rv_bn_mode mode)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_bn_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                             const float *d_y, const float *x, const float *save_mean,
                             const float *save_invstd, const float *gamma, int N, int C, int HW,
                             float beta_acc)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}
