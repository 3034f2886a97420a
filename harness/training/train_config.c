/*
 * train_config.c: the training configuration (train_config.h): its defaults, its check, and
 * what it resolves to, including the run's identity in the database (rb_run_config and its
 * key). Everything that changes the numbers a run logs goes into that identity, so a resumed or
 * skipped run is found by it.
 *
 * Owns nothing beyond a call: the resolved form's key is the caller's to free.
 */
#include "training/train_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exit_status.h"
#include "training/recipe.h"
#include <revnet/data.h>

void rb_train_config_defaults(rb_train_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->device = rv_device_name(RV_DEVICE_CPU);
    cfg->schedule = "custom";
    cfg->experiment = "";
    cfg->checkpoint_dir = "results/checkpoints";
    cfg->steps = RB_RECIPE_STEPS;
    cfg->batch = RB_RECIPE_BATCH;
    cfg->seed = 1;
    cfg->eval_every = -1; /* resolved to steps / 20 */
    cfg->checkpoint_every = 1000;
    cfg->lr = RB_RECIPE_LR;
    cfg->momentum = RB_RECIPE_MOMENTUM;
    cfg->weight_decay = RB_RECIPE_WEIGHT_DECAY;
    cfg->threads = 2;
}

static const char *canonical_dataset(const char *name)
{
    if (name && strcmp(name, RB_TRAIN_SYNTHETIC) == 0) return RB_TRAIN_SYNTHETIC;
    return rv_data_canonical_name(name);
}

/* Says in why that name is not a dataset, with the valid ones. */
static void unknown_dataset(const char *name, char *why, size_t why_len)
{
    int len = snprintf(why, why_len, "unknown dataset '%s'; valid:", name ? name : "");
    for (const char *const *d = rv_data_names(); *d && len >= 0 && (size_t)len < why_len; d++)
        len += snprintf(why + len, why_len - (size_t)len, " %s,", *d);
    if (len >= 0 && (size_t)len < why_len)
        snprintf(why + len, why_len - (size_t)len, " %s", RB_TRAIN_SYNTHETIC);
}

int rb_train_resolve(const rb_train_config *c, rb_train_resolved *out, char *why,
                     size_t why_len)
{
    memset(out, 0, sizeof *out);
    if (!c->arch) {
        snprintf(why, why_len, "--arch is required (e.g. revnet-38, resnet-32)");
        return RB_EXIT_USAGE;
    }
    if (rv_arch_parse(c->arch, &out->arch, why, why_len) != RV_OK) return RB_EXIT_USAGE;
    out->dataset = canonical_dataset(c->dataset);
    if (!out->dataset) {
        unknown_dataset(c->dataset, why, why_len);
        return RB_EXIT_USAGE;
    }
    const char *device = c->device ? c->device : rv_device_name(RV_DEVICE_CPU);
    int known = 0;
    for (const char *const *d = rv_device_names(); *d; d++) known |= !strcmp(device, *d);
    if (!known) {
        snprintf(why, why_len, "unknown device '%s'; valid: %s, %s", device,
                 rv_device_name(RV_DEVICE_CPU), rv_device_name(RV_DEVICE_CUDA));
        return RB_EXIT_USAGE;
    }
    if (c->mode) {
        if (rv_backward_mode_parse(c->mode, &out->mode, why, why_len) != RV_OK)
            return RB_EXIT_USAGE;
    } else {
        out->mode = out->arch.reversible ? RV_BACKWARD_REVERSIBLE : RV_BACKWARD_STANDARD;
    }
    if (!rv_arch_supports(&out->arch, out->mode)) {
        snprintf(why, why_len, "mode '%s' does not apply to %s (RevNets: standard, reversible; "
                     "ResNets: standard, checkpoint)", rv_backward_mode_name(out->mode),
                     out->arch.name);
        return RB_EXIT_USAGE;
    }
    if (c->angle_every > 0 && !out->arch.reversible) {
        snprintf(why, why_len, "--angle-every does not apply to %s: only RevNets reconstruct "
                 "activations to compare gradients with (leave it out for a ResNet)",
                 out->arch.name);
        return RB_EXIT_USAGE;
    }
    if (out->arch.input_size != 32) {
        snprintf(why, why_len, "%s is an ImageNet network; train takes the 32x32 CIFAR-shaped "
                     "datasets of --dataset", out->arch.name);
        return RB_EXIT_USAGE;
    }
    if (c->steps < 1 || c->batch < 1 || c->threads < 0 || c->checkpoint_every < 0 ||
        c->train_subset < 0 || c->test_subset < 0 || c->angle_every < 0 || c->stop_after < 0 ||
        !(c->lr > 0) || !isfinite(c->lr) || !(c->momentum >= 0) || !(c->weight_decay >= 0)) {
        snprintf(why, why_len, "steps and batch must be >= 1, lr > 0, and counts, momentum and "
                     "weight decay >= 0");
        return RB_EXIT_USAGE;
    }
    out->eval_every = c->eval_every < 0 ? (c->steps / 20 > 0 ? c->steps / 20 : 1) : c->eval_every;
    /* The angle compares stored against reconstructed activations: only RevNets have both. */
    out->angle_every = out->arch.reversible ? c->angle_every : 0;

    /* Everything that changes the numbers logged goes into the key; the checkpoint interval,
     * progress display and stop_after do not. */
    snprintf(out->extra_json, sizeof out->extra_json,
             "{\"lr\":%.17g,\"momentum\":%.17g,\"weight_decay\":%.17g,\"test_subset\":%ld,"
             "\"angle_every\":%ld}",
             c->lr, c->momentum, c->weight_decay, c->test_subset, out->angle_every);
    out->rc = (rb_run_config){ .arch = out->arch.name,
                               .dataset = out->dataset,
                               .mode = rv_backward_mode_name(out->mode),
                               .device = c->device ? c->device : rv_device_name(RV_DEVICE_CPU),
                               .kind = "train",
                               .schedule = c->schedule ? c->schedule : "custom",
                               .experiment = c->experiment ? c->experiment : "",
                               .batch = c->batch,
                               .steps = c->steps,
                               .seed = c->seed,
                               .eval_every = out->eval_every,
                               .train_subset = c->train_subset,
                               .threads = c->threads,
                               .extra_json = out->extra_json };
    out->key = rb_db_config_key(&out->rc);
    if (!out->key) {
        snprintf(why, why_len, "out of memory");
        return RB_EXIT_FAIL;
    }
    return RB_EXIT_OK;
}

int rb_train_identify(const rb_train_config *cfg, rb_train_identity *out, char *why,
                      size_t why_len)
{
    rb_train_resolved r;
    memset(out, 0, sizeof *out);
    int code = rb_train_resolve(cfg, &r, why, why_len);
    if (code == RB_EXIT_OK) {
        out->rc = r.rc;
        snprintf(out->arch, sizeof out->arch, "%s", r.arch.name);
        snprintf(out->extra_json, sizeof out->extra_json, "%s", r.extra_json);
        out->rc.arch = out->arch;
        out->rc.extra_json = out->extra_json;
    }
    free(r.key);
    return code;
}

int rb_train_check_config(const rb_train_config *cfg, char *why, size_t why_len)
{
    rb_train_identity id;
    return rb_train_identify(cfg, &id, why, why_len);
}
