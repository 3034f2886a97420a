/* PLACEHOLDER: being written; every function reports RV_ERR_UNSUPPORTED. */
#include "backend_cpu.h"

size_t rv_cpu_conv_workspace_bytes(rv_ctx *ctx, const rv_conv_desc *d)
{
    return 0;
}

rv_status rv_cpu_conv_forward(rv_ctx *ctx, float *out, const float *in, const float *w,
                              const rv_conv_desc *d, void *ws)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_conv_backward_data(rv_ctx *ctx, float *d_in, const float *d_out,
                                    const float *w, const rv_conv_desc *d, float beta, void *ws)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}

rv_status rv_cpu_conv_backward_filter(rv_ctx *ctx, float *d_w, const float *d_out,
                                      const float *in, const rv_conv_desc *d, void *ws)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}
