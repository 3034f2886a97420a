/*
 * loader.c: what every dataset shares: the table of dataset names (the one list the command
 * line, experiment files and loaders read), rv_data_load's dispatch to the loader of a name
 * (cifar.c, fashion_mnist.c), the data root, and the dataset functions that do not depend on a
 * format (allocation, free, subset, the synthetic set).
 *
 * Owns: the arrays of the datasets it allocates (freed by rv_data_free).
 */
#include "data/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The loadable datasets, each with the spelling also accepted, its classes and its loader. */
enum { CIFAR10, CIFAR100, FASHION_MNIST, N_DATASETS };

static const char *const NAMES[N_DATASETS + 1] = {
    [CIFAR10] = "cifar10", [CIFAR100] = "cifar100", [FASHION_MNIST] = "fashion-mnist", NULL
};

typedef struct {
    const char *alias;
    int n_classes;
    rv_status (*load)(rv_ctx *ctx, rv_dataset *out, int train, const char *root);
} dataset_row;

static const dataset_row ROWS[N_DATASETS] = {
    [CIFAR10] = { "cifar-10", 10, rv_data_load_cifar10 },
    [CIFAR100] = { "cifar-100", 100, rv_data_load_cifar100 },
    [FASHION_MNIST] = { NULL, 10, rv_data_load_fashion },
};

const char *const *rv_data_names(void) { return NAMES; }

/* The index of a dataset name or alias, or -1. */
static int find(const char *name)
{
    for (int i = 0; name && i < N_DATASETS; i++)
        if (!strcmp(name, NAMES[i]) || (ROWS[i].alias && !strcmp(name, ROWS[i].alias))) return i;
    return -1;
}

const char *rv_data_canonical_name(const char *name)
{
    int i = find(name);
    return i < 0 ? NULL : NAMES[i];
}

int rv_data_n_classes(const char *name)
{
    int i = find(name);
    return i < 0 ? 0 : ROWS[i].n_classes;
}

rv_status rv_data_load(rv_ctx *ctx, rv_dataset *out, const char *name, int train,
                       const char *root)
{
    if (!out || !name) return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_data_load: NULL argument");
    memset(out, 0, sizeof *out);
    int i = find(name);
    if (i >= 0) return ROWS[i].load(ctx, out, train, root);
    char known[128] = "";
    for (int k = 0; k < N_DATASETS; k++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "",
                 NAMES[k]);
    return rv_ctx_fail(ctx, RV_ERR_ARG, "unknown dataset '%s' (known: %s)", name, known);
}

const char *rv_data_root(const char *root)
{
    if (root) return root;
    const char *env = getenv("REVBENCH_DATA");
    if (env && *env) return env;
    return "data";
}

rv_status rv_data_alloc(rv_ctx *ctx, rv_dataset *out, const char *name, int train, int n,
                        int n_classes)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->train = train;
    out->c = RV_IMG_C;
    out->h = RV_IMG_H;
    out->w = RV_IMG_W;
    out->n_classes = n_classes;
    out->pixels = malloc((size_t)n * RV_IMG_BYTES);
    out->labels = malloc((size_t)n * sizeof *out->labels);
    if (!out->pixels || !out->labels) {
        rv_data_free(out);
        return rv_ctx_fail(ctx, RV_ERR_NOMEM, "%s: cannot allocate %d images (%zu bytes)",
                           name, n, (size_t)n * RV_IMG_BYTES);
    }
    out->n = n;
    return RV_OK;
}

void rv_data_free(rv_dataset *ds)
{
    if (!ds) return;
    free(ds->pixels);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

rv_status rv_data_subset(rv_ctx *ctx, rv_dataset *ds, int n)
{
    if (!ds) return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_data_subset: NULL dataset");
    if (n < 1 || n > ds->n)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_data_subset: %d images asked of the %d of %s",
                           n, ds->n, ds->name);
    ds->n = n;
    return RV_OK;
}

rv_status rv_data_synthetic(rv_ctx *ctx, rv_dataset *out, int n, int n_classes,
                            rv_rng_state *rng)
{
    if (!out || !rng) return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_data_synthetic: NULL argument");
    memset(out, 0, sizeof *out);
    if (n < 1 || n_classes < 1 || n_classes > 256)
        return rv_ctx_fail(ctx, RV_ERR_ARG,
                           "rv_data_synthetic: n = %d, n_classes = %d (need n >= 1, 1..256)",
                           n, n_classes);
    rv_status st = rv_data_alloc(ctx, out, "synthetic", 1, n, n_classes);
    if (st != RV_OK) return st;
    for (int i = 0; i < n; i++) {
        int label = i % n_classes;
        out->labels[i] = label;
        uint8_t *img = out->pixels + (size_t)i * RV_IMG_BYTES;
        /* Each class gets its own level per channel (spread over 32..223), plus noise of
         * +-32, so a linear model can separate the classes but not trivially. */
        for (int c = 0; c < RV_IMG_C; c++) {
            int level = 32 + (int)(((unsigned)label * 97u + (unsigned)c * 61u) % 192u);
            for (int p = 0; p < RV_IMG_H * RV_IMG_W; p++) {
                int v = level + (int)rv_rng_below(rng, 65) - 32;
                img[c * RV_IMG_H * RV_IMG_W + p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    return RV_OK;
}

/* Opens path and checks its size against the split's record layout. On success *f is open. */
