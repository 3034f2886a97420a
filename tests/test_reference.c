/*
 * test_reference.c: the reference results that travel with the repository (results/reference,
 * harness/db/db_dump.c): export and import are exact inverses and deterministic, import
 * accepts nothing but rows, the shipped dump re-exports to itself and records each run's
 * machine and commit, the numbers the README quotes are the dump's (tests/readme-numbers.sql),
 * and `revbench --version` names the backends and libraries.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "db/db.h"
#include "db/db_dump.h"
#include "db/db_ext.h"
#include "scratch_dir.h"

static rb_db *open_db(const char *name)
{
    char path[PATH_MAX + 64], err[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    rb_db *db = NULL;
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    return db;
}

static long long scalar(rb_db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *h = rb_db_handle(db);
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Every file of dump a equals the one of dump b, byte for byte. */
static void expect_same_dump(const char *a, const char *b)
{
    for (int t = 0; t < 4; t++) {
        char pa[PATH_MAX + 32], pb[PATH_MAX + 32];
        snprintf(pa, sizeof pa, "%s/%s.sql", a, RB_DUMP_TABLES[t]);
        snprintf(pb, sizeof pb, "%s/%s.sql", b, RB_DUMP_TABLES[t]);
        char *x = read_text(pa), *y = read_text(pb);
        cr_expect_str_eq(x, y, "%s differs from %s", pa, pb);
        free(x);
        free(y);
    }
}

static int64_t add_run(rb_db *db, const char *arch, const char *extra, const char *status)
{
    rb_run_config c = { .arch = arch, .dataset = "cifar10", .mode = "standard", .device = "cpu",
                        .kind = "train", .schedule = "quick", .experiment = "t", .batch = 100,
                        .steps = 10, .seed = 1, .threads = 2, .extra_json = extra };
    int64_t id = 0;
    cr_assert_eq(rb_db_run_begin(db, &c, "cpu; OpenBLAS 0.3.21 x; core Haswell", &id), 0, "%s",
                 rb_db_message(db));
    cr_assert_eq(rb_db_run_end(db, id, status, NULL), 0);
    return id;
}

TestSuite(reference, .init = scratch_dir_make, .fini = scratch_dir_remove, .timeout = 120);

Test(reference, export_then_import_then_export_gives_the_same_files)
{
    rb_db *db = open_db("a.db");
    /* A text with a quote and a newline, numbers that %g would round, a NULL planned size. */
    int64_t r1 = add_run(db, "resnet-32", "{\"note\":\"it's\nhere\"}", "finished");
    add_run(db, "revnet-38", NULL, "failed");           /* not finished: not exported */
    int64_t r2 = add_run(db, "revnet-38", NULL, "finished");
    cr_assert_eq(rb_db_metric(db, r1, 10, "test_error", 0.1), 0);
    cr_assert_eq(rb_db_metric(db, r1, 20, "test_error", 1.0 / 3.0), 0);
    cr_assert_eq(rb_db_metric(db, r2, 10, "lr", 1e-300), 0);
    cr_assert_eq(rb_db_memory(db, r2, "max_rss", -1, 123456789012LL), 0);
    cr_assert_eq(rb_db_record_arch(db, "resnet-32", "cifar10", 464154, 32), 0);
    char a[PATH_MAX + 8], b[PATH_MAX + 8], err[512];
    snprintf(a, sizeof a, "%s/A", g_dir);
    snprintf(b, sizeof b, "%s/B", g_dir);
    long n = 0;
    cr_assert_eq(rb_dump_export(db, a, &n, err, sizeof err), 0, "%s", err);
    cr_expect_eq(n, 2);
    rb_db_close(db);

    rb_db *db2 = open_db("b.db");
    cr_assert_eq(rb_dump_import(db2, a, &n, err, sizeof err), 0, "%s", err);
    cr_expect_eq(n, 2);
    /* Runs renumbered 1..2 in id order; the values survive exactly. */
    cr_expect_eq(scalar(db2, "SELECT count(*) FROM runs WHERE id = 2 AND arch = 'revnet-38'"), 1);
    cr_expect_eq(scalar(db2, "SELECT count(*) FROM metrics WHERE run_id = 1 AND step = 20 AND "
                             "value = 1.0 / 3.0"), 1);
    cr_expect_eq(scalar(db2, "SELECT count(*) FROM runs WHERE extra_json = "
                             "'{\"note\":\"it''s' || char(10) || 'here\"}'"), 1);
    cr_expect_eq(scalar(db2, "SELECT count(*) FROM memory WHERE planned_bytes IS NULL AND "
                             "peak_bytes = 123456789012"), 1);
    cr_assert_eq(rb_dump_export(db2, b, NULL, err, sizeof err), 0, "%s", err);
    rb_db_close(db2);
    expect_same_dump(a, b);
    /* Numbers in their shortest exact form. */
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/metrics.sql", a);
    char *m = read_text(p);
    cr_expect(strstr(m, ", 'test_error', 0.1);") != NULL, "%s", m);
    cr_expect(strstr(m, ", 'lr', 1e-300);") != NULL, "%s", m);
    free(m);
}

/* Writes a dump whose runs.sql has line as its third line (after two header lines). */
static void write_dump(const char *dir, const char *line)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    for (int t = 0; t < 4; t++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/%s.sql", dir, RB_DUMP_TABLES[t]);
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f);
        fputs("-- header\n-- header\n", f);
        if (t == 0) fprintf(f, "%s\n", line);
        fclose(f);
    }
}

Test(reference, import_accepts_rows_and_nothing_else)
{
    static const char *const BAD[] = {
        "DROP TABLE metrics;",
        "UPDATE runs SET arch = 'x';",
        "DELETE FROM paper;",
        "PRAGMA user_version = 0;",
        "ATTACH 'other.db' AS o;",
        "SELECT 1;",
        "INSERT INTO paper(tbl, arch, dataset, quantity, value) VALUES ('a', 'b', 'c', 'd', 1);",
        "INSERT INTO runs(id, config_key, kind, arch, dataset, mode, device, schedule, experiment,"
        " status, started_at) SELECT 1, 'k', 'train', 'a', 'd', 'm', 'cpu', 's', 'e', 'finished',"
        " 'now' FROM paper;",
        "INSERT INTO runs(id) VALUES (1); DROP TABLE metrics;",
        "INSERT INTO runs(id, config_key) VALUES (1, 'k'",
    };
    char dir[PATH_MAX + 8], err[512];
    snprintf(dir, sizeof dir, "%s/bad", g_dir);
    rb_db *db = open_db("t.db");
    long paper = scalar(db, "SELECT count(*) FROM paper");
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        write_dump(dir, BAD[i]);
        err[0] = '\0';
        cr_expect_eq(rb_dump_import(db, dir, NULL, err, sizeof err), -1, "accepted: %s", BAD[i]);
        cr_expect(strstr(err, "runs.sql:3:") != NULL, "%s -> %s", BAD[i], err);
        /* Nothing changed: the tables, the paper's rows and the schema version are intact. */
        cr_expect_eq(scalar(db, "SELECT count(*) FROM runs"), 0);
        cr_expect_eq(scalar(db, "SELECT count(*) FROM metrics"), 0);
        cr_expect_eq(scalar(db, "SELECT count(*) FROM paper"), paper);
        cr_expect_eq(scalar(db, "PRAGMA user_version"), RB_DB_SCHEMA_VERSION);
    }
    /* A folder without the four files, and a database that already holds runs. */
    cr_expect_eq(rb_dump_import(db, g_dir, NULL, err, sizeof err), -1);
    cr_expect(strstr(err, "runs.sql") != NULL, "%s", err);
    add_run(db, "resnet-32", NULL, "finished");
    write_dump(dir, "");
    cr_expect_eq(rb_dump_import(db, dir, NULL, err, sizeof err), -1);
    cr_expect(strstr(err, "already holds 1 runs") != NULL, "%s", err);
    rb_db_close(db);
}

Test(reference, the_shipped_reference_reexports_to_itself_with_machine_and_commit)
{
    rb_reference ref;
    char err[512], out[PATH_MAX + 8];
    cr_assert_eq(rb_reference_open(&ref, RV_SOURCE_DIR "/results/reference", err, sizeof err), 0,
                 "%s", err);
    cr_expect_gt(ref.n_runs, 0);
    /* Every run says where and from what it was measured; no run from uncommitted code. */
    cr_expect_eq(scalar(ref.db, "SELECT count(*) FROM runs WHERE coalesce(cpu_model, '') IN "
                                "('', 'unknown') OR coalesce(isa, '') = '' OR n_cpus IS NULL "
                                "OR threads IS NULL OR coalesce(blas, '') = '' OR "
                                "coalesce(backend, '') = '' OR coalesce(software, '') = '' OR "
                                "load_start IS NULL OR load_end IS NULL OR "
                                "coalesce(git_rev, 'unknown') IN ('', 'unknown') OR "
                                "git_rev LIKE '%-dirty' OR status <> 'finished'"),
                 0);
    snprintf(out, sizeof out, "%s/again", g_dir);
    cr_assert_eq(rb_dump_export(ref.db, out, NULL, err, sizeof err), 0, "%s", err);
    rb_reference_close(&ref);
    expect_same_dump(RV_SOURCE_DIR "/results/reference", out);
}

/* tests/readme-numbers.sql: each statement gives rows of text that README.md must contain
 * verbatim (first column), computed from the reference results; a statement that gives no
 * row is a claim the reference cannot back. */
Test(reference, the_readme_quotes_the_reference_results)
{
    rb_reference ref;
    char err[512];
    cr_assert_eq(rb_reference_open(&ref, RV_SOURCE_DIR "/results/reference", err, sizeof err), 0,
                 "%s", err);
    char *readme = read_text(RV_SOURCE_DIR "/README.md");
    char *sql = read_text(RV_SOURCE_DIR "/tests/readme-numbers.sql");
    sqlite3 *h = rb_db_handle(ref.db);
    const char *p = sql;
    int n_statements = 0, n_rows = 0;
    while (*p) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        cr_assert_eq(sqlite3_prepare_v2(h, p, -1, &st, &tail), SQLITE_OK,
                     "tests/readme-numbers.sql: %s", sqlite3_errmsg(h));
        if (!st) break; /* only comments and blanks were left */
        n_statements++;
        int rows = 0, rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *text = (const char *)sqlite3_column_text(st, 0);
            rows++;
            cr_expect(text && strstr(readme, text) != NULL,
                      "README.md does not say \"%s\", which the reference results give "
                      "(statement: %s)", text ? text : "NULL", sqlite3_sql(st));
        }
        cr_expect_eq(rc, SQLITE_DONE, "%s", sqlite3_errmsg(h));
        cr_expect_gt(rows, 0, "no reference result backs this README claim: %s",
                     sqlite3_sql(st));
        n_rows += rows;
        sqlite3_finalize(st);
        p = tail;
    }
    cr_expect_gt(n_statements, 0);
    cr_expect_gt(n_rows, 0);
    free(sql);
    free(readme);
    rb_reference_close(&ref);
}

Test(reference, version_names_the_backends_and_libraries)
{
    char cmd[PATH_MAX + 256], path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/version.txt", g_dir);
    snprintf(cmd, sizeof cmd, "%s --version > '%s' 2>&1", RV_REVBENCH, path);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    char *v = read_text(path);
    char sqlite_line[128];
    snprintf(sqlite_line, sizeof sqlite_line, "SQLite    %s", sqlite3_libversion());
    const char *want[] = { "revbench ", "cpu       yes", "cpu-fast ", "cuda      ",
                           sqlite_line, "BLAS      OpenBLAS", "ISA       " };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(v, want[i]) != NULL, "no \"%s\" in:\n%s", want[i], v);
    free(v);
}
