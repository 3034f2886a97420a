/*
 * test_rng.c: the run's random number generator (include/revnet/rng.h): the PCG32 reference stream,
 * determinism, resuming from a saved state, and the distributions of the derived draws.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <revnet/rng.h>

/* Sample size of the distribution checks: large enough for the tolerances below, a few ms. */
#define N_SAMPLES 100000
/* Tolerances for statistics of N_SAMPLES draws, each about 5 standard errors of the statistic,
 * so a correct generator fails with probability ~1e-6 per check for a random seed (the seeds
 * here are fixed, so the tests are deterministic; the margin is there so that changing a seed
 * does not make them fail), while a wrong scale or offset (e.g. sd 1.05, mean 0.02) fails.
 *   mean of N(0,1):           SE = 1/sqrt(N)          = 0.00316 -> 0.016
 *   sd of N(0,1):             SE ~ 1/sqrt(2N)         = 0.00224 -> 0.012
 *   P(|z| < 1) = 0.682689:    SE = sqrt(p(1-p)/N)     = 0.00147 -> 0.0075
 *   mean of U[0,1):           SE = sqrt(1/12)/sqrt(N) = 0.00091 -> 0.0046
 *   count of one of 5 values: SE = sqrt(N*0.2*0.8)    = 126.5   -> 640 */
#define TOL_NORMAL_MEAN 0.016
#define TOL_NORMAL_SD 0.012
#define TOL_NORMAL_WITHIN1 0.0075
#define TOL_UNIFORM_MEAN 0.0046
#define TOL_BELOW_COUNT 640.0

Test(rng, matches_pcg32_reference_stream)
{
    /* The first outputs of the PCG reference implementation (pcg32-demo) for
     * pcg32_srandom_r(&rng, 42, 54): the generator and its seeding are PCG32 exactly. */
    static const uint32_t expected[6] = { 0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                          0x83d2f293u, 0xbfa4784bu, 0xcbed606eu };
    rv_rng_state r;
    rv_rng_seed_stream(&r, 42, 54);
    for (int i = 0; i < 6; i++) {
        uint32_t got = rv_rng_u32(&r);
        cr_assert_eq(got, expected[i], "output %d: got 0x%08x, expected 0x%08x", i, got,
                     expected[i]);
    }
}

Test(rng, same_seed_same_stream_other_seed_other_stream)
{
    rv_rng_state a, b, c, d;
    rv_rng_seed(&a, 1234);
    rv_rng_seed(&b, 1234);
    rv_rng_seed(&c, 1235);
    rv_rng_seed_stream(&d, 1234, 1);
    int same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = rv_rng_u32(&a);
        cr_assert_eq(x, rv_rng_u32(&b), "draw %d differs for the same seed", i);
        same_c += x == rv_rng_u32(&c);
        same_d += x == rv_rng_u32(&d);
    }
    /* Two unrelated 32-bit streams agree at a position with probability 2^-32. */
    cr_assert_lt(same_c, 2, "seeds 1234 and 1235 give nearly the same stream");
    cr_assert_lt(same_d, 2, "streams 0 and 1 of one seed give nearly the same stream");
}

Test(rng, state_has_no_padding)
{
    /* Checkpoints write the struct's bytes; with no padding every byte is defined. */
    cr_assert_eq(sizeof(rv_rng_state), 2 * sizeof(uint64_t) + sizeof(double) +
                                           2 * sizeof(uint32_t));
}

Test(rng, saved_state_resumes_the_same_stream)
{
    rv_rng_state r;
    rv_rng_seed(&r, 77);
    for (int i = 0; i < 10; i++) rv_rng_u32(&r);
    /* An odd number of normals leaves a spare in the state: it must be saved with it. */
    for (int i = 0; i < 3; i++) rv_rng_normal(&r);
    cr_assert_eq(r.has_spare, 1u);

    unsigned char saved[sizeof r];
    memcpy(saved, &r, sizeof r);

    double ref_normal[5];
    uint32_t ref_u32[5], ref_below[5];
    for (int i = 0; i < 5; i++) {
        ref_normal[i] = rv_rng_normal(&r);
        ref_u32[i] = rv_rng_u32(&r);
        ref_below[i] = rv_rng_below(&r, 7);
    }

    rv_rng_state resumed;
    memcpy(&resumed, saved, sizeof resumed);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(rv_rng_normal(&resumed), ref_normal[i], "normal %d", i);
        cr_assert_eq(rv_rng_u32(&resumed), ref_u32[i], "u32 %d", i);
        cr_assert_eq(rv_rng_below(&resumed, 7), ref_below[i], "below %d", i);
    }
}

Test(rng, normal_has_mean_0_and_sd_1)
{
    rv_rng_state r;
    rv_rng_seed(&r, 2017);
    double sum = 0, sum2 = 0;
    long within1 = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        double z = rv_rng_normal(&r);
        cr_assert(isfinite(z));
        sum += z;
        sum2 += z * z;
        within1 += fabs(z) < 1.0;
    }
    double mean = sum / N_SAMPLES;
    double sd = sqrt(sum2 / N_SAMPLES - mean * mean);
    cr_assert_lt(fabs(mean), TOL_NORMAL_MEAN, "mean %g", mean);
    cr_assert_lt(fabs(sd - 1.0), TOL_NORMAL_SD, "sd %g", sd);
    double p1 = (double)within1 / N_SAMPLES;
    cr_assert_lt(fabs(p1 - 0.682689), TOL_NORMAL_WITHIN1, "P(|z|<1) = %g", p1);
}

Test(rng, uniform_in_unit_interval)
{
    rv_rng_state r;
    rv_rng_seed(&r, 5);
    double sum = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        double u = rv_rng_uniform(&r);
        cr_assert(u >= 0.0 && u < 1.0, "uniform %g outside [0, 1)", u);
        sum += u;
    }
    cr_assert_lt(fabs(sum / N_SAMPLES - 0.5), TOL_UNIFORM_MEAN, "mean %g", sum / N_SAMPLES);
}

Test(rng, below_is_in_range_and_even)
{
    rv_rng_state r;
    rv_rng_seed(&r, 9);
    long count[5] = { 0 };
    for (int i = 0; i < N_SAMPLES; i++) {
        uint32_t k = rv_rng_below(&r, 5);
        cr_assert_lt(k, 5u);
        count[k]++;
    }
    for (int k = 0; k < 5; k++)
        cr_assert_lt(fabs((double)count[k] - N_SAMPLES / 5.0), TOL_BELOW_COUNT,
                     "value %d drawn %ld times of %d", k, count[k], N_SAMPLES);
    cr_assert_eq(rv_rng_below(&r, 1), 0u);
    cr_assert_eq(rv_rng_below(&r, 0), 0u);
}

Test(rng, permutation_is_a_deterministic_permutation)
{
    enum { N = 1000 };
    static int32_t p[N], q[N];
    static int seen[N];
    rv_rng_state a, b;
    rv_rng_seed(&a, 3);
    rv_rng_seed(&b, 3);
    rv_rng_permutation(&a, p, N);
    rv_rng_permutation(&b, q, N);
    int fixed = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(p[i] >= 0 && p[i] < N);
        cr_assert_eq(seen[p[i]], 0, "%d appears twice", p[i]);
        seen[p[i]] = 1;
        cr_assert_eq(p[i], q[i], "same seed, different permutation at %d", i);
        fixed += p[i] == i;
    }
    /* A random permutation has on average 1 fixed point; 10 or more has probability ~1e-7. */
    cr_assert_lt(fixed, 10, "%d fixed points: not shuffled", fixed);
    /* The next epoch's order differs from this one. */
    rv_rng_permutation(&a, q, N);
    cr_assert_neq(memcmp(p, q, sizeof p), 0);
    int32_t one = -1;
    rv_rng_permutation(&a, &one, 1);
    cr_assert_eq(one, 0);
}
