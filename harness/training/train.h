/*
 * train.h: one training run (the `train` command and each training entry of `run` use it).
 *
 * The paper's recipe (PAPER.md): SGD with heavy-ball momentum 0.9, weight decay 2e-4 on conv
 * and FC weights only, learning rate lr0 / 10 / 100 switching at 50% and 75% of the steps,
 * batch 100, per-pixel mean subtraction, pad-and-crop + flip augmentation, shuffling per epoch
 * from the run's seed; evaluation on the test set with BN running averages. Deterministic:
 * same seed and thread count give bit-identical losses. Checkpoints (weights, momentum, BN
 * averages, RNG state, data order, step) every checkpoint_every steps and on SIGINT/SIGTERM,
 * written atomically (write, fsync, rename); resume continues to exactly the state an
 * uninterrupted run reaches. Checkpoints and locks are kept per database (run_files.h); a
 * database that refuses a write mid-run stops the run 'interrupted', resumable.
 *
 * The configuration (rb_train_config), its defaults, its check and the run identity it maps
 * to live in train_config.h, which this header includes.
 */
#ifndef RB_TRAIN_H
#define RB_TRAIN_H

#include <stdint.h>
#include "common/exit_status.h"
#include "db/db.h"
#include "training/train_config.h"

typedef struct {
    int64_t run_id;
    double final_test_error;    /* percent */
    double final_test_loss;
    double final_train_loss;    /* mean over the last eval window */
    double final_train_error;   /* percent */
    double images_per_sec;      /* training throughput over the run (this process) */
    long steps_done;
    char status[16];            /* finished | failed | interrupted: how the run ended, which the
                                   database shows unless reason says it could not record it */
    char reason[1024];
    char note[1024];            /* set when this call recorded how an earlier attempt of the
                                   run ended, which that attempt could not (also on stderr) */
} rb_train_result;

/* Runs (or resumes) one training run, logging to db. Returns an exit status
 * (common/exit_status.h): RB_EXIT_OK finished, RB_EXIT_FAIL failed/diverged/interrupted,
 * RB_EXIT_USAGE bad configuration or dataset name; the reason is in res either way. Prints
 * nothing but the progress display (cfg->progress). */
int rb_train_run(const rb_train_config *cfg, rb_db *db, rb_train_result *res);

/* The signal (SIGINT or SIGTERM) that interrupted the last rb_train_run of this process, 0 if
 * none did; the train command exits with 128 + that number, as a shell does. */
int rb_train_last_signal(void);

#endif
