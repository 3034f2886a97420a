/*
 * cifar.c: the CIFAR-10 and CIFAR-100 loaders (official binary format). See data.h for the file
 * layout; loader.c picks the loader for a dataset name.
 *
 * A record is [label bytes][1024 R][1024 G][1024 B], each plane row-major 32x32, which is
 * already the CHW layout of rv_dataset, so pixels are copied as they are.
 *
 * Every file of a split is opened and its size checked before any is read, so a missing or
 * truncated file is reported at once, by name; labels are checked as the records are read.
 *
 * Owns: the arrays of the datasets it fills (freed by rv_data_free).
 */
#include "data/loader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What to tell a user whose CIFAR files are missing or damaged. */
#define RV_CIFAR_HINT \
    "get the data with scripts/fetch-cifar.sh DIR and set REVBENCH_DATA=DIR (default ./data)"

/* Records read per fread: large enough to amortise the call, small enough (3 MB) to not matter. */
#define RV_CIFAR_CHUNK 1000

typedef struct {
    const char *name;      /* dataset name for messages */
    const char *dir;       /* folder under the root */
    int label_bytes;       /* 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine) */
    int n_classes;         /* range of the label we keep */
    int n_coarse;          /* CIFAR-100 coarse label range, checked too; 0 when absent */
    const char *files[5];  /* the split's files, in order */
    int n_files;
    int records_per_file;
} cifar_split;

static const cifar_split CIFAR10_TRAIN = {
    "cifar10", "cifar-10-batches-bin", 1, 10, 0,
    { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
      "data_batch_5.bin" }, 5, 10000 };
static const cifar_split CIFAR10_TEST = {
    "cifar10", "cifar-10-batches-bin", 1, 10, 0, { "test_batch.bin" }, 1, 10000 };
static const cifar_split CIFAR100_TRAIN = {
    "cifar100", "cifar-100-binary", 2, 100, 20, { "train.bin" }, 1, 50000 };
static const cifar_split CIFAR100_TEST = {
    "cifar100", "cifar-100-binary", 2, 100, 20, { "test.bin" }, 1, 10000 };

static rv_status cifar_open_checked(rv_ctx *ctx, const cifar_split *sp, const char *path,
                                    FILE **f)
{
    long rec = sp->label_bytes + RV_IMG_BYTES;
    *f = fopen(path, "rb");
    if (!*f)
        return rv_ctx_fail(ctx, RV_ERR_IO, "%s: cannot open %s (%s); " RV_CIFAR_HINT,
                           sp->name, path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(*f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(*f);
        *f = NULL;
        return rv_ctx_fail(ctx, RV_ERR_IO, "%s: %s is not a readable regular file; "
                           RV_CIFAR_HINT, sp->name, path);
    }
    long long size = (long long)sb.st_size;
    const char *what = NULL;
    char detail[160];
    if (size == 0) {
        what = "is empty (0 bytes)";
    } else if (size % rec != 0) {
        snprintf(detail, sizeof detail,
                 "is %lld bytes, not a whole number of %ld-byte records (truncated or damaged)",
                 size, rec);
        what = detail;
    } else if (size / rec != sp->records_per_file) {
        snprintf(detail, sizeof detail, "holds %lld records, expected %d", size / rec,
                 sp->records_per_file);
        what = detail;
    }
    if (what) {
        fclose(*f);
        *f = NULL;
        return rv_ctx_fail(ctx, RV_ERR_FORMAT, "%s: %s %s; " RV_CIFAR_HINT, sp->name, path,
                           what);
    }
    return RV_OK;
}

/* Reads sp->records_per_file records from f into ds starting at image `first`. */
static rv_status cifar_read(rv_ctx *ctx, const cifar_split *sp, const char *path, FILE *f,
                            rv_dataset *ds, int first, uint8_t *buf)
{
    size_t rec = (size_t)sp->label_bytes + RV_IMG_BYTES;
    for (int r0 = 0; r0 < sp->records_per_file; r0 += RV_CIFAR_CHUNK) {
        int m = sp->records_per_file - r0 < RV_CIFAR_CHUNK ? sp->records_per_file - r0
                                                           : RV_CIFAR_CHUNK;
        if (fread(buf, rec, (size_t)m, f) != (size_t)m)
            return rv_ctx_fail(ctx, RV_ERR_IO, "%s: reading %s failed at record %d (%s)",
                               sp->name, path, r0,
                               ferror(f) ? strerror(errno) : "file shrank while reading");
        for (int j = 0; j < m; j++) {
            const uint8_t *r = buf + (size_t)j * rec;
            int label = r[sp->label_bytes - 1];
            if (sp->n_coarse && r[0] >= sp->n_coarse)
                return rv_ctx_fail(ctx, RV_ERR_FORMAT,
                                   "%s: %s record %d has coarse label %d, outside 0..%d "
                                   "(damaged file); " RV_CIFAR_HINT,
                                   sp->name, path, r0 + j, r[0], sp->n_coarse - 1);
            if (label >= sp->n_classes)
                return rv_ctx_fail(ctx, RV_ERR_FORMAT,
                                   "%s: %s record %d has label %d, outside 0..%d "
                                   "(damaged file); " RV_CIFAR_HINT,
                                   sp->name, path, r0 + j, label, sp->n_classes - 1);
            int i = first + r0 + j;
            ds->labels[i] = label;
            memcpy(ds->pixels + (size_t)i * RV_IMG_BYTES, r + sp->label_bytes,
                   RV_IMG_BYTES);
        }
    }
    return RV_OK;
}

static rv_status cifar_load(rv_ctx *ctx, rv_dataset *out, const cifar_split *sp,
                            const char *root)
{
    rv_status st = RV_OK;
    FILE *files[5] = { NULL };
    char paths[5][4096];
    uint8_t *buf = NULL;

    for (int k = 0; k < sp->n_files; k++) {
        int len = snprintf(paths[k], sizeof paths[k], "%s/%s/%s", root, sp->dir, sp->files[k]);
        if (len < 0 || (size_t)len >= sizeof paths[k]) {
            st = rv_ctx_fail(ctx, RV_ERR_ARG, "%s: data root path too long", sp->name);
            goto fail;
        }
        st = cifar_open_checked(ctx, sp, paths[k], &files[k]);
        if (st != RV_OK) goto fail;
    }
    st = rv_data_alloc(ctx, out, sp->name, sp == &CIFAR10_TRAIN || sp == &CIFAR100_TRAIN,
                       sp->n_files * sp->records_per_file, sp->n_classes);
    if (st != RV_OK) goto fail;
    buf = malloc((size_t)RV_CIFAR_CHUNK * (sp->label_bytes + RV_IMG_BYTES));
    if (!buf) {
        st = rv_ctx_fail(ctx, RV_ERR_NOMEM, "%s: cannot allocate the read buffer", sp->name);
        goto fail;
    }
    for (int k = 0; k < sp->n_files; k++) {
        st = cifar_read(ctx, sp, paths[k], files[k], out, k * sp->records_per_file, buf);
        if (st != RV_OK) goto fail;
    }

fail:
    free(buf);
    for (int k = 0; k < sp->n_files; k++)
        if (files[k]) fclose(files[k]);
    if (st != RV_OK) rv_data_free(out);
    return st;
}

rv_status rv_data_load_cifar10(rv_ctx *ctx, rv_dataset *out, int train, const char *root)
{
    return cifar_load(ctx, out, train ? &CIFAR10_TRAIN : &CIFAR10_TEST, rv_data_root(root));
}

rv_status rv_data_load_cifar100(rv_ctx *ctx, rv_dataset *out, int train, const char *root)
{
    return cifar_load(ctx, out, train ? &CIFAR100_TRAIN : &CIFAR100_TEST, rv_data_root(root));
}
