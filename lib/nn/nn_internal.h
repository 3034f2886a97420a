/*
 * nn_internal.h (internal): the structures behind rv_model and the functions the files of
 * lib/nn/ give each other. The files stand in layers, each calling only those below it:
 *
 *   model.c           building, initialization, recording and replaying programs, public API
 *   model_step.c      the forward/backward schedules of the three backward modes
 *   block_reversible.c  reversible and stage-transition units (uses block_residual.c's parts)
 *   block_residual.c  residual functions, shortcuts, the stem and the head
 *   model_buffers.c   buffers and convolutions with workspace, taken from the memory plan
 *
 * RevNet activations are stored "half-major": a tensor of C channels is two contiguous
 * N x C/2 x H x W halves, x1 then x2, so F and G read and write plain NCHW tensors.
 */
#ifndef RV_NN_INTERNAL_H
#define RV_NN_INTERNAL_H

#include <revnet/model.h>
#include <revnet/conv.h>
#include <revnet/batchnorm.h>
#include <revnet/memory.h>
#include <revnet/layout.h>

/* Returns from the enclosing function with the status of expr unless it is RV_OK. */
#define TRY(expr)                          \
    do {                                   \
        rv_status s_ = (expr);             \
        if (s_ != RV_OK) return s_;        \
    } while (0)

/* The same for functions with cleanup: sets the local `st` and jumps to `fail`. */
#define STEP(expr)                        \
    do {                                  \
        st = (expr);                      \
        if (st != RV_OK) goto fail;       \
    } while (0)

/* One [BN-ReLU]-conv layer of a residual function. */
typedef struct {
    int has_bn;              /* leading BN-ReLU on the input */
    int C, H, W;             /* input */
    size_t gamma, beta;      /* BN scale/shift offsets in the params buffer */
    size_t run_mean, run_var;/* BN running averages offsets in the params buffer */
    rv_conv_desc conv;
    size_t w;                /* conv weight offset */
} rv_layer;

/* A residual function (F or G): 2 layers (basic) or 3 (bottleneck), plus the buffers of the
 * forward pass in flight, kept for its backward pass. */
typedef struct {
    int n_layers;
    rv_layer layer[3];
    const float *a[3];       /* BN input of layer i; a[0] is the branch input (not owned) */
    float *t[3];             /* conv input of layer i (owned when the layer has BN) */
    float *stats[3];         /* batch mean | inverse std of layer i (2C floats) */
} rv_branch;

typedef enum { RV_SC_IDENTITY, RV_SC_POOL_PAD, RV_SC_PROJECT } rv_shortcut_kind;

/* The shortcut of a unit (per half in a RevNet transition). */
typedef struct {
    rv_shortcut_kind kind;
    int C_in, H, W, C_out, pool, front;
    rv_conv_desc proj;
    size_t w;
} rv_shortcut;

typedef enum { RV_UNIT_RESIDUAL, RV_UNIT_REV_TRANSITION, RV_UNIT_REVERSIBLE } rv_unit_kind;

typedef struct {
    rv_unit_kind kind;
    int stage;
    int C_in, H_in, W_in, C_out, H_out, W_out; /* full channels (both halves) */
    rv_branch F, G;          /* G: RevNet units only */
    rv_shortcut sc[2];       /* residual: sc[0]; transition: one per half */
} rv_unit;

/* Stem: conv (3x3/1 CIFAR, 7x7/2 ImageNet) -> BN -> ReLU [-> 3x3/2 max pool], in `parts`
 * pieces (2 for RevNets, one per half). */
typedef struct {
    int parts, width, S;     /* output channels (all parts), input size */
    rv_conv_desc conv;       /* per part: K = width / parts */
    int H, W;                /* conv output size */
    int pool;                /* ImageNet max pool */
    int P, Q;                /* stem output size */
    size_t w, gamma, beta, run_mean, run_var;
    float *a, *stats, *r;    /* conv output, BN statistics, ReLU output (ImageNet) */
} rv_stem;

/* Head: BN -> ReLU -> global average pool -> FC, per part. */
typedef struct {
    int parts, C, H, W, K;
    size_t gamma, beta, run_mean, run_var, w, b;
} rv_head;

/* What each parameter block is initialized with (PAPER.md). */
typedef enum { RV_INIT_CONV, RV_INIT_FC, RV_INIT_ZERO, RV_INIT_ONE } rv_init_kind;
typedef struct {
    size_t offset, n;
    rv_init_kind kind;
    double fan;              /* conv: k*k*C_out; FC: d_in */
} rv_init_spec;

struct rv_model {
    rv_ctx *ctx;
    rv_arch arch;
    rv_model_options opt;
    int N;                   /* batch */
    rv_mem *mem;

    rv_stem stem;
    rv_unit *units;
    int n_units;
    rv_head head;
    int n_layers;

    /* Parameter layout: [decayed | undecayed | running averages]. */
    size_t n_decayed, n_undecayed, n_running;
    size_t cursor[3];        /* build-time allocation cursors per region */
    int counting;            /* first build pass: sizes only */
    size_t base[3];
    rv_init_spec *inits;
    size_t n_inits, cap_inits;

    float *params, *grads, *momentum;  /* backend memory (slots filled at finalize) */
    float *input;            /* batch x 3 x S x S */
    int32_t *labels;         /* batch */
    float *host_losses;      /* batch, host */
    int32_t *host_preds;
    int recording;
    int train_planned[RV_BACKWARD_N_MODES];
    int eval_planned;
    int stored_tensors[RV_BACKWARD_N_MODES];
};

/* Floats of an activation of C channels at H x W, in the backend's layout (layout.h). A
 * RevNet tensor is `parts` (2) halves of C / parts channels, each laid out on its own, so that
 * F and G read and write whole tensors; everything else has parts 1. */
static inline size_t rv_model_act(const rv_model *m, int C, int H, int W, int parts)
{
    return (size_t)parts * rv_act_floats(m->ctx, m->N, C / parts, H * W);
}

/* Trained parameters (the decayed and undecayed regions): the length of grads and momentum. */
static inline size_t rv_model_n_trained(const rv_model *m) { return m->n_decayed + m->n_undecayed; }

/* Params pointer / grads pointer at an offset. */
static inline float *rv_P(rv_model *m, size_t off) { return m->params + off; }
static inline float *rv_G(rv_model *m, size_t off) { return m->grads + off; }

/* model_buffers.c. Buffer helpers: float counts, named for the plan. */
rv_status rv_model_acquire(rv_model *m, float **out, const char *name, rv_mem_category cat,
                           size_t n_floats);
rv_status rv_model_release(rv_model *m, const void *p);

/* Convolution with its workspace taken from (and given back to) the plan. */
rv_status rv_model_conv_forward(rv_model *m, float *out, const float *in, size_t w,
                                const rv_conv_desc *d);
/* d_w += filter gradient; d_in = beta * d_in + data gradient unless d_in is NULL. */
rv_status rv_model_conv_backward(rv_model *m, float *d_in, float beta, const float *d_out,
                                 const float *in, size_t w, const rv_conv_desc *d);

/* block_residual.c */
size_t rv_branch_out_floats(const rv_model *m, const rv_branch *b);
/* out = branch(in). keep: its buffers stay (in category cat) for rv_branch_backward; else
 * each is released as soon as the forward no longer needs it. */
rv_status rv_branch_forward(rv_model *m, rv_branch *b, float *out, const float *in,
                            rv_bn_mode bn, int keep, rv_mem_category cat);
/* d_in = beta * d_in + gradient; accumulates the parameter gradients; releases the kept
 * buffers. d_out is read only. */
rv_status rv_branch_backward(rv_model *m, rv_branch *b, float *d_in, const float *d_out,
                             float beta);
/* y += shortcut(x) */
rv_status rv_shortcut_forward(rv_model *m, const rv_shortcut *s, float *y, const float *x);
/* d_x = beta * d_x + shortcut^T(d_y); projection filter gradients accumulate. */
rv_status rv_shortcut_backward(rv_model *m, const rv_shortcut *s, float *d_x, const float *d_y,
                               const float *x, float beta);
rv_status rv_residual_forward(rv_model *m, rv_unit *u, float *y, const float *x, rv_bn_mode bn,
                              int keep, rv_mem_category cat);
rv_status rv_residual_backward(rv_model *m, rv_unit *u, float *d_x, const float *d_y,
                               const float *x);
rv_status rv_stem_forward(rv_model *m, float *y, rv_bn_mode bn, int keep, rv_mem_category cat);
rv_status rv_stem_backward(rv_model *m, float *d_y, const float *y);
/* Head forward, loss, and (when d_x is non-NULL) backward into d_x; fills the host losses
 * and predictions. */
rv_status rv_head_run(rv_model *m, float *d_x, const float *x, rv_bn_mode bn);

/* block_reversible.c */
/* Transition: y = new buffer. In-place reversible forward: buf holds x, then y. */
rv_status rv_transition_forward(rv_model *m, rv_unit *u, float *y, const float *x,
                                rv_bn_mode bn, int keep, rv_mem_category cat);
/* d_x = gradient; d_y is used as scratch (clobbered). recompute: rebuild F's and G's
 * intermediates from x and y first (batch norm in recompute mode), one function at a time;
 * otherwise they must have been kept by the forward pass. */
rv_status rv_transition_backward(rv_model *m, rv_unit *u, float *d_x, float *d_y,
                                 const float *x, const float *y, int recompute);
rv_status rv_reversible_forward_inplace(rv_model *m, rv_unit *u, float *buf, rv_bn_mode bn);
rv_status rv_reversible_forward(rv_model *m, rv_unit *u, float *y, const float *x,
                                rv_bn_mode bn, rv_mem_category cat);
/* Standard backward with kept intermediates: d (= d_y on entry) becomes d_x in place. */
rv_status rv_reversible_backward(rv_model *m, rv_unit *u, float *d);
/* Algorithm 1: buf holds y and becomes x; d holds d_y and becomes d_x. */
rv_status rv_reversible_reconstruct_backward(rv_model *m, rv_unit *u, float *buf, float *d);

/* model_step.c: the programs (one training step in a mode; evaluation). */
rv_status rv_model_run_train(rv_model *m, rv_backward_mode mode, rv_bn_mode bn);
rv_status rv_model_run_eval(rv_model *m);

#endif
