/*
 * backend_cuda.cu: the CUDA backend's table, lifetime, memory and fully connected layer.
 *
 * Built as the plugin librevnet_cuda.so, which context.c loads with dlopen when a CUDA context
 * is created and asks for the table through rv_backend_cuda_plugin_entry(). The ops live in
 * cuda_conv.cu (cuDNN convolutions) and cuda_ops.cu (batch norm, elementwise, pooling, loss,
 * SGD); this file holds the state (stream, cuDNN and cuBLAS handles, scratch, convolution
 * plans, see cuda_common.h), device memory (and how much of it is in use), describe(), and
 * linear via cuBLAS:
 *   y = x W^T + b;  d_x = d_y W;  d_W += d_y^T x;  d_b += column sums of d_y   (linear.h)
 * cuBLAS is column-major: a row-major M x N matrix is its N x M transpose, so each product is
 * written for the transposes (y^T = W x^T and so on).
 *
 * TF32: off unless the context allows it: cuBLAS then uses CUBLAS_DEFAULT_MATH (pure FP32
 * for SGEMM) and cuDNN CUDNN_FMA_MATH; with it, CUBLAS_TF32_TENSOR_OP_MATH and
 * CUDNN_TENSOR_OP_MATH (cuda_algo.h). describe() says which, and per convolution which math
 * each chosen algorithm runs with. The convolution algorithm policy comes from the environment
 * variable REVBENCH_CUDNN_ALGO ("search", the default, or "deterministic"; cuda_algo.h), read
 * when the context is created; an unknown value fails the creation with RV_ERR_ARG.
 * One GPU per context, chosen at init; a process that drives two GPUs from one thread must not
 * interleave their contexts.
 */
#include "backends/cuda/cuda_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- lifetime ---------------- */

static void cuda_destroy(void *state)
{
    rv_cuda_state *st = (rv_cuda_state *)state;
    if (!st) return;
    cudaSetDevice(st->device);
    if (st->stream) cudaStreamSynchronize(st->stream);
    rv_cuda_conv_plans_destroy(st);
    if (st->cublas) cublasDestroy(st->cublas);
    if (st->cudnn) cudnnDestroy(st->cudnn);
    cudaFree(st->scratch);
    cudaFree(st->flag);
    if (st->stream) cudaStreamDestroy(st->stream);
    (void)cudaGetLastError();
    free(st->description);
    free(st);
}

/* Versions as major.minor[.patch]: CUDA runtime/driver 1000 major + 10 minor; cuDNN and cuBLAS
 * 10000 major + 100 minor + patch. */
static void version_text(char *buf, size_t cap, int v, int cuda_style)
{
    if (cuda_style)
        snprintf(buf, cap, "%d.%d", v / 1000, (v % 1000) / 10);
    else
        snprintf(buf, cap, "%d.%d.%d", v / 10000, (v % 10000) / 100, v % 100);
}

static rv_status cuda_init(rv_ctx *ctx, const rv_ctx_options *opt, void **state)
{
    rv_status s;
    int n_devices = 0, runtime = 0, driver = 0, cublas_version = 0;
    cudaDeviceProp prop;
    char v_runtime[32], v_driver[32], v_cudnn[32], v_cudnn_built[32], v_cublas[32];
    rv_cuda_state *st = NULL;

    /* Without a driver or a GPU this fails (cudaErrorNoDevice, cudaErrorInsufficientDriver);
     * that is an unsupported request on this machine, not a device fault. */
    cudaError_t e = cudaGetDeviceCount(&n_devices);
    if (e != cudaSuccess || n_devices == 0) {
        (void)cudaGetLastError();
        return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "no usable CUDA GPU: %s",
                           e != cudaSuccess ? cudaGetErrorString(e) : "no device found");
    }
    if (opt->device_index < 0 || opt->device_index >= n_devices)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "CUDA device %d requested, this machine has %d "
                           "(0..%d)", opt->device_index, n_devices, n_devices - 1);

    st = (rv_cuda_state *)calloc(1, sizeof *st);
    if (!st) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory creating the CUDA backend");
    st->device = opt->device_index;
    st->allow_tf32 = opt->allow_tf32 != 0;
    const char *policy = getenv("REVBENCH_CUDNN_ALGO");
    if (rv_cuda_algo_policy_parse(policy, &st->algo_policy) != RV_OK) {
        s = rv_ctx_fail(ctx, RV_ERR_ARG, "REVBENCH_CUDNN_ALGO is '%s'; valid: search (time "
                        "every cuDNN algorithm, the default) or deterministic (cuDNN's "
                        "heuristic, the same choice in every process)", policy);
        goto fail;
    }

    if ((s = rv_cuda_check(ctx, cudaSetDevice(st->device), "cudaSetDevice")) ||
        (s = rv_cuda_check(ctx, cudaGetDeviceProperties(&prop, st->device),
                           "cudaGetDeviceProperties")) ||
        (s = rv_cuda_check(ctx, cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion")) ||
        (s = rv_cuda_check(ctx, cudaDriverGetVersion(&driver), "cudaDriverGetVersion")) ||
        (s = rv_cuda_check(ctx, cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking),
                           "cudaStreamCreate")) ||
        (s = rv_cuda_check(ctx, cudaMalloc((void **)&st->scratch,
                                           RV_CUDA_SCRATCH_FLOATS * sizeof(float)),
                           "cudaMalloc (backend scratch)")) ||
        (s = rv_cuda_check(ctx, cudaMalloc((void **)&st->flag, sizeof(int)),
                           "cudaMalloc (backend flag)")) ||
        (s = rv_cudnn_check(ctx, cudnnCreate(&st->cudnn), "cudnnCreate")) ||
        (s = rv_cudnn_check(ctx, cudnnSetStream(st->cudnn, st->stream), "cudnnSetStream")) ||
        (s = rv_cublas_check(ctx, cublasCreate(&st->cublas), "cublasCreate")) ||
        (s = rv_cublas_check(ctx, cublasSetStream(st->cublas, st->stream), "cublasSetStream")) ||
        (s = rv_cublas_check(ctx, cublasSetMathMode(st->cublas, st->allow_tf32
                                                                    ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                    : CUBLAS_DEFAULT_MATH),
                             "cublasSetMathMode")) ||
        (s = rv_cublas_check(ctx, cublasGetVersion(st->cublas, &cublas_version),
                             "cublasGetVersion")))
        goto fail;
    st->scratch_floats = RV_CUDA_SCRATCH_FLOATS;
    st->sm_major = prop.major;

    version_text(v_runtime, sizeof v_runtime, runtime, 1);
    version_text(v_driver, sizeof v_driver, driver, 1);
    version_text(v_cudnn, sizeof v_cudnn, (int)cudnnGetVersion(), 0);
    version_text(v_cudnn_built, sizeof v_cudnn_built, CUDNN_VERSION, 0);
    version_text(v_cublas, sizeof v_cublas, cublas_version, 0);
    /* "TF32 on|off" first, then what each library was told; the per-shape math types follow
     * in the conv algorithms part once the shapes are planned. */
    snprintf(st->base_description, sizeof st->base_description,
             RV_BACKEND_NAME_CUDA "; GPU %d %s (sm_%d%d, %d SMs, %.1f GiB); driver %s; runtime "
             "%s; cuDNN %s "
             "(built with %s); cuBLAS %s; TF32 %s (cuDNN %s math, cuBLAS %s); conv algorithm "
             "policy %s",
             st->device, prop.name, prop.major, prop.minor, prop.multiProcessorCount,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), v_driver, v_runtime,
             v_cudnn, v_cudnn_built, v_cublas, st->allow_tf32 ? "on" : "off",
             rv_cuda_math_name(rv_cuda_search_math(st->allow_tf32)),
             st->allow_tf32 ? "TF32 tensor-op math" : "default FP32 math",
             rv_cuda_algo_policy_name(st->algo_policy));
    *state = st;
    return RV_OK;

fail:
    cuda_destroy(st);
    return s;
}

/*
 * One line: GPU, versions and TF32 (fixed at init), then, once convolutions have run, " | conv
 * algorithms: " and one entry per shape (algorithm/math type and cudnnFind time of each pass,
 * workspace). Call it after the first training step to log what cuDNN chose. The string stays
 * valid until the next describe() or the context's destruction.
 */
static const char *cuda_describe(void *state)
{
    rv_cuda_state *st = (rv_cuda_state *)state;
    const char *sep = " | conv algorithms: ";
    size_t plans = st->n_plans ? rv_cuda_conv_plans_text(st, NULL, 0) : 0;
    size_t need = strlen(st->base_description) + (plans ? strlen(sep) + plans : 0) + 1;
    if (need > st->description_cap) {
        char *grown = (char *)realloc(st->description, need);
        /* Out of host memory: the fixed part is still worth returning. */
        if (!grown) return st->base_description;
        st->description = grown;
        st->description_cap = need;
    }
    size_t len = (size_t)snprintf(st->description, need, "%s%s", st->base_description,
                                  plans ? sep : "");
    if (plans) rv_cuda_conv_plans_text(st, st->description + len, need - len);
    return st->description;
}

/* ---------------------------------------------------------------- memory ------------------ */

static rv_status cuda_alloc(rv_ctx *ctx, void **out, size_t bytes)
{
    *out = NULL;
    /* Zero bytes still gets a distinct pointer, as on the CPU backend. */
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
    if (e == cudaSuccess) return RV_OK;
    size_t free_bytes = 0, total_bytes = 0;
    (void)cudaGetLastError();
    (void)cudaMemGetInfo(&free_bytes, &total_bytes);
    (void)cudaGetLastError();
    *out = NULL;
    return rv_ctx_fail(ctx, e == cudaErrorMemoryAllocation ? RV_ERR_NOMEM : RV_ERR_DEVICE,
                       "cudaMalloc of %zu bytes: %s (%zu of %zu bytes free)", bytes,
                       cudaGetErrorString(e), free_bytes, total_bytes);
}

static void cuda_free(rv_ctx *ctx, void *p)
{
    (void)ctx;
    /* cudaFree waits for the device, so queued work that still uses p finishes first. An
     * error here (a pointer that is not ours) cannot be reported through this signature. */
    if (p && cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
}

/* A copy on the stream, waited for: after an upload the caller may reuse its host buffer,
 * after a download it reads it. */
static rv_status cuda_copy(rv_ctx *ctx, void *dst, const void *src, size_t bytes,
                           cudaMemcpyKind kind, const char *copy_what, const char *sync_what)
{
    rv_cuda_state *st = rv_cuda_st(ctx);
    rv_status s = rv_cuda_check(ctx, cudaMemcpyAsync(dst, src, bytes, kind, st->stream),
                                copy_what);
    if (s != RV_OK) return s;
    return rv_cuda_check(ctx, cudaStreamSynchronize(st->stream), sync_what);
}

static rv_status cuda_upload(rv_ctx *ctx, void *dst, const void *src_host, size_t bytes)
{
    return cuda_copy(ctx, dst, src_host, bytes, cudaMemcpyHostToDevice,
                     "upload: cudaMemcpyAsync", "upload: synchronize");
}

static rv_status cuda_download(rv_ctx *ctx, void *dst_host, const void *src, size_t bytes)
{
    return cuda_copy(ctx, dst_host, src, bytes, cudaMemcpyDeviceToHost,
                     "download: cudaMemcpyAsync", "download: synchronize");
}

static rv_status cuda_sync(rv_ctx *ctx)
{
    return rv_cuda_check(ctx, cudaStreamSynchronize(rv_cuda_st(ctx)->stream),
                         "cudaStreamSynchronize");
}

/* In use = total - free, as cudaMemGetInfo reports them for the whole device: the CUDA
 * context's own reservation, cuDNN/cuBLAS handles, our scratch and arena, and any other
 * process's memory. Waits for queued work first, so frees that are still pending count. */
static rv_status cuda_device_memory(rv_ctx *ctx, size_t *used_bytes, size_t *total_bytes)
{
    rv_cuda_state *st = rv_cuda_st(ctx);
    size_t free_bytes = 0, total = 0;
    rv_status s;
    if ((s = rv_cuda_check(ctx, cudaSetDevice(st->device), "device_memory: cudaSetDevice")) ||
        (s = rv_cuda_check(ctx, cudaStreamSynchronize(st->stream),
                           "device_memory: synchronize")) ||
        (s = rv_cuda_check(ctx, cudaMemGetInfo(&free_bytes, &total), "cudaMemGetInfo")))
        return s;
    *used_bytes = total - free_bytes;
    *total_bytes = total;
    return RV_OK;
}

/* ---------------------------------------------------------------- linear ------------------ */

rv_status rv_cuda_linear_forward(rv_ctx *ctx, float *y, const float *x, const float *w,
                                 const float *b, int N, int I, int O)
{
    rv_cuda_state *st = rv_cuda_st(ctx);
    const float one = 1.0f, zero = 0.0f;
    rv_status s = RV_OK;
    if (b && (s = rv_cuda_bias_broadcast(ctx, y, b, N, O)) != RV_OK) return s;
    /* y^T (O x N) = W (O x I, stored as the column-major I x O matrix W^T) times x^T (I x N,
     * the column-major view of row-major x), plus the broadcast bias already in y. */
    return rv_cublas_check(ctx, cublasSgemm(st->cublas, CUBLAS_OP_T, CUBLAS_OP_N, O, N, I, &one,
                                            w, I, x, I, b ? &one : &zero, y, O),
                           "linear_forward: cublasSgemm");
}

rv_status rv_cuda_linear_backward(rv_ctx *ctx, float *d_x, float *d_w, float *d_b,
                                  const float *d_y, const float *x, const float *w, int N, int I,
                                  int O)
{
    rv_cuda_state *st = rv_cuda_st(ctx);
    const float one = 1.0f, zero = 0.0f;
    rv_status s;
    /* d_x^T (I x N) = W^T (column-major I x O as stored) times d_y^T (O x N as stored). */
    if (d_x && (s = rv_cublas_check(ctx, cublasSgemm(st->cublas, CUBLAS_OP_N, CUBLAS_OP_N, I, N,
                                                     O, &one, w, I, d_y, O, &zero, d_x, I),
                                    "linear_backward: cublasSgemm (d_x)")) != RV_OK)
        return s;
    /* d_W^T (I x O) += x^T (I x N as stored) times d_y (N x O: the transpose of d_y^T). */
    if (d_w && (s = rv_cublas_check(ctx, cublasSgemm(st->cublas, CUBLAS_OP_N, CUBLAS_OP_T, I, O,
                                                     N, &one, x, I, d_y, O, &one, d_w, I),
                                    "linear_backward: cublasSgemm (d_w)")) != RV_OK)
        return s;
    if (d_b && (s = rv_cuda_bias_grad(ctx, d_b, d_y, N, O)) != RV_OK) return s;
    return RV_OK;
}

/* ---------------------------------------------------------------- the table --------------- */

/* C++ wants every field named, in order: the optional ones this backend lacks are NULL. */
static const rv_backend cuda_backend = {
    .name = RV_BACKEND_NAME_CUDA,
    RV_BACKEND_LIFETIME(cuda_)
    RV_BACKEND_MEMORY(cuda_)
    .device_memory = cuda_device_memory,
    /* Plain NCHW activations (layout.h). */
    .act_channels = NULL, .act_pack = NULL, .act_unpack = NULL,
    /* Batch norm and ReLU run as their two ops (backend.h). */
    RV_BACKEND_FUSED_OPS(RV_OP_ABSENT, )
    RV_BACKEND_OPS(RV_OP_ENTRY, rv_cuda_)
};

/* The plugin's only export; context.c finds it with dlsym. */
extern "C" __attribute__((visibility("default"))) const rv_backend *
rv_backend_cuda_plugin_entry(void)
{
    return &cuda_backend;
}
