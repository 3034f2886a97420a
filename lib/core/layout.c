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

static rv_status check(rv_ctx *ctx, const char *op, const float *dst, const float *src, int N,
                       int C, int HW)
{
    RV_ARG_PTR(ctx, op, dst);
    RV_ARG_PTR(ctx, op, src);
    RV_ARG_POS(ctx, op, N);
    RV_ARG_POS(ctx, op, C);
    RV_ARG_POS(ctx, op, HW);
    return RV_OK;
}

rv_status rv_act_upload(rv_ctx *ctx, float *dst, const float *src_nchw, int N, int C, int HW)
{
    RV_ARG_CTX(ctx);
    rv_status s = check(ctx, "act_upload", dst, src_nchw, N, C, HW);
    if (s != RV_OK || rv_ctx_dry_run(ctx)) return s;
    const rv_backend *be = rv_ctx_backend(ctx);
    if (!be->act_pack)
        return rv_ctx_upload(ctx, dst, src_nchw, (size_t)N * C * HW * sizeof(float));
    return be->act_pack(ctx, dst, src_nchw, N, C, HW);
}

rv_status rv_act_download(rv_ctx *ctx, float *dst_nchw, const float *src, int N, int C, int HW)
{
    RV_ARG_CTX(ctx);
    rv_status s = check(ctx, "act_download", dst_nchw, src, N, C, HW);
    if (s != RV_OK || rv_ctx_dry_run(ctx)) return s;
    const rv_backend *be = rv_ctx_backend(ctx);
    if (!be->act_unpack)
        return rv_ctx_download(ctx, dst_nchw, src, (size_t)N * C * HW * sizeof(float));
    return be->act_unpack(ctx, dst_nchw, src, N, C, HW);
}
