/*
 * test_fast.c: the fast CPU backend (lib/backends/cpu_fast) against the reference backend and
 * the naive double-precision convolution, op by op, forward and backward: convolutions (direct
 * and Winograd, plain and blocked, strided, 1x1, accumulating), batch norm in its three modes,
 * pooling, channel padding, the global average pool, the layout conversions; then whole
 * networks (same loss and gradients on both backends) and the reversible-vs-stored gradient
 * angle of RevNet-38. Registered twice in CTest: on this CPU's ISA and with
 * ONEDNN_MAX_CPU_ISA=AVX2, which also selects the 8-channel layout and our AVX2 kernels.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/activation.h>
#include <revnet/batchnorm.h>
#include <revnet/context.h>
#include <revnet/conv.h>
#include <revnet/layout.h>
#include <revnet/model.h>
#include <revnet/pool.h>
#include <revnet/rng.h>
#include "ref_conv.h"

#define U32 (FLT_EPSILON / 2.0)
/*
 * Convolutions against the exact (double) result: a float32 sum of n products is within
 * gamma_{n+1} ~ (n+1)u of the exact value times the sum of |terms| (Higham 3.1), whatever the
 * order; factor 2 as in test_conv.c. Winograd F(4x4, 3x3) (oneDNN's jit_wino_4x3, AVX-512)
 * does not sum the products themselves: it transforms 6x6 input tiles with B^T (row sums of
 * |entries| up to 10 for the points 0, +-1, +-2, +-1/2), the filters with G (row sums <= 1)
 * and the products back with A^T (row sums up to 19), each in two 1-D passes, so the rounding
 * of the transformed values, relative to sum |terms|, can be amplified by more than the direct
 * bound allows in the worst case. WINO_FACTOR = 100 on top of the direct bound covers that
 * (measured: at most 13 u sum|terms| on these shapes, against 2 for the direct kernels, while
 * the direct bound is >= 2 * 47 u), and stays 10^2 below the O(1) relative error of a wrong
 * index, padding or weight layout.
 */
#define CONV_BOUND_FACTOR 2.0
#define WINO_FACTOR 100.0
/*
 * Batch norm: both backends sum the statistics in double (the order differs, ~1e-16), round
 * mean and invstd to float alike, and apply the same float formula; what can differ is a few
 * float roundings of the output, a few ulps of max |y|. BN_REL_TOL = 1e-5 (~80 ulps) relative
 * to the largest reference value holds with margin; a wrong channel or a missing term is off
 * by O(1).
 */
#define BN_REL_TOL 1e-5
/*
 * Whole networks at init, batch 8: the fast backend's convolutions round differently, and the
 * differences propagate through ~40 layers with batch norm, which renormalizes them. The loss
 * of a 10-class softmax at init is ~2.3; relative differences of the logits of ~1e-6 change it
 * by far less than NET_LOSS_TOL. Gradients: the angle between the two whole-network gradient
 * vectors. It is not a smooth function of rounding: a pre-ReLU value within rounding distance
 * of zero flips its mask between backends and moves its whole gradient contribution. Measured:
 * 1e-4 degree for ResNet-32, and for RevNet-38 1e-4 (8-channel blocks) or 0.2 (16-channel
 * blocks, one output channel of the last unit's G moved by 6%) at batch 8, 0.5 at batch 32,
 * while the forward convolutions agree to 1e-5 relative everywhere. NET_ANGLE_DEG = 1 degree
 * leaves room for such flips; a wrong channel, layout or missing term turns the gradient by
 * tens of degrees.
 */
#define NET_LOSS_TOL 1e-4
#define NET_ANGLE_DEG 1.0
/* The limit for the reversible-vs-stored gradient angle of RevNet-38 at init, batch
 * 100: the median over seeds 1-5 stays under 0.1 degree (PyTorch float32: 0.052). */
#define ANGLE_LIMIT_DEG 0.1

/* fast: the backend under test. Each process (Criterion forks one per test) sets its OpenMP
 * thread count when a context is created; the op tests use 2 threads so that the threaded
 * splits run, the whole-network tests 1, as the rest of the suite (tests/CMakeLists.txt). */
static rv_ctx *ref, *fast;

static void make_contexts(int fast_threads)
{
    char msg[256];
    rv_ctx_options o = rv_ctx_default_options();
    o.cpu_backend = RV_CPU_REF;
    o.n_threads = 1;
    cr_assert_eq(rv_ctx_create(&ref, &o, msg, sizeof msg), RV_OK, "%s", msg);
    o.cpu_backend = RV_CPU_FAST;
    o.n_threads = fast_threads;
    cr_assert_eq(rv_ctx_create(&fast, &o, msg, sizeof msg), RV_OK, "%s", msg);
}

static void setup(void) { make_contexts(2); }
static void setup_networks(void) { make_contexts(1); }

static void teardown(void)
{
    rv_ctx_destroy(fast);
    rv_ctx_destroy(ref);
}

TestSuite(fast, .init = setup, .fini = teardown, .timeout = 300);

/* Deterministic uniform values in [-1, 1) (ref_conv.h), from this file's own seed. */
static uint64_t rng_state = 0x243f6a8885a308d3ull;
static float *rand_buf(size_t n) { return ref_conv_rand_buf(&rng_state, n); }

/* A fast-backend activation holding host NCHW values h (padding zeroed by the upload). */
static float *up(const float *h, int N, int C, int HW)
{
    float *p;
    cr_assert_eq(rv_ctx_alloc(fast, (void **)&p, rv_act_floats(fast, N, C, HW) * sizeof(float) + 4), RV_OK);
    cr_assert_eq(rv_act_upload(fast, p, h, N, C, HW), RV_OK, "%s", rv_ctx_message(fast));
    return p;
}

/* Host NCHW copy of a fast activation; also checks that its padding channels hold zeros
 * (re-uploading the values must give back the same bytes). */
static float *down(const float *p, int N, int C, int HW)
{
    size_t n = (size_t)N * C * HW, na = rv_act_floats(fast, N, C, HW);
    float *h = malloc(n * sizeof *h + 4), *again = malloc(na * sizeof *again + 4);
    cr_assert_eq(rv_act_download(fast, h, p, N, C, HW), RV_OK);
    cr_assert_eq(rv_act_upload(fast, again, h, N, C, HW), RV_OK);
    cr_assert_eq(memcmp(again, p, na * sizeof *again), 0, "padding channels are not zero");
    free(again);
    return h;
}

/* Fills a buffer with a large finite value, so that an op that leaves a padding channel
 * untouched shows it. */
static void garbage(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = 1e30f;
}

static void expect_exact(const char *what, const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got[i], want[i], "%s element %zu: got %.9g, want %.9g", what, i,
                     (double)got[i], (double)want[i]);
}

static void expect_rel(const char *what, const float *got, const float *want, size_t n,
                       double tol)
{
    double mx = 0, err = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs((double)got[i] - want[i]));
    cr_assert_leq(err, tol * fmax(mx, 1e-30), "%s: max |err| %g > %g * max |want| %g", what,
                  err, tol, mx);
}

/* got against the exact value with the Higham bound of n_terms products (scaled by factor). */
static double expect_conv(const char *what, const float *got, const double *exact,
                          const double *scale, size_t n, int n_terms, double factor,
                          const float *base)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double want = exact[i] + (base ? base[i] : 0.0);
        double s = scale[i] + (base ? fabs(base[i]) : 0.0);
        double bound = factor * CONV_BOUND_FACTOR * (n_terms + 2) * U32 * s + 1e-30;
        double err = fabs((double)got[i] - want);
        worst = fmax(worst, err / (U32 * s + 1e-30));
        cr_assert_leq(err, bound, "%s element %zu: got %.9g, want %.9g (bound %g)", what, i,
                      (double)got[i], want, bound);
    }
    return worst;
}

typedef struct {
    int N, C, H, W, K, R, stride;
} cshape;

static void conv_case(const cshape *s)
{
    rv_conv_desc d;
    cr_assert_eq(rv_conv_desc_init(fast, &d, s->N, s->C, s->H, s->W, s->K, s->R, s->stride), RV_OK);
    int HW = s->H * s->W, PQ = d.P * d.Q;
    size_t n_in = (size_t)s->N * s->C * HW, n_out = (size_t)s->N * s->K * PQ;
    size_t n_w = (size_t)s->K * s->C * s->R * s->R;
    float *x = rand_buf(n_in), *w = rand_buf(n_w), *g = rand_buf(n_out);
    float *ax = ref_conv_abs_copy(x, n_in), *aw = ref_conv_abs_copy(w, n_w);
    float *ag = ref_conv_abs_copy(g, n_out);
    double *exact = malloc((n_in + n_out + n_w) * sizeof *exact);
    double *scale = malloc((n_in + n_out + n_w) * sizeof *scale);
    size_t ws_bytes = rv_conv_workspace_bytes(fast, &d);
    cr_assert_str_empty(rv_ctx_message(fast), "%s", rv_ctx_message(fast));
    /* 64-byte aligned, as the memory planner's arena hands it out (memory.c), and full of
     * NaN as reused arena memory may be: any byte the op reads before writing it shows. */
    size_t ws_alloc = (ws_bytes + 64) / 64 * 64;
    float *ws = aligned_alloc(64, ws_alloc);
    for (size_t i = 0; i < ws_alloc / sizeof(float); i++) ws[i] = NAN;
    /* Winograd runs only on 3x3 stride-1 blocked shapes with AVX-512. */
    int wino = strstr(rv_ctx_describe(fast), "Winograd on") && s->R == 3 && s->stride == 1 &&
               s->C > 4 && s->K > 4;
    double factor = wino ? WINO_FACTOR : 1.0;
    char what[96];
    snprintf(what, sizeof what, "%dx%d/%d C%d K%d %dx%d", s->R, s->R, s->stride, s->C, s->K,
             s->H, s->W);

    float *fx = up(x, s->N, s->C, HW), *fg = up(g, s->N, s->K, PQ);
    /* The output starts as garbage everywhere, padding channels included: the arena hands
     * out reused memory, and the op must leave zeros in the padding. */
    float *fy = up(g, s->N, s->K, PQ);
    garbage(fy, rv_act_floats(fast, s->N, s->K, PQ));
    cr_assert_eq(rv_conv_forward(fast, fy, fx, w, &d, ws), RV_OK, "%s", rv_ctx_message(fast));
    float *y = down(fy, s->N, s->K, PQ);
    rv_ref_conv_forward(exact, x, w, &d);
    rv_ref_conv_forward(scale, ax, aw, &d);
    double wf = expect_conv(what, y, exact, scale, n_out, s->C * s->R * s->R, factor, NULL);

    /* Filter gradient accumulates onto what d_w held. */
    float *dw0 = rand_buf(n_w), *dw = malloc(n_w * sizeof *dw);
    memcpy(dw, dw0, n_w * sizeof *dw);
    cr_assert_eq(rv_conv_backward_filter(fast, dw, fg, fx, &d, ws), RV_OK, "%s", rv_ctx_message(fast));
    rv_ref_conv_backward_filter(exact, g, x, &d);
    rv_ref_conv_backward_filter(scale, ag, ax, &d);
    double wb = expect_conv(what, dw, exact, scale, n_w, s->N * PQ, factor, dw0);

    double wd = 0;
    if (s->C > 4) { /* the fast backend computes no data gradient of a plain image */
        rv_ref_conv_backward_data(exact, g, w, &d);
        rv_ref_conv_backward_data(scale, ag, aw, &d);
        for (int beta = 0; beta <= 1; beta++) {
            float *base = rand_buf(n_in);
            float *fdx = up(base, s->N, s->C, HW);
            if (!beta) garbage(fdx, rv_act_floats(fast, s->N, s->C, HW));
            cr_assert_eq(rv_conv_backward_data(fast, fdx, fg, w, &d, (float)beta, ws), RV_OK,
                         "%s", rv_ctx_message(fast));
            float *dx = down(fdx, s->N, s->C, HW);
            double t = expect_conv(what, dx, exact, scale, n_in, s->K * s->R * s->R, factor,
                                   beta ? base : NULL);
            wd = fmax(wd, t);
            free(dx);
            rv_ctx_free(fast, fdx);
            free(base);
        }
    }
    cr_log_info("%s%s: worst error / (u sum|terms|): fwd %.1f, bwd-filter %.1f, bwd-data %.1f",
                what, wino ? " (Winograd)" : "", wf, wb, wd);
    rv_ctx_free(fast, fx);
    rv_ctx_free(fast, fg);
    rv_ctx_free(fast, fy);
    free(y); free(dw0); free(dw); free(ws); free(exact); free(scale);
    free(x); free(w); free(g); free(ax); free(aw); free(ag);
}

Test(fast, convolutions_match_the_exact_result)
{
    static const cshape shapes[] = {
        { 3, 16, 8, 8, 16, 3, 1 },  /* Winograd on AVX-512 */
        { 2, 16, 8, 8, 32, 3, 2 },  /* stage transition */
        { 2, 32, 8, 8, 56, 3, 2 },  /* RevNet-38's 56-channel halves: padded to 64 */
        { 2, 56, 6, 6, 56, 3, 1 },
        { 8, 56, 8, 8, 56, 3, 1 },  /* RevNet-38 stage 3 at batch 8 */
        { 2, 20, 7, 5, 12, 3, 1 },  /* odd sizes, channels not a multiple of 8 */
        { 2, 3, 8, 8, 16, 3, 1 },   /* the stem: plain image in, blocked out */
        { 2, 16, 8, 8, 32, 1, 2 },  /* projection shortcut */
        { 10, 16, 6, 6, 16, 3, 1 }, /* batch sliced for accumulating data gradients */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) conv_case(&shapes[i]);
}

static void bn_case(int N, int C, int HW)
{
    size_t n = (size_t)N * C * HW;
    float *x = rand_buf(n), *g = rand_buf(n), *gamma = rand_buf(C), *beta = rand_buf(C);
    for (size_t i = 0; i < n; i++) x[i] = 3.0f * x[i] + 0.5f; /* a mean away from 0 */
    float *fx = up(x, N, C, HW), *fg = up(g, N, C, HW), *fy = up(x, N, C, HW);
    float *y_ref = malloc(n * sizeof *y_ref), *dx_ref = malloc(n * sizeof *dx_ref);
    float st_ref[4][64], st_fast[4][64]; /* mean, invstd, run_mean, run_var; C <= 64 */
    cr_assert_leq(C, 64);
    for (int mode = RV_BN_TRAIN; mode <= RV_BN_EVAL; mode++) {
        for (int c = 0; c < C; c++) {
            st_ref[2][c] = st_fast[2][c] = 0.1f * c;
            st_ref[3][c] = st_fast[3][c] = 1.0f + 0.05f * c;
        }
        cr_assert_eq(rv_bn_forward(ref, y_ref, st_ref[0], st_ref[1], st_ref[2], st_ref[3], x,
                                   gamma, beta, N, C, HW, mode), RV_OK);
        cr_assert_eq(rv_bn_forward(fast, fy, st_fast[0], st_fast[1], st_fast[2], st_fast[3], fx,
                                   gamma, beta, N, C, HW, mode), RV_OK, "%s", rv_ctx_message(fast));
        float *y = down(fy, N, C, HW);
        expect_rel("bn forward y", y, y_ref, n, BN_REL_TOL);
        for (int k = mode == RV_BN_EVAL ? 2 : 0; k < 4; k++)
            expect_rel("bn statistics", st_fast[k], st_ref[k], (size_t)C, BN_REL_TOL);
        free(y);
        if (mode == RV_BN_EVAL) continue;
        for (int acc = 0; acc <= 1; acc++) {
            float *base = rand_buf(n), *dg_ref = rand_buf(C), *db_ref = rand_buf(C);
            float *dg = malloc(C * sizeof *dg), *db = malloc(C * sizeof *db);
            memcpy(dg, dg_ref, C * sizeof *dg);
            memcpy(db, db_ref, C * sizeof *db);
            memcpy(dx_ref, base, n * sizeof *dx_ref);
            float *fdx = up(base, N, C, HW);
            cr_assert_eq(rv_bn_backward(ref, dx_ref, dg_ref, db_ref, g, x, st_ref[0], st_ref[1],
                                        gamma, N, C, HW, (float)acc), RV_OK);
            cr_assert_eq(rv_bn_backward(fast, fdx, dg, db, fg, fx, st_fast[0], st_fast[1], gamma,
                                        N, C, HW, (float)acc), RV_OK);
            float *dx = down(fdx, N, C, HW);
            expect_rel("bn backward d_x", dx, dx_ref, n, BN_REL_TOL);
            expect_rel("bn backward d_gamma", dg, dg_ref, (size_t)C, BN_REL_TOL);
            expect_rel("bn backward d_beta", db, db_ref, (size_t)C, BN_REL_TOL);
            free(dx); free(base); free(dg_ref); free(db_ref); free(dg); free(db);
            rv_ctx_free(fast, fdx);
        }
    }
    /* In place (y = x) and d_x = d_y, as the networks use them. */
    cr_assert_eq(rv_bn_forward(fast, fx, st_fast[0], st_fast[1], NULL, NULL, fx, gamma, beta, N,
                               C, HW, RV_BN_RECOMPUTE), RV_OK);
    cr_assert_eq(rv_bn_forward(ref, y_ref, st_ref[0], st_ref[1], NULL, NULL, x, gamma, beta, N,
                               C, HW, RV_BN_RECOMPUTE), RV_OK);
    float *y = down(fx, N, C, HW);
    expect_rel("bn forward in place", y, y_ref, n, BN_REL_TOL);
    free(y);
    rv_ctx_free(fast, fx); rv_ctx_free(fast, fg); rv_ctx_free(fast, fy);
    free(x); free(g); free(gamma); free(beta); free(y_ref); free(dx_ref);
}

/* The fused BN + ReLU ops: on the fast backend (one pass) against the reference backend's
 * two ops, and on the reference backend (which runs the two ops) bit-identical to calling
 * them in turn. */
static void bn_relu_case(int N, int C, int HW)
{
    size_t n = (size_t)N * C * HW;
    float *x = rand_buf(n), *g = rand_buf(n), *gamma = rand_buf(C), *beta = rand_buf(C);
    float *y_ref = malloc(n * sizeof *y_ref), *y_fused = malloc(n * sizeof *y_fused);
    float *g_ref = malloc(n * sizeof *g_ref), *g_fused = malloc(n * sizeof *g_fused);
    float *dx_ref = malloc(n * sizeof *dx_ref), *dx_fused = malloc(n * sizeof *dx_fused);
    float st[2][64], dgb[4][64];
    cr_assert_leq(C, 64);
    /* Reference: the two ops, and the fused op's fallback. */
    cr_assert_eq(rv_bn_forward(ref, y_ref, st[0], st[1], NULL, NULL, x, gamma, beta, N, C, HW,
                               RV_BN_RECOMPUTE), RV_OK);
    cr_assert_eq(rv_relu_forward(ref, y_ref, y_ref, n), RV_OK);
    cr_assert_eq(rv_bn_relu_forward(ref, y_fused, st[0], st[1], NULL, NULL, x, gamma, beta, N, C,
                                    HW, RV_BN_RECOMPUTE), RV_OK);
    expect_exact("bn_relu_forward fallback", y_fused, y_ref, n);
    memset(dgb, 0, sizeof dgb);
    memcpy(g_ref, g, n * sizeof *g);
    memcpy(g_fused, g, n * sizeof *g);
    cr_assert_eq(rv_relu_backward(ref, g_ref, g_ref, y_ref, n), RV_OK);
    cr_assert_eq(rv_bn_backward(ref, dx_ref, dgb[0], dgb[1], g_ref, x, st[0], st[1], gamma, N, C,
                                HW, 0.0f), RV_OK);
    cr_assert_eq(rv_bn_relu_backward(ref, dx_fused, dgb[2], dgb[3], g_fused, y_ref, x, st[0],
                                     st[1], gamma, N, C, HW, 0.0f), RV_OK);
    expect_exact("bn_relu_backward fallback", dx_fused, dx_ref, n);
    expect_exact("bn_relu_backward fallback d_gamma", dgb[2], dgb[0], (size_t)C);
    /* Fast, fused, against the reference sequence. */
    float fst[2][64], fdgb[2][64];
    memset(fdgb, 0, sizeof fdgb);
    float *fx = up(x, N, C, HW), *fy = up(x, N, C, HW), *fg = up(g, N, C, HW);
    cr_assert_eq(rv_bn_relu_forward(fast, fy, fst[0], fst[1], NULL, NULL, fx, gamma, beta, N, C,
                                    HW, RV_BN_RECOMPUTE), RV_OK);
    float *got = down(fy, N, C, HW);
    expect_rel("fast bn_relu_forward", got, y_ref, n, BN_REL_TOL);
    free(got);
    /* The mask comes from the reference output, so that both mask the same elements. */
    cr_assert_eq(rv_act_upload(fast, fy, y_ref, N, C, HW), RV_OK);
    cr_assert_eq(rv_bn_relu_backward(fast, fg, fdgb[0], fdgb[1], fg, fy, fx, st[0], st[1], gamma,
                                     N, C, HW, 0.0f), RV_OK);
    got = down(fg, N, C, HW);
    expect_rel("fast bn_relu_backward d_x", got, dx_ref, n, BN_REL_TOL);
    expect_rel("fast bn_relu_backward d_gamma", fdgb[0], dgb[0], (size_t)C, BN_REL_TOL);
    expect_rel("fast bn_relu_backward d_beta", fdgb[1], dgb[1], (size_t)C, BN_REL_TOL);
    free(got);
    rv_ctx_free(fast, fx); rv_ctx_free(fast, fy); rv_ctx_free(fast, fg);
    free(x); free(g); free(gamma); free(beta); free(y_ref); free(y_fused); free(g_ref);
    free(g_fused); free(dx_ref); free(dx_fused);
}

Test(fast, fused_batch_norm_relu_matches_the_two_ops)
{
    bn_relu_case(3, 16, 25);
    bn_relu_case(2, 56, 16);
    bn_relu_case(2, 3, 36); /* plain */
}

Test(fast, batch_norm_matches_the_reference)
{
    bn_case(3, 16, 25);
    bn_case(2, 56, 16); /* padded block */
    bn_case(8, 56, 64); /* RevNet-38 stage 3 at batch 8 */
    bn_case(9, 20, 49); /* more images than slices, channels not a multiple of 8 */
    bn_case(2, 3, 36);  /* plain */
}

Test(fast, pooling_padding_and_global_pool_are_exact)
{
    const int N = 2, C = 20, H = 6, W = 8, HW = H * W, P = 3, Q = 4;
    size_t n = (size_t)N * C * HW, np = (size_t)N * C * P * Q;
    float *x = rand_buf(n), *g = rand_buf(np), *fx = up(x, N, C, HW), *fg = up(g, N, C, P * Q);
    float *want = malloc((n + 64 * N * HW) * sizeof *want), *fo = up(x, N, C, HW);
    /* 2x2 average pool, forward and backward with beta 0 and 1. */
    cr_assert_eq(rv_avgpool2_forward(ref, want, x, N, C, H, W), RV_OK);
    float *fp = up(g, N, C, P * Q);
    cr_assert_eq(rv_avgpool2_forward(fast, fp, fx, N, C, H, W), RV_OK);
    float *got = down(fp, N, C, P * Q);
    expect_exact("avgpool2 forward", got, want, np);
    free(got);
    for (int beta = 0; beta <= 1; beta++) {
        memcpy(want, x, n * sizeof *want);
        cr_assert_eq(rv_act_upload(fast, fo, x, N, C, HW), RV_OK);
        cr_assert_eq(rv_avgpool2_backward(ref, want, g, N, C, H, W, (float)beta), RV_OK);
        cr_assert_eq(rv_avgpool2_backward(fast, fo, fg, N, C, H, W, (float)beta), RV_OK);
        got = down(fo, N, C, HW);
        expect_exact("avgpool2 backward", got, want, n);
        free(got);
    }
    /* Zero channel padding 20 -> 36 (front 8, not a multiple of the block), and back. */
    const int C_out = 36, front = 8;
    size_t nc = (size_t)N * C_out * HW;
    float *fc = up(rand_buf(nc), N, C_out, HW);
    float *wc = malloc(nc * sizeof *wc);
    cr_assert_eq(rv_chpad_forward(ref, wc, x, N, C, C_out, HW, front), RV_OK);
    cr_assert_eq(rv_chpad_forward(fast, fc, fx, N, C, C_out, HW, front), RV_OK);
    got = down(fc, N, C_out, HW);
    expect_exact("chpad forward", got, wc, nc);
    free(got);
    for (int beta = 0; beta <= 1; beta++) {
        memcpy(want, x, n * sizeof *want);
        cr_assert_eq(rv_act_upload(fast, fo, x, N, C, HW), RV_OK);
        cr_assert_eq(rv_chpad_backward(ref, want, wc, N, C, C_out, HW, front, (float)beta), RV_OK);
        cr_assert_eq(rv_chpad_backward(fast, fo, fc, N, C, C_out, HW, front, (float)beta), RV_OK);
        got = down(fo, N, C, HW);
        expect_exact("chpad backward", got, want, n);
        free(got);
    }
    /* Global average pool: N x C plain out, and its backward. */
    float gp_ref[2 * 20], gp[2 * 20];
    cr_assert_eq(rv_gap_forward(ref, gp_ref, x, N, C, HW), RV_OK);
    cr_assert_eq(rv_gap_forward(fast, gp, fx, N, C, HW), RV_OK);
    expect_exact("gap forward", gp, gp_ref, (size_t)N * C);
    cr_assert_eq(rv_gap_backward(ref, want, gp_ref, N, C, HW), RV_OK);
    cr_assert_eq(rv_gap_backward(fast, fo, gp, N, C, HW), RV_OK);
    got = down(fo, N, C, HW);
    expect_exact("gap backward", got, want, n);
    free(got);
    /* 3x3 stride-2 max pool (the ImageNet stem), forward and backward. */
    int MP, MQ;
    rv_maxpool3s2_out(H, W, &MP, &MQ);
    size_t nm = (size_t)N * C * MP * MQ;
    float *mg = rand_buf(nm), *fmg = up(mg, N, C, MP * MQ), *fm = up(mg, N, C, MP * MQ);
    float *wm = malloc(nm * sizeof *wm);
    cr_assert_eq(rv_maxpool3s2_forward(ref, wm, x, N, C, H, W), RV_OK);
    cr_assert_eq(rv_maxpool3s2_forward(fast, fm, fx, N, C, H, W), RV_OK);
    got = down(fm, N, C, MP * MQ);
    expect_exact("maxpool forward", got, wm, nm);
    free(got);
    cr_assert_eq(rv_maxpool3s2_backward(ref, want, mg, x, wm, N, C, H, W), RV_OK);
    cr_assert_eq(rv_maxpool3s2_backward(fast, fo, fmg, fx, fm, N, C, H, W), RV_OK);
    got = down(fo, N, C, HW);
    expect_exact("maxpool backward", got, want, n);
    free(got);
}

Test(fast, layout_follows_the_isa)
{
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    int avx2 = cap && (strcmp(cap, "AVX2") == 0 || strcmp(cap, "avx2") == 0);
    const char *desc = rv_ctx_describe(fast);
    if (avx2) {
        cr_expect(strstr(desc, "nChw8c") != NULL, "%s", desc);
        cr_expect(strstr(desc, "Winograd off") != NULL, "%s", desc);
    }
    int block = strstr(desc, "nChw16c") ? 16 : 8;
    cr_expect_eq(rv_act_channels(fast, 3), 3, "images stay plain");
    cr_expect_eq(rv_act_channels(fast, 20), (20 + block - 1) / block * block);
    cr_expect_eq(rv_act_channels(fast, 56), block == 16 ? 64 : 56);
    cr_expect_eq(rv_act_channels(ref, 56), 56);
    cr_log_info("fast backend: %s", desc);
}

/* One training step of `name` at batch 8 on both backends from the same initial state: same
 * loss, same gradient direction. */
static void network_case(const char *name, rv_backward_mode mode)
{
    rv_ctx *ctxs[2] = { ref, fast };
    rv_model *m[2];
    rv_step_result r[2];
    float *grads[2];
    rv_arch a;
    cr_assert_eq(rv_arch_parse(name, &a, NULL, 0), RV_OK);
    rv_model_options o = { .n_classes = 10, .batch = 8, .seed = 3, .train_modes = 1u << mode };
    int S = 32;
    size_t nx = (size_t)8 * 3 * S * S;
    float *x = malloc(nx * sizeof *x);
    int32_t y[8];
    rv_rng_state rng;
    rv_rng_seed(&rng, 5);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rv_rng_normal(&rng);
    for (int i = 0; i < 8; i++) y[i] = (int32_t)rv_rng_below(&rng, 10);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(rv_model_create(ctxs[k], &a, &o, &m[k]), RV_OK, "%s", rv_ctx_message(ctxs[k]));
        cr_assert_eq(rv_model_train_step(m[k], mode, x, y, 1, &r[k]), RV_OK, "%s",
                     rv_ctx_message(ctxs[k]));
        size_t np = rv_model_n_params(m[k]);
        grads[k] = malloc(np * sizeof(float));
        cr_assert_eq(rv_model_get_grads(m[k], grads[k]), RV_OK);
    }
    size_t np = rv_model_n_params(m[0]);
    double dot = 0, n0 = 0, n1 = 0;
    for (size_t i = 0; i < np; i++) {
        dot += (double)grads[0][i] * grads[1][i];
        n0 += (double)grads[0][i] * grads[0][i];
        n1 += (double)grads[1][i] * grads[1][i];
    }
    double angle = acos(fmin(1.0, dot / sqrt(n0 * n1))) * 180.0 / 3.14159265358979323846;
    cr_expect_lt(fabs(r[0].loss - r[1].loss), NET_LOSS_TOL, "%s: loss ref %.7f fast %.7f", name,
                 r[0].loss, r[1].loss);
    cr_expect_lt(angle, NET_ANGLE_DEG, "%s: gradient angle %g degrees", name, angle);
    cr_log_info("%s %s: loss ref %.7f fast %.7f, gradient angle %.2e deg", name,
                rv_backward_mode_name(mode), r[0].loss, r[1].loss, angle);
    for (int k = 0; k < 2; k++) {
        rv_model_destroy(m[k]);
        free(grads[k]);
    }
    free(x);
}

Test(fast, whole_networks_give_the_same_loss_and_gradients, .init = setup_networks)
{
    network_case("resnet-32", RV_BACKWARD_STANDARD);
    network_case("revnet-38", RV_BACKWARD_STANDARD);
    network_case("resnet-bottleneck-1", RV_BACKWARD_CHECKPOINT);
    network_case("revnet-bottleneck-2", RV_BACKWARD_REVERSIBLE);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Test(fast, revnet38_reversible_gradient_angle_median_over_seeds, .init = setup_networks)
{
    /* Ten training passes of RevNet-38 at batch 100: run once, on this CPU's own ISA (the
     * AVX2 registration checks the ops and whole networks). */
    if (getenv("ONEDNN_MAX_CPU_ISA")) cr_skip_test("run without ONEDNN_MAX_CPU_ISA only");
    rv_arch a;
    cr_assert_eq(rv_arch_parse("revnet-38", &a, NULL, 0), RV_OK);
    const int B = 100;
    double angles[5];
    size_t nx = (size_t)B * 3 * 32 * 32;
    float *x = malloc(nx * sizeof *x);
    int32_t *y = malloc(B * sizeof *y);
    for (int seed = 1; seed <= 5; seed++) {
        rv_model_options o = { .n_classes = 10, .batch = B, .seed = (uint64_t)seed,
                               .train_modes = (1u << RV_BACKWARD_STANDARD) |
                                              (1u << RV_BACKWARD_REVERSIBLE) };
        rv_model *m;
        cr_assert_eq(rv_model_create(fast, &a, &o, &m), RV_OK, "%s", rv_ctx_message(fast));
        rv_rng_state rng;
        rv_rng_seed(&rng, (uint64_t)seed);
        for (size_t i = 0; i < nx; i++) x[i] = (float)rv_rng_normal(&rng);
        for (int i = 0; i < B; i++) y[i] = (int32_t)rv_rng_below(&rng, 10);
        double rel;
        cr_assert_eq(rv_model_gradient_angle(m, x, y, &angles[seed - 1], &rel), RV_OK, "%s",
                     rv_ctx_message(fast));
        rv_model_destroy(m);
    }
    qsort(angles, 5, sizeof angles[0], cmp_double);
    cr_expect_lt(angles[2], ANGLE_LIMIT_DEG, "median angle %g degrees", angles[2]);
    cr_log_info("revnet-38 batch 100, seeds 1-5: angles %.4f %.4f %.4f %.4f %.4f deg (median "
                "%.4f)", angles[0], angles[1], angles[2], angles[3], angles[4], angles[2]);
    free(x);
    free(y);
}
