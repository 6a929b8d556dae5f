/* Thread counts scoped to one library call (see threads.h for why this is the way). */
#include "base/threads.h"

#include <omp.h>

#include "siamese.h"

sm_threads_scope sm_threads_enter(int threads) {
    sm_threads_scope scope = {0};
    int current = omp_get_max_threads();
    if (threads > SIAMESE_THREADS_MAX) threads = SIAMESE_THREADS_MAX;
    if (threads > 0 && threads != current) {
        scope.saved = current;
        omp_set_num_threads(threads);
    }
    return scope;
}

void sm_threads_leave(sm_threads_scope scope) {
    if (scope.saved > 0) omp_set_num_threads(scope.saved);
}
