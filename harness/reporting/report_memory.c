/*
 * report_memory.c: the report's memory tables (report_memory.h): measured memory and time
 * of one training step per network, and the complexity table.
 *
 * Complexity table: the paper states O(L), O(sqrt L), O(log L), O(1) activation memory. We fit
 * log(activation peak) = a + b log(L) over the memory-depth runs of each technique; b is the
 * measured exponent (1 for O(L), 0.5 for O(sqrt L), 0 for O(1)) and the linear slope in MiB
 * per layer is given beside it. Step time is fitted the same way (the paper: O(L) for all).
 *
 * Owns: nothing beyond one call.
 */
#include "reporting/report_memory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reporting/table.h"

/* Least-squares slope of y on x. */
static double slope(const double *x, const double *y, int n)
{
    double mx = 0, my = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i] / n;
        my += y[i] / n;
    }
    for (int i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    return sxx > 0 ? sxy / sxx : NAN;
}

/* The fit of one technique over one source's memory-depth runs: 4 cells (memory exponent,
 * MiB per layer, time exponent, depths measured). */
static void fit_cells(sqlite3 *h, const char *family, const char *mode, char c[4][96])
{
    double lx[256], ly[256], lt[256], x[256], y[256];
    int n = 0, lo = 0, hi = 0;
    char dev[16] = "";
    sqlite3_stmt *st = NULL;
    if (family &&
        sqlite3_prepare_v2(h,
                           "SELECT n_layers, activation_peak_mib, ms_per_step, device FROM "
                           "v_memory WHERE arch LIKE ? AND mode = ? AND n_layers IS NOT "
                           "NULL AND activation_peak_mib > 0 AND device = (SELECT min(device)"
                           " FROM v_memory WHERE arch LIKE ?1 AND mode = ?2) ORDER BY "
                           "n_layers",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, family, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, mode, -1, SQLITE_STATIC);
        while (n < 256 && sqlite3_step(st) == SQLITE_ROW) {
            x[n] = sqlite3_column_double(st, 0);
            y[n] = sqlite3_column_double(st, 1);
            lx[n] = log(x[n]);
            ly[n] = log(y[n]);
            lt[n] = sqlite3_column_type(st, 2) == SQLITE_NULL
                        ? NAN : log(sqlite3_column_double(st, 2));
            snprintf(dev, sizeof dev, "%s", (const char *)sqlite3_column_text(st, 3));
            if (!n) lo = (int)x[n];
            hi = (int)x[n];
            n++;
        }
    }
    sqlite3_finalize(st);
    if (n >= 2) {
        snprintf(c[0], 96, "%.2f", slope(lx, ly, n));
        snprintf(c[1], 96, "%.3f", slope(x, y, n));
        rb_fmt(c[2], 96, "%.2f", slope(lx, lt, n));
        snprintf(c[3], 96, "%d points, L = %d..%d (%s)", n, lo, hi, dev);
    } else {
        for (int k = 0; k < 3; k++) snprintf(c[k], 96, NOT_RUN);
        snprintf(c[3], 96, family ? "fewer than 2 depths measured" : "not implemented in revbench");
    }
}

int rb_report_complexity(const rb_report_ctx *c, const char *out, FILE *md)
{
    static const char *const FIT[] = { "memory exponent", "MiB per layer", "time exponent",
                                       "depths measured" };
    const char *header[3 + 4 * RB_MAX_SOURCES] = { "technique", "paper: memory",
                                                   "paper: compute" };
    char names[4 * RB_MAX_SOURCES][64];
    for (int s = 0; s < c->n; s++)
        for (int k = 0; k < 4; k++) {
            if (c->n == 1) snprintf(names[4 * s + k], 64, "%s", FIT[k]);
            else snprintf(names[4 * s + k], 64, "%s (%s)", FIT[k], c->src[s].label);
            header[3 + 4 * s + k] = names[4 * s + k];
        }
    int n_cols = 3 + 4 * c->n;
    rb_table t;
    rb_table_init(&t, "complexity", n_cols, header, "Complexity: the paper's asymptotic costs "
                  "and the growth measured over experiments/memory-depth.ini%s", c->suffix);
    static const struct {
        const char *technique, *memory, *compute, *family, *mode;
    } ROWS[] = {
        { "naive backprop (ResNet)", "O(L)", "O(L)", "resnet-basic-%", "standard" },
        { "checkpointing (ResNet)", "O(sqrt L)", "O(L)", "resnet-basic-%", "checkpoint" },
        { "recursive checkpointing", "O(log L)", "O(L log L)", NULL, NULL },
        { "reversible (RevNet)", "O(1)", "O(L)", "revnet-basic-%", "reversible" },
        { "naive backprop (RevNet)", "-", "-", "revnet-basic-%", "standard" },
    };
    for (size_t r = 0; r < sizeof ROWS / sizeof ROWS[0]; r++) {
        char cells[3 + 4 * RB_MAX_SOURCES][96];
        snprintf(cells[0], 96, "%s", ROWS[r].technique);
        snprintf(cells[1], 96, "%s", ROWS[r].memory);
        snprintf(cells[2], 96, "%s", ROWS[r].compute);
        for (int s = 0; s < c->n; s++)
            fit_cells(c->src[s].h, ROWS[r].family, ROWS[r].mode, &cells[3 + 4 * s]);
        rb_table_row_cells(&t, cells[0], sizeof cells[0]);
    }
    /* Ends as the CIFAR table of report.c does, kept apart: what reads alike is each table's
     * own note. */
    return rb_table_finish(
        &t, out, md,
        "Exponents are least-squares slopes of log(activation peak) and log(step time) against "
        "log(layers L): 1 is linear growth, 0.5 square-root, 0 flat. A fixed part (stem, stage "
        "transitions, the largest block's working set) pulls every exponent toward 0 at small "
        "depths.");
}

/* One measured configuration of the memory table: a row, whichever source measured it. */
typedef struct {
    char arch[64], mode[16], device[16];
    int batch, n_layers, family;
} mem_key;

static int mem_key_cmp(const void *pa, const void *pb)
{
    const mem_key *a = pa, *b = pb;
    int d = strcmp(a->device, b->device);
    if (d) return d;
    if (a->family != b->family) return a->family - b->family;
    if (a->n_layers != b->n_layers) return a->n_layers - b->n_layers;
    if ((d = strcmp(a->arch, b->arch))) return d;
    if ((d = strcmp(a->mode, b->mode))) return d;
    return a->batch - b->batch;
}

/* Adds the configurations h measured to keys (no duplicates). Returns the new count. */
static int collect_keys(sqlite3 *h, mem_key **keys, int n, int *cap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h,
                           "SELECT arch, mode, device, batch, coalesce(n_layers, 0), "
                           "arch LIKE '%-basic-%' FROM v_memory",
                           -1, &st, NULL) != SQLITE_OK)
        return n;
    while (sqlite3_step(st) == SQLITE_ROW) {
        mem_key k;
        memset(&k, 0, sizeof k);
        snprintf(k.arch, sizeof k.arch, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(k.mode, sizeof k.mode, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(k.device, sizeof k.device, "%s", (const char *)sqlite3_column_text(st, 2));
        k.batch = sqlite3_column_int(st, 3);
        k.n_layers = sqlite3_column_int(st, 4);
        k.family = sqlite3_column_int(st, 5);
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = !strcmp((*keys)[i].arch, k.arch) && !strcmp((*keys)[i].mode, k.mode) &&
                  !strcmp((*keys)[i].device, k.device) && (*keys)[i].batch == k.batch;
        if (dup) continue;
        if (n == *cap) {
            int ncap = *cap ? 2 * *cap : 64;
            mem_key *nk = realloc(*keys, (size_t)ncap * sizeof *nk);
            if (!nk) break;
            *keys = nk;
            *cap = ncap;
        }
        (*keys)[n++] = k;
    }
    sqlite3_finalize(st);
    return n;
}

/* Activation peak, total peak, max RSS (MiB) and ms per step of one configuration in one
 * source, NAN where it has none. */
static void mem_values(sqlite3 *h, const mem_key *k, double v[4])
{
    sqlite3_stmt *st = NULL;
    for (int i = 0; i < 4; i++) v[i] = NAN;
    if (sqlite3_prepare_v2(h,
                           "SELECT activation_peak_mib, total_peak_mib, max_rss_mib, ms_per_step "
                           "FROM v_memory WHERE arch = ? AND mode = ? AND device = ? AND batch = "
                           "? ORDER BY run_id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, k->arch, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k->mode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k->device, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, k->batch);
    if (sqlite3_step(st) == SQLITE_ROW)
        for (int i = 0; i < 4; i++)
            if (sqlite3_column_type(st, i) != SQLITE_NULL) v[i] = sqlite3_column_double(st, i);
    sqlite3_finalize(st);
}

static void fmt_dash(char *buf, size_t len, const char *f, double v)
{
    if (isnan(v)) snprintf(buf, len, "-");
    else snprintf(buf, len, f, v);
}

int rb_report_memory(const rb_report_ctx *c, const char *out, FILE *md)
{
    /* One source: its four quantities. Two: activation peak, total peak and step time of each
     * with the difference (ratio for time), max RSS left out to keep the table readable. */
    static const char *const H1[] = { "network", "mode", "device", "batch", "layers",
                                      "activation peak (MiB)", "MemCNN activation (MiB)",
                                      "total peak (MiB)", "max RSS (MiB)", "ms/step" };
    static const char *const H2[] = { "network", "mode", "device", "batch", "layers",
                                      "MemCNN activation (MiB)",
                                      "activation peak reference (MiB)",
                                      "activation peak yours (MiB)", "yours - reference",
                                      "total peak reference (MiB)", "total peak yours (MiB)",
                                      "ms/step reference", "ms/step yours",
                                      "yours / reference" };
    int two = c->n == 2, n_cols = two ? 14 : 10;
    rb_table t;
    rb_table_init(&t, "memory", n_cols, two ? H2 : H1, "Measured memory and time per training "
                  "step, per architecture and device (revbench mem)%s", c->suffix);
    mem_key *keys = NULL;
    int n = 0, cap = 0;
    for (int s = 0; s < c->n; s++) n = collect_keys(c->src[s].h, &keys, n, &cap);
    /* keys is NULL when no source holds a memory run (qsort's pointer must not be NULL). */
    if (n > 1) qsort(keys, (size_t)n, sizeof *keys, mem_key_cmp);
    for (int i = 0; i < n; i++) {
        char cells[14][64];
        snprintf(cells[0], 64, "%s", keys[i].arch);
        snprintf(cells[1], 64, "%s", keys[i].mode);
        snprintf(cells[2], 64, "%s", keys[i].device);
        snprintf(cells[3], 64, "%d", keys[i].batch);
        if (keys[i].n_layers) snprintf(cells[4], 64, "%d", keys[i].n_layers);
        else snprintf(cells[4], 64, "-");
        double memcnn = rb_query_num(c->paper, "SELECT value FROM paper WHERE tbl = 'memcnn' "
                                     "AND arch = ? AND quantity = 'activation_mib'",
                                     keys[i].arch, NULL, NULL, NULL);
        double v[RB_MAX_SOURCES][4];
        for (int s = 0; s < c->n; s++) mem_values(c->src[s].h, &keys[i], v[s]);
        if (!two) {
            fmt_dash(cells[5], 64, "%.1f", v[0][0]);
            fmt_dash(cells[6], 64, "%.1f", memcnn);
            fmt_dash(cells[7], 64, "%.1f", v[0][1]);
            fmt_dash(cells[8], 64, "%.1f", v[0][2]);
            fmt_dash(cells[9], 64, "%.0f", v[0][3]);
        } else {
            fmt_dash(cells[5], 64, "%.1f", memcnn);
            rb_fmt(cells[6], 64, "%.1f", v[0][0]);
            rb_fmt(cells[7], 64, "%.1f", v[1][0]);
            rb_fmt_diff(cells[8], 64, "%+.1f", v[1][0], v[0][0]);
            rb_fmt(cells[9], 64, "%.1f", v[0][1]);
            rb_fmt(cells[10], 64, "%.1f", v[1][1]);
            rb_fmt(cells[11], 64, "%.0f", v[0][3]);
            rb_fmt(cells[12], 64, "%.0f", v[1][3]);
            if (isnan(v[0][3]) || isnan(v[1][3]) || v[0][3] <= 0) snprintf(cells[13], 64, "-");
            else snprintf(cells[13], 64, "%.2fx", v[1][3] / v[0][3]);
        }
        rb_table_row_cells(&t, cells[0], sizeof cells[0]);
    }
    free(keys);
    if (n == 0) {
        const char *row[14] = { NOT_RUN }; /* the other cells empty */
        rb_table_row(&t, row);
    }
    return rb_table_finish(
        &t, out, md,
        "MemCNN: activation memory that the MemCNN project measured in PyTorch with its own "
        "settings (PAPER.md): compare ratios between networks, not values. Memory is planned "
        "and counted to the byte, the same on any machine; step times depend on the machine and "
        "its load (the machines table).");
}
