/*
 * merge.c: shard databases into the main results database (merge.h).
 *
 * Two phases. First every shard is opened read-only and checked (readable, undamaged, ours, of
 * this schema version, not the main file itself); nothing is written until all pass. Then one
 * IMMEDIATE transaction on the main database copies the finished runs of every shard, and
 * commits once at the end; any failure on the way rolls all of it back. SQLite's journal makes
 * the commit atomic, so a process killed at any point (kill -9 included) leaves the main file
 * as it was before the merge or as it is after it, never between.
 *
 * Rows are copied column by column through prepared statements (no ATTACH: SQLite allows only
 * ten attached files and no ATTACH inside a transaction, and a merge may take hundreds of
 * shards in one transaction). The column lists come from the main database's own tables, so a
 * column added by a later schema version is copied without a change here.
 *
 * Owns: the read-only shard handles it opens (closed before returning).
 */
#include "db/merge.h"
#include "db/db_ext.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* For the kill -9 test of tests/test_merge.c: with this variable set to a path, the merge
 * creates that file once the first run's rows are written (inside the transaction, not yet
 * committed) and waits there until it is killed. */
#define RB_MERGE_PAUSE_ENV "REVBENCH_TEST_MERGE_PAUSE"

/* A column list of a table in the main database, without the columns named in skip. */
typedef struct {
    char *names[64];
    int n;
} column_list;

static void columns_free(column_list *c)
{
    for (int i = 0; i < c->n; i++) free(c->names[i]);
    c->n = 0;
}

static int columns_of(sqlite3 *h, const char *table, const char *skip, column_list *out)
{
    out->n = 0;
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (!name || (skip && !strcmp(name, skip))) continue;
        if (out->n == (int)(sizeof out->names / sizeof out->names[0])) break;
        out->names[out->n] = strdup(name);
        if (!out->names[out->n]) break;
        out->n++;
    }
    sqlite3_finalize(st);
    return out->n > 0 ? 0 : -1;
}

/* "a, b, c" (quoted identifiers) into buf. */
static void join_columns(const column_list *c, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s\"%s\"", i ? ", " : "", c->names[i]);
}

/* "?, ?, ?": n parameter marks into buf. */
static void join_marks(int n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s?", i ? ", " : "");
}

/* Inserts every row get gives with put (whose n_cols parameters take get's columns in order;
 * the parameter at id_col, when >= 0, takes id instead). Returns 0, 1 when reading get failed,
 * 2 when writing put failed (the handle of the failing statement holds the message). */
static int copy_rows(sqlite3_stmt *get, sqlite3_stmt *put, int n_cols, int id_col, int64_t id)
{
    int step;
    while ((step = sqlite3_step(get)) == SQLITE_ROW) {
        for (int i = 0; i < n_cols; i++) {
            if (i == id_col) sqlite3_bind_int64(put, i + 1, id);
            else sqlite3_bind_value(put, i + 1, sqlite3_column_value(get, i));
        }
        if (sqlite3_step(put) != SQLITE_DONE) return 2;
        sqlite3_reset(put);
    }
    return step == SQLITE_DONE ? 0 : 1;
}

static int query_int(sqlite3 *h, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Opens one shard read-only and checks it. Returns the handle or NULL with err filled. */
static sqlite3 *open_shard(const char *path, const struct stat *main_st, char *err,
                           size_t err_len)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, err_len, "shard %s: %s; not merging anything", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, err_len, "shard %s is not a file; not merging anything", path);
        return NULL;
    }
    if (main_st && sb.st_dev == main_st->st_dev && sb.st_ino == main_st->st_ino) {
        snprintf(err, err_len, "shard %s is the main database itself; not merging anything",
                 path);
        return NULL;
    }
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "shard %s: cannot open: %s; not merging anything", path,
                 h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h, 10000);
    int version = 0, n_runs_tables = 0;
    if (query_int(h, "PRAGMA user_version", &version)) {
        snprintf(err, err_len, "shard %s is not a readable SQLite database (%s): not merging "
                 "anything", path, sqlite3_errmsg(h));
        goto fail;
    }
    if (query_int(h, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                     "name = 'runs'", &n_runs_tables) || (version == 0 && n_runs_tables == 0)) {
        snprintf(err, err_len, "shard %s is not a revbench results database: not merging "
                 "anything", path);
        goto fail;
    }
    if (version != RB_DB_SCHEMA_VERSION) {
        snprintf(err, err_len,
                 "shard %s has schema version %d and this revbench merges version %d only: "
                 "%s; not merging anything", path, version, RB_DB_SCHEMA_VERSION,
                 version < RB_DB_SCHEMA_VERSION
                     ? "upgrade it first by opening it once with this revbench "
                       "(e.g. `revbench run FILE --db SHARD --dry-run`)"
                     : "merge it with the newer revbench that wrote it");
        goto fail;
    }
    /* quick_check reads every page: a damaged file is refused here rather than half-read. */
    sqlite3_stmt *st = NULL;
    int ok = 0;
    const char *why = NULL;
    if (sqlite3_prepare_v2(h, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        why = (const char *)sqlite3_column_text(st, 0);
        ok = why && !strcmp(why, "ok");
    }
    if (!ok) {
        /* quick_check's report spans lines; one line reads better in a message. */
        char what[256];
        snprintf(what, sizeof what, "%s", why ? why : sqlite3_errmsg(h));
        for (char *p = what; *p; p++)
            if (*p == '\n') *p = ' ';
        snprintf(err, err_len, "shard %s is damaged (%s): not merging anything; remove it from "
                 "the list to merge the others", path, what);
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    return h;
fail:
    sqlite3_close(h);
    return NULL;
}

/* Copies the rows of table (columns cols, one of which is run_id) with run_id = old_id from
 * src into dst under run_id = new_id. */
static int copy_children(sqlite3 *src, sqlite3 *dst, const char *table, const column_list *cols,
                         int64_t old_id, int64_t new_id, char *err, size_t err_len)
{
    char list[2048], marks[512], sql[3072];
    join_columns(cols, list, sizeof list);
    join_marks(cols->n, marks, sizeof marks);
    int id_col = -1;
    for (int i = 0; i < cols->n; i++)
        if (!strcmp(cols->names[i], "run_id")) id_col = i;
    sqlite3_stmt *get = NULL, *put = NULL;
    int rc = -1;
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE run_id = ?", list, table);
    if (sqlite3_prepare_v2(src, sql, -1, &get, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "reading %s of a shard: %s", table, sqlite3_errmsg(src));
        goto done;
    }
    snprintf(sql, sizeof sql, "INSERT INTO %s(%s) VALUES (%s)", table, list, marks);
    if (sqlite3_prepare_v2(dst, sql, -1, &put, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "writing %s: %s", table, sqlite3_errmsg(dst));
        goto done;
    }
    sqlite3_bind_int64(get, 1, old_id);
    int bad = copy_rows(get, put, cols->n, id_col, new_id);
    if (bad == 2) snprintf(err, err_len, "writing %s: %s", table, sqlite3_errmsg(dst));
    else if (bad) snprintf(err, err_len, "reading %s of a shard: %s", table, sqlite3_errmsg(src));
    rc = bad ? -1 : 0;
done:
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    return rc;
}

/* What the main database knows of a shard's finished run: 1 the same run is there already,
 * 0 it is new, -1 another finished run of the configuration is there (err says which), -2 a
 * database error. */
static int find_in_main(sqlite3 *dst, sqlite3_stmt *run, const char *shard, char *err,
                        size_t err_len)
{
    /* run's columns: 0 id, 1 config_key, 2 started_at, 3 hostname, 4 pid, 5 arch, 6 dataset,
     * 7 mode, 8 seed. */
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(dst,
                           "SELECT id, status, started_at IS ?2 AND hostname IS ?3 AND pid IS ?4,"
                           " started_at, hostname FROM runs WHERE config_key = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "looking up runs: %s", sqlite3_errmsg(dst));
        return -2;
    }
    for (int i = 1; i <= 4; i++) sqlite3_bind_value(st, i, sqlite3_column_value(run, i));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 2)) {
            found = 1;
            break;
        }
        if (!strcmp((const char *)sqlite3_column_text(st, 1), "finished")) {
            snprintf(err, err_len,
                     "shard %s: its run %lld (%s %s %s seed %lld, started %s on %s) and run %lld "
                     "of the main database (started %s on %s) are two finished runs of one "
                     "configuration; not merging anything: delete one of them and merge again",
                     shard, (long long)sqlite3_column_int64(run, 0),
                     sqlite3_column_text(run, 5), sqlite3_column_text(run, 6),
                     sqlite3_column_text(run, 7), (long long)sqlite3_column_int64(run, 8),
                     sqlite3_column_text(run, 2), sqlite3_column_text(run, 3),
                     (long long)sqlite3_column_int64(st, 0), sqlite3_column_text(st, 3),
                     sqlite3_column_text(st, 4));
            found = -1;
            break;
        }
    }
    if (found == 0 && rc != SQLITE_DONE) {
        snprintf(err, err_len, "looking up runs: %s", sqlite3_errmsg(dst));
        found = -2;
    }
    sqlite3_finalize(st);
    return found;
}

/* Copies the finished runs of one shard (inside the caller's transaction). */
static int merge_one(sqlite3 *src, sqlite3 *dst, const char *shard, const column_list *run_cols,
                     const column_list *metric_cols, const column_list *memory_cols,
                     rb_merge_counts *c, char *err, size_t err_len)
{
    static int paused;
    char list[4096], marks[1024], sql[6144];
    join_columns(run_cols, list, sizeof list);
    join_marks(run_cols->n, marks, sizeof marks);
    sqlite3_stmt *run = NULL, *get = NULL, *put = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(src,
                           "SELECT id, config_key, started_at, hostname, pid, arch, dataset, mode,"
                           " seed, status FROM runs ORDER BY id",
                           -1, &run, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "shard %s: reading its runs: %s", shard, sqlite3_errmsg(src));
        goto done;
    }
    snprintf(sql, sizeof sql, "SELECT %s FROM runs WHERE id = ?", list);
    if (sqlite3_prepare_v2(src, sql, -1, &get, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "shard %s lacks a column of the runs table: %s", shard,
                 sqlite3_errmsg(src));
        goto done;
    }
    snprintf(sql, sizeof sql, "INSERT INTO runs(%s) VALUES (%s)", list, marks);
    if (sqlite3_prepare_v2(dst, sql, -1, &put, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "writing runs: %s", sqlite3_errmsg(dst));
        goto done;
    }
    int step;
    while ((step = sqlite3_step(run)) == SQLITE_ROW) {
        if (strcmp((const char *)sqlite3_column_text(run, 9), "finished")) {
            c->n_unfinished++;
            continue;
        }
        int found = find_in_main(dst, run, shard, err, err_len);
        if (found < 0) goto done;
        if (found) {
            c->n_present++;
            continue;
        }
        int64_t old_id = sqlite3_column_int64(run, 0);
        sqlite3_bind_int64(get, 1, old_id);
        if (sqlite3_step(get) != SQLITE_ROW) {
            snprintf(err, err_len, "shard %s: reading run %lld: %s", shard, (long long)old_id,
                     sqlite3_errmsg(src));
            goto done;
        }
        for (int i = 0; i < run_cols->n; i++) {
            /* The checkpoint file belongs to the shard's database, not to this one. */
            if (!strcmp(run_cols->names[i], "checkpoint")) sqlite3_bind_null(put, i + 1);
            else sqlite3_bind_value(put, i + 1, sqlite3_column_value(get, i));
        }
        int put_rc = sqlite3_step(put);
        sqlite3_reset(get);
        sqlite3_reset(put);
        if (put_rc != SQLITE_DONE) {
            snprintf(err, err_len, "writing run %lld of shard %s: %s", (long long)old_id, shard,
                     sqlite3_errmsg(dst));
            goto done;
        }
        int64_t new_id = sqlite3_last_insert_rowid(dst);
        if (copy_children(src, dst, "metrics", metric_cols, old_id, new_id, err, err_len) ||
            copy_children(src, dst, "memory", memory_cols, old_id, new_id, err, err_len))
            goto done;
        c->n_added++;
        const char *pause_file = getenv(RB_MERGE_PAUSE_ENV);
        if (pause_file && !paused) {
            paused = 1;
            FILE *f = fopen(pause_file, "w");
            if (f) fclose(f);
            for (;;) pause();
        }
    }
    if (step != SQLITE_DONE) {
        snprintf(err, err_len, "shard %s: reading its runs: %s", shard, sqlite3_errmsg(src));
        goto done;
    }
    /* Architecture rows: the same network has the same counts everywhere; keep the main's. */
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    get = put = NULL;
    if (sqlite3_prepare_v2(src, "SELECT name, dataset, n_params, n_layers FROM archs", -1, &get,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(dst,
                           "INSERT OR IGNORE INTO archs(name, dataset, n_params, n_layers)"
                           " VALUES (?, ?, ?, ?)",
                           -1, &put, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "copying the architectures of shard %s: %s", shard,
                 sqlite3_errmsg(get ? dst : src));
        goto done;
    }
    int bad = copy_rows(get, put, 4, -1, 0);
    if (bad == 2) snprintf(err, err_len, "writing archs: %s", sqlite3_errmsg(dst));
    else if (bad)
        snprintf(err, err_len, "shard %s: reading its archs: %s", shard, sqlite3_errmsg(src));
    rc = bad ? -1 : 0;
done:
    sqlite3_finalize(run);
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    return rc;
}

int rb_db_merge(rb_db *db, const char *const *shards, int n, rb_merge_counts *per_shard,
                rb_merge_counts *total, char *err, size_t err_len)
{
    sqlite3 *dst = rb_db_handle(db);
    *total = (rb_merge_counts){ 0 };
    if (per_shard) memset(per_shard, 0, (size_t)n * sizeof *per_shard);
    sqlite3 **src = calloc((size_t)(n > 0 ? n : 1), sizeof *src);
    column_list run_cols = { 0 }, metric_cols = { 0 }, memory_cols = { 0 };
    int rc = -1, in_txn = 0;
    if (!src) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (columns_of(dst, "runs", "id", &run_cols) || columns_of(dst, "metrics", NULL,
                                                               &metric_cols) ||
        columns_of(dst, "memory", NULL, &memory_cols)) {
        snprintf(err, err_len, "reading the main database's tables: %s", sqlite3_errmsg(dst));
        goto done;
    }
    const char *main_path = sqlite3_db_filename(dst, "main");
    struct stat main_st;
    int have_main = main_path && main_path[0] && stat(main_path, &main_st) == 0;
    /* Phase 1: every shard checked before anything is written. */
    for (int i = 0; i < n; i++) {
        src[i] = open_shard(shards[i], have_main ? &main_st : NULL, err, err_len);
        if (!src[i]) goto done;
        /* One read transaction per shard: a consistent view even if a task still writes it. */
        if (sqlite3_exec(src[i], "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, err_len, "shard %s: %s", shards[i], sqlite3_errmsg(src[i]));
            goto done;
        }
    }
    /* Phase 2: one write transaction for all of them. */
    if (rb_db_begin(db)) {
        snprintf(err, err_len, "%s", rb_db_message(db));
        goto done;
    }
    in_txn = 1;
    for (int i = 0; i < n; i++) {
        rb_merge_counts c = { 0 };
        if (merge_one(src[i], dst, shards[i], &run_cols, &metric_cols, &memory_cols, &c, err,
                      err_len))
            goto done;
        if (per_shard) per_shard[i] = c;
        total->n_added += c.n_added;
        total->n_present += c.n_present;
        total->n_unfinished += c.n_unfinished;
    }
    if (rb_db_commit(db)) {
        in_txn = 0;
        snprintf(err, err_len, "%s", rb_db_message(db));
        goto done;
    }
    in_txn = 0;
    rc = 0;
done:
    if (in_txn) rb_db_rollback(db);
    if (rc) {
        *total = (rb_merge_counts){ 0 };
        if (per_shard) memset(per_shard, 0, (size_t)n * sizeof *per_shard);
    }
    for (int i = 0; i < n; i++) sqlite3_close(src[i]); /* ends their read transactions */
    free(src);
    columns_free(&run_cols);
    columns_free(&metric_cols);
    columns_free(&memory_cols);
    return rc;
}
