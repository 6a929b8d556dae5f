/* Bootstrap resampling and 95% percentile intervals (numpy's linear percentile). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "eval/eval.h"

/* Uniform in [0, bound) without bias by Lemire's multiply-shift: a division only on the rare
 * rejection, where sm_rng_below divides on every draw (the resamples draw 10^8 times). */
static uint32_t below(sm_rng *rng, uint32_t bound) {
    uint64_t m = (sm_rng_next(rng) >> 32) * (uint64_t)bound;
    if ((uint32_t)m < bound) {
        uint32_t threshold = (uint32_t)(-bound) % bound;
        while ((uint32_t)m < threshold) m = (sm_rng_next(rng) >> 32) * (uint64_t)bound;
    }
    return (uint32_t)(m >> 32);
}

void sm_bootstrap_draw(uint64_t seed, int b, int n, int *counts) {
    /* Each resample has its own stream, so the result does not depend on the thread count. */
    uint64_t state = seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(b + 1));
    sm_rng rng;
    sm_rng_seed(&rng, sm_splitmix64(&state));
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (int i = 0; i < n; i++) counts[below(&rng, (uint32_t)n)]++;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double sm_percentile_sorted(const double *v, int n, double q) {
    if (n <= 0) return NAN;
    double pos = q / 100.0 * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}

siamese_interval sm_interval_none(double value) { return (siamese_interval){value, NAN, NAN}; }

siamese_interval sm_interval_from(double value, double *samples, int count) {
    int kept = 0;
    for (int i = 0; i < count; i++)
        if (!isnan(samples[i])) samples[kept++] = samples[i];
    if (kept == 0) return sm_interval_none(value);
    qsort(samples, (size_t)kept, sizeof *samples, by_value);
    return (siamese_interval){value, sm_percentile_sorted(samples, kept, 2.5),
                              sm_percentile_sorted(samples, kept, 97.5)};
}
