/*
 * bench_peak.c: `revbench bench peak`: the floating-point peak of this machine's cores, measured
 * now: the rate of fused multiply-adds at each vector width the CPU has (256-bit AVX2+FMA,
 * 512-bit AVX-512), on T threads at once.
 *
 * Why: a training step cannot be faster than its convolution work at this rate (`bench step`
 * prints that work and the rate its convolutions reached), so the peak is the ceiling any
 * CPU implementation of the same network, ours or PyTorch's, runs under. It is measured rather
 * than computed from a clock and a core count because the machines here are virtual: the clock
 * under load, the number of FMA pipes a 512-bit instruction gets (two on Zen 5 and Xeons, one
 * double-pumped on Zen 4), and what a neighbour takes all show in it.
 *
 * The kernel keeps ACC independent accumulators per thread, each updated by one FMA per
 * iteration, so that the FMA latency (4-5 cycles) times the pipes (2) is covered and the loop is
 * bound by FMA throughput alone. A run of the T threads repeats the kernel for at least
 * MIN_RUN_MS; the median of RUNS runs is reported, with the best. Owns nothing past the call.
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "commands/bench_peak.h"
#include "commands/model_cli.h"
#include "commands/options.h"
#include "common/exit_status.h"
#include "common/json.h"
#include "common/measure.h"

#define CMD "bench peak"
#define ACC 12         /* independent FMA chains per thread: 12 of the 16 ymm registers */
#define RUNS 7
#define MIN_RUN_MS 60.0

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench bench peak [--threads T] [--json]\n\n"
            "The floating-point peak of this CPU, measured now: fused multiply-adds per second\n"
            "on T threads at each vector width the CPU has (256-bit AVX2+FMA, 512-bit AVX-512),\n"
            "median of %d runs of >= %.0f ms. A training step cannot be faster than its\n"
            "convolution work at this rate (`revbench bench step` prints that work).\n\n"
            "options:\n"
            "  --threads T  threads, each on its own chains (default 2)\n"
            "  --json       print one JSON object instead of the table\n"
            "  --help       this message\n",
            RUNS, MIN_RUN_MS);
}

/* The ACC chains, spelt out: an array of accumulators would be kept in memory at -O2, and the
 * loop would then time loads and stores, not FMAs. */
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECLARE(i, set1) , acc##i = set1((float)(i))
#define STEP(i, fmadd) acc##i = fmadd(acc##i, a, b);
#define ADD(i, add) sum = add(sum, acc##i);

/* iters iterations of ACC independent 8-wide FMA chains; returns a value that depends on every
 * chain, so that the compiler keeps them. */
__attribute__((target("avx2,fma"))) static float chains_256(long iters)
{
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
#define D(i) DECLARE(i, _mm256_set1_ps)
    __m256 sum = _mm256_setzero_ps() CHAINS(D);
#undef D
#define S(i) STEP(i, _mm256_fmadd_ps)
    for (long it = 0; it < iters; it++) { CHAINS(S) }
#undef S
#define A(i) ADD(i, _mm256_add_ps)
    CHAINS(A)
#undef A
    float out[8];
    _mm256_storeu_ps(out, sum);
    return out[0] + out[7];
}

/* The same with 16-wide chains. */
__attribute__((target("avx512f"))) static float chains_512(long iters)
{
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
#define D(i) DECLARE(i, _mm512_set1_ps)
    __m512 sum = _mm512_setzero_ps() CHAINS(D);
#undef D
#define S(i) STEP(i, _mm512_fmadd_ps)
    for (long it = 0; it < iters; it++) { CHAINS(S) }
#undef S
#define A(i) ADD(i, _mm512_add_ps)
    CHAINS(A)
#undef A
    return _mm512_reduce_add_ps(sum);
}

typedef struct {
    const char *name; /* "fma256", "fma512" */
    int lanes;        /* floats per vector */
    int available;
    double median_gflops, best_gflops;
} peak_width;

/* One run of `threads` threads, each doing iters iterations at width w; its wall time in ms. */
static double one_run(const peak_width *w, int threads, long iters, volatile float *sink)
{
    double t0 = rb_now_ms();
    float total = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += w->lanes == 16 ? chains_512(iters) : chains_256(iters);
    double ms = rb_now_ms() - t0;
    *sink += total;
    return ms;
}

static void measure(peak_width *w, int threads)
{
    volatile float sink = 0.0f;
    /* Grow the run until it lasts MIN_RUN_MS, which also warms the cores' clocks. */
    long iters = 1 << 14;
    while (one_run(w, threads, iters, &sink) < MIN_RUN_MS && iters < (1L << 40)) iters *= 2;
    double gflops[RUNS];
    const double flop = 2.0 * w->lanes * ACC * (double)iters * threads;
    for (int r = 0; r < RUNS; r++) gflops[r] = rb_gflops(flop, one_run(w, threads, iters, &sink));
    w->best_gflops = 0.0;
    for (int r = 0; r < RUNS; r++)
        if (gflops[r] > w->best_gflops) w->best_gflops = gflops[r];
    w->median_gflops = rb_median(gflops, RUNS);
}

int rb_bench_peak(int argc, char **argv)
{
    long threads = 2;
    int json = 0;
    const rb_opt opts[] = {
        RB_LONG("threads", &threads, 1, 1024),
        RB_FLAG("json", &json),
        RB_OPTS_END,
    };
    int prc = rb_opts_parse(CMD, usage, argc, argv, opts, NULL, 0, NULL);
    if (prc != RB_OPTS_GO) return prc;

    __builtin_cpu_init();
    peak_width widths[] = {
        { "fma256", 8, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"), 0, 0 },
        { "fma512", 16, __builtin_cpu_supports("avx512f"), 0, 0 },
    };
    const int n_widths = (int)(sizeof widths / sizeof widths[0]);
    double peak = 0.0;
    for (int i = 0; i < n_widths; i++) {
        if (!widths[i].available) continue;
        measure(&widths[i], (int)threads);
        if (widths[i].median_gflops > peak) peak = widths[i].median_gflops;
    }
    if (peak == 0.0) {
        rb_cli_error(CMD, "this CPU has neither AVX2+FMA nor AVX-512: no FMA peak to measure");
        return RB_EXIT_FAIL;
    }

    if (json) {
        rb_json j;
        rb_json_begin(&j, stdout);
        rb_json_str(&j, "benchmark", "peak");
        rb_json_int(&j, "threads", (int)threads);
        rb_json_int(&j, "runs", RUNS);
        for (int i = 0; i < n_widths; i++) {
            if (!widths[i].available) continue;
            char key[32];
            snprintf(key, sizeof key, "%s_gflops", widths[i].name);
            rb_json_num(&j, key, widths[i].median_gflops);
            snprintf(key, sizeof key, "%s_best_gflops", widths[i].name);
            rb_json_num(&j, key, widths[i].best_gflops);
        }
        rb_json_num(&j, "peak_gflops", peak);
        rb_json_end(&j);
        return RB_EXIT_OK;
    }
    printf("FMA peak on %ld thread%s (float32, median of %d runs of >= %.0f ms; best in "
           "brackets)\n", threads, threads == 1 ? "" : "s", RUNS, MIN_RUN_MS);
    for (int i = 0; i < n_widths; i++) {
        if (!widths[i].available)
            printf("  %-7s not on this CPU\n", widths[i].name);
        else
            printf("  %-7s %8.1f GFLOP/s (%.1f)\n", widths[i].name, widths[i].median_gflops,
                   widths[i].best_gflops);
    }
    printf("peak: %.1f GFLOP/s\n", peak);
    return RB_EXIT_OK;
}
