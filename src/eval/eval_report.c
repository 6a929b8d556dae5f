/* The evaluation report: one self-contained HTML page of what 'siamese eval' computed, with the
 * hardest mistakes of the verification pairs and a few retrieval queries' nearest neighbours. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/gallery.h"
#include "report/html.h"
#include "report/report_sections.h"
#include "siamese.h"

#define GALLERY_PAIRS 8  /* mistakes shown of each kind */
#define CANDIDATES 64    /* retrieval queries searched for the rows, spread over the queries */
#define NEIGHBOUR_ROWS 6 /* rows shown */
#define WRONG_ROWS 3     /* at most this many rows of queries whose nearest item is wrong */
#define NEIGHBOURS 5     /* per row */

static void kv_row(sm_html *h, const char *key, const char *value) {
    sm_html_raw(h, "<tr><td>");
    sm_html_text(h, key);
    sm_html_raw(h, "</td><td>");
    sm_html_text(h, value ? value : "n/a");
    sm_html_raw(h, "</td></tr>");
}

static void kv_int(sm_html *h, const char *key, int value) {
    char text[32];
    snprintf(text, sizeof text, "%d", value);
    kv_row(h, key, text);
}

static void write_settings(sm_html *h, const siamese_report_eval_input *in) {
    sm_html_raw(h, "<h2 id=\"settings\">What was evaluated</h2><div class=\"scroll\">"
                   "<table class=\"kv\">");
    kv_row(h, "model", in->model_path);
    kv_row(h, "data", in->data_path);
    kv_row(h, "data kind", in->data_kind);
    if (in->query_path) kv_row(h, "retrieval queries from", in->query_path);
    kv_row(h, "metric", in->metric);
    kv_int(h, "images embedded", in->images);
    kv_int(h, "classes", in->classes);
    kv_int(h, "files skipped (did not decode)", in->skipped);
    if (in->pairs_dropped) kv_int(h, "pairs dropped (an image did not decode)", in->pairs_dropped);
    kv_int(h, "bootstrap resamples for the 95% intervals", in->bootstrap);
    kv_row(h, "library", siamese_version());
    sm_html_raw(h, "</table></div>\n");
}

static sm_gallery_source gallery_source(const siamese_report_eval_input *in, siamese_dataset *ds) {
    sm_gallery_source s = {ds, in->channels, in->width, in->height, 0};
    return s;
}

/* The verification pairs' hardest false accepts and false rejects at the threshold. */
static void verification_gallery(sm_html *h, const siamese_report_eval_input *in, double threshold,
                                 const char *threshold_note) {
    const siamese_embeddings *e = in->embeddings;
    if (!in->dataset || !e || !in->pair_a || !in->pair_b || !e->image_index) return;
    int n = in->n_pairs;
    int *a = malloc(((size_t)n + 1) * sizeof *a), *b = malloc(((size_t)n + 1) * sizeof *b);
    if (!a || !b) {
        h->failed = 1;
        free(a);
        free(b);
        return;
    }
    for (int i = 0; i < n; i++)
        a[i] = e->image_index[in->pair_a[i]], b[i] = e->image_index[in->pair_b[i]];
    sm_html_raw(h, "<h2 id=\"mistakes\">Where it fails</h2><p class=\"note\">At the ");
    sm_html_text(h, threshold_note);
    sm_html_raw(h, " ");
    sm_html_number(h, "%.4f", threshold, NULL);
    sm_html_printf(h,
                   ": a pair is taken as similar when its dissimilarity is at most that. At most "
                   "%d pairs of each kind are shown, as thumbnails of at most %d px.</p>",
                   GALLERY_PAIRS, SM_GALLERY_THUMB);
    sm_gallery_source s = gallery_source(in, in->dataset);
    sm_gallery_pairs p = {a, b, in->distances, in->labels, n, threshold};
    sm_gallery_mistakes(h, &s, &p, 1, GALLERY_PAIRS);
    sm_gallery_mistakes(h, &s, &p, 0, GALLERY_PAIRS);
    free(a);
    free(b);
}

/* Which searched queries get a row: first up to WRONG_ROWS whose nearest item is of another
 * class, then the others in order, up to NEIGHBOUR_ROWS. Returns how many. */
static int pick_rows(const sm_gallery_source *qs, const sm_gallery_source *gs,
                     const siamese_embeddings *q, const siamese_embeddings *g, const int *rows,
                     const int *index, int nc, int k, int *chosen, int *wrong) {
    int n = 0, n_wrong = 0;
    char taken[CANDIDATES] = {0};
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < nc && n < NEIGHBOUR_ROWS; c++) {
            if (taken[c] || index[c * k] < 0) continue;
            int same = sm_gallery_same_class(qs, q->image_index[rows[c]], gs,
                                             g->image_index[index[c * k]]);
            if (pass == 0 && !(same == 0 && n_wrong < WRONG_ROWS)) continue;
            n_wrong += pass == 0;
            taken[c] = 1, chosen[n++] = c;
        }
    *wrong = n_wrong;
    return n;
}

/* A few retrieval queries, each with its nearest gallery items. */
static void retrieval_gallery(sm_html *h, const siamese_report_eval_input *in) {
    const siamese_embeddings *g = in->embeddings;
    const siamese_embeddings *q = in->query_embeddings ? in->query_embeddings : g;
    int same_set = q == g;
    if (!in->dataset || !g || !q->image_index || !g->image_index || q->count < 1 ||
        g->count < 1 + same_set)
        return;
    int nc = q->count < CANDIDATES ? q->count : CANDIDATES;
    int k = g->count - same_set < NEIGHBOURS ? g->count - same_set : NEIGHBOURS;
    int rows[CANDIDATES], exclude[CANDIDATES], index[CANDIDATES * NEIGHBOURS];
    float distance[CANDIDATES * NEIGHBOURS];
    float *queries = malloc((size_t)nc * q->dim * sizeof *queries);
    if (!queries) {
        h->failed = 1;
        return;
    }
    for (int c = 0; c < nc; c++) {
        rows[c] = (int)((long long)c * q->count / nc);
        exclude[c] = same_set ? rows[c] : -1;
        memcpy(queries + (size_t)c * q->dim, q->vectors + (size_t)rows[c] * q->dim,
               (size_t)q->dim * sizeof *queries);
    }
    siamese_status st = siamese_knn(in->distance_metric, queries, nc, g->vectors, g->count, g->dim,
                                    k, exclude, index, distance);
    free(queries);
    sm_html_raw(h, "<h3 id=\"retrieval-neighbours\">Queries and their nearest neighbours</h3>");
    if (st != SIAMESE_OK) {
        sm_report_note(h, "The neighbour search failed (%s).", siamese_status_str(st));
        return;
    }
    sm_gallery_source qs = gallery_source(in, in->query_dataset ? in->query_dataset : in->dataset);
    sm_gallery_source gs = gallery_source(in, in->dataset);
    int chosen[NEIGHBOUR_ROWS], wrong = 0;
    int n = pick_rows(&qs, &gs, q, g, rows, index, nc, k, chosen, &wrong);
    sm_report_note(h,
                   "%d of %d queries searched (spread evenly over the %d queries), first the %d "
                   "whose nearest item is of another class (at most %d), then others. Each with "
                   "its %d nearest "
                   "gallery items and their dissimilarity; green when of the query's class, red "
                   "and outlined when not.",
                   n, nc, q->count, wrong, WRONG_ROWS, k);
    sm_html_raw(h, "<div class=\"gallery\">");
    for (int r = 0; r < n; r++) {
        int c = chosen[r], images[NEIGHBOURS];
        for (int j = 0; j < k; j++)
            images[j] = index[c * k + j] >= 0 ? g->image_index[index[c * k + j]] : -1;
        sm_gallery_neighbour_row(h, &qs, q->image_index[rows[c]], &gs, images, distance + c * k, k);
    }
    sm_html_raw(h, "</div>\n");
}

siamese_status siamese_report_eval(const char *out_html, const siamese_report_eval_input *in,
                                   char *errmsg, size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    if (!out_html || !in) {
        sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "an evaluation report needs a file and results");
    } else {
        sm_html h = {0};
        sm_html_begin(&h, "siamese evaluation");
        sm_html_raw(&h, "<h1>Evaluation of ");
        sm_html_text(&h, in->model_path);
        sm_html_raw(&h, "</h1><p class=\"note\">on ");
        sm_html_text(&h, in->data_path);
        sm_html_raw(&h, "</p>");
        write_settings(&h, in);
        if (in->verification && in->distances && in->labels && in->n_pairs > 0) {
            const siamese_verification *v = in->verification;
            sm_html_raw(&h, "<h2 id=\"verification\">Verification</h2>");
            int model_t = isfinite(v->model_threshold) && v->model_threshold >= 0;
            double threshold = model_t ? v->model_threshold : v->best_threshold;
            const char *note = model_t ? "model threshold" : "best threshold";
            sm_report_verification(&h, in->distances, in->labels, in->n_pairs, v, threshold, note);
            verification_gallery(&h, in, threshold, note);
        }
        if (in->fewshot) sm_report_fewshot(&h, in->fewshot, in->way, in->shot);
        if (in->retrieval) {
            sm_report_retrieval(&h, in->retrieval);
            retrieval_gallery(&h, in);
        }
        if (in->lake) sm_report_lake(&h, in->lake);
        sm_html_end(&h);
        sm_html_save(&h, out_html, &err);
        sm_html_free(&h);
    }
    return sm_err_out(&err, err.status, errmsg, errmsg_size);
}
