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
 * Every op a backend implements: X(P, NAME, CATEGORY) for the public op rv_NAME, whose time
 * profile.h reports under RV_PROFILE_<CATEGORY>. Its signature is written once, where the
 * public header declares rv_NAME; the table field, each backend's prototypes and its table
 * entries are generated from that declaration:
 *     RV_BACKEND_OPS(RV_OP_FIELD, )            the fields of struct rv_backend (below)
 *     RV_BACKEND_OPS(RV_OP_DECLARE, rv_cpu_)   rv_status rv_cpu_conv_forward(...); ...
 *     RV_BACKEND_OPS(RV_OP_ENTRY, rv_cpu_)     .conv_forward = rv_cpu_conv_forward, ...
 * and the compiler checks every backend's definition against the declaration; the per-op
 * timing of core/dispatch.h takes its op ids, names and categories from the same lists. To add
 * an op: declare rv_NAME in its public header, add X(P, NAME, CATEGORY) to the group below
 * that fits, write the public wrapper in lib/ops/ (checks, then RV_DISPATCH of
 * core/dispatch.h) and the op in every backend folder. To add a backend: a folder
 * lib/backends/NAME/ with one file per op, RV_BACKEND_OPS(RV_OP_DECLARE, PREFIX) in its header
 * and a table built with RV_OP_ENTRY.
 *
 * The groups say what an op sees of an activation, which is what a backend with its own
 * layout (act_channels below) must implement itself:
 */
/* Queries: they do no work on the device, so they are not timed (NOT_TIMED is no category
 * and never expanded). */
#define RV_BACKEND_QUERY_OPS(X, P) X(P, conv_workspace_bytes, NOT_TIMED)
/* The ops that read or write activations in the backend's layout: convolution, pooling and
 * reshaping, batch norm. */
#define RV_BACKEND_LAYOUT_OPS(X, P)                                                            \
    X(P, conv_forward, CONV_FWD) X(P, conv_backward_data, CONV_BWD_DATA)                        \
    X(P, conv_backward_filter, CONV_BWD_FILTER)                                                 \
    X(P, avgpool2_forward, OTHER) X(P, avgpool2_backward, OTHER) X(P, chpad_forward, OTHER)     \
    X(P, chpad_backward, OTHER) X(P, gap_forward, OTHER) X(P, gap_backward, OTHER)              \
    X(P, maxpool3s2_forward, OTHER) X(P, maxpool3s2_backward, OTHER)                            \
    X(P, bn_forward, BN) X(P, bn_backward, BN)
/* The ops that see a float count (elementwise) or plain tensors (classifier, loss,
 * optimizer), the same on any layout. */
#define RV_BACKEND_FLAT_OPS(X, P)                                                              \
    X(P, relu_forward, ELEMENTWISE) X(P, relu_backward, ELEMENTWISE) X(P, add, ELEMENTWISE)     \
    X(P, sub, ELEMENTWISE) X(P, axpy, ELEMENTWISE) X(P, copy, ELEMENTWISE)                      \
    X(P, fill, ELEMENTWISE) X(P, linear_forward, OTHER) X(P, linear_backward, OTHER)            \
    X(P, softmax_xent, OTHER) X(P, sgd_update, OTHER)
#define RV_BACKEND_OPS(X, P)                                                                   \
    RV_BACKEND_QUERY_OPS(X, P) RV_BACKEND_LAYOUT_OPS(X, P) RV_BACKEND_FLAT_OPS(X, P)

/* The fused passes: optional entries, apart from RV_BACKEND_OPS because a backend may leave
 * them NULL, and then the public op runs its parts (rv_bn_relu_forward: bn_forward then
 * relu_forward; rv_bn_relu_backward: relu_backward then bn_backward). */
#define RV_BACKEND_FUSED_OPS(X, P) X(P, bn_relu_forward, BN) X(P, bn_relu_backward, BN)

/* The type of the public op rv_NAME (the CUDA backend's files are C++). */
#ifdef __cplusplus
#define RV_OP_TYPE(name) decltype(rv_##name)
#else
#define RV_OP_TYPE(name) __typeof__(rv_##name)
#endif
#define RV_OP_FIELD(P, name, category) RV_OP_TYPE(name) *name;
#define RV_OP_DECLARE(P, name, category) RV_OP_TYPE(name) P##name;
#define RV_OP_ENTRY(P, name, category) .name = P##name,
/* An optional entry a table leaves out, named all the same for C++ (backend_cuda.cu). */
#define RV_OP_ABSENT(P, name, category) .name = NULL,

/* A table's lifetime entries, from functions named P##init, P##destroy, P##describe. */
#define RV_BACKEND_LIFETIME(P) .init = P##init, .destroy = P##destroy, .describe = P##describe,
/* Its memory entries, from functions named P##alloc, P##free, ... (the two CPU backends share
 * the host-memory ones of backend_cpu.h). */
#define RV_BACKEND_MEMORY(P)                                                                   \
    .alloc = P##alloc, .free = P##free, .upload = P##upload, .download = P##download,          \
    .sync = P##sync,

struct rv_backend {
    const char *name; /* RV_BACKEND_NAME_CPU_REF, _CPU_FAST or _CUDA (context.h) */

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
     * act_unpack convert between plain NCHW host memory and the backend's layout. The ops of
     * RV_BACKEND_LAYOUT_OPS and RV_BACKEND_FUSED_OPS read and write activations in this
     * layout; those of RV_BACKEND_FLAT_OPS see only a float count (rv_act_floats). */
    int (*act_channels)(void *state, int C);
    rv_status (*act_pack)(rv_ctx *ctx, float *dst, const float *src_nchw, int N, int C, int HW);
    rv_status (*act_unpack)(rv_ctx *ctx, float *dst_nchw, const float *src, int N, int C,
                            int HW);

    /* Fused ops. Optional (see RV_BACKEND_FUSED_OPS). */
    RV_BACKEND_FUSED_OPS(RV_OP_FIELD, )

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
