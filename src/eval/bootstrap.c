/* Bootstrap resampling and 95% percentile intervals (numpy's linear percentile). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "eval/eval.h"

void sm_bootstrap_draw(uint64_t seed, int b, int n, int *counts) {
    /* Each resample has its own stream, so the result does not depend on the thread count. */
    uint64_t state = seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(b + 1));
    sm_rng rng;
    sm_rng_seed(&rng, sm_splitmix64(&state));
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (int i = 0; i < n; i++) counts[sm_rng_below(&rng, (uint64_t)n)]++;
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
