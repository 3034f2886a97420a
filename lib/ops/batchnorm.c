/*
 * batchnorm.c: the public batch-norm ops of batchnorm.h (rv_bn_forward, rv_bn_backward and the
 * fused rv_bn_relu_forward / rv_bn_relu_backward): argument checks, then dispatch through the
 * context's backend (the fused ops run as their two parts where the backend has no fused pass). The reference CPU implementation, with
 * the equations, is lib/backends/cpu_ref/batchnorm.c.
 */
#include "core/dispatch.h"
#include "core/op_args.h"

#include <revnet/activation.h>
#include <revnet/layout.h>

/* The argument checks of a forward (op names the public op in messages). */
static rv_status check_forward(rv_ctx *ctx, const char *op, float *y, float *save_mean,
                               float *save_invstd, float *run_mean, float *run_var,
                               const float *x, const float *gamma, const float *beta, int N,
                               int C, int HW, rv_bn_mode mode)
{
    RV_ARG_CTX(ctx);
    if (mode != RV_BN_TRAIN && mode != RV_BN_RECOMPUTE && mode != RV_BN_EVAL)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "%s: unknown mode %d", op, (int)mode);
    RV_ARG_PTR(ctx, op, y);
    RV_ARG_PTR(ctx, op, x);
    RV_ARG_PTR(ctx, op, gamma);
    RV_ARG_PTR(ctx, op, beta);
    if (mode != RV_BN_EVAL) {
        RV_ARG_PTR(ctx, op, save_mean);
        RV_ARG_PTR(ctx, op, save_invstd);
    }
    /* RECOMPUTE never touches the running averages, so it accepts NULL for them. */
    if (mode != RV_BN_RECOMPUTE) {
        RV_ARG_PTR(ctx, op, run_mean);
        RV_ARG_PTR(ctx, op, run_var);
    }
    RV_ARG_POS(ctx, op, N);
    RV_ARG_POS(ctx, op, C);
    RV_ARG_POS(ctx, op, HW);
    return RV_OK;
}

/* The argument checks of a backward. */
static rv_status check_backward(rv_ctx *ctx, const char *op, float *d_x, float *d_gamma,
                                float *d_beta, const float *d_y, const float *x,
                                const float *save_mean, const float *save_invstd,
                                const float *gamma, int N, int C, int HW, float beta_acc)
{
    RV_ARGS(ctx, op, (d_x, d_gamma, d_beta, d_y, x, save_mean, save_invstd, gamma), (N, C, HW));
    RV_ARG_BETA(ctx, op, beta_acc);
    /* Accumulating into the buffer that also holds d_y is not something every backend can do
     * (cuDNN cannot), so it is refused here for all of them. */
    if (beta_acc != 0.0f && (const float *)d_x == d_y)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "%s: d_x may equal d_y only when beta_acc is 0",
                           op);
    return RV_OK;
}

/* Contract in batchnorm.h. Validates, then dispatches to the context's backend. */
rv_status rv_bn_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                        float *run_mean, float *run_var, const float *x, const float *gamma,
                        const float *beta, int N, int C, int HW, rv_bn_mode mode)
{
    rv_status s = check_forward(ctx, "bn_forward", y, save_mean, save_invstd, run_mean, run_var,
                                x, gamma, beta, N, C, HW, mode);
    if (s != RV_OK) return s;
    RV_DISPATCH(ctx, bn_forward, y, save_mean, save_invstd, run_mean, run_var, x, gamma, beta,
                N, C, HW, mode);
}

/* Contract in batchnorm.h. Validates, then dispatches to the context's backend. */
rv_status rv_bn_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                         const float *d_y, const float *x, const float *save_mean,
                         const float *save_invstd, const float *gamma, int N, int C, int HW,
                         float beta_acc)
{
    rv_status s = check_backward(ctx, "bn_backward", d_x, d_gamma, d_beta, d_y, x, save_mean,
                                 save_invstd, gamma, N, C, HW, beta_acc);
    if (s != RV_OK) return s;
    RV_DISPATCH(ctx, bn_backward, d_x, d_gamma, d_beta, d_y, x, save_mean, save_invstd, gamma,
                N, C, HW, beta_acc);
}

/* Contract in batchnorm.h: the backend's fused pass, or batch norm then ReLU. */
rv_status rv_bn_relu_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                             float *run_mean, float *run_var, const float *x, const float *gamma,
                             const float *beta, int N, int C, int HW, rv_bn_mode mode)
{
    rv_status s = check_forward(ctx, "bn_relu_forward", y, save_mean, save_invstd, run_mean,
                                run_var, x, gamma, beta, N, C, HW, mode);
    if (s != RV_OK) return s;
    if (!rv_ctx_backend(ctx)->bn_relu_forward) {
        s = rv_bn_forward(ctx, y, save_mean, save_invstd, run_mean, run_var, x, gamma, beta, N,
                          C, HW, mode);
        if (s != RV_OK) return s;
        return rv_relu_forward(ctx, y, y, rv_act_floats(ctx, N, C, HW));
    }
    RV_DISPATCH(ctx, bn_relu_forward, y, save_mean, save_invstd, run_mean, run_var, x, gamma,
                beta, N, C, HW, mode);
}

/* Contract in batchnorm.h: the backend's fused pass, or the ReLU mask then batch norm. */
rv_status rv_bn_relu_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                              float *d_y, const float *y, const float *x, const float *save_mean,
                              const float *save_invstd, const float *gamma, int N, int C, int HW,
                              float beta_acc)
{
    static const char op[] = "bn_relu_backward";
    rv_status s = check_backward(ctx, op, d_x, d_gamma, d_beta, d_y, x, save_mean, save_invstd,
                                 gamma, N, C, HW, beta_acc);
    if (s != RV_OK) return s;
    RV_ARG_PTR(ctx, op, y);
    if (!rv_ctx_backend(ctx)->bn_relu_backward) {
        s = rv_relu_backward(ctx, d_y, d_y, y, rv_act_floats(ctx, N, C, HW));
        if (s != RV_OK) return s;
        return rv_bn_backward(ctx, d_x, d_gamma, d_beta, d_y, x, save_mean, save_invstd, gamma,
                              N, C, HW, beta_acc);
    }
    RV_DISPATCH(ctx, bn_relu_backward, d_x, d_gamma, d_beta, d_y, y, x, save_mean, save_invstd,
                gamma, N, C, HW, beta_acc);
}
