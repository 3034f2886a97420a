/*
 * experiment.c: checks experiment files and expands their matrix (experiment.h).
 *
 * The file is read in two passes: experiment_ini.c turns the text into a list of (section, key,
 * value, line); interpret() then checks and applies them in file order, so every message can
 * name the line it is about, and expands each matrix section into entries.
 *
 * Owns: the entries array of an rb_experiment.
 */
#include "experiments/experiment.h"
#include "experiments/experiment_ini.h"
#include "training/recipe.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/context.h>
#include <revnet/data.h>
#include <revnet/model.h>

/* Matrix keys besides the settings, numbered after SETTING_KEYS for matrix.seen_line. */
static const char *const MATRIX_KEYS[] = { "archs", "pairs", "families", "units", "datasets",
                                           "modes", "devices", "seeds", NULL };
#define RB_EXP_N_SETTINGS 11
#define RB_EXP_N_KEYS (RB_EXP_N_SETTINGS + 8)
/* More [matrix.LABEL] sections than any experiment needs; also bounds the label lookups. */
#define RB_EXP_MAX_MATRICES 1000

/* One matrix section, gathered before expansion. */
typedef struct {
    char label[32];
    int line;                 /* first line of the section, for messages about missing keys */
    int section_line;         /* its header line: a second header of this label is an error */
    int seen_line[RB_EXP_N_KEYS]; /* where each key was given, 0 if not yet */
    char *archs[RB_EXP_MAX_ITEMS];
    int n_archs;
    char *families[8];
    int n_families;
    long units[RB_EXP_MAX_ITEMS];
    int n_units, units_line, families_line;
    char *datasets[8], *modes[8], *devices[4];
    int n_datasets, n_modes, n_devices;
    uint64_t seeds[RB_EXP_MAX_ITEMS];
    int n_seeds;
    rb_exp_settings set;
    int set_mask;             /* which settings this section overrides (bit per key index) */
} matrix;

typedef struct {
    rb_experiment *e;
    const char *file;
    char *err;
    size_t err_len;
    rb_exp_settings defaults;
    matrix *mats;
    int n_mats;
    int seen_kind_line;
    int settings_section_line;             /* header of the [train]/[mem] section, if any */
    int settings_seen_line[RB_EXP_N_SETTINGS];
    int slurm_section_line;                /* header of the [slurm] section, if any */
    int slurm_seen_line[5];                /* per SLURM_KEYS entry */
} interp;

static int errf(interp *in, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(interp *in, int line, const char *fmt, ...)
{
    int n = line > 0 ? snprintf(in->err, in->err_len, "%s:%d: ", in->file, line)
                     : snprintf(in->err, in->err_len, "%s: ", in->file);
    if (n < 0 || (size_t)n >= in->err_len) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->err + n, in->err_len - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The settings keys, in the order of the bits of matrix.set_mask. */
static const char *const SETTING_KEYS[] = { "steps", "batch", "eval_every", "checkpoint_every",
                                            "train_subset", "test_subset", "angle_every", "lr",
                                            "momentum", "weight_decay", "threads", NULL };
/* Keys that only a training experiment uses. */
static int train_only_key(int i) { return i != 0 && i != 1 && i != 10; }

static int parse_long_value(interp *in, const rb_exp_kv *k, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(k->value, &end, 10);
    if (errno || end == k->value || *end || v < lo || v > hi)
        return errf(in, k->line, "%s = '%s': expected a whole number in [%ld, %ld]", k->key,
                    k->value, lo, hi);
    *out = v;
    return 0;
}

static int parse_double_value(interp *in, const rb_exp_kv *k, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(k->value, &end);
    if (errno || end == k->value || *end || !isfinite(v) || v < lo || v > hi)
        return errf(in, k->line, "%s = '%s': expected a number in [%g, %g]", k->key, k->value,
                    lo, hi);
    *out = v;
    return 0;
}

/* Applies settings key index i from rb_exp_kv k to s. */
static int apply_setting(interp *in, int i, const rb_exp_kv *k, rb_exp_settings *s)
{
    long v = 0;
    switch (i) {
    case 0: return parse_long_value(in, k, 1, 100000000L, &s->steps);
    case 1:
        if (parse_long_value(in, k, 1, 65536, &v)) return -1;
        s->batch = (int)v;
        return 0;
    case 2: return parse_long_value(in, k, 0, 100000000L, &s->eval_every);
    case 3: return parse_long_value(in, k, 0, 100000000L, &s->checkpoint_every);
    case 4: return parse_long_value(in, k, 0, 100000000L, &s->train_subset);
    case 5: return parse_long_value(in, k, 0, 100000000L, &s->test_subset);
    case 6: return parse_long_value(in, k, 0, 100000000L, &s->angle_every);
    case 7: return parse_double_value(in, k, 1e-8, 10, &s->lr);
    case 8: return parse_double_value(in, k, 0, 0.999999, &s->momentum);
    case 9: return parse_double_value(in, k, 0, 1, &s->weight_decay);
    case 10:
        if (parse_long_value(in, k, 1, 1024, &v)) return -1;
        s->threads = (int)v;
        return 0;
    default: return errf(in, k->line, "internal: setting %d", i);
    }
}

static int setting_index(const char *key)
{
    for (int i = 0; SETTING_KEYS[i]; i++)
        if (strcmp(SETTING_KEYS[i], key) == 0) return i;
    return -1;
}

/* A key's slot in matrix.seen_line: settings first, then MATRIX_KEYS; -1 if unknown. */
static int matrix_key_index(const char *key)
{
    int si = setting_index(key);
    if (si >= 0) return si;
    for (int i = 0; MATRIX_KEYS[i]; i++)
        if (strcmp(MATRIX_KEYS[i], key) == 0) return RB_EXP_N_SETTINGS + i;
    return -1;
}

/* A key given twice in one section would either override the first silently or append to a
 * fixed array past its end: it is refused. *seen records the line of the first. */
static int check_once(interp *in, const rb_exp_kv *k, int *seen)
{
    if (*seen)
        return errf(in, k->line, "'%s' is given twice in [%s] (first on line %d); give it once",
                    k->key, k->section, *seen);
    *seen = k->line;
    return 0;
}

/* A section whose header appears twice (same name, another header line) is refused: its
 * second half would silently override or be merged into the first. */
static int check_one_section(interp *in, const rb_exp_kv *k, int *first_header)
{
    if (*first_header && *first_header != k->section_line) {
        const char *hint = strncmp(k->section, "matrix", 6)
                               ? "put its keys in one section"
                               : "give each matrix section its own label, [matrix.LABEL]";
        return errf(in, k->section_line, "[%s] appears twice (first on line %d): %s",
                    k->section, *first_header, hint);
    }
    *first_header = k->section_line;
    return 0;
}

/* Splits a value on spaces and commas into at most max items, pointing into value. */
static int split_items(interp *in, const rb_exp_kv *k, char **items, int max)
{
    int n = 0;
    for (char *p = strtok(k->value, " \t,"); p; p = strtok(NULL, " \t,")) {
        if (n == max) return errf(in, k->line, "%s: more than %d items", k->key, max);
        items[n++] = p;
    }
    if (n == 0) return errf(in, k->line, "%s: empty list", k->key);
    return n;
}

static int check_choice(interp *in, const rb_exp_kv *k, const char *item, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(item, names[i]) == 0) return 0;
    char valid[256] = "";
    for (int i = 0; names[i]; i++) {
        strncat(valid, i ? ", " : "", sizeof valid - strlen(valid) - 1);
        strncat(valid, names[i], sizeof valid - strlen(valid) - 1);
    }
    return errf(in, k->line, "%s: unknown '%s' (valid: %s)", k->key, item, valid);
}

static int check_arch(interp *in, int line, const char *name)
{
    rv_arch a;
    char msg[512];
    if (rv_arch_parse(name, &a, msg, sizeof msg) != RV_OK) return errf(in, line, "%s", msg);
    return 0;
}

static const char *const FAMILIES[] = { "resnet-basic", "revnet-basic", "resnet-bottleneck",
                                        "revnet-bottleneck", NULL };

/* The matrix of k's section, created on its first key; NULL with the message in in->err. */
static matrix *matrix_for(interp *in, const rb_exp_kv *k)
{
    const char *label = k->section[6] == '.' ? k->section + 7 : "";
    for (int i = 0; i < in->n_mats; i++)
        if (strcmp(in->mats[i].label, label) == 0)
            return check_one_section(in, k, &in->mats[i].section_line) ? NULL : &in->mats[i];
    if (in->n_mats == RB_EXP_MAX_MATRICES) {
        errf(in, k->line, "more than %d matrix sections", RB_EXP_MAX_MATRICES);
        return NULL;
    }
    matrix *n = realloc(in->mats, (size_t)(in->n_mats + 1) * sizeof *n);
    if (!n) {
        errf(in, 0, "out of memory");
        return NULL;
    }
    in->mats = n;
    matrix *m = &n[in->n_mats++];
    memset(m, 0, sizeof *m);
    snprintf(m->label, sizeof m->label, "%s", label);
    m->line = k->line;
    m->section_line = k->section_line;
    return m;
}

static int matrix_key(interp *in, matrix *m, rb_exp_kv *k)
{
    char *items[RB_EXP_MAX_ITEMS];
    int ki = matrix_key_index(k->key);
    if (ki >= 0 && check_once(in, k, &m->seen_line[ki])) return -1;
    int si = setting_index(k->key);
    if (si >= 0) {
        if (apply_setting(in, si, k, &m->set)) return -1;
        m->set_mask |= 1 << si;
        return 0;
    }
    if (!strcmp(k->key, "archs") || !strcmp(k->key, "pairs")) {
        int pairs = k->key[0] == 'p', n = split_items(in, k, items, RB_EXP_MAX_ITEMS);
        if (n < 0) return -1;
        for (int i = 0; i < n; i++) {
            char *second = NULL;
            if (pairs) {
                second = strchr(items[i], ':');
                if (!second || strchr(second + 1, ':') || second == items[i] || !second[1])
                    return errf(in, k->line, "pairs: '%s' is not RESNET:REVNET", items[i]);
                *second++ = '\0';
            }
            for (char *a = items[i]; a; a = second, second = NULL) {
                if (check_arch(in, k->line, a)) return -1;
                if (m->n_archs == RB_EXP_MAX_ITEMS)
                    return errf(in, k->line, "more than %d architectures", RB_EXP_MAX_ITEMS);
                m->archs[m->n_archs++] = a;
            }
        }
        return 0;
    }
    if (!strcmp(k->key, "families")) {
        int n = split_items(in, k, items, 8);
        if (n < 0) return -1;
        for (int i = 0; i < n; i++) {
            if (check_choice(in, k, items[i], FAMILIES)) return -1;
            m->families[m->n_families++] = items[i];
        }
        m->families_line = k->line;
        return 0;
    }
    if (!strcmp(k->key, "units") || !strcmp(k->key, "seeds")) {
        int n = split_items(in, k, items, RB_EXP_MAX_ITEMS);
        if (n < 0) return -1;
        for (int i = 0; i < n; i++) {
            rb_exp_kv one = *k;
            one.value = items[i];
            long v;
            if (parse_long_value(in, &one, k->key[0] == 'u' ? 1 : 0,
                                 k->key[0] == 'u' ? 10000 : 2147483647L, &v))
                return -1;
            if (k->key[0] == 'u') m->units[m->n_units++] = v;
            else m->seeds[m->n_seeds++] = (uint64_t)v;
        }
        if (k->key[0] == 'u') m->units_line = k->line;
        return 0;
    }
    /* "default", then the library's backward modes. */
    const char *modes[RV_BACKWARD_N_MODES + 2] = { "default" };
    for (int i = 0; i < RV_BACKWARD_N_MODES; i++)
        modes[i + 1] = rv_backward_mode_name((rv_backward_mode)i);
    struct {
        const char *key;
        const char *const *names;
        char **dst;
        int *n;
        int max;
    } lists[] = {
        { "datasets", rv_data_names(), m->datasets, &m->n_datasets, 8 },
        { "modes", modes, m->modes, &m->n_modes, 8 },
        { "devices", rv_device_names(), m->devices, &m->n_devices, 4 },
    };
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        if (strcmp(k->key, lists[l].key)) continue;
        int n = split_items(in, k, items, lists[l].max);
        if (n < 0) return -1;
        *lists[l].n = 0;
        for (int i = 0; i < n; i++) {
            if (check_choice(in, k, items[i], lists[l].names)) return -1;
            lists[l].dst[(*lists[l].n)++] = items[i];
        }
        return 0;
    }
    return errf(in, k->line,
                "unknown key '%s' in [%s] (valid: archs, pairs, families, units, datasets, "
                "modes, devices, seeds, or a [train]/[mem] setting)", k->key, k->section);
}

static int add_entry(interp *in, const matrix *m, const char *arch, const char *dataset,
                     const char *mode, const char *device, uint64_t seed)
{
    rb_experiment *e = in->e;
    rv_arch a;
    if (rv_arch_parse(arch, &a, NULL, 0) != RV_OK)
        return errf(in, m->line, "unknown architecture '%s'", arch);
    if (e->kind == RB_EXP_TRAIN && a.imagenet)
        return errf(in, m->line, "%s is an ImageNet network (224x224); training experiments take "
                    "the 32x32 datasets, measure it with kind = mem", arch);
    rv_backward_mode bm;
    if (!strcmp(mode, "default")) {
        bm = a.reversible ? RV_BACKWARD_REVERSIBLE : RV_BACKWARD_STANDARD;
    } else {
        char msg[256];
        if (rv_backward_mode_parse(mode, &bm, msg, sizeof msg) != RV_OK)
            return errf(in, m->line, "%s", msg);
        if (!rv_arch_supports(&a, bm)) {
            e->n_skipped++;
            return 0;
        }
    }
    if (e->n_entries == RB_EXP_MAX_ENTRIES)
        return errf(in, m->line, "the matrix expands to more than %d runs", RB_EXP_MAX_ENTRIES);
    if (e->n_entries % 64 == 0) {
        rb_exp_entry *n = realloc(e->entries, (size_t)(e->n_entries + 64) * sizeof *n);
        if (!n) return errf(in, 0, "out of memory");
        e->entries = n;
    }
    rb_exp_entry *x = &e->entries[e->n_entries++];
    memset(x, 0, sizeof *x);
    snprintf(x->group, sizeof x->group, "%s", m->label);
    snprintf(x->arch, sizeof x->arch, "%s", arch);
    snprintf(x->dataset, sizeof x->dataset, "%s", dataset);
    snprintf(x->mode, sizeof x->mode, "%s", rv_backward_mode_name(bm));
    snprintf(x->device, sizeof x->device, "%s", device);
    x->seed = seed;
    x->reversible = a.reversible;
    x->set = in->defaults;
    /* Overrides of this matrix section, key by key. */
    const rb_exp_settings *o = &m->set;
    if (m->set_mask & 1 << 0) x->set.steps = o->steps;
    if (m->set_mask & 1 << 1) x->set.batch = o->batch;
    if (m->set_mask & 1 << 2) x->set.eval_every = o->eval_every;
    if (m->set_mask & 1 << 3) x->set.checkpoint_every = o->checkpoint_every;
    if (m->set_mask & 1 << 4) x->set.train_subset = o->train_subset;
    if (m->set_mask & 1 << 5) x->set.test_subset = o->test_subset;
    if (m->set_mask & 1 << 6) x->set.angle_every = o->angle_every;
    if (m->set_mask & 1 << 7) x->set.lr = o->lr;
    if (m->set_mask & 1 << 8) x->set.momentum = o->momentum;
    if (m->set_mask & 1 << 9) x->set.weight_decay = o->weight_decay;
    if (m->set_mask & 1 << 10) x->set.threads = o->threads;
    return 0;
}

static int expand(interp *in, matrix *m)
{
    rb_experiment *e = in->e;
    const char *sect = m->label[0] ? "matrix." : "matrix";
    if (m->n_families && !m->n_units)
        return errf(in, m->families_line, "families needs units (units per stage) in [%s%s]",
                    sect, m->label);
    if (m->n_units && !m->n_families)
        return errf(in, m->units_line, "units needs families in [%s%s]", sect, m->label);
    /* Family members: family-N, checked like any other name. */
    static char family_names[RB_EXP_MAX_ITEMS * 4][48];
    int n_fam = 0;
    for (int f = 0; f < m->n_families; f++)
        for (int u = 0; u < m->n_units; u++) {
            if (m->n_archs == RB_EXP_MAX_ITEMS || n_fam == RB_EXP_MAX_ITEMS * 4)
                return errf(in, m->units_line, "more than %d architectures", RB_EXP_MAX_ITEMS);
            snprintf(family_names[n_fam], 48, "%s-%ld", m->families[f], m->units[u]);
            if (check_arch(in, m->units_line, family_names[n_fam])) return -1;
            m->archs[m->n_archs++] = family_names[n_fam++];
        }
    if (!m->n_archs)
        return errf(in, m->line, "[%s%s] lists no architectures (archs, pairs or families)",
                    sect, m->label);
    static char *const DEFAULT_MODE[] = { "default" };
    char *const CPU[] = { (char *)rv_device_name(RV_DEVICE_CPU) };
    static char *const RANDOM[] = { "random" };
    static const uint64_t SEED1[] = { 1 };
    char *const *datasets = m->datasets;
    int n_datasets = m->n_datasets;
    if (e->kind == RB_EXP_MEM) {
        if (n_datasets) return errf(in, m->line, "a mem experiment takes no datasets");
        datasets = RANDOM;
        n_datasets = 1;
    } else if (!n_datasets) {
        return errf(in, m->line, "[%s%s] needs datasets", sect, m->label);
    }
    char *const *modes = m->n_modes ? m->modes : DEFAULT_MODE;
    char *const *devices = m->n_devices ? m->devices : CPU;
    const uint64_t *seeds = m->n_seeds ? m->seeds : SEED1;
    int n_modes = m->n_modes ? m->n_modes : 1, n_devices = m->n_devices ? m->n_devices : 1;
    int n_seeds = m->n_seeds ? m->n_seeds : 1;
    for (int d = 0; d < n_datasets; d++)
        for (int a = 0; a < m->n_archs; a++)
            for (int mo = 0; mo < n_modes; mo++)
                for (int dv = 0; dv < n_devices; dv++)
                    for (int s = 0; s < n_seeds; s++)
                        if (add_entry(in, m, m->archs[a], datasets[d], modes[mo], devices[dv],
                                      seeds[s]))
                            return -1;
    return 0;
}

/* Whether text is made only of characters in allowed, and not empty. */
static int only_of(const char *text, const char *allowed)
{
    return *text && strspn(text, allowed) == strlen(text);
}

/* One key of the [slurm] section. Values go into batch scripts, so only the characters Slurm
 * itself accepts there pass. */
static int slurm_key(interp *in, const rb_exp_kv *k)
{
    static const char *const SLURM_KEYS[] = { "partition", "time", "mem", "cpus_per_task",
                                               "gpus_per_task" };
    rb_exp_slurm *s = &in->e->slurm;
    char *end = NULL;
    if (check_one_section(in, k, &in->slurm_section_line)) return -1;
    for (int j = 0; j < 5; j++)
        if (!strcmp(k->key, SLURM_KEYS[j]) && check_once(in, k, &in->slurm_seen_line[j]))
            return -1;
    if (!strcmp(k->key, "partition")) {
        if (!only_of(k->value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,") ||
            strlen(k->value) >= sizeof s->partition)
            return errf(in, k->line, "partition = '%s': expected a partition name", k->value);
        snprintf(s->partition, sizeof s->partition, "%s", k->value);
    } else if (!strcmp(k->key, "time")) {
        if (!only_of(k->value, "0123456789:-") || strlen(k->value) >= sizeof s->time)
            return errf(in, k->line, "time = '%s': expected a Slurm time limit such as 90, "
                        "2:00:00 or 1-12:00:00", k->value);
        snprintf(s->time, sizeof s->time, "%s", k->value);
    } else if (!strcmp(k->key, "mem")) {
        size_t digits = strspn(k->value, "0123456789");
        if (digits == 0 || strlen(k->value) > digits + 1 ||
            (k->value[digits] && !strchr("KMGT", k->value[digits])) ||
            strlen(k->value) >= sizeof s->mem)
            return errf(in, k->line, "mem = '%s': expected a size such as 4096M or 4G",
                        k->value);
        snprintf(s->mem, sizeof s->mem, "%s", k->value);
    } else if (!strcmp(k->key, "cpus_per_task") || !strcmp(k->key, "gpus_per_task")) {
        int cpus = k->key[0] == 'c';
        errno = 0;
        long v = strtol(k->value, &end, 10);
        if (errno || end == k->value || *end || v < (cpus ? 1 : 0) || v > 1024)
            return errf(in, k->line, "%s = '%s': expected a whole number from %d to 1024",
                        k->key, k->value, cpus);
        if (cpus) s->cpus_per_task = v;
        else s->gpus_per_task = v;
    } else {
        return errf(in, k->line, "unknown key '%s' in [slurm] (valid: partition, time, mem, "
                    "cpus_per_task, gpus_per_task)", k->key);
    }
    return 0;
}

static int interpret(interp *in, const rb_exp_ini *ps)
{
    rb_experiment *e = in->e;
    int have_name = 0, have_kind = 0, experiment_header = 0;
    int experiment_seen[4] = { 0 };
    static const char *const EXPERIMENT_KEYS[] = { "name", "kind", "schedule", "description" };
    /* Pass 1: [experiment], so that the kind is known before settings are checked. */
    for (int i = 0; i < ps->n_kvs; i++) {
        rb_exp_kv *k = &ps->kvs[i];
        if (strcmp(k->section, "experiment")) continue;
        if (check_one_section(in, k, &experiment_header)) return -1;
        for (int j = 0; j < 4; j++)
            if (!strcmp(k->key, EXPERIMENT_KEYS[j]) && check_once(in, k, &experiment_seen[j]))
                return -1;
        if (!strcmp(k->key, "name")) {
            if (!*k->value || strlen(k->value) >= sizeof e->name || strpbrk(k->value, " \t/"))
                return errf(in, k->line, "name = '%s': expected one word without '/' (under "
                            "%zu characters)", k->value, sizeof e->name);
            snprintf(e->name, sizeof e->name, "%s", k->value);
            have_name = 1;
        } else if (!strcmp(k->key, "kind")) {
            if (!strcmp(k->value, "train")) e->kind = RB_EXP_TRAIN;
            else if (!strcmp(k->value, "mem")) e->kind = RB_EXP_MEM;
            else return errf(in, k->line, "kind = '%s': expected train or mem", k->value);
            have_kind = 1;
        } else if (!strcmp(k->key, "schedule")) {
            if (!*k->value || strlen(k->value) >= sizeof e->schedule)
                return errf(in, k->line, "schedule: expected a short label");
            snprintf(e->schedule, sizeof e->schedule, "%s", k->value);
        } else if (!strcmp(k->key, "description")) {
            if (strlen(k->value) >= sizeof e->description)
                return errf(in, k->line, "description: longer than %zu characters",
                            sizeof e->description - 1);
            snprintf(e->description, sizeof e->description, "%s", k->value);
        } else {
            return errf(in, k->line,
                        "unknown key '%s' in [experiment] (valid: name, kind, schedule, "
                        "description)", k->key);
        }
    }
    if (!have_name) return errf(in, 0, "[experiment] needs a name");
    if (!have_kind) return errf(in, 0, "[experiment] needs kind = train or kind = mem");
    if (!e->schedule[0]) snprintf(e->schedule, sizeof e->schedule, "custom");
    const char *own = e->kind == RB_EXP_TRAIN ? "train" : "mem";
    /* Pass 2: sections in file order. */
    for (int i = 0; i < ps->n_kvs; i++) {
        rb_exp_kv *k = &ps->kvs[i];
        if (!strcmp(k->section, "experiment")) continue;
        int is_matrix = !strcmp(k->section, "matrix") ||
                        (!strncmp(k->section, "matrix.", 7) && k->section[7]);
        if (!strcmp(k->section, "train") || !strcmp(k->section, "mem")) {
            if (strcmp(k->section, own))
                return errf(in, k->line, "[%s] does not apply to a kind = %s experiment",
                            k->section, own);
            int si = setting_index(k->key);
            if (si < 0 || (e->kind == RB_EXP_MEM && train_only_key(si)))
                return errf(in, k->line, "unknown key '%s' in [%s] (valid: %s)", k->key, own,
                            e->kind == RB_EXP_MEM
                                ? "steps, batch, threads"
                                : "steps, batch, eval_every, checkpoint_every, train_subset, "
                                  "test_subset, angle_every, lr, momentum, weight_decay, "
                                  "threads");
            if (check_one_section(in, k, &in->settings_section_line) ||
                check_once(in, k, &in->settings_seen_line[si]) ||
                apply_setting(in, si, k, &in->defaults))
                return -1;
        } else if (is_matrix) {
            if (strlen(k->section) - 7 >= sizeof in->mats[0].label && k->section[6] == '.')
                return errf(in, k->line, "section label '%s' is too long", k->section + 7);
            int si = setting_index(k->key);
            if (si >= 0 && e->kind == RB_EXP_MEM && train_only_key(si))
                return errf(in, k->line, "'%s' is a training setting; this is a mem experiment",
                            k->key);
            matrix *m = matrix_for(in, k);
            if (!m || matrix_key(in, m, k)) return -1;
        } else if (!strcmp(k->section, "slurm")) {
            if (slurm_key(in, k)) return -1;
        } else {
            return errf(in, k->line,
                        "unknown section [%s] (valid: experiment, %s, matrix, matrix.LABEL, "
                        "slurm)", k->section, own);
        }
    }
    if (in->n_mats == 0) return errf(in, 0, "no [matrix] section: nothing to run");
    for (int i = 0; i < in->n_mats; i++)
        if (expand(in, &in->mats[i])) return -1;
    if (e->n_entries == 0)
        return errf(in, 0, "the matrix is empty (every architecture/mode pair is unsupported)");
    return 0;
}

const char *rb_exp_kind_name(rb_exp_kind k) { return k == RB_EXP_MEM ? "mem" : "train"; }

int rb_experiment_parse(rb_experiment *e, const char *name, const char *text, char *err,
                        size_t err_len)
{
    return rb_experiment_parse_work(e, name, text, err, err_len, NULL);
}

int rb_experiment_parse_work(rb_experiment *e, const char *name, const char *text, char *err,
                             size_t err_len, size_t *bytes_copied)
{
    memset(e, 0, sizeof *e);
    e->slurm.gpus_per_task = -1;
    snprintf(e->path, sizeof e->path, "%s", name);
    interp in = { .e = e, .file = name, .err = err, .err_len = err_len };
    /* The paper's recipe; -1 = the trainer's own default. */
    in.defaults = (rb_exp_settings){ .steps = RB_RECIPE_STEPS, .batch = RB_RECIPE_BATCH,
                                     .eval_every = -1, .checkpoint_every = -1,
                                     .lr = RB_RECIPE_LR, .momentum = RB_RECIPE_MOMENTUM,
                                     .weight_decay = RB_RECIPE_WEIGHT_DECAY, .threads = 2 };
    int ret = -1;
    rb_exp_ini ini;
    int line = 0;
    char why[256];
    if (rb_exp_ini_read(&ini, text, &line, why, sizeof why)) {
        errf(&in, line, "%s", why);
        goto done;
    }
    ret = interpret(&in, &ini);
done:
    if (bytes_copied) *bytes_copied = ini.bytes_copied;
    rb_exp_ini_free(&ini);
    free(in.mats);
    if (ret) rb_experiment_free(e);
    return ret;
}

int rb_experiment_load(rb_experiment *e, const char *path, char *err, size_t err_len)
{
    memset(e, 0, sizeof *e);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    int ret = -1;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            char *n = realloc(text, cap);
            if (!n) {
                snprintf(err, err_len, "%s: out of memory", path);
                goto done;
            }
            text = n;
        }
        size_t got = fread(text + len, 1, 4096, f);
        len += got;
        if (got < 4096) break;
    }
    if (ferror(f)) {
        snprintf(err, err_len, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (memchr(text, '\0', len)) {
        snprintf(err, err_len, "%s: not a text file", path);
        goto done;
    }
    text[len] = '\0';
    ret = rb_experiment_parse(e, path, text, err, err_len);
done:
    free(text);
    fclose(f);
    return ret;
}

void rb_experiment_free(rb_experiment *e)
{
    if (!e) return;
    free(e->entries);
    e->entries = NULL;
    e->n_entries = 0;
}
