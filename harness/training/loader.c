/*
 * loader.c: the training batches of a run, one batch ahead on a loader thread (loader.h).
 *
 * Hand-over protocol (one mutex, one condition variable): slot k % 2 receives batch k. The
 * thread waits until its next slot is free, fills it outside the lock (the caller never looks
 * at a slot that is not full) and marks it full. rb_loader_next frees the slot the caller held
 * since the previous call, waits until the next slot is full and hands it over; the caller
 * keeps it until its next call. So while the caller trains on batch k, the thread fills batch
 * k + 1, and it never runs more than two batches ahead.
 *
 * The thread owns the producing state (cursor and epoch order) and its own context for
 * rv_data_fill_batch's messages; each slot carries its status and message back, so the
 * caller's context is written only on the caller's thread.
 */
#include "training/loader.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *x;
    int32_t *y;
    int32_t *order;          /* the epoch order drawn for this batch, when new_epoch */
    int new_epoch;
    rb_loader_cursor after;
    rv_status status;
    char message[512];
    int full;                /* filled and not yet given back by the caller */
} slot;

struct rb_loader {
    const rv_dataset *ds;
    const float *mean;
    int B;
    int threaded;
    rv_ctx *ctx;             /* the producer's, for rv_data_fill_batch's messages */
    rb_loader_cursor cur;    /* the producer's state */
    int32_t *order;          /* the producer's epoch order */
    slot slots[2];
    long taken;              /* batches handed over to the caller */
    rv_status failed;        /* sticky: a failed batch is reported on every later call */
    char failed_message[512];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int thread_started;
    pthread_t thread;
};

/* Draws the next batch into sl exactly as the sequential training loop did. */
static void produce(rb_loader *l, slot *sl)
{
    int n = l->ds->n;
    sl->new_epoch = 0;
    if (l->cur.pos + l->B > n) {
        rv_rng_permutation(&l->cur.rng, l->order, n);
        l->cur.pos = 0;
        l->cur.epoch++;
        memcpy(sl->order, l->order, (size_t)n * sizeof *sl->order);
        sl->new_epoch = 1;
    }
    sl->status = rv_data_fill_batch(l->ctx, l->ds, l->mean, l->order, (int)l->cur.pos, l->B, 1,
                                    &l->cur.rng, sl->x, sl->y);
    snprintf(sl->message, sizeof sl->message, "%s",
             sl->status == RV_OK ? "" : rv_ctx_message(l->ctx));
    l->cur.pos += l->B;
    sl->after = l->cur;
}

static void *loader_main(void *arg)
{
    rb_loader *l = arg;
    /* The compute's OpenMP team has the cores; a second team here would only oversubscribe
     * them, and the batch is the same whatever the thread count. */
    omp_set_num_threads(1);
    for (long k = 0;; k++) {
        slot *sl = &l->slots[k % 2];
        pthread_mutex_lock(&l->mu);
        while (sl->full && !l->stop) pthread_cond_wait(&l->cv, &l->mu);
        int stop = l->stop;
        pthread_mutex_unlock(&l->mu);
        if (stop) break;
        produce(l, sl);
        pthread_mutex_lock(&l->mu);
        sl->full = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        if (sl->status != RV_OK) break;
    }
    return NULL;
}

void rb_loader_destroy(rb_loader *l)
{
    if (!l) return;
    if (l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
    }
    for (int i = 0; i < 2; i++) {
        free(l->slots[i].x);
        free(l->slots[i].y);
        free(l->slots[i].order);
    }
    free(l->order);
    rv_ctx_destroy(l->ctx);
    free(l);
}

rv_status rb_loader_create(rv_ctx *ctx, rb_loader **out, const rv_dataset *ds,
                           const float *mean, int B, const rb_loader_cursor *start,
                           const int32_t *order, int threaded)
{
    if (!out) return rv_ctx_fail(ctx, RV_ERR_ARG, "rb_loader_create: out is NULL");
    *out = NULL;
    if (!ds || !ds->pixels || !mean || !start)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rb_loader_create: NULL dataset, mean or state");
    if (B < 1 || B > ds->n)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rb_loader_create: batch %d is outside [1, %d] "
                           "(the training images)", B, ds->n);
    if (start->pos < 0 || start->pos > ds->n)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rb_loader_create: position %lld is outside "
                           "[0, %d]", (long long)start->pos, ds->n);
    int reads_order = start->pos + B <= ds->n;
    if (reads_order && !order)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rb_loader_create: the epoch order is NULL");

    rb_loader *l = calloc(1, sizeof *l);
    if (!l) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory (data loader)");
    l->ds = ds;
    l->mean = mean;
    l->B = B;
    l->threaded = threaded != 0;
    l->cur = *start;
    size_t n = (size_t)ds->n, img = (size_t)ds->c * ds->h * ds->w;
    int ok = (l->order = calloc(n, sizeof *l->order)) != NULL;
    for (int i = 0; i < 2 && ok; i++) {
        slot *sl = &l->slots[i];
        ok = (sl->x = malloc((size_t)B * img * sizeof *sl->x)) != NULL &&
             (sl->y = malloc((size_t)B * sizeof *sl->y)) != NULL &&
             (sl->order = malloc(n * sizeof *sl->order)) != NULL;
    }
    if (!ok) {
        rb_loader_destroy(l);
        return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory (data loader: two batches of %d "
                           "and two orders of %zu images)", B, n);
    }
    if (reads_order) memcpy(l->order, order, n * sizeof *l->order);
    char msg[256];
    rv_ctx_options o = rv_ctx_default_options(); /* threads 0: leaves OpenMP's settings alone */
    if (rv_ctx_create(&l->ctx, &o, msg, sizeof msg) != RV_OK) {
        rb_loader_destroy(l);
        return rv_ctx_fail(ctx, RV_ERR_NOMEM, "data loader: cannot create its context: %s", msg);
    }
    if (l->threaded) {
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->cv, NULL);
        int e = pthread_create(&l->thread, NULL, loader_main, l);
        if (e != 0) {
            pthread_cond_destroy(&l->cv);
            pthread_mutex_destroy(&l->mu);
            rb_loader_destroy(l);
            return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "cannot start the data loader thread: "
                               "%s", strerror(e));
        }
        l->thread_started = 1;
    }
    *out = l;
    return RV_OK;
}

rv_status rb_loader_next(rb_loader *l, rv_ctx *ctx, rb_loader_batch *out)
{
    if (!l || !out) return rv_ctx_fail(ctx, RV_ERR_ARG, "rb_loader_next: NULL loader or out");
    if (l->failed != RV_OK)
        return rv_ctx_fail(ctx, l->failed, "data loader: %s", l->failed_message);
    slot *sl = &l->slots[l->taken % 2];
    if (!l->threaded) {
        produce(l, sl);
    } else {
        pthread_mutex_lock(&l->mu);
        if (l->taken > 0) {
            l->slots[(l->taken - 1) % 2].full = 0;
            pthread_cond_broadcast(&l->cv);
        }
        while (!sl->full) pthread_cond_wait(&l->cv, &l->mu);
        pthread_mutex_unlock(&l->mu);
    }
    if (sl->status != RV_OK) {
        l->failed = sl->status;
        snprintf(l->failed_message, sizeof l->failed_message, "%s", sl->message);
        return rv_ctx_fail(ctx, l->failed, "data loader: %s", l->failed_message);
    }
    l->taken++;
    out->x = sl->x;
    out->y = sl->y;
    out->after = sl->after;
    out->new_epoch = sl->new_epoch;
    out->order = sl->new_epoch ? sl->order : NULL;
    return RV_OK;
}
