/*
 * model_step.c: the forward/backward schedules of the three backward modes, and evaluation.
 *
 * Each schedule is plain code that takes and gives back its buffers through the memory plan;
 * the same code is run once in dry-run mode to record the plan and then replayed every step.
 *
 *   standard    every unit's output and intermediates are kept (category "kept").
 *   reversible  (RevNets) only the stem output, the input of each stage-transition unit and the
 *               last stage's output are kept; reversible units run in place on the stage
 *               buffer, and in the backward pass each one rebuilds its input from its output
 *               in that same buffer (Algorithm 1). Transitions and the stem recompute their
 *               intermediates from their kept inputs.
 *   checkpoint  (ResNets) the input of every k-th unit is kept, k = round(sqrt(units)); each
 *               segment is recomputed (batch norm in recompute mode) before its backward pass.
 */
#include "nn/nn_internal.h"

#include <revnet/activation.h>

#include <math.h>
#include <stdlib.h>

/* RevNet units hold two halves (nn_internal.h). */
static int unit_parts(const rv_unit *u) { return u->kind == RV_UNIT_RESIDUAL ? 1 : 2; }

static size_t unit_in_floats(const rv_model *m, const rv_unit *u)
{
    return rv_model_act(m, u->C_in, u->H_in, u->W_in, unit_parts(u));
}

static size_t unit_out_floats(const rv_model *m, const rv_unit *u)
{
    return rv_model_act(m, u->C_out, u->H_out, u->W_out, unit_parts(u));
}

static size_t stem_out_floats(const rv_model *m)
{
    return rv_model_act(m, m->stem.width, m->stem.P, m->stem.Q, m->stem.parts);
}

/* The start of every schedule: the stem's output, in a buffer kept until the stem's backward,
 * from its forward pass (keeping its intermediates or not). */
static rv_status stem_start(rv_model *m, float **y, rv_bn_mode bn, int keep,
                            rv_mem_category cat)
{
    TRY(rv_model_acquire(m, y, "stem.out", RV_MEM_KEPT, stem_out_floats(m)));
    return rv_stem_forward(m, *y, bn, keep, cat);
}

/* The turn of every schedule: the head (classifier and loss) on the last unit's output x,
 * the gradient with respect to x into a fresh buffer *d. */
static rv_status head_turn(rv_model *m, float **d, const float *x, rv_bn_mode bn)
{
    TRY(rv_model_acquire(m, d, "head.grad", RV_MEM_TRANSIENT,
                         unit_out_floats(m, &m->units[m->n_units - 1])));
    return rv_head_run(m, *d, x, bn);
}

/* The end of every schedule: the stem's backward pass, then the stem's input and the gradient
 * that reached it go back to the planner. */
static rv_status stem_backward_release(rv_model *m, float *d, float *x)
{
    TRY(rv_stem_backward(m, d, x));
    TRY(rv_model_release(m, d));
    return rv_model_release(m, x);
}

/* Forward of any unit into a fresh output buffer, keeping intermediates or not. */
static rv_status unit_forward(rv_model *m, rv_unit *u, float *y, const float *x, rv_bn_mode bn,
                              int keep, rv_mem_category cat)
{
    switch (u->kind) {
    case RV_UNIT_RESIDUAL: return rv_residual_forward(m, u, y, x, bn, keep, cat);
    case RV_UNIT_REV_TRANSITION: return rv_transition_forward(m, u, y, x, bn, keep, cat);
    case RV_UNIT_REVERSIBLE:
        if (keep) return rv_reversible_forward(m, u, y, x, bn, cat);
        TRY(rv_copy(m->ctx, y, x, unit_in_floats(m, u)));
        return rv_reversible_forward_inplace(m, u, y, bn);
    }
    return rv_ctx_fail(m->ctx, RV_ERR_ARG, "unknown unit kind");
}

/* Backward of a unit whose intermediates are kept: returns the input gradient in *d (a new
 * buffer, or the same one for reversible units, which work in place); releases the old. */
static rv_status unit_backward(rv_model *m, rv_unit *u, float **d, const float *x,
                               const float *y)
{
    if (u->kind == RV_UNIT_REVERSIBLE) return rv_reversible_backward(m, u, *d);
    float *d_x;
    TRY(rv_model_acquire(m, &d_x, "unit.grad", RV_MEM_TRANSIENT, unit_in_floats(m, u)));
    if (u->kind == RV_UNIT_RESIDUAL) TRY(rv_residual_backward(m, u, d_x, *d, x));
    else TRY(rv_transition_backward(m, u, d_x, *d, x, y, 0));
    TRY(rv_model_release(m, *d));
    *d = d_x;
    return RV_OK;
}

static rv_status step_standard(rv_model *m, rv_bn_mode bn)
{
    int L = m->n_units;
    float **act = calloc((size_t)L + 1, sizeof *act); /* act[i]: input of unit i */
    if (!act) return rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory");
    rv_status st;
    STEP(stem_start(m, &act[0], bn, 1, RV_MEM_KEPT));
    for (int i = 0; i < L; i++) {
        rv_unit *u = &m->units[i];
        STEP(rv_model_acquire(m, &act[i + 1], "unit.out", RV_MEM_KEPT, unit_out_floats(m, u)));
        STEP(unit_forward(m, u, act[i + 1], act[i], bn, 1, RV_MEM_KEPT));
    }
    float *d;
    STEP(head_turn(m, &d, act[L], bn));
    for (int i = L - 1; i >= 0; i--) {
        STEP(unit_backward(m, &m->units[i], &d, act[i], act[i + 1]));
        STEP(rv_model_release(m, act[i + 1]));
    }
    STEP(stem_backward_release(m, d, act[0]));
    st = RV_OK;
fail:
    free(act);
    return st;
}

static rv_status step_reversible(rv_model *m, rv_bn_mode bn)
{
    int L = m->n_units;
    if (!m->arch.reversible)
        return rv_ctx_fail(m->ctx, RV_ERR_ARG, "reversible mode needs a RevNet");
    /* stage_in[s]: the kept input of stage s's transition; stage_in[n_stages]: last output. */
    float *stage_in[5];
    int first_unit[5], n_stages = m->arch.n_stages;
    for (int s = 0, i = 0; s < n_stages; s++) {
        first_unit[s] = i;
        i += m->arch.units[s];
    }
    first_unit[n_stages] = L;

    TRY(stem_start(m, &stage_in[0], bn, 0, RV_MEM_TRANSIENT));
    for (int s = 0; s < n_stages; s++) {
        rv_unit *t = &m->units[first_unit[s]];
        float *buf;
        TRY(rv_model_acquire(m, &buf, "stage.out", RV_MEM_KEPT, unit_out_floats(m, t)));
        TRY(rv_transition_forward(m, t, buf, stage_in[s], bn, 0, RV_MEM_TRANSIENT));
        for (int i = first_unit[s] + 1; i < first_unit[s + 1]; i++)
            TRY(rv_reversible_forward_inplace(m, &m->units[i], buf, bn));
        stage_in[s + 1] = buf;
    }

    float *d;
    TRY(head_turn(m, &d, stage_in[n_stages], bn));
    for (int s = n_stages - 1; s >= 0; s--) {
        float *buf = stage_in[s + 1];
        for (int i = first_unit[s + 1] - 1; i > first_unit[s]; i--)
            TRY(rv_reversible_reconstruct_backward(m, &m->units[i], buf, d));
        /* buf now holds the transition's output, rebuilt. */
        rv_unit *t = &m->units[first_unit[s]];
        float *d_x;
        TRY(rv_model_acquire(m, &d_x, "unit.grad", RV_MEM_TRANSIENT, unit_in_floats(m, t)));
        TRY(rv_transition_backward(m, t, d_x, d, stage_in[s], buf, 1));
        TRY(rv_model_release(m, d));
        TRY(rv_model_release(m, buf));
        d = d_x;
    }
    /* The stem recomputes its intermediates from the image (its output is rewritten with the
     * same values) and runs its backward pass. */
    TRY(rv_stem_forward(m, stage_in[0], RV_BN_RECOMPUTE, 1, RV_MEM_TRANSIENT));
    TRY(rv_stem_backward(m, d, stage_in[0]));
    TRY(rv_model_release(m, d));
    return rv_model_release(m, stage_in[0]);
}

/* Segment length of checkpoint mode: round(sqrt(units)), at least 1. */
static int checkpoint_k(const rv_model *m)
{
    int k = (int)lround(sqrt((double)m->n_units));
    return k < 1 ? 1 : k;
}

static rv_status step_checkpoint(rv_model *m, rv_bn_mode bn)
{
    int L = m->n_units, k = checkpoint_k(m);
    if (m->arch.reversible)
        return rv_ctx_fail(m->ctx, RV_ERR_ARG, "checkpoint mode is for ResNets");
    float **act = calloc((size_t)L + 1, sizeof *act);
    if (!act) return rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory");
    rv_status st;
    /* act[i] is kept when i is a segment start (i % k == 0) or the last output. */
    STEP(stem_start(m, &act[0], bn, 0, RV_MEM_TRANSIENT));
    for (int i = 0; i < L; i++) {
        rv_unit *u = &m->units[i];
        int kept = (i + 1) % k == 0 || i + 1 == L;
        STEP(rv_model_acquire(m, &act[i + 1], kept ? "segment.in" : "unit.out",
                              kept ? RV_MEM_KEPT : RV_MEM_TRANSIENT, unit_out_floats(m, u)));
        STEP(unit_forward(m, u, act[i + 1], act[i], bn, 0, RV_MEM_TRANSIENT));
        if (i % k != 0) {
            STEP(rv_model_release(m, act[i]));
            act[i] = NULL;
        }
    }
    float *d;
    STEP(head_turn(m, &d, act[L], bn));
    STEP(rv_model_release(m, act[L]));
    for (int s = (L - 1) / k * k; s >= 0; s -= k) {
        int e = s + k < L ? s + k : L;
        /* Recompute the segment, keeping intermediates; the last unit's output is not needed
         * (a residual unit's backward reads only its input), so it goes to a scratch buffer. */
        for (int i = s; i < e; i++) {
            rv_unit *u = &m->units[i];
            STEP(rv_model_acquire(m, &act[i + 1], "segment.recompute", RV_MEM_TRANSIENT,
                                  unit_out_floats(m, u)));
            STEP(unit_forward(m, u, act[i + 1], act[i], RV_BN_RECOMPUTE, 1, RV_MEM_TRANSIENT));
            if (i + 1 == e) STEP(rv_model_release(m, act[i + 1]));
        }
        for (int i = e - 1; i >= s; i--) {
            STEP(unit_backward(m, &m->units[i], &d, act[i], NULL));
            if (i > s) STEP(rv_model_release(m, act[i]));
        }
        if (s > 0) STEP(rv_model_release(m, act[s]));
    }
    STEP(rv_stem_forward(m, act[0], RV_BN_RECOMPUTE, 1, RV_MEM_TRANSIENT));
    STEP(stem_backward_release(m, d, act[0]));
    st = RV_OK;
fail:
    free(act);
    return st;
}

rv_status rv_model_run_train(rv_model *m, rv_backward_mode mode, rv_bn_mode bn)
{
    TRY(rv_fill(m->ctx, m->grads, 0.0f, rv_model_n_trained(m)));
    switch (mode) {
    case RV_BACKWARD_STANDARD: return step_standard(m, bn);
    case RV_BACKWARD_REVERSIBLE: return step_reversible(m, bn);
    case RV_BACKWARD_CHECKPOINT: return step_checkpoint(m, bn);
    default: return rv_ctx_fail(m->ctx, RV_ERR_ARG, "unknown backward mode %d", (int)mode);
    }
}

rv_status rv_model_run_eval(rv_model *m)
{
    float *x;
    TRY(rv_model_acquire(m, &x, "stem.out", RV_MEM_TRANSIENT, stem_out_floats(m)));
    TRY(rv_stem_forward(m, x, RV_BN_EVAL, 0, RV_MEM_TRANSIENT));
    for (int i = 0; i < m->n_units; i++) {
        rv_unit *u = &m->units[i];
        if (u->kind == RV_UNIT_REVERSIBLE) {
            TRY(rv_reversible_forward_inplace(m, u, x, RV_BN_EVAL));
            continue;
        }
        float *y;
        TRY(rv_model_acquire(m, &y, "unit.out", RV_MEM_TRANSIENT, unit_out_floats(m, u)));
        TRY(unit_forward(m, u, y, x, RV_BN_EVAL, 0, RV_MEM_TRANSIENT));
        TRY(rv_model_release(m, x));
        x = y;
    }
    TRY(rv_head_run(m, NULL, x, RV_BN_EVAL));
    return rv_model_release(m, x);
}
