/*
 * cmd_info.c: `revbench info`: what a network is and what one training step of it needs,
 * from the memory plan alone (nothing is allocated, so it answers instantly even for
 * networks that would not fit).
 */
#include <stdio.h>
#include <stdlib.h>

#include "commands/commands.h"
#include "common/exit_status.h"
#include "common/json.h"
#include <revnet/data.h>
#include <revnet/memory.h>
#include <revnet/model.h>
#include "commands/model_cli.h"
#include "commands/options.h"

static const char *CMD = "info";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench info --arch A [--dataset D] [--batch B] [--backend fast|ref]\n"
            "                     [--json]\n\n"
            "Parameter count, layers, kept tensors and the planned bytes per memory category\n"
            "of one training step in each backward mode the architecture supports (and of an\n"
            "evaluation pass). Nothing is allocated.\n\n");
    rb_help_option(out, "  --arch A      ", rb_arch_help());
    char datasets[256];
    snprintf(datasets, sizeof datasets, "%s (default: the first; sets the classes; ImageNet "
             "architectures always have 1000)", rb_dataset_help());
    rb_help_option(out, "  --dataset D   ", datasets);
    fprintf(out, "  --batch B     batch size (default 100)\n"
                 "  --json        one JSON object on stdout\n" RB_BACKEND_HELP);
}

static void print_stats_json(rb_json *j, const char *key, const rv_mem_stats *s)
{
    rb_json_object_begin(j, key);
    for (int c = 0; c < RV_MEM_N_CATEGORIES; c++)
        rb_json_int(j, rv_mem_category_name((rv_mem_category)c), (long long)s->peak_bytes[c]);
    rb_json_int(j, "activation_peak", (long long)s->peak_activation_bytes);
    rb_json_int(j, "total_peak", (long long)s->peak_total_bytes);
    rb_json_object_end(j);
}

static void print_stats_text(const char *label, int stored, const rv_mem_stats *s)
{
    printf("  %-11s", label);
    if (stored >= 0) printf(" %7d", stored);
    else printf(" %7s", "-");
    for (int c = 0; c < RV_MEM_N_CATEGORIES; c++) printf(" %10.1f", s->peak_bytes[c] / 1e6);
    printf(" %10.1f %10.1f\n", s->peak_activation_bytes / 1e6, s->peak_total_bytes / 1e6);
}

int rb_cmd_info(int argc, char **argv)
{
    rb_model_args a = RB_MODEL_ARGS_DEFAULT;
    int dataset = 0;
    const rb_opt opts[] = {
        RB_TEXT("arch", &a.arch_name),
        RB_CHOICE("dataset", &dataset, rv_data_names(), "dataset"),
        RB_LONG("batch", &a.batch, 1, 100000),
        RB_MODEL_OPTS_END(&a),
    };
    int rc = rb_model_args_parse(CMD, usage, argc, argv, opts, &a);
    if (rc != RB_OPTS_GO) return rc;
    const rv_arch arch = a.arch;
    /* Only the class count of the dataset matters: the data are random or not read. */
    int classes = rv_data_n_classes(rv_data_names()[dataset]);
    rb_model_session s;
    if (rb_model_session_open(&s, CMD, RV_DEVICE_CPU, 1)) return RB_EXIT_FAIL;
    rc = RB_EXIT_FAIL;
    if (arch.imagenet) classes = 1000;
    unsigned modes = 0;
    for (int k = 0; k < RV_BACKWARD_N_MODES; k++)
        if (rv_arch_supports(&arch, (rv_backward_mode)k)) modes |= 1u << k;
    rv_model_options mo = { .n_classes = classes, .batch = (int)a.batch, .seed = 1,
                            .train_modes = modes, .plan_eval = 1, .plan_only = 1 };
    if (rv_model_create(s.ctx, &arch, &mo, &s.model) != RV_OK) {
        rb_cli_error(CMD, "%s", rv_ctx_message(s.ctx));
        goto done;
    }
    rv_mem_stats st;
    if (a.json) {
        rb_json j;
        rb_json_begin(&j, stdout);
        rb_json_str(&j, "arch", arch.name);
        rb_json_int(&j, "classes", classes);
        rb_json_int(&j, "batch", a.batch);
        rb_json_int(&j, "params", (long long)rv_model_n_params(s.model));
        rb_json_int(&j, "layers", rv_model_n_layers(s.model));
        rb_json_int(&j, "input_size", rv_model_input_size(s.model));
        rb_json_object_begin(&j, "stored_tensors");
        for (int k = 0; k < RV_BACKWARD_N_MODES; k++)
            if (modes >> k & 1u)
                rb_json_int(&j, rv_backward_mode_name((rv_backward_mode)k),
                            rv_model_stored_tensors(s.model, (rv_backward_mode)k));
        rb_json_object_end(&j);
        rb_json_object_begin(&j, "planned_bytes");
        for (int k = 0; k < RV_BACKWARD_N_MODES; k++) {
            if (!(modes >> k & 1u)) continue;
            rv_mem_planned(rv_model_mem(s.model), rv_model_program_train((rv_backward_mode)k), &st);
            print_stats_json(&j, rv_backward_mode_name((rv_backward_mode)k), &st);
        }
        rv_mem_planned(rv_model_mem(s.model), rv_model_program_eval(), &st);
        print_stats_json(&j, "eval", &st);
        rb_json_object_end(&j);
        rb_json_end(&j);
    } else {
        printf("%s: %zu parameters, %d layers, %dx%d input, %d classes, batch %ld\n", arch.name,
               rv_model_n_params(s.model), rv_model_n_layers(s.model), arch.input_size,
               arch.input_size, classes, a.batch);
        printf("planned peak MB per category for one step (MB = 1e6 bytes); tensors = activation "
               "tensors kept for the backward pass:\n");
        printf("  %-11s %7s", "program", "tensors");
        for (int k = 0; k < RV_MEM_N_CATEGORIES; k++)
            printf(" %10s", rv_mem_category_name((rv_mem_category)k));
        printf(" %10s %10s\n", "activation", "total");
        for (int k = 0; k < RV_BACKWARD_N_MODES; k++) {
            if (!(modes >> k & 1u)) continue;
            rv_mem_planned(rv_model_mem(s.model), rv_model_program_train((rv_backward_mode)k), &st);
            print_stats_text(rv_backward_mode_name((rv_backward_mode)k),
                             rv_model_stored_tensors(s.model, (rv_backward_mode)k), &st);
        }
        rv_mem_planned(rv_model_mem(s.model), rv_model_program_eval(), &st);
        print_stats_text("eval", -1, &st);
    }
    rc = RB_EXIT_OK;
done:
    rb_model_session_close(&s);
    return rc;
}
