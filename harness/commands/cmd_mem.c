/*
 * cmd_mem.c: `revbench mem`: a few real training steps (forward, backward, SGD) of one network
 * in one backward mode on random data, reporting the planned and the measured peak bytes per
 * memory category, the process's max RSS and the median step time. On the GPU it also reports
 * the device memory in use (driver's total - free) before the model is built and after the
 * steps, so the planned arena can be set beside what the device says; the difference also
 * holds cuDNN's and cuBLAS's own allocations and the allocator's rounding.
 */
#include <stdio.h>
#include <stdlib.h>

#include "commands/commands.h"
#include "common/exit_status.h"
#include "common/json.h"
#include "common/measure.h"
#include <revnet/data.h>
#include <revnet/memory.h>
#include <revnet/model.h>
#include "commands/model_cli.h"
#include "commands/options.h"
#include "training/recipe.h"

static const char *CMD = "mem";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench mem --arch A [--mode standard|reversible|checkpoint] [--batch B]\n"
            "                    [--steps N] [--device cpu|cuda] [--backend fast|ref] [--threads T]\n"
            "                    [--dataset cifar10|cifar100|fashion-mnist] [--seed S] [--json]\n\n"
            "Runs N training steps (forward, backward, SGD) on random data and reports the\n"
            "planned and measured peak bytes per memory category (they must agree to the byte),\n"
            "the activation peak (kept + transient + workspace), the arena size, the process's\n"
            "max RSS and the median step time over the steps after the first. With --device\n"
            "cuda also the device memory in use (all processes) before the model is built and\n"
            "after the steps, and the cuDNN algorithms chosen.\n\n"
            "  --mode M      default: reversible for RevNets, standard for ResNets\n"
            "  --batch B     default 100      --steps N   default 3 (>= 1)\n"
            "  --threads T   CPU threads, default 2\n" RB_BACKEND_HELP);
}

int rb_cmd_mem(int argc, char **argv)
{
    rb_model_args a = RB_MODEL_ARGS_DEFAULT;
    long steps = 3;
    int dataset = 0;
    /* Reads like bench step's table, kept apart: each command lists the options it takes, in
     * the order its --help and its unknown-option message show them. */
    const rb_opt opts[] = {
        RB_TEXT("arch", &a.arch_name),
        RB_TEXT("mode", &a.mode_name),
        RB_LONG("batch", &a.batch, 1, 100000),
        RB_LONG("steps", &steps, 1, 1000000),
        RB_CHOICE("device", &a.device, rv_device_names(), "device"),
        RB_LONG("threads", &a.threads, 1, 1024),
        RB_CHOICE("dataset", &dataset, rv_data_names(), "dataset"),
        RB_LONG("seed", &a.seed, 0, 2147483647L),
        RB_MODEL_OPTS_END(&a),
    };
    /* Names are checked before any device is touched, so a typo is a usage error even on a
     * machine without a GPU. */
    int rc = rb_model_args_parse(CMD, usage, argc, argv, opts, &a);
    if (rc != RB_OPTS_GO) return rc;
    const rv_arch arch = a.arch;
    const rv_backward_mode mode = a.mode;
    const rv_device device = (rv_device)a.device;
    /* Only the class count of the dataset matters: the data are random or not read. */
    int classes = rv_data_n_classes(rv_data_names()[dataset]);
    if (arch.imagenet) classes = 1000;
    rb_model_session s;
    if (rb_model_session_open(&s, CMD, device, (int)a.threads)) return RB_EXIT_FAIL;
    rc = RB_EXIT_FAIL;
    double *ms = calloc((size_t)steps, sizeof *ms);
    rv_model_options mo = { .n_classes = classes, .batch = (int)a.batch,
                            .seed = (uint64_t)a.seed, .train_modes = 1u << mode };
    if (!ms || rb_cli_random_batch((int)a.batch, arch.input_size, classes, (uint64_t)a.seed,
                                   &s.x, &s.y)) {
        rb_cli_error(CMD, "out of memory");
        goto done;
    }
    /* Device memory before the model exists: the CUDA context, handles and backend scratch. */
    size_t dev_before = 0, dev_after = 0, dev_total = 0;
    int have_dev = device == RV_DEVICE_CUDA;
    if (have_dev && rv_ctx_device_memory(s.ctx, &dev_before, &dev_total) != RV_OK) {
        rb_cli_error(CMD, "%s", rv_ctx_message(s.ctx));
        goto done;
    }
    if (rv_model_create(s.ctx, &arch, &mo, &s.model) != RV_OK) {
        rb_cli_error(CMD, "%s", rv_ctx_message(s.ctx));
        goto done;
    }
    rv_mem *mem = rv_model_mem(s.model);
    rv_mem_reset_peaks(mem);
    for (long i = 0; i < steps; i++) {
        double t0 = rb_now_ms();
        rv_step_result r;
        if (rv_model_train_step(s.model, mode, s.x, s.y, 1, &r) != RV_OK ||
            rv_model_sgd(s.model, (float)RB_RECIPE_LR, (float)RB_RECIPE_MOMENTUM,
                         (float)RB_RECIPE_WEIGHT_DECAY) != RV_OK || rv_ctx_sync(s.ctx) != RV_OK) {
            rb_cli_error(CMD, "step %ld: %s", i + 1, rv_ctx_message(s.ctx));
            goto done;
        }
        ms[i] = rb_now_ms() - t0;
    }
    /* The first step pays for page faults and lazy library set-up: it is reported apart. */
    double first_ms = ms[0];
    long timed = steps > 1 ? steps - 1 : 1;
    double *timed_ms = steps > 1 ? ms + 1 : ms;
    double median = rb_median(timed_ms, (int)timed);
    rv_mem_stats planned, measured;
    rv_mem_planned(mem, rv_model_program_train(mode), &planned);
    rv_mem_measured(mem, &measured);
    size_t rss = rb_max_rss_bytes();
    if (have_dev && rv_ctx_device_memory(s.ctx, &dev_after, &dev_total) != RV_OK) {
        rb_cli_error(CMD, "%s", rv_ctx_message(s.ctx));
        goto done;
    }
    /* Taken after the steps: on the GPU it lists the cuDNN algorithm chosen for each shape. */
    const char *backend = rv_ctx_describe(s.ctx);
    if (a.json) {
        rb_json j;
        rb_json_begin(&j, stdout);
        rb_json_str(&j, "arch", arch.name);
        rb_json_str(&j, "mode", rv_backward_mode_name(mode));
        rb_json_str(&j, "device", rv_device_name(device));
        rb_json_str(&j, "backend", backend);
        rb_json_int(&j, "batch", a.batch);
        rb_json_int(&j, "steps", steps);
        rb_json_int(&j, "threads", a.threads);
        rb_json_int(&j, "params", (long long)rv_model_n_params(s.model));
        rb_json_int(&j, "layers", rv_model_n_layers(s.model));
        rb_json_int(&j, "stored_tensors", rv_model_stored_tensors(s.model, mode));
        rb_json_int(&j, "activation_peak_bytes", (long long)measured.peak_activation_bytes);
        rb_json_int(&j, "planned_activation_peak_bytes", (long long)planned.peak_activation_bytes);
        rb_json_int(&j, "planned_peak_bytes", (long long)planned.peak_total_bytes);
        rb_json_int(&j, "measured_peak_bytes", (long long)measured.peak_total_bytes);
        rb_json_int(&j, "arena_bytes", (long long)rv_mem_arena_bytes(mem));
        rb_json_int(&j, "max_rss_bytes", (long long)rss);
        if (have_dev) {
            rb_json_int(&j, "device_in_use_before_bytes", (long long)dev_before);
            rb_json_int(&j, "device_in_use_bytes", (long long)dev_after);
            rb_json_int(&j, "device_total_bytes", (long long)dev_total);
        }
        rb_json_num(&j, "ms_per_step", median);
        rb_json_num(&j, "ms_first_step", first_ms);
        rb_json_num(&j, "images_per_sec", median > 0 ? a.batch * 1000.0 / median : 0.0);
        rb_json_object_begin(&j, "categories");
        for (int k = 0; k < RV_MEM_N_CATEGORIES; k++) {
            rb_json_object_begin(&j, rv_mem_category_name((rv_mem_category)k));
            rb_json_int(&j, "planned", (long long)planned.peak_bytes[k]);
            rb_json_int(&j, "peak", (long long)measured.peak_bytes[k]);
            rb_json_object_end(&j);
        }
        rb_json_object_end(&j);
        rb_json_end(&j);
    } else {
        printf("%s, %s backward, batch %ld, %ld steps on %s\n", arch.name,
               rv_backward_mode_name(mode), a.batch, steps, backend);
        printf("  %-10s %14s %14s\n", "category", "planned MB", "measured MB");
        for (int k = 0; k < RV_MEM_N_CATEGORIES; k++)
            printf("  %-10s %14.2f %14.2f\n", rv_mem_category_name((rv_mem_category)k),
                   planned.peak_bytes[k] / 1e6, measured.peak_bytes[k] / 1e6);
        printf("  activation peak (kept + transient + workspace): %.2f MB planned, %.2f MB "
               "measured\n", planned.peak_activation_bytes / 1e6,
               measured.peak_activation_bytes / 1e6);
        printf("  total peak %.2f MB planned, %.2f MB measured; arena %.2f MB; max RSS %.1f MB\n",
               planned.peak_total_bytes / 1e6, measured.peak_total_bytes / 1e6,
               rv_mem_arena_bytes(mem) / 1e6, rss / 1e6);
        if (have_dev)
            printf("  device memory in use: %.2f MB before the model, %.2f MB after the steps "
                   "(+%.2f MB; arena %.2f MB) of %.2f MB\n", dev_before / 1e6, dev_after / 1e6,
                   ((double)dev_after - (double)dev_before) / 1e6,
                   rv_mem_arena_bytes(mem) / 1e6, dev_total / 1e6);
        printf("  %d tensors kept for backward; %.1f ms/step median (first step %.1f ms), "
               "%.1f images/s\n", rv_model_stored_tensors(s.model, mode), median, first_ms,
               a.batch * 1000.0 / median);
    }
    rc = RB_EXIT_OK;
done:
    free(ms);
    rb_model_session_close(&s);
    return rc;
}
