/*
 * test_ops.c: the CPU ops other than convolution and batch norm (see test_batchnorm.c):
 * ReLU and elementwise arithmetic, pooling and channel padding, the linear layer, softmax
 * cross-entropy and SGD. Each forward against a naive reference, each backward against
 * central finite differences, plus aliasing, accumulation, argument checks and dry-run mode.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/activation.h>
#include <revnet/linear.h>
#include <revnet/loss.h>
#include <revnet/pool.h>
#include "ref_ops.h"
#include <revnet/sgd.h>

/* Ops that are exact in float (ReLU, copy, padding, max) are compared bit for bit. */

/* Sums of 4 (avgpool), HW (gap) or I (linear) float products, O(1) each, against double:
 * 1e-5 is ~100 ulps of the largest values involved, and far below any indexing mistake. */
#define SUM_ATOL 1e-5
/* Finite differences of piecewise-linear ops (ReLU, pooling, padding, linear): the central
 * difference is exact up to rounding once no kink lies within the step (inputs are generated
 * at least 2 steps from every kink), so what remains is float rounding of the outputs summed
 * into the loss: ~1e-7 * sqrt(n) / (2h) ~ 1e-4 at h = 1e-2. */
#define LIN_FD_STEP 1e-2f
#define LIN_FD_ATOL 1e-3
#define LIN_FD_RTOL 1e-3
/* Softmax cross-entropy is smooth with derivatives bounded by 1/N; step 1e-2 on logits of
 * spread 4 gives a truncation error ~h^2/6 * |f'''| ~ 2e-5 / N; rounding as above. */
#define XENT_FD_STEP 1e-2f
#define XENT_FD_ATOL 1e-4
#define XENT_FD_RTOL 1e-2

static double *dalloc(size_t n)
{
    double *p = malloc((n ? n : 1) * sizeof *p);
    cr_assert_not_null(p);
    return p;
}

/* ------------------------------------------------------------------ ReLU, elementwise */

typedef struct {
    rv_ctx *ctx;
    float *x, *y, *r;
    size_t n;
} relu_case;

static double relu_loss(void *ud)
{
    relu_case *t = ud;
    cr_assert_eq(rv_relu_forward(t->ctx, t->y, t->x, t->n), RV_OK);
    return ref_dot(t->y, t->r, t->n);
}

Test(relu, forward_backward_reference_fd_and_in_place)
{
    rv_ctx *ctx = ref_cpu_ctx();
    /* 70001: odd, and above the size where the loops go parallel. */
    const size_t sizes[] = { 1, 17, 70001 };
    for (size_t si = 0; si < 3; si++) {
        size_t n = sizes[si];
        relu_case t = { ctx, ref_alloc(n), ref_alloc(n), ref_alloc(n), n };
        float *dx = ref_alloc(n), *xc = ref_alloc(n);
        ref_fill_away_from_zero(t.x, n, 3 + n, 1.0f, 2.5f * LIN_FD_STEP);
        ref_fill_uniform(t.r, n, 4 + n, -1, 1);
        cr_assert_eq(rv_relu_forward(ctx, t.y, t.x, n), RV_OK);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(t.y[i], t.x[i] > 0 ? t.x[i] : 0.0f, "y[%zu]", i);
        cr_assert_eq(rv_relu_backward(ctx, dx, t.r, t.y, n), RV_OK);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(dx[i], t.x[i] > 0 ? t.r[i] : 0.0f, "d_x[%zu]", i);
        if (n < 100) {
            size_t worst;
            double q = ref_grad_check(relu_loss, &t, t.x, dx, n, 1, LIN_FD_STEP, LIN_FD_ATOL,
                                      LIN_FD_RTOL, &worst);
            cr_expect_leq(q, 1.0, "relu d_x vs finite differences at %zu", worst);
        }
        /* In place: y == x and d_x == d_y (y again from the unperturbed x: the finite
         * differences left it from x - h). */
        cr_assert_eq(rv_relu_forward(ctx, t.y, t.x, n), RV_OK);
        memcpy(xc, t.x, n * sizeof *xc);
        cr_assert_eq(rv_relu_forward(ctx, xc, xc, n), RV_OK);
        cr_expect_eq(memcmp(xc, t.y, n * sizeof *xc), 0, "in-place relu forward");
        memcpy(xc, t.r, n * sizeof *xc);
        cr_assert_eq(rv_relu_backward(ctx, xc, xc, t.y, n), RV_OK);
        cr_expect_eq(memcmp(xc, dx, n * sizeof *xc), 0, "in-place relu backward");
        free(t.x);
        free(t.y);
        free(t.r);
        free(dx);
        free(xc);
    }
    rv_ctx_destroy(ctx);
}

Test(elementwise, add_sub_axpy_copy_fill)
{
    rv_ctx *ctx = ref_cpu_ctx();
    const size_t n = 40003;
    float *a = ref_alloc(n), *b = ref_alloc(n), *o = ref_alloc(n), *c = ref_alloc(n);
    ref_fill_uniform(a, n, 1, -2, 2);
    ref_fill_uniform(b, n, 2, -2, 2);

    cr_assert_eq(rv_add(ctx, o, a, b, n), RV_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(o[i], a[i] + b[i]);
    cr_assert_eq(rv_sub(ctx, o, a, b, n), RV_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(o[i], a[i] - b[i]);

    /* Aliasing: out == a, out == b. */
    memcpy(c, a, n * sizeof *c);
    cr_assert_eq(rv_add(ctx, c, c, b, n), RV_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(c[i], a[i] + b[i]);
    memcpy(c, b, n * sizeof *c);
    cr_assert_eq(rv_sub(ctx, c, a, c, n), RV_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(c[i], a[i] - b[i]);

    memcpy(c, a, n * sizeof *c);
    cr_assert_eq(rv_axpy(ctx, c, -0.75f, b, n), RV_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(c[i], a[i] + -0.75f * b[i], "axpy %zu", i);

    cr_assert_eq(rv_copy(ctx, c, b, n), RV_OK);
    cr_expect_eq(memcmp(c, b, n * sizeof *c), 0);
    cr_assert_eq(rv_copy(ctx, c, c, n), RV_OK);
    cr_expect_eq(memcmp(c, b, n * sizeof *c), 0);
    cr_assert_eq(rv_fill(ctx, c, 3.5f, n), RV_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(c[i], 3.5f);

    EXPECT_ARG(ctx, rv_add(ctx, NULL, a, b, n), "add");
    EXPECT_ARG(ctx, rv_sub(ctx, o, a, NULL, n), "sub");
    EXPECT_ARG(ctx, rv_axpy(ctx, o, 1.0f, a, 0), "axpy");
    EXPECT_ARG(ctx, rv_copy(ctx, o, NULL, n), "copy");
    EXPECT_ARG(ctx, rv_fill(ctx, NULL, 0.0f, n), "fill");
    EXPECT_ARG(ctx, rv_relu_forward(ctx, o, a, 0), "relu_forward");
    EXPECT_ARG(ctx, rv_relu_backward(ctx, o, a, NULL, n), "relu_backward");
    free(a);
    free(b);
    free(o);
    free(c);
    rv_ctx_destroy(ctx);
}

/* ------------------------------------------------------------------ pooling, padding */

typedef struct {
    rv_ctx *ctx;
    float *x, *y, *r;
    int N, C, H, W, C_out, front;
    size_t ny;
    int op; /* 0 avgpool2, 1 chpad, 2 gap, 3 maxpool3s2 */
} pool_case;

static double pool_loss(void *ud)
{
    pool_case *t = ud;
    rv_status s = RV_ERR_ARG;
    switch (t->op) {
    case 0: s = rv_avgpool2_forward(t->ctx, t->y, t->x, t->N, t->C, t->H, t->W); break;
    case 1:
        s = rv_chpad_forward(t->ctx, t->y, t->x, t->N, t->C, t->C_out, t->H * t->W, t->front);
        break;
    case 2: s = rv_gap_forward(t->ctx, t->y, t->x, t->N, t->C, t->H * t->W); break;
    case 3: s = rv_maxpool3s2_forward(t->ctx, t->y, t->x, t->N, t->C, t->H, t->W); break;
    }
    cr_assert_eq(s, RV_OK, "%s", rv_ctx_message(t->ctx));
    return ref_dot(t->y, t->r, t->ny);
}

static void fd_check(pool_case *t, const float *dx, const char *what)
{
    size_t n = (size_t)t->N * t->C * t->H * t->W, worst;
    double q = ref_grad_check(pool_loss, t, t->x, dx, n, 1, LIN_FD_STEP, LIN_FD_ATOL,
                              LIN_FD_RTOL, &worst);
    cr_expect_leq(q, 1.0, "%s d_x vs finite differences at %zu (%d %d %d %d)", what, worst,
                  t->N, t->C, t->H, t->W);
}

static void pool_case_free(pool_case *t)
{
    free(t->x);
    free(t->y);
    free(t->r);
}

/* The backward of t's op into d_x with d_y = t->r; only avgpool2 and chpad take beta_acc. */
static rv_status pool_backward(pool_case *t, float *dx, float beta)
{
    if (t->op == 0) return rv_avgpool2_backward(t->ctx, dx, t->r, t->N, t->C, t->H, t->W, beta);
    return rv_chpad_backward(t->ctx, dx, t->r, t->N, t->C, t->C_out, t->H * t->W, t->front,
                             beta);
}

/* The backward of avgpool2 or chpad: with beta 0 into NaN (it must not read d_x) against finite
 * differences, then with beta 1 onto values drawn from seed: exactly their sum. */
static void check_backward_accumulates(pool_case *t, uint64_t seed, const char *what)
{
    size_t n = (size_t)t->N * t->C * t->H * t->W;
    float *dx = ref_alloc(n), *acc = ref_alloc(n), *prev = ref_alloc(n);
    for (size_t i = 0; i < n; i++) dx[i] = NAN;
    cr_assert_eq(pool_backward(t, dx, 0.0f), RV_OK);
    fd_check(t, dx, what);
    ref_fill_uniform(prev, n, seed, -1, 1);
    memcpy(acc, prev, n * sizeof *acc);
    cr_assert_eq(pool_backward(t, acc, 1.0f), RV_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(acc[i], prev[i] + dx[i], "beta=1 did not accumulate at %zu", i);
    free(dx);
    free(acc);
    free(prev);
}

Test(avgpool2, forward_reference_backward_fd_and_accumulate)
{
    rv_ctx *ctx = ref_cpu_ctx();
    const int dims[][4] = { { 2, 3, 4, 6 }, { 1, 1, 2, 2 }, { 3, 5, 8, 2 } };
    for (int d = 0; d < 3; d++) {
        int N = dims[d][0], C = dims[d][1], H = dims[d][2], W = dims[d][3];
        size_t n = (size_t)N * C * H * W, ny = n / 4;
        pool_case t = { ctx, ref_alloc(n), ref_alloc(ny), ref_alloc(ny), N, C, H, W, 0, 0,
                        ny, 0 };
        ref_fill_uniform(t.x, n, 10 + d, -1, 1);
        ref_fill_uniform(t.r, ny, 20 + d, -1, 1);
        cr_assert_eq(rv_avgpool2_forward(ctx, t.y, t.x, N, C, H, W), RV_OK);
        double *ry = dalloc(ny);
        for (int pl = 0; pl < N * C; pl++)
            for (int p = 0; p < H / 2; p++)
                for (int q = 0; q < W / 2; q++) {
                    const float *b = t.x + ((size_t)pl * H + 2 * p) * W + 2 * q;
                    ry[((size_t)pl * (H / 2) + p) * (W / 2) + q] =
                        ((double)b[0] + b[1] + b[W] + b[W + 1]) / 4.0;
                }
        cr_expect_leq(ref_max_abs_diff(t.y, ry, ny), SUM_ATOL, "avgpool2 forward");

        check_backward_accumulates(&t, 30 + d, "avgpool2");
        free(ry);
        pool_case_free(&t);
    }
    float x[12], y[3];
    cr_expect_eq(rv_avgpool2_forward(ctx, y, x, 1, 1, 3, 4), RV_ERR_SHAPE, "odd H accepted");
    EXPECT_ARG(ctx, rv_avgpool2_forward(ctx, y, NULL, 1, 1, 2, 2), "avgpool2_forward");
    EXPECT_ARG(ctx, rv_avgpool2_backward(ctx, x, y, 1, 1, 2, 2, 2.0f), "avgpool2_backward");
    EXPECT_ARG(ctx, rv_avgpool2_backward(ctx, x, y, 1, 0, 2, 2, 0.0f), "avgpool2_backward");
    rv_ctx_destroy(ctx);
}

Test(chpad, forward_reference_backward_fd_and_accumulate)
{
    rv_ctx *ctx = ref_cpu_ctx();
    /* {N, C, C_out, HW, front}: the release's symmetric padding, padding at one end only, and
     * no padding at all. */
    const int cases[][5] = { { 2, 3, 7, 5, 2 }, { 3, 2, 4, 9, 0 }, { 2, 4, 6, 3, 2 },
                             { 1, 3, 3, 4, 0 } };
    for (int k = 0; k < 4; k++) {
        int N = cases[k][0], C = cases[k][1], Co = cases[k][2], HW = cases[k][3],
            f = cases[k][4];
        size_t n = (size_t)N * C * HW, ny = (size_t)N * Co * HW;
        pool_case t = { ctx, ref_alloc(n), ref_alloc(ny), ref_alloc(ny), N, C, 1, HW, Co, f,
                        ny, 1 };
        ref_fill_uniform(t.x, n, 40 + k, -1, 1);
        ref_fill_uniform(t.r, ny, 50 + k, -1, 1);
        for (size_t i = 0; i < ny; i++) t.y[i] = NAN; /* every output must be written */
        cr_assert_eq(rv_chpad_forward(ctx, t.y, t.x, N, C, Co, HW, f), RV_OK);
        for (int nn = 0; nn < N; nn++)
            for (int c = 0; c < Co; c++)
                for (int i = 0; i < HW; i++) {
                    float e = (c >= f && c < f + C) ? t.x[((size_t)nn * C + c - f) * HW + i]
                                                    : 0.0f;
                    cr_assert_eq(t.y[((size_t)nn * Co + c) * HW + i], e, "chpad y %d %d %d",
                                 nn, c, i);
                }
        check_backward_accumulates(&t, 60 + k, "chpad");
        pool_case_free(&t);
    }
    float x[8], y[16];
    cr_expect_eq(rv_chpad_forward(ctx, y, x, 1, 2, 4, 2, 3), RV_ERR_SHAPE, "C + front > C_out");
    cr_expect_eq(rv_chpad_forward(ctx, y, x, 1, 2, 4, 2, -1), RV_ERR_SHAPE, "negative front");
    cr_expect_eq(rv_chpad_backward(ctx, x, y, 1, 5, 4, 2, 0, 0.0f), RV_ERR_SHAPE, "C > C_out");
    EXPECT_ARG(ctx, rv_chpad_forward(ctx, NULL, x, 1, 2, 4, 2, 1), "chpad_forward");
    EXPECT_ARG(ctx, rv_chpad_backward(ctx, x, y, 1, 2, 4, 2, 1, -1.0f), "chpad_backward");
    rv_ctx_destroy(ctx);
}

Test(gap, forward_reference_and_backward_fd)
{
    rv_ctx *ctx = ref_cpu_ctx();
    const int N = 3, C = 5, H = 7, W = 9;
    size_t n = (size_t)N * C * H * W, ny = (size_t)N * C;
    pool_case t = { ctx, ref_alloc(n), ref_alloc(ny), ref_alloc(ny), N, C, H, W, 0, 0, ny, 2 };
    ref_fill_uniform(t.x, n, 70, -1, 1);
    ref_fill_uniform(t.r, ny, 71, -1, 1);
    cr_assert_eq(rv_gap_forward(ctx, t.y, t.x, N, C, H * W), RV_OK);
    double *ry = dalloc(ny);
    for (size_t pl = 0; pl < ny; pl++) {
        double s = 0;
        for (int i = 0; i < H * W; i++) s += t.x[pl * H * W + i];
        ry[pl] = s / (H * W);
    }
    cr_expect_leq(ref_max_abs_diff(t.y, ry, ny), SUM_ATOL, "gap forward");
    float *dx = ref_alloc(n);
    for (size_t i = 0; i < n; i++) dx[i] = NAN; /* overwrites */
    cr_assert_eq(rv_gap_backward(ctx, dx, t.r, N, C, H * W), RV_OK);
    fd_check(&t, dx, "gap");
    EXPECT_ARG(ctx, rv_gap_forward(ctx, t.y, t.x, N, C, 0), "gap_forward");
    EXPECT_ARG(ctx, rv_gap_backward(ctx, NULL, t.r, N, C, 4), "gap_backward");
    free(ry);
    free(dx);
    pool_case_free(&t);
    rv_ctx_destroy(ctx);
}

Test(maxpool3s2, output_size_and_hand_examples)
{
    int P, Q;
    rv_maxpool3s2_out(7, 8, &P, &Q);
    cr_expect(P == 4 && Q == 4, "7x8 -> %dx%d", P, Q);
    rv_maxpool3s2_out(1, 112, &P, &Q);
    cr_expect(P == 1 && Q == 56, "1x112 -> %dx%d", P, Q);

    rv_ctx *ctx = ref_cpu_ctx();
    /* 3x3 input 0..8, odd: SAME pads one row/column on each side, windows start at -1 and 1:
     *   y = [[max(0,1,3,4), max(1,2,4,5)], [max(3,4,6,7), max(4,5,7,8)]] = [[4,5],[7,8]] */
    float x3[9], y3[4];
    for (int i = 0; i < 9; i++) x3[i] = (float)i;
    cr_assert_eq(rv_maxpool3s2_forward(ctx, y3, x3, 1, 1, 3, 3), RV_OK);
    const float e3[4] = { 4, 5, 7, 8 };
    cr_expect_eq(memcmp(y3, e3, sizeof e3), 0, "3x3: %g %g %g %g", y3[0], y3[1], y3[2], y3[3]);
    /* 4x4 input 0..15, even: padding only after (bottom/right), windows start at 0 and 2:
     *   y = [[10, 11], [14, 15]] */
    float x4[16], y4[4];
    for (int i = 0; i < 16; i++) x4[i] = (float)i;
    cr_assert_eq(rv_maxpool3s2_forward(ctx, y4, x4, 1, 1, 4, 4), RV_OK);
    const float e4[4] = { 10, 11, 14, 15 };
    cr_expect_eq(memcmp(y4, e4, sizeof e4), 0, "4x4: %g %g %g %g", y4[0], y4[1], y4[2], y4[3]);
    /* Negative inputs: padding must act as -inf, not 0. */
    for (int i = 0; i < 16; i++) x4[i] = -1.0f - (float)i;
    cr_assert_eq(rv_maxpool3s2_forward(ctx, y4, x4, 1, 1, 4, 4), RV_OK);
    const float e4n[4] = { -1, -3, -9, -11 };
    cr_expect_eq(memcmp(y4, e4n, sizeof e4n), 0, "4x4 negative: %g %g %g %g", y4[0], y4[1],
                 y4[2], y4[3]);
    rv_ctx_destroy(ctx);
}

Test(maxpool3s2, forward_reference_and_backward_fd_odd_and_even)
{
    rv_ctx *ctx = ref_cpu_ctx();
    const int dims[][4] = { { 2, 3, 7, 7 }, { 1, 2, 8, 8 }, { 2, 2, 5, 6 }, { 1, 1, 1, 1 },
                            { 1, 3, 2, 9 } };
    for (int d = 0; d < 5; d++) {
        int N = dims[d][0], C = dims[d][1], H = dims[d][2], W = dims[d][3], P, Q;
        rv_maxpool3s2_out(H, W, &P, &Q);
        size_t n = (size_t)N * C * H * W, ny = (size_t)N * C * P * Q;
        pool_case t = { ctx, ref_alloc(n), ref_alloc(ny), ref_alloc(ny), N, C, H, W, 0, 0,
                        ny, 3 };
        /* Distinct values 3 steps apart: no ties, and a step of h never changes the argmax. */
        ref_fill_distinct(t.x, n, 80 + d, -1.0f, 3.0f * LIN_FD_STEP);
        ref_fill_uniform(t.r, ny, 90 + d, -1, 1);
        cr_assert_eq(rv_maxpool3s2_forward(ctx, t.y, t.x, N, C, H, W), RV_OK);
        double *ry = dalloc(ny);
        ref_maxpool3s2(ry, t.x, N, C, H, W);
        cr_expect_eq(ref_max_abs_diff(t.y, ry, ny), 0.0, "maxpool forward %dx%d", H, W);
        float *dx = ref_alloc(n);
        for (size_t i = 0; i < n; i++) dx[i] = NAN; /* overwrites */
        cr_assert_eq(rv_maxpool3s2_backward(ctx, dx, t.r, t.x, t.y, N, C, H, W), RV_OK);
        fd_check(&t, dx, "maxpool3s2");
        free(ry);
        free(dx);
        pool_case_free(&t);
    }
    rv_ctx_destroy(ctx);
}

Test(maxpool3s2, ties_route_to_first_maximum)
{
    rv_ctx *ctx = ref_cpu_ctx();
    /* 2x2 even input, one window covering all four: all equal, so the gradient goes to the
     * first element in row-major order. */
    float x[4] = { 1, 1, 1, 1 }, y[1], dy[1] = { 2.5f }, dx[4];
    cr_assert_eq(rv_maxpool3s2_forward(ctx, y, x, 1, 1, 2, 2), RV_OK);
    cr_assert_eq(rv_maxpool3s2_backward(ctx, dx, dy, x, y, 1, 1, 2, 2), RV_OK);
    cr_expect(dx[0] == 2.5f && dx[1] == 0 && dx[2] == 0 && dx[3] == 0, "%g %g %g %g", dx[0],
              dx[1], dx[2], dx[3]);
    EXPECT_ARG(ctx, rv_maxpool3s2_forward(ctx, y, x, 1, 1, 0, 2), "maxpool3s2_forward");
    EXPECT_ARG(ctx, rv_maxpool3s2_backward(ctx, dx, dy, x, NULL, 1, 1, 2, 2),
               "maxpool3s2_backward");
    rv_ctx_destroy(ctx);
}

/* ------------------------------------------------------------------ linear */

typedef struct {
    rv_ctx *ctx;
    float *x, *w, *b, *y, *r;
    int N, I, O;
} lin_case;

static double lin_loss(void *ud)
{
    lin_case *t = ud;
    cr_assert_eq(rv_linear_forward(t->ctx, t->y, t->x, t->w, t->b, t->N, t->I, t->O), RV_OK);
    return ref_dot(t->y, t->r, (size_t)t->N * t->O);
}

Test(linear, forward_reference_backward_fd_and_accumulate)
{
    rv_ctx *ctx = ref_cpu_ctx();
    const int dims[][3] = { { 5, 7, 3 }, { 1, 64, 10 }, { 13, 9, 11 } };
    for (int d = 0; d < 3; d++) {
        int N = dims[d][0], I = dims[d][1], O = dims[d][2];
        size_t nx = (size_t)N * I, nw = (size_t)O * I, ny = (size_t)N * O;
        lin_case t = { ctx, ref_alloc(nx), ref_alloc(nw), ref_alloc(O), ref_alloc(ny),
                       ref_alloc(ny), N, I, O };
        ref_fill_uniform(t.x, nx, 100 + d, -1, 1);
        ref_fill_uniform(t.w, nw, 110 + d, -1, 1);
        ref_fill_uniform(t.b, O, 120 + d, -1, 1);
        ref_fill_uniform(t.r, ny, 130 + d, -1, 1);
        cr_assert_eq(rv_linear_forward(ctx, t.y, t.x, t.w, t.b, N, I, O), RV_OK);
        double *ry = dalloc(ny);
        ref_linear(ry, t.x, t.w, t.b, N, I, O);
        /* Sums of I = 64 products: scale the per-term tolerance by sqrt(I). */
        cr_expect_leq(ref_max_abs_diff(t.y, ry, ny), SUM_ATOL * sqrt(I), "linear forward");

        float *dx = ref_alloc(nx), *dw = ref_alloc(nw), *db = ref_alloc(O);
        float *dw0 = ref_alloc(nw), *db0 = ref_alloc(O);
        for (size_t i = 0; i < nx; i++) dx[i] = NAN; /* d_x overwrites */
        memset(dw, 0, nw * sizeof *dw);
        memset(db, 0, O * sizeof *db);
        cr_assert_eq(rv_linear_backward(ctx, dx, dw, db, t.r, t.x, t.w, N, I, O), RV_OK);
        size_t worst;
        double q = ref_grad_check(lin_loss, &t, t.x, dx, nx, 1, LIN_FD_STEP, LIN_FD_ATOL,
                                  LIN_FD_RTOL, &worst);
        cr_expect_leq(q, 1.0, "linear d_x vs finite differences at %zu", worst);
        q = ref_grad_check(lin_loss, &t, t.w, dw, nw, 1, LIN_FD_STEP, LIN_FD_ATOL, LIN_FD_RTOL,
                           &worst);
        cr_expect_leq(q, 1.0, "linear d_w vs finite differences at %zu", worst);
        q = ref_grad_check(lin_loss, &t, t.b, db, O, 1, LIN_FD_STEP, LIN_FD_ATOL, LIN_FD_RTOL,
                           &worst);
        cr_expect_leq(q, 1.0, "linear d_b vs finite differences at %zu", worst);

        /* A second call with d_x NULL adds the same d_w, d_b again: twice the first result.
         * 1e-6 relative allows BLAS to fold the old d_w into its sums in another order. */
        memcpy(dw0, dw, nw * sizeof *dw0);
        memcpy(db0, db, O * sizeof *db0);
        cr_assert_eq(rv_linear_backward(ctx, NULL, dw, db, t.r, t.x, t.w, N, I, O), RV_OK);
        for (size_t i = 0; i < nw; i++)
            cr_assert_leq(fabs(dw[i] - 2.0 * dw0[i]), 1e-6 * (1e-3 + fabs(dw0[i])),
                          "d_w did not accumulate at %zu", i);
        for (int o = 0; o < O; o++)
            cr_assert_eq(db[o], 2.0f * db0[o], "d_b did not accumulate at %d", o);

        free(ry);
        free(dx);
        free(dw);
        free(db);
        free(dw0);
        free(db0);
        free(t.x);
        free(t.w);
        free(t.b);
        free(t.y);
        free(t.r);
    }
    float a[4];
    EXPECT_ARG(ctx, rv_linear_forward(ctx, a, NULL, a, a, 1, 2, 2), "linear_forward");
    EXPECT_ARG(ctx, rv_linear_forward(ctx, a, a, a, a, 1, 0, 2), "linear_forward");
    EXPECT_ARG(ctx, rv_linear_backward(ctx, a, NULL, a, a, a, a, 1, 2, 2), "linear_backward");
    EXPECT_ARG(ctx, rv_linear_backward(ctx, a, a, a, a, a, a, 1, 2, -1), "linear_backward");
    rv_ctx_destroy(ctx);
}

Test(linear, without_bias)
{
    rv_ctx *ctx = ref_cpu_ctx();
    /* x = [[1, 2]], W = [[3, 4], [5, -6]]: y = [[11, -7]], whatever y held before. */
    float x[2] = { 1, 2 }, w[4] = { 3, 4, 5, -6 }, y[2] = { NAN, NAN };
    cr_assert_eq(rv_linear_forward(ctx, y, x, w, NULL, 1, 2, 2), RV_OK, "%s",
                 rv_ctx_message(ctx));
    cr_expect(y[0] == 11.0f && y[1] == -7.0f, "y = %g %g", y[0], y[1]);
    /* d_b NULL: only d_x and d_w. d_w += d_y^T x = [[1, 2], [-2, -4]] onto ones. */
    float dy[2] = { 1, -2 }, dx[2], dw[4] = { 1, 1, 1, 1 };
    cr_assert_eq(rv_linear_backward(ctx, dx, dw, NULL, dy, x, w, 1, 2, 2), RV_OK);
    cr_expect(dx[0] == -7.0f && dx[1] == 16.0f, "d_x = %g %g", dx[0], dx[1]);
    cr_expect(dw[0] == 2.0f && dw[1] == 3.0f && dw[2] == -1.0f && dw[3] == -3.0f,
              "d_w = %g %g %g %g", dw[0], dw[1], dw[2], dw[3]);
    rv_ctx_destroy(ctx);
}

/* ------------------------------------------------------------------ softmax cross-entropy */

typedef struct {
    rv_ctx *ctx;
    float *z, *loss;
    int32_t *labels, *pred;
    int N, K;
} xent_case;

/* The batch-mean loss L = (1/N) sum_i loss_i, summed in double. */
static double xent_loss(void *ud)
{
    xent_case *t = ud;
    cr_assert_eq(rv_softmax_xent(t->ctx, t->loss, t->pred, NULL, t->z, t->labels, t->N, t->K),
                 RV_OK);
    double s = 0;
    for (int i = 0; i < t->N; i++) s += t->loss[i];
    return s / t->N;
}

Test(softmax_xent, reference_argmax_and_finite_differences)
{
    rv_ctx *ctx = ref_cpu_ctx();
    const int dims[][2] = { { 7, 10 }, { 1, 3 }, { 100, 10 } };
    for (int d = 0; d < 3; d++) {
        int N = dims[d][0], K = dims[d][1];
        size_t nz = (size_t)N * K;
        xent_case t = { ctx, ref_alloc(nz), ref_alloc(N), malloc(N * sizeof(int32_t)),
                        malloc(N * sizeof(int32_t)), N, K };
        cr_assert(t.labels && t.pred);
        ref_fill_uniform(t.z, nz, 200 + d, -2, 2);
        for (int i = 0; i < N; i++) t.labels[i] = (i * 7 + d) % K;
        float *dz = ref_alloc(nz);
        for (size_t i = 0; i < nz; i++) dz[i] = NAN; /* overwrites */
        cr_assert_eq(rv_softmax_xent(ctx, t.loss, t.pred, dz, t.z, t.labels, N, K), RV_OK, "%s",
                     rv_ctx_message(ctx));
        double *rl = dalloc(N);
        ref_xent(rl, t.z, t.labels, N, K);
        /* Losses are O(1), computed in double and rounded once: 1e-6. */
        cr_expect_leq(ref_max_abs_diff(t.loss, rl, N), 1e-6, "per-sample losses");
        for (int i = 0; i < N; i++) {
            int arg = 0;
            for (int k = 1; k < K; k++)
                if (t.z[(size_t)i * K + k] > t.z[(size_t)i * K + arg]) arg = k;
            cr_expect_eq(t.pred[i], arg, "pred[%d]", i);
            /* Each gradient row sums to (1 - 1)/N = 0. */
            double rs = 0;
            for (int k = 0; k < K; k++) rs += dz[(size_t)i * K + k];
            cr_expect_leq(fabs(rs), 1e-7, "row %d of d_logits sums to %g", i, rs);
        }
        size_t worst;
        double q = ref_grad_check(xent_loss, &t, t.z, dz, nz, nz > 200 ? 7 : 1, XENT_FD_STEP,
                                  XENT_FD_ATOL / N, XENT_FD_RTOL, &worst);
        cr_expect_leq(q, 1.0, "d_logits vs finite differences at %zu (N=%d K=%d)", worst, N, K);
        free(rl);
        free(dz);
        free(t.z);
        free(t.loss);
        free(t.labels);
        free(t.pred);
    }
    rv_ctx_destroy(ctx);
}

Test(softmax_xent, huge_logits_stay_finite_and_ties_pick_first)
{
    rv_ctx *ctx = ref_cpu_ctx();
    /* Row 0: a naive exp(3e38) overflows; the shifted form gives loss 0 for the right label.
     * Row 1: the label's logit is 2e38 below the max: loss 2e38 (finite), gradient -1/N there.
     * Row 2: a tie between entries 1 and 2: pred is 1, and each gets half the probability. */
    float z[9] = { 3e38f, -3e38f, 0.0f, 1e38f, -1e38f, 0.0f, -5.0f, 80.0f, 80.0f };
    int32_t labels[3] = { 0, 1, 2 }, pred[3];
    float loss[3], dz[9];
    cr_assert_eq(rv_softmax_xent(ctx, loss, pred, dz, z, labels, 3, 3), RV_OK);
    for (int i = 0; i < 9; i++) cr_expect(isfinite(dz[i]), "d_logits[%d] = %g", i, dz[i]);
    for (int i = 0; i < 3; i++) cr_expect(isfinite(loss[i]), "loss[%d] = %g", i, loss[i]);
    cr_expect_eq(loss[0], 0.0f);
    cr_expect_float_eq(loss[1], 2e38f, 1e32f);
    cr_expect_float_eq(loss[2], (float)log(2.0), 1e-6f);
    cr_expect(pred[0] == 0 && pred[1] == 0 && pred[2] == 1, "pred %d %d %d", pred[0], pred[1],
              pred[2]);
    cr_expect_float_eq(dz[4], -1.0f / 3.0f, 1e-7f);
    cr_expect_float_eq(dz[7], 0.5f / 3.0f, 1e-7f);
    cr_expect_float_eq(dz[8], (0.5f - 1.0f) / 3.0f, 1e-7f);
    rv_ctx_destroy(ctx);
}

Test(softmax_xent, bad_labels_and_arguments)
{
    rv_ctx *ctx = ref_cpu_ctx();
    float z[6] = { 0 }, loss[2] = { -1, -1 }, dz[6];
    int32_t pred[2] = { -9, -9 }, bad_hi[2] = { 0, 3 }, bad_lo[2] = { -1, 0 };
    EXPECT_ARG(ctx, rv_softmax_xent(ctx, loss, pred, dz, z, bad_hi, 2, 3), "label 3");
    EXPECT_ARG(ctx, rv_softmax_xent(ctx, loss, pred, dz, z, bad_lo, 2, 3), "label -1");
    cr_expect(loss[0] == -1 && pred[0] == -9, "outputs written despite a bad label");
    int32_t ok[2] = { 0, 2 };
    EXPECT_ARG(ctx, rv_softmax_xent(ctx, NULL, pred, dz, z, ok, 2, 3), "softmax_xent");
    EXPECT_ARG(ctx, rv_softmax_xent(ctx, loss, pred, dz, z, NULL, 2, 3), "softmax_xent");
    EXPECT_ARG(ctx, rv_softmax_xent(ctx, loss, pred, dz, z, ok, 2, 0), "softmax_xent");
    rv_ctx_destroy(ctx);
}

/* ------------------------------------------------------------------ SGD */

Test(sgd, matches_hand_written_update)
{
    rv_ctx *ctx = ref_cpu_ctx();
    /* lr 0.1, momentum 0.9, wd 0.5; values chosen so every product is exact in binary:
     *   v = 0.9 v + (g + 0.5 w);  w = w - 0.1 v
     *   i=0: w 2, v 1, g 0.5  -> v = 0.9 + 1.5 = 2.4,   w = 2 - 0.24 = 1.76
     *   i=1: w -4, v 0, g 1   -> v = 0 + (1 - 2) = -1,  w = -4 + 0.1 = -3.9
     *   i=2: w 0, v -2, g 0   -> v = -1.8,             w = 0.18 */
    float w[3] = { 2, -4, 0 }, v[3] = { 1, 0, -2 }, g[3] = { 0.5f, 1, 0 };
    const float ev[3] = { 2.4f, -1.0f, -1.8f }, ew[3] = { 1.76f, -3.9f, 0.18f };
    cr_assert_eq(rv_sgd_update(ctx, w, v, g, 3, 0.1f, 0.9f, 0.5f), RV_OK);
    /* 1e-6: lr and momentum are not exact in binary, so each result is a few roundings away
     * from the decimal one. */
    for (int i = 0; i < 3; i++) {
        cr_expect_float_eq(v[i], ev[i], 1e-6f, "v[%d] = %.9g", i, v[i]);
        cr_expect_float_eq(w[i], ew[i], 1e-6f, "w[%d] = %.9g", i, w[i]);
    }
    /* A second step from there, against the same formula evaluated in float here. */
    float w2 = w[0], v2 = v[0];
    v2 = 0.9f * v2 + (0.25f + 0.5f * w2);
    w2 = w2 - 0.1f * v2;
    float g2[3] = { 0.25f, 0.25f, 0.25f };
    cr_assert_eq(rv_sgd_update(ctx, w, v, g2, 3, 0.1f, 0.9f, 0.5f), RV_OK);
    cr_expect_float_eq(v[0], v2, 1e-6f);
    cr_expect_float_eq(w[0], w2, 1e-6f);

    EXPECT_ARG(ctx, rv_sgd_update(ctx, w, NULL, g, 3, 0.1f, 0.9f, 0.0f), "sgd_update");
    EXPECT_ARG(ctx, rv_sgd_update(ctx, w, v, g, 0, 0.1f, 0.9f, 0.0f), "sgd_update");
    EXPECT_ARG(ctx, rv_sgd_update(ctx, w, v, g, 3, NAN, 0.9f, 0.0f), "sgd_update");
    EXPECT_ARG(ctx, rv_sgd_update(ctx, w, v, g, 3, 0.1f, -0.9f, 0.0f), "sgd_update");
    rv_ctx_destroy(ctx);
}

Test(sgd, large_array_matches_scalar_loop)
{
    rv_ctx *ctx = ref_cpu_ctx_threads(2);
    const size_t n = 100003;
    float *w = ref_alloc(n), *v = ref_alloc(n), *g = ref_alloc(n), *ew = ref_alloc(n),
          *ev = ref_alloc(n);
    ref_fill_uniform(w, n, 300, -1, 1);
    ref_fill_uniform(v, n, 301, -1, 1);
    ref_fill_uniform(g, n, 302, -1, 1);
    for (size_t i = 0; i < n; i++) {
        ev[i] = 0.9f * v[i] + (g[i] + 2e-4f * w[i]);
        ew[i] = w[i] - 0.1f * ev[i];
    }
    cr_assert_eq(rv_sgd_update(ctx, w, v, g, n, 0.1f, 0.9f, 2e-4f), RV_OK);
    /* The same float expression, so the only freedom is FMA contraction: 1 ulp of O(1). */
    cr_expect_leq(ref_max_abs_diff_ff(v, ev, n), 4e-7, "v");
    cr_expect_leq(ref_max_abs_diff_ff(w, ew, n), 4e-7, "w");
    free(w);
    free(v);
    free(g);
    free(ew);
    free(ev);
    rv_ctx_destroy(ctx);
}

/* ------------------------------------------------------------------ dry run */

Test(dry_run, no_op_writes_anything)
{
    rv_ctx *ctx = ref_cpu_ctx();
    enum { N = 64 };
    float a[N], b[N], o[N], o0[N];
    int32_t labels[4] = { 0, 1, 2, 3 }, pred[4] = { -5, -5, -5, -5 };
    for (int i = 0; i < N; i++) {
        a[i] = (float)i - 30.0f;
        b[i] = 0.5f * (float)i;
        o[i] = o0[i] = -123.0f;
    }
    float w[N], v[N];
    memcpy(w, o0, sizeof w);
    memcpy(v, o0, sizeof v);
    rv_ctx_set_dry_run(ctx, 1);
    cr_assert_eq(rv_relu_forward(ctx, o, a, N), RV_OK);
    cr_assert_eq(rv_relu_backward(ctx, o, a, b, N), RV_OK);
    cr_assert_eq(rv_add(ctx, o, a, b, N), RV_OK);
    cr_assert_eq(rv_sub(ctx, o, a, b, N), RV_OK);
    cr_assert_eq(rv_axpy(ctx, o, 2.0f, a, N), RV_OK);
    cr_assert_eq(rv_copy(ctx, o, a, N), RV_OK);
    cr_assert_eq(rv_fill(ctx, o, 1.0f, N), RV_OK);
    cr_assert_eq(rv_avgpool2_forward(ctx, o, a, 1, 1, 8, 8), RV_OK);
    cr_assert_eq(rv_avgpool2_backward(ctx, o, a, 1, 1, 8, 8, 1.0f), RV_OK);
    cr_assert_eq(rv_chpad_forward(ctx, o, a, 1, 2, 4, 8, 1), RV_OK);
    cr_assert_eq(rv_chpad_backward(ctx, o, a, 1, 2, 4, 8, 1, 0.0f), RV_OK);
    cr_assert_eq(rv_gap_forward(ctx, o, a, 2, 2, 16), RV_OK);
    cr_assert_eq(rv_gap_backward(ctx, o, a, 2, 2, 16), RV_OK);
    cr_assert_eq(rv_maxpool3s2_forward(ctx, o, a, 1, 1, 8, 8), RV_OK);
    cr_assert_eq(rv_maxpool3s2_backward(ctx, o, a, a, b, 1, 1, 8, 8), RV_OK);
    cr_assert_eq(rv_linear_forward(ctx, o, a, b, a, 4, 4, 4), RV_OK);
    cr_assert_eq(rv_linear_backward(ctx, o, w, v, a, b, a, 4, 4, 4), RV_OK);
    /* Labels are out of range for K = 2, but a dry run reads no buffer, labels included. */
    cr_assert_eq(rv_softmax_xent(ctx, o, pred, w, a, labels, 4, 2), RV_OK);
    cr_assert_eq(rv_sgd_update(ctx, w, v, a, N, 0.1f, 0.9f, 0.0f), RV_OK);
    /* Arguments are still checked. */
    cr_expect_eq(rv_add(ctx, o, NULL, b, N), RV_ERR_ARG);
    rv_ctx_set_dry_run(ctx, 0);
    cr_expect_eq(memcmp(o, o0, sizeof o), 0, "an op wrote its output in dry-run mode");
    cr_expect_eq(memcmp(w, o0, sizeof w), 0);
    cr_expect_eq(memcmp(v, o0, sizeof v), 0);
    cr_expect(pred[0] == -5 && pred[3] == -5);
    rv_ctx_destroy(ctx);
}
