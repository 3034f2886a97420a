/*
 * augment.h: the per-image training augmentation of the paper's recipe (PAPER.md): mean
 * subtraction, zero padding, crop, horizontal flip, fused into one pass.
 *
 * With P the zero-padded normalized image, P(c, u, v) = img(c, u - pad, v - pad) - mean(c, u -
 * pad, v - pad) inside the image and 0 in the border, the output is
 *   out(c, y, x) = P(c, y + dy, x + dx)              without flip
 *   out(c, y, x) = P(c, y + dy, (W - 1 - x) + dx)    with flip (crop first, then mirror)
 * so dy = dx = pad and flip = 0 is plain mean subtraction, and dy = dx = pad with flip = 1 is
 * the mirrored image.
 *
 * Owns nothing.
 */
#ifndef RV_AUGMENT_H
#define RV_AUGMENT_H

#include <stdint.h>

/* Padding of the paper's recipe: 32x32 -> 36x36, crops at offsets 0..4. */
#define RV_AUGMENT_PAD 2

/*
 * Writes one augmented image (C*H*W floats, CHW) into out from img (C*H*W bytes, CHW) and mean
 * (C*H*W floats). Preconditions (the caller checks them; this function cannot fail):
 * pointers valid, C, H, W >= 1, pad >= 0, 0 <= dy, dx <= 2 * pad, flip 0 or 1.
 */
void rv_augment_crop_flip(float *out, const uint8_t *img, const float *mean, int C, int H,
                          int W, int pad, int dy, int dx, int flip);

#endif
