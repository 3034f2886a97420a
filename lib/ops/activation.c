/*
 * activation.c: the public ReLU and elementwise ops of activation.h: each checks its pointers and
 * n, then dispatches through the context's backend (nothing is touched in dry-run mode). The
 * reference CPU loops are in lib/backends/cpu_ref/elementwise.c.
 */
#include "core/dispatch.h"
#include "core/op_args.h"

rv_status rv_relu_forward(rv_ctx *ctx, float *y, const float *x, size_t n)
{
    static const char op[] = "relu_forward";
    RV_ARG_CTX(ctx);
    RV_ARG_PTR(ctx, op, y);
    RV_ARG_PTR(ctx, op, x);
    RV_ARG_POS(ctx, op, n);
    RV_DISPATCH(ctx, relu_forward, y, x, n);
}

rv_status rv_relu_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *y, size_t n)
{
    static const char op[] = "relu_backward";
    RV_ARG_CTX(ctx);
    RV_ARG_PTR(ctx, op, d_x);
    RV_ARG_PTR(ctx, op, d_y);
    RV_ARG_PTR(ctx, op, y);
    RV_ARG_POS(ctx, op, n);
    RV_DISPATCH(ctx, relu_backward, d_x, d_y, y, n);
}

rv_status rv_add(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    static const char op[] = "add";
    RV_ARG_CTX(ctx);
    RV_ARG_PTR(ctx, op, out);
    RV_ARG_PTR(ctx, op, a);
    RV_ARG_PTR(ctx, op, b);
    RV_ARG_POS(ctx, op, n);
    RV_DISPATCH(ctx, add, out, a, b, n);
}

rv_status rv_sub(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    static const char op[] = "sub";
    RV_ARG_CTX(ctx);
    RV_ARG_PTR(ctx, op, out);
    RV_ARG_PTR(ctx, op, a);
    RV_ARG_PTR(ctx, op, b);
    RV_ARG_POS(ctx, op, n);
    RV_DISPATCH(ctx, sub, out, a, b, n);
}

rv_status rv_axpy(rv_ctx *ctx, float *y, float alpha, const float *x, size_t n)
{
    static const char op[] = "axpy";
    RV_ARG_CTX(ctx);
    RV_ARG_PTR(ctx, op, y);
    RV_ARG_PTR(ctx, op, x);
    RV_ARG_POS(ctx, op, n);
    RV_DISPATCH(ctx, axpy, y, alpha, x, n);
}

rv_status rv_copy(rv_ctx *ctx, float *dst, const float *src, size_t n)
{
    static const char op[] = "copy";
    RV_ARG_CTX(ctx);
    RV_ARG_PTR(ctx, op, dst);
    RV_ARG_PTR(ctx, op, src);
    RV_ARG_POS(ctx, op, n);
    RV_DISPATCH(ctx, copy, dst, src, n);
}

rv_status rv_fill(rv_ctx *ctx, float *x, float value, size_t n)
{
    static const char op[] = "fill";
    RV_ARG_CTX(ctx);
    RV_ARG_PTR(ctx, op, x);
    RV_ARG_POS(ctx, op, n);
    RV_DISPATCH(ctx, fill, x, value, n);
}
