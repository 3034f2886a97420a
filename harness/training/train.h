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
 */
#ifndef RB_TRAIN_H
#define RB_TRAIN_H

#include <stdint.h>
#include "common/exit_status.h"
#include "db/db.h"

typedef struct {
    const char *arch;
    const char *dataset;        /* cifar10 | cifar100 | fashion-mnist */
    const char *mode;           /* standard | reversible | checkpoint; NULL = reversible for
                                   RevNets, standard for ResNets */
    const char *device;         /* cpu | cuda */
    const char *data_root;      /* NULL: $REVBENCH_DATA, then data/ */
    const char *schedule;       /* label stored with the run ("custom" by default) */
    const char *experiment;     /* experiment name or "" */
    const char *checkpoint_dir; /* default results/checkpoints */
    long steps;                 /* default 80000 */
    int batch;                  /* default 100 */
    uint64_t seed;              /* default 1 */
    long eval_every;            /* -1 (default) = steps/20; 0 = only at the end */
    long checkpoint_every;      /* default 1000 */
    long train_subset;          /* 0 = whole training set */
    long test_subset;           /* 0 = whole test set */
    long angle_every;           /* RevNets: gradient angle every K steps; 0 = off */
    double lr;                  /* initial learning rate, default 0.1 */
    double momentum;            /* 0.9 */
    double weight_decay;        /* 2e-4 */
    int threads;                /* CPU threads, default 2 */
    int resume;                 /* continue the newest unfinished run with this config */
    int progress;               /* 1: progress bar/lines on stderr */
    int sequential_loader;      /* 1: fill each batch on the training thread, not one batch
                                   ahead on the loader thread (loader.h); the batches, and so
                                   every result, are the same either way */
    long stop_after;            /* stop as if interrupted after this many steps in this process
                                   (checkpoint, status 'interrupted'); 0 = off. For time-sliced
                                   jobs and for tests of resume. */
} rb_train_config;

/* Fills the defaults above. */
void rb_train_config_defaults(rb_train_config *cfg);

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

/* Checks a configuration without touching any file or the database: architecture, dataset,
 * device and mode names, mode/architecture fit, value ranges. Returns RB_EXIT_OK, or
 * RB_EXIT_USAGE with what is wrong (and the valid choices) in why (at most why_len bytes).
 * rb_train_run checks again. Prints nothing: the caller decides what to say. */
int rb_train_check_config(const rb_train_config *cfg, char *why, size_t why_len);

/* The identity rb_train_run records for a configuration in the database (defaults resolved:
 * mode, eval_every, the canonical dataset name, the extra_json of lr, momentum, weight decay,
 * test subset and angle interval). rc's strings point into this struct and into the cfg it
 * was made from, so use it in place (do not copy it) while cfg lives. */
typedef struct {
    rb_run_config rc;
    char arch[48];
    char extra_json[512];
} rb_train_identity;

/* Fills *out for cfg, so that rb_db_find_run(db, &out->rc, ...) finds the runs rb_train_run
 * makes for cfg (the `run` command uses it to skip finished entries). Returns RB_EXIT_OK, or
 * RB_EXIT_USAGE with the problem in why, as rb_train_check_config. */
int rb_train_identify(const rb_train_config *cfg, rb_train_identity *out, char *why,
                      size_t why_len);

/* Runs (or resumes) one training run, logging to db. Returns an exit status
 * (common/exit_status.h): RB_EXIT_OK finished, RB_EXIT_FAIL failed/diverged/interrupted,
 * RB_EXIT_USAGE bad configuration or dataset name; the reason is in res either way. Prints
 * nothing but the progress display (cfg->progress). */
int rb_train_run(const rb_train_config *cfg, rb_db *db, rb_train_result *res);

/* The signal (SIGINT or SIGTERM) that interrupted the last rb_train_run of this process, 0 if
 * none did; the train command exits with 128 + that number, as a shell does. */
int rb_train_last_signal(void);

#endif
