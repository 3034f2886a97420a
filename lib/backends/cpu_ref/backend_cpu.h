/*
 * backend_cpu.h (internal): the reference CPU backend's ops, one file per op in this folder
 * (conv.c, batchnorm.c, elementwise.c, pool.c, linear.c, loss.c, sgd.c), gathered into a table
 * by backend_cpu.c. Each has the contract of the public op of the same name; arguments are
 * already validated by the public wrappers in lib/ops/.
 */
#ifndef RV_BACKEND_CPU_H
#define RV_BACKEND_CPU_H

#include "core/backend.h"

/* rv_cpu_conv_forward, rv_cpu_bn_forward, ...: the signatures of the public ops. */
RV_BACKEND_OPS(RV_OP_DECLARE, rv_cpu_)

/* What both CPU backends share, the fast one taking it from here. */

/* One channel's normalization in a batch-norm forward (batchnorm.c), into *mean_f and
 * *invstd_f: from the running averages in EVAL; otherwise from the batch's mean and biased
 * variance, which are saved for the backward (save_mean, save_invstd) and, in TRAIN, folded
 * into the running averages. mean and var are not read in EVAL. */
void rv_cpu_bn_channel(rv_bn_mode mode, int c, double mean, double var, float *save_mean,
                       float *save_invstd, float *run_mean, float *run_var, float *mean_f,
                       float *invstd_f);

/* Their memory entries (RV_BACKEND_MEMORY(rv_cpu_), backend_cpu.c): backend memory is host memory, 64-byte
 * aligned; both copies are memcpy; sync has nothing to wait for. */
rv_status rv_cpu_alloc(rv_ctx *ctx, void **out, size_t bytes);
void rv_cpu_free(rv_ctx *ctx, void *p);
rv_status rv_cpu_upload(rv_ctx *ctx, void *dst, const void *src, size_t bytes);
rv_status rv_cpu_download(rv_ctx *ctx, void *dst, const void *src, size_t bytes);
rv_status rv_cpu_sync(rv_ctx *ctx);

/* Their threading, set up at init: OpenMP loops with opt->n_threads threads (0: OpenMP's
 * default), each calling a single-threaded OpenBLAS. Returns the thread count. */
int rv_cpu_threads_init(const rv_ctx_options *opt);

/* OpenBLAS's description of itself, an extension that recent cblas.h versions declare;
 * declared here so that the backends also build against headers that lack it. */
extern char *openblas_get_config(void);

#endif
