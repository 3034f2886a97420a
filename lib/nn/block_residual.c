/*
 * block_residual.c: residual functions, shortcuts, the pre-activation residual unit, the
 * stem and the head (PAPER.md "Network skeleton").
 *
 * A residual function is a chain of [BN-ReLU]-conv layers:
 *   basic       [BN-ReLU]-conv3x3-BN-ReLU-conv3x3
 *   bottleneck  [BN-ReLU]-conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1 (inner width = out / 4)
 * with the stride on the first conv. A residual unit computes y = shortcut(x) + F(x), the
 * shortcut being identity, 2x2 average pool + zero channel padding (basic), or a strided 1x1
 * projection without BN (bottleneck), always applied to the raw input x as in the release.
 *
 * For the backward pass a layer keeps the BN input a_i (a_0 is the branch input, owned by the
 * caller), the conv input t_i = relu(bn(a_i)) (which also serves as the ReLU mask) and the
 * batch statistics.
 */
#include "nn/nn_internal.h"

#include <revnet/activation.h>
#include <revnet/linear.h>
#include <revnet/loss.h>
#include <revnet/pool.h>

#include <math.h>
#include <stdio.h>

static size_t layer_in_floats(const rv_model *m, const rv_layer *L)
{
    return rv_model_act(m, L->C, L->H, L->W, 1);
}

size_t rv_branch_out_floats(const rv_model *m, const rv_branch *b)
{
    const rv_conv_desc *d = &b->layer[b->n_layers - 1].conv;
    return rv_model_act(m, d->K, d->P, d->Q, 1);
}

rv_status rv_branch_forward(rv_model *m, rv_branch *b, float *out, const float *in,
                            rv_bn_mode bn, int keep, rv_mem_category cat)
{
    rv_ctx *ctx = m->ctx;
    rv_mem_category c = keep ? cat : RV_MEM_TRANSIENT;
    b->a[0] = in;
    for (int i = 0; i < b->n_layers; i++) {
        rv_layer *L = &b->layer[i];
        size_t n_in = layer_in_floats(m, L);
        if (L->has_bn) {
            float *mean = NULL, *invstd = NULL;
            b->stats[i] = NULL;
            if (bn != RV_BN_EVAL) {
                TRY(rv_model_acquire(m, &b->stats[i], "branch.bn.stats", c, 2 * (size_t)L->C));
                mean = b->stats[i];
                invstd = b->stats[i] + L->C;
            }
            TRY(rv_model_acquire(m, &b->t[i], "branch.relu", c, n_in));
            TRY(rv_bn_relu_forward(ctx, b->t[i], mean, invstd, rv_P(m, L->run_mean),
                                   rv_P(m, L->run_var), b->a[i], rv_P(m, L->gamma),
                                   rv_P(m, L->beta), m->N, L->C, L->H * L->W, bn));
            if (!keep && b->stats[i]) {
                TRY(rv_model_release(m, b->stats[i]));
                b->stats[i] = NULL;
            }
        } else {
            b->t[i] = (float *)b->a[i];
        }
        float *dst = out;
        if (i + 1 < b->n_layers) {
            const rv_conv_desc *d = &L->conv;
            float *next;
            TRY(rv_model_acquire(m, &next, "branch.conv", c, rv_model_act(m, d->K, d->P, d->Q, 1)));
            b->a[i + 1] = next;
            dst = next;
        }
        TRY(rv_model_conv_forward(m, dst, b->t[i], L->w, &L->conv));
        if (!keep) {
            if (L->has_bn) TRY(rv_model_release(m, b->t[i]));
            if (i > 0) TRY(rv_model_release(m, b->a[i]));
        }
    }
    return RV_OK;
}

rv_status rv_branch_backward(rv_model *m, rv_branch *b, float *d_in, const float *d_out,
                             float beta)
{
    rv_ctx *ctx = m->ctx;
    const float *d_cur = d_out;
    float *d_owned = NULL; /* d_cur when this function acquired it */
    for (int i = b->n_layers - 1; i >= 0; i--) {
        rv_layer *L = &b->layer[i];
        size_t n_in = layer_in_floats(m, L);
        if (i == 0 && !L->has_bn) {
            /* The conv reads the branch input directly: its data gradient is the result. */
            TRY(rv_model_conv_backward(m, d_in, beta, d_cur, b->t[0], L->w, &L->conv));
            if (d_owned) TRY(rv_model_release(m, d_owned));
            d_owned = NULL;
            continue;
        }
        float *d_t;
        TRY(rv_model_acquire(m, &d_t, "branch.grad", RV_MEM_TRANSIENT, n_in));
        TRY(rv_model_conv_backward(m, d_t, 0.0f, d_cur, b->t[i], L->w, &L->conv));
        if (d_owned) TRY(rv_model_release(m, d_owned));
        if (L->has_bn) {
            /* The ReLU mask (t) and batch norm's backward in one op (one pass where the
             * backend fuses them). */
            float *dst = i == 0 ? d_in : d_t;
            TRY(rv_bn_relu_backward(ctx, dst, rv_G(m, L->gamma), rv_G(m, L->beta), d_t,
                                    b->t[i], b->a[i], b->stats[i], b->stats[i] + L->C,
                                    rv_P(m, L->gamma), m->N, L->C, L->H * L->W,
                                    i == 0 ? beta : 0.0f));
            TRY(rv_model_release(m, b->t[i]));
            TRY(rv_model_release(m, b->stats[i]));
        }
        if (i > 0) TRY(rv_model_release(m, b->a[i]));
        if (i == 0) {
            TRY(rv_model_release(m, d_t));
            d_owned = NULL;
        } else {
            d_owned = d_t;
            d_cur = d_t;
        }
    }
    return RV_OK;
}

rv_status rv_shortcut_forward(rv_model *m, const rv_shortcut *s, float *y, const float *x)
{
    rv_ctx *ctx = m->ctx;
    int P = s->pool ? s->H / 2 : s->H, Q = s->pool ? s->W / 2 : s->W;
    size_t n_out = rv_model_act(m, s->C_out, P, Q, 1);
    if (s->kind == RV_SC_IDENTITY) return rv_add(ctx, y, y, x, n_out);
    float *tmp;
    if (s->kind == RV_SC_PROJECT) {
        n_out = rv_model_act(m, s->proj.K, s->proj.P, s->proj.Q, 1);
        TRY(rv_model_acquire(m, &tmp, "shortcut.proj", RV_MEM_TRANSIENT, n_out));
        TRY(rv_model_conv_forward(m, tmp, x, s->w, &s->proj));
        TRY(rv_add(ctx, y, y, tmp, n_out));
        return rv_model_release(m, tmp);
    }
    const float *src = x;
    float *pooled = NULL;
    if (s->pool) {
        TRY(rv_model_acquire(m, &pooled, "shortcut.pool", RV_MEM_TRANSIENT,
                             rv_model_act(m, s->C_in, P, Q, 1)));
        TRY(rv_avgpool2_forward(ctx, pooled, x, m->N, s->C_in, s->H, s->W));
        src = pooled;
    }
    if (s->C_out != s->C_in) {
        TRY(rv_model_acquire(m, &tmp, "shortcut.pad", RV_MEM_TRANSIENT, n_out));
        TRY(rv_chpad_forward(ctx, tmp, src, m->N, s->C_in, s->C_out, P * Q, s->front));
        TRY(rv_add(ctx, y, y, tmp, n_out));
        TRY(rv_model_release(m, tmp));
    } else {
        TRY(rv_add(ctx, y, y, src, n_out));
    }
    if (pooled) TRY(rv_model_release(m, pooled));
    return RV_OK;
}

rv_status rv_shortcut_backward(rv_model *m, const rv_shortcut *s, float *d_x, const float *d_y,
                               const float *x, float beta)
{
    rv_ctx *ctx = m->ctx;
    size_t n_in = rv_model_act(m, s->C_in, s->H, s->W, 1);
    if (s->kind == RV_SC_IDENTITY) {
        if (beta == 0.0f) return rv_copy(ctx, d_x, d_y, n_in);
        return rv_axpy(ctx, d_x, 1.0f, d_y, n_in);
    }
    if (s->kind == RV_SC_PROJECT) return rv_model_conv_backward(m, d_x, beta, d_y, x, s->w, &s->proj);
    int P = s->pool ? s->H / 2 : s->H, Q = s->pool ? s->W / 2 : s->W;
    const float *src = d_y;
    float *unpadded = NULL;
    if (s->C_out != s->C_in) {
        if (s->pool) {
            TRY(rv_model_acquire(m, &unpadded, "shortcut.grad", RV_MEM_TRANSIENT,
                                 rv_model_act(m, s->C_in, P, Q, 1)));
            TRY(rv_chpad_backward(ctx, unpadded, d_y, m->N, s->C_in, s->C_out, P * Q, s->front,
                                  0.0f));
            src = unpadded;
        } else {
            return rv_chpad_backward(ctx, d_x, d_y, m->N, s->C_in, s->C_out, P * Q, s->front,
                                     beta);
        }
    }
    if (s->pool) {
        TRY(rv_avgpool2_backward(ctx, d_x, src, m->N, s->C_in, s->H, s->W, beta));
    } else if (beta == 0.0f) {
        TRY(rv_copy(ctx, d_x, src, n_in));
    } else {
        TRY(rv_axpy(ctx, d_x, 1.0f, src, n_in));
    }
    if (unpadded) TRY(rv_model_release(m, unpadded));
    return RV_OK;
}

rv_status rv_residual_forward(rv_model *m, rv_unit *u, float *y, const float *x, rv_bn_mode bn,
                              int keep, rv_mem_category cat)
{
    TRY(rv_branch_forward(m, &u->F, y, x, bn, keep, cat));
    return rv_shortcut_forward(m, &u->sc[0], y, x);
}

rv_status rv_residual_backward(rv_model *m, rv_unit *u, float *d_x, const float *d_y,
                               const float *x)
{
    TRY(rv_branch_backward(m, &u->F, d_x, d_y, 0.0f));
    return rv_shortcut_backward(m, &u->sc[0], d_x, d_y, x, 1.0f);
}

/* ---- stem ---------------------------------------------------------------------------- */

static size_t stem_conv_floats(const rv_model *m) /* all parts */
{
    const rv_stem *s = &m->stem;
    return rv_model_act(m, s->width, s->H, s->W, s->parts);
}

rv_status rv_stem_forward(rv_model *m, float *y, rv_bn_mode bn, int keep, rv_mem_category cat)
{
    rv_ctx *ctx = m->ctx;
    rv_stem *s = &m->stem;
    rv_mem_category c = keep ? cat : RV_MEM_TRANSIENT;
    int pw = s->width / s->parts;
    size_t part_floats = rv_model_act(m, pw, s->H, s->W, 1);
    size_t w_part = (size_t)pw * s->conv.C * s->conv.R * s->conv.S;
    TRY(rv_model_acquire(m, &s->a, "stem.conv", c, stem_conv_floats(m)));
    s->stats = NULL;
    if (bn != RV_BN_EVAL) TRY(rv_model_acquire(m, &s->stats, "stem.bn.stats", c, 2 * (size_t)s->width));
    float *r = y;
    s->r = NULL;
    if (s->pool) {
        TRY(rv_model_acquire(m, &s->r, "stem.relu", c, stem_conv_floats(m)));
        r = s->r;
    }
    for (int p = 0; p < s->parts; p++) {
        float *a = s->a + p * part_floats, *rp = r + p * part_floats;
        TRY(rv_model_conv_forward(m, a, m->input, s->w + p * w_part, &s->conv));
        TRY(rv_bn_relu_forward(ctx, rp, s->stats ? s->stats + p * pw : NULL,
                               s->stats ? s->stats + s->width + p * pw : NULL,
                               rv_P(m, s->run_mean + p * pw), rv_P(m, s->run_var + p * pw), a,
                               rv_P(m, s->gamma + p * pw), rv_P(m, s->beta + p * pw), m->N, pw,
                               s->H * s->W, bn));
    }
    if (s->pool) TRY(rv_maxpool3s2_forward(ctx, y, s->r, m->N, s->width, s->H, s->W));
    if (!keep) {
        TRY(rv_model_release(m, s->a));
        if (s->stats) TRY(rv_model_release(m, s->stats));
        if (s->r) TRY(rv_model_release(m, s->r));
    }
    return RV_OK;
}

rv_status rv_stem_backward(rv_model *m, float *d_y, const float *y)
{
    rv_ctx *ctx = m->ctx;
    rv_stem *s = &m->stem;
    int pw = s->width / s->parts;
    size_t part_floats = rv_model_act(m, pw, s->H, s->W, 1);
    size_t w_part = (size_t)pw * s->conv.C * s->conv.R * s->conv.S;
    float *d_r = d_y;
    const float *r = y;
    if (s->pool) {
        TRY(rv_model_acquire(m, &d_r, "stem.grad", RV_MEM_TRANSIENT, stem_conv_floats(m)));
        TRY(rv_maxpool3s2_backward(ctx, d_r, d_y, s->r, y, m->N, s->width, s->H, s->W));
        r = s->r;
    }
    for (int p = 0; p < s->parts; p++) {
        float *dp = d_r + p * part_floats;
        TRY(rv_bn_relu_backward(ctx, dp, rv_G(m, s->gamma + p * pw), rv_G(m, s->beta + p * pw),
                                dp, r + p * part_floats, s->a + p * part_floats,
                                s->stats + p * pw, s->stats + s->width + p * pw,
                                rv_P(m, s->gamma + p * pw), m->N, pw, s->H * s->W, 0.0f));
        /* The input image needs no gradient: filter gradient only. */
        TRY(rv_model_conv_backward(m, NULL, 0.0f, dp, m->input, s->w + p * w_part, &s->conv));
    }
    if (s->pool) {
        TRY(rv_model_release(m, d_r));
        TRY(rv_model_release(m, s->r));
    }
    TRY(rv_model_release(m, s->a));
    return rv_model_release(m, s->stats);
}

/* ---- head ---------------------------------------------------------------------------- */

rv_status rv_head_run(rv_model *m, float *d_x, const float *x, rv_bn_mode bn)
{
    rv_ctx *ctx = m->ctx;
    rv_head *h = &m->head;
    int N = m->N, pc = h->C / h->parts, HW = h->H * h->W;
    size_t n_x = rv_model_act(m, h->C, h->H, h->W, h->parts);
    size_t part_floats = rv_model_act(m, pc, h->H, h->W, 1);
    size_t w_part = (size_t)h->K * pc;
    float *t, *stats = NULL, *pooled, *logits, *losses, *d_logits = NULL;
    int32_t *preds;
    TRY(rv_model_acquire(m, &t, "head.relu", RV_MEM_TRANSIENT, n_x));
    if (bn != RV_BN_EVAL) TRY(rv_model_acquire(m, &stats, "head.bn.stats", RV_MEM_TRANSIENT, 2 * (size_t)h->C));
    for (int p = 0; p < h->parts; p++)
        TRY(rv_bn_relu_forward(ctx, t + p * part_floats, stats ? stats + p * pc : NULL,
                               stats ? stats + h->C + p * pc : NULL,
                               rv_P(m, h->run_mean + p * pc), rv_P(m, h->run_var + p * pc),
                               x + p * part_floats, rv_P(m, h->gamma + p * pc),
                               rv_P(m, h->beta + p * pc), N, pc, HW, bn));
    TRY(rv_model_acquire(m, &pooled, "head.pool", RV_MEM_TRANSIENT, (size_t)N * h->C));
    for (int p = 0; p < h->parts; p++)
        TRY(rv_gap_forward(ctx, pooled + (size_t)p * N * pc, t + p * part_floats, N, pc, HW));
    TRY(rv_model_acquire(m, &logits, "head.logits", RV_MEM_TRANSIENT, (size_t)N * h->K));
    TRY(rv_linear_forward(ctx, logits, pooled, rv_P(m, h->w), rv_P(m, h->b), N, pc, h->K));
    for (int p = 1; p < h->parts; p++) {
        /* The FC weight of a RevNet is stored as one K x C/2 block per half. */
        float *part_logits;
        TRY(rv_model_acquire(m, &part_logits, "head.logits.part", RV_MEM_TRANSIENT, (size_t)N * h->K));
        TRY(rv_linear_forward(ctx, part_logits, pooled + (size_t)p * N * pc,
                              rv_P(m, h->w + p * w_part), NULL, N, pc, h->K));
        TRY(rv_add(ctx, logits, logits, part_logits, (size_t)N * h->K));
        TRY(rv_model_release(m, part_logits));
    }
    TRY(rv_model_acquire(m, &losses, "head.losses", RV_MEM_TRANSIENT, (size_t)N));
    TRY(rv_model_acquire(m, (float **)&preds, "head.preds", RV_MEM_TRANSIENT, (size_t)N));
    if (d_x) TRY(rv_model_acquire(m, &d_logits, "head.grad.logits", RV_MEM_TRANSIENT, (size_t)N * h->K));
    TRY(rv_softmax_xent(ctx, losses, preds, d_logits, logits, m->labels, N, h->K));
    TRY(rv_ctx_download(ctx, m->host_losses, losses, (size_t)N * sizeof(float)));
    TRY(rv_ctx_download(ctx, m->host_preds, preds, (size_t)N * sizeof(int32_t)));
    if (d_x) {
        float *d_pooled;
        TRY(rv_model_acquire(m, &d_pooled, "head.grad.pool", RV_MEM_TRANSIENT, (size_t)N * h->C));
        for (int p = 0; p < h->parts; p++)
            TRY(rv_linear_backward(ctx, d_pooled + (size_t)p * N * pc, rv_G(m, h->w + p * w_part),
                                   p == 0 ? rv_G(m, h->b) : NULL, d_logits,
                                   pooled + (size_t)p * N * pc, rv_P(m, h->w + p * w_part), N, pc,
                                   h->K));
        float *d_t;
        TRY(rv_model_acquire(m, &d_t, "head.grad.relu", RV_MEM_TRANSIENT, n_x));
        for (int p = 0; p < h->parts; p++)
            TRY(rv_gap_backward(ctx, d_t + p * part_floats, d_pooled + (size_t)p * N * pc, N, pc, HW));
        TRY(rv_model_release(m, d_pooled));
        for (int p = 0; p < h->parts; p++)
            TRY(rv_bn_relu_backward(ctx, d_x + p * part_floats, rv_G(m, h->gamma + p * pc),
                                    rv_G(m, h->beta + p * pc), d_t + p * part_floats,
                                    t + p * part_floats, x + p * part_floats, stats + p * pc,
                                    stats + h->C + p * pc, rv_P(m, h->gamma + p * pc), N, pc, HW,
                                    0.0f));
        TRY(rv_model_release(m, d_t));
        TRY(rv_model_release(m, d_logits));
    }
    TRY(rv_model_release(m, preds));
    TRY(rv_model_release(m, losses));
    TRY(rv_model_release(m, logits));
    TRY(rv_model_release(m, pooled));
    if (stats) TRY(rv_model_release(m, stats));
    return rv_model_release(m, t);
}
