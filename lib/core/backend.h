/*
 * backend.h: the table of function pointers that a backend (CPU, CUDA) fills in.
 *
 * Layer and model code never calls these directly: it calls the public ops (rv_conv_forward,
 * rv_bn_forward, ...), which check arguments, honour the context's dry-run flag and then
 * dispatch through ctx's table. Every pointer is in the backend's memory. Each entry has the
 * contract of the public op of the same name (see conv.h, batchnorm.h, ...). The reference
 * CPU backend (lib/backends/cpu_ref/) is the one every other backend is tested against.
 */
#ifndef RV_BACKEND_H
#define RV_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <revnet/activation.h>
#include <revnet/batchnorm.h>
#include <revnet/context.h>
#include <revnet/conv.h>
#include <revnet/linear.h>
#include <revnet/loss.h>
#include <revnet/pool.h>
#include <revnet/sgd.h>

/*
 * Every op a backend implements, in table order: X(P, NAME) for the public op rv_NAME. Its
 * signature is written once, where the public header declares rv_NAME; the table field, each
 * backend's prototypes and its table entries are generated from that declaration:
 *     RV_BACKEND_OPS(RV_OP_FIELD, )            the fields of struct rv_backend (below)
 *     RV_BACKEND_OPS(RV_OP_DECLARE, rv_cpu_)   rv_status rv_cpu_conv_forward(...); ...
 *     RV_BACKEND_OPS(RV_OP_ENTRY, rv_cpu_)     .conv_forward = rv_cpu_conv_forward, ...
 * and the compiler checks every backend's definition against the declaration. To add an op:
 * declare rv_NAME in its public header, add X(P, NAME) here, write the public wrapper in
 * lib/ops/ (checks, then RV_DISPATCH of core/dispatch.h, with a line in its RV_PROFILE_OPS)
 * and the op in every backend folder. To add a backend:
 * a folder lib/backends/NAME/ with one file per op, RV_BACKEND_OPS(RV_OP_DECLARE, PREFIX) in
 * its header and a table built with RV_OP_ENTRY.
 */
#define RV_BACKEND_OPS(X, P)                                                                   \
    /* Convolution. */                                                                          \
    X(P, conv_workspace_bytes) X(P, conv_forward) X(P, conv_backward_data)                      \
    X(P, conv_backward_filter)                                                                  \
    /* Batch norm. */                                                                           \
    X(P, bn_forward) X(P, bn_backward)                                                          \
    /* Elementwise. */                                                                          \
    X(P, relu_forward) X(P, relu_backward) X(P, add) X(P, sub) X(P, axpy) X(P, copy) X(P, fill) \
    /* Pooling and reshaping. */                                                                \
    X(P, avgpool2_forward) X(P, avgpool2_backward) X(P, chpad_forward) X(P, chpad_backward)     \
    X(P, gap_forward) X(P, gap_backward) X(P, maxpool3s2_forward) X(P, maxpool3s2_backward)     \
    /* Classifier, loss, optimizer. */                                                          \
    X(P, linear_forward) X(P, linear_backward) X(P, softmax_xent) X(P, sgd_update)

/* The type of the public op rv_NAME (the CUDA backend's files are C++). */
#ifdef __cplusplus
#define RV_OP_TYPE(name) decltype(rv_##name)
#else
#define RV_OP_TYPE(name) __typeof__(rv_##name)
#endif
#define RV_OP_FIELD(P, name) RV_OP_TYPE(name) *name;
#define RV_OP_DECLARE(P, name) RV_OP_TYPE(name) P##name;
#define RV_OP_ENTRY(P, name) .name = P##name,

/* A table's lifetime and memory entries, from functions named P##init, P##destroy, ... */
#define RV_BACKEND_LIFETIME(P)                                                                 \
    .init = P##init, .destroy = P##destroy, .describe = P##describe, .alloc = P##alloc,        \
    .free = P##free, .upload = P##upload, .download = P##download, .sync = P##sync,

struct rv_backend {
    const char *name; /* "cpu", "cpu-fast" or "cuda" */

    /* Lifetime: init creates the backend state kept on the context. */
    rv_status (*init)(rv_ctx *ctx, const rv_ctx_options *opt, void **state);
    void (*destroy)(void *state);
    const char *(*describe)(void *state);

    /* Memory. */
    rv_status (*alloc)(rv_ctx *ctx, void **out, size_t bytes);
    void (*free)(rv_ctx *ctx, void *p);
    rv_status (*upload)(rv_ctx *ctx, void *dst, const void *src_host, size_t bytes);
    rv_status (*download)(rv_ctx *ctx, void *dst_host, const void *src, size_t bytes);
    rv_status (*sync)(rv_ctx *ctx);
    /* Optional (NULL on the CPU backend): device memory in use by every process and the
     * device's total, as the driver reports them (cudaMemGetInfo: total - free). */
    rv_status (*device_memory)(rv_ctx *ctx, size_t *used_bytes, size_t *total_bytes);

    /* Activation layout. Optional: NULL means plain NCHW, as on the reference and CUDA
     * backends. act_channels gives the channels an activation of C channels occupies (C
     * rounded up to the channel block; the padding channels always hold zeros), act_pack and
     * act_unpack convert between plain NCHW host memory and the backend's layout. Every op that
     * takes an activation (conv, batch norm, pooling, channel padding) reads and writes it in
     * this layout; elementwise ops see only a float count (rv_act_floats). */
    int (*act_channels)(void *state, int C);
    rv_status (*act_pack)(rv_ctx *ctx, float *dst, const float *src_nchw, int N, int C, int HW);
    rv_status (*act_unpack)(rv_ctx *ctx, float *dst_nchw, const float *src, int N, int C,
                            int HW);

    /* Fused ops. Optional: where NULL, the public op runs its parts (rv_bn_relu_forward:
     * bn_forward then relu_forward; rv_bn_relu_backward: relu_backward then bn_backward). */
    RV_OP_TYPE(bn_relu_forward) *bn_relu_forward;
    RV_OP_TYPE(bn_relu_backward) *bn_relu_backward;

    /* The ops, one field each: rv_NAME's type (see RV_BACKEND_OPS). */
    RV_BACKEND_OPS(RV_OP_FIELD, )
};

/* The CPU reference backend (always built). */
const rv_backend *rv_backend_cpu(void);
/* The fast CPU backend (oneDNN; always built). */
const rv_backend *rv_backend_cpu_fast(void);
/* The CUDA backend, or NULL when this build has no CUDA support. */
const rv_backend *rv_backend_cuda(void);

#endif
