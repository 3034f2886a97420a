/*
 * backend.h: the table of function pointers that a backend (CPU, CUDA) fills in.
 *
 * Layer and model code never calls these directly: it calls the public ops (rv_conv_forward,
 * rv_bn_forward, ...), which check arguments, honour the context's dry-run flag and then
 * dispatch through ctx's table. Every pointer is in the backend's memory. Each entry has the
 * contract of the public op of the same name (see conv.h, batchnorm.h, ...). The CPU backend
 * (backend_cpu.c) is the reference every other backend is tested against.
 */
#ifndef RV_BACKEND_H
#define RV_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <revnet/context.h>
#include <revnet/conv.h>
#include <revnet/batchnorm.h>

struct rv_backend {
    const char *name; /* "cpu" or "cuda" */

    /* Lifetime: init creates the backend state kept on the context. */
    rv_status (*init)(rv_ctx *ctx, const rv_ctx_options *opt, void **state);
    void (*destroy)(void *state);
    const char *(*describe)(void *state);

    /* Memory. */
    rv_status (*alloc)(rv_ctx *ctx, void **out, size_t bytes);
    void (*free)(rv_ctx *ctx, void *p);
    rv_status (*upload)(rv_ctx *ctx, void *dst, const void *src_host, size_t bytes);
    rv_status (*download)(rv_ctx *ctx, void *dst_host, const void *src, size_t bytes);
    rv_status (*sync)(rv_ctx *ctx);
    /* Optional (NULL on the CPU backend): device memory in use by every process and the
     * device's total, as the driver reports them (cudaMemGetInfo: total - free). */
    rv_status (*device_memory)(rv_ctx *ctx, size_t *used_bytes, size_t *total_bytes);

    /* Convolution. */
    size_t (*conv_workspace_bytes)(rv_ctx *ctx, const rv_conv_desc *d);
    rv_status (*conv_forward)(rv_ctx *ctx, float *out, const float *in, const float *w,
                              const rv_conv_desc *d, void *ws);
    rv_status (*conv_backward_data)(rv_ctx *ctx, float *d_in, const float *d_out,
                                    const float *w, const rv_conv_desc *d, float beta, void *ws);
    rv_status (*conv_backward_filter)(rv_ctx *ctx, float *d_w, const float *d_out,
                                      const float *in, const rv_conv_desc *d, void *ws);

    /* Batch norm. */
    rv_status (*bn_forward)(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                            float *run_mean, float *run_var, const float *x, const float *gamma,
                            const float *beta, int N, int C, int HW, rv_bn_mode mode);
    rv_status (*bn_backward)(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                             const float *d_y, const float *x, const float *save_mean,
                             const float *save_invstd, const float *gamma, int N, int C, int HW,
                             float beta_acc);

    /* Elementwise. */
    rv_status (*relu_forward)(rv_ctx *ctx, float *y, const float *x, size_t n);
    rv_status (*relu_backward)(rv_ctx *ctx, float *d_x, const float *d_y, const float *y,
                               size_t n);
    rv_status (*add)(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n);
    rv_status (*sub)(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n);
    rv_status (*axpy)(rv_ctx *ctx, float *y, float alpha, const float *x, size_t n);
    rv_status (*copy)(rv_ctx *ctx, float *dst, const float *src, size_t n);
    rv_status (*fill)(rv_ctx *ctx, float *x, float value, size_t n);

    /* Pooling and reshaping. */
    rv_status (*avgpool2_forward)(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                  int W);
    rv_status (*avgpool2_backward)(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                   int H, int W, float beta);
    rv_status (*chpad_forward)(rv_ctx *ctx, float *y, const float *x, int N, int C, int C_out,
                               int HW, int front);
    rv_status (*chpad_backward)(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                int C_out, int HW, int front, float beta);
    rv_status (*gap_forward)(rv_ctx *ctx, float *y, const float *x, int N, int C, int HW);
    rv_status (*gap_backward)(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int HW);
    rv_status (*maxpool3s2_forward)(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                    int W);
    rv_status (*maxpool3s2_backward)(rv_ctx *ctx, float *d_x, const float *d_y, const float *x,
                                     const float *y, int N, int C, int H, int W);

    /* Classifier, loss, optimizer. */
    rv_status (*linear_forward)(rv_ctx *ctx, float *y, const float *x, const float *w,
                                const float *b, int N, int I, int O);
    rv_status (*linear_backward)(rv_ctx *ctx, float *d_x, float *d_w, float *d_b,
                                 const float *d_y, const float *x, const float *w, int N, int I,
                                 int O);
    rv_status (*softmax_xent)(rv_ctx *ctx, float *losses, int32_t *pred, float *d_logits,
                              const float *logits, const int32_t *labels, int N, int K);
    rv_status (*sgd_update)(rv_ctx *ctx, float *w, float *v, const float *g, size_t n, float lr,
                            float momentum, float wd);
};

/* The CPU backend (always built). */
const rv_backend *rv_backend_cpu(void);
/* The CUDA backend, or NULL when this build has no CUDA support. */
const rv_backend *rv_backend_cuda(void);

#endif
