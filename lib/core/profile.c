/*
 * profile.c: per-op timing (profile.h): the op table's names and categories, the counters'
 * accessors, and the begin/end pair that RV_DISPATCH (dispatch.h) puts around a timed call.
 *
 * Owns nothing: the counters are embedded in the context (context.c).
 */
#include <revnet/profile.h>
#include "core/dispatch.h"

#include <string.h>
#include <time.h>

#define RV_OP_NAME_ENTRY(P, name, category) #name,
static const char *const OP_NAMES[RV_OP_N] = { RV_PROFILE_OPS(RV_OP_NAME_ENTRY) };
#undef RV_OP_NAME_ENTRY
#define RV_OP_CATEGORY_ENTRY(P, name, category) RV_PROFILE_##category,
static const rv_profile_category OP_CATEGORIES[RV_OP_N] = { RV_PROFILE_OPS(RV_OP_CATEGORY_ENTRY) };
#undef RV_OP_CATEGORY_ENTRY

static const char *const CATEGORY_NAMES[RV_PROFILE_N_CATEGORIES] = {
    "conv_fwd", "conv_bwd_data", "conv_bwd_filter", "bn", "elementwise", "other",
};

const char *rv_profile_category_name(rv_profile_category c)
{
    return (int)c >= 0 && c < RV_PROFILE_N_CATEGORIES ? CATEGORY_NAMES[c] : NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void rv_profile_enable(rv_ctx *ctx, int on)
{
    if (ctx) rv_ctx_profile_state(ctx)->on = on != 0;
}

int rv_profile_enabled(const rv_ctx *ctx)
{
    return ctx ? rv_ctx_profile_state((rv_ctx *)ctx)->on : 0;
}

void rv_profile_reset(rv_ctx *ctx)
{
    if (!ctx) return;
    rv_profile_state *p = rv_ctx_profile_state(ctx);
    memset(p->calls, 0, sizeof p->calls);
    memset(p->ms, 0, sizeof p->ms);
    memset(p->flop, 0, sizeof p->flop);
}

int rv_profile_n_ops(void) { return RV_OP_N; }

rv_status rv_profile_get(rv_ctx *ctx, int i, rv_profile_entry *out)
{
    if (!ctx) return RV_ERR_ARG;
    if (!out) return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_profile_get: out is NULL");
    if (i < 0 || i >= RV_OP_N)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_profile_get: op %d is outside [0, %d)", i,
                           (int)RV_OP_N);
    const rv_profile_state *p = rv_ctx_profile_state(ctx);
    out->name = OP_NAMES[i];
    out->category = OP_CATEGORIES[i];
    out->calls = p->calls[i];
    out->ms = p->ms[i];
    out->flop = p->flop[i];
    return RV_OK;
}

/* The sum of per-op counters v over the ops of category c. */
static double category_sum(const double *v, rv_profile_category c)
{
    double sum = 0.0;
    for (int i = 0; i < RV_OP_N; i++)
        if (OP_CATEGORIES[i] == c) sum += v[i];
    return sum;
}

double rv_profile_category_ms(const rv_ctx *ctx, rv_profile_category c)
{
    return ctx ? category_sum(rv_ctx_profile_state((rv_ctx *)ctx)->ms, c) : 0.0;
}

double rv_profile_category_flop(const rv_ctx *ctx, rv_profile_category c)
{
    return ctx ? category_sum(rv_ctx_profile_state((rv_ctx *)ctx)->flop, c) : 0.0;
}

double rv_profile_total_ms(const rv_ctx *ctx)
{
    if (!ctx) return 0.0;
    const rv_profile_state *p = rv_ctx_profile_state((rv_ctx *)ctx);
    double sum = 0.0;
    for (int i = 0; i < RV_OP_N; i++) sum += p->ms[i];
    return sum;
}

rv_status rv_profile_begin(rv_ctx *ctx, rv_profile_state *p, double *t0_ms)
{
    *t0_ms = 0.0;
    /* A nested call runs inside an outer one that already synchronized and is being timed. */
    if (p->depth++ > 0) return RV_OK;
    rv_status s = rv_ctx_sync(ctx);
    *t0_ms = now_ms();
    return s;
}

rv_status rv_profile_end(rv_ctx *ctx, rv_profile_state *p, rv_op_id op, double t0_ms,
                         double flop, rv_status s)
{
    if (--p->depth > 0) return s;
    rv_status sync = rv_ctx_sync(ctx);
    p->ms[op] += now_ms() - t0_ms;
    p->calls[op]++;
    if (s == RV_OK) p->flop[op] += flop;
    return s != RV_OK ? s : sync;
}
