/* PLACEHOLDER: being written; every function reports RV_ERR_UNSUPPORTED. */
#include "backend_cpu.h"

rv_status rv_cpu_avgpool2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                  int W)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_avgpool2_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                   int H, int W, float beta)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_chpad_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int C_out,
                               int HW, int front)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_chpad_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                int C_out, int HW, int front, float beta)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_gap_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int HW)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_gap_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int HW)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_maxpool3s2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                    int W)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_maxpool3s2_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *x,
                                     const float *y, int N, int C, int H, int W)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}
