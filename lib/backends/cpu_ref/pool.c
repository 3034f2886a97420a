/*
 * pool.c (reference CPU backend): the pooling and reshaping ops of pool.h, NCHW float32.
 *
 *   avgpool2:   y[p,q] = (x[2p,2q] + x[2p,2q+1] + x[2p+1,2q] + x[2p+1,2q+1]) / 4
 *   chpad:      y[n, front + c] = x[n, c], other channels 0
 *   gap:        y[n,c] = (1/HW) sum_hw x[n,c,hw]
 *   maxpool3s2: y[p,q] = max over rows 2p - top .. 2p - top + 2 and likewise columns, with
 *               TensorFlow's SAME padding (-inf) deciding top and left (ops/maxpool_window.h)
 *
 * Owns nothing. The loops split over the N*C planes with a static schedule; each plane is computed
 * by one thread, so results do not depend on the thread count.
 */
#include "backends/cpu_ref/backend_cpu.h"
#include "ops/maxpool_window.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

rv_status rv_cpu_avgpool2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                  int W)
{
    (void)ctx;
    const int P = H / 2, Q = W / 2;
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * P * Q;
        for (int p = 0; p < P; p++) {
            const float *r0 = xp + (size_t)(2 * p) * W, *r1 = r0 + W;
            for (int q = 0; q < Q; q++)
                yp[p * Q + q] =
                    0.25f * ((r0[2 * q] + r0[2 * q + 1]) + (r1[2 * q] + r1[2 * q + 1]));
        }
    }
    return RV_OK;
}

rv_status rv_cpu_avgpool2_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                   int H, int W, float beta)
{
    (void)ctx;
    const int P = H / 2, Q = W / 2;
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        float *xp = d_x + (size_t)pl * H * W;
        const float *yp = d_y + (size_t)pl * P * Q;
        for (int h = 0; h < H; h++) {
            const float *g = yp + (size_t)(h / 2) * Q;
            float *row = xp + (size_t)h * W;
            /* beta 0 must not read d_x: it may hold garbage (NaN * 0 is NaN). */
            if (beta == 0.0f)
                for (int w = 0; w < W; w++) row[w] = 0.25f * g[w / 2];
            else
                for (int w = 0; w < W; w++) row[w] += 0.25f * g[w / 2];
        }
    }
    return RV_OK;
}

rv_status rv_cpu_chpad_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int C_out,
                               int HW, int front)
{
    (void)ctx;
    const size_t hw = (size_t)HW;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *yn = y + (size_t)n * C_out * hw;
        const float *xn = x + (size_t)n * C * hw;
        memset(yn, 0, (size_t)front * hw * sizeof *yn);
        memcpy(yn + (size_t)front * hw, xn, (size_t)C * hw * sizeof *yn);
        memset(yn + (size_t)(front + C) * hw, 0, (size_t)(C_out - front - C) * hw * sizeof *yn);
    }
    return RV_OK;
}

rv_status rv_cpu_chpad_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                int C_out, int HW, int front, float beta)
{
    (void)ctx;
    const size_t chunk = (size_t)C * HW;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *xn = d_x + (size_t)n * chunk;
        const float *yn = d_y + ((size_t)n * C_out + front) * HW;
        if (beta == 0.0f)
            memcpy(xn, yn, chunk * sizeof *xn);
        else
            for (size_t i = 0; i < chunk; i++) xn[i] += yn[i];
    }
    return RV_OK;
}

rv_status rv_cpu_gap_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int HW)
{
    (void)ctx;
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float *p = x + (size_t)pl * HW;
        double s = 0.0;
        for (int i = 0; i < HW; i++) s += p[i];
        y[pl] = (float)(s / HW);
    }
    return RV_OK;
}

rv_status rv_cpu_gap_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int HW)
{
    (void)ctx;
    const long planes = (long)N * C;
    const float inv = 1.0f / (float)HW;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        float g = d_y[pl] * inv;
        float *p = d_x + (size_t)pl * HW;
        for (int i = 0; i < HW; i++) p[i] = g;
    }
    return RV_OK;
}

rv_status rv_cpu_maxpool3s2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                    int W)
{
    (void)ctx;
    const rv_maxpool_geom g = rv_maxpool_geom_of(H, W);
    const int P = g.P, Q = g.Q;
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                const rv_maxpool_window win = rv_maxpool_window_of(&g, p, q);
                float m = -INFINITY;
                for (int h = win.h_lo; h < win.h_hi; h++)
                    for (int w = win.w_lo; w < win.w_hi; w++) {
                        float v = xp[(size_t)h * W + w];
                        m = v > m ? v : m;
                    }
                yp[p * Q + q] = m;
            }
    }
    return RV_OK;
}

/* Kept apart from the forward, whose set-up and walk over the windows it repeats on purpose:
 * the gradient goes to the first maximum the forward found. */
rv_status rv_cpu_maxpool3s2_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *x,
                                     const float *y, int N, int C, int H, int W)
{
    (void)ctx;
    const rv_maxpool_geom g = rv_maxpool_geom_of(H, W);
    const int P = g.P, Q = g.Q;
    const long planes = (long)N * C;
#pragma omp parallel for schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        const float *yp = y + (size_t)pl * P * Q;
        const float *gp = d_y + (size_t)pl * P * Q;
        float *dp = d_x + (size_t)pl * H * W;
        memset(dp, 0, (size_t)H * W * sizeof *dp);
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                const rv_maxpool_window win = rv_maxpool_window_of(&g, p, q);
                const float target = yp[p * Q + q];
                /* The first element (row-major in the window) equal to the forward output; if
                 * none is (y not from this x, or NaN), the first strict maximum instead, so
                 * the gradient always lands somewhere inside the window. */
                size_t hit = SIZE_MAX, best = (size_t)win.h_lo * W + win.w_lo;
                float m = xp[best];
                for (int h = win.h_lo; h < win.h_hi && hit == SIZE_MAX; h++)
                    for (int w = win.w_lo; w < win.w_hi; w++) {
                        size_t idx = (size_t)h * W + w;
                        float v = xp[idx];
                        if (v == target) {
                            hit = idx;
                            break;
                        }
                        if (v > m) {
                            m = v;
                            best = idx;
                        }
                    }
                dp[hit != SIZE_MAX ? hit : best] += gp[p * Q + q];
            }
    }
    return RV_OK;
}
