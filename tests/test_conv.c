/*
 * test_conv.c: the CPU convolution (lib/ops/conv.c) against a naive double-precision direct
 * convolution (ref_conv.c) for forward, backward-data and backward-filter on a table of
 * shapes; against central finite differences of a scalar loss; and the contract of conv.h:
 * SAME padding values, beta = 0/1, accumulation into d_w, argument errors, dry run,
 * bit-identical repeats.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/conv.h>
#include <revnet/context.h>
#include "ref_conv.h"
#include "ref_ops.h"

/* Unit roundoff of float32. */
#define U32 (FLT_EPSILON / 2.0)
/*
 * Reference comparisons: a float32 sum of n products, each rounded, is within gamma_{n+1} =
 * (n+1)u / (1 - (n+1)u) of the exact value times the sum of |terms| (Higham, Accuracy and
 * Stability, 3.1), whatever order or blocking the GEMM uses. The test allows that bound with
 * n + 2 terms (one more for the accumulated value in beta = 1 / d_w += cases) and a factor 2
 * for the gamma denominator, so it cannot fail on correct code, while any indexing or padding
 * mistake moves an element by O(sum |terms|) and fails it.
 */
#define REF_BOUND_FACTOR 2.0

/*
 * Finite differences: L = sum(out * g) is linear in in and in w, so central differences have
 * no truncation error and the step can be large (0.25, exact in binary). What remains is the
 * float32 rounding of the two forward passes: at most ~60 outputs of magnitude <= ~10 with
 * relative error <= 20u each, i.e. <= 60 * 10 * 20 * 6e-8 = 7e-4 in L, divided by 2h = 0.5:
 * ~1.5e-3 worst case, ~1e-5 typical. 2e-3 absolute on gradients of magnitude ~1-10.
 */
#define FD_STEP 0.25f
#define FD_TOL 2e-3

typedef struct {
    char name[40]; /* an array: Criterion copies parameters into the test process */
    int N, C, H, W, K, R, stride, threads;
} shape;

/* Deterministic uniform values in [-1, 1) (ref_conv.h), from this file's own seed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float *rand_buf(size_t n) { return ref_conv_rand_buf(&rng_state, n); }

/* The workspace is filled with NaN so that any read of a stale value shows in the results. */
static void *nan_ws(size_t bytes)
{
    float *p = malloc(bytes + sizeof(float));
    cr_assert_not_null(p);
    for (size_t i = 0; i <= bytes / sizeof(float); i++) p[i] = NAN;
    return p;
}

/* got[i] vs base[i] + ref[i], with the bound REF_BOUND_FACTOR * gamma_{terms+2} *
 * (|base[i]| + abs_ref[i]) (base may be NULL for zero). */
static void check_close(const float *got, const float *base, const double *ref,
                        const double *abs_ref, size_t n, int terms, const char *what,
                        const char *shape_name)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double b = base ? base[i] : 0.0;
        double want = b + ref[i];
        double bound = REF_BOUND_FACTOR * (terms + 2) * U32 * (fabs(b) + abs_ref[i]) + 1e-30;
        double err = fabs((double)got[i] - want);
        cr_assert(err <= bound, "%s [%s] element %zu: got %.9g, want %.9g (|err| %.3g > %.3g)",
                  what, shape_name, i, (double)got[i], want, err, bound);
        if (err / bound > worst) worst = err / bound;
    }
    cr_log_info("%s [%s]: max error %.3f of the bound", what, shape_name, worst);
}

/* ------------------------------------------------------------------ reference comparisons */

ParameterizedTestParameters(conv, matches_reference)
{
    static shape shapes[] = {
        { "3x3/1 7x7 C4 K5", 3, 4, 7, 7, 5, 3, 1, 0 },
        { "3x3/2 5x9 C3 K6", 2, 3, 5, 9, 6, 3, 2, 0 },
        { "3x3/2 8x8 even", 2, 3, 8, 8, 4, 3, 2, 0 },
        { "1x1/1 8x8 C6 K4", 2, 6, 8, 8, 4, 1, 1, 0 },
        { "1x1/2 8x6 C5 K7", 2, 5, 8, 6, 7, 1, 2, 0 },
        { "7x7/2 15x13 stem", 2, 3, 15, 13, 4, 7, 2, 0 },
        /* Images small enough that many share one group: 40 images = 32 + 8, so the grouped
         * GEMM, the scatter/gather and a ragged last group all run. */
        { "3x3/1 4x4 N40 groups", 40, 2, 4, 4, 3, 3, 1, 0 },
        /* 147 KB of columns per image: groups of 2, the last one ragged (5 = 2 + 2 + 1). */
        { "3x3/1 16x16 C16 K16 N5", 5, 16, 16, 16, 16, 3, 1, 0 },
        /* Two threads: images and d_w columns split between them. */
        { "3x3/1 9x9 2 threads", 5, 3, 9, 9, 5, 3, 1, 2 },
        { "3x3/2 9x9 2 threads", 7, 4, 9, 9, 3, 3, 2, 2 },
        { "1x1/1 2 threads", 3, 5, 6, 6, 4, 1, 1, 2 },
        /* Stride-1 kernels other than 3x3 (the contiguous-copy im2col and backward-data as a
         * transposed conv): 5x5, a 7x7 larger than a 4x3 image, a 3x3 on a 1x1 image, and an
         * even 2x2 whose asymmetric padding keeps backward-data on col2im. */
        { "5x5/1 6x5 C3 K4", 2, 3, 6, 5, 4, 5, 1, 0 },
        { "7x7/1 4x3 kernel > image", 2, 2, 4, 3, 3, 7, 1, 0 },
        { "3x3/1 1x1 image", 3, 4, 1, 1, 2, 3, 1, 0 },
        { "2x2/1 5x6 even kernel", 2, 3, 5, 6, 4, 2, 1, 2 },
    };
    return cr_make_param_array(shape, shapes, sizeof shapes / sizeof shapes[0]);
}

ParameterizedTest(shape *sh, conv, matches_reference)
{
    rv_ctx *ctx = ref_cpu_ctx_threads(sh->threads);
    rv_conv_desc d;
    cr_assert_eq(rv_conv_desc_init(ctx, &d, sh->N, sh->C, sh->H, sh->W, sh->K, sh->R,
                                   sh->stride), RV_OK, "%s", rv_ctx_message(ctx));
    size_t n_in = (size_t)d.N * d.C * d.H * d.W, n_out = (size_t)d.N * d.K * d.P * d.Q;
    size_t n_w = (size_t)d.K * d.C * d.R * d.S;
    float *in = rand_buf(n_in), *w = rand_buf(n_w), *dy = rand_buf(n_out);
    float *out = rand_buf(n_out), *d_in = rand_buf(n_in), *d_w = rand_buf(n_w);
    float *d_w0 = malloc(n_w * sizeof *d_w0 + 1), *d_in0 = rand_buf(n_in);
    memcpy(d_w0, d_w, n_w * sizeof *d_w);
    float *a_in = ref_conv_abs_copy(in, n_in), *a_w = ref_conv_abs_copy(w, n_w);
    float *a_dy = ref_conv_abs_copy(dy, n_out);
    double *ref = malloc((n_in + n_out + n_w) * sizeof *ref);
    double *aref = malloc((n_in + n_out + n_w) * sizeof *aref);
    void *ws = nan_ws(rv_conv_workspace_bytes(ctx, &d));

    cr_assert_eq(rv_conv_forward(ctx, out, in, w, &d, ws), RV_OK, "%s", rv_ctx_message(ctx));
    rv_ref_conv_forward(ref, in, w, &d);
    rv_ref_conv_forward(aref, a_in, a_w, &d);
    check_close(out, NULL, ref, aref, n_out, d.C * d.R * d.S, "forward", sh->name);

    /* beta = 0 overwrites what d_in held (random values here). */
    cr_assert_eq(rv_conv_backward_data(ctx, d_in, dy, w, &d, 0.0f, ws), RV_OK, "%s",
                 rv_ctx_message(ctx));
    rv_ref_conv_backward_data(ref, dy, w, &d);
    rv_ref_conv_backward_data(aref, a_dy, a_w, &d);
    check_close(d_in, NULL, ref, aref, n_in, d.K * d.R * d.S, "backward-data", sh->name);
    /* beta = 1 adds to what d_in held. */
    float *d_in1 = malloc(n_in * sizeof *d_in1 + 1);
    memcpy(d_in1, d_in0, n_in * sizeof *d_in1);
    cr_assert_eq(rv_conv_backward_data(ctx, d_in1, dy, w, &d, 1.0f, ws), RV_OK, "%s",
                 rv_ctx_message(ctx));
    check_close(d_in1, d_in0, ref, aref, n_in, d.K * d.R * d.S, "backward-data beta=1",
                sh->name);
    free(d_in1);

    cr_assert_eq(rv_conv_backward_filter(ctx, d_w, dy, in, &d, ws), RV_OK, "%s",
                 rv_ctx_message(ctx));
    rv_ref_conv_backward_filter(ref, dy, in, &d);
    rv_ref_conv_backward_filter(aref, a_dy, a_in, &d);
    check_close(d_w, d_w0, ref, aref, n_w, d.N * d.P * d.Q, "backward-filter (+=)", sh->name);

    free(in); free(w); free(dy); free(out); free(d_in); free(d_w); free(d_w0); free(d_in0);
    free(a_in); free(a_w); free(a_dy); free(ref); free(aref); free(ws);
    rv_ctx_destroy(ctx);
}

/* ------------------------------------------------------------------ descriptor */

Test(conv, same_padding_values)
{
    rv_ctx *ctx = ref_cpu_ctx_threads(0);
    rv_conv_desc d;
    /* 3x3 stride 2 on an even size: total padding (16-1)*2 + 3 - 32 = 1, all of it at the
     * bottom/right. */
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 1, 1, 32, 32, 1, 3, 2), RV_OK);
    cr_expect(d.P == 16 && d.Q == 16 && d.pad_top == 0 && d.pad_left == 0,
              "3x3/2 on 32: P %d Q %d pad %d %d", d.P, d.Q, d.pad_top, d.pad_left);
    /* 3x3 stride 1: 1 on every side (bottom = (P-1) + 3 - H - top = 1). */
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 1, 1, 32, 32, 1, 3, 1), RV_OK);
    cr_expect(d.P == 32 && d.Q == 32 && d.pad_top == 1 && d.pad_left == 1);
    /* 1x1 stride 2: never padded ((16-1)*2 + 1 - 32 < 0). */
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 1, 1, 32, 32, 1, 1, 2), RV_OK);
    cr_expect(d.P == 16 && d.Q == 16 && d.pad_top == 0 && d.pad_left == 0);
    /* Odd sizes, rows and columns independently: 3x3/2 on 7x8 -> P 4 (total 2, top 1),
     * Q 4 (total 1, left 0). */
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 1, 1, 7, 8, 1, 3, 2), RV_OK);
    cr_expect(d.P == 4 && d.Q == 4 && d.pad_top == 1 && d.pad_left == 0);
    /* The ImageNet stem, 7x7/2 on 224: total 111*2 + 7 - 224 = 5, top 2 (bottom 3). */
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 1, 3, 224, 224, 64, 7, 2), RV_OK);
    cr_expect(d.P == 112 && d.Q == 112 && d.pad_top == 2 && d.pad_left == 2 && d.S == 7);
    rv_ctx_destroy(ctx);
}

Test(conv, macs)
{
    rv_ctx *ctx = ref_cpu_ctx_threads(0);
    rv_conv_desc d;
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 100, 16, 32, 32, 32, 3, 2), RV_OK);
    cr_expect_eq(rv_conv_macs(&d), 100.0 * 32 * 16 * 16 * 16 * 3 * 3);
    rv_ctx_destroy(ctx);
}

/* The workspace stays a few MB on the CIFAR shapes at batch 100 with 2 threads (memory is
 * what the project measures), is at least one image's columns, and is 0 for a 1x1/1 conv. */
Test(conv, workspace_is_small)
{
    rv_ctx *ctx = ref_cpu_ctx_threads(2);
    const int shapes[][4] = { { 3, 32, 16, 1 }, { 16, 32, 16, 1 }, { 16, 32, 32, 2 },
                              { 32, 16, 32, 1 }, { 32, 16, 56, 2 }, { 56, 8, 56, 1 },
                              { 64, 8, 64, 1 } };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        rv_conv_desc d;
        const int *s = shapes[i];
        cr_assert_eq(rv_conv_desc_init(ctx, &d, 100, s[0], s[1], s[1], s[2], 3, s[3]), RV_OK);
        size_t ws = rv_conv_workspace_bytes(ctx, &d);
        size_t one = (size_t)d.C * 9 * d.P * d.Q * sizeof(float);
        cr_expect(ws >= one && ws <= 8u << 20, "C %d %dx%d: workspace %zu bytes", s[0], s[1],
                  s[1], ws);
    }
    rv_conv_desc d;
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 100, 64, 8, 8, 256, 1, 1), RV_OK);
    cr_expect_eq(rv_conv_workspace_bytes(ctx, &d), 0);
    rv_ctx_destroy(ctx);
}

/* ------------------------------------------------------------------ finite differences */

/* One finite-difference problem: the convolution d on in and w, the loss weights g, and the
 * buffers its forward passes use. */
typedef struct {
    rv_ctx *ctx;
    rv_conv_desc d;
    float *in, *w, *g, *out;
    void *ws;
} fd_problem;

/* L = sum_i out_i * g_i, accumulated in double. */
static double loss(const fd_problem *f)
{
    cr_assert_eq(rv_conv_forward(f->ctx, f->out, f->in, f->w, &f->d, f->ws), RV_OK);
    const rv_conv_desc *d = &f->d;
    double l = 0.0;
    for (size_t i = 0; i < (size_t)d->N * d->K * d->P * d->Q; i++)
        l += (double)f->out[i] * f->g[i];
    return l;
}

/* Each element of p (f's input or weights, n of them) moved by +-FD_STEP: the central
 * difference of L against the analytic gradient grad (named name in messages). */
static void fd_compare(const fd_problem *f, float *p, const float *grad, size_t n,
                       const char *name)
{
    for (size_t i = 0; i < n; i++) {
        float x = p[i];
        p[i] = x + FD_STEP;
        double lp = loss(f);
        p[i] = x - FD_STEP;
        double lm = loss(f);
        p[i] = x;
        double fd = (lp - lm) / (2.0 * FD_STEP);
        cr_assert(fabs(fd - grad[i]) <= FD_TOL, "stride %d %s[%zu]: analytic %.7g, FD %.7g",
                  f->d.stride, name, i, (double)grad[i], fd);
    }
}

static void fd_check(int stride)
{
    fd_problem f = { .ctx = ref_cpu_ctx_threads(0) };
    rv_conv_desc *d = &f.d;
    cr_assert_eq(rv_conv_desc_init(f.ctx, d, 2, 2, 5, 6, 3, 3, stride), RV_OK);
    size_t n_in = (size_t)d->N * d->C * d->H * d->W, n_out = (size_t)d->N * d->K * d->P * d->Q;
    size_t n_w = (size_t)d->K * d->C * d->R * d->S;
    f.in = rand_buf(n_in);
    f.w = rand_buf(n_w);
    f.g = rand_buf(n_out);
    f.out = rand_buf(n_out);
    float *d_in = rand_buf(n_in), *d_w = calloc(n_w, sizeof *d_w);
    f.ws = nan_ws(rv_conv_workspace_bytes(f.ctx, d));
    cr_assert_eq(rv_conv_backward_data(f.ctx, d_in, f.g, f.w, d, 0.0f, f.ws), RV_OK);
    cr_assert_eq(rv_conv_backward_filter(f.ctx, d_w, f.g, f.in, d, f.ws), RV_OK);
    fd_compare(&f, f.in, d_in, n_in, "d_in");
    fd_compare(&f, f.w, d_w, n_w, "d_w");
    free(f.in); free(f.w); free(f.g); free(f.out); free(d_in); free(d_w); free(f.ws);
    rv_ctx_destroy(f.ctx);
}

Test(conv, finite_differences_stride1) { fd_check(1); }
Test(conv, finite_differences_stride2) { fd_check(2); }

/* ------------------------------------------------------------------ contract */

static void expect_arg_error(rv_ctx *ctx, rv_status s, const char *what)
{
    cr_expect_eq(s, RV_ERR_ARG, "%s: status %d, want RV_ERR_ARG", what, (int)s);
    cr_expect(rv_ctx_message(ctx)[0] != '\0', "%s: no message", what);
    rv_ctx_clear_error(ctx);
}

Test(conv, bad_arguments)
{
    rv_ctx *ctx = ref_cpu_ctx_threads(0);
    rv_conv_desc d;
    expect_arg_error(ctx, rv_conv_desc_init(ctx, &d, 0, 1, 4, 4, 1, 3, 1), "N = 0");
    expect_arg_error(ctx, rv_conv_desc_init(ctx, &d, 1, 1, 4, -4, 1, 3, 1), "W < 0");
    expect_arg_error(ctx, rv_conv_desc_init(ctx, &d, 1, 1, 4, 4, 1, 0, 1), "R = 0");
    expect_arg_error(ctx, rv_conv_desc_init(ctx, &d, 1, 1, 4, 4, 1, 3, 0), "stride = 0");
    expect_arg_error(ctx, rv_conv_desc_init(ctx, NULL, 1, 1, 4, 4, 1, 3, 1), "NULL desc");
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 2, 2, 4, 4, 3, 3, 1), RV_OK);
    float buf[64] = { 0 }, wb[64] = { 0 };
    void *ws = nan_ws(rv_conv_workspace_bytes(ctx, &d));
    expect_arg_error(ctx, rv_conv_forward(ctx, NULL, buf, wb, &d, ws), "forward out NULL");
    expect_arg_error(ctx, rv_conv_forward(ctx, buf, NULL, wb, &d, ws), "forward in NULL");
    expect_arg_error(ctx, rv_conv_forward(ctx, buf, buf, NULL, &d, ws), "forward w NULL");
    expect_arg_error(ctx, rv_conv_forward(ctx, buf, buf, wb, NULL, ws), "forward desc NULL");
    expect_arg_error(ctx, rv_conv_forward(ctx, buf, buf, wb, &d, NULL), "forward ws NULL");
    expect_arg_error(ctx, rv_conv_backward_data(ctx, NULL, buf, wb, &d, 0.0f, ws),
                     "backward-data d_in NULL");
    expect_arg_error(ctx, rv_conv_backward_data(ctx, buf, buf, wb, &d, 0.5f, ws),
                     "backward-data beta 0.5");
    expect_arg_error(ctx, rv_conv_backward_filter(ctx, buf, buf, NULL, &d, ws),
                     "backward-filter in NULL");
    rv_conv_desc bad = d;
    bad.P = 5;
    expect_arg_error(ctx, rv_conv_forward(ctx, buf, buf, wb, &bad, ws), "inconsistent P");
    bad = d;
    bad.K = 0;
    expect_arg_error(ctx, rv_conv_backward_filter(ctx, buf, buf, buf, &bad, ws), "K = 0");
    cr_expect_eq(rv_conv_forward(NULL, buf, buf, wb, &d, ws), RV_ERR_ARG, "NULL context");
    free(ws);
    rv_ctx_destroy(ctx);
}

/* In dry-run mode (the memory planner's recording pass) every call validates and returns
 * RV_OK without touching any buffer. */
Test(conv, dry_run_touches_nothing)
{
    rv_ctx *ctx = ref_cpu_ctx_threads(0);
    rv_conv_desc d;
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 2, 3, 6, 6, 4, 3, 1), RV_OK);
    size_t n_in = (size_t)d.N * d.C * d.H * d.W, n_out = (size_t)d.N * d.K * d.P * d.Q;
    size_t n_w = (size_t)d.K * d.C * d.R * d.S, n_ws = rv_conv_workspace_bytes(ctx, &d);
    float *in = rand_buf(n_in), *w = rand_buf(n_w), *out = rand_buf(n_out);
    float *d_in = rand_buf(n_in), *d_w = rand_buf(n_w);
    float *keep = malloc((n_in + n_out + n_w) * sizeof *keep);
    unsigned char *ws = malloc(n_ws), *ws_keep = malloc(n_ws);
    memset(ws, 0xA5, n_ws);
    memcpy(ws_keep, ws, n_ws);
    memcpy(keep, out, n_out * sizeof *out);
    memcpy(keep + n_out, d_in, n_in * sizeof *d_in);
    memcpy(keep + n_out + n_in, d_w, n_w * sizeof *d_w);
    rv_ctx_set_dry_run(ctx, 1);
    cr_assert_eq(rv_conv_forward(ctx, out, in, w, &d, ws), RV_OK);
    cr_assert_eq(rv_conv_backward_data(ctx, d_in, out, w, &d, 0.0f, ws), RV_OK);
    cr_assert_eq(rv_conv_backward_filter(ctx, d_w, out, in, &d, ws), RV_OK);
    /* Validation still runs in a dry run. */
    cr_expect_eq(rv_conv_forward(ctx, NULL, in, w, &d, ws), RV_ERR_ARG);
    rv_ctx_set_dry_run(ctx, 0);
    cr_expect(memcmp(keep, out, n_out * sizeof *out) == 0, "forward wrote out");
    cr_expect(memcmp(keep + n_out, d_in, n_in * sizeof *d_in) == 0, "backward-data wrote d_in");
    cr_expect(memcmp(keep + n_out + n_in, d_w, n_w * sizeof *d_w) == 0,
              "backward-filter wrote d_w");
    cr_expect(memcmp(ws, ws_keep, n_ws) == 0, "a dry run wrote the workspace");
    free(in); free(w); free(out); free(d_in); free(d_w); free(keep); free(ws); free(ws_keep);
    rv_ctx_destroy(ctx);
}

/* Runs all three calls on one shape and returns the outputs side by side (out, d_in, d_w). */
static float *run_all(rv_ctx *ctx, const rv_conv_desc *d, const float *in, const float *w,
                      const float *dy, size_t *n_total)
{
    size_t n_in = (size_t)d->N * d->C * d->H * d->W, n_out = (size_t)d->N * d->K * d->P * d->Q;
    size_t n_w = (size_t)d->K * d->C * d->R * d->S;
    float *r = calloc(n_out + n_in + n_w, sizeof *r);
    void *ws = nan_ws(rv_conv_workspace_bytes(ctx, d));
    cr_assert_eq(rv_conv_forward(ctx, r, in, w, d, ws), RV_OK);
    cr_assert_eq(rv_conv_backward_data(ctx, r + n_out, dy, w, d, 0.0f, ws), RV_OK);
    cr_assert_eq(rv_conv_backward_filter(ctx, r + n_out + n_in, dy, in, d, ws), RV_OK);
    free(ws);
    *n_total = n_out + n_in + n_w;
    return r;
}

/* Same inputs, same thread count: bit-identical results. Forward and backward-data compute
 * each image on one thread, so they do not depend on the thread count at all. */
Test(conv, bit_identical_repeats)
{
    rv_ctx *c1 = ref_cpu_ctx_threads(1), *c2 = ref_cpu_ctx_threads(2);
    rv_conv_desc d;
    cr_assert_eq(rv_conv_desc_init(c2, &d, 6, 8, 12, 12, 8, 3, 1), RV_OK);
    size_t n_in = (size_t)d.N * d.C * d.H * d.W, n_out = (size_t)d.N * d.K * d.P * d.Q;
    float *in = rand_buf(n_in), *w = rand_buf((size_t)d.K * d.C * 9), *dy = rand_buf(n_out);
    size_t n;
    float *a = run_all(c2, &d, in, w, dy, &n);
    float *b = run_all(c2, &d, in, w, dy, &n);
    cr_expect(memcmp(a, b, n * sizeof *a) == 0, "two runs on 2 threads differ");
    float *c = run_all(c1, &d, in, w, dy, &n);
    cr_expect(memcmp(a, c, (n_out + n_in) * sizeof *a) == 0,
              "forward/backward-data differ between 1 and 2 threads");
    free(a); free(b); free(c); free(in); free(w); free(dy);
    rv_ctx_destroy(c1);
    rv_ctx_destroy(c2);
}
