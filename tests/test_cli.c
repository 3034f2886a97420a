/*
 * test_cli.c: the commands' shared option parser (options.h), and `revbench run`'s handling of
 * failures that only a test can provoke: an allocation that fails, and a /proc that cannot say
 * which executable is running.
 *
 * The binary is linked with -Wl,--wrap=calloc, so every calloc of the harness objects linked
 * into it goes through wrap_calloc below, which fails the Nth call on request (the library and
 * system libraries are shared objects and keep the real calloc).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/exit_status.h"
#include "commands/commands.h"
#include "commands/options.h"
#include "scratch_dir.h"

/* ---------------------------------------------------------------------------------------- */
/* Failing the Nth calloc of one process                                                    */

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

static pid_t g_fail_pid;   /* the process whose callocs are counted (0: none) */
static long g_fail_nth;    /* the call (1-based) that fails */
static long g_calls;

void *__wrap_calloc(size_t n, size_t size)
{
    /* Forked children inherit the counter but not the pid: only the armed process fails. */
    if (g_fail_pid && getpid() == g_fail_pid && ++g_calls == g_fail_nth) return NULL;
    return __real_calloc(n, size);
}

/* ---------------------------------------------------------------------------------------- */
/* The parser                                                                               */

static char g_err[4096];

static int g_usage_shown;
static void count_usage(FILE *out)
{
    (void)out;
    g_usage_shown++;
}

/* Runs rb_opts_parse on the NULL-terminated words (argv[0] = "cmd") with stderr sent to a
 * file; the message lands in g_err. */
static int parse(const rb_opt *opts, const char **pos, int max_pos, int *n_pos,
                 const char *const *words)
{
    char *argv[32];
    int argc = 0;
    for (; words[argc]; argc++) argv[argc] = (char *)words[argc];
    argv[argc] = NULL;
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    dup2(fileno(tmp), 2);
    int rc = rb_opts_parse("cmd", count_usage, argc, argv, opts, pos, max_pos, n_pos);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t len = fread(g_err, 1, sizeof g_err - 1, tmp);
    g_err[len] = '\0';
    fclose(tmp);
    return rc;
}

static const char *const COLOURS[] = { "red", "green", NULL };

typedef struct {
    const char *text;
    long n;
    double x;
    int flag, colour;
} parsed;

#define TABLE(p)                                                                                \
    const rb_opt opts[] = { RB_TEXT("text", &(p).text), RB_LONG("n", &(p).n, 1, 10),            \
                            RB_DOUBLE("x", &(p).x, 0.5, 2.0), RB_FLAG("flag", &(p).flag),       \
                            RB_CHOICE("colour", &(p).colour, COLOURS, "colour"), RB_OPTS_END }

Test(options, values_in_both_spellings_and_any_order)
{
    parsed p = { .n = 3 };
    TABLE(p);
    const char *pos[2];
    int n_pos = -1;
    const char *words[] = { "cmd", "a", "--text", "t", "--n=7", "--flag", "b", "--x", "1.5",
                            "--colour=green", NULL };
    cr_assert_eq(parse(opts, pos, 2, &n_pos, words), RB_OPTS_GO, "%s", g_err);
    cr_expect_str_eq(p.text, "t");
    cr_expect_eq(p.n, 7);
    cr_expect_float_eq(p.x, 1.5, 0);
    cr_expect_eq(p.flag, 1);
    cr_expect_eq(p.colour, 1);
    cr_assert_eq(n_pos, 2);
    cr_expect_str_eq(pos[0], "a");
    cr_expect_str_eq(pos[1], "b");
    cr_expect_str_eq(g_err, "");
}

Test(options, defaults_stay_and_help_stops_with_success)
{
    parsed p = { .n = 3, .x = 1 };
    TABLE(p);
    const char *none[] = { "cmd", NULL };
    cr_assert_eq(parse(opts, NULL, 0, NULL, none), RB_OPTS_GO);
    cr_expect_eq(p.n, 3);
    cr_expect_null(p.text);
    cr_expect_eq(g_usage_shown, 0);
    const char *help[] = { "cmd", "--n", "4", "--help", "--bogus", NULL };
    cr_expect_eq(parse(opts, NULL, 0, NULL, help), RB_EXIT_OK);
    const char *h[] = { "cmd", "-h", NULL };
    cr_expect_eq(parse(opts, NULL, 0, NULL, h), RB_EXIT_OK);
    cr_expect_eq(g_usage_shown, 2);
}

Test(options, usage_errors_exit_2_naming_the_flag_and_the_valid_choices)
{
    parsed p = { 0 };
    TABLE(p);
    struct {
        const char *words[6];
        const char *message;
    } cases[] = {
        { { "cmd", "--bogus", NULL },
          "revbench cmd: unknown option '--bogus'; valid: --text, --n, --x, --flag, --colour, "
          "--help\n" },
        { { "cmd", "-q", NULL }, "unknown option '-q'" },
        { { "cmd", "--n", NULL }, "revbench cmd: --n needs a value (see revbench cmd --help)\n" },
        { { "cmd", "--n", "11", NULL }, "--n expects a whole number in [1, 10], got '11'" },
        { { "cmd", "--n", "2x", NULL }, "--n expects a whole number in [1, 10], got '2x'" },
        { { "cmd", "--n=", NULL }, "--n expects a whole number in [1, 10], got ''" },
        { { "cmd", "--x", "nan", NULL }, "--x expects a number in [0.5, 2], got 'nan'" },
        { { "cmd", "--x", "0.25", NULL }, "--x expects a number in [0.5, 2], got '0.25'" },
        { { "cmd", "--colour", "blue", NULL }, "unknown colour 'blue'; valid: red, green" },
        { { "cmd", "--flag=1", NULL }, "--flag takes no value" },
        { { "cmd", "extra", NULL }, "unexpected argument 'extra' (see revbench cmd --help)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(parse(opts, NULL, 0, NULL, cases[i].words), RB_EXIT_USAGE, "case %zu", i);
        cr_expect_not_null(strstr(g_err, cases[i].message), "case %zu: '%s' not in '%s'", i,
                           cases[i].message, g_err);
    }
}

Test(options, double_dash_ends_the_options)
{
    parsed p = { 0 };
    TABLE(p);
    const char *pos[1];
    int n_pos = 0;
    const char *words[] = { "cmd", "--flag", "--", "--n", NULL };
    cr_assert_eq(parse(opts, pos, 1, &n_pos, words), RB_OPTS_GO, "%s", g_err);
    cr_expect_eq(p.flag, 1);
    cr_assert_eq(n_pos, 1);
    cr_expect_str_eq(pos[0], "--n");
}

/* ---------------------------------------------------------------------------------------- */
/* revbench run                                                                             */

/* One tiny training entry: a few steps of the smallest RevNet on a slice of Fashion-MNIST. */
static const char TINY[] =
    "[experiment]\nname = tiny\nkind = train\nschedule = test\n"
    "[train]\nsteps = 2\nbatch = 4\neval_every = 2\ntrain_subset = 16\ntest_subset = 8\n"
    "threads = 1\n"
    "[matrix]\narchs = revnet-basic-1\ndatasets = fashion-mnist\n";

static const char MEM[] =
    "[experiment]\nname = memtiny\nkind = mem\n[mem]\nsteps = 1\nbatch = 2\nthreads = 1\n"
    "[matrix]\narchs = revnet-basic-1\n";

/* Runs rb_cmd_run on FILE --db DB in a child whose stdout and stderr go to files in g_dir,
 * with the nth calloc of that child failing (0: none) and, with no_proc, an empty /proc.
 * argv is a heap array with nothing before argv[0], as a caller other than main may pass.
 * Returns the exit status, 200 + signal when the child died of one. */
/* In a child: file descriptors 1 and 2 into g_dir/stdout and g_dir/stderr (dup2 rather than
 * freopen, which would leave stderr fully buffered and lose what an _exit leaves in it). */
static int redirect_output(void)
{
    const char *names[] = { "stdout", "stderr" };
    for (int fd = 1; fd <= 2; fd++) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/%s", g_dir, names[fd - 1]);
        int f = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (f < 0 || dup2(f, fd) < 0) return -1;
        close(f);
    }
    return 0;
}

static int run_child(const char *file, const char *db, long nth, int no_proc)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (redirect_output()) _exit(99);
        if (no_proc && mount("none", "/proc", "tmpfs", 0, NULL) != 0) _exit(98);
        const char *words[] = { "run", file, "--db", db };
        char **argv = malloc(5 * sizeof *argv);
        for (int i = 0; i < 4; i++) argv[i] = strdup(words[i]);
        argv[4] = NULL;
        g_calls = 0;
        g_fail_nth = nth;
        g_fail_pid = nth ? getpid() : 0;
        int code = rb_cmd_run(4, argv);
        fflush(NULL);
        _exit(code);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
}

/* Number of finished runs in the database at path (0 when there is no such file). */
static int finished_runs(const char *path)
{
    sqlite3 *h;
    if (access(path, F_OK) != 0 || sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL))
        return 0;
    sqlite3_stmt *st;
    int n = 0;
    if (sqlite3_prepare_v2(h, "SELECT count(*) FROM runs WHERE status = 'finished'", -1, &st,
                           NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* The calls that fail are bounded: `run` makes a handful of callocs before its children
 * start, so a sweep to this many reaches one that leaves every call alone. */
#define MAX_CALLOC_SWEEP 64

/* SQLite's way of proving cleanup paths: fail the 1st, 2nd, ... calloc in turn. Whichever
 * fails, `run` either exits non-zero with a message, or exits 0 having run the entry. A failed
 * calloc of run's own tables once returned 0 with nothing run. */
Test(run, a_failed_calloc_never_reports_success, .init = scratch_dir_make,
     .fini = scratch_dir_remove, .timeout = 300)
{
    char ini[PATH_MAX + 16];
    snprintf(ini, sizeof ini, "%s/tiny.ini", g_dir);
    write_text(ini, TINY);
    long nth;
    for (nth = 1; nth <= MAX_CALLOC_SWEEP; nth++) {
        char db[PATH_MAX + 32];
        snprintf(db, sizeof db, "%s/r%ld.db", g_dir, nth);
        int code = run_child(ini, db, nth, 0);
        const char *err = read_output(path_in("stderr"));
        if (code == RB_EXIT_OK) {
            cr_assert_eq(finished_runs(db), 1, "calloc %ld failed: exit 0 but the entry did not "
                         "run; stderr: %s", nth, err);
            if (g_calls < nth) break; /* nothing failed: the sweep is complete */
            continue;
        }
        cr_assert(code < 200, "calloc %ld failed: killed by signal %d", nth, code - 200);
        cr_assert_neq(err[0], '\0', "calloc %ld failed: exit %d without a message", nth, code);
    }
    cr_expect_leq(nth, MAX_CALLOC_SWEEP, "every calloc up to %d failed the run", MAX_CALLOC_SWEEP);
}

/* `run` once fell back on argv[-1] for its own path when /proc could not tell it: outside the
 * array a caller passes. With an empty /proc (a private mount namespace) a memory entry fails
 * with a message instead, and nothing reads outside argv. */
Test(run, no_proc_fails_a_memory_entry_with_a_message, .init = scratch_dir_make,
     .fini = scratch_dir_remove, .timeout = 120)
{
    char ini[PATH_MAX + 16], db[PATH_MAX + 16];
    snprintf(ini, sizeof ini, "%s/mem.ini", g_dir);
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    write_text(ini, MEM);
    fflush(NULL);
    /* The namespace is made in a child so the test process keeps its /proc. */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0 && unshare(CLONE_NEWNS) != 0) _exit(97);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(97);
        _exit(run_child(ini, db, 0, 1));
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
    if (code == 97 || code == 98) cr_skip_test("no private mount namespace here (unshare/mount)");
    const char *err = read_output(path_in("stderr"));
    cr_assert_eq(code, RB_EXIT_FAIL, "exit %d; stderr: %s", code, err);
    cr_expect_not_null(strstr(err, "cannot run /proc/self/exe"), "%s", err);
}
