/*
 * test_train_faults.c: training runs (harness/training/train.c, run_files.c) when their files
 * or their database misbehave: two databases in one folder, a database made again beside old
 * checkpoints, checkpoints copied between databases, temporaries of a killed writer, a database
 * locked or full mid-run, and the Nth SQLite write or fsync failing (tests/fault_vfs.c).
 *
 * Runs are the smallest of test_train.c's (train_fixture.h): resnet-basic-1, batch 16, 20
 * steps, evaluation and checkpoint every 10. Each test is a few such runs.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/exit_status.h"
#include "db/db.h"
#include "db/db_ext.h"
#include "fault_vfs.h"
#include "scratch_dir.h"
#include "train_fixture.h"
#include "training/train.h"

#define FAULT_TIMEOUT_S 180
#define STEPS 20
#define EVAL_EVERY 10
/* Rows of each evaluated metric in a complete run. */
#define N_EVALS (STEPS / EVAL_EVERY)

static const char *const SERIES[] = { "train_loss", "train_error", "test_loss", "test_error",
                                      "lr" };

/* Every evaluated metric of run rb in dbb equals that of run ra in da, bit for bit. */
static void assert_same_run(rb_db *da, int64_t ra, rb_db *dbb, int64_t rb)
{
    for (size_t i = 0; i < sizeof SERIES / sizeof SERIES[0]; i++)
        assert_same_series(da, ra, dbb, rb, SERIES[i]);
}

/* The state a run is left in when its process is killed before its first checkpoint: a row
 * 'running' under the configuration's key, and no checkpoint of its own anywhere. */
static int64_t killed_before_first_checkpoint(const rb_train_config *c, rb_db *db)
{
    rb_train_identity id;
    char why[256] = "";
    cr_assert_eq(rb_train_identify(c, &id, why, sizeof why), RB_EXIT_OK, "%s", why);
    int64_t run_id;
    cr_assert_eq(rb_db_run_begin(db, &id.rc, "cpu", &run_id), 0, "%s", rb_db_message(db));
    return run_id;
}

static void remove_db(const char *name)
{
    const char *suffix[] = { "", "-wal", "-shm" };
    for (int i = 0; i < 3; i++) {
        char p[PATH_MAX + 80];
        snprintf(p, sizeof p, "%s/%s%s", g_dir, name, suffix[i]);
        unlink(p);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Checkpoints belong to their database (issue 11, item 0)                                  */

/* Every test works in its own scratch folder (scratch_dir.h). */
TestSuite(identity, .init = scratch_dir_make, .fini = scratch_dir_remove,
          .timeout = FAULT_TIMEOUT_S);

/* a.db and b.db side by side in the scratch folder, for the tests of two databases in one
 * folder: their .init and .fini (after the suite's, which make and remove the folder). */
static rb_db *db_a, *db_b;
static void open_a_and_b(void) { db_a = open_db("a.db"); db_b = open_db("b.db"); }
static void close_a_and_b(void) { rb_db_close(db_a); rb_db_close(db_b); }

/* a.db and b.db in one folder, same configuration: a finishes; b is killed before its first
 * checkpoint and resumed. b must start again from step 0 (same seed: the same numbers as a),
 * not take a's final checkpoint and report it as its own result with exit 0. */
Test(identity, a_finished_run_of_another_database_is_not_taken_over, .init = open_a_and_b,
     .fini = close_a_and_b)
{
    rb_train_config c = small_config("resnet-basic-1", STEPS);
    rb_train_result ra = train_expect(&c, db_a, "finished");
    int64_t b_id = killed_before_first_checkpoint(&c, db_b);
    cr_assert_eq(b_id, ra.run_id, "both databases number their first run 1");
    c.resume = 1;
    rb_train_result rb2 = train_expect(&c, db_b, "finished");
    cr_assert_eq(rb2.run_id, b_id);
    cr_assert_eq(rb2.steps_done, STEPS);
    cr_assert(isfinite(rb2.images_per_sec), "the resumed run trained no step");
    cr_assert_eq(count_rows(db_b, "SELECT COUNT(*) FROM metrics WHERE name = 'test_error'"),
                 N_EVALS);
    assert_same_run(db_a, ra.run_id, db_b, b_id);
}

/* a.db interrupted; b.db (another seed) then trains its run 1 in the same folder. a's resume
 * must find its own checkpoint, not one overwritten by b. */
Test(identity, another_database_does_not_overwrite_a_checkpoint, .init = open_a_and_b,
     .fini = close_a_and_b)
{
    rb_train_config c = small_config("resnet-basic-1", STEPS);
    c.stop_after = EVAL_EVERY;
    train_expect(&c, db_a, "interrupted");
    rb_train_config other = c;
    other.seed = c.seed + 1;
    other.stop_after = 0;
    train_expect(&other, db_b, "finished");
    c.stop_after = 0;
    c.resume = 1;
    rb_train_result r = train_expect(&c, db_a, "finished");
    cr_assert_eq(r.steps_done, STEPS);
    /* The reference: the same configuration uninterrupted. */
    char ref_ckpt[PATH_MAX + 64], ckpt[PATH_MAX + 64];
    rb_db *ref;
    c.resume = 0;
    int64_t ref_id = reference_run(&c, ref_ckpt, sizeof ref_ckpt, &ref);
    assert_same_run(ref, ref_id, db_a, r.run_id);
    ckpt_path(db_a, g_ckpt_dir, r.run_id, ckpt, sizeof ckpt);
    assert_same_checkpoint(ref_ckpt, ckpt);
    rb_db_close(ref);
}

/* a.db and b.db training at the same time in one folder: b's run 1 is not a's run 1, so a's
 * lock (held here by a helper process, as a live trainer holds it) must not stop b. */
Test(identity, two_databases_train_at_once, .init = open_a_and_b, .fini = close_a_and_b)
{
    rb_train_config c = small_config("resnet-basic-1", STEPS);
    c.stop_after = 2;
    rb_train_result ra = train_expect(&c, db_a, "interrupted");
    pid_t pid = hold_run_lock(db_a, g_ckpt_dir, ra.run_id);
    c.stop_after = 0;
    rb_train_result rb;
    int code = rb_train_run(&c, db_b, &rb);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_eq(code, RB_EXIT_OK, "b: %s: %s", rb.status, rb.reason);
    assert_run_status(db_b, rb.run_id, "finished");
}

/* `rm results.db` with the old checkpoints/ left in place: the new database's run 1, killed
 * before its first checkpoint, must not take the old run 1's final checkpoint. */
Test(identity, a_database_made_again_ignores_old_checkpoints)
{
    rb_train_config c = small_config("resnet-basic-1", STEPS);
    rb_db *old = open_db("ref.db");
    rb_train_result first = train_expect(&c, old, "finished");
    /* The first database stays open for comparison; a new one takes the name it had in the
     * user's folder (r.db), beside the same checkpoints/. */
    rb_db *db = open_db("r.db");
    train_expect(&c, db, "finished");
    rb_db_close(db);
    remove_db("r.db");
    db = open_db("r.db");
    cr_assert_eq(killed_before_first_checkpoint(&c, db), 1);
    c.resume = 1;
    rb_train_result r2 = train_expect(&c, db, "finished");
    cr_assert_eq(r2.run_id, 1);
    cr_assert(isfinite(r2.images_per_sec), "the resumed run trained no step");
    cr_assert_eq(count_rows(db, "SELECT COUNT(*) FROM metrics WHERE name = 'test_error'"),
                 N_EVALS);
    assert_same_run(old, first.run_id, db, r2.run_id);
    rb_db_close(db);
    rb_db_close(old);
}

/* A checkpoint file copied (or moved by hand) from another database's folder is refused with
 * a message that says so, and one of the format before database identities is refused too;
 * the run is left as it was. */
Test(identity, checkpoints_of_another_database_or_version_are_refused, .init = open_a_and_b,
     .fini = close_a_and_b)
{
    rb_train_config c = small_config("resnet-basic-1", STEPS);
    c.stop_after = 3;
    rb_train_result ra = train_expect(&c, db_a, "interrupted");
    rb_train_result rb = train_expect(&c, db_b, "interrupted");
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    ckpt_path(db_a, g_ckpt_dir, ra.run_id, from, sizeof from);
    ckpt_path(db_b, g_ckpt_dir, rb.run_id, to, sizeof to);
    size_t len;
    unsigned char *bytes = read_all(from, &len);
    write_all(to, bytes, len);
    c.stop_after = 0;
    c.resume = 1;
    train_expect_refusal(&c, db_b, "belongs to another results database");
    assert_run_status(db_b, rb.run_id, "interrupted");

    /* Version 1 (written before identities) where the row says its checkpoint is: the path
     * an older revbench used, checkpoints/run-N.ckpt. */
    char legacy[PATH_MAX + 64];
    snprintf(legacy, sizeof legacy, "%s/run-%lld.ckpt", g_ckpt_dir, (long long)rb.run_id);
    const uint32_t v1 = 1;
    memcpy(bytes + 8, &v1, sizeof v1);
    write_all(legacy, bytes, len);
    free(bytes);
    cr_assert_eq(unlink(to), 0);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(rb_db_handle(db_b), "UPDATE runs SET checkpoint = ?1", -1,
                                    &q, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(q, 1, legacy, -1, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    train_expect_refusal(&c, db_b, "format version 1");
    assert_run_status(db_b, rb.run_id, "interrupted");
}

/* ---------------------------------------------------------------------------------------- */
/* Temporaries of a killed checkpoint writer (item 7)                                       */

TestSuite(stale, .init = scratch_dir_make, .fini = scratch_dir_remove,
          .timeout = FAULT_TIMEOUT_S);

Test(stale, temporaries_of_dead_writers_are_removed_on_the_next_start)
{
    rb_train_config c = small_config("resnet-basic-1", STEPS);
    rb_db *db = open_db("r.db");
    c.stop_after = 3;
    rb_train_result r = train_expect(&c, db, "interrupted");
    /* What kill -9 in the middle of rb_checkpoint_save leaves: a full-size temporary named by
     * the dead writer's pid. A live writer's (the test runner, this process's parent, stands in
     * for one) must stay. */
    pid_t dead = fork();
    cr_assert_neq(dead, -1);
    if (dead == 0) _exit(0);
    cr_assert_eq(waitpid(dead, NULL, 0), dead);
    char ckpt[PATH_MAX + 64], stale[PATH_MAX + 96], live[PATH_MAX + 96], old[PATH_MAX + 96];
    ckpt_path(db, g_ckpt_dir, r.run_id, ckpt, sizeof ckpt);
    size_t len;
    unsigned char *bytes = read_all(ckpt, &len);
    snprintf(stale, sizeof stale, "%s.tmp.%ld", ckpt, (long)dead);
    snprintf(live, sizeof live, "%s.tmp.%ld", ckpt, (long)getppid());
    /* And one where versions before database identities wrote them. */
    snprintf(old, sizeof old, "%s/run-7.ckpt.tmp.%ld", g_ckpt_dir, (long)dead);
    write_all(stale, bytes, len);
    write_all(live, bytes, len);
    write_all(old, bytes, len);
    free(bytes);
    c.stop_after = 0;
    c.resume = 1;
    train_expect(&c, db, "finished");
    cr_expect_neq(access(stale, F_OK), 0, "%s was left", stale);
    cr_expect_neq(access(old, F_OK), 0, "%s was left", old);
    cr_expect_eq(access(live, F_OK), 0, "a live writer's %s was removed", live);
    rb_db_close(db);
}

/* ---------------------------------------------------------------------------------------- */
/* The database locked or full mid-run (item 6) and failing writes and fsyncs               */

/* How long the run's writes wait for a lock in these tests instead of the default 10 s: long
 * enough for SQLite's busy handler to retry a few times, short enough to cost nothing. */
#define LOCK_WAIT_MS 200

TestSuite(dbfault, .init = scratch_dir_make, .fini = scratch_dir_remove,
          .timeout = FAULT_TIMEOUT_S);

typedef struct {
    int code;
    char status[16];
    char reason[1024];
} child_result;

/* Another process holds the write lock from the first checkpoint on, longer than the run's
 * busy timeout. The run must stop 'interrupted' at its next write, not wait a second time to
 * record that, say that the database could not record it (the row still says 'running', which
 * is then what the message says too), and the next run of the configuration records it and
 * resumes from the last checkpoint. */
Test(dbfault, a_locked_database_stops_the_run_and_its_end_is_recorded_later)
{
    rb_train_config c = small_config("resnet-basic-1", STEPS);
    /* Checkpoints every 2 steps, one evaluation at the end: the lock is taken at the first
     * checkpoint and the run's next write is 18 steps later, time enough for this process to
     * take the lock first even on a loaded machine. */
    c.checkpoint_every = 2;
    c.eval_every = STEPS;
    char path[PATH_MAX + 16], ckpt[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/r.db", g_dir);
    rb_db *db = open_db("r.db");
    ckpt_path(db, g_ckpt_dir, 1, ckpt, sizeof ckpt);
    rb_db_close(db);

    int out[2];
    cr_assert_eq(pipe(out), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        child_result res = { .code = -1 };
        rb_db *cdb = NULL;
        char err[256];
        if (rb_db_open(&cdb, path, err, sizeof err) == 0) {
            rb_db_set_busy_timeout(cdb, LOCK_WAIT_MS);
            rb_train_result r;
            res.code = rb_train_run(&c, cdb, &r);
            snprintf(res.status, sizeof res.status, "%s", r.status);
            snprintf(res.reason, sizeof res.reason, "%s", r.reason);
            rb_db_close(cdb);
        }
        _exit(write(out[1], &res, sizeof res) == sizeof res ? 0 : 1);
    }
    cr_assert_eq(wait_for_file(ckpt, 60000), 0, "no checkpoint appeared");
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 60000);
    cr_assert_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(h));
    child_result res;
    cr_assert_eq(read(out[0], &res, sizeof res), (ssize_t)sizeof res);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(h);
    close(out[0]);
    close(out[1]);

    cr_assert_eq(res.code, RB_EXIT_FAIL, "exit %d: %s", res.code, res.reason);
    cr_assert_str_eq(res.status, "interrupted", "%s", res.reason);
    cr_assert_not_null(strstr(res.reason, "locked by another process"), "%s", res.reason);
    cr_assert_not_null(strstr(res.reason, "resume with --resume"), "%s", res.reason);
    /* The end was tried once more without a second wait, and the message says so. */
    cr_assert_not_null(strstr(res.reason, "could not record that the run ended interrupted"),
                       "%s", res.reason);
    cr_assert_not_null(strstr(res.reason, "not waited for a second time"), "%s", res.reason);
    cr_assert_not_null(strstr(res.reason, "still shows it 'running'"), "%s", res.reason);
    db = open_db("r.db");
    assert_run_status(db, 1, "running");

    /* The database is writable again: the next run records what happened, then resumes. */
    c.resume = 1;
    rb_train_result r = train_expect(&c, db, "finished");
    cr_assert_eq(r.run_id, 1);
    cr_assert_not_null(strstr(r.note, "run 1 ended interrupted"), "note: '%s'", r.note);
    cr_assert_not_null(strstr(r.note, "locked"), "note: '%s'", r.note);
    char ref_ckpt[PATH_MAX + 64];
    rb_db *ref;
    c.resume = 0;
    int64_t ref_id = reference_run(&c, ref_ckpt, sizeof ref_ckpt, &ref);
    assert_same_run(ref, ref_id, db, 1);
    assert_same_checkpoint(ref_ckpt, ckpt);
    rb_db_close(ref);
    rb_db_close(db);
}

/* The quick configuration of the fault sweep: 4 steps, evaluated and checkpointed every 2, on
 * a small test subset of the synthetic set (no file to decompress), so that each case costs
 * well under a second. */
static rb_train_config sweep_config(void)
{
    rb_train_config c = small_config("resnet-basic-1", 4);
    c.dataset = "synthetic";
    c.eval_every = 2;
    c.checkpoint_every = 2;
    c.test_subset = 32;
    return c;
}

typedef struct {
    int open_failed, finished, stopped, failed, unrecorded;
} sweep_tally;

/* One case of the sweep: a fresh database opened and trained with the fault armed, then the
 * fault lifted. Whatever happened, the file must pass integrity_check, the row must say what
 * the run's message says (or the message must say that the row could not be updated), and one
 * more run of the configuration must end with a finished run whose metrics equal the
 * reference run's bit for bit (resumed, recorded late, or made again after a failure). */
static void sweep_case(fault_kind kind, long n, rb_db *ref, int64_t ref_id, sweep_tally *t)
{
    rb_train_config c = sweep_config();
    c.resume = 1;
    char name[64], path[PATH_MAX + 80], err[512] = "";
    snprintf(name, sizeof name, "f%d-%ld.db", (int)kind, n);
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    fault_vfs_arm(kind, n);
    rb_db *db = NULL;
    rb_train_result r;
    int code = -1;
    if (rb_db_open(&db, path, err, sizeof err) == 0) {
        code = rb_train_run(&c, db, &r);
        rb_db_close(db);
    }
    fault_vfs_arm(FAULT_NONE, 0);
    db = open_db(name);
    assert_db_intact(db);
    if (code < 0) {
        t->open_failed++;
        cr_assert(err[0] != '\0', "case %d/%ld: open failed without a message", kind, n);
    } else if (code == RB_EXIT_OK) {
        t->finished++;
        assert_run_status(db, r.run_id, "finished");
    } else {
        cr_assert_eq(code, RB_EXIT_FAIL, "case %d/%ld: exit %d: %s", kind, n, code, r.reason);
        cr_assert(strstr(r.reason, "results database") || strstr(r.reason, "database"),
                  "case %d/%ld: the reason does not name the database: %s", kind, n, r.reason);
        if (strstr(r.reason, "could not record")) t->unrecorded++;
        if (r.run_id >= 0) {
            char row[32];
            run_text(db, r.run_id, "status", row, sizeof row);
            if (strstr(r.reason, "could not record")) {
                cr_assert_str_eq(row, "running", "case %d/%ld: %s", kind, n, r.reason);
            } else {
                cr_assert_str_eq(row, r.status, "case %d/%ld: row '%s', message: %s: %s", kind,
                                 n, row, r.status, r.reason);
            }
        }
        if (!strcmp(r.status, "interrupted")) t->stopped++;
        else t->failed++;
    }
    rb_train_result again;
    cr_assert_eq(rb_train_run(&c, db, &again), RB_EXIT_OK, "case %d/%ld: %s", kind, n,
                 again.reason);
    assert_same_run(ref, ref_id, db, again.run_id);
    rb_db_close(db);
}

/* Fails the Nth SQLite write once (an I/O error), from the Nth on (a full disk), or the Nth
 * fsync once, for N spread over every write and sync that making a database and training in
 * it does (counted first on a clean run). */
Test(dbfault, failing_writes_and_fsyncs_leave_a_sound_resumable_database)
{
    rb_train_config c = sweep_config();
    fault_vfs_install();
    fault_vfs_arm(FAULT_NONE, 0);
    rb_db *ref = open_db("ref.db");
    long w_open = fault_vfs_writes(), s_open = fault_vfs_syncs();
    rb_train_result rr = train_expect(&c, ref, "finished");
    long w_run = fault_vfs_writes();
    rb_db_close(ref);
    long n_writes = fault_vfs_writes(), n_syncs = fault_vfs_syncs();
    cr_assert_gt(w_run, w_open, "no write counted in the run: is the shim in the path?");
    ref = open_db("ref.db");
    /* Writes come in three phases: making the file (schema, the paper's numbers), the run
     * (its row, metrics, end) and closing (the WAL copied into the file). The run's phase,
     * where the code under test decides what to record, gets RUN_POINTS evenly spread points
     * (its first and last write included); the others their first write. Syncs: the first
     * while making the file and every one after (at close). */
    enum { RUN_POINTS = 5 };
    long points[RUN_POINTS + 2], n_points = 0;
    points[n_points++] = 1;
    for (int i = 0; i < RUN_POINTS; i++)
        points[n_points++] = w_open + 1 + (long)i * (w_run - w_open - 1) / (RUN_POINTS - 1);
    points[n_points++] = w_run + 1;
    sweep_tally t = { 0 };
    for (long i = 0; i < n_points; i++) {
        sweep_case(FAULT_WRITE_ONCE, points[i], ref, rr.run_id, &t);
        sweep_case(FAULT_FULL_FROM, points[i], ref, rr.run_id, &t);
    }
    sweep_case(FAULT_SYNC_ONCE, 1, ref, rr.run_id, &t);
    for (long n = s_open + 1; n <= n_syncs; n++)
        sweep_case(FAULT_SYNC_ONCE, n, ref, rr.run_id, &t);
    cr_log_info("writes: %ld making the file, %ld in the run, %ld closing; syncs: %ld making, "
                "%ld in all. %d opens failed, %d runs finished, %d stopped resumably, %d "
                "failed, %d could not record their end", w_open, w_run - w_open,
                n_writes - w_run, s_open, n_syncs, t.open_failed, t.finished, t.stopped,
                t.failed, t.unrecorded);
    /* The sweep reached each way a fault can end: at open, mid-run, and at the end record. */
    cr_expect_gt(t.open_failed, 0);
    cr_expect_gt(t.stopped, 0);
    cr_expect_gt(t.unrecorded, 0);
    rb_db_close(ref);
    fault_vfs_remove();
}
