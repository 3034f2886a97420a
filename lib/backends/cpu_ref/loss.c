/*
 * loss.c (reference CPU backend): softmax cross-entropy fused with its gradient (loss.h).
 *
 *   loss_i = logsumexp(z_i) - z_i[label_i],  logsumexp(z) = m + log sum_k exp(z_k - m)
 *   dL/dz_ik = (softmax(z_i)_k - [k == label_i]) / N
 *
 * with m = max_k z_ik, so every exponent is <= 0 and no logit, however large, overflows.
 *
 * Owns: the public wrapper (validation, then dispatch) and the CPU implementation, which
 * checks every label before writing anything and then gives each thread whole rows.
 */
#include "backends/cpu_ref/backend_cpu.h"

#include <math.h>

rv_status rv_cpu_softmax_xent(rv_ctx *ctx, float *losses, int32_t *pred, float *d_logits,
                              const float *logits, const int32_t *labels, int N, int K)
{
    /* Labels first: a bad one leaves every output untouched. */
    for (int i = 0; i < N; i++)
        if (labels[i] < 0 || labels[i] >= K)
            return rv_ctx_fail(ctx, RV_ERR_ARG,
                               "softmax_xent: label %d of sample %d is outside [0, %d)",
                               (int)labels[i], i, K);

    const double inv_n = 1.0 / (double)N;
#pragma omp parallel for schedule(static) if (N >= 64)
    for (int i = 0; i < N; i++) {
        const float *z = logits + (size_t)i * K;
        int arg = 0;
        for (int k = 1; k < K; k++)
            if (z[k] > z[arg]) arg = k; /* strict: the first of equal maxima wins */
        const double m = (double)z[arg];
        double sum = 0.0;
        for (int k = 0; k < K; k++) sum += exp((double)z[k] - m);
        const double lse = m + log(sum);
        const int label = labels[i];
        losses[i] = (float)(lse - (double)z[label]);
        pred[i] = arg;
        if (d_logits) {
            float *d = d_logits + (size_t)i * K;
            for (int k = 0; k < K; k++) {
                double p = exp((double)z[k] - lse);
                d[k] = (float)((p - (k == label ? 1.0 : 0.0)) * inv_n);
            }
        }
    }
    return RV_OK;
}
