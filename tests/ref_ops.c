/*
 * ref_ops.c: the test helpers of ref_ops.h (generator, naive references, finite differences).
 */
#include "ref_ops.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

rv_ctx *ref_cpu_ctx(void) { return ref_cpu_ctx_threads(0); }

rv_ctx *ref_cpu_ctx_threads(int n_threads)
{
    char msg[256] = "";
    rv_ctx *ctx = NULL;
    rv_ctx_options opt = rv_ctx_default_options();
    opt.n_threads = n_threads;
    rv_status s = rv_ctx_create(&ctx, &opt, msg, sizeof msg);
    cr_assert_eq(s, RV_OK, "rv_ctx_create: %s", msg);
    return ctx;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform double in [0, 1) from the top 53 bits. */
static double unit(uint64_t *state) { return (double)(splitmix64(state) >> 11) * 0x1.0p-53; }

void ref_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * unit(&st));
}

void ref_fill_away_from_zero(float *x, size_t n, uint64_t seed, float hi, float gap)
{
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        double mag = gap + (hi - gap) * unit(&st);
        x[i] = (float)(unit(&st) < 0.5 ? -mag : mag);
    }
}

void ref_fill_distinct(float *x, size_t n, uint64_t seed, float lo, float step)
{
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) x[i] = lo + step * (float)i;
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(splitmix64(&st) % i);
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

float *ref_alloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    cr_assert_not_null(p, "out of memory in a test (%zu floats)", n);
    return p;
}

double ref_max_abs_diff(const float *a, const double *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as the worst */
    }
    return m;
}

double ref_max_abs_diff_ff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

double ref_dot(const float *y, const float *r, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * (double)r[i];
    return s;
}

double ref_grad_check(ref_loss_fn f, void *ud, float *p, const float *grad, size_t n,
                      size_t stride, float h, double atol, double rtol, size_t *worst)
{
    double worst_ratio = 0.0;
    *worst = 0;
    for (size_t i = 0; i < n; i += stride) {
        const float orig = p[i];
        /* The actual steps after rounding to float, so the quotient uses what was applied. */
        p[i] = orig + h;
        const double up = (double)p[i] - (double)orig;
        const double lp = f(ud);
        p[i] = orig - h;
        const double down = (double)orig - (double)p[i];
        const double lm = f(ud);
        p[i] = orig;
        const double fd = (lp - lm) / (up + down);
        const double ratio = fabs(fd - (double)grad[i]) / (atol + rtol * fabs(fd));
        if (!(ratio <= worst_ratio)) {
            worst_ratio = ratio;
            *worst = i;
        }
    }
    return worst_ratio;
}

/* Mean and biased variance of channel c, two passes in double. */
static void ref_channel_stats(const float *x, int N, int C, int HW, int c, double *mean,
                              double *var)
{
    const double M = (double)N * HW;
    double s = 0.0;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < HW; i++) s += x[((size_t)n * C + c) * HW + i];
    const double mu = s / M;
    double v = 0.0;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < HW; i++) {
            double d = x[((size_t)n * C + c) * HW + i] - mu;
            v += d * d;
        }
    *mean = mu;
    *var = v / M;
}

void ref_bn_forward(double *y, double *mean, double *var, const float *x, const float *gamma,
                    const float *beta, int N, int C, int HW, double eps)
{
    for (int c = 0; c < C; c++) {
        double mu, v;
        ref_channel_stats(x, N, C, HW, c, &mu, &v);
        if (mean) mean[c] = mu;
        if (var) var[c] = v;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t k = ((size_t)n * C + c) * HW + i;
                y[k] = gamma[c] * (x[k] - mu) / sqrt(v + eps) + beta[c];
            }
    }
}

void ref_bn_backward(double *d_x, double *d_gamma, double *d_beta, const float *d_y,
                     const float *x, const float *gamma, int N, int C, int HW, double eps)
{
    const double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double mu, v;
        ref_channel_stats(x, N, C, HW, c, &mu, &v);
        const double is = 1.0 / sqrt(v + eps);
        /* Chain rule through xhat, var and mean separately (the textbook derivation), rather
         * than the folded formula the library uses. */
        double d_var = 0.0, d_mu = 0.0, dg = 0.0, db = 0.0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t k = ((size_t)n * C + c) * HW + i;
                double dxhat = d_y[k] * (double)gamma[c];
                d_var += dxhat * (x[k] - mu) * -0.5 * is * is * is;
                d_mu += -dxhat * is;
                dg += d_y[k] * (x[k] - mu) * is;
                db += d_y[k];
            }
        /* d var / d mu = -2 mean(x - mu) = 0 exactly, so the d_var term drops from d_mu. */
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t k = ((size_t)n * C + c) * HW + i;
                double dxhat = d_y[k] * (double)gamma[c];
                d_x[k] = dxhat * is + d_var * 2.0 * (x[k] - mu) / M + d_mu / M;
            }
        d_gamma[c] = dg;
        d_beta[c] = db;
    }
}

void ref_maxpool3s2(double *y, const float *x, int N, int C, int H, int W)
{
    const int P = (H + 1) / 2, Q = (W + 1) / 2;
    const int ph = (P - 1) * 2 + 3 - H, pw = (Q - 1) * 2 + 3 - W;
    const int top = (ph > 0 ? ph : 0) / 2, left = (pw > 0 ? pw : 0) / 2;
    const int Hp = H + (ph > 0 ? ph : 0), Wp = W + (pw > 0 ? pw : 0);
    double *pad = malloc((size_t)Hp * Wp * sizeof *pad);
    cr_assert_not_null(pad);
    for (int pl = 0; pl < N * C; pl++) {
        for (int i = 0; i < Hp * Wp; i++) pad[i] = -INFINITY;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                pad[(h + top) * Wp + (w + left)] = x[((size_t)pl * H + h) * W + w];
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                double m = -INFINITY;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) m = fmax(m, pad[(2 * p + a) * Wp + 2 * q + b]);
                y[((size_t)pl * P + p) * Q + q] = m;
            }
    }
    free(pad);
}

void ref_linear(double *y, const float *x, const float *w, const float *b, int N, int I, int O)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b[o];
            for (int i = 0; i < I; i++) s += (double)x[(size_t)n * I + i] * w[(size_t)o * I + i];
            y[(size_t)n * O + o] = s;
        }
}

void ref_xent(double *loss, const float *z, const int32_t *labels, int N, int K)
{
    for (int n = 0; n < N; n++) {
        const float *r = z + (size_t)n * K;
        double m = r[0];
        for (int k = 1; k < K; k++) m = fmax(m, r[k]);
        double s = 0.0;
        for (int k = 0; k < K; k++) s += exp(r[k] - m);
        /* -log(exp(z_l - m) / s) */
        loss[n] = -((r[labels[n]] - m) - log(s));
    }
}
