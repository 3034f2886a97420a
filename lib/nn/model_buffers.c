/*
 * model_buffers.c: the buffer helpers under every schedule and block of the model. Each takes
 * its memory from the model's plan (memory.h) by float count and under a name, so that the
 * same code records the plan in dry-run mode and replays it every step; a convolution takes
 * its workspace from the plan for the duration of the call and gives it straight back.
 *
 * It owns nothing: the plan belongs to the model (model.c), the parameters and gradients
 * to the model's buffers.
 */
#include "nn/nn_internal.h"

rv_status rv_model_acquire(rv_model *m, float **out, const char *name, rv_mem_category cat,
                           size_t n_floats)
{
    return rv_mem_acquire(m->mem, (void **)out, name, cat, n_floats * sizeof(float));
}

rv_status rv_model_release(rv_model *m, const void *p)
{
    return rv_mem_release(m->mem, (void *)p);
}

rv_status rv_model_conv_forward(rv_model *m, float *out, const float *in, size_t w,
                                const rv_conv_desc *d)
{
    size_t ws_bytes = rv_conv_workspace_bytes(m->ctx, d);
    void *ws = NULL;
    if (ws_bytes) TRY(rv_mem_acquire(m->mem, &ws, "conv.workspace", RV_MEM_WORKSPACE, ws_bytes));
    TRY(rv_conv_forward(m->ctx, out, in, rv_P(m, w), d, ws));
    return ws ? rv_mem_release(m->mem, ws) : RV_OK;
}

rv_status rv_model_conv_backward(rv_model *m, float *d_in, float beta, const float *d_out,
                                 const float *in, size_t w, const rv_conv_desc *d)
{
    size_t ws_bytes = rv_conv_workspace_bytes(m->ctx, d);
    void *ws = NULL;
    if (ws_bytes) TRY(rv_mem_acquire(m->mem, &ws, "conv.workspace", RV_MEM_WORKSPACE, ws_bytes));
    TRY(rv_conv_backward_filter(m->ctx, rv_G(m, w), d_out, in, d, ws));
    if (d_in) TRY(rv_conv_backward_data(m->ctx, d_in, d_out, rv_P(m, w), d, beta, ws));
    return ws ? rv_mem_release(m->mem, ws) : RV_OK;
}
