/*
 * batchnorm.c (reference CPU backend): batch normalization (Ioffe & Szegedy 2015) over N, H, W per
 * channel, NCHW float32, with the three modes of batchnorm.h (TRAIN, RECOMPUTE, EVAL).
 *
 *   forward:  y = gamma * xhat + beta,  xhat = (x - mean) * invstd,  invstd = 1/sqrt(var + eps)
 *   backward: d_beta  += sum(d_y)
 *             d_gamma += sum(d_y * xhat)
 *             d_x      = gamma * invstd * (d_y - mean(d_y) - xhat * mean(d_y * xhat))
 * with sums and means over the M = N * HW elements of one channel and the biased variance.
 *
 * Owns nothing: every buffer is passed in. The code gives each thread whole channels (static
 * schedule), and every per-channel sum is accumulated in double by that one thread, so the result
 * does not depend on the thread count at all.
 */
#include "backends/cpu_ref/backend_cpu.h"

#include <math.h>

/* Per-channel statistics of x, accumulated in double. The values are shifted by the channel's
 * first element before summing: with the shift close to the mean, sum((x-k)^2) does not suffer
 * the cancellation of the textbook sum(x^2) - M mean^2, so one read pass is as accurate as the
 * two-pass form while touching the data once less. Four accumulators break the dependency
 * chain; their combination order is fixed, so the result is deterministic. */
static void channel_stats(const float *x, int N, int C, int HW, int c, double *mean,
                          double *var)
{
    const size_t hw = (size_t)HW;
    const double k = (double)x[(size_t)c * hw];
    double s1[4] = { 0, 0, 0, 0 }, s2[4] = { 0, 0, 0, 0 };
    for (int n = 0; n < N; n++) {
        const float *p = x + ((size_t)n * C + c) * hw;
        size_t i = 0;
        for (; i + 4 <= hw; i += 4) {
            for (int j = 0; j < 4; j++) {
                double d = (double)p[i + j] - k;
                s1[j] += d;
                s2[j] += d * d;
            }
        }
        for (; i < hw; i++) {
            double d = (double)p[i] - k;
            s1[0] += d;
            s2[0] += d * d;
        }
    }
    const double M = (double)N * (double)HW;
    double t1 = (s1[0] + s1[1]) + (s1[2] + s1[3]);
    double t2 = (s2[0] + s2[1]) + (s2[2] + s2[3]);
    double shifted_mean = t1 / M;
    double v = t2 / M - shifted_mean * shifted_mean;
    *mean = k + shifted_mean;
    *var = v > 0.0 ? v : 0.0; /* rounding can leave a tiny negative for constant channels */
}

/* y = (x - mean) * scale + shift over one channel; y may equal x (each element is read before
 * it is written, at the same index). Subtracting the mean first, rather than folding it into
 * the shift, keeps inputs far from zero (a mean of 1000) from cancelling in the last add. */
static void channel_apply(float *y, const float *x, int N, int C, int HW, int c, float mean,
                          float scale, float shift)
{
    const size_t hw = (size_t)HW;
    for (int n = 0; n < N; n++) {
        size_t off = ((size_t)n * C + c) * hw;
        const float *p = x + off;
        float *q = y + off;
#pragma omp simd
        for (size_t i = 0; i < hw; i++) q[i] = (p[i] - mean) * scale + shift;
    }
}

void rv_cpu_bn_channel(rv_bn_mode mode, int c, double mean, double var, float *save_mean,
                       float *save_invstd, float *run_mean, float *run_var, float *mean_f,
                       float *invstd_f)
{
    if (mode == RV_BN_EVAL) {
        *mean_f = run_mean[c];
        *invstd_f = (float)(1.0 / sqrt((double)run_var[c] + (double)RV_BN_EPS));
        return;
    }
    *mean_f = (float)mean;
    *invstd_f = (float)(1.0 / sqrt(var + (double)RV_BN_EPS));
    save_mean[c] = *mean_f;
    save_invstd[c] = *invstd_f;
    if (mode == RV_BN_TRAIN) {
        run_mean[c] = RV_BN_DECAY * run_mean[c] + (1.0f - RV_BN_DECAY) * *mean_f;
        run_var[c] = RV_BN_DECAY * run_var[c] + (1.0f - RV_BN_DECAY) * (float)var;
    }
}

rv_status rv_cpu_bn_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                            float *run_mean, float *run_var, const float *x, const float *gamma,
                            const float *beta, int N, int C, int HW, rv_bn_mode mode)
{
    (void)ctx;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double mean = 0.0, var = 0.0;
        if (mode != RV_BN_EVAL) channel_stats(x, N, C, HW, c, &mean, &var);
        float mean_f, invstd_f;
        rv_cpu_bn_channel(mode, c, mean, var, save_mean, save_invstd, run_mean, run_var, &mean_f,
                          &invstd_f);
        channel_apply(y, x, N, C, HW, c, mean_f, gamma[c] * invstd_f, beta[c]);
    }
    return RV_OK;
}

rv_status rv_cpu_bn_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                             const float *d_y, const float *x, const float *save_mean,
                             const float *save_invstd, const float *gamma, int N, int C, int HW,
                             float beta_acc)
{
    (void)ctx;
    const size_t hw = (size_t)HW;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float mean = save_mean[c], invstd = save_invstd[c];
        /* sum(d_y) and sum(d_y * (x - mean)), in double with four accumulators each (fixed
         * combination order, so deterministic). */
        double sdy[4] = { 0, 0, 0, 0 }, sdyx[4] = { 0, 0, 0, 0 };
        for (int n = 0; n < N; n++) {
            size_t off = ((size_t)n * C + c) * hw;
            const float *g = d_y + off, *p = x + off;
            size_t i = 0;
            for (; i + 4 <= hw; i += 4) {
                for (int j = 0; j < 4; j++) {
                    double dy = (double)g[i + j];
                    sdy[j] += dy;
                    sdyx[j] += dy * ((double)p[i + j] - (double)mean);
                }
            }
            for (; i < hw; i++) {
                double dy = (double)g[i];
                sdy[0] += dy;
                sdyx[0] += dy * ((double)p[i] - (double)mean);
            }
        }
        const double M = (double)N * (double)HW;
        double sum_dy = (sdy[0] + sdy[1]) + (sdy[2] + sdy[3]);
        double sum_dy_xhat = ((sdyx[0] + sdyx[1]) + (sdyx[2] + sdyx[3])) * (double)invstd;
        d_beta[c] += (float)sum_dy;
        d_gamma[c] += (float)sum_dy_xhat;

        const float coef = gamma[c] * invstd;
        const float mean_dy = (float)(sum_dy / M);
        const float mean_dy_xhat = (float)(sum_dy_xhat / M);
        for (int n = 0; n < N; n++) {
            size_t off = ((size_t)n * C + c) * hw;
            const float *g = d_y + off, *p = x + off;
            float *q = d_x + off;
            /* d_x may equal d_y: each element is read before it is written, at one index. The
             * beta_acc == 0 branch never reads d_x, which may hold garbage. */
            if (beta_acc == 0.0f) {
#pragma omp simd
                for (size_t i = 0; i < hw; i++) {
                    float xhat = (p[i] - mean) * invstd;
                    q[i] = coef * (g[i] - mean_dy - xhat * mean_dy_xhat);
                }
            } else {
#pragma omp simd
                for (size_t i = 0; i < hw; i++) {
                    float xhat = (p[i] - mean) * invstd;
                    q[i] += coef * (g[i] - mean_dy - xhat * mean_dy_xhat);
                }
            }
        }
    }
    return RV_OK;
}
