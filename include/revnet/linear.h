/*
 * linear.h: the fully connected classifier, y = x W^T + b.
 * x: N x I, W: O x I (row-major), b: O, y: N x O.
 */
#ifndef RV_LINEAR_H
#define RV_LINEAR_H

#include "context.h"

/* y = x W^T + b, overwriting y; b may be NULL (no bias). */
rv_status rv_linear_forward(rv_ctx *ctx, float *y, const float *x, const float *w,
                            const float *b, int N, int I, int O);
/* d_x = d_y W (overwrites; skipped when d_x is NULL); d_w += d_y^T x; d_b += column sums of d_y
 * (skipped when d_b is NULL). */
rv_status rv_linear_backward(rv_ctx *ctx, float *d_x, float *d_w, float *d_b, const float *d_y,
                             const float *x, const float *w, int N, int I, int O);

#endif
