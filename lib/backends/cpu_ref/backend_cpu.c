/*
 * backend_cpu.c: the CPU backend, the reference every other backend is checked against, and
 * what the fast CPU backend shares with it (backend_cpu.h): memory is 64-byte aligned host
 * memory, threads are OpenMP's. GEMMs go to OpenBLAS (cblas_sgemm) and loops are
 * parallelized with OpenMP over independent outputs, so results depend only on the thread
 * count, never on scheduling.
 */
#include "backends/cpu_ref/backend_cpu.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char description[256];
} cpu_state;

/* OpenBLAS extensions (see backend_cpu.h). */
extern void openblas_set_num_threads(int);
extern char *openblas_get_corename(void);

int rv_cpu_threads_init(const rv_ctx_options *opt)
{
    /* Parallelism comes from OpenMP over images/channels in our own loops, each calling a
     * single-threaded GEMM: OpenBLAS's own threads would spin after every call and steal the
     * core from the OpenMP team on a 2-core machine (measured 2-5x slower convolutions). */
    openblas_set_num_threads(1);
    if (opt->n_threads > 0) omp_set_num_threads(opt->n_threads);
    return opt->n_threads > 0 ? opt->n_threads : omp_get_max_threads();
}

static rv_status cpu_init(rv_ctx *ctx, const rv_ctx_options *opt, void **state)
{
    cpu_state *st = calloc(1, sizeof *st);
    if (!st) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory creating the CPU backend");
    int n_threads = rv_cpu_threads_init(opt);
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    snprintf(st->description, sizeof st->description,
             RV_BACKEND_NAME_CPU_REF "; OpenBLAS %s; core %s; OPENBLAS_CORETYPE=%s; threads %d",
             openblas_get_config(), openblas_get_corename(), coretype ? coretype : "(unset)",
             n_threads);
    *state = st;
    return RV_OK;
}

static void cpu_destroy(void *state) { free(state); }
static const char *cpu_describe(void *state) { return ((cpu_state *)state)->description; }

rv_status rv_cpu_alloc(rv_ctx *ctx, void **out, size_t bytes)
{
    /* 64-byte alignment: one cache line, and what AVX-512 loads like. */
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of host memory (%zu bytes)", bytes);
    *out = p;
    return RV_OK;
}

void rv_cpu_free(rv_ctx *ctx, void *p)
{
    (void)ctx;
    free(p);
}

rv_status rv_cpu_upload(rv_ctx *ctx, void *dst, const void *src, size_t bytes)
{
    (void)ctx;
    memcpy(dst, src, bytes);
    return RV_OK;
}

rv_status rv_cpu_download(rv_ctx *ctx, void *dst, const void *src, size_t bytes)
{
    return rv_cpu_upload(ctx, dst, src, bytes);
}

rv_status rv_cpu_sync(rv_ctx *ctx)
{
    (void)ctx;
    return RV_OK;
}

static const rv_backend cpu_backend = {
    .name = RV_BACKEND_NAME_CPU_REF,
    RV_BACKEND_LIFETIME(cpu_)
    RV_BACKEND_MEMORY(rv_cpu_)
    RV_BACKEND_OPS(RV_OP_ENTRY, rv_cpu_)
};

const rv_backend *rv_backend_cpu(void) { return &cpu_backend; }
