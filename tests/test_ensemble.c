/* Ensembles as one model: embeddings, getters, files, refusals, bad files, precision and face aligners. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_fixtures.h"
#include "faceapi_fixtures.h"
#include "model/face_align.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "siamese.h"
#include "test_util.h"

/* Two architectures of one input geometry, with different embedding lengths. */
#define ARCH_A "conv(4,k=3) relu maxpool(2) conv(6,k=3,p=1) relu flatten linear(8) linear(5)"
#define ARCH_B "conv(5,k=3,s=2) relu flatten linear(4)"
#define DIM_A 5
#define DIM_B 4
#define C 3
#define H 12
#define W 12
#define IMG (C * H * W)

TestSuite(ensemble, .init = tu_temp_init, .fini = tu_temp_fini);

static siamese_model *make(const char *arch, uint64_t seed, siamese_metric metric, float margin) {
    siamese_model_params p = tu_model_params(arch, C, H, W, seed);
    p.threads = 1;
    p.metric = metric;
    p.margin = margin;
    return tu_create_model(&p);
}

static siamese_model *join(siamese_model *const *members, int n) {
    siamese_model *e = NULL;
    siamese_status st = siamese_model_ensemble(members, n, &e);
    cr_assert_eq(st, SIAMESE_OK, "ensemble of %d: %s", n, e ? siamese_model_errmsg(e) : "");
    cr_assert_not_null(e);
    return e;
}

/* The ensemble A(seed 1), A(seed 2), B(seed 3) under metric. */
static siamese_model *three(siamese_metric metric) {
    siamese_model *m[3] = {make(ARCH_A, 1, metric, 1.0f), make(ARCH_A, 2, metric, 2.0f),
                           make(ARCH_B, 3, metric, 4.5f)};
    return join(m, 3);
}

/* n random images in [0, 1). */
static float *images(int n, uint64_t seed) {
    float *x = malloc((size_t)n * IMG * sizeof *x);
    cr_assert_not_null(x);
    tu_fill_uniform(x, (size_t)n * IMG, 0.0f, 1.0f, seed);
    return x;
}

/* The model's embeddings of x (n images), malloc'd. */
static float *embed(siamese_model *m, const float *x, int n) {
    int dim = siamese_model_embedding_dim(m);
    cr_assert_gt(dim, 0);
    float *e = malloc((size_t)n * dim * sizeof *e);
    cr_assert_not_null(e);
    cr_assert_eq(siamese_model_embed(m, x, n, e), SIAMESE_OK, "embed: %s", siamese_model_errmsg(m));
    return e;
}

static double dot(const float *a, const float *b, int dim) {
    double s = 0;
    for (int i = 0; i < dim; i++) s += (double)a[i] * b[i];
    return s;
}

static double sq_dist(const float *a, const float *b, int dim) {
    double s = 0;
    for (int i = 0; i < dim; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

static double mean_of(const float *a, int dim) {
    double s = 0;
    for (int i = 0; i < dim; i++) s += a[i];
    return s / dim;
}

/* v as the ensemble should place it: centred (correlation), unit length (cosine, correlation),
 * then times scale. */
static void expected_part(const float *v, int dim, siamese_metric metric, double scale,
                          double *out) {
    double mean = metric == SIAMESE_METRIC_CORRELATION ? mean_of(v, dim) : 0.0, norm = 0;
    for (int j = 0; j < dim; j++) norm += (v[j] - mean) * (v[j] - mean);
    double k = metric == SIAMESE_METRIC_EUCLIDEAN ? scale : scale / sqrt(norm);
    for (int j = 0; j < dim; j++) out[j] = (v[j] - mean) * k;
}

/* Every member's part of the ensemble's embeddings of n images is the member's own embedding
 * placed as the metric says, times 1/sqrt(members). */
static void check_parts(siamese_model *ens, const float *x, int n) {
    int k = siamese_model_members(ens), total = siamese_model_embedding_dim(ens), at = 0;
    siamese_metric metric = siamese_model_metric(ens);
    float *e = embed(ens, x, n);
    for (int i = 0; i < k; i++) {
        siamese_model *m = siamese_model_member(ens, i);
        int dim = siamese_model_embedding_dim(m);
        float *own = embed(m, x, n);
        for (int r = 0; r < n; r++) {
            double want[16];
            cr_assert_leq(dim, 16);
            expected_part(own + (size_t)r * dim, dim, metric, 1.0 / sqrt((double)k), want);
            const float *part = e + (size_t)r * total + at;
            for (int j = 0; j < dim; j++)
                cr_assert_float_eq(part[j], want[j], 1e-5 * (fabs(want[j]) + 1e-2),
                                   "%s: member %d image %d value %d: %g, want %g",
                                   siamese_metric_name(metric), i, r, j, (double)part[j], want[j]);
            double len = sqrt(dot(part, part, dim));
            if (metric != SIAMESE_METRIC_EUCLIDEAN)
                cr_assert_float_eq(len, 1.0 / sqrt((double)k), 1e-5,
                                   "member %d's part has length %g, not 1/sqrt(%d)", i, len, k);
            if (metric == SIAMESE_METRIC_CORRELATION)
                cr_assert_float_eq(mean_of(part, dim), 0.0, 1e-6, "member %d's part not centred",
                                   i);
        }
        free(own);
        at += dim;
    }
    cr_assert_eq(at, total, "the parts fill the embedding");
    free(e);
}

/* ---------------------------------------------------------------- embedding */

/* What an ensemble averages over its members for a pair of embeddings: the squared euclidean
 * distance, or the similarity 1 - d under cosine and correlation. */
static double pair_value(siamese_metric metric, const float *x, const float *y, int dim) {
    return metric == SIAMESE_METRIC_EUCLIDEAN ? sq_dist(x, y, dim)
                                              : 1.0 - siamese_distance(metric, x, y, dim);
}

/* Over every pair of n images, the ensemble's pair value against the mean of its members'. */
static void check_pairs_average(siamese_metric metric, int n, uint64_t seed) {
    siamese_model *ens = three(metric);
    float *x = images(n, seed);
    check_parts(ens, x, n);
    int total = siamese_model_embedding_dim(ens), k = siamese_model_members(ens);
    float *e = embed(ens, x, n), *own[3];
    for (int i = 0; i < k; i++) own[i] = embed(siamese_model_member(ens, i), x, n);
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            double mean = 0;
            for (int i = 0; i < k; i++) {
                int dim = siamese_model_embedding_dim(siamese_model_member(ens, i));
                mean +=
                    pair_value(metric, own[i] + (size_t)a * dim, own[i] + (size_t)b * dim, dim) / k;
            }
            const float *ea = e + (size_t)a * total, *eb = e + (size_t)b * total;
            double got = pair_value(metric, ea, eb, total);
            double tolerance = metric == SIAMESE_METRIC_EUCLIDEAN ? 1e-5 * mean : 1e-5;
            cr_assert_float_eq(got, mean, tolerance, "%s pair %d-%d: %g, members' mean %g",
                               siamese_metric_name(metric), a, b, got, mean);
            if (metric != SIAMESE_METRIC_EUCLIDEAN) continue;
            cr_assert_gt(mean, 1e-6, "images %d and %d embed alike", a, b);
            /* the library's own distance agrees (its eps 1e-6 aside) */
            double d = siamese_distance(metric, ea, eb, total);
            cr_assert_float_eq(d * d, mean, 1e-3 * mean + 1e-5);
        }
    for (int i = 0; i < k; i++) free(own[i]);
    free(e);
    free(x);
    siamese_model_free(ens);
}

Test(ensemble, euclidean_squared_distance_is_the_members_mean) {
    check_pairs_average(SIAMESE_METRIC_EUCLIDEAN, 6, 11);
}

Test(ensemble, cosine_similarity_is_the_members_mean) {
    check_pairs_average(SIAMESE_METRIC_COSINE, 5, 12);
}

Test(ensemble, correlation_is_the_members_mean) {
    check_pairs_average(SIAMESE_METRIC_CORRELATION, 5, 12);
}

Test(ensemble, getters_describe_the_whole) {
    siamese_model *m[3] = {make(ARCH_A, 1, SIAMESE_METRIC_COSINE, 1.0f),
                           make(ARCH_A, 2, SIAMESE_METRIC_COSINE, 2.0f),
                           make(ARCH_B, 3, SIAMESE_METRIC_COSINE, 4.5f)};
    size_t params = 0;
    for (int i = 0; i < 3; i++) params += siamese_model_param_count(m[i]);
    cr_assert_eq(siamese_model_members(m[0]), 0, "one network is no ensemble");
    cr_assert_null(siamese_model_member(m[0], 0));
    siamese_model *ens = join(m, 3);
    cr_assert_eq(siamese_model_members(ens), 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(siamese_model_member(ens, i), m[i], "member %d", i);
    cr_assert_null(siamese_model_member(ens, 3));
    cr_assert_null(siamese_model_member(ens, -1));
    cr_assert_null(siamese_model_member(NULL, 0));
    cr_assert_eq(siamese_model_members(NULL), 0);
    cr_assert_eq(siamese_model_embedding_dim(ens), 2 * DIM_A + DIM_B);
    cr_assert_eq(siamese_model_param_count(ens), params);
    cr_assert_gt(params, 0);
    cr_assert_eq(siamese_model_channels(ens), C);
    cr_assert_eq(siamese_model_height(ens), H);
    cr_assert_eq(siamese_model_width(ens), W);
    cr_assert_eq(siamese_model_metric(ens), SIAMESE_METRIC_COSINE);
    cr_assert_float_eq(siamese_model_margin(ens), 2.5f, 1e-6, "the members' mean margin");
    cr_assert_lt(siamese_model_threshold(ens), 0.0f, "an ensemble starts with no threshold");
    cr_assert_str_eq(siamese_model_threshold_source(ens), "");
    cr_assert_str_eq(siamese_model_arch(ens), "ensemble of 3 networks");
    cr_assert_eq(siamese_model_precision(ens), SIAMESE_PRECISION_FP32);
    siamese_model_set_threads(ens, 2);
    for (int i = 0; i < 3; i++) cr_assert_eq(m[i]->threads, 2, "member %d's threads", i);
    siamese_model_free(ens); /* frees the members (ASan would see a leak otherwise) */
}

Test(ensemble, two_and_sixteen_members_join_seventeen_do_not) {
    enum { N = SIAMESE_ENSEMBLE_MAX + 1 };
    siamese_model *m[N];
    for (int i = 0; i < N; i++) {
        siamese_model_params p = tu_model_params("conv(2,k=3) linear(2)", 1, 6, 6, (uint64_t)i);
        p.threads = 1;
        m[i] = tu_create_model(&p);
    }
    siamese_model *e = NULL;
    cr_assert_eq(siamese_model_ensemble(m, N, &e), SIAMESE_ERR_INVALID_ARG);
    cr_assert_not_null(e);
    cr_assert(strstr(siamese_model_errmsg(e), "17") != NULL, "%s", siamese_model_errmsg(e));
    siamese_model_free(e);
    siamese_model *ens = join(m, SIAMESE_ENSEMBLE_MAX);
    cr_assert_eq(siamese_model_members(ens), SIAMESE_ENSEMBLE_MAX);
    cr_assert_eq(siamese_model_embedding_dim(ens), 2 * SIAMESE_ENSEMBLE_MAX);
    float x[2 * 36], out[2 * 2 * SIAMESE_ENSEMBLE_MAX];
    tu_fill_uniform(x, 2 * 36, 0.0f, 1.0f, 5);
    cr_assert_eq(siamese_model_embed(ens, x, 2, out), SIAMESE_OK, "%s", siamese_model_errmsg(ens));
    siamese_model_free(ens);
    siamese_model_free(m[N - 1]);
}

/* ---------------------------------------------------------------- files */

static const char *tmp(const char *name) { return tu_path(tu_temp, name); }

static void save_ok(siamese_model *m, const char *path) {
    cr_assert_eq(siamese_model_save(m, path), SIAMESE_OK, "save %s: %s", path,
                 siamese_model_errmsg(m));
}

static siamese_model *load_ok(const char *path) {
    siamese_model *m = NULL;
    siamese_status st = siamese_model_load(path, &m);
    cr_assert_eq(st, SIAMESE_OK, "load %s: %s", path, m ? siamese_model_errmsg(m) : "no handle");
    return m;
}

static sm_st_file *read_st(const char *path) {
    sm_st_file *f = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_safetensors_read(path, &f, &err), SIAMESE_OK, "%s", err.msg);
    return f;
}

static void fingerprint(siamese_model *m, char *buf, size_t size) {
    cr_assert_eq(siamese_model_fingerprint(m, buf, size), SIAMESE_OK, "%s",
                 siamese_model_errmsg(m));
}

/* An ensemble of two networks of different architectures, euclidean. */
static siamese_model *two(void) {
    siamese_model *m[2] = {make(ARCH_A, 1, SIAMESE_METRIC_EUCLIDEAN, 2.0f),
                           make(ARCH_B, 2, SIAMESE_METRIC_EUCLIDEAN, 2.0f)};
    return join(m, 2);
}

/* two(), with a threshold and its source of its own and member 1's own threshold. */
static siamese_model *two_with_thresholds(void) {
    siamese_model *ens = two();
    siamese_model_set_threshold(ens, 0.75f);
    siamese_model_set_threshold_source(ens, "calibrate: unit test pairs");
    siamese_model_set_threshold(siamese_model_member(ens, 1), 0.5f);
    return ens;
}

Test(ensemble, file_holds_members_tensors_and_metadata) {
    siamese_model *ens = two_with_thresholds();
    const char *path = tmp("ens.safetensors");
    save_ok(ens, path);
    sm_st_file *f = read_st(path);
    cr_assert_str_eq(sm_safetensors_meta(f, "format"), "siamese/ensemble/1");
    cr_assert_str_eq(sm_safetensors_meta(f, "members"), "2");
    cr_assert_str_eq(sm_safetensors_meta(f, "embedding_dim"), "9");
    cr_assert_str_eq(sm_safetensors_meta(f, "input"), "3x12x12");
    cr_assert_str_eq(sm_safetensors_meta(f, "metric"), "euclidean");
    cr_assert_str_eq(sm_safetensors_meta(f, "threshold"), "0.75");
    cr_assert_str_eq(sm_safetensors_meta(f, "threshold_source"), "calibrate: unit test pairs");
    cr_assert_null(sm_safetensors_meta(f, "arch"), "the top level has no architecture");
    int expected = 0;
    for (int i = 0; i < 2; i++) {
        siamese_model *m = siamese_model_member(ens, i);
        const sm_param_table *t = sm_net_table(m->net);
        expected += t->n;
        for (int j = 0; j < t->n; j++) {
            char name[256];
            snprintf(name, sizeof name, "members.%d.%s", i, t->t[j].name);
            const sm_st_tensor *st = sm_safetensors_find(f, name);
            cr_assert_not_null(st, "no tensor %s", name);
            cr_assert_eq(st->dtype, SM_DT_F32);
            cr_assert_eq(memcmp(st->data, sm_net_params(m->net) + t->t[j].offset,
                                t->t[j].count * sizeof(float)),
                         0, "%s differs from the member's", name);
        }
        char key[64];
        snprintf(key, sizeof key, "members.%d.arch", i);
        cr_assert_str_eq(sm_safetensors_meta(f, key), siamese_model_arch(m));
        snprintf(key, sizeof key, "members.%d.format", i);
        cr_assert_str_eq(sm_safetensors_meta(f, key), "siamese/1");
    }
    cr_assert_eq(sm_safetensors_count(f), expected, "the members' tensors and nothing else");
    for (int i = 0; i < sm_safetensors_count(f); i++)
        cr_assert_eq(strncmp(sm_safetensors_get(f, i)->name, "members.", 8), 0, "%s",
                     sm_safetensors_get(f, i)->name);
    cr_assert_str_eq(sm_safetensors_meta(f, "members.1.threshold"), "0.5");
    cr_assert_null(sm_safetensors_meta(f, "members.0.threshold"));
    sm_safetensors_free(f);
    siamese_model_free(ens);
}

Test(ensemble, save_and_load_round_trip) {
    siamese_model *ens = two_with_thresholds();
    const char *path = tmp("round.safetensors");
    save_ok(ens, path);
    siamese_model *back = load_ok(path);
    siamese_model_set_threads(back, 1);
    cr_assert_eq(siamese_model_members(back), 2);
    cr_assert_str_eq(siamese_model_arch(back), "ensemble of 2 networks");
    for (int i = 0; i < 2; i++)
        cr_assert_str_eq(siamese_model_arch(siamese_model_member(back, i)),
                         siamese_model_arch(siamese_model_member(ens, i)), "member %d", i);
    cr_assert_eq(siamese_model_embedding_dim(back), DIM_A + DIM_B);
    cr_assert_eq(siamese_model_param_count(back), siamese_model_param_count(ens));
    cr_assert_eq(siamese_model_metric(back), SIAMESE_METRIC_EUCLIDEAN);
    cr_assert_eq(siamese_model_margin(back), siamese_model_margin(ens));
    cr_assert_eq(siamese_model_threshold(back), 0.75f);
    cr_assert_str_eq(siamese_model_threshold_source(back), "calibrate: unit test pairs");
    cr_assert_lt(siamese_model_threshold(siamese_model_member(back, 0)), 0.0f);
    cr_assert_eq(siamese_model_threshold(siamese_model_member(back, 1)), 0.5f,
                 "a member's own threshold stays the member's");
    enum { N = 7 };
    float *x = images(N, 21), *a = embed(ens, x, N), *b = embed(back, x, N);
    cr_assert_eq(memcmp(a, b, (size_t)N * (DIM_A + DIM_B) * sizeof *a), 0,
                 "a loaded ensemble embeds differently");
    char fe[512], fb[512], fm[512];
    fingerprint(ens, fe, sizeof fe);
    fingerprint(back, fb, sizeof fb);
    cr_assert_str_eq(fe, fb, "the fingerprint changed through the file");
    for (int i = 0; i < 2; i++) {
        fingerprint(siamese_model_member(ens, i), fm, sizeof fm);
        cr_assert_str_neq(fe, fm, "the ensemble's fingerprint is member %d's", i);
    }
    /* saved again, the loaded ensemble makes the same file content */
    save_ok(back, tmp("again.safetensors"));
    siamese_model *again = load_ok(tmp("again.safetensors"));
    fingerprint(again, fm, sizeof fm);
    cr_assert_str_eq(fe, fm);
    cr_assert_eq(siamese_model_threshold(again), 0.75f);
    siamese_model_free(again);
    free(x);
    free(a);
    free(b);
    siamese_model_free(back);
    siamese_model_free(ens);
}

Test(ensemble, fingerprint_follows_the_members_order) {
    siamese_model *m[2] = {make(ARCH_A, 1, SIAMESE_METRIC_EUCLIDEAN, 2.0f),
                           make(ARCH_A, 2, SIAMESE_METRIC_EUCLIDEAN, 2.0f)};
    siamese_model *r[2] = {make(ARCH_A, 2, SIAMESE_METRIC_EUCLIDEAN, 2.0f),
                           make(ARCH_A, 1, SIAMESE_METRIC_EUCLIDEAN, 2.0f)};
    siamese_model *e = join(m, 2), *swapped = join(r, 2);
    char fe[512], fs[512];
    fingerprint(e, fe, sizeof fe);
    fingerprint(swapped, fs, sizeof fs);
    cr_assert_str_neq(fe, fs, "members swapped embed differently, yet the fingerprint is one");
    siamese_model_free(e);
    siamese_model_free(swapped);
}

/* ---------------------------------------------------------------- refusals */

/* siamese_model_ensemble must fail with an error-only handle whose message holds word. */
static void expect_refused(siamese_model *const *members, int n, const char *word) {
    siamese_model *e = NULL;
    siamese_status st = siamese_model_ensemble(members, n, &e);
    cr_assert_not_null(e, "a failure gave no handle");
    const char *msg = siamese_model_errmsg(e);
    cr_assert_eq(st, SIAMESE_ERR_INVALID_ARG, "status %d (%s)", st, msg);
    cr_assert_eq(siamese_model_members(e), 0);
    cr_assert_eq(siamese_model_param_count(e), 0);
    cr_assert_eq(siamese_model_embedding_dim(e), 0);
    cr_assert(strstr(msg, word) != NULL, "message '%s' lacks '%s'", msg, word);
    siamese_model_free(e);
}

Test(ensemble, unfit_members_are_refused_and_stay_the_callers) {
    siamese_model *a = make(ARCH_A, 1, SIAMESE_METRIC_EUCLIDEAN, 2.0f);
    siamese_model *b = make(ARCH_B, 2, SIAMESE_METRIC_EUCLIDEAN, 2.0f);
    siamese_model *cosine = make(ARCH_A, 3, SIAMESE_METRIC_COSINE, 2.0f);
    siamese_model_params p = tu_model_params(ARCH_A, C, H + 2, W, 4);
    p.threads = 1;
    siamese_model *taller = tu_create_model(&p);
    siamese_model_params g = tu_model_params(ARCH_A, 1, H, W, 5);
    g.threads = 1;
    siamese_model *grey = tu_create_model(&g);

    siamese_model *one[1] = {a};
    expect_refused(one, 1, "2 to 16");
    siamese_model *pair[2] = {a, b};
    expect_refused(pair, 0, "not 0");
    expect_refused(pair, -3, "2 to 16");
    expect_refused(NULL, 2, "no members given");
    cr_assert_eq(siamese_model_ensemble(pair, 2, NULL), SIAMESE_ERR_INVALID_ARG);
    siamese_model *geometry[2] = {a, taller};
    expect_refused(geometry, 2, "input geometry");
    siamese_model *channels[3] = {a, b, grey};
    expect_refused(channels, 3, "member 2");
    expect_refused(channels, 3, "input geometry");
    siamese_model *metric[2] = {a, cosine};
    expect_refused(metric, 2, "metric");
    siamese_model *twice[3] = {a, b, a};
    expect_refused(twice, 3, "twice");
    siamese_model *with_null[2] = {a, NULL};
    expect_refused(with_null, 2, "member 1");

    /* a (and b) are still ours: use them, then join them for real */
    float *x = images(2, 3), *e = embed(a, x, 2);
    free(e);
    siamese_model *ens = join(pair, 2);
    siamese_model *nested[2] = {ens, cosine};
    expect_refused(nested, 2, "ensemble");
    siamese_model *nested2[2] = {taller, ens};
    expect_refused(nested2, 2, "member 1");
    free(x);
    siamese_model_free(ens); /* frees a and b */
    siamese_model_free(cosine);
    siamese_model_free(taller);
    siamese_model_free(grey);
}

Test(ensemble, training_freezing_and_pretrained_weights_are_refused) {
    siamese_model *ens = two();
    const char *member_file = tmp("member.safetensors"), *ens_file = tmp("e.safetensors");
    save_ok(siamese_model_member(ens, 0), member_file);
    save_ok(ens, ens_file);

    siamese_trainer *t = NULL;
    cr_assert_eq(siamese_trainer_create(ens, NULL, &t), SIAMESE_ERR_UNSUPPORTED);
    cr_assert_not_null(t);
    cr_assert(strstr(siamese_trainer_errmsg(t), "ensemble") != NULL, "%s",
              siamese_trainer_errmsg(t));
    siamese_trainer_free(t);

    cr_assert_eq(siamese_model_freeze(ens, "", 1), -1);
    cr_assert(strstr(siamese_model_errmsg(ens), "ensemble") != NULL, "%s",
              siamese_model_errmsg(ens));
    cr_assert_eq(siamese_model_freeze(ens, "cnn1", 1), -1);

    char left[256] = "untouched";
    cr_assert_eq(siamese_model_init_from(ens, member_file, left, sizeof left),
                 SIAMESE_ERR_UNSUPPORTED);
    cr_assert(strstr(siamese_model_errmsg(ens), "ensemble") != NULL, "%s",
              siamese_model_errmsg(ens));

    /* an ensemble's file is not one network's weights; the plain model is left as it was */
    siamese_model *plain = make(ARCH_A, 9, SIAMESE_METRIC_EUCLIDEAN, 2.0f);
    size_t n = siamese_model_param_count(plain);
    float *before = malloc(n * sizeof *before);
    cr_assert_not_null(before);
    memcpy(before, sm_net_params(plain->net), n * sizeof *before);
    siamese_status st = siamese_model_init_from(plain, ens_file, left, sizeof left);
    const char *msg = siamese_model_errmsg(plain);
    cr_assert_neq(st, SIAMESE_OK, "pretrained weights taken from an ensemble's file");
    cr_assert(strstr(msg, ens_file) != NULL, "message does not name the file: %s", msg);
    cr_assert(strstr(msg, "ensemble") != NULL, "%s", msg);
    cr_assert_eq(memcmp(before, sm_net_params(plain->net), n * sizeof *before), 0,
                 "a refused init changed the weights");
    /* the member's own file is fine */
    cr_assert_eq(siamese_model_init_from(plain, member_file, left, sizeof left), SIAMESE_OK, "%s",
                 siamese_model_errmsg(plain));
    cr_assert_eq(memcmp(sm_net_params(siamese_model_member(ens, 0)->net), sm_net_params(plain->net),
                        n * sizeof *before),
                 0);
    free(before);
    siamese_model_free(plain);
    siamese_model_free(ens);
}

/* ---------------------------------------------------------------- bad files */

/* The saved ensemble at src rewritten to dst: tensor drop removed, tensor add (shape {1})
 * added, metadata key set to value (NULL: removed). */
typedef struct edit {
    const char *drop;
    const char *add;
    const char *key;
    const char *value;
} edit;

static const char *rewrite(const char *src, const char *dst, const edit *ed) {
    sm_st_file *f = read_st(src);
    int n = sm_safetensors_count(f), n_meta = sm_safetensors_meta_count(f), nt = 0, nm = 0;
    sm_st_tensor *ts = calloc((size_t)n + 1, sizeof *ts);
    sm_st_meta *meta = calloc((size_t)n_meta + 1, sizeof *meta);
    cr_assert(ts && meta);
    int dropped = 0, set = 0;
    for (int i = 0; i < n; i++) {
        const sm_st_tensor *t = sm_safetensors_get(f, i);
        if (ed->drop && strcmp(t->name, ed->drop) == 0) {
            dropped = 1;
            continue;
        }
        ts[nt++] = *t;
    }
    cr_assert(!ed->drop || dropped, "no tensor %s to drop", ed->drop);
    static const float one = 1.0f;
    if (ed->add)
        ts[nt++] = (sm_st_tensor){
            .name = ed->add, .dtype = SM_DT_F32, .ndim = 1, .shape = {1}, .data = &one};
    for (int i = 0; i < n_meta; i++) {
        sm_st_meta m = sm_safetensors_meta_get(f, i);
        if (ed->key && strcmp(m.key, ed->key) == 0) {
            set = 1;
            if (!ed->value) continue;
            m.value = ed->value;
        }
        meta[nm++] = m;
    }
    if (ed->key && ed->value && !set) meta[nm++] = (sm_st_meta){ed->key, ed->value};
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_safetensors_write(dst, ts, nt, meta, nm, &err), SIAMESE_OK, "%s", err.msg);
    free(ts);
    free(meta);
    sm_safetensors_free(f);
    return dst;
}

/* Loading path must fail with FORMAT or SHAPE, leave an error-only handle, and say why (the
 * file named, reason in the message). */
static void expect_load_fails(const char *path, const char *reason) {
    siamese_model *m = NULL;
    siamese_status st = siamese_model_load(path, &m);
    cr_assert_not_null(m, "%s: a failed load gave no handle", path);
    const char *msg = siamese_model_errmsg(m);
    cr_assert(st == SIAMESE_ERR_FORMAT || st == SIAMESE_ERR_SHAPE, "%s: status %d (%s)", path, st,
              msg);
    cr_assert_eq(siamese_model_param_count(m), 0, "%s: a failed load left parameters", path);
    cr_assert_eq(siamese_model_members(m), 0, "%s: a failed load left members", path);
    cr_assert(strstr(msg, path) != NULL, "message does not name the file: %s", msg);
    cr_assert(strstr(msg, reason) != NULL, "message '%s' lacks '%s'", msg, reason);
    siamese_model_free(m);
}

Test(ensemble, unfit_files_fail_to_load) {
    siamese_model *ens = two();
    char good[1024]; /* tu_path's ring is reused by the cases below */
    snprintf(good, sizeof good, "%s", tmp("good.safetensors"));
    save_ok(ens, good);
    siamese_model *check = load_ok(good); /* the untouched file loads */
    siamese_model_free(check);
    struct {
        edit ed;
        const char *reason;
    } cases[] = {
        {{.key = "members", .value = "1"}, "members"},
        {{.key = "members", .value = "17"}, "members"},
        {{.key = "members", .value = "abc"}, "members"},
        {{.key = "members", .value = NULL}, "members"},
        {{.key = "members", .value = "3"}, "member 2"},
        {{.add = "members.5.x"}, "members.5.x"},
        {{.add = "members.1"}, "members.1"},
        {{.add = "stray"}, "stray"},
        {{.drop = "members.1.fc1.bias"}, "fc1.bias"},
        {{.drop = "members.0.cnn2.weight"}, "member 0"},
        {{.key = "metric", .value = "cosine"}, "metric"},
        {{.key = "metric", .value = NULL}, "metric"},
        {{.key = "embedding_dim", .value = "8"}, "embedding_dim"},
        {{.key = "embedding_dim", .value = NULL}, "embedding_dim"},
        {{.key = "threshold", .value = "nan"}, "threshold"},
        {{.key = "members.1.format", .value = "siamese/ensemble/1"}, "ensemble"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "bad%zu.safetensors", i);
        expect_load_fails(rewrite(good, tmp(name), &cases[i].ed), cases[i].reason);
    }
    siamese_model_free(ens);
}

/* Members that cannot join (here: of two metrics) make a bad file like any other: the load's
 * status says so (FORMAT or SHAPE), not SIAMESE_ERR_INVALID_ARG, which blames the caller. Checked
 * after freeing, so that ASan sees the members freed on this path even when the status is wrong. */
Test(ensemble, members_of_two_metrics_in_a_file_are_a_bad_file) {
    siamese_model *ens = two();
    char good[1024], bad[1024], msg[1024];
    snprintf(good, sizeof good, "%s", tmp("good.safetensors"));
    snprintf(bad, sizeof bad, "%s", tmp("metrics.safetensors"));
    save_ok(ens, good);
    siamese_model_free(ens);
    edit ed = {.key = "members.0.metric", .value = "cosine"};
    rewrite(good, bad, &ed);
    siamese_model *m = NULL;
    siamese_status st = siamese_model_load(bad, &m);
    cr_assert_not_null(m);
    snprintf(msg, sizeof msg, "%s", siamese_model_errmsg(m));
    size_t params = siamese_model_param_count(m);
    siamese_model_free(m);
    cr_assert_eq(params, 0);
    cr_assert(strstr(msg, bad) != NULL && strstr(msg, "metric") != NULL, "%s", msg);
    cr_assert(st == SIAMESE_ERR_FORMAT || st == SIAMESE_ERR_SHAPE, "status %d (%s): %s", st,
              siamese_status_str(st), msg);
}

/* ---------------------------------------------------------------- precision */

typedef struct progress_log {
    int calls, last_done, last_total, backwards;
} progress_log;

static void log_progress(void *user, int done, int total) {
    progress_log *p = user;
    if (p->calls && done < p->last_done) p->backwards++;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

Test(ensemble, int8_needs_every_member_calibrated) {
    siamese_model *ens = two();
    cr_assert_eq(siamese_model_int8_images(ens), 0);
    cr_assert_eq(siamese_model_set_precision(ens, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_FP32);
    const char *msg = siamese_model_errmsg(ens);
    cr_assert(strstr(msg, "member 0") != NULL && strstr(msg, "int8 calibration") != NULL, "%s",
              msg);
    cr_assert_eq(siamese_model_precision(ens), SIAMESE_PRECISION_FP32);

    df_make_classes(tu_temp, 3, 4, W, H);
    siamese_dataset *ds = df_open(tu_temp, NULL, SIAMESE_OK);
    siamese_quantize_params qp = siamese_quantize_default_params();
    /* member 0 alone calibrated: int8 still refused, naming member 1, and member 0 back in fp32 */
    cr_assert_eq(siamese_model_quantize(siamese_model_member(ens, 0), ds, &qp), SIAMESE_OK);
    cr_assert_eq(siamese_model_int8_images(ens), 0, "the fewest of the members'");
    cr_assert_eq(siamese_model_set_precision(ens, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_FP32);
    msg = siamese_model_errmsg(ens);
    cr_assert(strstr(msg, "member 1") != NULL, "%s", msg);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(siamese_model_precision(siamese_model_member(ens, i)), SIAMESE_PRECISION_FP32,
                     "member %d left in another precision", i);
    siamese_dataset_free(ds);
    siamese_model_free(ens);
}

Test(ensemble, quantized_ensemble_runs_int8_and_keeps_it_in_its_file) {
    siamese_model *ens = two();
    df_make_classes(tu_temp, 3, 4, W, H);
    siamese_dataset *ds = df_open(tu_temp, NULL, SIAMESE_OK);
    progress_log log = {0};
    siamese_quantize_params qp = siamese_quantize_default_params();
    qp.progress = log_progress;
    qp.progress_user = &log;
    cr_assert_eq(siamese_model_quantize(ens, ds, &qp), SIAMESE_OK, "%s", siamese_model_errmsg(ens));
    siamese_dataset_free(ds);
    cr_assert_eq(siamese_model_int8_images(ens), 12);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(siamese_model_int8_images(siamese_model_member(ens, i)), 12, "member %d", i);
    cr_assert_gt(log.calls, 1);
    cr_assert_eq(log.backwards, 0, "progress went backwards");
    cr_assert_eq(log.last_done, log.last_total, "progress ended at %d of %d", log.last_done,
                 log.last_total);
    cr_assert_eq(log.last_total, 2 * 12, "both members' images count in the total");

    enum { N = 8, D = DIM_A + DIM_B };
    float *x = images(N, 31), *f32 = embed(ens, x, N);
    cr_assert_eq(siamese_model_set_precision(ens, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_INT8,
                 "%s", siamese_model_errmsg(ens));
    cr_assert_eq(siamese_model_precision(ens), SIAMESE_PRECISION_INT8);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(siamese_model_precision(siamese_model_member(ens, i)), SIAMESE_PRECISION_INT8);
    float *i8 = embed(ens, x, N);
    double e = tu_rel_l2_f(i8, f32, (size_t)N * D);
    cr_assert_lt(e, 0.05, "int8 vs fp32: relative L2 error %g", e);
    cr_assert_gt(e, 0.0, "int8 gave exactly fp32's values: not quantised?");

    const char *path = tmp("int8.safetensors");
    save_ok(ens, path);
    sm_st_file *f = read_st(path);
    cr_assert_not_null(sm_safetensors_find(f, "members.0.int8.cnn1.input_range"));
    cr_assert_not_null(sm_safetensors_find(f, "members.1.int8.fc1.weight_scale"));
    cr_assert_not_null(sm_safetensors_meta(f, "members.1.int8_calibration_images"));
    sm_safetensors_free(f);
    siamese_model *back = load_ok(path);
    siamese_model_set_threads(back, 1);
    cr_assert_eq(siamese_model_int8_images(back), 12);
    cr_assert_eq(siamese_model_precision(back), SIAMESE_PRECISION_FP32, "loads as fp32");
    float *f32b = embed(back, x, N);
    cr_assert_eq(memcmp(f32, f32b, sizeof(float) * N * D), 0);
    cr_assert_eq(siamese_model_set_precision(back, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_INT8,
                 "%s", siamese_model_errmsg(back));
    float *i8b = embed(back, x, N);
    cr_assert_eq(memcmp(i8, i8b, sizeof(float) * N * D), 0,
                 "int8 embeddings differ after save and load");
    cr_assert_eq(siamese_model_set_precision(back, SIAMESE_PRECISION_FP32), SIAMESE_PRECISION_FP32);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(siamese_model_precision(siamese_model_member(back, i)),
                     SIAMESE_PRECISION_FP32);
    free(x);
    free(f32);
    free(f32b);
    free(i8);
    free(i8b);
    siamese_model_free(back);
    siamese_model_free(ens);
}

Test(ensemble, bf16_is_set_on_every_member) {
    if (!siamese_bf16_supported()) cr_skip_test("this CPU has no bf16 kernels");
    siamese_model *ens = two();
    cr_assert_eq(siamese_model_set_precision(ens, SIAMESE_PRECISION_BF16), SIAMESE_PRECISION_BF16,
                 "%s", siamese_model_errmsg(ens));
    cr_assert_eq(siamese_model_precision(ens), SIAMESE_PRECISION_BF16);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(siamese_model_precision(siamese_model_member(ens, i)), SIAMESE_PRECISION_BF16,
                     "member %d", i);
    cr_assert_eq(siamese_model_set_precision(ens, SIAMESE_PRECISION_FP32), SIAMESE_PRECISION_FP32);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(siamese_model_precision(siamese_model_member(ens, i)), SIAMESE_PRECISION_FP32,
                     "member %d", i);
    siamese_model_free(ens);
}

/* ---------------------------------------------------------------- face aligners */

/* A small stand-in for face-api's landmark network (3x112x112 in, 68 points out), its weights
 * from seed: an aligner as the model files hold one, without face-api's package. */
#define LANDMARK_ARCH "conv(4,k=8,s=8) relu flatten linear(136)"

static siamese_model *landmarks(const char *arch, uint64_t seed) {
    siamese_model_params p = tu_model_params(arch, 3, SM_LANDMARK_SIDE, SM_LANDMARK_SIDE, seed);
    p.threads = 1;
    return tu_create_model(&p);
}

/* make()'s euclidean network with the stand-in of align_seed as its face aligner. */
static siamese_model *aligned(const char *arch, uint64_t seed, uint64_t align_seed) {
    siamese_model *m = make(arch, seed, SIAMESE_METRIC_EUCLIDEAN, 2.0f);
    m->aligner = landmarks(LANDMARK_ARCH, align_seed);
    return m;
}

/* A 40x48 grey photo (its pixels from seed) in the test's folder, its path copied to path. */
static void photo(const char *name, unsigned seed, char *path, size_t size) {
    df_write_pgm(tu_temp, name, 40, 48, seed);
    snprintf(path, size, "%s", tmp(name));
}

/* The model's embedding of one photo file (siamese_model_load_input, then embed), malloc'd; its
 * input tensor copied to chip when chip is not NULL. */
static float *embed_photo(siamese_model *m, const char *path, float *chip) {
    float x[IMG];
    char why[512];
    cr_assert_eq(siamese_model_load_input(m, path, x, why, sizeof why), SIAMESE_OK, "%s", why);
    if (chip) memcpy(chip, x, sizeof x);
    return embed(m, x, 1);
}

/* How many tensors of f have names starting with prefix. */
static int count_prefixed(const sm_st_file *f, const char *prefix) {
    int n = 0;
    for (int i = 0; i < sm_safetensors_count(f); i++)
        n += strncmp(sm_safetensors_get(f, i)->name, prefix, strlen(prefix)) == 0;
    return n;
}

/* The ensemble's file at path holds its face aligner at the top level (at least `tensors`
 * "align.*" tensors and its metadata) and none in a member. */
static void check_aligner_on_top(const char *path, int members, int tensors) {
    sm_st_file *f = read_st(path);
    int top = count_prefixed(f, SM_ALIGN_PREFIX);
    cr_assert_geq(top, tensors, "%d align.* tensors at the top level", top);
    cr_assert_str_eq(sm_safetensors_meta(f, "align"), SM_ALIGN_KIND);
    cr_assert_not_null(sm_safetensors_meta(f, "align_arch"));
    for (int i = 0; i < members; i++) {
        char prefix[64], key[64];
        snprintf(prefix, sizeof prefix, "members.%d.%s", i, SM_ALIGN_PREFIX);
        snprintf(key, sizeof key, "members.%d.align", i);
        cr_assert_eq(count_prefixed(f, prefix), 0, "%s* tensors in the file", prefix);
        cr_assert_null(sm_safetensors_meta(f, key), "%s in the file", key);
    }
    sm_safetensors_free(f);
}

/* Loads path and checks that the ensemble aligns faces (its members do not) and embeds the photo
 * as want, bit for bit. */
static void check_loaded_aligns(const char *path, const char *face, const float *want) {
    siamese_model *back = load_ok(path);
    siamese_model_set_threads(back, 1);
    cr_assert_eq(siamese_model_aligns_faces(back), 1, "the loaded ensemble aligns no faces");
    for (int i = 0; i < siamese_model_members(back); i++)
        cr_assert_eq(siamese_model_aligns_faces(siamese_model_member(back, i)), 0,
                     "loaded member %d has an aligner of its own", i);
    float *got = embed_photo(back, face, NULL);
    int dim = siamese_model_embedding_dim(back);
    cr_assert_eq(memcmp(got, want, (size_t)dim * sizeof *got), 0,
                 "the loaded ensemble embeds the photo differently");
    free(got);
    siamese_model_free(back);
}

Test(ensemble, members_with_one_face_aligner_share_it_through_the_file) {
    siamese_model *m[2] = {aligned(ARCH_A, 1, 7), aligned(ARCH_B, 2, 7)};
    char face[1024], file[1024];
    photo("face.pgm", 3, face, sizeof face);
    snprintf(file, sizeof file, "%s", tmp("aligned.safetensors"));
    float own[IMG], chip[IMG], resized[IMG];
    free(embed_photo(m[0], face, own)); /* member 0's face chip before joining */
    siamese_model *ens = join(m, 2);
    cr_assert_eq(siamese_model_aligns_faces(ens), 1);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(siamese_model_aligns_faces(m[i]), 0, "member %d kept its aligner", i);
    float *before = embed_photo(ens, face, chip);
    cr_assert_eq(memcmp(chip, own, sizeof chip), 0, "the ensemble's chip is not its members'");
    free(embed_photo(m[0], face, resized)); /* a member alone now: the photo resized */
    cr_assert_neq(memcmp(chip, resized, sizeof chip), 0, "the ensemble aligned nothing");
    save_ok(ens, file);
    check_aligner_on_top(file, 2, 4); /* the stand-in's conv and linear: 2 tensors each */
    check_loaded_aligns(file, face, before);
    free(before);
    siamese_model_free(ens);
}

/* siamese_model_ensemble refuses members (expect_refused) and each keeps the aligner it had. */
Test(ensemble, members_whose_aligners_differ_are_refused_and_stay_usable) {
    siamese_model *a = aligned(ARCH_A, 1, 7), *b = aligned(ARCH_B, 2, 7);
    siamese_model *none = make(ARCH_B, 3, SIAMESE_METRIC_EUCLIDEAN, 2.0f);
    siamese_model *other = aligned(ARCH_A, 4, 8); /* another aligner's weights */
    siamese_model *shape = make(ARCH_A, 5, SIAMESE_METRIC_EUCLIDEAN, 2.0f);
    shape->aligner = landmarks("conv(3,k=8,s=8) relu flatten linear(136)", 7);
    siamese_model *nudged = aligned(ARCH_B, 6, 7); /* one weight one step off */
    float *w = sm_net_params_write(nudged->aligner->net);
    w[0] = nextafterf(w[0], INFINITY);
    siamese_model *all[6] = {a, b, none, other, shape, nudged}, *had[6];
    for (int i = 0; i < 6; i++) had[i] = all[i]->aligner;

    struct {
        siamese_model *members[3];
        int n;
        const char *message;
    } cases[] = {
        {{a, b, none}, 3, "member 2 has no face aligner while member 0 has one"},
        {{none, a}, 2, "member 1 has a face aligner while member 0 has none"},
        {{a, other}, 2, "member 1's face aligner differs from member 0's"},
        {{a, b, shape}, 3, "member 2's face aligner differs from member 0's"},
        {{nudged, b}, 2, "member 1's face aligner differs from member 0's"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refused(cases[i].members, cases[i].n, cases[i].message);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(all[i]->aligner, had[i], "a refused join changed model %d's aligner", i);

    /* each still aligns its photos; then a and b join */
    char face[1024];
    photo("face.pgm", 3, face, sizeof face);
    for (int i = 0; i < 6; i++) free(embed_photo(all[i], face, NULL));
    siamese_model *pair[2] = {a, b};
    siamese_model *ens = join(pair, 2);
    cr_assert_eq(siamese_model_aligns_faces(ens), 1);
    siamese_model_free(ens); /* frees a and b */
    for (int i = 2; i < 6; i++) siamese_model_free(all[i]);
}

Test(ensemble, a_face_aligner_outside_the_top_level_is_a_bad_file) {
    siamese_model *m[2] = {aligned(ARCH_A, 1, 7), aligned(ARCH_B, 2, 7)};
    siamese_model *ens = join(m, 2);
    char good[1024], dropped[256] = "";
    snprintf(good, sizeof good, "%s", tmp("good.safetensors"));
    save_ok(ens, good);
    sm_st_file *f = read_st(good);
    for (int i = 0; i < sm_safetensors_count(f) && !dropped[0]; i++)
        if (!strncmp(sm_safetensors_get(f, i)->name, SM_ALIGN_PREFIX, strlen(SM_ALIGN_PREFIX)))
            snprintf(dropped, sizeof dropped, "%s", sm_safetensors_get(f, i)->name);
    sm_safetensors_free(f);
    cr_assert(dropped[0], "no align.* tensor in %s", good);
    struct {
        edit ed;
        const char *reason;
    } cases[] = {
        {{.add = "members.0.align.x"}, "face aligner inside a member"},
        {{.key = "members.1.align", .value = SM_ALIGN_KIND}, "face aligner inside a member"},
        {{.drop = dropped}, dropped},
        {{.key = "align", .value = NULL}, "belongs to no member"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "bad%zu.safetensors", i);
        expect_load_fails(rewrite(good, tmp(name), &cases[i].ed), cases[i].reason);
    }
    /* a member given an aligner of its own after joining would make such a file: not saved */
    m[1]->aligner = landmarks(LANDMARK_ARCH, 7);
    cr_assert_eq(siamese_model_save(ens, tmp("member.safetensors")), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_model_errmsg(ens), "member 1") != NULL, "%s",
              siamese_model_errmsg(ens));
    siamese_model_free(ens);
}

Test(ensemble, attaching_a_face_aligner_gives_it_to_the_ensemble) {
    const char *dir = faf_dir("face_landmark_68_model-weights_manifest.json");
    siamese_model *ens = two();
    char face[1024], file[1024], missing[1024];
    photo("face.pgm", 3, face, sizeof face);
    snprintf(file, sizeof file, "%s", tmp("attached.safetensors"));
    snprintf(missing, sizeof missing, "%s", tmp("no-such-folder"));
    float resized[IMG], chip[IMG];
    free(embed_photo(ens, face, resized));
    cr_assert_neq(siamese_model_attach_faceapi_aligner(ens, missing), SIAMESE_OK);
    cr_assert(strstr(siamese_model_errmsg(ens), missing) != NULL, "%s", siamese_model_errmsg(ens));
    cr_assert_eq(siamese_model_aligns_faces(ens), 0);
    cr_assert_eq(siamese_model_attach_faceapi_aligner(ens, dir), SIAMESE_OK, "%s",
                 siamese_model_errmsg(ens));
    cr_assert_eq(siamese_model_aligns_faces(ens), 1);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(siamese_model_aligns_faces(siamese_model_member(ens, i)), 0, "member %d", i);
    float *before = embed_photo(ens, face, chip);
    cr_assert_neq(memcmp(chip, resized, sizeof chip), 0, "the ensemble aligned nothing");
    save_ok(ens, file);
    check_aligner_on_top(file, 2, 40); /* face-api's landmark network */
    check_loaded_aligns(file, face, before);
    free(before);
    siamese_model_free(ens);
}

/* 1 when two int8 calibrations saw the same activation ranges, bit for bit. */
static int same_ranges(const sm_quant *a, const sm_quant *b) {
    cr_assert(a && b, "a model has no calibration");
    if (a->n != b->n || a->images != b->images) return 0;
    for (int i = 0; i < a->n; i++)
        if (memcmp(&a->l[i].in_lo, &b->l[i].in_lo, sizeof(float)) ||
            memcmp(&a->l[i].in_hi, &b->l[i].in_hi, sizeof(float)))
            return 0;
    return 1;
}

Test(ensemble, quantize_calibrates_each_member_on_the_ensembles_face_chips) {
    df_make_classes(tu_temp, 3, 4, 40, 48);
    siamese_dataset *ds = df_open(tu_temp, NULL, SIAMESE_OK);
    siamese_model *m[2] = {aligned(ARCH_A, 1, 7), aligned(ARCH_B, 2, 7)};
    siamese_model *ens = join(m, 2);
    /* the members as single models, with the same aligner and without one */
    siamese_model *alone[2] = {aligned(ARCH_A, 1, 7), aligned(ARCH_B, 2, 7)};
    siamese_model *plain = make(ARCH_A, 1, SIAMESE_METRIC_EUCLIDEAN, 2.0f);
    siamese_quantize_params qp = siamese_quantize_default_params();
    cr_assert_eq(siamese_model_quantize(ens, ds, &qp), SIAMESE_OK, "%s", siamese_model_errmsg(ens));
    for (int i = 0; i < 2; i++)
        cr_assert_eq(siamese_model_quantize(alone[i], ds, &qp), SIAMESE_OK, "%s",
                     siamese_model_errmsg(alone[i]));
    cr_assert_eq(siamese_model_quantize(plain, ds, &qp), SIAMESE_OK, "%s",
                 siamese_model_errmsg(plain));
    cr_assert_eq(siamese_model_aligns_faces(ens), 1);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(siamese_model_int8_images(m[i]), 12, "member %d", i);
        cr_assert_null(m[i]->aligner, "member %d kept the lent aligner", i);
        cr_assert(same_ranges(m[i]->quant, alone[i]->quant),
                  "member %d was not calibrated as it is alone with the aligner", i);
    }
    cr_assert(!same_ranges(m[0]->quant, plain->quant), "member 0 calibrated on photos resized");
    cr_assert_eq(siamese_model_set_precision(ens, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_INT8,
                 "%s", siamese_model_errmsg(ens));

    /* a calibration that fails gives the aligner back too */
    qp.images = 0;
    cr_assert_eq(siamese_model_quantize(ens, ds, &qp), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_model_errmsg(ens), "member 0") != NULL, "%s",
              siamese_model_errmsg(ens));
    cr_assert_eq(siamese_model_aligns_faces(ens), 1);
    for (int i = 0; i < 2; i++) cr_assert_null(m[i]->aligner, "member %d kept the aligner", i);
    siamese_dataset_free(ds);
    for (int i = 0; i < 2; i++) siamese_model_free(alone[i]);
    siamese_model_free(plain);
    siamese_model_free(ens);
}
