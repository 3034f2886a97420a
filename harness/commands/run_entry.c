/*
 * run_entry.c: one entry of `revbench run`, in the process that runs it (run_entry.h).
 *
 * Locks: before touching an entry its process takes an exclusive flock() on
 * DB.locks/<hash of the entry's config key>.lock and holds it until it exits; cmd_run.c says
 * why that keeps two `run`s from running one entry twice.
 *
 * Owns: the lock file descriptor and database handle of one entry, and a `mem` entry's child.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands/run_entry.h"
#include "common/exit_status.h"
#include "db/db_ext.h"
#include "experiments/entry_identity.h"
#include "training/train.h"
#include <revnet/data.h>
#include <revnet/model.h>

#define CMD "run"

/* A `mem` entry's child: the stop signal it got, passed on to its `revbench mem`. */
static volatile sig_atomic_t g_mem_stop;
static void on_mem_stop(int sig) { g_mem_stop = sig; }

/* 64-bit FNV-1a: a stable file name for an entry's lock. */
static unsigned long long fnv1a(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Opens and tries to lock the entry's lock file. Returns the fd (lock held), -1 if another
 * process holds it, -2 on an error (message printed). */
static int lock_entry(const char *db_path, const char *key)
{
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s.locks", db_path);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        rb_cli_error(CMD, "cannot create lock folder %s: %s", dir, strerror(errno));
        return -2;
    }
    snprintf(path, sizeof path, "%s/%016llx.lock", dir, fnv1a(key));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        rb_cli_error(CMD, "cannot open lock file %s: %s", path, strerror(errno));
        return -2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return errno == EWOULDBLOCK ? -1 : -2;
    }
    return fd;
}

/* Whether another process holds the entry's lock, creating nothing (for a dry run): 1 held,
 * 0 not held or no lock file, -2 on an error. */
static int entry_locked(const char *db_path, const char *key)
{
    char path[4300];
    snprintf(path, sizeof path, "%s.locks/%016llx.lock", db_path, fnv1a(key));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -2;
    int held = flock(fd, LOCK_EX | LOCK_NB) != 0;
    int e = errno;
    close(fd);
    return held ? (e == EWOULDBLOCK ? 1 : -2) : 0;
}

const char *rb_run_entry_state(rb_db *db, const char *db_path, const rb_experiment *e,
                               const rb_exp_entry *x, int dry_run)
{
    char status[16] = "";
    rb_exp_identity ident;
    if (rb_exp_entry_identity(e, x, &ident)) {
        rb_cli_error(CMD, "%s %s: %s", x->arch, x->dataset, ident.why);
        return "invalid configuration";
    }
    const rb_run_config rc = ident.rc;
    int64_t id;
    int found = db ? rb_db_find_run(db, &rc, &id, status) : 0;
    if (found < 0) return "unknown (database error)";
    if (found && !strcmp(status, "finished")) return "finished";
    char *key = rb_db_config_key(&rc);
    int held;
    if (!key) {
        held = 0;
    } else if (dry_run) {
        held = entry_locked(db_path, key) == 1;
    } else {
        int fd = lock_entry(db_path, key);
        held = fd == -1;
        if (fd >= 0) close(fd);
    }
    free(key);
    if (held) return "running elsewhere";
    if (!found) return "to run";
    if (!strcmp(status, "failed")) return "to retry (failed before)";
    return e->kind == RB_EXP_TRAIN ? "to resume" : "to rerun";
}

/* Memory entries run on random data (dataset "random"): ten classes, as CIFAR-10. */
static int n_classes_of(const rv_arch *a, const char *dataset)
{
    if (a->imagenet) return 1000;
    int n = rv_data_n_classes(dataset);
    return n ? n : 10;
}

/* Records the architecture's parameter and layer counts (archs table) by building it with no
 * training program. Failures are reported but do not fail the entry. */
static void record_arch(rb_db *db, const rb_exp_entry *x)
{
    rv_ctx *ctx = NULL;
    rv_model *m = NULL;
    char msg[256];
    rv_ctx_options opt = rv_ctx_default_options();
    opt.n_threads = 1;
    if (rv_ctx_create(&ctx, &opt, msg, sizeof msg) != RV_OK) return;
    rv_arch a;
    if (rv_arch_parse(x->arch, &a, NULL, 0) == RV_OK) {
        rv_model_options mo = { .n_classes = n_classes_of(&a, x->dataset), .batch = 1,
                                .seed = 1, .train_modes = 0, .plan_eval = 0, .plan_only = 1 };
        if (rv_model_create(ctx, &a, &mo, &m) == RV_OK) {
            const char *ds = a.imagenet ? "imagenet"
                             : !strcmp(x->dataset, "cifar100") ? "cifar100"
                             : !strcmp(x->dataset, "random") ? "cifar10" : x->dataset;
            if (rb_db_record_arch(db, x->arch, ds, (int64_t)rv_model_n_params(m),
                                  rv_model_n_layers(m)))
                rb_cli_error(CMD, "%s", rb_db_message(db));
        }
    }
    rv_model_destroy(m);
    rv_ctx_destroy(ctx);
}

static int run_train_entry(const rb_run_opts *o, const rb_experiment *e, const rb_exp_entry *x,
                           rb_db *db)
{
    char ckpt_dir[4200];
    const char *slash = strrchr(o->db_path, '/');
    if (slash) snprintf(ckpt_dir, sizeof ckpt_dir, "%.*s/checkpoints", (int)(slash - o->db_path),
                        o->db_path);
    else snprintf(ckpt_dir, sizeof ckpt_dir, "checkpoints");
    rb_train_config c;
    rb_exp_entry_train_config(e, x, &c);
    c.data_root = o->data_root;
    c.checkpoint_dir = ckpt_dir;
    c.progress = o->jobs == 1;
    rb_train_result r;
    int code = rb_train_run(&c, db, &r);
    if (code != RB_EXIT_OK) rb_cli_error(CMD, "%s %s: %s: %s", x->arch, x->dataset, r.status,
                                         r.reason);
    /* Stopped by a signal (checkpoint saved): exit as a shell would, so the parent can tell an
     * interruption from a failure. */
    if (code != RB_EXIT_OK && rb_train_last_signal()) return 128 + rb_train_last_signal();
    if (code != RB_EXIT_OK && !strcmp(r.status, "interrupted")) return RB_EXIT_RESUMABLE;
    return code;
}

/* This executable, whatever its path and however it was started: no argv[0] to trust. */
#define SELF_EXE "/proc/self/exe"

/* Runs `revbench mem` for the entry and returns its stdout (malloc'ed), or NULL. */
static char *run_mem_child(const rb_exp_entry *x, int *exit_status)
{
    int fds[2];
    if (pipe(fds) != 0) return NULL;
    char batch[16], steps[32], threads[16];
    snprintf(batch, sizeof batch, "%d", x->set.batch);
    snprintf(steps, sizeof steps, "%ld", x->set.steps);
    snprintf(threads, sizeof threads, "%d", x->set.threads);
    pid_t pid = fork();
    if (pid < 0) return NULL;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        char *argv[] = { "revbench", "mem", "--arch", (char *)x->arch, "--mode", (char *)x->mode,
                         "--batch", batch, "--steps", steps, "--device", (char *)x->device,
                         "--threads", threads, "--json", NULL };
        execv(SELF_EXE, argv);
        fprintf(stderr, "revbench run: cannot run %s: %s\n", SELF_EXE, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0, cap = 4096;
    char *out = malloc(cap);
    ssize_t got;
    int passed_on = 0;
    if (g_mem_stop) passed_on = kill(pid, g_mem_stop) == 0; /* asked to stop before the fork */
    while (out && (got = read(fds[0], out + len, cap - len - 1)) != 0) {
        if (got < 0) {
            if (errno != EINTR) break;
            if (g_mem_stop && !passed_on) {
                kill(pid, g_mem_stop);
                passed_on = 1;
            }
            continue;
        }
        len += (size_t)got;
        if (len + 1 == cap) {
            char *grown = realloc(out, cap *= 2);
            if (!grown) free(out);
            out = grown;
        }
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        if (g_mem_stop && !passed_on) passed_on = kill(pid, g_mem_stop) == 0;
    *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (out) out[len] = '\0';
    return out;
}

/* The number under the first of names in obj that holds one, else fallback. */
static double json_num(const cJSON *obj, const char *const *names, double fallback)
{
    for (int i = 0; names[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, names[i]);
        if (cJSON_IsNumber(v)) return v->valuedouble;
    }
    return fallback;
}

static double json_field(const cJSON *obj, const char *name, double fallback)
{
    const char *const names[] = { name, NULL };
    return json_num(obj, names, fallback);
}

static int store_mem_result(rb_db *db, int64_t id, const rb_exp_entry *x, const char *out,
                            char *why, size_t why_len)
{
    /* The names `revbench mem --json` has used for a category's two numbers. */
    static const char *const PLANNED[] = { "planned_bytes", "planned", NULL };
    static const char *const PEAK[] = { "peak_bytes", "measured_bytes", "peak", "measured",
                                        NULL };
    cJSON *j = cJSON_Parse(out);
    if (!cJSON_IsObject(j)) {
        const char *at = j ? NULL : cJSON_GetErrorPtr();
        snprintf(why, why_len, "mem output is not a JSON object%s%.40s%s", at ? " (near '" : "",
                 at ? at : "", at ? "')" : "");
        cJSON_Delete(j);
        return -1;
    }
    int rc = -1;
    if (rb_db_begin(db)) goto db_fail;
    /* Categories: an object of {planned, peak} per category, or a bare number (the peak). */
    const cJSON *cat;
    cJSON_ArrayForEach(cat, cJSON_GetObjectItemCaseSensitive(j, "categories")) {
        double planned = json_num(cat, PLANNED, -1), peak = json_num(cat, PEAK, -1);
        if (cJSON_IsNumber(cat)) peak = cat->valuedouble;
        if (rb_db_memory(db, id, cat->string, (int64_t)planned, (int64_t)peak)) goto db_fail;
    }
    double act = json_field(j, "activation_peak_bytes", -1);
    double act_planned = json_field(j, "planned_activation_peak_bytes", -1);
    double planned = json_field(j, "planned_peak_bytes", -1);
    double measured = json_field(j, "measured_peak_bytes", -1);
    double rss = json_field(j, "max_rss_bytes", -1);
    double dev = json_field(j, "device_in_use_bytes", -1);
    double ms = json_field(j, "ms_per_step", NAN);
    double ips = json_field(j, "images_per_sec", NAN);
    double arena = json_field(j, "arena_bytes", -1);
    const char *backend = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "backend"));
    if (act < 0 || !isfinite(ms)) {
        snprintf(why, why_len, "mem output lacks activation_peak_bytes or ms_per_step");
        rb_db_rollback(db);
        goto done;
    }
    if (rb_db_memory(db, id, "activation_peak", (int64_t)act_planned, (int64_t)act) ||
        rb_db_memory(db, id, "total_peak", (int64_t)planned, (int64_t)measured) ||
        (rss >= 0 && rb_db_memory(db, id, "max_rss", -1, (int64_t)rss)) ||
        (dev >= 0 && rb_db_memory(db, id, "device_in_use", -1, (int64_t)dev)) ||
        (arena >= 0 && rb_db_memory(db, id, "arena", (int64_t)arena, (int64_t)arena)) ||
        rb_db_metric(db, id, x->set.steps, "ms_per_step", ms) ||
        (isfinite(ips) && rb_db_metric(db, id, x->set.steps, "images_per_sec", ips)) ||
        (backend && rb_db_run_set_backend(db, id, backend)) ||
        rb_db_run_set_result(db, id, out) || rb_db_commit(db))
        goto db_fail;
    rc = 0;
    goto done;
db_fail:
    snprintf(why, why_len, "results database: %s", rb_db_message(db));
    rb_db_rollback(db);
done:
    cJSON_Delete(j);
    return rc;
}

static int run_mem_entry(const rb_experiment *e, const rb_exp_entry *x, rb_db *db)
{
    rb_exp_identity ident;
    rb_exp_entry_identity(e, x, &ident);
    const rb_run_config rc = ident.rc;
    int64_t id;
    char status[16] = "";
    int found = rb_db_find_run(db, &rc, &id, status);
    if (found < 0) {
        rb_cli_error(CMD, "%s", rb_db_message(db));
        return RB_EXIT_FAIL;
    }
    if (found && !strcmp(status, "finished")) return RB_EXIT_OK;
    /* We hold the entry's lock, so a 'running' row belongs to a process that died. */
    if (found && !strcmp(status, "running"))
        rb_db_run_end(db, id, "interrupted", "the process running it stopped");
    char desc[512] = "";
    if (!strcmp(x->device, rv_device_name(RV_DEVICE_CPU))) {
        rv_ctx *ctx = NULL;
        rv_ctx_options opt = rv_ctx_default_options();
        opt.n_threads = x->set.threads;
        if (rv_ctx_create(&ctx, &opt, desc, sizeof desc) == RV_OK)
            snprintf(desc, sizeof desc, "%s", rv_ctx_describe(ctx));
        rv_ctx_destroy(ctx);
    }
    if (rb_db_run_begin(db, &rc, desc[0] ? desc : NULL, &id)) {
        rb_cli_error(CMD, "%s", rb_db_message(db));
        return RB_EXIT_FAIL;
    }
    int child = 0;
    char why[512] = "";
    char *out = run_mem_child(x, &child);
    int ok = out && child == 0 && store_mem_result(db, id, x, out, why, sizeof why) == 0;
    if (!ok) {
        if (!out) snprintf(why, sizeof why, "cannot run revbench mem: %s", strerror(errno));
        else if (child) snprintf(why, sizeof why, "revbench mem exited with status %d", child);
        rb_cli_error(CMD, "%s %s: %s", x->arch, x->mode, why);
    }
    free(out);
    int stopped = !ok && g_mem_stop;
    if (rb_db_run_end(db, id, ok ? "finished" : stopped ? "interrupted" : "failed",
                      ok ? NULL : why)) {
        rb_cli_error(CMD, "%s", rb_db_message(db));
        return RB_EXIT_FAIL;
    }
    if (stopped) return 128 + g_mem_stop;
    return ok ? RB_EXIT_OK : RB_EXIT_FAIL;
}

/* A `mem` entry has no checkpoint: a stop request ends its `revbench mem` (passed on in
 * run_mem_child) and records it 'interrupted'. The handler must interrupt read(), so no
 * SA_RESTART. */
static void mem_child_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_mem_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    /* Unblocked before `revbench mem` is started: exec keeps the signal mask. */
    sigprocmask(SIG_UNBLOCK, &stop, NULL);
}

int rb_run_entry(const rb_run_opts *o, const rb_experiment *e, const rb_exp_entry *x)
{
    if (e->kind != RB_EXP_TRAIN) mem_child_signals();
    rb_db *db = NULL;
    char err[512];
    if (rb_db_open(&db, o->db_path, err, sizeof err)) {
        rb_cli_error(CMD, "%s", err);
        return RB_EXIT_FAIL;
    }
    rb_exp_identity ident;
    if (rb_exp_entry_identity(e, x, &ident)) {
        rb_cli_error(CMD, "%s %s: %s", x->arch, x->dataset, ident.why);
        rb_db_close(db);
        return RB_EXIT_USAGE;
    }
    char *key = rb_db_config_key(&ident.rc);
    int fd = key ? lock_entry(o->db_path, key) : -2;
    free(key);
    int code;
    if (fd == -1) code = RB_EXIT_BUSY;
    else if (fd < 0) code = RB_EXIT_FAIL;
    else {
        record_arch(db, x);
        code = e->kind == RB_EXP_TRAIN ? run_train_entry(o, e, x, db) : run_mem_entry(e, x, db);
        close(fd);
    }
    rb_db_close(db);
    return code;
}
