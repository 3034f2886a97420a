/*
 * backend_fast.c: the fast CPU backend's table and lifetime (the layout and the ISA choice are
 * described in fast_internal.h and fast_isa.h).
 *
 * Which op comes from where: convolutions from oneDNN (fast_conv.c); batch norm, pooling,
 * channel padding and the layout conversions from this folder's own blocked kernels; the
 * elementwise ops (ReLU, add, sub, axpy, copy, fill), which see only a float count and are
 * the same on any layout, the classifier (plain N x C input), the loss and SGD from the
 * reference backend's code. Memory and threading are the reference backend's too
 * (backend_cpu.h).
 */
#include "backends/cpu_fast/fast_internal.h"
#include "backends/cpu_ref/backend_cpu.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

/* Whether the AVX-512 path (16-channel blocks, AVX-512 kernels) runs: oneDNN's effective ISA
 * (ONEDNN_MAX_CPU_ISA caps it) and the CPU both have it. */
static int use_avx512(void)
{
    __builtin_cpu_init();
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core &&
           __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

/* For `revbench --version` (build_info.c): the path this CPU gets, without a context. */
const char *rv_cpu_fast_isa(void);
const char *rv_cpu_fast_isa(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return "none (needs AVX2 and FMA; use --backend " RV_CPU_BACKEND_NAME_REF ")";
    return use_avx512() ? "avx512 (nChw16c)" : "avx2 (nChw8c)";
}

static void fast_destroy(void *state)
{
    fast_state *s = state;
    if (!s) return;
    rv_fast_conv_cache_free(s);
    if (s->stream) dnnl_stream_destroy(s->stream);
    if (s->engine) dnnl_engine_destroy(s->engine);
    free(s->bn_scratch);
    free(s);
}

static rv_status fast_init(rv_ctx *ctx, const rv_ctx_options *opt, void **state)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "the fast CPU backend needs AVX2 and FMA, "
                           "which this CPU lacks; use --backend " RV_CPU_BACKEND_NAME_REF);
    fast_state *s = calloc(1, sizeof *s);
    if (!s) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory creating the fast CPU backend");
    /* Partial sums (doubles) then six per-channel float vectors (fast_bn.c). */
    s->bn_scratch = malloc((size_t)RV_FAST_BN_SLICES * 2 * RV_FAST_BN_MAX_C * sizeof(double) +
                           (size_t)6 * RV_FAST_BN_MAX_C * sizeof(float));
    if (!s->bn_scratch) {
        fast_destroy(s);
        return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory creating the fast CPU backend");
    }
    /* As on the reference backend: our loops and oneDNN thread with OpenMP, the classifier's
     * small GEMM stays single-threaded in OpenBLAS so its threads never spin against ours. */
    s->n_threads = rv_cpu_threads_init(opt);
    if (dnnl_engine_create(&s->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags) != dnnl_success) {
        fast_destroy(s);
        return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "oneDNN could not create a CPU engine");
    }
    /* The block follows the ISA oneDNN will use (ONEDNN_MAX_CPU_ISA caps it), so that our
     * layout is the one its fastest kernels want and our kernels match. */
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    int avx512 = use_avx512();
    s->block = avx512 ? 16 : 8;
    /* Winograd (REVBENCH_WINOGRAD=1) is 1.8-2.4x faster on every 3x3 stride-1 CIFAR shape,
     * but its rounding error is ~6x that of the direct kernels (test_fast.c), and that error
     * enters the reconstructed activations: RevNet-38's reversible-vs-stored gradient angle at
     * init, median over seeds 1-5, measured 0.155 degrees with it and 0.066 without, against
     * the 0.1 the project holds to. So the direct kernels are the default (README). */
    const char *wino = getenv("REVBENCH_WINOGRAD");
    s->winograd = avx512 && wino && strcmp(wino, "1") == 0;
    const dnnl_version_t *v = dnnl_version();
    snprintf(s->description, sizeof s->description,
             RV_BACKEND_NAME_CPU_FAST "; oneDNN %d.%d.%d (%s); layout nChw%dc; Winograd %s; "
             "OpenBLAS %s; threads %d", v->major, v->minor, v->patch, isa_name(isa), s->block,
             s->winograd ? "on" : "off", openblas_get_config(), s->n_threads);
    *state = s;
    return RV_OK;
}

static const char *fast_describe(void *state) { return ((fast_state *)state)->description; }

static int fast_act_channels(void *state, int C) { return fast_cpad(state, C); }

static const rv_backend fast_backend = {
    .name = RV_BACKEND_NAME_CPU_FAST,
    RV_BACKEND_LIFETIME(fast_)
    RV_BACKEND_MEMORY(rv_cpu_)
    .act_channels = fast_act_channels,
    .act_pack = rv_fast_act_pack,
    .act_unpack = rv_fast_act_unpack,
    RV_BACKEND_FUSED_OPS(RV_OP_ENTRY, rv_fast_)
    /* The ops of the blocked layout are this folder's; the others are the reference's. */
    RV_BACKEND_QUERY_OPS(RV_OP_ENTRY, rv_fast_)
    RV_BACKEND_LAYOUT_OPS(RV_OP_ENTRY, rv_fast_)
    RV_BACKEND_FLAT_OPS(RV_OP_ENTRY, rv_cpu_)
};

const rv_backend *rv_backend_cpu_fast(void) { return &fast_backend; }
