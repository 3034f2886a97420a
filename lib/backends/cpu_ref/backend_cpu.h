/*
 * backend_cpu.h (internal): the CPU implementations behind the backend table, defined in the
 * op files (conv.c, batchnorm.c, ...) and gathered into a table by backend_cpu.c. Each has the
 * contract of the public op of the same name; arguments are already validated.
 */
#ifndef RV_BACKEND_CPU_H
#define RV_BACKEND_CPU_H

#include "core/backend.h"

/* Dispatch helper for the public ops: validate first, then call this. In dry-run mode the op
 * touches nothing, so a memory plan can be recorded by running the real code path. */
#define RV_DISPATCH(ctx, fn, ...)                                                  \
    do {                                                                           \
        if (rv_ctx_dry_run(ctx)) return RV_OK;                                     \
        return rv_ctx_backend(ctx)->fn((ctx), __VA_ARGS__);                        \
    } while (0)

size_t rv_cpu_conv_workspace_bytes(rv_ctx *ctx, const rv_conv_desc *d);
rv_status rv_cpu_conv_forward(rv_ctx *ctx, float *out, const float *in, const float *w,
                              const rv_conv_desc *d, void *ws);
rv_status rv_cpu_conv_backward_data(rv_ctx *ctx, float *d_in, const float *d_out,
                                    const float *w, const rv_conv_desc *d, float beta, void *ws);
rv_status rv_cpu_conv_backward_filter(rv_ctx *ctx, float *d_w, const float *d_out,
                                      const float *in, const rv_conv_desc *d, void *ws);

rv_status rv_cpu_bn_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                            float *run_mean, float *run_var, const float *x, const float *gamma,
                            const float *beta, int N, int C, int HW, rv_bn_mode mode);
rv_status rv_cpu_bn_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                             const float *d_y, const float *x, const float *save_mean,
                             const float *save_invstd, const float *gamma, int N, int C, int HW,
                             float beta_acc);

rv_status rv_cpu_relu_forward(rv_ctx *ctx, float *y, const float *x, size_t n);
rv_status rv_cpu_relu_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *y,
                               size_t n);
rv_status rv_cpu_add(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n);
rv_status rv_cpu_sub(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n);
rv_status rv_cpu_axpy(rv_ctx *ctx, float *y, float alpha, const float *x, size_t n);
rv_status rv_cpu_copy(rv_ctx *ctx, float *dst, const float *src, size_t n);
rv_status rv_cpu_fill(rv_ctx *ctx, float *x, float value, size_t n);

rv_status rv_cpu_avgpool2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                  int W);
rv_status rv_cpu_avgpool2_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                   int H, int W, float beta);
rv_status rv_cpu_chpad_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int C_out,
                               int HW, int front);
rv_status rv_cpu_chpad_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                int C_out, int HW, int front, float beta);
rv_status rv_cpu_gap_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int HW);
rv_status rv_cpu_gap_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int HW);
rv_status rv_cpu_maxpool3s2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                    int W);
rv_status rv_cpu_maxpool3s2_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *x,
                                     const float *y, int N, int C, int H, int W);

rv_status rv_cpu_linear_forward(rv_ctx *ctx, float *y, const float *x, const float *w,
                                const float *b, int N, int I, int O);
rv_status rv_cpu_linear_backward(rv_ctx *ctx, float *d_x, float *d_w, float *d_b,
                                 const float *d_y, const float *x, const float *w, int N, int I,
                                 int O);
rv_status rv_cpu_softmax_xent(rv_ctx *ctx, float *losses, int32_t *pred, float *d_logits,
                              const float *logits, const int32_t *labels, int N, int K);
rv_status rv_cpu_sgd_update(rv_ctx *ctx, float *w, float *v, const float *g, size_t n,
                            float lr, float momentum, float wd);

#endif
