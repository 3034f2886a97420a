/*
 * slurm.h: an experiment file as Slurm job arrays (`revbench run FILE --slurm`), and its state
 * (`--slurm --status`).
 *
 * Layout, beside the main database DB:
 *   DB.slurm/NAME/                       the run folder of experiment NAME
 *     shards/LABEL/shard.db              one shard database per entry, written only by that
 *     shards/LABEL/checkpoints/          entry's task; its checkpoints belong to it
 *     submit-N/experiment.ini            the file as submitted the N-th time (tasks read it)
 *     submit-N/array-G.sh, merge.sh      the batch scripts of that submission
 *     logs/                              the tasks' and merge jobs' output
 *     jobs.txt                           every task and merge job submitted, newest last
 * LABEL is ARCH-DATASET-MODE-DEVICE-sSEED-HASH, HASH a hash of the entry's configuration key:
 * a shard stays the same entry's across submissions even if the file is edited in between.
 *
 * A submission: every entry not finished in DB nor in its shard, and not still queued, becomes
 * a task of a job array (one array per distinct resource request: deep networks ask for more
 * time), each task running `revbench run SNAPSHOT --entry K --db SHARD`; then one merge job,
 * `--dependency=afterany` on the arrays, runs `revbench merge` of every shard into DB. Tasks
 * get SIGTERM 120 s before their time limit (--signal=B:TERM@120) and stop at a step boundary
 * with a checkpoint; they are requeueable, and a resubmission resumes them from their shard.
 */
#ifndef RB_SLURM_H
#define RB_SLURM_H

#include "experiments/experiment.h"

typedef struct {
    const char *db_path;      /* the main database */
    const char *data_root;    /* handed to every task; NULL: theirs ($REVBENCH_DATA, data/) */
    const char *device;       /* every entry on this device, or NULL */
    const char *partition;    /* NULL: the cluster's default partition */
    const char *time;         /* a Slurm time limit for every task, or NULL: per entry */
    const char *mem;          /* a Slurm memory size for every task ("4G"), or NULL: per entry */
    long cpus_per_task;       /* 0: the entry's threads */
    long gpus_per_task;       /* -1: 1 for cuda entries, none for cpu ones */
    int dry_run;              /* print the scripts; write and submit nothing */
} rb_slurm_opts;

/* Submits what is left of experiment e (loaded from file). Returns an exit status
 * (common/exit_status.h). */
int rb_slurm_submit(const char *file, const rb_experiment *e, const rb_slurm_opts *o);

/* Prints each entry's state (main database, shard, queue) and the merge job's. */
int rb_slurm_status(const rb_experiment *e, const rb_slurm_opts *o);

#endif
