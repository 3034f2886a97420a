/*
 * test_messages.c: what revbench says when something is wrong outside it (issue 11, item 8):
 * each case once misled (a full disk called "disk I/O error", a read-only mount told to
 * "chmod u+w", an empty --db reaching SQLite, ...) and must now name the real cause. The
 * command runs as a separate process (the built revbench), as a user would run it.
 *
 * A full disk and a read-only mount are made in a private mount namespace (a small tmpfs over
 * a folder of the test's own), so nothing outside the test sees them; where the kernel allows
 * no such namespace, those cases skip with the reason.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scratch_dir.h"

TestSuite(messages, .init = scratch_dir_make, .fini = scratch_dir_remove, .timeout = 120);

/* Runs a shell command line (printf-style) in g_dir; stdout and stderr land in g_dir/out and
 * g_dir/err. Returns the exit status. */
static int run_in_dir(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_in_dir(const char *fmt, ...)
{
    static char line[4096], cmd[4 * PATH_MAX + 4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && %s > '%s/out' 2> '%s/err'", g_dir, line, g_dir, g_dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The text of g_dir/name ("" when there is none). */
static char *slurp(const char *name) { return read_output(path_in(name)); }

static int exists(const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    return access(p, F_OK) == 0;
}

#define TRAIN RV_REVBENCH " train --arch resnet-basic-1 --dataset synthetic --steps 2 --batch 4 " \
              "--train-subset 8 --test-subset 8 --threads 1 --quiet"

/* --------------------------------------------------------------- the command line */

Test(messages, an_empty_db_path_is_a_usage_error)
{
    /* Was exit 1, "cannot open : cannot switch  to WAL mode". */
    int rc = run_in_dir("%s --db ''", TRAIN);
    cr_expect_eq(rc, 2, "exit %d: %s", rc, slurp("err"));
    cr_expect(strstr(slurp("err"), "--db needs a non-empty value") != NULL, "%s", slurp("err"));
    cr_expect(!exists("results"), "a usage error created results/");
}

Test(messages, report_db_without_a_value_says_so)
{
    /* Was "unexpected argument". */
    int rc = run_in_dir("%s report --db", RV_REVBENCH);
    cr_expect_eq(rc, 2, "exit %d", rc);
    cr_expect(strstr(slurp("err"), "--db needs a value") != NULL, "%s", slurp("err"));
}

Test(messages, angle_every_on_a_resnet_is_refused)
{
    /* Was silently ignored. */
    int rc = run_in_dir("%s --angle-every 5 --db r.db", TRAIN);
    cr_expect_eq(rc, 2, "exit %d: %s", rc, slurp("err"));
    cr_expect(strstr(slurp("err"), "--angle-every does not apply to resnet-basic-1") != NULL,
              "%s", slurp("err"));
    /* Said once, on one line: the check used to print it itself and leave the caller an
     * empty reason, which came out as a second, empty error line. */
    cr_expect(strstr(slurp("err"), "revbench train: \n") == NULL, "%s", slurp("err"));
    cr_expect(!exists("r.db"), "a usage error created the database");
}

Test(messages, a_folder_as_db_is_named_a_folder)
{
    cr_assert_eq(run_in_dir("mkdir d"), 0);
    int rc = run_in_dir("%s --db d", TRAIN);
    cr_expect_eq(rc, 1, "exit %d", rc);
    cr_expect(strstr(slurp("err"), "it is a folder") != NULL, "%s", slurp("err"));
}

Test(messages, a_foreign_runs_table_is_not_a_revbench_database)
{
    /* Was "table runs already exists". The foreign table must stay as it was. */
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/foreign.db", g_dir);
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(p, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "CREATE TABLE runs(who TEXT); INSERT INTO runs VALUES ('me')",
                              NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    int rc = run_in_dir("%s --db foreign.db", TRAIN);
    cr_expect_eq(rc, 1, "exit %d", rc);
    cr_expect(strstr(slurp("err"), "not a revbench results database") != NULL, "%s",
              slurp("err"));
    cr_assert_eq(run_in_dir("sqlite3 foreign.db 'SELECT count(*) FROM sqlite_master'"), 0);
    cr_expect_str_eq(slurp("out"), "1\n");
}

Test(messages, an_immutable_database_is_called_immutable)
{
    /* Was "the file is read-only (chmod u+w it ...)", which chmod cannot fix. */
    cr_assert_eq(run_in_dir("%s --db r.db", TRAIN), 0, "%s", slurp("err"));
    if (run_in_dir("chattr +i r.db") != 0)
        cr_skip_test("chattr +i is not possible here (not root, or a file system without it)");
    int rc = run_in_dir("%s --db r.db", TRAIN);
    char err[1 << 12];
    snprintf(err, sizeof err, "%s", slurp("err"));
    run_in_dir("chattr -i r.db");
    cr_expect_eq(rc, 1, "exit %d", rc);
    cr_expect(strstr(err, "immutable") != NULL && strstr(err, "chmod") == NULL, "%s", err);
}

Test(messages, an_explicit_checkpoint_dir_is_kept)
{
    /* --checkpoint-dir results/checkpoints was taken for the default and replaced by the
     * folder beside --db (other/checkpoints). */
    cr_assert_eq(run_in_dir("mkdir other"), 0);
    int rc = run_in_dir("%s --db other/r.db --checkpoint-dir results/checkpoints", TRAIN);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, slurp("err"));
    /* Under the folder of the database's identity (run_files.h). */
    cr_expect_eq(run_in_dir("ls results/checkpoints/*/run-1.ckpt > /dev/null"), 0,
                 "no checkpoint where it was asked");
    cr_expect(!exists("other/checkpoints"), "checkpoints went beside the database");
}

/* Two matrix sections that both list one run. */
static const char DUPLICATE[] =
    "[experiment]\nname = dup\nkind = train\n"
    "[train]\nsteps = 2\nbatch = 4\ntrain_subset = 8\ntest_subset = 8\nthreads = 1\n"
    "[matrix.a]\narchs = resnet-basic-1\ndatasets = fashion-mnist\n"
    "[matrix.b]\narchs = resnet-basic-1 revnet-basic-1\ndatasets = fashion-mnist\n";

Test(messages, a_run_listed_twice_runs_once_and_is_not_called_busy)
{
    /* With --jobs 2 the second listing found the first's lock: "1 entry running in another
     * process were left to it", when no other process existed. */
    write_text(path_in("dup.ini"), DUPLICATE);
    int rc = run_in_dir("%s run dup.ini --db r.db --jobs 2", RV_REVBENCH);
    char out[1 << 12];
    snprintf(out, sizeof out, "%s", slurp("out"));
    cr_expect_eq(rc, 0, "exit %d: %s %s", rc, out, slurp("err"));
    cr_expect(strstr(out, "another process") == NULL, "%s", out);
    cr_expect(strstr(out, "3 entries, 0 finished, 2 to do (1 listed twice, run once)") != NULL,
              "%s", out);
    cr_assert_eq(run_in_dir("sqlite3 r.db 'SELECT count(*) FROM runs'"), 0);
    cr_expect_str_eq(slurp("out"), "2\n");
}

Test(messages, a_dry_run_writes_nothing)
{
    /* It created the database and DB.locks/ (and refused a read-only database). */
    write_text(path_in("dup.ini"), DUPLICATE);
    int rc = run_in_dir("%s run dup.ini --db new.db --dry-run", RV_REVBENCH);
    cr_expect_eq(rc, 0, "exit %d: %s", rc, slurp("err"));
    cr_expect(strstr(slurp("out"), "to run") != NULL, "%s", slurp("out"));
    cr_expect(!exists("new.db") && !exists("new.db.locks"), "the dry run wrote files");
    /* On an existing database: the states are read, nothing is added. */
    cr_assert_eq(run_in_dir("%s run dup.ini --db r.db", RV_REVBENCH), 0, "%s", slurp("err"));
    cr_assert_eq(run_in_dir("rm -rf r.db.locks"), 0);
    rc = run_in_dir("%s run dup.ini --db r.db --dry-run", RV_REVBENCH);
    cr_expect_eq(rc, 0, "exit %d: %s", rc, slurp("err"));
    cr_expect(strstr(slurp("out"), "2 finished, 0 to do") != NULL, "%s", slurp("out"));
    cr_expect(!exists("r.db.locks"), "the dry run made lock files");
}

/* --------------------------------------------------------------- file systems */

/* Runs fn in a child inside a private mount namespace with a tmpfs of size_kb KiB mounted on
 * g_dir/mnt. Returns the child's exit status; 97 means no namespace could be made. */
static int in_namespace(int size_kb, int (*fn)(void))
{
    cr_assert_eq(run_in_dir("mkdir -p mnt"), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) _exit(97);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(97);
        char mnt[PATH_MAX + 16], opts[32];
        snprintf(mnt, sizeof mnt, "%s/mnt", g_dir);
        snprintf(opts, sizeof opts, "size=%dk", size_kb);
        if (mount("none", mnt, "tmpfs", 0, opts) != 0) _exit(97);
        _exit(fn());
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 200;
    if (code == 97) cr_skip_test("no private mount namespace here (unshare/mount)");
    return code;
}

static int fill_then_open(void)
{
    /* 64 KiB, all but 8 KiB taken: SQLite creates the file, then fails to write the rest. */
    if (run_in_dir("dd if=/dev/zero of=mnt/fill bs=1k count=56 2>/dev/null") != 0) return 90;
    return run_in_dir("%s --db mnt/r.db", TRAIN);
}

Test(messages, a_full_disk_at_open_is_called_full)
{
    /* Was "cannot read ...: disk I/O error". */
    int rc = in_namespace(64, fill_then_open);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, slurp("err"));
    cr_expect(strstr(slurp("err"), "disk is full") != NULL, "%s", slurp("err"));
}

static int open_on_read_only_mount(void)
{
    char mnt[PATH_MAX + 16];
    snprintf(mnt, sizeof mnt, "%s/mnt", g_dir);
    if (run_in_dir("%s --db mnt/r.db", TRAIN) != 0) return 91;
    if (mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0) return 97;
    /* (sh sends stderr to g_dir/err; the subshell keeps each message apart.) */
    if (run_in_dir("(%s --db mnt/r.db 2> err-existing)", TRAIN) != 1) return 92;
    if (run_in_dir("(%s --db mnt/new.db 2> err-new)", TRAIN) != 1) return 94;
    /* A dry run reads a database it cannot write. */
    char ini[PATH_MAX + 16];
    snprintf(ini, sizeof ini, "%s/one.ini", g_dir);
    FILE *f = fopen(ini, "w");
    if (!f) return 93;
    fputs("[experiment]\nname = one\nkind = train\n[train]\nsteps = 2\nbatch = 4\n"
          "train_subset = 8\ntest_subset = 8\nthreads = 1\n[matrix]\narchs = resnet-basic-1\n"
          "datasets = fashion-mnist\n", f);
    fclose(f);
    return run_in_dir("%s run one.ini --db mnt/r.db --dry-run", RV_REVBENCH) == 0 ? 0 : 95;
}

Test(messages, a_read_only_mount_is_not_told_to_chmod)
{
    /* Was "the file is read-only (chmod u+w it ...)". */
    int rc = in_namespace(4096, open_on_read_only_mount);
    cr_assert_eq(rc, 0, "step %d failed: %s", rc, slurp("err"));
    const char *e1 = slurp("err-existing"), *e2 = slurp("err-new");
    cr_expect(strstr(e1, "read-only file system") != NULL && strstr(e1, "chmod") == NULL, "%s",
              e1);
    cr_expect(strstr(e2, "read-only file system") != NULL, "%s", e2);
}
