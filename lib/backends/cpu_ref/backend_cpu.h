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

#endif
