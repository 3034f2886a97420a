/*
 * conv.h: 2-D convolution, NCHW float32, no bias (the paper's networks have none).
 *
 * Padding follows TensorFlow "SAME", as in the authors' release: P = ceil(H / stride),
 * total padding max((P - 1) * stride + R - H, 0), of which floor(total / 2) goes on the top
 * (left) and the rest on the bottom (right). For a 3x3 stride-1 conv that is 1 on every side;
 * for a 3x3 stride-2 conv on an even size it is 0 on top/left and 1 on bottom/right; a 1x1
 * conv is never padded. The same convention holds for both networks of a pair.
 *
 * Filters are K x C x R x S (output channels, input channels, rows, columns).
 */
#ifndef RV_CONV_H
#define RV_CONV_H

#include <stddef.h>
#include "context.h"

typedef struct {
    int N, C, H, W;          /* input */
    int K, R, S;             /* filters */
    int stride;
    int pad_top, pad_left;   /* SAME padding; bottom/right padding is implied by P, Q */
    int P, Q;                /* output height and width */
} rv_conv_desc;

/* Fills d for a square R x R kernel with SAME padding. RV_ERR_ARG on non-positive sizes. */
rv_status rv_conv_desc_init(rv_ctx *ctx, rv_conv_desc *d, int N, int C, int H, int W, int K,
                            int R, int stride);

/* Multiply-adds of one forward pass (N*K*P*Q*C*R*S); backward-data and backward-filter cost
 * the same. */
double rv_conv_macs(const rv_conv_desc *d);

/* Workspace bytes the backend needs for any of the three calls below on this shape (im2col
 * columns on the CPU, in chunks of images so that it stays small). */
size_t rv_conv_workspace_bytes(rv_ctx *ctx, const rv_conv_desc *d);

/* out[N,K,P,Q] = conv(in[N,C,H,W], w[K,C,R,S]). Writes out. ws: workspace_bytes. */
rv_status rv_conv_forward(rv_ctx *ctx, float *out, const float *in, const float *w,
                          const rv_conv_desc *d, void *ws);

/* d_in[N,C,H,W] = beta * d_in + conv_transpose(d_out[N,K,P,Q], w). beta is 0 (overwrite) or
 * 1 (accumulate, where a second path meets this one). */
rv_status rv_conv_backward_data(rv_ctx *ctx, float *d_in, const float *d_out, const float *w,
                                const rv_conv_desc *d, float beta, void *ws);

/* d_w[K,C,R,S] += correlation of in[N,C,H,W] with d_out[N,K,P,Q]. Accumulates. */
rv_status rv_conv_backward_filter(rv_ctx *ctx, float *d_w, const float *d_out, const float *in,
                                  const rv_conv_desc *d, void *ws);

#endif
