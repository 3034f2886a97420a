/*
 * report.c: the reproduction's tables (report.h): where the results were measured, parameter
 * counts, the CIFAR and ImageNet tables, each cell the paper's value beside the reference
 * results and/or yours with the difference, in Markdown and LaTeX. The memory and complexity
 * tables are in report_memory.c, the query and cell helpers all tables share in report_format.c.
 *
 * Owns: nothing beyond one call (tables are freed before returning).
 */
#include "reporting/report.h"
#include "reporting/report_format.h"
#include "reporting/report_memory.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db_ext.h"
#include <revnet/data.h>
#include <revnet/model.h>

/* ---------------------------------------------------------------- machines */

static int table_machines(const rb_report_ctx *c, const char *out, FILE *md)
{
    static const char *const H[] = { "results", "runs", "device", "CPU", "ISA", "CPUs",
                                     "threads", "BLAS", "software", "commit",
                                     "load at start .. end", "measured (UTC)" };
    rb_table t;
    rb_table_init(&t, "machines", 12, H, "Where the results were measured: machine, libraries, "
                  "commit and load%s", c->suffix);
    int n_rows = 0;
    for (int s = 0; s < c->n; s++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(
                c->src[s].h,
                "SELECT count(*), device, coalesce(cpu_model, '-'), coalesce(isa, '-'),"
                " coalesce(n_cpus, '-'), threads, coalesce(replace(blas, 'OpenBLAS OpenBLAS',"
                " 'OpenBLAS'), '-'), coalesce(software, '-'), coalesce(git_rev, '-'),"
                " min(load_start), max(load_end), substr(min(started_at), 1, 10),"
                " substr(max(ended_at), 1, 10)"
                " FROM v_latest_runs WHERE status = 'finished'"
                " GROUP BY device, cpu_model, isa, n_cpus, threads, blas, software, git_rev"
                " ORDER BY min(id)",
                -1, &st, NULL) != SQLITE_OK)
            continue;
        while (sqlite3_step(st) == SQLITE_ROW) {
            char cells[12][256];
            snprintf(cells[0], 256, "%s", c->src[s].label);
            for (int k = 0; k < 9; k++)
                snprintf(cells[1 + k], 256, "%s", (const char *)sqlite3_column_text(st, k));
            if (sqlite3_column_type(st, 9) == SQLITE_NULL) snprintf(cells[10], 256, "-");
            else snprintf(cells[10], 256, "%.1f .. %.1f", sqlite3_column_double(st, 9),
                          sqlite3_column_double(st, 10));
            snprintf(cells[11], 256, "%s .. %s", (const char *)sqlite3_column_text(st, 11),
                     (const char *)sqlite3_column_text(st, 12));
            rb_table_row_cells(&t, cells[0], sizeof cells[0]);
            n_rows++;
        }
        sqlite3_finalize(st);
    }
    if (!n_rows) {
        const char *row[12] = { NOT_RUN, "0" }; /* the other cells empty */
        rb_table_row(&t, row);
    }
    return rb_table_finish(
        &t, out, md,
        "Load: the lowest 1-minute load average when a run started and the highest when one "
        "ended; above the CPU count, the runs shared the CPUs with other work and their step "
        "times are noisy (memory is exact whatever the load). A commit ending in -dirty had "
        "uncommitted changes. One row per distinct machine and software.");
}

/* ---------------------------------------------------------------- parameters */

/* The networks of the paper's matched pairs, as the pairs table holds them (seeded from
 * paper_numbers.c), in the paper's order: the ResNet, then the RevNet of each pair; only the
 * pairs of one domain ("cifar", "imagenet") when domain is not NULL. */
#define MAX_NETS 16
typedef struct {
    char pair[48], arch[32];
    int revnet; /* 0: the pair's ResNet, 1: its RevNet */
    int imagenet;
} paper_net;

static int load_nets(sqlite3 *h, paper_net *out, const char *domain)
{
    sqlite3_stmt *st = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(h, "SELECT pair, resnet, revnet, domain = 'imagenet' FROM pairs "
                           "WHERE ?1 IS NULL OR domain = ?1 ORDER BY ord", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) == SQLITE_OK)
        while (n + 2 <= MAX_NETS && sqlite3_step(st) == SQLITE_ROW)
            for (int k = 0; k < 2; k++, n++) {
                snprintf(out[n].pair, sizeof out[n].pair, "%s", sqlite3_column_text(st, 0));
                snprintf(out[n].arch, sizeof out[n].arch, "%s", sqlite3_column_text(st, 1 + k));
                out[n].revnet = k;
                out[n].imagenet = sqlite3_column_int(st, 3);
            }
    sqlite3_finalize(st);
    return n;
}

/* Our parameter count: built now (and recorded in record, if set) or read from the archs
 * table of read. */
static double our_params(rb_db *record, sqlite3 *read, const char *arch, const char *dataset,
                         int build, char *why, size_t why_len)
{
    if (!build)
        return rb_query_num(read, "SELECT n_params FROM archs WHERE name = ? AND dataset = ?",
                            arch, dataset, NULL, NULL);
    rv_ctx *ctx = NULL;
    rv_model *m = NULL;
    double v = NAN;
    rv_ctx_options opt = rv_ctx_default_options();
    opt.n_threads = 1;
    if (rv_ctx_create(&ctx, &opt, why, why_len) != RV_OK) return NAN;
    rv_arch a;
    /* "imagenet" is the archs table's label for the ImageNet networks, not a loadable set. */
    int classes = rv_data_n_classes(dataset);
    if (!classes) classes = !strcmp(dataset, "imagenet") ? 1000 : 10;
    rv_model_options mo = { .n_classes = classes, .batch = 1, .seed = 1, .plan_only = 1 };
    if (rv_arch_parse(arch, &a, why, why_len) != RV_OK) {
        /* why holds the parser's message */
    } else if (rv_model_create(ctx, &a, &mo, &m) != RV_OK) {
        snprintf(why, why_len, "%s", rv_ctx_message(ctx));
    } else {
        v = (double)rv_model_n_params(m);
        if (record) rb_db_record_arch(record, arch, dataset, (int64_t)v, rv_model_n_layers(m));
    }
    rv_model_destroy(m);
    rv_ctx_destroy(ctx);
    return v;
}

static int table_params(const rb_report_ctx *c, rb_db *record, sqlite3 *read, int build,
                        const char *out, FILE *md)
{
    static const char *const H[] = { "architecture", "dataset", "paper (printed)",
                                     "official code", "ours", "ours - official" };
    rb_table t;
    rb_table_init(&t, "params", 6, H, "Parameters: the paper's table, the official code's count "
                  "and ours (counted by building each network)");
    paper_net nets[MAX_NETS];
    int n_nets = load_nets(c->paper, nets, NULL);
    for (int i = 0; i < n_nets; i++) {
        const char *arch = nets[i].arch;
        int imagenet = nets[i].imagenet;
        for (int d = 0; d < (imagenet ? 1 : 2); d++) {
            const char *ds = imagenet ? "imagenet" : d ? "cifar100" : "cifar10";
            const char *q = "SELECT value FROM paper WHERE tbl = 'params' AND arch = ? AND "
                            "dataset = ? AND quantity = ?";
            double printed = rb_query_num(c->paper, q, arch, ds, "params_paper", NULL);
            double counted = rb_query_num(c->paper, q, arch, ds, "params_counted",
                                          NULL);
            char why[256] = "";
            double ours = our_params(record, read, arch, ds, build, why, sizeof why);
            char c2[32], c3[32], c4[64], c5[32];
            if (isnan(printed)) snprintf(c2, sizeof c2, "-");
            else snprintf(c2, sizeof c2, "%.2fM", printed / 1e6);
            rb_fmt(c3, sizeof c3, "%.0f", counted);
            rb_fmt(c4, sizeof c4, "%.0f", ours);
            rb_fmt_diff(c5, sizeof c5, "%+.0f", ours, counted);
            const char *row[] = { arch, ds, c2, c3, c4, c5 };
            rb_table_row(&t, row);
        }
    }
    return rb_table_finish(&t, out, md, "Parameters are conv kernels, batch-norm scale and "
                           "shift, and the FC weight and bias (PAPER.md). \"not run\": the network "
                           "could not be built here%s.",
                           build ? "" : " (report --no-build reads the archs table only)");
}

/* ---------------------------------------------------------------- CIFAR */

#define MAX_SCHED 6

typedef struct {
    char schedule[32], device[16];
} sched_dev;

/* The paper schedule first, then the others alphabetically. */
static int sched_cmp(const void *pa, const void *pb)
{
    const sched_dev *a = pa, *b = pb;
    int pa_ = strcmp(a->schedule, "paper") != 0, pb_ = strcmp(b->schedule, "paper") != 0;
    if (pa_ != pb_) return pa_ - pb_;
    int d = strcmp(a->schedule, b->schedule);
    return d ? d : strcmp(a->device, b->device);
}

/* Adds the (schedule, device) columns that h has CIFAR results for. */
static int add_schedules(sqlite3 *h, sched_dev *sd, int n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h,
                           "SELECT DISTINCT schedule, device FROM v_train_results WHERE dataset "
                           "IN ('cifar10', 'cifar100')",
                           -1, &st, NULL) != SQLITE_OK)
        return n;
    while (n < MAX_SCHED && sqlite3_step(st) == SQLITE_ROW) {
        sched_dev x;
        snprintf(x.schedule, sizeof x.schedule, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(x.device, sizeof x.device, "%s", (const char *)sqlite3_column_text(st, 1));
        int dup = 0;
        for (int i = 0; i < n && !dup; i++) dup = !sched_cmp(&sd[i], &x);
        if (!dup) sd[n++] = x;
    }
    sqlite3_finalize(st);
    return n;
}

static int table_cifar(const rb_report_ctx *c, const char *out, FILE *md)
{
    sched_dev sd[MAX_SCHED];
    int n_sd = 0;
    for (int s = 0; s < c->n; s++) n_sd = add_schedules(c->src[s].h, sd, n_sd);
    qsort(sd, (size_t)n_sd, sizeof *sd, sched_cmp);
    /* Per schedule: one source gives its error and the difference to the paper; two give
     * the reference's, yours, and yours minus the reference's. */
    int per = c->n == 2 ? 3 : 2, n_groups = n_sd ? n_sd : 1;
    int n_cols = 5 + per * n_groups;
    const char *header[5 + 3 * MAX_SCHED] = { "pair", "dataset", "network", "paper",
                                              "MemCNN re-run" };
    char names[3 * MAX_SCHED][96];
    for (int k = 0; k < n_groups; k++) {
        char where[64] = "";
        if (n_sd) snprintf(where, sizeof where, " (%.31s, %.15s)", sd[k].schedule, sd[k].device);
        for (int s = 0; s < c->n; s++)
            snprintf(names[per * k + s], 96, "%s%s", c->src[s].label, where);
        if (c->n == 2) snprintf(names[per * k + 2], 96, "yours - reference");
        else snprintf(names[per * k + 1], 96, "%s - paper", c->src[0].label);
        for (int j = 0; j < per; j++) header[5 + per * k + j] = names[per * k + j];
    }
    rb_table t;
    rb_table_init(&t, "cifar", n_cols, header, "Top-1 test error (%%) on CIFAR-10 and CIFAR-100, "
                  "the paper beside the measured errors%s", c->suffix);
    paper_net nets[MAX_NETS];
    int n_nets = load_nets(c->paper, nets, "cifar");
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < n_nets; i++) {
            const char *ds = d ? "cifar100" : "cifar10", *arch = nets[i].arch;
            double paper = rb_query_num(c->paper, "SELECT value FROM paper WHERE tbl = "
                                        "'cifar' AND arch = ? AND dataset = ? AND quantity "
                                        "= 'test_error'", arch, ds, NULL, NULL);
            double memcnn = rb_query_num(c->paper, "SELECT value FROM paper WHERE tbl = "
                                         "'memcnn' AND arch = ? AND dataset = ? AND "
                                         "quantity = 'test_error'", arch, ds, NULL, NULL);
            char cells[5 + 3 * MAX_SCHED][64];
            snprintf(cells[0], 64, "%.47s", nets[i].revnet ? "" : nets[i].pair);
            snprintf(cells[1], 64, "%s", ds);
            snprintf(cells[2], 64, "%s", arch);
            rb_fmt(cells[3], 64, "%.2f", paper);
            rb_fmt(cells[4], 64, "%.2f", memcnn);
            for (int k = 0; k < n_groups; k++) {
                double v[RB_MAX_SOURCES];
                for (int s = 0; s < c->n; s++) {
                    v[s] = n_sd ? rb_query_num(c->src[s].h, "SELECT test_error FROM "
                                               "v_train_results WHERE arch = ? AND dataset "
                                               "= ? AND schedule = ? AND device = ?", arch,
                                               ds, sd[k].schedule, sd[k].device)
                                : NAN;
                    rb_fmt(cells[5 + per * k + s], 64, "%.2f", v[s]);
                }
                if (c->n == 2) rb_fmt_diff(cells[5 + per * k + 2], 64, "%+.2f", v[1], v[0]);
                else rb_fmt_diff(cells[5 + per * k + 1], 64, "%+.2f", v[0], paper);
            }
            rb_table_row_cells(&t, cells[0], sizeof cells[0]);
        }
    return rb_table_finish(
        &t, out, md,
        "Paper: the RevNet paper's CIFAR table (recalled, PAPER.md). MemCNN: an independent "
        "re-run of the official code (100 - reported accuracy). Measured: mean final test error "
        "over the seeds of the newest finished run of each configuration; the schedule named in "
        "each column (experiments/cifar-SCHEDULE.ini); a short schedule is not expected to reach "
        "the paper's error.");
}

/* ---------------------------------------------------------------- ImageNet */

/* The newest finished mem run of arch in mode on any device: activation MiB, ms, batch. */
static int mem_lookup(sqlite3 *h, const char *arch, const char *mode, double *act_mib,
                      double *ms, int *batch, char *device, size_t dev_len)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    *act_mib = *ms = NAN;
    if (sqlite3_prepare_v2(h,
                           "SELECT activation_peak_mib, ms_per_step, batch, device FROM v_memory "
                           "WHERE arch = ? AND mode = ? ORDER BY run_id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, arch, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, mode, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *act_mib = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
        *ms = sqlite3_column_type(st, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 1);
        *batch = sqlite3_column_int(st, 2);
        snprintf(device, dev_len, "%s", (const char *)sqlite3_column_text(st, 3));
        found = 1;
    }
    sqlite3_finalize(st);
    return found;
}

static int table_imagenet(const rb_report_ctx *c, const char *out, FILE *md)
{
    const char *header[4 + 3 * RB_MAX_SOURCES] = { "network", "top-1 error paper (%)",
                                                   "params official", "params ours" };
    static const char *const PER[] = { "activation peak %s (MiB)", "ms/step %s",
                                       "measured on (%s)" };
    char names[3 * RB_MAX_SOURCES][64];
    for (int s = 0; s < c->n; s++)
        for (int k = 0; k < 3; k++) {
            snprintf(names[3 * s + k], 64, PER[k], c->src[s].label);
            header[4 + 3 * s + k] = names[3 * s + k];
        }
    int n_cols = 4 + 3 * c->n;
    rb_table t;
    rb_table_init(&t, "imagenet", n_cols, header, "ImageNet pair: the paper's error and the "
                  "measured memory and time per training step at 224x224%s", c->suffix);
    paper_net nets[MAX_NETS];
    int n_nets = load_nets(c->paper, nets, "imagenet");
    for (int i = 0; i < n_nets; i++) {
        const char *arch = nets[i].arch;
        const char *mode =
            rv_backward_mode_name(nets[i].revnet ? RV_BACKWARD_REVERSIBLE : RV_BACKWARD_STANDARD);
        double err = rb_query_num(c->paper, "SELECT value FROM paper WHERE tbl = 'imagenet' AND "
                                  "arch = ?", arch, NULL, NULL, NULL);
        double counted = rb_query_num(c->paper, "SELECT value FROM paper WHERE tbl = 'params' "
                                      "AND arch = ? AND quantity = 'params_counted'", arch,
                                      NULL, NULL, NULL);
        double ours_p = NAN;
        for (int s = c->n - 1; s >= 0 && isnan(ours_p); s--)
            ours_p = rb_query_num(c->src[s].h, "SELECT n_params FROM archs WHERE name = ? AND "
                                  "dataset = 'imagenet'", arch, NULL, NULL, NULL);
        char cells[4 + 3 * RB_MAX_SOURCES][64];
        snprintf(cells[0], 64, "%s (%s)", arch, mode);
        rb_fmt(cells[1], 64, "%.2f", err);
        rb_fmt(cells[2], 64, "%.0f", counted);
        rb_fmt(cells[3], 64, "%.0f", ours_p);
        for (int s = 0; s < c->n; s++) {
            double act, ms;
            int batch = 0;
            char dev[16] = "";
            int have = mem_lookup(c->src[s].h, arch, mode, &act, &ms, &batch, dev, sizeof dev);
            rb_fmt(cells[4 + 3 * s], 64, "%.1f", act);
            rb_fmt(cells[5 + 3 * s], 64, "%.0f", ms);
            if (have) snprintf(cells[6 + 3 * s], 64, "%s, batch %d", dev, batch);
            else snprintf(cells[6 + 3 * s], 64, NOT_RUN);
        }
        rb_table_row_cells(&t, cells[0], sizeof cells[0]);
    }
    return rb_table_finish(&t, out, md, "Memory and time from experiments/imagenet-memory.ini "
                           "(revbench mem on random 224x224 data); there is no ImageNet "
                           "training here, so no measured top-1 error.");
}

/* ---------------------------------------------------------------- figures */

static void link_figure(FILE *md, const char *out, const char *file, const char *title)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/figures/%s", out, file);
    struct stat sb;
    if (stat(path, &sb) == 0) fprintf(md, "- %s: ![%s](figures/%s)\n", title, title, file);
    else fprintf(md, "- %s: not generated (no data yet; `make plots` after the runs)\n", title);
}

static int png_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && !strcmp(d->d_name + n - 4, ".png");
}

/* The paper's figures by name (present or not), then any other figure make-plots drew. */
static void link_figures(FILE *md, const char *out)
{
    static const char *const KNOWN[][2] = {
        { "curves-resnet-32-revnet-38-cifar10.png", "Training curves, ResNet-32 / RevNet-38, CIFAR-10" },
        { "curves-resnet-32-revnet-38-cifar100.png", "Training curves, ResNet-32 / RevNet-38, CIFAR-100" },
        { "curves-resnet-110-revnet-110-cifar10.png", "Training curves, ResNet-110 / RevNet-110, CIFAR-10" },
        { "curves-resnet-110-revnet-110-cifar100.png", "Training curves, ResNet-110 / RevNet-110, CIFAR-100" },
        { "curves-resnet-164-revnet-164-cifar10.png", "Training curves, ResNet-164 / RevNet-164, CIFAR-10" },
        { "curves-resnet-164-revnet-164-cifar100.png", "Training curves, ResNet-164 / RevNet-164, CIFAR-100" },
        { "memory-depth.png", "Activation memory against depth" },
        { "time-depth.png", "Step time against depth" },
        { "grad-angle.png", "Gradient angle, stored vs reconstructed activations" },
        { "memory-breakdown.png", "Memory per category" },
        { "cpu-gpu.png", "Step time, CPU against GPU" },
    };
    size_t n_known = sizeof KNOWN / sizeof KNOWN[0];
    for (size_t i = 0; i < n_known; i++) link_figure(md, out, KNOWN[i][0], KNOWN[i][1]);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/figures", out);
    struct dirent **list = NULL;
    int n = scandir(dir, &list, png_filter, alphasort);
    for (int i = 0; i < n; i++) {
        int known = 0;
        for (size_t k = 0; k < n_known; k++) known |= !strcmp(list[i]->d_name, KNOWN[k][0]);
        if (!known) fprintf(md, "- ![%s](figures/%s)\n", list[i]->d_name, list[i]->d_name);
        free(list[i]);
    }
    free(list);
}

/* ---------------------------------------------------------------- the report */

static void count_runs(sqlite3 *h, long long *n, long long *fin)
{
    *n = (long long)rb_query_num(h, "SELECT count(*) FROM runs", NULL, NULL, NULL, NULL);
    *fin = (long long)rb_query_num(h, "SELECT count(*) FROM runs WHERE status = 'finished'",
                                   NULL, NULL, NULL, NULL);
}

int rb_report_write_sources(const rb_report_sources *s)
{
    if (!s->yours && !s->reference) {
        fprintf(stderr, "revbench report: no results to report (neither a database nor "
                "reference results)\n");
        return -1;
    }
    rb_report_ctx c;
    memset(&c, 0, sizeof c);
    if (s->reference) c.src[c.n++] = (rb_source){ "reference", rb_db_handle(s->reference) };
    if (s->yours) c.src[c.n++] = (rb_source){ s->reference ? "yours" : "ours",
                                              rb_db_handle(s->yours) };
    c.paper = c.src[c.n - 1].h;
    if (c.n == 2) snprintf(c.suffix, sizeof c.suffix, " (reference results beside yours)");
    else if (s->reference) snprintf(c.suffix, sizeof c.suffix, " (reference results)");

    const char *out_dir = s->out_dir;
    char path[4200];
    mkdir(out_dir, 0777);
    snprintf(path, sizeof path, "%s/tables", out_dir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "revbench report: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/REPORT.md", out_dir);
    FILE *md = fopen(path, "w");
    if (!md) {
        fprintf(stderr, "revbench report: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    long long n = 0, fin = 0, rn = 0, rfin = 0;
    if (s->yours) count_runs(rb_db_handle(s->yours), &n, &fin);
    if (s->reference) count_runs(rb_db_handle(s->reference), &rn, &rfin);
    fprintf(md, "# RevNet reproduction: paper beside %s\n\n",
            c.n == 2 ? "the reference results and yours" : s->reference ? "the reference results"
                                                                      : "ours");
    if (c.n == 2)
        fprintf(md, "Generated by `revbench report` from the reference results in `%s` (%lld "
                "runs) and your results in `%s` (%lld runs, %lld finished): every table sets "
                "the paper, the reference and yours side by side, with the difference. ",
                s->reference_path, rn, s->yours_path, n, fin);
    else if (s->reference)
        fprintf(md, "Generated by `revbench report` from the reference results in `%s` (%lld "
                "runs), the runs shipped with revbench: there is no results database of your "
                "own%s%s%s. ", s->reference_path, rn, s->yours_path ? " at `" : "",
                s->yours_path ? s->yours_path : "", s->yours_path ? "`" : "");
    else
        fprintf(md, "Generated by `revbench report` from `%s` (%lld runs, %lld finished). ",
                s->yours_path, n, fin);
    fprintf(md, "Every measured number is read from those runs; \"not run\" marks a "
                "measurement that has not been made. Regenerate with `make paper`.\n\n");
    fprintf(md, "## Tables\n\n");
    rb_db *record = s->yours && s->yours_writable ? s->yours : NULL;
    sqlite3 *read = c.src[c.n - 1].h;
    int rc = table_machines(&c, out_dir, md) |
             table_params(&c, record, read, s->build_models, out_dir, md) |
             table_cifar(&c, out_dir, md) | table_imagenet(&c, out_dir, md) |
             rb_report_complexity(&c, out_dir, md) | rb_report_memory(&c, out_dir, md);
    fprintf(md, "## Figures\n\n");
    link_figures(md, out_dir);
    fclose(md);
    return rc ? -1 : 0;
}

int rb_report_write(rb_db *db, int db_writable, const char *db_path, const char *out_dir,
                    int build_models)
{
    rb_report_sources s = { .yours = db, .yours_writable = db_writable, .yours_path = db_path,
                            .out_dir = out_dir, .build_models = build_models };
    return rb_report_write_sources(&s);
}
