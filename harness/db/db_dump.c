/*
 * db_dump.c: export the results database as one SQL text file per table, import it back, and
 * open reference results for the report (db_dump.h).
 *
 * Import runs the dump's statements one line at a time under an SQLite authorizer that allows
 * only an INSERT into the table the file is named after (plus reads, which the foreign-key
 * check of metrics and memory against runs makes, and the char() function the export uses for
 * control characters), so a dump can add rows and nothing else: no DROP, UPDATE, DELETE,
 * PRAGMA or ATTACH, whatever the file says.
 *
 * Owns: nothing beyond one call; rb_reference owns its database handle and temporary folder.
 */
#include "db/db_dump.h"
#include "db/db_ext.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const RB_DUMP_TABLES[4] = { "runs", "archs", "memory", "metrics" };

/* Runs whose numbers the report and the figures use: the newest finished run of each
 * configuration, numbered 1..N in the order of their ids. */
#define SELECTED_RUNS                                                                          \
    "WITH sel AS (SELECT id AS old, row_number() OVER (ORDER BY id) AS new FROM runs r"       \
    " WHERE status = 'finished' AND id = (SELECT max(id) FROM runs x"                          \
    " WHERE x.config_key = r.config_key AND x.status = 'finished')) "

/* ---------------------------------------------------------------- export */

/* The shortest %.Ng that reads back to exactly v, so that numbers stay readable (0.1, not
 * 0.10000000000000001) and a round trip changes no bit. */
static void put_double(FILE *f, double v)
{
    if (isinf(v)) {
        fputs(v > 0 ? "9e999" : "-9e999", f); /* SQLite reads these as +-Inf */
        return;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, f);
}

/* A text value as an SQL literal: quotes doubled, control characters (a newline in a
 * reason) as char(N), so that every row stays on one line. */
static void put_text(FILE *f, const unsigned char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("''", f);
        else if (*s < 0x20 || *s == 0x7f) fprintf(f, "'||char(%d)||'", *s);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

static void put_value(FILE *f, sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        fputs("NULL", f);
        break;
    case SQLITE_INTEGER:
        fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        put_double(f, sqlite3_column_double(st, i));
        break;
    case SQLITE_BLOB: {
        const unsigned char *b = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);
        fputs("X'", f);
        for (int k = 0; k < n; k++) fprintf(f, "%02x", b[k]);
        fputc('\'', f);
        break;
    }
    default:
        put_text(f, sqlite3_column_text(st, i));
    }
}

/* Writes dir/table.sql from a SELECT whose result columns are named as the table's. */
static int export_table(sqlite3 *h, const char *dir, const char *table, const char *verb,
                        const char *sql, int schema, long *n_rows, char *err, size_t err_len)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%s.sql", dir, table);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "exporting %s: %s", table, sqlite3_errmsg(h));
        return -1;
    }
    /* The row count goes in the header, so count first (the rows are not kept in memory). */
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) n++;
    sqlite3_reset(st);
    FILE *f = rc == SQLITE_DONE ? fopen(tmp, "w") : NULL;
    if (!f) {
        if (rc != SQLITE_DONE) snprintf(err, err_len, "exporting %s: %s", table,
                                        sqlite3_errmsg(h));
        else snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
        sqlite3_finalize(st);
        return -1;
    }
    fprintf(f, "-- revbench results, table %s (schema version %d): %ld rows, one statement a "
               "line.\n-- Written by `revbench export`; load with `revbench import DIR --db "
               "PATH`.\n", table, schema, n);
    int n_cols = sqlite3_column_count(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fprintf(f, "%s INTO %s(", verb, table);
        for (int i = 0; i < n_cols; i++)
            fprintf(f, "%s%s", i ? ", " : "", sqlite3_column_name(st, i));
        fputs(") VALUES (", f);
        for (int i = 0; i < n_cols; i++) {
            if (i) fputs(", ", f);
            put_value(f, st, i);
        }
        fputs(");\n", f);
    }
    sqlite3_finalize(st);
    int bad = rc != SQLITE_DONE;
    if (bad) snprintf(err, err_len, "exporting %s: %s", table, sqlite3_errmsg(h));
    if (fclose(f) != 0 && !bad) {
        snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
        bad = 1;
    }
    if (!bad && rename(tmp, path) != 0) {
        snprintf(err, err_len, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        bad = 1;
    }
    if (bad) {
        unlink(tmp);
        return -1;
    }
    if (n_rows) *n_rows = n;
    return 0;
}

/* "sel.new AS id, r.c1, r.c2, ..." over every column of runs except the machine-local pid
 * and checkpoint. */
static char *runs_columns(sqlite3 *h)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 2048, len = 0;
    char *s = malloc(cap);
    if (!s || sqlite3_prepare_v2(h, "SELECT name FROM pragma_table_info('runs') ORDER BY cid",
                                 -1, &st, NULL) != SQLITE_OK) {
        free(s);
        return NULL;
    }
    len = (size_t)snprintf(s, cap, "sel.new AS id");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        if (!strcmp(c, "id") || !strcmp(c, "pid") || !strcmp(c, "checkpoint")) continue;
        if (len + strlen(c) + 8 > cap) {
            char *n = realloc(s, cap *= 2);
            if (!n) {
                free(s);
                sqlite3_finalize(st);
                return NULL;
            }
            s = n;
        }
        len += (size_t)snprintf(s + len, cap - len, ", r.%s", c);
    }
    sqlite3_finalize(st);
    return s;
}

/* The tables exported after runs, in RB_DUMP_TABLES order: how each file inserts its rows and
 * the query that selects them, in a fixed order. */
static const struct {
    const char *table, *insert, *select;
} BESIDE_RUNS[] = {
    /* archs rows describe networks, not runs: the same on every machine, so a database where
     * `report` already recorded them takes the dump's rows in their place. */
    { "archs", "INSERT OR REPLACE",
      "SELECT name, dataset, n_params, n_layers FROM archs ORDER BY name, dataset" },
    { "memory", "INSERT",
      SELECTED_RUNS "SELECT sel.new AS run_id, m.category, m.planned_bytes, m.peak_bytes"
                    " FROM memory m JOIN sel ON sel.old = m.run_id ORDER BY sel.new, m.category" },
    { "metrics", "INSERT",
      SELECTED_RUNS "SELECT sel.new AS run_id, k.step, k.name, k.value"
                    " FROM metrics k JOIN sel ON sel.old = k.run_id"
                    " ORDER BY sel.new, k.name, k.step" },
};

int rb_dump_export(rb_db *db, const char *out_dir, long *n_runs, char *err, size_t err_len)
{
    sqlite3 *h = rb_db_handle(db);
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create %s: %s", out_dir, strerror(errno));
        return -1;
    }
    int schema = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        schema = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    char *cols = runs_columns(h);
    if (!cols) {
        snprintf(err, err_len, "exporting runs: cannot list the columns of runs: %s",
                 sqlite3_errmsg(h));
        return -1;
    }
    size_t qlen = strlen(cols) + 1024;
    char *q = malloc(qlen);
    if (!q) {
        free(cols);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    snprintf(q, qlen, SELECTED_RUNS "SELECT %s FROM runs r JOIN sel ON sel.old = r.id "
             "ORDER BY sel.new", cols);
    free(cols);
    int rc = export_table(h, out_dir, "runs", "INSERT", q, schema, n_runs, err, err_len);
    free(q);
    for (size_t i = 0; !rc && i < sizeof BESIDE_RUNS / sizeof BESIDE_RUNS[0]; i++)
        rc = export_table(h, out_dir, BESIDE_RUNS[i].table, BESIDE_RUNS[i].insert,
                          BESIDE_RUNS[i].select, schema, NULL, err, err_len);
    return rc;
}

/* ---------------------------------------------------------------- import */

typedef struct {
    const char *table;   /* the only table this file may insert into */
    int refused;         /* the authorizer said no */
} import_auth;

static int authorize(void *ud, int action, const char *a, const char *b, const char *schema,
                     const char *trigger)
{
    (void)trigger;
    import_auth *ia = ud;
    int ok = 0;
    if (action == SQLITE_INSERT)
        ok = a && !strcmp(a, ia->table) && (!schema || !strcmp(schema, "main"));
    else if (action == SQLITE_FUNCTION)
        ok = b && !strcmp(b, "char");
    else if (action == SQLITE_READ) /* the foreign-key check reads runs.id */
        ok = a && !strcmp(a, "runs") && (!schema || !strcmp(schema, "main"));
    if (!ok) ia->refused = 1;
    return ok ? SQLITE_OK : SQLITE_DENY;
}

static int import_file(sqlite3 *h, const char *dir, const char *table, char *err,
                       size_t err_len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.sql", dir, table);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "cannot read %s: %s (a dump folder holds runs.sql, archs.sql, "
                 "memory.sql and metrics.sql, as `revbench export` writes them)", path,
                 strerror(errno));
        return -1;
    }
    import_auth ia = { table, 0 };
    sqlite3_set_authorizer(h, authorize, &ia);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || !strncmp(p, "--", 2)) continue;
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        ia.refused = 0;
        if (sqlite3_prepare_v2(h, p, -1, &st, &tail) != SQLITE_OK || !st) {
            if (ia.refused)
                snprintf(err, err_len, "%s:%ld: only INSERT INTO %s may appear in %s.sql",
                         path, lineno, table, table);
            else
                snprintf(err, err_len, "%s:%ld: %s", path, lineno,
                         st ? sqlite3_errmsg(h) : (sqlite3_errcode(h) == SQLITE_OK
                                                       ? "no statement on this line"
                                                       : sqlite3_errmsg(h)));
            sqlite3_finalize(st);
            rc = -1;
            break;
        }
        while (tail && (*tail == ' ' || *tail == '\t')) tail++;
        if (tail && *tail) {
            snprintf(err, err_len, "%s:%ld: more than one statement on a line (a dump has one "
                     "INSERT per line)", path, lineno);
            rc = -1;
        } else if (sqlite3_step(st) != SQLITE_DONE) {
            snprintf(err, err_len, "%s:%ld: %s", path, lineno, sqlite3_errmsg(h));
            rc = -1;
        }
        sqlite3_finalize(st);
    }
    if (!rc && ferror(f)) {
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    sqlite3_set_authorizer(h, NULL, NULL);
    free(line);
    fclose(f);
    return rc;
}

static long count_runs(sqlite3 *h)
{
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sqlite3_prepare_v2(h, "SELECT count(*) FROM runs", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int rb_dump_import(rb_db *db, const char *dir, long *n_runs, char *err, size_t err_len)
{
    sqlite3 *h = rb_db_handle(db);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, err_len, "%s is not a folder (a dump is the folder `revbench export` "
                 "writes, e.g. results/reference)", dir);
        return -1;
    }
    long before = count_runs(h);
    if (before < 0) {
        snprintf(err, err_len, "cannot count the runs of the target database: %s",
                 sqlite3_errmsg(h));
        return -1;
    }
    if (before > 0) {
        snprintf(err, err_len, "the target database already holds %ld runs: import into a new "
                 "file (--db PATH), so that reference runs never mix with your own", before);
        return -1;
    }
    if (rb_db_begin(db)) {
        snprintf(err, err_len, "%s", rb_db_message(db));
        return -1;
    }
    for (int t = 0; t < 4; t++)
        if (import_file(h, dir, RB_DUMP_TABLES[t], err, err_len)) {
            rb_db_rollback(db);
            return -1;
        }
    if (rb_db_commit(db)) {
        snprintf(err, err_len, "%s", rb_db_message(db));
        return -1;
    }
    if (n_runs) *n_runs = count_runs(h);
    return 0;
}

/* ---------------------------------------------------------------- reference */

static void remove_tmp(rb_reference *ref)
{
    if (!ref->tmp_dir[0]) return;
    static const char *const FILES[] = { "reference.db", "reference.db-wal",
                                         "reference.db-shm" };
    char p[128];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", ref->tmp_dir, FILES[i]);
        unlink(p);
    }
    rmdir(ref->tmp_dir);
    ref->tmp_dir[0] = '\0';
}

int rb_reference_open(rb_reference *ref, const char *path, char *err, size_t err_len)
{
    memset(ref, 0, sizeof *ref);
    snprintf(ref->path, sizeof ref->path, "%s", path);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, err_len, "no reference results at %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        if (rb_db_open_readonly(&ref->db, path, err, err_len)) return -1;
        ref->n_runs = count_runs(rb_db_handle(ref->db));
        return 0;
    }
    snprintf(ref->tmp_dir, sizeof ref->tmp_dir, "/tmp/revbench-reference-XXXXXX");
    if (!mkdtemp(ref->tmp_dir)) {
        snprintf(err, err_len, "cannot create a temporary folder for the reference results: "
                 "%s", strerror(errno));
        ref->tmp_dir[0] = '\0';
        return -1;
    }
    char db_path[128];
    snprintf(db_path, sizeof db_path, "%s/reference.db", ref->tmp_dir);
    if (rb_db_open(&ref->db, db_path, err, err_len) ||
        rb_dump_import(ref->db, path, &ref->n_runs, err, err_len)) {
        rb_reference_close(ref);
        return -1;
    }
    return 0;
}

void rb_reference_close(rb_reference *ref)
{
    rb_db_close(ref->db);
    ref->db = NULL;
    remove_tmp(ref);
}
