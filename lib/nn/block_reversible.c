/*
 * block_reversible.c: the RevNet units (PAPER.md, "The idea").
 *
 * Reversible unit, on halves x = (x1, x2):
 *     y1 = x1 + F(x2),   y2 = x2 + G(y1)
 * and its inverse x2 = y2 - G(y1), x1 = y1 - F(x2). The backward pass of Algorithm 1:
 *     dz1 = dy1 + (dG/dy1)^T dy2,  dx2 = dy2 + (dF/dx2)^T dz1,  dx1 = dz1
 * computed in place in the d buffer, with the parameter gradients of G and F accumulated on
 * the way. In reversible mode the intermediates that F and G need for their backward pass come
 * from the very forward pass that reconstructs the input (batch norm in recompute mode), so each
 * function is evaluated once more, not twice: about 4N multiply-adds per step instead of 3N,
 * against the 5N of the authors' release.
 *
 * Stage-transition unit (the first unit of each stage, not reversible because it changes the
 * resolution or width): y1 = sc(x1) + F(x2), y2 = sc(x2) + G(y1), the stride on the first conv
 * of F, each half through its own shortcut. Only its input is kept in reversible mode; its F
 * and G intermediates are recomputed from that input and the reconstructed output.
 */
#include "nn/nn_internal.h"

#include <revnet/activation.h>

static size_t half_in(const rv_model *m, const rv_unit *u)
{
    return rv_model_act(m, u->C_in / 2, u->H_in, u->W_in, 1);
}

static size_t half_out(const rv_model *m, const rv_unit *u)
{
    return rv_model_act(m, u->C_out / 2, u->H_out, u->W_out, 1);
}

rv_status rv_transition_forward(rv_model *m, rv_unit *u, float *y, const float *x,
                                rv_bn_mode bn, int keep, rv_mem_category cat)
{
    const float *x1 = x, *x2 = x + half_in(m, u);
    float *y1 = y, *y2 = y + half_out(m, u);
    TRY(rv_branch_forward(m, &u->F, y1, x2, bn, keep, cat));
    TRY(rv_shortcut_forward(m, &u->sc[0], y1, x1));
    TRY(rv_branch_forward(m, &u->G, y2, y1, bn, keep, cat));
    return rv_shortcut_forward(m, &u->sc[1], y2, x2);
}

/* Recomputes one residual function's intermediates (BN in recompute mode); the output itself
 * is not needed, so it goes to a scratch buffer. */
static rv_status recompute_branch(rv_model *m, rv_branch *b, const float *in, size_t out_floats)
{
    float *scratch;
    TRY(rv_model_acquire(m, &scratch, "transition.scratch", RV_MEM_TRANSIENT, out_floats));
    TRY(rv_branch_forward(m, b, scratch, in, RV_BN_RECOMPUTE, 1, RV_MEM_TRANSIENT));
    return rv_model_release(m, scratch);
}

rv_status rv_transition_backward(rv_model *m, rv_unit *u, float *d_x, float *d_y,
                                 const float *x, const float *y, int recompute)
{
    const float *x1 = x, *x2 = x + half_in(m, u);
    float *d_x1 = d_x, *d_x2 = d_x + half_in(m, u);
    float *d_y1 = d_y, *d_y2 = d_y + half_out(m, u);
    /* dz1 = dy1 + G^T dy2, formed in dy1. G's intermediates are rebuilt from y1 only now, and
     * F's only after G's are gone, so at most one function's working set is alive. */
    if (recompute) TRY(recompute_branch(m, &u->G, y, half_out(m, u)));
    TRY(rv_branch_backward(m, &u->G, d_y1, d_y2, 1.0f));
    TRY(rv_shortcut_backward(m, &u->sc[0], d_x1, d_y1, x1, 0.0f));
    if (recompute) TRY(recompute_branch(m, &u->F, x2, half_out(m, u)));
    TRY(rv_branch_backward(m, &u->F, d_x2, d_y1, 0.0f));
    return rv_shortcut_backward(m, &u->sc[1], d_x2, d_y2, x2, 1.0f);
}

rv_status rv_reversible_forward_inplace(rv_model *m, rv_unit *u, float *buf, rv_bn_mode bn)
{
    size_t h = half_in(m, u);
    float *x1 = buf, *x2 = buf + h, *f;
    TRY(rv_model_acquire(m, &f, "reversible.fg", RV_MEM_TRANSIENT, h));
    TRY(rv_branch_forward(m, &u->F, f, x2, bn, 0, RV_MEM_TRANSIENT));
    TRY(rv_add(m->ctx, x1, x1, f, h)); /* x1 now holds y1 */
    TRY(rv_branch_forward(m, &u->G, f, x1, bn, 0, RV_MEM_TRANSIENT));
    TRY(rv_add(m->ctx, x2, x2, f, h)); /* x2 now holds y2 */
    return rv_model_release(m, f);
}

rv_status rv_reversible_forward(rv_model *m, rv_unit *u, float *y, const float *x,
                                rv_bn_mode bn, rv_mem_category cat)
{
    size_t h = half_in(m, u);
    const float *x1 = x, *x2 = x + h;
    float *y1 = y, *y2 = y + h;
    TRY(rv_branch_forward(m, &u->F, y1, x2, bn, 1, cat));
    TRY(rv_add(m->ctx, y1, y1, x1, h));
    TRY(rv_branch_forward(m, &u->G, y2, y1, bn, 1, cat));
    return rv_add(m->ctx, y2, y2, x2, h);
}

rv_status rv_reversible_backward(rv_model *m, rv_unit *u, float *d)
{
    size_t h = half_in(m, u);
    float *d1 = d, *d2 = d + h;
    TRY(rv_branch_backward(m, &u->G, d1, d2, 1.0f)); /* d1 = dz1 = dy1 + G^T dy2 */
    return rv_branch_backward(m, &u->F, d2, d1, 1.0f); /* d2 = dx2 = dy2 + F^T dz1 */
}

rv_status rv_reversible_reconstruct_backward(rv_model *m, rv_unit *u, float *buf, float *d)
{
    size_t h = half_in(m, u);
    float *b1 = buf, *b2 = buf + h, *fg;
    float *d1 = d, *d2 = d + h;
    /* G(y1), keeping its intermediates; then x2 = y2 - G(y1) in place. */
    TRY(rv_model_acquire(m, &fg, "reversible.fg", RV_MEM_TRANSIENT, h));
    TRY(rv_branch_forward(m, &u->G, fg, b1, RV_BN_RECOMPUTE, 1, RV_MEM_TRANSIENT));
    TRY(rv_sub(m->ctx, b2, b2, fg, h));
    TRY(rv_model_release(m, fg));
    /* G's backward needs y1, still intact in b1. */
    TRY(rv_branch_backward(m, &u->G, d1, d2, 1.0f));
    /* F(x2), keeping its intermediates; then x1 = y1 - F(x2) in place. */
    TRY(rv_model_acquire(m, &fg, "reversible.fg", RV_MEM_TRANSIENT, h));
    TRY(rv_branch_forward(m, &u->F, fg, b2, RV_BN_RECOMPUTE, 1, RV_MEM_TRANSIENT));
    TRY(rv_sub(m->ctx, b1, b1, fg, h));
    TRY(rv_model_release(m, fg));
    return rv_branch_backward(m, &u->F, d2, d1, 1.0f);
}
