/* Data-parallel training over MPI (issue 16): the communicator of a run, its rank and size, the
 * gradient sum (one allreduce, or per layer overlapped with backward) and the agreements that
 * keep every rank on the same path. A NULL sm_dist is one process: every call is then a no-op. */
#ifndef SM_DIST_H
#define SM_DIST_H

#include <stddef.h>

#include "base/errors.h"

typedef struct sm_dist sm_dist;

/* The run's communicator: NULL (one process) when the library was built without MPI, when MPI
 * is not initialized, or when MPI_COMM_WORLD has one rank. Else a duplicate of MPI_COMM_WORLD.
 * overlap = 1 sums gradients per layer while backward runs, 0 in one allreduce after it;
 * the environment variable SIAMESE_DIST_OVERLAP=0 or 1 overrides it (for benchmarks). */
siamese_status sm_dist_open(int overlap, sm_dist **out, sm_err *err);
void sm_dist_free(sm_dist *d);

int sm_dist_rank(const sm_dist *d); /* 0 for NULL */
int sm_dist_size(const sm_dist *d); /* 1 for NULL */
int sm_dist_overlap(const sm_dist *d);

/* This rank's contiguous slice [*first, *first + *count) of n items (ranks below n % size get
 * one more); count may be 0 when n < size. */
void sm_dist_slice(const sm_dist *d, int n, int *first, int *count);

/* Sums v[n] over the ranks, in place (blocking). */
void sm_dist_sum_doubles(sm_dist *d, double *v, int n);
/* Averages v[n] over the ranks, in place (batchnorm running statistics). */
void sm_dist_average_floats(sm_dist *d, float *v, size_t n);
/* 1 on every rank when flag is nonzero on any rank. */
int sm_dist_any(sm_dist *d, int flag);
/* Rank 0's bytes to every rank; waiting ranks sleep between polls (a busy wait would take the
 * core from rank 0 on an oversubscribed machine). */
void sm_dist_broadcast(sm_dist *d, void *buf, size_t bytes);
/* Every rank's status becomes the first failure of any rank: a rank that was fine gets an error
 * naming the rank that failed (its own message is on that rank). */
siamese_status sm_dist_agree(sm_dist *d, siamese_status st, sm_err *err);

/* The gradient sum of one step over the flat buffer grads[n], in chunks [bounds[i], bounds[i-1])
 * (bounds descending, the same on every rank; the last chunk ends at n, the first starts at 0):
 * begin, then ready(first) each time the gradients from first to the end are final (backward
 * finishes layers from the last to the first) to start the chunks inside, then end, which
 * starts the rest and waits. A rank without backward calls begin and end only. Without overlap,
 * ready does nothing and end is one MPI_Allreduce. */
void sm_dist_grads_begin(sm_dist *d, float *grads, size_t n, const size_t *bounds, int n_bounds);
void sm_dist_grads_ready(sm_dist *d, size_t first);
void sm_dist_grads_end(sm_dist *d);
/* Seconds spent inside the gradient calls (begin/ready/end) since the last reset. */
double sm_dist_comm_seconds(const sm_dist *d);
void sm_dist_reset_comm_seconds(sm_dist *d);

#endif
