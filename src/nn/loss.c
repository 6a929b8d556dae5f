/* Distances between embeddings (Euclidean, cosine, correlation) and the contrastive loss, with
 * gradients for both embeddings. All arithmetic is double; float and double buffers share one
 * implementation through a small vector view, so the training loop allocates nothing. */
#include "nn/loss.h"

#include <math.h>
#include <string.h>

#include "base/util.h"

#define SM_COSINE_EPS 1e-8 /* PyTorch cosine_similarity clamps each norm to at least eps */

/* A read/write view of dim numbers stored as float or double. */
typedef struct vec {
    const float *f;
    const double *d;
    float *fw;
    double *dw;
} vec;

static double vget(vec v, int i) { return v.d ? v.d[i] : (double)v.f[i]; }

static void vset(vec v, int i, double x) {
    if (v.dw) v.dw[i] = x;
    else v.fw[i] = (float)x;
}

static int vwritable(vec v) { return v.dw || v.fw; }

/* ---------------------------------------------------------------- one pair */

/* D = ||a - b + eps||_2 (PyTorch pairwise_distance); dD/da = (a - b + eps) / D = -dD/db. */
static double euclidean(int dim, vec a, vec b, double scale, vec ga, vec gb) {
    double sum = 0;
    for (int i = 0; i < dim; i++) {
        double diff = vget(a, i) - vget(b, i) + SM_PAIRWISE_EPS;
        sum += diff * diff;
    }
    double d = sqrt(sum);
    if (vwritable(ga)) {
        double k = d > 0 ? scale / d : 0.0; /* the norm's subgradient at 0 is 0, as in PyTorch */
        for (int i = 0; i < dim; i++) {
            double diff = vget(a, i) - vget(b, i) + SM_PAIRWISE_EPS;
            vset(ga, i, k * diff);
            vset(gb, i, -k * diff);
        }
    }
    return d;
}

/* 1 - cos(x, y) where x = a - ca, y = b - cb (ca = cb = 0 for cosine, the means for correlation),
 * cos = x.y / (max(|x|, eps) max(|y|, eps)). The gradient is that of this exact function: a
 * clamped norm is a constant. Centering subtracts the mean of the gradient. */
static double cosine_like(int dim, vec a, vec b, int center, double scale, vec ga, vec gb) {
    double ma = 0, mb = 0;
    if (center) {
        for (int i = 0; i < dim; i++) {
            ma += vget(a, i);
            mb += vget(b, i);
        }
        ma /= dim;
        mb /= dim;
    }
    double dot = 0, saa = 0, sbb = 0, sum_x = 0, sum_y = 0;
    for (int i = 0; i < dim; i++) {
        double x = vget(a, i) - ma, y = vget(b, i) - mb;
        dot += x * y;
        saa += x * x;
        sbb += y * y;
        sum_x += x;
        sum_y += y;
    }
    double nx = sqrt(saa), ny = sqrt(sbb);
    double cx = fmax(nx, SM_COSINE_EPS), cy = fmax(ny, SM_COSINE_EPS);
    double cos_xy = dot / (cx * cy);
    if (vwritable(ga)) {
        /* d(1 - cos)/dx = -(y / (cx cy) - cos x / (cx nx)) when |x| > eps, else -y / (cx cy). */
        double kxy = -scale / (cx * cy);
        double kxx = nx > SM_COSINE_EPS ? scale * cos_xy / (cx * nx) : 0.0;
        double kyy = ny > SM_COSINE_EPS ? scale * cos_xy / (cy * ny) : 0.0;
        double mean_ga = 0, mean_gb = 0;
        if (center) {
            mean_ga = (kxy * sum_y + kxx * sum_x) / dim;
            mean_gb = (kxy * sum_x + kyy * sum_y) / dim;
        }
        for (int i = 0; i < dim; i++) {
            double x = vget(a, i) - ma, y = vget(b, i) - mb;
            vset(ga, i, kxy * y + kxx * x - mean_ga);
            vset(gb, i, kxy * x + kyy * y - mean_gb);
        }
    }
    return 1.0 - cos_xy;
}

/* The distance of one pair; when ga/gb are writable they receive scale * dD/da and scale * dD/db. */
static double pair_distance(siamese_metric metric, int dim, vec a, vec b, double scale, vec ga,
                            vec gb) {
    switch (metric) {
    case SIAMESE_METRIC_COSINE:
        return cosine_like(dim, a, b, 0, scale, ga, gb);
    case SIAMESE_METRIC_CORRELATION:
        return cosine_like(dim, a, b, 1, scale, ga, gb);
    case SIAMESE_METRIC_EUCLIDEAN:
        break;
    }
    return euclidean(dim, a, b, scale, ga, gb);
}

/* ---------------------------------------------------------------- contrastive loss */

/* One pair's loss (1-y) D^2 + y max(0, m - D)^2 and its derivative with respect to D. */
static double pair_loss(double d, double y, double margin, double *dloss_dd) {
    double hinge = margin - d > 0 ? margin - d : 0.0;
    *dloss_dd = 2.0 * (1.0 - y) * d - 2.0 * y * hinge;
    return (1.0 - y) * d * d + y * hinge * hinge;
}

static vec row_in_f(const float *base, int i, int dim) {
    vec v = {base + (size_t)i * dim, NULL, NULL, NULL};
    return v;
}
static vec row_in_d(const double *base, int i, int dim) {
    vec v = {NULL, base + (size_t)i * dim, NULL, NULL};
    return v;
}
static vec row_out_f(float *base, int i, int dim) {
    vec v = {NULL, NULL, base ? base + (size_t)i * dim : NULL, NULL};
    return v;
}
static vec row_out_d(double *base, int i, int dim) {
    vec v = {NULL, NULL, NULL, base ? base + (size_t)i * dim : NULL};
    return v;
}

/* The loss over n pairs given row views; dist_out(i, D) stores distances. */
typedef struct loss_io {
    int is_double;
    const float *e1f, *e2f, *yf;
    const double *e1d, *e2d, *yd;
    float *distf, *g1f, *g2f;
    double *distd, *g1d, *g2d;
} loss_io;

static double contrastive(siamese_metric metric, double margin, int n, int dim, const loss_io *io) {
    if (n <= 0 || dim <= 0) return 0.0;
    double total = 0;
    vec none = {NULL, NULL, NULL, NULL};
    int want_grad = io->is_double ? io->g1d != NULL : io->g1f != NULL;
    for (int i = 0; i < n; i++) {
        vec a = io->is_double ? row_in_d(io->e1d, i, dim) : row_in_f(io->e1f, i, dim);
        vec b = io->is_double ? row_in_d(io->e2d, i, dim) : row_in_f(io->e2f, i, dim);
        double y = io->is_double ? io->yd[i] : (double)io->yf[i];
        double d = pair_distance(metric, dim, a, b, 0.0, none, none);
        double dloss_dd;
        total += pair_loss(d, y, margin, &dloss_dd);
        if (io->is_double && io->distd) io->distd[i] = d;
        if (!io->is_double && io->distf) io->distf[i] = (float)d;
        if (want_grad) {
            vec ga = io->is_double ? row_out_d(io->g1d, i, dim) : row_out_f(io->g1f, i, dim);
            vec gb = io->is_double ? row_out_d(io->g2d, i, dim) : row_out_f(io->g2f, i, dim);
            pair_distance(metric, dim, a, b, dloss_dd / n, ga, gb);
        }
    }
    return total / n;
}

double sm_contrastive_loss_f64(siamese_metric metric, double margin, int n, int dim,
                               const double *e1, const double *e2, const double *labels,
                               double *dist, double *d_e1, double *d_e2) {
    loss_io io;
    memset(&io, 0, sizeof io);
    io.is_double = 1;
    io.e1d = e1;
    io.e2d = e2;
    io.yd = labels;
    io.distd = dist;
    io.g1d = d_e1 && d_e2 ? d_e1 : NULL;
    io.g2d = d_e1 && d_e2 ? d_e2 : NULL;
    return contrastive(metric, margin, n, dim, &io);
}

double sm_contrastive_loss(siamese_metric metric, double margin, int n, int dim, const float *e1,
                           const float *e2, const float *labels, float *dist, float *d_e1,
                           float *d_e2) {
    loss_io io;
    memset(&io, 0, sizeof io);
    io.e1f = e1;
    io.e2f = e2;
    io.yf = labels;
    io.distf = dist;
    io.g1f = d_e1 && d_e2 ? d_e1 : NULL;
    io.g2f = d_e1 && d_e2 ? d_e2 : NULL;
    return contrastive(metric, margin, n, dim, &io);
}

double sm_distance_f64(siamese_metric metric, int dim, const double *a, const double *b,
                       double *d_a, double *d_b) {
    vec va = {NULL, a, NULL, NULL}, vb = {NULL, b, NULL, NULL};
    vec ga = {NULL, NULL, NULL, d_a && d_b ? d_a : NULL};
    vec gb = {NULL, NULL, NULL, d_a && d_b ? d_b : NULL};
    if (dim <= 0) return 0.0;
    return pair_distance(metric, dim, va, vb, 1.0, ga, gb);
}

/* ---------------------------------------------------------------- public distance API */

double siamese_distance(siamese_metric metric, const float *a, const float *b, int dim) {
    if (!a || !b || dim <= 0) return 0.0;
    vec va = {a, NULL, NULL, NULL}, vb = {b, NULL, NULL, NULL};
    vec none = {NULL, NULL, NULL, NULL};
    return pair_distance(metric, dim, va, vb, 0.0, none, none);
}

static const char *const metric_names[] = {[SIAMESE_METRIC_EUCLIDEAN] = "euclidean",
                                           [SIAMESE_METRIC_COSINE] = "cosine",
                                           [SIAMESE_METRIC_CORRELATION] = "correlation"};
#define N_METRICS ((int)(sizeof metric_names / sizeof metric_names[0]))

const char *siamese_metric_name(siamese_metric metric) {
    return sm_name_of(metric_names, N_METRICS, (int)metric);
}

siamese_status siamese_metric_parse(const char *name, siamese_metric *out) {
    int i = sm_name_index(name, metric_names, N_METRICS);
    if (i < 0 || !out) return SIAMESE_ERR_INVALID_ARG;
    *out = (siamese_metric)i;
    return SIAMESE_OK;
}

const char *sm_loss_chart_title(siamese_loss batch_loss) {
    return batch_loss == SIAMESE_LOSS_TRIPLET
               ? "Triplet loss (training), contrastive loss (test pairs)"
               : "Contrastive loss";
}

static const char *const loss_names[] = {
    [SIAMESE_LOSS_CONTRASTIVE] = "contrastive", [SIAMESE_LOSS_TRIPLET] = "triplet"};
#define N_LOSSES ((int)(sizeof loss_names / sizeof loss_names[0]))

const char *siamese_loss_name(siamese_loss loss) {
    return sm_name_of(loss_names, N_LOSSES, (int)loss);
}

siamese_status siamese_loss_parse(const char *name, siamese_loss *out) {
    int i = sm_name_index(name, loss_names, N_LOSSES);
    if (i < 0 || !out) return SIAMESE_ERR_INVALID_ARG;
    *out = (siamese_loss)i;
    return SIAMESE_OK;
}
