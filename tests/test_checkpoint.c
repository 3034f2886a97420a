/*
 * test_checkpoint.c: the checkpoint file of a training run (harness/training/checkpoint.c) and the
 * progress display (harness/reporting/progress.c). No model or dataset is needed: checkpoints are written
 * from known arrays and damaged on purpose.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mkdirs.h"
#include "training/checkpoint.h"
#include "reporting/progress.h"
#include "scratch_dir.h"


/* ---------------------------------------------------------------------------------------- */
/* Checkpoint files (no model needed)                                                       */

#define CK_ORDER 50
#define CK_STATE 1000
#define CK_PARAMS 900
/* The identities of two results databases (rb_db_identity's form: 32 hex digits). */
#define CK_DB "0123456789abcdef0123456789abcdef"
#define CK_OTHER_DB "fedcba9876543210fedcba9876543210"

typedef struct {
    int32_t order[CK_ORDER];
    float state[CK_STATE];
    float momentum[CK_PARAMS];
} ck_buffers;

static rb_ckpt_arrays ck_arrays(ck_buffers *b)
{
    rb_ckpt_arrays a = { b->order, CK_ORDER, b->state, CK_STATE, b->momentum, CK_PARAMS };
    return a;
}

static rv_ctx *cpu_ctx(void)
{
    rv_ctx *ctx = NULL;
    char msg[256] = "";
    rv_ctx_options o = rv_ctx_default_options();
    cr_assert_eq(rv_ctx_create(&ctx, &o, msg, sizeof msg), RV_OK, "%s", msg);
    return ctx;
}

/* Writes a checkpoint with known contents to g_dir/t.ckpt and returns its path. */
static void write_known(rv_ctx *ctx, char *path, size_t len, rb_ckpt_progress *p, ck_buffers *b)
{
    snprintf(path, len, "%s/t.ckpt", g_dir);
    memset(p, 0, sizeof *p);
    p->step = 1234;
    p->epoch = 5;
    p->pos = 32;
    rv_rng_seed_stream(&p->rng, 99, 1);
    p->rng.spare = -0.75;
    p->rng.has_spare = 1;
    p->win_loss_sum = 3.25;
    p->win_correct = 17;
    p->win_images = 48;
    p->win_steps = 3;
    for (int i = 0; i < CK_ORDER; i++) b->order[i] = (i * 7) % CK_ORDER;
    for (int i = 0; i < CK_STATE; i++) b->state[i] = (float)i * 0.5f - 100.0f;
    for (int i = 0; i < CK_PARAMS; i++) b->momentum[i] = (float)(i % 13) * 1e-3f;
    rb_ckpt_arrays a = ck_arrays(b);
    cr_assert_eq(rb_checkpoint_save(ctx, path, CK_DB, "key-A", p, &a), RV_OK, "%s",
                 rv_ctx_message(ctx));
}

Test(checkpoint, round_trip_is_exact, .init = scratch_dir_make, .fini = scratch_dir_remove)
{
    rv_ctx *ctx = cpu_ctx();
    char path[PATH_MAX + 16];
    rb_ckpt_progress p, q;
    static ck_buffers w, r;
    write_known(ctx, path, sizeof path, &p, &w);
    memset(&q, 0xAB, sizeof q);
    memset(&r, 0, sizeof r);
    rb_ckpt_arrays a = ck_arrays(&r);
    cr_assert_eq(rb_checkpoint_load(ctx, path, CK_DB, "key-A", &q, &a), RV_OK, "%s",
                 rv_ctx_message(ctx));
    cr_assert(memcmp(&p, &q, sizeof p) == 0, "progress differs after a round trip");
    cr_assert(memcmp(&w, &r, sizeof w) == 0, "arrays differ after a round trip");
    /* No temporary file is left beside the checkpoint. */
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cr_assert_neq(access(tmp, F_OK), 0, "temporary file %s left behind", tmp);
    rv_ctx_destroy(ctx);
}

/* Loads path expecting failure with status st and a message containing needle. */
static void expect_load_error_db(rv_ctx *ctx, const char *path, const char *db_id,
                                 const char *key, rv_status st, const char *needle)
{
    static ck_buffers r;
    rb_ckpt_progress q;
    rb_ckpt_arrays a = ck_arrays(&r);
    rv_status got = rb_checkpoint_load(ctx, path, db_id, key, &q, &a);
    cr_assert_eq(got, st, "expected status %d, got %d (%s)", st, got, rv_ctx_message(ctx));
    cr_assert_not_null(strstr(rv_ctx_message(ctx), needle), "message '%s' lacks '%s'",
                       rv_ctx_message(ctx), needle);
}

static void expect_load_error(rv_ctx *ctx, const char *path, const char *key, rv_status st,
                              const char *needle)
{
    expect_load_error_db(ctx, path, CK_DB, key, st, needle);
}

Test(checkpoint, corrupt_files_are_clear_errors, .init = scratch_dir_make, .fini = scratch_dir_remove)
{
    rv_ctx *ctx = cpu_ctx();
    char path[PATH_MAX + 16];
    rb_ckpt_progress p;
    static ck_buffers w;
    write_known(ctx, path, sizeof path, &p, &w);
    size_t len;
    unsigned char *good = read_all(path, &len);
    unsigned char *bad = malloc(len);
    cr_assert_not_null(bad);

    /* One flipped bit in the parameters. */
    memcpy(bad, good, len);
    bad[len / 2] ^= 0x10;
    write_all(path, bad, len);
    expect_load_error(ctx, path, "key-A", RV_ERR_FORMAT, "checksum");

    /* Cut short, at several places: in the header, in the arrays, in the checksum. */
    size_t cuts[] = { 5, 30, len / 2, len - 2 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_all(path, good, cuts[i]);
        expect_load_error(ctx, path, "key-A", RV_ERR_FORMAT, cuts[i] < 8 ? "magic" : "truncated");
    }

    /* Not a checkpoint at all. */
    memcpy(bad, good, len);
    memcpy(bad, "SQLite f", 8);
    write_all(path, bad, len);
    expect_load_error(ctx, path, "key-A", RV_ERR_FORMAT, "magic");

    /* A future version. */
    memcpy(bad, good, len);
    bad[8] = 99;
    write_all(path, bad, len);
    expect_load_error(ctx, path, "key-A", RV_ERR_FORMAT, "version");

    /* A version 1 file (before checkpoints named their database) is refused, saying why. */
    memcpy(bad, good, len);
    bad[8] = 1;
    write_all(path, bad, len);
    expect_load_error(ctx, path, "key-A", RV_ERR_FORMAT, "written before checkpoints recorded");

    /* Trailing garbage. */
    unsigned char *longer = malloc(len + 3);
    memcpy(longer, good, len);
    memset(longer + len, 0, 3);
    write_all(path, longer, len + 3);
    expect_load_error(ctx, path, "key-A", RV_ERR_FORMAT, "trailing");

    /* Another database's checkpoint (same run number, same configuration): refused before
     * its key is even looked at. */
    write_all(path, good, len);
    expect_load_error_db(ctx, path, CK_OTHER_DB, "key-A", RV_ERR_FORMAT,
                         "belongs to another results database");
    /* Another run's configuration, then the right key but another model size. */
    expect_load_error(ctx, path, "key-B", RV_ERR_FORMAT, "another configuration");
    static ck_buffers r;
    rb_ckpt_progress q;
    rb_ckpt_arrays a = ck_arrays(&r);
    a.n_state = CK_STATE - 1;
    cr_assert_eq(rb_checkpoint_load(ctx, path, CK_DB, "key-A", &q, &a), RV_ERR_FORMAT);
    cr_assert_not_null(strstr(rv_ctx_message(ctx), "does not fit"), "%s", rv_ctx_message(ctx));

    /* Missing file: an I/O error naming it. */
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/none.ckpt", g_dir);
    expect_load_error(ctx, missing, "key-A", RV_ERR_IO, "none.ckpt");

    free(good);
    free(bad);
    free(longer);
    rv_ctx_destroy(ctx);
}

Test(checkpoint, save_into_missing_folder_fails_cleanly, .init = scratch_dir_make, .fini = scratch_dir_remove)
{
    rv_ctx *ctx = cpu_ctx();
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/no/such/dir/x.ckpt", g_dir);
    rb_ckpt_progress p;
    memset(&p, 0, sizeof p);
    static ck_buffers b;
    rb_ckpt_arrays a = ck_arrays(&b);
    cr_assert_eq(rb_checkpoint_save(ctx, path, CK_DB, "k", &p, &a), RV_ERR_IO);
    cr_assert_not_null(strstr(rv_ctx_message(ctx), "cannot create"), "%s", rv_ctx_message(ctx));
    /* mkdirs then makes it possible. */
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/no/such/dir", g_dir);
    char why[256] = "";
    cr_assert_eq(rb_mkdirs(dir, why, sizeof why), RV_OK, "%s", why);
    cr_assert_eq(rb_checkpoint_save(ctx, path, CK_DB, "k", &p, &a), RV_OK, "%s", rv_ctx_message(ctx));
    rv_ctx_destroy(ctx);
}

/* A process killed while writing a checkpoint leaves run-N.ckpt.tmp.<pid>, as large as a
 * checkpoint. The next start removes those of processes that no longer exist, and nothing else. */
Test(checkpoint, stale_temporaries_of_dead_processes_are_removed, .init = scratch_dir_make,
     .fini = scratch_dir_remove)
{
    pid_t dead = fork();
    cr_assert_neq(dead, -1);
    if (dead == 0) _exit(0);
    cr_assert_eq(waitpid(dead, NULL, 0), dead);
    const char *keep_names[] = { "run-2.ckpt.tmp.%ld", "run-3.ckpt.tmp.x%ld", "run-1.ckpt",
                                 "notes.txt" };
    char stale[PATH_MAX + 64], keep[4][PATH_MAX + 64], name[64];
    snprintf(name, sizeof name, "run-1.ckpt.tmp.%ld", (long)dead);
    snprintf(stale, sizeof stale, "%s/%s", g_dir, name);
    write_all(stale, (const unsigned char *)"partial", 7);
    for (int i = 0; i < 4; i++) {
        /* The live writer is this process. */
        snprintf(name, sizeof name, keep_names[i], (long)getpid());
        snprintf(keep[i], sizeof keep[i], "%s/%s", g_dir, name);
        write_all(keep[i], (const unsigned char *)"x", 1);
    }
    rv_ctx *ctx = cpu_ctx();
    int n = -1;
    cr_assert_eq(rb_checkpoint_remove_stale(ctx, g_dir, &n), RV_OK, "%s", rv_ctx_message(ctx));
    cr_expect_eq(n, 1);
    cr_expect_neq(access(stale, F_OK), 0, "%s was left", stale);
    for (int i = 0; i < 4; i++) cr_expect_eq(access(keep[i], F_OK), 0, "%s was removed", keep[i]);
    /* A folder that does not exist yet has nothing stale. */
    char none[PATH_MAX + 16];
    snprintf(none, sizeof none, "%s/none", g_dir);
    cr_expect_eq(rb_checkpoint_remove_stale(ctx, none, &n), RV_OK);
    cr_expect_eq(n, 0);
    rv_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------------------------------- */
/* Progress display                                                                         */

Test(progress, line_shows_percent_rate_and_eta)
{
    char buf[256];
    /* 100 of 1000 steps done in 10 s at 50 images per step: 500 img/s, 900 steps left at
     * 0.1 s each = 90 s = 1m30s. */
    rb_progress_format(buf, sizeof buf, "run 3", 0, 100, 1000, 50, 10000.0, 10, "loss 1.5");
    cr_assert_not_null(strstr(buf, "run 3 [=>        ]"), "%s", buf);
    cr_assert_not_null(strstr(buf, "10.0%"), "%s", buf);
    cr_assert_not_null(strstr(buf, "100/1000"), "%s", buf);
    cr_assert_not_null(strstr(buf, "500 img/s"), "%s", buf);
    cr_assert_not_null(strstr(buf, "ETA 1m30s"), "%s", buf);
    cr_assert_not_null(strstr(buf, "loss 1.5"), "%s", buf);
    /* A resumed run counts only its own steps: 50 steps (500..550) in 5 s. */
    rb_progress_format(buf, sizeof buf, "r", 500, 550, 1000, 10, 5000.0, 0, NULL);
    cr_assert_not_null(strstr(buf, "100 img/s"), "%s", buf);
    cr_assert_not_null(strstr(buf, "ETA 45s"), "%s", buf);
    cr_assert_null(strstr(buf, "["), "no bar requested: %s", buf);
    /* Nothing done yet: no rate, no ETA, no division by zero. */
    rb_progress_format(buf, sizeof buf, "r", 0, 0, 10, 10, 0.0, 0, NULL);
    cr_assert_null(strstr(buf, "img/s"), "%s", buf);
}

Test(progress, plain_lines_when_not_a_terminal, .init = scratch_dir_make, .fini = scratch_dir_remove)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/log", g_dir);
    FILE *f = fopen(path, "w+");
    cr_assert_not_null(f);
    rb_progress p;
    rb_progress_begin(&p, f, "job", 0, 100, 10);
    cr_assert_eq(p.tty, 0);
    for (long s = 1; s < 100; s++) rb_progress_update(&p, s, NULL); /* within the interval */
    rb_progress_update(&p, 100, NULL);                              /* the end always prints */
    rb_progress_end(&p, 100, "finished");
    fflush(f);
    rewind(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        cr_assert_null(strchr(line, '\r'), "carriage return in a log: %s", line);
        n++;
    }
    cr_assert_eq(n, 2, "expected the final update and the end line, got %d lines", n);
    fclose(f);
}

/* A full disk while checkpointing: the file-size limit makes write() fail part way (EFBIG, the
 * same path as ENOSPC) without needing a small file system. The save must fail with a clear
 * I/O error, keep the previous checkpoint intact and leave no temporary file. */
Test(checkpoint, full_disk_keeps_the_previous_checkpoint, .init = scratch_dir_make,
     .fini = scratch_dir_remove)
{
    rv_ctx *ctx = cpu_ctx();
    char path[PATH_MAX + 16];
    rb_ckpt_progress p, q;
    static ck_buffers w, r;
    write_known(ctx, path, sizeof path, &p, &w);
    size_t before_len;
    unsigned char *before = read_all(path, &before_len);
    cr_assert_not_null(before);

    signal(SIGXFSZ, SIG_IGN); /* report EFBIG instead of killing the process */
    struct rlimit lim = { 1024, 1024 };  /* far below one checkpoint */
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0, "setrlimit: %s", strerror(errno));
    rb_ckpt_progress p2 = p;
    p2.step = 9999;
    rb_ckpt_arrays a = ck_arrays(&w);
    rv_status st = rb_checkpoint_save(ctx, path, CK_DB, "key-A", &p2, &a);
    struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
    setrlimit(RLIMIT_FSIZE, &unlimited);
    cr_assert_eq(st, RV_ERR_IO, "a failed write must be an I/O error, got %d", st);
    cr_expect(strstr(rv_ctx_message(ctx), "t.ckpt") != NULL, "message should name the file: %s",
              rv_ctx_message(ctx));

    size_t after_len;
    unsigned char *after = read_all(path, &after_len);
    cr_assert_not_null(after);
    cr_expect(after_len == before_len && memcmp(before, after, before_len) == 0,
              "the previous checkpoint changed");
    memset(&r, 0, sizeof r);
    rb_ckpt_arrays ra = ck_arrays(&r);
    cr_assert_eq(rb_checkpoint_load(ctx, path, CK_DB, "key-A", &q, &ra), RV_OK, "%s", rv_ctx_message(ctx));
    cr_expect_eq(q.step, 1234);
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cr_expect_neq(access(tmp, F_OK), 0, "temporary file %s left behind", tmp);
    free(before);
    free(after);
    rv_ctx_destroy(ctx);
}
