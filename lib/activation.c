/* PLACEHOLDER: being written; every function reports RV_ERR_UNSUPPORTED. */
#include "backend_cpu.h"

rv_status rv_cpu_relu_forward(rv_ctx *ctx, float *y, const float *x, size_t n)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_relu_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *y,
                               size_t n)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_add(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_sub(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_axpy(rv_ctx *ctx, float *y, float alpha, const float *x, size_t n)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_copy(rv_ctx *ctx, float *dst, const float *src, size_t n)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_fill(rv_ctx *ctx, float *x, float value, size_t n)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}
