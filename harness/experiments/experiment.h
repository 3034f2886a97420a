/*
 * experiment.h: experiment files (experiments/NAME.ini, format in experiments/README.md) and the
 * matrix of runs they expand to.
 *
 * A file names an experiment ([experiment] name, kind = train | mem, schedule, description),
 * gives defaults for every run ([train] or [mem]), and one or more matrix sections ([matrix]
 * or [matrix.LABEL]) whose lists multiply out into entries:
 *   datasets x (archs, pairs or families x units) x modes x devices x seeds.
 * A matrix section may also override any [train]/[mem] key for its own entries (e.g. fewer
 * steps for the deeper pairs of a quick schedule). An optional [slurm] section gives the
 * resources of every task when the file runs on a cluster (`run --slurm`).
 *
 * Every error names the file and line: unknown section or key, malformed number, unknown
 * architecture, mode, dataset or device, a key that does not belong to the experiment's kind,
 * a key given twice in one section, a section given twice (each [matrix.LABEL] needs its own
 * label), a value too long for any list.
 */
#ifndef RB_EXPERIMENT_H
#define RB_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { RB_EXP_TRAIN = 0, RB_EXP_MEM = 1 } rb_exp_kind;

/* The per-run settings: [train]/[mem] defaults, overridden per matrix section. */
typedef struct {
    long steps;
    int batch;
    long eval_every;          /* -1: the trainer's default (steps/20) */
    long checkpoint_every;    /* -1: the trainer's default */
    long train_subset, test_subset, angle_every;
    double lr, momentum, weight_decay;
    int threads;
} rb_exp_settings;

/* One run of the matrix. */
typedef struct {
    char group[32];           /* the matrix section label ("" for [matrix]) */
    char arch[48];
    char dataset[24];         /* train: cifar10 | cifar100 | fashion-mnist; mem: "random" */
    char mode[16];            /* resolved: standard | reversible | checkpoint */
    char device[8];           /* cpu | cuda */
    uint64_t seed;
    int reversible;           /* the architecture is a RevNet */
    rb_exp_settings set;
} rb_exp_entry;

/* The optional [slurm] section: what every task of `run --slurm` asks for unless a flag says
 * otherwise (empty / 0 / -1: not set; the defaults are estimated per entry, slurm.h). */
typedef struct {
    char partition[64];
    char time[32];            /* a Slurm time limit, e.g. 2:00:00 */
    char mem[32];             /* a Slurm memory size, e.g. 4G */
    long cpus_per_task;       /* 0: not set */
    long gpus_per_task;       /* -1: not set */
} rb_exp_slurm;

typedef struct {
    char path[512];
    char name[64];
    rb_exp_kind kind;
    char schedule[32];
    char description[1024];
    rb_exp_entry *entries;
    int n_entries;
    int n_skipped;            /* arch x mode combinations the architecture does not support */
    rb_exp_slurm slurm;
} rb_experiment;

/* Parses and expands an experiment file. Returns 0, or -1 with "FILE:LINE: why" in err (the
 * caller exits with status 2). On failure *e is left empty (rb_experiment_free is safe). */
int rb_experiment_load(rb_experiment *e, const char *path, char *err, size_t err_len);
/* Same, from text in memory; name stands for the file name in messages (tests use it). */
int rb_experiment_parse(rb_experiment *e, const char *name, const char *text, char *err,
                        size_t err_len);
/* Same as rb_experiment_parse; *bytes_copied gets the bytes the parser copied while reading
 * the text, its work, which stays within a small multiple of the text's length however the
 * text is laid out (tests hold it to that; a measure that, unlike time, does not depend on
 * the machine). */
int rb_experiment_parse_work(rb_experiment *e, const char *name, const char *text, char *err,
                             size_t err_len, size_t *bytes_copied);
void rb_experiment_free(rb_experiment *e);

const char *rb_exp_kind_name(rb_exp_kind k);

#endif
