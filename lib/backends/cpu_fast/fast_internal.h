/*
 * fast_internal.h (internal): the state of the fast CPU backend and the layout rules its files
 * share.
 *
 * Layout (layout.h): an activation of C > RV_FAST_PLAIN_MAX_C channels is channel-blocked,
 * element (n, c, h, w) at ((n * Cb + c / B) * H * W + h * W + w) * B + c % B, with
 * Cb = ceil(C / B) and B = 16 on AVX-512 (nChw16c) or 8 on AVX2 (nChw8c), chosen once at init
 * from the ISA oneDNN will use (so ONEDNN_MAX_CPU_ISA=AVX2 gives the AVX2 layout and kernels).
 * Channels C..Cb*B-1 are padding and hold zeros: oneDNN's convolutions read them (with zero
 * weights) and every op here writes zeros there. Tensors of at most RV_FAST_PLAIN_MAX_C
 * channels (the input images) are plain NCHW.
 */
#ifndef RV_FAST_INTERNAL_H
#define RV_FAST_INTERNAL_H

#include "core/backend.h"

#include <oneapi/dnnl/dnnl.h>

#define RV_FAST_PLAIN_MAX_C 4

/* Per-channel partial sums of batch norm are formed over this many fixed slices of the batch
 * and combined in slice order, so results do not depend on the thread count. */
#define RV_FAST_BN_SLICES 8
/* Widest channel count batch norm supports (the statistics scratch is sized once at init). */
#define RV_FAST_BN_MAX_C 8192

typedef struct fast_conv_entry fast_conv_entry; /* fast_conv.c */

typedef struct {
    int block;                 /* B: 16 (AVX-512) or 8 (AVX2) */
    int winograd;              /* use oneDNN's Winograd where it applies (AVX-512 only) */
    int n_threads;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    fast_conv_entry *convs;    /* primitives per convolution shape, a linked list */
    double *bn_scratch;        /* RV_FAST_BN_SLICES x 2 x RV_FAST_BN_MAX_C partial sums */
    char description[320];
} fast_state;

static inline fast_state *fast_st(rv_ctx *ctx) { return (fast_state *)rv_ctx_backend_state(ctx); }
static inline int fast_blocked(const fast_state *s, int C)
{
    (void)s;
    return C > RV_FAST_PLAIN_MAX_C;
}
/* Stored channels of a C-channel activation. */
static inline int fast_cpad(const fast_state *s, int C)
{
    return fast_blocked(s, C) ? (C + s->block - 1) / s->block * s->block : C;
}

/* The ops this folder implements, with the public ops' signatures (rv_fast_conv_forward, ...;
 * one file each: fast_conv.c, fast_bn.c, fast_layout_ops.c): those that see the blocked
 * layout (backend.h's query and layout ops, and the fused passes). The flat ops are the
 * reference backend's, which see only a float count or plain tensors. */
RV_BACKEND_QUERY_OPS(RV_OP_DECLARE, rv_fast_)
RV_BACKEND_LAYOUT_OPS(RV_OP_DECLARE, rv_fast_)
RV_BACKEND_FUSED_OPS(RV_OP_DECLARE, rv_fast_)
void rv_fast_conv_cache_free(fast_state *s);

/* fast_layout_ops.c: conversions between plain NCHW and the blocked layout (layout.h). */
rv_status rv_fast_act_pack(rv_ctx *ctx, float *dst, const float *src, int N, int C, int HW);
rv_status rv_fast_act_unpack(rv_ctx *ctx, float *dst, const float *src, int N, int C, int HW);

#endif
