/*
 * cmd_train.c: `revbench train`, one training run from the command line (train.h does the
 * work). Exit status: 0 finished (or already finished with --resume), 1 failed or diverged,
 * 2 bad usage, 128 + signal number when SIGINT (130) or SIGTERM (143) stopped it after a
 * checkpoint, 1 when --stop-after stopped it.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "training/checkpoint.h"
#include "commands/cli.h"
#include "commands/commands.h"
#include "db/db.h"
#include "training/train.h"

static const char *const DEVICES[] = { "cpu", "cuda", NULL };

static void usage(FILE *out)
{
    fprintf(out,
        "usage: revbench train --arch A --dataset D [options]\n\n"
        "Trains one network with the paper's recipe (SGD momentum 0.9, weight decay 2e-4,\n"
        "lr / 10 at 50%% and / 100 at 75%% of the steps), logs to the results database and\n"
        "checkpoints as it goes. Ctrl-C stops after the current step with a checkpoint.\n\n"
        "  --arch A              resnet-32, revnet-38, resnet-110, revnet-110, resnet-164,\n"
        "                        revnet-164, or a family: resnet-basic-N, revnet-basic-N,\n"
        "                        resnet-bottleneck-N, revnet-bottleneck-N\n"
        "  --dataset D           cifar10, cifar100, fashion-mnist, synthetic\n"
        "  --device cpu|cuda     default cpu\n"
        "  --mode M              standard, reversible (RevNets), checkpoint (ResNets);\n"
        "                        default reversible for RevNets, standard for ResNets\n"
        "  --steps N             training steps (default 80000)\n"
        "  --batch B             batch size (default 100)\n"
        "  --seed S              weights, data order and augmentation (default 1)\n"
        "  --lr X                initial learning rate (default 0.1)\n"
        "  --eval-every K        test-set evaluation every K steps (default steps/20; 0 = end)\n"
        "  --checkpoint-every K  checkpoint every K steps (default 1000; 0 = end and stop)\n"
        "  --angle-every K       RevNets: gradient angle, stored vs reconstructed, every K\n"
        "                        steps (default 0 = off)\n"
        "  --train-subset N      use the first N training images (default all)\n"
        "  --test-subset N       evaluate on the first N test images (default all)\n"
        "  --threads T           CPU threads (default 2)\n"
        "  --data DIR            data folder (default $REVBENCH_DATA, then data/)\n"
        "  --db PATH             results database (default results/results.db)\n"
        "  --checkpoint-dir DIR  default: checkpoints/ beside the database\n"
        "  --resume              continue the newest unfinished run with this configuration;\n"
        "                        a finished one is reported, not rerun\n"
        "  --stop-after N        stop (with a checkpoint) after N steps in this process\n"
        "  --quiet               no progress display on stderr\n"
        "  --json                print one JSON object with the result on stdout\n"
        "  --help                this message\n");
}

enum {
    OPT_ARCH = 256, OPT_DATASET, OPT_DEVICE, OPT_MODE, OPT_STEPS, OPT_BATCH, OPT_SEED, OPT_LR,
    OPT_EVAL, OPT_CKPT, OPT_ANGLE, OPT_TRAIN_SUB, OPT_TEST_SUB, OPT_THREADS, OPT_DATA, OPT_DB,
    OPT_CKPT_DIR, OPT_RESUME, OPT_STOP, OPT_QUIET, OPT_JSON, OPT_HELP
};

static const struct option OPTIONS[] = {
    { "arch", required_argument, NULL, OPT_ARCH },
    { "dataset", required_argument, NULL, OPT_DATASET },
    { "device", required_argument, NULL, OPT_DEVICE },
    { "mode", required_argument, NULL, OPT_MODE },
    { "steps", required_argument, NULL, OPT_STEPS },
    { "batch", required_argument, NULL, OPT_BATCH },
    { "seed", required_argument, NULL, OPT_SEED },
    { "lr", required_argument, NULL, OPT_LR },
    { "eval-every", required_argument, NULL, OPT_EVAL },
    { "checkpoint-every", required_argument, NULL, OPT_CKPT },
    { "angle-every", required_argument, NULL, OPT_ANGLE },
    { "train-subset", required_argument, NULL, OPT_TRAIN_SUB },
    { "test-subset", required_argument, NULL, OPT_TEST_SUB },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "data", required_argument, NULL, OPT_DATA },
    { "db", required_argument, NULL, OPT_DB },
    { "checkpoint-dir", required_argument, NULL, OPT_CKPT_DIR },
    { "resume", no_argument, NULL, OPT_RESUME },
    { "stop-after", required_argument, NULL, OPT_STOP },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "json", no_argument, NULL, OPT_JSON },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

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
    cfg.progress = 1;
    const char *db_path = "results/results.db";
    int json = 0;
    long v;
    double d;

    /* 0 makes glibc's getopt start afresh, so the command can run more than once a process. */
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", OPTIONS, NULL)) != -1) {
        const char *flag = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        switch (c) {
        case OPT_ARCH: cfg.arch = optarg; break;
        case OPT_DATASET: cfg.dataset = optarg; break;
        case OPT_DEVICE:
            if (rb_cli_parse_choice("train", "device", optarg, DEVICES) < 0) return RB_EXIT_USAGE;
            cfg.device = optarg;
            break;
        case OPT_MODE: cfg.mode = optarg; break;
        case OPT_STEPS:
            if (rb_cli_parse_long("train", "--steps", optarg, 1, LONG_MAX / 4, &cfg.steps))
                return RB_EXIT_USAGE;
            break;
        case OPT_BATCH:
            if (rb_cli_parse_long("train", "--batch", optarg, 1, 1 << 20, &v)) return RB_EXIT_USAGE;
            cfg.batch = (int)v;
            break;
        case OPT_SEED:
            if (rb_cli_parse_long("train", "--seed", optarg, 0, LONG_MAX, &v)) return RB_EXIT_USAGE;
            cfg.seed = (uint64_t)v;
            break;
        case OPT_LR:
            if (rb_cli_parse_double("train", "--lr", optarg, 1e-12, 1e12, &d)) return RB_EXIT_USAGE;
            cfg.lr = d;
            break;
        case OPT_EVAL:
            if (rb_cli_parse_long("train", "--eval-every", optarg, 0, LONG_MAX, &cfg.eval_every))
                return RB_EXIT_USAGE;
            break;
        case OPT_CKPT:
            if (rb_cli_parse_long("train", "--checkpoint-every", optarg, 0, LONG_MAX,
                                  &cfg.checkpoint_every))
                return RB_EXIT_USAGE;
            break;
        case OPT_ANGLE:
            if (rb_cli_parse_long("train", "--angle-every", optarg, 0, LONG_MAX, &cfg.angle_every))
                return RB_EXIT_USAGE;
            break;
        case OPT_TRAIN_SUB:
            if (rb_cli_parse_long("train", "--train-subset", optarg, 0, INT_MAX, &cfg.train_subset))
                return RB_EXIT_USAGE;
            break;
        case OPT_TEST_SUB:
            if (rb_cli_parse_long("train", "--test-subset", optarg, 0, INT_MAX, &cfg.test_subset))
                return RB_EXIT_USAGE;
            break;
        case OPT_THREADS:
            if (rb_cli_parse_long("train", "--threads", optarg, 1, 1024, &v)) return RB_EXIT_USAGE;
            cfg.threads = (int)v;
            break;
        case OPT_DATA: cfg.data_root = optarg; break;
        case OPT_DB: db_path = optarg; break;
        case OPT_CKPT_DIR: cfg.checkpoint_dir = optarg; break;
        case OPT_RESUME: cfg.resume = 1; break;
        case OPT_STOP:
            if (rb_cli_parse_long("train", "--stop-after", optarg, 1, LONG_MAX, &cfg.stop_after))
                return RB_EXIT_USAGE;
            break;
        case OPT_QUIET: cfg.progress = 0; break;
        case OPT_JSON: json = 1; break;
        case OPT_HELP: usage(stdout); return RB_EXIT_OK;
        default: return rb_cli_bad_option("train", c, flag, OPTIONS);
        }
    }
    if (optind < argc) {
        rb_cli_error("train", "unexpected argument '%s' (see revbench train --help)",
                     argv[optind]);
        return RB_EXIT_USAGE;
    }
    if (!cfg.arch || !cfg.dataset) {
        rb_cli_error("train", "--arch and --dataset are required (see revbench train --help)");
        return RB_EXIT_USAGE;
    }

    /* Usage errors first, before any folder or database file is created. */
    int code = rb_train_check_config(&cfg);
    if (code != RB_EXIT_OK) return code;

    /* results/ (or wherever --db points) and the checkpoints beside it. */
    char db_dir[PATH_MAX], ckpt_dir[PATH_MAX + 16];
    dirname_of(db_path, db_dir, sizeof db_dir);
    char msg[512] = "";
    rv_ctx *mctx = NULL;
    rv_ctx_options copt = rv_ctx_default_options();
    if (rv_ctx_create(&mctx, &copt, msg, sizeof msg) != RV_OK) {
        rb_cli_error("train", "%s", msg);
        return RB_EXIT_FAIL;
    }
    rv_status st = rb_checkpoint_mkdirs(mctx, db_dir);
    if (st != RV_OK) rb_cli_error("train", "%s", rv_ctx_message(mctx));
    rv_ctx_destroy(mctx);
    if (st != RV_OK) return RB_EXIT_FAIL;
    if (cfg.checkpoint_dir == NULL || strcmp(cfg.checkpoint_dir, "results/checkpoints") == 0) {
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
    if (code == RB_EXIT_USAGE) return code;

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
