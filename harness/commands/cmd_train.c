/*
 * cmd_train.c: `revbench train`, one training run from the command line (train.h does the
 * work). Exit status: 0 finished (or already finished with --resume), 1 failed or diverged,
 * 2 bad usage, 128 + signal number when SIGINT (130) or SIGTERM (143) stopped it after a
 * checkpoint, 1 when --stop-after stopped it.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "commands/model_cli.h"
#include "commands/options.h"
#include "common/exit_status.h"
#include "common/json.h"
#include "common/mkdirs.h"
#include "db/db.h"
#include "training/recipe.h"
#include "training/train.h"

static void usage(FILE *out)
{
    fprintf(out,
        "usage: revbench train --arch A --dataset D [options]\n\n"
        "Trains one network with the paper's recipe (SGD momentum %g, weight decay %g,\n"
        "lr / 10 at 50%% and / 100 at 75%% of the steps), logs to the results database and\n"
        "checkpoints as it goes. Ctrl-C stops after the current step with a checkpoint.\n\n",
        RB_RECIPE_MOMENTUM, RB_RECIPE_WEIGHT_DECAY);
    rb_help_option(out, "  --arch A              ", rb_arch_help());
    char datasets[160];
    snprintf(datasets, sizeof datasets, "%s, synthetic", rb_dataset_help());
    rb_help_option(out, "  --dataset D           ", datasets);
    fprintf(out,
        "  --device cpu|cuda     default cpu\n"
        "  --mode M              standard, reversible (RevNets), checkpoint (ResNets);\n"
        "                        default reversible for RevNets, standard for ResNets\n"
        "  --steps N             training steps (default %d)\n"
        "  --batch B             batch size (default %d)\n"
        "  --seed S              weights, data order and augmentation (default 1)\n"
        "  --lr X                initial learning rate (default %g)\n"
        "  --eval-every K        test-set evaluation every K steps (default steps/20; 0 = end)\n"
        "  --checkpoint-every K  checkpoint every K steps (default 1000; 0 = end and stop)\n"
        "  --angle-every K       RevNets: gradient angle, stored vs reconstructed, every K\n"
        "                        steps (default 0 = off)\n"
        "  --train-subset N      use the first N training images (default all)\n"
        "  --test-subset N       evaluate on the first N test images (default all)\n"
        "  --threads T           CPU threads (default 2)\n"
        "  --loader L            thread (default): the next batch is filled on a loader\n"
        "                        thread during the current step; inline: on the training\n"
        "                        thread between steps. The batches are the same either way\n"
        "  --backend fast|ref    CPU backend (default fast: oneDNN, blocked layout; ref: the\n"
        "                        im2col + OpenBLAS reference)\n"
        "  --data DIR            data folder (default $REVBENCH_DATA, then data/)\n"
        "  --db PATH             results database (default results/results.db)\n"
        "  --checkpoint-dir DIR  default: checkpoints/ beside the database\n"
        "  --resume              continue the newest unfinished run with this configuration;\n"
        "                        a finished one is reported, not rerun\n"
        "  --stop-after N        stop (with a checkpoint) after N steps in this process\n"
        "  --quiet               no progress display on stderr\n"
        "  --json                print one JSON object with the result on stdout\n"
        "  --help                this message\n",
        RB_RECIPE_STEPS, RB_RECIPE_BATCH, RB_RECIPE_LR);
}

/* The folder part of path ("." when there is none). */
static void dirname_of(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, len, ".");
    else if (slash == path) snprintf(out, len, "/");
    else snprintf(out, len, "%.*s", (int)(slash - path), path);
}

int rb_cmd_train(int argc, char **argv)
{
    rb_train_config cfg;
    rb_train_config_defaults(&cfg);
    /* NULL until --checkpoint-dir is given: any folder given, results/checkpoints included,
     * is kept; without one, checkpoints go beside the database. */
    cfg.checkpoint_dir = NULL;
    const char *db_path = "results/results.db";
    static const char *const LOADERS[] = { "thread", "inline", NULL };
    int json = 0, dev = RV_DEVICE_CPU, quiet = 0, loader = 0;
    long batch = cfg.batch, seed = (long)cfg.seed, threads = cfg.threads;
    int cpu_backend = -1;
    const rb_opt opts[] = {
        RB_TEXT("arch", &cfg.arch),
        RB_TEXT("dataset", &cfg.dataset),
        RB_CHOICE("device", &dev, rv_device_names(), "device"),
        RB_TEXT("mode", &cfg.mode),
        RB_LONG("steps", &cfg.steps, 1, LONG_MAX / 4),
        RB_LONG("batch", &batch, 1, 1 << 20),
        RB_LONG("seed", &seed, 0, LONG_MAX),
        RB_DOUBLE("lr", &cfg.lr, 1e-12, 1e12),
        RB_LONG("eval-every", &cfg.eval_every, 0, LONG_MAX),
        RB_LONG("checkpoint-every", &cfg.checkpoint_every, 0, LONG_MAX),
        RB_LONG("angle-every", &cfg.angle_every, 0, LONG_MAX),
        RB_LONG("train-subset", &cfg.train_subset, 0, INT_MAX),
        RB_LONG("test-subset", &cfg.test_subset, 0, INT_MAX),
        RB_LONG("threads", &threads, 1, 1024),
        RB_CHOICE("loader", &loader, LOADERS, "loader"),
        RB_TEXT("data", &cfg.data_root),
        RB_TEXT("db", &db_path),
        RB_TEXT("checkpoint-dir", &cfg.checkpoint_dir),
        RB_FLAG("resume", &cfg.resume),
        RB_LONG("stop-after", &cfg.stop_after, 1, LONG_MAX),
        RB_FLAG("quiet", &quiet),
        RB_FLAG("json", &json),
        RB_CHOICE("backend", &cpu_backend, rv_cpu_backend_names(), "backend"),
        RB_OPTS_END,
    };
    int code = rb_opts_parse("train", usage, argc, argv, opts, NULL, 0, NULL);
    if (code != RB_OPTS_GO) return code;
    rb_cli_set_backend(cpu_backend);
    cfg.device = rv_device_name((rv_device)dev);
    cfg.batch = (int)batch;
    cfg.seed = (uint64_t)seed;
    cfg.threads = (int)threads;
    cfg.progress = !quiet;
    cfg.sequential_loader = loader == 1;
    if (!cfg.arch || !cfg.dataset) {
        rb_cli_error("train", "--arch and --dataset are required (see revbench train --help)");
        return RB_EXIT_USAGE;
    }

    /* Usage errors first, before any folder or database file is created. */
    char why[512];
    code = rb_train_check_config(&cfg, why, sizeof why);
    if (code != RB_EXIT_OK) {
        rb_cli_error("train", "%s", why);
        return code;
    }

    /* results/ (or wherever --db points) and the checkpoints beside it. */
    char db_dir[PATH_MAX], ckpt_dir[PATH_MAX + 16];
    dirname_of(db_path, db_dir, sizeof db_dir);
    char msg[512] = "";
    if (rb_mkdirs(db_dir, msg, sizeof msg) != RV_OK) {
        rb_cli_error("train", "%s", msg);
        return RB_EXIT_FAIL;
    }
    if (cfg.checkpoint_dir == NULL) {
        snprintf(ckpt_dir, sizeof ckpt_dir, "%s/checkpoints", db_dir);
        cfg.checkpoint_dir = ckpt_dir;
    }

    rb_db *db = NULL;
    if (rb_db_open(&db, db_path, msg, sizeof msg) != 0) {
        rb_cli_error("train", "cannot open %s: %s", db_path, msg);
        return RB_EXIT_FAIL;
    }
    rb_train_result res;
    code = rb_train_run(&cfg, db, &res);
    rb_db_close(db);
    if (code == RB_EXIT_USAGE) {
        rb_cli_error("train", "%s", res.reason);
        return code;
    }

    if (strcmp(res.status, "interrupted") == 0 && rb_train_last_signal() != 0)
        code = 128 + rb_train_last_signal();
    if (code != RB_EXIT_OK && res.run_id >= 0)
        rb_cli_error("train", "run %lld %s: %s", (long long)res.run_id, res.status, res.reason);
    else if (code != RB_EXIT_OK)
        rb_cli_error("train", "%s", res.reason);
    else if (res.reason[0])
        fprintf(stderr, "revbench train: %s\n", res.reason);

    if (json) {
        rb_json j;
        rb_json_begin(&j, stdout);
        rb_json_int(&j, "run_id", res.run_id);
        rb_json_str(&j, "status", res.status);
        rb_json_str(&j, "arch", cfg.arch);
        rb_json_str(&j, "dataset", cfg.dataset);
        rb_json_int(&j, "steps", res.steps_done);
        rb_json_num(&j, "final_test_error", res.final_test_error);
        rb_json_num(&j, "final_test_loss", res.final_test_loss);
        rb_json_num(&j, "final_train_loss", res.final_train_loss);
        rb_json_num(&j, "final_train_error", res.final_train_error);
        rb_json_num(&j, "images_per_sec", res.images_per_sec);
        rb_json_str(&j, "reason", res.reason);
        rb_json_str(&j, "db", db_path);
        rb_json_end(&j);
    } else if (code == RB_EXIT_OK) {
        printf("run %lld %s: %ld steps, test error %.2f%%, test loss %.4f, train loss %.4f, "
               "%.0f images/s\n",
               (long long)res.run_id, res.status, res.steps_done, res.final_test_error,
               res.final_test_loss, res.final_train_loss, res.images_per_sec);
    }
    return code;
}
