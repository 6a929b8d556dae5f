/* Data-parallel training over MPI (issue 16): the communicator of a run, slices of the global
 * batch, the gradient sum (overlapped per layer with backward, or one allreduce) and the
 * agreements that keep every rank on the same path. Without MPI every call is a no-op. */
#include "run/dist.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"

#ifdef SIAMESE_WITH_MPI
#include <limits.h>
#include <mpi.h>
#include <time.h>

struct sm_dist {
    MPI_Comm comm;
    int rank, size, overlap;
    float *grads;         /* the step's gradient buffer (between begin and end) */
    size_t started_from;  /* gradients [started_from, n) are being summed */
    const size_t *bounds; /* chunk starts, descending: the same chunks on every rank */
    int n_bounds, next_bound;
    MPI_Request *requests;
    int n_requests, cap_requests;
    double comm_seconds;
};

static int env_overlap(int overlap) {
    const char *v = getenv("SIAMESE_DIST_OVERLAP");
    if (v && (v[0] == '0' || v[0] == '1') && v[1] == '\0') return v[0] == '1';
    return overlap;
}

siamese_status sm_dist_open(int overlap, sm_dist **out, sm_err *err) {
    *out = NULL;
    int initialized = 0, finalized = 0, size = 1;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) return SIAMESE_OK;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) return SIAMESE_OK;
    sm_dist *d = calloc(1, sizeof *d);
    if (!d) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    if (MPI_Comm_dup(MPI_COMM_WORLD, &d->comm) != MPI_SUCCESS) {
        free(d);
        return sm_fail(err, SIAMESE_ERR_BACKEND, "MPI: cannot duplicate MPI_COMM_WORLD");
    }
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    d->overlap = env_overlap(overlap);
    *out = d;
    return SIAMESE_OK;
}

void sm_dist_free(sm_dist *d) {
    if (!d) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&d->comm);
    free(d->requests);
    free(d);
}

int sm_dist_rank(const sm_dist *d) { return d ? d->rank : 0; }
int sm_dist_size(const sm_dist *d) { return d ? d->size : 1; }
int sm_dist_overlap(const sm_dist *d) { return d ? d->overlap : 0; }

/* Waits for one request, sleeping 0.2 ms between tests instead of spinning. */
static void wait_gently(MPI_Request *req) {
    int done = 0;
    struct timespec pause = {0, 200000};
    for (MPI_Test(req, &done, MPI_STATUS_IGNORE); !done; MPI_Test(req, &done, MPI_STATUS_IGNORE))
        nanosleep(&pause, NULL);
}

void sm_dist_sum_doubles(sm_dist *d, double *v, int n) {
    if (d) MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, d->comm);
}

/* In chunks of at most INT_MAX elements (MPI counts are ints). */
static void sum_floats(sm_dist *d, float *v, size_t n) {
    for (size_t done = 0; done < n;) {
        int count = n - done > INT_MAX ? INT_MAX : (int)(n - done);
        MPI_Allreduce(MPI_IN_PLACE, v + done, count, MPI_FLOAT, MPI_SUM, d->comm);
        done += (size_t)count;
    }
}

void sm_dist_average_floats(sm_dist *d, float *v, size_t n) {
    if (!d || n == 0) return;
    sum_floats(d, v, n);
    for (size_t i = 0; i < n; i++) v[i] /= (float)d->size;
}

int sm_dist_any(sm_dist *d, int flag) {
    if (!d) return flag != 0;
    int any = flag != 0;
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_LOR, d->comm, &req);
    wait_gently(&req);
    return any;
}

void sm_dist_broadcast(sm_dist *d, void *buf, size_t bytes) {
    if (!d) return;
    for (size_t done = 0; done < bytes;) {
        int count = bytes - done > INT_MAX ? INT_MAX : (int)(bytes - done);
        MPI_Request req;
        MPI_Ibcast((char *)buf + done, count, MPI_BYTE, 0, d->comm, &req);
        wait_gently(&req);
        done += (size_t)count;
    }
}

siamese_status sm_dist_agree(sm_dist *d, siamese_status st, sm_err *err) {
    if (!d) return st;
    /* MINLOC over (rank if failed else size, status): the lowest failing rank and its status */
    int mine[2] = {st != SIAMESE_OK ? d->rank : d->size, (int)st}, first[2];
    MPI_Request req;
    MPI_Iallreduce(mine, first, 1, MPI_2INT, MPI_MINLOC, d->comm, &req);
    wait_gently(&req);
    if (first[0] == d->size || st != SIAMESE_OK) return st;
    return sm_fail(err, (siamese_status)first[1],
                   "rank %d of %d stopped (its message is in its own output); this rank stops too",
                   first[0], d->size);
}

void sm_dist_slice(const sm_dist *d, int n, int *first, int *count) {
    sm_share_of(n, sm_dist_rank(d), sm_dist_size(d), first, count);
}

/* ---- the gradient sum of a step */

static void add_request(sm_dist *d, MPI_Request req) {
    if (sm_grow((void **)&d->requests, &d->cap_requests, d->n_requests + 1, sizeof *d->requests)) {
        MPI_Wait(&req, MPI_STATUS_IGNORE); /* cannot keep it pending: finish it now */
        return;
    }
    d->requests[d->n_requests++] = req;
}

/* Starts the sum of grads[first, started_from) (in INT_MAX pieces). */
static void start_chunk(sm_dist *d, size_t first) {
    while (first < d->started_from) {
        size_t n = d->started_from - first;
        int count = n > INT_MAX ? INT_MAX : (int)n;
        size_t at = d->started_from - (size_t)count;
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, d->grads + at, count, MPI_FLOAT, MPI_SUM, d->comm, &req);
        add_request(d, req);
        d->started_from = at;
    }
}

/* Starts every chunk that begins at or after first: every rank starts the same chunks in the same
 * order (nonblocking collectives must match), whenever its backward reaches them. */
static void start_sum(sm_dist *d, size_t first) {
    for (; d->next_bound < d->n_bounds && d->bounds[d->next_bound] >= first; d->next_bound++)
        start_chunk(d, d->bounds[d->next_bound]);
    if (first == 0) start_chunk(d, 0);
}

void sm_dist_grads_begin(sm_dist *d, float *grads, size_t n, const size_t *bounds, int n_bounds) {
    if (!d) return;
    d->grads = grads;
    d->started_from = n;
    d->n_requests = 0;
    d->bounds = bounds;
    d->n_bounds = n_bounds;
    d->next_bound = 0;
}

void sm_dist_grads_ready(sm_dist *d, size_t first) {
    if (!d || !d->overlap) return;
    double t0 = sm_now_seconds();
    start_sum(d, first);
    int done = 0; /* MPI progresses only inside MPI calls: one test moves the pending sums on */
    if (d->n_requests) MPI_Testall(d->n_requests, d->requests, &done, MPI_STATUSES_IGNORE);
    d->comm_seconds += sm_now_seconds() - t0;
}

void sm_dist_grads_end(sm_dist *d) {
    if (!d) return;
    double t0 = sm_now_seconds();
    if (d->overlap) {
        start_sum(d, 0);
        MPI_Waitall(d->n_requests, d->requests, MPI_STATUSES_IGNORE);
    } else {
        sum_floats(d, d->grads, d->started_from);
    }
    d->n_requests = 0;
    d->grads = NULL;
    d->comm_seconds += sm_now_seconds() - t0;
}

double sm_dist_comm_seconds(const sm_dist *d) { return d ? d->comm_seconds : 0.0; }
void sm_dist_reset_comm_seconds(sm_dist *d) {
    if (d) d->comm_seconds = 0.0;
}

#else /* one process: no MPI in this build */

siamese_status sm_dist_open(int overlap, sm_dist **out, sm_err *err) {
    (void)overlap;
    (void)err;
    *out = NULL;
    return SIAMESE_OK;
}
void sm_dist_free(sm_dist *d) { (void)d; }
int sm_dist_rank(const sm_dist *d) { return (void)d, 0; }
int sm_dist_size(const sm_dist *d) { return (void)d, 1; }
int sm_dist_overlap(const sm_dist *d) { return (void)d, 0; }
void sm_dist_slice(const sm_dist *d, int n, int *first, int *count) {
    (void)d;
    *first = 0;
    *count = n;
}
void sm_dist_sum_doubles(sm_dist *d, double *v, int n) { (void)d, (void)v, (void)n; }
void sm_dist_average_floats(sm_dist *d, float *v, size_t n) { (void)d, (void)v, (void)n; }
int sm_dist_any(sm_dist *d, int flag) { return (void)d, flag != 0; }
void sm_dist_broadcast(sm_dist *d, void *buf, size_t bytes) { (void)d, (void)buf, (void)bytes; }
siamese_status sm_dist_agree(sm_dist *d, siamese_status st, sm_err *err) {
    (void)d, (void)err;
    return st;
}
void sm_dist_grads_begin(sm_dist *d, float *grads, size_t n, const size_t *bounds, int n_bounds) {
    (void)d, (void)grads, (void)n, (void)bounds, (void)n_bounds;
}
void sm_dist_grads_ready(sm_dist *d, size_t first) { (void)d, (void)first; }
void sm_dist_grads_end(sm_dist *d) { (void)d; }
double sm_dist_comm_seconds(const sm_dist *d) { return (void)d, 0.0; }
void sm_dist_reset_comm_seconds(sm_dist *d) { (void)d; }

#endif
