/*
 * batchnorm.h: batch normalization over N, H, W for each channel, NCHW float32.
 *
 *   y = gamma * (x - mean) * invstd + beta,   invstd = 1 / sqrt(var + eps)
 *
 * with the biased batch variance, eps 1e-3 and running averages m <- 0.99 m + 0.01 batch, as in
 * the authors' release (PAPER.md). Modes:
 *   RV_BN_TRAIN      batch statistics; running averages updated
 *   RV_BN_RECOMPUTE  batch statistics; running averages untouched (the reversible backward
 *                    recomputes F and G in this mode so the averages are not updated twice)
 *   RV_BN_EVAL       running averages; save_mean/save_invstd are not written
 * The running variance is updated with the biased batch variance, as TensorFlow's
 * fused batch norm in the release did.
 */
#ifndef RV_BATCHNORM_H
#define RV_BATCHNORM_H

#include "context.h"

#define RV_BN_EPS 1e-3f
#define RV_BN_DECAY 0.99f

typedef enum { RV_BN_TRAIN = 0, RV_BN_RECOMPUTE = 1, RV_BN_EVAL = 2 } rv_bn_mode;

/*
 * y[N,C,HW] from x[N,C,HW]. y may equal x (in place). gamma, beta, run_mean, run_var: C.
 * save_mean, save_invstd: C, written in TRAIN and RECOMPUTE (the backward reads them); may be
 * NULL in EVAL. run_mean/run_var are read in EVAL, updated in TRAIN, untouched in RECOMPUTE.
 */
rv_status rv_bn_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                        float *run_mean, float *run_var, const float *x, const float *gamma,
                        const float *beta, int N, int C, int HW, rv_bn_mode mode);

/*
 * Backward of a batch-statistics forward (TRAIN or RECOMPUTE).
 * d_x[N,C,HW] = beta_acc * d_x + dL/dx (beta_acc 0 or 1); d_gamma, d_beta: C, accumulate.
 * Reads d_y, the forward input x and the saved statistics. d_x may equal d_y when beta_acc is 0.
 */
rv_status rv_bn_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                         const float *d_y, const float *x, const float *save_mean,
                         const float *save_invstd, const float *gamma, int N, int C, int HW,
                         float beta_acc);

/*
 * y = max(0, BN(x)): rv_bn_forward followed by a ReLU, as one op so that a backend can make
 * it one pass over memory (the fast CPU backend does; the others run the two ops). Arguments
 * and modes as rv_bn_forward; y may equal x.
 */
rv_status rv_bn_relu_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                             float *run_mean, float *run_var, const float *x, const float *gamma,
                             const float *beta, int N, int C, int HW, rv_bn_mode mode);

/*
 * The backward of y = max(0, BN(x)) from d_y and the forward output y (its ReLU mask):
 * d_x = beta_acc * d_x + BN^T(d_y * [y > 0]); d_gamma, d_beta accumulate as in rv_bn_backward.
 * d_y is scratch: a backend that does not fuse masks it in place first. d_x may equal d_y when
 * beta_acc is 0.
 */
rv_status rv_bn_relu_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                              float *d_y, const float *y, const float *x, const float *save_mean,
                              const float *save_invstd, const float *gamma, int N, int C, int HW,
                              float beta_acc);

#endif
