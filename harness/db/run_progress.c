/*
 * run_progress.c: a run's state read from a database file another machine may be writing
 * (run_progress.h).
 *
 * Owns: the read-only handle it opens (closed before returning).
 */
#include "db/run_progress.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int rb_db_peek_run(const char *path, const rb_run_config *cfg, char *status, long *last_step)
{
    status[0] = '\0';
    *last_step = 0;
    if (access(path, R_OK) != 0) return 0;
    char *key = rb_db_config_key(cfg);
    char *uri = sqlite3_mprintf("file:%s?immutable=1", path);
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (!key || !uri ||
        sqlite3_open_v2(uri, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h,
                           "SELECT status, (SELECT coalesce(max(step), 0) FROM metrics m"
                           " WHERE m.run_id = r.id) FROM runs r WHERE config_key = ?"
                           " ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        snprintf(status, 16, "%s", (const char *)sqlite3_column_text(st, 0));
        *last_step = (long)sqlite3_column_int64(st, 1);
        found = 1;
    }
done:
    sqlite3_finalize(st);
    sqlite3_close(h);
    sqlite3_free(uri);
    free(key);
    return found;
}
