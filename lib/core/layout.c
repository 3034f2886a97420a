/*
 * layout.c: the activation layout queries and conversions of layout.h, dispatched to the
 * backend's optional layout entries (plain NCHW where a backend has none).
 */
#include <revnet/layout.h>
#include "core/backend.h"
#include "core/op_args.h"

int rv_act_channels(const rv_ctx *ctx, int C)
{
    const rv_backend *be = rv_ctx_backend(ctx);
    return be->act_channels ? be->act_channels(rv_ctx_backend_state(ctx), C) : C;
}

size_t rv_act_floats(const rv_ctx *ctx, int N, int C, int HW)
{
    return (size_t)N * (size_t)rv_act_channels(ctx, C) * (size_t)HW;
}

/* Upload (to_backend) or download: the checks, then the backend's conversion, or a plain copy
 * where it keeps activations in NCHW. */
static rv_status convert(rv_ctx *ctx, const char *op, int to_backend, float *dst,
                         const float *src, int N, int C, int HW)
{
    RV_ARGS(ctx, op, (dst, src), (N, C, HW));
    if (rv_ctx_dry_run(ctx)) return RV_OK;
    const rv_backend *be = rv_ctx_backend(ctx);
    const size_t bytes = (size_t)N * C * HW * sizeof(float);
    if (to_backend)
        return be->act_pack ? be->act_pack(ctx, dst, src, N, C, HW)
                            : rv_ctx_upload(ctx, dst, src, bytes);
    return be->act_unpack ? be->act_unpack(ctx, dst, src, N, C, HW)
                          : rv_ctx_download(ctx, dst, src, bytes);
}

rv_status rv_act_upload(rv_ctx *ctx, float *dst, const float *src_nchw, int N, int C, int HW)
{
    return convert(ctx, "act_upload", 1, dst, src_nchw, N, C, HW);
}

rv_status rv_act_download(rv_ctx *ctx, float *dst_nchw, const float *src, int N, int C, int HW)
{
    return convert(ctx, "act_download", 0, dst_nchw, src, N, C, HW);
}
