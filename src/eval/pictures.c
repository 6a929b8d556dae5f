/* Verification pictures: ROC curve, DET curve (log-log) and the two distance histograms with
 * the threshold marked, as PNG files drawn by the report layer. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/errors.h"
#include "base/fileio.h"
#include "base/util.h"
#include "eval/eval.h"
#include "report/plot.h"
#include "siamese.h"

#define HIST_BINS 50

/* The ROC points (FAR, TAR), from "accept nothing" to "accept all": [groups + 1] each. */
static siamese_status roc_curve(const sm_roc *roc, const sm_roc_counts *c, double *far,
                                double *tar) {
    double s = 0, d = 0;
    far[0] = tar[0] = 0;
    for (int g = 0; g < roc->groups; g++) {
        s += c->similar[g];
        d += c->dissimilar[g];
        tar[g + 1] = s / c->total_similar;
        far[g + 1] = d / c->total_dissimilar;
    }
    return SIAMESE_OK;
}

static siamese_status draw_roc(const char *dir, const double *far, const double *tar, int n,
                               sm_err *err) {
    char *path = sm_path_join(dir, "roc.png");
    if (!path) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    double diag[2] = {0, 1};
    sm_plot_series s[2] = {{"ROC", far, tar, n, 0}, {"chance", diag, diag, 2, 0}};
    siamese_status st = sm_plot_lines(path, "ROC (similar when d <= t)",
                                      "false accept rate (dissimilar pairs accepted)",
                                      "true accept rate (similar pairs accepted)", s, 2, err);
    free(path);
    return st;
}

/* DET: log10 FAR against log10 FRR; points with a zero rate cannot be drawn and are left out. */
static siamese_status draw_det(const char *dir, const double *far, const double *tar, int n,
                               sm_err *err) {
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    char *path = sm_path_join(dir, "det.png");
    siamese_status st =
        x && y && path ? SIAMESE_OK : sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    int m = 0;
    for (int i = 0; st == SIAMESE_OK && i < n; i++)
        if (far[i] > 0 && tar[i] < 1) x[m] = log10(far[i]), y[m++] = log10(1 - tar[i]);
    sm_plot_series s = {"DET", x, y, m, 0};
    if (st == SIAMESE_OK)
        st = sm_plot_lines(path, "DET (log10 scales)", "log10 false accept rate",
                           "log10 false reject rate", &s, 1, err);
    free(x);
    free(y);
    free(path);
    return st;
}

/* Histograms of similar and dissimilar distances (fractions of each), threshold as a line. */
static siamese_status draw_histograms(const char *dir, const float *distances, const float *labels,
                                      int n, double threshold, sm_err *err) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (distances[i] < lo) lo = distances[i];
        if (distances[i] > hi) hi = distances[i];
    }
    if (!(hi > lo)) hi = lo + 1;
    double x[HIST_BINS], sim[HIST_BINS] = {0}, dis[HIST_BINS] = {0}, ns = 0, nd = 0;
    double w = (hi - lo) / HIST_BINS;
    for (int b = 0; b < HIST_BINS; b++) x[b] = lo + (b + 0.5) * w;
    for (int i = 0; i < n; i++) {
        int b = (int)((distances[i] - lo) / w);
        if (b >= HIST_BINS) b = HIST_BINS - 1;
        if (b < 0) b = 0;
        if (labels[i] > 0.5f) dis[b]++, nd++;
        else sim[b]++, ns++;
    }
    double top = 0;
    for (int b = 0; b < HIST_BINS; b++) {
        sim[b] = ns > 0 ? sim[b] / ns : 0;
        dis[b] = nd > 0 ? dis[b] / nd : 0;
        if (sim[b] > top) top = sim[b];
        if (dis[b] > top) top = dis[b];
    }
    double tx[2] = {threshold, threshold}, ty[2] = {0, top};
    sm_plot_series s[3] = {{"similar pairs", x, sim, HIST_BINS, 1},
                           {"dissimilar pairs", x, dis, HIST_BINS, 1},
                           {"threshold", tx, ty, isfinite(threshold) ? 2 : 0, 0}};
    char *path = sm_path_join(dir, "distances.png");
    if (!path) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    siamese_status st = sm_plot_lines(path, "pair distances", "distance", "fraction of pairs", s,
                                      isfinite(threshold) ? 3 : 2, err);
    free(path);
    return st;
}

static siamese_status ensure_dir(const char *dir, sm_err *err) {
    if (mkdir(dir, 0777) == 0 || (errno == EEXIST && sm_is_dir(dir))) return SIAMESE_OK;
    return sm_fail(err, SIAMESE_ERR_IO, "%s: cannot create the folder: %s", dir,
                   errno == EEXIST ? "a file is in the way" : strerror(errno));
}

siamese_status siamese_eval_write_pictures(const float *distances, const float *labels, int n,
                                           double threshold, const char *dir, char *errmsg,
                                           size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    sm_roc roc;
    sm_roc_counts c;
    memset(&roc, 0, sizeof roc);
    memset(&c, 0, sizeof c);
    siamese_status st = dir ? sm_roc_build(distances, labels, n, &roc)
                            : sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "no folder");
    if (st != SIAMESE_OK && !err.msg[0]) sm_fail(&err, st, "no usable pair distances");
    if (st == SIAMESE_OK && (st = sm_roc_counts_alloc(&roc, &c)) != SIAMESE_OK)
        sm_fail(&err, st, "out of memory");
    double *far = NULL, *tar = NULL;
    if (st == SIAMESE_OK) {
        sm_roc_count(&roc, NULL, &c);
        far = malloc((size_t)(roc.groups + 1) * sizeof *far);
        tar = malloc((size_t)(roc.groups + 1) * sizeof *tar);
        if (!far || !tar) st = sm_fail(&err, SIAMESE_ERR_NOMEM, "out of memory");
        else if (c.total_similar <= 0 || c.total_dissimilar <= 0)
            st = sm_fail(&err, SIAMESE_ERR_DATA, "pictures need similar and dissimilar pairs");
    }
    if (st == SIAMESE_OK) st = ensure_dir(dir, &err);
    if (st == SIAMESE_OK) st = roc_curve(&roc, &c, far, tar);
    if (st == SIAMESE_OK) st = draw_roc(dir, far, tar, roc.groups + 1, &err);
    if (st == SIAMESE_OK) st = draw_det(dir, far, tar, roc.groups + 1, &err);
    if (st == SIAMESE_OK) st = draw_histograms(dir, distances, labels, n, threshold, &err);
    free(far);
    free(tar);
    sm_roc_counts_free(&c);
    sm_roc_free(&roc);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}
