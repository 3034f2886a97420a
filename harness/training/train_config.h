/*
 * train_config.h: the configuration of one training run (train.h): its fields and defaults, the
 * check of its names and ranges, and what it resolves to (the architecture, backward mode,
 * canonical dataset, evaluation and angle intervals, and the run's identity in the database).
 *
 * rb_train_run (train.c) reads only the resolved form; the `run` command uses the identity to
 * find the runs a configuration made. Nothing here touches a file, the database or a device.
 */
#ifndef RB_TRAIN_CONFIG_H
#define RB_TRAIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "db/db.h"
#include <revnet/model.h>

/* The synthetic set (tests, machines without data): the one dataset the trainer knows besides
 * the library's (rv_data_names). */
#define RB_TRAIN_SYNTHETIC "synthetic"

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

/* A configuration resolved: defaults filled, names checked and made canonical, the run's
 * identity built. The trainer embeds one and reads it instead of the raw configuration where
 * they differ. rc's strings point into this struct (arch.name, extra_json) and into the cfg it
 * was made from, so use it in place (do not copy it) while cfg lives. */
typedef struct {
    rv_arch arch;
    rv_backward_mode mode;
    const char *dataset;      /* canonical name */
    long eval_every;          /* resolved */
    long angle_every;         /* 0 unless a RevNet asked for it */
    char extra_json[512];
    rb_run_config rc;
    char *key;                /* rb_db_config_key(&rc), malloc'd: the caller frees it */
} rb_train_resolved;

/* Checks cfg and fills *out (zeroed first). Returns RB_EXIT_OK; RB_EXIT_USAGE with what is
 * wrong (and the valid choices) in why; RB_EXIT_FAIL when out of memory for the key. Whatever
 * it returns, free(out->key) afterwards (NULL unless it succeeded). */
int rb_train_resolve(const rb_train_config *cfg, rb_train_resolved *out, char *why,
                     size_t why_len);

#endif
