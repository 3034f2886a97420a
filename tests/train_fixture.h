/*
 * train_fixture.h: what the training tests share (test_train.c, test_train_faults.c): a small
 * quick configuration, the database in the scratch folder, runs with their expected end, metric
 * series and rows read back, and bit-for-bit comparisons of two runs. Every helper fails the
 * test (Criterion) when it cannot do its part.
 */
#ifndef RV_TEST_TRAIN_FIXTURE_H
#define RV_TEST_TRAIN_FIXTURE_H

#include <sys/types.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "training/train.h"

/* g_dir/checkpoints: the checkpoint folder of small_config. */
extern char g_ckpt_dir[PATH_MAX + 32];

/* The database most training tests run in: g_dir/r.db of a fresh scratch folder, made and
 * opened by train_db_open and closed (the folder removed) by train_db_close; use them as a
 * suite's .init and .fini. */
extern rb_db *g_db;
void train_db_open(void);
void train_db_close(void);

/* Fashion-MNIST when it is installed or under REVBENCH_DATA, otherwise the synthetic set (the
 * mechanics under test are the same). */
const char *test_dataset(void);
/* A small, quick configuration: 1 thread, 512 training and 128 test images, batch 16, seed 7,
 * evaluation and checkpoint every 10 steps, checkpoints in g_ckpt_dir. */
rb_train_config small_config(const char *arch, long steps);
/* Opens (creating) g_dir/name. */
rb_db *open_db(const char *name);
/* The values of metric `name` of a run, by step; returns the count (at most cap). */
int metric_series(rb_db *db, int64_t run_id, const char *name, long *steps, double *values,
                  int cap);
/* A text column of the run's row ("" for NULL). */
void run_text(rb_db *db, int64_t run_id, const char *column, char *out, size_t len);
/* The first column of the first row of sql, an integer. */
long count_rows(rb_db *db, const char *sql);
/* Two checkpoints hold the same state, bit for bit (their database identities aside). */
void assert_same_checkpoint(const char *a, const char *b);
/* Metric `name` has the same values, bit for bit, at the same steps in two runs. */
void assert_same_series(rb_db *da, int64_t ra, rb_db *dbb, int64_t rb, const char *name);
/* Runs c uninterrupted in g_dir/ref.db (checkpoints in g_dir/checkpoints-ref/); returns its run
 * id, its final checkpoint's path in ref_ckpt and the open database in *ref_db. */
int64_t reference_run(rb_train_config *c, char *ref_ckpt, size_t len, rb_db **ref_db);
/* Waits (up to timeout_ms) until path exists: 0, or -1 on timeout. */
int wait_for_file(const char *path, int timeout_ms);
/* The checkpoint path of run run_id of db under checkpoint folder dir. */
void ckpt_path(rb_db *db, const char *dir, int64_t run_id, char *out, size_t len);

/* Runs c in db and expects the run to end with status want ("finished", "interrupted" or
 * "failed") and the exit status that goes with it; returns the result. */
rb_train_result train_expect(rb_train_config *c, rb_db *db, const char *want);
/* Runs c in db and expects it to be refused: exit RB_EXIT_FAIL with a reason containing why. */
void train_expect_refusal(rb_train_config *c, rb_db *db, const char *why);
/* The run's row says status want. */
void assert_run_status(rb_db *db, int64_t run_id, const char *want);
/* The database file passes SQLite's integrity_check. */
void assert_db_intact(rb_db *db);

/* Forks a child that takes the write lock on run run_id's lock file, as a live training
 * process would, and returns its pid once it holds the lock (the test fails otherwise).
 * The caller ends it with kill(pid, SIGKILL) and waitpid. */
pid_t hold_run_lock(rb_db *db, const char *dir, int64_t run_id);

#endif
