/*
 * fuzz_checkpoint.c: libFuzzer target for the checkpoint reader (harness/training/checkpoint.c).
 *
 * The input is the file, read as the checkpoint of a small run of the database with identity
 * DB_ID (key "fuzz-key", 6 order entries, 10 state values, 4 momentum values). When byte 0 is odd, the CRC-32 the format
 * ends with is appended to the input, so that mutations get past the checksum and reach the
 * checks behind it; otherwise the input is the whole file.
 *
 * Checked beyond the sanitizers: a refusal says something and names the file; an accepted
 * file has its order entries in range and, saved again with rb_checkpoint_save, gives back
 * exactly the bytes read (the format has one spelling for each state).
 *
 * With FUZZ_WRITE_SEED=PATH set, LLVMFuzzerInitialize writes there an input that is a valid
 * checkpoint of the current format (byte 0, then the file), for scripts/fuzz.sh to put in the
 * corpus: the committed seed goes stale when the format changes, this one cannot.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <revnet/context.h>
#include "fuzz_util.h"
#include "training/checkpoint.h"

#define N_ORDER 6
#define N_STATE 10
#define N_PARAMS 4
static const char KEY[] = "fuzz-key";
static const char DB_ID[] = "00112233445566778899aabbccddeeff";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *seed = getenv("FUZZ_WRITE_SEED");
    if (!seed || !*seed) return 0;
    rv_ctx *ctx = NULL;
    char msg[256];
    fuzz_check(rv_ctx_create(&ctx, NULL, msg, sizeof msg) == RV_OK, "context: %s", msg);
    int32_t order[N_ORDER] = { 3, 1, 4, 0, 5, 2 };
    float state[N_STATE], mom[N_PARAMS];
    for (int i = 0; i < N_STATE; i++) state[i] = 0.25f * (float)i - 1.0f;
    for (int i = 0; i < N_PARAMS; i++) mom[i] = -0.5f * (float)i;
    rb_ckpt_progress p = { .step = 7, .epoch = 1, .pos = 2, .rng = { .state = 42, .inc = 55 },
                           .win_loss_sum = 1.5, .win_correct = 3, .win_images = 8,
                           .win_steps = 2 };
    rb_ckpt_arrays a = { order, N_ORDER, state, N_STATE, mom, N_PARAMS };
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", fuzz_path("seed.ckpt"));
    fuzz_check(rb_checkpoint_save(ctx, tmp, DB_ID, KEY, &p, &a) == RV_OK, "seed: %s",
               rv_ctx_message(ctx));
    rv_ctx_destroy(ctx);
    FILE *in = fopen(tmp, "rb"), *out = fopen(seed, "wb");
    fuzz_check(in && out, "cannot copy the seed to %s", seed);
    uint8_t buf[4096];
    size_t got = fread(buf, 1, sizeof buf, in);
    fuzz_check(got > 0 && got < sizeof buf && fputc(0, out) == 0 &&
                   fwrite(buf, 1, got, out) == got,
               "cannot write the seed %s", seed);
    fclose(in);
    fuzz_check(fclose(out) == 0, "cannot write the seed %s", seed);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int add_crc = data[0] & 1;
    data++, size--;
    uint8_t *file = malloc(size + 4);
    if (!file) return 0;
    memcpy(file, data, size);
    size_t n = size;
    if (add_crc) {
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)size);
        memcpy(file + size, &crc, 4);
        n += 4;
    }
    fuzz_write("run.ckpt", file, n, n);

    rv_ctx *ctx = NULL;
    char msg[256];
    fuzz_check(rv_ctx_create(&ctx, NULL, msg, sizeof msg) == RV_OK, "context: %s", msg);
    int32_t order[N_ORDER];
    float state[N_STATE], mom[N_PARAMS];
    rb_ckpt_progress p;
    rb_ckpt_arrays a = { order, N_ORDER, state, N_STATE, mom, N_PARAMS };
    char path[4096];
    snprintf(path, sizeof path, "%s", fuzz_path("run.ckpt"));
    rv_status st = rb_checkpoint_load(ctx, path, DB_ID, KEY, &p, &a);
    if (st != RV_OK) {
        fuzz_check(st == RV_ERR_FORMAT, "status %d: %s", (int)st, rv_ctx_message(ctx));
        fuzz_check(strstr(rv_ctx_message(ctx), "run.ckpt") != NULL,
                   "message does not name the file: %s", rv_ctx_message(ctx));
    } else {
        for (int i = 0; i < N_ORDER; i++)
            fuzz_check(order[i] >= 0 && order[i] < N_ORDER, "order[%d] = %d", i, order[i]);
        char again[4096];
        snprintf(again, sizeof again, "%s", fuzz_path("again.ckpt"));
        fuzz_check(rb_checkpoint_save(ctx, again, DB_ID, KEY, &p, &a) == RV_OK, "save: %s",
                   rv_ctx_message(ctx));
        FILE *f = fopen(again, "rb");
        fuzz_check(f != NULL, "cannot reopen %s", again);
        uint8_t *back = malloc(n + 1);
        size_t got = back ? fread(back, 1, n + 1, f) : 0;
        fclose(f);
        fuzz_check(got == n && memcmp(back, file, n) == 0,
                   "accepted a file that does not save back to itself (%zu of %zu bytes)", got,
                   n);
        free(back);
    }
    rv_ctx_destroy(ctx);
    free(file);
    return 0;
}
