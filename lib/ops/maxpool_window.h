/*
 * maxpool_window.h (internal): the windows of the 3x3 stride-2 max pool with TensorFlow's SAME
 * padding (pool.h), for the CPU backends' loops (the reference and the fast one pool over the
 * same elements by construction; each keeps its own loop over them).
 *
 * Output (p, q) covers input rows 2p - top .. 2p - top + 2 and columns 2q - left .. 2q - left
 * + 2, where SAME padding puts top = pad_total / 2, pad_total = max(2 (P - 1) + 3 - H, 0): 0
 * for even H, 1 for odd H (likewise left). Padding counts as -inf, so a window is the part of
 * it inside the input, never empty.
 */
#ifndef RV_MAXPOOL_WINDOW_H
#define RV_MAXPOOL_WINDOW_H

#include <revnet/pool.h>

/* The pool over an H x W plane: its P x Q output and the padding before the first row and
 * the first column. */
typedef struct {
    int H, W, P, Q, top, left;
} rv_maxpool_geom;

/* Input rows [h_lo, h_hi) and columns [w_lo, w_hi) of one output's window. */
typedef struct {
    int h_lo, h_hi, w_lo, w_hi;
} rv_maxpool_window;

static inline int rv_maxpool_pad_front(int size, int out)
{
    int total = 2 * (out - 1) + 3 - size;
    return total > 0 ? total / 2 : 0;
}

static inline rv_maxpool_geom rv_maxpool_geom_of(int H, int W)
{
    rv_maxpool_geom g = { H, W, 0, 0, 0, 0 };
    rv_maxpool3s2_out(H, W, &g.P, &g.Q);
    g.top = rv_maxpool_pad_front(H, g.P);
    g.left = rv_maxpool_pad_front(W, g.Q);
    return g;
}

static inline rv_maxpool_window rv_maxpool_window_of(const rv_maxpool_geom *g, int p, int q)
{
    int h0 = 2 * p - g->top, w0 = 2 * q - g->left;
    rv_maxpool_window win = { h0 > 0 ? h0 : 0, h0 + 3 < g->H ? h0 + 3 : g->H,
                              w0 > 0 ? w0 : 0, w0 + 3 < g->W ? w0 + 3 : g->W };
    return win;
}

#endif
