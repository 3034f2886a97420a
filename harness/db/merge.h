/*
 * merge.h: merging shard databases (results gathered by Slurm array tasks, or by hand on other
 * machines) into one main results database.
 *
 * What a merge copies: every *finished* run of every shard, with its metrics and memory rows,
 * under a new run id of the main database, and the shard's architecture rows. Runs that are not
 * finished stay in their shard only: their checkpoints belong to the shard's database (its
 * folder, its identity), so they are resumed there, by the task that owns the shard, and
 * merged once they finish. A merged run's checkpoint column is cleared for the same reason.
 *
 * A run is the same run in two files when its configuration key, start time, host name and
 * process id agree (all copied verbatim): merging a shard twice adds nothing.
 *
 * Refused, with the main database left untouched (every check runs before the write
 * transaction, and all writes are one transaction):
 *   - a shard that is not a readable SQLite file, is damaged (PRAGMA quick_check), is not a
 *     revbench results database, or has a schema version other than this program's;
 *   - a shard that is the main database itself;
 *   - a finished run whose configuration already has another finished run in the main
 *     database (or in an earlier shard of the same merge): two results for one configuration
 *     would leave the tables to pick one silently.
 */
#ifndef RB_MERGE_H
#define RB_MERGE_H

#include <stddef.h>
#include "db/db.h"

typedef struct {
    int n_added;          /* finished runs copied into the main database */
    int n_present;        /* finished runs the main database already had (merged before) */
    int n_unfinished;     /* runs left in the shard: running, interrupted or failed */
} rb_merge_counts;

/* Merges the n shard files into db (opened with rb_db_open). Fills per_shard[i] (n entries,
 * may be NULL) and *total. Returns 0, or -1 with the reason in err, in which case the main
 * database is exactly as it was. */
int rb_db_merge(rb_db *db, const char *const *shards, int n, rb_merge_counts *per_shard,
                rb_merge_counts *total, char *err, size_t err_len);

#endif
