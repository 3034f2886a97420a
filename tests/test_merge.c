/*
 * test_merge.c: merging shard databases into a main one (harness/db/merge.c, `revbench merge`).
 *
 * Shards are written through the same db.h calls a training run uses (no training: a merge
 * only moves rows), with start times set explicitly so that "the same run" and "another run of
 * the same configuration" do not depend on the clock. "Unchanged" is checked on a text dump of
 * every row of runs, metrics, memory and archs, taken before and after.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/db_ext.h"
#include "db/db_schema.h"
#include "db/merge.h"
#include "scratch_dir.h"

/* How long the kill -9 test waits for the merge to reach its pause point: generous for a
 * loaded 2-core machine; it only bounds a failure, a passing run waits far less. */
#define PAUSE_WAIT_TENTHS 600

static void exec_sql(sqlite3 *h, const char *sql)
{
    char *e = NULL;
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &e), SQLITE_OK, "%s: %s", sql, e ? e : "");
}

/* A database holding the given runs: for each, an arch and seed (its configuration), a
 * status, a start time (its identity), n_metrics train_loss values and one memory row. */
typedef struct {
    const char *arch;
    unsigned seed;
    const char *status;
    const char *started_at;
    int n_metrics;
} run_spec;

static void make_db(const char *path, const run_spec *runs, int n)
{
    rb_db *db = NULL;
    char err[512];
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < n; i++) {
        rb_run_config rc = { .arch = runs[i].arch, .dataset = "cifar10", .mode = "standard",
                             .device = "cpu", .kind = "train", .schedule = "quick",
                             .experiment = "merge-test", .batch = 16, .steps = 20,
                             .seed = runs[i].seed, .eval_every = 10, .threads = 1 };
        int64_t id;
        cr_assert_eq(rb_db_run_begin(db, &rc, NULL, &id), 0, "%s", rb_db_message(db));
        for (int k = 0; k < runs[i].n_metrics; k++)
            cr_assert_eq(rb_db_metric(db, id, k + 1, "train_loss", 2.0 + runs[i].seed + k * 0.01),
                         0);
        cr_assert_eq(rb_db_memory(db, id, "params", 1000 + runs[i].seed, 1000 + runs[i].seed), 0);
        cr_assert_eq(rb_db_run_set_checkpoint(db, id, "checkpoints/run-1.ckpt"), 0);
        if (strcmp(runs[i].status, "running"))
            cr_assert_eq(rb_db_run_end(db, id, runs[i].status, NULL), 0);
        char sql[256];
        snprintf(sql, sizeof sql, "UPDATE runs SET started_at = '%s' WHERE id = %lld",
                 runs[i].started_at, (long long)id);
        exec_sql(rb_db_handle(db), sql);
    }
    cr_assert_eq(rb_db_record_arch(db, "resnet-basic-1", "cifar10", 1234, 8), 0);
    rb_db_close(db);
}

/* Every row of the tables a merge writes, as text (malloc'ed). */
static char *dump(const char *path)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    static const char *const QUERIES[] = {
        "SELECT * FROM runs ORDER BY id", "SELECT * FROM metrics ORDER BY run_id, name, step",
        "SELECT * FROM memory ORDER BY run_id, category", "SELECT * FROM archs ORDER BY name",
    };
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    out[0] = '\0';
    for (size_t q = 0; q < sizeof QUERIES / sizeof QUERIES[0]; q++) {
        sqlite3_stmt *st = NULL;
        cr_assert_eq(sqlite3_prepare_v2(h, QUERIES[q], -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *t = (const char *)sqlite3_column_text(st, c);
                size_t need = (t ? strlen(t) : 4) + 2;
                if (len + need + 1 > cap) {
                    cap = (cap + need) * 2;
                    out = realloc(out, cap);
                    cr_assert_not_null(out);
                }
                len += (size_t)sprintf(out + len, "%s|", t ? t : "NULL");
            }
            out[len++] = '\n';
            out[len] = '\0';
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return out;
}

static int count_rows(const char *path, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static int merge(const char *into, const char *const *shards, int n, rb_merge_counts *total,
                 char *err, size_t err_len)
{
    rb_db *db = NULL;
    cr_assert_eq(rb_db_open(&db, into, err, err_len), 0, "%s", err);
    int rc = rb_db_merge(db, shards, n, NULL, total, err, err_len);
    rb_db_close(db);
    return rc;
}

/* Merges the n shards into main.db, which must succeed; the counts in *total. */
static void merge_into_main(const char *const *shards, int n, rb_merge_counts *total)
{
    char err[1024];
    cr_assert_eq(merge(path_in("main.db"), shards, n, total, err, sizeof err), 0, "%s", err);
}

/* The standard setup: main.db with one run of its own, shard a (two finished runs and one
 * interrupted) and shard b (one finished run); every run is run 1.. of its own file. */
static void standard_setup(void)
{
    const run_spec m[] = { { "resnet-basic-1", 9, "finished", "2026-01-01T00:00:00.000Z", 3 } };
    const run_spec a[] = { { "resnet-basic-1", 1, "finished", "2026-01-02T00:00:00.000Z", 5 },
                           { "resnet-basic-1", 2, "finished", "2026-01-02T00:01:00.000Z", 4 },
                           { "resnet-basic-1", 3, "interrupted", "2026-01-02T00:02:00.000Z", 2 } };
    const run_spec b[] = { { "revnet-basic-1", 1, "finished", "2026-01-03T00:00:00.000Z", 6 } };
    make_db(path_in("main.db"), m, 1);
    make_db(path_in("a.db"), a, 3);
    make_db(path_in("b.db"), b, 1);
}

TestSuite(merge, .init = scratch_dir_make, .fini = scratch_dir_remove);

Test(merge, finished_runs_get_new_ids_with_their_rows)
{
    standard_setup();
    const char *shards[] = { path_in("a.db"), path_in("b.db") };
    rb_merge_counts total;
    merge_into_main(shards, 2, &total);
    cr_expect_eq(total.n_added, 3);
    cr_expect_eq(total.n_present, 0);
    cr_expect_eq(total.n_unfinished, 1);
    const char *db = path_in("main.db");
    cr_expect_eq(count_rows(db, "SELECT count(*) FROM runs"), 4);
    cr_expect_eq(count_rows(db, "SELECT count(DISTINCT id) FROM runs"), 4);
    cr_expect_eq(count_rows(db, "SELECT count(*) FROM runs WHERE status <> 'finished'"), 0);
    /* Each run keeps exactly its own metrics (3 + 5 + 4 + 6) and memory row. */
    cr_expect_eq(count_rows(db, "SELECT count(*) FROM metrics"), 18);
    cr_expect_eq(count_rows(db, "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM metrics"
                                " m WHERE m.run_id = r.id) = CASE r.seed WHEN 9 THEN 3 WHEN 2"
                                " THEN 4 ELSE CASE r.arch WHEN 'revnet-basic-1' THEN 6 ELSE 5"
                                " END END"),
                 4);
    cr_expect_eq(count_rows(db, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id"
                                " WHERE abs(m.value - (2.0 + r.seed + (m.step - 1) * 0.01))"
                                " > 1e-12"),
                 0);
    cr_expect_eq(count_rows(db, "SELECT count(*) FROM memory m JOIN runs r ON r.id = m.run_id"
                                " WHERE m.peak_bytes = 1000 + r.seed"),
                 4);
    /* Checkpoints of merged runs belong to their shard: cleared; the main's own kept. */
    cr_expect_eq(count_rows(db, "SELECT count(*) FROM runs WHERE checkpoint IS NULL"), 3);
    cr_expect_eq(count_rows(db, "SELECT count(*) FROM archs"), 1);
    cr_expect_eq(count_rows(db, "SELECT count(*) FROM pragma_integrity_check WHERE"
                                " integrity_check = 'ok'"),
                 1);
}

Test(merge, merging_twice_adds_nothing)
{
    standard_setup();
    const char *shards[] = { path_in("a.db"), path_in("b.db") };
    rb_merge_counts total;
    merge_into_main(shards, 2, &total);
    char *once = dump(path_in("main.db"));
    merge_into_main(shards, 2, &total);
    cr_expect_eq(total.n_added, 0);
    cr_expect_eq(total.n_present, 3);
    /* One shard twice in one merge: the second copy is recognised too. */
    const char *twice[] = { path_in("b.db"), path_in("b.db") };
    merge_into_main(twice, 2, &total);
    cr_expect_eq(total.n_added, 0);
    char *again = dump(path_in("main.db"));
    cr_expect_str_eq(again, once);
    free(once);
    free(again);
}

Test(merge, shard_finished_later_is_added_then)
{
    standard_setup();
    const char *shards[] = { path_in("a.db") };
    rb_merge_counts total;
    merge_into_main(shards, 1, &total);
    cr_expect_eq(total.n_unfinished, 1);
    /* The interrupted run resumes in its shard and finishes; the next merge takes it. */
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(path_in("a.db"), &h), SQLITE_OK);
    exec_sql(h, "UPDATE runs SET status = 'finished' WHERE seed = 3");
    sqlite3_close(h);
    merge_into_main(shards, 1, &total);
    cr_expect_eq(total.n_added, 1);
    cr_expect_eq(total.n_present, 2);
    cr_expect_eq(count_rows(path_in("main.db"), "SELECT count(*) FROM runs"), 4);
}

/* A refused merge: the message names the shard and says why; main.db is unchanged. */
static void expect_refused(const char *const *shards, int n, const char *why)
{
    char *before = dump(path_in("main.db"));
    rb_merge_counts total;
    char err[2048] = "";
    cr_assert_eq(merge(path_in("main.db"), shards, n, &total, err, sizeof err), -1,
                 "the merge should have been refused");
    cr_expect(strstr(err, why) != NULL, "message '%s' lacks '%s'", err, why);
    cr_expect(strstr(err, "not merging anything") != NULL, "message: %s", err);
    char *after = dump(path_in("main.db"));
    cr_expect_str_eq(after, before, "the main database changed");
    free(before);
    free(after);
}

Test(merge, shard_of_another_schema_version_is_refused)
{
    standard_setup();
    sqlite3 *h = NULL;
    /* A version-1 file, as the first releases wrote it. */
    cr_assert_eq(sqlite3_open(path_in("v1.db"), &h), SQLITE_OK);
    exec_sql(h, RB_DB_SCHEMA_V1);
    exec_sql(h, "PRAGMA user_version = 1");
    sqlite3_close(h);
    const char *old[] = { path_in("a.db"), path_in("v1.db") };
    expect_refused(old, 2, "schema version 1");
    /* A file from a newer revbench. */
    cr_assert_eq(sqlite3_open(path_in("b.db"), &h), SQLITE_OK);
    exec_sql(h, "PRAGMA user_version = 99");
    sqlite3_close(h);
    const char *newer[] = { path_in("a.db"), path_in("b.db") };
    expect_refused(newer, 2, "schema version 99");
}

Test(merge, corrupt_or_foreign_shard_is_refused)
{
    standard_setup();
    /* Overwrite page 2 (the runs table's root; page 1, the schema, stays readable) whole: a
     * b-tree page with a garbage header. */
    size_t len;
    unsigned char *buf = read_all(path_in("b.db"), &len);
    cr_assert_gt(len, 4 * 4096);
    memset(buf + 4096, 0xA5, 4096);
    write_all(path_in("bad.db"), buf, len);
    free(buf);
    const char *bad[] = { path_in("a.db"), path_in("bad.db") };
    expect_refused(bad, 2, "bad.db");
    /* Text, not SQLite. */
    write_all(path_in("text.db"), (const unsigned char *)"hello, not a database\n", 22);
    const char *text[] = { path_in("text.db") };
    expect_refused(text, 1, "text.db");
    /* Truncated to half. */
    buf = read_all(path_in("a.db"), &len);
    write_all(path_in("half.db"), buf, len / 2);
    free(buf);
    const char *half[] = { path_in("half.db") };
    expect_refused(half, 1, "half.db");
    /* An SQLite file of someone else. */
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(path_in("other.db"), &h), SQLITE_OK);
    exec_sql(h, "CREATE TABLE t(x); INSERT INTO t VALUES (1)");
    sqlite3_close(h);
    const char *other[] = { path_in("other.db") };
    expect_refused(other, 1, "not a revbench results database");
    /* The main database as its own shard. */
    const char *self[] = { path_in("main.db") };
    expect_refused(self, 1, "main database itself");
    /* A missing shard. */
    const char *missing[] = { path_in("missing.db") };
    expect_refused(missing, 1, "missing.db");
}

Test(merge, two_finished_runs_of_one_configuration_are_refused)
{
    standard_setup();
    /* Same configuration as shard a's seed-1 run, started at another time: another result. */
    const run_spec c[] = { { "resnet-basic-1", 1, "finished", "2026-02-01T00:00:00.000Z", 2 } };
    make_db(path_in("c.db"), c, 1);
    const char *both[] = { path_in("a.db"), path_in("c.db") };
    expect_refused(both, 2, "two finished runs of one configuration");
    /* Against a run merged earlier, too. */
    const char *first[] = { path_in("a.db") };
    rb_merge_counts total;
    merge_into_main(first, 1, &total);
    const char *later[] = { path_in("c.db") };
    expect_refused(later, 1, "two finished runs of one configuration");
    /* An unfinished run of the configuration in main is no conflict: the shard finished it. */
    const run_spec d[] = { { "revnet-basic-1", 1, "interrupted", "2026-02-02T00:00:00.000Z", 1 } };
    make_db(path_in("d.db"), d, 1);
    const char *db_d[] = { path_in("d.db") };
    merge_into_main(db_d, 1, &total);
    const char *db_b[] = { path_in("b.db") };
    merge_into_main(db_b, 1, &total);
    cr_expect_eq(total.n_added, 1);
}

Test(merge, killed_merge_leaves_the_main_database_unchanged)
{
    standard_setup();
    char *before = dump(path_in("main.db"));
    char marker[PATH_MAX + 64];
    snprintf(marker, sizeof marker, "%s/paused", g_dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("REVBENCH_TEST_MERGE_PAUSE", marker, 1);
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, STDOUT_FILENO);
        execl(RV_REVBENCH, "revbench", "merge", path_in("a.db"), path_in("b.db"), "--into",
              path_in("main.db"), (char *)NULL);
        _exit(127);
    }
    int waited = 0;
    while (access(marker, F_OK) != 0 && waited++ < PAUSE_WAIT_TENTHS) {
        int status;
        cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "the merge exited before its pause");
        nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
    }
    cr_assert_eq(access(marker, F_OK), 0, "the merge never reached its pause point");
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* The rows written before the kill never became visible. */
    char *after = dump(path_in("main.db"));
    cr_expect_str_eq(after, before, "the main database changed");
    cr_expect_eq(count_rows(path_in("main.db"), "SELECT count(*) FROM pragma_integrity_check"
                                                " WHERE integrity_check = 'ok'"),
                 1);
    /* And the merge, run again, completes. */
    cr_expect_eq(sh("%s merge %s %s --into %s > /dev/null", RV_REVBENCH, path_in("a.db"),
                    path_in("b.db"), path_in("main.db")),
                 0);
    cr_expect_eq(count_rows(path_in("main.db"), "SELECT count(*) FROM runs"), 4);
    free(before);
    free(after);
}

Test(merge, command_line)
{
    standard_setup();
    const char *r = RV_REVBENCH;
    cr_expect_eq(sh("%s merge %s 2>/dev/null", r, path_in("a.db")), 2, "no --into");
    cr_expect_eq(sh("%s merge --into %s 2>/dev/null", r, path_in("main.db")), 2, "no shard");
    cr_expect_eq(sh("%s merge --bogus 2>/dev/null", r), 2);
    cr_expect_eq(sh("%s merge %s --into %s --json > %s", r, path_in("a.db"), path_in("new.db"),
                    path_in("out.json")),
                 0);
    size_t len;
    char *out = (char *)read_all(path_in("out.json"), &len);
    out = realloc(out, len + 1);
    out[len] = '\0';
    cr_expect(strstr(out, "\"added\":2") || strstr(out, "\"added\": 2"), "%s", out);
    free(out);
    cr_expect_eq(sh("%s merge %s --into %s 2>%s", r, path_in("missing.db"), path_in("new.db"),
                    path_in("err.txt")),
                 1);
}
