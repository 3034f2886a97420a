/*
 * db_metrics.c: the rows that hang off a run (db.h, db_ext.h): its metrics, its memory
 * categories, and the architecture rows a run or the report records.
 *
 * Owns: nothing beyond one call.
 */
#include "db/db_ext.h"
#include "db/db_internal.h"

int rb_db_metric(rb_db *db, int64_t run_id, long step, const char *name, double value)
{
    const rb_db_arg a[] = { RB_DB_ARG_INT(run_id), RB_DB_ARG_INT(step), RB_DB_ARG_TEXT(name),
                            RB_DB_ARG_REAL(value) };
    return rb_db_exec(db, "recording a metric",
                      "INSERT OR REPLACE INTO metrics(run_id, step, name, value) "
                      "VALUES (?, ?, ?, ?)",
                      a, 4);
}

int rb_db_metrics_truncate(rb_db *db, int64_t run_id, long after_step)
{
    const rb_db_arg a[] = { RB_DB_ARG_INT(run_id), RB_DB_ARG_INT(after_step) };
    return rb_db_exec(db, "removing metrics past a checkpoint",
                      "DELETE FROM metrics WHERE run_id = ?1 AND step > ?2", a, 2);
}

/* A byte count, NULL when negative ("not known": e.g. max RSS has no plan). */
static rb_db_arg bytes_or_null(int64_t bytes)
{
    return bytes >= 0 ? RB_DB_ARG_INT(bytes) : RB_DB_ARG_NULL;
}

/* This and rb_db_record_arch read alike, kept apart: each is one statement and its
 * parameters, the code they share is rb_db_exec. */
int rb_db_memory(rb_db *db, int64_t run_id, const char *category, int64_t planned_bytes,
                 int64_t peak_bytes)
{
    const rb_db_arg a[] = { RB_DB_ARG_INT(run_id), RB_DB_ARG_TEXT(category),
                            bytes_or_null(planned_bytes), bytes_or_null(peak_bytes) };
    return rb_db_exec(db, "recording memory",
                      "INSERT OR REPLACE INTO memory(run_id, category, planned_bytes, "
                      "peak_bytes) VALUES (?, ?, ?, ?)",
                      a, 4);
}

int rb_db_record_arch(rb_db *db, const char *arch, const char *dataset, int64_t n_params,
                      int n_layers)
{
    const rb_db_arg a[] = { RB_DB_ARG_TEXT(arch), RB_DB_ARG_TEXT(dataset),
                            RB_DB_ARG_INT(n_params), RB_DB_ARG_INT(n_layers) };
    return rb_db_exec(db, "recording an architecture",
                      "INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) "
                      "VALUES (?, ?, ?, ?)",
                      a, 4);
}
