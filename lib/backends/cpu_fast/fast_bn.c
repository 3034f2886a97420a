/*
 * fast_bn.c: batch normalization on channel-blocked activations (fast_internal.h); the
 * equations and modes are those of batchnorm.h / batchnorm.c.
 *
 * Forward: one read pass for the statistics (per-channel sum and sum of squares of x - k,
 * with k the channel's first element, in double, as the reference does), then one pass that
 * writes y = (x - mean) * scale + shift. Backward: one read pass for sum(d_y) and
 * sum(d_y (x - mean)), then one pass for d_x. Both statistics passes split the batch into
 * RV_FAST_BN_SLICES fixed slices x channel blocks, so that two threads stay busy even on a
 * 16-channel tensor (one channel block), and combine the slices in a fixed order: the result
 * depends neither on the thread count nor on scheduling.
 *
 * The fused variants (rv_bn_relu_forward / _backward, batchnorm.h) run in the same passes: the
 * output pass applies max(0, .), and the backward reads the forward output as the ReLU mask in
 * both of its passes, so neither the ReLU nor its backward costs a pass over memory of its own.
 *
 * Padding channels get mean 0, scale 0 and shift 0, so they stay zero.
 */
#include "backends/cpu_fast/fast_internal.h"
#include "backends/cpu_fast/fast_isa.h"
#include "backends/cpu_ref/backend_cpu.h"

#include <stddef.h>

/* Partial sums over images [n0, n1) of channel block cb: s1 += x - k, s2 += (x - k)^2 (forward,
 * k = shift) or s1 += g, s2 += g (x - k) (backward, k = mean, g = d_y when g != NULL). Two
 * accumulator sets (even and odd pixels) halve the add-latency chain; fixed combination. */
RV_FAST_INLINE void k_partial(const int B, const float *x, const float *g, const float *mk,
                              int Cb, int HW, int n0, int n1, int cb, const float *k, double *s1,
                              double *s2)
{
    double a1[2][16] = { { 0 } }, a2[2][16] = { { 0 } };
    for (int n = n0; n < n1; n++) {
        size_t base = ((size_t)n * Cb + cb) * HW * B;
        const float *p = x + base, *q = g ? g + base : NULL, *r = mk ? mk + base : NULL;
        int i = 0;
        for (; i + 2 <= HW; i += 2)
            for (int u = 0; u < 2; u++)
#pragma omp simd
                for (int b = 0; b < B; b++) {
                    double v = (double)p[(size_t)(i + u) * B + b] - (double)k[b];
                    if (q) {
                        double dy = (double)q[(size_t)(i + u) * B + b];
                        if (r && !(r[(size_t)(i + u) * B + b] > 0.0f)) dy = 0.0;
                        a1[u][b] += dy;
                        a2[u][b] += dy * v;
                    } else {
                        a1[u][b] += v;
                        a2[u][b] += v * v;
                    }
                }
        for (; i < HW; i++)
#pragma omp simd
            for (int b = 0; b < B; b++) {
                double v = (double)p[(size_t)i * B + b] - (double)k[b];
                if (q) {
                    double dy = (double)q[(size_t)i * B + b];
                    if (r && !(r[(size_t)i * B + b] > 0.0f)) dy = 0.0;
                    a1[0][b] += dy;
                    a2[0][b] += dy * v;
                } else {
                    a1[0][b] += v;
                    a2[0][b] += v * v;
                }
            }
    }
    for (int b = 0; b < B; b++) {
        s1[b] = a1[0][b] + a1[1][b];
        s2[b] = a2[0][b] + a2[1][b];
    }
}
/* Three instances per ISA, with the absent inputs NULL at compile time so that no test of
 * them is left in the inner loop: forward (x), backward (x, d_y), fused backward (x, d_y, y). */
RV_FAST_INSTANTIATE(partial_x, k_partial,
                    (const float *x, int Cb, int HW, int n0, int n1, int cb, const float *k,
                     double *s1, double *s2),
                    x, NULL, NULL, Cb, HW, n0, n1, cb, k, s1, s2)
RV_FAST_INSTANTIATE(partial_g, k_partial,
                    (const float *x, const float *g, int Cb, int HW, int n0, int n1, int cb,
                     const float *k, double *s1, double *s2),
                    x, g, NULL, Cb, HW, n0, n1, cb, k, s1, s2)
RV_FAST_INSTANTIATE(partial_gm, k_partial,
                    (const float *x, const float *g, const float *mk, int Cb, int HW, int n0,
                     int n1, int cb, const float *k, double *s1, double *s2),
                    x, g, mk, Cb, HW, n0, n1, cb, k, s1, s2)

/* y = (x - mean) * scale + shift over image n, channel block cb, then max(0, y) if relu. */
RV_FAST_INLINE void k_apply(const int B, float *y, const float *x, int Cb, int HW, int n, int cb,
                            const float *mean, const float *scale, const float *shift, int relu)
{
    size_t base = ((size_t)n * Cb + cb) * HW * B;
    const float *p = x + base;
    float *q = y + base;
    const float *m = mean + (size_t)cb * B, *sc = scale + (size_t)cb * B,
                *sh = shift + (size_t)cb * B;
    for (int i = 0; i < HW; i++)
        for (int b = 0; b < B; b++) {
            float v = (p[(size_t)i * B + b] - m[b]) * sc[b] + sh[b];
            q[(size_t)i * B + b] = relu ? (v > 0.0f ? v : 0.0f) : v;
        }
}
RV_FAST_INSTANTIATE(apply, k_apply,
                    (float *y, const float *x, int Cb, int HW, int n, int cb, const float *mean,
                     const float *scale, const float *shift),
                    y, x, Cb, HW, n, cb, mean, scale, shift, 0)
RV_FAST_INSTANTIATE(apply_relu, k_apply,
                    (float *y, const float *x, int Cb, int HW, int n, int cb, const float *mean,
                     const float *scale, const float *shift),
                    y, x, Cb, HW, n, cb, mean, scale, shift, 1)

/* d_x (= or +=) coef * (g - mdy - (x - mean) * invstd * mdyx) over image n, block cb. */
RV_FAST_INLINE void k_bwd_apply(const int B, float *d_x, const float *g, const float *mk,
                                const float *x, int Cb, int HW, int n, int cb, const float *mean,
                                const float *invstd, const float *coef, const float *mdy,
                                const float *mdyx, int accumulate)
{
    size_t base = ((size_t)n * Cb + cb) * HW * B;
    const float *pg = g + base, *px = x + base, *pm = mk ? mk + base : NULL;
    float *q = d_x + base;
    size_t o = (size_t)cb * B;
    for (int i = 0; i < HW; i++)
        for (int b = 0; b < B; b++) {
            size_t j = (size_t)i * B + b;
            float xhat = (px[j] - mean[o + b]) * invstd[o + b];
            /* Loaded unconditionally, then selected: a load under a condition keeps the
             * compiler from vectorizing the loop. */
            float gj = pg[j];
            if (pm) gj = pm[j] > 0.0f ? gj : 0.0f;
            float v = coef[o + b] * (gj - mdy[o + b] - xhat * mdyx[o + b]);
            q[j] = accumulate ? q[j] + v : v;
        }
}
RV_FAST_INSTANTIATE(bwd_apply, k_bwd_apply,
                    (float *d_x, const float *g, const float *x, int Cb, int HW, int n, int cb,
                     const float *mean, const float *invstd, const float *coef, const float *mdy,
                     const float *mdyx, int accumulate),
                    d_x, g, NULL, x, Cb, HW, n, cb, mean, invstd, coef, mdy, mdyx, accumulate)
RV_FAST_INSTANTIATE(bwd_apply_m, k_bwd_apply,
                    (float *d_x, const float *g, const float *mk, const float *x, int Cb, int HW,
                     int n, int cb, const float *mean, const float *invstd, const float *coef,
                     const float *mdy, const float *mdyx, int accumulate),
                    d_x, g, mk, x, Cb, HW, n, cb, mean, invstd, coef, mdy, mdyx, accumulate)

/* The partial sums of every (slice, block) pair into the state's scratch: slice s, sum j
 * (0 or 1), channel c at scratch[(s * 2 + j) * RV_FAST_BN_MAX_C + c]. */
static void partials(const fast_state *s, const float *x, const float *g, const float *mk, int N,
                     int Cb, int HW, const float *k, int n_slices)
{
    const int B = s->block;
    double *scr = s->bn_scratch;
#pragma omp parallel for collapse(2) schedule(static)
    for (int sl = 0; sl < n_slices; sl++)
        for (int cb = 0; cb < Cb; cb++) {
            int n0 = (int)((long)N * sl / n_slices), n1 = (int)((long)N * (sl + 1) / n_slices);
            double *s1 = scr + (size_t)(sl * 2) * RV_FAST_BN_MAX_C + (size_t)cb * B;
            double *s2 = scr + (size_t)(sl * 2 + 1) * RV_FAST_BN_MAX_C + (size_t)cb * B;
            const float *kb = k + (size_t)cb * B;
            if (!g) {
                if (B == 16) partial_x_16(x, Cb, HW, n0, n1, cb, kb, s1, s2);
                else partial_x_8(x, Cb, HW, n0, n1, cb, kb, s1, s2);
            } else if (!mk) {
                if (B == 16) partial_g_16(x, g, Cb, HW, n0, n1, cb, kb, s1, s2);
                else partial_g_8(x, g, Cb, HW, n0, n1, cb, kb, s1, s2);
            } else {
                if (B == 16) partial_gm_16(x, g, mk, Cb, HW, n0, n1, cb, kb, s1, s2);
                else partial_gm_8(x, g, mk, Cb, HW, n0, n1, cb, kb, s1, s2);
            }
        }
}

static void combine(const fast_state *s, int n_slices, int c, double *t1, double *t2)
{
    double a = 0.0, b = 0.0;
    for (int sl = 0; sl < n_slices; sl++) {
        a += s->bn_scratch[(size_t)(sl * 2) * RV_FAST_BN_MAX_C + c];
        b += s->bn_scratch[(size_t)(sl * 2 + 1) * RV_FAST_BN_MAX_C + c];
    }
    *t1 = a;
    *t2 = b;
}

/* Per-channel float vectors after the partial sums: 6 x RV_FAST_BN_MAX_C floats. */
static float *vec(const fast_state *s, int i)
{
    return (float *)(s->bn_scratch + (size_t)RV_FAST_BN_SLICES * 2 * RV_FAST_BN_MAX_C) +
           (size_t)i * RV_FAST_BN_MAX_C;
}

/* The slices the statistics of a batch of N images are split into. */
static int slices(int N) { return N < RV_FAST_BN_SLICES ? N : RV_FAST_BN_SLICES; }

static rv_status too_wide(rv_ctx *ctx, int C)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "batch norm: %d channels exceed the fast "
                       "backend's %d", C, RV_FAST_BN_MAX_C);
}

/* Batch norm, then a ReLU in the same pass when relu is set. */
static rv_status bn_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                            float *run_mean, float *run_var, const float *x, const float *gamma,
                            const float *beta, int N, int C, int HW, rv_bn_mode mode, int relu)
{
    fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C)) {
        rv_status st = rv_cpu_bn_forward(ctx, y, save_mean, save_invstd, run_mean, run_var, x,
                                         gamma, beta, N, C, HW, mode);
        if (st != RV_OK || !relu) return st;
        return rv_cpu_relu_forward(ctx, y, y, (size_t)N * C * HW);
    }
    const int B = s->block, Cp = fast_cpad(s, C), Cb = Cp / B;
    if (Cp > RV_FAST_BN_MAX_C) return too_wide(ctx, C);
    float *k = vec(s, 0), *mean = vec(s, 1), *scale = vec(s, 2), *shift = vec(s, 3);
    const int n_slices = slices(N);
    if (mode != RV_BN_EVAL) {
        for (int c = 0; c < Cp; c++) k[c] = x[(size_t)(c / B) * HW * B + c % B];
        partials(s, x, NULL, NULL, N, Cb, HW, k, n_slices);
    }
    const double M = (double)N * (double)HW;
    for (int c = 0; c < Cp; c++) {
        if (c >= C) {
            mean[c] = scale[c] = shift[c] = 0.0f;
            continue;
        }
        double mu = 0.0, var = 0.0;
        if (mode != RV_BN_EVAL) {
            double t1, t2;
            combine(s, n_slices, c, &t1, &t2);
            double sm = t1 / M, v = t2 / M - sm * sm;
            mu = (double)k[c] + sm;
            var = v > 0.0 ? v : 0.0;
        }
        float mean_f, invstd_f;
        rv_cpu_bn_channel(mode, c, mu, var, save_mean, save_invstd, run_mean, run_var, &mean_f,
                          &invstd_f);
        mean[c] = mean_f;
        scale[c] = gamma[c] * invstd_f;
        shift[c] = beta[c];
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int cb = 0; cb < Cb; cb++) {
            if (relu) {
                if (B == 16) apply_relu_16(y, x, Cb, HW, n, cb, mean, scale, shift);
                else apply_relu_8(y, x, Cb, HW, n, cb, mean, scale, shift);
            } else {
                if (B == 16) apply_16(y, x, Cb, HW, n, cb, mean, scale, shift);
                else apply_8(y, x, Cb, HW, n, cb, mean, scale, shift);
            }
        }
    return RV_OK;
}

rv_status rv_fast_bn_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                             float *run_mean, float *run_var, const float *x, const float *gamma,
                             const float *beta, int N, int C, int HW, rv_bn_mode mode)
{
    return bn_forward(ctx, y, save_mean, save_invstd, run_mean, run_var, x, gamma, beta, N, C,
                      HW, mode, 0);
}

rv_status rv_fast_bn_relu_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                                  float *run_mean, float *run_var, const float *x,
                                  const float *gamma, const float *beta, int N, int C, int HW,
                                  rv_bn_mode mode)
{
    return bn_forward(ctx, y, save_mean, save_invstd, run_mean, run_var, x, gamma, beta, N, C,
                      HW, mode, 1);
}

/* Batch norm's backward; with a mask (the forward ReLU's output), of d_y * [mask > 0]. Kept
 * apart from bn_forward, whose steps it mirrors: set-up, partial sums, per-channel
 * coefficients (zero in padding channels), one pass over the tensor. */
static rv_status bn_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                             const float *d_y, const float *mask, const float *x,
                             const float *save_mean, const float *save_invstd, const float *gamma,
                             int N, int C, int HW, float beta_acc)
{
    fast_state *s = fast_st(ctx);
    if (!fast_blocked(s, C)) {
        if (mask) {
            /* Plain tensors (<= 4 channels) take the two reference ops; d_y is scratch. */
            rv_status st = rv_cpu_relu_backward(ctx, (float *)d_y, d_y, mask, (size_t)N * C * HW);
            if (st != RV_OK) return st;
        }
        return rv_cpu_bn_backward(ctx, d_x, d_gamma, d_beta, d_y, x, save_mean, save_invstd,
                                  gamma, N, C, HW, beta_acc);
    }
    const int B = s->block, Cp = fast_cpad(s, C), Cb = Cp / B;
    if (Cp > RV_FAST_BN_MAX_C) return too_wide(ctx, C);
    float *mean = vec(s, 0), *invstd = vec(s, 1), *coef = vec(s, 2), *mdy = vec(s, 3),
          *mdyx = vec(s, 4);
    for (int c = 0; c < Cp; c++) {
        mean[c] = c < C ? save_mean[c] : 0.0f;
        invstd[c] = c < C ? save_invstd[c] : 0.0f;
    }
    const int n_slices = slices(N);
    partials(s, x, d_y, mask, N, Cb, HW, mean, n_slices);
    const double M = (double)N * (double)HW;
    for (int c = 0; c < Cp; c++) {
        if (c >= C) {
            coef[c] = mdy[c] = mdyx[c] = 0.0f;
            continue;
        }
        double sum_dy, sum_dyx;
        combine(s, n_slices, c, &sum_dy, &sum_dyx);
        double sum_dy_xhat = sum_dyx * (double)invstd[c];
        d_beta[c] += (float)sum_dy;
        d_gamma[c] += (float)sum_dy_xhat;
        coef[c] = gamma[c] * invstd[c];
        mdy[c] = (float)(sum_dy / M);
        mdyx[c] = (float)(sum_dy_xhat / M);
    }
    int acc = beta_acc != 0.0f;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int cb = 0; cb < Cb; cb++) {
            if (mask) {
                if (B == 16)
                    bwd_apply_m_16(d_x, d_y, mask, x, Cb, HW, n, cb, mean, invstd, coef, mdy,
                                   mdyx, acc);
                else
                    bwd_apply_m_8(d_x, d_y, mask, x, Cb, HW, n, cb, mean, invstd, coef, mdy,
                                  mdyx, acc);
            } else {
                if (B == 16)
                    bwd_apply_16(d_x, d_y, x, Cb, HW, n, cb, mean, invstd, coef, mdy, mdyx, acc);
                else
                    bwd_apply_8(d_x, d_y, x, Cb, HW, n, cb, mean, invstd, coef, mdy, mdyx, acc);
            }
        }
    return RV_OK;
}

rv_status rv_fast_bn_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                              const float *d_y, const float *x, const float *save_mean,
                              const float *save_invstd, const float *gamma, int N, int C, int HW,
                              float beta_acc)
{
    return bn_backward(ctx, d_x, d_gamma, d_beta, d_y, NULL, x, save_mean, save_invstd, gamma, N,
                       C, HW, beta_acc);
}

rv_status rv_fast_bn_relu_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                                   float *d_y, const float *y, const float *x,
                                   const float *save_mean, const float *save_invstd,
                                   const float *gamma, int N, int C, int HW, float beta_acc)
{
    return bn_backward(ctx, d_x, d_gamma, d_beta, d_y, y, x, save_mean, save_invstd, gamma, N, C,
                       HW, beta_acc);
}
