/*
 * linear.c (reference CPU backend): the fully connected classifier of linear.h, row-major float32.
 *
 *   forward:  y[N,O] = x[N,I] W[O,I]^T + b[O]    (b may be NULL: no bias)
 *   backward: d_x[N,I] = d_y[N,O] W[O,I]         (overwrites; skipped when d_x is NULL)
 *             d_W[O,I] += d_y^T x                 (accumulates)
 *             d_b[O]   += sum over n of d_y[n,:]  (accumulates; skipped when d_b is NULL)
 *
 * Owns nothing. The implementations hand the three products to OpenBLAS (cblas_sgemm) and sum the
 * bias gradient per column in double, one thread per column range.
 */
#include "backends/cpu_ref/backend_cpu.h"

#include <cblas.h>
/* OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would swallow the input-size
 * parameter named in linear.h; nothing here uses complex numbers. */
#undef I

rv_status rv_cpu_linear_forward(rv_ctx *ctx, float *y, const float *x, const float *w,
                                const float *b, int N, int I, int O)
{
    (void)ctx;
    /* Seed y with the bias so one GEMM with beta 1 adds x W^T onto it; without a bias, beta 0
     * makes the GEMM overwrite y. */
    if (b)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) y[(size_t)n * O + o] = b[o];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, I, 1.0f, x, I, w, I,
                b ? 1.0f : 0.0f, y, O);
    return RV_OK;
}

rv_status rv_cpu_linear_backward(rv_ctx *ctx, float *d_x, float *d_w, float *d_b,
                                 const float *d_y, const float *x, const float *w, int N, int I,
                                 int O)
{
    (void)ctx;
    if (d_x)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, I, O, 1.0f, d_y, O, w, I,
                    0.0f, d_x, I);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, N, 1.0f, d_y, O, x, I, 1.0f, d_w,
                I);
    if (!d_b) return RV_OK;
#pragma omp parallel for schedule(static) if (O >= 256)
    for (int o = 0; o < O; o++) {
        double s = 0.0;
        for (int n = 0; n < N; n++) s += d_y[(size_t)n * O + o];
        d_b[o] += (float)s;
    }
    return RV_OK;
}
