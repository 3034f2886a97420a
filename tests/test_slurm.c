/*
 * test_slurm.c: `revbench run FILE --slurm` against a real Slurm (scripts/slurm-local.sh starts
 * a single-node cluster on the loopback), and the parts of the Slurm path that need no
 * cluster: `run --entry K`, the batch scripts of `--slurm --dry-run`, flag errors.
 *
 * The cluster test submits a small experiment (the smallest networks, a few dozen steps on
 * Fashion-MNIST subsets), cancels one task while it trains (scancel: SIGTERM, then the task
 * stops at a step boundary with its checkpoint), lets the merge job run, submits again, and
 * checks that the main database then holds every entry exactly once, intact, with metrics
 * equal to those of a plain `revbench run` of the same file. Where Slurm is not installed and
 * cannot be (not root), it skips with the reason; any other failure to start the cluster fails.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/run_progress.h"
#include "scratch_dir.h"

/* Bounds on waits for the cluster, in tenths of a second. They only bound a failure (a job
 * that never ends): on a loaded 2-core machine the whole test takes well under a minute. */
#define WAIT_CHECKPOINT_TENTHS 1200
#define WAIT_QUEUE_TENTHS 1800

static int g_cluster_up;

static void tenth_second(void) { nanosleep(&(struct timespec){ 0, 100000000 }, NULL); }

static void teardown(void)
{
    if (g_cluster_up) sh("%s/scripts/slurm-local.sh down %s/cluster", RV_SOURCE_DIR, g_dir);
    g_cluster_up = 0;
    scratch_dir_remove();
}

/* Fashion-MNIST, which the experiment files accept and Debian ships (dataset-fashion-mnist). */
static int have_fashion_mnist(void)
{
    const char *root = getenv("REVBENCH_DATA");
    char p[PATH_MAX];
    if (root && *root) {
        snprintf(p, sizeof p, "%s/fashion-mnist/train-images-idx3-ubyte.gz", root);
        if (access(p, R_OK) == 0) return 1;
    }
    return access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0;
}

/* Three 20-step entries and one of 150 steps (entry 4, seed 3): the one the test cancels. */
static void write_experiment(const char *path)
{
    static const char TEXT[] =
        "[experiment]\nname = slurm-test\nkind = train\nschedule = test\n\n"
        "[train]\nsteps = 20\nbatch = 8\neval_every = 10\ncheckpoint_every = 5\n"
        "train_subset = 128\ntest_subset = 32\nthreads = 1\n\n"
        "[matrix]\narchs = resnet-basic-1\ndatasets = fashion-mnist\nseeds = 1 2\n\n"
        "[matrix.rev]\narchs = revnet-basic-1\ndatasets = fashion-mnist\n\n"
        "[matrix.long]\narchs = resnet-basic-1\ndatasets = fashion-mnist\nseeds = 3\n"
        "steps = 150\neval_every = 30\n";
    write_all(path, (const unsigned char *)TEXT, sizeof TEXT - 1);
}

/* Starts the cluster of this test's folder and points the Slurm commands at it. */
static void cluster_up(void)
{
    chmod(g_dir, 0755); /* munged, running as its own user, must reach its socket in there */
    int rc = sh("%s/scripts/slurm-local.sh up %s/cluster > %s 2> %s", RV_SOURCE_DIR, g_dir,
                path_in("up.out"), path_in("up.err"));
    if (rc == 3) {
        char *why = read_text(path_in("up.err"));
        cr_skip_test("no local Slurm cluster here: %s", why);
    }
    g_cluster_up = 1;
    cr_assert_eq(rc, 0, "scripts/slurm-local.sh up failed:\n%s", read_text(path_in("up.err")));
    char conf[PATH_MAX + 64];
    snprintf(conf, sizeof conf, "%s/cluster/slurm.conf", g_dir);
    setenv("SLURM_CONF", conf, 1);
}

/* Waits until the queue is empty: every task and the merge job ended. */
static void wait_queue_empty(void)
{
    for (int i = 0; i < WAIT_QUEUE_TENTHS; i++) {
        cr_assert_eq(sh("squeue -h > %s 2>&1", path_in("queue.txt")), 0, "squeue failed: %s",
                     read_text(path_in("queue.txt")));
        char *q = read_text(path_in("queue.txt"));
        int empty = q[0] == '\0';
        free(q);
        if (empty) return;
        tenth_second();
    }
    cr_assert_fail("jobs still queued after %d s: %s", WAIT_QUEUE_TENTHS / 10,
                   read_text(path_in("queue.txt")));
}

/* Runs `revbench run ini --db db flags`, which must exit 0, with its output to g_dir/out_name;
 * returns that output (malloc'ed). */
static char *revbench_run(const char *ini, const char *db, const char *flags, const char *out_name)
{
    const char *out = path_in(out_name);
    cr_assert_eq(sh("%s run %s --db %s %s > %s 2>&1", RV_REVBENCH, ini, db, flags, out), 0, "%s",
                 read_text(out));
    return read_text(out);
}

/* One text value of a query on a database file (malloc'ed), "" for no row. */
static char *query(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", db);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(h));
    char *out = strdup("");
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        free(out);
        out = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    cr_assert_not_null(out);
    return out;
}

/* Every metric of every run, keyed by what identifies the run, not by its id: the two
 * databases number their runs differently. Values with 17 digits: equality means bit-equal. */
#define ALL_METRICS                                                                             \
    "SELECT group_concat(line, char(10)) FROM (SELECT r.arch || ' s' || r.seed || ' ' ||"     \
    " r.status || ' ' || m.name || ' ' || m.step || ' ' || printf('%.17g', m.value) AS line"   \
    " FROM runs r JOIN metrics m ON m.run_id = r.id"                                            \
    " WHERE m.name NOT IN ('images_per_sec', 'ms_per_step')"                                   \
    " ORDER BY r.arch, r.seed, m.name, m.step)"

TestSuite(slurm, .init = scratch_dir_make, .fini = teardown);

Test(slurm, cancelled_task_resumes_and_the_merge_equals_a_plain_run, .timeout = 300)
{
    if (!have_fashion_mnist())
        cr_skip_test("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    cluster_up();
    /* Own copies: path_in's buffers are reused. */
    char ini[PATH_MAX + 64], main_db[PATH_MAX + 64];
    snprintf(ini, sizeof ini, "%s", path_in("exp.ini"));
    snprintf(main_db, sizeof main_db, "%s", path_in("main.db"));
    write_experiment(ini);
    /* The same file with plain `revbench run`, alongside: the reference metrics. */
    pid_t plain = fork();
    cr_assert_geq(plain, 0);
    if (plain == 0) {
        char cmd[PATH_MAX * 3];
        snprintf(cmd, sizeof cmd, "%s run %s --db %s > %s 2>&1", RV_REVBENCH, ini,
                 path_in("plain.db"), path_in("plain.out"));
        _exit(system(cmd) == 0 ? 0 : 1);
    }
    char *out = revbench_run(ini, main_db, "--slurm", "submit1.out");
    const char *at = strstr(out, "submitted job array ");
    cr_assert_not_null(at, "%s", out);
    int array = atoi(at + strlen("submitted job array "));
    cr_expect(strstr(out, "4 to submit in 1 job array") != NULL, "%s", out);
    free(out);
    /* Submitting again at once submits no entry twice: they are queued or running. */
    out = revbench_run(ini, main_db, "--slurm", "again.out");
    cr_expect(strstr(out, " 0 to submit") != NULL, "%s", out);
    free(out);

    /* Cancel the seed-3 entry (array task 4) once it has a checkpoint: mid-run. */
    char pattern[PATH_MAX + 256];
    snprintf(pattern, sizeof pattern,
             "%s.slurm/slurm-test/shards/resnet-basic-1-*-s3-*/checkpoints/*/run-1.ckpt", main_db);
    glob_t g = { 0 };
    int found = 0;
    for (int i = 0; i < WAIT_CHECKPOINT_TENTHS && !found; i++) {
        found = glob(pattern, 0, NULL, &g) == 0;
        globfree(&g);
        if (!found) tenth_second();
    }
    cr_assert(found, "no checkpoint of the long entry after %d s", WAIT_CHECKPOINT_TENTHS / 10);
    cr_assert_eq(sh("scancel %d_4", array), 0);
    wait_queue_empty();

    /* The cancelled entry stopped on SIGTERM with its checkpoint, in its shard only. */
    snprintf(pattern, sizeof pattern, "%s.slurm/slurm-test/shards/resnet-basic-1-*-s3-*/shard.db",
             main_db);
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0);
    char *reason = query(g.gl_pathv[0], "SELECT status || ': ' || reason FROM runs");
    globfree(&g);
    cr_expect(strstr(reason, "interrupted: interrupted by SIGTERM") == reason,
              "the cancelled task's run: '%s' (it may have finished before scancel)", reason);
    free(reason);
    char *n = query(main_db, "SELECT count(*) FROM runs");
    cr_expect_str_eq(n, "3", "the first merge should hold the three finished entries");
    free(n);

    /* Submit again: only the cancelled entry runs, resumed from its shard's checkpoint. */
    out = revbench_run(ini, main_db, "--slurm", "submit2.out");
    cr_expect(strstr(out, "1 to submit in 1 job array") != NULL, "%s", out);
    free(out);
    wait_queue_empty();
    out = revbench_run(ini, main_db, "--slurm --status", "status.out");
    cr_expect(strstr(out, "4 in the main database") != NULL, "%s", out);
    cr_expect(strstr(out, ": COMPLETED") != NULL, "the merge job: %s", out);
    free(out);

    int status;
    cr_assert_eq(waitpid(plain, &status, 0), plain);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "plain run: %s",
              read_text(path_in("plain.out")));
    /* Every entry exactly once, finished, the file intact, the metrics those of the plain run. */
    char *once = query(main_db, "SELECT count(*) || ' ' || count(DISTINCT config_key) || ' ' ||"
                                " sum(status = 'finished') FROM runs");
    cr_expect_str_eq(once, "4 4 4");
    free(once);
    char *ok = query(main_db, "PRAGMA integrity_check");
    cr_expect_str_eq(ok, "ok");
    free(ok);
    char *ours = query(main_db, ALL_METRICS), *plain_metrics = query(path_in("plain.db"),
                                                                      ALL_METRICS);
    cr_expect_gt(strlen(plain_metrics), 0);
    cr_expect_str_eq(ours, plain_metrics);
    free(ours);
    free(plain_metrics);
}

Test(slurm, entry_runs_that_entry_only, .timeout = 120)
{
    if (!have_fashion_mnist())
        cr_skip_test("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    char ini[PATH_MAX + 64], db[PATH_MAX + 64];
    snprintf(ini, sizeof ini, "%s", path_in("exp.ini"));
    snprintf(db, sizeof db, "%s", path_in("one.db"));
    write_experiment(ini);
    free(revbench_run(ini, db, "--entry 2", "out.txt"));
    char *runs = query(db, "SELECT group_concat(arch || ' ' || seed || ' ' || status) FROM runs");
    cr_expect_str_eq(runs, "resnet-basic-1 2 finished");
    free(runs);
    cr_expect_eq(sh("%s run %s --db %s --entry 5 2>/dev/null", RV_REVBENCH, ini, db), 2,
                 "the file has 4 entries");
    cr_expect_eq(sh("%s run %s --db %s --entry 0 2>/dev/null", RV_REVBENCH, ini, db), 2);
}

Test(slurm, dry_run_prints_one_array_per_resource_request)
{
    /* Deep networks ask for more time: ResNet-110 gets its own array. Nothing is written. */
    static const char TEXT[] =
        "[experiment]\nname = dry\nkind = train\nschedule = test\n\n[train]\nsteps = 2000\n\n"
        "[matrix]\narchs = resnet-32 revnet-38\ndatasets = cifar10\n\n"
        "[matrix.deep]\narchs = resnet-110\ndatasets = cifar10\ndevices = cuda\n";
    char ini[PATH_MAX + 64], db[PATH_MAX + 64];
    snprintf(ini, sizeof ini, "%s", path_in("dry.ini"));
    snprintf(db, sizeof db, "%s", path_in("dry.db"));
    write_all(ini, (const unsigned char *)TEXT, sizeof TEXT - 1);
    char *out = revbench_run(ini, db, "--slurm --dry-run --partition gpu", "dry.out");
    cr_expect(strstr(out, "3 to submit in 2 job arrays") != NULL, "%s", out);
    cr_expect(strstr(out, "#SBATCH --gpus-per-task=1\n") != NULL, "cuda entry: %s", out);
    cr_expect(strstr(out, "#SBATCH --partition=gpu\n") != NULL, "%s", out);
    cr_expect(strstr(out, "#SBATCH --signal=B:TERM@") != NULL, "%s", out);
    cr_expect(strstr(out, "--dependency=afterany") != NULL, "%s", out);
    cr_expect(strstr(out, " merge \"${shards[@]}\" --into ") != NULL, "%s", out);
    /* The 110-layer network's array asks for more time than the one of the 32/38-layer pair. */
    const char *deep = strstr(out, "#SBATCH --array=3\n"), *pair = strstr(out, "#SBATCH --array=1,2\n");
    cr_assert(deep && pair, "%s", out);
    long t_deep = -1, t_pair = -1;
    for (const char *t = out; (t = strstr(t, "#SBATCH --time=")) != NULL; t++) {
        /* Each script's --time line comes before its --array line. */
        const char *next = strstr(t, "#SBATCH --array=");
        if (next == deep) t_deep = atol(t + 15);
        if (next == pair) t_pair = atol(t + 15);
    }
    cr_expect_gt(t_deep, t_pair, "resnet-110 %ld min, resnet-32/revnet-38 %ld min", t_deep,
                 t_pair);
    free(out);
    struct stat sb;
    cr_expect_neq(stat(db, &sb), 0, "a dry run wrote the database");
    char folder[PATH_MAX + 128];
    snprintf(folder, sizeof folder, "%s.slurm", db);
    cr_expect_neq(stat(folder, &sb), 0, "a dry run wrote the run folder");
    /* Fixed resources for every task, and the flags that need --slurm. */
    out = revbench_run(ini, db, "--slurm --dry-run --time 1:00:00 --mem 3G", "fixed.out");
    cr_expect(strstr(out, "#SBATCH --time=1:00:00\n") && strstr(out, "#SBATCH --mem=3G\n"),
              "%s", out);
    free(out);
    /* The file's [slurm] section, under the flags. */
    static const char SECTION[] = "\n[slurm]\npartition = long\ntime = 2:00:00\nmem = 5G\n";
    char *with = malloc(sizeof TEXT + sizeof SECTION);
    cr_assert_not_null(with);
    snprintf(with, sizeof TEXT + sizeof SECTION, "%s%s", TEXT, SECTION);
    write_all(ini, (const unsigned char *)with, strlen(with));
    free(with);
    out = revbench_run(ini, db, "--slurm --dry-run --mem 6G", "file.out");
    cr_expect(strstr(out, "#SBATCH --partition=long\n") && strstr(out, "#SBATCH --time=2:00:00\n") &&
                  strstr(out, "#SBATCH --mem=6G\n") && !strstr(out, "--mem=5G"),
              "%s", out);
    free(out);
    cr_expect_eq(sh("%s run %s --db %s --status 2>/dev/null", RV_REVBENCH, ini, db), 2);
    cr_expect_eq(sh("%s run %s --db %s --time 10 2>/dev/null", RV_REVBENCH, ini, db), 2);
    cr_expect_eq(sh("%s run %s --db %s --slurm --entry 1 2>/dev/null", RV_REVBENCH, ini, db), 2);
}

Test(slurm, status_peeks_at_a_shard_without_its_journal_or_locks)
{
    char path[PATH_MAX + 64], err[512];
    snprintf(path, sizeof path, "%s", path_in("shard.db"));
    rb_run_config rc = { .arch = "resnet-basic-1", .dataset = "fashion-mnist", .mode = "standard",
                         .device = "cpu", .kind = "train", .schedule = "test",
                         .experiment = "peek", .batch = 8, .steps = 40, .seed = 1,
                         .eval_every = 10, .threads = 1 };
    char status[16];
    long step;
    cr_expect_eq(rb_db_peek_run(path, &rc, status, &step), 0, "no file yet");
    rb_db *db = NULL;
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    int64_t id;
    cr_assert_eq(rb_db_run_begin(db, &rc, NULL, &id), 0);
    cr_assert_eq(rb_db_metric(db, id, 10, "train_loss", 2.0), 0);
    rb_db_close(db); /* the last handle closed: everything is in the main file */
    cr_assert_eq(rb_db_peek_run(path, &rc, status, &step), 1);
    cr_expect_str_eq(status, "running");
    cr_expect_eq(step, 10);
    /* A writer still at work: what it committed but SQLite has not yet checkpointed from its
     * journal (the WAL file) into the main file is not read, so the peek never needs the
     * journal's shared index that the writer uses. */
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rb_db_begin(db), 0);
    cr_assert_eq(rb_db_metric(db, id, 20, "train_loss", 1.5), 0);
    cr_assert_eq(rb_db_run_end(db, id, "finished", NULL), 0);
    cr_assert_eq(rb_db_commit(db), 0, "%s", rb_db_message(db));
    cr_assert_eq(rb_db_peek_run(path, &rc, status, &step), 1);
    cr_expect_str_eq(status, "running");
    cr_expect_eq(step, 10);
    rb_db_close(db);
    cr_assert_eq(rb_db_peek_run(path, &rc, status, &step), 1);
    cr_expect_str_eq(status, "finished");
    cr_expect_eq(step, 20);
    rc.seed = 2;
    cr_expect_eq(rb_db_peek_run(path, &rc, status, &step), 0, "another configuration");
}
