/*
 * loss.c: the public softmax cross-entropy op of loss.h: argument checks, then dispatch through
 * the context's backend. The reference CPU implementation is lib/backends/cpu_ref/loss.c.
 */
#include "core/dispatch.h"
#include "core/op_args.h"

/* Contract in loss.h. Validates pointers and sizes, then dispatches; label ranges are checked
 * by the backend, which is where the labels live. */
rv_status rv_softmax_xent(rv_ctx *ctx, float *losses, int32_t *pred, float *d_logits,
                          const float *logits, const int32_t *labels, int N, int K)
{
    RV_ARGS(ctx, "softmax_xent", (losses, pred, logits, labels), (N, K));
    RV_DISPATCH(ctx, softmax_xent, losses, pred, d_logits, logits, labels, N, K);
}
