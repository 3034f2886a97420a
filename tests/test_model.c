/*
 * test_model.c: the paper's networks. Parameter counts against PAPER.md, the reversible
 * inverse, reversible against standard gradients, checkpoint against standard gradients,
 * finite differences through whole networks, depth-independence of kept activations, batch-norm
 * running averages, and the memory plan against what a step measures.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/model.h>
#include "nn/nn_internal.h"
#include <revnet/rng.h>

/* The paper's float32 reference: PyTorch gets 0.052 degrees on revnet-38 at batch 100
 * (/work/shared/peers/results.md); the issue asks for under 0.1. */
#define ANGLE_LIMIT_DEG 0.1

/* Reconstructing x1 = y1 - F(x2) loses about one float rounding of |y| per unit; relative to
 * max |y| an error of 1e-5 is ~80 ulps, ample for one unit and far below any real bug (a wrong
 * half or a missing term gives errors of order 1). */
#define RECON_REL_TOL 1e-5

/* Central differences through a whole float32 network, on the largest-gradient coordinate of
 * every parameter tensor. eps = 1e-3: the per-sample losses are float, so an evaluation carries
 * ~2e-7 absolute noise, ~1e-4 after dividing by 2*eps (the absolute floor). The difference
 * quotient also carries the curvature of batch norm and the ReLU kinks: the worst case measured
 * is the RevNet stem's BN scale, whose quotient moves 0.056 -> 0.060 -> (analytic) 0.064 as eps
 * goes 1e-3 -> 3e-4 -> 0, a 13% gap at 1e-3. Hence 15%: a dropped path or wrong sign is off by
 * 100% or more; small slips are caught by the per-op tests (test_ops, test_conv). */
#define FD_EPS 1e-3f
#define FD_REL_TOL 0.15
#define FD_ABS_FLOOR 2e-4
/* That worst case sits at 93-96% of the bound (OpenBLAS kernels Cooperlake, Haswell,
 * Sandybridge): too close for every kernel and seed. Its error comes from ReLU kinks and batch
 * norm's curvature within the step and shrinks with the step (13% -> 6% from 1e-3 to 3e-4),
 * while a wrong gradient's does not. So a coordinate over the bound is measured again at a
 * quarter of the step, with the absolute floor raised 4x for the rounding noise divided by a
 * 4x smaller step, and must pass there: that stem coordinate then errs by 4.9% (Cooperlake and
 * Sandybridge alike), a third of the bound. */
#define FD_RETRY_DIV 4.0f

/* Two fresh copies of a small RevNet (8 images), one step each in standard and reversible
 * mode: rounding alone puts their gradients ~5e-5 degrees apart, but a ReLU whose input lies
 * within rounding of zero can fall on the other side in the reconstruction, and one such flip
 * moves these small gradients by a visible angle. Measured over batch seeds 1-40 and OpenBLAS
 * kernels Cooperlake, Haswell and Sandybridge (revnet-basic-2 and revnet-bottleneck-2): 12 of
 * 240 runs had a flip, the largest 0.34 degrees (seed 27 on revnet-basic-2, every kernel);
 * the paper's 0.1 (ANGLE_LIMIT_DEG, for a 100-image revnet-38), used here before, failed
 * Sandybridge at this test's seed 9 (0.18). 2 degrees is 6x the largest flip seen; a
 * reconstruction bug (a wrong half, a missing term) is an O(1) relative error, tens of
 * degrees. */
#define SMALL_NET_ANGLE_DEG 2.0

static rv_ctx *ctx;

static void setup(void)
{
    char msg[256];
    cr_assert_eq(rv_ctx_create(&ctx, NULL, msg, sizeof msg), RV_OK, "%s", msg);
}

static void teardown(void) { rv_ctx_destroy(ctx); }

static rv_model *make(const char *name, int classes, int batch, unsigned modes, int eval)
{
    rv_arch a;
    char msg[512];
    cr_assert_eq(rv_arch_parse(name, &a, msg, sizeof msg), RV_OK, "%s", msg);
    rv_model_options o = { .n_classes = classes, .batch = batch, .seed = 7, .train_modes = modes, .plan_eval = eval };
    rv_model *m = NULL;
    cr_assert_eq(rv_model_create(ctx, &a, &o, &m), RV_OK, "%s: %s", name, rv_ctx_message(ctx));
    return m;
}

static void random_batch(rv_model *m, float **x, int32_t **y, uint64_t seed)
{
    int B = rv_model_batch(m), S = rv_model_input_size(m), K = rv_model_n_classes(m);
    size_t n = (size_t)B * 3 * S * S;
    *x = malloc(n * sizeof **x);
    *y = malloc((size_t)B * sizeof **y);
    rv_rng_state r;
    rv_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) (*x)[i] = (float)rv_rng_normal(&r);
    for (int i = 0; i < B; i++) (*y)[i] = (int32_t)rv_rng_below(&r, (uint32_t)K);
}

TestSuite(model, .init = setup, .fini = teardown, .timeout = 300);

typedef struct {
    const char *name;
    size_t params10, params100;
    int layers;
} count_row;

/* PAPER.md, counted from the official code. */
static const count_row COUNTS[] = {
    { "resnet-32", 464154, 470004, 32 },    { "revnet-38", 464890, 475060, 38 },
    { "resnet-110", 1727962, 1733812, 110 }, { "revnet-110", 1729194, 1740804, 110 },
    { "resnet-164", 1703258, 1726388, 164 }, { "revnet-164", 1748778, 1794948, 164 },
};

Test(model, parameter_counts_match_the_paper_on_cifar)
{
    for (size_t i = 0; i < sizeof COUNTS / sizeof COUNTS[0]; i++) {
        rv_model *m = make(COUNTS[i].name, 10, 1, 0, 0);
        cr_expect_eq(rv_model_n_params(m), COUNTS[i].params10, "%s: %zu", COUNTS[i].name,
                     rv_model_n_params(m));
        cr_expect_eq(rv_model_n_layers(m), COUNTS[i].layers, "%s layers", COUNTS[i].name);
        rv_model_destroy(m);
        m = make(COUNTS[i].name, 100, 1, 0, 0);
        cr_expect_eq(rv_model_n_params(m), COUNTS[i].params100, "%s/100: %zu", COUNTS[i].name,
                     rv_model_n_params(m));
        rv_model_destroy(m);
    }
}

Test(model, parameter_counts_match_the_paper_on_imagenet)
{
    rv_model *m = make("resnet-101", 1000, 1, 0, 0);
    cr_expect_eq(rv_model_n_params(m), 44541480u, "resnet-101: %zu", rv_model_n_params(m));
    cr_expect_eq(rv_model_n_layers(m), 101);
    rv_model_destroy(m);
    m = make("revnet-104", 1000, 1, 0, 0);
    cr_expect_eq(rv_model_n_params(m), 45428072u, "revnet-104: %zu", rv_model_n_params(m));
    cr_expect_eq(rv_model_n_layers(m), 104);
    rv_model_destroy(m);
}

Test(model, unknown_names_are_clear_errors)
{
    rv_arch a;
    char msg[512] = "";
    cr_assert_eq(rv_arch_parse("resnet-33", &a, msg, sizeof msg), RV_ERR_ARG);
    cr_expect(strstr(msg, "revnet-38") != NULL, "%s", msg);
    cr_expect_eq(rv_arch_parse("revnet-basic-0", &a, NULL, 0), RV_ERR_ARG);
    cr_expect_eq(rv_arch_parse("revnet-basic-x", &a, NULL, 0), RV_ERR_ARG);
    cr_expect_eq(rv_arch_parse("revnet-basic-12", &a, NULL, 0), RV_OK);
    cr_expect_eq(a.units[2], 12);
    rv_backward_mode mode;
    cr_expect_eq(rv_backward_mode_parse("reverse", &mode, msg, sizeof msg), RV_ERR_ARG);
    cr_expect(strstr(msg, "checkpoint") != NULL, "%s", msg);
    /* A ResNet cannot run reversibly, a RevNet has no checkpoint schedule. */
    rv_model_options o = { .n_classes = 10, .batch = 2, .seed = 1, .train_modes = 1u << RV_BACKWARD_REVERSIBLE };
    rv_model *m = NULL;
    cr_assert_eq(rv_arch_parse("resnet-32", &a, NULL, 0), RV_OK);
    cr_expect_eq(rv_model_create(ctx, &a, &o, &m), RV_ERR_ARG);
    cr_expect_null(m);
    o.train_modes = 1u << RV_BACKWARD_CHECKPOINT;
    cr_assert_eq(rv_arch_parse("revnet-38", &a, NULL, 0), RV_OK);
    cr_expect_eq(rv_model_create(ctx, &a, &o, &m), RV_ERR_ARG);
}

/* Runs one reversible unit forward in place and then Algorithm 1's reconstruction on it, in a
 * memory plan of the test's own, and returns max |x - reconstructed x| / max |y|. */
static double reconstruction_error(const char *name)
{
    rv_model *m = make(name, 10, 4, 1u << RV_BACKWARD_REVERSIBLE, 0);
    rv_unit *u = NULL;
    for (int i = 0; i < m->n_units && !u; i++)
        if (m->units[i].kind == RV_UNIT_REVERSIBLE) u = &m->units[i];
    cr_assert_not_null(u, "%s has no reversible unit", name);
    /* Two halves, each in the backend's layout; values go in and come out through
     * rv_act_upload / rv_act_download so that padding channels stay zero. */
    int half_c = u->C_in / 2, hw = u->H_in * u->W_in;
    size_t nh = (size_t)m->N * half_c * hw, n = 2 * rv_act_floats(ctx, m->N, half_c, hw);
    size_t nh_act = n / 2;

    rv_mem *own = m->mem, *mem;
    cr_assert_eq(rv_mem_create(ctx, &mem), RV_OK);
    m->mem = mem;
    float *buf, *d;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) cr_assert_eq(rv_mem_record_begin(mem, 0), RV_OK);
        else cr_assert_eq(rv_mem_run_begin(mem, 0), RV_OK);
        cr_assert_eq(rv_model_acquire(m, &buf, "x", RV_MEM_KEPT, n), RV_OK);
        cr_assert_eq(rv_model_acquire(m, &d, "d", RV_MEM_TRANSIENT, n), RV_OK);
        float *x0 = NULL;
        if (pass == 1) {
            rv_rng_state r;
            rv_rng_seed(&r, 11);
            x0 = malloc(2 * nh * sizeof *x0);
            for (size_t i = 0; i < 2 * nh; i++) x0[i] = (float)rv_rng_normal(&r);
            memset(d, 0, n * sizeof *d);
            for (int h = 0; h < 2; h++)
                cr_assert_eq(rv_act_upload(ctx, buf + h * nh_act, x0 + h * nh, m->N, half_c, hw),
                             RV_OK);
        }
        cr_assert_eq(rv_reversible_forward_inplace(m, u, buf, RV_BN_TRAIN), RV_OK, "%s",
                     rv_ctx_message(ctx));
        double max_y = 0;
        if (pass == 1)
            for (size_t i = 0; i < n; i++) max_y = fmax(max_y, fabs(buf[i]));
        cr_assert_eq(rv_reversible_reconstruct_backward(m, u, buf, d), RV_OK, "%s",
                     rv_ctx_message(ctx));
        double err = 0;
        if (pass == 1) {
            float *x1 = malloc(2 * nh * sizeof *x1);
            for (int h = 0; h < 2; h++)
                cr_assert_eq(rv_act_download(ctx, x1 + h * nh, buf + h * nh_act, m->N, half_c, hw),
                             RV_OK);
            for (size_t i = 0; i < 2 * nh; i++) err = fmax(err, fabs(x1[i] - x0[i]));
            free(x1);
            free(x0);
        }
        cr_assert_eq(rv_model_release(m, d), RV_OK);
        cr_assert_eq(rv_model_release(m, buf), RV_OK);
        if (pass == 0) {
            cr_assert_eq(rv_mem_record_end(mem), RV_OK);
            cr_assert_eq(rv_mem_finalize(mem), RV_OK);
        } else {
            cr_assert_eq(rv_mem_run_end(mem), RV_OK);
            m->mem = own;
            rv_mem_destroy(mem);
            rv_model_destroy(m);
            cr_assert_gt(max_y, 0.0);
            return err / max_y;
        }
    }
    return INFINITY;
}

Test(model, reversible_inverse_rebuilds_the_input_basic)
{
    double e = reconstruction_error("revnet-basic-2");
    cr_expect_lt(e, RECON_REL_TOL, "relative reconstruction error %g", e);
}

Test(model, reversible_inverse_rebuilds_the_input_bottleneck)
{
    double e = reconstruction_error("revnet-bottleneck-2");
    cr_expect_lt(e, RECON_REL_TOL, "relative reconstruction error %g", e);
}

Test(model, reversible_gradients_match_standard_on_revnet38)
{
    rv_model *m = make("revnet-38", 10, 100,
                       1u << RV_BACKWARD_STANDARD | 1u << RV_BACKWARD_REVERSIBLE, 0);
    float *x;
    int32_t *y;
    random_batch(m, &x, &y, 5);
    double angle, rel;
    cr_assert_eq(rv_model_gradient_angle(m, x, y, &angle, &rel), RV_OK, "%s", rv_ctx_message(ctx));
    cr_expect_lt(angle, ANGLE_LIMIT_DEG, "angle %g degrees", angle);
    cr_expect_gt(angle, 0.0, "identical gradients would mean nothing was reconstructed");
    cr_log_info("revnet-38 batch 100: angle %.4f deg, max rel diff %.3g", angle, rel);
    free(x);
    free(y);
    rv_model_destroy(m);
}

static void grads_and_stats(rv_model *m, rv_backward_mode mode, const float *x, const int32_t *y,
                            float *grads, float *state, double *loss)
{
    rv_step_result r;
    cr_assert_eq(rv_model_train_step(m, mode, x, y, 1, &r), RV_OK, "%s", rv_ctx_message(ctx));
    cr_assert_eq(rv_model_get_grads(m, grads), RV_OK);
    cr_assert_eq(rv_model_get_state(m, state, NULL), RV_OK);
    *loss = r.loss;
}

/* Two fresh models with the same seed, one step each in modes a and b: gradients and the
 * batch-norm running averages compared. exact: bitwise; else the angle must be tiny. */
static void compare_modes(const char *name, rv_backward_mode a, rv_backward_mode b, int exact)
{
    rv_model *ma = make(name, 10, 8, 1u << a, 0), *mb = make(name, 10, 8, 1u << b, 0);
    size_t n = rv_model_n_params(ma), ns = rv_model_n_state(ma);
    float *ga = malloc(n * 4), *gb = malloc(n * 4), *sa = malloc(ns * 4), *sb = malloc(ns * 4);
    float *x;
    int32_t *y;
    random_batch(ma, &x, &y, 9);
    double la, lb;
    grads_and_stats(ma, a, x, y, ga, sa, &la);
    grads_and_stats(mb, b, x, y, gb, sb, &lb);
    cr_expect_eq(la, lb, "%s: losses differ %g %g", name, la, lb);
    if (exact) {
        cr_expect_eq(memcmp(ga, gb, n * 4), 0, "%s: %s and %s gradients differ", name,
                     rv_backward_mode_name(a), rv_backward_mode_name(b));
    } else {
        double dot = 0, na = 0, nb = 0;
        for (size_t i = 0; i < n; i++) {
            dot += (double)ga[i] * gb[i];
            na += (double)ga[i] * ga[i];
            nb += (double)gb[i] * gb[i];
        }
        double deg = acos(fmin(1.0, dot / sqrt(na * nb))) * 180.0 / acos(-1.0);
        cr_expect_lt(deg, SMALL_NET_ANGLE_DEG, "%s: angle %g", name, deg);
    }
    /* The running averages are updated once per step whatever the mode: the recomputations in
     * the backward pass must not touch them. They come from the forward pass, which is the
     * same arithmetic in every mode, so they agree bit for bit. */
    cr_expect_eq(memcmp(sa + n, sb + n, (ns - n) * 4), 0, "%s: BN running averages differ", name);
    cr_expect_eq(memcmp(sa, sb, n * 4), 0, "%s: a training step must not change weights", name);
    free(ga), free(gb), free(sa), free(sb), free(x), free(y);
    rv_model_destroy(ma);
    rv_model_destroy(mb);
}

Test(model, checkpoint_gradients_are_bit_identical_to_standard)
{
    compare_modes("resnet-basic-4", RV_BACKWARD_STANDARD, RV_BACKWARD_CHECKPOINT, 1);
    compare_modes("resnet-bottleneck-2", RV_BACKWARD_STANDARD, RV_BACKWARD_CHECKPOINT, 1);
}

Test(model, reversible_step_updates_running_averages_like_standard)
{
    compare_modes("revnet-basic-2", RV_BACKWARD_STANDARD, RV_BACKWARD_REVERSIBLE, 0);
    compare_modes("revnet-bottleneck-2", RV_BACKWARD_STANDARD, RV_BACKWARD_REVERSIBLE, 0);
}

/* Whole-network central differences on one coordinate of every parameter tensor. */
static void finite_differences(const char *name, rv_backward_mode mode)
{
    rv_model *m = make(name, 10, 4, 1u << mode, 0);
    size_t n = rv_model_n_params(m), ns = rv_model_n_state(m);
    float *g = malloc(n * 4), *state = malloc(ns * 4);
    float *x;
    int32_t *y;
    random_batch(m, &x, &y, 3);
    rv_step_result r;
    /* bn_update 0: the running averages stay put, so every evaluation sees the same network. */
    cr_assert_eq(rv_model_train_step(m, mode, x, y, 0, &r), RV_OK, "%s", rv_ctx_message(ctx));
    cr_assert_eq(rv_model_get_grads(m, g), RV_OK);
    cr_assert_eq(rv_model_get_state(m, state, NULL), RV_OK);
    int checked = 0;
    for (size_t k = 0; k < m->n_inits; k++) {
        const rv_init_spec *spec = &m->inits[k];
        if (spec->offset >= n) continue; /* running averages are not trained */
        size_t i = spec->offset;
        for (size_t j = spec->offset; j < spec->offset + spec->n; j++)
            if (fabsf(g[j]) > fabsf(g[i])) i = j;
        float keep = state[i], eps = FD_EPS, floor = FD_ABS_FLOOR;
        double fd = 0, err = INFINITY;
        for (int attempt = 0; attempt < 2 && err > FD_REL_TOL * fabs(fd) + floor; attempt++) {
            if (attempt) eps /= FD_RETRY_DIV, floor *= FD_RETRY_DIV;
            float up = keep + eps, down = keep - eps;
            state[i] = up;
            cr_assert_eq(rv_model_set_state(m, state, NULL), RV_OK);
            cr_assert_eq(rv_model_train_step(m, mode, x, y, 0, &r), RV_OK);
            double lp = r.loss;
            state[i] = down;
            cr_assert_eq(rv_model_set_state(m, state, NULL), RV_OK);
            cr_assert_eq(rv_model_train_step(m, mode, x, y, 0, &r), RV_OK);
            double lm = r.loss;
            /* Divided by the step float actually took (keep +- eps rounded). */
            fd = (lp - lm) / ((double)up - (double)down);
            err = fabs(fd - g[i]);
        }
        state[i] = keep;
        cr_assert_eq(rv_model_set_state(m, state, NULL), RV_OK);
        cr_expect(err <= FD_REL_TOL * fabs(fd) + floor,
                  "%s %s tensor %zu (param %zu): analytic %g, finite difference %g (step %g)",
                  name, rv_backward_mode_name(mode), k, i, g[i], fd, (double)eps);
        checked++;
    }
    cr_assert_gt(checked, 10);
    free(g), free(state), free(x), free(y);
    rv_model_destroy(m);
}

Test(model, whole_network_gradients_match_finite_differences)
{
    finite_differences("resnet-basic-1", RV_BACKWARD_STANDARD);
    finite_differences("resnet-bottleneck-1", RV_BACKWARD_CHECKPOINT);
    finite_differences("revnet-basic-2", RV_BACKWARD_REVERSIBLE);
    finite_differences("revnet-bottleneck-2", RV_BACKWARD_STANDARD);
}

static size_t kept_bytes(const char *name, rv_backward_mode mode)
{
    rv_model *m = make(name, 10, 4, 1u << mode, 0);
    rv_mem_stats st;
    cr_assert_eq(rv_mem_planned(rv_model_mem(m), rv_model_program_train(mode), &st), RV_OK);
    rv_model_destroy(m);
    return st.peak_bytes[RV_MEM_KEPT];
}

Test(model, reversible_kept_activations_do_not_grow_with_depth)
{
    size_t r3 = kept_bytes("revnet-basic-3", RV_BACKWARD_REVERSIBLE);
    size_t r9 = kept_bytes("revnet-basic-9", RV_BACKWARD_REVERSIBLE);
    size_t r18 = kept_bytes("revnet-basic-18", RV_BACKWARD_REVERSIBLE);
    cr_expect_eq(r3, r9, "%zu vs %zu", r3, r9);
    cr_expect_eq(r9, r18, "%zu vs %zu", r9, r18);
    size_t s3 = kept_bytes("revnet-basic-3", RV_BACKWARD_STANDARD);
    size_t s9 = kept_bytes("revnet-basic-9", RV_BACKWARD_STANDARD);
    size_t s18 = kept_bytes("revnet-basic-18", RV_BACKWARD_STANDARD);
    /* Linear growth: the same bytes per added unit from 3 to 9 as from 9 to 18. */
    cr_expect_gt(s9, s3);
    cr_expect_eq((s9 - s3) / 6, (s18 - s9) / 9, "%zu %zu %zu", s3, s9, s18);
    cr_expect_eq((s9 - s3) % 6, 0u);
    cr_expect_gt(s3, r3);
}

Test(model, measured_memory_equals_the_plan_in_every_mode)
{
    const char *names[] = { "resnet-basic-2", "revnet-basic-2" };
    for (int k = 0; k < 2; k++) {
        rv_arch a;
        cr_assert_eq(rv_arch_parse(names[k], &a, NULL, 0), RV_OK);
        for (int mode = 0; mode < RV_BACKWARD_N_MODES; mode++) {
            if (!rv_arch_supports(&a, (rv_backward_mode)mode)) continue;
            rv_model *m = make(names[k], 10, 6, 1u << mode, 1);
            float *x;
            int32_t *y;
            random_batch(m, &x, &y, 2);
            rv_mem_stats planned, measured;
            rv_mem_reset_peaks(rv_model_mem(m));
            cr_assert_eq(rv_model_train_step(m, (rv_backward_mode)mode, x, y, 1, NULL), RV_OK);
            rv_mem_measured(rv_model_mem(m), &measured);
            cr_assert_eq(rv_mem_planned(rv_model_mem(m), rv_model_program_train((rv_backward_mode)mode),
                                        &planned), RV_OK);
            for (int c = 0; c < RV_MEM_N_CATEGORIES; c++)
                cr_expect_eq(planned.peak_bytes[c], measured.peak_bytes[c], "%s %s %s",
                             names[k], rv_backward_mode_name((rv_backward_mode)mode),
                             rv_mem_category_name((rv_mem_category)c));
            cr_expect_eq(planned.peak_activation_bytes, measured.peak_activation_bytes);
            cr_expect_eq(planned.peak_total_bytes, measured.peak_total_bytes);
            cr_expect_geq(rv_mem_arena_bytes(rv_model_mem(m)), planned.peak_total_bytes);
            free(x), free(y);
            rv_model_destroy(m);
        }
    }
}

Test(model, training_steps_are_deterministic)
{
    rv_model *a = make("revnet-basic-1", 10, 8, 1u << RV_BACKWARD_REVERSIBLE, 1);
    rv_model *b = make("revnet-basic-1", 10, 8, 1u << RV_BACKWARD_REVERSIBLE, 1);
    float *x;
    int32_t *y;
    random_batch(a, &x, &y, 4);
    for (int step = 0; step < 3; step++) {
        rv_step_result ra, rb;
        cr_assert_eq(rv_model_train_step(a, RV_BACKWARD_REVERSIBLE, x, y, 1, &ra), RV_OK);
        cr_assert_eq(rv_model_train_step(b, RV_BACKWARD_REVERSIBLE, x, y, 1, &rb), RV_OK);
        cr_expect_eq(ra.loss, rb.loss, "step %d: %.9g vs %.9g", step, ra.loss, rb.loss);
        cr_assert_eq(rv_model_sgd(a, 0.1f, 0.9f, 2e-4f), RV_OK);
        cr_assert_eq(rv_model_sgd(b, 0.1f, 0.9f, 2e-4f), RV_OK);
    }
    rv_step_result ea, eb;
    cr_assert_eq(rv_model_eval(a, x, y, &ea), RV_OK);
    cr_assert_eq(rv_model_eval(b, x, y, &eb), RV_OK);
    cr_expect_eq(ea.loss, eb.loss);
    free(x), free(y);
    rv_model_destroy(a);
    rv_model_destroy(b);
}

Test(model, a_few_sgd_steps_fit_one_batch)
{
    rv_model *m = make("resnet-basic-1", 10, 8, 1u << RV_BACKWARD_STANDARD, 0);
    float *x;
    int32_t *y;
    random_batch(m, &x, &y, 6);
    rv_step_result first, r;
    cr_assert_eq(rv_model_train_step(m, RV_BACKWARD_STANDARD, x, y, 1, &first), RV_OK);
    for (int i = 0; i < 30; i++) {
        cr_assert_eq(rv_model_sgd(m, 0.05f, 0.9f, 0.0f), RV_OK);
        cr_assert_eq(rv_model_train_step(m, RV_BACKWARD_STANDARD, x, y, 1, &r), RV_OK);
    }
    cr_expect_lt(r.loss, 0.5 * first.loss, "loss %g -> %g", first.loss, r.loss);
    free(x), free(y);
    rv_model_destroy(m);
}

Test(model, allocation_failure_is_an_error_not_a_crash)
{
    rv_arch a;
    cr_assert_eq(rv_arch_parse("revnet-basic-1", &a, NULL, 0), RV_OK);
    rv_model_options o = { .n_classes = 10, .batch = 4, .seed = 1, .train_modes = 1u << RV_BACKWARD_REVERSIBLE, .plan_eval = 1 };
    rv_model *m = (rv_model *)1;
    rv_ctx_inject_alloc_failure(ctx, 1);
    cr_expect_eq(rv_model_create(ctx, &a, &o, &m), RV_ERR_NOMEM);
    cr_expect_null(m);
    rv_ctx_inject_alloc_failure(ctx, 0);
}
