/*
 * conv.c: the public convolution ops of conv.h: the descriptor (TF "SAME" padding, output size)
 * and its cost, and the wrappers that check a descriptor, its buffers and its workspace, then
 * dispatch through the context's backend. The reference CPU implementation (im2col + GEMM) is
 * lib/backends/cpu_ref/conv.c.
 */
#include <revnet/conv.h>
#include "core/dispatch.h"
#include "core/op_args.h"

#include <limits.h>
#include <string.h>

/* ---------------------------------------------------------------- descriptor and sizes */

/* One dimension of TF SAME padding: output size and the padding before the first pixel. */
static void same_1d(int in, int k, int stride, int *out, int *pad_before)
{
    int o = (in + stride - 1) / stride;
    int total = (o - 1) * stride + k - in;
    if (total < 0) total = 0;
    *out = o;
    *pad_before = total / 2;
}

rv_status rv_conv_desc_init(rv_ctx *ctx, rv_conv_desc *d, int N, int C, int H, int W, int K,
                            int R, int stride)
{
    if (!d) return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_conv_desc_init: descriptor is NULL");
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || K <= 0 || R <= 0 || stride <= 0)
        return rv_ctx_fail(ctx, RV_ERR_ARG,
                           "rv_conv_desc_init: sizes must be positive (N=%d C=%d H=%d W=%d K=%d "
                           "R=%d stride=%d)", N, C, H, W, K, R, stride);
    rv_conv_desc t;
    t.N = N; t.C = C; t.H = H; t.W = W; t.K = K; t.R = R; t.S = R; t.stride = stride;
    same_1d(H, R, stride, &t.P, &t.pad_top);
    same_1d(W, R, stride, &t.Q, &t.pad_left);
    /* cblas takes int dimensions: one image's tensors and the column rows must fit in one. */
    int64_t crs = (int64_t)C * R * R, pq = (int64_t)t.P * t.Q;
    if (crs * pq > INT_MAX || (int64_t)C * H * W > INT_MAX || (int64_t)K * pq > INT_MAX ||
        (int64_t)K * crs > INT_MAX)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_conv_desc_init: one image of %dx%dx%d with a "
                           "%dx%d kernel is too large for 32-bit BLAS indices", C, H, W, R, R);
    *d = t;
    return RV_OK;
}

double rv_conv_macs(const rv_conv_desc *d)
{
    if (!d) return 0.0;
    return (double)d->N * d->K * d->P * d->Q * (double)d->C * d->R * d->S;
}

/* ---------------------------------------------------------------- public wrappers */

/* A descriptor is usable when its sizes are positive and its padding and output size are the
 * ones rv_conv_desc_init derives (catches uninitialized or hand-edited descriptors). */
static rv_status check_desc(rv_ctx *ctx, const rv_conv_desc *d, const char *fn)
{
    if (!d) return rv_ctx_fail(ctx, RV_ERR_ARG, "%s: descriptor is NULL", fn);
    rv_conv_desc ref;
    if (d->R != d->S ||
        rv_conv_desc_init(ctx, &ref, d->N, d->C, d->H, d->W, d->K, d->R, d->stride) != RV_OK ||
        memcmp(&ref, d, sizeof ref) != 0)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "%s: descriptor is not one rv_conv_desc_init made "
                           "(N=%d C=%d H=%d W=%d K=%d R=%d S=%d stride=%d)", fn, d->N, d->C, d->H,
                           d->W, d->K, d->R, d->S, d->stride);
    return RV_OK;
}

static rv_status check_ws(rv_ctx *ctx, const rv_conv_desc *d, const void *ws, const char *fn)
{
    if (!ws && rv_conv_workspace_bytes(ctx, d) > 0)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "%s: workspace is NULL but this shape needs %zu "
                           "bytes (rv_conv_workspace_bytes)", fn, rv_conv_workspace_bytes(ctx, d));
    return RV_OK;
}

size_t rv_conv_workspace_bytes(rv_ctx *ctx, const rv_conv_desc *d)
{
    if (!ctx || !d) return 0;
    return rv_ctx_backend(ctx)->conv_workspace_bytes(ctx, d);
}

/* The checks of every convolution pass, in this order: the context, the descriptor, the pass's
 * three buffers (a message names them as the caller's arguments), the accumulation flag beta
 * (0 from the passes that have none) and the workspace. Called through CHECK_PASS. */
static rv_status check_pass(rv_ctx *ctx, const char *fn, const rv_conv_desc *d, float beta,
                            const void *ws, const char *a_name, const void *a,
                            const char *b_name, const void *b, const char *c_name, const void *c)
{
    if (!ctx) return RV_ERR_ARG;
    rv_status s = check_desc(ctx, d, fn);
    if (s != RV_OK) return s;
    if (!a || !b || !c)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "%s: NULL buffer (%s %p, %s %p, %s %p)", fn, a_name,
                           a, b_name, b, c_name, c);
    if (beta != 0.0f && beta != 1.0f)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "%s: beta must be 0 (overwrite) or 1 (accumulate), "
                           "got %g", fn, (double)beta);
    return check_ws(ctx, d, ws, fn);
}
#define CHECK_PASS(ctx, fn, d, beta, ws, a, b, c)                                         \
    check_pass((ctx), (fn), (d), (beta), (ws), #a, (a), #b, (b), #c, (c))

rv_status rv_conv_forward(rv_ctx *ctx, float *out, const float *in, const float *w,
                          const rv_conv_desc *d, void *ws)
{
    rv_status s = CHECK_PASS(ctx, "rv_conv_forward", d, 0.0f, ws, out, in, w);
    if (s != RV_OK) return s;
    RV_DISPATCH_COUNTED(ctx, conv_forward, 2.0 * rv_conv_macs(d), out, in, w, d, ws);
}

rv_status rv_conv_backward_data(rv_ctx *ctx, float *d_in, const float *d_out, const float *w,
                                const rv_conv_desc *d, float beta, void *ws)
{
    rv_status s = CHECK_PASS(ctx, "rv_conv_backward_data", d, beta, ws, d_in, d_out, w);
    if (s != RV_OK) return s;
    RV_DISPATCH_COUNTED(ctx, conv_backward_data, 2.0 * rv_conv_macs(d), d_in, d_out, w, d, beta,
                        ws);
}

rv_status rv_conv_backward_filter(rv_ctx *ctx, float *d_w, const float *d_out, const float *in,
                                  const rv_conv_desc *d, void *ws)
{
    rv_status s = CHECK_PASS(ctx, "rv_conv_backward_filter", d, 0.0f, ws, d_w, d_out, in);
    if (s != RV_OK) return s;
    RV_DISPATCH_COUNTED(ctx, conv_backward_filter, 2.0 * rv_conv_macs(d), d_w, d_out, in, d, ws);
}
