/*
 * ref_ops.h: helpers shared by the op tests (test_batchnorm.c, test_ops.c, and for their
 * contexts and inputs test_conv.c and the CUDA tests): a seeded generator, naive
 * double-precision references for the ops, central finite differences, comparisons, and the
 * check of a refused call.
 *
 * The references are written for clarity, not speed, and independently of the library code
 * (different loop order, different formulation where there is one), so a shared mistake is
 * unlikely.
 */
#ifndef RV_TEST_REF_OPS_H
#define RV_TEST_REF_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <revnet/context.h>

/* A CPU context; the test fails (with the reason) if it cannot be made. */
rv_ctx *ref_cpu_ctx(void);
/* A CPU context with a fixed OpenMP/BLAS thread count (0: the default, as ref_cpu_ctx). */
rv_ctx *ref_cpu_ctx_threads(int n_threads);

/* A bad call returns RV_ERR_ARG and leaves a message that names the op (opname). For use in a
 * Criterion test. */
#define EXPECT_ARG(ctx, call, opname)                                                    \
    do {                                                                                 \
        rv_ctx_clear_error(ctx);                                                         \
        cr_expect_eq((call), RV_ERR_ARG, "%s should be refused", #call);                 \
        cr_expect_not_null(strstr(rv_ctx_message(ctx), opname), "message: '%s'",         \
                           rv_ctx_message(ctx));                                         \
    } while (0)

/* Deterministic uniform floats in [lo, hi) from a 64-bit seed (splitmix64). */
void ref_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
/* Like ref_fill_uniform, but every value has |v| >= gap, so a kink at 0 (ReLU) is at least
 * gap away from every sample. */
void ref_fill_away_from_zero(float *x, size_t n, uint64_t seed, float hi, float gap);
/* Distinct values: a shuffled grid lo, lo + step, ... (no ties, for max pooling). */
void ref_fill_distinct(float *x, size_t n, uint64_t seed, float lo, float step);
/* malloc that fails the test instead of returning NULL. */
float *ref_alloc(size_t n);

/* max_i |a_i - b_i| */
double ref_max_abs_diff(const float *a, const double *b, size_t n);
double ref_max_abs_diff_ff(const float *a, const float *b, size_t n);

/* sum_i r_i y_i in double: the scalar "loss" whose gradient with respect to y is r. */
double ref_dot(const float *y, const float *r, size_t n);

/*
 * Gradient check by central differences. f evaluates a scalar loss in double from the current
 * contents of p. For every stride-th element of p[n], the difference quotient
 * (f(p + h e_i) - f(p - h e_i)) / (2h) is compared with grad[i]; the worst ratio
 * |fd - grad| / (atol + rtol |fd|) is returned (<= 1 passes) and its index stored in *worst.
 * p is restored exactly.
 */
typedef double (*ref_loss_fn)(void *ud);
double ref_grad_check(ref_loss_fn f, void *ud, float *p, const float *grad, size_t n,
                      size_t stride, float h, double atol, double rtol, size_t *worst);

/* Batch norm with batch statistics, two passes in double: y, mean, biased var per channel. */
void ref_bn_forward(double *y, double *mean, double *var, const float *x, const float *gamma,
                    const float *beta, int N, int C, int HW, double eps);
/* Batch norm backward from the textbook chain rule in double (batch statistics). */
void ref_bn_backward(double *d_x, double *d_gamma, double *d_beta, const float *d_y,
                     const float *x, const float *gamma, int N, int C, int HW, double eps);

/* 3x3 stride-2 max pooling with TensorFlow SAME padding, by explicit -inf padding. */
void ref_maxpool3s2(double *y, const float *x, int N, int C, int H, int W);
/* y[N,O] = x W^T + b in double. */
void ref_linear(double *y, const float *x, const float *w, const float *b, int N, int I, int O);
/* Per-sample softmax cross-entropy in double, by the definition -log softmax(z)[label]
 * computed with a max shift (so huge logits are allowed). */
void ref_xent(double *loss, const float *z, const int32_t *labels, int N, int K);

#endif
