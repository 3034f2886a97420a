/*
 * cuda_common.h (internal, CUDA C++ only): the state of the CUDA backend and the helpers its
 * three translation units share (backend_cuda.cu: lifetime, memory, describe, linear, the
 * table; cuda_conv.cu: cuDNN convolutions and their algorithm cache; cuda_ops.cu: the
 * hand-written kernels for batch norm, elementwise, pooling, loss and SGD).
 *
 * Every CUDA, cuDNN and cuBLAS call is checked; a failure becomes RV_ERR_DEVICE (RV_ERR_NOMEM
 * for an allocation) with the library's own error string on the context. Nothing prints.
 *
 * One backend state per context. All work is queued on the state's stream, in order, so a
 * buffer written by one op is complete before the next op reads it; upload and download wait
 * for the stream, everything else returns once the work is queued.
 */
#ifndef RV_CUDA_COMMON_H
#define RV_CUDA_COMMON_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stdint.h>

extern "C" {
#include "core/backend.h"
}
#include "backends/cuda/cuda_algo.h"

/* The three passes of a convolution, in the order of rv_cuda_conv_plan.pass. */
enum { RV_CUDA_FWD = 0, RV_CUDA_BWD_DATA = 1, RV_CUDA_BWD_FILTER = 2, RV_CUDA_N_PASSES = 3 };

/* The algorithm chosen for one pass (cuda_algo.h says by which rules). */
typedef struct {
    int algo;          /* cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t */
    rv_cuda_math math; /* the math type it runs with */
    size_t ws;         /* its cuDNN workspace */
    float ms;          /* time measured by cudnnFind*; negative when chosen by heuristic */
    int deterministic;
} rv_cuda_conv_choice;

/* The chosen cuDNN algorithms for one convolution shape (see cuda_conv.cu). */
typedef struct {
    rv_conv_desc d;  /* the key */
    rv_status failed; /* RV_OK, or why the algorithm search failed (message in `error`) */
    char error[192];
    /* Asymmetric SAME padding (cuDNN pads symmetrically): the input is copied into a zero-padded
     * N x C x Hp x Wp buffer at the front of the workspace and cuDNN runs with padding 0. */
    int padded;
    int Hp, Wp;
    size_t pad_bytes; /* bytes of that buffer, rounded up to RV_CUDA_WS_ALIGN */
    cudnnTensorDescriptor_t x_desc, y_desc;
    cudnnFilterDescriptor_t w_desc;
    cudnnConvolutionDescriptor_t conv_desc;
    rv_cuda_conv_choice pass[RV_CUDA_N_PASSES];
    int nondeterministic; /* no deterministic algorithm fitted some pass (search policy only) */
    size_t total_ws;      /* what conv_workspace_bytes reports */
} rv_cuda_conv_plan;

typedef struct {
    int device;
    int sm_major; /* compute capability major: TF32 exists from 8 on */
    int allow_tf32;
    rv_cuda_algo_policy algo_policy; /* REVBENCH_CUDNN_ALGO, read at init */
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;

    /* Device scratch for per-channel partial sums (batch norm) and the loss's label check.
     * Allocated once at init; small and fixed, so it is outside the memory plan. */
    float *scratch;
    size_t scratch_floats;
    int *flag;

    /* Convolution plans, one per distinct rv_conv_desc, filled on first use. */
    rv_cuda_conv_plan *plans;
    int n_plans, cap_plans;

    char base_description[640]; /* GPU, versions, math, algorithm policy */
    char *description;          /* base + conv algorithms; rebuilt by describe() */
    size_t description_cap;
} rv_cuda_state;

/* Alignment of sub-buffers carved out of a workspace (cuDNN's preferred alignment). */
#define RV_CUDA_WS_ALIGN 256
/* Floats of batch-norm scratch (4 MiB): 2 partial sums per (channel, split) and 4 coefficients
 * per channel; the full 64 splits fit up to about 8000 channels, more channels get fewer. */
#define RV_CUDA_SCRATCH_FLOATS (1u << 20)

static inline rv_cuda_state *rv_cuda_st(rv_ctx *ctx)
{
    return (rv_cuda_state *)rv_ctx_backend_state(ctx);
}

/* Turns a CUDA runtime result into a status; clears the runtime's last-error slot so that a
 * later launch check does not report this (non-sticky) error again. */
static inline rv_status rv_cuda_check(rv_ctx *ctx, cudaError_t e, const char *what)
{
    if (e == cudaSuccess) return RV_OK;
    (void)cudaGetLastError();
    return rv_ctx_fail(ctx, e == cudaErrorMemoryAllocation ? RV_ERR_NOMEM : RV_ERR_DEVICE,
                       "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

static inline rv_status rv_cudnn_check(rv_ctx *ctx, cudnnStatus_t e, const char *what)
{
    if (e == CUDNN_STATUS_SUCCESS) return RV_OK;
    return rv_ctx_fail(ctx, e == CUDNN_STATUS_ALLOC_FAILED ? RV_ERR_NOMEM : RV_ERR_DEVICE,
                       "%s: cuDNN: %s", what, cudnnGetErrorString(e));
}

static inline rv_status rv_cublas_check(rv_ctx *ctx, cublasStatus_t e, const char *what)
{
    if (e == CUBLAS_STATUS_SUCCESS) return RV_OK;
    return rv_ctx_fail(ctx, e == CUBLAS_STATUS_ALLOC_FAILED ? RV_ERR_NOMEM : RV_ERR_DEVICE,
                       "%s: cuBLAS: %s", what, cublasGetStatusString(e));
}

/* Checks that a kernel launch was accepted (bad configuration, no kernel image for this GPU).
 * Errors inside the kernel surface at the next synchronizing call. */
static inline rv_status rv_cuda_launched(rv_ctx *ctx, const char *what)
{
    return rv_cuda_check(ctx, cudaGetLastError(), what);
}

/* Threads per block of the elementwise kernels, and a grid that covers n elements with
 * grid-stride loops (the cap keeps the grid legal for any n; more blocks than this only add
 * scheduling overhead). */
#define RV_CUDA_THREADS 256
static inline unsigned rv_cuda_grid(size_t n)
{
    size_t blocks = (n + RV_CUDA_THREADS - 1) / RV_CUDA_THREADS;
    const size_t cap = 32768;
    return (unsigned)(blocks < cap ? (blocks ? blocks : 1) : cap);
}

/*
 * Index arithmetic in the kernels. The GPU has no 64-bit integer divider: a 64-bit / or % is a
 * software routine of tens of instructions where the 32-bit one is a few, and the indexing
 * kernels do two or three per element. So each indexing kernel is a template on its index type
 * and runs with uint32_t whenever every index of the launch fits, which is every tensor below
 * 2^31 elements (8 GiB of floats); size_t only beyond. Below 2^31 a grid-stride step (at most
 * 32768 x 256 = 2^23) cannot wrap a 32-bit index either.
 */
#define RV_CUDA_IDX32_MAX ((size_t)INT32_MAX)
static inline int rv_cuda_idx32(size_t n) { return n <= RV_CUDA_IDX32_MAX; }

/* The grid-stride loop over [0, n) with index type I, the kernel's template parameter. */
#define RV_FOR_EACH(I, i, n)                                                               \
    for (I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; i < (I)(n);                 \
         i += (I)gridDim.x * (I)blockDim.x)

/* Launches the template kernel k over n elements on the context's stream, with 32-bit indices
 * when n allows, and checks the launch; returns from the calling function. */
#define RV_LAUNCH_1D(ctx, name, k, n, ...)                                                 \
    do {                                                                                   \
        size_t n_ = (n);                                                                   \
        if (n_ == 0) return RV_OK;                                                         \
        cudaStream_t s_ = rv_cuda_st(ctx)->stream;                                         \
        if (rv_cuda_idx32(n_))                                                             \
            k<uint32_t><<<rv_cuda_grid(n_), RV_CUDA_THREADS, 0, s_>>>(__VA_ARGS__);        \
        else                                                                               \
            k<size_t><<<rv_cuda_grid(n_), RV_CUDA_THREADS, 0, s_>>>(__VA_ARGS__);          \
        return rv_cuda_launched((ctx), name);                                              \
    } while (0)

/* The ops of the table (backend_cuda.cu: linear; cuda_conv.cu: convolution; cuda_ops.cu: the
 * rest), with the signatures of the public ops. */
RV_BACKEND_OPS(RV_OP_DECLARE, rv_cuda_)

/* cuda_conv.cu's plan cache. */
/* Releases the cuDNN descriptors of every plan (state teardown). */
void rv_cuda_conv_plans_destroy(rv_cuda_state *st);
/* Appends one entry per plan to buf (at most cap bytes, NUL-terminated): shape, then per pass
 * the algorithm, its math type and the precision FP32 ran in (e.g. "fwd implicit_gemm/fma(fp32)
 * 0.021ms"), and the workspace. Returns the length it would have written, like snprintf. */
size_t rv_cuda_conv_plans_text(const rv_cuda_state *st, char *buf, size_t cap);

/* Linear-layer helpers used by backend_cuda.cu around its cuBLAS calls. */
rv_status rv_cuda_bias_broadcast(rv_ctx *ctx, float *y, const float *b, int N, int O);
rv_status rv_cuda_bias_grad(rv_ctx *ctx, float *d_b, const float *d_y, int N, int O);

#endif
