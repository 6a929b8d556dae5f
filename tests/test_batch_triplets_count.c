/* The triplet loss over a batch with more triplets than an int holds (P x K = 2 x 1025: 2.15e9,
 * every one above zero): the count of averaged triplets must not wrap. Seconds of loops, so slow.
 */
/* ctest-label: slow */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "nn/batch_triplets.h"

#define P 2
#define K 1025
#define N (P * K)

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

Test(batch_triplets_count, more_triplets_than_an_int_keep_a_positive_mean) {
    if (SANITIZED) /* plain arithmetic: nothing a sanitizer would see that the small tests miss */
        cr_skip_test(
            "2.15e9 triplets take minutes under the sanitizers; the Release suite runs it");
    sm_batch_pairs_work w;
    cr_assert_eq(sm_batch_pairs_work_init(&w, N, 1), 0);
    int classes[N];
    for (int i = 0; i < N; i++) {
        classes[i] = i / K;
        w.emb[i] = 0.0; /* every distance equal: each triplet's loss is the margin */
    }
    int active = 0;
    double loss = sm_batch_triplets_loss(&w, SIAMESE_METRIC_EUCLIDEAN, 1.0, SIAMESE_MINING_ALL, N,
                                         classes, 1, &active);
    cr_assert(fabs(loss - 1.0) < 1e-12, "mean %.9g, want the margin 1", loss);
    cr_assert_eq(active, INT_MAX, "active %d: more than INT_MAX triplets are reported as INT_MAX",
                 active);
    /* D(x, y) = |x - y + eps| has dD/dx = 1 here, so image i gets (2K (same-class pairs after i
     * less before) - 2 (K - 1) (other-class pairs after less before)) / (2 K K (K - 1)) */
    cr_assert(fabs(w.grad[K - 1] + 2.0 / K) < 1e-12, "grad %g, want %g", w.grad[K - 1], -2.0 / K);
    cr_assert(fabs(w.grad[K] - 2.0 / K) < 1e-12, "grad %g, want %g", w.grad[K], 2.0 / K);
    sm_batch_pairs_work_free(&w);
}
