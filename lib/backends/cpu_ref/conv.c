/*
 * conv.c (reference CPU backend): 2-D convolution, NCHW float32, filters K x C x R x S, TF "SAME"
 * padding (conv.h):
 *
 *   out[n,k,p,q] = sum_{c,r,s} w[k,c,r,s] * in[n, c, p*stride - pad_top + r, q*stride - pad_left +
 * s]
 *
 * (out-of-range input pixels read as zero). The public wrappers that validate the arguments
 * and dispatch here are in lib/ops/conv.c.
 *
 * CPU method: im2col + cblas_sgemm. The columns of a group of g images form the matrix
 * col[C*R*S][g*P*Q] (row j = (c, r, s), column = (image, p, q)), so that
 *   forward:          out_g[K][g*P*Q]   = w[K][CRS] * col
 *   backward-data:    col               = w^T * d_out_g[K][g*P*Q], then col2im adds col into d_in
 *   backward-filter:  d_w[K][CRS]      += d_out_g * col^T
 * where out_g/d_out_g are the g images' outputs side by side (scattered to / gathered from
 * NCHW; with g = 1 the NCHW image is used in place). A 1x1 stride-1 conv is the GEMM on the
 * image itself, with no columns. For a stride-1 conv with an odd square kernel (every 3x3 conv
 * but the strided ones) backward-data is computed instead as the forward conv of d_out with the
 * flipped, transposed filters (see data_as_conv): an im2col copy replaces col2im's scatter.
 * Stride-1 im2col copies whole shifted planes (im2col_row_s1) rather than row by row.
 *
 * Threading: the work is split between OpenMP threads by ownership, never by reduction:
 * forward and backward-data hand out groups of images (each group computed entirely by one
 * thread with single-threaded OpenBLAS; the grouping depends on the shape only), backward-filter
 * gives each thread a range of the CRS columns of d_w (it builds only those rows of col, for
 * all images in order). So every output element is summed in a fixed order: forward and
 * backward-data are bit-identical whatever the thread count; backward-filter for a given
 * thread count. Keeping
 * each image's columns in one thread's cache (a group is sized to stay within ~1 MB) is what
 * makes this faster than one big multi-threaded GEMM over columns that spill to DRAM.
 * OpenBLAS is set to one thread for the duration of a call and restored afterwards.
 *
 * Workspace (rv_conv_workspace_bytes): per thread, the columns and the gathered/scattered
 * output of one group, (C*R*S + K) * g*P*Q floats (or the transposed conv's (K*R*S + C) *
 * g'*H*W if larger), plus K*C*R*S floats of transposed filters when backward-data runs as a
 * conv; zero for a 1x1 stride-1 conv.
 * Owns nothing: every buffer is passed in.
 */
#include "backends/cpu_ref/backend_cpu.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

/* OpenBLAS extensions (declared by recent cblas.h; repeated for headers that lack them). */
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

/* Target per-thread bytes of one group's columns: about one core's L2, so the GEMM reads the
 * columns back from cache rather than from DRAM. */
#define RV_CONV_COL_BUDGET_BYTES (1u << 20)
/* Columns per GEMM (g*P*Q) worth reaching for by grouping images: below a few hundred the
 * packing overhead of each sgemm call is no longer small against its arithmetic. */
#define RV_CONV_MIN_GEMM_COLS 512

static int is_pointwise(const rv_conv_desc *d)
{
    return d->R == 1 && d->S == 1 && d->stride == 1;
}

static int conv_threads(const rv_ctx *ctx)
{
    int t = rv_ctx_threads(ctx);
    if (t <= 0) t = omp_get_max_threads();
    return t < 1 ? 1 : t;
}

/* Images per group for columns of `rows` rows: enough columns for an efficient GEMM, within
 * the cache budget, at least one, at most the batch. It depends on the shape only, so the
 * grouping (and with it every forward and backward-data result) is the same whatever the
 * thread count. */
static int group_images_rows(const rv_conv_desc *d, int rows)
{
    size_t col_image = (size_t)rows * d->P * d->Q * sizeof(float);
    int pq = d->P * d->Q;
    size_t by_cache = RV_CONV_COL_BUDGET_BYTES / col_image;
    int by_cols = (RV_CONV_MIN_GEMM_COLS + pq - 1) / pq;
    int g = (size_t)by_cols < by_cache ? by_cols : (int)by_cache;
    if (g > d->N) g = d->N;
    return g < 1 ? 1 : g;
}

static int group_images(const rv_conv_desc *d)
{
    return group_images_rows(d, d->C * d->R * d->S);
}

/* Backward-data of a stride-1 conv with an odd kernel is itself a SAME conv, of d_out (K
 * channels) with the filters transposed and flipped, w_t[c,k,r,s] = w[k,c,R-1-r,S-1-s]
 * (P = H and the padding R-1-pad equals pad). Computing it that way replaces the
 * read-modify-write scatter of col2im, the zeroing of d_in and the zeroing of the 9x larger
 * column buffer inside sgemm by one more im2col copy. */
static int data_as_conv(const rv_conv_desc *d)
{
    return d->stride == 1 && d->R > 1 && d->R % 2 == 1 && d->R == d->S &&
           d->pad_top == (d->R - 1) / 2 && d->pad_left == (d->S - 1) / 2;
}

/* The descriptor of that transposed conv: input d_out[N,K,P,Q], output d_in[N,C,H,W]. */
static rv_conv_desc transposed_desc(const rv_conv_desc *d)
{
    rv_conv_desc t = *d;
    t.C = d->K; t.H = d->P; t.W = d->Q;
    t.K = d->C; t.P = d->H; t.Q = d->W;
    return t;
}

static size_t round16(size_t f)
{
    return (f + 15) / 16 * 16;
}

/* Floats of one thread's columns and gathered/scattered output for a group of g images,
 * rounded up to a 64-byte multiple so that every slice starts on a cache line (no false
 * sharing between threads). */
static size_t slice_floats(const rv_conv_desc *d, int g)
{
    return round16((size_t)(d->C * d->R * d->S + d->K) * (size_t)g * d->P * d->Q);
}

/* Workspace layout, the same for all three calls on a shape: the transposed filters (only
 * when backward-data runs as a conv), then one slice per thread, large enough for the
 * forward/backward-filter columns and for the transposed conv's columns. */
typedef struct {
    size_t wt_floats; /* transposed filters at the start, 0 if unused */
    size_t slice;     /* floats per thread */
} ws_layout;

static ws_layout layout_of(const rv_conv_desc *d)
{
    ws_layout l;
    l.wt_floats = 0;
    l.slice = slice_floats(d, group_images(d));
    if (data_as_conv(d)) {
        rv_conv_desc t = transposed_desc(d);
        size_t st = slice_floats(&t, group_images(&t));
        if (st > l.slice) l.slice = st;
        l.wt_floats = round16((size_t)d->K * d->C * d->R * d->S);
    }
    return l;
}

size_t rv_cpu_conv_workspace_bytes(rv_ctx *ctx, const rv_conv_desc *d)
{
    if (is_pointwise(d)) return 0;
    ws_layout l = layout_of(d);
    return (l.wt_floats + (size_t)conv_threads(ctx) * l.slice) * sizeof(float);
}

/* ---------------------------------------------------------------- im2col / col2im */

/* Output columns q in [*lo, *hi) whose input column q*stride - pad + s lies inside [0, W). */
static void valid_range(int Q, int W, int stride, int pad, int s, int *lo, int *hi)
{
    int a = pad - s; /* need q*stride >= a */
    int l = a <= 0 ? 0 : (a + stride - 1) / stride;
    int b = W + pad - s; /* need q*stride < b */
    int h = b <= 0 ? 0 : (b + stride - 1) / stride;
    if (h > Q) h = Q;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* One column row of one image for a stride-1 conv (then Q == W and P == H): dst[p*W + q] =
 * plane[(p + dr)*W + q + ds], zero where that pixel is outside the image. The valid rows form
 * one contiguous run of the plane shifted by dr*W + ds, so they are copied with one memcpy; the
 * |ds| entries per row that wrapped around a row end are then zeroed. The copy is clipped to
 * the plane, and what the clipping leaves out is exactly such wrapped entries. */
static void im2col_row_s1(float *dst, const float *plane, int H, int W, int dr, int ds)
{
    int p0 = dr < 0 ? -dr : 0, p1 = H - dr < H ? H - dr : H;
    if (p1 < p0) p1 = p0;
    if (p0 > 0) memset(dst, 0, (size_t)p0 * W * sizeof(float));
    if (p1 < H) memset(dst + (size_t)p1 * W, 0, (size_t)(H - p1) * W * sizeof(float));
    if (p1 == p0) return;
    ptrdiff_t off = (ptrdiff_t)dr * W + ds, f0 = (ptrdiff_t)p0 * W, f1 = (ptrdiff_t)p1 * W;
    ptrdiff_t lo = f0 > -off ? f0 : -off, hi = f1 < (ptrdiff_t)H * W - off ? f1 : (ptrdiff_t)H * W - off;
    if (hi > lo) memcpy(dst + lo, plane + lo + off, (size_t)(hi - lo) * sizeof(float));
    if (ds > 0) {
        for (int p = p0; p < p1; p++)
            for (int q = W - ds > 0 ? W - ds : 0; q < W; q++) dst[(size_t)p * W + q] = 0.0f;
    } else if (ds < 0) {
        for (int p = p0; p < p1; p++)
            for (int q = 0; q < -ds && q < W; q++) dst[(size_t)p * W + q] = 0.0f;
    }
}

/*
 * Rows j in [j0, j1) of the columns of images in[0..g-1] (consecutive NCHW images) into
 * col[(j - j0) * ld + i*P*Q + p*Q + q], with ld = g*P*Q.
 */
static void im2col(float *col, const float *in, int g, int j0, int j1, const rv_conv_desc *d)
{
    const int H = d->H, W = d->W, P = d->P, Q = d->Q, st = d->stride, RS = d->R * d->S;
    const size_t img = (size_t)d->C * H * W, pq = (size_t)P * Q, ld = (size_t)g * pq;
    for (int j = j0; j < j1; j++) {
        int c = j / RS, r = (j % RS) / d->S, s = j % d->S;
        if (st == 1) {
            for (int i = 0; i < g; i++)
                im2col_row_s1(col + (size_t)(j - j0) * ld + i * pq,
                              in + i * img + (size_t)c * H * W, H, W, r - d->pad_top,
                              s - d->pad_left);
            continue;
        }
        int qlo, qhi;
        valid_range(Q, W, st, d->pad_left, s, &qlo, &qhi);
        for (int i = 0; i < g; i++) {
            const float *plane = in + i * img + (size_t)c * H * W;
            float *dst = col + (size_t)(j - j0) * ld + i * pq;
            for (int p = 0; p < P; p++, dst += Q) {
                int ih = p * st - d->pad_top + r;
                if (ih < 0 || ih >= H) {
                    memset(dst, 0, (size_t)Q * sizeof(float));
                    continue;
                }
                const float *src = plane + (size_t)ih * W - d->pad_left + s;
                for (int q = 0; q < qlo; q++) dst[q] = 0.0f;
                for (int q = qlo; q < qhi; q++) dst[q] = src[q * st];
                for (int q = qhi; q < Q; q++) dst[q] = 0.0f;
            }
        }
    }
}

/* The adjoint of im2col for all rows: d_in[i] += the columns of image i, for i < g. Rows are
 * visited in order, so each input pixel sums its contributions in a fixed order. */
static void col2im(float *d_in, const float *col, int g, const rv_conv_desc *d)
{
    const int H = d->H, W = d->W, P = d->P, Q = d->Q, st = d->stride, RS = d->R * d->S;
    const int CRS = d->C * RS;
    const size_t img = (size_t)d->C * H * W, pq = (size_t)P * Q, ld = (size_t)g * pq;
    for (int i = 0; i < g; i++) {
        for (int j = 0; j < CRS; j++) {
            int c = j / RS, r = (j % RS) / d->S, s = j % d->S;
            int qlo, qhi;
            valid_range(Q, W, st, d->pad_left, s, &qlo, &qhi);
            float *plane = d_in + i * img + (size_t)c * H * W;
            const float *srow = col + (size_t)j * ld + i * pq;
            for (int p = 0; p < P; p++, srow += Q) {
                int ih = p * st - d->pad_top + r;
                if (ih < 0 || ih >= H) continue;
                float *dst = plane + (size_t)ih * W - d->pad_left + s;
                if (st == 1) {
                    /* dst and srow never overlap (d_in vs the workspace). */
#pragma omp simd
                    for (int q = qlo; q < qhi; q++) dst[q] += srow[q];
                } else {
                    for (int q = qlo; q < qhi; q++) dst[q * st] += srow[q];
                }
            }
        }
    }
}

/* out_g[K][g*P*Q] -> g NCHW images, overwriting (beta 0) or adding (beta 1); gather_out is
 * the reverse. */
static void scatter_out(float *out, const float *tmp, int g, const rv_conv_desc *d, float beta)
{
    const size_t pq = (size_t)d->P * d->Q, ld = (size_t)g * pq;
    for (int i = 0; i < g; i++)
        for (int k = 0; k < d->K; k++) {
            float *o = out + ((size_t)i * d->K + k) * pq;
            const float *t = tmp + k * ld + i * pq;
            if (beta == 0.0f) {
                memcpy(o, t, pq * sizeof(float));
            } else {
#pragma omp simd
                for (size_t e = 0; e < pq; e++) o[e] += t[e];
            }
        }
}

static void gather_out(float *tmp, const float *out, int g, const rv_conv_desc *d)
{
    const size_t pq = (size_t)d->P * d->Q, ld = (size_t)g * pq;
    for (int i = 0; i < g; i++)
        for (int k = 0; k < d->K; k++)
            memcpy(tmp + k * ld + i * pq, out + ((size_t)i * d->K + k) * pq, pq * sizeof(float));
}

/* ---------------------------------------------------------------- CPU implementation */

/* OpenBLAS runs single-threaded inside our parallel regions, so that each thread's sgemm calls
 * run on that thread alone (no oversubscription of the cores, a fixed summation order); the
 * caller's setting is restored afterwards. */
static int blas_single_begin(void)
{
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
    return saved;
}

static void blas_single_end(int saved)
{
    if (saved != 1) openblas_set_num_threads(saved);
}

/* Contiguous share [*lo, *hi) of n items for thread t of nt. */
static void share(int n, int t, int nt, int *lo, int *hi)
{
    *lo = (int)((int64_t)n * t / nt);
    *hi = (int)((int64_t)n * (t + 1) / nt);
}

/* out = beta * out + conv(in, w) for a non-pointwise shape d, beta 0 or 1, with per-thread
 * slices of `slice` floats at ws. Groups of images are handed out dynamically (a thread
 * slowed down by another process does not hold the others up); each group is computed by one
 * thread in a fixed order, so the result does not depend on which thread takes it. */
static void conv_groups(rv_ctx *ctx, float *out, const float *in, const float *w,
                        const rv_conv_desc *d, float beta, float *ws, size_t slice)
{
    const int K = d->K, CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    const size_t in_img = (size_t)d->C * d->H * d->W, out_img = (size_t)K * PQ;
    const int g_max = group_images(d), n_groups = (d->N + g_max - 1) / g_max;
    int nthr = conv_threads(ctx), saved = blas_single_begin();
#pragma omp parallel num_threads(nthr)
    {
        float *col = ws + omp_get_thread_num() * slice;
        float *tmp = col + (size_t)CRS * g_max * PQ;
#pragma omp for schedule(dynamic, 1)
        for (int grp = 0; grp < n_groups; grp++) {
            int n = grp * g_max, g = d->N - n < g_max ? d->N - n : g_max;
            im2col(col, in + n * in_img, g, 0, CRS, d);
            if (g == 1) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, PQ, CRS, 1.0f, w, CRS,
                            col, PQ, beta, out + n * out_img, PQ);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, g * PQ, CRS, 1.0f, w,
                            CRS, col, g * PQ, 0.0f, tmp, g * PQ);
                scatter_out(out + n * out_img, tmp, g, d, beta);
            }
        }
    }
    blas_single_end(saved);
}

/* A 1x1 stride-1 conv is one GEMM per image on the image itself (no columns):
 *   dst_n[M][PQ] = op(w) * src_n[Kin][PQ] + beta * dst_n, op(w) = w (forward) or w^T
 *   (backward-data), w stored K x CRS either way; images are handed out to threads whole. */
static void pointwise_gemm(rv_ctx *ctx, const rv_conv_desc *d, CBLAS_TRANSPOSE op_w, int M,
                           int Kin, const float *w, const float *src, size_t src_img,
                           float *dst, size_t dst_img, float beta)
{
    const int CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    int nthr = conv_threads(ctx), saved = blas_single_begin();
#pragma omp parallel num_threads(nthr)
    {
#pragma omp for schedule(dynamic, 1)
        for (int n = 0; n < d->N; n++)
            cblas_sgemm(CblasRowMajor, op_w, CblasNoTrans, M, PQ, Kin, 1.0f, w, CRS,
                        src + n * src_img, PQ, beta, dst + n * dst_img, PQ);
    }
    blas_single_end(saved);
}

rv_status rv_cpu_conv_forward(rv_ctx *ctx, float *out, const float *in, const float *w,
                              const rv_conv_desc *d, void *ws)
{
    const int K = d->K, CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    const size_t in_img = (size_t)d->C * d->H * d->W, out_img = (size_t)K * PQ;
    if (is_pointwise(d)) {
        pointwise_gemm(ctx, d, CblasNoTrans, K, CRS, w, in, in_img, out, out_img, 0.0f);
        return RV_OK;
    }
    ws_layout l = layout_of(d);
    conv_groups(ctx, out, in, w, d, 0.0f, (float *)ws + l.wt_floats, l.slice);
    return RV_OK;
}

rv_status rv_cpu_conv_backward_data(rv_ctx *ctx, float *d_in, const float *d_out,
                                    const float *w, const rv_conv_desc *d, float beta, void *ws)
{
    const int K = d->K, CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    const size_t in_img = (size_t)d->C * d->H * d->W, out_img = (size_t)K * PQ;
    if (is_pointwise(d)) {
        pointwise_gemm(ctx, d, CblasTrans, CRS, K, w, d_out, out_img, d_in, in_img, beta);
        return RV_OK;
    }
    ws_layout l = layout_of(d);
    if (data_as_conv(d)) {
        /* w_t[c][k][r][s] = w[k][c][R-1-r][S-1-s]: a few thousand floats, one thread. */
        float *wt = (float *)ws;
        const int C = d->C, R = d->R, S = d->S, RS = R * S;
        for (int c = 0; c < C; c++)
            for (int k = 0; k < K; k++)
                for (int rs = 0; rs < RS; rs++)
                    wt[((size_t)c * K + k) * RS + rs] = w[((size_t)k * C + c) * RS + RS - 1 - rs];
        rv_conv_desc t = transposed_desc(d);
        conv_groups(ctx, d_in, d_out, wt, &t, beta, (float *)ws + l.wt_floats, l.slice);
        return RV_OK;
    }
    const int g_max = group_images(d), n_groups = (d->N + g_max - 1) / g_max;
    const size_t slice = l.slice;
    int nthr = conv_threads(ctx), saved = blas_single_begin();
#pragma omp parallel num_threads(nthr)
    {
        /* Groups are handed out dynamically, each computed by one thread (see conv_groups). */
        float *col = (float *)ws + l.wt_floats + omp_get_thread_num() * slice;
        float *tmp = col + (size_t)CRS * g_max * PQ;
#pragma omp for schedule(dynamic, 1)
        for (int grp = 0; grp < n_groups; grp++) {
            int n = grp * g_max, g = d->N - n < g_max ? d->N - n : g_max;
            const float *src = d_out + n * out_img;
            if (g > 1) {
                gather_out(tmp, src, g, d);
                src = tmp;
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CRS, g * PQ, K, 1.0f, w, CRS,
                        src, g * PQ, 0.0f, col, g * PQ);
            /* beta is 0 or 1 (validated): overwrite means start from zero, not from what the
             * buffer held, which may be garbage or NaN. */
            if (beta == 0.0f) memset(d_in + n * in_img, 0, g * in_img * sizeof(float));
            col2im(d_in + n * in_img, col, g, d);
        }
    }
    blas_single_end(saved);
    return RV_OK;
}

rv_status rv_cpu_conv_backward_filter(rv_ctx *ctx, float *d_w, const float *d_out,
                                      const float *in, const rv_conv_desc *d, void *ws)
{
    const int K = d->K, CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    const size_t in_img = (size_t)d->C * d->H * d->W, out_img = (size_t)K * PQ;
    if (is_pointwise(d)) {
        /* d_w[:, c0:c1] += d_out_n * in_n[c0:c1]^T, images in order. */
        int nthr = conv_threads(ctx), saved = blas_single_begin();
#pragma omp parallel num_threads(nthr)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            int c0, c1;
            share(CRS, t, nt, &c0, &c1);
            for (int n = 0; n < d->N && c1 > c0; n++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, c1 - c0, PQ, 1.0f,
                            d_out + n * out_img, PQ, in + n * in_img + (size_t)c0 * PQ, PQ, 1.0f,
                            d_w + c0, CRS);
        }
        blas_single_end(saved);
        return RV_OK;
    }
    const int g_max = group_images(d);
    ws_layout l = layout_of(d);
    int nthr = conv_threads(ctx), saved = blas_single_begin();
#pragma omp parallel num_threads(nthr)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        float *col = (float *)ws + l.wt_floats + t * l.slice;
        float *tmp = col + (size_t)CRS * g_max * PQ;
        int j0, j1;
        share(CRS, t, nt, &j0, &j1);
        for (int n = 0; n < d->N && j1 > j0; n += g_max) {
            int g = d->N - n < g_max ? d->N - n : g_max;
            im2col(col, in + n * in_img, g, j0, j1, d);
            const float *dy = d_out + n * out_img;
            if (g > 1) {
                gather_out(tmp, dy, g, d);
                dy = tmp;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, j1 - j0, g * PQ, 1.0f, dy,
                        g * PQ, col, g * PQ, 1.0f, d_w + j0, CRS);
        }
    }
    blas_single_end(saved);
    return RV_OK;
}
