/*
 * entry_identity.h: what an entry of an experiment file is in the results database: the
 * training configuration it runs with and the run configuration (hence the configuration key)
 * its rows carry. `run` uses it to skip finished entries and to lock entries; `run --slurm`
 * uses it to name each entry's shard and to tell its state.
 */
#ifndef RB_ENTRY_IDENTITY_H
#define RB_ENTRY_IDENTITY_H

#include "db/db.h"
#include "experiments/experiment.h"
#include "training/train.h"

/* The training configuration of entry x, as rb_train_run receives it (data folder, checkpoint
 * folder and progress display are the caller's: they do not identify a run). */
void rb_exp_entry_train_config(const rb_experiment *e, const rb_exp_entry *x,
                               rb_train_config *c);

/* An entry's identity. For training entries it comes from rb_train_identify, so lookups find
 * exactly the rows rb_train_run writes. rc's strings point into this struct and into e and x:
 * use it in place while they live. */
typedef struct {
    rb_train_config train;
    rb_train_identity id;
    rb_run_config rc;
    char why[512]; /* why rb_train_identify refused the configuration */
} rb_exp_identity;

/* Fills *out. Returns 0, or -1 for a configuration rb_train_identify refuses, with the reason
 * in out->why (nothing is printed). */
int rb_exp_entry_identity(const rb_experiment *e, const rb_exp_entry *x, rb_exp_identity *out);

#endif
