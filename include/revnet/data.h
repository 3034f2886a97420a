/*
 * data.h: datasets in host memory (CIFAR-10, CIFAR-100, Fashion-MNIST, a synthetic set), the
 * mean image, and the batches the training loop uploads to the backend.
 *
 * Every image is stored as uint8 pixels in CHW order (C planes of H rows of W pixels), C = 3,
 * H = W = 32 for every loader, so the CIFAR networks apply to every dataset unchanged.
 *
 * Preprocessing follows the paper's official code (PAPER.md, "Training recipe"):
 *   x = pixel - mean[c][y][x]      (raw 0..255 values, no division by 255)
 * with mean the per-pixel mean image. Our mean is computed over the TRAINING split only
 * (rv_data_mean_image on the train set); the official code also included the test images,
 * which leaks test statistics into training. The difference in the mean is a fraction of a
 * grey level.
 *
 * Training augmentation (rv_data_fill_batch with augment = 1): the mean-subtracted image is
 * padded with zeros to (H+4)x(W+4) (2 pixels each side; zero in the normalized image, as
 * TensorFlow pads the normalized tensor), a random HxW crop is taken and, with p = 0.5, flipped
 * left-right. See augment.h for the per-image operation.
 *
 * Data files (root resolution: the explicit root argument if non-NULL, else $REVBENCH_DATA,
 * else "data/" relative to the current directory):
 *   ROOT/cifar-10-batches-bin/data_batch_1.bin .. data_batch_5.bin, test_batch.bin
 *       10000 records of 3073 bytes each: label byte (0..9), 3072 pixel bytes (R, G, B planes)
 *   ROOT/cifar-100-binary/train.bin (50000 records), test.bin (10000 records)
 *       3074-byte records: coarse label (0..19), fine label (0..99), 3072 pixel bytes.
 *       We use the fine labels (100 classes), as the paper.
 * Get them with scripts/fetch-cifar.sh [DIR] (official download with checksums, or a restore
 * from the project machines' shared copy).
 *
 * Fashion-MNIST comes from Debian's dataset-fashion-mnist package:
 *   {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz  (gzip'ed IDX files, 60000 / 10000 images)
 * looked up in ROOT/fashion-mnist/ when a root is given explicitly, otherwise in
 * $REVBENCH_DATA/fashion-mnist/ or data/fashion-mnist/ when that folder exists, otherwise in
 * /usr/share/datasets/fashion-mnist/. Each 28x28 grey image is zero-padded to 32x32 (2 pixels
 * each side, pixel value 0 = the black background of the dataset) and its grey plane is
 * replicated to 3 channels, so it has the CIFAR shape; the mean image is then computed on the
 * padded images as for CIFAR.
 *
 * Owns: the pixel and label arrays of an rv_dataset (malloc'ed host memory; rv_data_free).
 */
#ifndef RV_DATA_H
#define RV_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "context.h"
#include "rng.h"

typedef struct {
    char name[32];      /* "cifar10", "cifar100", "fashion-mnist" or "synthetic" */
    int train;          /* 1 training split, 0 test split */
    int n;              /* number of images */
    int c, h, w;        /* image shape, always 3, 32, 32 from the loaders */
    int n_classes;      /* labels are in [0, n_classes) */
    uint8_t *pixels;    /* n * c * h * w bytes, image i at pixels + i * c * h * w, CHW */
    int32_t *labels;    /* n labels */
} rv_dataset;

/* The names rv_data_load knows, NULL-terminated ("cifar10", "cifar100", "fashion-mnist"): the
 * one list the command line and the experiment files check a dataset name against. */
const char *const *rv_data_names(void);
/* The name for a name or its accepted spelling ("cifar-10" -> "cifar10"); NULL if unknown. */
const char *rv_data_canonical_name(const char *name);
/* The number of classes of a dataset (10, 100); 0 for an unknown name. */
int rv_data_n_classes(const char *name);

/* Folder holding the data: root if non-NULL, else $REVBENCH_DATA if set and non-empty, else
 * "data". The returned pointer is root, the environment string or a literal; do not free. */
const char *rv_data_root(const char *root);

/*
 * Loads one split of a dataset into *out (which is overwritten; free it with rv_data_free).
 * name: "cifar10" | "cifar100" | "fashion-mnist" ("cifar-10", "cifar-100" are accepted too).
 * train: 1 training split, 0 test split. root: see the file comment (NULL = default lookup).
 * Every file is checked before its contents are used: a whole number of records, the expected
 * record count, labels in range (IDX: magic numbers, 28x28, counts, no trailing data).
 * Returns RV_ERR_IO for a missing or unreadable file, RV_ERR_FORMAT for a file with wrong
 * contents, RV_ERR_ARG for an unknown name, RV_ERR_NOMEM; the message names the file, says
 * what is wrong and how to get the data. On failure *out is left empty (safe to rv_data_free).
 */
rv_status rv_data_load(rv_ctx *ctx, rv_dataset *out, const char *name, int train,
                       const char *root);

/* Frees the arrays of ds and zeroes it. Accepts NULL and an already freed or zeroed dataset. */
void rv_data_free(rv_dataset *ds);

/* Keeps only the first n images of ds (1 <= n <= ds->n), for short runs and tests. The arrays
 * are not reallocated. RV_ERR_ARG when n is out of range. */
rv_status rv_data_subset(rv_ctx *ctx, rv_dataset *ds, int n);

/*
 * A synthetic dataset for tests that need no files: n images of 3x32x32, label i % n_classes,
 * each pixel a class-dependent level (so the classes are separable) plus uniform noise drawn
 * from rng. Deterministic given the rng state. RV_ERR_ARG for n < 1 or n_classes outside
 * [1, 256]; RV_ERR_NOMEM.
 */
rv_status rv_data_synthetic(rv_ctx *ctx, rv_dataset *out, int n, int n_classes,
                            rv_rng_state *rng);

/*
 * The per-pixel mean image of ds: mean_out gets c*h*w floats (CHW), the average of that
 * pixel over all ds->n images. Sums are exact integers, so the result does not depend on the
 * thread count. Call it on the TRAINING split and use the result for every split.
 */
rv_status rv_data_mean_image(rv_ctx *ctx, const rv_dataset *ds, float *mean_out);

/*
 * Fills one batch of B images for the network.
 *   x_out: B * c * h * w floats, NCHW; image i is ds image k = order[start + i]
 *          (k = start + i when order is NULL), minus mean (c*h*w floats).
 *   y_out: B labels (int32).
 * order is the epoch order (rv_rng_permutation over ds->n); start + B must not exceed ds->n,
 * so the caller drops or shortens a last partial batch.
 * augment = 0: x = pixel - mean exactly; rng is not used (may be NULL).
 * augment = 1: crop and flip as in the file comment. The draws are taken from rng before any
 *   image is written, in batch order, three per image: dy = rv_rng_below(5),
 *   dx = rv_rng_below(5), flip = rv_rng_below(2); then image i is
 *   rv_augment_crop_flip(pad = 2, dy, dx, flip). The result is therefore a function of the rng
 *   state alone (not of the thread count), and rng advances by a fixed recipe.
 * RV_ERR_ARG for NULL buffers, B < 1, start out of range, an order entry out of range, or
 * augment without an rng.
 */
rv_status rv_data_fill_batch(rv_ctx *ctx, const rv_dataset *ds, const float *mean,
                             const int32_t *order, int start, int B, int augment,
                             rv_rng_state *rng, float *x_out, int32_t *y_out);

#endif
