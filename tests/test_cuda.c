/*
 * test_cuda.c: the CUDA backend against the CPU backend, op by op, through the public ops on
 * one CPU and one CUDA context fed the same random inputs: convolution (3x3 and 1x1, stride 1
 * and 2, the asymmetric SAME case, a 7x7/2 stem, odd and non-square sizes; forward, backward
 * data with beta 0 and 1, backward filter accumulating), batch norm in its three modes and its
 * backward, ReLU and the elementwise ops, the pooling ops, linear, softmax cross-entropy and
 * SGD; plus the backend's own contract: clear errors, describe(), TF32 only when allowed.
 *
 * Without a GPU (or without the CUDA build) every test is skipped with the reason the context
 * could not be created, so the suite passes on CPU-only machines and CI.
 *
 * Tolerances are relative to max(max |cpu value|, 1) over the compared tensor.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/activation.h>
#include <revnet/batchnorm.h>
#include <revnet/context.h>
#include <revnet/conv.h>
#include "cuda_compare.h"
#include "cuda_fixture.h"
#include <revnet/linear.h>
#include <revnet/loss.h>
#include <revnet/pool.h>
#include "ref_ops.h"
#include <revnet/sgd.h>

/* Ops that are exact in IEEE float on both sides (max, copy, select, one rounding of the same
 * operation): any difference is a bug. */
#define EXACT_TOL 0.0
/* Elementwise ops with one or two roundings: nvcc contracts a * b + c into one FMA where gcc
 * (no -march) rounds twice, so results may differ by an ulp or two (~1.2e-7 relative). */
#define ELEMENTWISE_TOL 1e-6
/* Global average pooling: both sides sum in double (in different orders) and round once, so
 * they differ by at most an ulp or so; the elementwise tolerance applies. */
/* Convolutions in FP32: sums of C*R*S (forward), K*R*S (backward data) or N*P*Q (backward
 * filter, up to 4096 here) products in whatever order and algorithm cuDNN picks; the CPU
 * uses im2col + GEMM. Direct and GEMM algorithms differ from it by ~1e-6 relative; Winograd and
 * FFT algorithms add transform error that cuDNN documents as larger (estimated ~1e-5..1e-4,
 * not measured here). 5e-4 bounds that; a padding or indexing mistake moves outputs by O(1e-1). */
#define CONV_TOL 5e-4
/* TF32 keeps 10 mantissa bits (u = 4.9e-4) per operand, so each product is off by ~1e-3
 * relative and a sum of hundreds of them by a few 1e-3 of its magnitude; 1e-2. */
#define CONV_TF32_TOL 1e-2
/* Batch-norm statistics (save_mean, save_invstd, the running averages) and parameter
 * gradients (d_gamma, d_beta): both backends widen every value to double and sum in double
 * (cuda_ops.c, batchnorm.c), so the sums differ only by the order of double additions
 * (~n 1.1e-16 relative, n <= 65536 here: < 1e-11) before one rounding to float, and the
 * running averages and accumulated gradients add one float operation each: at most a few ulp
 * (1.2e-7 each) of the result. 1e-6. (Float partial sums, what the GPU did before, miss this
 * by orders of magnitude on cancelling data: test_cuda_numerics.c.) */
#define BN_STATS_TOL 1e-6
/* Batch-norm outputs y and d_x: the same float expressions on both sides from statistics that
 * agree to an ulp, but nvcc contracts them into FMAs (one rounding fewer) and d_x subtracts
 * nearly equal terms; outputs are O(6): 1e-5 relative. A missing term or a wrong mode is off by
 * O(1e-2) or more. */
#define BN_TOL 1e-5
/* Inputs 1000 + [-1, 1): the float mean may round to neighbouring floats on the two sides
 * (1 ulp of 1000 = 6.1e-5), moving y by up to 6.1e-5 * gamma * invstd (<= 3.5): 2.1e-4 on
 * outputs of magnitude up to ~6 (relative 3.6e-5); 1e-4 relative. */
#define BN_OFFSET_TOL 1e-4
/* Linear: cuBLAS SGEMM against OpenBLAS, sums of at most 33 products: ~1e-6. */
#define LINEAR_TOL 1e-5
/* Softmax cross-entropy: both sides compute in double and round once to float. */
#define XENT_TOL 1e-6

/* ------------------------------------------------------------------------ fixture ------ */

TestSuite(cuda, .init = cuda_fixture_setup, .fini = cuda_fixture_teardown);

/* ------------------------------------------------------------------------ context ------ */

Test(cuda, context_describe_and_memory)
{
    NEED_GPU();
    const char *d = rv_ctx_describe(gpu);
    cr_expect(strncmp(d, "cuda; GPU ", 10) == 0, "describe: %s", d);
    cr_expect(strstr(d, "cuDNN ") && strstr(d, "runtime ") && strstr(d, "TF32 off"),
              "describe lacks versions or the TF32 state: %s", d);

    /* Round trip, fill, copy. */
    enum { n = 1001 };
    float *x = uniform(n, 1, -1, 1), back[n];
    float *dx = dev(gpu, x, n), *dy = dev(gpu, NULL, n);
    OK(gpu, rv_copy(gpu, dy, dx, n));
    OK(gpu, rv_ctx_download(gpu, back, dy, sizeof back));
    cr_expect(memcmp(back, x, sizeof back) == 0, "upload/copy/download changed the data");
    OK(gpu, rv_fill(gpu, dy, 2.5f, n));
    OK(gpu, rv_ctx_download(gpu, back, dy, sizeof back));
    for (int i = 0; i < n; i++) cr_expect_eq(back[i], 2.5f, "fill: element %d is %g", i, back[i]);
    OK(gpu, rv_ctx_sync(gpu));
    rv_ctx_free(gpu, dx);
    rv_ctx_free(gpu, dy);
    free(x);

    /* Zero bytes still gives a pointer that can be freed. */
    void *z = NULL;
    OK(gpu, rv_ctx_alloc(gpu, &z, 0));
    cr_expect_not_null(z);
    rv_ctx_free(gpu, z);
}

Test(cuda, errors_are_reported_and_not_sticky)
{
    NEED_GPU();
    /* 1 PiB cannot be allocated: RV_ERR_NOMEM naming cudaMalloc, and the context still works. */
    void *p = (void *)1;
    rv_status s = rv_ctx_alloc(gpu, &p, (size_t)1 << 50);
    cr_expect_eq(s, RV_ERR_NOMEM, "huge alloc gave %d: %s", s, rv_ctx_message(gpu));
    cr_expect_null(p);
    cr_expect(strstr(rv_ctx_message(gpu), "cudaMalloc") != NULL, "message: %s",
              rv_ctx_message(gpu));
    float one = 0;
    float *d = dev(gpu, NULL, 1);
    OK(gpu, rv_fill(gpu, d, 1.0f, 1));
    OK(gpu, rv_ctx_download(gpu, &one, d, sizeof one));
    cr_expect_eq(one, 1.0f);
    rv_ctx_free(gpu, d);

    /* A device index that does not exist is a bad argument with a message. */
    rv_ctx_options o = rv_ctx_default_options();
    o.device = RV_DEVICE_CUDA;
    o.device_index = 4096;
    rv_ctx *bad = NULL;
    char msg[256] = "";
    cr_expect_eq(rv_ctx_create(&bad, &o, msg, sizeof msg), RV_ERR_ARG, "%s", msg);
    cr_expect_null(bad);
    cr_expect(strstr(msg, "4096") != NULL, "message: %s", msg);
}

/* ------------------------------------------------------------------------ elementwise -- */

Test(cuda, elementwise)
{
    NEED_GPU();
    const size_t n = 100003; /* odd, not a multiple of the block size */
    float *a = uniform(n, 11, -1, 1), *b = uniform(n, 12, -1, 1);
    float *c = ref_alloc(n), *c2 = ref_alloc(n);
    float *da = dev(gpu, a, n), *db = dev(gpu, b, n), *dc = dev(gpu, NULL, n);

    OK(cpu, rv_relu_forward(cpu, c, a, n));
    OK(gpu, rv_relu_forward(gpu, dc, da, n));
    expect_dev_close(gpu, "relu_forward", dc, c, n, EXACT_TOL);
    /* relu_backward reads the forward output (c / dc), gradient b. */
    OK(cpu, rv_relu_backward(cpu, c2, b, c, n));
    OK(gpu, rv_relu_backward(gpu, db, db, dc, n)); /* in place: d_x == d_y */
    expect_dev_close(gpu, "relu_backward (in place)", db, c2, n, EXACT_TOL);
    OK(gpu, rv_ctx_upload(gpu, db, b, n * sizeof(float)));

    OK(cpu, rv_add(cpu, c, a, b, n));
    OK(gpu, rv_add(gpu, dc, da, db, n));
    expect_dev_close(gpu, "add", dc, c, n, EXACT_TOL);
    OK(cpu, rv_sub(cpu, c, a, b, n));
    OK(gpu, rv_sub(gpu, dc, da, db, n));
    expect_dev_close(gpu, "sub", dc, c, n, EXACT_TOL);

    memcpy(c, a, n * sizeof *c);
    OK(cpu, rv_axpy(cpu, c, -0.37f, b, n));
    OK(gpu, rv_axpy(gpu, da, -0.37f, db, n));
    expect_dev_close(gpu, "axpy", da, c, n, ELEMENTWISE_TOL);

    OK(gpu, rv_relu_forward(gpu, db, db, n)); /* in place: y == x */
    OK(cpu, rv_relu_forward(cpu, c, b, n));
    expect_dev_close(gpu, "relu_forward (in place)", db, c, n, EXACT_TOL);

    rv_ctx_free(gpu, da);
    rv_ctx_free(gpu, db);
    rv_ctx_free(gpu, dc);
    free(a);
    free(b);
    free(c);
    free(c2);
}

Test(cuda, sgd_update)
{
    NEED_GPU();
    const size_t n = 50001;
    const float wds[] = { 0.0f, 5e-4f };
    for (int k = 0; k < 2; k++) {
        float *w = uniform(n, 21, -1, 1), *v = uniform(n, 22, -0.1f, 0.1f);
        float *g = uniform(n, 23, -1, 1);
        float *dw = dev(gpu, w, n), *dv = dev(gpu, v, n), *dg = dev(gpu, g, n);
        for (int step = 0; step < 3; step++) {
            OK(cpu, rv_sgd_update(cpu, w, v, g, n, 0.1f, 0.9f, wds[k]));
            OK(gpu, rv_sgd_update(gpu, dw, dv, dg, n, 0.1f, 0.9f, wds[k]));
        }
        expect_dev_close(gpu, k ? "sgd w (wd)" : "sgd w", dw, w, n, ELEMENTWISE_TOL);
        expect_dev_close(gpu, k ? "sgd v (wd)" : "sgd v", dv, v, n, ELEMENTWISE_TOL);
        rv_ctx_free(gpu, dw);
        rv_ctx_free(gpu, dv);
        rv_ctx_free(gpu, dg);
        free(w);
        free(v);
        free(g);
    }
}

/* ------------------------------------------------------------------------ convolution -- */

typedef struct {
    int N, C, H, W, K, R, stride;
} conv_shape;

static const conv_shape CONV_SHAPES[] = {
    { 2, 3, 8, 8, 4, 3, 1 },     /* 3x3 stride 1: pad 1 all round */
    { 2, 4, 8, 8, 6, 3, 2 },     /* 3x3 stride 2, even: pad 0 top/left, 1 bottom/right */
    { 3, 5, 7, 7, 4, 3, 2 },     /* 3x3 stride 2, odd: pad 1 all round */
    { 2, 4, 9, 6, 3, 3, 2 },     /* symmetric in H, asymmetric in W */
    { 2, 6, 8, 8, 5, 1, 1 },     /* 1x1 */
    { 2, 6, 8, 8, 5, 1, 2 },     /* 1x1 stride 2: no padding, last row and column unused */
    { 1, 3, 5, 11, 2, 3, 1 },    /* odd, non-square */
    { 2, 3, 1, 1, 4, 3, 1 },     /* a single pixel */
    { 1, 3, 16, 16, 4, 7, 2 },   /* the 7x7/2 stem: pad 2 top/left, 3 bottom/right */
    { 4, 16, 32, 32, 16, 3, 1 }, /* CIFAR stage 1 */
    { 4, 16, 32, 32, 32, 3, 2 }, /* CIFAR downsampling, asymmetric */
};
#define N_CONV_SHAPES (sizeof CONV_SHAPES / sizeof CONV_SHAPES[0])

/* Forward, backward data (beta 0 into a NaN-filled buffer, which must not be read; beta 1) and
 * backward filter (accumulating) on context g against the CPU. */
static void conv_case(rv_ctx *g, const conv_shape *s, double tol, uint64_t seed)
{
    rv_conv_desc dc, dg;
    OK(cpu, rv_conv_desc_init(cpu, &dc, s->N, s->C, s->H, s->W, s->K, s->R, s->stride));
    OK(g, rv_conv_desc_init(g, &dg, s->N, s->C, s->H, s->W, s->K, s->R, s->stride));
    char name[96];
    snprintf(name, sizeof name, "conv N%d C%d %dx%d K%d %dx%d s%d", s->N, s->C, s->H, s->W, s->K,
             s->R, s->R, s->stride);
    size_t n_in = (size_t)s->N * s->C * s->H * s->W, n_w = (size_t)s->K * s->C * s->R * s->R;
    size_t n_out = (size_t)s->N * s->K * dc.P * dc.Q;
    float *x = uniform(n_in, seed, -1, 1), *w = uniform(n_w, seed + 1, -1, 1);
    float *dy = uniform(n_out, seed + 2, -1, 1), *dx0 = uniform(n_in, seed + 3, -1, 1);
    float *dw = uniform(n_w, seed + 4, -1, 1), *y = ref_alloc(n_out), *dx = clone(dx0, n_in);
    float *nan_in = ref_alloc(n_in);
    for (size_t i = 0; i < n_in; i++) nan_in[i] = NAN;
    float *gx = dev(g, x, n_in), *gw = dev(g, w, n_w), *gdy = dev(g, dy, n_out);
    float *gy = dev(g, NULL, n_out);
    float *gdx = dev(g, nan_in, n_in), *gdw = dev(g, dw, n_w);

    void *ws_c = NULL, *ws_g = NULL;
    size_t bytes_c = rv_conv_workspace_bytes(cpu, &dc);
    if (bytes_c) ws_c = malloc(bytes_c);
    rv_ctx_clear_error(g);
    size_t bytes_g = rv_conv_workspace_bytes(g, &dg);
    cr_assert_str_empty(rv_ctx_message(g), "%s: workspace query: %s", name, rv_ctx_message(g));
    if (bytes_g) OK(g, rv_ctx_alloc(g, &ws_g, bytes_g));
    int total_h = (dg.P - 1) * s->stride + s->R - s->H;
    int total_w = (dg.Q - 1) * s->stride + s->R - s->W;
    if (total_h > 2 * dg.pad_top || total_w > 2 * dg.pad_left) {
        /* More padding at the bottom/right than at the top/left, which cuDNN cannot express:
         * the workspace must hold the explicitly padded input. */
        size_t padded = (size_t)s->N * s->C * ((dg.P - 1) * s->stride + s->R) *
                        ((dg.Q - 1) * s->stride + s->R) * sizeof(float);
        cr_expect_geq(bytes_g, padded, "%s: workspace %zu < padded input %zu", name, bytes_g,
                      padded);
    }

    char what[160];
    OK(cpu, rv_conv_forward(cpu, y, x, w, &dc, ws_c));
    OK(g, rv_conv_forward(g, gy, gx, gw, &dg, ws_g));
    snprintf(what, sizeof what, "%s forward", name);
    expect_dev_close(g, what, gy, y, n_out, tol);

    OK(cpu, rv_conv_backward_data(cpu, dx, dy, w, &dc, 0.0f, ws_c));
    OK(g, rv_conv_backward_data(g, gdx, gdy, gw, &dg, 0.0f, ws_g));
    snprintf(what, sizeof what, "%s backward data (beta 0)", name);
    expect_dev_close(g, what, gdx, dx, n_in, tol);

    memcpy(dx, dx0, n_in * sizeof *dx);
    OK(g, rv_ctx_upload(g, gdx, dx0, n_in * sizeof(float)));
    OK(cpu, rv_conv_backward_data(cpu, dx, dy, w, &dc, 1.0f, ws_c));
    OK(g, rv_conv_backward_data(g, gdx, gdy, gw, &dg, 1.0f, ws_g));
    snprintf(what, sizeof what, "%s backward data (beta 1)", name);
    expect_dev_close(g, what, gdx, dx, n_in, tol);

    OK(cpu, rv_conv_backward_filter(cpu, dw, dy, x, &dc, ws_c));
    OK(g, rv_conv_backward_filter(g, gdw, gdy, gx, &dg, ws_g));
    snprintf(what, sizeof what, "%s backward filter (accumulating)", name);
    expect_dev_close(g, what, gdw, dw, n_w, tol);

    rv_ctx_free(g, ws_g);
    free(ws_c);
    float *gb[] = { gx, gw, gdy, gy, gdx, gdw }, *hb[] = { x, w, dy, dx0, dw, y, dx, nan_in };
    free_bufs(g, gb, 6, hb, 8);
}

Test(cuda, conv_against_cpu)
{
    NEED_GPU();
    for (size_t i = 0; i < N_CONV_SHAPES; i++) conv_case(gpu, &CONV_SHAPES[i], CONV_TOL, 100 + 10 * i);
    /* The plans are logged by describe(): with TF32 off the search runs with FMA math, every
     * pass ran an FMA algorithm in FP32, and the asymmetric shapes go through the explicit
     * padding. */
    const char *d = rv_ctx_describe(gpu);
    cr_expect(strstr(d, "TF32 off (cuDNN fma math, cuBLAS default FP32 math)") != NULL,
              "describe: %s", d);
    cr_expect(strstr(d, " | conv algorithms: ") != NULL, "describe: %s", d);
    cr_expect(strstr(d, "explicit pad") != NULL, "no explicit-pad plan in: %s", d);
    cr_expect(strstr(d, "/fma(fp32)") != NULL && strstr(d, "(tf32)") == NULL &&
                  strstr(d, "/default") == NULL && strstr(d, "/tensor_op") == NULL,
              "TF32 off but the plans are: %s", d);
}

Test(cuda, conv_tf32_when_allowed)
{
    NEED_GPU();
    rv_ctx_options o = rv_ctx_default_options();
    o.device = RV_DEVICE_CUDA;
    o.allow_tf32 = 1;
    rv_ctx *t = NULL;
    char msg[512];
    cr_assert_eq(rv_ctx_create(&t, &o, msg, sizeof msg), RV_OK, "%s", msg);
    cr_expect(strstr(rv_ctx_describe(t), "TF32 on (cuDNN tensor_op math, cuBLAS TF32 tensor-op "
                                         "math)") != NULL,
              "%s", rv_ctx_describe(t));
    /* Every buffer of these cases lives on t and is read back through t's stream. */
    conv_case(t, &CONV_SHAPES[N_CONV_SHAPES - 2], CONV_TF32_TOL, 7);
    conv_case(t, &CONV_SHAPES[N_CONV_SHAPES - 1], CONV_TF32_TOL, 8);
    /* What ran is recorded per pass: never the FP16-conversion math type, and tensor-op math
     * labelled TF32 exactly on GPUs that have it (sm_80 and later). */
    const char *d = rv_ctx_describe(t);
    int sm = 0; /* "(sm_90": major * 10 + minor, the minor a single digit */
    const char *at = strstr(d, "(sm_");
    cr_assert(at && sscanf(at, "(sm_%d", &sm) == 1, "no compute capability in: %s", d);
    int sm_major = sm / 10;
    cr_expect(strstr(d, "allow_conversion") == NULL && strstr(d, "(fp16)") == NULL, "%s", d);
    const char *want = sm_major >= 8 ? "/tensor_op(tf32)" : "/tensor_op(fp32)";
    const char *wrong = sm_major >= 8 ? "/tensor_op(fp32)" : "/tensor_op(tf32)";
    cr_expect(strstr(d, wrong) == NULL, "sm_%d: %s", sm_major, d);
    cr_log_info("TF32 plans (%s expected where tensor-op math was chosen): %s", want, d);
    rv_ctx_destroy(t);
}

/* ------------------------------------------------------------------------ batch norm --- */

typedef struct {
    int N, C, HW;
} bn_shape;

/* {64, 16, 1024} has 65536 elements per channel, split over several blocks on the GPU. */
static const bn_shape BN_SHAPES[] = { { 3, 5, 49 }, { 64, 16, 1024 }, { 2, 3, 1 }, { 1, 2, 9 },
                                      { 5, 1, 13 } };
#define N_BN_SHAPES (sizeof BN_SHAPES / sizeof BN_SHAPES[0])

static void bn_case(bn_shape s, rv_bn_mode mode, float offset, double tol, uint64_t seed)
{
    const int N = s.N, C = s.C, HW = s.HW;
    size_t n = (size_t)N * C * HW;
    char name[96], what[160];
    snprintf(name, sizeof name, "bn N%d C%d HW%d mode %d offset %g", N, C, HW, (int)mode,
             (double)offset);
    float *x = uniform(n, seed, offset - 1, offset + 1), *y = ref_alloc(n);
    float *gamma = uniform(C, seed + 1, 0.5f, 2), *beta = uniform(C, seed + 2, -1, 1);
    float *rm0 = uniform(C, seed + 3, -0.5f, 0.5f), *rv0 = uniform(C, seed + 4, 0.5f, 2);
    float *rm = clone(rm0, C), *rv = clone(rv0, C), *sm = ref_alloc(C), *si = ref_alloc(C);
    float *sentinel = ref_alloc(C);
    for (int c = 0; c < C; c++) sentinel[c] = -12345.0f;
    float *gx = dev(gpu, x, n), *gy = dev(gpu, NULL, n), *ggamma = dev(gpu, gamma, C);
    float *gbeta = dev(gpu, beta, C);
    float *grm = dev(gpu, rm0, C), *grv = dev(gpu, rv0, C), *gsm = dev(gpu, sentinel, C);
    float *gsi = dev(gpu, sentinel, C);

    int eval = mode == RV_BN_EVAL;
    OK(cpu, rv_bn_forward(cpu, y, eval ? NULL : sm, eval ? NULL : si, rm, rv, x, gamma, beta, N,
                          C, HW, mode));
    OK(gpu, rv_bn_forward(gpu, gy, gsm, gsi, grm, grv, gx, ggamma, gbeta, N, C, HW, mode));
    snprintf(what, sizeof what, "%s: y", name);
    expect_dev_close(gpu, what, gy, y, n, tol);
    if (eval) {
        float *h = host(gpu, gsm, C), *h2 = host(gpu, gsi, C);
        cr_expect(memcmp(h, sentinel, C * sizeof(float)) == 0 &&
                      memcmp(h2, sentinel, C * sizeof(float)) == 0,
                  "%s: EVAL wrote the saved statistics", name);
        free(h);
        free(h2);
    } else {
        snprintf(what, sizeof what, "%s: save_mean", name);
        expect_dev_close(gpu, what, gsm, sm, C, BN_STATS_TOL);
        snprintf(what, sizeof what, "%s: save_invstd", name);
        expect_dev_close(gpu, what, gsi, si, C, BN_STATS_TOL);
    }
    if (mode == RV_BN_TRAIN) {
        snprintf(what, sizeof what, "%s: run_mean", name);
        expect_dev_close(gpu, what, grm, rm, C, BN_STATS_TOL);
        snprintf(what, sizeof what, "%s: run_var", name);
        expect_dev_close(gpu, what, grv, rv, C, BN_STATS_TOL);
    } else {
        float *h = host(gpu, grm, C), *h2 = host(gpu, grv, C);
        cr_expect(memcmp(h, rm0, C * sizeof(float)) == 0 && memcmp(h2, rv0, C * sizeof(float)) == 0,
                  "%s: the running averages changed", name);
        free(h);
        free(h2);
    }

    if (!eval) {
        /* Backward from each side's own saved statistics: beta 0 in place on the GPU (d_x ==
         * d_y), then beta 1 onto a prefilled d_x; d_gamma and d_beta accumulate. */
        float *dy = uniform(n, seed + 5, -1, 1), *dx = ref_alloc(n);
        float *dx0 = uniform(n, seed + 6, -1, 1);
        float *dg = uniform(C, seed + 7, -1, 1), *db = uniform(C, seed + 8, -1, 1);
        float *gdy = dev(gpu, dy, n), *gdx = dev(gpu, dx0, n), *gdg = dev(gpu, dg, C);
        float *gdb = dev(gpu, db, C);
        OK(cpu, rv_bn_backward(cpu, dx, dg, db, dy, x, sm, si, gamma, N, C, HW, 0.0f));
        OK(gpu, rv_bn_backward(gpu, gdy, gdg, gdb, gdy, gx, gsm, gsi, ggamma, N, C, HW, 0.0f));
        snprintf(what, sizeof what, "%s: d_x (beta 0, in place)", name);
        expect_dev_close(gpu, what, gdy, dx, n, BN_TOL);
        memcpy(dx, dx0, n * sizeof *dx);
        OK(gpu, rv_ctx_upload(gpu, gdy, dy, n * sizeof(float)));
        OK(cpu, rv_bn_backward(cpu, dx, dg, db, dy, x, sm, si, gamma, N, C, HW, 1.0f));
        OK(gpu, rv_bn_backward(gpu, gdx, gdg, gdb, gdy, gx, gsm, gsi, ggamma, N, C, HW, 1.0f));
        snprintf(what, sizeof what, "%s: d_x (beta 1)", name);
        expect_dev_close(gpu, what, gdx, dx, n, BN_TOL);
        snprintf(what, sizeof what, "%s: d_gamma", name);
        expect_dev_close(gpu, what, gdg, dg, C, BN_STATS_TOL);
        snprintf(what, sizeof what, "%s: d_beta", name);
        expect_dev_close(gpu, what, gdb, db, C, BN_STATS_TOL);
        float *gb[] = { gdy, gdx, gdg, gdb }, *hb[] = { dy, dx, dx0, dg, db };
        free_bufs(gpu, gb, 4, hb, 5);
    }
    float *gb[] = { gx, gy, ggamma, gbeta, grm, grv, gsm, gsi };
    float *hb[] = { x, y, gamma, beta, rm0, rv0, rm, rv, sm, si, sentinel };
    free_bufs(gpu, gb, 8, hb, 11);
}

Test(cuda, batchnorm_three_modes)
{
    NEED_GPU();
    for (size_t i = 0; i < N_BN_SHAPES; i++)
        for (int m = RV_BN_TRAIN; m <= RV_BN_EVAL; m++)
            bn_case(BN_SHAPES[i], (rv_bn_mode)m, 0.0f, BN_TOL, 300 + 10 * i + m);
    for (int m = RV_BN_TRAIN; m <= RV_BN_EVAL; m++)
        bn_case(BN_SHAPES[0], (rv_bn_mode)m, 1000.0f, BN_OFFSET_TOL, 400 + m);
}

Test(cuda, batchnorm_in_place)
{
    NEED_GPU();
    const int N = 4, C = 3, HW = 25;
    size_t n = (size_t)N * C * HW;
    float *x = uniform(n, 501, -1, 1), *y = ref_alloc(n), *gamma = uniform(C, 502, 0.5f, 2);
    float *beta = uniform(C, 503, -1, 1), rm[3] = { 0 }, rv[3] = { 1, 1, 1 }, sm[3], si[3];
    float *gx = dev(gpu, x, n), *gg = dev(gpu, gamma, C), *gb = dev(gpu, beta, C);
    float *grm = dev(gpu, rm, C);
    float *grv = dev(gpu, rv, C), *gsm = dev(gpu, NULL, C), *gsi = dev(gpu, NULL, C);
    OK(cpu, rv_bn_forward(cpu, y, sm, si, rm, rv, x, gamma, beta, N, C, HW, RV_BN_TRAIN));
    OK(gpu, rv_bn_forward(gpu, gx, gsm, gsi, grm, grv, gx, gg, gb, N, C, HW, RV_BN_TRAIN));
    expect_dev_close(gpu, "bn in place: y", gx, y, n, BN_TOL);
    float *gbufs[] = { gx, gg, gb, grm, grv, gsm, gsi }, *hb[] = { x, y, gamma, beta };
    free_bufs(gpu, gbufs, 7, hb, 4);
}

/* ------------------------------------------------------------------------ pooling ------ */

Test(cuda, avgpool2_and_chpad)
{
    NEED_GPU();
    const int N = 2, C = 3, H = 8, W = 6, C_out = 7, front = 2, HW = H * W;
    size_t n_in = (size_t)N * C * H * W, n_out = n_in / 4, n_pad = (size_t)N * C_out * HW;
    float *x = uniform(n_in, 601, -1, 1), *y = ref_alloc(n_out), *dy = uniform(n_out, 602, -1, 1);
    float *dx0 = uniform(n_in, 603, -1, 1), *dx = clone(dx0, n_in);
    float *gx = dev(gpu, x, n_in), *gy = dev(gpu, NULL, n_out), *gdy = dev(gpu, dy, n_out);
    float *gdx = dev(gpu, dx0, n_in);

    OK(cpu, rv_avgpool2_forward(cpu, y, x, N, C, H, W));
    OK(gpu, rv_avgpool2_forward(gpu, gy, gx, N, C, H, W));
    expect_dev_close(gpu, "avgpool2_forward", gy, y, n_out, ELEMENTWISE_TOL);
    OK(cpu, rv_avgpool2_backward(cpu, dx, dy, N, C, H, W, 1.0f));
    OK(gpu, rv_avgpool2_backward(gpu, gdx, gdy, N, C, H, W, 1.0f));
    expect_dev_close(gpu, "avgpool2_backward (beta 1)", gdx, dx, n_in, ELEMENTWISE_TOL);
    OK(cpu, rv_avgpool2_backward(cpu, dx, dy, N, C, H, W, 0.0f));
    OK(gpu, rv_avgpool2_backward(gpu, gdx, gdy, N, C, H, W, 0.0f));
    expect_dev_close(gpu, "avgpool2_backward (beta 0)", gdx, dx, n_in, EXACT_TOL);

    /* Channel padding 3 -> 7 at offset 2, and its backward with beta 0 and 1. */
    float *p = ref_alloc(n_pad), *dp = uniform(n_pad, 604, -1, 1);
    float *gp = dev(gpu, NULL, n_pad), *gdp = dev(gpu, dp, n_pad);
    OK(cpu, rv_chpad_forward(cpu, p, x, N, C, C_out, HW, front));
    OK(gpu, rv_chpad_forward(gpu, gp, gx, N, C, C_out, HW, front));
    expect_dev_close(gpu, "chpad_forward", gp, p, n_pad, EXACT_TOL);
    memcpy(dx, dx0, n_in * sizeof *dx);
    OK(gpu, rv_ctx_upload(gpu, gdx, dx0, n_in * sizeof(float)));
    OK(cpu, rv_chpad_backward(cpu, dx, dp, N, C, C_out, HW, front, 1.0f));
    OK(gpu, rv_chpad_backward(gpu, gdx, gdp, N, C, C_out, HW, front, 1.0f));
    expect_dev_close(gpu, "chpad_backward (beta 1)", gdx, dx, n_in, ELEMENTWISE_TOL);
    OK(cpu, rv_chpad_backward(cpu, dx, dp, N, C, C_out, HW, front, 0.0f));
    OK(gpu, rv_chpad_backward(gpu, gdx, gdp, N, C, C_out, HW, front, 0.0f));
    expect_dev_close(gpu, "chpad_backward (beta 0)", gdx, dx, n_in, EXACT_TOL);

    float *gb[] = { gx, gy, gdy, gdx, gp, gdp }, *hb[] = { x, y, dy, dx0, dx, p, dp };
    free_bufs(gpu, gb, 6, hb, 7);
}

Test(cuda, global_average_pool)
{
    NEED_GPU();
    const int shapes[][3] = { { 3, 5, 49 }, { 2, 4, 1024 }, { 4, 3, 1 } };
    for (int k = 0; k < 3; k++) {
        int N = shapes[k][0], C = shapes[k][1], HW = shapes[k][2];
        size_t n = (size_t)N * C * HW, m = (size_t)N * C;
        float *x = uniform(n, 700 + k, -1, 1), *y = ref_alloc(m), *dy = uniform(m, 710 + k, -1, 1);
        float *dx = ref_alloc(n);
        float *gx = dev(gpu, x, n), *gy = dev(gpu, NULL, m), *gdy = dev(gpu, dy, m);
        float *gdx = dev(gpu, NULL, n);
        OK(cpu, rv_gap_forward(cpu, y, x, N, C, HW));
        OK(gpu, rv_gap_forward(gpu, gy, gx, N, C, HW));
        expect_dev_close(gpu, "gap_forward", gy, y, m, ELEMENTWISE_TOL);
        OK(cpu, rv_gap_backward(cpu, dx, dy, N, C, HW));
        OK(gpu, rv_gap_backward(gpu, gdx, gdy, N, C, HW));
        expect_dev_close(gpu, "gap_backward", gdx, dx, n, EXACT_TOL);
        float *gb[] = { gx, gy, gdy, gdx }, *hb[] = { x, y, dy, dx };
        free_bufs(gpu, gb, 4, hb, 4);
    }
}

Test(cuda, maxpool3s2)
{
    NEED_GPU();
    /* Odd and even sizes (SAME padding 1/1 and 0/1), and one with ties: values in {0, 1, 2}
     * make most windows hold several maxima, where the gradient goes to the first one. */
    const int shapes[][4] = { { 2, 3, 7, 9 }, { 1, 2, 8, 8 }, { 2, 2, 6, 5 } };
    for (int k = 0; k < 3; k++) {
        int N = shapes[k][0], C = shapes[k][1], H = shapes[k][2], W = shapes[k][3], P, Q;
        rv_maxpool3s2_out(H, W, &P, &Q);
        size_t n = (size_t)N * C * H * W, m = (size_t)N * C * P * Q;
        float *x = ref_alloc(n), *y = ref_alloc(m), *dy = uniform(m, 810 + k, -1, 1);
        float *dx = ref_alloc(n);
        if (k == 2) {
            ref_fill_uniform(x, n, 800 + k, 0, 3);
            for (size_t i = 0; i < n; i++) x[i] = floorf(x[i]);
        } else {
            ref_fill_distinct(x, n, 800 + k, -1, 0.01f);
        }
        float *gx = dev(gpu, x, n), *gy = dev(gpu, NULL, m), *gdy = dev(gpu, dy, m);
        float *gdx = dev(gpu, NULL, n);
        OK(cpu, rv_maxpool3s2_forward(cpu, y, x, N, C, H, W));
        OK(gpu, rv_maxpool3s2_forward(gpu, gy, gx, N, C, H, W));
        expect_dev_close(gpu, "maxpool3s2_forward", gy, y, m, EXACT_TOL);
        OK(cpu, rv_maxpool3s2_backward(cpu, dx, dy, x, y, N, C, H, W));
        OK(gpu, rv_maxpool3s2_backward(gpu, gdx, gdy, gx, gy, N, C, H, W));
        /* Up to four window gradients meet in one element; both sides add them in window
         * order, but allow the ulp of a different association. */
        expect_dev_close(gpu, k == 2 ? "maxpool3s2_backward (ties)" : "maxpool3s2_backward",
                         gdx, dx, n, ELEMENTWISE_TOL);
        float *gb[] = { gx, gy, gdy, gdx }, *hb[] = { x, y, dy, dx };
        free_bufs(gpu, gb, 4, hb, 4);
    }
}

/* ------------------------------------------------------------------------ classifier --- */

Test(cuda, linear)
{
    NEED_GPU();
    const int N = 7, I = 33, O = 10;
    size_t nx = (size_t)N * I, nw = (size_t)O * I, ny = (size_t)N * O;
    float *x = uniform(nx, 901, -1, 1), *w = uniform(nw, 902, -1, 1), *b = uniform(O, 903, -1, 1);
    float *y = ref_alloc(ny), *dy = uniform(ny, 904, -1, 1), *dx = ref_alloc(nx);
    float *dw = uniform(nw, 905, -1, 1), *db = uniform(O, 906, -1, 1);
    float *gx = dev(gpu, x, nx), *gw = dev(gpu, w, nw), *gb = dev(gpu, b, O);
    float *gy = dev(gpu, NULL, ny);
    float *gdy = dev(gpu, dy, ny), *gdx = dev(gpu, NULL, nx), *gdw = dev(gpu, dw, nw);
    float *gdb = dev(gpu, db, O);

    OK(cpu, rv_linear_forward(cpu, y, x, w, b, N, I, O));
    OK(gpu, rv_linear_forward(gpu, gy, gx, gw, gb, N, I, O));
    expect_dev_close(gpu, "linear_forward", gy, y, ny, LINEAR_TOL);
    OK(cpu, rv_linear_forward(cpu, y, x, w, NULL, N, I, O));
    OK(gpu, rv_linear_forward(gpu, gy, gx, gw, NULL, N, I, O));
    expect_dev_close(gpu, "linear_forward (no bias)", gy, y, ny, LINEAR_TOL);

    OK(cpu, rv_linear_backward(cpu, dx, dw, db, dy, x, w, N, I, O));
    OK(gpu, rv_linear_backward(gpu, gdx, gdw, gdb, gdy, gx, gw, N, I, O));
    expect_dev_close(gpu, "linear_backward d_x", gdx, dx, nx, LINEAR_TOL);
    expect_dev_close(gpu, "linear_backward d_w", gdw, dw, nw, LINEAR_TOL);
    expect_dev_close(gpu, "linear_backward d_b", gdb, db, O, LINEAR_TOL);
    /* d_x and d_b may be NULL; d_w keeps accumulating. */
    OK(cpu, rv_linear_backward(cpu, NULL, dw, NULL, dy, x, w, N, I, O));
    OK(gpu, rv_linear_backward(gpu, NULL, gdw, NULL, gdy, gx, gw, N, I, O));
    expect_dev_close(gpu, "linear_backward d_w (second step)", gdw, dw, nw, LINEAR_TOL);

    float *gbufs[] = { gx, gw, gb, gy, gdy, gdx, gdw, gdb }, *hb[] = { x, w, b, y, dy, dx, dw, db };
    free_bufs(gpu, gbufs, 8, hb, 8);
}

Test(cuda, softmax_xent)
{
    NEED_GPU();
    /* CIFAR-10-like, and ImageNet-like with logits far from zero (the max shift matters). */
    const int shapes[][2] = { { 13, 10 }, { 5, 1000 }, { 40, 100 } };
    const float offsets[] = { 0.0f, 50.0f, -20.0f };
    for (int k = 0; k < 3; k++) {
        int N = shapes[k][0], K = shapes[k][1];
        size_t nz = (size_t)N * K;
        float *z = uniform(nz, 1000 + k, offsets[k] - 4, offsets[k] + 4);
        int32_t *labels = malloc(N * sizeof *labels), *pred = malloc(N * sizeof *pred);
        int32_t *gpred_h = malloc(N * sizeof *gpred_h);
        for (int i = 0; i < N; i++) labels[i] = (i * 7 + k) % K;
        if (k == 0) z[3 * K + 5] = z[3 * K + 2] = offsets[k] + 10; /* a tie: first argmax */
        float *loss = ref_alloc(N), *dz = ref_alloc(nz);
        float *gz = dev(gpu, z, nz), *gloss = dev(gpu, NULL, N), *gdz = dev(gpu, NULL, nz);
        void *glabels = NULL, *gpred = NULL;
        OK(gpu, rv_ctx_alloc(gpu, &glabels, N * sizeof(int32_t)));
        OK(gpu, rv_ctx_alloc(gpu, &gpred, N * sizeof(int32_t)));
        OK(gpu, rv_ctx_upload(gpu, glabels, labels, N * sizeof(int32_t)));

        OK(cpu, rv_softmax_xent(cpu, loss, pred, dz, z, labels, N, K));
        OK(gpu, rv_softmax_xent(gpu, gloss, gpred, gdz, gz, glabels, N, K));
        expect_dev_close(gpu, "softmax_xent loss", gloss, loss, N, XENT_TOL);
        expect_dev_close(gpu, "softmax_xent d_logits", gdz, dz, nz, XENT_TOL);
        OK(gpu, rv_ctx_download(gpu, gpred_h, gpred, N * sizeof(int32_t)));
        for (int i = 0; i < N; i++)
            cr_expect_eq(gpred_h[i], pred[i], "pred[%d]: gpu %d cpu %d", i, gpred_h[i], pred[i]);
        /* Without d_logits. */
        OK(gpu, rv_softmax_xent(gpu, gloss, gpred, NULL, gz, glabels, N, K));
        expect_dev_close(gpu, "softmax_xent loss (no d_logits)", gloss, loss, N, XENT_TOL);

        /* A label out of range: RV_ERR_ARG, as on the CPU, and no output written. */
        labels[N - 1] = K;
        OK(gpu, rv_ctx_upload(gpu, glabels, labels, N * sizeof(int32_t)));
        OK(gpu, rv_fill(gpu, gloss, -7.0f, N));
        rv_status s = rv_softmax_xent(gpu, gloss, gpred, gdz, gz, glabels, N, K);
        cr_expect_eq(s, RV_ERR_ARG, "bad label gave %d: %s", s, rv_ctx_message(gpu));
        float *h = host(gpu, gloss, N);
        for (int i = 0; i < N; i++) cr_expect_eq(h[i], -7.0f, "loss %d written despite a bad label", i);
        free(h);

        rv_ctx_free(gpu, gz);
        rv_ctx_free(gpu, gloss);
        rv_ctx_free(gpu, gdz);
        rv_ctx_free(gpu, glabels);
        rv_ctx_free(gpu, gpred);
        free(z);
        free(labels);
        free(pred);
        free(gpred_h);
        free(loss);
        free(dz);
    }
}

/* Model-level GPU tests (a training step against the CPU, the reconstruction angle, planned
 * against measured memory, checkpoint against standard) are in test_cuda_model.c, so that
 * neither file passes ~800 lines. */
