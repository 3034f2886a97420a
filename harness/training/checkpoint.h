/*
 * checkpoint.h: the on-disk state of a training run, enough to continue it bit for bit.
 *
 * File <dir>/<database id>/run-<id>.ckpt (train.c names it), version 2, all integers and
 * floats in the byte order of the machine that wrote it (a byte-order mark rejects a file from a
 * machine of the other order):
 *   magic "RVCKPT\r\n" (8 bytes), u32 version, u32 byte-order mark 0x01020304,
 *   u32 db_id_len, db_id bytes (the identity of the results database the run belongs to,
 *   rb_db_identity: run ids are only unique within one database),
 *   u32 key_len, key bytes (the run's configuration key, rb_db_config_key),
 *   rb_ckpt_progress fields one by one (step, epoch, position in the epoch order, the run's
 *   RNG state, the open metric window's sums),
 *   u64 n_order, u64 n_state, u64 n_params,
 *   i32 order[n_order]      the current epoch's permutation of the training images
 *   f32 state[n_state]      parameters then batch-norm running averages (rv_model_get_state)
 *   f32 momentum[n_params]
 *   u32 CRC-32 (zlib) of every byte before it.
 * Written to a temporary file beside the target, fsync'ed, renamed over the target and the
 * folder fsync'ed, so a crash at any moment leaves either the old or the new checkpoint.
 * Version 1 (no database identity) is refused: nothing in it says which database it is of.
 *
 * Owns nothing: the caller holds every buffer.
 */
#ifndef RB_CHECKPOINT_H
#define RB_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <revnet/context.h>
#include <revnet/rng.h>

#define RB_CHECKPOINT_VERSION 2u

/* The scalar progress of a run at a step boundary. */
typedef struct {
    int64_t step;          /* training steps completed */
    int64_t epoch;         /* epoch permutations drawn so far */
    int64_t pos;           /* index into the epoch order of the next image */
    rv_rng_state rng;      /* the run's data-order and augmentation stream */
    double win_loss_sum;   /* open metric window: sum of batch losses, */
    int64_t win_correct;   /* correct predictions, */
    int64_t win_images;    /* images seen, */
    int64_t win_steps;     /* and steps, since the last evaluation */
} rb_ckpt_progress;

/* The arrays of a checkpoint; sizes must match between save and load. */
typedef struct {
    int32_t *order;
    size_t n_order;
    float *state;
    size_t n_state;
    float *momentum;
    size_t n_params;
} rb_ckpt_arrays;

/*
 * Writes a checkpoint atomically to path (see the file comment). db_id is the identity of the
 * run's results database, key the run's configuration key. Returns RV_OK, or RV_ERR_IO
 * (message on ctx: which file, errno text) with the previous file at path untouched and no
 * temporary file left behind.
 */
rv_status rb_checkpoint_save(rv_ctx *ctx, const char *path, const char *db_id, const char *key,
                             const rb_ckpt_progress *p, const rb_ckpt_arrays *a);

/*
 * Reads the checkpoint at path into *p and the arrays of a (whose sizes say what the caller
 * expects). Everything is validated: RV_ERR_IO when the file cannot be opened or read;
 * RV_ERR_FORMAT for a wrong magic, an unknown version, another byte order, a truncated file,
 * trailing bytes, a checksum mismatch, or a database identity, configuration key or array size
 * that differs from what the caller expects (the message says which). On failure the arrays and *p may have been
 * partly written and must not be used.
 */
rv_status rb_checkpoint_load(rv_ctx *ctx, const char *path, const char *db_id, const char *key,
                             rb_ckpt_progress *p, const rb_ckpt_arrays *a);

/* Removes the temporary files "<name>.tmp.<pid>" in dir whose writing process no longer
 * exists (killed during a write: rb_checkpoint_save removes its own on every other path).
 * Files of live processes, and names of any other shape, are left alone. *n_removed (may be
 * NULL) gets the count. A missing dir is not an error. RV_ERR_IO if dir cannot be read or a
 * stale file cannot be removed. */
rv_status rb_checkpoint_remove_stale(rv_ctx *ctx, const char *dir, int *n_removed);

#endif
