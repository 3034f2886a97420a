/*
 * rng.h: the seeded, deterministic random number generator of a run.
 *
 * Generator: PCG32 (O'Neill 2014, "PCG XSH RR 64/32"): a 64-bit linear congruential state
 *   s <- s * 6364136223846793005 + inc   (inc odd; it selects one of 2^63 streams)
 * whose output is a 32-bit permutation of the old state (xorshift high bits, random rotation).
 * Chosen because it is small, fast, passes the usual statistical batteries, and its whole state
 * is two integers, so a checkpoint can store it and resume the exact same stream.
 *
 * Everything derived from it is specified here so it is reproducible from the state alone:
 * uniform doubles from one 32-bit draw, unbiased bounded integers by rejection, normals by the
 * Marsaglia polar method (the second value of each pair is kept in the state), permutations by
 * Fisher-Yates. Normal draws call log() and sqrt(); sqrt is exactly rounded by IEEE 754, log
 * comes from the C library, so normal streams are bit-identical on one libm (glibc on x86-64
 * here) and may differ in the last bit on another.
 *
 * Owns nothing: the state is a plain struct the caller holds, copies and saves.
 */
#ifndef RV_RNG_H
#define RV_RNG_H

#include <stdint.h>

/*
 * The complete generator state: copy it to fork a stream, write its bytes to a checkpoint and
 * read them back to resume. 32 bytes with no padding, so its bytes are fully defined.
 */
typedef struct {
    uint64_t state;     /* LCG state */
    uint64_t inc;       /* stream increment, always odd */
    double spare;       /* the second normal of the last polar pair, valid if has_spare */
    uint32_t has_spare; /* 1 when spare holds an unused normal */
    uint32_t reserved;  /* always 0; keeps the struct free of padding */
} rv_rng_state;

/* Seeds stream 0 with seed. Same seed, same stream, on every machine. */
void rv_rng_seed(rv_rng_state *rng, uint64_t seed);

/* Seeds an independent stream: (seed, stream) pairs that differ in stream give unrelated
 * sequences, e.g. one stream for weight init and one for data order under the same run seed. */
void rv_rng_seed_stream(rv_rng_state *rng, uint64_t seed, uint64_t stream);

/* The next 32 uniformly distributed bits. */
uint32_t rv_rng_u32(rv_rng_state *rng);

/* A uniform integer in [0, n), without modulo bias (rejection); n must be >= 1. */
uint32_t rv_rng_below(rv_rng_state *rng, uint32_t n);

/* A uniform double in [0, 1): one 32-bit draw times 2^-32. */
double rv_rng_uniform(rv_rng_state *rng);

/* A standard normal (mean 0, sd 1), Marsaglia polar method. Consumes draws in pairs; every
 * other call returns the spare kept in the state and draws nothing. */
double rv_rng_normal(rv_rng_state *rng);

/* Writes a uniformly random permutation of 0 .. n-1 into out (n >= 0 entries): out starts as
 * the identity, then Fisher-Yates from the last position down, j = rv_rng_below(i + 1). This is
 * the epoch order of the training loop. */
void rv_rng_permutation(rv_rng_state *rng, int32_t *out, int32_t n);

#endif
