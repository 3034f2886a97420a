/*
 * cmd_bench.c: `revbench bench conv|step|peak`. `bench step` (whole training steps and where
 * they go) is in bench_step.c, `bench peak` (the CPU's FMA peak) in bench_peak.c; this file
 * holds `bench conv`, which times the CPU convolution on every distinct conv shape of
 * ResNet-32 and RevNet-38 (CIFAR, 32x32 inputs) against one bare cblas_sgemm call of the GEMM
 * shape the im2col method computes, so that the overhead of im2col, col2im and the per-image
 * split is visible:
 *   forward          M = K, N = batch*P*Q, inner = C*R*S   (out = W * col)
 *   backward-data    M = C*R*S, N = batch*P*Q, inner = K   (col = W^T * d_out)
 *   backward-filter  M = K, N = C*R*S, inner = batch*P*Q   (d_w += d_out * col^T)
 * Rates are 2 * MACs / median time. Owns its buffers for the duration of the run.
 *
 * With --device cuda the same shapes run through the same public ops on a CUDA context (cuDNN,
 * buffers from rv_ctx_alloc on the device, the stream synchronized before each clock read so a
 * time covers the call's work, not just its launch). The bare-GEMM column is CPU-only there.
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands/bench_peak.h"
#include "commands/bench_step.h"
#include "commands/commands.h"
#include "commands/model_cli.h"
#include "commands/options.h"
#include "common/exit_status.h"
#include "common/json.h"
#include "common/measure.h"
#include <revnet/context.h>
#include <revnet/conv.h>
#include <revnet/layout.h>

extern void openblas_set_num_threads(int);

#define CMD "bench"
#define WARMUP_CALLS 2

static const char *const SUBS[] = { "conv", "step", "peak", NULL };

typedef struct {
    const char *name;
    const char *nets;
    int C, HW, K, stride; /* 3x3 kernels, square inputs */
} bench_shape;

/* ResNet-32: 16-32-64 channels; RevNet-38: F/G act on halves of 32-64-112, i.e. 16-32-56;
 * the first unit of stages 2 and 3 takes the previous stage's half and strides. */
static const bench_shape SHAPES[] = {
    { "stem 3->16 32x32", "resnet-32", 3, 32, 16, 1 },
    { "stem 3->32 32x32", "revnet-38", 3, 32, 32, 1 },
    { "16->16 32x32", "resnet-32,revnet-38", 16, 32, 16, 1 },
    { "16->32/2 32x32", "resnet-32,revnet-38", 16, 32, 32, 2 },
    { "32->32 16x16", "resnet-32,revnet-38", 32, 16, 32, 1 },
    { "32->64/2 16x16", "resnet-32", 32, 16, 64, 2 },
    { "32->56/2 16x16", "revnet-38", 32, 16, 56, 2 },
    { "64->64 8x8", "resnet-32", 64, 8, 64, 1 },
    { "56->56 8x8", "revnet-38", 56, 8, 56, 1 },
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

enum { FWD, BWD_DATA, BWD_FILTER, N_DIRS };
static const char *const DIR_NAMES[N_DIRS] = { "fwd", "bwd-data", "bwd-filter" };

typedef struct {
    int shape, dir;
    int M, N, Kin;
    double conv_ms, gemm_ms, flop;
} bench_row;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench bench step --arch A ...  (revbench bench step --help)\n"
            "       revbench bench peak [--threads T] [--json]  (revbench bench peak --help)\n"
            "       revbench bench conv [--device cpu|cuda] [--batch B] [--threads T] [--reps N]\n"
            "                           [--backend fast|ref] [--json]\n\n"
            "Times the convolution (forward, backward-data, backward-filter) on every distinct\n"
            "conv shape of resnet-32 and revnet-38 and prints median ms and GFLOP/s. On the CPU\n"
            "also one bare cblas_sgemm of the same GEMM shape and the ratio; on cuda the calls\n"
            "go through cuDNN (the algorithm chosen per shape is in the backend line).\n\n"
            "options:\n"
            "  --device D   cpu (default) or cuda\n"
            "  --batch B    images per call (default 100)\n"
            "  --threads T  CPU threads for the convolution and for the bare GEMM (default 2)\n"
            "  --backend B  CPU backend: fast (default; oneDNN, blocked layout) or ref\n"
            "  --reps N     timed calls per measurement, after %d warm-up calls (default 15)\n"
            "  --json       print one JSON object instead of the table\n"
            "  --help       this message\n",
            WARMUP_CALLS);
}

static void fill_random(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((seed >> 40) / (double)(1ull << 24)) - 0.5f;
    }
}

typedef struct {
    float *in, *w, *out, *d_in, *d_w;
    float *ga, *gb, *gc; /* bare GEMM operands */
    void *ws;
} bench_bufs;

static void free_bufs(rv_ctx *ctx, bench_bufs *b)
{
    rv_ctx_free(ctx, b->in); rv_ctx_free(ctx, b->w); rv_ctx_free(ctx, b->out);
    rv_ctx_free(ctx, b->d_in); rv_ctx_free(ctx, b->d_w); rv_ctx_free(ctx, b->ga);
    rv_ctx_free(ctx, b->gb); rv_ctx_free(ctx, b->gc); rv_ctx_free(ctx, b->ws);
    memset(b, 0, sizeof *b);
}

/* One conv call of direction dir; the status of the op. */
static rv_status conv_call(rv_ctx *ctx, int dir, const rv_conv_desc *d, bench_bufs *b)
{
    switch (dir) {
    case FWD: return rv_conv_forward(ctx, b->out, b->in, b->w, d, b->ws);
    case BWD_DATA: return rv_conv_backward_data(ctx, b->d_in, b->out, b->w, d, 0.0f, b->ws);
    default: return rv_conv_backward_filter(ctx, b->d_w, b->out, b->in, d, b->ws);
    }
}

static void gemm_call(const bench_row *r, bench_bufs *b)
{
    if (r->dir == FWD)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r->M, r->N, r->Kin, 1.0f, b->ga,
                    r->Kin, b->gb, r->N, 0.0f, b->gc, r->N);
    else if (r->dir == BWD_DATA)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r->M, r->N, r->Kin, 1.0f, b->ga,
                    r->M, b->gb, r->N, 0.0f, b->gc, r->N);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r->M, r->N, r->Kin, 1.0f, b->ga,
                    r->Kin, b->gb, r->Kin, 1.0f, b->gc, r->N);
}

/* n floats of backend memory in *out, holding the pseudo-random values of seed (or zeros when
 * seed is 0), staged through host memory so both backends see the same data. */
static rv_status bench_buffer(rv_ctx *ctx, float **out, size_t n, uint64_t seed)
{
    rv_status s = rv_ctx_alloc(ctx, (void **)out, n * sizeof(float));
    if (s != RV_OK) return s;
    float *h = malloc(n * sizeof *h);
    if (!h) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of host memory for %zu floats", n);
    if (seed) fill_random(h, n, seed);
    else memset(h, 0, n * sizeof *h);
    s = rv_ctx_upload(ctx, *out, h, n * sizeof(float));
    free(h);
    return s;
}

/* Measures the three directions of one shape into rows[0..2]: the conv calls (phase 0) or
 * the bare GEMMs (phase 1, CPU only). On a GPU the stream is drained before each clock read. */
static int bench_shape_rows(rv_ctx *ctx, int si, int batch, int threads, int reps, int phase,
                            bench_row *rows)
{
    int on_cpu = rv_ctx_device(ctx) == RV_DEVICE_CPU;
    const bench_shape *s = &SHAPES[si];
    rv_conv_desc d;
    bench_bufs b = { 0 };
    double *t = malloc((size_t)reps * sizeof *t);
    int rc = RB_EXIT_FAIL;
    if (!t) goto fail;
    if (rv_conv_desc_init(ctx, &d, batch, s->C, s->HW, s->HW, s->K, 3, s->stride) != RV_OK)
        goto fail;
    /* Activations in the backend's layout (channel-padded on the fast CPU backend). */
    size_t n_in = rv_act_floats(ctx, batch, s->C, s->HW * s->HW);
    size_t n_out = rv_act_floats(ctx, batch, s->K, d.P * d.Q);
    size_t n_w = (size_t)s->K * s->C * 9, crs = (size_t)s->C * 9, npq = (size_t)batch * d.P * d.Q;
    /* Operands of the three bare GEMMs: A is W or d_out, B and C are col (crs x npq) or d_out
     * (K x npq) (or the small d_w). */
    size_t n_big = (crs > (size_t)s->K ? crs : (size_t)s->K) * npq;
    /* The workspace query runs cuDNN's algorithm search on a GPU; its failure leaves a message
     * and reports 0, and the conv call then fails with that message. */
    rv_ctx_clear_error(ctx);
    size_t ws_bytes = rv_conv_workspace_bytes(ctx, &d);
    if (rv_ctx_message(ctx)[0]) goto fail;
    if (bench_buffer(ctx, &b.in, n_in, 1) || bench_buffer(ctx, &b.w, n_w, 2) ||
        bench_buffer(ctx, &b.out, n_out, 3) || bench_buffer(ctx, &b.d_in, n_in, 0) ||
        bench_buffer(ctx, &b.d_w, n_w, 0) || rv_ctx_alloc(ctx, &b.ws, ws_bytes))
        goto fail;
    if (on_cpu && phase == 1 &&
        (bench_buffer(ctx, &b.ga, n_w > n_out ? n_w : n_out, 4) ||
         bench_buffer(ctx, &b.gb, n_big, 5) || bench_buffer(ctx, &b.gc, n_big, 0)))
        goto fail;

    for (int dir = 0; dir < N_DIRS; dir++) {
        bench_row *r = &rows[dir];
        r->shape = si;
        r->dir = dir;
        r->flop = 2.0 * rv_conv_macs(&d);
        r->M = dir == BWD_DATA ? (int)crs : s->K;
        r->N = dir == BWD_FILTER ? (int)crs : (int)npq;
        r->Kin = dir == FWD ? (int)crs : dir == BWD_DATA ? s->K : (int)npq;
        if (phase == 0) {
            for (int i = -WARMUP_CALLS; i < reps; i++) {
                if (rv_ctx_sync(ctx) != RV_OK) goto fail;
                double t0 = rb_now_ms();
                if (conv_call(ctx, dir, &d, &b) != RV_OK || rv_ctx_sync(ctx) != RV_OK) goto fail;
                if (i >= 0) t[i] = rb_now_ms() - t0;
            }
            r->conv_ms = rb_median(t, reps);
            continue;
        }
        /* The conv restores OpenBLAS's thread count; set it explicitly for the bare GEMM. */
        openblas_set_num_threads(threads);
        for (int i = -WARMUP_CALLS; i < reps; i++) {
            double t0 = rb_now_ms();
            gemm_call(r, &b);
            if (i >= 0) t[i] = rb_now_ms() - t0;
        }
        r->gemm_ms = rb_median(t, reps);
    }
    rc = RB_EXIT_OK;
fail:
    if (rc != RB_EXIT_OK)
        rb_cli_error(CMD, "conv %s: %s", s->name,
                     t ? rv_ctx_message(ctx) : "out of memory for the timings");
    free(t);
    free_bufs(ctx, &b);
    return rc;
}


/* The run's settings line: threads matter on the CPU only. */
static void print_settings(int on_cpu, int batch, int threads, int reps)
{
    if (on_cpu)
        printf("conv benchmark: cpu, batch %d, %d threads, median of %d calls after %d "
               "warm-up\n", batch, threads, reps, WARMUP_CALLS);
    else
        printf("conv benchmark: cuda, batch %d, median of %d calls after %d warm-up (stream "
               "synchronized around each call)\n", batch, reps, WARMUP_CALLS);
}

static void print_table(const bench_row *rows, int n, int on_cpu, int batch, int threads,
                        int reps, const char *describe)
{
    const char *ct = getenv("OPENBLAS_CORETYPE");
    print_settings(on_cpu, batch, threads, reps);
    printf("backend: %s\n", describe);
    if (on_cpu) printf("OPENBLAS_CORETYPE=%s\n", ct ? ct : "(unset)");
    printf("\n%-17s %-19s %-10s %6s %7s %6s %9s %8s %9s %8s %6s\n", "shape", "networks", "call",
           "M", "N", "K", "conv ms", "GFLOP/s", "gemm ms", "GFLOP/s", "ratio");
    double conv_total = 0, gemm_total = 0, flop_total = 0;
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        printf("%-17s %-19s %-10s %6d %7d %6d %9.3f %8.1f ",
               r->dir == 0 ? SHAPES[r->shape].name : "", r->dir == 0 ? SHAPES[r->shape].nets : "",
               DIR_NAMES[r->dir], r->M, r->N, r->Kin, r->conv_ms,
               rb_gflops(r->flop, r->conv_ms));
        if (on_cpu)
            printf("%9.3f %8.1f %5.0f%%\n", r->gemm_ms, rb_gflops(r->flop, r->gemm_ms),
                   100.0 * r->gemm_ms / r->conv_ms);
        else
            printf("%9s %8s %6s\n", "-", "-", "-");
        conv_total += r->conv_ms;
        gemm_total += r->gemm_ms;
        flop_total += r->flop;
    }
    printf("\ntotal fwd+bwd: conv %.2f ms = %.1f GFLOP/s", conv_total,
           rb_gflops(flop_total, conv_total));
    if (on_cpu)
        printf(", bare GEMM %.2f ms = %.1f GFLOP/s, ratio %.0f%%", gemm_total,
               rb_gflops(flop_total, gemm_total), 100.0 * gemm_total / conv_total);
    printf("\n");
}

/* On cuda the gemm_* and ratio fields are left out (no bare-GEMM baseline there). */
static void print_json(const bench_row *rows, int n, int on_cpu, int batch, int threads,
                       int reps, const char *describe)
{
    const char *ct = getenv("OPENBLAS_CORETYPE");
    rb_json j;
    rb_json_begin(&j, stdout);
    rb_json_str(&j, "benchmark", "conv");
    rb_json_str(&j, "device", rv_device_name(on_cpu ? RV_DEVICE_CPU : RV_DEVICE_CUDA));
    rb_json_int(&j, "batch", batch);
    rb_json_int(&j, "threads", threads);
    rb_json_int(&j, "reps", reps);
    rb_json_str(&j, "backend", describe);
    rb_json_str(&j, "openblas_coretype", ct ? ct : "");
    double conv_total = 0, gemm_total = 0, flop_total = 0;
    rb_json_array_begin(&j, "rows");
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        rb_json_object_begin(&j, NULL);
        rb_json_str(&j, "shape", SHAPES[r->shape].name);
        rb_json_str(&j, "networks", SHAPES[r->shape].nets);
        rb_json_str(&j, "call", DIR_NAMES[r->dir]);
        rb_json_int(&j, "M", r->M);
        rb_json_int(&j, "N", r->N);
        rb_json_int(&j, "K", r->Kin);
        rb_json_num(&j, "conv_ms", r->conv_ms);
        rb_json_num(&j, "conv_gflops", rb_gflops(r->flop, r->conv_ms));
        if (on_cpu) {
            rb_json_num(&j, "gemm_ms", r->gemm_ms);
            rb_json_num(&j, "gemm_gflops", rb_gflops(r->flop, r->gemm_ms));
            rb_json_num(&j, "ratio", r->gemm_ms / r->conv_ms);
        }
        rb_json_object_end(&j);
        conv_total += r->conv_ms;
        gemm_total += r->gemm_ms;
        flop_total += r->flop;
    }
    rb_json_array_end(&j);
    rb_json_object_begin(&j, "total");
    rb_json_num(&j, "conv_ms", conv_total);
    rb_json_num(&j, "conv_gflops", rb_gflops(flop_total, conv_total));
    if (on_cpu) {
        rb_json_num(&j, "gemm_ms", gemm_total);
        rb_json_num(&j, "gemm_gflops", rb_gflops(flop_total, gemm_total));
        rb_json_num(&j, "ratio", gemm_total / conv_total);
    }
    rb_json_object_end(&j);
    rb_json_end(&j);
}

int rb_cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        rb_cli_error(CMD, "which benchmark? valid: conv, step, peak (see revbench bench --help)");
        return RB_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return RB_EXIT_OK;
    }
    int sub = rb_cli_parse_choice(CMD, "benchmark", argv[1], SUBS);
    if (sub < 0) return RB_EXIT_USAGE;
    if (sub == 1) return rb_bench_step(argc - 1, argv + 1);
    if (sub == 2) return rb_bench_peak(argc - 1, argv + 1);

    long batch = 100, threads = 2, reps = 15;
    int json = 0, dev = RV_DEVICE_CPU;
    int cpu_backend = -1;
    const rb_opt opts[] = {
        RB_CHOICE("device", &dev, rv_device_names(), "device"),
        RB_LONG("batch", &batch, 1, 100000),
        RB_LONG("threads", &threads, 1, 256),
        RB_LONG("reps", &reps, 1, 100000),
        RB_FLAG("json", &json),
        RB_CHOICE("backend", &cpu_backend, rv_cpu_backend_names(), "backend"),
        RB_OPTS_END,
    };
    /* The options follow the benchmark's name, which stands in argv[0]'s place for them. */
    int prc = rb_opts_parse(CMD, usage, argc - 1, argv + 1, opts, NULL, 0, NULL);
    if (prc != RB_OPTS_GO) return prc;
    rb_cli_set_backend(cpu_backend);
    rv_device device = (rv_device)dev;

    rv_ctx *ctx = rb_cli_make_ctx(CMD, device, (int)threads);
    if (!ctx) return RB_EXIT_FAIL;
    int on_cpu = device == RV_DEVICE_CPU;
    bench_row rows[N_SHAPES * N_DIRS];
    memset(rows, 0, sizeof rows); /* the GEMM fields stay 0 on cuda */
    int rc = RB_EXIT_OK;
    /* All conv timings first, then all bare GEMMs: after a multi-threaded call OpenBLAS's
     * worker threads spin (sched_yield) for about 2^28 cycles before sleeping, and on a
     * 2-core machine that steals a core from the conv's OpenMP threads, which would charge the
     * GEMM's idle workers to the conv. The same holds at start-up, hence the pause. */
    struct timespec settle = { 0, 200 * 1000 * 1000 };
    nanosleep(&settle, NULL);
    for (int phase = 0; phase < (on_cpu ? 2 : 1); phase++)
        for (size_t s = 0; s < N_SHAPES && rc == RB_EXIT_OK; s++)
            rc = bench_shape_rows(ctx, (int)s, (int)batch, (int)threads, (int)reps, phase,
                                  &rows[s * N_DIRS]);
    if (rc == RB_EXIT_OK) {
        if (json)
            print_json(rows, (int)(N_SHAPES * N_DIRS), on_cpu, (int)batch, (int)threads,
                       (int)reps, rv_ctx_describe(ctx));
        else
            print_table(rows, (int)(N_SHAPES * N_DIRS), on_cpu, (int)batch, (int)threads,
                        (int)reps, rv_ctx_describe(ctx));
    }
    rv_ctx_destroy(ctx);
    return rc;
}
