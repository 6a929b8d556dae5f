/* Benchmark of int8 quality: the same pairs scored with a quantised model in fp32 and in int8:
 * ROC AUC and EER of both, how many verdicts (similar / dissimilar at the model's threshold, or at
 * fp32's best threshold when it has none) change, and the embedding's CPU seconds. A model with a
 * face aligner embeds each photo's aligned chip, as `siamese embed` does. Targets (issue 17): AUC within 0.005 of
 * fp32's, verdicts changed on under 1% of the pairs.
 * Usage: bench_int8 MODEL_INT8 DATA [--split FILE] [--per-class K] [--seed S] [-j THREADS]
 *   --split FILE  a run's split.json: its test pairs (pairs splits) or recipe pairs drawn from
 *                 its test images (image / class splits); without it pairs over all of DATA.
 *   --per-class K similar and dissimilar pairs per class when drawing (default 500). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "siamese.h"

#define BATCH 32

typedef struct opts {
    const char *model, *data, *split;
    int per_class, threads;
    uint64_t seed;
} opts;

static int parse_args(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->per_class = 500;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--split") && has) o->split = argv[++i];
        else if (!strcmp(a, "--per-class") && has) o->per_class = atoi(argv[++i]);
        else if (!strcmp(a, "--seed") && has) o->seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "-j") && has) o->threads = atoi(argv[++i]);
        else if (a[0] == '-') return 0;
        else if (n == 0) o->model = a, n++;
        else if (n == 1) o->data = a, n++;
        else return 0;
    }
    return n == 2 && o->per_class > 0 && o->threads >= 0;
}

/* The pairs to score (see the usage). */
static int make_pairs(siamese_dataset *ds, const opts *o, siamese_pairs *pairs) {
    siamese_split *split = NULL;
    if (o->split && siamese_split_load(ds, o->split, &split) != SIAMESE_OK) {
        fprintf(stderr, "bench_int8: %s: %s\n", o->split, split ? siamese_split_errmsg(split) : "");
        siamese_split_free(split);
        return 0;
    }
    siamese_status st = split ? siamese_split_pairs(split, 1, pairs) : SIAMESE_ERR_DATA;
    if (st != SIAMESE_OK)
        st = siamese_pairs_recipe(ds, split, split ? 1 : 0, o->per_class, o->seed, pairs);
    if (st != SIAMESE_OK) fprintf(stderr, "bench_int8: pairs: %s\n", siamese_dataset_errmsg(ds));
    siamese_split_free(split);
    return st == SIAMESE_OK;
}

/* Every image of the pairs, once: its row in the tensors (-1 = unused), and the tensors. */
static float *load_images(siamese_model *m, siamese_dataset *ds, const siamese_pairs *pairs,
                          int *row, int *n_rows) {
    int total = siamese_dataset_image_count(ds), n = 0;
    for (int i = 0; i < total; i++) row[i] = -1;
    for (int i = 0; i < pairs->count; i++) row[pairs->items[i].a] = row[pairs->items[i].b] = 0;
    for (int i = 0; i < total; i++)
        if (row[i] == 0) row[i] = n++;
    size_t per =
        (size_t)siamese_model_channels(m) * siamese_model_height(m) * siamese_model_width(m);
    float *x = malloc((size_t)n * per * sizeof(float));
    siamese_image_options io = siamese_image_default_options();
    io.channels = siamese_model_channels(m);
    io.height = siamese_model_height(m);
    io.width = siamese_model_width(m);
    io.fast_jpeg = 0;
    for (int i = 0; x && i < total; i++) {
        if (row[i] < 0) continue;
        siamese_image img;
        char msg[512];
        if (siamese_model_aligns_faces(m)) { /* the photo's aligned face chip */
            if (siamese_model_load_input(m, siamese_dataset_image_path(ds, i),
                                         x + (size_t)row[i] * per, msg, sizeof msg) == SIAMESE_OK)
                continue;
            fprintf(stderr, "bench_int8: %s\n", msg);
            free(x);
            return NULL;
        }
        if (siamese_dataset_load_image(ds, i, &io, &img) != SIAMESE_OK ||
            siamese_image_to_tensor(&img, NULL, NULL, x + (size_t)row[i] * per, msg, sizeof msg) !=
                SIAMESE_OK) {
            fprintf(stderr, "bench_int8: image %s does not decode\n",
                    siamese_dataset_image_name(ds, i));
            free(x);
            return NULL;
        }
        siamese_image_free(&img);
    }
    *n_rows = n;
    return x;
}

/* Embeddings of the n images in batches; the process CPU seconds it took go to *seconds. */
static float *embed_all(siamese_model *m, const float *x, int n, double *seconds) {
    size_t per =
        (size_t)siamese_model_channels(m) * siamese_model_height(m) * siamese_model_width(m);
    int dim = siamese_model_embedding_dim(m);
    float *e = malloc((size_t)n * dim * sizeof(float));
    double t0 = sm_process_cpu_seconds();
    for (int s = 0; e && s < n; s += BATCH) {
        int count = n - s < BATCH ? n - s : BATCH;
        if (siamese_model_embed(m, x + (size_t)s * per, count, e + (size_t)s * dim) != SIAMESE_OK) {
            fprintf(stderr, "bench_int8: embed: %s\n", siamese_model_errmsg(m));
            free(e);
            return NULL;
        }
    }
    *seconds = sm_process_cpu_seconds() - t0;
    return e;
}

static void distances(const siamese_model *m, const float *e, const siamese_pairs *p,
                      const int *row, float *d) {
    int dim = siamese_model_embedding_dim(m);
    for (int i = 0; i < p->count; i++)
        d[i] =
            (float)siamese_distance(siamese_model_metric(m), e + (size_t)row[p->items[i].a] * dim,
                                    e + (size_t)row[p->items[i].b] * dim, dim);
}

static void report(const siamese_model *m, const siamese_pairs *p, const float *d32,
                   const float *d8, double s32, double s8, int n_images) {
    char load[64] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(load, sizeof load, f)) snprintf(load, sizeof load, "?");
        fclose(f);
        load[strcspn(load, "\n")] = '\0';
    }
    float *y = malloc((size_t)p->count * sizeof(float)), t = siamese_model_threshold(m), acc;
    for (int i = 0; i < p->count; i++) y[i] = (float)p->items[i].label;
    const char *source = "the model's";
    if (!(t >= 0)) {
        siamese_best_threshold(d32, y, p->count, &t, &acc);
        source = "fp32's best";
    }
    int changed = 0;
    double rel = 0.0;
    for (int i = 0; i < p->count; i++) {
        changed += (d32[i] <= t) != (d8[i] <= t);
        rel += fabs((double)d8[i] - d32[i]) / (fabs((double)d32[i]) + 1e-12);
    }
    double auc32 = siamese_roc_auc(d32, y, p->count), auc8 = siamese_roc_auc(d8, y, p->count);
    siamese_verification_params vp = siamese_verification_default_params();
    vp.bootstrap = 0;
    siamese_verification v32 = {0}, v8 = {0};
    siamese_eval_verification(d32, y, p->count, &vp, &v32);
    siamese_eval_verification(d8, y, p->count, &vp, &v8);
    printf("pairs %d (%d images)\n", p->count, n_images);
    printf("EER               fp32 %.4f   int8 %.4f   difference %+.4f\n", v32.eer.value,
           v8.eer.value, v8.eer.value - v32.eer.value);
    printf("ROC AUC           fp32 %.4f   int8 %.4f   difference %+.4f (target |d| <= 0.005: %s)\n",
           auc32, auc8, auc8 - auc32, fabs(auc8 - auc32) <= 0.005 ? "met" : "NOT met");
    printf("verdicts changed  %d of %d = %.2f%% at %s threshold %.4g (target < 1%%: %s)\n", changed,
           p->count, 100.0 * changed / p->count, source, (double)t,
           100.0 * changed < p->count ? "met" : "NOT met");
    printf("distance          mean relative change %.2f%%\n", 100.0 * rel / p->count);
    printf("embedding time    fp32 %.3f CPU-s   int8 %.3f CPU-s   (%.2fx; %d images, load %s)\n",
           s32, s8, s32 / s8, n_images, load);
    free(y);
}

int main(int argc, char **argv) {
    opts o;
    if (!parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_int8 MODEL_INT8 DATA [--split FILE] [--per-class K] "
                        "[--seed S] [-j THREADS]\n");
        return 2;
    }
    siamese_model *m = NULL;
    siamese_dataset *ds = NULL;
    if (siamese_model_load(o.model, &m) != SIAMESE_OK) {
        fprintf(stderr, "bench_int8: %s\n", m ? siamese_model_errmsg(m) : o.model);
        return 1;
    }
    siamese_model_set_threads(m, o.threads);
    if (siamese_dataset_open(o.data, NULL, &ds) != SIAMESE_OK) {
        fprintf(stderr, "bench_int8: %s\n", ds ? siamese_dataset_errmsg(ds) : o.data);
        return 1;
    }
    siamese_pairs pairs = {0};
    int *row = malloc((size_t)siamese_dataset_image_count(ds) * sizeof(int)), n = 0;
    float *x = row && make_pairs(ds, &o, &pairs) ? load_images(m, ds, &pairs, row, &n) : NULL;
    double s32 = 0, s8 = 0;
    float *e32 = x ? embed_all(m, x, n, &s32) : NULL, *e8 = NULL;
    if (e32 && siamese_model_set_precision(m, SIAMESE_PRECISION_INT8) != SIAMESE_PRECISION_INT8)
        fprintf(stderr, "bench_int8: %s: %s\n", o.model, siamese_model_errmsg(m));
    else if (e32) e8 = embed_all(m, x, n, &s8);
    int code = 1;
    if (e8) {
        float *d32 = malloc((size_t)pairs.count * sizeof(float));
        float *d8 = malloc((size_t)pairs.count * sizeof(float));
        distances(m, e32, &pairs, row, d32);
        distances(m, e8, &pairs, row, d8);
        report(m, &pairs, d32, d8, s32, s8, n);
        free(d32);
        free(d8);
        code = 0;
    }
    free(e32);
    free(e8);
    free(x);
    free(row);
    siamese_pairs_free(&pairs);
    siamese_dataset_free(ds);
    siamese_model_free(m);
    return code;
}
