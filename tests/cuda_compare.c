/* cuda_compare.c: see cuda_compare.h. */
#include "cuda_compare.h"

#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_fixture.h"
#include "ref_ops.h"

/*
 * Every device buffer is allocated, filled and read back through the context whose stream runs
 * the ops on it: a CUDA context queues its work on its own non-blocking stream, and a download
 * through another context's stream would not wait for that work (a race that passes or fails
 * by timing). So the helpers take the context.
 */

/* A device copy of n host floats (or n uninitialised floats when h is NULL) on context g. */
float *dev(rv_ctx *g, const float *h, size_t n)
{
    void *p = NULL;
    OK(g, rv_ctx_alloc(g, &p, n * sizeof(float)));
    if (h) OK(g, rv_ctx_upload(g, p, h, n * sizeof(float)));
    return p;
}

/* Downloads n floats of context g into a new host array (after g's queued work). */
float *host(rv_ctx *g, const float *d, size_t n)
{
    float *h = ref_alloc(n);
    OK(g, rv_ctx_download(g, h, d, n * sizeof(float)));
    return h;
}

void free_bufs(rv_ctx *g, float *const *dev, size_t n_dev, float *const *host, size_t n_host)
{
    for (size_t i = 0; i < n_dev; i++) rv_ctx_free(g, dev[i]);
    for (size_t i = 0; i < n_host; i++) free(host[i]);
}

float *uniform(size_t n, uint64_t seed, float lo, float hi)
{
    float *x = ref_alloc(n);
    ref_fill_uniform(x, n, seed, lo, hi);
    return x;
}

float *clone(const float *x, size_t n)
{
    float *y = ref_alloc(n);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* max |g - c| <= tol * max(max |c|, 1), and every GPU value finite. */
void expect_close(const char *what, const float *g, const float *c, size_t n, double tol)
{
    double err = 0.0, scale = 1.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            cr_expect(0, "%s: GPU value %zu is %g", what, i, (double)g[i]);
            return;
        }
        double e = fabs((double)g[i] - (double)c[i]);
        if (e > err) {
            err = e;
            worst = i;
        }
        if (fabs((double)c[i]) > scale) scale = fabs((double)c[i]);
    }
    cr_expect(err <= tol * scale,
              "%s: max |gpu - cpu| = %.3g at %zu (gpu %.9g, cpu %.9g), allowed %.3g", what, err,
              worst, (double)g[worst], (double)c[worst], tol * scale);
}

/* Downloads a device tensor of context g and compares it with the CPU result. */
void expect_dev_close(rv_ctx *g, const char *what, const float *d, const float *c,
                             size_t n, double tol)
{
    float *h = host(g, d, n);
    expect_close(what, h, c, n, tol);
    free(h);
}

