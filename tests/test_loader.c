/*
 * test_loader.c: the training batches from the loader thread (training/loader.h) against the
 * sequential recipe they replace, bit for bit, across epoch boundaries and from a mid-epoch
 * state (a resume); and a failure inside the thread coming back as a clear error.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/data.h>
#include <revnet/rng.h>
#include "training/loader.h"

static rv_ctx *ctx;
static rv_dataset ds;
static float *mean;

/* 50 images in batches of 16: three batches per epoch and 2 images left over, so epochs turn
 * over every third batch and the leftover rule (a new order when fewer than B remain) is
 * exercised. */
#define N_IMAGES 50
#define BATCH 16
#define N_BATCHES 20

static void setup(void)
{
    char msg[256];
    cr_assert_eq(rv_ctx_create(&ctx, NULL, msg, sizeof msg), RV_OK, "%s", msg);
    rv_rng_state rng;
    rv_rng_seed(&rng, 11);
    cr_assert_eq(rv_data_synthetic(ctx, &ds, N_IMAGES, 10, &rng), RV_OK);
    mean = malloc((size_t)3 * 32 * 32 * sizeof *mean);
    cr_assert_not_null(mean);
    cr_assert_eq(rv_data_mean_image(ctx, &ds, mean), RV_OK);
}

static void teardown(void)
{
    free(mean);
    rv_data_free(&ds);
    rv_ctx_destroy(ctx);
}

TestSuite(loader, .init = setup, .fini = teardown, .timeout = 60);

/* The sequential recipe as train.c ran it before the loader thread, written out here. */
typedef struct {
    rb_loader_cursor cur;
    int32_t order[N_IMAGES];
    float x[BATCH * 3 * 32 * 32];
    int32_t y[BATCH];
    int new_epoch;
} reference;

static void reference_next(reference *r)
{
    r->new_epoch = 0;
    if (r->cur.pos + BATCH > N_IMAGES) {
        rv_rng_permutation(&r->cur.rng, r->order, N_IMAGES);
        r->cur.pos = 0;
        r->cur.epoch++;
        r->new_epoch = 1;
    }
    cr_assert_eq(rv_data_fill_batch(ctx, &ds, mean, r->order, (int)r->cur.pos, BATCH, 1,
                                    &r->cur.rng, r->x, r->y), RV_OK);
    r->cur.pos += BATCH;
}

/* Takes N_BATCHES batches from a loader started at *start and compares each with the
 * reference started at the same state: pixels, labels, the state after the batch, the new
 * epoch orders. A caller that keeps its own order copy as train.c does must hold the
 * reference's order after every batch. */
static void compare_from(const rb_loader_cursor *start, const int32_t *order, int threaded)
{
    static reference ref;
    memset(&ref, 0, sizeof ref);
    ref.cur = *start;
    memcpy(ref.order, order, sizeof ref.order);
    int32_t kept_order[N_IMAGES];
    memcpy(kept_order, order, sizeof kept_order);

    rb_loader *l = NULL;
    cr_assert_eq(rb_loader_create(ctx, &l, &ds, mean, BATCH, start, order, threaded), RV_OK,
                 "%s", rv_ctx_message(ctx));
    int epochs = 0;
    for (int b = 0; b < N_BATCHES; b++) {
        rb_loader_batch got;
        cr_assert_eq(rb_loader_next(l, ctx, &got), RV_OK, "%s", rv_ctx_message(ctx));
        reference_next(&ref);
        cr_assert_eq(memcmp(got.x, ref.x, sizeof ref.x), 0, "batch %d: pixels differ", b);
        cr_assert_eq(memcmp(got.y, ref.y, sizeof ref.y), 0, "batch %d: labels differ", b);
        cr_assert_eq(got.after.epoch, ref.cur.epoch, "batch %d", b);
        cr_assert_eq(got.after.pos, ref.cur.pos, "batch %d", b);
        cr_assert_eq(memcmp(&got.after.rng, &ref.cur.rng, sizeof ref.cur.rng), 0,
                     "batch %d: the rng state after the batch differs", b);
        cr_assert_eq(got.new_epoch, ref.new_epoch, "batch %d", b);
        if (got.new_epoch) {
            cr_assert_not_null(got.order);
            memcpy(kept_order, got.order, sizeof kept_order);
            epochs++;
        } else {
            cr_assert_null(got.order);
        }
        cr_assert_eq(memcmp(kept_order, ref.order, sizeof kept_order), 0,
                     "batch %d: the caller's copy of the epoch order is stale", b);
    }
    cr_expect_geq(epochs, N_BATCHES / 3 - 1, "the test must cross several epochs");
    rb_loader_destroy(l);
}

Test(loader, thread_gives_the_sequential_batches_from_a_fresh_start)
{
    rb_loader_cursor start = { 0, N_IMAGES, { 0 } }; /* pos = n: an order is drawn first */
    rv_rng_seed_stream(&start.rng, 5, 1);
    int32_t order[N_IMAGES] = { 0 };
    compare_from(&start, order, 1);
    compare_from(&start, order, 0);
}

Test(loader, thread_gives_the_sequential_batches_from_a_resumed_state)
{
    /* A mid-epoch state as a checkpoint holds it: some order, position 16 of 50. */
    rb_loader_cursor start = { 4, BATCH, { 0 } };
    rv_rng_seed_stream(&start.rng, 9, 1);
    int32_t order[N_IMAGES];
    rv_rng_permutation(&start.rng, order, N_IMAGES);
    compare_from(&start, order, 1);
}

Test(loader, a_failure_in_the_thread_is_a_clear_error)
{
    /* An epoch order with an entry outside the dataset in the second batch (as a damaged
     * resume state could give): the first batch is fine, the second fails inside the thread
     * and its message reaches the caller, every later call repeats it, and destroying the
     * loader returns. */
    rb_loader_cursor start = { 1, 0, { 0 } };
    rv_rng_seed_stream(&start.rng, 3, 1);
    int32_t order[N_IMAGES];
    for (int i = 0; i < N_IMAGES; i++) order[i] = i;
    order[BATCH + 3] = N_IMAGES + 7;
    for (int threaded = 1; threaded >= 0; threaded--) {
        rb_loader *l = NULL;
        cr_assert_eq(rb_loader_create(ctx, &l, &ds, mean, BATCH, &start, order, threaded), RV_OK);
        rb_loader_batch b;
        cr_assert_eq(rb_loader_next(l, ctx, &b), RV_OK, "%s", rv_ctx_message(ctx));
        rv_ctx_clear_error(ctx);
        for (int again = 0; again < 2; again++) {
            cr_assert_eq(rb_loader_next(l, ctx, &b), RV_ERR_ARG, "threaded %d", threaded);
            const char *msg = rv_ctx_message(ctx);
            cr_expect_neq(strstr(msg, "data loader: "), NULL, "%s", msg);
            cr_expect_neq(strstr(msg, "order[19] = 57"), NULL, "%s", msg);
        }
        rb_loader_destroy(l);
    }
}

Test(loader, bad_arguments_are_refused)
{
    rb_loader_cursor start = { 0, 0, { 0 } };
    int32_t order[N_IMAGES] = { 0 };
    rb_loader *l = (rb_loader *)1;
    cr_expect_eq(rb_loader_create(ctx, &l, &ds, mean, N_IMAGES + 1, &start, order, 1),
                 RV_ERR_ARG);
    cr_expect_null(l);
    cr_expect_eq(rb_loader_create(ctx, &l, &ds, mean, 0, &start, order, 1), RV_ERR_ARG);
    cr_expect_eq(rb_loader_create(ctx, &l, &ds, NULL, BATCH, &start, order, 1), RV_ERR_ARG);
    cr_expect_eq(rb_loader_create(ctx, &l, &ds, mean, BATCH, &start, NULL, 1), RV_ERR_ARG,
                 "position 0 reads the order");
    start.pos = -1;
    cr_expect_eq(rb_loader_create(ctx, &l, &ds, mean, BATCH, &start, order, 1), RV_ERR_ARG);
    rb_loader_destroy(NULL);
}
