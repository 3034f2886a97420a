/*
 * test_db.c: the results database (harness/db/db.c): creation, WAL, migrations from an older
 * file, refusal of newer/foreign/read-only files, concurrent writers, run lookup by config key.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "db/db_ext.h"
#include "scratch_dir.h"

static char path[PATH_MAX + 32];

static void setup(void)
{
    scratch_dir_make();
    snprintf(path, sizeof path, "%s/results.db", g_dir);
}

static void teardown(void) { scratch_dir_remove(); }

static long long scalar(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static rb_run_config cfg_example(void)
{
    return (rb_run_config){ .arch = "resnet-32", .dataset = "cifar10", .mode = "standard",
                            .device = "cpu", .kind = "train", .schedule = "quick",
                            .experiment = "cifar-quick", .batch = 100, .steps = 2000,
                            .seed = 1, .eval_every = 100, .threads = 2 };
}

TestSuite(db, .init = setup, .fini = teardown);

Test(db, creates_wal_file_with_schema_and_paper_numbers)
{
    rb_db *db = NULL;
    char err[512];
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    sqlite3 *h = rb_db_handle(db);
    cr_expect_eq(scalar(h, "PRAGMA user_version"), RB_DB_SCHEMA_VERSION);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    cr_expect_eq(scalar(h, "PRAGMA foreign_keys"), 1);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM paper WHERE tbl = 'cifar'"), 12);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM pairs"), 4);
    /* Every view is queryable on an empty file; the CIFAR table has its 6 paper rows. */
    cr_expect_eq(scalar(h, "SELECT count(*) FROM v_cifar_table"), 6);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM v_params"), 0);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM v_memory"), 0);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM v_training_curves"), 0);
    rb_db_close(db);
    /* Reopening an up-to-date file changes nothing. */
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    cr_expect_eq(scalar(rb_db_handle(db), "SELECT count(*) FROM paper WHERE tbl = 'cifar'"), 12);
    rb_db_close(db);
}

/* The version 1 schema as the first release wrote it, typed out here on purpose: the test
 * must not depend on db.c's copy, which could change with it. */
static const char V1[] =
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, config_key TEXT NOT NULL, kind TEXT NOT NULL,"
    " arch TEXT NOT NULL, dataset TEXT NOT NULL, mode TEXT NOT NULL, device TEXT NOT NULL,"
    " schedule TEXT NOT NULL, experiment TEXT NOT NULL, batch INTEGER, steps INTEGER,"
    " seed INTEGER, eval_every INTEGER, train_subset INTEGER, threads INTEGER, extra_json TEXT,"
    " status TEXT NOT NULL CHECK (status IN ('running','finished','failed','interrupted')),"
    " reason TEXT, started_at TEXT NOT NULL, ended_at TEXT, hostname TEXT, cpu_model TEXT,"
    " gpu_model TEXT, blas TEXT, cudnn TEXT, backend TEXT, git_rev TEXT, checkpoint TEXT,"
    " final_test_error REAL, final_test_loss REAL, final_train_loss REAL,"
    " final_train_error REAL);"
    "CREATE INDEX runs_config_key ON runs(config_key);"
    "CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " step INTEGER NOT NULL, name TEXT NOT NULL, value REAL,"
    " PRIMARY KEY (run_id, name, step)) WITHOUT ROWID;"
    "CREATE TABLE memory(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " category TEXT NOT NULL, planned_bytes INTEGER, peak_bytes INTEGER,"
    " PRIMARY KEY (run_id, category)) WITHOUT ROWID;"
    "CREATE TABLE paper(tbl TEXT NOT NULL, arch TEXT NOT NULL, dataset TEXT NOT NULL,"
    " quantity TEXT NOT NULL, value REAL NOT NULL, source TEXT,"
    " PRIMARY KEY (tbl, arch, dataset, quantity));"
    "INSERT INTO runs(config_key, kind, arch, dataset, mode, device, schedule, experiment,"
    " status, started_at, final_test_error) VALUES ('k', 'train', 'revnet-38', 'cifar10',"
    " 'reversible', 'cpu', 'paper', 'x', 'finished', '2024-01-01T00:00:00Z', 7.5);"
    "INSERT INTO metrics VALUES (1, 100, 'test_error', 7.5);"
    "PRAGMA user_version = 1;";

Test(db, migrates_a_version_1_file)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, V1, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
    rb_db *db = NULL;
    char err[512];
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    h = rb_db_handle(db);
    cr_expect_eq(scalar(h, "PRAGMA user_version"), RB_DB_SCHEMA_VERSION);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM runs WHERE arch = 'revnet-38'"), 1);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM metrics"), 1);
    /* Columns and views of version 2 exist and see the old run. */
    cr_expect_eq(scalar(h, "SELECT count(*) FROM runs WHERE pid IS NULL AND result_json IS NULL"),
                 1);
    /* Version 3's machine columns exist and are empty for a run made before them. */
    cr_expect_eq(scalar(h, "SELECT count(*) FROM runs WHERE isa IS NULL AND load_end IS NULL"),
                 1);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM v_cifar_table WHERE ours_revnet = 7.5 "
                           "AND pair LIKE 'ResNet-32%' AND dataset = 'cifar10'"),
                 1);
    rb_db_close(db);
}

/* Every database gets its own identity when made or upgraded (schema 4), kept across opens:
 * it names the checkpoint folder, so it must differ between two files and never change. */
Test(db, each_database_has_its_own_lasting_identity)
{
    rb_db *a = NULL, *b = NULL;
    char err[512], other[PATH_MAX + 32], id_a[RB_DB_ID_LEN + 1];
    snprintf(other, sizeof other, "%s/other.db", g_dir);
    cr_assert_eq(rb_db_open(&a, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rb_db_open(&b, other, err, sizeof err), 0, "%s", err);
    snprintf(id_a, sizeof id_a, "%s", rb_db_identity(a));
    cr_expect_eq(strlen(id_a), RB_DB_ID_LEN);
    cr_expect_eq(strspn(id_a, "0123456789abcdef"), RB_DB_ID_LEN, "%s", id_a);
    cr_expect_str_neq(id_a, rb_db_identity(b));
    rb_db_close(a);
    rb_db_close(b);
    cr_assert_eq(rb_db_open(&a, path, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(rb_db_identity(a), id_a);
    rb_db_close(a);
    cr_assert_eq(rb_db_open_readonly(&a, path, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(rb_db_identity(a), id_a);
    rb_db_close(a);

    /* A version 3 file (as the release before identities left it) is upgraded and given one;
     * its runs stay. */
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(other, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "DROP TABLE meta; PRAGMA user_version = 3", NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
    cr_assert_eq(rb_db_open(&b, other, err, sizeof err), 0, "%s", err);
    cr_expect_eq(scalar(rb_db_handle(b), "PRAGMA user_version"), RB_DB_SCHEMA_VERSION);
    cr_expect_eq(strlen(rb_db_identity(b)), RB_DB_ID_LEN);
    cr_expect_str_neq(rb_db_identity(b), id_a);
    rb_db_close(b);

    /* An identity removed by hand is refused, not replaced: the checkpoints it named would be
     * orphaned without a word. */
    cr_assert_eq(sqlite3_open(other, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "DELETE FROM meta", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    cr_expect_eq(rb_db_open(&b, other, err, sizeof err), -1);
    cr_expect(strstr(err, "identity") != NULL, "message: %s", err);
}

Test(db, refuses_a_newer_schema)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "CREATE TABLE runs(id); PRAGMA user_version = 99", NULL, NULL,
                              NULL), SQLITE_OK);
    sqlite3_close(h);
    rb_db *db = NULL;
    char err[512] = "";
    cr_expect_eq(rb_db_open(&db, path, err, sizeof err), -1);
    cr_expect_null(db);
    cr_expect(strstr(err, "newer") && strstr(err, "99"), "message: %s", err);
}

Test(db, refuses_files_that_are_not_ours)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 300; i++) fputs("this is not a database\n", f);
    fclose(f);
    rb_db *db = NULL;
    char err[512] = "";
    cr_expect_eq(rb_db_open(&db, path, err, sizeof err), -1);
    cr_expect(strstr(err, "not an SQLite database") != NULL, "message: %s", err);

    char other[PATH_MAX + 32];
    snprintf(other, sizeof other, "%s/other.db", g_dir);
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(other, &h), SQLITE_OK);
    sqlite3_exec(h, "CREATE TABLE customers(name)", NULL, NULL, NULL);
    sqlite3_close(h);
    cr_expect_eq(rb_db_open(&db, other, err, sizeof err), -1);
    cr_expect(strstr(err, "not a revbench results database") != NULL, "message: %s", err);
}

Test(db, read_only_file_and_folder_give_clear_errors)
{
    /* Root ignores file permissions, so the check runs as an unprivileged user (Criterion runs
     * each test in its own process). */
    if (geteuid() == 0) {
        cr_assert_eq(chown(g_dir, 65534, 65534), 0);
        cr_assert_eq(setgid(65534), 0);
        cr_assert_eq(setuid(65534), 0);
    }
    rb_db *db = NULL;
    char err[512] = "";
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    rb_db_close(db);
    cr_assert_eq(chmod(path, 0444), 0);
    cr_expect_eq(rb_db_open(&db, path, err, sizeof err), -1);
    cr_expect(strstr(err, "read-only") != NULL, "message: %s", err);
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(chmod(g_dir, 0555), 0);
    char fresh[PATH_MAX + 32];
    snprintf(fresh, sizeof fresh, "%s/fresh.db", g_dir);
    cr_expect_eq(rb_db_open(&db, fresh, err, sizeof err), -1);
    cr_expect(strstr(err, "read-only") != NULL, "message: %s", err);
    /* The read-only opener still serves a report. */
    cr_expect_eq(rb_db_open_readonly(&db, path, err, sizeof err), 0, "%s", err);
    rb_db_close(db);
    cr_assert_eq(chmod(g_dir, 0755), 0);
}

/* Writers per process and rows each: enough to make the processes' transactions interleave
 * on 2 cores, small enough to stay well under a second. */
#define N_WRITERS 4
#define ROWS_EACH 150

Test(db, concurrent_writers_lose_nothing)
{
    rb_db *db = NULL;
    char err[512];
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    rb_db_close(db);
    pid_t pids[N_WRITERS];
    for (int w = 0; w < N_WRITERS; w++) {
        pids[w] = fork();
        cr_assert_neq(pids[w], -1);
        if (pids[w] == 0) {
            rb_db *mine = NULL;
            char e[512];
            if (rb_db_open(&mine, path, e, sizeof e)) _exit(10);
            rb_run_config c = cfg_example();
            c.seed = (uint64_t)w + 1;
            int64_t id;
            if (rb_db_run_begin(mine, &c, "cpu; OpenBLAS 0.3 test", &id)) _exit(11);
            for (int i = 0; i < ROWS_EACH; i++) {
                /* Alternate single statements and explicit transactions. */
                if (i % 2) {
                    if (rb_db_begin(mine) || rb_db_metric(mine, id, i, "train_loss", i) ||
                        rb_db_memory(mine, id, "activation_peak", i, i) || rb_db_commit(mine))
                        _exit(12);
                } else if (rb_db_metric(mine, id, i, "train_loss", i)) {
                    _exit(13);
                }
            }
            if (rb_db_run_end(mine, id, "finished", NULL)) _exit(14);
            rb_db_close(mine);
            _exit(0);
        }
    }
    for (int w = 0; w < N_WRITERS; w++) {
        int status;
        cr_assert_eq(waitpid(pids[w], &status, 0), pids[w]);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d exit %d", w,
                  WEXITSTATUS(status));
    }
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    sqlite3 *h = rb_db_handle(db);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM runs WHERE status = 'finished'"), N_WRITERS);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM metrics"), N_WRITERS * ROWS_EACH);
    cr_expect_eq(scalar(h, "SELECT count(DISTINCT config_key) FROM runs"), N_WRITERS);
    rb_db_close(db);
}

Test(db, config_key_and_find_run)
{
    rb_run_config a = cfg_example(), b = cfg_example();
    char *ka = rb_db_config_key(&a), *kb = rb_db_config_key(&b);
    cr_assert_not_null(ka);
    cr_expect_str_eq(ka, kb);
    free(kb);
    /* Every field takes part, and separators inside values cannot alias another key. */
    b.seed = 2;
    kb = rb_db_config_key(&b);
    cr_expect_str_neq(ka, kb);
    free(kb);
    b = cfg_example();
    b.extra_json = "{\"lr\":0.05}";
    kb = rb_db_config_key(&b);
    cr_expect_str_neq(ka, kb);
    free(kb);
    rb_run_config c1 = cfg_example(), c2 = cfg_example();
    c1.arch = "a;mode=x";
    c1.mode = "";
    c2.arch = "a";
    c2.mode = "x";
    char *k1 = rb_db_config_key(&c1), *k2 = rb_db_config_key(&c2);
    cr_expect_str_neq(k1, k2);
    free(k1);
    free(k2);

    rb_db *db = NULL;
    char err[512], status[16];
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    int64_t id = 0, first = 0, second = 0;
    cr_expect_eq(rb_db_find_run(db, &a, &id, status), 0);
    cr_assert_eq(rb_db_run_begin(db, &a, "cpu; OpenBLAS 0.3.21 x; core Haswell", &first), 0);
    cr_expect_eq(rb_db_find_run(db, &a, &id, status), 1);
    cr_expect_eq(id, first);
    cr_expect_str_eq(status, "running");
    cr_assert_eq(rb_db_run_end(db, first, "interrupted", "SIGINT"), 0);
    /* Resumed on the same machine and build: the row is unchanged; on another build (another
     * backend description) its backend and BLAS gain the new ones, once. */
    cr_assert_eq(rb_db_run_resume(db, first, "cpu; OpenBLAS 0.3.21 x; core Haswell"), 0);
    cr_assert_eq(rb_db_run_end(db, first, "interrupted", "SIGINT"), 0);
    cr_assert_eq(rb_db_run_resume(db, first, "cpu-fast; OpenBLAS 0.3.21 y; core Zen"), 0);
    cr_assert_eq(rb_db_run_end(db, first, "interrupted", "SIGINT"), 0);
    cr_assert_eq(rb_db_run_resume(db, first, "cpu-fast; OpenBLAS 0.3.21 y; core Zen"), 0);
    cr_assert_eq(rb_db_run_end(db, first, "interrupted", "SIGINT"), 0);
    cr_assert_eq(rb_db_run_resume(db, first, "cpu; OpenBLAS 0.3.21 x; core Haswell"), 0);
    sqlite3 *hr = rb_db_handle(db);
    cr_expect_eq(scalar(hr, "SELECT count(*) FROM runs WHERE backend = 'cpu; OpenBLAS 0.3.21 x; "
                            "core Haswell + cpu-fast; OpenBLAS 0.3.21 y; core Zen' AND blas = "
                            "'OpenBLAS 0.3.21 x + OpenBLAS 0.3.21 y' AND status = 'running' "
                            "AND instr(git_rev, ' + ') = 0 AND instr(isa, ' + ') = 0"),
                 1);
    cr_expect_eq(rb_db_run_resume(db, 12345, "cpu"), -1);
    cr_assert_eq(rb_db_metric(db, first, 100, "test_error", 9.5), 0);
    cr_assert_eq(rb_db_metric(db, first, 200, "test_error", 8.5), 0);
    cr_assert_eq(rb_db_metric(db, first, 300, "test_error", 99), 0);
    cr_assert_eq(rb_db_metrics_truncate(db, first, 200), 0);
    cr_assert_eq(rb_db_run_end(db, first, "finished", NULL), 0);
    cr_expect_eq(rb_db_find_run(db, &a, &id, status), 1);
    cr_expect_str_eq(status, "finished");
    sqlite3 *h = rb_db_handle(db);
    cr_expect_eq(scalar(h, "SELECT final_test_error * 10 FROM runs"), 85);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM runs WHERE blas LIKE 'OpenBLAS 0.3.21%' "
                           "AND git_rev IS NOT NULL AND hostname <> ''"),
                 1);
    /* The machine and its load are recorded with the run (schema version 3), the load at
     * the start and again at the end. */
    cr_expect_eq(scalar(h, "SELECT count(*) FROM runs WHERE isa <> '' AND n_cpus > 0 "
                           "AND load_start >= 0 AND load_end >= 0 "
                           "AND software LIKE 'revbench %; SQLite 3.%; compiler %'"),
                 1);
    cr_expect_eq(rb_db_run_end(db, first, "done", NULL), -1);
    cr_expect(strstr(rb_db_message(db), "done") != NULL);
    /* A second run of the same configuration is the newest. */
    cr_assert_eq(rb_db_run_begin(db, &a, NULL, &second), 0);
    cr_expect_eq(rb_db_find_run(db, &a, &id, status), 1);
    cr_expect_eq(id, second);
    free(ka);
    rb_db_close(db);
}
