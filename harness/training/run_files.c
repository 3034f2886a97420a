/*
 * run_files.c: paths, lock, pending outcome and temporaries of a training run's files
 * (run_files.h).
 *
 * The outcome file is how a run that could not write its end to the database (locked past
 * the busy timeout, or the disk full) still leaves a record: it is small, written to a
 * temporary and renamed like a checkpoint, and read back under the run's lock, so only a
 * process that has the run to itself records it.
 *
 * Owns: the lock's file descriptor.
 */
#include "training/run_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mkdirs.h"
#include "db/db.h"
#include "training/checkpoint.h"

static rv_status fmt_path(rv_ctx *ctx, char *out, const char *fmt, const char *a, long long n)
{
    if (snprintf(out, PATH_MAX, fmt, a, n) >= PATH_MAX)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "checkpoint path too long under %s", a);
    return RV_OK;
}

rv_status rb_run_files_init(rv_ctx *ctx, rb_run_files *f, const char *ckpt_dir,
                            const char *db_id, int64_t run_id)
{
    memset(f, 0, sizeof *f);
    f->lock_fd = -1;
    if (snprintf(f->dir, sizeof f->dir, "%s/%s", ckpt_dir, db_id) >= (int)sizeof f->dir)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "checkpoint folder too long: %s", ckpt_dir);
    rv_status st = fmt_path(ctx, f->ckpt, "%s/run-%lld.ckpt", f->dir, (long long)run_id);
    if (st == RV_OK) st = fmt_path(ctx, f->lock, "%s/run-%lld.ckpt.lock", f->dir, run_id);
    if (st == RV_OK) st = fmt_path(ctx, f->outcome, "%s/run-%lld.outcome", f->dir, run_id);
    return st;
}

rv_status rb_run_files_prepare(rv_ctx *ctx, const rb_run_files *f, const char *ckpt_dir)
{
    char why[512];
    rv_status st = rb_mkdirs(f->dir, why, sizeof why);
    if (st != RV_OK) return rv_ctx_fail(ctx, st, "%s", why);
    st = rb_checkpoint_remove_stale(ctx, f->dir, NULL);
    if (st == RV_OK) st = rb_checkpoint_remove_stale(ctx, ckpt_dir, NULL);
    return st;
}

rv_status rb_run_files_lock(rv_ctx *ctx, rb_run_files *f, int64_t run_id, int *held_elsewhere)
{
    *held_elsewhere = 0;
    if (f->lock_fd >= 0) return RV_OK;
    int fd = open(f->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return rv_ctx_fail(ctx, RV_ERR_IO, "cannot create %s: %s", f->lock, strerror(errno));
    /* fcntl, not flock: the lock must not pass to children forked while it is held. */
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        close(fd);
        if (e == EACCES || e == EAGAIN) {
            *held_elsewhere = 1;
            return rv_ctx_fail(ctx, RV_ERR_IO,
                               "run %lld is being trained by another process (lock %s held)",
                               (long long)run_id, f->lock);
        }
        return rv_ctx_fail(ctx, RV_ERR_IO, "cannot lock %s: %s", f->lock, strerror(e));
    }
    f->lock_fd = fd;
    return RV_OK;
}

void rb_run_files_unlock(rb_run_files *f)
{
    if (f->lock_fd >= 0) close(f->lock_fd);
    f->lock_fd = -1;
}

rv_status rb_run_files_write_outcome(rv_ctx *ctx, const rb_run_files *f, const char *status,
                                     const char *reason)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", f->outcome, (long)getpid());
    FILE *out = fopen(tmp, "w");
    if (!out)
        return rv_ctx_fail(ctx, RV_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    fprintf(out, "%s\n", status);
    for (const char *c = reason ? reason : ""; *c; c++) fputc(*c == '\n' ? ' ' : *c, out);
    fputc('\n', out);
    /* A full disk shows here (fflush) or at fsync; either way the temporary goes. */
    int bad = fflush(out) != 0 || fsync(fileno(out)) != 0;
    int e = errno;
    if (fclose(out) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad || rename(tmp, f->outcome) != 0) {
        if (!bad) e = errno;
        unlink(tmp);
        return rv_ctx_fail(ctx, RV_ERR_IO, "cannot write %s: %s", f->outcome, strerror(e));
    }
    return RV_OK;
}

int rb_run_files_read_outcome(rv_ctx *ctx, const rb_run_files *f, char *status,
                              char *reason, size_t reason_len)
{
    FILE *in = fopen(f->outcome, "r");
    if (!in) {
        if (errno == ENOENT) return 0;
        rv_ctx_fail(ctx, RV_ERR_IO, "cannot read %s: %s", f->outcome, strerror(errno));
        return -1;
    }
    char line[1024];
    int ok = fgets(line, sizeof line, in) != NULL;
    if (ok) {
        line[strcspn(line, "\n")] = '\0';
        ok = !strcmp(line, "finished") || !strcmp(line, "failed") ||
             !strcmp(line, "interrupted");
        if (ok) memcpy(status, line, strlen(line) + 1); /* one of the three names above */
    }
    if (ok) ok = fgets(line, sizeof line, in) != NULL;
    fclose(in);
    if (!ok) {
        rv_ctx_fail(ctx, RV_ERR_FORMAT, "%s is not an outcome file (status line, reason line)",
                    f->outcome);
        return -1;
    }
    line[strcspn(line, "\n")] = '\0';
    snprintf(reason, reason_len, "%s", line);
    return 1;
}

int rb_run_files_record_end(rv_ctx *ctx, rb_db *db, const rb_run_files *f, int64_t run_id,
                            const char *status, char *reason, size_t reason_len, int waited)
{
    int saved_ms = rb_db_busy_timeout(db);
    if (waited) rb_db_set_busy_timeout(db, 0);
    int rc = rb_db_run_end(db, run_id, status, reason[0] ? reason : NULL);
    rb_db_set_busy_timeout(db, saved_ms);
    if (rc == 0) return 0;
    char why[600];
    snprintf(why, sizeof why, "%s", rb_db_message(db));
    size_t n = strlen(reason);
    const char *sep = n ? "; " : "";
    if (f->lock_fd >= 0 &&
        rb_run_files_write_outcome(ctx, f, status, reason) == RV_OK)
        snprintf(reason + n, reason_len - n,
                 "%sthe database could not record that the run ended %s (%s), so it still "
                 "shows it 'running'; %s keeps the outcome until the next train or run of this "
                 "configuration records it", sep, status, why, f->outcome);
    else
        snprintf(reason + n, reason_len - n,
                 "%sthe database could not record that the run ended %s (%s), so it still "
                 "shows it 'running'", sep, status, why);
    return -1;
}

int rb_run_files_reconcile(rv_ctx *ctx, rb_db *db, const char *ckpt_dir, int64_t run_id,
                           char *status, char *note, size_t note_len)
{
    rb_run_files f;
    if (rb_run_files_init(ctx, &f, ckpt_dir, rb_db_identity(db), run_id) != RV_OK) return -1;
    if (access(f.outcome, F_OK) != 0) return 0;
    int busy;
    if (rb_run_files_lock(ctx, &f, run_id, &busy) != RV_OK) return busy ? 0 : -1;
    char got[16], reason[1024];
    int ret = rb_run_files_read_outcome(ctx, &f, got, reason, sizeof reason);
    if (ret == 1) {
        if (rb_db_run_end(db, run_id, got, reason[0] ? reason : NULL) != 0) {
            rv_ctx_fail(ctx, RV_ERR_DB, "recording the outcome kept in %s: %s", f.outcome,
                        rb_db_message(db));
            ret = -1;
        } else {
            unlink(f.outcome);
            snprintf(status, 16, "%s", got);
            snprintf(note, note_len, "run %lld ended %s%s%s, which the database could not "
                     "record then; recorded now", (long long)run_id, got, reason[0] ? ": " : "",
                     reason);
        }
    }
    rb_run_files_unlock(&f);
    return ret;
}
