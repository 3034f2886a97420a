/*
 * cuda_compare.h: the buffers and comparisons of the op-level CUDA tests (test_cuda.c,
 * test_cuda_numerics.c): device copies of host arrays and back, seeded inputs, freeing both
 * sides' buffers, and the GPU-against-CPU comparison max |gpu - cpu| <= tol * max(max |cpu|, 1).
 *
 * Every helper takes the context whose stream runs the ops on the buffer: a download through
 * another context's stream would not wait for that work.
 */
#ifndef RV_TEST_CUDA_COMPARE_H
#define RV_TEST_CUDA_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include <revnet/context.h>

/* A device copy of n host floats on context g (n uninitialised floats when h is NULL). */
float *dev(rv_ctx *g, const float *h, size_t n);
/* Downloads n floats of context g into a new host array, after g's queued work. */
float *host(rv_ctx *g, const float *d, size_t n);
/* n seeded uniform floats in [lo, hi); a copy of n floats. Both malloc'd. */
float *uniform(size_t n, uint64_t seed, float lo, float hi);
float *clone(const float *x, size_t n);
/* Frees the n_dev device buffers dev of context g and the n_host host buffers host. */
void free_bufs(rv_ctx *g, float *const *dev, size_t n_dev, float *const *host, size_t n_host);
/* Expects max |g - c| <= tol * max(max |c|, 1) and every GPU value finite. */
void expect_close(const char *what, const float *g, const float *c, size_t n, double tol);
/* The same for a device tensor of context g. */
void expect_dev_close(rv_ctx *g, const char *what, const float *d, const float *c, size_t n,
                      double tol);

#endif
