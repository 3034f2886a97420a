/*
 * cuda_conv.cu: 2-D convolution on the GPU through cuDNN, NCHW float32, with the contract of
 * conv.h: out = conv(in, w) (cross-correlation, TF SAME padding), d_in = beta d_in + conv^T,
 * d_w += correlation(in, d_out).
 *
 * Padding. cuDNN's convolution descriptor pads symmetrically. With symmetric padding pad_top
 * cuDNN's output height is floor((H + 2 pad_top - R) / stride) + 1; with SAME's asymmetric
 * padding (bottom = top + 1, the 3x3 stride-2 conv on an even size: top 0, bottom 1) that is
 * P - 1, one row short (H = 32: floor(29 / 2) + 1 = 15, not 16), and padding 1 on both sides
 * would give 16 rows whose windows start one row too high. So when cuDNN's output size with
 * pad_top/pad_left differs from P/Q, the input is copied into an explicitly zero-padded
 * N x C x Hp x Wp buffer at the front of the workspace, Hp = (P - 1) stride + R, and cuDNN runs
 * with padding 0: floor((Hp - R) / stride) + 1 = P, every window where the CPU puts it, and the
 * padded zeros contribute exactly nothing, so the result is the CPU's up to summation order.
 * The backward data pass writes the padded gradient into the workspace and crops it into d_in.
 * When the sizes agree (every symmetric case, and SAME cases with unused trailing rows) cuDNN
 * reads the caller's buffers directly.
 *
 * Algorithms. The first time a shape is seen (normally when the memory planner asks for its
 * workspace) each of the three passes gets its algorithm by the rules of cuda_algo.h: under the
 * search policy cudnnFind* times every algorithm once and the fastest deterministic one within
 * RV_CUDA_CONV_WS_LIMIT is kept; under the deterministic policy cuDNN's heuristic ranking
 * (cudnnGet*_v7, no timing) decides, so every process picks the same. Math: CUDNN_FMA_MATH
 * when TF32 is off (CUDNN_DEFAULT_MATH would let cuDNN use TF32 tensor cores on Ampere and
 * later, which changes results at the 1e-3 level), CUDNN_TENSOR_OP_MATH when it is on. The
 * result arrays hold cudnnGet*AlgorithmMaxCount entries and the returned count is checked. The
 * plans are listed by describe() so a run log records what actually ran.
 *
 * Owns: the per-shape plans (cuDNN descriptors and choices) on the backend state.
 */
#include "backends/cuda/cuda_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest cuDNN workspace accepted for one pass: the FFT algorithms ask for hundreds of MiB on
 * large shapes, and the planner would then reserve that for the whole run. */
#define RV_CUDA_CONV_WS_LIMIT ((size_t)256 << 20)

static size_t align_up(size_t x) { return (x + RV_CUDA_WS_ALIGN - 1) / RV_CUDA_WS_ALIGN * RV_CUDA_WS_ALIGN; }

static int desc_equal(const rv_conv_desc *a, const rv_conv_desc *b)
{
    return a->N == b->N && a->C == b->C && a->H == b->H && a->W == b->W && a->K == b->K &&
           a->R == b->R && a->S == b->S && a->stride == b->stride && a->pad_top == b->pad_top &&
           a->pad_left == b->pad_left && a->P == b->P && a->Q == b->Q;
}

/* ---------------------------------------------------------------- padding kernels --------- */

/* xp[n,c,Hp,Wp] = x[n,c,hp - pt, wp - pl] inside the image, 0 outside. I: the index type of
 * i (cuda_common.h). */
template <typename I>
__global__ static void k_pad(float *xp, const float *x, int H, int W, int Hp, int Wp, int pt,
                             int pl, size_t n)
{
    RV_FOR_EACH(I, i, n) {
        I row = i / (I)Wp, nc = row / (I)Hp;
        int wp = (int)(i - row * (I)Wp), hp = (int)(row - nc * (I)Hp);
        int h = hp - pt, w = wp - pl;
        xp[i] = (h >= 0 && h < H && w >= 0 && w < W) ? x[((size_t)nc * H + h) * W + w] : 0.0f;
    }
}

/* d_x[n,c,h,w] = beta d_x + dxp[n,c,h + pt,w + pl]; the padded buffer's index is formed in
 * size_t, only the division of i is in I. */
template <typename I>
__global__ static void k_crop(float *d_x, const float *dxp, int H, int W, int Hp, int Wp, int pt,
                              int pl, size_t n, float beta)
{
    RV_FOR_EACH(I, i, n) {
        I row = i / (I)W, nc = row / (I)H;
        int w = (int)(i - row * (I)W), h = (int)(row - nc * (I)H);
        float g = dxp[((size_t)nc * Hp + h + pt) * Wp + w + pl];
        d_x[i] = beta != 0.0f ? beta * d_x[i] + g : g;
    }
}

/* ---------------------------------------------------------------- algorithm search -------- */

/* cuda_algo.h mirrors cudnnMathType_t's values so the choice rules compile without cuDNN. */
static_assert(CUDNN_DEFAULT_MATH == (int)RV_CUDA_MATH_DEFAULT &&
                  CUDNN_TENSOR_OP_MATH == (int)RV_CUDA_MATH_TENSOR_OP &&
                  CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ==
                      (int)RV_CUDA_MATH_TENSOR_OP_ALLOW_CONVERSION &&
                  CUDNN_FMA_MATH == (int)RV_CUDA_MATH_FMA,
              "rv_cuda_math must mirror cudnnMathType_t");

/* The cuDNN entry points of each pass, so that one choose() serves all three. cuDNN names
 * them alike (cudnnFindConvolution<Pass>Algorithm, cudnnGetConvolution<Pass>Algorithm_v7,
 * cudnnGetConvolution<Pass>WorkspaceSize, with cudnnConvolution<Abbr>AlgoPerf_t results) and
 * each of them takes the pass's descriptors in one order: its two inputs, the convolution,
 * its output. */
#define RV_CONV_PASS(type, label, Pass, Abbr, in1, in2, out)                                  \
    struct type {                                                                             \
        typedef cudnnConvolution##Abbr##AlgoPerf_t perf;                                      \
        static const char *name() { return label; }                                           \
        static cudnnStatus_t max_count(cudnnHandle_t h, int *n)                               \
        {                                                                                     \
            return cudnnGetConvolution##Pass##AlgorithmMaxCount(h, n);                        \
        }                                                                                     \
        /* The measured search (search != 0) or the heuristic's ranking. */                  \
        static cudnnStatus_t algos(cudnnHandle_t h, const rv_cuda_conv_plan *p, int search,   \
                                   int req, int *n, perf *res)                                \
        {                                                                                     \
            return search ? cudnnFindConvolution##Pass##Algorithm(h, p->in1, p->in2,          \
                                                                  p->conv_desc, p->out, req,  \
                                                                  n, res)                     \
                          : cudnnGetConvolution##Pass##Algorithm_v7(h, p->in1, p->in2,        \
                                                                    p->conv_desc, p->out,     \
                                                                    req, n, res);             \
        }                                                                                     \
        static cudnnStatus_t ws(cudnnHandle_t h, const rv_cuda_conv_plan *p, int algo,        \
                                size_t *b)                                                    \
        {                                                                                     \
            return cudnnGetConvolution##Pass##WorkspaceSize(                                  \
                h, p->in1, p->in2, p->conv_desc, p->out,                                      \
                (cudnnConvolution##Abbr##Algo_t)algo, b);                                     \
        }                                                                                     \
    };
RV_CONV_PASS(fwd_pass, "forward", Forward, Fwd, x_desc, w_desc, y_desc)
RV_CONV_PASS(bwd_data_pass, "backward-data", BackwardData, BwdData, w_desc, y_desc, x_desc)
RV_CONV_PASS(bwd_filter_pass, "backward-filter", BackwardFilter, BwdFilter, x_desc, y_desc,
             w_desc)
#undef RV_CONV_PASS

/*
 * Chooses the algorithm of one pass of plan p into *out (cuda_algo.h). The perf array holds
 * cudnnGet*AlgorithmMaxCount entries, however many algorithms this cuDNN has, and the count
 * cuDNN returns is checked against it. Under the deterministic policy the heuristic's
 * workspace sizes are taken from cudnnGet*WorkspaceSize, with the descriptor set to each
 * entry's math type, since the heuristic does not measure anything.
 */
template <typename Pass>
static rv_status choose(rv_ctx *ctx, rv_cuda_state *st, rv_cuda_conv_plan *p,
                        rv_cuda_conv_choice *out)
{
    typedef typename Pass::perf perf_t;
    const rv_conv_desc *d = &p->d;
    int max_n = 0, n = -1, pick = -1;
    perf_t *perf = NULL;
    rv_cuda_algo_perf *view = NULL;
    const int search = st->algo_policy == RV_CUDA_ALGO_SEARCH;
    const cudnnMathType_t search_math = (cudnnMathType_t)rv_cuda_search_math(st->allow_tf32);
    rv_status s = rv_cudnn_check(ctx, Pass::max_count(st->cudnn, &max_n),
                                 "conv: cudnnGet*AlgorithmMaxCount");
    if (s != RV_OK) return s;
    if (max_n < 1)
        return rv_ctx_fail(ctx, RV_ERR_DEVICE, "conv: cuDNN reports %d %s algorithms", max_n,
                           Pass::name());
    perf = (perf_t *)calloc((size_t)max_n, sizeof *perf);
    view = (rv_cuda_algo_perf *)calloc((size_t)max_n, sizeof *view);
    if (!perf || !view) {
        s = rv_ctx_fail(ctx, RV_ERR_NOMEM, "conv: out of host memory for algorithm results");
        goto done;
    }
    if ((s = rv_cudnn_check(ctx, cudnnSetConvolutionMathType(p->conv_desc, search_math),
                            "conv: math type")))
        goto done;
    s = rv_cudnn_check(ctx, Pass::algos(st->cudnn, p, search, max_n, &n, perf),
                       search ? "conv: cudnnFind*Algorithm" : "conv: cudnnGet*Algorithm_v7");
    /* The search allocates and frees device memory of its own; a failure there is reported
     * per algorithm, but make sure nothing is left in the runtime's error slot. */
    (void)cudaGetLastError();
    if (s != RV_OK) goto done;
    /* A count outside [0, max_n] is refused before any entry is read. */
    for (int i = 0; i < n && n <= max_n; i++) {
        rv_cuda_algo_perf *v = &view[i];
        v->algo = (int)perf[i].algo;
        v->ok = perf[i].status == CUDNN_STATUS_SUCCESS;
        v->memory = perf[i].memory;
        v->deterministic = perf[i].determinism == CUDNN_DETERMINISTIC;
        v->math = (rv_cuda_math)perf[i].mathType;
        v->time_ms = search ? perf[i].time : -1.0f;
        if (!search && v->ok) {
            size_t bytes = 0;
            v->ok = cudnnSetConvolutionMathType(p->conv_desc, perf[i].mathType) ==
                        CUDNN_STATUS_SUCCESS &&
                    Pass::ws(st->cudnn, p, v->algo, &bytes) == CUDNN_STATUS_SUCCESS;
            v->memory = bytes;
        }
    }
    if ((s = rv_cuda_algo_pick(view, n, max_n, RV_CUDA_CONV_WS_LIMIT, st->allow_tf32,
                               st->algo_policy, &pick, &p->nondeterministic)) != RV_OK) {
        s = rv_ctx_fail(ctx, s, "conv: cuDNN returned %d %s algorithms for an array of %d", n,
                        Pass::name(), max_n);
        goto done;
    }
    if (pick < 0) {
        s = rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED,
                        "conv: no %scuDNN %s algorithm with %s math and at most %zu MiB of "
                        "workspace for N%d C%d %dx%d K%d %dx%d stride %d (%s policy, %d "
                        "candidates)", search ? "" : "deterministic ", Pass::name(),
                        st->allow_tf32 ? "FMA or tensor-op (TF32)" : "FMA (no TF32)",
                        RV_CUDA_CONV_WS_LIMIT >> 20, d->N, d->C, d->H, d->W, d->K, d->R, d->S,
                        d->stride, rv_cuda_algo_policy_name(st->algo_policy), n);
        goto done;
    }
    out->algo = view[pick].algo;
    out->math = view[pick].math;
    out->ws = view[pick].memory;
    out->ms = view[pick].time_ms;
    out->deterministic = view[pick].deterministic;
done:
    free(perf);
    free(view);
    return s;
}

static void plan_release(rv_cuda_conv_plan *p)
{
    if (p->x_desc) cudnnDestroyTensorDescriptor(p->x_desc);
    if (p->y_desc) cudnnDestroyTensorDescriptor(p->y_desc);
    if (p->w_desc) cudnnDestroyFilterDescriptor(p->w_desc);
    if (p->conv_desc) cudnnDestroyConvolutionDescriptor(p->conv_desc);
    p->x_desc = p->y_desc = NULL;
    p->w_desc = NULL;
    p->conv_desc = NULL;
}

/* Builds the descriptors of plan p for p->d and runs the three searches. */
static rv_status plan_build(rv_ctx *ctx, rv_cuda_state *st, rv_cuda_conv_plan *p)
{
    const rv_conv_desc *d = &p->d;
    rv_status s;
    int n_out, k_out, p_out, q_out;

    /* cuDNN's output size with symmetric padding pad_top/pad_left decides whether the
     * explicit padding is needed (see the header comment). */
    int span_h = d->H + 2 * d->pad_top - d->R, span_w = d->W + 2 * d->pad_left - d->S;
    p->padded = span_h < 0 || span_w < 0 || span_h / d->stride + 1 != d->P ||
                span_w / d->stride + 1 != d->Q;
    p->Hp = p->padded ? (d->P - 1) * d->stride + d->R : d->H;
    p->Wp = p->padded ? (d->Q - 1) * d->stride + d->S : d->W;
    if (p->padded && (p->Hp < d->H + d->pad_top || p->Wp < d->W + d->pad_left))
        return rv_ctx_fail(ctx, RV_ERR_SHAPE, "conv: padding %d,%d does not fit output %dx%d "
                           "for input %dx%d", d->pad_top, d->pad_left, d->P, d->Q, d->H, d->W);
    p->pad_bytes = p->padded ? align_up((size_t)d->N * d->C * p->Hp * p->Wp * sizeof(float)) : 0;

    if ((s = rv_cudnn_check(ctx, cudnnCreateTensorDescriptor(&p->x_desc), "conv: descriptor")) ||
        (s = rv_cudnn_check(ctx, cudnnCreateTensorDescriptor(&p->y_desc), "conv: descriptor")) ||
        (s = rv_cudnn_check(ctx, cudnnCreateFilterDescriptor(&p->w_desc), "conv: descriptor")) ||
        (s = rv_cudnn_check(ctx, cudnnCreateConvolutionDescriptor(&p->conv_desc),
                            "conv: descriptor")))
        return s;
    if ((s = rv_cudnn_check(ctx, cudnnSetTensor4dDescriptor(p->x_desc, CUDNN_TENSOR_NCHW,
                                                            CUDNN_DATA_FLOAT, d->N, d->C, p->Hp,
                                                            p->Wp),
                            "conv: input descriptor")) ||
        (s = rv_cudnn_check(ctx, cudnnSetTensor4dDescriptor(p->y_desc, CUDNN_TENSOR_NCHW,
                                                            CUDNN_DATA_FLOAT, d->N, d->K, d->P,
                                                            d->Q),
                            "conv: output descriptor")) ||
        (s = rv_cudnn_check(ctx, cudnnSetFilter4dDescriptor(p->w_desc, CUDNN_DATA_FLOAT,
                                                            CUDNN_TENSOR_NCHW, d->K, d->C, d->R,
                                                            d->S),
                            "conv: filter descriptor")) ||
        (s = rv_cudnn_check(ctx, cudnnSetConvolution2dDescriptor(
                                     p->conv_desc, p->padded ? 0 : d->pad_top,
                                     p->padded ? 0 : d->pad_left, d->stride, d->stride, 1, 1,
                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                            "conv: convolution descriptor")) ||
        (s = rv_cudnn_check(ctx, cudnnGetConvolution2dForwardOutputDim(
                                     p->conv_desc, p->x_desc, p->w_desc, &n_out, &k_out, &p_out,
                                     &q_out),
                            "conv: output size")))
        return s;
    if (n_out != d->N || k_out != d->K || p_out != d->P || q_out != d->Q)
        return rv_ctx_fail(ctx, RV_ERR_SHAPE, "conv: cuDNN output %dx%dx%dx%d, expected "
                           "%dx%dx%dx%d", n_out, k_out, p_out, q_out, d->N, d->K, d->P, d->Q);

    if ((s = choose<fwd_pass>(ctx, st, p, &p->pass[RV_CUDA_FWD])) ||
        (s = choose<bwd_data_pass>(ctx, st, p, &p->pass[RV_CUDA_BWD_DATA])) ||
        (s = choose<bwd_filter_pass>(ctx, st, p, &p->pass[RV_CUDA_BWD_FILTER])))
        return s;

    size_t cudnn_ws = 0;
    for (int k = 0; k < RV_CUDA_N_PASSES; k++)
        if (p->pass[k].ws > cudnn_ws) cudnn_ws = p->pass[k].ws;
    /* The extra alignment unit lets the caller's workspace start anywhere. */
    p->total_ws = (p->pad_bytes || cudnn_ws) ? RV_CUDA_WS_ALIGN + p->pad_bytes + align_up(cudnn_ws)
                                             : 0;
    return RV_OK;
}

/* The plan for d, built on first use. A search that failed is remembered and its status and
 * message returned again, so a shape whose workspace query failed never runs with an unplanned
 * workspace. */
static rv_status plan_get(rv_ctx *ctx, const rv_conv_desc *d, const rv_cuda_conv_plan **out)
{
    rv_cuda_state *st = rv_cuda_st(ctx);
    *out = NULL;
    for (int i = 0; i < st->n_plans; i++) {
        const rv_cuda_conv_plan *p = &st->plans[i];
        if (!desc_equal(&p->d, d)) continue;
        if (p->failed != RV_OK) return rv_ctx_fail(ctx, p->failed, "%s", p->error);
        *out = p;
        return RV_OK;
    }
    if (st->n_plans == st->cap_plans) {
        int cap = st->cap_plans ? 2 * st->cap_plans : 16;
        void *grown = realloc(st->plans, (size_t)cap * sizeof *st->plans);
        if (!grown) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "conv: out of host memory for plans");
        st->plans = (rv_cuda_conv_plan *)grown;
        st->cap_plans = cap;
    }
    rv_cuda_conv_plan *p = &st->plans[st->n_plans++];
    memset(p, 0, sizeof *p);
    p->d = *d;
    rv_status s = plan_build(ctx, st, p);
    if (s != RV_OK) {
        plan_release(p);
        p->failed = s;
        snprintf(p->error, sizeof p->error, "%s", rv_ctx_message(ctx));
        return s;
    }
    *out = p;
    return RV_OK;
}

/* Splits the caller's workspace into the padded-input buffer and cuDNN's part. */
static rv_status ws_split(rv_ctx *ctx, const rv_cuda_conv_plan *p, void *ws, float **xp,
                          void **cudnn_ws, const char *what)
{
    *xp = NULL;
    *cudnn_ws = NULL;
    if (p->total_ws == 0) return RV_OK;
    if (!ws)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "%s: this shape needs %zu bytes of workspace and "
                           "ws is NULL", what, p->total_ws);
    char *base = (char *)ws;
    base += (RV_CUDA_WS_ALIGN - (uintptr_t)base % RV_CUDA_WS_ALIGN) % RV_CUDA_WS_ALIGN;
    *xp = p->padded ? (float *)base : NULL;
    *cudnn_ws = base + p->pad_bytes;
    return RV_OK;
}

static rv_status pad_input(rv_ctx *ctx, const rv_cuda_conv_plan *p, float *xp, const float *in)
{
    const rv_conv_desc *d = &p->d;
    size_t n = (size_t)d->N * d->C * p->Hp * p->Wp;
    RV_LAUNCH_1D(ctx, "conv: padding kernel", k_pad, n, xp, in, d->H, d->W, p->Hp, p->Wp,
                 d->pad_top, d->pad_left, n);
}

/* ---------------------------------------------------------------- the three passes -------- */

/* A pass ready for its cuDNN call: the shape's plan, the pass's choice, the padded-input buffer
 * (NULL where the plan does not pad) and cuDNN's part of the workspace. */
struct conv_call {
    const rv_cuda_conv_plan *p;
    const rv_cuda_conv_choice *c;
    float *xp;
    void *cws;
};

/* What the three passes share before calling cuDNN (what names the pass in messages): the
 * shape's plan, the split of the workspace, the math type of pass k's choice set on the
 * convolution descriptor, and, for a pass that reads the input (in non-NULL), where the plan
 * pads, the input copied into its padded buffer (*in then points there). */
static rv_status conv_prepare(rv_ctx *ctx, const rv_conv_desc *d, void *ws, const char *what,
                              int k, const float **in, conv_call *call)
{
    rv_status s = plan_get(ctx, d, &call->p);
    if (s != RV_OK) return s;
    const rv_cuda_conv_plan *p = call->p;
    if ((s = ws_split(ctx, p, ws, &call->xp, &call->cws, what)) != RV_OK) return s;
    if (in && p->padded) {
        if ((s = pad_input(ctx, p, call->xp, *in)) != RV_OK) return s;
        *in = call->xp;
    }
    call->c = &p->pass[k];
    cudnnStatus_t e = cudnnSetConvolutionMathType(p->conv_desc, (cudnnMathType_t)call->c->math);
    if (e == CUDNN_STATUS_SUCCESS) return RV_OK;
    char msg[64];
    snprintf(msg, sizeof msg, "%s: math type", what);
    return rv_cudnn_check(ctx, e, msg);
}

size_t rv_cuda_conv_workspace_bytes(rv_ctx *ctx, const rv_conv_desc *d)
{
    /* A failed search leaves its message on ctx and reports 0; the convolution calls for this
     * shape then fail with the same message instead of running. */
    const rv_cuda_conv_plan *p;
    return plan_get(ctx, d, &p) == RV_OK ? p->total_ws : 0;
}

rv_status rv_cuda_conv_forward(rv_ctx *ctx, float *out, const float *in, const float *w,
                               const rv_conv_desc *d, void *ws)
{
    conv_call k;
    rv_status s = conv_prepare(ctx, d, ws, "conv_forward", RV_CUDA_FWD, &in, &k);
    if (s != RV_OK) return s;
    const float one = 1.0f, zero = 0.0f;
    return rv_cudnn_check(ctx, cudnnConvolutionForward(rv_cuda_st(ctx)->cudnn, &one, k.p->x_desc,
                                                       in, k.p->w_desc, w, k.p->conv_desc,
                                                       (cudnnConvolutionFwdAlgo_t)k.c->algo,
                                                       k.cws, k.c->ws, &zero, k.p->y_desc, out),
                          "conv_forward: cudnnConvolutionForward");
}

rv_status rv_cuda_conv_backward_data(rv_ctx *ctx, float *d_in, const float *d_out,
                                     const float *w, const rv_conv_desc *d, float beta, void *ws)
{
    conv_call k;
    rv_status s = conv_prepare(ctx, d, ws, "conv_backward_data", RV_CUDA_BWD_DATA, NULL, &k);
    if (s != RV_OK) return s;
    const rv_cuda_conv_plan *p = k.p;
    /* Where the plan pads, the gradient of the padded input goes to its buffer and is cropped
     * into d_in (with beta) afterwards. */
    const float one = 1.0f, zero = 0.0f;
    s = rv_cudnn_check(ctx, cudnnConvolutionBackwardData(
                                rv_cuda_st(ctx)->cudnn, &one, p->w_desc, w, p->y_desc, d_out,
                                p->conv_desc, (cudnnConvolutionBwdDataAlgo_t)k.c->algo, k.cws,
                                k.c->ws, p->padded ? &zero : &beta, p->x_desc,
                                p->padded ? k.xp : d_in),
                       "conv_backward_data: cudnnConvolutionBackwardData");
    if (s != RV_OK || !p->padded) return s;
    size_t n = (size_t)d->N * d->C * d->H * d->W;
    RV_LAUNCH_1D(ctx, "conv_backward_data: crop kernel", k_crop, n, d_in, k.xp, d->H, d->W,
                 p->Hp, p->Wp, d->pad_top, d->pad_left, n, beta);
}

rv_status rv_cuda_conv_backward_filter(rv_ctx *ctx, float *d_w, const float *d_out,
                                       const float *in, const rv_conv_desc *d, void *ws)
{
    conv_call k;
    rv_status s = conv_prepare(ctx, d, ws, "conv_backward_filter", RV_CUDA_BWD_FILTER, &in, &k);
    if (s != RV_OK) return s;
    /* beta 1: parameter gradients accumulate (conv.h). */
    const float one = 1.0f;
    return rv_cudnn_check(ctx, cudnnConvolutionBackwardFilter(
                                   rv_cuda_st(ctx)->cudnn, &one, k.p->x_desc, in, k.p->y_desc,
                                   d_out, k.p->conv_desc,
                                   (cudnnConvolutionBwdFilterAlgo_t)k.c->algo, k.cws, k.c->ws,
                                   &one, k.p->w_desc, d_w),
                          "conv_backward_filter: cudnnConvolutionBackwardFilter");
}

/* ---------------------------------------------------------------- bookkeeping ------------- */

void rv_cuda_conv_plans_destroy(rv_cuda_state *st)
{
    for (int i = 0; i < st->n_plans; i++) plan_release(&st->plans[i]);
    free(st->plans);
    st->plans = NULL;
    st->n_plans = st->cap_plans = 0;
}

static const char *fwd_name(cudnnConvolutionFwdAlgo_t a)
{
    switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "implicit_gemm";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "implicit_precomp_gemm";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "gemm";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "direct";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "fft";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "fft_tiling";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "winograd";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "winograd_nonfused";
    default: return "?";
    }
}

static const char *bwd_data_name(cudnnConvolutionBwdDataAlgo_t a)
{
    switch (a) {
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0: return "algo_0";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1: return "algo_1";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT: return "fft";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING: return "fft_tiling";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD: return "winograd";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED: return "winograd_nonfused";
    default: return "?";
    }
}

static const char *bwd_filter_name(cudnnConvolutionBwdFilterAlgo_t a)
{
    switch (a) {
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0: return "algo_0";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1: return "algo_1";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT: return "fft";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3: return "algo_3";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED: return "winograd_nonfused";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING: return "fft_tiling";
    default: return "?";
    }
}

/* "name/math(precision) time" of one pass, e.g. "implicit_gemm/fma(fp32) 0.021ms"; the time
 * is "heuristic" when the deterministic policy chose without timing. */
static int pass_text(char *at, size_t room, const char *label, const char *algo,
                     const rv_cuda_conv_choice *c, int sm_major)
{
    char t[32];
    if (c->ms >= 0.0f)
        snprintf(t, sizeof t, "%.3fms", (double)c->ms);
    else
        snprintf(t, sizeof t, "heuristic");
    return snprintf(at, room, "%s %s/%s(%s) %s", label, algo, rv_cuda_math_name(c->math),
                    rv_cuda_math_precision(c->math, sm_major), t);
}

size_t rv_cuda_conv_plans_text(const rv_cuda_state *st, char *buf, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < st->n_plans; i++) {
        const rv_cuda_conv_plan *p = &st->plans[i];
        const rv_conv_desc *d = &p->d;
        char *at = len < cap ? buf + len : NULL;
        size_t room = len < cap ? cap - len : 0;
        int k;
        if (p->failed != RV_OK) {
            k = snprintf(at, room, "%sN%d C%d %dx%d K%d %dx%d s%d: failed", i ? "; " : "", d->N,
                         d->C, d->H, d->W, d->K, d->R, d->S, d->stride);
        } else {
            const rv_cuda_conv_choice *c = p->pass;
            k = snprintf(at, room, "%sN%d C%d %dx%d K%d %dx%d s%d%s: ", i ? "; " : "", d->N,
                         d->C, d->H, d->W, d->K, d->R, d->S, d->stride,
                         p->padded ? " (explicit pad)" : "");
            const char *names[RV_CUDA_N_PASSES] = {
                fwd_name((cudnnConvolutionFwdAlgo_t)c[RV_CUDA_FWD].algo),
                bwd_data_name((cudnnConvolutionBwdDataAlgo_t)c[RV_CUDA_BWD_DATA].algo),
                bwd_filter_name((cudnnConvolutionBwdFilterAlgo_t)c[RV_CUDA_BWD_FILTER].algo)
            };
            const char *labels[RV_CUDA_N_PASSES] = { "fwd", "bwd_data", "bwd_filter" };
            for (int q = 0; q < RV_CUDA_N_PASSES && k >= 0; q++) {
                size_t used = len + (size_t)k;
                int kk = pass_text(used < cap ? buf + used : NULL, used < cap ? cap - used : 0,
                                   labels[q], names[q], &c[q], st->sm_major);
                if (kk < 0) break;
                k += kk;
                used = len + (size_t)k;
                kk = snprintf(used < cap ? buf + used : NULL, used < cap ? cap - used : 0,
                              ", ");
                k += kk > 0 ? kk : 0;
            }
            size_t used = len + (size_t)k;
            int kk = snprintf(used < cap ? buf + used : NULL, used < cap ? cap - used : 0,
                              "ws %zu B%s", p->total_ws,
                              p->nondeterministic ? " (nondeterministic)" : "");
            k += kk > 0 ? kk : 0;
        }
        if (k > 0) len += (size_t)k;
    }
    return len;
}
