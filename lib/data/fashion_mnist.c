/*
 * data_fashion.c: the Fashion-MNIST loader (gzip'ed IDX files of Debian's dataset-fashion-mnist
 * package), mapped to the CIFAR shape: each 28x28 grey image is zero-padded by 2 pixels on each
 * side to 32x32 and its plane is replicated to the 3 channels (data.h).
 *
 * IDX format: big-endian 32-bit magic 0x00000803 (unsigned bytes, 3 dims) for images, then n,
 * rows, cols; 0x00000801 (1 dim) for labels, then n; then the bytes, row-major. Both files of a
 * split are checked (magic, 28x28, the expected count in both, labels < 10, nothing after the
 * data) before the dataset is returned.
 *
 * Owns: the arrays of the dataset it fills (freed by rv_data_free).
 */
#include "data/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define RV_FASHION_SYSTEM_DIR "/usr/share/datasets/fashion-mnist"
#define RV_FASHION_HINT \
    "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist)"
#define RV_IDX_IMAGES_MAGIC 0x00000803u
#define RV_IDX_LABELS_MAGIC 0x00000801u
#define RV_FASHION_SIDE 28
#define RV_FASHION_CLASSES 10
/* Padding that centres 28x28 in 32x32. */
#define RV_FASHION_OFFSET ((RV_IMG_H - RV_FASHION_SIDE) / 2)

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The folder holding the .gz files; see data.h for the order of the lookup. */
static void fashion_dir(char *dir, size_t len, const char *root)
{
    if (root) {
        snprintf(dir, len, "%s/fashion-mnist", root);
        return;
    }
    snprintf(dir, len, "%s/fashion-mnist", rv_data_root(NULL));
    if (!is_dir(dir)) snprintf(dir, len, "%s", RV_FASHION_SYSTEM_DIR);
}

/* Reads exactly len bytes; a short read is a truncated file (FORMAT), a zlib error is IO
 * (damaged gzip stream), both naming the file. */
static rv_status gz_read_exact(rv_ctx *ctx, gzFile gz, const char *path, void *buf,
                               size_t len, const char *what)
{
    uint8_t *p = buf;
    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
        int got = gzread(gz, p, chunk);
        if (got < 0) {
            int err;
            const char *msg = gzerror(gz, &err);
            return rv_ctx_fail(ctx, RV_ERR_FORMAT, "fashion-mnist: %s: cannot read the %s (%s); "
                               RV_FASHION_HINT, path, what, msg ? msg : "gzip error");
        }
        if (got == 0)
            return rv_ctx_fail(ctx, RV_ERR_FORMAT,
                               "fashion-mnist: %s is truncated: it ends inside the %s; "
                               RV_FASHION_HINT, path, what);
        p += got;
        len -= (size_t)got;
    }
    return RV_OK;
}

static uint32_t be32(const uint8_t *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* Opens an IDX file and checks its header: magic, count (n_expected) and, for images, 28x28. */
static rv_status idx_open(rv_ctx *ctx, gzFile *gz, const char *path, uint32_t magic,
                          uint32_t n_expected)
{
    *gz = gzopen(path, "rb");
    if (!*gz)
        return rv_ctx_fail(ctx, RV_ERR_IO, "fashion-mnist: cannot open %s; " RV_FASHION_HINT
                           " or set REVBENCH_DATA to a folder holding fashion-mnist/", path);
    int images = magic == RV_IDX_IMAGES_MAGIC;
    uint8_t hdr[16];
    rv_status st = gz_read_exact(ctx, *gz, path, hdr, images ? 16 : 8, "IDX header");
    if (st != RV_OK) return st;
    if (be32(hdr) != magic)
        return rv_ctx_fail(ctx, RV_ERR_FORMAT,
                           "fashion-mnist: %s has IDX magic 0x%08x, expected 0x%08x (%s file); "
                           RV_FASHION_HINT, path, be32(hdr), magic, images ? "image" : "label");
    if (be32(hdr + 4) != n_expected)
        return rv_ctx_fail(ctx, RV_ERR_FORMAT,
                           "fashion-mnist: %s holds %u items, expected %u; " RV_FASHION_HINT,
                           path, be32(hdr + 4), n_expected);
    if (images && (be32(hdr + 8) != RV_FASHION_SIDE || be32(hdr + 12) != RV_FASHION_SIDE))
        return rv_ctx_fail(ctx, RV_ERR_FORMAT,
                           "fashion-mnist: %s has %ux%u images, expected 28x28; " RV_FASHION_HINT,
                           path, be32(hdr + 8), be32(hdr + 12));
    return RV_OK;
}

/* After the data: anything more is a damaged or foreign file. */
static rv_status idx_expect_end(rv_ctx *ctx, gzFile gz, const char *path)
{
    uint8_t extra;
    int got = gzread(gz, &extra, 1);
    if (got != 0)
        return rv_ctx_fail(ctx, RV_ERR_FORMAT,
                           "fashion-mnist: %s %s after the expected data; " RV_FASHION_HINT,
                           path, got > 0 ? "has extra bytes" : "is damaged");
    return RV_OK;
}

rv_status rv_data_load_fashion(rv_ctx *ctx, rv_dataset *out, int train, const char *root)
{
    rv_status st = RV_OK;
    gzFile gz_img = NULL, gz_lab = NULL;
    uint8_t *raw = NULL;
    char dir[3900], img_path[4096], lab_path[4096];
    const char *prefix = train ? "train" : "t10k";
    uint32_t n = train ? 60000u : 10000u;
    const size_t side2 = RV_FASHION_SIDE * RV_FASHION_SIDE;

    memset(out, 0, sizeof *out);
    fashion_dir(dir, sizeof dir, root);
    snprintf(img_path, sizeof img_path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lab_path, sizeof lab_path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);

    st = idx_open(ctx, &gz_lab, lab_path, RV_IDX_LABELS_MAGIC, n);
    if (st != RV_OK) goto fail;
    st = idx_open(ctx, &gz_img, img_path, RV_IDX_IMAGES_MAGIC, n);
    if (st != RV_OK) goto fail;

    st = rv_data_alloc(ctx, out, "fashion-mnist", train ? 1 : 0, (int)n, RV_FASHION_CLASSES);
    if (st != RV_OK) goto fail;
    /* The raw images and labels share one buffer: n * 784 image bytes, then n label bytes. */
    raw = malloc((size_t)n * (side2 + 1));
    if (!raw) {
        st = rv_ctx_fail(ctx, RV_ERR_NOMEM, "fashion-mnist: cannot allocate %zu bytes",
                         (size_t)n * (side2 + 1));
        goto fail;
    }
    uint8_t *raw_labels = raw + (size_t)n * side2;
    st = gz_read_exact(ctx, gz_lab, lab_path, raw_labels, n, "labels");
    if (st != RV_OK) goto fail;
    st = idx_expect_end(ctx, gz_lab, lab_path);
    if (st != RV_OK) goto fail;
    st = gz_read_exact(ctx, gz_img, img_path, raw, (size_t)n * side2, "images");
    if (st != RV_OK) goto fail;
    st = idx_expect_end(ctx, gz_img, img_path);
    if (st != RV_OK) goto fail;

    for (uint32_t i = 0; i < n; i++) {
        if (raw_labels[i] >= RV_FASHION_CLASSES) {
            st = rv_ctx_fail(ctx, RV_ERR_FORMAT,
                             "fashion-mnist: %s item %u has label %d, outside 0..9; "
                             RV_FASHION_HINT, lab_path, i, raw_labels[i]);
            goto fail;
        }
        out->labels[i] = raw_labels[i];
        uint8_t *img = out->pixels + (size_t)i * RV_IMG_BYTES;
        const uint8_t *src = raw + (size_t)i * side2;
        /* Channel 0: zero border, image in the centre; channels 1, 2: copies of channel 0. */
        memset(img, 0, RV_IMG_H * RV_IMG_W);
        for (int y = 0; y < RV_FASHION_SIDE; y++)
            memcpy(img + (y + RV_FASHION_OFFSET) * RV_IMG_W + RV_FASHION_OFFSET,
                   src + y * RV_FASHION_SIDE, RV_FASHION_SIDE);
        for (int c = 1; c < RV_IMG_C; c++)
            memcpy(img + c * RV_IMG_H * RV_IMG_W, img, RV_IMG_H * RV_IMG_W);
    }

fail:
    free(raw);
    if (gz_img) gzclose(gz_img);
    if (gz_lab) gzclose(gz_lab);
    if (st != RV_OK) rv_data_free(out);
    return st;
}
