/*
 * train.c: one training run of the paper's recipe (train.h), logged to the results database,
 * checkpointed, resumable, stoppable by SIGINT/SIGTERM.
 *
 * Per step s (0-based; "step" in the database is the number of steps completed, s + 1):
 *   1. if fewer than B images remain in the epoch order, draw a new permutation (run RNG);
 *   2. fill the batch: order[pos .. pos+B), mean subtracted, pad-crop-flip augmented (run RNG);
 *      steps 1-2 run on the loader thread one batch ahead (loader.h), bit for bit the same
 *      sequence, so filling batch s + 1 overlaps the compute of step s;
 *   3. RevNets with angle_every: on the same batch, gradients with stored activations
 *      (standard) and with reconstructed ones (reversible), both with batch norm in recompute
 *      mode so nothing changes (rv_model_gradient_angle), logged as grad_angle_deg and
 *      grad_max_rel_diff at step s + 1. Done before the real step, so the trajectory is the same
 *      with or without it;
 *   4. forward + backward in the run's mode (batch norm updates its running averages);
 *   5. SGD with the recipe's momentum and weight decay (on conv and FC weights only) and its
 *      learning-rate schedule (recipe.h).
 * Every eval_every steps and at the end, one transaction writes train_loss / train_error (means
 * over the steps since the previous evaluation, on the augmented batches), test_loss /
 * test_error (BN running averages, the first floor(n_test / B) * B test images: the model is
 * planned for batches of B, so a last partial batch is left out), lr and images_per_sec.
 *
 * Resume: the checkpoint holds every piece of state the steps above read (parameters, BN
 * averages, momentum, RNG, epoch order and position, the open metric window), so a resumed run
 * computes bit-identical losses to an uninterrupted one on the same thread count. Metrics
 * logged after the checkpoint's step are deleted first so curves do not double.
 *
 * The run's files (checkpoint, lock, pending outcome) live in a folder named by the database's
 * identity (run_files.h), so two databases never share them.
 *
 * When the database refuses a write during the run (locked past the busy timeout, disk full),
 * training stops: the run ends 'interrupted' (resumable from its last checkpoint, which still
 * matches the metrics the database holds). Recording that end gets no second full busy wait;
 * when it cannot be recorded either, the outcome goes to the run's outcome file and the
 * message says so, and the next rb_train_run of this configuration records it.
 *
 * The configuration is checked and resolved by rb_train_resolve (train_config.c); this file only
 * reads the result, embedded in the trainer.
 *
 * Owns, for the duration of rb_train_run: the context, datasets, model, host buffers, the run's
 * lock file (an fcntl lock that keeps two processes from training the same run) and the signal
 * handlers for SIGINT/SIGTERM (the previous ones and the signal mask are restored on return).
 */
#include "training/train.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/exit_status.h"
#include "common/measure.h"
#include "common/mkdirs.h"
#include "db/db_ext.h"
#include "training/checkpoint.h"
#include "training/loader.h"
#include "training/recipe.h"
#include "training/run_files.h"
#include "training/train_config.h"
#include <revnet/data.h>
#include <revnet/model.h>
#include "reporting/progress.h"
#include <revnet/rng.h>

/* The synthetic set (RB_TRAIN_SYNTHETIC, train_config.h) is fixed, whatever the run's seed. */
#define SYNTH_SEED 20170704u
#define SYNTH_TRAIN_N 10000
#define SYNTH_TEST_N 2000
/* Stream of the run seed that orders and augments the data (the model draws its weights from
 * the seed itself). */
#define DATA_STREAM 1u

static volatile sig_atomic_t g_stop_signal;
static volatile sig_atomic_t g_stop_sender;
static int g_last_signal;

/* First SIGINT/SIGTERM: ask the loop to stop after the current step. A second one from the
 * same sender means that sender does not want to wait: default action, immediately. One
 * request often arrives twice from different senders (Ctrl-C reaches the whole process group
 * from the terminal, and `revbench run` passes it on to its entries; a batch system signals
 * every process of a job, and `run` passes that on too): those are one request. The terminal's
 * signals have sender pid 0. */
static void on_signal(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    int sender = info ? (int)info->si_pid : 0;
    if (g_stop_signal) {
        if (sender != g_stop_sender) return;
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        raise(sig);
        return;
    }
    g_stop_sender = sender;
    g_stop_signal = sig;
}

int rb_train_last_signal(void) { return g_last_signal; }

typedef struct {
    const rb_train_config *cfg;
    rb_train_result *res;
    rb_db *db;
    rv_ctx *ctx;
    rb_train_resolved conf;   /* the checked configuration and the run's identity */
    rv_dataset train, test;
    float *mean;
    rv_model *model;
    size_t n_params, n_state;
    void *host;               /* one allocation holding the five buffers below (host_buffers) */
    float *x;                 /* evaluation batches (training batches come from the loader) */
    int32_t *y;
    rb_loader *loader;
    float *state_host, *mom_host;
    int32_t *order;
    int64_t run_id;           /* -1 until the run exists in the database */
    rb_run_files files;       /* checkpoint, lock and outcome paths of run_id */
    rb_ckpt_progress prog;
    long ckpt_step;           /* step of the newest checkpoint on disk; -1 if none */
    int db_waited;            /* a database write failed after waiting out the busy timeout */
    /* This process only: throughput of the whole run and of the open window. */
    double run_ms, win_ms;
    long run_images, win_rate_images;
    int have_eval;
    double last_lr;
    rb_progress bar;
} trainer;

static void set_reason(trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(trainer *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->res->reason, sizeof t->res->reason, fmt, ap);
    va_end(ap);
}

/* Final metrics of a finished run, read back from the database (a run that finished earlier,
 * or one resumed from its last checkpoint). Missing values stay NaN. */
static void read_final_metrics(trainer *t, int64_t run_id)
{
    rb_train_result *r = t->res;
    r->final_test_error = r->final_test_loss = r->final_train_loss = r->final_train_error = NAN;
    sqlite3 *h = rb_db_handle(t->db);
    sqlite3_stmt *q = NULL;
    const char *sql = "SELECT name, value FROM metrics WHERE run_id = ?1 AND step = "
                      "(SELECT MAX(step) FROM metrics WHERE run_id = ?1 AND name = 'test_error')";
    if (!h || sqlite3_prepare_v2(h, sql, -1, &q, NULL) != SQLITE_OK) return;
    sqlite3_bind_int64(q, 1, run_id);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 0);
        double v = sqlite3_column_type(q, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 1);
        if (!name) continue;
        if (strcmp(name, "test_error") == 0) r->final_test_error = v;
        else if (strcmp(name, "test_loss") == 0) r->final_test_loss = v;
        else if (strcmp(name, "train_loss") == 0) r->final_train_loss = v;
        else if (strcmp(name, "train_error") == 0) r->final_train_error = v;
    }
    sqlite3_finalize(q);
}

static rv_status db_fail(trainer *t, const char *what)
{
    int code = rb_db_last_code(t->db);
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) t->db_waited = 1;
    return rv_ctx_fail(t->ctx, RV_ERR_DB, "results database: %s: %s", what,
                       rb_db_message(t->db));
}

/* Loads both splits and the mean image. */
static rv_status load_data(trainer *t)
{
    const rb_train_config *c = t->cfg;
    rv_status st;
    if (strcmp(t->conf.dataset, RB_TRAIN_SYNTHETIC) == 0) {
        rv_rng_state r;
        rv_rng_seed_stream(&r, SYNTH_SEED, 0);
        st = rv_data_synthetic(t->ctx, &t->train, SYNTH_TRAIN_N, 10, &r);
        if (st == RV_OK) st = rv_data_synthetic(t->ctx, &t->test, SYNTH_TEST_N, 10, &r);
        if (st != RV_OK) return st;
    } else {
        st = rv_data_load(t->ctx, &t->train, t->conf.dataset, 1, c->data_root);
        if (st == RV_OK) st = rv_data_load(t->ctx, &t->test, t->conf.dataset, 0, c->data_root);
        if (st != RV_OK) {
            const char *msg = rv_ctx_message(t->ctx);
            if (st == RV_ERR_IO && !strstr(msg, "fetch-cifar"))
                return rv_ctx_fail(t->ctx, st, "%s (get CIFAR with scripts/fetch-cifar.sh DIR, "
                                   "then pass --data DIR or set REVBENCH_DATA=DIR)", msg);
            return st;
        }
    }
    if (c->train_subset > 0 && c->train_subset < t->train.n)
        if ((st = rv_data_subset(t->ctx, &t->train, (int)c->train_subset)) != RV_OK) return st;
    if (c->test_subset > 0 && c->test_subset < t->test.n)
        if ((st = rv_data_subset(t->ctx, &t->test, (int)c->test_subset)) != RV_OK) return st;
    if (t->train.n < c->batch || t->test.n < c->batch)
        return rv_ctx_fail(t->ctx, RV_ERR_ARG,
                           "batch %d is larger than the training set (%d images) or the test "
                           "set (%d images) in use", c->batch, t->train.n, t->test.n);
    size_t img = (size_t)t->train.c * t->train.h * t->train.w;
    t->mean = malloc(img * sizeof *t->mean);
    if (!t->mean) return rv_ctx_fail(t->ctx, RV_ERR_NOMEM, "out of memory (mean image)");
    return rv_data_mean_image(t->ctx, &t->train, t->mean);
}

/* The trainer's host buffers, cut from one allocation by a table of their sizes (one
 * allocation, one free): the evaluation batch, the model's state and momentum as checkpoints
 * hold them, and the epoch order. All zeroed: the order, before the first epoch is drawn, is
 * saved in no checkpoint but copied into the loader. */
static rv_status host_buffers(trainer *t)
{
    enum { X, Y, STATE, MOM, ORDER, N_BUFFERS };
    const size_t img = (size_t)t->train.c * t->train.h * t->train.w;
    const size_t batch = (size_t)t->cfg->batch;
    const size_t bytes[N_BUFFERS] = {
        [X] = batch * img * sizeof *t->x,
        [Y] = batch * sizeof *t->y,
        [STATE] = t->n_state * sizeof *t->state_host,
        [MOM] = t->n_params * sizeof *t->mom_host,
        [ORDER] = (size_t)t->train.n * sizeof *t->order,
    };
    size_t at[N_BUFFERS + 1] = { 0 };
    for (int i = 0; i < N_BUFFERS; i++) at[i + 1] = at[i] + (bytes[i] + 63) / 64 * 64;
    char *block = calloc(1, at[N_BUFFERS]);
    if (!block) return rv_ctx_fail(t->ctx, RV_ERR_NOMEM, "out of memory (host buffers)");
    t->host = block;
    t->x = (float *)(block + at[X]);
    t->y = (int32_t *)(block + at[Y]);
    t->state_host = (float *)(block + at[STATE]);
    t->mom_host = (float *)(block + at[MOM]);
    t->order = (int32_t *)(block + at[ORDER]);
    return RV_OK;
}

static rv_status build_model(trainer *t)
{
    const rb_train_config *c = t->cfg;
    rv_model_options opt;
    memset(&opt, 0, sizeof opt);
    opt.n_classes = t->train.n_classes;
    opt.batch = c->batch;
    opt.seed = c->seed;
    opt.train_modes = 1u << t->conf.mode;
    if (t->conf.angle_every > 0)
        opt.train_modes |= (1u << RV_BACKWARD_STANDARD) | (1u << RV_BACKWARD_REVERSIBLE);
    opt.plan_eval = 1;
    rv_status st = rv_model_create(t->ctx, &t->conf.arch, &opt, &t->model);
    if (st != RV_OK) return st;
    t->n_params = rv_model_n_params(t->model);
    t->n_state = rv_model_n_state(t->model);
    return host_buffers(t);
}

static rb_ckpt_arrays ckpt_arrays(trainer *t)
{
    rb_ckpt_arrays a = { t->order, (size_t)t->train.n, t->state_host, t->n_state,
                         t->mom_host, t->n_params };
    return a;
}

static rv_status save_checkpoint(trainer *t)
{
    rv_status st = rv_model_get_state(t->model, t->state_host, t->mom_host);
    if (st != RV_OK) return st;
    rb_ckpt_arrays a = ckpt_arrays(t);
    st = rb_checkpoint_save(t->ctx, t->files.ckpt, rb_db_identity(t->db), t->conf.key, &t->prog,
                            &a);
    if (st == RV_OK) t->ckpt_step = (long)t->prog.step;
    return st;
}

/* Creates the run in the database, or takes over the unfinished one being resumed (restoring
 * its checkpoint when there is one). */
static rv_status open_run(trainer *t, int64_t resume_id)
{
    const rb_train_config *c = t->cfg;
    char why[512];
    rv_status st = rb_mkdirs(c->checkpoint_dir, why, sizeof why);
    if (st != RV_OK) return rv_ctx_fail(t->ctx, st, "%s", why);
    const char *db_id = rb_db_identity(t->db);
    memset(&t->prog, 0, sizeof t->prog);
    rv_rng_seed_stream(&t->prog.rng, c->seed, DATA_STREAM);
    t->prog.pos = t->train.n; /* forces a permutation before the first step */

    if (resume_id < 0) {
        if (rb_db_run_begin(t->db, &t->conf.rc, rv_ctx_describe(t->ctx), &t->run_id) != 0)
            return db_fail(t, "cannot record the run");
    } else {
        t->run_id = resume_id;
    }
    int busy;
    if ((st = rb_run_files_init(t->ctx, &t->files, c->checkpoint_dir, db_id, t->run_id)) !=
            RV_OK ||
        (st = rb_run_files_prepare(t->ctx, &t->files, c->checkpoint_dir)) != RV_OK ||
        (st = rb_run_files_lock(t->ctx, &t->files, t->run_id, &busy)) != RV_OK)
        return st;

    if (resume_id >= 0) {
        /* The checkpoint in this database's folder; failing that, the one the row names (a
         * run started with another --checkpoint-dir, or by a version that kept checkpoints
         * without the database's identity: its file is refused with a message that says
         * so, since it could be another database's). */
        char recorded[PATH_MAX] = "";
        const char *from = t->files.ckpt;
        if (access(from, F_OK) != 0 &&
            rb_db_run_checkpoint(t->db, t->run_id, recorded, sizeof recorded) == 0 &&
            recorded[0] && strcmp(recorded, from) != 0 && access(recorded, F_OK) == 0)
            from = recorded;
        if (access(from, F_OK) == 0) {
            rb_ckpt_arrays a = ckpt_arrays(t);
            st = rb_checkpoint_load(t->ctx, from, db_id, t->conf.key, &t->prog, &a);
            if (st == RV_OK) st = rv_model_set_state(t->model, t->state_host, t->mom_host);
            if (st != RV_OK) return st;
            t->ckpt_step = (long)t->prog.step;
        }
        /* Without a checkpoint the run was killed before its first one: start from step 0
         * under the same id. */
        if (rb_db_run_resume(t->db, t->run_id, rv_ctx_describe(t->ctx)) != 0 ||
            rb_db_metrics_truncate(t->db, t->run_id, (long)t->prog.step) != 0)
            return db_fail(t, "cannot resume the run");
    }
    if (rb_db_run_set_checkpoint(t->db, t->run_id, t->files.ckpt) != 0)
        return db_fail(t, "cannot record the checkpoint path");
    return RV_OK;
}

static double lr_at(const trainer *t, long s) { return rb_recipe_lr_at(t->cfg->lr, s, t->cfg->steps); }

/* The angle between stored-activation and reconstructed-activation gradients on this batch
 * (rv_model_gradient_angle: batch norm in recompute mode, so nothing changes), logged at step
 * s + 1 with the largest gradient difference relative to the largest gradient. */
static rv_status log_angle(trainer *t, long s, const float *x, const int32_t *y)
{
    double deg, rel;
    rv_status st = rv_model_gradient_angle(t->model, x, y, &deg, &rel);
    if (st != RV_OK) return st;
    if (rb_db_metric(t->db, t->run_id, s + 1, "grad_angle_deg", deg) != 0 ||
        rb_db_metric(t->db, t->run_id, s + 1, "grad_max_rel_diff", rel) != 0)
        return db_fail(t, "cannot log the gradient angle");
    return RV_OK;
}

/* Test-set evaluation plus the window's training metrics, in one transaction. */
static rv_status evaluate(trainer *t, long step)
{
    const int B = t->cfg->batch;
    int n_batches = t->test.n / B;
    double loss_sum = 0;
    long correct = 0;
    rv_status st = RV_OK;
    for (int b = 0; b < n_batches; b++) {
        rv_step_result r;
        st = rv_data_fill_batch(t->ctx, &t->test, t->mean, NULL, b * B, B, 0, NULL, t->x, t->y);
        if (st == RV_OK) st = rv_model_eval(t->model, t->x, t->y, &r);
        if (st != RV_OK) return st;
        loss_sum += r.loss;
        correct += r.n_correct;
    }
    long n_eval = (long)n_batches * B;
    double test_loss = loss_sum / n_batches;
    double test_err = 100.0 * (1.0 - (double)correct / (double)n_eval);
    rb_ckpt_progress *p = &t->prog;
    double train_loss = p->win_steps ? p->win_loss_sum / (double)p->win_steps : NAN;
    double train_err = p->win_images ? 100.0 * (1.0 - (double)p->win_correct / p->win_images)
                                     : NAN;
    double ips = t->win_ms > 0 ? t->win_rate_images / (t->win_ms / 1e3) : NAN;
    if (!isfinite(test_loss))
        return rv_ctx_fail(t->ctx, RV_ERR_NUMERIC, "test loss is not finite at step %ld", step);

    struct { const char *name; double v; } rows[] = {
        { "train_loss", train_loss }, { "train_error", train_err }, { "test_loss", test_loss },
        { "test_error", test_err },   { "lr", t->last_lr },         { "images_per_sec", ips },
    };
    if (rb_db_begin(t->db) != 0) return db_fail(t, "cannot start a transaction");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (!isfinite(rows[i].v)) continue; /* e.g. no rate after a resume at this step */
        if (rb_db_metric(t->db, t->run_id, step, rows[i].name, rows[i].v) != 0) {
            st = db_fail(t, "cannot log metrics");
            rb_db_rollback(t->db);
            return st;
        }
    }
    if (rb_db_commit(t->db) != 0) return db_fail(t, "cannot commit metrics");

    rb_train_result *res = t->res;
    res->final_test_error = test_err;
    res->final_test_loss = test_loss;
    res->final_train_loss = train_loss;
    res->final_train_error = train_err;
    t->have_eval = 1;
    p->win_loss_sum = 0;
    p->win_correct = p->win_images = p->win_steps = 0;
    t->win_ms = 0;
    t->win_rate_images = 0;
    return RV_OK;
}

/* Runs steps until the end, a stop request or an error. RV_ERR_INTERRUPTED after a stop (the
 * checkpoint written); other errors leave the checkpoint as it was. */
static rv_status train_loop(trainer *t)
{
    const rb_train_config *c = t->cfg;
    const int B = c->batch;
    rb_ckpt_progress *p = &t->prog;
    long done_here = 0;
    rv_status st = RV_OK;
    char extra[64] = "";
    rb_loader_cursor start = { p->epoch, p->pos, p->rng };
    st = rb_loader_create(t->ctx, &t->loader, &t->train, t->mean, B, &start, t->order,
                          !c->sequential_loader);
    if (st != RV_OK) return st;

    while (p->step < c->steps) {
        long s = (long)p->step;
        double t0 = rb_now_ms();
        /* The batch was drawn ahead by the loader thread; the progress takes the data state
         * as of this batch, so a checkpoint after this step resumes exactly here. */
        rb_loader_batch batch;
        if ((st = rb_loader_next(t->loader, t->ctx, &batch)) != RV_OK) return st;
        p->epoch = batch.after.epoch;
        p->pos = batch.after.pos;
        p->rng = batch.after.rng;
        if (batch.new_epoch)
            memcpy(t->order, batch.order, (size_t)t->train.n * sizeof *t->order);
        if (t->conf.angle_every > 0 && (s == 0 || (s + 1) % t->conf.angle_every == 0)) {
            double ta = rb_now_ms();
            if ((st = log_angle(t, s, batch.x, batch.y)) != RV_OK) return st;
            t0 += rb_now_ms() - ta; /* diagnostics are not training throughput */
        }
        rv_step_result r;
        t->last_lr = lr_at(t, s);
        st = rv_model_train_step(t->model, t->conf.mode, batch.x, batch.y, 1, &r);
        if (st != RV_OK) return st;
        st = rv_model_sgd(t->model, (float)t->last_lr, (float)c->momentum,
                          (float)c->weight_decay);
        if (st != RV_OK) return st;
        if ((st = rv_ctx_sync(t->ctx)) != RV_OK) return st;
        double dt = rb_now_ms() - t0;
        t->run_ms += dt;
        t->win_ms += dt;
        t->run_images += B;
        t->win_rate_images += B;
        p->step++;
        p->win_loss_sum += r.loss;
        p->win_correct += r.n_correct;
        p->win_images += B;
        p->win_steps++;
        done_here++;

        long step = (long)p->step;
        if (step == c->steps || (t->conf.eval_every > 0 && step % t->conf.eval_every == 0))
            if ((st = evaluate(t, step)) != RV_OK) return st;
        int stop = g_stop_signal != 0 || (c->stop_after > 0 && done_here >= c->stop_after);
        if (stop || step == c->steps || (c->checkpoint_every > 0 && step % c->checkpoint_every == 0))
            if ((st = save_checkpoint(t)) != RV_OK) return st;
        if (c->progress) {
            snprintf(extra, sizeof extra, "loss %.4f", r.loss);
            rb_progress_update(&t->bar, step, extra);
        }
        if (stop && step < c->steps) {
            g_last_signal = g_stop_signal;
            return rv_ctx_fail(t->ctx, RV_ERR_INTERRUPTED, "%s at step %ld; resume with --resume",
                               g_stop_signal == SIGINT    ? "interrupted by SIGINT"
                               : g_stop_signal == SIGTERM ? "interrupted by SIGTERM"
                                                          : "stopped by --stop-after",
                               step);
        }
    }
    return RV_OK;
}

static void trainer_free(trainer *t)
{
    rb_loader_destroy(t->loader); /* first: its thread reads the dataset and mean */
    rb_run_files_unlock(&t->files);
    rv_model_destroy(t->model);
    rv_data_free(&t->train);
    rv_data_free(&t->test);
    free(t->mean);
    free(t->host);
    free(t->conf.key);
    if (t->ctx) rv_ctx_destroy(t->ctx);
}

int rb_train_run(const rb_train_config *cfg, rb_db *db, rb_train_result *res)
{
    trainer t;
    memset(&t, 0, sizeof t);
    memset(res, 0, sizeof *res);
    t.cfg = cfg;
    t.res = res;
    t.db = db;
    t.run_id = -1;
    t.ckpt_step = -1;
    t.files.lock_fd = -1;
    res->run_id = -1;
    res->final_test_error = res->final_test_loss = NAN;
    res->final_train_loss = res->final_train_error = res->images_per_sec = NAN;
    snprintf(res->status, sizeof res->status, "failed");
    g_last_signal = 0;

    int code = RB_EXIT_FAIL;
    rv_status st = RV_OK;
    struct sigaction sa, old_int, old_term;
    sigset_t stop_set, old_mask;
    int handlers = 0;

    code = rb_train_resolve(cfg, &t.conf, res->reason, sizeof res->reason);
    if (code != RB_EXIT_OK) goto out;
    code = RB_EXIT_FAIL;

    int64_t found_id = -1;
    char found_status[16] = "";
    int found = rb_db_find_run(db, &t.conf.rc, &found_id, found_status);
    if (found < 0) {
        set_reason(&t, "results database: %s", rb_db_message(db));
        goto out;
    }
    /* A run left 'running' may have ended in a process that could not record it. */
    if (found == 1 && strcmp(found_status, "running") == 0 &&
        rb_run_files_reconcile(t.ctx, db, cfg->checkpoint_dir, found_id, found_status,
                               res->note, sizeof res->note) < 0) {
        set_reason(&t, "%s", rv_ctx_message(t.ctx));
        goto out;
    }
    if (res->note[0]) rb_cli_error("train", "%s", res->note);
    int64_t resume_id = -1;
    if (found == 1 && cfg->resume) {
        if (strcmp(found_status, "finished") == 0) {
            res->run_id = found_id;
            res->steps_done = cfg->steps;
            snprintf(res->status, sizeof res->status, "finished");
            set_reason(&t, "run %lld with this configuration already finished; not rerun",
                       (long long)found_id);
            read_final_metrics(&t, found_id);
            code = RB_EXIT_OK;
            goto out;
        }
        if (strcmp(found_status, "running") == 0 || strcmp(found_status, "interrupted") == 0)
            resume_id = found_id;
    }

    char msg[256] = "";
    rv_ctx_options copt = rv_ctx_default_options();
    copt.n_threads = cfg->threads;
    int gpu = cfg->device && strcmp(cfg->device, rv_device_name(RV_DEVICE_CUDA)) == 0;
    if (gpu) copt.device = RV_DEVICE_CUDA;
    if (rv_ctx_create(&t.ctx, &copt, msg, sizeof msg) != RV_OK) {
        set_reason(&t, "%s: %s", gpu ? "cannot use the GPU" : "cannot create a CPU context", msg);
        goto out;
    }
    if ((st = load_data(&t)) != RV_OK) {
        code = st == RV_ERR_ARG ? RB_EXIT_USAGE : RB_EXIT_FAIL;
        set_reason(&t, "%s", rv_ctx_message(t.ctx));
        goto out;
    }
    if ((st = build_model(&t)) != RV_OK || (st = open_run(&t, resume_id)) != RV_OK) {
        set_reason(&t, "%s", rv_ctx_message(t.ctx));
        /* A run that could not start in a fresh row is recorded as failed; a resume that
         * failed (locked, bad checkpoint) leaves the run as it was. */
        res->run_id = t.run_id;
        if (t.run_id >= 0 && resume_id < 0)
            rb_run_files_record_end(t.ctx, db, &t.files, t.run_id, "failed", res->reason,
                                    sizeof res->reason, t.db_waited);
        goto out;
    }
    res->run_id = t.run_id;

    g_stop_signal = 0;
    g_stop_sender = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* A caller may have blocked them until now (`run` does, so that a stop request that
     * arrives while an entry loads its data waits for this handler instead of killing it). */
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &stop_set, &old_mask);
    handlers = 1;

    if (cfg->progress) {
        char label[96];
        snprintf(label, sizeof label, "run %lld %s", (long long)t.run_id, t.conf.arch.name);
        rb_progress_begin(&t.bar, stderr, label, (long)t.prog.step, cfg->steps, cfg->batch);
    }
    st = train_loop(&t);
    res->steps_done = (long)t.prog.step;
    res->images_per_sec = t.run_ms > 0 ? t.run_images / (t.run_ms / 1e3) : NAN;
    if (st == RV_OK) {
        if (!t.have_eval) read_final_metrics(&t, t.run_id);
        size_t rss = rb_max_rss_bytes();
        size_t arena = rv_mem_arena_bytes(rv_model_mem(t.model));
        /* The memory rows are a footnote; a database that refuses them refuses the end too,
         * which is what decides the status. */
        if (rb_db_memory(db, t.run_id, "arena", (int64_t)arena, (int64_t)arena) != 0 ||
            rb_db_memory(db, t.run_id, "max_rss", 0, (int64_t)rss) != 0)
            db_fail(&t, "cannot record the memory use");
        snprintf(res->status, sizeof res->status, "finished");
    } else if (st == RV_ERR_INTERRUPTED) {
        set_reason(&t, "%s", rv_ctx_message(t.ctx));
        snprintf(res->status, sizeof res->status, "interrupted");
    } else if (st == RV_ERR_DB) {
        /* Nothing is wrong with the run: it stops where the database stopped taking its
         * rows and continues from its last checkpoint, whose step the rows still match. */
        if (t.ckpt_step >= 0)
            set_reason(&t, "%s at step %ld; resume with --resume once the database is "
                       "writable (from the checkpoint of step %ld)", rv_ctx_message(t.ctx),
                       res->steps_done, t.ckpt_step);
        else
            set_reason(&t, "%s at step %ld; resume with --resume once the database is "
                       "writable (no checkpoint yet: from step 0)", rv_ctx_message(t.ctx),
                       res->steps_done);
        snprintf(res->status, sizeof res->status, "interrupted");
    } else {
        if (st == RV_ERR_NUMERIC)
            set_reason(&t, "diverged at step %ld (lr %g): %s", res->steps_done + 1, t.last_lr,
                       rv_ctx_message(t.ctx));
        else
            set_reason(&t, "%s", rv_ctx_message(t.ctx));
    }
    if (rb_run_files_record_end(t.ctx, db, &t.files, t.run_id, res->status, res->reason,
                                sizeof res->reason, t.db_waited) == 0 &&
        st == RV_OK)
        code = RB_EXIT_OK;
    if (cfg->progress) rb_progress_end(&t.bar, res->steps_done, res->status);

out:
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
    }
    trainer_free(&t);
    return code;
}
