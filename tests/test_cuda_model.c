/*
 * test_cuda_model.c: whole networks on the CUDA backend (the op-level checks are in
 * test_cuda.c; this is its model-level part, kept apart so neither file passes ~800 lines):
 *   - one training step of revnet-basic-2 (batch 8) on the CPU and on the GPU from the same
 *     seed, in the standard and the reversible mode: losses, gradients (angle) and the batch-norm
 *     running averages agree (within measured, not assumed, sensitivities: see below);
 *   - the reconstruction angle (stored vs reconstructed activations) of revnet-38 at batch 100
 *     on the GPU is below the paper-level 0.1 degrees;
 *   - the planned peak bytes equal the measured ones, per category, after a GPU step in every
 *     mode of resnet-basic-2 and revnet-basic-2, and the device's own count of memory in use
 *     grows by at least the arena;
 *   - checkpoint and standard gradients of a ResNet on the GPU are bit-identical (the backend
 *     picks deterministic cuDNN algorithms; a tight angle instead if it had to fall back);
 *   - under REVBENCH_CUDNN_ALGO=deterministic two contexts (as two processes would) choose the
 *     same algorithms and give bit-identical gradients; an unknown policy is refused.
 *
 * Without a GPU (or without the CUDA build) every GPU test is skipped with the reason the CUDA
 * context could not be created; the CPU half of the device-memory contract always runs.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/context.h>
#include "cuda_fixture.h"
#include <revnet/memory.h>
#include <revnet/model.h>
#include <revnet/rng.h>

/* CPU vs GPU, one step of revnet-basic-2 at batch 8. Measured on the CPU (a scratch build of
 * this test with the "GPU" model's weights scaled by 1 + eps * U(-1, 1), one thread): eps 1e-7
 * (an ulp or so, what a different summation order does) moves the loss by < 1e-7 relative,
 * the gradient direction by 0.52 degrees and the running averages by 1.2e-7; eps 1e-6: loss
 * 6e-8, 0.93 degrees; eps 1e-5: loss 5e-7, 1.94 degrees; eps 1e-4: loss 6e-6, 3.98 degrees,
 * running averages 7e-6; eps 1e-3: loss 9e-5, 12.8 degrees. The gradient is that sensitive
 * because ReLU masks flip (the head's BN-beta gradient moves 1e-3 relative while its gamma
 * gradient, weighted by xhat ~ 0 at a flip, moves 6e-7), so the angle is set by the
 * measurement, not by per-op error bounds. cuDNN and the CPU differ per op by ~1e-6 (GEMM-like
 * algorithms) to ~1e-5..1e-4 (Winograd; test_cuda.c allows 5e-4 per conv), like eps 1e-6..1e-4:
 * expect a loss within ~1e-5 and an angle of 1-4 degrees.
 * Loss: 1e-3 relative, 10x the eps 1e-4 case; a wrong window, mode or sign moves the logits
 * by O(1) of themselves and the loss by percents. */
#define CPU_GPU_LOSS_REL_TOL 1e-3
/* Angle: 8 degrees, twice the eps 1e-4 case; a wrong gradient in one layer or a wrong padding
 * gives tens of degrees (eps 1e-3, far smaller than any such bug, already gives 12.8). */
#define CPU_GPU_ANGLE_DEG 8.0
/* Running averages (relative to max(|cpu|, 1)): 1e-4, 14x the eps 1e-4 case. (Biased against
 * unbiased variance is the op test's job: at 512 values per channel here it would move these
 * by only 2e-5.) */
#define CPU_GPU_RUNNING_TOL 1e-4
/* The paper's float32 reference: PyTorch gets 0.052 degrees on revnet-38 at batch 100
 * (/work/shared/peers/results.md); the issue asks for under 0.1 on every backend. */
#define ANGLE_LIMIT_DEG 0.1
/* When cuDNN offered no deterministic algorithm for some shape (describe() then says
 * "nondeterministic"), checkpoint and standard gradients may differ by the order of atomic
 * additions: ~1e-6 relative per sum, an angle of ~1e-4 degrees; 1e-3 degrees. */
#define NONDETERMINISTIC_ANGLE_DEG 1e-3

/* ------------------------------------------------------------------------ fixture ------ */

TestSuite(cuda_model, .init = cuda_fixture_setup, .fini = cuda_fixture_teardown, .timeout = 300);

/* ------------------------------------------------------------------------ helpers ------ */

static rv_model *make(rv_ctx *ctx, const char *name, int batch, unsigned modes, int eval)
{
    rv_arch a;
    cr_assert_eq(rv_arch_parse(name, &a, NULL, 0), RV_OK, "%s", name);
    rv_model_options o = { .n_classes = 10, .batch = batch, .seed = 7, .train_modes = modes,
                           .plan_eval = eval };
    rv_model *m = NULL;
    OK(ctx, rv_model_create(ctx, &a, &o, &m));
    return m;
}

/* A batch of N(0,1) pixels and uniform labels for m (host memory; caller frees). */
static void random_batch(rv_model *m, float **x, int32_t **y, uint64_t seed)
{
    int B = rv_model_batch(m), S = rv_model_input_size(m), K = rv_model_n_classes(m);
    size_t n = (size_t)B * 3 * S * S;
    *x = malloc(n * sizeof **x);
    *y = malloc((size_t)B * sizeof **y);
    cr_assert(*x && *y);
    rv_rng_state r;
    rv_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) (*x)[i] = (float)rv_rng_normal(&r);
    for (int i = 0; i < B; i++) (*y)[i] = (int32_t)rv_rng_below(&r, (uint32_t)K);
}

/* The angle in degrees between two flattened gradients. */
static double angle_deg(const float *a, const float *b, size_t n)
{
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    double c = dot / (sqrt(na) * sqrt(nb));
    return acos(c > 1.0 ? 1.0 : c) * 180.0 / acos(-1.0);
}

/* max |a - b| / max(max |b|, 1). */
static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double err = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)a[i] - b[i]) > err) err = fabs((double)a[i] - b[i]);
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    }
    return err / scale;
}

/* One training step of m on (x, y): its result and host copies of its gradients and state. */
typedef struct {
    rv_step_result r;
    float *grads, *state; /* n_params and n_state floats */
} step_out;

static step_out step(rv_ctx *ctx, rv_model *m, rv_backward_mode mode, const float *x,
                     const int32_t *y)
{
    step_out o = { .grads = malloc(rv_model_n_params(m) * 4),
                   .state = malloc(rv_model_n_state(m) * 4) };
    cr_assert(o.grads && o.state);
    OK(ctx, rv_model_train_step(m, mode, x, y, 1, &o.r));
    OK(ctx, rv_model_get_grads(m, o.grads));
    OK(ctx, rv_model_get_state(m, o.state, NULL));
    return o;
}

static void step_out_free(step_out *o)
{
    free(o->grads);
    free(o->state);
}

/* ------------------------------------------------------------------------ tests -------- */

Test(cuda_model, device_memory_is_unsupported_on_the_cpu)
{
    size_t used = 7, total = 9;
    cr_expect_eq(rv_ctx_device_memory(cpu, &used, &total), RV_ERR_UNSUPPORTED);
    cr_expect(strstr(rv_ctx_message(cpu), "cpu") != NULL, "message: %s", rv_ctx_message(cpu));
    cr_expect(used == 7 && total == 9, "outputs written on failure");
}

Test(cuda_model, device_memory_counts_an_allocation)
{
    NEED_GPU();
    size_t before = 0, after = 0, total = 0, total2 = 0;
    const size_t bytes = (size_t)256 << 20;
    OK(gpu, rv_ctx_device_memory(gpu, &before, &total));
    cr_expect_gt(total, 0u);
    cr_expect_leq(before, total);
    void *p = NULL;
    OK(gpu, rv_ctx_alloc(gpu, &p, bytes));
    OK(gpu, rv_ctx_device_memory(gpu, &after, &total2));
    cr_expect_eq(total, total2);
    /* The device count is for every process; nothing else runs on the GPU during the check
     * (gpu-check.sh runs this binary on its own), so it grows by at least the allocation. */
    cr_expect(after >= before + bytes, "in use %zu -> %zu after %zu bytes", before, after,
              bytes);
    rv_ctx_free(gpu, p);
}

/* One step of revnet-basic-2 (batch 8) in each mode on both backends, same seed and batch. */
Test(cuda_model, one_training_step_matches_the_cpu)
{
    NEED_GPU();
    const unsigned modes = 1u << RV_BACKWARD_STANDARD | 1u << RV_BACKWARD_REVERSIBLE;
    rv_model *mc = make(cpu, "revnet-basic-2", 8, modes, 0);
    rv_model *mg = make(gpu, "revnet-basic-2", 8, modes, 0);
    size_t n = rv_model_n_params(mc), ns = rv_model_n_state(mc);
    cr_assert_eq(rv_model_n_params(mg), n);
    float *sc = malloc(ns * 4), *sg = malloc(ns * 4);
    cr_assert(sc && sg);
    /* Same seed, same host initialization: the GPU starts from the CPU's exact weights. */
    OK(cpu, rv_model_get_state(mc, sc, NULL));
    OK(gpu, rv_model_get_state(mg, sg, NULL));
    cr_assert_eq(memcmp(sc, sg, ns * 4), 0, "initial states differ");
    float *x;
    int32_t *y;
    random_batch(mc, &x, &y, 11);
    const rv_backward_mode order[] = { RV_BACKWARD_STANDARD, RV_BACKWARD_REVERSIBLE };
    for (int k = 0; k < 2; k++) {
        rv_backward_mode mode = order[k];
        const char *name = rv_backward_mode_name(mode);
        step_out c = step(cpu, mc, mode, x, y), g = step(gpu, mg, mode, x, y);
        double dl = fabs(g.r.loss - c.r.loss), deg = angle_deg(g.grads, c.grads, n);
        double rel = max_rel_diff(g.grads, c.grads, n);
        double run = max_rel_diff(g.state + n, c.state + n, ns - n);
        cr_log_info("revnet-basic-2 batch 8 %s: loss cpu %.9g gpu %.9g (|diff| %.3g), grad "
                    "angle %.5f deg, max rel grad diff %.3g, running averages %.3g", name,
                    c.r.loss, g.r.loss, dl, deg, rel, run);
        cr_expect(isfinite(g.r.loss) && dl <= CPU_GPU_LOSS_REL_TOL * fabs(c.r.loss),
                  "%s: loss cpu %.9g gpu %.9g", name, c.r.loss, g.r.loss);
        cr_expect_lt(deg, CPU_GPU_ANGLE_DEG, "%s: CPU/GPU gradient angle %g degrees", name, deg);
        cr_expect_leq(run, CPU_GPU_RUNNING_TOL, "%s: running averages differ by %g", name, run);
        /* A training step leaves the weights alone on both sides. */
        cr_expect_eq(memcmp(c.state, g.state, n * 4), 0, "%s: weights changed", name);
        step_out_free(&c);
        step_out_free(&g);
    }
    free(sc), free(sg), free(x), free(y);
    rv_model_destroy(mc);
    rv_model_destroy(mg);
}

Test(cuda_model, revnet38_reconstruction_angle)
{
    NEED_GPU();
    rv_model *m = make(gpu, "revnet-38", 100,
                       1u << RV_BACKWARD_STANDARD | 1u << RV_BACKWARD_REVERSIBLE, 0);
    float *x;
    int32_t *y;
    random_batch(m, &x, &y, 5);
    double angle, rel;
    OK(gpu, rv_model_gradient_angle(m, x, y, &angle, &rel));
    cr_log_info("GPU revnet-38 batch 100: angle %.4f deg, max rel diff %.3g", angle, rel);
    cr_expect_lt(angle, ANGLE_LIMIT_DEG, "angle %g degrees", angle);
    cr_expect_gt(angle, 0.0, "identical gradients would mean nothing was reconstructed");
    free(x);
    free(y);
    rv_model_destroy(m);
}

Test(cuda_model, measured_memory_equals_the_plan_in_every_mode)
{
    NEED_GPU();
    const char *names[] = { "resnet-basic-2", "revnet-basic-2" };
    for (int k = 0; k < 2; k++) {
        rv_arch a;
        cr_assert_eq(rv_arch_parse(names[k], &a, NULL, 0), RV_OK, "%s", names[k]);
        for (int mode = 0; mode < RV_BACKWARD_N_MODES; mode++) {
            if (!rv_arch_supports(&a, (rv_backward_mode)mode)) continue;
            const char *mname = rv_backward_mode_name((rv_backward_mode)mode);
            size_t used0 = 0, used1 = 0, total = 0;
            OK(gpu, rv_ctx_device_memory(gpu, &used0, &total));
            rv_model *m = make(gpu, names[k], 8, 1u << mode, 1);
            OK(gpu, rv_ctx_device_memory(gpu, &used1, &total));
            size_t arena = rv_mem_arena_bytes(rv_model_mem(m));
            cr_expect(used1 >= used0 + arena, "%s %s: device memory in use %zu -> %zu, the arena "
                      "is %zu", names[k], mname, used0, used1, arena);
            float *x;
            int32_t *y;
            random_batch(m, &x, &y, 2);
            rv_mem_stats planned, measured;
            rv_mem_reset_peaks(rv_model_mem(m));
            OK(gpu, rv_model_train_step(m, (rv_backward_mode)mode, x, y, 1, NULL));
            OK(gpu, rv_ctx_sync(gpu));
            rv_mem_measured(rv_model_mem(m), &measured);
            OK(gpu, rv_mem_planned(rv_model_mem(m), rv_model_program_train((rv_backward_mode)mode),
                                   &planned));
            for (int c = 0; c < RV_MEM_N_CATEGORIES; c++)
                cr_expect_eq(planned.peak_bytes[c], measured.peak_bytes[c],
                             "%s %s %s: planned %zu, measured %zu", names[k], mname,
                             rv_mem_category_name((rv_mem_category)c), planned.peak_bytes[c],
                             measured.peak_bytes[c]);
            cr_expect_eq(planned.peak_activation_bytes, measured.peak_activation_bytes);
            cr_expect_eq(planned.peak_total_bytes, measured.peak_total_bytes);
            cr_expect_geq(arena, planned.peak_total_bytes);
            free(x), free(y);
            rv_model_destroy(m);
        }
    }
}

/* Two fresh GPU models with the same seed, one step each, standard and checkpoint. */
static void checkpoint_vs_standard(const char *name)
{
    rv_model *ms = make(gpu, name, 8, 1u << RV_BACKWARD_STANDARD, 0);
    rv_model *mk = make(gpu, name, 8, 1u << RV_BACKWARD_CHECKPOINT, 0);
    size_t n = rv_model_n_params(ms), ns = rv_model_n_state(ms);
    float *x;
    int32_t *y;
    random_batch(ms, &x, &y, 9);
    step_out s = step(gpu, ms, RV_BACKWARD_STANDARD, x, y);
    step_out k = step(gpu, mk, RV_BACKWARD_CHECKPOINT, x, y);
    /* Both models share the context and so the per-shape cuDNN plans: same algorithms. */
    int nondet = strstr(rv_ctx_describe(gpu), "nondeterministic") != NULL;
    double deg = angle_deg(k.grads, s.grads, n), rel = max_rel_diff(k.grads, s.grads, n);
    cr_log_info("GPU %s checkpoint vs standard: loss %.9g / %.9g, angle %.3g deg, max rel diff "
                "%.3g%s", name, s.r.loss, k.r.loss, deg, rel,
                nondet ? " (a nondeterministic cuDNN algorithm was used)" : "");
    if (nondet) {
        cr_expect_lt(deg, NONDETERMINISTIC_ANGLE_DEG, "%s: angle %g degrees", name, deg);
    } else {
        /* The same kernels on the same inputs in the same order: the recomputed segments give
         * the stored activations bit for bit, so everything after them is identical too. */
        cr_expect_eq(s.r.loss, k.r.loss, "%s: losses differ %.9g %.9g", name, s.r.loss,
                     k.r.loss);
        cr_expect_eq(memcmp(s.grads, k.grads, n * 4), 0, "%s: gradients differ (angle %g deg, "
                     "max rel diff %g)", name, deg, rel);
        cr_expect_eq(memcmp(s.state + n, k.state + n, (ns - n) * 4), 0,
                     "%s: BN running averages differ", name);
    }
    step_out_free(&s);
    step_out_free(&k);
    free(x), free(y);
    rv_model_destroy(ms);
    rv_model_destroy(mk);
}

Test(cuda_model, checkpoint_gradients_are_identical_to_standard)
{
    NEED_GPU();
    checkpoint_vs_standard("resnet-basic-4");
    checkpoint_vs_standard("resnet-bottleneck-2");
}

/* The conv-algorithm part of a context's description (after " | conv algorithms: "). */
static const char *conv_part(rv_ctx *ctx)
{
    const char *d = rv_ctx_describe(ctx);
    const char *at = strstr(d, " | conv algorithms: ");
    cr_assert_not_null(at, "no conv algorithms in: %s", d);
    return at;
}

/* A fresh CUDA context under REVBENCH_CUDNN_ALGO=policy (Criterion runs each test in its own
 * process, so the variable does not leak into other tests). */
static rv_ctx *gpu_with_policy(const char *policy)
{
    setenv("REVBENCH_CUDNN_ALGO", policy, 1);
    rv_ctx_options o = rv_ctx_default_options();
    o.device = RV_DEVICE_CUDA;
    rv_ctx *c = NULL;
    char msg[512];
    cr_assert_eq(rv_ctx_create(&c, &o, msg, sizeof msg), RV_OK, "%s", msg);
    return c;
}

Test(cuda_model, deterministic_policy_chooses_alike_and_repeats_bit_for_bit)
{
    NEED_GPU();
    /* Two contexts stand for two processes: under the deterministic policy nothing is timed,
     * so both must choose the same algorithm for every pass of every shape, and one training
     * step from the same seed must then give the same gradients to the bit. */
    rv_ctx *a = gpu_with_policy("deterministic"), *b = gpu_with_policy("deterministic");
    cr_expect(strstr(rv_ctx_describe(a), "conv algorithm policy deterministic") != NULL, "%s",
              rv_ctx_describe(a));
    rv_model *ma = make(a, "resnet-basic-4", 8, 1u << RV_BACKWARD_STANDARD, 0);
    rv_model *mb = make(b, "resnet-basic-4", 8, 1u << RV_BACKWARD_STANDARD, 0);
    size_t n = rv_model_n_params(ma);
    float *x;
    int32_t *y;
    random_batch(ma, &x, &y, 13);
    step_out ra = step(a, ma, RV_BACKWARD_STANDARD, x, y);
    step_out rb = step(b, mb, RV_BACKWARD_STANDARD, x, y);
    const char *pa = conv_part(a), *pb = conv_part(b);
    cr_log_info("deterministic policy plans: %s", pa);
    cr_expect_str_eq(pa, pb, "the two contexts chose differently");
    cr_expect(strstr(pa, "ms,") == NULL && strstr(pa, "nondeterministic") == NULL,
              "a timed or nondeterministic choice under the deterministic policy: %s", pa);
    cr_expect_eq(ra.r.loss, rb.r.loss, "losses %.9g %.9g", ra.r.loss, rb.r.loss);
    cr_expect_eq(memcmp(ra.grads, rb.grads, n * 4), 0, "gradients differ (angle %g deg)",
                 angle_deg(ra.grads, rb.grads, n));
    step_out_free(&ra);
    step_out_free(&rb);
    free(x), free(y);
    rv_model_destroy(ma);
    rv_model_destroy(mb);
    rv_ctx_destroy(a);
    rv_ctx_destroy(b);
}

Test(cuda_model, an_unknown_algorithm_policy_is_refused)
{
    NEED_GPU();
    setenv("REVBENCH_CUDNN_ALGO", "fastest", 1);
    rv_ctx_options o = rv_ctx_default_options();
    o.device = RV_DEVICE_CUDA;
    rv_ctx *c = NULL;
    char msg[512] = "";
    cr_expect_eq(rv_ctx_create(&c, &o, msg, sizeof msg), RV_ERR_ARG, "%s", msg);
    cr_expect_null(c);
    cr_expect(strstr(msg, "REVBENCH_CUDNN_ALGO") && strstr(msg, "fastest"), "message: %s", msg);
}
