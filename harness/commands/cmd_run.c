/*
 * cmd_run.c: `revbench run FILE`: every entry of an experiment file's matrix, skipping finished
 * runs, resuming interrupted ones, N at a time.
 *
 * Each entry runs in a child process (a crash or a leak in one does not take the others with
 * it, and max RSS stays per entry), which run_entry.c fills: training entries call rb_train_run
 * with resume = 1; memory entries run `revbench mem ... --json` as a grandchild and store what
 * it prints.
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
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands/commands.h"
#include "commands/model_cli.h"
#include "commands/options.h"
#include "commands/run_entry.h"
#include "common/exit_status.h"
#include "common/measure.h"
#include "db/db.h"
#include "db/db_ext.h"
#include "experiments/entry_identity.h"
#include "experiments/experiment.h"
#include "experiments/slurm.h"
#include <revnet/context.h>

#define CMD "run"
/* Recorded (never an exit status) for an entry stopped by Ctrl-C: resumable, not failed. */
#define RB_ENTRY_INTERRUPTED (-1)

/* What `run` knows of each entry before it starts any. */
typedef struct {
    const char **states;      /* its state in the database ("finished", "to do", ...) */
    int *dup_of;              /* the entry above that lists the same run, or -1 */
    int n_done, n_dup;
} run_plan;

/* SIGCHLD needs a handler to be delivered (run_entries says why). */
static void on_child(int sig) { (void)sig; }

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
static int check_mode_flags(const rb_run_opts *o, const rb_slurm_opts *so, int slurm, int status,
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

/* Fills p with each entry's state, and marks an entry that repeats one above it. Returns 0, or
 * -1 when out of memory (p is freed either way by plan_free). */
static int plan_entries(run_plan *p, rb_db *db, const rb_run_opts *o, const rb_experiment *e)
{
    const int n = e->n_entries;
    *p = (run_plan){ 0 };
    p->states = calloc((size_t)n, sizeof *p->states);
    p->dup_of = calloc((size_t)n, sizeof *p->dup_of);
    char **keys = calloc((size_t)n, sizeof *keys);
    for (int i = 0; i < n && p->states && p->dup_of && keys; i++) {
        /* Two sections of a file may list one run: it runs once, and the second listing is
         * not mistaken for the same run "running in another process". */
        rb_exp_identity ident;
        p->dup_of[i] = -1;
        if (!rb_exp_entry_identity(e, &e->entries[i], &ident))
            keys[i] = rb_db_config_key(&ident.rc);
        for (int j = 0; j < i && keys[i] && p->dup_of[i] < 0; j++)
            if (keys[j] && !strcmp(keys[i], keys[j])) p->dup_of[i] = j;
        if (p->dup_of[i] >= 0) {
            p->states[i] = "listed twice: runs once, as the entry above";
            p->n_dup++;
            continue;
        }
        p->states[i] = rb_run_entry_state(db, o->db_path, e, &e->entries[i], o->dry_run);
        p->n_done += !strcmp(p->states[i], "finished");
    }
    int ok = p->states && p->dup_of && keys;
    for (int i = 0; i < n && keys; i++) free(keys[i]);
    free(keys);
    return ok ? 0 : -1;
}

static void plan_free(run_plan *p)
{
    free((void *)p->states);
    free(p->dup_of);
}

/* --dry-run: the plan, one line an entry. */
static void print_plan(const rb_experiment *e, const run_plan *p)
{
    for (int i = 0; i < e->n_entries; i++) {
        char d[256];
        describe_entry(d, sizeof d, &e->entries[i]);
        if (p->dup_of[i] >= 0)
            printf("  %3d  %-58s listed twice: runs once, as entry %d\n", i + 1, d,
                   p->dup_of[i] + 1);
        else
            printf("  %3d  %-58s %s\n", i + 1, d, p->states[i]);
    }
}

/* Runs the entries of e that p leaves to do, o->jobs at a time, each in a child process, and
 * says how each ended and what is left. Returns the exit status of `run`. */
static int run_entries(const rb_run_opts *o, const rb_experiment *e, const run_plan *p)
{
    const int n = e->n_entries;
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
        while (!g_stop && running < o->jobs && next < n) {
            int i = next++;
            if (!strcmp(p->states[i], "finished") || p->dup_of[i] >= 0) {
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
                _exit(rb_run_entry(o, e, &e->entries[i]));
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
                               : interrupted && e->kind == RB_EXP_TRAIN
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
            describe_entry(d, sizeof d, &e->entries[i]);
            int left = n - completed;
            if (n_ran > 0 && left > 0)
                snprintf(eta, sizeof eta, ", about %.0f min left",
                         ran_ms / n_ran * left / o->jobs / 60000.0);
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
    int code = RB_EXIT_OK;
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
                describe_entry(d, sizeof d, &e->entries[i]);
                printf("  %s (exit status %d)\n", d, codes[i]);
            }
        code = RB_EXIT_FAIL;
    }
    if (n_busy) printf("%d entr%s running in another process were left to it\n", n_busy,
                       n_busy == 1 ? "y" : "ies");
    free(pids);
    free(codes);
    free(t0);
    return code;
}

int rb_cmd_run(int argc, char **argv)
{
    rb_run_opts o = { .db_path = "results/results.db", .jobs = 1 };
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
        RB_CHOICE("backend", &cpu_backend, rv_cpu_backend_names(), "backend"),
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
        code = rb_run_entry(&o, &e, &e.entries[entry - 1]);
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
    run_plan plan;
    int planned = plan_entries(&plan, db, &o, &e);
    rb_db_close(db);
    if (planned) {
        rb_cli_error(CMD, "out of memory");
        code = RB_EXIT_FAIL;
    } else {
        int n = e.n_entries;
        char dups[64] = "";
        if (plan.n_dup) snprintf(dups, sizeof dups, " (%d listed twice, run once)", plan.n_dup);
        printf("%s (%s, schedule %s): %d entries, %d finished, %d to do%s%s\n", e.name,
               rb_exp_kind_name(e.kind), e.schedule, n, plan.n_done, n - plan.n_done - plan.n_dup,
               dups, e.n_skipped ? " (unsupported arch/mode pairs left out)" : "");
        if (o.dry_run) {
            print_plan(&e, &plan);
            code = RB_EXIT_OK;
        } else {
            code = run_entries(&o, &e, &plan);
        }
    }
    plan_free(&plan);
    rb_experiment_free(&e);
    return code;
}
