/*
 * run_progress.h: how far a run has got in a database file that a task on another machine may
 * be writing at this moment (`run --slurm --status` and submission read each shard this way).
 */
#ifndef RB_RUN_PROGRESS_H
#define RB_RUN_PROGRESS_H

#include "db/db.h"

/* Looks up the newest run of configuration cfg in the database file at path, without locks
 * and without SQLite's shared-memory index (SQLite's "immutable" mode), so that the reader
 * never touches what a writer on another node uses; the price is that changes still in the
 * writer's journal are not seen (they are, once the writer closes the file). Fills status
 * (16 bytes) and *last_step (the largest step any of its metrics was logged at). Returns 1
 * when found, 0 when the file has no such run or cannot be read. */
int rb_db_peek_run(const char *path, const rb_run_config *cfg, char *status, long *last_step);

#endif
