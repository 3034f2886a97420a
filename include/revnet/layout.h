/*
 * layout.h: how a backend lays out activation tensors, and conversions to and from plain NCHW.
 *
 * The reference CPU backend and the CUDA backend keep activations in plain NCHW. The fast CPU
 * backend keeps them channel-blocked (nChw16c on AVX-512, nChw8c on AVX2: N x ceil(C/B) x H x
 * W x B, channel c of the block at position c mod B), with the channel count padded to a whole
 * block and the padding channels holding zeros. Tensors of at most 4 channels (the input
 * images) stay plain on every backend. Code that sizes activation buffers asks rv_act_floats;
 * code that reads or writes activations from the host goes through rv_act_upload and
 * rv_act_download. Parameters, gradients and the classifier's inputs are always plain.
 */
#ifndef RV_LAYOUT_H
#define RV_LAYOUT_H

#include <stddef.h>
#include "context.h"

/* Channels an activation of C channels occupies on ctx's backend (>= C). */
int rv_act_channels(const rv_ctx *ctx, int C);

/* Floats of an N x C x HW activation on ctx's backend: N * rv_act_channels(C) * HW. */
size_t rv_act_floats(const rv_ctx *ctx, int N, int C, int HW);

/* dst (backend memory, rv_act_floats) = src (host, plain NCHW, N*C*HW floats), padding
 * channels zeroed. RV_ERR_ARG for NULL buffers or non-positive sizes. */
rv_status rv_act_upload(rv_ctx *ctx, float *dst, const float *src_nchw, int N, int C, int HW);

/* dst (host, plain NCHW, N*C*HW floats) = src (backend memory in the backend's layout). */
rv_status rv_act_download(rv_ctx *ctx, float *dst_nchw, const float *src, int N, int C,
                          int HW);

#endif
