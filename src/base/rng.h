/* A small seeded random generator (xoshiro256**) owned by whoever needs randomness; no globals. */
#ifndef SM_RNG_H
#define SM_RNG_H

#include <stdint.h>

typedef struct sm_rng {
    uint64_t s[4];
} sm_rng;

/* splitmix64: advances *state by the golden-ratio step and returns its mixed value. */
uint64_t sm_splitmix64(uint64_t *state);
/* Seeds the state from one 64-bit seed (splitmix64). */
void sm_rng_seed(sm_rng *rng, uint64_t seed);
uint64_t sm_rng_next(sm_rng *rng);
/* Uniform double in [0, 1) with 53 random bits. */
double sm_rng_uniform(sm_rng *rng);
/* Uniform integer in [0, bound) without modulo bias; bound > 0. */
uint64_t sm_rng_below(sm_rng *rng, uint64_t bound);
/* Fisher-Yates shuffle of n ints. */
void sm_rng_shuffle_int(sm_rng *rng, int *v, int n);
/* k distinct items of v[0..n) (k <= n) into out, by a partial Fisher-Yates shuffle that
 * reorders v. */
void sm_rng_pick_int(sm_rng *rng, int *v, int n, int k, int *out);

/* A seed for one use (stream) of a run's seed, e.g. (seed, epoch): independent streams from one seed. */
uint64_t sm_seed_mix(uint64_t seed, uint64_t stream);

#endif
