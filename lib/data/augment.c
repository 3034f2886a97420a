/*
 * augment.c: the mean image, the per-image crop/flip augmentation (augment.h) and the batch
 * filler the training loop calls every step (rv_data_fill_batch, data.h).
 *
 *   x(c, y, x) = P(c, y + dy, x' + dx),  x' = x or W - 1 - x,  P = zero-padded (img - mean)
 *
 * Owns nothing: every buffer is the caller's.
 */
#include <revnet/augment.h>
#include <revnet/data.h>

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void rv_augment_crop_flip(float *out, const uint8_t *img, const float *mean, int C, int H,
                          int W, int pad, int dy, int dx, int flip)
{
    /* Output column x reads source column sx = x + dx - pad (no flip) or W - 1 - x + dx - pad
     * (flip). The columns whose source lies inside the image form one contiguous range
     * [x_lo, x_hi); everything outside it is the zero border. */
    int shift = dx - pad;
    int x_lo, x_hi;
    if (!flip) {
        x_lo = shift < 0 ? -shift : 0;
        x_hi = shift > 0 ? W - shift : W;
    } else {
        x_lo = shift > 0 ? shift : 0;
        x_hi = shift < 0 ? W + shift : W;
    }
    for (int c = 0; c < C; c++) {
        for (int y = 0; y < H; y++) {
            float *o = out + ((size_t)c * H + y) * W;
            int sy = y + dy - pad;
            if (sy < 0 || sy >= H) {
                memset(o, 0, (size_t)W * sizeof *o);
                continue;
            }
            const uint8_t *src = img + ((size_t)c * H + sy) * W;
            const float *m = mean + ((size_t)c * H + sy) * W;
            for (int x = 0; x < x_lo; x++) o[x] = 0.0f;
            if (!flip) {
                for (int x = x_lo; x < x_hi; x++) o[x] = (float)src[x + shift] - m[x + shift];
            } else {
                for (int x = x_lo; x < x_hi; x++) {
                    int sx = W - 1 - x + shift;
                    o[x] = (float)src[sx] - m[sx];
                }
            }
            for (int x = x_hi; x < W; x++) o[x] = 0.0f;
        }
    }
}

rv_status rv_data_mean_image(rv_ctx *ctx, const rv_dataset *ds, float *mean_out)
{
    if (!ds || !mean_out || !ds->pixels)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_data_mean_image: NULL dataset or output");
    if (ds->n < 1 || ds->c < 1 || ds->h < 1 || ds->w < 1)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_data_mean_image: empty dataset (n=%d)", ds->n);
    long n_pix = (long)ds->c * ds->h * ds->w;
    const uint8_t *px = ds->pixels;
    long n = ds->n;
    uint64_t *sum = calloc((size_t)n_pix, sizeof *sum);
    if (!sum)
        return rv_ctx_fail(ctx, RV_ERR_NOMEM, "rv_data_mean_image: %ld sums", n_pix);
    /* Integer sums are exact (at most 255 * 2^31 fits in 64 bits), so the mean is the same
     * for any thread count. Each thread owns a contiguous block of pixels and walks the images
     * in order, reading its block of each image sequentially (the image-strided walk per pixel
     * was 10x slower); no reduction crosses threads. */
    #pragma omp parallel
    {
        int n_thr = 1, t = 0;
#ifdef _OPENMP
        n_thr = omp_get_num_threads();
        t = omp_get_thread_num();
#endif
        long p0 = n_pix * t / n_thr, p1 = n_pix * (t + 1) / n_thr;
        for (long i = 0; i < n; i++) {
            const uint8_t *img = px + i * n_pix;
            for (long p = p0; p < p1; p++) sum[p] += img[p];
        }
    }
    for (long p = 0; p < n_pix; p++) mean_out[p] = (float)((double)sum[p] / (double)n);
    free(sum);
    return RV_OK;
}

rv_status rv_data_fill_batch(rv_ctx *ctx, const rv_dataset *ds, const float *mean,
                             const int32_t *order, int start, int B, int augment,
                             rv_rng_state *rng, float *x_out, int32_t *y_out)
{
    if (!ds || !ds->pixels || !ds->labels || !mean || !x_out || !y_out)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_data_fill_batch: NULL dataset, mean or output");
    if (B < 1)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_data_fill_batch: batch size %d < 1", B);
    if (start < 0 || start > ds->n - B)
        return rv_ctx_fail(ctx, RV_ERR_ARG,
                           "rv_data_fill_batch: images %d..%d are outside the %d of %s",
                           start, start + B - 1, ds->n, ds->name);
    if (augment && !rng)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_data_fill_batch: augmentation needs an rng");

    for (int i = 0; i < B; i++) {
        int32_t k = order ? order[start + i] : start + i;
        if (k < 0 || k >= ds->n)
            return rv_ctx_fail(ctx, RV_ERR_ARG,
                               "rv_data_fill_batch: order[%d] = %d is outside [0, %d)",
                               start + i, (int)k, ds->n);
    }

    /* Draw every random number first, in batch order, so the batch depends only on the rng
     * state and not on how the images are split among threads. */
    uint8_t draws_small[3 * 256];
    uint8_t *draws = draws_small;
    if (augment) {
        if (B > 256) {
            draws = malloc((size_t)3 * B);
            if (!draws)
                return rv_ctx_fail(ctx, RV_ERR_NOMEM, "rv_data_fill_batch: %d bytes", 3 * B);
        }
        for (int i = 0; i < B; i++) {
            draws[3 * i + 0] = (uint8_t)rv_rng_below(rng, 2 * RV_AUGMENT_PAD + 1);
            draws[3 * i + 1] = (uint8_t)rv_rng_below(rng, 2 * RV_AUGMENT_PAD + 1);
            draws[3 * i + 2] = (uint8_t)rv_rng_below(rng, 2);
        }
    }

    size_t img_elems = (size_t)ds->c * ds->h * ds->w;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < B; i++) {
        int32_t k = order ? order[start + i] : start + i;
        const uint8_t *img = ds->pixels + (size_t)k * img_elems;
        float *o = x_out + (size_t)i * img_elems;
        if (augment) {
            rv_augment_crop_flip(o, img, mean, ds->c, ds->h, ds->w, RV_AUGMENT_PAD,
                                 draws[3 * i], draws[3 * i + 1], draws[3 * i + 2]);
        } else {
            for (size_t p = 0; p < img_elems; p++) o[p] = (float)img[p] - mean[p];
        }
        y_out[i] = ds->labels[k];
    }
    if (draws != draws_small) free(draws);
    return RV_OK;
}
