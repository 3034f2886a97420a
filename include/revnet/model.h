/*
 * model.h: the paper's networks, built by name, with three backward modes.
 *
 * Architectures (PAPER.md, parameter counts checked by tests/test_model.c):
 *   resnet-32, revnet-38, resnet-110, revnet-110, resnet-164, revnet-164   (CIFAR, 32x32 input)
 *   resnet-101, revnet-104                                                (ImageNet, 224x224)
 *   depth families for sweeps (N units per stage, N >= 1):
 *   resnet-basic-N (16-32-64), revnet-basic-N (32-64-128, halves 16-32-64),
 *   resnet-bottleneck-N (64-128-256), revnet-bottleneck-N (128-256-512)
 *
 * Backward modes:
 *   RV_BACKWARD_STANDARD    every activation the backward pass needs is kept
 *   RV_BACKWARD_REVERSIBLE  (RevNets) only the inputs of non-reversible units are kept; each
 *                           reversible unit's input is rebuilt from its output in place, F and G
 *                           recomputed with batch norm in recompute mode, their intermediates
 *                           reused for the gradient (Algorithm 1, about 4N multiply-adds)
 *   RV_BACKWARD_CHECKPOINT  (ResNets) the input of every k-th unit is kept, k = round(sqrt(L)),
 *                           and each segment is recomputed during the backward pass
 *
 * Memory: a model owns one rv_mem (memory.h). Parameters, gradients and momentum are three
 * contiguous persistent buffers, laid out [decayed weights | undecayed | BN running averages]
 * so that the optimizer and checkpoints handle each with one call. Every program the model will
 * run (a training step in each requested mode, evaluation) is recorded at creation and the
 * arena is allocated once.
 */
#ifndef RV_MODEL_H
#define RV_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "context.h"
#include "memory.h"

typedef enum {
    RV_BACKWARD_STANDARD = 0,
    RV_BACKWARD_REVERSIBLE = 1,
    RV_BACKWARD_CHECKPOINT = 2,
    RV_BACKWARD_N_MODES
} rv_backward_mode;

/* "standard", "reversible", "checkpoint" */
const char *rv_backward_mode_name(rv_backward_mode m);
/* Parses a mode name; RV_ERR_ARG if unknown, with the valid names in msg (at most msg_len
 * bytes; msg may be NULL). A name needs no context, so there is none to hold the message. */
rv_status rv_backward_mode_parse(const char *name, rv_backward_mode *out, char *msg,
                                 size_t msg_len);

typedef enum { RV_BLOCK_BASIC = 0, RV_BLOCK_BOTTLENECK = 1 } rv_block_kind;

/* What an architecture name means. */
typedef struct {
    char name[48];
    int reversible;          /* RevNet (1) or ResNet (0) */
    rv_block_kind block;
    int imagenet;            /* 7x7/2 stem + 3x3/2 max pool, 224x224 input */
    int n_stages;            /* 3 (CIFAR) or 4 (ImageNet) */
    int units[4];            /* units per stage */
    int widths[4];           /* block output channels per stage (RevNet: both halves) */
    int stem_width;          /* stem conv output channels */
    int input_size;          /* 32 or 224 */
} rv_arch;

/* Parses an architecture name; RV_ERR_ARG if unknown, with the valid names in msg (as
 * rv_backward_mode_parse). */
rv_status rv_arch_parse(const char *name, rv_arch *out, char *msg, size_t msg_len);
/* The fixed names, NULL-terminated, and a one-line description of the families. */
const char *const *rv_arch_names(void);
const char *rv_arch_families_help(void);
/* Whether mode applies: standard always; reversible for RevNets; checkpoint for ResNets. */
int rv_arch_supports(const rv_arch *a, rv_backward_mode mode);

typedef struct rv_model rv_model;

typedef struct {
    int n_classes;
    int batch;
    uint64_t seed;           /* weight initialization (PAPER.md: He-normal convs truncated at
                                2 sd, uniform FC weight, zero FC bias, BN scale 1 shift 0) */
    unsigned train_modes;    /* bit (1u << mode) for each training mode to plan; 0 = none */
    int plan_eval;           /* also plan an evaluation (forward-only, BN eval) program */
    int plan_only;           /* record the plan but allocate nothing: sizes and rv_mem_planned
                                work, running the model does not (for `revbench info`) */
} rv_model_options;

/*
 * Builds the network, records its programs and allocates its arena. Modes the architecture
 * does not support give RV_ERR_ARG. With ctx in any device, buffers live on that device.
 */
rv_status rv_model_create(rv_ctx *ctx, const rv_arch *arch, const rv_model_options *opt,
                          rv_model **out);
void rv_model_destroy(rv_model *m);

/* Sizes. */
size_t rv_model_n_params(const rv_model *m);     /* trainable parameters (the paper's count) */
size_t rv_model_n_decayed(const rv_model *m);    /* the first n_decayed params get weight decay */
size_t rv_model_n_state(const rv_model *m);      /* params + BN running averages */
int rv_model_n_layers(const rv_model *m);        /* conv + FC layers (the depth in the name) */
int rv_model_input_size(const rv_model *m);      /* 32 or 224 */
int rv_model_batch(const rv_model *m);
int rv_model_n_classes(const rv_model *m);
const rv_arch *rv_model_arch(const rv_model *m);
rv_mem *rv_model_mem(rv_model *m);
/* Tensors kept for backward in one training step of this mode (count, from the plan). */
int rv_model_stored_tensors(const rv_model *m, rv_backward_mode mode);
/* The program id of a training mode / of evaluation, for rv_mem_planned. */
int rv_model_program_train(rv_backward_mode mode);
int rv_model_program_eval(void);

/* Backend pointers to the flat state: params[n_state] (params then BN running averages),
 * grads[n_params], momentum[n_params]. */
float *rv_model_params(rv_model *m);
float *rv_model_grads(rv_model *m);
float *rv_model_momentum(rv_model *m);

typedef struct {
    double loss;             /* mean cross-entropy over the batch */
    int n_correct;           /* top-1 correct predictions in the batch */
} rv_step_result;

/*
 * One forward + backward pass on a batch: x (batch x 3 x S x S floats, host memory), y (batch
 * labels, host). Gradients are overwritten (not accumulated across calls). bn_update: 1 runs
 * batch norm in TRAIN mode (running averages updated once), 0 in RECOMPUTE mode (untouched;
 * used when the same batch is run a second time to compare gradients). The mode must have been
 * planned. A non-finite loss gives RV_ERR_NUMERIC.
 */
rv_status rv_model_train_step(rv_model *m, rv_backward_mode mode, const float *x,
                              const int32_t *y, int bn_update, rv_step_result *res);

/* SGD with momentum on all trainable parameters (weight decay on the first n_decayed). */
rv_status rv_model_sgd(rv_model *m, float lr, float momentum, float weight_decay);

/* Forward pass with BN running averages on a batch (x, y host memory; needs plan_eval).
 * losses/preds (host, batch entries each) may be NULL. */
rv_status rv_model_eval(rv_model *m, const float *x, const int32_t *y, rv_step_result *res);

/*
 * The numerical error of reconstruction on one batch: gradients with stored activations
 * (standard mode) and with reconstructed ones (reversible mode), both with batch norm in
 * recompute mode so the running averages are untouched. angle_deg = the angle between the two
 * flattened whole-network parameter gradients; max_rel_diff = max |g_std - g_rev| / max |g_std|.
 * Needs a RevNet with both modes planned. Leaves the reversible gradients in the model.
 */
rv_status rv_model_gradient_angle(rv_model *m, const float *x, const int32_t *y,
                                  double *angle_deg, double *max_rel_diff);

/* Copies the whole state (params + running averages) / momentum to or from host memory. */
rv_status rv_model_get_state(rv_model *m, float *host_params, float *host_momentum);
rv_status rv_model_set_state(rv_model *m, const float *host_params, const float *host_momentum);
/* Copies the gradients to host memory (n_params floats). */
rv_status rv_model_get_grads(rv_model *m, float *host_grads);

#endif
