/* Exact k nearest neighbours: candidates from a GEMM over blocks of queries x gallery (threads over
 * gallery blocks, a bounded heap per query and thread), then the library's own distance for every
 * candidate, with a proof that no other row can rank among the k: results equal a brute force. */
#include <math.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/memlimit.h"
#include "base/signal_hold.h"
#include "siamese.h"

#define QUERY_BLOCK 256         /* queries per GEMM */
#define SCORES_PER_BLOCK 262144 /* query x gallery scores per thread buffer (1 MB) */
#define MAX_GALLERY_BLOCK 1024  /* gallery rows per block: stats then GEMM read it from L2 */
#define SPARE_MIN 8             /* candidates kept beyond k (at least k more) */
#define COSINE_EPS 1e-8         /* as nn/loss.c: each norm is clamped to at least eps */
#define PAIRWISE_EPS 1e-6       /* as nn/loss.c: PyTorch pairwise_distance adds eps */
#define UNIT_ROUNDOFF 5.9604644775390625e-08 /* 2^-24, float */

/* One candidate: the approximate key (monotone in the distance) and its gallery row. */
typedef struct cand {
    float key;
    int index;
} cand;

/* A bounded max-heap of the best (smallest-key) candidates one thread has seen for one query. */
typedef struct heap {
    cand *items;
    int count;
} heap;

/* Per-row numbers the key needs, from one pass over the row (see row_stats). */
typedef struct stats {
    float sq;    /* euclidean: |x|^2 */
    float inv;   /* cosine, correlation: 1 / max(|x - mean|, eps) */
    float mean;  /* correlation: the mean of x */
    float scale; /* error scale: euclidean |x|; cosine 1; correlation |x| / max(|x - mean|, eps) */
} stats;

/* The whole search: inputs, sizes and per-thread state. */
typedef struct knn_job {
    siamese_metric metric;
    const float *queries, *gallery;
    int nq, ng, dim, k, keep;
    const int *exclude;
    int threads;
    int slots;        /* queries per block: min(nq, QUERY_BLOCK) */
    heap *heaps;      /* [threads][slots] */
    cand *heap_items; /* [threads][slots][keep] */
    float *max_scale; /* [threads] largest gallery error scale seen */
    stats *qstats;    /* [nq] */
} knn_job;

/* ---------------------------------------------------------------- keys and error bounds */

/* Stats of row x from its sum and sum of squares (float sums the compiler vectorises; their
 * rounding is inside key_tolerance's bound); correlation centres in a second pass over the
 * cache-hot row. */
static stats stats_from_sums(siamese_metric metric, const float *x, int dim, float sum, float sq) {
    stats s = {0, 0, 0, 1};
    if (metric == SIAMESE_METRIC_EUCLIDEAN) {
        s.sq = sq;
        s.scale = sqrtf(sq);
        return s;
    }
    float mean = metric == SIAMESE_METRIC_CORRELATION ? sum / (float)dim : 0.0f, centred = sq;
    if (metric == SIAMESE_METRIC_CORRELATION) {
        centred = 0;
#pragma omp simd reduction(+ : centred)
        for (int i = 0; i < dim; i++) centred += (x[i] - mean) * (x[i] - mean);
    }
    double norm = fmax(sqrt((double)centred), COSINE_EPS);
    s.inv = (float)(1.0 / norm);
    s.mean = mean;
    s.scale = metric == SIAMESE_METRIC_CORRELATION ? (float)(sqrt((double)sq) / norm) : 1.0f;
    return s;
}

static stats row_stats(siamese_metric metric, const float *x, int dim) {
    float sum = 0, sq = 0;
#pragma omp simd reduction(+ : sum, sq)
    for (int i = 0; i < dim; i++) {
        sum += x[i];
        sq += x[i] * x[i];
    }
    return stats_from_sums(metric, x, dim, sum, sq);
}

/* Stats of n rows; returns the largest error scale among them. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static float
block_stats(siamese_metric metric, const float *rows, int n, int dim, stats *out) {
    float max_scale = 0;
    for (int j = 0; j < n; j++) {
        out[j] = row_stats(metric, rows + (size_t)j * dim, dim);
        if (out[j].scale > max_scale) max_scale = out[j].scale;
    }
    return max_scale;
}

/* One query: stats and dot products of n rows in a single pass over memory (the GEMM's second
 * read of the block is what limits a lone query). Returns the largest error scale. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static float
block_stats_dots(siamese_metric metric, const float *query, const float *rows, int n, int dim,
                 stats *out, float *dots) {
    float max_scale = 0;
    for (int j = 0; j < n; j++) {
        const float *x = rows + (size_t)j * dim;
        float sum = 0, sq = 0, dot = 0;
        if (metric == SIAMESE_METRIC_CORRELATION) {
#pragma omp simd reduction(+ : sum, sq, dot)
            for (int i = 0; i < dim; i++) {
                sum += x[i];
                sq += x[i] * x[i];
                dot += x[i] * query[i];
            }
        } else { /* the sum is only for the mean */
#pragma omp simd reduction(+ : sq, dot)
            for (int i = 0; i < dim; i++) {
                sq += x[i] * x[i];
                dot += x[i] * query[i];
            }
        }
        out[j] = stats_from_sums(metric, x, dim, sum, sq);
        dots[j] = dot;
        if (out[j].scale > max_scale) max_scale = out[j].scale;
    }
    return max_scale;
}

/* Turns n dot products a.b (a = query with stats qa) into keys, in place. The key is the
 * distance up to a per-query constant: euclidean |b|^2 - 2ab (= D^2 - |a|^2), cosine and
 * correlation -cos (= D - 1). */
static void dots_to_keys(siamese_metric metric, int dim, stats qa, const stats *gb, float *dots,
                         int n) {
    if (metric == SIAMESE_METRIC_EUCLIDEAN) {
        for (int j = 0; j < n; j++) dots[j] = gb[j].sq - 2.0f * dots[j];
    } else if (metric == SIAMESE_METRIC_COSINE) {
        for (int j = 0; j < n; j++) dots[j] = -dots[j] * qa.inv * gb[j].inv;
    } else {
        float dm = (float)dim * qa.mean;
        for (int j = 0; j < n; j++) dots[j] = -(dots[j] - dm * gb[j].mean) * qa.inv * gb[j].inv;
    }
}

/* The exact distance d (double, the library's) mapped to the key domain. */
static double exact_key(siamese_metric metric, stats qa, double d) {
    return metric == SIAMESE_METRIC_EUCLIDEAN ? d * d - qa.sq : d - 1.0;
}

/* A bound on |approximate key - exact key| for any row whose error scale is at most gscale: float
 * dot products of dim terms (any summation order: at most dim u |a| |b|), the float norms, and
 * (euclidean) the 1e-6 that pairwise_distance adds to the difference. Correlation adds the float
 * means (each off by up to sqrt(dim) u |x|, so dim ma mb by up to 2 dim u |a| |b|). */
static double key_tolerance(siamese_metric metric, int dim, stats qa, double gscale) {
    double terms = metric == SIAMESE_METRIC_CORRELATION ? 5.0 * dim + 16 : 3.0 * dim + 16;
    double u = terms * UNIT_ROUNDOFF;
    if (metric == SIAMESE_METRIC_EUCLIDEAN) {
        double s = qa.scale + gscale;
        return u * s * s * 1.01 + 2 * PAIRWISE_EPS * sqrt((double)dim) * s + 2 * dim * 1e-12;
    }
    return u * qa.scale * gscale * 1.01 + 1e-12;
}

/* ---------------------------------------------------------------- heaps */

static int worse(cand a, cand b) { return a.key > b.key || (a.key == b.key && a.index > b.index); }

static void heap_sift_down(cand *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(h[l], h[m])) m = l;
        if (r < n && worse(h[r], h[m])) m = r;
        if (m == i) return;
        cand t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void heap_push(heap *hp, int cap, cand c) {
    if (hp->count < cap) {
        int i = hp->count++;
        hp->items[i] = c;
        while (i > 0 && worse(hp->items[i], hp->items[(i - 1) / 2])) {
            cand t = hp->items[i];
            hp->items[i] = hp->items[(i - 1) / 2];
            hp->items[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (worse(hp->items[0], c)) {
        hp->items[0] = c;
        heap_sift_down(hp->items, cap, 0);
    }
}

/* Offers keys[0..n) of gallery rows first.. to the heap, skipping row skip. */
static void heap_offer(heap *hp, int cap, const float *keys, int n, int first, int skip) {
    int j = 0;
    for (; j < n && hp->count < cap; j++) {
        if (first + j == skip) continue;
        float key = keys[j] == keys[j] ? keys[j] : INFINITY; /* NaN ranks last */
        heap_push(hp, cap, (cand){key, first + j});
    }
    float top = hp->count ? hp->items[0].key : INFINITY;
    for (; j < n; j++) {
        if (keys[j] < top && first + j != skip) {
            heap_push(hp, cap, (cand){keys[j], first + j});
            top = hp->items[0].key;
        }
    }
}

/* ---------------------------------------------------------------- the scan */

/* Scans gallery rows [g0, g0 + gn) for queries [q0, q0 + qn) into thread t's heaps. */
static siamese_status scan_block(knn_job *job, int t, int q0, int qn, int g0, int gn, float *dots,
                                 stats *gstats) {
    int dim = job->dim;
    const float *gal = job->gallery + (size_t)g0 * dim;
    const float *queries = job->queries + (size_t)q0 * dim;
    float max_scale;
    if (qn == 1) {
        max_scale = block_stats_dots(job->metric, queries, gal, gn, dim, gstats, dots);
    } else {
        max_scale = block_stats(job->metric, gal, gn, dim, gstats);
        if (dnnl_sgemm('N', 'T', qn, gn, dim, 1.0f, queries, dim, gal, dim, 0.0f, dots, gn) !=
            dnnl_success)
            return SIAMESE_ERR_BACKEND;
    }
    if (max_scale > job->max_scale[t]) job->max_scale[t] = max_scale;
    for (int q = 0; q < qn; q++) {
        float *row = dots + (size_t)q * gn;
        dots_to_keys(job->metric, dim, job->qstats[q0 + q], gstats, row, gn);
        int skip = job->exclude ? job->exclude[q0 + q] : -1;
        heap_offer(&job->heaps[(size_t)t * job->slots + q], job->keep, row, gn, g0, skip);
    }
    return SIAMESE_OK;
}

/* Under an address-space limit (ulimit -v), the first block's GEMM runs here, alone, after a check
 * for room, so oneDNN JITs its kernels while no other thread maps memory (a crash otherwise:
 * `search --precision int8` at 139-151 MB, where the int8 engine had made no sgemm kernels). */
static siamese_status gemm_first_alone(const knn_job *job, int q0, int qn, int gblock) {
    if (qn == 1 || !sm_address_space_short(SIZE_MAX, NULL)) return SIAMESE_OK; /* no limit */
    if (sm_address_space_short(SM_GEMM_JIT_ROOM, NULL)) return SIAMESE_ERR_NOMEM;
    int gn = job->ng < gblock ? job->ng : gblock;
    float *dots = malloc((size_t)qn * gn * sizeof(float));
    if (!dots) return SIAMESE_ERR_NOMEM;
    dnnl_status_t st =
        dnnl_sgemm('N', 'T', qn, gn, job->dim, 1.0f, job->queries + (size_t)q0 * job->dim, job->dim,
                   job->gallery, job->dim, 0.0f, dots, gn);
    free(dots);
    return st == dnnl_success ? SIAMESE_OK : SIAMESE_ERR_BACKEND;
}

/* All gallery blocks for queries [q0, q0 + qn), threads taking blocks in turn. */
static siamese_status scan_queries(knn_job *job, int q0, int qn) {
    int gblock = SCORES_PER_BLOCK / qn;
    if (gblock > MAX_GALLERY_BLOCK) gblock = MAX_GALLERY_BLOCK;
    if (gblock < 256) gblock = 256;
    int nblocks = (job->ng + gblock - 1) / gblock;
    sm_signal_hold hold = sm_signals_hold(job->threads); /* oneDNN's sgemm: signal_hold.h */
    siamese_status status = gemm_first_alone(job, q0, qn, gblock);
    if (status != SIAMESE_OK) {
        sm_signals_release(hold);
        return status;
    }
#pragma omp parallel num_threads(job->threads)
    {
        int t = omp_get_thread_num();
        float *dots = malloc((size_t)qn * gblock * sizeof(float));
        stats *gstats = malloc((size_t)gblock * sizeof(stats));
        if (!dots || !gstats) {
#pragma omp atomic write
            status = SIAMESE_ERR_NOMEM;
        }
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < nblocks; b++) {
            siamese_status st;
#pragma omp atomic read
            st = status;
            if (st != SIAMESE_OK) continue;
            int g0 = b * gblock, gn = job->ng - g0 < gblock ? job->ng - g0 : gblock;
            st = scan_block(job, t, q0, qn, g0, gn, dots, gstats);
            if (st != SIAMESE_OK) {
#pragma omp atomic write
                status = st;
            }
        }
        free(dots);
        free(gstats);
    }
    sm_signals_release(hold);
    return status;
}

/* ---------------------------------------------------------------- exact final ranking */

/* A candidate with its exact distance. */
typedef struct exact {
    double d;
    int index;
} exact;

static int exact_cmp(const void *pa, const void *pb) {
    const exact *a = pa, *b = pb;
    if (a->d != b->d) return a->d < b->d ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Exact distances of n candidate rows for query q, sorted (ties by row). */
static void rank_exact(const knn_job *job, int q, exact *list, int n) {
    const float *a = job->queries + (size_t)q * job->dim;
    for (int i = 0; i < n; i++) {
        list[i].d = siamese_distance(job->metric, a,
                                     job->gallery + (size_t)list[i].index * job->dim, job->dim);
        if (list[i].d != list[i].d) list[i].d = INFINITY;
    }
    qsort(list, (size_t)n, sizeof *list, exact_cmp);
}

/* The rare case where the candidates cannot prove their rank (near-ties at the boundary): every
 * row whose approximate key is within tolerance of the k-th candidate's exact key is ranked
 * exactly. Returns the new list (malloc'd) and its length, or NULL when memory ran out. */
static exact *rescan_query(const knn_job *job, int q, double kth_key, double tol, int *n_out) {
    int dim = job->dim, cap = 64, n = 0, skip = job->exclude ? job->exclude[q] : -1;
    exact *list = malloc((size_t)cap * sizeof *list);
    float *keys = malloc(MAX_GALLERY_BLOCK * sizeof *keys);
    stats *gstats = malloc(MAX_GALLERY_BLOCK * sizeof *gstats);
    int ok = list && keys && gstats;
    for (int g0 = 0; ok && g0 < job->ng; g0 += MAX_GALLERY_BLOCK) {
        int gn = job->ng - g0 < MAX_GALLERY_BLOCK ? job->ng - g0 : MAX_GALLERY_BLOCK;
        block_stats_dots(job->metric, job->queries + (size_t)q * dim,
                         job->gallery + (size_t)g0 * dim, gn, dim, gstats, keys);
        dots_to_keys(job->metric, dim, job->qstats[q], gstats, keys, gn);
        for (int j = 0; ok && j < gn; j++) {
            if (g0 + j == skip || (keys[j] == keys[j] && keys[j] > kth_key + tol)) continue;
            ok = sm_grow((void **)&list, &cap, n + 1, sizeof *list) == 0;
            if (ok) list[n++] = (exact){0, g0 + j};
        }
    }
    free(keys);
    free(gstats);
    if (!ok) {
        free(list);
        return NULL;
    }
    rank_exact(job, q, list, n);
    *n_out = n;
    return list;
}

/* Merges query q's heaps over threads, ranks the candidates exactly, proves the top k (or
 * rescans) and writes the k results. */
static siamese_status finish_query(const knn_job *job, int q, int slot, exact *list, int *out_index,
                                   float *out_distance) {
    int n = 0, full = 0;
    double bound = INFINITY, gscale = 0;
    for (int t = 0; t < job->threads; t++) {
        const heap *hp = &job->heaps[(size_t)t * job->slots + slot];
        for (int i = 0; i < hp->count; i++) list[n++] = (exact){0, hp->items[i].index};
        if (hp->count == job->keep) {
            full = 1;
            if (hp->items[0].key < bound) bound = hp->items[0].key;
        }
        if (job->max_scale[t] > gscale) gscale = job->max_scale[t];
    }
    rank_exact(job, q, list, n);
    exact *ranked = list, *rescanned = NULL;
    int k = job->k < n ? job->k : n;
    if (full && k > 0) {
        stats qa = job->qstats[q];
        double tol = key_tolerance(job->metric, job->dim, qa, gscale);
        double kth = exact_key(job->metric, qa, list[k - 1].d);
        if (!(kth < bound - tol)) {
            rescanned = rescan_query(job, q, kth, tol, &n);
            if (!rescanned) return SIAMESE_ERR_NOMEM;
            ranked = rescanned;
            k = job->k < n ? job->k : n;
        }
    }
    for (int j = 0; j < job->k; j++) {
        out_index[(size_t)q * job->k + j] = j < k ? ranked[j].index : -1;
        out_distance[(size_t)q * job->k + j] = j < k ? (float)ranked[j].d : INFINITY;
    }
    free(rescanned);
    return SIAMESE_OK;
}

static siamese_status finish_queries(knn_job *job, int q0, int qn, int *out_index,
                                     float *out_distance) {
    siamese_status status = SIAMESE_OK;
#pragma omp parallel num_threads(job->threads)
    {
        exact *list = malloc((size_t)job->threads * job->keep * sizeof *list);
#pragma omp for schedule(dynamic, 4)
        for (int q = 0; q < qn; q++) {
            siamese_status st = list ? finish_query(job, q0 + q, q, list, out_index, out_distance)
                                     : SIAMESE_ERR_NOMEM;
            if (st != SIAMESE_OK) {
#pragma omp atomic write
                status = st;
            }
        }
        free(list);
    }
    return status;
}

/* ---------------------------------------------------------------- public entry */

static siamese_status check_args(siamese_metric metric, const float *queries, int nq,
                                 const float *gallery, int ng, int dim, int k, const int *out_index,
                                 const float *out_distance) {
    if (metric != SIAMESE_METRIC_EUCLIDEAN && metric != SIAMESE_METRIC_COSINE &&
        metric != SIAMESE_METRIC_CORRELATION)
        return SIAMESE_ERR_INVALID_ARG;
    if (nq < 0 || ng < 0 || dim <= 0 || k <= 0) return SIAMESE_ERR_INVALID_ARG;
    if ((nq > 0 && (!queries || !out_index || !out_distance)) || (ng > 0 && !gallery))
        return SIAMESE_ERR_INVALID_ARG;
    return SIAMESE_OK;
}

static siamese_status run_job(knn_job *job, int *out_index, float *out_distance) {
    for (int q = 0; q < job->nq; q++)
        job->qstats[q] = row_stats(job->metric, job->queries + (size_t)q * job->dim, job->dim);
    for (int q0 = 0; q0 < job->nq; q0 += job->slots) {
        int qn = job->nq - q0 < job->slots ? job->nq - q0 : job->slots;
        for (int i = 0; i < job->threads * job->slots; i++)
            job->heaps[i] = (heap){job->heap_items + (size_t)i * job->keep, 0};
        siamese_status st = job->ng > 0 ? scan_queries(job, q0, qn) : SIAMESE_OK;
        if (st == SIAMESE_OK) st = finish_queries(job, q0, qn, out_index, out_distance);
        if (st != SIAMESE_OK) return st;
    }
    return SIAMESE_OK;
}

siamese_status siamese_knn(siamese_metric metric, const float *queries, int nq,
                           const float *gallery, int ng, int dim, int k, const int *exclude,
                           int *out_index, float *out_distance) {
    siamese_status st =
        check_args(metric, queries, nq, gallery, ng, dim, k, out_index, out_distance);
    if (st != SIAMESE_OK || nq == 0) return st;
    knn_job job = {.metric = metric,
                   .queries = queries,
                   .gallery = gallery,
                   .nq = nq,
                   .ng = ng,
                   .dim = dim,
                   .k = k,
                   .exclude = exclude,
                   .threads = omp_get_max_threads()};
    int spare = k > SPARE_MIN ? k : SPARE_MIN;
    long long want = (long long)k + spare;
    job.keep = want > ng ? (ng > 0 ? ng : 1) : (int)want;
    job.slots = nq < QUERY_BLOCK ? nq : QUERY_BLOCK;
    job.heaps = malloc((size_t)job.threads * job.slots * sizeof *job.heaps);
    job.heap_items = malloc((size_t)job.threads * job.slots * job.keep * sizeof(cand));
    job.max_scale = calloc((size_t)job.threads, sizeof(float));
    job.qstats = malloc((size_t)nq * sizeof(stats));
    st = job.heaps && job.heap_items && job.max_scale && job.qstats
             ? run_job(&job, out_index, out_distance)
             : SIAMESE_ERR_NOMEM;
    free(job.heaps);
    free(job.heap_items);
    free(job.max_scale);
    free(job.qstats);
    return st;
}
