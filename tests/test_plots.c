/*
 * test_plots.c: plots/make-plots.sh on databases that hold what real use puts there: a run
 * evaluated once (eval_every = 0), an experiment named with an apostrophe, runs of plain
 * `revbench train` (no experiment), and a database in a read-only folder. Each must give its
 * figure in both formats and exit 0 with nothing on stderr. The rows are written through the
 * database API (no training: the script only reads them), so each case takes well under a
 * second besides gnuplot.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "scratch_dir.h"

static char dir[256], db_path[320], figs[320];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/rv_test_plots_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db_path, sizeof db_path, "%s/results.db", dir);
    snprintf(figs, sizeof figs, "%s/figures", dir);
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'; rm -rf '%s'", dir, dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(plots, .init = setup, .fini = teardown, .timeout = 120);

static char *slurp(const char *name)
{
    static char buf[1 << 16];
    char p[800];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    buf[0] = '\0';
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Whether figs/NAME.png and figs/NAME.svg both exist and are not empty. */
static int figure_exists(const char *name)
{
    const char *ext[] = { "png", "svg" };
    for (int i = 0; i < 2; i++) {
        char p[800];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s.%s", figs, name, ext[i]);
        if (stat(p, &sb) != 0 || sb.st_size == 0) return 0;
    }
    return 1;
}

/* A finished training run of arch in experiment exp ("" for plain `revbench train`) with the
 * four curves logged at the n steps given. */
static void add_train_run(rb_db *db, const char *arch, const char *exp, const long *steps,
                          int n)
{
    rb_run_config c = { .arch = arch, .dataset = "fashion-mnist", .mode = "standard",
                        .device = "cpu", .kind = "train", .schedule = "custom",
                        .experiment = exp, .batch = 16, .steps = steps[n - 1], .seed = 1,
                        .eval_every = n == 1 ? 0 : steps[0], .threads = 1 };
    int64_t id;
    cr_assert_eq(rb_db_run_begin(db, &c, "cpu; test", &id), 0, "%s", rb_db_message(db));
    for (int i = 0; i < n; i++) {
        cr_assert_eq(rb_db_metric(db, id, steps[i], "train_loss", 2.3 - 0.1 * i), 0);
        cr_assert_eq(rb_db_metric(db, id, steps[i], "test_loss", 2.4 - 0.1 * i), 0);
        cr_assert_eq(rb_db_metric(db, id, steps[i], "train_error", 80.0 - i), 0);
        cr_assert_eq(rb_db_metric(db, id, steps[i], "test_error", 85.0 - i), 0);
    }
    cr_assert_eq(rb_db_run_end(db, id, "finished", NULL), 0);
}

static rb_db *open_db(void)
{
    rb_db *db = NULL;
    char err[512];
    cr_assert_eq(rb_db_open(&db, db_path, err, sizeof err), 0, "%s", err);
    return db;
}

/* Runs make-plots.sh on the database; as user `as` ("" for the current one). Returns its exit
 * status; its stdout and stderr are in dir/plots.out and dir/plots.err. */
static int make_plots(const char *as)
{
    return sh("cd %s && %s plots/make-plots.sh %s %s > %s/plots.out 2> %s/plots.err",
              RV_SOURCE_DIR, as, db_path, figs, dir, dir);
}

static void expect_clean_run(int rc)
{
    const char *err = slurp("plots.err");
    cr_expect_eq(rc, 0, "make-plots exited %d: %s", rc, err);
    cr_expect_eq(err[0], '\0', "make-plots wrote on stderr: %s", err);
}

/* eval_every = 0: each curve is one point, at the last step. gnuplot warned "empty x range",
 * the script exited non-zero and left the PNG without its SVG. */
Test(plots, a_run_evaluated_once_is_drawn)
{
    rb_db *db = open_db();
    const long once[] = { 40 };
    add_train_run(db, "resnet-basic-1", "once", once, 1);
    rb_db_close(db);
    expect_clean_run(make_plots(""));
    cr_expect(figure_exists("curves-once-fashion-mnist"), "%s", slurp("plots.out"));
}

/* A name with an apostrophe was pasted into the SQL: a syntax error, no figure, exit 0. */
Test(plots, an_experiment_named_with_an_apostrophe_is_drawn)
{
    rb_db *db = open_db();
    const long steps[] = { 10, 20, 30 };
    add_train_run(db, "resnet-basic-1", "bob's-sweep", steps, 3);
    add_train_run(db, "revnet-basic-2", "bob's-sweep", steps, 3);
    rb_db_close(db);
    expect_clean_run(make_plots(""));
    /* The file name keeps to safe characters; the title keeps the name. */
    cr_expect(figure_exists("curves-bob_s-sweep-fashion-mnist"), "%s", slurp("plots.out"));
    char p[600];
    snprintf(p, sizeof p, "figures/curves-bob_s-sweep-fashion-mnist.svg");
    cr_expect(strstr(slurp(p), "bob's-sweep on fashion-mnist") != NULL ||
                  strstr(slurp(p), "bob&apos;s-sweep on fashion-mnist") != NULL ||
                  strstr(slurp(p), "bob&#39;s-sweep on fashion-mnist") != NULL,
              "the SVG's title does not name the experiment");
}

/* Runs of plain `revbench train` have experiment '': they were skipped with "no logged losses
 * and errors for  on ". */
Test(plots, runs_of_plain_train_are_drawn)
{
    rb_db *db = open_db();
    const long steps[] = { 5, 10 };
    add_train_run(db, "resnet-basic-1", "", steps, 2);
    rb_db_close(db);
    expect_clean_run(make_plots(""));
    cr_expect(figure_exists("curves-direct-fashion-mnist"), "%s", slurp("plots.out"));
    cr_expect(strstr(slurp("plots.out"), "skipped curves-direct") == NULL, "%s",
              slurp("plots.out"));
}

/* A database in a read-only folder ("unable to open database file", where revbench report
 * reads it). Root writes anywhere, so as root the script runs as nobody. */
Test(plots, a_read_only_database_is_drawn)
{
    rb_db *db = open_db();
    const long steps[] = { 5, 10 };
    add_train_run(db, "resnet-basic-1", "ro", steps, 2);
    rb_db_close(db);
    const char *as = "";
    if (geteuid() == 0) {
        if (access("/usr/bin/setpriv", X_OK) != 0)
            cr_skip_test("running as root without setpriv: cannot make the database read-only");
        as = "setpriv --reuid=65534 --regid=65534 --clear-groups";
    }
    /* The folder and the file read-only; the figures go to a folder anyone can write. */
    cr_assert_eq(sh("mkdir -p %s && chmod 0777 %s && chmod 0444 %s && chmod 0555 %s", figs,
                    figs, db_path, dir), 0);
    if (*as) {
        int probe = sh("%s sh -c 'touch %s/probe' 2>/dev/null", as, dir);
        cr_assert_neq(probe, 0, "the folder is still writable for the unprivileged user");
    }
    expect_clean_run(make_plots(as));
    cr_expect(figure_exists("curves-ro-fashion-mnist"), "%s", slurp("plots.out"));
}
