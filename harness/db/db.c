/*
 * db.c: the results database (db.h): schema, migrations, and the writes every run makes.
 *
 * Schema versions (PRAGMA user_version), applied in order by MIGRATIONS[] on open:
 *   1  runs, metrics, memory, paper: what every run records.
 *   2  runs.pid / runs.updated_at / runs.result_json (who wrote a run and what `mem` printed),
 *      the archs and pairs tables, the paper's numbers, and the views that give the paper's
 *      tables directly (v_latest_runs, v_cifar_table, v_params, v_memory, v_training_curves).
 *   3  runs.isa / n_cpus / load_start / load_end / software: the machine's vector ISA and CPU
 *      count, its load when the run started and ended, and the software versions (machine.h).
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
#include "db/db_schema.h"
#include "common/machine.h"
#include "db/paper_numbers.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Long enough for a checkpoint write or a report query to finish, short enough that a stuck
 * writer is reported rather than waited on forever. */
#define RB_DB_BUSY_TIMEOUT_MS 10000

struct rb_db {
    sqlite3 *h;
    int in_txn;              /* rb_db_begin was called and not yet committed/rolled back */
    int busy_ms;             /* the busy timeout in force */
    int last_code;           /* primary SQLite code of the last failed call, 0 if none */
    char id[RB_DB_ID_LEN + 1];
    char msg[512];
};

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

static int db_fail(rb_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int db_fail(rb_db *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->msg, sizeof db->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* A failed SQLite call, in words a user can act on. */
static int db_fail_sql(rb_db *db, const char *what)
{
    int rc = sqlite3_errcode(db->h);
    db->last_code = rc & 0xff;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        if (db->busy_ms == 0)
            return db_fail(db, "%s: the database is still locked by another process (not "
                           "waited for a second time)", what);
        return db_fail(db, "%s: the database is locked by another process for more than %.3g s",
                       what, db->busy_ms / 1000.0);
    case SQLITE_READONLY:
        return db_fail(db, "%s: the database file or its folder is read-only", what);
    case SQLITE_FULL:
        return db_fail(db, "%s: the disk is full", what);
    default:
        return db_fail(db, "%s: %s", what, sql_why(db->h));
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
        db_fail_sql(db, "upgrading the schema");
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
    if (read_identity(db, path, err, err_len)) goto fail;
    *out = db;
    return 0;
fail:
    sqlite3_close(db->h);
    free(db);
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
    if (read_identity(db, path, err, err_len)) goto fail;
    *out = db;
    return 0;
fail:
    sqlite3_close(db->h);
    free(db);
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

/* Appends "name=value;" with ';', '=' and '\' escaped so that distinct configurations never
 * give the same key. */
static void key_append(char **buf, size_t *len, size_t *cap, const char *name, const char *v)
{
    size_t need = strlen(name) + 2 * strlen(v) + 3;
    if (*len + need + 1 > *cap) {
        size_t ncap = (*cap + need) * 2;
        char *n = realloc(*buf, ncap);
        if (!n) return;
        *buf = n;
        *cap = ncap;
    }
    char *p = *buf + *len;
    p += sprintf(p, "%s=", name);
    for (; *v; v++) {
        if (*v == ';' || *v == '=' || *v == '\\') *p++ = '\\';
        *p++ = *v;
    }
    *p++ = ';';
    *p = '\0';
    *len = (size_t)(p - *buf);
}

char *rb_db_config_key(const rb_run_config *cfg)
{
    size_t len = 0, cap = 256;
    char *buf = malloc(cap), num[32];
    if (!buf) return NULL;
    buf[0] = '\0';
#define S(field) key_append(&buf, &len, &cap, #field, cfg->field ? cfg->field : "")
#define N(field, fmt, cast)                                                                     \
    do {                                                                                        \
        snprintf(num, sizeof num, fmt, (cast)cfg->field);                                       \
        key_append(&buf, &len, &cap, #field, num);                                              \
    } while (0)
    S(kind);
    S(arch);
    S(dataset);
    S(mode);
    S(device);
    S(schedule);
    S(experiment);
    N(batch, "%d", int);
    N(steps, "%ld", long);
    N(seed, "%llu", unsigned long long);
    N(eval_every, "%ld", long);
    N(train_subset, "%ld", long);
    N(threads, "%d", int);
    S(extra_json);
#undef S
#undef N
    /* A failed realloc leaves a shorter key; refuse it rather than match the wrong run. */
    if (len == 0 || buf[len - 1] != ';' || !strstr(buf, "extra_json=")) {
        free(buf);
        return NULL;
    }
    return buf;
}

int rb_db_find_run(rb_db *db, const rb_run_config *cfg, int64_t *run_id, char *status)
{
    char *key = rb_db_config_key(cfg);
    if (!key) return db_fail(db, "out of memory building a configuration key");
    sqlite3_stmt *st = NULL;
    int found = -1;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT id, status FROM runs WHERE config_key = ? "
                           "ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        db_fail_sql(db, "looking up a run");
        goto done;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *run_id = sqlite3_column_int64(st, 0);
        snprintf(status, 16, "%s", (const char *)sqlite3_column_text(st, 1));
        found = 1;
    } else if (rc == SQLITE_DONE) {
        found = 0;
    } else {
        db_fail_sql(db, "looking up a run");
    }
done:
    sqlite3_finalize(st);
    free(key);
    return found;
}

/* The field of a "cpu; OpenBLAS 0.3.21 ...; cuDNN 9.1; GPU NVIDIA H200" description that
 * starts with prefix (case-insensitive), or NULL. */
static char *describe_field(const char *desc, const char *prefix)
{
    if (!desc) return NULL;
    size_t plen = strlen(prefix);
    const char *p = desc;
    while (*p) {
        while (*p == ' ' || *p == ';') p++;
        size_t n = strcspn(p, ";");
        if (n >= plen && strncasecmp(p, prefix, plen) == 0) {
            char *f = malloc(n + 1);
            if (f) {
                memcpy(f, p, n);
                f[n] = '\0';
            }
            return f;
        }
        p += n;
    }
    return NULL;
}

static void bind_text_or_empty(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

int rb_db_run_begin(rb_db *db, const rb_run_config *cfg, const char *backend_desc,
                    int64_t *run_id)
{
    const rb_machine *mach = rb_machine_get();
    double load = rb_machine_load1();
    char *key = rb_db_config_key(cfg);
    char *blas = describe_field(backend_desc, "OpenBLAS");
    char *cudnn = describe_field(backend_desc, "cuDNN");
    char *gpu = describe_field(backend_desc, "GPU");
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (!key) {
        db_fail(db, "out of memory building a configuration key");
        goto done;
    }
    if (sqlite3_prepare_v2(
            db->h,
            "INSERT INTO runs(config_key, kind, arch, dataset, mode, device, schedule, experiment,"
            " batch, steps, seed, eval_every, train_subset, threads, extra_json, status,"
            " started_at, updated_at, hostname, cpu_model, gpu_model, blas, cudnn, backend,"
            " git_rev, pid, isa, n_cpus, load_start, software) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
            " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'running',"
            " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),"
            " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
            -1, &st, NULL) != SQLITE_OK) {
        db_fail_sql(db, "recording a new run");
        goto done;
    }
#define T(i, s) bind_text_or_empty(st, i, s)
    T(1, key);
    T(2, cfg->kind);
    T(3, cfg->arch);
    T(4, cfg->dataset);
    T(5, cfg->mode);
    T(6, cfg->device);
    T(7, cfg->schedule);
    T(8, cfg->experiment);
    sqlite3_bind_int(st, 9, cfg->batch);
    sqlite3_bind_int64(st, 10, cfg->steps);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)cfg->seed);
    sqlite3_bind_int64(st, 12, cfg->eval_every);
    sqlite3_bind_int64(st, 13, cfg->train_subset);
    sqlite3_bind_int(st, 14, cfg->threads);
    if (cfg->extra_json) T(15, cfg->extra_json);
    T(16, mach->hostname);
    T(17, mach->cpu_model);
    if (gpu) T(18, gpu);
    if (blas) T(19, blas);
    if (cudnn) T(20, cudnn);
    if (backend_desc) T(21, backend_desc);
    T(22, mach->git_rev);
    sqlite3_bind_int64(st, 23, (sqlite3_int64)getpid());
    T(24, mach->isa);
    if (mach->n_cpus > 0) sqlite3_bind_int(st, 25, mach->n_cpus);
    if (load >= 0) sqlite3_bind_double(st, 26, load);
    T(27, mach->software);
#undef T
    if (sqlite3_step(st) != SQLITE_DONE) {
        db_fail_sql(db, "recording a new run");
        goto done;
    }
    *run_id = sqlite3_last_insert_rowid(db->h);
    ret = 0;
done:
    sqlite3_finalize(st);
    free(key);
    free(blas);
    free(cudnn);
    free(gpu);
    return ret;
}

/* Runs one UPDATE/DELETE/INSERT with an int64 first parameter and up to three optional text
 * parameters (?2..?4, NULL binds NULL), as one autocommit transaction (or inside the
 * caller's). */
static int exec_bound4(rb_db *db, const char *what, const char *sql, int64_t id,
                       const char *t2, const char *t3, const char *t4)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return db_fail_sql(db, what);
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_bind_parameter_count(st) >= 2) {
        if (t2) sqlite3_bind_text(st, 2, t2, -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(st, 2);
    }
    if (sqlite3_bind_parameter_count(st) >= 3) {
        if (t3) sqlite3_bind_text(st, 3, t3, -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(st, 3);
    }
    if (sqlite3_bind_parameter_count(st) >= 4) {
        if (t4) sqlite3_bind_text(st, 4, t4, -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(st, 4);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail_sql(db, what);
    if (sqlite3_changes(db->h) == 0 && strncmp(sql, "UPDATE", 6) == 0)
        return db_fail(db, "%s: no run with id %lld", what, (long long)id);
    return 0;
}

static int exec_bound(rb_db *db, const char *what, const char *sql, int64_t id,
                      const char *t2, const char *t3)
{
    return exec_bound4(db, what, sql, id, t2, t3, NULL);
}

int rb_db_run_resume(rb_db *db, int64_t run_id)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    return exec_bound(db, "resuming a run",
                      "UPDATE runs SET status = 'running', reason = NULL, ended_at = NULL,"
                      " pid = CAST(?2 AS INTEGER),"
                      " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
                      run_id, pid, NULL);
}

int rb_db_run_set_checkpoint(rb_db *db, int64_t run_id, const char *path)
{
    return exec_bound(db, "recording a checkpoint path",
                      "UPDATE runs SET checkpoint = ?2,"
                      " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
                      run_id, path, NULL);
}

int rb_db_run_set_result(rb_db *db, int64_t run_id, const char *json)
{
    return exec_bound(db, "recording a run's result",
                      "UPDATE runs SET result_json = ?2 WHERE id = ?1", run_id, json, NULL);
}

int rb_db_run_set_backend(rb_db *db, int64_t run_id, const char *backend_desc)
{
    char *blas = describe_field(backend_desc, "OpenBLAS");
    char *cudnn = describe_field(backend_desc, "cuDNN");
    char *gpu = describe_field(backend_desc, "GPU");
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db->h,
                           "UPDATE runs SET backend = ?2, blas = coalesce(?3, blas),"
                           " cudnn = coalesce(?4, cudnn), gpu_model = coalesce(?5, gpu_model)"
                           " WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        db_fail_sql(db, "recording a run's backend");
        goto done;
    }
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, backend_desc, -1, SQLITE_TRANSIENT);
    if (blas) sqlite3_bind_text(st, 3, blas, -1, SQLITE_TRANSIENT);
    if (cudnn) sqlite3_bind_text(st, 4, cudnn, -1, SQLITE_TRANSIENT);
    if (gpu) sqlite3_bind_text(st, 5, gpu, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) db_fail_sql(db, "recording a run's backend");
    else rc = 0;
done:
    sqlite3_finalize(st);
    free(blas);
    free(cudnn);
    free(gpu);
    return rc;
}

int rb_db_run_checkpoint(rb_db *db, int64_t run_id, char *out, size_t len)
{
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db->h, "SELECT checkpoint FROM runs WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail_sql(db, "reading a checkpoint path");
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 0);
        if (p) snprintf(out, len, "%s", p);
    } else if (rc == SQLITE_DONE) {
        ret = db_fail(db, "no run with id %lld", (long long)run_id);
    } else {
        ret = db_fail_sql(db, "reading a checkpoint path");
    }
    sqlite3_finalize(st);
    return ret;
}

int rb_db_run_end(rb_db *db, int64_t run_id, const char *status, const char *reason)
{
    if (!status || (strcmp(status, "finished") && strcmp(status, "failed") &&
                    strcmp(status, "interrupted")))
        return db_fail(db, "ending run %lld: status '%s' is not finished, failed or interrupted",
                       (long long)run_id, status ? status : "(null)");
    /* The final metrics are the last logged value of each, copied so that tables and views
     * need no per-run subquery. The load average goes in as text (exec_bound binds text) and
     * back to a number, NULL where /proc/loadavg cannot be read. */
    char load[32] = "";
    double l1 = rb_machine_load1();
    if (l1 >= 0) snprintf(load, sizeof load, "%.2f", l1);
    return exec_bound4(
        db, "ending a run",
        "UPDATE runs SET status = ?2, reason = ?3,"
        " load_end = CAST(nullif(?4, '') AS REAL),"
        " ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), updated_at = strftime("
        "'%Y-%m-%dT%H:%M:%fZ', 'now'),"
        " final_test_error = (SELECT value FROM metrics WHERE run_id = ?1"
        "   AND name = 'test_error' ORDER BY step DESC LIMIT 1),"
        " final_test_loss = (SELECT value FROM metrics WHERE run_id = ?1"
        "   AND name = 'test_loss' ORDER BY step DESC LIMIT 1),"
        " final_train_loss = (SELECT value FROM metrics WHERE run_id = ?1"
        "   AND name = 'train_loss' ORDER BY step DESC LIMIT 1),"
        " final_train_error = (SELECT value FROM metrics WHERE run_id = ?1"
        "   AND name = 'train_error' ORDER BY step DESC LIMIT 1)"
        " WHERE id = ?1",
        run_id, status, reason, load);
}

int rb_db_metric(rb_db *db, int64_t run_id, long step, const char *name, double value)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h,
                           "INSERT OR REPLACE INTO metrics(run_id, step, name, value) "
                           "VALUES (?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail_sql(db, "recording a metric");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, step);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 4, value);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail_sql(db, "recording a metric");
}

int rb_db_metrics_truncate(rb_db *db, int64_t run_id, long after_step)
{
    char step[32];
    snprintf(step, sizeof step, "%ld", after_step);
    return exec_bound(db, "removing metrics past a checkpoint",
                      "DELETE FROM metrics WHERE run_id = ?1 AND step > CAST(?2 AS INTEGER)",
                      run_id, step, NULL);
}

int rb_db_memory(rb_db *db, int64_t run_id, const char *category, int64_t planned_bytes,
                 int64_t peak_bytes)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h,
                           "INSERT OR REPLACE INTO memory(run_id, category, planned_bytes, "
                           "peak_bytes) VALUES (?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail_sql(db, "recording memory");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, category, -1, SQLITE_TRANSIENT);
    /* A negative count means "not known" (e.g. max RSS has no plan): stored as NULL. */
    if (planned_bytes >= 0) sqlite3_bind_int64(st, 3, planned_bytes);
    else sqlite3_bind_null(st, 3);
    if (peak_bytes >= 0) sqlite3_bind_int64(st, 4, peak_bytes);
    else sqlite3_bind_null(st, 4);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail_sql(db, "recording memory");
}

int rb_db_record_arch(rb_db *db, const char *arch, const char *dataset, int64_t n_params,
                      int n_layers)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h,
                           "INSERT OR REPLACE INTO archs(name, dataset, n_params, n_layers) "
                           "VALUES (?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail_sql(db, "recording an architecture");
    sqlite3_bind_text(st, 1, arch, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, dataset, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, n_params);
    sqlite3_bind_int(st, 4, n_layers);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail_sql(db, "recording an architecture");
}

int rb_db_begin(rb_db *db)
{
    if (db->in_txn) return db_fail(db, "a transaction is already open on this handle");
    /* IMMEDIATE: take the write lock at BEGIN, where the busy timeout applies, rather than at
     * the first write, where a lock upgrade can fail with SQLITE_BUSY without waiting. */
    if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail_sql(db, "starting a transaction");
    db->in_txn = 1;
    return 0;
}

int rb_db_commit(rb_db *db)
{
    if (!db->in_txn) return db_fail(db, "commit without a transaction");
    if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        db_fail_sql(db, "committing");
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
        return db_fail_sql(db, "rolling back");
    return 0;
}
