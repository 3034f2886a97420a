/*
 * run_entry.h: one entry of `revbench run` (cmd_run.c), in the process that runs it: a child
 * `run` forks per entry, or `run` itself with --entry. Takes the entry's lock, records its
 * architecture, and runs it: a training run, or a `revbench mem` child whose JSON it stores.
 */
#ifndef RB_RUN_ENTRY_H
#define RB_RUN_ENTRY_H

#include "db/db.h"
#include "experiments/experiment.h"

/* Exit status of an entry whose lock another process holds. */
#define RB_EXIT_BUSY 3
/* Exit status of an entry whose run stopped resumably without a signal (the results database
 * refused a write: locked or full); the row says 'interrupted' and why. */
#define RB_EXIT_RESUMABLE 4

/* What `run`'s flags say about every entry. */
typedef struct {
    const char *db_path;
    const char *data_root;
    const char *device;       /* overrides every entry's device when set */
    int jobs;
    int dry_run;
} rb_run_opts;

/* The entry's state in words ("finished", "to run", "running elsewhere", ...). db NULL: there
 * is no database yet (a dry run creates none). dry_run: look at the locks without creating
 * any. Prints why an entry's configuration is invalid. */
const char *rb_run_entry_state(rb_db *db, const char *db_path, const rb_experiment *e,
                               const rb_exp_entry *x, int dry_run);

/* Runs entry x of e: opens the database, takes the entry's lock, records the architecture and
 * runs the entry. Returns its exit status: RB_EXIT_OK, RB_EXIT_BUSY, RB_EXIT_RESUMABLE,
 * 128 + the signal that stopped it, or RB_EXIT_FAIL / RB_EXIT_USAGE after a message. A `mem`
 * entry takes SIGINT and SIGTERM itself (they are passed on to its `revbench mem`). */
int rb_run_entry(const rb_run_opts *o, const rb_experiment *e, const rb_exp_entry *x);

#endif
