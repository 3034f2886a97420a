/*
 * db_ext.h: results-database functions beyond the db.h contract: architecture rows, what a
 * run's row holds besides its configuration, read-only opening (implemented in db.c,
 * db_runs.c and db_metrics.c).
 */
#ifndef RB_DB_EXT_H
#define RB_DB_EXT_H

#include <stdint.h>
#include "db/db.h"

/* The schema version this program writes (PRAGMA user_version). */
#define RB_DB_SCHEMA_VERSION 4

/* Records what an architecture is (archs table): parameter count for a dataset's class count
 * ("cifar10", "cifar100", "imagenet", ...) and its layer count (conv + FC layers).
 * Returns 0 or -1 (rb_db_message). */
int rb_db_record_arch(rb_db *db, const char *arch, const char *dataset, int64_t n_params,
                      int n_layers);

/* Stores a JSON document beside a run (runs.result_json: e.g. the `mem` command's output). */
int rb_db_run_set_result(rb_db *db, int64_t run_id, const char *json);

/* Replaces a run's backend description and the BLAS, cuDNN and GPU fields parsed from it
 * (a `mem` child reports the backend it actually used). */
int rb_db_run_set_backend(rb_db *db, int64_t run_id, const char *backend_desc);

/* The checkpoint path recorded for a run (runs.checkpoint) into out (len bytes; "" when none).
 * Returns 0, or -1 when the run does not exist or the query fails (rb_db_message). */
int rb_db_run_checkpoint(rb_db *db, int64_t run_id, char *out, size_t len);

/* Opens an existing database for reading only (no migration, no WAL switch): for `report`
 * on a file it may not write. Fails with a message when the file is missing, is not a revbench
 * database, or has a schema version other than RB_DB_SCHEMA_VERSION. */
int rb_db_open_readonly(rb_db **out, const char *path, char *err, size_t err_len);

#endif
