/*
 * linear.c: the public fully connected ops of linear.h: argument checks, then dispatch through
 * the context's backend. The reference CPU implementation is lib/backends/cpu_ref/linear.c.
 */
#include "core/dispatch.h"
#include "core/op_args.h"

/* Contract in linear.h (b may be NULL). Validates, then dispatches to the backend. */
rv_status rv_linear_forward(rv_ctx *ctx, float *y, const float *x, const float *w,
                            const float *b, int N, int I, int O)
{
    RV_ARGS(ctx, "linear_forward", (y, x, w), (N, I, O));
    RV_DISPATCH(ctx, linear_forward, y, x, w, b, N, I, O);
}

/* Contract in linear.h. d_x may be NULL (the classifier's input gradient is not always
 * needed), and so may d_b (a layer without bias); d_w may not. */
rv_status rv_linear_backward(rv_ctx *ctx, float *d_x, float *d_w, float *d_b, const float *d_y,
                             const float *x, const float *w, int N, int I, int O)
{
    RV_ARGS(ctx, "linear_backward", (d_w, d_y, x, w), (N, I, O));
    RV_DISPATCH(ctx, linear_backward, d_x, d_w, d_b, d_y, x, w, N, I, O);
}
