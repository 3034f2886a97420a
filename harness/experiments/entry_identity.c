/*
 * entry_identity.c: an experiment entry's configuration and database identity
 * (entry_identity.h).
 *
 * Owns: nothing.
 */
#include "experiments/entry_identity.h"

#include <string.h>

#include "common/exit_status.h"

void rb_exp_entry_train_config(const rb_experiment *e, const rb_exp_entry *x,
                               rb_train_config *c)
{
    rb_train_config_defaults(c);
    c->arch = x->arch;
    c->dataset = x->dataset;
    c->mode = x->mode;
    c->device = x->device;
    c->schedule = e->schedule;
    c->experiment = e->name;
    c->steps = x->set.steps;
    c->batch = x->set.batch;
    c->seed = x->seed;
    c->eval_every = x->set.eval_every;
    if (x->set.checkpoint_every >= 0) c->checkpoint_every = x->set.checkpoint_every;
    c->train_subset = x->set.train_subset;
    c->test_subset = x->set.test_subset;
    /* An experiment's angle_every applies to its RevNets; the ResNets of its pairs have no
     * reconstruction to measure (and train refuses --angle-every for them). */
    c->angle_every = x->reversible ? x->set.angle_every : 0;
    c->lr = x->set.lr;
    c->momentum = x->set.momentum;
    c->weight_decay = x->set.weight_decay;
    c->threads = x->set.threads;
    c->resume = 1;
}

int rb_exp_entry_identity(const rb_experiment *e, const rb_exp_entry *x, rb_exp_identity *out)
{
    memset(out, 0, sizeof *out);
    if (e->kind != RB_EXP_TRAIN) {
        out->rc = (rb_run_config){ .arch = x->arch, .dataset = x->dataset, .mode = x->mode,
                                   .device = x->device, .kind = "mem", .schedule = e->schedule,
                                   .experiment = e->name, .batch = x->set.batch,
                                   .steps = x->set.steps, .seed = x->seed,
                                   .threads = x->set.threads };
        return 0;
    }
    rb_exp_entry_train_config(e, x, &out->train);
    if (rb_train_identify(&out->train, &out->id, out->why, sizeof out->why) != RB_EXIT_OK)
        return -1;
    out->rc = out->id.rc;
    return 0;
}
