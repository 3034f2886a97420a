/*
 * fast_layout_ops.c: the ops whose meaning depends on where a channel lives, on the
 * channel-blocked activations of fast_internal.h: conversions to and from plain NCHW, 2x2
 * average pooling, zero channel padding (the shortcut of a widening unit), global average
 * pooling (whose N x C output is plain: the classifier's input) and the ImageNet stem's 3x3
 * stride-2 max pool. Contracts and equations are those of pool.h and layout.h; tensors of at
 * most RV_FAST_PLAIN_MAX_C channels are plain, and such ops go to the reference code. Every
 * loop runs over its output in storage order, threads over images (and channel blocks), and
 * writes zeros into padding channels.
 */
#include "backends/cpu_fast/fast_internal.h"
#include "backends/cpu_ref/backend_cpu.h"
#include "ops/maxpool_window.h"

#include <revnet/pool.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Offset of element (n, c, i) of an N x C x HW activation (i the pixel index). */
static inline size_t at(const fast_state *s, int C, int HW, int n, int c, int i)
{
    if (!fast_blocked(s, C)) return ((size_t)n * C + c) * HW + i;
    const int B = s->block, Cb = fast_cpad(s, C) / B;
    return (((size_t)n * Cb + c / B) * HW + i) * B + c % B;
}

rv_status rv_fast_act_pack(rv_ctx *ctx, float *dst, const float *src, int N, int C, int HW)
{
    const fast_state *s = fast_st(ctx);
    const int Cp = fast_cpad(s, C);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < Cp; c++)
            for (int i = 0; i < HW; i++)
                dst[at(s, C, HW, n, c, i)] = c < C ? src[((size_t)n * C + c) * HW + i] : 0.0f;
    return RV_OK;
}

rv_status rv_fast_act_unpack(rv_ctx *ctx, float *dst, const float *src, int N, int C, int HW)
{
    const fast_state *s = fast_st(ctx);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++)
                dst[((size_t)n * C + c) * HW + i] = src[at(s, C, HW, n, c, i)];
    return RV_OK;
}

rv_status rv_fast_avgpool2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                   int W)
{
    const fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C)) return rv_cpu_avgpool2_forward(ctx, y, x, N, C, H, W);
    const int B = s->block, Cb = fast_cpad(s, C) / B, P = H / 2, Q = W / 2;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int cb = 0; cb < Cb; cb++) {
            const float *xp = x + ((size_t)n * Cb + cb) * H * W * B;
            float *yp = y + ((size_t)n * Cb + cb) * P * Q * B;
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    const float *r0 = xp + ((size_t)(2 * p) * W + 2 * q) * B, *r1 = r0 + (size_t)W * B;
                    float *o = yp + ((size_t)p * Q + q) * B;
                    for (int b = 0; b < B; b++)
                        o[b] = 0.25f * ((r0[b] + r0[B + b]) + (r1[b] + r1[B + b]));
                }
        }
    return RV_OK;
}

rv_status rv_fast_avgpool2_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                    int H, int W, float beta)
{
    const fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C)) return rv_cpu_avgpool2_backward(ctx, d_x, d_y, N, C, H, W, beta);
    const int B = s->block, Cb = fast_cpad(s, C) / B, P = H / 2, Q = W / 2;
    const int acc = beta != 0.0f;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int cb = 0; cb < Cb; cb++) {
            float *xp = d_x + ((size_t)n * Cb + cb) * H * W * B;
            const float *yp = d_y + ((size_t)n * Cb + cb) * P * Q * B;
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++) {
                    const float *g = yp + ((size_t)(h / 2) * Q + w / 2) * B;
                    float *o = xp + ((size_t)h * W + w) * B;
                    /* beta 0 never reads d_x, which may hold garbage. */
                    for (int b = 0; b < B; b++) o[b] = (acc ? o[b] : 0.0f) + 0.25f * g[b];
                }
        }
    return RV_OK;
}

rv_status rv_fast_chpad_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int C_out,
                                int HW, int front)
{
    const fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C) && !fast_blocked(s, C_out))
        return rv_cpu_chpad_forward(ctx, y, x, N, C, C_out, HW, front);
    const int Cp = fast_cpad(s, C_out);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < Cp; c++) {
            int ci = c - front;
            int inside = c < C_out && ci >= 0 && ci < C;
            for (int i = 0; i < HW; i++)
                y[at(s, C_out, HW, n, c, i)] = inside ? x[at(s, C, HW, n, ci, i)] : 0.0f;
        }
    return RV_OK;
}

rv_status rv_fast_chpad_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                 int C_out, int HW, int front, float beta)
{
    const fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C) && !fast_blocked(s, C_out))
        return rv_cpu_chpad_backward(ctx, d_x, d_y, N, C, C_out, HW, front, beta);
    const int Cp = fast_cpad(s, C), acc = beta != 0.0f;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < Cp; c++)
            for (int i = 0; i < HW; i++) {
                size_t o = at(s, C, HW, n, c, i);
                float g = c < C ? d_y[at(s, C_out, HW, n, c + front, i)] : 0.0f;
                d_x[o] = (acc ? d_x[o] : 0.0f) + g;
            }
    return RV_OK;
}

rv_status rv_fast_gap_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int HW)
{
    const fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C)) return rv_cpu_gap_forward(ctx, y, x, N, C, HW);
    const int B = s->block, Cb = fast_cpad(s, C) / B;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int cb = 0; cb < Cb; cb++) {
            const float *p = x + ((size_t)n * Cb + cb) * HW * B;
            double acc[16] = { 0 };
            for (int i = 0; i < HW; i++)
                for (int b = 0; b < B; b++) acc[b] += p[(size_t)i * B + b];
            for (int b = 0; b < B && cb * B + b < C; b++)
                y[(size_t)n * C + cb * B + b] = (float)(acc[b] / HW);
        }
    return RV_OK;
}

rv_status rv_fast_gap_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int HW)
{
    const fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C)) return rv_cpu_gap_backward(ctx, d_x, d_y, N, C, HW);
    const int B = s->block, Cb = fast_cpad(s, C) / B;
    const float inv = 1.0f / (float)HW;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int cb = 0; cb < Cb; cb++) {
            float g[16];
            for (int b = 0; b < B; b++) {
                int c = cb * B + b;
                g[b] = c < C ? d_y[(size_t)n * C + c] * inv : 0.0f;
            }
            float *p = d_x + ((size_t)n * Cb + cb) * HW * B;
            for (int i = 0; i < HW; i++)
                for (int b = 0; b < B; b++) p[(size_t)i * B + b] = g[b];
        }
    return RV_OK;
}

/* The max pool follows pool.c exactly (the windows of ops/maxpool_window.h, ties to the first
 * element of the window in row-major order), with each channel read at its blocked offset:
 * a deliberate repeat of the reference's loops, which stay independent of this backend. */
rv_status rv_fast_maxpool3s2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                     int W)
{
    const fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C)) return rv_cpu_maxpool3s2_forward(ctx, y, x, N, C, H, W);
    const rv_maxpool_geom g = rv_maxpool_geom_of(H, W);
    const int P = g.P, Q = g.Q, Cp = fast_cpad(s, C);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < Cp; c++)
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    const rv_maxpool_window win = rv_maxpool_window_of(&g, p, q);
                    float m = -INFINITY;
                    for (int h = win.h_lo; h < win.h_hi; h++)
                        for (int w = win.w_lo; w < win.w_hi; w++) {
                            float v = x[at(s, C, H * W, n, c, h * W + w)];
                            m = v > m ? v : m;
                        }
                    y[at(s, C, P * Q, n, c, p * Q + q)] = c < C ? m : 0.0f;
                }
    return RV_OK;
}

rv_status rv_fast_maxpool3s2_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *x,
                                      const float *y, int N, int C, int H, int W)
{
    const fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C)) return rv_cpu_maxpool3s2_backward(ctx, d_x, d_y, x, y, N, C, H, W);
    const rv_maxpool_geom g = rv_maxpool_geom_of(H, W);
    const int P = g.P, Q = g.Q, Cp = fast_cpad(s, C);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < Cp; c++) {
            for (int i = 0; i < H * W; i++) d_x[at(s, C, H * W, n, c, i)] = 0.0f;
            if (c >= C) continue;
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    const rv_maxpool_window win = rv_maxpool_window_of(&g, p, q);
                    const float target = y[at(s, C, P * Q, n, c, p * Q + q)];
                    int hit = -1, best = win.h_lo * W + win.w_lo;
                    float m = x[at(s, C, H * W, n, c, best)];
                    for (int h = win.h_lo; h < win.h_hi && hit < 0; h++)
                        for (int w = win.w_lo; w < win.w_hi; w++) {
                            float v = x[at(s, C, H * W, n, c, h * W + w)];
                            if (v == target) {
                                hit = h * W + w;
                                break;
                            }
                            if (v > m) {
                                m = v;
                                best = h * W + w;
                            }
                        }
                    d_x[at(s, C, H * W, n, c, hit >= 0 ? hit : best)] +=
                        d_y[at(s, C, P * Q, n, c, p * Q + q)];
                }
        }
    return RV_OK;
}
