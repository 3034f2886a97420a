/* PLACEHOLDER: being written; every function reports RV_ERR_UNSUPPORTED. */
#include "backend_cpu.h"

rv_status rv_cpu_softmax_xent(rv_ctx *ctx, float *losses, int32_t *pred, float *d_logits,
                              const float *logits, const int32_t *labels, int N, int K)
{
    return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "not yet implemented");
}
