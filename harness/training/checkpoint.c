/*
 * checkpoint.c: writing and validating training checkpoints (format in checkpoint.h).
 *
 * Writes go through a temporary file "<path>.tmp.<pid>" that is fsync'ed and renamed over the
 * target, then the folder is fsync'ed so the rename itself is durable (POSIX rename is atomic
 * with respect to other processes, and the two fsyncs make it survive power loss). Reads check
 * the checksum over the whole file before reporting success. CRC-32 comes from zlib, which the
 * library already links for Fashion-MNIST.
 *
 * Owns nothing beyond the open file of one call.
 */
#include "training/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char CKPT_MAGIC[8] = { 'R', 'V', 'C', 'K', 'P', 'T', '\r', '\n' };
static const uint32_t CKPT_BOM = 0x01020304u;
/* The configuration key is a short canonical string; anything longer is a corrupt length. */
#define CKPT_MAX_KEY 65536u
/* A database identity is 32 hex digits; the bound only rejects corrupt lengths. */
#define CKPT_MAX_DB_ID 256u
/* zlib's crc32 takes a uInt length, so large arrays are summed in pieces. */
#define CKPT_CRC_CHUNK (1u << 30)

typedef struct {
    FILE *f;
    uLong crc;
    int failed;       /* write side: an fwrite failed; read side: short read */
} ckpt_stream;

static void crc_update(ckpt_stream *s, const void *buf, size_t n)
{
    const Bytef *b = buf;
    while (n > 0) {
        uInt piece = n > CKPT_CRC_CHUNK ? CKPT_CRC_CHUNK : (uInt)n;
        s->crc = crc32(s->crc, b, piece);
        b += piece;
        n -= piece;
    }
}

static void put(ckpt_stream *s, const void *buf, size_t n)
{
    if (s->failed || n == 0) return;
    if (fwrite(buf, 1, n, s->f) != n) {
        s->failed = 1;
        return;
    }
    crc_update(s, buf, n);
}

static void put_u32(ckpt_stream *s, uint32_t v) { put(s, &v, sizeof v); }
static void put_u64(ckpt_stream *s, uint64_t v) { put(s, &v, sizeof v); }
static void put_i64(ckpt_stream *s, int64_t v) { put(s, &v, sizeof v); }
static void put_f64(ckpt_stream *s, double v) { put(s, &v, sizeof v); }

/* Reads exactly n bytes; a short read marks the stream failed (a truncated file). */
static int get(ckpt_stream *s, void *buf, size_t n)
{
    if (s->failed) return -1;
    if (n == 0) return 0;
    if (fread(buf, 1, n, s->f) != n) {
        s->failed = 1;
        return -1;
    }
    crc_update(s, buf, n);
    return 0;
}

/* Readers of one value each; a failed read leaves 0 and marks the stream failed. */
#define CKPT_GETTER(name, type)                                                           \
    static type name(ckpt_stream *s)                                                      \
    {                                                                                     \
        type v = 0;                                                                       \
        get(s, &v, sizeof v);                                                             \
        return v;                                                                         \
    }
CKPT_GETTER(get_u32, uint32_t)
CKPT_GETTER(get_u64, uint64_t)
CKPT_GETTER(get_i64, int64_t)
CKPT_GETTER(get_f64, double)

static void put_progress(ckpt_stream *s, const rb_ckpt_progress *p)
{
    put_i64(s, p->step);
    put_i64(s, p->epoch);
    put_i64(s, p->pos);
    put_u64(s, p->rng.state);
    put_u64(s, p->rng.inc);
    put_f64(s, p->rng.spare);
    put_u32(s, p->rng.has_spare);
    put_u32(s, p->rng.reserved);
    put_f64(s, p->win_loss_sum);
    put_i64(s, p->win_correct);
    put_i64(s, p->win_images);
    put_i64(s, p->win_steps);
}

static void get_progress(ckpt_stream *s, rb_ckpt_progress *p)
{
    p->step = get_i64(s);
    p->epoch = get_i64(s);
    p->pos = get_i64(s);
    p->rng.state = get_u64(s);
    p->rng.inc = get_u64(s);
    p->rng.spare = get_f64(s);
    p->rng.has_spare = get_u32(s);
    p->rng.reserved = get_u32(s);
    p->win_loss_sum = get_f64(s);
    p->win_correct = get_i64(s);
    p->win_images = get_i64(s);
    p->win_steps = get_i64(s);
}

/* fsyncs the folder holding path so that a rename into it is durable. */
static int fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) return -1;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

rv_status rb_checkpoint_save(rv_ctx *ctx, const char *path, const char *db_id, const char *key,
                             const rb_ckpt_progress *p, const rb_ckpt_arrays *a)
{
    if (!path || !db_id || !key || !p || !a || (a->n_order && !a->order) || (a->n_state && !a->state) ||
        (a->n_params && !a->momentum))
        return rv_ctx_fail(ctx, RV_ERR_ARG, "checkpoint save: NULL argument");
    size_t key_len = strlen(key);
    if (key_len > CKPT_MAX_KEY)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "checkpoint save: configuration key too long");
    size_t id_len = strlen(db_id);
    if (id_len > CKPT_MAX_DB_ID)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "checkpoint save: database identity too long");

    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "checkpoint save: path too long: %s", path);

    rv_status st = RV_OK;
    ckpt_stream s = { fopen(tmp, "wb"), crc32(0L, Z_NULL, 0), 0 };
    if (!s.f)
        return rv_ctx_fail(ctx, RV_ERR_IO, "cannot create checkpoint %s: %s", tmp,
                           strerror(errno));

    put(&s, CKPT_MAGIC, sizeof CKPT_MAGIC);
    put_u32(&s, RB_CHECKPOINT_VERSION);
    put_u32(&s, CKPT_BOM);
    put_u32(&s, (uint32_t)id_len);
    put(&s, db_id, id_len);
    put_u32(&s, (uint32_t)key_len);
    put(&s, key, key_len);
    put_progress(&s, p);
    put_u64(&s, a->n_order);
    put_u64(&s, a->n_state);
    put_u64(&s, a->n_params);
    put(&s, a->order, a->n_order * sizeof *a->order);
    put(&s, a->state, a->n_state * sizeof *a->state);
    put(&s, a->momentum, a->n_params * sizeof *a->momentum);
    uint32_t crc = (uint32_t)s.crc;
    if (!s.failed && fwrite(&crc, 1, sizeof crc, s.f) != sizeof crc) s.failed = 1;

    if (s.failed || fflush(s.f) != 0 || fsync(fileno(s.f)) != 0) {
        st = rv_ctx_fail(ctx, RV_ERR_IO, "cannot write checkpoint %s: %s", tmp,
                         strerror(errno));
        fclose(s.f);
        goto fail;
    }
    if (fclose(s.f) != 0) {
        st = rv_ctx_fail(ctx, RV_ERR_IO, "cannot close checkpoint %s: %s", tmp,
                         strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        st = rv_ctx_fail(ctx, RV_ERR_IO, "cannot rename %s to %s: %s", tmp, path,
                         strerror(errno));
        goto fail;
    }
    if (fsync_parent(path) != 0)
        return rv_ctx_fail(ctx, RV_ERR_IO, "cannot sync the folder of %s: %s", path,
                           strerror(errno));
    return RV_OK;
fail:
    unlink(tmp);
    return st;
}

rv_status rb_checkpoint_load(rv_ctx *ctx, const char *path, const char *db_id, const char *key,
                             rb_ckpt_progress *p, const rb_ckpt_arrays *a)
{
    if (!path || !db_id || !key || !p || !a || (a->n_order && !a->order) || (a->n_state && !a->state) ||
        (a->n_params && !a->momentum))
        return rv_ctx_fail(ctx, RV_ERR_ARG, "checkpoint load: NULL argument");

    rv_status st = RV_OK;
    char *file_key = NULL;
    char file_id[CKPT_MAX_DB_ID + 1];
    ckpt_stream s = { fopen(path, "rb"), crc32(0L, Z_NULL, 0), 0 };
    if (!s.f)
        return rv_ctx_fail(ctx, RV_ERR_IO, "cannot open checkpoint %s: %s", path,
                           strerror(errno));

    char magic[sizeof CKPT_MAGIC];
    if (get(&s, magic, sizeof magic) != 0 || memcmp(magic, CKPT_MAGIC, sizeof magic) != 0) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT, "%s is not a revbench checkpoint (wrong magic)",
                         path);
        goto fail;
    }
    uint32_t version = get_u32(&s);
    uint32_t bom = get_u32(&s);
    if (s.failed) goto truncated;
    if (version == 1) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT,
                         "checkpoint %s has format version 1, written before checkpoints "
                         "recorded their results database: it cannot be told apart from "
                         "another database's run of the same number, so it is not used (delete "
                         "it to restart that run from step 0)", path);
        goto fail;
    }
    if (version != RB_CHECKPOINT_VERSION) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT,
                         "checkpoint %s has format version %u; this program reads version %u",
                         path, version, RB_CHECKPOINT_VERSION);
        goto fail;
    }
    if (bom != CKPT_BOM) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT,
                         "checkpoint %s was written on a machine of another byte order", path);
        goto fail;
    }
    uint32_t id_len = get_u32(&s);
    if (s.failed) goto truncated;
    if (id_len > CKPT_MAX_DB_ID) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT, "checkpoint %s is corrupt (identity length %u)",
                         path, id_len);
        goto fail;
    }
    if (get(&s, file_id, id_len) != 0) goto truncated;
    file_id[id_len] = '\0';
    /* Checked before anything else of the run: a file of another database says nothing about
     * this one, however well its key matches. */
    if (strcmp(file_id, db_id) != 0) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT,
                         "checkpoint %s belongs to another results database (identity %s; this "
                         "database is %s): it was copied or moved here, so it is not used",
                         path, file_id, db_id);
        goto fail;
    }
    uint32_t key_len = get_u32(&s);
    if (s.failed) goto truncated;
    if (key_len > CKPT_MAX_KEY) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT, "checkpoint %s is corrupt (key length %u)", path,
                         key_len);
        goto fail;
    }
    file_key = malloc((size_t)key_len + 1);
    if (!file_key) {
        st = rv_ctx_fail(ctx, RV_ERR_NOMEM, "checkpoint load: out of memory");
        goto fail;
    }
    if (get(&s, file_key, key_len) != 0) goto truncated;
    file_key[key_len] = '\0';
    get_progress(&s, p);
    uint64_t n_order = get_u64(&s), n_state = get_u64(&s), n_params = get_u64(&s);
    if (s.failed) goto truncated;
    /* The key decides whether the file belongs to this run at all, so it is checked before
     * the sizes: a mismatch there is the more useful message. */
    if (strcmp(file_key, key) != 0) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT,
                         "checkpoint %s belongs to another configuration:\n  file: %s\n  run:  %s",
                         path, file_key, key);
        goto fail;
    }
    if (n_order != a->n_order || n_state != a->n_state || n_params != a->n_params) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT,
                         "checkpoint %s does not fit this model: %llu/%llu/%llu order/state/"
                         "momentum entries, expected %zu/%zu/%zu",
                         path, (unsigned long long)n_order, (unsigned long long)n_state,
                         (unsigned long long)n_params, a->n_order, a->n_state, a->n_params);
        goto fail;
    }
    if (p->step < 0 || p->pos < 0 || (uint64_t)p->pos > n_order || p->epoch < 0 ||
        p->win_steps < 0 || p->win_images < 0 || p->win_correct < 0) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT, "checkpoint %s is corrupt (progress out of range)",
                         path);
        goto fail;
    }
    get(&s, a->order, a->n_order * sizeof *a->order);
    get(&s, a->state, a->n_state * sizeof *a->state);
    get(&s, a->momentum, a->n_params * sizeof *a->momentum);
    if (s.failed) goto truncated;
    uint32_t want = (uint32_t)s.crc, have = 0;
    if (fread(&have, 1, sizeof have, s.f) != sizeof have) goto truncated;
    if (fgetc(s.f) != EOF) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT, "checkpoint %s has trailing bytes", path);
        goto fail;
    }
    if (have != want) {
        st = rv_ctx_fail(ctx, RV_ERR_FORMAT,
                         "checkpoint %s is corrupt: checksum %08x, contents give %08x", path,
                         have, want);
        goto fail;
    }
    for (size_t i = 0; i < a->n_order; i++)
        if (a->order[i] < 0 || (size_t)a->order[i] >= a->n_order) {
            st = rv_ctx_fail(ctx, RV_ERR_FORMAT,
                             "checkpoint %s is corrupt (data order entry out of range)", path);
            goto fail;
        }
    fclose(s.f);
    free(file_key);
    return RV_OK;
truncated:
    st = rv_ctx_fail(ctx, RV_ERR_FORMAT, "checkpoint %s is truncated", path);
fail:
    fclose(s.f);
    free(file_key);
    return st;
}

/* 1 when name is "<something>.tmp.<decimal pid>"; the pid goes to *pid. */
static int temp_name_pid(const char *name, long *pid)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name) return 0;
    const char *d = t + 5;
    /* The last ".tmp." is the one rb_checkpoint_save appended. */
    const char *next;
    while ((next = strstr(d, ".tmp.")) != NULL) d = next + 5;
    if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 9) return 0;
    *pid = strtol(d, NULL, 10);
    return *pid > 0;
}

rv_status rb_checkpoint_remove_stale(rv_ctx *ctx, const char *dir, int *n_removed)
{
    if (n_removed) *n_removed = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return RV_OK;
        return rv_ctx_fail(ctx, RV_ERR_IO, "cannot read folder %s: %s", dir, strerror(errno));
    }
    rv_status st = RV_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        if (!temp_name_pid(e->d_name, &pid)) continue;
        /* kill(pid, 0) fails with ESRCH only when no such process exists; EPERM means it
         * exists under another user, and a live writer's file must stay. A pid reused by an
         * unrelated process keeps a stale file until that process ends: harmless. */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        if (unlink(path) != 0 && errno != ENOENT) {
            st = rv_ctx_fail(ctx, RV_ERR_IO, "cannot remove stale temporary file %s: %s", path,
                             strerror(errno));
            break;
        }
        if (n_removed) (*n_removed)++;
    }
    closedir(d);
    return st;
}
