/*
 * test_report.c: `revbench run`, `revbench report` and the gnuplot scripts on a small database
 * filled by real short runs: two tiny networks trained for a few steps on Fashion-MNIST through
 * `revbench run` (so the runner, the trainer and the database meet for real), plus memory rows
 * for a depth sweep. Then: the report's files exist, unmeasured cells say "not run", every
 * gnuplot script runs without a word on stderr; and the same runs exported as reference
 * results are reported and drawn beside the database and alone, each saying which it shows.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "db/db_ext.h"
#include "reporting/report.h"
#include "scratch_dir.h"

static char dir[256], db_path[320];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/rv_test_report_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db_path, sizeof db_path, "%s/results.db", dir);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 20]; /* SVG figures run to a few hundred KB */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int exists(const char *d, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", d, name);
    struct stat sb;
    return stat(p, &sb) == 0 && sb.st_size > 0;
}

/* revnet-basic-2, not -1: it needs a reversible unit for the gradient angle to be positive
 * (the angle figure has a log axis and leaves out exact zeros). */
static const char TINY[] =
    "[experiment]\nname = tiny\nkind = train\nschedule = test\n"
    "[train]\nsteps = 6\nbatch = 8\neval_every = 3\ntrain_subset = 64\ntest_subset = 32\n"
    "angle_every = 2\nthreads = 1\ncheckpoint_every = 3\n"
    "[matrix]\npairs = resnet-basic-1:revnet-basic-2\ndatasets = fashion-mnist\n";

/* A mem-kind run as `revbench run` stores it, for one depth of a family. */
static void add_mem_run(rb_db *db, const char *arch, const char *mode, int n_layers,
                        double act_mib, double ms)
{
    rb_run_config c = { .arch = arch, .dataset = "random", .mode = mode, .device = "cpu",
                        .kind = "mem", .schedule = "mem", .experiment = "memory-depth",
                        .batch = 100, .steps = 3, .seed = 1, .threads = 1 };
    int64_t id;
    cr_assert_eq(rb_db_run_begin(db, &c, "cpu; OpenBLAS test", &id), 0, "%s", rb_db_message(db));
    int64_t act = (int64_t)(act_mib * 1048576);
    cr_assert_eq(rb_db_memory(db, id, "activation_peak", act, act), 0);
    cr_assert_eq(rb_db_memory(db, id, "activations", act, act), 0);
    cr_assert_eq(rb_db_memory(db, id, "params", 1 << 20, 1 << 20), 0);
    cr_assert_eq(rb_db_memory(db, id, "total_peak", act + (1 << 20), act + (1 << 20)), 0);
    cr_assert_eq(rb_db_metric(db, id, 3, "ms_per_step", ms), 0);
    cr_assert_eq(rb_db_record_arch(db, arch, "cifar10", 1000, n_layers), 0);
    cr_assert_eq(rb_db_run_end(db, id, "finished", NULL), 0);
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 120);

Test(report, real_runs_then_report_and_plots)
{
    /* 1. Real training through the runner, twice: the second finds both entries finished. */
    char ini[400];
    snprintf(ini, sizeof ini, "%s/tiny.ini", dir);
    write_text(ini, TINY);
    char p[600];
    snprintf(p, sizeof p, "%s/run1.txt", dir);
    int run_rc = sh("%s run %s --db %s --jobs 2 > %s 2>&1", RV_REVBENCH, ini, db_path, p);
    cr_assert_eq(run_rc, 0, "run failed: %s", slurp(p));
    cr_assert_eq(sh("%s run %s --db %s --dry-run > %s/dry.txt 2>&1", RV_REVBENCH, ini, db_path,
                    dir), 0);
    snprintf(p, sizeof p, "%s/dry.txt", dir);
    const char *dry = slurp(p);
    cr_expect(strstr(dry, "2 entries, 2 finished, 0 to do") != NULL, "%s", dry);
    /* A bad file is a usage error (status 2) naming the line. */
    snprintf(p, sizeof p, "%s/bad.ini", dir);
    write_text(p, "[experiment]\nname = x\nkind = train\n[matrix]\narchs = resnet-7\n");
    cr_expect_eq(sh("%s run %s --db %s --dry-run 2> %s/bad.txt", RV_REVBENCH, p, db_path, dir),
                 2);
    snprintf(p, sizeof p, "%s/bad.txt", dir);
    cr_expect(strstr(slurp(p), "bad.ini:5:") != NULL, "%s", slurp(p));

    /* 2. Memory rows for a depth sweep, as a memory-depth run stores them. */
    rb_db *db = NULL;
    char err[512];
    cr_assert_eq(rb_db_open(&db, db_path, err, sizeof err), 0, "%s", err);
    add_mem_run(db, "resnet-basic-3", "standard", 20, 300, 900);
    add_mem_run(db, "resnet-basic-6", "standard", 38, 580, 1700);
    add_mem_run(db, "revnet-basic-3", "reversible", 38, 60, 1500);
    add_mem_run(db, "revnet-basic-6", "reversible", 74, 61, 2900);
    sqlite3 *h = rb_db_handle(db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(h, "SELECT count(*) FROM runs WHERE kind = 'train' AND status = "
                       "'finished'", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_eq(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);

    /* 3. The report. */
    char out[400];
    snprintf(out, sizeof out, "%s/paper", dir);
    cr_assert_eq(rb_report_write(db, 1, db_path, out, 1), 0);
    rb_db_close(db);
    const char *tables[] = { "params", "cifar", "imagenet", "complexity", "memory" };
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "tables/%s.md", tables[i]);
        cr_expect(exists(out, name), "%s", name);
        snprintf(name, sizeof name, "tables/%s.tex", tables[i]);
        cr_expect(exists(out, name), "%s", name);
    }
    snprintf(p, sizeof p, "%s/REPORT.md", out);
    const char *md = slurp(p);
    cr_assert_not_null(md);
    /* Our parameter count of ResNet-32 is built, not copied: it appears twice on its row. */
    cr_expect(strstr(md, "| resnet-32 | cifar10 | 0.46M | 464154 | 464154 |") != NULL);
    /* No CIFAR run was made: the CIFAR cells say so. */
    cr_expect(strstr(md, "| 7.14 | 7.26 | not run | - |") != NULL);
    /* The depth fit: ResNet memory grows (exponent near 1), RevNet memory is flat. */
    cr_expect(strstr(md, "| naive backprop (ResNet) | O(L) | O(L) | 0.9") != NULL ||
              strstr(md, "| naive backprop (ResNet) | O(L) | O(L) | 1.0") != NULL, "%s", md);
    cr_expect(strstr(md, "| reversible (RevNet) | O(1) | O(L) | 0.0") != NULL, "%s", md);

    /* 4. Every figure with data is drawn, the others skipped; gnuplot says nothing on stderr. */
    char figs[600];
    snprintf(figs, sizeof figs, "%s/figures", out);
    int rc = sh("cd %s && plots/make-plots.sh %s %s > %s/plots.txt 2> %s/plots.err",
                RV_SOURCE_DIR, db_path, figs, dir, dir);
    snprintf(p, sizeof p, "%s/plots.err", dir);
    char *errs = slurp(p);
    cr_expect_eq(rc, 0, "make-plots failed: %s", errs);
    cr_expect_str_empty(errs, "stderr: %s", errs);
    snprintf(p, sizeof p, "%s/plots.txt", dir);
    const char *log = slurp(p);
    const char *drawn[] = { "curves-tiny-fashion-mnist", "grad-angle", "memory-depth",
                            "time-depth", "memory-breakdown" };
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.png", drawn[i]);
        cr_expect(exists(figs, name), "%s missing; log: %s", name, log);
        snprintf(name, sizeof name, "%s.svg", drawn[i]);
        cr_expect(exists(figs, name), "%s missing", name);
    }
    cr_expect(strstr(log, "skipped cpu-gpu:") != NULL, "%s", log);
    cr_expect(!exists(figs, "cpu-gpu.png"));

    /* 5. The same runs exported as reference results, then reported and drawn beside a
     *    database of one's own (here the same runs, so every difference is zero) and alone. */
    char ref[400];
    snprintf(ref, sizeof ref, "%s/ref", dir);
    cr_assert_eq(sh("%s export --db %s --out %s > /dev/null", RV_REVBENCH, db_path, ref), 0);
    cr_assert_eq(sh("%s report --db %s --against %s --out %s/both --no-build > /dev/null",
                    RV_REVBENCH, db_path, ref, dir), 0);
    snprintf(p, sizeof p, "%s/both/REPORT.md", dir);
    md = slurp(p);
    cr_expect(strstr(md, "Measured memory and time per training step, per architecture and "
                     "device (revbench mem) (reference results beside yours)") != NULL, "%s", md);
    cr_expect(strstr(md, "| activation peak reference (MiB) | activation peak yours (MiB) | "
                     "yours - reference |") != NULL, "%s", md);
    cr_expect(strstr(md, "| revnet-basic-3 | reversible | cpu | 100 | 38 | - | 60.0 | 60.0 | "
                     "+0.0 |") != NULL, "%s", md);
    cr_expect(strstr(md, "| reference | 2 | cpu |") != NULL, "machines table: %s", md);
    cr_expect(strstr(md, "| yours | 2 | cpu |") != NULL, "machines table: %s", md);
    cr_assert_eq(sh("%s report --db %s/none.db --against %s --out %s/alone --no-build "
                    "> /dev/null 2> %s/alone.err", RV_REVBENCH, dir, ref, dir, dir), 0);
    snprintf(p, sizeof p, "%s/alone/REPORT.md", dir);
    md = slurp(p);
    cr_expect(strstr(md, "no results database of your own") != NULL, "%s", md);
    cr_expect(strstr(md, "(revbench mem) (reference results)**") != NULL, "%s", md);
    cr_expect(strstr(md, "yours") == NULL, "%s", md);
    cr_expect(strstr(md, "| reference | reference - paper |") != NULL, "%s", md);
    /* Without --against, a missing database is still an error. */
    cr_expect_eq(sh("%s report --db %s/none.db --out %s/x 2> /dev/null", RV_REVBENCH, dir, dir),
                 1);

    /* Figures: yours over the reference, and the reference alone, each saying so. */
    rc = sh("cd %s && REVBENCH=%s plots/make-plots.sh --against %s %s %s/figs2 > %s/plots2.txt "
            "2> %s/plots2.err", RV_SOURCE_DIR, RV_REVBENCH, ref, db_path, dir, dir, dir);
    snprintf(p, sizeof p, "%s/plots2.err", dir);
    errs = slurp(p);
    cr_expect_eq(rc, 0, "make-plots --against failed: %s", errs);
    cr_expect_str_empty(errs, "stderr: %s", errs);
    snprintf(p, sizeof p, "%s/figs2/memory-depth.svg", dir);
    const char *svg = slurp(p);
    cr_expect(svg && strstr(svg, "Activation memory against depth (yours over the reference "
                            "results)") != NULL, "memory-depth.svg has no such title");
    cr_expect(svg && strstr(svg, "ref:revnet-basic:reversible:cpu") != NULL,
              "memory-depth.svg has no reference series");
    snprintf(p, sizeof p, "%s/figs2/curves-tiny-fashion-mnist.svg", dir);
    svg = slurp(p);
    cr_expect(svg && strstr(svg, "ref:resnet-basic-1:test") != NULL,
              "the curves have no reference series");
    rc = sh("cd %s && REVBENCH=%s plots/make-plots.sh --against %s %s/none.db %s/figs3 "
            "> /dev/null 2> %s/plots3.err", RV_SOURCE_DIR, RV_REVBENCH, ref, dir, dir, dir);
    cr_expect_eq(rc, 0, "make-plots of the reference alone failed");
    snprintf(p, sizeof p, "%s/figs3/grad-angle.svg", dir);
    svg = slurp(p);
    cr_expect(svg && strstr(svg, "(reference results)") != NULL,
              "grad-angle.svg does not say it shows the reference results");
}

Test(report, read_only_database_still_reports)
{
    rb_db *db = NULL;
    char err[512];
    cr_assert_eq(rb_db_open(&db, db_path, err, sizeof err), 0, "%s", err);
    rb_db_close(db);
    cr_assert_eq(rb_db_open_readonly(&db, db_path, err, sizeof err), 0, "%s", err);
    char out[400];
    snprintf(out, sizeof out, "%s/paper", dir);
    cr_assert_eq(rb_report_write(db, 0, db_path, out, 0), 0);
    rb_db_close(db);
    char p[500];
    snprintf(p, sizeof p, "%s/REPORT.md", out);
    const char *md = slurp(p);
    cr_assert_not_null(md);
    /* Without building, and with nothing recorded, even our parameter counts are "not run". */
    cr_expect(strstr(md, "| resnet-32 | cifar10 | 0.46M | 464154 | not run | - |") != NULL, "%s",
              md);
    cr_expect(strstr(md, "0 runs, 0 finished") != NULL);
}

static const char MEMS[] =
    "[experiment]\nname = memtiny\nkind = mem\n[mem]\nsteps = 2\nbatch = 4\nthreads = 1\n"
    "[matrix]\nfamilies = resnet-basic revnet-basic\nunits = 1 2 3\n"
    "modes = standard checkpoint reversible\n";

Test(report, two_runs_of_one_file_never_run_an_entry_twice)
{
    char ini[400];
    snprintf(ini, sizeof ini, "%s/mem.ini", dir);
    write_text(ini, MEMS);
    /* Create the database first so that both start from the same file. */
    rb_db *db = NULL;
    char err[512];
    cr_assert_eq(rb_db_open(&db, db_path, err, sizeof err), 0, "%s", err);
    rb_db_close(db);
    int rc = sh("(%s run %s --db %s > %s/a.txt 2>&1 & %s run %s --db %s --jobs 2 > %s/b.txt "
                "2>&1; b=$?; wait $!; a=$?; test $a -eq 0 && test $b -eq 0)",
                RV_REVBENCH, ini, db_path, dir, RV_REVBENCH, ini, db_path, dir);
    cr_expect_eq(rc, 0, "one of the two runs failed");
    cr_assert_eq(rb_db_open(&db, db_path, err, sizeof err), 0, "%s", err);
    sqlite3_stmt *st;
    sqlite3 *h = rb_db_handle(db);
    /* 3 depths x (ResNet standard + checkpoint, RevNet standard + reversible) = 12 entries,
     * each run exactly once and finished. */
    sqlite3_prepare_v2(h, "SELECT count(*), count(DISTINCT config_key), sum(status = 'finished') "
                       "FROM runs WHERE kind = 'mem'", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_eq(sqlite3_column_int(st, 0), 12);
    cr_expect_eq(sqlite3_column_int(st, 1), 12);
    cr_expect_eq(sqlite3_column_int(st, 2), 12);
    sqlite3_finalize(st);
    /* The memory rows of a reversible RevNet: activation peak flat in depth. */
    sqlite3_prepare_v2(h, "SELECT count(DISTINCT activation_peak_mib) FROM v_memory WHERE arch "
                       "LIKE 'revnet-basic-%' AND mode = 'reversible'", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_eq(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    rb_db_close(db);
}
