/*
 * slurm.c: `revbench run FILE --slurm` and `--slurm --status` (slurm.h): the plan of each
 * entry (its shard, its state, the resources its task asks for), the batch scripts, their
 * submission, and the state report.
 *
 * Resources per task, unless given by flags: CPUs = the entry's threads; GPUs = 1 for a cuda
 * entry; memory and time estimated from the network's plan (layers, planned arena) and the
 * entry's schedule (steps, evaluations, gradient angles), with the constants below.
 *
 * Owns: the files it writes under the run folder; the sbatch children (slurm_queue.c).
 */
/* realpath() is X/Open, beyond the POSIX level the build asks for. */
#define _DEFAULT_SOURCE
#include "experiments/slurm.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/exit_status.h"
#include "db/db.h"
#include "db/db_ext.h"
#include "db/run_progress.h"
#include "experiments/entry_identity.h"
#include "experiments/slurm_queue.h"
#include <revnet/memory.h>
#include <revnet/model.h>

#define CMD "run"

/* Time of one training step per layer per 100 images on 2 threads: the largest measured
 * ms/step divided by layers in the README's memory-and-time table (RevNet-110 reversible,
 * 1543 ms / 110 layers = 14.0 ms; 2 vCPUs of a Xeon with AVX-512). Images of 224x224 cost
 * (224/32)^2 times as much. A GPU is faster; without a measured GPU figure, the CPU's is the
 * estimate there too (a limit too long only waits longer in the queue). */
#define STEP_MS_PER_LAYER_PER_100 14.0
/* A forward-only evaluation step costs about a third of a training step (forward + a backward
 * of twice the work); a gradient-angle check costs two training steps (standard and
 * reversible backward of the same batch). */
#define EVAL_FRACTION_OF_STEP (1.0 / 3.0)
#define ANGLE_STEPS 2.0
/* Nodes may be slower or shared; a task cut by its limit resumes, but only after a resubmit. */
#define TIME_MARGIN 2.0
#define MIN_TASK_MINUTES 15
/* Images are kept as bytes: 1 label + 32x32x3 pixels per CIFAR-size image. */
#define IMAGE_RECORD_BYTES 3073.0
#define CIFAR_TRAIN_IMAGES 50000L
#define FMNIST_TRAIN_IMAGES 60000L
#define TEST_IMAGES 10000L
/* Beside the planned arena and the images: the program, its libraries and BLAS buffers. The
 * README's table has max RSS 8-17 MB above the planned whole-step peak; 256 MiB leaves room
 * for a larger BLAS or CUDA runtime. Then everything times 1.25, and up the doubling ladder
 * from 256 MiB. */
#define PROCESS_MIB 256.0
#define MEM_MARGIN 1.25
#define MEM_STEP_MIB 256L
/* SIGTERM this long before the time limit: the slowest step of the README's table is about
 * 2 s and a checkpoint of the largest CIFAR network a fraction of a second. */
#define SIGNAL_LEAD_S 120
/* The merge job: one SQLite transaction, its page cache of a few MiB; minutes even for
 * thousands of shards. */
#define MERGE_MEM_MIB 1024L
#define MERGE_MINUTES 30L

typedef struct {
    int k;                    /* 1-based index in the file, the array task id */
    char label[192];
    char shard[PATH_MAX + 320];
    const char *state;        /* "merged", "finished in shard", "to run", ... */
    char detail[192];         /* shard progress and queue state, for --status */
    int todo;
    int shard_finished;
    char active_job[64];      /* the array job of its task when still queued or running */
    int cpus, gpus;
    long minutes;             /* 0 when o->time is given */
    long mem_mib;             /* 0 when o->mem is given */
} entry_plan;

static unsigned long long fnv1a(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The absolute path of path, which need not exist yet (its folder must). */
static int absolute(const char *path, char *out, size_t len)
{
    char dir[PATH_MAX], real[PATH_MAX];
    if (strlen(path) >= sizeof dir) return -1;
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash == dir) snprintf(dir, sizeof dir, "/");
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    if (!realpath(dir, real)) return -1;
    if ((size_t)snprintf(out, len, "%.*s%s%s", (int)(len / 2), real, strcmp(real, "/") ? "/" : "",
                         base) >= len)
        return -1;
    return 0;
}

static int mkdirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* 'text' for a POSIX shell: single quotes, each ' written as '\''. */
static void shell_quote(FILE *f, const char *text)
{
    fputc('\'', f);
    for (; *text; text++) {
        if (*text == '\'') fputs("'\\''", f);
        else fputc(*text, f);
    }
    fputc('\'', f);
}

/* Minutes and MiB for one entry's task (see the constants above). */
static void estimate(const rb_experiment *e, const rb_exp_entry *x, long *minutes, long *mem_mib)
{
    int layers = 200, input = 32;
    double arena = 1e9;
    rv_ctx *ctx = NULL;
    char msg[256];
    rv_ctx_options opt = rv_ctx_default_options();
    opt.n_threads = 1;
    rv_arch a;
    rv_backward_mode mode;
    if (rv_ctx_create(&ctx, &opt, msg, sizeof msg) == RV_OK &&
        rv_arch_parse(x->arch, &a, NULL, 0) == RV_OK &&
        rv_backward_mode_parse(x->mode, &mode, NULL, 0) == RV_OK) {
        rv_model *m = NULL;
        rv_model_options mo = { .n_classes = a.imagenet ? 1000 : 100, .batch = x->set.batch,
                                .seed = 1, .train_modes = 1u << mode, .plan_eval = 1,
                                .plan_only = 1 };
        if (rv_model_create(ctx, &a, &mo, &m) == RV_OK) {
            layers = rv_model_n_layers(m);
            input = rv_model_input_size(m);
            arena = (double)rv_mem_arena_bytes(rv_model_mem(m));
        }
        rv_model_destroy(m);
    }
    rv_ctx_destroy(ctx);
    double threads = x->set.threads > 0 ? x->set.threads : 2;
    double step_ms = STEP_MS_PER_LAYER_PER_100 * layers * (x->set.batch / 100.0) *
                     (input / 32.0) * (input / 32.0) * (2.0 / threads);
    double steps = (double)x->set.steps, images = x->set.batch;
    if (e->kind == RB_EXP_TRAIN) {
        long n_train = x->set.train_subset > 0 ? x->set.train_subset
                       : !strcmp(x->dataset, "fashion-mnist") ? FMNIST_TRAIN_IMAGES
                                                              : CIFAR_TRAIN_IMAGES;
        long n_test = x->set.test_subset > 0 ? x->set.test_subset : TEST_IMAGES;
        double n_evals = x->set.eval_every > 0 ? steps / x->set.eval_every + 1 : 21;
        steps += n_evals * ceil((double)n_test / x->set.batch) * EVAL_FRACTION_OF_STEP;
        if (x->set.angle_every > 0) steps += steps / x->set.angle_every * ANGLE_STEPS;
        images = (double)(n_train + n_test);
    }
    /* Both rounded up to a doubling ladder, so that entries of similar cost share one job
     * array (and one request) instead of one array each. */
    double min = steps * step_ms / 60000.0 * TIME_MARGIN;
    for (*minutes = MIN_TASK_MINUTES; *minutes < min; *minutes *= 2) {}
    double mib = ((arena + images * IMAGE_RECORD_BYTES) / 1048576.0 + PROCESS_MIB) * MEM_MARGIN;
    for (*mem_mib = MEM_STEP_MIB; *mem_mib < mib; *mem_mib *= 2) {}
}

typedef struct {
    char db_abs[PATH_MAX];
    char run_dir[PATH_MAX + 80];
    char jobs[PATH_MAX + 96];
} run_paths;

static int paths_of(const rb_experiment *e, const rb_slurm_opts *o, run_paths *p)
{
    if (absolute(o->db_path, p->db_abs, sizeof p->db_abs)) {
        rb_cli_error(CMD, "the folder of %s does not exist", o->db_path);
        return -1;
    }
    snprintf(p->run_dir, sizeof p->run_dir, "%s.slurm/%s", p->db_abs, e->name);
    snprintf(p->jobs, sizeof p->jobs, "%s/jobs.txt", p->run_dir);
    return 0;
}

/* A database opened read-only when it exists and is current, else NULL (nothing to read). */
static rb_db *open_if_there(const char *path)
{
    rb_db *db = NULL;
    char err[512];
    if (access(path, F_OK) != 0 || rb_db_open_readonly(&db, path, err, sizeof err)) return NULL;
    return db;
}

/* Fills plans[0..n-1]: shard, state, resources. with_queue: ask Slurm about submitted tasks. */
static int plan_entries(const rb_experiment *e, const rb_slurm_opts *o, const run_paths *p,
                        int with_queue, entry_plan *plans)
{
    rb_db *main_db = open_if_there(p->db_abs);
    if (!main_db && access(p->db_abs, F_OK) == 0) {
        char err[512];
        rb_db *probe = NULL;
        /* Exists but unreadable as it is: say why (an older schema is upgraded by a real run). */
        if (o->dry_run || rb_db_open(&probe, p->db_abs, err, sizeof err)) {
            rb_cli_error(CMD, "%s: cannot read it as a current results database", p->db_abs);
            return -1;
        }
        main_db = probe;
    }
    for (int i = 0; i < e->n_entries; i++) {
        const rb_exp_entry *x = &e->entries[i];
        entry_plan *pl = &plans[i];
        memset(pl, 0, sizeof *pl);
        pl->k = i + 1;
        rb_exp_identity id;
        if (rb_exp_entry_identity(e, x, &id)) {
            rb_cli_error(CMD, "%s %s: %s", x->arch, x->dataset, id.why);
            rb_db_close(main_db);
            return -1;
        }
        char *key = rb_db_config_key(&id.rc);
        if (!key) {
            rb_db_close(main_db);
            rb_cli_error(CMD, "out of memory");
            return -1;
        }
        snprintf(pl->label, sizeof pl->label, "%s-%s-%s-%s-s%llu-%016llx", x->arch, x->dataset,
                 x->mode, x->device, (unsigned long long)x->seed, fnv1a(key));
        free(key);
        snprintf(pl->shard, sizeof pl->shard, "%s/shards/%s/shard.db", p->run_dir, pl->label);
        pl->cpus = o->cpus_per_task > 0 ? (int)o->cpus_per_task : x->set.threads;
        pl->gpus = o->gpus_per_task >= 0 ? (int)o->gpus_per_task
                                         : !strcmp(x->device, rv_device_name(RV_DEVICE_CUDA));
        long minutes, mem;
        estimate(e, x, &minutes, &mem);
        pl->minutes = o->time ? 0 : minutes;
        pl->mem_mib = o->mem ? 0 : mem;

        int64_t run_id;
        char status[16] = "";
        if (main_db && rb_db_find_run(main_db, &id.rc, &run_id, status) == 1 &&
            !strcmp(status, "finished")) {
            pl->state = "finished (in the main database)";
            continue;
        }
        long step = 0;
        if (rb_db_peek_run(pl->shard, &id.rc, status, &step)) {
            pl->shard_finished = !strcmp(status, "finished");
            snprintf(pl->detail, sizeof pl->detail, "shard: %s at step %ld of %ld", status,
                     step, x->set.steps);
        } else {
            snprintf(pl->detail, sizeof pl->detail, "shard: not started");
        }
        if (pl->shard_finished) {
            pl->state = "finished in its shard, to merge";
            continue;
        }
        char job[64], qstate[96] = "";
        int task;
        if (with_queue && rb_slurm_find_task(p->jobs, pl->label, job, sizeof job, &task)) {
            rb_slurm_job_state(job, task, qstate, sizeof qstate);
            size_t at = strlen(pl->detail);
            snprintf(pl->detail + at, sizeof pl->detail - at, "; job %s_%d: %s", job, task,
                     qstate);
            if (rb_slurm_state_active(qstate)) {
                snprintf(pl->active_job, sizeof pl->active_job, "%s", job);
                pl->state = "queued or running";
                continue;
            }
        }
        pl->state = "to do";
        pl->todo = 1;
    }
    rb_db_close(main_db);
    return 0;
}

static void describe(char *buf, size_t len, const rb_exp_entry *x)
{
    snprintf(buf, len, "%s %s %s %s seed %llu, %ld steps", x->arch, x->dataset, x->mode,
             x->device, (unsigned long long)x->seed, x->set.steps);
}

int rb_slurm_status(const rb_experiment *e, const rb_slurm_opts *o)
{
    run_paths p;
    if (paths_of(e, o, &p)) return RB_EXIT_FAIL;
    entry_plan *plans = calloc((size_t)e->n_entries, sizeof *plans);
    if (!plans || plan_entries(e, o, &p, 1, plans)) {
        free(plans);
        return RB_EXIT_FAIL;
    }
    int n_main = 0, n_shard = 0, n_queued = 0, n_todo = 0;
    for (int i = 0; i < e->n_entries; i++) {
        n_main += plans[i].state[0] == 'f' && !plans[i].shard_finished;
        n_shard += plans[i].shard_finished;
        n_queued += plans[i].state[0] == 'q';
        n_todo += plans[i].todo;
    }
    printf("%s: %d entries: %d in the main database, %d finished in shards (to merge), "
           "%d queued or running, %d to do\nrun folder: %s\n",
           e->name, e->n_entries, n_main, n_shard, n_queued, n_todo, p.run_dir);
    for (int i = 0; i < e->n_entries; i++) {
        char d[256];
        describe(d, sizeof d, &e->entries[i]);
        printf("  %3d  %-56s %s%s%s\n", plans[i].k, d, plans[i].state,
               plans[i].detail[0] ? "; " : "", plans[i].detail);
    }
    char job[64], state[96];
    if (rb_slurm_find_merge(p.jobs, job, sizeof job)) {
        rb_slurm_job_state(job, -1, state, sizeof state);
        printf("merge job %s: %s\n", job, state);
    } else {
        printf("no merge job submitted yet\n");
    }
    free(plans);
    return RB_EXIT_OK;
}

/* One group of tasks with the same resource request: one job array. */
typedef struct {
    int cpus, gpus;
    long minutes, mem_mib;
    int n;
} task_group;

static void write_header(FILE *f, const rb_experiment *e, const rb_slurm_opts *o,
                         const char *run_dir, const char *name, int array, int cpus,
                         long mem_mib, long minutes)
{
    fprintf(f, "#!/bin/bash\n# Written by revbench run --slurm for experiment %s.\n", e->name);
    fprintf(f, "#SBATCH --job-name=%s\n", name);
    if (o->partition) fprintf(f, "#SBATCH --partition=%s\n", o->partition);
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", cpus);
    if (o->mem) fprintf(f, "#SBATCH --mem=%s\n", o->mem);
    else fprintf(f, "#SBATCH --mem=%ldM\n", mem_mib);
    if (o->time) fprintf(f, "#SBATCH --time=%s\n", o->time);
    else fprintf(f, "#SBATCH --time=%ld\n", minutes);
    /* %x the job name, %A_%a array job and task, %j a plain job's id. */
    fprintf(f, "#SBATCH --output=%s/logs/%s\n", run_dir, array ? "%x-%A_%a.out" : "%x-%j.out");
}

/* The array script of group g: the tasks of the entries in it, by array task id. */
static int write_array(FILE *f, const rb_experiment *e, const rb_slurm_opts *o,
                       const run_paths *p, const char *snapshot, const entry_plan *plans,
                       const task_group *g, const char *self)
{
    char name[128];
    snprintf(name, sizeof name, "revbench-%s", e->name);
    write_header(f, e, o, p->run_dir, name, 1, g->cpus, g->mem_mib, g->minutes);
    fprintf(f, "#SBATCH --array=");
    int first = 1;
    for (int i = 0; i < e->n_entries; i++) {
        const entry_plan *pl = &plans[i];
        if (!pl->todo || pl->cpus != g->cpus || pl->gpus != g->gpus ||
            pl->minutes != g->minutes || pl->mem_mib != g->mem_mib)
            continue;
        fprintf(f, "%s%d", first ? "" : ",", pl->k);
        first = 0;
    }
    fprintf(f, "\n");
    if (g->gpus > 0) fprintf(f, "#SBATCH --gpus-per-task=%d\n", g->gpus);
    fprintf(f, "#SBATCH --signal=B:TERM@%d\n#SBATCH --requeue\n#SBATCH --open-mode=append\n",
            SIGNAL_LEAD_S);
    fprintf(f, "#\n# Each task trains one entry into its own shard database. SIGTERM (from the\n"
               "# time limit, scancel or preemption) stops it at a step boundary with its\n"
               "# checkpoint saved; a requeue or a new submission resumes it from there.\n"
               "set -u\ncase \"$SLURM_ARRAY_TASK_ID\" in\n");
    for (int i = 0; i < e->n_entries; i++) {
        const entry_plan *pl = &plans[i];
        if (!pl->todo || pl->cpus != g->cpus || pl->gpus != g->gpus ||
            pl->minutes != g->minutes || pl->mem_mib != g->mem_mib)
            continue;
        fprintf(f, "  %d) shard=", pl->k);
        shell_quote(f, pl->label);
        fprintf(f, " ;;\n");
    }
    fprintf(f, "  *) echo \"revbench: no entry $SLURM_ARRAY_TASK_ID in this array\" >&2; "
               "exit 2 ;;\nesac\ndir=");
    shell_quote(f, p->run_dir);
    fprintf(f, "/shards/\"$shard\"\nmkdir -p \"$dir\"\nexec ");
    shell_quote(f, self);
    fprintf(f, " run ");
    shell_quote(f, snapshot);
    fprintf(f, " --entry \"$SLURM_ARRAY_TASK_ID\" --db \"$dir/shard.db\"");
    if (o->data_root) {
        fprintf(f, " --data ");
        shell_quote(f, o->data_root);
    }
    if (o->device) fprintf(f, " --device %s", o->device);
    fprintf(f, "\n");
    return ferror(f) ? -1 : 0;
}

static int write_merge(FILE *f, const rb_experiment *e, const rb_slurm_opts *o,
                       const run_paths *p, const char *self)
{
    char name[128];
    snprintf(name, sizeof name, "revbench-merge-%s", e->name);
    write_header(f, e, o, p->run_dir, name, 0, 1, MERGE_MEM_MIB, MERGE_MINUTES);
    fprintf(f, "#\n# Runs after every task of the arrays ended, whatever their outcome: merges\n"
               "# the finished runs of all shards (earlier submissions' too; merging is\n"
               "# idempotent) into the main database.\nset -u\nshopt -s nullglob\nshards=(");
    shell_quote(f, p->run_dir);
    fprintf(f, "/shards/*/shard.db)\nif [ ${#shards[@]} -eq 0 ]; then\n"
               "  echo \"revbench: no shard to merge\"\n  exit 0\nfi\nexec ");
    shell_quote(f, self);
    fprintf(f, " merge \"${shards[@]}\" --into ");
    shell_quote(f, p->db_abs);
    fprintf(f, "\n");
    return ferror(f) ? -1 : 0;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[8192];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = -1;
    if (in && ferror(in)) rc = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = -1;
    return rc;
}

int rb_slurm_submit(const char *file, const rb_experiment *e, const rb_slurm_opts *opts)
{
    /* Tasks start in the submission's folder, but a node may see it under another path:
     * hand them the data folder as an absolute path where it exists here. */
    rb_slurm_opts resolved = *opts;
    const rb_slurm_opts *o = &resolved;
    char data_abs[PATH_MAX];
    if (opts->data_root && realpath(opts->data_root, data_abs)) resolved.data_root = data_abs;
    run_paths p;
    if (paths_of(e, o, &p)) return RB_EXIT_FAIL;
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        rb_cli_error(CMD, "cannot find this program's path: %s", strerror(errno));
        return RB_EXIT_FAIL;
    }
    self[sl] = '\0';
    int n = e->n_entries, code = RB_EXIT_FAIL;
    entry_plan *plans = calloc((size_t)n, sizeof *plans);
    task_group *groups = calloc((size_t)n, sizeof *groups);
    if (!plans || !groups) {
        rb_cli_error(CMD, "out of memory");
        goto done;
    }
    if (plan_entries(e, o, &p, !o->dry_run, plans)) goto done;
    int n_groups = 0, n_todo = 0, n_merge = 0;
    for (int i = 0; i < n; i++) {
        n_merge += plans[i].shard_finished;
        if (!plans[i].todo) continue;
        n_todo++;
        int g = 0;
        while (g < n_groups &&
               (groups[g].cpus != plans[i].cpus || groups[g].gpus != plans[i].gpus ||
                groups[g].minutes != plans[i].minutes || groups[g].mem_mib != plans[i].mem_mib))
            g++;
        if (g == n_groups)
            groups[n_groups++] = (task_group){ plans[i].cpus, plans[i].gpus, plans[i].minutes,
                                               plans[i].mem_mib, 0 };
        groups[g].n++;
    }
    printf("%s: %d entries, %d to submit in %d job array%s, %d finished in shards to merge\n",
           e->name, n, n_todo, n_groups, n_groups == 1 ? "" : "s", n_merge);
    for (int i = 0; i < n; i++)
        if (!plans[i].todo) {
            char d[256];
            describe(d, sizeof d, &e->entries[i]);
            printf("  %3d  %-56s %s\n", plans[i].k, d, plans[i].state);
        }
    if (n_todo == 0 && n_merge == 0) {
        printf("nothing to submit\n");
        code = RB_EXIT_OK;
        goto done;
    }
    /* The next submission folder: submit-1, submit-2, ... */
    char sub[PATH_MAX + 112], snapshot[PATH_MAX + 144], script[PATH_MAX + 144];
    int k = 1;
    do snprintf(sub, sizeof sub, "%s/submit-%d", p.run_dir, k++);
    while (access(sub, F_OK) == 0);
    snprintf(snapshot, sizeof snapshot, "%s/experiment.ini", sub);
    if (o->dry_run) {
        for (int g = 0; g < n_groups; g++) {
            printf("\n--- %s/array-%d.sh\n", sub, g + 1);
            write_array(stdout, e, o, &p, snapshot, plans, &groups[g], self);
        }
        printf("\n--- %s/merge.sh (sbatch --dependency=afterany:<the arrays>)\n", sub);
        write_merge(stdout, e, o, &p, self);
        code = RB_EXIT_OK;
        goto done;
    }
    char logs[PATH_MAX + 96];
    snprintf(logs, sizeof logs, "%s/logs", p.run_dir);
    if (mkdirs(sub) || mkdirs(logs) || copy_file(file, snapshot)) {
        rb_cli_error(CMD, "cannot write the run folder %s: %s", sub, strerror(errno));
        goto done;
    }
    FILE *jobs = fopen(p.jobs, "a");
    if (!jobs) {
        rb_cli_error(CMD, "cannot write %s: %s", p.jobs, strerror(errno));
        goto done;
    }
    char deps[1024] = "", err[2048];
    for (int g = 0; g < n_groups; g++) {
        snprintf(script, sizeof script, "%s/array-%d.sh", sub, g + 1);
        FILE *f = fopen(script, "w");
        int bad = !f || write_array(f, e, o, &p, snapshot, plans, &groups[g], self);
        if (f && fclose(f) != 0) bad = 1;
        char job[64];
        if (bad) {
            rb_cli_error(CMD, "cannot write %s: %s", script, strerror(errno));
            fclose(jobs);
            goto done;
        }
        if (rb_slurm_sbatch(script, NULL, job, sizeof job, err, sizeof err)) {
            rb_cli_error(CMD, "%s", err);
            fclose(jobs);
            goto done;
        }
        for (int i = 0; i < n; i++)
            if (plans[i].todo && plans[i].cpus == groups[g].cpus &&
                plans[i].gpus == groups[g].gpus && plans[i].minutes == groups[g].minutes &&
                plans[i].mem_mib == groups[g].mem_mib)
                fprintf(jobs, "task %s %d %s\n", job, plans[i].k, plans[i].label);
        fflush(jobs);
        size_t at = strlen(deps);
        snprintf(deps + at, sizeof deps - at, "%s%s", at ? ":" : "", job);
        printf("submitted job array %s: %d task%s (%d CPU%s, %d GPU%s, %s, %s each)\n", job,
               groups[g].n, groups[g].n == 1 ? "" : "s", groups[g].cpus,
               groups[g].cpus == 1 ? "" : "s", groups[g].gpus, groups[g].gpus == 1 ? "" : "s",
               o->mem ? o->mem : "estimated memory", o->time ? o->time : "estimated time");
    }
    /* The merge also waits for tasks of earlier submissions that are still queued or running,
     * so that it sees their shards finished. */
    for (int i = 0; i < n; i++) {
        if (!plans[i].active_job[0]) continue;
        char with_colons[96];
        snprintf(with_colons, sizeof with_colons, ":%s:", plans[i].active_job);
        char all[1040];
        snprintf(all, sizeof all, ":%s:", deps);
        if (strstr(all, with_colons)) continue;
        size_t at = strlen(deps);
        snprintf(deps + at, sizeof deps - at, "%s%s", at ? ":" : "", plans[i].active_job);
    }
    snprintf(script, sizeof script, "%s/merge.sh", sub);
    FILE *f = fopen(script, "w");
    int bad = !f || write_merge(f, e, o, &p, self);
    if (f && fclose(f) != 0) bad = 1;
    char job[64];
    if (bad || rb_slurm_sbatch(script, deps, job, sizeof job, err, sizeof err)) {
        rb_cli_error(CMD, "%s", bad ? "cannot write the merge script" : err);
        fclose(jobs);
        goto done;
    }
    fprintf(jobs, "merge %s\n", job);
    fclose(jobs);
    printf("submitted merge job %s (after %s)\nscripts and logs: %s\n"
           "state: revbench run %s --db %s --slurm --status\n",
           job, deps[0] ? deps : "no job: it runs now", sub, file, o->db_path);
    code = RB_EXIT_OK;
done:
    free(plans);
    free(groups);
    return code;
}
