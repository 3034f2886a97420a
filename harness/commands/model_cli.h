/*
 * model_cli.h: what the commands that build a network share (info, mem, angle, bench):
 * their common options, architecture and mode parsing with clear errors, context creation,
 * random batches.
 */
#ifndef RB_MODEL_CLI_H
#define RB_MODEL_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <revnet/context.h>
#include <revnet/model.h>

#include "commands/options.h"

/* Applies --backend (an rv_cpu_backend, the index of its word in rv_cpu_backend_names(); -1 =
 * not given: leave the default, fast): every context this process creates afterwards, and every
 * command it starts (run's `mem` children), gets that CPU backend. It travels in the environment
 * (REVBENCH_BACKEND, which rv_ctx_default_options reads) so that it reaches the contexts made
 * deep in the training and report code as well. Every command that builds a network takes
 * --backend. */
void rb_cli_set_backend(int index);
#define RB_BACKEND_HELP "  --backend B   CPU backend: fast (default; oneDNN, blocked layout) or ref\n"
/* Creates a context or prints why not (RB_EXIT_FAIL is the caller's exit status then). */
rv_ctx *rb_cli_make_ctx(const char *cmd, rv_device device, int threads);

/* Parses an architecture name; prints the valid names and returns -1 if unknown. Needs no
 * device, so a typo is a usage error even where the GPU is missing. */
int rb_cli_parse_arch(const char *cmd, const char *text, rv_arch *out);
/* For --help: the architectures the library knows ("resnet-32, revnet-38, ..., or a family:
 * ..."), and its datasets ("cifar10, cifar100, fashion-mnist"), read from its tables so that
 * no help text keeps a list of its own. Static strings, built on first use. */
const char *rb_arch_help(void);
const char *rb_dataset_help(void);
/* Prints one option of a --help text: `lead` (the flag, padded to the text's column), then
 * text word-wrapped at 80 columns, continuation lines indented to that column. */
void rb_help_option(FILE *out, const char *lead, const char *text);
/* Parses a backward mode (NULL: the architecture's default, reversible for RevNets and
 * standard for ResNets) and checks the architecture supports it; -1 after an error. */
int rb_cli_parse_mode(const char *cmd, const char *text, const rv_arch *arch,
                      rv_backward_mode *out);

/* The options the network commands share. Each command lists the ones it takes in its own
 * table (the order --help and the unknown-option message show), pointing into one of these,
 * and ends the table with RB_MODEL_OPTS_END; rb_model_args_parse fills the results. */
typedef struct {
    const char *arch_name;    /* --arch (required) */
    const char *mode_name;    /* --mode; NULL: the architecture's default */
    int device;               /* --device: an rv_device */
    long threads, batch, seed;
    int json;                 /* --json: one JSON object on stdout instead of text */
    int cpu_backend;          /* --backend: an rv_cpu_backend; -1 = not given */
    rv_arch arch;             /* results: the parsed architecture */
    rv_backward_mode mode;    /* and backward mode */
} rb_model_args;

/* The defaults, where a command does not set its own. */
#define RB_MODEL_ARGS_DEFAULT                                                                  \
    { .device = RV_DEVICE_CPU, .threads = 2, .batch = 100, .seed = 1, .cpu_backend = -1 }

/* The last rows of every network command's table: --json, --backend, the end. */
#define RB_MODEL_OPTS_END(a)                                                                   \
    RB_FLAG("json", &(a)->json),                                                               \
    RB_CHOICE("backend", &(a)->cpu_backend, rv_cpu_backend_names(), "backend"), RB_OPTS_END

/*
 * Parses a network command's arguments against opts (rows pointing into *a), applies
 * --backend (rb_cli_set_backend), then parses --arch into a->arch and --mode into a->mode, so
 * that a misspelled name is a usage error before any device is touched. Returns RB_OPTS_GO,
 * or the exit status to return now: rb_opts_parse's, or RB_EXIT_USAGE after a message.
 */
int rb_model_args_parse(const char *cmd, void (*usage)(FILE *out), int argc, char **argv,
                        const rb_opt *opts, rb_model_args *a);

/* What a network command holds while it runs; each command makes its model and host batch in
 * its own order (mem measures the device before the model exists), and one call frees all. */
typedef struct {
    rv_ctx *ctx;
    rv_model *model;
    float *x;                 /* host batch (rb_cli_random_batch), or NULL */
    int32_t *y;
} rb_model_session;

/* Creates the context (rb_cli_make_ctx: prints why not) and empties the rest. Returns 0, or
 * -1 with nothing to free. */
int rb_model_session_open(rb_model_session *s, const char *cmd, rv_device device, int threads);
/* Frees the batch, the model and the context. */
void rb_model_session_close(rb_model_session *s);

/* A batch of N(0,1) pixels and uniform labels from seed (host memory; caller frees). On
 * failure (-1) *x and *y are NULL. */
int rb_cli_random_batch(int batch, int size, int classes, uint64_t seed, float **x, int32_t **y);

#endif
