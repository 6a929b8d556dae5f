/* n-way k-shot protocol: seeded episodes drawn from the classes of an embedding set; each query
 * goes to the nearest support image (k = 1) or the nearest class mean (k > 1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/rng.h"
#include "eval/eval.h"
#include "siamese.h"

siamese_fewshot_params siamese_fewshot_default_params(void) {
    siamese_fewshot_params p;
    memset(&p, 0, sizeof p);
    p.way = 5;
    p.shot = 1;
    p.queries = 1;
    p.episodes = 1000;
    p.metric = SIAMESE_METRIC_EUCLIDEAN;
    return p;
}

/* The rows of each class: members[start[c] .. start[c + 1]). */
typedef struct class_rows {
    int classes;
    int *start;    /* [classes + 1] */
    int *members;  /* [rows with a label >= 0] */
    int *eligible; /* classes with at least shot + queries rows */
    int n_eligible;
} class_rows;

static void class_rows_free(class_rows *cr) {
    free(cr->start);
    free(cr->members);
    free(cr->eligible);
}

static siamese_status group_by_class(const int *labels, int n, int need, class_rows *cr) {
    memset(cr, 0, sizeof *cr);
    for (int i = 0; i < n; i++)
        if (labels[i] >= cr->classes) cr->classes = labels[i] + 1;
    cr->start = calloc((size_t)cr->classes + 2, sizeof(int));
    cr->members = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    cr->eligible = malloc((size_t)(cr->classes > 0 ? cr->classes : 1) * sizeof(int));
    if (!cr->start || !cr->members || !cr->eligible) return SIAMESE_ERR_NOMEM;
    for (int i = 0; i < n; i++)
        if (labels[i] >= 0) cr->start[labels[i] + 2]++;
    for (int c = 0; c < cr->classes; c++) cr->start[c + 2] += cr->start[c + 1];
    for (int i = 0; i < n; i++)
        if (labels[i] >= 0) cr->members[cr->start[labels[i] + 1]++] = i;
    for (int c = 0; c < cr->classes; c++)
        if (cr->start[c + 1] - cr->start[c] >= need) cr->eligible[cr->n_eligible++] = c;
    return SIAMESE_OK;
}

/* Scratch of one episode. */
typedef struct episode {
    int *classes;      /* [way] */
    int *rows;         /* [way, shot + queries]: support rows first */
    float *prototypes; /* [way, dim] (k > 1: class means) */
    int *scratch;      /* a copy of one class's rows */
} episode;

/* The episode's class (0..way-1) nearest to the query row. */
static int classify(const siamese_fewshot_params *p, const float *vectors, int dim,
                    const episode *ep, int query) {
    int per = p->shot + p->queries, best = -1;
    double best_d = INFINITY;
    const float *q = vectors + (size_t)query * dim;
    for (int w = 0; w < p->way; w++) {
        const float *target = p->shot == 1 ? vectors + (size_t)ep->rows[w * per] * dim
                                           : ep->prototypes + (size_t)w * dim;
        double d = siamese_distance(p->metric, q, target, dim);
        if (best < 0 || d < best_d) best_d = d, best = w; /* ties: the first class drawn */
    }
    return best;
}

static void class_means(const siamese_fewshot_params *p, const float *vectors, int dim,
                        episode *ep) {
    int per = p->shot + p->queries;
    for (int w = 0; w < p->way; w++) {
        float *m = ep->prototypes + (size_t)w * dim;
        for (int k = 0; k < dim; k++) {
            double sum = 0;
            for (int s = 0; s < p->shot; s++)
                sum += vectors[(size_t)ep->rows[w * per + s] * dim + k];
            m[k] = (float)(sum / p->shot);
        }
    }
}

/* Draws episode e and returns how many of its way * queries queries are right. */
static int run_episode(const siamese_fewshot_params *p, const float *vectors, int dim,
                       const class_rows *cr, int e, episode *ep) {
    uint64_t state = p->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(e + 1));
    sm_rng rng;
    sm_rng_seed(&rng, sm_splitmix64(&state));
    int per = p->shot + p->queries;
    memcpy(ep->classes, cr->eligible, (size_t)cr->n_eligible * sizeof(int));
    sm_rng_pick_int(&rng, ep->classes, cr->n_eligible, p->way, ep->classes);
    for (int w = 0; w < p->way; w++) {
        int c = ep->classes[w], size = cr->start[c + 1] - cr->start[c];
        memcpy(ep->scratch, cr->members + cr->start[c], (size_t)size * sizeof(int));
        sm_rng_pick_int(&rng, ep->scratch, size, per, ep->scratch);
        memcpy(ep->rows + w * per, ep->scratch, (size_t)per * sizeof(int));
    }
    if (p->shot > 1) class_means(p, vectors, dim, ep);
    int correct = 0;
    for (int w = 0; w < p->way; w++)
        for (int q = 0; q < p->queries; q++)
            correct += classify(p, vectors, dim, ep, ep->rows[w * per + p->shot + q]) == w;
    return correct;
}

static siamese_status check(const siamese_fewshot_params *p, const float *vectors,
                            const int *labels, int n, int dim, char *msg, size_t size) {
    const char *why = NULL;
    if (!vectors || !labels || n < 1 || dim < 1) why = "no embeddings";
    else if (p->way < 2) why = "way must be at least 2";
    else if (p->shot < 1) why = "shot must be at least 1";
    else if (p->queries < 1) why = "queries per class must be at least 1";
    else if (p->episodes < 1) why = "episodes must be at least 1";
    return why ? sm_refuse(msg, size, why) : SIAMESE_OK;
}

static siamese_status run_all(const siamese_fewshot_params *p, const float *vectors, int dim,
                              const class_rows *cr, int max_class, double *accuracies) {
    int per = p->shot + p->queries, failed = 0;
#pragma omp parallel
    {
        episode ep;
        ep.classes = malloc((size_t)cr->n_eligible * sizeof(int));
        ep.rows = malloc((size_t)p->way * per * sizeof(int));
        ep.prototypes = malloc((size_t)p->way * dim * sizeof(float));
        ep.scratch = malloc((size_t)max_class * sizeof(int));
        int ok = ep.classes && ep.rows && ep.prototypes && ep.scratch;
#pragma omp for schedule(dynamic, 16)
        for (int e = 0; e < p->episodes; e++)
            if (ok)
                accuracies[e] =
                    (double)run_episode(p, vectors, dim, cr, e, &ep) / (p->way * p->queries);
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
        free(ep.classes);
        free(ep.rows);
        free(ep.prototypes);
        free(ep.scratch);
    }
    return failed ? SIAMESE_ERR_NOMEM : SIAMESE_OK;
}

/* Mean with the usual few-shot 95% interval: 1.96 standard errors over the episodes. */
static siamese_interval mean_interval(const double *v, int n) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    double mean = sum / n;
    for (int i = 0; i < n; i++) sq += (v[i] - mean) * (v[i] - mean);
    double half = n > 1 ? 1.96 * sqrt(sq / (n - 1)) / sqrt((double)n) : NAN;
    return (siamese_interval){mean, mean - half, mean + half};
}

siamese_status siamese_eval_fewshot(const float *vectors, const int *labels, int n, int dim,
                                    const siamese_fewshot_params *params, siamese_fewshot *out,
                                    char *errmsg, size_t errmsg_size) {
    if (!out) return sm_refuse(errmsg, errmsg_size, "few-shot: no output given");
    memset(out, 0, sizeof *out);
    siamese_fewshot_params p = params ? *params : siamese_fewshot_default_params();
    siamese_status st = check(&p, vectors, labels, n, dim, errmsg, errmsg_size);
    if (st != SIAMESE_OK) return st;
    sm_err err;
    sm_err_clear(&err);
    class_rows cr;
    st = group_by_class(labels, n, p.shot + p.queries, &cr);
    int max_class = 0;
    for (int c = 0; st == SIAMESE_OK && c < cr.classes; c++)
        if (cr.start[c + 1] - cr.start[c] > max_class) max_class = cr.start[c + 1] - cr.start[c];
    out->classes_used = cr.n_eligible;
    out->classes_excluded = cr.classes - cr.n_eligible;
    if (st == SIAMESE_OK && cr.n_eligible < p.way)
        st = sm_fail(&err, SIAMESE_ERR_DATA,
                     "%d-way %d-shot needs %d classes with at least %d images (%d support + %d "
                     "query); only %d of the %d classes have that many",
                     p.way, p.shot, p.way, p.shot + p.queries, p.shot, p.queries, cr.n_eligible,
                     cr.classes);
    double *acc = st == SIAMESE_OK ? malloc((size_t)p.episodes * sizeof *acc) : NULL;
    if (st == SIAMESE_OK && !acc) st = SIAMESE_ERR_NOMEM;
    if (st == SIAMESE_OK) st = run_all(&p, vectors, dim, &cr, max_class, acc);
    if (st == SIAMESE_OK) {
        out->episodes = p.episodes;
        out->queries = p.episodes * p.way * p.queries;
        out->accuracy = mean_interval(acc, p.episodes);
        out->correct = (int)lround(out->accuracy.value * out->queries);
    }
    if (st == SIAMESE_ERR_NOMEM) sm_fail(&err, st, "out of memory");
    free(acc);
    class_rows_free(&cr);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}
