/*
 * rng.c: PCG32 (XSH RR 64/32) and the draws built on it; see rng.h for the exact definitions,
 * which are part of the reproducibility contract (changing one changes every run's numbers).
 *
 * Owns nothing; all state is in the caller's rv_rng_state.
 */
#include <revnet/rng.h>

#include <math.h>

#define RV_PCG_MULT 6364136223846793005ULL

static void pcg_step(rv_rng_state *rng)
{
    rng->state = rng->state * RV_PCG_MULT + rng->inc;
}

void rv_rng_seed_stream(rv_rng_state *rng, uint64_t seed, uint64_t stream)
{
    /* The reference PCG initialisation: zero state, select the stream, step, add the seed,
     * step again, so that nearby seeds do not give nearby first outputs. */
    rng->state = 0;
    rng->inc = (stream << 1) | 1u;
    pcg_step(rng);
    rng->state += seed;
    pcg_step(rng);
    rng->spare = 0.0;
    rng->has_spare = 0;
    rng->reserved = 0;
}

void rv_rng_seed(rv_rng_state *rng, uint64_t seed)
{
    rv_rng_seed_stream(rng, seed, 0);
}

uint32_t rv_rng_u32(rv_rng_state *rng)
{
    uint64_t old = rng->state;
    pcg_step(rng);
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

uint32_t rv_rng_below(rv_rng_state *rng, uint32_t n)
{
    if (n <= 1) return 0;
    /* Reject the lowest 2^32 mod n values so that the accepted range is a whole number of
     * copies of [0, n); at most half the draws are rejected, usually almost none. */
    uint32_t threshold = (uint32_t)(0u - n) % n;
    for (;;) {
        uint32_t r = rv_rng_u32(rng);
        if (r >= threshold) return r % n;
    }
}

double rv_rng_uniform(rv_rng_state *rng)
{
    return (double)rv_rng_u32(rng) * (1.0 / 4294967296.0);
}

double rv_rng_normal(rv_rng_state *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    /* Polar method: a point uniform in the unit disc (minus the origin) gives two independent
     * normals; it needs no sin/cos, so fewer libm functions enter the result. */
    double u, v, s;
    do {
        u = 2.0 * rv_rng_uniform(rng) - 1.0;
        v = 2.0 * rv_rng_uniform(rng) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    rng->spare = v * f;
    rng->has_spare = 1;
    return u * f;
}

void rv_rng_permutation(rv_rng_state *rng, int32_t *out, int32_t n)
{
    for (int32_t i = 0; i < n; i++) out[i] = i;
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)rv_rng_below(rng, (uint32_t)i + 1u);
        int32_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}
