/*
 * fuzz_cifar.c: libFuzzer target for the CIFAR-10/100 loader (lib/data/cifar.c), test split.
 *
 * A real file is 10000 records (30 MB), far beyond what a fuzzer mutates, so the input
 * describes one: byte 0 picks CIFAR-10 (even) or CIFAR-100 (odd) and, in bits 1-2, the size:
 * 0 the expected size, 1 that minus 1 + byte 1 (truncated), 2 that plus 1 + byte 1 (trailing
 * bytes), 3 only the payload. The payload (from byte 2) is the start of the file; the rest
 * reads as zeros (label 0, black pixels: valid records).
 *
 * Checked beyond the sanitizers: a refusal sets a message naming the file; an accepted file
 * has 10000 images, every label in range, and the payload's records where they belong.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <revnet/context.h>
#include <revnet/data.h>
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int c100 = data[0] & 1, size_mode = (data[0] >> 1) & 3;
    size_t rec = c100 ? 3074 : 3073, expected = 10000 * rec;
    const uint8_t *payload = data + 2;
    size_t n = size - 2;
    if (n > expected) n = expected;
    size_t total = size_mode == 0 ? expected
                 : size_mode == 1 ? expected - 1 - data[1]
                 : size_mode == 2 ? expected + 1 + data[1]
                                  : n;
    if (n > total) n = total;
    const char *rel = c100 ? "cifar-100-binary/test.bin" : "cifar-10-batches-bin/test_batch.bin";
    fuzz_write(rel, payload, n, total);

    rv_ctx *ctx = NULL;
    char msg[256];
    fuzz_check(rv_ctx_create(&ctx, NULL, msg, sizeof msg) == RV_OK, "context: %s", msg);
    rv_dataset ds;
    rv_status st = rv_data_load(ctx, &ds, c100 ? "cifar100" : "cifar10", 0, fuzz_dir());
    if (st != RV_OK) {
        fuzz_check(st == RV_ERR_FORMAT || st == RV_ERR_IO, "status %d", (int)st);
        fuzz_check(strstr(rv_ctx_message(ctx), c100 ? "test.bin" : "test_batch.bin") != NULL,
                   "message does not name the file: %s", rv_ctx_message(ctx));
        fuzz_check(ds.pixels == NULL && ds.labels == NULL && ds.n == 0, "refused, yet filled");
    } else {
        fuzz_check(total == expected, "accepted a file of %zu bytes", total);
        fuzz_check(ds.n == 10000 && ds.n_classes == (c100 ? 100 : 10), "n %d classes %d", ds.n,
                   ds.n_classes);
        for (int i = 0; i < ds.n; i++)
            fuzz_check(ds.labels[i] >= 0 && ds.labels[i] < ds.n_classes, "label %d of image %d",
                       ds.labels[i], i);
        /* Whole records of the payload must come back as written. */
        for (size_t r = 0; (r + 1) * rec <= n; r++) {
            const uint8_t *src = payload + r * rec;
            fuzz_check(ds.labels[r] == src[rec - 3073], "record %zu: label", r);
            fuzz_check(memcmp(ds.pixels + r * 3072, src + rec - 3072, 3072) == 0,
                       "record %zu: pixels", r);
        }
    }
    rv_data_free(&ds);
    rv_ctx_destroy(ctx);
    return 0;
}
