/* The run report's model section: the run's data and split opened again, its test pairs found
 * (siamese_train_side_pairs), the model embedding their images, then the verification curves,
 * the hardest mistakes and a few test images' nearest neighbours. Whatever cannot be opened is
 * said in the page instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "report/report_sections.h"
#include "run/run_data.h"
#include "run/run_report.h"
#include "siamese.h"

#define MAX_TEST_PAIRS 5000 /* the first ones; the page says how many of how many */
#define EMBED_BATCH 64

/* ---------------------------------------------------------------- data and split */

static int open_data(sm_html *h, sm_report_side *t, const char *run_dir, const char *data_path) {
    siamese_dataset_params dp = siamese_dataset_default_params();
    if (!data_path) {
        sm_report_note(
            h, "config.json names no data set: no data summary, model curves or galleries.");
        return 0;
    }
    char *found = sm_run_data_find(run_dir, data_path);
    if (found && strcmp(found, data_path) != 0)
        sm_report_note(h,
                       "config.json names the data \"%s\" relative to where training ran: "
                       "found as %s.",
                       data_path, found);
    siamese_status opened = siamese_dataset_open(found ? found : data_path, &dp, &t->ds);
    free(found);
    if (opened != SIAMESE_OK) {
        sm_report_note(
            h,
            "The run's data set could not be opened (%s): no data summary, model curves or "
            "galleries. %s",
            t->ds ? siamese_dataset_errmsg(t->ds) : "out of memory",
            "Run the report where the data path in config.json is valid.");
        return 0;
    }
    char *split_path = sm_path_join(run_dir, "split.json");
    siamese_status st =
        split_path ? siamese_split_load(t->ds, split_path, &t->split) : SIAMESE_ERR_NOMEM;
    free(split_path);
    if (st != SIAMESE_OK) {
        sm_report_note(h, "The run's split could not be read again (%s).",
                       t->split ? siamese_split_errmsg(t->split) : siamese_status_str(st));
        return 0;
    }
    char msg[1024];
    if (siamese_train_side_pairs(run_dir, t->ds, t->split, 1, &t->test, msg, sizeof msg) !=
            SIAMESE_OK ||
        siamese_train_side_pairs(run_dir, t->ds, t->split, 0, &t->train, msg, sizeof msg) !=
            SIAMESE_OK) {
        sm_report_note(h, "The run's pairs could not be drawn again (%s).", msg);
        return 0;
    }
    return 1;
}

static void kv(sm_html *h, const char *key, const char *fmt, double value, const char *unit) {
    sm_html_raw(h, "<tr><td>");
    sm_html_text(h, key);
    sm_html_raw(h, "</td><td>");
    sm_html_number(h, fmt, value, unit);
    sm_html_raw(h, "</td></tr>");
}

int sm_report_similar_count(const siamese_pairs *p) {
    int n = 0;
    for (int i = 0; i < p->count; i++) n += p->items[i].label == 0;
    return n;
}

/* Classes and images that appear in the test pairs. */
static void test_coverage(const sm_report_side *t, int *classes, int *images) {
    int n = siamese_dataset_image_count(t->ds), nc = siamese_dataset_class_count(t->ds);
    char *seen = calloc((size_t)n + 1, 1), *class_seen = calloc((size_t)nc + 1, 1);
    *classes = *images = 0;
    for (int i = 0; seen && class_seen && i < t->test.count; i++) {
        int ab[2] = {t->test.items[i].a, t->test.items[i].b};
        for (int k = 0; k < 2; k++) {
            if (ab[k] < 0 || ab[k] >= n || seen[ab[k]]) continue;
            seen[ab[k]] = 1, (*images)++;
            int c = siamese_dataset_image_class(t->ds, ab[k]);
            if (c >= 0 && c < nc && !class_seen[c]) class_seen[c] = 1, (*classes)++;
        }
    }
    free(seen);
    free(class_seen);
}

static void data_summary(sm_html *h, const sm_report_side *t) {
    sm_html_raw(h, "<div class=\"scroll\"><table class=\"kv\" id=\"data\"><tr><td>data</td><td>");
    sm_html_text(h, siamese_dataset_path(t->ds));
    sm_html_raw(h, "</td></tr><tr><td>kind</td><td>");
    sm_html_text(h, siamese_dataset_kind_name(siamese_dataset_get_kind(t->ds)));
    sm_html_raw(h, "</td></tr>");
    kv(h, "classes", "%.0f", siamese_dataset_class_count(t->ds), "classes");
    kv(h, "images", "%.0f", siamese_dataset_image_count(t->ds), "images");
    sm_html_raw(h, "<tr><td>split</td><td>");
    sm_html_text(h, siamese_split_kind_name(siamese_split_get_kind(t->split)));
    sm_html_printf(h, ", %.0f%% train</td></tr>", siamese_split_train_fraction(t->split) * 100);
    sm_html_printf(h,
                   "<tr><td>training pairs</td><td id=\"data-train-pairs\">%d pairs (%d similar, "
                   "%d dissimilar)</td></tr>",
                   t->train.count, sm_report_similar_count(&t->train),
                   t->train.count - sm_report_similar_count(&t->train));
    sm_html_printf(h,
                   "<tr><td>test pairs</td><td id=\"data-test-pairs\">%d pairs (%d similar, "
                   "%d dissimilar)</td></tr>",
                   t->test.count, sm_report_similar_count(&t->test),
                   t->test.count - sm_report_similar_count(&t->test));
    int classes = 0, images = 0;
    test_coverage(t, &classes, &images);
    sm_html_printf(h, "<tr><td>test pairs cover</td><td>%d images", images);
    if (classes > 0) sm_html_printf(h, " of %d classes", classes);
    sm_html_raw(h, "</td></tr>");
    kv(h, "entries skipped when the report opened the data", "%.0f",
       siamese_dataset_skipped_count(t->ds), "entries");
    sm_html_raw(h, "</table></div>\n");
}

/* ---------------------------------------------------------------- model and embeddings */

static int open_model(sm_html *h, sm_report_side *t, const char *run_dir, int threads,
                      const char **name) {
    static const char *const files[] = {"best.safetensors", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        char *path = sm_path_join(run_dir, files[i]);
        struct stat info;
        int there = path && stat(path, &info) == 0;
        if (there && siamese_model_load(path, &t->model) == SIAMESE_OK) {
            free(path);
            siamese_model_set_threads(t->model, threads);
            *name = files[i];
            return 1;
        }
        if (there)
            sm_report_note(h, "%s could not be read: %s", files[i],
                           t->model ? siamese_model_errmsg(t->model) : "out of memory");
        siamese_model_free(t->model);
        t->model = NULL;
        free(path);
    }
    sm_report_note(
        h, "No model file in the run folder yet (best.safetensors and model.safetensors are "
           "written after each epoch): no curves from the model, no galleries.");
    return 0;
}

siamese_image_options sm_report_side_options(const sm_report_side *t, int width, int height) {
    siamese_image_options o = siamese_image_default_options();
    o.channels = siamese_model_channels(t->model) == 1 ? 1 : 3;
    o.width = width;
    o.height = height;
    o.fast_jpeg = t->fast_jpeg;
    return o;
}

/* The test pairs' images that decode, in order of first appearance, capped. */
static int list_test_images(sm_report_side *t) {
    int n = siamese_dataset_image_count(t->ds);
    t->row_of_image = malloc(((size_t)n + 1) * sizeof *t->row_of_image);
    t->images = malloc(((size_t)n + 1) * sizeof *t->images);
    if (!t->row_of_image || !t->images) return 0;
    for (int i = 0; i < n; i++) t->row_of_image[i] = -2; /* -2 unseen, -1 unusable */
    int pairs = t->test.count < MAX_TEST_PAIRS ? t->test.count : MAX_TEST_PAIRS;
    for (int i = 0; i < pairs; i++) {
        int ab[2] = {t->test.items[i].a, t->test.items[i].b};
        for (int k = 0; k < 2; k++)
            if (ab[k] >= 0 && ab[k] < n && t->row_of_image[ab[k]] == -2)
                t->row_of_image[ab[k]] = t->n_images, t->images[t->n_images++] = ab[k];
    }
    return 1;
}

/* Embeds rows [from, from + count) of t->images into t->vectors; undecodable ones get -1. */
static int embed_batch(sm_report_side *t, float *tensors, int from, int count) {
    int c = siamese_model_channels(t->model), hh = siamese_model_height(t->model),
        w = siamese_model_width(t->model);
    size_t chw = (size_t)c * hh * w;
    siamese_image_options o = sm_report_side_options(t, w, hh);
    for (int i = 0; i < count; i++) {
        siamese_image img = {0};
        int image = t->images[from + i];
        if (siamese_dataset_load_image(t->ds, image, &o, &img) != SIAMESE_OK ||
            siamese_image_to_tensor(&img, NULL, NULL, tensors + i * chw, NULL, 0) != SIAMESE_OK) {
            memset(tensors + i * chw, 0, chw * sizeof *tensors);
            t->row_of_image[image] = -1;
            t->skipped++;
        }
        siamese_image_free(&img);
    }
    return siamese_model_embed(t->model, tensors, count, t->vectors + (size_t)from * t->dim) ==
           SIAMESE_OK;
}

static int embed_test_images(sm_report_side *t) {
    if (!list_test_images(t)) return 0;
    t->dim = siamese_model_embedding_dim(t->model);
    size_t chw = (size_t)siamese_model_channels(t->model) * siamese_model_height(t->model) *
                 siamese_model_width(t->model);
    t->vectors = malloc(((size_t)t->n_images + 1) * t->dim * sizeof *t->vectors);
    float *tensors = malloc(EMBED_BATCH * chw * sizeof *tensors);
    int ok = t->vectors && tensors;
    for (int from = 0; ok && from < t->n_images; from += EMBED_BATCH)
        ok = embed_batch(t, tensors, from,
                         t->n_images - from < EMBED_BATCH ? t->n_images - from : EMBED_BATCH);
    free(tensors);
    return ok;
}

static int pair_distances(sm_report_side *t) {
    int pairs = t->test.count < MAX_TEST_PAIRS ? t->test.count : MAX_TEST_PAIRS;
    t->distances = malloc(((size_t)pairs + 1) * sizeof *t->distances);
    t->labels = malloc(((size_t)pairs + 1) * sizeof *t->labels);
    t->pair = malloc(((size_t)pairs + 1) * sizeof *t->pair);
    if (!t->distances || !t->labels || !t->pair) return 0;
    siamese_metric metric = siamese_model_metric(t->model);
    for (int i = 0; i < pairs; i++) {
        const siamese_pair *p = &t->test.items[i];
        int ra = t->row_of_image[p->a], rb = t->row_of_image[p->b];
        if (ra < 0 || rb < 0) continue;
        t->distances[t->n_pairs] = (float)siamese_distance(
            metric, t->vectors + (size_t)ra * t->dim, t->vectors + (size_t)rb * t->dim, t->dim);
        t->labels[t->n_pairs] = (float)p->label;
        t->pair[t->n_pairs++] = i;
    }
    return 1;
}

/* ---------------------------------------------------------------- the section */

static void model_results(sm_html *h, sm_report_side *t, const char *model_name) {
    sm_html_raw(h, "<h2 id=\"model\">The model on the test pairs</h2><p>");
    sm_html_text(h, model_name);
    sm_html_printf(h, " (%s distance) on %d of the run's %d test pairs",
                   siamese_metric_name(siamese_model_metric(t->model)), t->n_pairs, t->test.count);
    if (t->skipped) sm_html_printf(h, "; %d test images did not decode", t->skipped);
    sm_html_raw(h, ".</p>");
    siamese_verification_params vp = siamese_verification_default_params();
    vp.model_threshold = siamese_model_threshold(t->model);
    vp.bootstrap = t->n_pairs <= 5000 ? 1000 : 200;
    siamese_verification v;
    if (siamese_eval_verification(t->distances, t->labels, t->n_pairs, &vp, &v) != SIAMESE_OK) {
        sm_report_note(h,
                       "The test pairs cannot be scored (they need similar and dissimilar pairs).");
        return;
    }
    int has_model_t = vp.model_threshold >= 0;
    t->threshold = has_model_t ? vp.model_threshold : v.best_threshold;
    t->threshold_note = has_model_t ? "model threshold" : "best threshold";
    sm_report_verification(h, t->distances, t->labels, t->n_pairs, &v, t->threshold,
                           t->threshold_note);
    sm_html_raw(h, "<h2 id=\"mistakes\">Where it fails</h2>");
    sm_html_raw(h, "<p class=\"note\">At the ");
    sm_html_text(h, t->threshold_note);
    sm_html_raw(h, " ");
    sm_html_number(h, "%.4f", t->threshold, NULL);
    sm_html_raw(h, ": a pair is taken as similar when its dissimilarity is at most that.</p>");
    sm_report_mistakes(h, t, 1);
    sm_report_mistakes(h, t, 0);
    sm_report_neighbours(h, t);
}

static void sm_report_side_free(sm_report_side *t) {
    siamese_pairs_free(&t->train);
    siamese_pairs_free(&t->test);
    siamese_model_free(t->model);
    siamese_split_free(t->split);
    siamese_dataset_free(t->ds);
    free(t->row_of_image);
    free(t->images);
    free(t->vectors);
    free(t->distances);
    free(t->labels);
    free(t->pair);
}

void sm_report_model_section(sm_html *h, const char *run_dir, const json_t *config, int threads) {
    sm_report_side t;
    memset(&t, 0, sizeof t);
    t.fast_jpeg = json_is_true(json_object_get(config, "fast_jpeg"));
    sm_html_raw(h, "<h2 id=\"data-summary\">Data</h2>");
    const char *model_name = NULL;
    if (open_data(h, &t, run_dir, sm_run_data_recorded(config))) {
        data_summary(h, &t);
        if (open_model(h, &t, run_dir, threads, &model_name)) {
            if (embed_test_images(&t) && pair_distances(&t)) model_results(h, &t, model_name);
            else
                sm_report_note(h, "The test images could not be embedded: %s",
                               siamese_model_errmsg(t.model));
        }
    }
    sm_report_side_free(&t);
}
