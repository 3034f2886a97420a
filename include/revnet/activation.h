/*
 * activation.h: ReLU and the elementwise tensor arithmetic the blocks need (add, subtract,
 * scale-add, copy, fill). Flat float32 arrays of n elements in backend memory; outputs may
 * alias inputs.
 */
#ifndef RV_ACTIVATION_H
#define RV_ACTIVATION_H

#include <stddef.h>
#include "context.h"

/* y = max(x, 0). y may equal x. */
rv_status rv_relu_forward(rv_ctx *ctx, float *y, const float *x, size_t n);
/* d_x = d_y where y > 0, else 0; reads the forward OUTPUT y. d_x may equal d_y. */
rv_status rv_relu_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *y, size_t n);

/* out = a + b */
rv_status rv_add(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n);
/* out = a - b */
rv_status rv_sub(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n);
/* y += alpha * x */
rv_status rv_axpy(rv_ctx *ctx, float *y, float alpha, const float *x, size_t n);
/* dst = src */
rv_status rv_copy(rv_ctx *ctx, float *dst, const float *src, size_t n);
/* x[i] = value */
rv_status rv_fill(rv_ctx *ctx, float *x, float value, size_t n);

#endif
