/*
 * fast_conv.c: convolution forward, backward-data and backward-filter through oneDNN's
 * primitives, on the channel-blocked activations of fast_internal.h.
 *
 * Per convolution shape the primitives are created once (on first use, which is the memory
 * planner's dry run) and kept in a list on the backend state. The activations' formats are
 * ours (nChw16c / nChw8c, plain nchw for <= 4 channels); the weights' format is left to oneDNN:
 * our parameters stay plain K x C x R x S, and each call reorders them into the workspace (and
 * back, accumulating, for the filter gradient), which costs a few microseconds against
 * milliseconds of convolution. The direct JIT kernels serve every shape; with
 * REVBENCH_WINOGRAD=1 (AVX-512 only) oneDNN's Winograd jit_wino_4x3 serves the 3x3 stride-1
 * blocked ones, 1.8-2.4x faster but less accurate (backend_fast.c says why it is not the
 * default).
 *
 * Memory: scratchpads are user-managed, so every byte oneDNN touches during a call lies in
 * the workspace that rv_conv_workspace_bytes reports and the memory planner accounts for:
 * reordered weights + the primitive's scratchpad (+ one image slice of data gradient when
 * accumulating, see below), the largest over the three passes.
 *
 * Accumulating data gradients (beta 1): oneDNN's backward-data cannot add into its output, so
 * the batch is processed in slices of n_acc images (n_acc the smallest divisor of N that is at
 * least N / RV_FAST_ACC_SLICES) into a slice-sized buffer in the workspace, which is then
 * added; the slice keeps the workspace a tenth of an activation instead of a whole one.
 */
#include "backends/cpu_fast/fast_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RV_FAST_ACC_SLICES 10

typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_desc_t w_md;    /* its weights (fwd, bwd-data) or diff weights (bwd-filter) */
    dnnl_primitive_t w_reorder; /* plain <-> w_md; NULL when w_md is the plain format */
    size_t w_bytes, scratch_bytes, reorder_scratch_bytes;
    char impl[64];
} pass;

struct fast_conv_entry {
    rv_conv_desc d;
    fast_conv_entry *next;
    dnnl_memory_desc_t src_md, dst_md, w_plain_md, acc_src_md, acc_dst_md;
    pass fwd, bwd_d, bwd_w, bwd_acc; /* bwd_acc: backward-data on n_acc images */
    int n_acc;
    size_t acc_slice_floats;         /* floats of one slice of d_in */
    size_t ws_bytes;
};

static size_t align64(size_t b) { return (b + 63) / 64 * 64; }

static rv_status dnnl_fail(rv_ctx *ctx, dnnl_status_t s, const char *what, const rv_conv_desc *d)
{
    return rv_ctx_fail(ctx, s == dnnl_out_of_memory ? RV_ERR_NOMEM : RV_ERR_UNSUPPORTED,
                       "oneDNN: %s failed (status %d) for conv N=%d C=%d H=%d W=%d K=%d R=%d "
                       "stride=%d", what, (int)s, d->N, d->C, d->H, d->W, d->K, d->R, d->stride);
}

#define DN(expr, what)                                                  \
    do {                                                                \
        dnnl_status_t ds_ = (expr);                                     \
        if (ds_ != dnnl_success) { st = dnnl_fail(ctx, ds_, what, d); goto fail; } \
    } while (0)

static dnnl_format_tag_t act_tag(const fast_state *s, int C)
{
    if (!fast_blocked(s, C)) return dnnl_nchw;
    return s->block == 16 ? dnnl_nChw16c : dnnl_nChw8c;
}

static void pass_destroy(pass *p)
{
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->w_reorder) dnnl_primitive_destroy(p->w_reorder);
    memset(p, 0, sizeof *p);
}

/* Creates the primitive of pd and the reorder between plain weights and its weight format
 * (to_plain: diff weights -> plain, accumulating; else plain -> weights). Takes pd. */
static rv_status pass_init(rv_ctx *ctx, pass *p, dnnl_primitive_desc_t pd,
                           const dnnl_memory_desc_t *plain, int to_plain, const rv_conv_desc *d)
{
    rv_status st = RV_OK;
    fast_state *s = fast_st(ctx);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    const char *impl = NULL;
    p->w_md = *dnnl_primitive_desc_query_md(pd, to_plain ? dnnl_query_diff_weights_md
                                                         : dnnl_query_weights_md, 0);
    p->w_bytes = align64(dnnl_memory_desc_get_size(&p->w_md));
    p->scratch_bytes = align64(dnnl_memory_desc_get_size(
        dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)));
    DN(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl), "impl query");
    snprintf(p->impl, sizeof p->impl, "%s", impl ? impl : "?");
    DN(dnnl_primitive_create(&p->prim, pd), "primitive creation");
    if (!to_plain && dnnl_memory_desc_equal(&p->w_md, plain)) {
        p->w_bytes = 0; /* the plain parameters are used in place */
    } else {
        DN(dnnl_primitive_attr_create(&attr), "attr");
        DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "attr");
        if (to_plain) {
            /* The filter gradient accumulates (conv.h): d_w = 1 * d_w + reorder(diff). */
            DN(dnnl_post_ops_create(&po), "post-ops");
            DN(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
            DN(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
            DN(dnnl_reorder_primitive_desc_create(&rpd, &p->w_md, s->engine, plain, s->engine,
                                                  attr), "weight reorder");
        } else {
            DN(dnnl_reorder_primitive_desc_create(&rpd, plain, s->engine, &p->w_md, s->engine,
                                                  attr), "weight reorder");
        }
        p->reorder_scratch_bytes = align64(dnnl_memory_desc_get_size(
            dnnl_primitive_desc_query_md(rpd, dnnl_query_scratchpad_md, 0)));
        DN(dnnl_primitive_create(&p->w_reorder, rpd), "weight reorder");
    }
fail:
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* Workspace of a pass: reordered weights, then the larger of the two scratchpads (the
 * reorder and the convolution run one after the other), then `extra` bytes. */
static size_t pass_ws(const pass *p, size_t extra)
{
    size_t sc = p->scratch_bytes > p->reorder_scratch_bytes ? p->scratch_bytes
                                                            : p->reorder_scratch_bytes;
    return p->w_bytes + sc + extra;
}

static int smallest_divisor_at_least(int N, int lo)
{
    for (int k = lo > 1 ? lo : 1; k < N; k++)
        if (N % k == 0) return k;
    return N;
}

/* Builds the three passes (and the sliced backward-data) of one shape with algorithm alg. */
static rv_status entry_build(rv_ctx *ctx, fast_conv_entry *e, dnnl_alg_kind_t alg)
{
    rv_status st = RV_OK;
    fast_state *s = fast_st(ctx);
    const rv_conv_desc *d = &e->d;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t fpd = NULL, pd = NULL, afpd = NULL;
    dnnl_memory_desc_t w_any, acc_src, acc_dst;
    dnnl_convolution_desc_t cd;
    int pad_b = (d->P - 1) * d->stride + d->R - d->H - d->pad_top;
    int pad_r = (d->Q - 1) * d->stride + d->S - d->W - d->pad_left;
    dnnl_dims_t sdims = { d->N, d->C, d->H, d->W }, ddims = { d->N, d->K, d->P, d->Q };
    dnnl_dims_t wdims = { d->K, d->C, d->R, d->S }, strides = { d->stride, d->stride };
    dnnl_dims_t pl = { d->pad_top, d->pad_left }, pr = { pad_b > 0 ? pad_b : 0, pad_r > 0 ? pad_r : 0 };
    e->n_acc = smallest_divisor_at_least(d->N, (d->N + RV_FAST_ACC_SLICES - 1) / RV_FAST_ACC_SLICES);
    dnnl_dims_t asdims = { e->n_acc, d->C, d->H, d->W }, addims = { e->n_acc, d->K, d->P, d->Q };

    DN(dnnl_memory_desc_init_by_tag(&e->src_md, 4, sdims, dnnl_f32, act_tag(s, d->C)), "md");
    DN(dnnl_memory_desc_init_by_tag(&e->dst_md, 4, ddims, dnnl_f32, act_tag(s, d->K)), "md");
    DN(dnnl_memory_desc_init_by_tag(&acc_src, 4, asdims, dnnl_f32, act_tag(s, d->C)), "md");
    DN(dnnl_memory_desc_init_by_tag(&acc_dst, 4, addims, dnnl_f32, act_tag(s, d->K)), "md");
    DN(dnnl_memory_desc_init_by_tag(&e->w_plain_md, 4, wdims, dnnl_f32, dnnl_oihw), "md");
    DN(dnnl_memory_desc_init_by_tag(&w_any, 4, wdims, dnnl_f32, dnnl_format_tag_any), "md");
    e->acc_src_md = acc_src;
    e->acc_dst_md = acc_dst;
    DN(dnnl_primitive_attr_create(&attr), "attr");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "attr");

    DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, alg, &e->src_md, &w_any,
                                          NULL, &e->dst_md, strides, pl, pr), "forward desc");
    DN(dnnl_primitive_desc_create(&fpd, &cd, attr, s->engine, NULL), "forward");
    DN(dnnl_primitive_desc_clone(&pd, fpd), "clone");
    st = pass_init(ctx, &e->fwd, pd, &e->w_plain_md, 0, d);
    pd = NULL;
    if (st != RV_OK) goto fail;

    DN(dnnl_convolution_backward_weights_desc_init(&cd, alg, &e->src_md, &w_any, NULL,
                                                   &e->dst_md, strides, pl, pr), "bwd-w desc");
    DN(dnnl_primitive_desc_create(&pd, &cd, attr, s->engine, fpd), "backward-filter");
    st = pass_init(ctx, &e->bwd_w, pd, &e->w_plain_md, 1, d);
    pd = NULL;
    if (st != RV_OK) goto fail;

    /* The image is the only input without a gradient, and its few channels are plain: no
     * backward-data primitive for plain inputs (oneDNN's would be a slow reference kernel). */
    if (fast_blocked(s, d->C)) {
        DN(dnnl_convolution_backward_data_desc_init(&cd, alg, &e->src_md, &w_any, &e->dst_md,
                                                    strides, pl, pr), "bwd-d desc");
        DN(dnnl_primitive_desc_create(&pd, &cd, attr, s->engine, fpd), "backward-data");
        st = pass_init(ctx, &e->bwd_d, pd, &e->w_plain_md, 0, d);
        pd = NULL;
        if (st != RV_OK) goto fail;

        DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, alg, &acc_src, &w_any,
                                              NULL, &acc_dst, strides, pl, pr), "forward desc");
        DN(dnnl_primitive_desc_create(&afpd, &cd, attr, s->engine, NULL), "forward (slice)");
        DN(dnnl_convolution_backward_data_desc_init(&cd, alg, &acc_src, &w_any, &acc_dst,
                                                    strides, pl, pr), "bwd-d desc");
        DN(dnnl_primitive_desc_create(&pd, &cd, attr, s->engine, afpd), "backward-data (slice)");
        st = pass_init(ctx, &e->bwd_acc, pd, &e->w_plain_md, 0, d);
        pd = NULL;
        if (st != RV_OK) goto fail;
        e->acc_slice_floats = dnnl_memory_desc_get_size(&acc_src) / sizeof(float);
    }
    size_t ws = pass_ws(&e->fwd, 0), t;
    if ((t = pass_ws(&e->bwd_w, 0)) > ws) ws = t;
    if ((t = pass_ws(&e->bwd_d, 0)) > ws) ws = t;
    if ((t = pass_ws(&e->bwd_acc, align64(e->acc_slice_floats * sizeof(float)))) > ws) ws = t;
    e->ws_bytes = ws;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (afpd) dnnl_primitive_desc_destroy(afpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

static void entry_clear(fast_conv_entry *e)
{
    pass_destroy(&e->fwd);
    pass_destroy(&e->bwd_d);
    pass_destroy(&e->bwd_w);
    pass_destroy(&e->bwd_acc);
}

static int wants_winograd(const fast_state *s, const rv_conv_desc *d)
{
    return s->winograd && d->R == 3 && d->S == 3 && d->stride == 1 && fast_blocked(s, d->C) &&
           fast_blocked(s, d->K);
}

/* The primitives of shape d, created on first use. */
static rv_status entry_get(rv_ctx *ctx, const rv_conv_desc *d, fast_conv_entry **out)
{
    fast_state *s = fast_st(ctx);
    for (fast_conv_entry *e = s->convs; e; e = e->next)
        if (memcmp(&e->d, d, sizeof *d) == 0) {
            *out = e;
            return RV_OK;
        }
    fast_conv_entry *e = calloc(1, sizeof *e);
    if (!e) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory for a convolution primitive");
    e->d = *d;
    rv_status st = RV_ERR_UNSUPPORTED;
    if (wants_winograd(s, d)) {
        st = entry_build(ctx, e, dnnl_convolution_winograd);
        if (st != RV_OK) entry_clear(e); /* not available on this CPU: direct instead */
    }
    if (st != RV_OK) st = entry_build(ctx, e, dnnl_convolution_direct);
    if (st != RV_OK) {
        entry_clear(e);
        free(e);
        return st;
    }
    rv_ctx_clear_error(ctx);
    e->next = s->convs;
    s->convs = e;
    *out = e;
    return RV_OK;
}

void rv_fast_conv_cache_free(fast_state *s)
{
    fast_conv_entry *e = s->convs;
    while (e) {
        fast_conv_entry *next = e->next;
        entry_clear(e);
        free(e);
        e = next;
    }
    s->convs = NULL;
}

size_t rv_fast_conv_workspace_bytes(rv_ctx *ctx, const rv_conv_desc *d)
{
    fast_conv_entry *e;
    /* A shape oneDNN cannot serve reports no workspace here; the call itself then fails with
     * the reason. */
    if (entry_get(ctx, d, &e) != RV_OK) return 0;
    return e->ws_bytes;
}

/* Runs prim with up to 4 (arg, md, handle) triples plus the scratchpad at `scratch`. */
static rv_status run(rv_ctx *ctx, const rv_conv_desc *d, dnnl_primitive_t prim, int n,
                     const int *args, const dnnl_memory_desc_t *const *mds, void *const *ptrs,
                     void *scratch)
{
    rv_status st = RV_OK;
    fast_state *s = fast_st(ctx);
    dnnl_memory_t mem[5] = { 0 };
    dnnl_exec_arg_t ea[5];
    const_dnnl_primitive_desc_t pd;
    DN(dnnl_primitive_get_primitive_desc(prim, &pd), "query");
    for (int i = 0; i < n; i++) {
        DN(dnnl_memory_create(&mem[i], mds[i], s->engine, ptrs[i]), "memory");
        ea[i].arg = args[i];
        ea[i].memory = mem[i];
    }
    DN(dnnl_memory_create(&mem[n], dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0),
                          s->engine, scratch), "memory");
    ea[n].arg = DNNL_ARG_SCRATCHPAD;
    ea[n].memory = mem[n];
    DN(dnnl_primitive_execute(prim, s->stream, n + 1, ea), "execute");
    DN(dnnl_stream_wait(s->stream), "stream wait");
fail:
    for (int i = 0; i <= n; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
    return st;
}

/* The weights of pass p: the plain parameters, or their reorder into the workspace. */
static rv_status weights_for(rv_ctx *ctx, const fast_conv_entry *e, const pass *p,
                             const float *w, void *ws, const float **out)
{
    if (!p->w_reorder) {
        *out = w;
        return RV_OK;
    }
    const int args[2] = { DNNL_ARG_FROM, DNNL_ARG_TO };
    const dnnl_memory_desc_t *mds[2] = { &e->w_plain_md, &p->w_md };
    void *ptrs[2] = { (void *)w, ws };
    /* The reorder writes the real weights only: where the blocked format pads K or C (56
     * channels in blocks of 16) it leaves the workspace's old bytes, and the convolution would
     * multiply them with the activations' padding channels. */
    memset(ws, 0, p->w_bytes);
    *out = ws;
    return run(ctx, &e->d, p->w_reorder, 2, args, mds, ptrs, (char *)ws + p->w_bytes);
}

rv_status rv_fast_conv_forward(rv_ctx *ctx, float *out, const float *in, const float *w,
                               const rv_conv_desc *d, void *ws)
{
    fast_conv_entry *e;
    const float *wt;
    rv_status st = entry_get(ctx, d, &e);
    if (st != RV_OK) return st;
    if ((st = weights_for(ctx, e, &e->fwd, w, ws, &wt)) != RV_OK) return st;
    const int args[3] = { DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST };
    const dnnl_memory_desc_t *mds[3] = { &e->src_md, &e->fwd.w_md, &e->dst_md };
    void *ptrs[3] = { (void *)in, (void *)wt, out };
    return run(ctx, d, e->fwd.prim, 3, args, mds, ptrs, (char *)ws + e->fwd.w_bytes);
}

rv_status rv_fast_conv_backward_data(rv_ctx *ctx, float *d_in, const float *d_out,
                                     const float *w, const rv_conv_desc *d, float beta, void *ws)
{
    fast_conv_entry *e;
    const float *wt;
    rv_status st = entry_get(ctx, d, &e);
    if (st != RV_OK) return st;
    if (!e->bwd_d.prim)
        return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "conv_backward_data: the fast backend keeps "
                           "inputs of %d channels plain and computes no gradient for them "
                           "(network inputs need none)", d->C);
    const int args[3] = { DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST };
    if (beta == 0.0f) {
        if ((st = weights_for(ctx, e, &e->bwd_d, w, ws, &wt)) != RV_OK) return st;
        const dnnl_memory_desc_t *mds[3] = { &e->src_md, &e->bwd_d.w_md, &e->dst_md };
        void *ptrs[3] = { d_in, (void *)wt, (void *)d_out };
        return run(ctx, d, e->bwd_d.prim, 3, args, mds, ptrs, (char *)ws + e->bwd_d.w_bytes);
    }
    /* Accumulate slice by slice through a slice buffer after the weights and scratchpad. */
    if ((st = weights_for(ctx, e, &e->bwd_acc, w, ws, &wt)) != RV_OK) return st;
    float *tmp = (float *)((char *)ws + pass_ws(&e->bwd_acc, 0));
    size_t in_slice = e->acc_slice_floats;
    size_t out_slice = dnnl_memory_desc_get_size(&e->acc_dst_md) / sizeof(float);
    const dnnl_memory_desc_t *mds[3] = { &e->acc_src_md, &e->bwd_acc.w_md, &e->acc_dst_md };
    for (int n0 = 0; n0 < d->N; n0 += e->n_acc) {
        size_t k = (size_t)(n0 / e->n_acc);
        void *ptrs[3] = { tmp, (void *)wt, (void *)(d_out + k * out_slice) };
        st = run(ctx, d, e->bwd_acc.prim, 3, args, mds, ptrs, (char *)ws + e->bwd_acc.w_bytes);
        if (st != RV_OK) return st;
        float *dst = d_in + k * in_slice;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < in_slice; i++) dst[i] += tmp[i];
    }
    return RV_OK;
}

rv_status rv_fast_conv_backward_filter(rv_ctx *ctx, float *d_w, const float *d_out,
                                       const float *in, const rv_conv_desc *d, void *ws)
{
    fast_conv_entry *e;
    rv_status st = entry_get(ctx, d, &e);
    if (st != RV_OK) return st;
    const pass *p = &e->bwd_w;
    /* oneDNN overwrites its diff weights while d_w accumulates: the gradient always goes to
     * the workspace first, then a reorder with a sum post-op adds it to d_w (pass_init makes
     * that reorder even when the formats agree). */
    float *dw = ws;
    const int args[3] = { DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST };
    const dnnl_memory_desc_t *mds[3] = { &e->src_md, &p->w_md, &e->dst_md };
    void *ptrs[3] = { (void *)in, dw, (void *)d_out };
    st = run(ctx, d, p->prim, 3, args, mds, ptrs, (char *)ws + p->w_bytes);
    if (st != RV_OK) return st;
    const int rargs[2] = { DNNL_ARG_FROM, DNNL_ARG_TO };
    const dnnl_memory_desc_t *rmds[2] = { &p->w_md, &e->w_plain_md };
    void *rptrs[2] = { dw, d_w };
    return run(ctx, d, p->w_reorder, 2, rargs, rmds, rptrs, (char *)ws + p->w_bytes);
}
