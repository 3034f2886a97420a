/*
 * cuda_ops.cu: the CUDA kernels of the backend that are not convolutions or GEMMs: batch norm
 * (forward in three modes, backward), ReLU and the elementwise arithmetic, 2x2 average pooling,
 * channel padding, global average pooling, 3x3/2 max pooling, softmax cross-entropy, SGD with
 * momentum, and the two bias helpers of the linear layer. Each function has the contract of the
 * public op of the same name (batchnorm.h, activation.h, pool.h, loss.h, sgd.h).
 *
 * Batch norm: y = gamma * (x - mean) * invstd + beta, invstd = 1 / sqrt(var + eps), biased
 * variance, running averages m <- decay m + (1 - decay) batch (batchnorm.h).
 *
 * Determinism: no atomics. Every reduction runs in a fixed order that depends only on the
 * shape (the number of blocks a channel is split into is a function of N, C and HW), so
 * results are bit-identical run to run on a given GPU.
 *
 * Accuracy: the batch-norm reductions do the CPU's arithmetic (batchnorm.c): every value is
 * widened to double before the shift or the product, and every sum, from the thread's own
 * through the block's to the combination of the blocks, is in double. The two backends then
 * differ only in the order of double additions (relative ~n 1.1e-16, n <= 2^26 here: < 1e-8)
 * before one rounding to float, so the statistics agree to about an ulp where float sums would
 * lose digits to cancellation (test_cuda.c, batchnorm_cancellation). The cost is small: the
 * kernels are bound by memory bandwidth, and even at 1/64 rate (consumer GPUs) the two double
 * operations per element keep up with it.
 *
 * Indexing kernels take their index type as a template parameter and run in 32 bits below
 * 2^31 elements (cuda_common.h: RV_LAUNCH_1D).
 */
#include "backends/cuda/cuda_common.h"

#include <math.h>

/* ---------------------------------------------------------------- reductions -------------- */

/* Sums two values over the block; the result is valid in thread 0. blockDim.x is a multiple of
 * 32 and at most 1024. */
__device__ static void block_sum2(double *a, double *b)
{
    __shared__ double sa[32], sb[32];
    double x = *a, y = *b;
    for (int o = 16; o > 0; o >>= 1) {
        x += __shfl_down_sync(0xffffffffu, x, o);
        y += __shfl_down_sync(0xffffffffu, y, o);
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        sa[warp] = x;
        sb[warp] = y;
    }
    __syncthreads();
    if (warp == 0) {
        int n_warps = blockDim.x >> 5;
        x = lane < n_warps ? sa[lane] : 0.0;
        y = lane < n_warps ? sb[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) {
            x += __shfl_down_sync(0xffffffffu, x, o);
            y += __shfl_down_sync(0xffffffffu, y, o);
        }
    }
    *a = x;
    *b = y;
}

/* ---------------------------------------------------------------- batch norm -------------- */

#define BN_THREADS 256
/* Elements of one channel per block in the statistics kernels: enough work per thread to hide
 * latency, enough blocks (C x splits) to fill a large GPU for the CIFAR shapes (C = 16). */
#define BN_ELEMS_PER_BLOCK 4096
#define BN_MAX_SPLITS 64

/* How many blocks each channel's N*HW elements are split into; a function of the shape only. */
static int bn_splits(const rv_cuda_state *st, int C, long long nhw)
{
    long long s = (nhw + BN_ELEMS_PER_BLOCK - 1) / BN_ELEMS_PER_BLOCK;
    if (s > BN_MAX_SPLITS) s = BN_MAX_SPLITS;
    /* Scratch holds 2 double partials (4 floats) per (channel, split) plus 4 per-channel float
     * coefficients. */
    long long fit = ((long long)st->scratch_floats / C - 4) / 4;
    if (s > fit) s = fit;
    return s < 1 ? 1 : (int)s;
}

/* Element j of channel c's N*HW elements. I: the index type; the caller picks 32 bits when
 * the whole tensor fits (bn_idx32), so the division is a 32-bit one. */
template <typename I>
__device__ static inline size_t bn_index(I j, int c, int C, int HW)
{
    I n = j / (I)HW;
    return ((size_t)n * C + c) * HW + (size_t)(j - n * (I)HW);
}

/* Whether every bn_index of an N x C x HW tensor fits in 32 bits. */
static inline int bn_idx32(long long nhw, int C) { return rv_cuda_idx32((size_t)nhw * C); }

/* Launches the reduction kernel k on C x splits blocks (one per channel and split), with
 * 32-bit indices when the tensor allows. */
#define BN_LAUNCH_PARTIAL(st, k, nhw, C, splits, ...)                                      \
    do {                                                                                   \
        dim3 grid_((C), (splits));                                                         \
        if (bn_idx32((nhw), (C)))                                                          \
            k<uint32_t><<<grid_, BN_THREADS, 0, (st)->stream>>>(__VA_ARGS__);              \
        else                                                                               \
            k<size_t><<<grid_, BN_THREADS, 0, (st)->stream>>>(__VA_ARGS__);                \
    } while (0)

/* One batch norm's shape and its share of the backend's scratch. */
struct bn_work {
    long long nhw; /* elements of one channel: N * HW */
    int splits;    /* blocks per channel in the reduction kernels (bn_splits) */
    double *part;  /* C x splits x 2 partial sums (cudaMalloc'd: aligned for doubles) */
    float *coef;   /* C x 4 per-channel coefficients, after them */
};

/* The work of a batch norm over N x C x HW into *w; RV_ERR_UNSUPPORTED (with op in the
 * message) when C channels do not fit the scratch. */
static rv_status bn_work_of(rv_ctx *ctx, const char *op, int N, int C, int HW, bn_work *w)
{
    rv_cuda_state *st = rv_cuda_st(ctx);
    w->nhw = (long long)N * HW;
    w->splits = bn_splits(st, C, w->nhw);
    w->part = (double *)st->scratch;
    w->coef = st->scratch + (size_t)C * w->splits * 4;
    if ((size_t)C * 6 > st->scratch_floats)
        return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "%s: %d channels exceed the CUDA backend's "
                           "scratch", op, C);
    return RV_OK;
}

/* part[c][s] = (sum (x - k), sum (x - k)^2) over split s of channel c, in double, with the
 * shift k = x[n=0, c, 0]: shifting by a sample of the channel keeps the one-pass variance
 * accurate when the mean is large against the spread (as on the CPU). */
template <typename I>
__global__ static void bn_stats_partial(double *part, const float *x, int C, int HW,
                                        long long nhw, int splits)
{
    int c = blockIdx.x, s = blockIdx.y;
    I chunk = ((I)nhw + (I)splits - 1) / (I)splits;
    I j0 = (I)s * chunk, j1 = min(j0 + chunk, (I)nhw);
    double k = (double)x[(size_t)c * HW];
    double s1 = 0.0, s2 = 0.0;
    for (I j = j0 + (I)threadIdx.x; j < j1; j += (I)blockDim.x) {
        double v = (double)x[bn_index(j, c, C, HW)] - k;
        s1 += v;
        s2 += v * v;
    }
    block_sum2(&s1, &s2);
    if (threadIdx.x == 0) {
        part[((size_t)c * splits + s) * 2] = s1;
        part[((size_t)c * splits + s) * 2 + 1] = s2;
    }
}

/* Per channel: mean and invstd (batch or running), the running-average update in TRAIN, the
 * saved statistics, and coef[c] = (mean, gamma * invstd, beta) for bn_apply. */
__global__ static void bn_stats_final(float *coef, float *save_mean, float *save_invstd,
                                      float *run_mean, float *run_var, const double *part,
                                      const float *x, const float *gamma, const float *beta,
                                      int C, int HW, long long nhw, int splits, int mode)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double mean, var;
    if (mode == RV_BN_EVAL) {
        mean = run_mean[c];
        var = run_var[c];
    } else {
        double s1 = 0.0, s2 = 0.0;
        for (int s = 0; s < splits; s++) {
            s1 += part[((size_t)c * splits + s) * 2];
            s2 += part[((size_t)c * splits + s) * 2 + 1];
        }
        double m = s1 / (double)nhw;
        mean = (double)x[(size_t)c * HW] + m;
        var = s2 / (double)nhw - m * m;
        if (var < 0.0) var = 0.0;
    }
    float invstd = (float)(1.0 / sqrt(var + (double)RV_BN_EPS));
    if (mode != RV_BN_EVAL) {
        save_mean[c] = (float)mean;
        save_invstd[c] = invstd;
    }
    if (mode == RV_BN_TRAIN) {
        run_mean[c] = RV_BN_DECAY * run_mean[c] + (1.0f - RV_BN_DECAY) * (float)mean;
        run_var[c] = RV_BN_DECAY * run_var[c] + (1.0f - RV_BN_DECAY) * (float)var;
    }
    coef[4 * c] = (float)mean;
    coef[4 * c + 1] = gamma[c] * invstd;
    coef[4 * c + 2] = beta[c];
}

template <typename I>
__global__ static void bn_apply(float *y, const float *x, const float *coef, int C, int HW,
                                size_t n)
{
    RV_FOR_EACH(I, i, n) {
        int c = (int)((i / (I)HW) % (I)C);
        /* Subtracting the mean first (rather than folding it into the shift) keeps inputs far
         * from zero, a mean of 1000, from cancelling in the last add. y may alias x. */
        y[i] = (x[i] - coef[4 * c]) * coef[4 * c + 1] + coef[4 * c + 2];
    }
}

rv_status rv_cuda_bn_forward(rv_ctx *ctx, float *y, float *save_mean, float *save_invstd,
                             float *run_mean, float *run_var, const float *x, const float *gamma,
                             const float *beta, int N, int C, int HW, rv_bn_mode mode)
{
    rv_cuda_state *st = rv_cuda_st(ctx);
    bn_work w;
    rv_status s = bn_work_of(ctx, "bn_forward", N, C, HW, &w);
    if (s != RV_OK) return s;
    if (mode != RV_BN_EVAL) {
        BN_LAUNCH_PARTIAL(st, bn_stats_partial, w.nhw, C, w.splits, w.part, x, C, HW, w.nhw,
                          w.splits);
        if ((s = rv_cuda_launched(ctx, "bn_forward: statistics kernel")) != RV_OK) return s;
    }
    bn_stats_final<<<(C + 127) / 128, 128, 0, st->stream>>>(w.coef, save_mean, save_invstd,
                                                            run_mean, run_var, w.part, x, gamma,
                                                            beta, C, HW, w.nhw, w.splits, mode);
    if ((s = rv_cuda_launched(ctx, "bn_forward: finalize kernel")) != RV_OK) return s;
    size_t n = (size_t)w.nhw * C;
    RV_LAUNCH_1D(ctx, "bn_forward: normalize kernel", bn_apply, n, y, x, w.coef, C, HW, n);
}

/* part[c][s] = (sum d_y, sum d_y * (x - mean)) over split s of channel c, in double as on
 * the CPU. */
template <typename I>
__global__ static void bn_grad_partial(double *part, const float *d_y, const float *x,
                                       const float *save_mean, int C, int HW, long long nhw,
                                       int splits)
{
    int c = blockIdx.x, s = blockIdx.y;
    I chunk = ((I)nhw + (I)splits - 1) / (I)splits;
    I j0 = (I)s * chunk, j1 = min(j0 + chunk, (I)nhw);
    double mean = (double)save_mean[c];
    double s1 = 0.0, s2 = 0.0;
    for (I j = j0 + (I)threadIdx.x; j < j1; j += (I)blockDim.x) {
        size_t i = bn_index(j, c, C, HW);
        double g = (double)d_y[i];
        s1 += g;
        s2 += g * ((double)x[i] - mean);
    }
    block_sum2(&s1, &s2);
    if (threadIdx.x == 0) {
        part[((size_t)c * splits + s) * 2] = s1;
        part[((size_t)c * splits + s) * 2 + 1] = s2;
    }
}

/* d_beta += sum d_y; d_gamma += sum d_y * xhat; coef[c] = (gamma * invstd, mean(d_y),
 * mean(d_y * xhat), 0) for dL/dx = gamma * invstd * (d_y - mean(d_y) - xhat mean(d_y xhat)). */
__global__ static void bn_grad_final(float *coef, float *d_gamma, float *d_beta,
                                     const double *part, const float *save_invstd,
                                     const float *gamma, int C, long long nhw, int splits)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s1 = 0.0, s2 = 0.0;
    for (int s = 0; s < splits; s++) {
        s1 += part[((size_t)c * splits + s) * 2];
        s2 += part[((size_t)c * splits + s) * 2 + 1];
    }
    float invstd = save_invstd[c];
    double sum_dy_xhat = s2 * (double)invstd;
    d_beta[c] += (float)s1;
    d_gamma[c] += (float)sum_dy_xhat;
    coef[4 * c] = gamma[c] * invstd;
    coef[4 * c + 1] = (float)(s1 / (double)nhw);
    coef[4 * c + 2] = (float)(sum_dy_xhat / (double)nhw);
}

template <typename I>
__global__ static void bn_grad_apply(float *d_x, const float *d_y, const float *x,
                                     const float *save_mean, const float *save_invstd,
                                     const float *coef, int C, int HW, size_t n, float beta_acc)
{
    RV_FOR_EACH(I, i, n) {
        int c = (int)((i / (I)HW) % (I)C);
        float xhat = (x[i] - save_mean[c]) * save_invstd[c];
        float g = coef[4 * c] * (d_y[i] - coef[4 * c + 1] - xhat * coef[4 * c + 2]);
        /* beta_acc 0 must not read d_x: it may hold garbage, or alias d_y. */
        d_x[i] = beta_acc != 0.0f ? beta_acc * d_x[i] + g : g;
    }
}

rv_status rv_cuda_bn_backward(rv_ctx *ctx, float *d_x, float *d_gamma, float *d_beta,
                              const float *d_y, const float *x, const float *save_mean,
                              const float *save_invstd, const float *gamma, int N, int C, int HW,
                              float beta_acc)
{
    rv_cuda_state *st = rv_cuda_st(ctx);
    bn_work w;
    rv_status s = bn_work_of(ctx, "bn_backward", N, C, HW, &w);
    if (s != RV_OK) return s;
    BN_LAUNCH_PARTIAL(st, bn_grad_partial, w.nhw, C, w.splits, w.part, d_y, x, save_mean, C, HW,
                      w.nhw, w.splits);
    if ((s = rv_cuda_launched(ctx, "bn_backward: reduction kernel")) != RV_OK) return s;
    bn_grad_final<<<(C + 127) / 128, 128, 0, st->stream>>>(w.coef, d_gamma, d_beta, w.part,
                                                           save_invstd, gamma, C, w.nhw,
                                                           w.splits);
    if ((s = rv_cuda_launched(ctx, "bn_backward: finalize kernel")) != RV_OK) return s;
    size_t n = (size_t)w.nhw * C;
    RV_LAUNCH_1D(ctx, "bn_backward: input-gradient kernel", bn_grad_apply, n, d_x, d_y, x,
                 save_mean, save_invstd, w.coef, C, HW, n, beta_acc);
}

/* ---------------------------------------------------------------- elementwise ------------- */


template <typename I>
__global__ static void k_relu_fwd(float *y, const float *x, size_t n)
{
    RV_FOR_EACH(I, i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
template <typename I>
__global__ static void k_relu_bwd(float *d_x, const float *d_y, const float *y, size_t n)
{
    RV_FOR_EACH(I, i, n) d_x[i] = y[i] > 0.0f ? d_y[i] : 0.0f;
}
template <typename I>
__global__ static void k_add(float *out, const float *a, const float *b, size_t n)
{
    RV_FOR_EACH(I, i, n) out[i] = a[i] + b[i];
}
template <typename I>
__global__ static void k_sub(float *out, const float *a, const float *b, size_t n)
{
    RV_FOR_EACH(I, i, n) out[i] = a[i] - b[i];
}
template <typename I>
__global__ static void k_axpy(float *y, float alpha, const float *x, size_t n)
{
    RV_FOR_EACH(I, i, n) y[i] += alpha * x[i];
}
template <typename I>
__global__ static void k_fill(float *x, float value, size_t n)
{
    RV_FOR_EACH(I, i, n) x[i] = value;
}


rv_status rv_cuda_relu_forward(rv_ctx *ctx, float *y, const float *x, size_t n)
{
    RV_LAUNCH_1D(ctx, "relu_forward", k_relu_fwd, n, y, x, n);
}
rv_status rv_cuda_relu_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *y,
                                size_t n)
{
    RV_LAUNCH_1D(ctx, "relu_backward", k_relu_bwd, n, d_x, d_y, y, n);
}
rv_status rv_cuda_add(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    RV_LAUNCH_1D(ctx, "add", k_add, n, out, a, b, n);
}
rv_status rv_cuda_sub(rv_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    RV_LAUNCH_1D(ctx, "sub", k_sub, n, out, a, b, n);
}
rv_status rv_cuda_axpy(rv_ctx *ctx, float *y, float alpha, const float *x, size_t n)
{
    RV_LAUNCH_1D(ctx, "axpy", k_axpy, n, y, alpha, x, n);
}
rv_status rv_cuda_fill(rv_ctx *ctx, float *x, float value, size_t n)
{
    RV_LAUNCH_1D(ctx, "fill", k_fill, n, x, value, n);
}

rv_status rv_cuda_copy(rv_ctx *ctx, float *dst, const float *src, size_t n)
{
    /* A copy onto itself is a no-op; cudaMemcpy on overlapping ranges is undefined. */
    if (n == 0 || dst == src) return RV_OK;
    return rv_cuda_check(ctx, cudaMemcpyAsync(dst, src, n * sizeof(float),
                                              cudaMemcpyDeviceToDevice, rv_cuda_st(ctx)->stream),
                         "copy: cudaMemcpyAsync");
}

/* ---------------------------------------------------------------- pooling ----------------- */

template <typename I>
__global__ static void k_avgpool2_fwd(float *y, const float *x, int H, int W, size_t n_out)
{
    int P = H / 2, Q = W / 2;
    RV_FOR_EACH(I, i, n_out) {
        I row = i / (I)Q, nc = row / (I)P;
        int q = (int)(i - row * (I)Q), p = (int)(row - nc * (I)P);
        const float *r0 = x + ((size_t)nc * H + 2 * p) * W + 2 * q;
        const float *r1 = r0 + W;
        /* Grouped as on the CPU, so both round identically. */
        y[i] = 0.25f * ((r0[0] + r0[1]) + (r1[0] + r1[1]));
    }
}

template <typename I>
__global__ static void k_avgpool2_bwd(float *d_x, const float *d_y, int H, int W, size_t n_in,
                                      float beta)
{
    int P = H / 2, Q = W / 2;
    RV_FOR_EACH(I, i, n_in) {
        I row = i / (I)W, nc = row / (I)H;
        int w = (int)(i - row * (I)W), h = (int)(row - nc * (I)H);
        float g = d_y[((size_t)nc * P + h / 2) * Q + w / 2] * 0.25f;
        d_x[i] = beta != 0.0f ? beta * d_x[i] + g : g;
    }
}

rv_status rv_cuda_avgpool2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                   int W)
{
    size_t n = (size_t)N * C * (H / 2) * (W / 2);
    RV_LAUNCH_1D(ctx, "avgpool2_forward", k_avgpool2_fwd, n, y, x, H, W, n);
}

rv_status rv_cuda_avgpool2_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                    int H, int W, float beta)
{
    size_t n = (size_t)N * C * H * W;
    RV_LAUNCH_1D(ctx, "avgpool2_backward", k_avgpool2_bwd, n, d_x, d_y, H, W, n, beta);
}

template <typename I>
__global__ static void k_chpad_fwd(float *y, const float *x, int C, int C_out, int HW,
                                   int front, size_t n_out)
{
    RV_FOR_EACH(I, i, n_out) {
        I plane = i / (I)HW, n = plane / (I)C_out;
        I hw = i - plane * (I)HW;
        int c = (int)(plane - n * (I)C_out) - front;
        y[i] = (c >= 0 && c < C) ? x[((size_t)n * C + c) * HW + hw] : 0.0f;
    }
}

template <typename I>
__global__ static void k_chpad_bwd(float *d_x, const float *d_y, int C, int C_out, int HW,
                                   int front, size_t n_in, float beta)
{
    RV_FOR_EACH(I, i, n_in) {
        I plane = i / (I)HW, n = plane / (I)C;
        I hw = i - plane * (I)HW;
        int c = (int)(plane - n * (I)C);
        float g = d_y[((size_t)n * C_out + c + front) * HW + hw];
        d_x[i] = beta != 0.0f ? beta * d_x[i] + g : g;
    }
}

rv_status rv_cuda_chpad_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int C_out,
                                int HW, int front)
{
    size_t n = (size_t)N * C_out * HW;
    RV_LAUNCH_1D(ctx, "chpad_forward", k_chpad_fwd, n, y, x, C, C_out, HW, front, n);
}

rv_status rv_cuda_chpad_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C,
                                 int C_out, int HW, int front, float beta)
{
    size_t n = (size_t)N * C * HW;
    RV_LAUNCH_1D(ctx, "chpad_backward", k_chpad_bwd, n, d_x, d_y, C, C_out, HW, front, n,
                 beta);
}

/* One warp per (n, c) row: y = sum / HW, summed in double like the CPU, so the two differ by
 * at most the final rounding (HW is at most a few thousand: the cost is nothing). */
__global__ static void k_gap_fwd(float *y, const float *x, int HW, int rows)
{
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const float *r = x + (size_t)row * HW;
    double s = 0.0;
    for (int i = lane; i < HW; i += 32) s += r[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    if (lane == 0) y[row] = (float)(s / HW);
}

/* d_x = d_y * (1 / HW), the reciprocal rounded first, as on the CPU. */
template <typename I>
__global__ static void k_gap_bwd(float *d_x, const float *d_y, int HW, size_t n)
{
    float inv = 1.0f / (float)HW;
    RV_FOR_EACH(I, i, n) d_x[i] = d_y[i / (I)HW] * inv;
}

rv_status rv_cuda_gap_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int HW)
{
    int rows = N * C;
    k_gap_fwd<<<(rows + 7) / 8, 256, 0, rv_cuda_st(ctx)->stream>>>(y, x, HW, rows);
    return rv_cuda_launched(ctx, "gap_forward");
}

rv_status rv_cuda_gap_backward(rv_ctx *ctx, float *d_x, const float *d_y, int N, int C, int HW)
{
    size_t n = (size_t)N * C * HW;
    RV_LAUNCH_1D(ctx, "gap_backward", k_gap_bwd, n, d_x, d_y, HW, n);
}

/* 3x3/2 SAME max pooling: P = ceil(H/2), top padding floor(max((P-1)*2 + 3 - H, 0) / 2). */
__device__ static inline int mp_pad(int H)
{
    int P = (H + 1) / 2;
    int total = (P - 1) * 2 + 3 - H;
    return total > 0 ? total / 2 : 0;
}

template <typename I>
__global__ static void k_maxpool_fwd(float *y, const float *x, int H, int W, size_t n_out)
{
    int P = (H + 1) / 2, Q = (W + 1) / 2;
    int pt = mp_pad(H), pl = mp_pad(W);
    RV_FOR_EACH(I, i, n_out) {
        I row = i / (I)Q, nc = row / (I)P;
        int q = (int)(i - row * (I)Q), p = (int)(row - nc * (I)P);
        const float *plane = x + (size_t)nc * H * W;
        float m = -INFINITY;
        for (int r = 0; r < 3; r++) {
            int h = 2 * p - pt + r;
            if (h < 0 || h >= H) continue;
            for (int s = 0; s < 3; s++) {
                int w = 2 * q - pl + s;
                if (w < 0 || w >= W) continue;
                m = fmaxf(m, plane[h * W + w]);
            }
        }
        y[i] = m;
    }
}

/* Gather form of the backward, so that no two threads write one element: each input element
 * sums d_y over the (at most 2 x 2) windows that contain it and whose first maximal element
 * (row-major within the window) it is. Its set-up mirrors the forward's on purpose, over
 * inputs instead of outputs. */
template <typename I>
__global__ static void k_maxpool_bwd(float *d_x, const float *d_y, const float *x,
                                     const float *y, int H, int W, size_t n_in)
{
    int P = (H + 1) / 2, Q = (W + 1) / 2;
    int pt = mp_pad(H), pl = mp_pad(W);
    RV_FOR_EACH(I, i, n_in) {
        I row = i / (I)W, nc = row / (I)H;
        int w = (int)(i - row * (I)W), h = (int)(row - nc * (I)H);
        const float *plane = x + (size_t)nc * H * W;
        float g = 0.0f;
        /* Window p covers rows 2p - pt .. 2p - pt + 2. */
        int p_lo = max(0, (h + pt - 2 + 1) / 2), p_hi = min(P - 1, (h + pt) / 2);
        int q_lo = max(0, (w + pl - 2 + 1) / 2), q_hi = min(Q - 1, (w + pl) / 2);
        for (int p = p_lo; p <= p_hi; p++) {
            for (int q = q_lo; q <= q_hi; q++) {
                float target = y[((size_t)nc * P + p) * Q + q];
                /* As on the CPU: the first element equal to the forward output; if none is
                 * (y not computed from this x, or NaN), the first strict maximum. */
                int first = -1, best = -1;
                float m = -INFINITY;
                for (int r = 0; r < 3 && first < 0; r++) {
                    int hh = 2 * p - pt + r;
                    if (hh < 0 || hh >= H) continue;
                    for (int s = 0; s < 3; s++) {
                        int ww = 2 * q - pl + s;
                        if (ww < 0 || ww >= W) continue;
                        float v = plane[hh * W + ww];
                        if (v == target) {
                            first = hh * W + ww;
                            break;
                        }
                        if (best < 0 || v > m) {
                            m = v;
                            best = hh * W + ww;
                        }
                    }
                }
                if ((first >= 0 ? first : best) == h * W + w)
                    g += d_y[((size_t)nc * P + p) * Q + q];
            }
        }
        d_x[i] = g;
    }
}

rv_status rv_cuda_maxpool3s2_forward(rv_ctx *ctx, float *y, const float *x, int N, int C, int H,
                                     int W)
{
    size_t n = (size_t)N * C * ((H + 1) / 2) * ((W + 1) / 2);
    RV_LAUNCH_1D(ctx, "maxpool3s2_forward", k_maxpool_fwd, n, y, x, H, W, n);
}

rv_status rv_cuda_maxpool3s2_backward(rv_ctx *ctx, float *d_x, const float *d_y, const float *x,
                                      const float *y, int N, int C, int H, int W)
{
    size_t n = (size_t)N * C * H * W;
    RV_LAUNCH_1D(ctx, "maxpool3s2_backward", k_maxpool_bwd, n, d_x, d_y, x, y, H, W, n);
}

/* ---------------------------------------------------------------- loss -------------------- */

/* *bad = 1 if any label is outside [0, K). */
__global__ static void k_check_labels(int *bad, const int32_t *labels, int N, int K)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < N; i += gridDim.x * blockDim.x)
        if (labels[i] < 0 || labels[i] >= K) *bad = 1;
}

/* One warp per sample: pred = first argmax; loss = m + log(sum exp(z - m)) - z[label] with m
 * the maximum; d_logits = (exp(z - lse) - onehot) / N. The sum and the logarithm are in double
 * as on the CPU (K is at most a thousand, so the cost is nothing). */
__global__ static void k_softmax_xent(float *losses, int32_t *pred, float *d_logits,
                                      const float *logits, const int32_t *labels, int N, int K)
{
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x & 31;
    if (row >= N) return;
    const float *z = logits + (size_t)row * K;
    int label = labels[row];
    float m = -INFINITY;
    int arg = K;
    for (int k = lane; k < K; k += 32) {
        if (arg == K || z[k] > m) {
            m = z[k];
            arg = k;
        }
    }
    /* Combine lanes: the larger value wins, the lower index on ties (first argmax). */
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_down_sync(0xffffffffu, m, o);
        int a2 = __shfl_down_sync(0xffffffffu, arg, o);
        if (a2 < K && (arg == K || m2 > m || (m2 == m && a2 < arg))) {
            m = m2;
            arg = a2;
        }
    }
    m = __shfl_sync(0xffffffffu, m, 0);
    arg = __shfl_sync(0xffffffffu, arg, 0);
    double s = 0.0;
    for (int k = lane; k < K; k += 32) s += exp((double)z[k] - (double)m);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    double lse = (double)m + log(__shfl_sync(0xffffffffu, s, 0));
    if (lane == 0) {
        losses[row] = (float)(lse - (double)z[label]);
        pred[row] = arg;
    }
    if (d_logits) {
        double inv_n = 1.0 / (double)N;
        float *d = d_logits + (size_t)row * K;
        for (int k = lane; k < K; k += 32)
            d[k] = (float)((exp((double)z[k] - lse) - (k == label ? 1.0 : 0.0)) * inv_n);
    }
}

rv_status rv_cuda_softmax_xent(rv_ctx *ctx, float *losses, int32_t *pred, float *d_logits,
                               const float *logits, const int32_t *labels, int N, int K)
{
    rv_cuda_state *st = rv_cuda_st(ctx);
    int bad = 0;
    /* Labels first, as on the CPU: a bad one leaves every output untouched. Reading the flag
     * back costs one small copy and a wait per step, the price of reporting RV_ERR_ARG rather
     * than silently training on garbage. */
    rv_status s = rv_cuda_check(ctx, cudaMemsetAsync(st->flag, 0, sizeof(int), st->stream),
                                "softmax_xent: cudaMemsetAsync");
    if (s != RV_OK) return s;
    k_check_labels<<<(N + 255) / 256, 256, 0, st->stream>>>(st->flag, labels, N, K);
    if ((s = rv_cuda_launched(ctx, "softmax_xent: label check")) != RV_OK) return s;
    s = rv_cuda_check(ctx, cudaMemcpyAsync(&bad, st->flag, sizeof(int), cudaMemcpyDeviceToHost,
                                           st->stream),
                      "softmax_xent: cudaMemcpyAsync");
    if (s != RV_OK) return s;
    s = rv_cuda_check(ctx, cudaStreamSynchronize(st->stream), "softmax_xent: synchronize");
    if (s != RV_OK) return s;
    if (bad)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "softmax_xent: a label is outside [0, %d)", K);
    k_softmax_xent<<<(N + 7) / 8, 256, 0, st->stream>>>(losses, pred, d_logits, logits, labels,
                                                         N, K);
    return rv_cuda_launched(ctx, "softmax_xent");
}

/* ---------------------------------------------------------------- optimizer --------------- */

template <typename I>
__global__ static void k_sgd(float *w, float *v, const float *g, size_t n, float lr,
                             float momentum, float wd)
{
    RV_FOR_EACH(I, i, n) {
        float vi = momentum * v[i] + (g[i] + wd * w[i]);
        v[i] = vi;
        w[i] = w[i] - lr * vi;
    }
}

rv_status rv_cuda_sgd_update(rv_ctx *ctx, float *w, float *v, const float *g, size_t n,
                             float lr, float momentum, float wd)
{
    RV_LAUNCH_1D(ctx, "sgd_update", k_sgd, n, w, v, g, n, lr, momentum, wd);
}

/* ---------------------------------------------------------------- linear helpers ---------- */

template <typename I>
__global__ static void k_bias_broadcast(float *y, const float *b, int O, size_t n)
{
    RV_FOR_EACH(I, i, n) y[i] = b[i % (I)O];
}

/* d_b[o] += sum over n of d_y[n, o], in row order (one thread per output). */
__global__ static void k_bias_grad(float *d_b, const float *d_y, int N, int O)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= O) return;
    float s = 0.0f;
    for (int n = 0; n < N; n++) s += d_y[(size_t)n * O + o];
    d_b[o] += s;
}

rv_status rv_cuda_bias_broadcast(rv_ctx *ctx, float *y, const float *b, int N, int O)
{
    size_t n = (size_t)N * O;
    RV_LAUNCH_1D(ctx, "linear_forward: bias", k_bias_broadcast, n, y, b, O, n);
}

rv_status rv_cuda_bias_grad(rv_ctx *ctx, float *d_b, const float *d_y, int N, int O)
{
    k_bias_grad<<<(O + 127) / 128, 128, 0, rv_cuda_st(ctx)->stream>>>(d_b, d_y, N, O);
    return rv_cuda_launched(ctx, "linear_backward: bias gradient");
}
