/*
 * run_progress.h: how far a run has got, read from its metrics (for `run --slurm --status`,
 * which reports each shard's run as "interrupted at step 120 of 500").
 */
#ifndef RB_RUN_PROGRESS_H
#define RB_RUN_PROGRESS_H

#include <stdint.h>
#include "db/db.h"

/* The largest step any metric of the run was logged at (0 if none). Returns 0 or -1. */
int rb_db_run_last_step(rb_db *db, int64_t run_id, long *last_step);

#endif
