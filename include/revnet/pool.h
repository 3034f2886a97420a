/*
 * pool.h: the pooling and reshaping ops of the networks, NCHW float32.
 *   - 2x2 average pooling with stride 2 (the ResNet/RevNet downsampling shortcut; H, W even)
 *   - zero channel padding C -> C_out, input placed at channel offset `front`
 *     (the release pads (C_out - C) / 2 on each side)
 *   - global average pooling [N,C,H,W] -> [N,C]
 *   - 3x3 max pooling with stride 2 and SAME padding (the ImageNet stem)
 * Forward ops overwrite their output; backward ops overwrite d_x unless they take beta.
 */
#ifndef RV_POOL_H
#define RV_POOL_H

#include "context.h"

/* y[N,C,H/2,W/2] = mean of each 2x2 window of x[N,C,H,W]. */
rv_status rv_avgpool2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H, int W);
/* d_x[N,C,H,W] = beta * d_x + d_y[...]/4 spread over each window (beta 0 or 1). */
rv_status rv_avgpool2_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int H,
                               int W, float beta);

/* y[N,C_out,HW]: zeros, with x[N,C,HW] copied into channels [front, front + C). */
rv_status rv_chpad_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int C_out,
                           int HW, int front);
/* d_x[N,C,HW] = beta * d_x + channels [front, front + C) of d_y[N,C_out,HW]. */
rv_status rv_chpad_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int C_out,
                            int HW, int front, float beta);

/* y[N,C] = mean over HW of x[N,C,HW]. */
rv_status rv_gap_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int HW);
/* d_x[N,C,HW] = d_y[N,C] / HW. */
rv_status rv_gap_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int HW);

/* Output size of the 3x3/2 SAME max pool: ceil(H/2) x ceil(W/2). */
void rv_maxpool3s2_out(int H, int W, int *P, int *Q);
/* y[N,C,P,Q] = max over each 3x3 window (SAME padding counts as -inf). */
rv_status rv_maxpool3s2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                int W);
/* d_x[N,C,H,W] = gradient routed to the first maximal element of each window (recomputed
 * from x and y, so no index buffer is kept). Overwrites d_x. */
rv_status rv_maxpool3s2_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *x,
                                 const float *y, int N, int C, int H, int W);

#endif
