/*
 * elementwise.c (reference CPU backend): ReLU, y = max(x, 0), with d_x = d_y * [y > 0], and the
 * elementwise arithmetic the blocks need (add, sub, axpy, copy, fill) over flat float32 arrays.
 *
 * Owns nothing: every buffer is passed in. Every
 * output element depends on the inputs at its own index only, so outputs may alias inputs and
 * the OpenMP split cannot change a result. Loops below RV_ELEM_PAR_MIN elements stay serial:
 * waking a thread team costs more than they do. The loops are marked `simd` because outputs may
 * alias inputs: without that promise (safe here, every access is at the loop index) GCC at -O2
 * keeps them scalar, and the ReLU select becomes a mispredicted branch per element (7 ms
 * instead of under 1 ms on a 100x16x32x32 tensor).
 */
#include "backends/cpu_ref/backend_cpu.h"

#include <string.h>

/* Below this many elements a parallel region costs more than it saves (a 16x32x32 feature map
 * of one image is 16384 elements). */
#define RV_ELEM_PAR_MIN 32768

rv_status rv_cpu_relu_forward(rv_ctx *ctx, float *y, const float *x, size_t n)
{
    (void)ctx;
#pragma omp parallel for simd schedule(static) if (parallel : n >= RV_ELEM_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return RV_OK;
}

rv_status rv_cpu_relu_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *y,
                               size_t n)
{
    (void)ctx;
    /* The forward output decides: y > 0 exactly where x > 0, and y is what blocks keep. */
#pragma omp parallel for simd schedule(static) if (parallel : n >= RV_ELEM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        /* Load unconditionally: a conditional load does not vectorize without masked loads. */
        float g = d_y[i];
        d_x[i] = y[i] > 0.0f ? g : 0.0f;
    }
    return RV_OK;
}

rv_status rv_cpu_add(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    (void)ctx;
#pragma omp parallel for simd schedule(static) if (parallel : n >= RV_ELEM_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
    return RV_OK;
}

rv_status rv_cpu_sub(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    (void)ctx;
#pragma omp parallel for simd schedule(static) if (parallel : n >= RV_ELEM_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] - b[i];
    return RV_OK;
}

rv_status rv_cpu_axpy(rv_ctx *ctx, float *y, float alpha, const float *x, size_t n)
{
    (void)ctx;
#pragma omp parallel for simd schedule(static) if (parallel : n >= RV_ELEM_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
    return RV_OK;
}

rv_status rv_cpu_copy(rv_ctx *ctx, float *dst, const float *src, size_t n)
{
    (void)ctx;
    if (dst == src) return RV_OK;
    /* memmove: a caller that shifts a buffer onto itself gets the right answer, not UB. */
    memmove(dst, src, n * sizeof *dst);
    return RV_OK;
}

rv_status rv_cpu_fill(rv_ctx *ctx, float *x, float value, size_t n)
{
    (void)ctx;
#pragma omp parallel for simd schedule(static) if (parallel : n >= RV_ELEM_PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] = value;
    return RV_OK;
}
