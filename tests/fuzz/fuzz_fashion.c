/*
 * fuzz_fashion.c: libFuzzer target for the Fashion-MNIST loader (lib/data/fashion_mnist.c),
 * test split (t10k: 10000 items).
 *
 * The input holds both files: bytes 0-1 (little-endian) give the label file's length L, the
 * next L bytes are the label file, the rest the image file. Byte 2's low bit, when set, pads
 * each file with zeros to the length a valid one has (8 + 10000 and 16 + 10000 * 784 bytes),
 * so that inputs with right headers reach the label checks and the image copy; otherwise the
 * files are what the input says (zlib reads gzip streams and, transparently, plain bytes).
 *
 * Checked beyond the sanitizers: a refusal names a file and leaves the dataset empty; an
 * accepted pair gives 10000 labels in 0..9 and images whose 2-pixel border is black and whose
 * three channels are equal.
 */
#include <stdint.h>
#include <string.h>

#include <revnet/context.h>
#include <revnet/data.h>
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    size_t L = (size_t)data[0] | (size_t)data[1] << 8;
    int pad = data[2] & 1;
    data += 3;
    size -= 3;
    if (L > size) L = size;
    size_t lab_total = pad ? 8 + 10000 : L, img_total = pad ? 16 + 10000 * 784 : size - L;
    fuzz_write("fashion-mnist/t10k-labels-idx1-ubyte.gz", data, L < lab_total ? L : lab_total,
               lab_total);
    size_t ni = size - L;
    fuzz_write("fashion-mnist/t10k-images-idx3-ubyte.gz", data + L,
               ni < img_total ? ni : img_total, img_total);

    rv_ctx *ctx = NULL;
    char msg[256];
    fuzz_check(rv_ctx_create(&ctx, NULL, msg, sizeof msg) == RV_OK, "context: %s", msg);
    rv_dataset ds;
    rv_status st = rv_data_load(ctx, &ds, "fashion-mnist", 0, fuzz_dir());
    if (st != RV_OK) {
        fuzz_check(st == RV_ERR_FORMAT || st == RV_ERR_IO, "status %d", (int)st);
        fuzz_check(strstr(rv_ctx_message(ctx), "t10k-") != NULL,
                   "message does not name the file: %s", rv_ctx_message(ctx));
        fuzz_check(ds.pixels == NULL && ds.labels == NULL && ds.n == 0, "refused, yet filled");
    } else {
        fuzz_check(ds.n == 10000 && ds.n_classes == 10, "n %d classes %d", ds.n, ds.n_classes);
        for (int i = 0; i < ds.n; i++) {
            fuzz_check(ds.labels[i] >= 0 && ds.labels[i] < 10, "label %d of image %d",
                       ds.labels[i], i);
            const uint8_t *img = ds.pixels + (size_t)i * 3072;
            fuzz_check(memcmp(img, img + 1024, 1024) == 0 && memcmp(img, img + 2048, 1024) == 0,
                       "image %d: channels differ", i);
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    if (y < 2 || y >= 30 || x < 2 || x >= 30)
                        fuzz_check(img[y * 32 + x] == 0, "image %d: border pixel (%d, %d)", i,
                                   y, x);
        }
    }
    rv_data_free(&ds);
    rv_ctx_destroy(ctx);
    return 0;
}
