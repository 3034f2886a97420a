/*
 * ref_conv.c (tests): the direct seven-loop convolution and its two adjoints, in double,
 * written for obviousness, not speed (see ref_conv.h).
 */
#include "ref_conv.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Input index of tap (r, s) for output (p, q), or -1 when it falls in the padding. */
static long tap(const rv_conv_desc *d, int n, int c, int p, int q, int r, int s)
{
    int ih = p * d->stride - d->pad_top + r;
    int iw = q * d->stride - d->pad_left + s;
    if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) return -1;
    return (((long)n * d->C + c) * d->H + ih) * d->W + iw;
}

static long widx(const rv_conv_desc *d, int k, int c, int r, int s)
{
    return (((long)k * d->C + c) * d->R + r) * d->S + s;
}

static long oidx(const rv_conv_desc *d, int n, int k, int p, int q)
{
    return (((long)n * d->K + k) * d->P + p) * d->Q + q;
}

void rv_ref_conv_forward(double *out, const float *in, const float *w, const rv_conv_desc *d)
{
    for (int n = 0; n < d->N; n++)
        for (int k = 0; k < d->K; k++)
            for (int p = 0; p < d->P; p++)
                for (int q = 0; q < d->Q; q++) {
                    double acc = 0.0;
                    for (int c = 0; c < d->C; c++)
                        for (int r = 0; r < d->R; r++)
                            for (int s = 0; s < d->S; s++) {
                                long i = tap(d, n, c, p, q, r, s);
                                if (i >= 0) acc += (double)w[widx(d, k, c, r, s)] * in[i];
                            }
                    out[oidx(d, n, k, p, q)] = acc;
                }
}

/* Both gradients come from the one product term of the forward, w[k,c,r,s] * in[i]: d_in
 * takes it with respect to in, d_w with respect to w. One loop nest computes either (the other
 * pointer NULL), so the two adjoints are read against the same sum; each output is still
 * accumulated in the same order as a loop of its own would. */
static void backward(double *d_in, double *d_w, const float *d_out, const float *in,
                     const float *w, const rv_conv_desc *d)
{
    for (int n = 0; n < d->N; n++)
        for (int k = 0; k < d->K; k++)
            for (int p = 0; p < d->P; p++)
                for (int q = 0; q < d->Q; q++)
                    for (int c = 0; c < d->C; c++)
                        for (int r = 0; r < d->R; r++)
                            for (int s = 0; s < d->S; s++) {
                                long i = tap(d, n, c, p, q, r, s);
                                if (i < 0) continue;
                                double g = d_out[oidx(d, n, k, p, q)];
                                if (d_in) d_in[i] += (double)w[widx(d, k, c, r, s)] * g;
                                if (d_w) d_w[widx(d, k, c, r, s)] += g * in[i];
                            }
}

void rv_ref_conv_backward_data(double *d_in, const float *d_out, const float *w,
                               const rv_conv_desc *d)
{
    memset(d_in, 0, (size_t)d->N * d->C * d->H * d->W * sizeof(double));
    backward(d_in, NULL, d_out, NULL, w, d);
}

void rv_ref_conv_backward_filter(double *d_w, const float *d_out, const float *in,
                                 const rv_conv_desc *d)
{
    memset(d_w, 0, (size_t)d->K * d->C * d->R * d->S * sizeof(double));
    backward(NULL, d_w, d_out, in, NULL, d);
}

float *ref_conv_rand_buf(uint64_t *state, size_t n)
{
    float *p = malloc((n + 1) * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((*state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
    }
    return p;
}

float *ref_conv_abs_copy(const float *x, size_t n)
{
    float *a = malloc((n + 1) * sizeof *a);
    cr_assert_not_null(a);
    for (size_t i = 0; i < n; i++) a[i] = fabsf(x[i]);
    return a;
}
