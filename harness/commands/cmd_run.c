/*
 * cmd_run.c: `revbench run FILE`: every entry of an experiment file's matrix, skipping finished
 * runs, resuming interrupted ones, N at a time.
 *
 * Each entry runs in a child process (a crash or a leak in one does not take the others with
 * it, and max RSS stays per entry). Training entries call rb_train_run with resume = 1; memory
 * entries run `revbench mem ... --json` as a grandchild and store what it prints.
 *
 * Two `run` processes on one database never run the same entry twice: before touching an
 * entry a child takes an exclusive flock() on DB.locks/<hash of the entry's config key>.lock
 * and holds it until it exits. The kernel drops the lock when the process dies, so a killed run
 * leaves no stale lock: the next `run` finds the row 'running' or 'interrupted', takes the lock
 * and resumes it. An entry whose lock is held is reported as "running elsewhere", not failed.
 *
 * Stopping: SIGINT or SIGTERM to `run` starts no new entry and is passed on to every running
 * entry, which stops after its current step with a checkpoint and ends 'interrupted' (the
 * signal may also reach an entry directly, from the terminal or a batch system: train.c takes
 * the two deliveries as one request). A second signal passed on stops entries at once. The
 * parent waits for children and signals with sigwaitinfo, so no signal is lost between the
 * two. Entries start with SIGINT/SIGTERM blocked until they can handle them, and get SIGTERM
 * if `run` itself dies.
 *
 * Owns: the children it forks (waited for before returning).
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands/commands.h"
#include "commands/model_cli.h"
#include "commands/options.h"
#include "common/exit_status.h"
#include "common/measure.h"
#include "db/db.h"
#include "db/db_ext.h"
#include "experiments/entry_identity.h"
#include "experiments/experiment.h"
#include "experiments/slurm.h"
#include <revnet/data.h>
#include <revnet/model.h>
#include "training/train.h"

#define CMD "run"
/* Exit status of an entry child whose lock another process holds. */
#define RB_EXIT_BUSY 3
/* Exit status of an entry child whose run stopped resumably without a signal (the results
 * database refused a write: locked or full); the row says 'interrupted' and why. */
#define RB_EXIT_RESUMABLE 4
/* Recorded (never an exit status) for an entry stopped by Ctrl-C: resumable, not failed. */
#define RB_ENTRY_INTERRUPTED (-1)

typedef struct {
    const char *db_path;
    const char *data_root;
    const char *device;       /* overrides every entry's device when set */
    int jobs;
    int dry_run;
} run_opts;

/* A `mem` entry's child: the stop signal it got, passed on to its `revbench mem`. */
static volatile sig_atomic_t g_mem_stop;
static void on_mem_stop(int sig) { g_mem_stop = sig; }
static void on_child(int sig) { (void)sig; }

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

/* The entry's state. db NULL: there is no database yet (a dry run creates none). dry_run:
 * look at the locks without creating any. */
static const char *entry_state(rb_db *db, const char *db_path, const rb_experiment *e,
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

static int run_train_entry(const run_opts *o, const rb_experiment *e, const rb_exp_entry *x,
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

/* The body of an entry's child process: lock, record, run. Returns its exit status. */
static int entry_child(const run_opts *o, const rb_experiment *e, const rb_exp_entry *x)
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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench run FILE [--db PATH] [--dry-run] [--jobs N] [--data DIR]\n"
            "                    [--device cpu|cuda] [--backend fast|ref] [--entry K]\n"
            "       revbench run FILE --slurm [--partition P] [--time T] [--mem M]\n"
            "                    [--cpus-per-task N] [--gpus-per-task N] [--dry-run | --status]\n\n"
            "Runs every entry of an experiment file (experiments/README.md): finished runs are\n"
            "skipped, interrupted ones resumed, failed ones retried. Each entry runs in its own\n"
            "process; a lock per entry (DB.locks/) keeps two `run`s of one file from running\n"
            "the same entry. Exits 1 listing the entries that failed.\n\n"
            "  --db PATH      results database (default results/results.db)\n"
            "  --dry-run      print the matrix and each entry's state; run nothing\n"
            "  --jobs N       entries run in parallel (default 1)\n"
            "  --data DIR     dataset folder (default $REVBENCH_DATA, then data/)\n"
            "  --device D     run every entry on device D instead of the file's devices\n"
            "  --backend B    CPU backend of every entry: fast (default) or ref\n"
            "  --entry K      run only entry K (1-based, as --dry-run numbers them), in this\n"
            "                 process: what each Slurm task runs\n\n"
            "On a Slurm cluster (README.md, \"Running on a cluster\"):\n"
            "  --slurm        submit the entries still to do as job arrays, each task into its\n"
            "                 own shard database under DB.slurm/NAME/, and a merge job that\n"
            "                 runs after them (--dependency=afterany) and merges the shards\n"
            "                 into DB; with --dry-run, print the batch scripts instead\n"
            "  --status       with --slurm: each entry's state in DB, its shard and the queue,\n"
            "                 and the merge job's\n"
            "  --partition P  the partition (default: the cluster's default)\n"
            "  --time T       time limit of every task (Slurm format, e.g. 2:00:00); default:\n"
            "                 estimated per entry from its network and steps\n"
            "  --mem M        memory of every task (e.g. 4G); default: estimated per entry\n"
            "  --cpus-per-task N  default: the entry's threads\n"
            "  --gpus-per-task N  default: 1 for cuda entries, 0 for cpu ones\n");
}

static void describe_entry(char *buf, size_t len, const rb_exp_entry *x)
{
    snprintf(buf, len, "%s %s %s %s seed %llu, %ld steps", x->arch, x->dataset, x->mode,
             x->device, (unsigned long long)x->seed, x->set.steps);
}

/* Flags that only make sense together (--status and the resource flags need --slurm; --entry
 * excludes --slurm and --jobs). Prints what is wrong; returns an exit status. */
static int check_mode_flags(const run_opts *o, const rb_slurm_opts *so, int slurm, int status,
                            long entry, int n_entries)
{
    int resources = so->partition || so->time || so->mem || so->cpus_per_task > 0 ||
                    so->gpus_per_task >= 0;
    if (!slurm && (status || resources)) {
        rb_cli_error(CMD, "--status, --partition, --time, --mem, --cpus-per-task and "
                     "--gpus-per-task go with --slurm");
        return RB_EXIT_USAGE;
    }
    if (slurm && (entry > 0 || o->jobs != 1)) {
        rb_cli_error(CMD, "--slurm submits every entry as its own task: drop --entry/--jobs");
        return RB_EXIT_USAGE;
    }
    if (status && o->dry_run) {
        rb_cli_error(CMD, "--status and --dry-run: choose one");
        return RB_EXIT_USAGE;
    }
    if (entry > 0 && (o->dry_run || o->jobs != 1)) {
        rb_cli_error(CMD, "--entry runs one entry: drop --dry-run/--jobs");
        return RB_EXIT_USAGE;
    }
    if (entry > n_entries) {
        rb_cli_error(CMD, "--entry %ld: the file has %d entr%s (revbench run FILE --dry-run "
                     "lists them)", entry, n_entries, n_entries == 1 ? "y" : "ies");
        return RB_EXIT_USAGE;
    }
    return RB_EXIT_OK;
}

int rb_cmd_run(int argc, char **argv)
{
    run_opts o = { .db_path = "results/results.db", .jobs = 1 };
    rb_slurm_opts so = { .gpus_per_task = -1 };
    long entry = 0;
    int slurm = 0, status = 0;
    const char *file = NULL;
    int dev = -1;
    long jobs = 1;
    int cpu_backend = -1;
    const rb_opt opts[] = {
        RB_TEXT("db", &o.db_path),
        RB_FLAG("dry-run", &o.dry_run),
        RB_LONG("jobs", &jobs, 1, 64),
        RB_TEXT("data", &o.data_root),
        RB_CHOICE("device", &dev, rv_device_names(), "device"),
        RB_LONG("entry", &entry, 1, 1000000),
        RB_FLAG("slurm", &slurm),
        RB_FLAG("status", &status),
        RB_TEXT("partition", &so.partition),
        RB_TEXT("time", &so.time),
        RB_TEXT("mem", &so.mem),
        RB_LONG("cpus-per-task", &so.cpus_per_task, 1, 1024),
        RB_LONG("gpus-per-task", &so.gpus_per_task, 0, 64),
        RB_CHOICE("backend", &cpu_backend, RB_CPU_BACKENDS, "backend"),
        RB_OPTS_END,
    };
    int n_files = 0;
    int rc = rb_opts_parse(CMD, usage, argc, argv, opts, &file, 1, &n_files);
    if (rc != RB_OPTS_GO) return rc;
    rb_cli_set_backend(cpu_backend);
    if (n_files == 0) {
        usage(stderr);
        return RB_EXIT_USAGE;
    }
    o.jobs = (int)jobs;
    if (dev >= 0) o.device = rv_device_name((rv_device)dev);
    rb_experiment e;
    char err[1024];
    if (rb_experiment_load(&e, file, err, sizeof err)) {
        fprintf(stderr, "revbench run: %s\n", err);
        return RB_EXIT_USAGE;
    }
    if (o.device)
        for (int i = 0; i < e.n_entries; i++)
            snprintf(e.entries[i].device, sizeof e.entries[i].device, "%s", o.device);
    int code = check_mode_flags(&o, &so, slurm, status, entry, e.n_entries);
    if (code != RB_EXIT_OK || slurm) {
        if (code == RB_EXIT_OK) {
            /* What the flags leave open, the file's [slurm] section gives. */
            const rb_exp_slurm *fs = &e.slurm;
            if (!so.partition && fs->partition[0]) so.partition = fs->partition;
            if (!so.time && fs->time[0]) so.time = fs->time;
            if (!so.mem && fs->mem[0]) so.mem = fs->mem;
            if (so.cpus_per_task == 0) so.cpus_per_task = fs->cpus_per_task;
            if (so.gpus_per_task < 0) so.gpus_per_task = fs->gpus_per_task;
            so.db_path = o.db_path;
            so.data_root = o.data_root;
            so.device = o.device;
            so.dry_run = o.dry_run;
            code = status ? rb_slurm_status(&e, &so) : rb_slurm_submit(file, &e, &so);
        }
        rb_experiment_free(&e);
        return code;
    }
    if (entry > 0) {
        /* One entry, in this process: a Slurm task's signals (SIGTERM before the time limit,
         * on scancel or preemption) reach the training loop itself, which stops at a step
         * boundary with its checkpoint saved. */
        if (!strcmp(o.db_path, "results/results.db")) mkdir("results", 0777);
        code = entry_child(&o, &e, &e.entries[entry - 1]);
        if (code == RB_EXIT_BUSY)
            rb_cli_error(CMD, "entry %ld is being run by another process on this machine",
                         entry);
        rb_experiment_free(&e);
        return code;
    }
    /* The default folder is ours to create; a folder named with --db must exist. A dry run
     * writes nothing: no folder, no database, no lock files; it reads an existing database
     * read-only, and a missing one means every entry is still to run. */
    if (!o.dry_run && !strcmp(o.db_path, "results/results.db")) mkdir("results", 0777);

    rb_db *db = NULL;
    int opened = !o.dry_run ? rb_db_open(&db, o.db_path, err, sizeof err)
                 : access(o.db_path, F_OK) == 0 ? rb_db_open_readonly(&db, o.db_path, err,
                                                                      sizeof err)
                                                : 0;
    if (opened) {
        rb_cli_error(CMD, "%s", err);
        rb_experiment_free(&e);
        return RB_EXIT_FAIL;
    }
    int n = e.n_entries, n_done = 0, n_dup = 0;
    const char **states = calloc((size_t)n, sizeof *states);
    int *dup_of = calloc((size_t)n, sizeof *dup_of);
    char **keys = calloc((size_t)n, sizeof *keys);
    for (int i = 0; i < n && states && dup_of && keys; i++) {
        /* Two sections of a file may list one run: it runs once, and the second listing is
         * not mistaken for the same run "running in another process". */
        rb_exp_identity ident;
        dup_of[i] = -1;
        if (!rb_exp_entry_identity(&e, &e.entries[i], &ident))
            keys[i] = rb_db_config_key(&ident.rc);
        for (int j = 0; j < i && keys[i] && dup_of[i] < 0; j++)
            if (keys[j] && !strcmp(keys[i], keys[j])) dup_of[i] = j;
        if (dup_of[i] >= 0) {
            states[i] = "listed twice: runs once, as the entry above";
            n_dup++;
            continue;
        }
        states[i] = entry_state(db, o.db_path, &e, &e.entries[i], o.dry_run);
        n_done += !strcmp(states[i], "finished");
    }
    rb_db_close(db);
    for (int i = 0; i < n && keys; i++) free(keys[i]);
    free(keys);
    if (!states || !dup_of || !keys) {
        rb_cli_error(CMD, "out of memory");
        free((void *)states);
        free(dup_of);
        rb_experiment_free(&e);
        return RB_EXIT_FAIL;
    }
    char dups[64] = "";
    if (n_dup) snprintf(dups, sizeof dups, " (%d listed twice, run once)", n_dup);
    printf("%s (%s, schedule %s): %d entries, %d finished, %d to do%s%s\n", e.name,
           rb_exp_kind_name(e.kind), e.schedule, n, n_done, n - n_done - n_dup, dups,
           e.n_skipped ? " (unsupported arch/mode pairs left out)" : "");
    if (o.dry_run) {
        for (int i = 0; i < n; i++) {
            char d[256];
            describe_entry(d, sizeof d, &e.entries[i]);
            if (dup_of[i] >= 0)
                printf("  %3d  %-58s listed twice: runs once, as entry %d\n", i + 1, d,
                       dup_of[i] + 1);
            else
                printf("  %3d  %-58s %s\n", i + 1, d, states[i]);
        }
        free((void *)states);
        free(dup_of);
        rb_experiment_free(&e);
        return RB_EXIT_OK;
    }
    fflush(stdout);

    pid_t *pids = calloc((size_t)n, sizeof *pids);
    int *codes = calloc((size_t)n, sizeof *codes);
    double *t0 = calloc((size_t)n, sizeof *t0);
    if (!pids || !codes || !t0) {
        /* Nothing has run: a success here would tell the user the experiment is done. */
        rb_cli_error(CMD, "out of memory");
        free(pids);
        free(codes);
        free(t0);
        free((void *)states);
        free(dup_of);
        rb_experiment_free(&e);
        return RB_EXIT_FAIL;
    }
    /* Children and stop requests are both taken with sigwaitinfo: SIGCHLD needs a handler
     * (its default action discards it on some systems), SIGINT/SIGTERM are only blocked. */
    struct sigaction sa = { 0 }, old_chld;
    sa.sa_handler = on_child;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, &old_chld);
    sigset_t waitset, child_mask, old_mask;
    sigemptyset(&waitset);
    sigaddset(&waitset, SIGINT);
    sigaddset(&waitset, SIGTERM);
    sigaddset(&waitset, SIGCHLD);
    sigprocmask(SIG_BLOCK, &waitset, &old_mask);
    child_mask = old_mask;
    sigaddset(&child_mask, SIGINT);
    sigaddset(&child_mask, SIGTERM);
    sigdelset(&child_mask, SIGCHLD);
    pid_t parent = getpid();
    int g_stop = 0;
    int next = 0, running = 0, completed = 0, n_failed = 0, n_busy = 0, n_ran = 0;
    int n_resumable = 0;
    double start_ms = rb_now_ms(), ran_ms = 0;
    while (next < n || running > 0) {
        while (!g_stop && running < o.jobs && next < n) {
            int i = next++;
            if (!strcmp(states[i], "finished") || dup_of[i] >= 0) {
                completed++;
                continue;
            }
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                rb_cli_error(CMD, "fork: %s", strerror(errno));
                codes[i] = RB_EXIT_FAIL;
                n_failed++;
                completed++;
                continue;
            }
            if (pid == 0) {
                sigaction(SIGCHLD, &old_chld, NULL);
                /* SIGINT/SIGTERM stay blocked until the entry can handle them (train.c
                 * unblocks them once its handlers are in place), so a request that arrives
                 * while it loads data stops it after its first step instead of killing it. */
                sigprocmask(SIG_SETMASK, &child_mask, NULL);
                /* A `run` that dies (kill -9) stops its entries as a SIGTERM would. */
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent) raise(SIGTERM);
                _exit(entry_child(&o, &e, &e.entries[i]));
            }
            pids[i] = pid;
            t0[i] = rb_now_ms();
            running++;
        }
        if (running == 0) break;
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0) break;
        if (pid == 0) {
            /* Nothing ended yet: sleep until a child ends or a stop request comes. */
            siginfo_t si;
            int sig = sigwaitinfo(&waitset, &si);
            if (sig == SIGINT || sig == SIGTERM) {
                g_stop = sig;
                for (int i = 0; i < n; i++)
                    if (pids[i] > 0) kill(pids[i], sig);
            }
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (pids[i] != pid) continue;
            running--;
            completed++;
            pids[i] = 0;
            codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            double ms = rb_now_ms() - t0[i];
            int interrupted = codes[i] > 128 && g_stop;
            const char *what = codes[i] == 0 ? "finished"
                               : codes[i] == RB_EXIT_BUSY ? "running elsewhere, skipped"
                               : interrupted && e.kind == RB_EXP_TRAIN
                                   ? "interrupted (checkpoint saved)"
                               : interrupted ? "interrupted"
                               : codes[i] == RB_EXIT_RESUMABLE
                                   ? "interrupted (resumable: see the message above)"
                               : "FAILED";
            if (codes[i] == RB_EXIT_BUSY) n_busy++;
            else if (codes[i] == RB_EXIT_RESUMABLE) {
                n_resumable++;
                codes[i] = RB_ENTRY_INTERRUPTED;
            } else if (interrupted) codes[i] = RB_ENTRY_INTERRUPTED;
            else if (codes[i]) n_failed++;
            else {
                n_ran++;
                ran_ms += ms;
            }
            char d[256], eta[64] = "";
            describe_entry(d, sizeof d, &e.entries[i]);
            int left = n - completed;
            if (n_ran > 0 && left > 0)
                snprintf(eta, sizeof eta, ", about %.0f min left",
                         ran_ms / n_ran * left / o.jobs / 60000.0);
            printf("[%d/%d] %s: %s in %.1f min%s\n", completed, n, d, what, ms / 60000.0, eta);
            fflush(stdout);
        }
    }
    /* A stop request that came after the last wait is still pending: take it here rather
     * than let it kill this process when the mask is restored. */
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    const struct timespec now = { 0, 0 };
    for (int sig; (sig = sigtimedwait(&stopset, NULL, &now)) > 0;) g_stop = sig;
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    code = RB_EXIT_OK;
    if (n_resumable) {
        printf("%d entr%s stopped because the results database refused a write; run the same "
               "command again to resume\n", n_resumable, n_resumable == 1 ? "y" : "ies");
        code = RB_EXIT_FAIL;
    }
    if (g_stop) {
        printf("stopped on request after %.1f min; run the same command again to resume\n",
               (rb_now_ms() - start_ms) / 60000.0);
        code = RB_EXIT_FAIL;
    }
    if (n_failed) {
        printf("%d entr%s failed:\n", n_failed, n_failed == 1 ? "y" : "ies");
        for (int i = 0; i < n; i++)
            if (codes[i] > 0 && codes[i] != RB_EXIT_BUSY) {
                char d[256];
                describe_entry(d, sizeof d, &e.entries[i]);
                printf("  %s (exit status %d)\n", d, codes[i]);
            }
        code = RB_EXIT_FAIL;
    }
    if (n_busy) printf("%d entr%s running in another process were left to it\n", n_busy,
                       n_busy == 1 ? "y" : "ies");
    free(pids);
    free(codes);
    free(t0);
    free((void *)states);
    free(dup_of);
    rb_experiment_free(&e);
    return code;
}
