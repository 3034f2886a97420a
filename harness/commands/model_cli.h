/*
 * model_cli.h: what the commands that build a network share (info, mem, angle, bench):
 * architecture and mode parsing with clear errors, context creation, random batches.
 */
#ifndef RB_MODEL_CLI_H
#define RB_MODEL_CLI_H

#include <stdint.h>
#include <revnet/context.h>
#include <revnet/model.h>

/* The CPU backends --backend names (NULL-terminated), in rv_cpu_backend order. */
extern const char *const RB_CPU_BACKENDS[];
/* Applies --backend (index into RB_CPU_BACKENDS; -1 = not given: leave the default, fast):
 * every context this process creates afterwards, and every command it starts (run's `mem`
 * children), gets that CPU backend. It travels in the environment (REVBENCH_BACKEND, which
 * rv_ctx_default_options reads) so that it reaches the contexts made deep in the training and
 * report code as well. Every command that builds a network takes --backend. */
void rb_cli_set_backend(int index);
#define RB_BACKEND_HELP "  --backend B   CPU backend: fast (default; oneDNN, blocked layout) or ref\n"
/* Creates a context or prints why not (RB_EXIT_FAIL is the caller's exit status then). */
rv_ctx *rb_cli_make_ctx(const char *cmd, rv_device device, int threads);
/* Parses an architecture name; prints the valid names and returns -1 if unknown. Needs no
 * device, so a typo is a usage error even where the GPU is missing. */
int rb_cli_parse_arch(const char *cmd, const char *text, rv_arch *out);
/* Parses a backward mode (NULL: the architecture's default, reversible for RevNets and
 * standard for ResNets) and checks the architecture supports it; -1 after an error. */
int rb_cli_parse_mode(const char *cmd, const char *text, const rv_arch *arch,
                      rv_backward_mode *out);
/* A batch of N(0,1) pixels and uniform labels from seed (host memory; caller frees). */
int rb_cli_random_batch(int batch, int size, int classes, uint64_t seed, float **x, int32_t **y);

#endif
