/*
 * ref_conv.h (tests): naive direct convolution in double precision, the reference the CPU
 * im2col + GEMM convolution is checked against. Same layouts and padding as conv.h (NCHW,
 * filters K x C x R x S, the descriptor's pad_top / pad_left); every output is overwritten.
 * Passing element-wise absolute values of the inputs gives sum |terms| for each output,
 * the scale of its rounding error. Also the random inputs and their absolute values that the
 * convolution tests (test_conv.c, test_fast.c) feed both sides.
 */
#ifndef RV_REF_CONV_H
#define RV_REF_CONV_H

#include <stddef.h>
#include <stdint.h>

#include <revnet/conv.h>

/* out[N,K,P,Q] = sum_{c,r,s} w[k,c,r,s] * in[n,c,p*st-pt+r,q*st-pl+s]. */
void rv_ref_conv_forward(double *out, const float *in, const float *w, const rv_conv_desc *d);
/* d_in[N,C,H,W] = the adjoint of the forward applied to d_out. */
void rv_ref_conv_backward_data(double *d_in, const float *d_out, const float *w,
                               const rv_conv_desc *d);
/* d_w[K,C,R,S] = sum over n,p,q of d_out[n,k,p,q] * in[n,c,p*st-pt+r,q*st-pl+s]. */
void rv_ref_conv_backward_filter(double *d_w, const float *d_out, const float *in,
                                 const rv_conv_desc *d);

/* n floats uniform in [-1, 1) from a 64-bit LCG whose state the caller keeps (each test file
 * seeds its own); malloc'd with one spare float, the test fails if it cannot be. */
float *ref_conv_rand_buf(uint64_t *state, size_t n);
/* |x[i]| for n floats, malloc'd likewise: the inputs that give sum |terms|. */
float *ref_conv_abs_copy(const float *x, size_t n);

#endif
