/*
 * loss.h: softmax cross-entropy, mean over the batch, fused with its gradient.
 *   loss_i = logsumexp(z_i) - z_i[label_i];  L = (1/N) sum_i loss_i
 *   dL/dz_i = (softmax(z_i) - onehot(label_i)) / N
 */
#ifndef RV_LOSS_H
#define RV_LOSS_H

#include <stdint.h>
#include "context.h"

/*
 * logits: N x K, labels: N (in [0, K)), all in backend memory.
 * Writes losses[N] (per-sample loss) and pred[N] (argmax, first on ties); writes d_logits
 * (N x K, overwrites) unless it is NULL. Labels out of range give RV_ERR_ARG on the CPU.
 */
rv_status rv_softmax_xent(rv_ctx *ctx, float *losses, int32_t *pred, float *d_logits,
                          const float *logits, const int32_t *labels, int N, int K);

#endif
