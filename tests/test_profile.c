/*
 * test_profile.c: per-op timing and counted work (profile.h), `revbench bench step`, which
 * reports with them, and `revbench bench peak`. Counts, categories, work and sums only: no
 * assertion here depends on how fast anything ran.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <revnet/activation.h>
#include <revnet/batchnorm.h>
#include <revnet/conv.h>
#include <revnet/model.h>
#include <revnet/profile.h>
#include <cjson/cJSON.h>

/* bench step prints numbers with %.9g, i.e. relative rounding of at most 5e-10 each; a sum of
 * a few dozen such numbers compared with another printed number differs by well under 1e-8 of
 * the larger magnitude. A real inconsistency (a category missing from the sum, an op counted
 * twice) is a whole op's time, orders of magnitude more. */
#define JSON_REL_TOL 1e-8

static rv_ctx *ctx;

static void setup(void)
{
    char msg[256];
    cr_assert_eq(rv_ctx_create(&ctx, NULL, msg, sizeof msg), RV_OK, "%s", msg);
}

static void teardown(void) { rv_ctx_destroy(ctx); }

TestSuite(profile, .init = setup, .fini = teardown, .timeout = 120);

/* Index of the op named name in the profile table; fails the test when absent. */
static int op_index(const char *name)
{
    for (int i = 0; i < rv_profile_n_ops(); i++) {
        rv_profile_entry e;
        cr_assert_eq(rv_profile_get(ctx, i, &e), RV_OK);
        if (strcmp(e.name, name) == 0) return i;
    }
    cr_assert_fail("op %s is not in the profile table", name);
    return -1;
}

static long calls_of(const char *name)
{
    rv_profile_entry e;
    cr_assert_eq(rv_profile_get(ctx, op_index(name), &e), RV_OK);
    return e.calls;
}

static double flop_of(const char *name)
{
    rv_profile_entry e;
    cr_assert_eq(rv_profile_get(ctx, op_index(name), &e), RV_OK);
    return e.flop;
}

Test(profile, counts_only_while_on_and_not_in_dry_run)
{
    enum { N = 4096 };
    static float a[N], b[N];
    cr_assert_not(rv_profile_enabled(ctx), "profiling must be off by default");
    cr_assert_eq(rv_relu_forward(ctx, b, a, N), RV_OK);
    cr_expect_eq(calls_of("relu_forward"), 0, "an op was counted with profiling off");

    rv_profile_enable(ctx, 1);
    for (int i = 0; i < 3; i++) cr_assert_eq(rv_relu_forward(ctx, b, a, N), RV_OK);
    cr_assert_eq(rv_add(ctx, b, a, a, N), RV_OK);
    cr_assert_eq(rv_ctx_upload(ctx, b, a, sizeof a), RV_OK);
    rv_ctx_set_dry_run(ctx, 1);
    cr_assert_eq(rv_relu_forward(ctx, b, a, N), RV_OK);
    rv_ctx_set_dry_run(ctx, 0);
    rv_profile_enable(ctx, 0);
    cr_assert_eq(rv_relu_forward(ctx, b, a, N), RV_OK);

    cr_expect_eq(calls_of("relu_forward"), 3);
    cr_expect_eq(calls_of("add"), 1);
    cr_expect_eq(calls_of("upload"), 1);
    cr_expect_eq(calls_of("conv_forward"), 0);
    double sum = 0;
    for (int c = 0; c < RV_PROFILE_N_CATEGORIES; c++) {
        double ms = rv_profile_category_ms(ctx, (rv_profile_category)c);
        cr_expect_geq(ms, 0.0);
        sum += ms;
    }
    cr_expect_eq(sum, rv_profile_total_ms(ctx), "categories must partition the ops' total");

    rv_profile_reset(ctx);
    cr_expect_eq(calls_of("relu_forward"), 0);
    cr_expect_eq(rv_profile_total_ms(ctx), 0.0);
}

Test(profile, every_op_has_a_category_and_bad_queries_are_errors)
{
    rv_profile_entry e;
    for (int i = 0; i < rv_profile_n_ops(); i++) {
        cr_assert_eq(rv_profile_get(ctx, i, &e), RV_OK);
        cr_expect_not_null(rv_profile_category_name(e.category), "op %s", e.name);
    }
    cr_expect_eq(rv_profile_get(ctx, rv_profile_n_ops(), &e), RV_ERR_ARG);
    cr_expect_neq(strstr(rv_ctx_message(ctx), "outside"), NULL, "%s", rv_ctx_message(ctx));
    cr_expect_eq(rv_profile_get(ctx, -1, &e), RV_ERR_ARG);
    cr_expect_eq(rv_profile_get(ctx, 0, NULL), RV_ERR_ARG);
    cr_expect_null(rv_profile_category_name(RV_PROFILE_N_CATEGORIES));
}

/* A training step with profiling on counts each op as often as the network has it: the
 * smallest basic ResNet (one unit per stage) has 7 convs (stem + 2 per unit), each a forward
 * and a filter gradient, and 6 data gradients (none for the image). */
Test(profile, a_training_step_counts_the_networks_ops)
{
    rv_arch a;
    cr_assert_eq(rv_arch_parse("resnet-basic-1", &a, NULL, 0), RV_OK);
    rv_model_options o = { .n_classes = 10, .batch = 2, .seed = 3,
                           .train_modes = 1u << RV_BACKWARD_STANDARD };
    rv_model *m = NULL;
    cr_assert_eq(rv_model_create(ctx, &a, &o, &m), RV_OK, "%s", rv_ctx_message(ctx));
    float *x = calloc(2 * 3 * 32 * 32, sizeof *x);
    int32_t y[2] = { 1, 2 };
    cr_assert_not_null(x);
    rv_profile_enable(ctx, 1);
    rv_step_result r;
    cr_assert_eq(rv_model_train_step(m, RV_BACKWARD_STANDARD, x, y, 1, &r), RV_OK, "%s",
                 rv_ctx_message(ctx));
    rv_profile_enable(ctx, 0);
    cr_expect_eq(calls_of("conv_forward"), 7);
    cr_expect_eq(calls_of("conv_backward_filter"), 7);
    cr_expect_eq(calls_of("conv_backward_data"), 6);
    cr_expect_eq(calls_of("softmax_xent"), 1);

    /* The counted work: every conv has a forward and a filter gradient of the same
     * multiply-adds, and a data gradient except the stem (3 -> 16 channels, 3x3, 32x32, batch
     * 2). All are integers far below 2^53, so the sums are exact. */
    const double stem_flop = 2.0 * 2 * 16 * 32 * 32 * 3 * 3 * 3;
    double fwd = flop_of("conv_forward");
    cr_expect_gt(fwd, stem_flop);
    cr_expect_eq(flop_of("conv_backward_filter"), fwd);
    cr_expect_eq(flop_of("conv_backward_data"), fwd - stem_flop);
    cr_expect_eq(rv_profile_category_flop(ctx, RV_PROFILE_CONV_FWD), fwd);
    cr_expect_eq(rv_profile_category_flop(ctx, RV_PROFILE_BN), 0.0, "only convs are counted");
    cr_expect_eq(flop_of("softmax_xent"), 0.0);
    free(x);
    rv_model_destroy(m);
}

/* One conv call counts 2 x its multiply-adds; a call that fails (bad workspace) counts none,
 * nor does one with profiling off; a reset zeroes the work with the times. */
Test(profile, a_conv_counts_its_multiply_adds_once)
{
    rv_conv_desc d;
    cr_assert_eq(rv_conv_desc_init(ctx, &d, 2, 16, 8, 8, 32, 3, 2), RV_OK);
    size_t ws_bytes = rv_conv_workspace_bytes(ctx, &d);
    float *in = NULL, *w = NULL, *out = NULL;
    void *ws = NULL;
    cr_assert_eq(rv_ctx_alloc(ctx, (void **)&in, 2 * 16 * 8 * 8 * sizeof(float)), RV_OK);
    cr_assert_eq(rv_ctx_alloc(ctx, (void **)&w, 32 * 16 * 9 * sizeof(float)), RV_OK);
    cr_assert_eq(rv_ctx_alloc(ctx, (void **)&out, 2 * 32 * 4 * 4 * sizeof(float)), RV_OK);
    if (ws_bytes) cr_assert_eq(rv_ctx_alloc(ctx, &ws, ws_bytes), RV_OK);
    memset(in, 0, 2 * 16 * 8 * 8 * sizeof(float)); /* host memory: a CPU context */
    memset(w, 0, 32 * 16 * 9 * sizeof(float));

    cr_assert_eq(rv_conv_forward(ctx, out, in, w, &d, ws), RV_OK, "%s", rv_ctx_message(ctx));
    cr_expect_eq(flop_of("conv_forward"), 0.0, "profiling is off");
    rv_profile_enable(ctx, 1);
    cr_assert_eq(rv_conv_forward(ctx, out, in, w, &d, ws), RV_OK, "%s", rv_ctx_message(ctx));
    if (ws_bytes) cr_expect_neq(rv_conv_forward(ctx, out, in, w, &d, NULL), RV_OK);
    rv_profile_enable(ctx, 0);
    cr_expect_eq(rv_conv_macs(&d), 2.0 * 32 * 4 * 4 * 16 * 9);
    cr_expect_eq(flop_of("conv_forward"), 2.0 * rv_conv_macs(&d));
    rv_profile_reset(ctx);
    cr_expect_eq(flop_of("conv_forward"), 0.0);
    rv_ctx_free(ctx, in);
    rv_ctx_free(ctx, w);
    rv_ctx_free(ctx, out);
    rv_ctx_free(ctx, ws);
}

/* Runs the revbench command line args, its stdout into *out (malloc'ed); the exit status. */
static int run_revbench(const char *args, char **out)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s", RV_REVBENCH, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, n = 0;
    *out = malloc(cap);
    cr_assert_not_null(*out);
    size_t got;
    while ((got = fread(*out + n, 1, cap - 1 - n, p)) > 0) {
        n += got;
        if (n == cap - 1) {
            cap *= 2;
            *out = realloc(*out, cap);
            cr_assert_not_null(*out);
        }
    }
    (*out)[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void expect_close(double a, double b, const char *what)
{
    double scale = fmax(fabs(a), fabs(b));
    cr_expect_leq(fabs(a - b), JSON_REL_TOL * scale + 1e-12, "%s: %.12g against %.12g", what,
                  a, b);
}

/* The number under key in obj, or fallback when it is missing or not a number. */
static double num(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static const char *text_of(const cJSON *obj, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* `revbench ARGS`, which must succeed and print one JSON object: that object (cJSON_Delete). */
static cJSON *revbench_json(const char *args)
{
    char *text;
    int rc = run_revbench(args, &text);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    cJSON *f = cJSON_Parse(text);
    cr_assert(cJSON_IsObject(f), "not a JSON object: %s", text);
    free(text);
    return f;
}

Test(bench_step, json_fields_and_the_breakdown_add_up, .timeout = 300)
{
    cJSON *f = revbench_json("bench step --arch revnet-basic-1 --batch 4 --steps 2 --threads 1 "
                             "--json");

    const char *t = text_of(f, "benchmark");
    cr_assert(t && strcmp(t, "step") == 0);
    t = text_of(f, "mode");
    cr_assert(t && strcmp(t, "reversible") == 0, "RevNets default to it");
    cr_expect_eq(num(f, "batch", -1), 4);
    cr_expect_eq(num(f, "steps", -1), 2);
    cr_expect_eq(num(f, "threads", -1), 1);
    double med = num(f, "ms_per_step", -1);
    double mean = num(f, "ms_per_step_mean", -1);
    cr_assert_gt(med, 0);
    cr_assert_gt(mean, 0);
    expect_close(num(f, "images_per_sec", -1), 4 * 1000.0 / med, "images/s");
    expect_close(num(f, "images_per_sec_mean", -1), 4 * 1000.0 / mean,
                 "images/s from the mean");

    /* categories = ops' total; ops' total + outside = the profiled step */
    const cJSON *breakdown = cJSON_GetObjectItemCaseSensitive(f, "breakdown_ms_per_step");
    double cat_sum = 0;
    for (int c = 0; c < RV_PROFILE_N_CATEGORIES; c++) {
        const char *name = rv_profile_category_name((rv_profile_category)c);
        double v = num(breakdown, name, -1);
        cr_expect_geq(v, 0, "breakdown_ms_per_step.%s missing or negative", name);
        cat_sum += v;
    }
    double ops = num(f, "ops_ms_per_step", -1);
    double outside = num(f, "outside_ops_ms_per_step", NAN);
    double profiled = num(f, "profiled_ms_per_step", -1);
    expect_close(cat_sum, ops, "sum of categories against ops_ms_per_step");
    expect_close(ops + outside, profiled, "ops + outside against the profiled step");
    /* The ops are disjoint intervals inside each step's interval. */
    cr_expect_geq(outside, -JSON_REL_TOL * profiled, "ops took longer than their steps");

    /* The per-op rows add up to the same total, and the convs are all there. */
    double op_sum = 0;
    int n_rows = 0, saw_filter = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(f, "ops")) {
        n_rows++;
        op_sum += num(row, "ms_per_step", 0);
        t = text_of(row, "name");
        cr_assert(t);
        if (strcmp(t, "conv_backward_filter") == 0) {
            /* one weight gradient per conv: the RevNet stem is one conv per half (2), and each
             * stage's single unit has F and G of two convs each (3 x 4) */
            cr_expect_eq(num(row, "calls_per_step", -1), 14);
            saw_filter = 1;
        }
    }
    cr_expect_gt(n_rows, 5);
    cr_expect(saw_filter);
    expect_close(op_sum, ops, "sum of the per-op rows against ops_ms_per_step");

    /* The convolutions' work: the categories add up to the total, the rate is work / time,
     * and a reversible step recomputes forward convs, so it has at least as much forward work
     * as filter-gradient work (one of each per conv otherwise). */
    const cJSON *work = cJSON_GetObjectItemCaseSensitive(f, "gflop_per_step");
    double fwd = num(work, "conv_fwd", -1), data = num(work, "conv_bwd_data", -1),
           filter = num(work, "conv_bwd_filter", -1);
    cr_expect_gt(fwd, 0);
    cr_expect_gt(data, 0);
    cr_expect_geq(fwd, filter);
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(work, "bn"), "batch norm work is not counted");
    double conv_gflop = num(f, "conv_gflop_per_step", -1);
    expect_close(fwd + data + filter, conv_gflop, "conv work against its categories");
    double conv_ms = num(breakdown, "conv_fwd", 0) + num(breakdown, "conv_bwd_data", 0) +
                     num(breakdown, "conv_bwd_filter", 0);
    cr_assert_gt(conv_ms, 0);
    cr_expect_leq(fabs(num(f, "conv_gflops", -1) - conv_gflop * 1e3 / conv_ms),
                  1e-6 * conv_gflop * 1e3 / conv_ms, "conv_gflops is the work over the time");
    cJSON_Delete(f);
}

Test(bench_step, no_breakdown_runs_plain_steps_only, .timeout = 300)
{
    cJSON *f = revbench_json("bench step --arch resnet-basic-1 --batch 2 --steps 1 --threads 1 "
                             "--no-breakdown --json");
    cr_expect_gt(num(f, "images_per_sec", -1), 0);
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(f, "profiled_ms_per_step"));
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(f, "breakdown_ms_per_step"), "conv_fwd"));
    cr_expect_null(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(f, "ops"), 0));
    cJSON_Delete(f);
}

/* The peak's fields, at the widths this CPU has; the peak is the best of their medians. */
Test(bench_peak, json_fields, .timeout = 120)
{
    cJSON *f = revbench_json("bench peak --threads 1 --json");
    const char *t = text_of(f, "benchmark");
    cr_assert(t && strcmp(t, "peak") == 0);
    cr_expect_eq(num(f, "threads", -1), 1);
    __builtin_cpu_init();
    double w256 = num(f, "fma256_gflops", -1), w512 = num(f, "fma512_gflops", -1);
    int has256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int has512 = __builtin_cpu_supports("avx512f") != 0;
    cr_expect_eq(w256 > 0, has256, "fma256 measured exactly when the CPU has it");
    cr_expect_eq(w512 > 0, has512, "fma512 measured exactly when the CPU has it");
    cr_expect_geq(num(f, "fma256_best_gflops", 0), w256);
    cr_expect_eq(num(f, "peak_gflops", -1), fmax(w256, w512));
    cJSON_Delete(f);
}

Test(bench_peak, bad_arguments_are_usage_errors)
{
    char *text;
    cr_expect_eq(run_revbench("bench peak --threads 0 2>/dev/null", &text), 2);
    free(text);
    cr_expect_eq(run_revbench("bench peak --arch resnet-32 2>/dev/null", &text), 2);
    free(text);
}

Test(bench_step, bad_arguments_are_usage_errors)
{
    char *text;
    cr_expect_eq(run_revbench("bench step --arch nope 2>/dev/null", &text), 2);
    free(text);
    cr_expect_eq(run_revbench("bench step --arch resnet-32 --mode reversible 2>/dev/null", &text),
                 2);
    free(text);
    cr_expect_eq(run_revbench("bench step --arch resnet-32 --steps 0 2>/dev/null", &text), 2);
    free(text);
    cr_expect_eq(run_revbench("bench step 2>/dev/null", &text), 2, "--arch is required");
    free(text);
}
