/*
 * test_batchnorm.c: batch norm (lib/ops/batchnorm.c) on the CPU backend: forward against a
 * two-pass double reference, backward against a double reference and against central finite
 * differences, the three modes and their effect on the running averages, in-place forms,
 * accumulation, argument checks and dry-run mode.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/batchnorm.h>
#include "ref_ops.h"

/* Forward against the double reference, inputs in [-1, 1): y has magnitude <= ~6 (|xhat| <=
 * sqrt(3) for uniform data, gamma <= 2, beta <= 1). The library rounds mean and invstd to float
 * (relative 6e-8 each) and does three float operations per element, so a few ulps of 6 is
 * ~2e-6; 1e-5 leaves margin without hiding a wrong formula (those err by O(1e-2) or more). */
#define FWD_ATOL 1e-5
/* Inputs 1000 + [-1, 1): the float mean carries up to half an ulp of 1000 (3.1e-5) and is
 * multiplied by gamma * invstd <= 2 * 1.73, so y may be off by ~1.1e-4 whatever the
 * statistics' accuracy; 3e-4 covers it. A textbook sum(x^2) - M mean^2 in float would be off
 * by whole units here. */
#define OFFSET_ATOL 3e-4
/* Backward against the double reference: gradients are O(1) and the library forms them from
 * double sums rounded to float, with four float operations per element; 2e-5 is ~100 ulps. */
#define BWD_ATOL 2e-5
/* Finite differences: step 1e-2 on inputs of spread 1. Truncation error of the central
 * difference is O(h^2 f''') ~ 1e-4 relative for this smooth function; the float forward adds
 * rounding noise of ~1e-7 per output, sqrt(M) of them summed, divided by 2h: ~1e-4 for
 * M ~ 1000. atol 2e-3 + 1% relative is an order of magnitude above both, and far below the
 * O(1) error of a missing term (e.g. dropping the mean-of-d_y term). */
#define FD_STEP 1e-2f
#define FD_ATOL 2e-3
#define FD_RTOL 1e-2

typedef struct {
    int N, C, HW;
} shape;

static const shape SHAPES[] = {
    { 2, 3, 5 }, { 3, 5, 7 }, { 4, 16, 64 }, { 1, 2, 9 }, { 7, 1, 13 }, { 5, 4, 1 },
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

static size_t numel(shape s) { return (size_t)s.N * s.C * s.HW; }

/* One batch norm problem with its buffers, filled from a seed, and the CPU context it runs on
 * (n_threads threads, 0 for the default); bn_case_free releases both. */
typedef struct {
    shape s;
    float *x, *y, *gamma, *beta, *mean, *invstd, *rmean, *rvar, *r;
    rv_ctx *ctx;
} bn_case;

static bn_case bn_case_make(shape s, uint64_t seed, float offset, int n_threads)
{
    size_t n = numel(s);
    bn_case t = { .s = s, .ctx = ref_cpu_ctx_threads(n_threads) };
    t.x = ref_alloc(n);
    t.y = ref_alloc(n);
    t.r = ref_alloc(n);
    t.gamma = ref_alloc(s.C);
    t.beta = ref_alloc(s.C);
    t.mean = ref_alloc(s.C);
    t.invstd = ref_alloc(s.C);
    t.rmean = ref_alloc(s.C);
    t.rvar = ref_alloc(s.C);
    ref_fill_uniform(t.x, n, seed, offset - 1.0f, offset + 1.0f);
    ref_fill_uniform(t.r, n, seed + 1, -1.0f, 1.0f);
    ref_fill_uniform(t.gamma, s.C, seed + 2, 0.5f, 2.0f);
    ref_fill_uniform(t.beta, s.C, seed + 3, -1.0f, 1.0f);
    ref_fill_uniform(t.rmean, s.C, seed + 4, -0.5f, 0.5f);
    ref_fill_uniform(t.rvar, s.C, seed + 5, 0.5f, 2.0f);
    return t;
}

static void bn_case_free(bn_case *t)
{
    float *bufs[] = { t->x, t->y, t->r, t->gamma, t->beta, t->mean, t->invstd, t->rmean, t->rvar };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    rv_ctx_destroy(t->ctx);
}

static void check_forward(shape s, float offset, double atol)
{
    bn_case t = bn_case_make(s, 11 + (uint64_t)s.N * 7 + s.C, offset, 0);
    size_t n = numel(s);
    double *ry = malloc(n * sizeof *ry), *rm = malloc(s.C * sizeof *rm),
           *rv = malloc(s.C * sizeof *rv);
    cr_assert(ry && rm && rv);
    ref_bn_forward(ry, rm, rv, t.x, t.gamma, t.beta, s.N, s.C, s.HW, RV_BN_EPS);

    cr_assert_eq(rv_bn_forward(t.ctx, t.y, t.mean, t.invstd, t.rmean, t.rvar, t.x, t.gamma,
                               t.beta, s.N, s.C, s.HW, RV_BN_TRAIN),
                 RV_OK, "%s", rv_ctx_message(t.ctx));
    double err = ref_max_abs_diff(t.y, ry, n);
    cr_expect_leq(err, atol, "y off by %g for N=%d C=%d HW=%d offset %g", err, s.N, s.C, s.HW,
                  (double)offset);
    for (int c = 0; c < s.C; c++) {
        /* Saved statistics are the float roundings of the exact ones: relative 1e-6. */
        cr_expect_leq(fabs(t.mean[c] - rm[c]), 1e-6 * (1.0 + fabs(rm[c])), "mean[%d]", c);
        double is = 1.0 / sqrt(rv[c] + RV_BN_EPS);
        cr_expect_leq(fabs(t.invstd[c] - is), 1e-6 * is, "invstd[%d]: %g vs %g", c,
                      (double)t.invstd[c], is);
    }
    free(ry);
    free(rm);
    free(rv);
    bn_case_free(&t);
}

Test(bn, forward_matches_two_pass_reference)
{
    for (size_t i = 0; i < N_SHAPES; i++) check_forward(SHAPES[i], 0.0f, FWD_ATOL);
}

Test(bn, forward_precise_far_from_zero)
{
    check_forward((shape){ 8, 3, 100 }, 1000.0f, OFFSET_ATOL);
}

Test(bn, forward_constant_channel_is_beta)
{
    /* Zero variance: xhat is exactly 0 (not NaN), so y = beta. */
    rv_ctx *ctx = ref_cpu_ctx();
    float x[12], y[12], g[2] = { 1.5f, 2.0f }, b[2] = { 0.25f, -3.0f }, m[2], is[2],
                        rm[2] = { 0, 0 }, rv[2] = { 1, 1 };
    for (int i = 0; i < 12; i++) x[i] = 7.3f;
    cr_assert_eq(rv_bn_forward(ctx, y, m, is, rm, rv, x, g, b, 2, 2, 3, RV_BN_TRAIN), RV_OK);
    for (int i = 0; i < 12; i++) cr_expect_eq(y[i], b[(i / 3) % 2], "y[%d] = %g", i, y[i]);
    /* invstd = 1/sqrt(eps) = 31.6: 1e-6 relative is ~16 ulps at that size. */
    cr_expect_leq(fabs(is[0] - 1.0 / sqrt((double)RV_BN_EPS)), 1e-6 / sqrt((double)RV_BN_EPS),
                  "invstd %g", (double)is[0]);
    rv_ctx_destroy(ctx);
}

Test(bn, train_updates_running_averages_with_decay)
{
    shape s = { 4, 3, 10 };
    bn_case t = bn_case_make(s, 5, 0.3f, 0);
    float rm0[3], rv0[3];
    memcpy(rm0, t.rmean, sizeof rm0);
    memcpy(rv0, t.rvar, sizeof rv0);
    double *ry = malloc(numel(s) * sizeof *ry), bm[3], bv[3];
    cr_assert_not_null(ry);
    ref_bn_forward(ry, bm, bv, t.x, t.gamma, t.beta, s.N, s.C, s.HW, RV_BN_EPS);
    cr_assert_eq(rv_bn_forward(t.ctx, t.y, t.mean, t.invstd, t.rmean, t.rvar, t.x, t.gamma,
                               t.beta, s.N, s.C, s.HW, RV_BN_TRAIN),
                 RV_OK);
    for (int c = 0; c < 3; c++) {
        /* m <- 0.99 m + 0.01 batch, with the BIASED batch variance (divided by M, not M-1;
         * for M = 40 the two differ by 2.5%, far above the 1e-6 tolerance of float math). */
        double em = 0.99 * rm0[c] + 0.01 * bm[c];
        double ev = 0.99 * rv0[c] + 0.01 * bv[c];
        cr_expect_leq(fabs(t.rmean[c] - em), 1e-6, "run_mean[%d] %g vs %g", c,
                      (double)t.rmean[c], em);
        cr_expect_leq(fabs(t.rvar[c] - ev), 1e-6, "run_var[%d] %g vs %g", c, (double)t.rvar[c],
                      ev);
    }
    free(ry);
    bn_case_free(&t);
}

Test(bn, recompute_leaves_running_averages_bit_identical)
{
    shape s = { 3, 5, 7 };
    size_t n = numel(s);
    bn_case t = bn_case_make(s, 77, 0.0f, 0);
    float rm0[5], rv0[5], m_tr[5], is_tr[5];
    memcpy(rm0, t.rmean, sizeof rm0);
    memcpy(rv0, t.rvar, sizeof rv0);
    float *y_tr = ref_alloc(n);

    cr_assert_eq(rv_bn_forward(t.ctx, t.y, t.mean, t.invstd, t.rmean, t.rvar, t.x, t.gamma,
                               t.beta, s.N, s.C, s.HW, RV_BN_RECOMPUTE),
                 RV_OK);
    cr_expect_eq(memcmp(t.rmean, rm0, sizeof rm0), 0, "RECOMPUTE changed run_mean");
    cr_expect_eq(memcmp(t.rvar, rv0, sizeof rv0), 0, "RECOMPUTE changed run_var");

    /* The same y and statistics as TRAIN, bit for bit (the reversible backward relies on
     * recomputing exactly what the forward produced). */
    float rm_copy[5], rv_copy[5];
    memcpy(rm_copy, rm0, sizeof rm0);
    memcpy(rv_copy, rv0, sizeof rv0);
    cr_assert_eq(rv_bn_forward(t.ctx, y_tr, m_tr, is_tr, rm_copy, rv_copy, t.x, t.gamma, t.beta,
                               s.N, s.C, s.HW, RV_BN_TRAIN),
                 RV_OK);
    cr_expect_eq(memcmp(y_tr, t.y, n * sizeof *y_tr), 0, "RECOMPUTE y differs from TRAIN y");
    cr_expect_eq(memcmp(m_tr, t.mean, sizeof m_tr), 0);
    cr_expect_eq(memcmp(is_tr, t.invstd, sizeof is_tr), 0);
    cr_expect_neq(memcmp(rm_copy, rm0, sizeof rm0), 0, "TRAIN should have moved run_mean");

    /* RECOMPUTE does not need the running averages at all. */
    cr_expect_eq(rv_bn_forward(t.ctx, t.y, t.mean, t.invstd, NULL, NULL, t.x, t.gamma, t.beta,
                               s.N, s.C, s.HW, RV_BN_RECOMPUTE),
                 RV_OK);
    free(y_tr);
    bn_case_free(&t);
}

Test(bn, eval_uses_running_averages)
{
    rv_ctx *ctx = ref_cpu_ctx();
    /* N=2, C=2, HW=2. run_var + eps = 1 and 4 give invstd 1 and 0.5 (up to float rounding of
     * 0.999 and 3.999), so y can be written down by hand:
     *   c0: y = 2 * (x - 1) * 1 + 0.5     c1: y = 1 * (x + 2) * 0.5 - 1 */
    float x[8] = { 1, 2, /* n0 c0 */ -2, 0, /* n0 c1 */ 3, -1, /* n1 c0 */ 2, 4 /* n1 c1 */ };
    const float expect[8] = { 0.5f, 2.5f, -1.0f, 0.0f, 4.5f, -3.5f, 1.0f, 2.0f };
    float g[2] = { 2, 1 }, b[2] = { 0.5f, -1 }, rm[2] = { 1, -2 }, rv[2] = { 0.999f, 3.999f };
    float y[8], sm[2] = { 42, 42 }, si[2] = { 42, 42 };
    cr_assert_eq(rv_bn_forward(ctx, y, sm, si, rm, rv, x, g, b, 2, 2, 2, RV_BN_EVAL), RV_OK,
                 "%s", rv_ctx_message(ctx));
    /* 1e-5: the only inexactness is 0.999f + 1e-3f != 1 by ~1e-7 relative. */
    for (int i = 0; i < 8; i++)
        cr_expect_leq(fabsf(y[i] - expect[i]), 1e-5f, "y[%d] = %g, expected %g", i, y[i],
                      expect[i]);
    cr_expect(rm[0] == 1 && rm[1] == -2 && rv[0] == 0.999f && rv[1] == 3.999f,
              "EVAL changed the running averages");
    cr_expect(sm[0] == 42 && si[1] == 42, "EVAL wrote save_mean/save_invstd");
    /* save_* may be NULL in EVAL. */
    cr_expect_eq(rv_bn_forward(ctx, y, NULL, NULL, rm, rv, x, g, b, 2, 2, 2, RV_BN_EVAL), RV_OK);
    rv_ctx_destroy(ctx);
}

Test(bn, forward_in_place_equals_out_of_place)
{
    shape s = { 4, 16, 64 };
    size_t n = numel(s);
    bn_case t = bn_case_make(s, 9, 0.0f, 0);
    float *xc = ref_alloc(n);
    memcpy(xc, t.x, n * sizeof *xc);
    cr_assert_eq(rv_bn_forward(t.ctx, t.y, t.mean, t.invstd, NULL, NULL, t.x, t.gamma, t.beta,
                               s.N, s.C, s.HW, RV_BN_RECOMPUTE),
                 RV_OK);
    cr_assert_eq(rv_bn_forward(t.ctx, xc, t.mean, t.invstd, NULL, NULL, xc, t.gamma, t.beta, s.N,
                               s.C, s.HW, RV_BN_RECOMPUTE),
                 RV_OK);
    cr_expect_eq(memcmp(xc, t.y, n * sizeof *xc), 0, "in-place forward differs");
    free(xc);
    bn_case_free(&t);
}

/* Finite differences: the loss is sum(r * y) with y from a RECOMPUTE forward, so its gradient
 * with respect to y is r. */
static double bn_loss(void *ud)
{
    bn_case *t = ud;
    cr_assert_eq(rv_bn_forward(t->ctx, t->y, t->mean, t->invstd, NULL, NULL, t->x, t->gamma,
                               t->beta, t->s.N, t->s.C, t->s.HW, RV_BN_RECOMPUTE),
                 RV_OK);
    return ref_dot(t->y, t->r, numel(t->s));
}

static void check_backward(shape s)
{
    size_t n = numel(s);
    bn_case t = bn_case_make(s, 1000 + (uint64_t)s.HW, 0.0f, 0);
    float *dx = ref_alloc(n), *dg = ref_alloc(s.C), *db = ref_alloc(s.C);
    memset(dg, 0, s.C * sizeof *dg);
    memset(db, 0, s.C * sizeof *db);
    cr_assert_eq(rv_bn_forward(t.ctx, t.y, t.mean, t.invstd, NULL, NULL, t.x, t.gamma, t.beta,
                               s.N, s.C, s.HW, RV_BN_RECOMPUTE),
                 RV_OK);
    cr_assert_eq(rv_bn_backward(t.ctx, dx, dg, db, t.r, t.x, t.mean, t.invstd, t.gamma, s.N, s.C,
                                s.HW, 0.0f),
                 RV_OK, "%s", rv_ctx_message(t.ctx));

    double *rdx = malloc(n * sizeof *rdx), *rdg = malloc(s.C * sizeof *rdg),
           *rdb = malloc(s.C * sizeof *rdb);
    cr_assert(rdx && rdg && rdb);
    ref_bn_backward(rdx, rdg, rdb, t.r, t.x, t.gamma, s.N, s.C, s.HW, RV_BN_EPS);
    /* d_gamma, d_beta are sums of up to M = 1024 O(1) terms: scale the tolerance by sqrt(M). */
    double sum_tol = BWD_ATOL * sqrt((double)s.N * s.HW);
    cr_expect_leq(ref_max_abs_diff(dx, rdx, n), BWD_ATOL, "d_x vs reference, shape %d %d %d",
                  s.N, s.C, s.HW);
    cr_expect_leq(ref_max_abs_diff(dg, rdg, s.C), sum_tol, "d_gamma vs reference");
    cr_expect_leq(ref_max_abs_diff(db, rdb, s.C), sum_tol, "d_beta vs reference");

    /* Large tensors: every 37th element keeps the cost to a few thousand forwards. */
    size_t stride = n > 512 ? 37 : 1, worst;
    double r = ref_grad_check(bn_loss, &t, t.x, dx, n, stride, FD_STEP, FD_ATOL, FD_RTOL, &worst);
    cr_expect_leq(r, 1.0, "d_x vs finite differences at %zu: %g (shape %d %d %d)", worst,
                  (double)dx[worst], s.N, s.C, s.HW);
    r = ref_grad_check(bn_loss, &t, t.gamma, dg, s.C, 1, FD_STEP, FD_ATOL, FD_RTOL, &worst);
    cr_expect_leq(r, 1.0, "d_gamma vs finite differences at %zu", worst);
    r = ref_grad_check(bn_loss, &t, t.beta, db, s.C, 1, FD_STEP, FD_ATOL, FD_RTOL, &worst);
    cr_expect_leq(r, 1.0, "d_beta vs finite differences at %zu", worst);

    free(rdx);
    free(rdg);
    free(rdb);
    free(dx);
    free(dg);
    free(db);
    bn_case_free(&t);
}

Test(bn, backward_matches_reference_and_finite_differences)
{
    for (size_t i = 0; i < N_SHAPES; i++) check_backward(SHAPES[i]);
}

Test(bn, backward_accumulates_and_runs_in_place)
{
    shape s = { 3, 4, 11 };
    size_t n = numel(s);
    bn_case t = bn_case_make(s, 31, 0.0f, 0);
    cr_assert_eq(rv_bn_forward(t.ctx, t.y, t.mean, t.invstd, NULL, NULL, t.x, t.gamma, t.beta,
                               s.N, s.C, s.HW, RV_BN_RECOMPUTE),
                 RV_OK);
    float *dx0 = ref_alloc(n), *dx1 = ref_alloc(n), *prev = ref_alloc(n), *dyc = ref_alloc(n);
    float dg0[4] = { 0 }, db0[4] = { 0 }, dg1[4], db1[4], dg2[4] = { 0 }, db2[4] = { 0 };
    ref_fill_uniform(prev, n, 99, -1, 1);
    ref_fill_uniform(dg1, 4, 98, -1, 1);
    ref_fill_uniform(db1, 4, 97, -1, 1);
    float dg1_start[4], db1_start[4];
    memcpy(dg1_start, dg1, sizeof dg1);
    memcpy(db1_start, db1, sizeof db1);

    /* Fresh gradient, overwriting garbage (NaN) in d_x: beta_acc 0 must not read it. */
    for (size_t i = 0; i < n; i++) dx0[i] = NAN;
    cr_assert_eq(rv_bn_backward(t.ctx, dx0, dg0, db0, t.r, t.x, t.mean, t.invstd, t.gamma, s.N,
                                s.C, s.HW, 0.0f),
                 RV_OK);
    for (size_t i = 0; i < n; i++) cr_assert(isfinite(dx0[i]), "d_x[%zu] not finite", i);

    /* beta_acc 1: d_x = prev + fresh; d_gamma, d_beta += fresh. Each is one float add of the
     * same fresh value, so the results are exact to one rounding: 1e-6 on O(1) values. */
    memcpy(dx1, prev, n * sizeof *dx1);
    cr_assert_eq(rv_bn_backward(t.ctx, dx1, dg1, db1, t.r, t.x, t.mean, t.invstd, t.gamma, s.N,
                                s.C, s.HW, 1.0f),
                 RV_OK);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(dx1[i], prev[i] + dx0[i], "d_x[%zu] did not accumulate", i);
    for (int c = 0; c < 4; c++) {
        cr_expect_eq(dg1[c], dg1_start[c] + dg0[c], "d_gamma[%d] did not accumulate", c);
        cr_expect_eq(db1[c], db1_start[c] + db0[c], "d_beta[%d] did not accumulate", c);
    }

    /* In place: d_x == d_y with beta_acc 0 gives the same bits as out of place. */
    memcpy(dyc, t.r, n * sizeof *dyc);
    cr_assert_eq(rv_bn_backward(t.ctx, dyc, dg2, db2, dyc, t.x, t.mean, t.invstd, t.gamma, s.N,
                                s.C, s.HW, 0.0f),
                 RV_OK);
    cr_expect_eq(memcmp(dyc, dx0, n * sizeof *dyc), 0, "in-place backward differs");
    cr_expect_eq(memcmp(dg2, dg0, sizeof dg0), 0);
    cr_expect_eq(memcmp(db2, db0, sizeof db0), 0);

    free(dx0);
    free(dx1);
    free(prev);
    free(dyc);
    bn_case_free(&t);
}

Test(bn, result_independent_of_thread_count)
{
    shape s = { 8, 16, 256 };
    size_t n = numel(s);
    float *y[2], *dx[2], dg[2][16], db[2][16], m[2][16], is[2][16];
    for (int k = 0; k < 2; k++) {
        bn_case t = bn_case_make(s, 4242, 0.0f, k + 1);
        y[k] = ref_alloc(n);
        dx[k] = ref_alloc(n);
        memset(dg[k], 0, sizeof dg[k]);
        memset(db[k], 0, sizeof db[k]);
        cr_assert_eq(rv_bn_forward(t.ctx, y[k], m[k], is[k], t.rmean, t.rvar, t.x, t.gamma,
                                   t.beta, s.N, s.C, s.HW, RV_BN_TRAIN),
                     RV_OK);
        cr_assert_eq(rv_bn_backward(t.ctx, dx[k], dg[k], db[k], t.r, t.x, m[k], is[k], t.gamma,
                                    s.N, s.C, s.HW, 0.0f),
                     RV_OK);
        bn_case_free(&t);
    }
    cr_expect_eq(memcmp(y[0], y[1], n * sizeof(float)), 0, "forward depends on threads");
    cr_expect_eq(memcmp(dx[0], dx[1], n * sizeof(float)), 0, "backward depends on threads");
    cr_expect_eq(memcmp(dg[0], dg[1], sizeof dg[0]), 0);
    cr_expect_eq(memcmp(db[0], db[1], sizeof db[0]), 0);
    for (int k = 0; k < 2; k++) {
        free(y[k]);
        free(dx[k]);
    }
}

Test(bn, bad_arguments_are_refused)
{
    rv_ctx *ctx = ref_cpu_ctx();
    float x[6] = { 0 }, y[6], g[2] = { 1, 1 }, b[2] = { 0 }, m[2], is[2], rm[2] = { 0 },
          rv[2] = { 1, 1 };
    EXPECT_ARG(ctx, rv_bn_forward(ctx, NULL, m, is, rm, rv, x, g, b, 1, 2, 3, RV_BN_TRAIN),
               "bn_forward");
    EXPECT_ARG(ctx, rv_bn_forward(ctx, y, m, is, rm, rv, x, NULL, b, 1, 2, 3, RV_BN_TRAIN),
               "bn_forward");
    EXPECT_ARG(ctx, rv_bn_forward(ctx, y, NULL, is, rm, rv, x, g, b, 1, 2, 3, RV_BN_TRAIN),
               "bn_forward");
    EXPECT_ARG(ctx, rv_bn_forward(ctx, y, m, is, NULL, rv, x, g, b, 1, 2, 3, RV_BN_EVAL),
               "bn_forward");
    EXPECT_ARG(ctx, rv_bn_forward(ctx, y, m, is, rm, rv, x, g, b, 0, 2, 3, RV_BN_TRAIN),
               "bn_forward");
    EXPECT_ARG(ctx, rv_bn_forward(ctx, y, m, is, rm, rv, x, g, b, 1, -2, 3, RV_BN_TRAIN),
               "bn_forward");
    EXPECT_ARG(ctx, rv_bn_forward(ctx, y, m, is, rm, rv, x, g, b, 1, 2, 3, (rv_bn_mode)7),
               "bn_forward");
    float dg[2] = { 0 }, db[2] = { 0 }, dx[6];
    EXPECT_ARG(ctx, rv_bn_backward(ctx, dx, NULL, db, y, x, m, is, g, 1, 2, 3, 0.0f),
               "bn_backward");
    EXPECT_ARG(ctx, rv_bn_backward(ctx, dx, dg, db, y, x, m, NULL, g, 1, 2, 3, 0.0f),
               "bn_backward");
    EXPECT_ARG(ctx, rv_bn_backward(ctx, dx, dg, db, y, x, m, is, g, 1, 2, 0, 0.0f),
               "bn_backward");
    EXPECT_ARG(ctx, rv_bn_backward(ctx, dx, dg, db, y, x, m, is, g, 1, 2, 3, 0.5f),
               "bn_backward");
    EXPECT_ARG(ctx, rv_bn_backward(ctx, y, dg, db, y, x, m, is, g, 1, 2, 3, 1.0f),
               "bn_backward");
    cr_expect_eq(rv_bn_forward(NULL, y, m, is, rm, rv, x, g, b, 1, 2, 3, RV_BN_TRAIN),
                 RV_ERR_ARG);
    rv_ctx_destroy(ctx);
}

Test(bn, dry_run_touches_nothing)
{
    rv_ctx *ctx = ref_cpu_ctx();
    float x[6] = { 1, 2, 3, 4, 5, 6 }, y[6], g[2] = { 1, 1 }, b[2] = { 0 }, m[2], is[2],
          rm[2] = { 0.5f, 0.5f }, rv[2] = { 1, 1 }, dx[6], dg[2], db[2];
    /* Sentinels everywhere an op could write. */
    for (int i = 0; i < 6; i++) y[i] = dx[i] = -7.0f;
    for (int i = 0; i < 2; i++) m[i] = is[i] = dg[i] = db[i] = -7.0f;
    float rm0[2], rv0[2];
    memcpy(rm0, rm, sizeof rm);
    memcpy(rv0, rv, sizeof rv);
    rv_ctx_set_dry_run(ctx, 1);
    cr_assert_eq(rv_bn_forward(ctx, y, m, is, rm, rv, x, g, b, 1, 2, 3, RV_BN_TRAIN), RV_OK);
    cr_assert_eq(rv_bn_backward(ctx, dx, dg, db, x, x, rm, rv, g, 1, 2, 3, 1.0f), RV_OK);
    /* Validation still runs in dry-run mode. */
    cr_expect_eq(rv_bn_forward(ctx, y, m, is, rm, rv, x, g, b, 0, 2, 3, RV_BN_TRAIN),
                 RV_ERR_ARG);
    rv_ctx_set_dry_run(ctx, 0);
    for (int i = 0; i < 6; i++) cr_expect(y[i] == -7.0f && dx[i] == -7.0f, "written at %d", i);
    for (int i = 0; i < 2; i++)
        cr_expect(m[i] == -7.0f && is[i] == -7.0f && dg[i] == -7.0f && db[i] == -7.0f);
    cr_expect_eq(memcmp(rm, rm0, sizeof rm), 0);
    cr_expect_eq(memcmp(rv, rv0, sizeof rv), 0);
    rv_ctx_destroy(ctx);
}
