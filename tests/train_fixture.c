/* train_fixture.c: see train_fixture.h. */
#include "train_fixture.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/exit_status.h"
#include "scratch_dir.h"
#include "training/run_files.h"

char g_ckpt_dir[PATH_MAX + 32];
rb_db *g_db;

/* The dataset the training tests use: Fashion-MNIST when it is installed or under
 * REVBENCH_DATA, otherwise the synthetic set (the mechanics under test are the same). */
const char *test_dataset(void)
{
    const char *root = getenv("REVBENCH_DATA");
    char p[PATH_MAX];
    if (root && *root) {
        snprintf(p, sizeof p, "%s/fashion-mnist/train-images-idx3-ubyte.gz", root);
        if (access(p, R_OK) == 0) return "fashion-mnist";
    }
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0)
        return "fashion-mnist";
    return "synthetic";
}

/* A small, quick configuration: 1 thread, 512 training and 128 test images. */
rb_train_config small_config(const char *arch, long steps)
{
    rb_train_config c;
    rb_train_config_defaults(&c);
    snprintf(g_ckpt_dir, sizeof g_ckpt_dir, "%s/checkpoints", g_dir);
    c.arch = arch;
    c.dataset = test_dataset();
    c.steps = steps;
    c.batch = 16;
    c.seed = 7;
    c.eval_every = 10;
    c.checkpoint_every = 10;
    c.train_subset = 512;
    c.test_subset = 128;
    c.lr = 0.05;
    c.threads = 1;
    c.progress = 0;
    c.checkpoint_dir = g_ckpt_dir;
    return c;
}

rb_db *open_db(const char *name)
{
    char path[PATH_MAX + 64], err[256] = "";
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    rb_db *db = NULL;
    cr_assert_eq(rb_db_open(&db, path, err, sizeof err), 0, "rb_db_open: %s", err);
    return db;
}

void train_db_open(void)
{
    scratch_dir_make();
    g_db = open_db("r.db");
}

void train_db_close(void)
{
    rb_db_close(g_db);
    g_db = NULL;
    scratch_dir_remove();
}

/* The values of metric `name` of a run, by step; returns the count (at most cap). */
int metric_series(rb_db *db, int64_t run_id, const char *name, long *steps,
                         double *values, int cap)
{
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(rb_db_handle(db),
                                    "SELECT step, value FROM metrics WHERE run_id = ? AND "
                                    "name = ? ORDER BY step",
                                    -1, &q, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(rb_db_handle(db)));
    sqlite3_bind_int64(q, 1, run_id);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    int n = 0;
    while (sqlite3_step(q) == SQLITE_ROW && n < cap) {
        if (steps) steps[n] = (long)sqlite3_column_int64(q, 0);
        values[n] = sqlite3_column_double(q, 1);
        n++;
    }
    sqlite3_finalize(q);
    return n;
}

/* A text column of the run's row. */
void run_text(rb_db *db, int64_t run_id, const char *column, char *out, size_t len)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s FROM runs WHERE id = ?", column);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(rb_db_handle(db), sql, -1, &q, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(rb_db_handle(db)));
    sqlite3_bind_int64(q, 1, run_id);
    out[0] = '\0';
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
}

long count_rows(rb_db *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(rb_db_handle(db), sql, -1, &q, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(rb_db_handle(db)));
    long n = sqlite3_step(q) == SQLITE_ROW ? (long)sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    return n;
}

/* Two checkpoint files of runs in two databases hold the same state: every byte the same
 * except the database identity (offset 20, after magic, version, byte-order mark and the
 * identity's length, checkpoint.h) and the CRC-32 at the end, which covers the identity. So
 * step, RNG, data order, parameters, BN averages and momentum are compared bit for bit. */
void assert_same_checkpoint(const char *a, const char *b)
{
    enum { ID_OFFSET = 20, CRC_BYTES = 4 };
    size_t na, nb;
    unsigned char *ba = read_all(a, &na), *bb = read_all(b, &nb);
    cr_assert_eq(na, nb, "%s has %zu bytes, %s has %zu", a, na, b, nb);
    cr_assert_gt(na, ID_OFFSET + CRC_BYTES, "%s is too short", a);
    uint32_t id_len;
    memcpy(&id_len, ba + ID_OFFSET - 4, sizeof id_len);
    cr_assert_eq(id_len, RB_DB_ID_LEN, "%s: identity length %u", a, id_len);
    size_t first = na;
    for (size_t i = 0; i < na - CRC_BYTES; i++) {
        if (i >= ID_OFFSET && i < ID_OFFSET + id_len) continue;
        if (ba[i] != bb[i]) {
            first = i;
            break;
        }
    }
    cr_assert_eq(first, na, "%s and %s differ from byte %zu", a, b, first);
    free(ba);
    free(bb);
}

/* Asserts that metric `name` has the same values, bit for bit, at the same steps in two runs. */
void assert_same_series(rb_db *da, int64_t ra, rb_db *dbb, int64_t rb, const char *name)
{
    enum { CAP = 256 };
    long sa[CAP], sb[CAP];
    double va[CAP], vb[CAP];
    int na = metric_series(da, ra, name, sa, va, CAP);
    int nb = metric_series(dbb, rb, name, sb, vb, CAP);
    cr_assert_gt(na, 0, "no %s rows", name);
    cr_assert_eq(na, nb, "%s: %d rows against %d", name, na, nb);
    for (int i = 0; i < na; i++) {
        cr_assert_eq(sa[i], sb[i], "%s row %d: step %ld against %ld", name, i, sa[i], sb[i]);
        cr_assert(memcmp(&va[i], &vb[i], sizeof va[i]) == 0,
                  "%s at step %ld: %.17g against %.17g", name, sa[i], va[i], vb[i]);
    }
}

/* Runs c uninterrupted in ref.db (checkpoints in checkpoints-ref/) and returns the path of its
 * final checkpoint in ref_ckpt. */
int64_t reference_run(rb_train_config *c, char *ref_ckpt, size_t len, rb_db **ref_db)
{
    static char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/checkpoints-ref", g_dir);
    const char *saved = c->checkpoint_dir;
    c->checkpoint_dir = dir;
    *ref_db = open_db("ref.db");
    rb_train_result r;
    cr_assert_eq(rb_train_run(c, *ref_db, &r), RB_EXIT_OK, "reference run: %s", r.reason);
    ckpt_path(*ref_db, dir, r.run_id, ref_ckpt, len);
    c->checkpoint_dir = saved;
    return r.run_id;
}

rb_train_result train_expect(rb_train_config *c, rb_db *db, const char *want)
{
    rb_train_result r;
    int code = rb_train_run(c, db, &r);
    cr_assert_str_eq(r.status, want, "status '%s' (exit %d): %s", r.status, code, r.reason);
    cr_assert_eq(code, strcmp(want, "finished") ? RB_EXIT_FAIL : RB_EXIT_OK, "%s", r.reason);
    return r;
}

void train_expect_refusal(rb_train_config *c, rb_db *db, const char *why)
{
    rb_train_result r;
    cr_assert_eq(rb_train_run(c, db, &r), RB_EXIT_FAIL, "%s: %s", r.status, r.reason);
    cr_assert_not_null(strstr(r.reason, why), "%s", r.reason);
}

void assert_run_status(rb_db *db, int64_t run_id, const char *want)
{
    char status[32];
    run_text(db, run_id, "status", status, sizeof status);
    cr_assert_str_eq(status, want, "run %lld is '%s', expected '%s'", (long long)run_id, status,
                     want);
}

void assert_db_intact(rb_db *db)
{
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(rb_db_handle(db), "PRAGMA integrity_check", -1, &q, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
}

/* Waits (up to timeout_ms) until path exists. */
int wait_for_file(const char *path, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 2) {
        if (access(path, F_OK) == 0) return 0;
        struct timespec ts = { 0, 2 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return -1;
}


void ckpt_path(rb_db *db, const char *dir, int64_t run_id, char *out, size_t len)
{
    rb_run_files f;
    rv_ctx *ctx = NULL;
    char msg[256] = "";
    rv_ctx_options o = rv_ctx_default_options();
    cr_assert_eq(rv_ctx_create(&ctx, &o, msg, sizeof msg), RV_OK, "%s", msg);
    cr_assert_eq(rb_run_files_init(ctx, &f, dir, rb_db_identity(db), run_id), RV_OK);
    snprintf(out, len, "%s", f.ckpt);
    rv_ctx_destroy(ctx);
}

pid_t hold_run_lock(rb_db *db, const char *dir, int64_t run_id)
{
    char lock[PATH_MAX + 64];
    ckpt_path(db, dir, run_id, lock, sizeof lock);
    strcat(lock, ".lock");
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int fd = open(lock, O_RDWR);
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        char ok = (fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0) ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    cr_assert_eq(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    close(ready[1]);
    cr_assert_eq(ok, 'y', "the helper could not take the lock %s", lock);
    return pid;
}
