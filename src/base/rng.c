/* xoshiro256** seeded by splitmix64: the only source of randomness in the library. */
#include "base/rng.h"

uint64_t sm_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void sm_rng_seed(sm_rng *rng, uint64_t seed) {
    for (int i = 0; i < 4; i++) rng->s[i] = sm_splitmix64(&seed);
}

uint64_t sm_rng_next(sm_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sm_rng_uniform(sm_rng *rng) { return (double)(sm_rng_next(rng) >> 11) * 0x1.0p-53; }

uint64_t sm_rng_below(sm_rng *rng, uint64_t bound) {
    uint64_t threshold = (0 - bound) % bound; /* 2^64 mod bound */
    for (;;) {
        uint64_t r = sm_rng_next(rng);
        if (r >= threshold) return r % bound;
    }
}

void sm_rng_pick_int(sm_rng *rng, int *v, int n, int k, int *out) {
    for (int i = 0; i < k; i++) {
        int j = i + (int)sm_rng_below(rng, (uint64_t)(n - i));
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
        out[i] = v[i];
    }
}

void sm_rng_shuffle_int(sm_rng *rng, int *v, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)sm_rng_below(rng, (uint64_t)i + 1);
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

uint64_t sm_seed_mix(uint64_t seed, uint64_t stream) {
    sm_rng rng;
    sm_rng_seed(&rng, seed ^ (stream * 0x9E3779B97F4A7C15ull));
    return sm_rng_next(&rng) ^ stream;
}
