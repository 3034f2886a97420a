/*
 * run_files.h: the files a training run keeps beside its results database, and who may touch
 * them.
 *
 * Every file of run N of a database lives in <checkpoint dir>/<database identity>/ (the
 * identity is rb_db_identity): run numbers restart at 1 in every database, so a folder shared
 * by two databases, or a database deleted and made again beside its old checkpoints/, must not
 * let one database's run 1 find the other's files.
 *   run-N.ckpt           the checkpoint (checkpoint.h)
 *   run-N.ckpt.lock      an fcntl lock held while a process trains the run
 *   run-N.outcome        how the last attempt ended when the database could not record it
 *                        (locked or full at that moment): "status\nreason\n", recorded in the
 *                        database and removed by the next process that takes the lock
 *   *.tmp.<pid>          temporaries of an atomic write; a dead writer's are removed on start
 *
 * Owns: the lock's file descriptor (rb_run_files_unlock closes it).
 */
#ifndef RB_RUN_FILES_H
#define RB_RUN_FILES_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <revnet/context.h>

typedef struct {
    char dir[PATH_MAX];       /* <checkpoint dir>/<database identity> */
    char ckpt[PATH_MAX];      /* dir/run-N.ckpt */
    char lock[PATH_MAX];      /* dir/run-N.ckpt.lock */
    char outcome[PATH_MAX];   /* dir/run-N.outcome */
    int lock_fd;              /* -1 when the lock is not held */
} rb_run_files;

/* Fills the paths of run run_id of the database with identity db_id, checkpoints under
 * ckpt_dir. Touches no file. RV_ERR_ARG when a path would be too long. */
rv_status rb_run_files_init(rv_ctx *ctx, rb_run_files *f, const char *ckpt_dir,
                            const char *db_id, int64_t run_id);

/* Creates f->dir (and its parents) and removes the temporaries of dead processes there and in
 * ckpt_dir itself (where versions before database identities wrote them). */
rv_status rb_run_files_prepare(rv_ctx *ctx, const rb_run_files *f, const char *ckpt_dir);

/* Takes the run's lock without waiting. RV_OK with the lock held; RV_ERR_IO when it cannot,
 * with *held_elsewhere set to 1 when that is because another live process holds it (the
 * message names the run and the lock file). */
rv_status rb_run_files_lock(rv_ctx *ctx, rb_run_files *f, int64_t run_id, int *held_elsewhere);
void rb_run_files_unlock(rb_run_files *f);

/* Writes status and reason (one line each; newlines in reason become spaces) to f->outcome
 * atomically. Call with the lock held. */
rv_status rb_run_files_write_outcome(rv_ctx *ctx, const rb_run_files *f, const char *status,
                                     const char *reason);

/* Reads f->outcome: 1 and status (16 bytes) / reason filled when there is one, 0 when there
 * is none, -1 when it exists but cannot be read or is malformed (message on ctx). */
int rb_run_files_read_outcome(rv_ctx *ctx, const rb_run_files *f, char *status,
                              char *reason, size_t reason_len);

/* Records the end of run run_id (rb_db_run_end: status, reason) in db. When the previous
 * write already waited out the busy timeout (waited != 0), this one does not wait again. When
 * the database refuses, the outcome goes to f->outcome (lock held) and a sentence saying what
 * the database shows, and where the outcome is kept, is appended to reason (reason_len bytes).
 * Returns 0 when the database recorded it, -1 when not. */
struct rb_db;
int rb_run_files_record_end(rv_ctx *ctx, struct rb_db *db, const rb_run_files *f,
                            int64_t run_id, const char *status, char *reason,
                            size_t reason_len, int waited);

/* For run run_id, left 'running' in db: when its outcome file exists and no process holds its
 * lock, records that outcome in the database and removes the file. Returns 1 when it did
 * (status gets the recorded status, 16 bytes; note a sentence saying what happened), 0 when
 * there was nothing to record or the run is in use, -1 on an error (message on ctx). */
int rb_run_files_reconcile(rv_ctx *ctx, struct rb_db *db, const char *ckpt_dir,
                           int64_t run_id, char *status, char *note, size_t note_len);

#endif
