/*
 * db.c: the results database's handle (db.h): opening it (schema migrations on the way),
 * failures in words a user can act on, transactions, and the one write statement the other
 * files use (db_internal.h). A run's row is written by db_runs.c, the rows that hang off it by
 * db_metrics.c.
 *
 * Schema versions (PRAGMA user_version), applied in order by MIGRATIONS[] on open:
 *   1  runs, metrics, memory, paper: what every run records.
 *   2  runs.pid / runs.updated_at / runs.result_json (who wrote a run and what `mem` printed),
 *      the archs and pairs tables, the paper's numbers, and the views that give the paper's
 *      tables directly (v_latest_runs, v_cifar_table, v_params, v_memory, v_training_curves).
 *   3  runs.isa / n_cpus / load_start / load_end / software: the machine's vector ISA and CPU
 *      count, its load when the run started and ended, and the software versions
 *      (common/machine.h).
 *   4  meta.db_id: a random identity drawn when the file is made or upgraded; checkpoints and
 *      run locks are kept under it (train.c), so they never mix between databases.
 * A file at an older version is upgraded inside one write transaction; a newer version is an
 * error (this program would not know what the newer columns mean).
 *
 * Concurrency: WAL journal (readers never block the writer), a 10 s busy timeout (callers may
 * shorten it: a run that already waited once records its end without a second wait), and every
 * write in a transaction (an autocommit statement or rb_db_begin/commit), so a killed process
 * leaves a consistent file. Each process must open its own handle (never share one across
 * fork()).
 *
 * Owns: the sqlite3 handle, the last error message and SQLite code, the identity read on open.
 */
#include "db/db.h"
#include "db/db_ext.h"
#include "db/db_internal.h"
#include "db/db_schema.h"
#include "db/paper_numbers.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Long enough for a checkpoint write or a report query to finish, short enough that a stuck
 * writer is reported rather than waited on forever. */
#define RB_DB_BUSY_TIMEOUT_MS 10000

typedef int (*migration_fn)(sqlite3 *h, char *err, size_t err_len);

/* SQLite's message for the last failure on h, except that a full disk is called one: SQLite
 * reports a write that fails with ENOSPC while it opens or creates a file as "disk I/O
 * error". */
static const char *sql_why(sqlite3 *h)
{
    if (!h) return "out of memory";
    if ((sqlite3_errcode(h) & 0xff) == SQLITE_FULL || sqlite3_system_errno(h) == ENOSPC)
        return "the disk is full (no space left on the device)";
    return sqlite3_errmsg(h);
}

static int exec_sql(sqlite3 *h, const char *sql, char *err, size_t err_len)
{
    char *e = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &e) == SQLITE_OK) return 0;
    int full = (sqlite3_errcode(h) & 0xff) == SQLITE_FULL || sqlite3_system_errno(h) == ENOSPC;
    snprintf(err, err_len, "%s", full || !e ? sql_why(h) : e);
    sqlite3_free(e);
    return -1;
}

static int migrate_to_v1(sqlite3 *h, char *err, size_t err_len)
{
    return exec_sql(h, RB_DB_SCHEMA_V1, err, err_len);
}

static int migrate_to_v2(sqlite3 *h, char *err, size_t err_len)
{
    if (exec_sql(h, RB_DB_SCHEMA_V2, err, err_len)) return -1;
    return rb_paper_seed(h, err, err_len);
}

static int migrate_to_v3(sqlite3 *h, char *err, size_t err_len)
{
    return exec_sql(h, RB_DB_SCHEMA_V3, err, err_len);
}

static int migrate_to_v4(sqlite3 *h, char *err, size_t err_len)
{
    return exec_sql(h, RB_DB_SCHEMA_V4, err, err_len);
}

/* MIGRATIONS[v] upgrades a file at version v to v + 1. */
static const migration_fn MIGRATIONS[RB_DB_SCHEMA_VERSION] = { migrate_to_v1, migrate_to_v2,
                                                               migrate_to_v3, migrate_to_v4 };

int rb_db_fail(rb_db *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->msg, sizeof db->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int rb_db_fail_sql(rb_db *db, const char *what)
{
    int rc = sqlite3_errcode(db->h);
    db->last_code = rc & 0xff;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        if (db->busy_ms == 0)
            return rb_db_fail(db, "%s: the database is still locked by another process (not "
                              "waited for a second time)", what);
        return rb_db_fail(db, "%s: the database is locked by another process for more than "
                          "%.3g s", what, db->busy_ms / 1000.0);
    case SQLITE_READONLY:
        return rb_db_fail(db, "%s: the database file or its folder is read-only", what);
    case SQLITE_FULL:
        return rb_db_fail(db, "%s: the disk is full", what);
    default:
        return rb_db_fail(db, "%s: %s", what, sql_why(db->h));
    }
}

static int get_user_version(sqlite3 *h, int *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *v = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* 1 when a file of schema version 0 has tables: someone else's SQLite file. Ours never has
 * tables at version 0 (the first migration creates them and sets version 1 in one
 * transaction), and a table of the same name as one of ours (a foreign "runs") does not make
 * a file ours: the migration would fail on it with "table runs already exists". */
static int foreign_file(sqlite3 *h)
{
    sqlite3_stmt *st = NULL;
    int foreign = 0;
    if (sqlite3_prepare_v2(h, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        foreign = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    return foreign;
}

/* Why a file cannot be opened for writing, checked before SQLite gives a vaguer answer. */
static int check_writable(const char *path, char *err, size_t err_len)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, err_len, "cannot open results database %s: folder %s does not exist",
                 path, dir);
        return -1;
    }
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(err, err_len, "cannot open results database %s: it is a folder; give the path "
                 "of a database file (e.g. %s/results.db)", path, path);
        return -1;
    }
    /* Why a file cannot be written decides what to tell: permissions are changed with chmod,
     * a read-only mount or an immutable file (chattr +i; even root gets EPERM) are not. */
    if (access(path, F_OK) == 0 && access(path, W_OK) != 0) {
        int e = errno;
        snprintf(err, err_len, "cannot open results database %s for writing: %s", path,
                 e == EROFS ? "it is on a read-only file system (mounted read-only); pass --db "
                              "with a path on a writable one"
                 : e == EPERM ? "the file is immutable (lsattr shows 'i'; chattr -i lifts it), "
                                "or pass --db with another path"
                 : e == EACCES ? "the file is read-only for you (chmod u+w it, or pass --db "
                                 "with another path)"
                 : strerror(e));
        return -1;
    }
    if (access(dir, W_OK) != 0) {
        int e = errno;
        if (e == EROFS)
            snprintf(err, err_len, "cannot open results database %s for writing: folder %s is on "
                     "a read-only file system (mounted read-only); pass --db with a path on a "
                     "writable one", path, dir);
        else
            snprintf(err, err_len,
                     "cannot open results database %s for writing: folder %s is read-only "
                     "(SQLite writes %s-wal and %s-shm beside the file)", path, dir, path, path);
        return -1;
    }
    return 0;
}

static int apply_migrations(rb_db *db, const char *path, char *err, size_t err_len)
{
    int v = 0;
    if (get_user_version(db->h, &v) != SQLITE_OK) {
        if ((sqlite3_errcode(db->h) & 0xff) == SQLITE_NOTADB)
            snprintf(err, err_len, "%s is not an SQLite database (not a revbench results file)",
                     path);
        else
            snprintf(err, err_len, "cannot read %s: %s", path, sql_why(db->h));
        return -1;
    }
    if (v > RB_DB_SCHEMA_VERSION) {
        snprintf(err, err_len,
                 "%s has schema version %d, newer than the %d this revbench knows: use a newer "
                 "revbench or another --db", path, v, RB_DB_SCHEMA_VERSION);
        return -1;
    }
    if (v == RB_DB_SCHEMA_VERSION) return 0;
    if (v == 0 && foreign_file(db->h)) {
        snprintf(err, err_len, "%s is an SQLite file but not a revbench results database", path);
        return -1;
    }
    /* IMMEDIATE takes the write lock now; re-read the version under it, since another process
     * may have migrated between our read and the lock. */
    if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rb_db_fail_sql(db, "upgrading the schema");
        snprintf(err, err_len, "%s: %s", path, db->msg);
        return -1;
    }
    char why[512] = "";
    if (get_user_version(db->h, &v) != SQLITE_OK) {
        snprintf(why, sizeof why, "%s", sql_why(db->h));
        goto fail;
    }
    for (; v < RB_DB_SCHEMA_VERSION; v++) {
        if (MIGRATIONS[v](db->h, why, sizeof why)) goto fail;
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (exec_sql(db->h, sql, why, sizeof why)) goto fail;
    }
    if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(why, sizeof why, "%s", sql_why(db->h));
        goto fail;
    }
    return 0;
fail:
    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    snprintf(err, err_len, "upgrading %s from schema version %d failed: %s", path, v, why);
    return -1;
}

/* Reads meta.db_id into db->id; a file without one (its meta row deleted by hand) cannot
 * tell its checkpoints from another database's, so it is refused. */
static int read_identity(rb_db *db, const char *path, char *err, size_t err_len)
{
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key = 'db_id'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        size_t n = v ? strlen(v) : 0;
        ok = n == RB_DB_ID_LEN && strspn(v, "0123456789abcdef") == n;
        if (ok) memcpy(db->id, v, n + 1);
    }
    sqlite3_finalize(st);
    if (!ok)
        snprintf(err, err_len, "%s has no valid identity (meta.db_id, %d hex digits): it was "
                 "edited by hand; restore it from a copy", path, RB_DB_ID_LEN);
    return ok ? 0 : -1;
}

/* The last step of both opens: once its identity is read the handle is the caller's; without
 * one it is closed. */
static int hand_over(rb_db *db, rb_db **out, const char *path, char *err, size_t err_len)
{
    if (read_identity(db, path, err, err_len)) {
        rb_db_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

int rb_db_open(rb_db **out, const char *path, char *err, size_t err_len)
{
    *out = NULL;
    rb_db *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, err_len, "out of memory opening %s", path);
        return -1;
    }
    if (!path || !*path) {
        snprintf(err, err_len, "no results database path given");
        goto fail;
    }
    if (check_writable(path, err, err_len)) goto fail;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, err_len, "cannot open results database %s: %s", path, sql_why(db->h));
        goto fail;
    }
    if (sqlite3_db_readonly(db->h, "main") == 1) {
        snprintf(err, err_len, "cannot open results database %s for writing: the file is "
                 "read-only", path);
        goto fail;
    }
    db->busy_ms = RB_DB_BUSY_TIMEOUT_MS;
    sqlite3_busy_timeout(db->h, db->busy_ms);
    sqlite3_extended_result_codes(db->h, 1);
    /* The journal mode pragma is the first statement that reads the file: it tells a foreign
     * or locked file apart from ours. */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        int code = sqlite3_errcode(db->h) & 0xff;
        if (code == SQLITE_NOTADB)
            snprintf(err, err_len, "%s is not an SQLite database (not a revbench results file)",
                     path);
        else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
            snprintf(err, err_len, "%s is locked by another process for more than %d s", path,
                     RB_DB_BUSY_TIMEOUT_MS / 1000);
        else
            snprintf(err, err_len, "cannot open %s: %s", path, sql_why(db->h));
        sqlite3_finalize(st);
        goto fail;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    int wal = mode && strcmp(mode, "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        snprintf(err, err_len, "cannot switch %s to WAL mode (a network file system?)", path);
        goto fail;
    }
    if (exec_sql(db->h, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", err, err_len))
        goto fail;
    if (apply_migrations(db, path, err, err_len)) goto fail;
    return hand_over(db, out, path, err, err_len);
fail:
    rb_db_close(db);
    return -1;
}

int rb_db_open_readonly(rb_db **out, const char *path, char *err, size_t err_len)
{
    *out = NULL;
    if (access(path, R_OK) != 0) {
        snprintf(err, err_len, "cannot read results database %s: %s", path, strerror(errno));
        return -1;
    }
    rb_db *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, err_len, "out of memory opening %s", path);
        return -1;
    }
    int v = 0;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "cannot open %s: %s", path,
                 db->h ? sqlite3_errmsg(db->h) : "out of memory");
        goto fail;
    }
    db->busy_ms = RB_DB_BUSY_TIMEOUT_MS;
    sqlite3_busy_timeout(db->h, db->busy_ms);
    if (get_user_version(db->h, &v) != SQLITE_OK) {
        /* A WAL file in a folder we cannot write: SQLite cannot create the -shm index, so
         * read it as immutable (nobody can be writing it: the folder is read-only). */
        char *uri = sqlite3_mprintf("file:%s?immutable=1", path);
        sqlite3_close(db->h);
        db->h = NULL;
        if (uri && sqlite3_open_v2(uri, &db->h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) ==
                       SQLITE_OK &&
            get_user_version(db->h, &v) == SQLITE_OK) {
            sqlite3_free(uri);
            goto check_version;
        }
        sqlite3_free(uri);
        snprintf(err, err_len, "%s is not a readable SQLite database: %s", path,
                 sqlite3_errmsg(db->h));
        goto fail;
    }
check_version:
    if (v != RB_DB_SCHEMA_VERSION) {
        snprintf(err, err_len, "%s has schema version %d; this revbench reads version %d "
                 "(open it once with write access to upgrade it)", path, v,
                 RB_DB_SCHEMA_VERSION);
        goto fail;
    }
    return hand_over(db, out, path, err, err_len);
fail:
    rb_db_close(db);
    return -1;
}

void rb_db_close(rb_db *db)
{
    if (!db) return;
    if (db->in_txn) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db->h);
    free(db);
}

const char *rb_db_message(const rb_db *db) { return db ? db->msg : "no database"; }

const char *rb_db_identity(const rb_db *db) { return db->id; }

int rb_db_last_code(const rb_db *db) { return db->last_code; }

void rb_db_set_busy_timeout(rb_db *db, int ms)
{
    db->busy_ms = ms < 0 ? 0 : ms;
    sqlite3_busy_timeout(db->h, db->busy_ms);
}

int rb_db_busy_timeout(const rb_db *db) { return db->busy_ms; }

struct sqlite3 *rb_db_handle(rb_db *db) { return db->h; }

int rb_db_exec(rb_db *db, const char *what, const char *sql, const rb_db_arg *args, int n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return rb_db_fail_sql(db, what);
    for (int i = 0; i < n && i < sqlite3_bind_parameter_count(st); i++) {
        const rb_db_arg *a = &args[i];
        if (a->kind == RB_DB_INT) sqlite3_bind_int64(st, i + 1, a->i);
        else if (a->kind == RB_DB_REAL) sqlite3_bind_double(st, i + 1, a->d);
        else if (a->kind == RB_DB_TEXT && a->s)
            sqlite3_bind_text(st, i + 1, a->s, -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(st, i + 1);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : rb_db_fail_sql(db, what);
}

int rb_db_begin(rb_db *db)
{
    if (db->in_txn) return rb_db_fail(db, "a transaction is already open on this handle");
    /* IMMEDIATE: take the write lock at BEGIN, where the busy timeout applies, rather than at
     * the first write, where a lock upgrade can fail with SQLITE_BUSY without waiting. */
    if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return rb_db_fail_sql(db, "starting a transaction");
    db->in_txn = 1;
    return 0;
}

int rb_db_commit(rb_db *db)
{
    if (!db->in_txn) return rb_db_fail(db, "commit without a transaction");
    if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rb_db_fail_sql(db, "committing");
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        db->in_txn = 0;
        return -1;
    }
    db->in_txn = 0;
    return 0;
}

int rb_db_rollback(rb_db *db)
{
    if (!db->in_txn) return 0;
    db->in_txn = 0;
    if (sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        return rb_db_fail_sql(db, "rolling back");
    return 0;
}
