/*
 * run_progress.c: the last logged step of a run (run_progress.h).
 *
 * Owns: nothing.
 */
#include "db/run_progress.h"

#include <sqlite3.h>

int rb_db_run_last_step(rb_db *db, int64_t run_id, long *last_step)
{
    sqlite3_stmt *st = NULL;
    *last_step = 0;
    if (sqlite3_prepare_v2(rb_db_handle(db),
                           "SELECT coalesce(max(step), 0) FROM metrics WHERE run_id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (rc == 0) *last_step = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}
