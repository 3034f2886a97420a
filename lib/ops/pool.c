/*
 * pool.c: the public pooling and reshaping ops of pool.h: each checks pointers and sizes (shape
 * rules as RV_ERR_SHAPE), then dispatches through the context's backend (nothing is touched in
 * dry-run mode). The reference CPU loops, with the equations, are lib/backends/cpu_ref/pool.c.
 */
#include "core/dispatch.h"
#include "core/op_args.h"

void rv_maxpool3s2_out(int H, int W, int *P, int *Q)
{
    if (P) *P = (H + 1) / 2;
    if (Q) *Q = (W + 1) / 2;
}

rv_status rv_avgpool2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H, int W)
{
    static const char op[] = "avgpool2_forward";
    RV_ARGS(ctx, op, (y, x), (N, C, H, W));
    if (H % 2 || W % 2)
        return rv_ctx_fail(ctx, RV_ERR_SHAPE, "%s: H and W must be even (got %dx%d)", op, H, W);
    RV_DISPATCH(ctx, avgpool2_forward, y, x, N, C, H, W);
}

rv_status rv_avgpool2_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int H,
                               int W, float beta)
{
    static const char op[] = "avgpool2_backward";
    RV_ARGS(ctx, op, (d_x, d_y), (N, C, H, W));
    RV_ARG_BETA(ctx, op, beta);
    if (H % 2 || W % 2)
        return rv_ctx_fail(ctx, RV_ERR_SHAPE, "%s: H and W must be even (got %dx%d)", op, H, W);
    RV_DISPATCH(ctx, avgpool2_backward, d_x, d_y, N, C, H, W, beta);
}

static rv_status check_chpad(rv_ctx *ctx, const char *op, int C, int C_out, int front)
{
    if (front < 0 || C > C_out || front > C_out - C)
        return rv_ctx_fail(ctx, RV_ERR_SHAPE,
                           "%s: channels [%d, %d) do not fit in %d output channels", op, front,
                           front + C, C_out);
    return RV_OK;
}

rv_status rv_chpad_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int C_out,
                           int HW, int front)
{
    static const char op[] = "chpad_forward";
    RV_ARGS(ctx, op, (y, x), (N, C, C_out, HW));
    rv_status s = check_chpad(ctx, op, C, C_out, front);
    if (s != RV_OK) return s;
    RV_DISPATCH(ctx, chpad_forward, y, x, N, C, C_out, HW, front);
}

rv_status rv_chpad_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int C_out,
                            int HW, int front, float beta)
{
    static const char op[] = "chpad_backward";
    RV_ARGS(ctx, op, (d_x, d_y), (N, C, C_out, HW));
    RV_ARG_BETA(ctx, op, beta);
    rv_status s = check_chpad(ctx, op, C, C_out, front);
    if (s != RV_OK) return s;
    RV_DISPATCH(ctx, chpad_backward, d_x, d_y, N, C, C_out, HW, front, beta);
}

rv_status rv_gap_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int HW)
{
    RV_ARGS(ctx, "gap_forward", (y, x), (N, C, HW));
    RV_DISPATCH(ctx, gap_forward, y, x, N, C, HW);
}

rv_status rv_gap_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int HW)
{
    RV_ARGS(ctx, "gap_backward", (d_x, d_y), (N, C, HW));
    RV_DISPATCH(ctx, gap_backward, d_x, d_y, N, C, HW);
}

rv_status rv_maxpool3s2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                int W)
{
    RV_ARGS(ctx, "maxpool3s2_forward", (y, x), (N, C, H, W));
    RV_DISPATCH(ctx, maxpool3s2_forward, y, x, N, C, H, W);
}

rv_status rv_maxpool3s2_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *x,
                                 const float *y, int N, int C, int H, int W)
{
    RV_ARGS(ctx, "maxpool3s2_backward", (d_x, d_y, x, y), (N, C, H, W));
    RV_DISPATCH(ctx, maxpool3s2_backward, d_x, d_y, x, y, N, C, H, W);
}
