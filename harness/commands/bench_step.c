/*
 * bench_step.c: `revbench bench step`: images/s of whole training steps (forward, backward,
 * SGD update, the device drained at the end of each) of one network in one backward mode on a
 * fixed random batch, and where a step's time goes, per op and per category (profile.h).
 *
 * After the warm-up steps, plain and profiled steps alternate, so both see the same machine
 * state (the machines are shared; a slow minute hits both alike):
 *   plain steps     images/s: batch / median step time (as PyTorch's peers script reports it)
 *                   and batch / mean step time (as `revbench train` reports it);
 *   profiled steps  every op timed (on a GPU each op drained before and after, so these steps
 *                   are slower there and are not used for images/s); per step: each op's time
 *                   and calls, their sum per category, and the time outside every op (step
 *                   wall time minus the ops' sum: host code between ops, the memory plan's
 *                   bookkeeping), so that categories + outside = the profiled step time; and
 *                   the convolutions' work (2 x multiply-adds) and the GFLOP/s they reached,
 *                   to set beside the machine's FMA peak (`revbench bench peak`): a step can
 *                   not be faster than its convolution work at that peak.
 * Owns its context, model and host batch for the duration of the command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/bench_step.h"
#include "commands/model_cli.h"
#include "commands/options.h"
#include "common/exit_status.h"
#include "common/json.h"
#include "common/measure.h"
#include "training/recipe.h"
#include <revnet/model.h>
#include <revnet/profile.h>

#define CMD "bench step"
/* Untimed steps first: the first pays for page faults and lazy library set-up (thread pools,
 * cuDNN's algorithm search), the second still shows some of it on a GPU. */
#define WARMUP_STEPS 2

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench bench step --arch A [--mode M] [--device cpu|cuda] [--threads T]\n"
            "                           [--batch B] [--steps K] [--seed S] [--no-breakdown]\n"
            "                           [--backend fast|ref]\n"
            "                           [--json]\n\n"
            "Times whole training steps (forward, backward, SGD update) of one network on a\n"
            "random batch: images/s from K plain steps, and a per-op breakdown (conv forward,\n"
            "backward-data, backward-filter, batch norm, elementwise, other, and the time\n"
            "outside every op) from K profiled steps, the two kinds alternating after %d\n"
            "warm-up steps. On a GPU the profiled steps synchronize around every op, so only\n"
            "the plain steps give images/s.\n\n"
            "options:\n"
            "  --arch A     network (e.g. resnet-32, revnet-38; see revbench info --help)\n"
            "  --mode M     standard | reversible | checkpoint (default: reversible for\n"
            "               RevNets, standard for ResNets)\n"
            "  --device D   cpu (default) or cuda\n"
            "  --threads T  CPU threads (default 2)\n"
            "  --backend B  CPU backend: fast (default; oneDNN, blocked layout) or ref\n"
            "  --batch B    images per step (default 100)\n"
            "  --steps K    plain steps and profiled steps, K of each (default 10)\n"
            "  --seed S     weights and random batch (default 1)\n"
            "  --no-breakdown  plain steps only: images/s without the per-op breakdown\n"
            "  --json       print one JSON object instead of the tables\n"
            "  --help       this message\n",
            WARMUP_STEPS);
}

/* One training step, drained; its wall time in *ms. */
static rv_status timed_step(rv_ctx *ctx, rv_model *m, rv_backward_mode mode, const float *x,
                            const int32_t *y, double *ms)
{
    double t0 = rb_now_ms();
    rv_step_result r;
    rv_status s = rv_model_train_step(m, mode, x, y, 1, &r);
    /* The update of the paper's recipe, as `train` and `mem` run it: the cost of an SGD step
     * does not depend on its values, but a benchmark should do the same work. */
    if (s == RV_OK)
        s = rv_model_sgd(m, (float)RB_RECIPE_LR, (float)RB_RECIPE_MOMENTUM,
                         (float)RB_RECIPE_WEIGHT_DECAY);
    if (s == RV_OK) s = rv_ctx_sync(ctx);
    *ms = rb_now_ms() - t0;
    return s;
}

rv_status rb_bench_step_measure(rv_ctx *ctx, rv_model *m, rv_backward_mode mode,
                                const float *x, const int32_t *y, int steps, int breakdown,
                                rb_step_bench *out)
{
    memset(out, 0, sizeof *out);
    double *plain = malloc((size_t)steps * sizeof *plain);
    if (!plain) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory for %d step times", steps);
    rv_status s = RV_OK;
    double ms;
    for (int i = 0; i < WARMUP_STEPS && s == RV_OK; i++)
        s = timed_step(ctx, m, mode, x, y, &ms);
    rv_profile_enable(ctx, 0);
    rv_profile_reset(ctx);
    double plain_sum = 0.0, prof_sum = 0.0;
    for (int i = 0; i < steps && s == RV_OK; i++) {
        s = timed_step(ctx, m, mode, x, y, &plain[i]);
        plain_sum += plain[i];
        if (s != RV_OK || !breakdown) continue;
        rv_profile_enable(ctx, 1);
        s = timed_step(ctx, m, mode, x, y, &ms);
        rv_profile_enable(ctx, 0);
        prof_sum += ms;
    }
    if (s == RV_OK) {
        out->steps = steps;
        out->breakdown = breakdown != 0;
        out->median_ms = rb_median(plain, steps);
        out->mean_ms = plain_sum / steps;
        out->profiled_ms = breakdown ? prof_sum / steps : 0.0;
        for (int c = 0; c < RV_PROFILE_N_CATEGORIES; c++)
        {
            out->category_ms[c] = rv_profile_category_ms(ctx, (rv_profile_category)c) / steps;
            out->category_flop[c] =
                rv_profile_category_flop(ctx, (rv_profile_category)c) / steps;
        }
        out->ops_ms = rv_profile_total_ms(ctx) / steps;
        out->outside_ms = out->profiled_ms - out->ops_ms;
    }
    free(plain);
    return s;
}

static const char *const CATEGORY_LABELS[RV_PROFILE_N_CATEGORIES] = {
    "conv forward", "conv backward-data", "conv backward-filter", "batch norm", "elementwise",
    "other (pool, FC, loss, SGD, copies)",
};

static void print_text(rv_ctx *ctx, const rv_arch *arch, rv_backward_mode mode, int on_cpu,
                       int batch, int threads, const rb_step_bench *b)
{
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("%s, %s backward, batch %d, %s", arch->name, rv_backward_mode_name(mode), batch,
           rv_device_name(on_cpu ? RV_DEVICE_CPU : RV_DEVICE_CUDA));
    if (on_cpu) printf(", %d threads, OPENBLAS_CORETYPE=%s", threads, ct ? ct : "(unset)");
    printf("\nbackend: %s\n", rv_ctx_describe(ctx));
    printf("%d plain steps after %d warm-up: %.1f ms/step median, %.1f images/s (mean %.1f "
           "ms/step, %.1f images/s)\n", b->steps, WARMUP_STEPS, b->median_ms,
           batch * 1000.0 / b->median_ms, b->mean_ms, batch * 1000.0 / b->mean_ms);
    if (!b->breakdown) return;
    printf("%d profiled steps, alternating with them: %.1f ms/step\n\n", b->steps,
           b->profiled_ms);
    printf("  %-36s %10s %7s %10s %9s\n", "where a profiled step goes", "ms/step", "share",
           "GFLOP/step", "GFLOP/s");
    double conv_ms = 0.0, conv_flop = 0.0;
    for (int c = 0; c < RV_PROFILE_N_CATEGORIES; c++) {
        printf("  %-36s %10.2f %6.1f%%", CATEGORY_LABELS[c], b->category_ms[c],
               100.0 * b->category_ms[c] / b->profiled_ms);
        if (b->category_flop[c] > 0.0)
            printf(" %10.2f %9.1f", b->category_flop[c] / 1e9,
                   rb_gflops(b->category_flop[c], b->category_ms[c]));
        printf("\n");
        if (b->category_flop[c] > 0.0) {
            conv_ms += b->category_ms[c];
            conv_flop += b->category_flop[c];
        }
    }
    printf("  %-36s %10.2f %6.1f%%\n", "outside every op", b->outside_ms,
           100.0 * b->outside_ms / b->profiled_ms);
    printf("  %-36s %10.2f\n", "step", b->profiled_ms);
    if (conv_flop > 0.0) {
        printf("  convolutions: %.2f GFLOP per step in %.2f ms, %.1f GFLOP/s", conv_flop / 1e9,
               conv_ms, rb_gflops(conv_flop, conv_ms));
        if (on_cpu) printf(" (the FMA peak: `revbench bench peak --threads %d`)", threads);
        printf("\n");
    }
    printf("\n");
    printf("  %-22s %-16s %10s %10s %7s\n", "op", "category", "calls/step", "ms/step", "share");
    for (int i = 0; i < rv_profile_n_ops(); i++) {
        rv_profile_entry e;
        if (rv_profile_get(ctx, i, &e) != RV_OK || e.calls == 0) continue;
        printf("  %-22s %-16s %10.1f %10.3f %6.1f%%\n", e.name,
               rv_profile_category_name(e.category), (double)e.calls / b->steps,
               e.ms / b->steps, 100.0 * e.ms / b->steps / b->profiled_ms);
    }
}

static void print_json(rv_ctx *ctx, const rv_arch *arch, rv_backward_mode mode, int on_cpu,
                       int batch, int threads, const rb_step_bench *b)
{
    const char *ct = getenv("OPENBLAS_CORETYPE");
    rb_json j;
    rb_json_begin(&j, stdout);
    rb_json_str(&j, "benchmark", "step");
    rb_json_str(&j, "arch", arch->name);
    rb_json_str(&j, "mode", rv_backward_mode_name(mode));
    rb_json_str(&j, "device", rv_device_name(on_cpu ? RV_DEVICE_CPU : RV_DEVICE_CUDA));
    rb_json_str(&j, "backend", rv_ctx_describe(ctx));
    rb_json_int(&j, "batch", batch);
    rb_json_int(&j, "threads", threads);
    rb_json_str(&j, "openblas_coretype", ct ? ct : "");
    rb_json_int(&j, "warmup_steps", WARMUP_STEPS);
    rb_json_int(&j, "steps", b->steps);
    rb_json_num(&j, "ms_per_step", b->median_ms);
    rb_json_num(&j, "ms_per_step_mean", b->mean_ms);
    rb_json_num(&j, "images_per_sec", batch * 1000.0 / b->median_ms);
    rb_json_num(&j, "images_per_sec_mean", batch * 1000.0 / b->mean_ms);
    if (!b->breakdown) {
        rb_json_end(&j);
        return;
    }
    rb_json_num(&j, "profiled_ms_per_step", b->profiled_ms);
    rb_json_num(&j, "ops_ms_per_step", b->ops_ms);
    rb_json_num(&j, "outside_ops_ms_per_step", b->outside_ms);
    rb_json_object_begin(&j, "breakdown_ms_per_step");
    for (int c = 0; c < RV_PROFILE_N_CATEGORIES; c++)
        rb_json_num(&j, rv_profile_category_name((rv_profile_category)c), b->category_ms[c]);
    rb_json_object_end(&j);
    /* The counted work, for the categories that have it (the convolutions). */
    double conv_ms = 0.0, conv_flop = 0.0;
    rb_json_object_begin(&j, "gflop_per_step");
    for (int c = 0; c < RV_PROFILE_N_CATEGORIES; c++) {
        if (b->category_flop[c] <= 0.0) continue;
        rb_json_num(&j, rv_profile_category_name((rv_profile_category)c),
                    b->category_flop[c] / 1e9);
        conv_ms += b->category_ms[c];
        conv_flop += b->category_flop[c];
    }
    rb_json_object_end(&j);
    rb_json_num(&j, "conv_gflop_per_step", conv_flop / 1e9);
    rb_json_num(&j, "conv_gflops", conv_flop > 0.0 ? rb_gflops(conv_flop, conv_ms) : 0.0);
    rb_json_array_begin(&j, "ops");
    for (int i = 0; i < rv_profile_n_ops(); i++) {
        rv_profile_entry e;
        if (rv_profile_get(ctx, i, &e) != RV_OK || e.calls == 0) continue;
        rb_json_object_begin(&j, NULL);
        rb_json_str(&j, "name", e.name);
        rb_json_str(&j, "category", rv_profile_category_name(e.category));
        rb_json_num(&j, "calls_per_step", (double)e.calls / b->steps);
        rb_json_num(&j, "ms_per_step", e.ms / b->steps);
        if (e.flop > 0.0) rb_json_num(&j, "gflop_per_step", e.flop / b->steps / 1e9);
        rb_json_object_end(&j);
    }
    rb_json_array_end(&j);
    rb_json_end(&j);
}

int rb_bench_step(int argc, char **argv)
{
    rb_model_args a = RB_MODEL_ARGS_DEFAULT;
    long steps = 10;
    int no_breakdown = 0;
    const rb_opt opts[] = {
        RB_TEXT("arch", &a.arch_name),
        RB_TEXT("mode", &a.mode_name),
        RB_CHOICE("device", &a.device, rv_device_names(), "device"),
        RB_LONG("threads", &a.threads, 1, 1024),
        RB_LONG("batch", &a.batch, 1, 100000),
        RB_LONG("steps", &steps, 1, 100000),
        RB_LONG("seed", &a.seed, 0, 2147483647L),
        RB_FLAG("no-breakdown", &no_breakdown),
        RB_MODEL_OPTS_END(&a),
    };
    int prc = rb_model_args_parse(CMD, usage, argc, argv, opts, &a);
    if (prc != RB_OPTS_GO) return prc;
    const rv_arch arch = a.arch;
    const rv_backward_mode mode = a.mode;
    const rv_device device = (rv_device)a.device;
    int classes = arch.imagenet ? 1000 : 10;
    rb_model_session s;
    if (rb_model_session_open(&s, CMD, device, (int)a.threads)) return RB_EXIT_FAIL;
    int rc = RB_EXIT_FAIL;
    rb_step_bench b;
    rv_model_options mo = { .n_classes = classes, .batch = (int)a.batch,
                            .seed = (uint64_t)a.seed, .train_modes = 1u << mode };
    if (rb_cli_random_batch((int)a.batch, arch.input_size, classes, (uint64_t)a.seed, &s.x,
                            &s.y)) {
        rb_cli_error(CMD, "out of memory for the batch");
        goto done;
    }
    if (rv_model_create(s.ctx, &arch, &mo, &s.model) != RV_OK ||
        rb_bench_step_measure(s.ctx, s.model, mode, s.x, s.y, (int)steps, !no_breakdown, &b) !=
            RV_OK) {
        rb_cli_error(CMD, "%s: %s", arch.name, rv_ctx_message(s.ctx));
        goto done;
    }
    if (a.json)
        print_json(s.ctx, &arch, mode, device == RV_DEVICE_CPU, (int)a.batch, (int)a.threads,
                   &b);
    else
        print_text(s.ctx, &arch, mode, device == RV_DEVICE_CPU, (int)a.batch, (int)a.threads,
                   &b);
    rc = RB_EXIT_OK;
done:
    rb_model_session_close(&s);
    return rc;
}
