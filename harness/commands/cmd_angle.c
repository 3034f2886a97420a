/*
 * cmd_angle.c: `revbench angle`: the numerical error of reconstruction on one batch, the
 * quantity of the paper's numerical-error figure: the angle between the whole-network
 * parameter gradient computed with stored activations and the one computed with activations
 * reconstructed by the reversible backward pass (PAPER.md, "Figures").
 */
#include <stdio.h>
#include <stdlib.h>

#include "commands/commands.h"
#include "common/exit_status.h"
#include "common/json.h"
#include <revnet/model.h>
#include "commands/model_cli.h"
#include "commands/options.h"
#include "training/recipe.h"

static const char *CMD = "angle";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench angle --arch A [--batch B] [--seed S] [--steps N]\n"
            "                      [--device cpu|cuda] [--backend fast|ref] [--threads T] [--json]\n\n"
            "For a RevNet: the angle in degrees between the parameter gradients with stored and\n"
            "with reconstructed activations, on a batch of random data, and max_rel_diff =\n"
            "max |g_std - g_rev| / max |g_std|. With --steps N the network first takes N SGD\n"
            "steps (lr %g) on random batches, so the angle is measured on trained weights.\n",
            RB_RECIPE_LR);
}

int rb_cmd_angle(int argc, char **argv)
{
    rb_model_args a = RB_MODEL_ARGS_DEFAULT;
    long steps = 0;
    const rb_opt opts[] = {
        RB_TEXT("arch", &a.arch_name),
        RB_LONG("batch", &a.batch, 1, 100000),
        RB_LONG("seed", &a.seed, 0, 2147483647L),
        RB_LONG("steps", &steps, 0, 1000000),
        RB_CHOICE("device", &a.device, rv_device_names(), "device"),
        RB_LONG("threads", &a.threads, 1, 1024),
        RB_MODEL_OPTS_END(&a),
    };
    int rc = rb_model_args_parse(CMD, usage, argc, argv, opts, &a);
    if (rc != RB_OPTS_GO) return rc;
    const rv_arch arch = a.arch;
    const rv_device device = (rv_device)a.device;
    if (!arch.reversible) {
        rb_cli_error(CMD, "%s is not a RevNet: the angle compares reversible and standard "
                          "gradients (try revnet-38)", arch.name);
        return RB_EXIT_USAGE;
    }
    int classes = arch.imagenet ? 1000 : 10;
    rb_model_session s;
    if (rb_model_session_open(&s, CMD, device, (int)a.threads)) return RB_EXIT_FAIL;
    rc = RB_EXIT_FAIL;
    rv_model_options mo = { .n_classes = classes, .batch = (int)a.batch,
                            .seed = (uint64_t)a.seed,
                            .train_modes = 1u << RV_BACKWARD_STANDARD |
                                           1u << RV_BACKWARD_REVERSIBLE };
    if (rv_model_create(s.ctx, &arch, &mo, &s.model) != RV_OK) {
        rb_cli_error(CMD, "%s", rv_ctx_message(s.ctx));
        goto done;
    }
    for (long i = 0; i <= steps; i++) {
        free(s.x);
        free(s.y);
        if (rb_cli_random_batch((int)a.batch, arch.input_size, classes,
                                (uint64_t)a.seed + 1000 + i, &s.x, &s.y)) {
            rb_cli_error(CMD, "out of memory");
            goto done;
        }
        if (i == steps) break;
        if (rv_model_train_step(s.model, RV_BACKWARD_REVERSIBLE, s.x, s.y, 1, NULL) != RV_OK ||
            rv_model_sgd(s.model, (float)RB_RECIPE_LR, (float)RB_RECIPE_MOMENTUM,
                         (float)RB_RECIPE_WEIGHT_DECAY) != RV_OK) {
            rb_cli_error(CMD, "training step %ld: %s", i + 1, rv_ctx_message(s.ctx));
            goto done;
        }
    }
    double angle, rel;
    if (rv_model_gradient_angle(s.model, s.x, s.y, &angle, &rel) != RV_OK) {
        rb_cli_error(CMD, "%s", rv_ctx_message(s.ctx));
        goto done;
    }
    if (a.json) {
        rb_json j;
        rb_json_begin(&j, stdout);
        rb_json_str(&j, "arch", arch.name);
        rb_json_str(&j, "device", rv_device_name(device));
        rb_json_int(&j, "batch", a.batch);
        rb_json_int(&j, "seed", a.seed);
        rb_json_int(&j, "steps", steps);
        rb_json_num(&j, "angle_deg", angle);
        rb_json_num(&j, "max_rel_diff", rel);
        rb_json_end(&j);
    } else {
        printf("%s, batch %ld, seed %ld, after %ld steps: angle %.5f degrees, max rel diff %.3g\n",
               arch.name, a.batch, a.seed, steps, angle, rel);
    }
    rc = RB_EXIT_OK;
done:
    rb_model_session_close(&s);
    return rc;
}
