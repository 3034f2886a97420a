/*
 * model.c: building a network from its rv_arch, laying out and initializing its parameters,
 * recording its memory programs, and the public accessors of model.h.
 *
 * Parameters live in one buffer laid out [decayed | undecayed | running averages]: conv and
 * FC weights (weight decay), BN scale/shift and FC bias (no decay), BN running mean/variance
 * (state, not trained). The build runs twice: once to count each region, once to assign
 * offsets, so every region is contiguous.
 */
#include "nn/nn_internal.h"

#include <revnet/activation.h>
#include <revnet/pool.h>
#include <revnet/rng.h>
#include <revnet/sgd.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REGION_DECAYED = 0, REGION_UNDECAYED = 1, REGION_RUNNING = 2 };
enum { PROGRAM_EVAL = RV_BACKWARD_N_MODES };

int rv_model_program_train(rv_backward_mode mode) { return (int)mode; }
int rv_model_program_eval(void) { return PROGRAM_EVAL; }

/* ---- building ------------------------------------------------------------------------ */

static rv_status add_init(rv_model *m, size_t offset, size_t n, rv_init_kind kind, double fan)
{
    if (m->counting) return RV_OK;
    if (m->n_inits == m->cap_inits) {
        size_t cap = m->cap_inits ? 2 * m->cap_inits : 64;
        rv_init_spec *p = realloc(m->inits, cap * sizeof *p);
        if (!p) return rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory building the model");
        m->inits = p;
        m->cap_inits = cap;
    }
    m->inits[m->n_inits++] = (rv_init_spec){ offset, n, kind, fan };
    return RV_OK;
}

static rv_status take(rv_model *m, int region, size_t n, size_t *off)
{
    *off = m->base[region] + m->cursor[region];
    m->cursor[region] += n;
    return RV_OK;
}

static rv_status take_bn(rv_model *m, int C, size_t *gamma, size_t *beta, size_t *mean,
                         size_t *var)
{
    TRY(take(m, REGION_UNDECAYED, (size_t)C, gamma));
    TRY(take(m, REGION_UNDECAYED, (size_t)C, beta));
    TRY(take(m, REGION_RUNNING, (size_t)C, mean));
    TRY(take(m, REGION_RUNNING, (size_t)C, var));
    TRY(add_init(m, *gamma, (size_t)C, RV_INIT_ONE, 0));
    TRY(add_init(m, *beta, (size_t)C, RV_INIT_ZERO, 0));
    TRY(add_init(m, *mean, (size_t)C, RV_INIT_ZERO, 0));
    return add_init(m, *var, (size_t)C, RV_INIT_ONE, 0);
}

static rv_status take_conv(rv_model *m, rv_conv_desc *d, int C, int H, int W, int K, int R,
                           int stride, size_t *w)
{
    TRY(rv_conv_desc_init(m->ctx, d, m->N, C, H, W, K, R, stride));
    TRY(take(m, REGION_DECAYED, (size_t)K * C * R * R, w));
    return add_init(m, *w, (size_t)K * C * R * R, RV_INIT_CONV, (double)R * R * K);
}

static rv_status add_layer(rv_model *m, rv_branch *b, int has_bn, int C, int H, int W, int K,
                           int R, int stride)
{
    rv_layer *L = &b->layer[b->n_layers++];
    L->has_bn = has_bn;
    L->C = C;
    L->H = H;
    L->W = W;
    if (has_bn) TRY(take_bn(m, C, &L->gamma, &L->beta, &L->run_mean, &L->run_var));
    TRY(take_conv(m, &L->conv, C, H, W, K, R, stride, &L->w));
    m->n_layers++;
    return RV_OK;
}

/* A residual function from C_in x H x W to C_out with the given stride. */
static rv_status build_branch(rv_model *m, rv_branch *b, int lead_bn, int C_in, int H, int W,
                              int C_out, int stride)
{
    memset(b, 0, sizeof *b);
    if (m->arch.block == RV_BLOCK_BASIC) {
        TRY(add_layer(m, b, lead_bn, C_in, H, W, C_out, 3, stride));
        const rv_conv_desc *d = &b->layer[0].conv;
        return add_layer(m, b, 1, C_out, d->P, d->Q, C_out, 3, 1);
    }
    int inner = C_out / 4;
    TRY(add_layer(m, b, lead_bn, C_in, H, W, inner, 1, stride));
    const rv_conv_desc *d = &b->layer[0].conv;
    TRY(add_layer(m, b, 1, inner, d->P, d->Q, inner, 3, 1));
    d = &b->layer[1].conv;
    return add_layer(m, b, 1, inner, d->P, d->Q, C_out, 1, 1);
}

static rv_status build_shortcut(rv_model *m, rv_shortcut *s, int C_in, int H, int W, int C_out,
                                int stride)
{
    memset(s, 0, sizeof *s);
    s->C_in = C_in;
    s->H = H;
    s->W = W;
    s->C_out = C_out;
    if (C_in == C_out && stride == 1) {
        s->kind = RV_SC_IDENTITY;
        return RV_OK;
    }
    if (m->arch.block == RV_BLOCK_BOTTLENECK) {
        s->kind = RV_SC_PROJECT;
        return take_conv(m, &s->proj, C_in, H, W, C_out, 1, stride, &s->w);
    }
    if (stride == 2 && (H % 2 || W % 2))
        return rv_ctx_fail(m->ctx, RV_ERR_SHAPE, "pooling shortcut needs an even size, got %dx%d",
                           H, W);
    if (C_out < C_in)
        return rv_ctx_fail(m->ctx, RV_ERR_SHAPE, "padding shortcut cannot shrink %d -> %d",
                           C_in, C_out);
    s->kind = RV_SC_POOL_PAD;
    s->pool = stride == 2;
    s->front = (C_out - C_in) / 2; /* the release pads (C_out - C_in) / 2 on each side */
    return RV_OK;
}

static rv_status build(rv_model *m)
{
    const rv_arch *a = &m->arch;
    int parts = a->reversible ? 2 : 1;
    m->n_layers = 0;
    for (int r = 0; r < 3; r++) m->cursor[r] = 0;

    /* Stem. */
    rv_stem *st = &m->stem;
    st->parts = parts;
    st->width = a->stem_width;
    st->S = a->input_size;
    int R = a->imagenet ? 7 : 3, stride = a->imagenet ? 2 : 1;
    TRY(rv_conv_desc_init(m->ctx, &st->conv, m->N, 3, st->S, st->S, st->width / parts, R, stride));
    TRY(take(m, REGION_DECAYED, (size_t)st->width * 3 * R * R, &st->w));
    /* One conv of stem_width filters in the release, split by filters into the two halves. */
    TRY(add_init(m, st->w, (size_t)st->width * 3 * R * R, RV_INIT_CONV, (double)R * R * st->width));
    TRY(take_bn(m, st->width, &st->gamma, &st->beta, &st->run_mean, &st->run_var));
    st->H = st->conv.P;
    st->W = st->conv.Q;
    st->pool = a->imagenet;
    if (st->pool) rv_maxpool3s2_out(st->H, st->W, &st->P, &st->Q);
    else {
        st->P = st->H;
        st->Q = st->W;
    }
    m->n_layers++;

    /* Stages. */
    int C = st->width, H = st->P, W = st->Q, u_i = 0;
    for (int s = 0; s < a->n_stages; s++) {
        for (int k = 0; k < a->units[s]; k++, u_i++) {
            rv_unit *u = &m->units[u_i];
            memset(u, 0, sizeof *u);
            int C_out = a->widths[s];
            int str = (k == 0 && s > 0) ? 2 : 1;
            /* The first unit of the network skips its leading BN-ReLU: the stem just did one. */
            int lead = !(s == 0 && k == 0);
            u->stage = s;
            u->C_in = C;
            u->H_in = H;
            u->W_in = W;
            u->C_out = C_out;
            if (!a->reversible) {
                u->kind = RV_UNIT_RESIDUAL;
                TRY(build_branch(m, &u->F, lead, C, H, W, C_out, str));
                TRY(build_shortcut(m, &u->sc[0], C, H, W, C_out, str));
            } else {
                int hi = C / 2, ho = C_out / 2;
                u->kind = k == 0 ? RV_UNIT_REV_TRANSITION : RV_UNIT_REVERSIBLE;
                TRY(build_branch(m, &u->F, lead, hi, H, W, ho, str));
                int Ho = u->F.layer[0].conv.P, Wo = u->F.layer[0].conv.Q;
                TRY(build_branch(m, &u->G, 1, ho, Ho, Wo, ho, 1));
                if (k == 0) {
                    TRY(build_shortcut(m, &u->sc[0], hi, H, W, ho, str));
                    TRY(build_shortcut(m, &u->sc[1], hi, H, W, ho, str));
                }
            }
            u->H_out = u->F.layer[0].conv.P;
            u->W_out = u->F.layer[0].conv.Q;
            C = C_out;
            H = u->H_out;
            W = u->W_out;
        }
    }

    /* Head: BN-ReLU, global average pool, FC (one K x C/2 weight block per half). */
    rv_head *h = &m->head;
    h->parts = parts;
    h->C = C;
    h->H = H;
    h->W = W;
    h->K = m->opt.n_classes;
    TRY(take_bn(m, C, &h->gamma, &h->beta, &h->run_mean, &h->run_var));
    TRY(take(m, REGION_DECAYED, (size_t)h->K * C, &h->w));
    TRY(add_init(m, h->w, (size_t)h->K * C, RV_INIT_FC, (double)C));
    TRY(take(m, REGION_UNDECAYED, (size_t)h->K, &h->b));
    TRY(add_init(m, h->b, (size_t)h->K, RV_INIT_ZERO, 0));
    m->n_layers++;
    return RV_OK;
}

/* ---- initialization -------------------------------------------------------------------- */

static float truncated_normal(rv_rng_state *rng, double sd)
{
    /* Resample beyond 2 sd, as TensorFlow's truncated_normal initializer. */
    for (;;) {
        double z = rv_rng_normal(rng);
        if (fabs(z) <= 2.0) return (float)(z * sd);
    }
}

static rv_status init_params(rv_model *m)
{
    size_t n = rv_model_n_state(m);
    float *host = malloc(n * sizeof *host);
    if (!host) return rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory initializing weights");
    rv_rng_state rng;
    rv_rng_seed(&rng, m->opt.seed);
    for (size_t i = 0; i < m->n_inits; i++) {
        const rv_init_spec *s = &m->inits[i];
        float *p = host + s->offset;
        switch (s->kind) {
        case RV_INIT_CONV: {
            double sd = sqrt(2.0 / s->fan);
            for (size_t j = 0; j < s->n; j++) p[j] = truncated_normal(&rng, sd);
            break;
        }
        case RV_INIT_FC: {
            double lim = sqrt(3.0 / s->fan);
            for (size_t j = 0; j < s->n; j++) p[j] = (float)((2.0 * rv_rng_uniform(&rng) - 1.0) * lim);
            break;
        }
        case RV_INIT_ZERO:
            for (size_t j = 0; j < s->n; j++) p[j] = 0.0f;
            break;
        case RV_INIT_ONE:
            for (size_t j = 0; j < s->n; j++) p[j] = 1.0f;
            break;
        }
    }
    rv_status st = rv_ctx_upload(m->ctx, m->params, host, n * sizeof *host);
    free(host);
    return st;
}

/* ---- creation ------------------------------------------------------------------------ */

static int total_units(const rv_arch *a)
{
    int n = 0;
    for (int s = 0; s < a->n_stages; s++) n += a->units[s];
    return n;
}

/* Records program `program` by running its code in dry-run mode. */
static rv_status record(rv_model *m, int program, rv_backward_mode mode)
{
    TRY(rv_mem_record_begin(m->mem, program));
    m->recording = 1;
    rv_status st = program == PROGRAM_EVAL ? rv_model_run_eval(m)
                                           : rv_model_run_train(m, mode, RV_BN_TRAIN);
    m->recording = 0;
    rv_status end = rv_mem_record_end(m->mem);
    return st != RV_OK ? st : end;
}

/* Activation tensors kept for backward (BN statistics are not counted as tensors). */
static int count_kept(const rv_model *m, int program)
{
    int n = 0;
    size_t count = rv_mem_n_entries(m->mem, program);
    for (size_t i = 0; i < count; i++) {
        rv_mem_entry e;
        if (rv_mem_get_entry(m->mem, program, i, &e) != RV_OK) continue;
        if (e.category == RV_MEM_KEPT && !strstr(e.name, ".stats")) n++;
    }
    return n;
}

rv_status rv_model_create(rv_ctx *ctx, const rv_arch *arch, const rv_model_options *opt,
                          rv_model **out)
{
    if (!ctx || !arch || !opt || !out) return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_model_create: NULL argument");
    *out = NULL;
    if (opt->batch < 1 || opt->n_classes < 2)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "batch must be >= 1 and classes >= 2 (got %d, %d)",
                           opt->batch, opt->n_classes);
    for (int mode = 0; mode < RV_BACKWARD_N_MODES; mode++)
        if ((opt->train_modes >> mode & 1u) && !rv_arch_supports(arch, (rv_backward_mode)mode))
            return rv_ctx_fail(ctx, RV_ERR_ARG, "%s does not support the %s backward mode (%s)",
                               arch->name, rv_backward_mode_name((rv_backward_mode)mode),
                               arch->reversible ? "RevNets: standard or reversible"
                                                : "ResNets: standard or checkpoint");
    rv_model *m = calloc(1, sizeof *m);
    if (!m) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory creating the model");
    m->ctx = ctx;
    m->arch = *arch;
    m->opt = *opt;
    m->N = opt->batch;
    m->n_units = total_units(arch);
    rv_status st = RV_OK;
    m->units = calloc((size_t)m->n_units, sizeof *m->units);
    m->host_losses = malloc((size_t)m->N * sizeof *m->host_losses);
    m->host_preds = malloc((size_t)m->N * sizeof *m->host_preds);
    if (!m->units || !m->host_losses || !m->host_preds) {
        st = rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory creating the model");
        goto fail;
    }

    /* Pass 1 counts each parameter region; pass 2 lays them out back to back. */
    m->counting = 1;
    STEP(build(m));
    m->n_decayed = m->cursor[REGION_DECAYED];
    m->n_undecayed = m->cursor[REGION_UNDECAYED];
    m->n_running = m->cursor[REGION_RUNNING];
    m->counting = 0;
    m->base[REGION_DECAYED] = 0;
    m->base[REGION_UNDECAYED] = m->n_decayed;
    m->base[REGION_RUNNING] = rv_model_n_trained(m);
    STEP(build(m));

    STEP(rv_mem_create(ctx, &m->mem));
    size_t S = (size_t)arch->input_size;
    STEP(rv_mem_declare(m->mem, (void **)&m->params, "params", RV_MEM_PARAMS,
                        rv_model_n_state(m) * sizeof(float)));
    int training = opt->train_modes != 0;
    if (training) {
        STEP(rv_mem_declare(m->mem, (void **)&m->grads, "grads", RV_MEM_GRADS,
                            rv_model_n_params(m) * sizeof(float)));
        STEP(rv_mem_declare(m->mem, (void **)&m->momentum, "momentum", RV_MEM_OPTIMIZER,
                            rv_model_n_params(m) * sizeof(float)));
    }
    if (training || opt->plan_eval) {
        STEP(rv_mem_declare(m->mem, (void **)&m->input, "input", RV_MEM_INPUT,
                            (size_t)m->N * 3 * S * S * sizeof(float)));
        STEP(rv_mem_declare(m->mem, (void **)&m->labels, "labels", RV_MEM_INPUT,
                            (size_t)m->N * sizeof(int32_t)));
    }
    for (int mode = 0; mode < RV_BACKWARD_N_MODES; mode++) {
        if (!(opt->train_modes >> mode & 1u)) continue;
        STEP(record(m, rv_model_program_train((rv_backward_mode)mode), (rv_backward_mode)mode));
        m->train_planned[mode] = 1;
        m->stored_tensors[mode] = count_kept(m, mode);
    }
    if (opt->plan_eval) {
        STEP(record(m, PROGRAM_EVAL, RV_BACKWARD_STANDARD));
        m->eval_planned = 1;
    }
    if (opt->plan_only) {
        *out = m;
        return RV_OK;
    }
    STEP(rv_mem_finalize(m->mem));
    STEP(init_params(m));
    if (training) STEP(rv_fill(ctx, m->momentum, 0.0f, rv_model_n_params(m)));
    *out = m;
    return RV_OK;
fail:
    rv_model_destroy(m);
    return st;
}

void rv_model_destroy(rv_model *m)
{
    if (!m) return;
    rv_mem_destroy(m->mem);
    free(m->units);
    free(m->inits);
    free(m->host_losses);
    free(m->host_preds);
    free(m);
}

size_t rv_model_n_params(const rv_model *m) { return rv_model_n_trained(m); }
size_t rv_model_n_decayed(const rv_model *m) { return m->n_decayed; }
size_t rv_model_n_state(const rv_model *m) { return rv_model_n_trained(m) + m->n_running; }
int rv_model_n_layers(const rv_model *m) { return m->n_layers; }
int rv_model_input_size(const rv_model *m) { return m->arch.input_size; }
int rv_model_batch(const rv_model *m) { return m->N; }
int rv_model_n_classes(const rv_model *m) { return m->opt.n_classes; }
const rv_arch *rv_model_arch(const rv_model *m) { return &m->arch; }
rv_mem *rv_model_mem(rv_model *m) { return m->mem; }
float *rv_model_params(rv_model *m) { return m->params; }
float *rv_model_grads(rv_model *m) { return m->grads; }
float *rv_model_momentum(rv_model *m) { return m->momentum; }

int rv_model_stored_tensors(const rv_model *m, rv_backward_mode mode)
{
    return (unsigned)mode < RV_BACKWARD_N_MODES ? m->stored_tensors[mode] : 0;
}

/* ---- running ------------------------------------------------------------------------- */

static rv_status upload_batch(rv_model *m, const float *x, const int32_t *y)
{
    size_t S = (size_t)m->arch.input_size;
    for (int i = 0; i < m->N; i++)
        if (y[i] < 0 || y[i] >= m->opt.n_classes)
            return rv_ctx_fail(m->ctx, RV_ERR_ARG, "label %d of sample %d is outside [0, %d)",
                               (int)y[i], i, m->opt.n_classes);
    TRY(rv_ctx_upload(m->ctx, m->input, x, (size_t)m->N * 3 * S * S * sizeof(float)));
    return rv_ctx_upload(m->ctx, m->labels, y, (size_t)m->N * sizeof(int32_t));
}

static rv_status summarize(rv_model *m, const int32_t *y, rv_step_result *res)
{
    double loss = 0.0;
    int correct = 0;
    for (int i = 0; i < m->N; i++) {
        loss += m->host_losses[i];
        correct += m->host_preds[i] == y[i];
    }
    loss /= m->N;
    if (res) {
        res->loss = loss;
        res->n_correct = correct;
    }
    if (!isfinite(loss))
        return rv_ctx_fail(m->ctx, RV_ERR_NUMERIC, "the loss is not finite (%g): the run diverged",
                           loss);
    return RV_OK;
}

/* Runs a recorded program; the replay ends even when the program fails half way. */
static rv_status replay(rv_model *m, int program, rv_backward_mode mode, rv_bn_mode bn)
{
    TRY(rv_mem_run_begin(m->mem, program));
    rv_status st = program == PROGRAM_EVAL ? rv_model_run_eval(m) : rv_model_run_train(m, mode, bn);
    rv_status end = rv_mem_run_end(m->mem);
    return st != RV_OK ? st : end;
}

rv_status rv_model_train_step(rv_model *m, rv_backward_mode mode, const float *x,
                              const int32_t *y, int bn_update, rv_step_result *res)
{
    if (!m || !x || !y) return RV_ERR_ARG;
    if (m->opt.plan_only) return rv_ctx_fail(m->ctx, RV_ERR_ARG, "the model was built plan-only");
    if ((unsigned)mode >= RV_BACKWARD_N_MODES || !m->train_planned[mode])
        return rv_ctx_fail(m->ctx, RV_ERR_ARG, "the %s backward mode was not planned for this model",
                           rv_backward_mode_name(mode));
    TRY(upload_batch(m, x, y));
    TRY(replay(m, rv_model_program_train(mode), mode, bn_update ? RV_BN_TRAIN : RV_BN_RECOMPUTE));
    return summarize(m, y, res);
}

rv_status rv_model_eval(rv_model *m, const float *x, const int32_t *y, rv_step_result *res)
{
    if (!m || !x || !y) return RV_ERR_ARG;
    if (!m->eval_planned || m->opt.plan_only)
        return rv_ctx_fail(m->ctx, RV_ERR_ARG, "evaluation was not planned for this model");
    TRY(upload_batch(m, x, y));
    TRY(replay(m, PROGRAM_EVAL, RV_BACKWARD_STANDARD, RV_BN_EVAL));
    return summarize(m, y, res);
}

rv_status rv_model_sgd(rv_model *m, float lr, float momentum, float weight_decay)
{
    if (!m->grads) return rv_ctx_fail(m->ctx, RV_ERR_ARG, "the model was built without training");
    TRY(rv_sgd_update(m->ctx, m->params, m->momentum, m->grads, m->n_decayed, lr, momentum,
                      weight_decay));
    return rv_sgd_update(m->ctx, m->params + m->n_decayed, m->momentum + m->n_decayed,
                         m->grads + m->n_decayed, m->n_undecayed, lr, momentum, 0.0f);
}

rv_status rv_model_get_state(rv_model *m, float *host_params, float *host_momentum)
{
    if (host_params)
        TRY(rv_ctx_download(m->ctx, host_params, m->params, rv_model_n_state(m) * sizeof(float)));
    if (host_momentum && m->momentum)
        TRY(rv_ctx_download(m->ctx, host_momentum, m->momentum, rv_model_n_params(m) * sizeof(float)));
    return RV_OK;
}

rv_status rv_model_set_state(rv_model *m, const float *host_params, const float *host_momentum)
{
    if (host_params)
        TRY(rv_ctx_upload(m->ctx, m->params, host_params, rv_model_n_state(m) * sizeof(float)));
    if (host_momentum && m->momentum)
        TRY(rv_ctx_upload(m->ctx, m->momentum, host_momentum, rv_model_n_params(m) * sizeof(float)));
    return RV_OK;
}

rv_status rv_model_get_grads(rv_model *m, float *host_grads)
{
    if (!m->grads) return rv_ctx_fail(m->ctx, RV_ERR_ARG, "the model was built without training");
    return rv_ctx_download(m->ctx, host_grads, m->grads, rv_model_n_params(m) * sizeof(float));
}

rv_status rv_model_gradient_angle(rv_model *m, const float *x, const int32_t *y,
                                  double *angle_deg, double *max_rel_diff)
{
    if (!m->train_planned[RV_BACKWARD_STANDARD] || !m->train_planned[RV_BACKWARD_REVERSIBLE])
        return rv_ctx_fail(m->ctx, RV_ERR_ARG,
                           "the gradient angle needs a RevNet with the standard and reversible "
                           "modes planned");
    size_t n = rv_model_n_params(m);
    float *g_std = malloc(n * sizeof *g_std), *g_rev = malloc(n * sizeof *g_rev);
    rv_status st = RV_OK;
    if (!g_std || !g_rev) {
        st = rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory comparing gradients");
        goto done;
    }
    if ((st = rv_model_train_step(m, RV_BACKWARD_STANDARD, x, y, 0, NULL)) != RV_OK) goto done;
    if ((st = rv_model_get_grads(m, g_std)) != RV_OK) goto done;
    if ((st = rv_model_train_step(m, RV_BACKWARD_REVERSIBLE, x, y, 0, NULL)) != RV_OK) goto done;
    if ((st = rv_model_get_grads(m, g_rev)) != RV_OK) goto done;
    /* angle = 2 asin(|a/|a| - b/|b|| / 2): the same angle as acos(cos), but it keeps its
     * precision for nearly parallel vectors, where acos of a cosine within 1e-16 of 1 cannot
     * resolve angles under about 1e-6 degrees. */
    double nn_std = 0, nn_rev = 0, max_diff = 0, max_std = 0, chord = 0;
    for (size_t i = 0; i < n; i++) {
        double a = g_std[i], b = g_rev[i];
        nn_std += a * a;
        nn_rev += b * b;
        if (fabs(a - b) > max_diff) max_diff = fabs(a - b);
        if (fabs(a) > max_std) max_std = fabs(a);
    }
    double inv_a = nn_std > 0 ? 1.0 / sqrt(nn_std) : 0, inv_b = nn_rev > 0 ? 1.0 / sqrt(nn_rev) : 0;
    for (size_t i = 0; i < n; i++) {
        double d = g_std[i] * inv_a - g_rev[i] * inv_b;
        chord += d * d;
    }
    double half = 0.5 * sqrt(chord);
    *angle_deg = 2.0 * asin(half > 1.0 ? 1.0 : half) * 180.0 / acos(-1.0);
    *max_rel_diff = max_std > 0 ? max_diff / max_std : 0.0;
done:
    free(g_std);
    free(g_rev);
    return st;
}
