/*
 * sgd.h: SGD with heavy-ball momentum and L2 weight decay, as TensorFlow's MomentumOptimizer
 * in the authors' release (weight decay enters through the loss, so through the gradient):
 *   v <- momentum * v + (g + wd * w)
 *   w <- w - lr * v
 */
#ifndef RV_SGD_H
#define RV_SGD_H

#include <stddef.h>
#include "context.h"

/* Updates w and v (n elements each) in place from g; wd is 0 for BN scale/shift and FC bias. */
rv_status rv_sgd_update(rv_ctx *ctx, float *w, float *v, const float *g, size_t n, float lr,
                        float momentum, float wd);

#endif
