/*
 * test_run_stop.c: stopping `revbench run` (harness/commands/cmd_run.c) with SIGTERM or SIGINT
 * while two training entries run side by side: every entry stops within a step, saves its
 * checkpoint and ends 'interrupted', whether the signal reaches `run` alone (kill PID, a batch
 * system signalling the job's main process) or the whole process group (Ctrl-C at a terminal).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scratch_dir.h"

static char dir[256], db_path[320], ini[320], out_path[320];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/rv_test_run_stop_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db_path, sizeof db_path, "%s/results.db", dir);
    snprintf(ini, sizeof ini, "%s/stop.ini", dir);
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(run_stop, .init = setup, .fini = teardown, .timeout = 300);

/* Two entries far longer than the test waits (STEPS), evaluated and checkpointed every 2
 * steps so that a stop leaves evidence of where it happened. */
#define STEPS 2000
static const char TWO_ENTRIES[] =
    "[experiment]\nname = stop\nkind = train\nschedule = test\n"
    "[train]\nsteps = 2000\nbatch = 8\neval_every = 2\ncheckpoint_every = 2\n"
    "train_subset = 64\ntest_subset = 16\nthreads = 1\n"
    "[matrix]\npairs = resnet-basic-1:revnet-basic-1\ndatasets = fashion-mnist\n";

/* Starts `revbench run` on the file with --jobs 2, output to out_path; in its own process
 * group when own_group (as a shell starts a foreground job). */
static pid_t start_run(int own_group)
{
    write_text(ini, TWO_ENTRIES);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (own_group) setpgid(0, 0);
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(99);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(RV_REVBENCH, "revbench", "run", ini, "--db", db_path, "--jobs", "2", (char *)NULL);
        _exit(98);
    }
    if (own_group) setpgid(pid, pid); /* either side may run first */
    return pid;
}

static long long scalar(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Waits until both entries have logged an evaluation (both are past loading and training). */
static void wait_until_both_train(pid_t pid)
{
    for (int waited_ms = 0; waited_ms < 240000; waited_ms += 20) {
        int st;
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "run ended before it was signalled");
        sqlite3 *h = NULL;
        if (access(db_path, F_OK) == 0 &&
            sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
            sqlite3_busy_timeout(h, 1000);
            long long n = scalar(h, "SELECT count(DISTINCT run_id) FROM metrics");
            sqlite3_close(h);
            if (n == 2) return;
        } else if (h) {
            sqlite3_close(h);
        }
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    cr_assert_fail("the two entries did not start training");
}

/* Both entries stopped part way, 'interrupted' with the signal named, each with its
 * checkpoint on disk; `run` said so and exited 1. */
static void expect_both_interrupted(int wstatus, const char *signame)
{
    const char *out = read_output(out_path);
    cr_assert(WIFEXITED(wstatus), "run died of signal %d; output:\n%s",
              WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0, out);
    cr_expect_eq(WEXITSTATUS(wstatus), 1, "exit %d; output:\n%s", WEXITSTATUS(wstatus), out);
    cr_expect_not_null(strstr(out, "stopped on request"), "%s", out);
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM runs WHERE kind = 'train'"), 2);
    cr_expect_eq(scalar(h, "SELECT count(*) FROM runs WHERE status = 'interrupted'"), 2, "%s",
                 out);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE reason LIKE '%%%s%%'", signame);
    cr_expect_eq(scalar(h, sql), 2, "reasons do not name %s; output:\n%s", signame, out);
    cr_expect_lt(scalar(h, "SELECT max(step) FROM metrics"), STEPS);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, "SELECT checkpoint FROM runs", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *ckpt = (const char *)sqlite3_column_text(st, 0);
        cr_expect(ckpt && access(ckpt, R_OK) == 0, "no checkpoint %s", ckpt ? ckpt : "(null)");
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
}

/* kill -TERM <run>: only `run` gets the signal; it must pass it on. */
Test(run_stop, sigterm_to_run_stops_every_entry_with_a_checkpoint)
{
    pid_t pid = start_run(0);
    wait_until_both_train(pid);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    expect_both_interrupted(st, "SIGTERM");
}

/* Ctrl-C at a terminal: the whole process group gets SIGINT, and `run` passes it on as well.
 * Each entry sees the request twice and must take it as one (a second request from the same
 * sender would mean "stop now, without a checkpoint"). */
Test(run_stop, sigint_to_the_process_group_is_one_request)
{
    pid_t pid = start_run(1);
    wait_until_both_train(pid);
    cr_assert_eq(kill(-pid, SIGINT), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    expect_both_interrupted(st, "SIGINT");
}
