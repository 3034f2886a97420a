/*
 * loader.h: the training batches of a run, in the order and with the augmentation of the
 * paper's recipe (train.h), filled by a loader thread one batch ahead of the step that uses
 * them, so that filling batch s + 1 overlaps the compute of step s.
 *
 * The sequence is the sequential one, bit for bit: for each batch, if fewer than B images
 * remain in the epoch order, a new order is drawn (rv_rng_permutation, position 0, epoch + 1);
 * then rv_data_fill_batch(order, position, B, augment = 1) draws three numbers per image from
 * the same stream and the position advances by B. The loader thread runs that recipe on its
 * own copy of the state (cursor, order), ahead of the caller, and hands each batch over with
 * the state as it is just after that batch was drawn, which is what a checkpoint taken after
 * the step must hold. rv_data_fill_batch's result does not depend on how many threads fill it,
 * and the loader thread fills with one (the compute threads have the cores).
 *
 * Double-buffered: two batch slots; the caller holds one (the batch it trains on, valid until
 * its next call) while the thread fills the other. A failure in the thread (a bad order entry
 * from a corrupt resume state, an allocation) stops the thread and comes back from the
 * rb_loader_next call that would have returned that batch, with the thread's message.
 *
 * Owns: the thread, its context (for messages: the caller's context is never touched from the
 * thread), the two slots and the thread's copy of the epoch order. Reads, never writes, the
 * dataset and mean image, which must outlive the loader.
 */
#ifndef RB_LOADER_H
#define RB_LOADER_H

#include <stdint.h>
#include <revnet/context.h>
#include <revnet/data.h>
#include <revnet/rng.h>

/* The data state between two batches (the fields of rb_ckpt_progress it mirrors). */
typedef struct {
    int64_t epoch;       /* epoch orders drawn so far */
    int64_t pos;         /* index into the epoch order of the next image */
    rv_rng_state rng;    /* the order-and-augmentation stream */
} rb_loader_cursor;

/* One batch, as rb_loader_next hands it over; every pointer stays valid until the next call
 * to rb_loader_next or rb_loader_destroy. */
typedef struct {
    const float *x;          /* B images, NCHW, mean subtracted and augmented */
    const int32_t *y;        /* B labels */
    rb_loader_cursor after;  /* the state just after this batch was drawn */
    int new_epoch;           /* 1 when a new epoch order was drawn for this batch */
    const int32_t *order;    /* that new order (ds->n entries) when new_epoch, else NULL */
} rb_loader_batch;

typedef struct rb_loader rb_loader;

/*
 * Starts a loader over the training set ds (with mean, the mean image) for batches of B from
 * the state start and epoch order order (ds->n entries, copied; its contents are not read when
 * start->pos + B > ds->n, since a new order is drawn first). threaded = 0 fills each batch in
 * rb_loader_next on the caller's thread instead (the same sequence, no overlap). RV_ERR_ARG for
 * B outside [1, ds->n] or NULL arguments, RV_ERR_NOMEM, RV_ERR_UNSUPPORTED when the thread
 * cannot be started; the message is on ctx and *out is NULL.
 */
rv_status rb_loader_create(rv_ctx *ctx, rb_loader **out, const rv_dataset *ds,
                           const float *mean, int B, const rb_loader_cursor *start,
                           const int32_t *order, int threaded);

/* The next batch in *out, waiting for the thread if it is not ready. On a failure in the
 * thread, its status with "data loader: <its message>" on ctx (and again on every later
 * call). */
rv_status rb_loader_next(rb_loader *l, rv_ctx *ctx, rb_loader_batch *out);

/* Stops and joins the thread (it may be filling a batch nobody will take) and frees
 * everything. Accepts NULL. */
void rb_loader_destroy(rb_loader *l);

#endif
