/*
 * test_data.c: the dataset layer (include/revnet/data.h, include/revnet/augment.h): CIFAR-10/100 and Fashion-MNIST
 * on the real files when present, every loader on corrupt files made in a temp dir, the mean
 * image, and batches with and without augmentation.
 *
 * Real CIFAR files are looked up in $REVBENCH_DATA, else ./data; when absent the tests that
 * need them are skipped with a message (failed when REVBENCH_REQUIRE_DATA=1). Restore them with
 * scripts/fetch-cifar.sh DIR, then REVBENCH_DATA=DIR.
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <revnet/augment.h>
#include <revnet/context.h>
#include <revnet/data.h>
#include <revnet/rng.h>

#define IMG 3072 /* 3 x 32 x 32 */
#define C10_REC 3073
#define C100_REC 3074
/* Per-channel means of the CIFAR-10 training images, computed with a separate Python script
 * over the five official batch files (125.3069, 122.9504, 113.8654; the values commonly quoted
 * are 0.4914, 0.4822, 0.4465 of 255). The tolerance allows for float rounding of the per-pixel
 * means (about 1e-5 relative), far below 0.01 grey levels, while a wrong channel order (errors
 * of 2..11) or a missing batch file (changes of ~0.1) fails. */
#define TOL_CHANNEL_MEAN 0.01
static const double CIFAR10_CHANNEL_MEAN[3] = { 125.306918, 122.950394, 113.865383 };

static rv_ctx *ctx;

static void setup(void)
{
    char msg[256];
    rv_ctx_options opt = rv_ctx_default_options();
    cr_assert_eq(rv_ctx_create(&ctx, &opt, msg, sizeof msg), RV_OK, "%s", msg);
}

static void teardown(void)
{
    rv_ctx_destroy(ctx);
    ctx = NULL;
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The root holding sub (e.g. "cifar-10-batches-bin"), or a skip (a failure when the data is
 * required). */
static const char *real_root_or_skip(const char *sub)
{
    const char *env = getenv("REVBENCH_DATA");
    const char *root = env && *env ? env : "data";
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, sub);
    if (is_dir(path)) return root;
    const char *req = getenv("REVBENCH_REQUIRE_DATA");
    if (req && !strcmp(req, "1"))
        cr_assert_fail("REVBENCH_REQUIRE_DATA=1 but %s is missing; get the data with "
                "scripts/fetch-cifar.sh DIR and set REVBENCH_DATA=DIR", path);
    cr_skip_test("%s not found: get the data with scripts/fetch-cifar.sh DIR and set "
                 "REVBENCH_DATA=DIR to run this test", path);
    return NULL;
}

/* ---- temp dirs with files in the official layouts ---------------------------------------- */

static char tmp_root[64];

static void make_tmp_root(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/rv_test_data_XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root), "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void rm_tmp_root(void)
{
    if (tmp_root[0]) nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmp_root[0] = '\0';
}

static void setup_tmp(void) { setup(); make_tmp_root(); }
static void teardown_tmp(void) { rm_tmp_root(); teardown(); }

static void tmp_path(char *out, size_t len, const char *sub, const char *file)
{
    snprintf(out, len, "%s/%s/%s", tmp_root, sub, file);
}

/* A file of `bytes` zero bytes (sparse: no disk, no time). All-zero CIFAR records are valid:
 * label 0, black pixels. */
static void make_sparse(const char *sub, const char *file, long long bytes)
{
    char dir[4096], path[4096];
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, sub);
    mkdir(dir, 0755);
    tmp_path(path, sizeof path, sub, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(ftruncate(fd, (off_t)bytes), 0);
    close(fd);
}

static void poke_byte(const char *sub, const char *file, long long offset, unsigned char v)
{
    char path[4096];
    tmp_path(path, sizeof path, sub, file);
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, &v, 1, (off_t)offset), 1);
    close(fd);
}

/* Loads the test split of name from the temp root: 10000 images, the last labelled last_label. */
static void expect_test_split_loads(const char *name, int last_label)
{
    rv_dataset ds;
    cr_assert_eq(rv_data_load(ctx, &ds, name, 0, tmp_root), RV_OK, "%s", rv_ctx_message(ctx));
    cr_assert_eq(ds.n, 10000);
    cr_assert_eq(ds.labels[9999], last_label);
    rv_data_free(&ds);
}

/* Loads and expects failure with status want and a message containing each of the strings;
 * what names the case in the failure messages. */
static void expect_load_error(const char *what, const char *name, int train, rv_status want,
                              const char *s1, const char *s2)
{
    rv_dataset ds;
    rv_status st = rv_data_load(ctx, &ds, name, train, tmp_root);
    const char *msg = rv_ctx_message(ctx);
    cr_assert_eq(st, want, "%s: status %s, expected %s; message: %s", what, rv_status_name(st),
                 rv_status_name(want), msg);
    cr_assert_null(ds.pixels, "%s: a failed load left pixels allocated", what);
    cr_assert_null(strstr(msg, "%"), "%s: unformatted message: %s", what, msg);
    if (s1) cr_assert_not_null(strstr(msg, s1), "%s: message lacks '%s': %s", what, s1, msg);
    if (s2) cr_assert_not_null(strstr(msg, s2), "%s: message lacks '%s': %s", what, s2, msg);
    rv_data_free(&ds);
}

/* ---- CIFAR on corrupt files -------------------------------------------------------------- */

#define C10 "cifar-10-batches-bin"
#define C100 "cifar-100-binary"

TestSuite(cifar_corrupt, .init = setup_tmp, .fini = teardown_tmp);

Test(cifar_corrupt, valid_zero_file_loads)
{
    /* The base of the corrupt cases is valid; each case below differs from it in one way. */
    make_sparse(C10, "test_batch.bin", 10000LL * C10_REC);
    expect_test_split_loads("cifar10", 0);
}

Test(cifar_corrupt, missing_batch_file)
{
    const char *present[] = { "data_batch_1.bin", "data_batch_2.bin", "data_batch_4.bin",
                              "data_batch_5.bin" };
    for (int i = 0; i < 4; i++) make_sparse(C10, present[i], 10000LL * C10_REC);
    expect_load_error("missing batch file", "cifar10", 1, RV_ERR_IO, "data_batch_3.bin",
                      "fetch-cifar.sh");
}

Test(cifar_corrupt, bad_file_among_good_is_named)
{
    for (int i = 1; i <= 5; i++) {
        char f[32];
        snprintf(f, sizeof f, "data_batch_%d.bin", i);
        make_sparse(C10, f, 10000LL * C10_REC - (i == 4 ? 3073 : 0));
    }
    expect_load_error("bad file among good", "cifar10", 1, RV_ERR_FORMAT, "data_batch_4.bin",
                      "expected 10000");
}

/* One file of zero bytes, or none (bytes < 0), with one byte set (poke_at >= 0); loading the
 * dataset's training (train) or test split must fail with status want, naming s1 and s2.
 * Strings are arrays: Criterion copies parameters into the test process. */
typedef struct {
    char name[40], sub[32], file[32];
    long long bytes, poke_at;
    unsigned char poke;
    char dataset[16];
    int train;
    rv_status want;
    char s1[32], s2[40];
} damaged_file;

ParameterizedTestParameters(cifar_corrupt, damaged_file_is_refused)
{
    static damaged_file cases[] = {
        { "truncated by one byte", C10, "test_batch.bin", 10000LL * C10_REC - 1, -1, 0,
          "cifar10", 0, RV_ERR_FORMAT, "test_batch.bin", "whole number" },
        { "oversized by a record fragment", C10, "test_batch.bin", 10000LL * C10_REC + 100, -1,
          0, "cifar10", 0, RV_ERR_FORMAT, "test_batch.bin", "3073-byte records" },
        { "one record too many", C10, "test_batch.bin", 10001LL * C10_REC, -1, 0, "cifar10", 0,
          RV_ERR_FORMAT, "test_batch.bin", "holds 10001 records" },
        { "label 200", C10, "test_batch.bin", 10000LL * C10_REC, 1234LL * C10_REC, 200,
          "cifar10", 0, RV_ERR_FORMAT, "test_batch.bin", "record 1234 has label 200" },
        { "empty file", C10, "test_batch.bin", 0, -1, 0, "cifar10", 0, RV_ERR_FORMAT,
          "test_batch.bin", "empty" },
        /* No file at all: the message says how to get the data. */
        { "missing root", C10, "test_batch.bin", -1, -1, 0, "cifar10", 0, RV_ERR_IO,
          "test_batch.bin", "REVBENCH_DATA" },
        { "cifar100 fine label 100", C100, "test.bin", 10000LL * C100_REC, 42LL * C100_REC + 1,
          100, "cifar100", 0, RV_ERR_FORMAT, "test.bin", "record 42 has label 100" },
        { "cifar100 coarse label 20", C100, "test.bin", 10000LL * C100_REC, 7LL * C100_REC, 20,
          "cifar100", 0, RV_ERR_FORMAT, "test.bin", "coarse label 20" },
        /* A CIFAR-10 sized file where the CIFAR-100 training file should be. */
        { "cifar100 train wrong count", C100, "train.bin", 10000LL * C100_REC, -1, 0,
          "cifar100", 1, RV_ERR_FORMAT, "train.bin", "expected 50000" },
        { "unknown dataset name", "", "", -1, -1, 0, "imagenet", 1, RV_ERR_ARG, "imagenet",
          "cifar10" },
    };
    return cr_make_param_array(damaged_file, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(damaged_file *c, cifar_corrupt, damaged_file_is_refused)
{
    if (c->bytes >= 0) make_sparse(c->sub, c->file, c->bytes);
    if (c->poke_at >= 0) poke_byte(c->sub, c->file, c->poke_at, c->poke);
    expect_load_error(c->name, c->dataset, c->train, c->want, c->s1, c->s2);
}

/* ---- CIFAR on the real files ------------------------------------------------------------- */

TestSuite(cifar_real, .init = setup, .fini = teardown);

/* Reads record `rec` of a CIFAR file directly, for comparison with the loader. */
static void read_record(const char *root, const char *sub, const char *file, int rec_bytes,
                        int rec, unsigned char *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", root, sub, file);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fseek(f, (long)rec * rec_bytes, SEEK_SET), 0);
    cr_assert_eq(fread(out, 1, (size_t)rec_bytes, f), (size_t)rec_bytes);
    fclose(f);
}

static void assert_class_counts(const rv_dataset *ds, int per_class)
{
    int count[100] = { 0 };
    for (int i = 0; i < ds->n; i++) {
        cr_assert(ds->labels[i] >= 0 && ds->labels[i] < ds->n_classes, "label %d of image %d",
                  ds->labels[i], i);
        count[ds->labels[i]]++;
    }
    for (int k = 0; k < ds->n_classes; k++)
        cr_assert_eq(count[k], per_class, "class %d has %d images, expected %d", k, count[k],
                     per_class);
}

Test(cifar_real, cifar10_train)
{
    const char *root = real_root_or_skip(C10);
    rv_dataset ds;
    cr_assert_eq(rv_data_load(ctx, &ds, "cifar10", 1, NULL), RV_OK, "%s", rv_ctx_message(ctx));
    cr_assert_eq(ds.n, 50000);
    cr_assert_eq(ds.n_classes, 10);
    cr_assert(ds.c == 3 && ds.h == 32 && ds.w == 32);
    /* First labels of data_batch_1.bin (frog, truck), and the first of data_batch_2.bin. */
    cr_assert_eq(ds.labels[0], 6);
    cr_assert_eq(ds.labels[1], 9);
    cr_assert_eq(ds.labels[10000], 1);
    assert_class_counts(&ds, 5000); /* CIFAR-10 train is balanced: 5000 per class */
    unsigned char rec[C10_REC];
    read_record(root, C10, "data_batch_2.bin", C10_REC, 0, rec);
    cr_assert_eq(memcmp(ds.pixels + 10000LL * IMG, rec + 1, IMG), 0,
                 "image 10000 differs from record 0 of data_batch_2.bin");
    read_record(root, C10, "data_batch_5.bin", C10_REC, 9999, rec);
    cr_assert_eq(memcmp(ds.pixels + 49999LL * IMG, rec + 1, IMG), 0);

    float *mean = malloc(IMG * sizeof *mean);
    cr_assert_eq(rv_data_mean_image(ctx, &ds, mean), RV_OK);
    for (int c = 0; c < 3; c++) {
        double s = 0;
        for (int p = 0; p < 1024; p++) s += mean[c * 1024 + p];
        cr_assert_lt(fabs(s / 1024 - CIFAR10_CHANNEL_MEAN[c]), TOL_CHANNEL_MEAN,
                     "channel %d mean %.4f, expected %.4f", c, s / 1024,
                     CIFAR10_CHANNEL_MEAN[c]);
    }
    free(mean);
    rv_data_free(&ds);
}

Test(cifar_real, cifar10_test)
{
    real_root_or_skip(C10);
    rv_dataset ds;
    cr_assert_eq(rv_data_load(ctx, &ds, "cifar10", 0, NULL), RV_OK, "%s", rv_ctx_message(ctx));
    cr_assert_eq(ds.n, 10000);
    cr_assert_eq(ds.train, 0);
    /* First labels of test_batch.bin: cat, ship. */
    cr_assert_eq(ds.labels[0], 3);
    cr_assert_eq(ds.labels[1], 8);
    assert_class_counts(&ds, 1000);
    rv_data_free(&ds);
}

Test(cifar_real, cifar100_train_and_test)
{
    const char *root = real_root_or_skip(C100);
    rv_dataset ds;
    cr_assert_eq(rv_data_load(ctx, &ds, "cifar100", 1, NULL), RV_OK, "%s",
                 rv_ctx_message(ctx));
    cr_assert_eq(ds.n, 50000);
    cr_assert_eq(ds.n_classes, 100);
    /* Fine labels of the first records of train.bin (cattle, lamp); coarse ones are 11, 15. */
    cr_assert_eq(ds.labels[0], 19);
    cr_assert_eq(ds.labels[1], 29);
    assert_class_counts(&ds, 500);
    unsigned char rec[C100_REC];
    read_record(root, C100, "train.bin", C100_REC, 31337, rec);
    cr_assert_eq(ds.labels[31337], rec[1]);
    cr_assert_eq(memcmp(ds.pixels + 31337LL * IMG, rec + 2, IMG), 0);
    rv_data_free(&ds);

    cr_assert_eq(rv_data_load(ctx, &ds, "cifar-100", 0, NULL), RV_OK, "%s",
                 rv_ctx_message(ctx));
    cr_assert_eq(ds.n, 10000);
    cr_assert_eq(ds.labels[0], 49);
    cr_assert_eq(ds.labels[1], 33);
    assert_class_counts(&ds, 100);
    rv_data_free(&ds);
}

/* ---- Fashion-MNIST ----------------------------------------------------------------------- */

#define FASHION_SYS "/usr/share/datasets/fashion-mnist"

TestSuite(fashion, .init = setup, .fini = teardown);

static void fashion_or_skip(void)
{
    if (!is_dir(FASHION_SYS))
        cr_skip_test("%s not found: apt-get install dataset-fashion-mnist", FASHION_SYS);
}

Test(fashion, train_and_test_load_padded_to_32x32x3)
{
    fashion_or_skip();
    rv_dataset ds;
    cr_assert_eq(rv_data_load(ctx, &ds, "fashion-mnist", 1, NULL), RV_OK, "%s",
                 rv_ctx_message(ctx));
    cr_assert_eq(ds.n, 60000);
    cr_assert_eq(ds.n_classes, 10);
    cr_assert(ds.c == 3 && ds.h == 32 && ds.w == 32);
    cr_assert_eq(ds.labels[0], 9); /* the first training image is an ankle boot */
    assert_class_counts(&ds, 6000);

    /* Image 0 against the raw IDX bytes: border of 2 zero pixels, centre = the 28x28 image,
     * the same in all three channels. */
    gzFile gz = gzopen(FASHION_SYS "/train-images-idx3-ubyte.gz", "rb");
    cr_assert_not_null(gz);
    unsigned char raw[16 + 784];
    cr_assert_eq(gzread(gz, raw, sizeof raw), (int)sizeof raw);
    gzclose(gz);
    long nonzero = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                int v = ds.pixels[(c * 32 + y) * 32 + x];
                int inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                int want = inside ? raw[16 + (y - 2) * 28 + (x - 2)] : 0;
                cr_assert_eq(v, want, "c=%d y=%d x=%d: %d, expected %d", c, y, x, v, want);
                nonzero += v != 0;
            }
    cr_assert_gt(nonzero, 300, "image 0 is nearly blank");
    rv_data_free(&ds);

    cr_assert_eq(rv_data_load(ctx, &ds, "fashion-mnist", 0, NULL), RV_OK, "%s",
                 rv_ctx_message(ctx));
    cr_assert_eq(ds.n, 10000);
    cr_assert_eq(ds.labels[0], 9);
    assert_class_counts(&ds, 1000);
    rv_data_free(&ds);
}

TestSuite(fashion_corrupt, .init = setup_tmp, .fini = teardown_tmp);

/* Writes a gzip'ed IDX file: a header of big-endian words, then n_body bytes of value fill. */
static void write_idx_gz(const char *file, const unsigned *words, int n_words, long n_body,
                         unsigned char fill)
{
    char dir[256], path[4096];
    snprintf(dir, sizeof dir, "%s/fashion-mnist", tmp_root);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    gzFile gz = gzopen(path, "wb1");
    cr_assert_not_null(gz);
    for (int i = 0; i < n_words; i++) {
        unsigned char b[4] = { (unsigned char)(words[i] >> 24), (unsigned char)(words[i] >> 16),
                               (unsigned char)(words[i] >> 8), (unsigned char)words[i] };
        cr_assert_eq(gzwrite(gz, b, 4), 4);
    }
    static unsigned char body[65536];
    memset(body, fill, sizeof body);
    for (long left = n_body; left > 0; left -= (long)sizeof body) {
        unsigned chunk = left > (long)sizeof body ? (unsigned)sizeof body : (unsigned)left;
        cr_assert_eq(gzwrite(gz, body, chunk), (int)chunk);
    }
    gzclose(gz);
}

/* A valid test split (10000 blank images labelled 3), then the case's damage. */
static void write_fashion_test(long images_missing, unsigned label_magic, unsigned char label)
{
    const unsigned lab[2] = { label_magic, 10000 };
    write_idx_gz("t10k-labels-idx1-ubyte.gz", lab, 2, 10000, label);
    const unsigned img[4] = { 0x803, 10000, 28, 28 };
    write_idx_gz("t10k-images-idx3-ubyte.gz", img, 4, 10000L * 784 - images_missing, 0);
}

Test(fashion_corrupt, valid_synthetic_files_load)
{
    write_fashion_test(0, 0x801, 3);
    expect_test_split_loads("fashion-mnist", 3);
}

/* The valid test split with one thing wrong: images_missing bytes short, the label file's magic
 * or every label changed; loading it must fail naming the file (s1) and the fault (s2). */
typedef struct {
    char name[24];
    long images_missing;
    unsigned label_magic;
    unsigned char label;
    char s1[32], s2[24];
} damaged_fashion;

ParameterizedTestParameters(fashion_corrupt, damaged_split_is_refused)
{
    static damaged_fashion cases[] = {
        { "bad magic", 0, 0x802, 3, "t10k-labels-idx1-ubyte.gz", "magic 0x00000802" },
        { "label 10", 0, 0x801, 10, "t10k-labels-idx1-ubyte.gz", "label 10" },
        { "truncated images", 1, 0x801, 3, "t10k-images-idx3-ubyte.gz", "truncated" },
    };
    return cr_make_param_array(damaged_fashion, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(damaged_fashion *c, fashion_corrupt, damaged_split_is_refused)
{
    write_fashion_test(c->images_missing, c->label_magic, c->label);
    expect_load_error(c->name, "fashion-mnist", 0, RV_ERR_FORMAT, c->s1, c->s2);
}

Test(fashion_corrupt, wrong_image_size)
{
    write_fashion_test(0, 0x801, 3);
    const unsigned img[4] = { 0x803, 10000, 32, 32 };
    write_idx_gz("t10k-images-idx3-ubyte.gz", img, 4, 10000L * 1024, 0);
    expect_load_error("wrong image size", "fashion-mnist", 0, RV_ERR_FORMAT,
                      "t10k-images-idx3-ubyte.gz", "28x28");
}

Test(fashion_corrupt, damaged_gzip_stream)
{
    write_fashion_test(0, 0x801, 3);
    /* Flip bytes in the middle of the compressed image stream: inflate or the CRC fails. */
    char path[4096];
    tmp_path(path, sizeof path, "fashion-mnist", "t10k-images-idx3-ubyte.gz");
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    int fd = open(path, O_WRONLY);
    unsigned char junk[16];
    memset(junk, 0xA5, sizeof junk);
    cr_assert_eq(pwrite(fd, junk, sizeof junk, sb.st_size / 2), (ssize_t)sizeof junk);
    close(fd);
    expect_load_error("damaged gzip stream", "fashion-mnist", 0, RV_ERR_FORMAT,
                      "t10k-images-idx3-ubyte.gz", NULL);
}

Test(fashion_corrupt, missing_files)
{
    expect_load_error("missing files", "fashion-mnist", 1, RV_ERR_IO,
                      "train-labels-idx1-ubyte.gz", "dataset-fashion-mnist");
}

/* ---- mean image, batches, augmentation (synthetic data) ---------------------------------- */

TestSuite(batch, .init = setup, .fini = teardown);

static void synthetic(rv_dataset *ds, int n, float *mean)
{
    rv_rng_state r;
    rv_rng_seed(&r, 11);
    cr_assert_eq(rv_data_synthetic(ctx, ds, n, 10, &r), RV_OK, "%s", rv_ctx_message(ctx));
    if (mean) cr_assert_eq(rv_data_mean_image(ctx, ds, mean), RV_OK);
}

/* The padded normalized image P of augment.h, built the slow obvious way. */
static float padded(const rv_dataset *ds, const float *mean, int k, int c, int u, int v)
{
    int y = u - 2, x = v - 2;
    if (y < 0 || y >= 32 || x < 0 || x >= 32) return 0.0f;
    int p = (c * 32 + y) * 32 + x;
    return (float)ds->pixels[(size_t)k * IMG + p] - mean[p];
}

Test(batch, mean_image_is_the_per_pixel_average)
{
    rv_dataset ds;
    static float mean[IMG];
    synthetic(&ds, 77, mean);
    for (int p = 0; p < IMG; p += 97) {
        double s = 0;
        for (int i = 0; i < ds.n; i++) s += ds.pixels[(size_t)i * IMG + p];
        /* Both are the exact integer sum divided by 77, rounded once to float. */
        cr_assert_eq(mean[p], (float)(s / ds.n), "pixel %d", p);
    }
    rv_data_free(&ds);
}

Test(batch, no_augment_is_mean_subtraction_exactly)
{
    rv_dataset ds;
    static float mean[IMG], x[8 * IMG];
    int32_t y[8], order[20];
    synthetic(&ds, 20, mean);
    for (int i = 0; i < 20; i++) order[i] = 19 - i;
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, order, 4, 8, 0, NULL, x, y), RV_OK, "%s",
                 rv_ctx_message(ctx));
    for (int i = 0; i < 8; i++) {
        int k = order[4 + i];
        cr_assert_eq(y[i], ds.labels[k]);
        for (int p = 0; p < IMG; p++)
            cr_assert_eq(x[(size_t)i * IMG + p], (float)ds.pixels[(size_t)k * IMG + p] - mean[p],
                         "image %d pixel %d", i, p);
    }
    rv_data_free(&ds);
}

Test(batch, every_crop_and_flip_matches_the_padded_reference)
{
    rv_dataset ds;
    static float mean[IMG], out[IMG];
    synthetic(&ds, 3, mean);
    for (int dy = 0; dy <= 4; dy++)
        for (int dx = 0; dx <= 4; dx++)
            for (int flip = 0; flip <= 1; flip++) {
                rv_augment_crop_flip(out, ds.pixels + IMG, mean, 3, 32, 32, RV_AUGMENT_PAD, dy,
                                     dx, flip);
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < 32; y++)
                        for (int x = 0; x < 32; x++) {
                            int xs = flip ? 31 - x : x;
                            float want = padded(&ds, mean, 1, c, y + dy, xs + dx);
                            cr_assert_eq(out[(c * 32 + y) * 32 + x], want,
                                         "dy=%d dx=%d flip=%d c=%d y=%d x=%d", dy, dx, flip, c,
                                         y, x);
                        }
            }
    rv_data_free(&ds);
}

Test(batch, centre_crop_is_the_image_and_flipped_centre_crop_its_mirror)
{
    rv_dataset ds;
    static float mean[IMG], out[IMG], out_flip[IMG];
    synthetic(&ds, 2, mean);
    rv_augment_crop_flip(out, ds.pixels, mean, 3, 32, 32, 2, 2, 2, 0);
    rv_augment_crop_flip(out_flip, ds.pixels, mean, 3, 32, 32, 2, 2, 2, 1);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                int p = (c * 32 + y) * 32 + x, m = (c * 32 + y) * 32 + (31 - x);
                cr_assert_eq(out[p], (float)ds.pixels[p] - mean[p]);
                cr_assert_eq(out_flip[p], (float)ds.pixels[m] - mean[m]);
            }
    rv_data_free(&ds);
}

Test(batch, padding_is_zero_in_the_normalized_image)
{
    rv_dataset ds;
    static float mean[IMG], out[IMG];
    synthetic(&ds, 2, mean);
    /* Synthetic pixels are >= 1 away from the mean almost everywhere, so a border that held
     * -mean (padding before normalization) or a pixel value would not be 0. */
    const int corners[4][3] = { { 0, 0, 0 }, { 4, 4, 0 }, { 0, 4, 1 }, { 4, 0, 1 } };
    for (int t = 0; t < 4; t++) {
        int dy = corners[t][0], dx = corners[t][1], flip = corners[t][2];
        rv_augment_crop_flip(out, ds.pixels, mean, 3, 32, 32, 2, dy, dx, flip);
        /* Zero rows: top two for dy = 0, bottom two for dy = 4; zero columns likewise for the
         * effective horizontal shift, which the flip mirrors. */
        int shift = flip ? -(dx - 2) : dx - 2;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    int row_pad = dy == 0 ? y < 2 : y >= 30;
                    int col_pad = shift < 0 ? x < 2 : x >= 30;
                    float v = out[(c * 32 + y) * 32 + x];
                    if (row_pad || col_pad)
                        cr_assert_eq(v, 0.0f, "case %d c=%d y=%d x=%d: %g", t, c, y, x, v);
                }
    }
    rv_data_free(&ds);
}

Test(batch, augmented_batch_is_deterministic_and_replays_its_draws)
{
    enum { N = 50, B = 32 };
    rv_dataset ds;
    static float mean[IMG], x1[B * IMG], x2[B * IMG], x3[B * IMG], one[IMG];
    int32_t y1[B], y2[B], order[N];
    synthetic(&ds, N, mean);
    rv_rng_state r1, r2, r3, replay;
    rv_rng_seed(&r1, 99);
    rv_rng_permutation(&r1, order, N);
    r2 = r1;
    replay = r1;
    rv_rng_seed(&r3, 100);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, order, 10, B, 1, &r1, x1, y1), RV_OK);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, order, 10, B, 1, &r2, x2, y2), RV_OK);
    cr_assert_eq(memcmp(x1, x2, sizeof x1), 0, "same rng state, different batch");
    cr_assert_eq(memcmp(y1, y2, sizeof y1), 0);
    cr_assert_eq(memcmp(&r1, &r2, sizeof r1), 0, "the rng advanced differently");
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, order, 10, B, 1, &r3, x3, y2), RV_OK);
    cr_assert_neq(memcmp(x1, x3, sizeof x1), 0, "another seed gave the same augmentation");

    /* The documented recipe: dy, dx, flip per image, in batch order. */
    int n_flip = 0, n_shift = 0;
    for (int i = 0; i < B; i++) {
        int dy = (int)rv_rng_below(&replay, 5), dx = (int)rv_rng_below(&replay, 5);
        int flip = (int)rv_rng_below(&replay, 2);
        n_flip += flip;
        n_shift += dy != 2 || dx != 2;
        int k = order[10 + i];
        rv_augment_crop_flip(one, ds.pixels + (size_t)k * IMG, mean, 3, 32, 32, 2, dy, dx, flip);
        cr_assert_eq(memcmp(one, x1 + (size_t)i * IMG, sizeof one), 0, "image %d", i);
        cr_assert_eq(y1[i], ds.labels[k]);
    }
    cr_assert_eq(memcmp(&replay, &r1, sizeof r1), 0, "fill_batch drew more than 3 per image");
    /* 32 fair flips: P(fewer than 4 or more than 28) < 1e-5; likewise centre crops. */
    cr_assert(n_flip >= 4 && n_flip <= 28, "%d flips of %d", n_flip, B);
    cr_assert_geq(n_shift, 16, "only %d of %d crops moved", n_shift, B);
    rv_data_free(&ds);
}

Test(batch, result_does_not_depend_on_thread_count)
{
    enum { N = 64, B = 64 };
    rv_dataset ds;
    static float mean1[IMG], mean4[IMG], x1[B * IMG], x4[B * IMG];
    int32_t y[B];
    rv_rng_state r1, r4;
    synthetic(&ds, N, NULL);
    rv_rng_seed(&r1, 5);
    r4 = r1;
    omp_set_num_threads(1);
    cr_assert_eq(rv_data_mean_image(ctx, &ds, mean1), RV_OK);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean1, NULL, 0, B, 1, &r1, x1, y), RV_OK);
    omp_set_num_threads(4);
    cr_assert_eq(rv_data_mean_image(ctx, &ds, mean4), RV_OK);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean4, NULL, 0, B, 1, &r4, x4, y), RV_OK);
    cr_assert_eq(memcmp(mean1, mean4, sizeof mean1), 0);
    cr_assert_eq(memcmp(x1, x4, sizeof x1), 0);
    rv_data_free(&ds);
}

Test(batch, bad_arguments_are_errors)
{
    rv_dataset ds;
    static float mean[IMG], x[4 * IMG];
    int32_t y[4], order[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 10 };
    synthetic(&ds, 10, mean);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, NULL, 7, 4, 0, NULL, x, y), RV_ERR_ARG);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, NULL, -1, 4, 0, NULL, x, y), RV_ERR_ARG);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, NULL, 0, 0, 0, NULL, x, y), RV_ERR_ARG);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, NULL, 0, 4, 1, NULL, x, y), RV_ERR_ARG);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, NULL, NULL, 0, 4, 0, NULL, x, y), RV_ERR_ARG);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, order, 6, 4, 0, NULL, x, y), RV_ERR_ARG);
    cr_assert_not_null(strstr(rv_ctx_message(ctx), "order[9] = 10"), "%s", rv_ctx_message(ctx));
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, NULL, 6, 4, 0, NULL, x, y), RV_OK);
    cr_assert_eq(rv_data_subset(ctx, &ds, 11), RV_ERR_ARG);
    cr_assert_eq(rv_data_subset(ctx, &ds, 0), RV_ERR_ARG);
    cr_assert_eq(rv_data_subset(ctx, &ds, 5), RV_OK);
    cr_assert_eq(ds.n, 5);
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, NULL, 2, 4, 0, NULL, x, y), RV_ERR_ARG);
    rv_data_free(&ds);
    rv_data_free(&ds); /* a freed dataset is zeroed, so freeing again is harmless */
}

Test(batch, synthetic_is_deterministic_and_labelled)
{
    rv_dataset a, b;
    synthetic(&a, 30, NULL);
    synthetic(&b, 30, NULL);
    cr_assert_eq(memcmp(a.pixels, b.pixels, 30 * IMG), 0);
    for (int i = 0; i < 30; i++) cr_assert_eq(a.labels[i], i % 10);
    rv_data_free(&a);
    rv_data_free(&b);
    rv_rng_state r;
    rv_rng_seed(&r, 1);
    cr_assert_eq(rv_data_synthetic(ctx, &a, 0, 10, &r), RV_ERR_ARG);
}
