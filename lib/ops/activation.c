/*
 * activation.c: the public ReLU and elementwise ops of activation.h: each checks its pointers and
 * n, then dispatches through the context's backend (nothing is touched in dry-run mode). The
 * reference CPU loops are in lib/backends/cpu_ref/elementwise.c.
 */
#include "core/dispatch.h"
#include "core/op_args.h"

rv_status rv_relu_forward(rv_ctx *ctx, float *y, const float *x, size_t n)
{
    RV_ARGS(ctx, "relu_forward", (y, x), (n));
    RV_DISPATCH(ctx, relu_forward, y, x, n);
}

rv_status rv_relu_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *y, size_t n)
{
    RV_ARGS(ctx, "relu_backward", (d_x, d_y, y), (n));
    RV_DISPATCH(ctx, relu_backward, d_x, d_y, y, n);
}

rv_status rv_add(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    RV_ARGS(ctx, "add", (out, a, b), (n));
    RV_DISPATCH(ctx, add, out, a, b, n);
}

rv_status rv_sub(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    RV_ARGS(ctx, "sub", (out, a, b), (n));
    RV_DISPATCH(ctx, sub, out, a, b, n);
}

rv_status rv_axpy(rv_ctx *ctx, float *y, float alpha, const float *x, size_t n)
{
    RV_ARGS(ctx, "axpy", (y, x), (n));
    RV_DISPATCH(ctx, axpy, y, alpha, x, n);
}

rv_status rv_copy(rv_ctx *ctx, float *dst, const float *src, size_t n)
{
    RV_ARGS(ctx, "copy", (dst, src), (n));
    RV_DISPATCH(ctx, copy, dst, src, n);
}

rv_status rv_fill(rv_ctx *ctx, float *x, float value, size_t n)
{
    RV_ARGS(ctx, "fill", (x), (n));
    RV_DISPATCH(ctx, fill, x, value, n);
}
