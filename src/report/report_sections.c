/* Sections shared by the run and evaluation reports: number cards, verification curves and
 * histograms, few-shot, retrieval and Lake's one-shot runs. */
#include "report/report_sections.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/svg.h"

#define HIST_BINS 40
#define MAX_CURVE_POINTS 1500

void sm_report_note(sm_html *h, const char *fmt, ...) {
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sm_html_raw(h, "<p class=\"note\">");
    sm_html_text(h, text);
    sm_html_raw(h, "</p>\n");
}

void sm_report_card(sm_html *h, const char *label, const char *id, const siamese_interval *v,
                    const char *fmt, double scale, const char *unit) {
    sm_html_raw(h, "<div class=\"card\"><div class=\"k\">");
    sm_html_text(h, label);
    sm_html_raw(h, "</div><div class=\"v\"");
    if (id) {
        sm_html_raw(h, " id=\"");
        sm_html_text(h, id);
        sm_html_raw(h, "\"");
    }
    sm_html_raw(h, ">");
    sm_html_number(h, fmt, v->value * scale, unit);
    sm_html_raw(h, "</div>");
    if (isfinite(v->low) && isfinite(v->high)) {
        sm_html_raw(h, "<div class=\"i\">95% interval ");
        sm_html_number(h, fmt, v->low * scale, NULL);
        sm_html_raw(h, " to ");
        sm_html_number(h, fmt, v->high * scale, unit);
        sm_html_raw(h, "</div>");
    }
    sm_html_raw(h, "</div>");
}

void sm_report_card_value(sm_html *h, const char *label, const char *id, double value,
                          const char *fmt, const char *unit) {
    siamese_interval v = {value, NAN, NAN};
    sm_report_card(h, label, id, &v, fmt, 1.0, unit);
}

/* ---------------------------------------------------------------- curves */

typedef struct pair_d {
    float d;
    int dissimilar;
} pair_d;

static int by_distance(const void *a, const void *b) {
    float x = ((const pair_d *)a)->d, y = ((const pair_d *)b)->d;
    return (x > y) - (x < y);
}

/* ROC points (FAR, TAR) for "similar when d <= t", t at each distinct distance, from (0, 0);
 * thinned to at most MAX_CURVE_POINTS. Returns the count, or -1 when memory runs out. */
static int roc_points(const float *distances, const float *labels, int n, double *far,
                      double *tar) {
    pair_d *p = malloc((size_t)n * sizeof *p);
    if (!p) return -1;
    int similar = 0, dissimilar = 0;
    for (int i = 0; i < n; i++) {
        p[i] = (pair_d){distances[i], labels[i] > 0.5f};
        dissimilar += p[i].dissimilar;
    }
    similar = n - dissimilar;
    qsort(p, (size_t)n, sizeof *p, by_distance);
    int groups = 0;
    for (int i = 0; i < n; i++) groups += i == 0 || p[i].d != p[i - 1].d;
    int every = groups / MAX_CURVE_POINTS + 1, m = 0, s = 0, d = 0, g = 0;
    far[m] = tar[m] = 0, m++;
    for (int i = 0; i < n; i++) {
        s += !p[i].dissimilar;
        d += p[i].dissimilar;
        if (i + 1 < n && p[i + 1].d == p[i].d) continue;
        if (++g % every && i + 1 < n) continue;
        far[m] = dissimilar ? (double)d / dissimilar : NAN;
        tar[m++] = similar ? (double)s / similar : NAN;
    }
    free(p);
    return m;
}

static void draw_roc_det(sm_html *h, const double *far, const double *tar, int m) {
    double *frr = malloc((size_t)m * sizeof *frr);
    if (!frr) {
        h->failed = 1;
        return;
    }
    for (int i = 0; i < m; i++) frr[i] = 1 - tar[i];
    double diag[2] = {0, 1};
    sm_svg_series roc[2] = {{"ROC", far, tar, m, SM_SVG_LINE, 0},
                            {"chance", diag, diag, 2, SM_SVG_LINE, 0}};
    sm_svg_chart c = sm_svg_chart_default("ROC: true accept rate against false accept rate",
                                          "false accept rate", "true accept rate");
    c.y_min = 0, c.y_max = 1;
    sm_svg_draw(h, &c, roc, 2);
    sm_svg_series det = {"DET", far, frr, m, SM_SVG_LINE, 0};
    c = sm_svg_chart_default("DET: false reject rate against false accept rate (log scales)",
                             "false accept rate", "false reject rate");
    c.log_x = c.log_y = 1;
    c.empty_note = "No point to draw: a log scale cannot show a rate of 0, and every threshold "
                   "here has a false accept or a false reject rate of 0 (the pairs are separated "
                   "perfectly or nearly).";
    sm_svg_draw(h, &c, &det, 1);
    free(frr);
}

/* The share of each label's pairs in HIST_BINS bins between the smallest and largest distance. */
static void draw_histograms(sm_html *h, const float *distances, const float *labels, int n,
                            double threshold, const char *threshold_note) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(distances[i])) {
            if (distances[i] < lo) lo = distances[i];
            if (distances[i] > hi) hi = distances[i];
        }
    if (!(hi > lo)) hi = lo + 1;
    double width = (hi - lo) / HIST_BINS, edges[HIST_BINS], share[2][HIST_BINS] = {{0}};
    int count[2] = {0, 0};
    for (int b = 0; b < HIST_BINS; b++) edges[b] = lo + b * width;
    for (int i = 0; i < n; i++) {
        if (!isfinite(distances[i])) continue;
        int b = (int)((distances[i] - lo) / width), k = labels[i] > 0.5f;
        share[k][b < HIST_BINS ? b : HIST_BINS - 1] += 1;
        count[k]++;
    }
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < HIST_BINS; b++) share[k][b] *= count[k] ? 100.0 / count[k] : 0;
    sm_svg_series s[2] = {{"similar pairs", edges, share[0], HIST_BINS, SM_SVG_BARS, width},
                          {"dissimilar pairs", edges, share[1], HIST_BINS, SM_SVG_BARS, width}};
    sm_svg_chart c =
        sm_svg_chart_default("Distances of similar and dissimilar pairs",
                             "distance (dissimilarity)", "share of its label's pairs (%)");
    c.mark_x = threshold;
    c.mark_label = threshold_note;
    sm_svg_draw(h, &c, s, 2);
}

void sm_report_verification(sm_html *h, const float *distances, const float *labels, int n,
                            const siamese_verification *v, double threshold,
                            const char *threshold_note) {
    sm_html_printf(h,
                   "<p>%d pairs: %d similar, %d dissimilar. A pair is accepted as similar when "
                   "its distance is at most the threshold.</p><div class=\"cards\">",
                   v->pairs, v->similar, v->dissimilar);
    sm_report_card(h, "ROC AUC", "eval-auc", &v->auc, "%.4f", 1, NULL);
    sm_report_card(h, "equal error rate", "eval-eer", &v->eer, "%.2f", 100, "%");
    sm_report_card_value(h, "EER threshold", NULL, v->eer_threshold, "%.4f", NULL);
    sm_report_card(h, "TAR at FAR 1%", "eval-tar-far-1", &v->tar_far_1, "%.2f", 100, "%");
    sm_report_card(h, "TAR at FAR 0.1%", "eval-tar-far-01", &v->tar_far_01, "%.2f", 100, "%");
    sm_report_card(h, "accuracy at best threshold", "eval-accuracy", &v->accuracy_best, "%.2f", 100,
                   "%");
    sm_report_card_value(h, "best threshold", NULL, v->best_threshold, "%.4f", NULL);
    if (isfinite(v->accuracy_model.value)) {
        sm_report_card(h, "accuracy at model threshold", "eval-accuracy-model", &v->accuracy_model,
                       "%.2f", 100, "%");
        sm_report_card_value(h, "model threshold", NULL, v->model_threshold, "%.4f", NULL);
    }
    sm_html_raw(h, "</div><div class=\"figs\">");
    double *far = malloc(((size_t)n + 1) * sizeof *far),
           *tar = malloc(((size_t)n + 1) * sizeof *tar);
    int m = far && tar ? roc_points(distances, labels, n, far, tar) : -1;
    if (m < 0) h->failed = 1;
    else draw_roc_det(h, far, tar, m);
    free(far);
    free(tar);
    draw_histograms(h, distances, labels, n, threshold, threshold_note);
    sm_html_raw(h, "</div>\n");
}

/* ---------------------------------------------------------------- protocols */

void sm_report_fewshot(sm_html *h, const siamese_fewshot *f, int way, int shot) {
    sm_html_printf(h, "<h2 id=\"fewshot\">%d-way %d-shot classification</h2>", way, shot);
    sm_html_printf(h,
                   "<p>%d episodes, %d queries (%d right); %d classes drawn from, %d with too "
                   "few images left out.</p><div class=\"cards\">",
                   f->episodes, f->queries, f->correct, f->classes_used, f->classes_excluded);
    sm_report_card(h, "accuracy", "eval-fewshot-accuracy", &f->accuracy, "%.2f", 100, "%");
    sm_report_card_value(h, "chance", NULL, way > 0 ? 100.0 / way : NAN, "%.2f", "%");
    sm_html_raw(h, "</div>\n");
}

void sm_report_retrieval(sm_html *h, const siamese_retrieval *r) {
    sm_html_raw(h, "<h2 id=\"retrieval\">Retrieval</h2>");
    sm_html_printf(h,
                   "<p>%d queries scored (%d without any relevant gallery item skipped); "
                   "definitions of Musgrave et al. 2020.</p><div class=\"cards\">",
                   r->queries, r->queries_skipped);
    sm_report_card(h, "Recall@1", "eval-recall-1", &r->recall_1, "%.2f", 100, "%");
    sm_report_card(h, "Recall@5", "eval-recall-5", &r->recall_5, "%.2f", 100, "%");
    sm_report_card(h, "Recall@10", "eval-recall-10", &r->recall_10, "%.2f", 100, "%");
    sm_report_card(h, "precision@5", NULL, &r->precision_5, "%.2f", 100, "%");
    sm_report_card(h, "precision@10", NULL, &r->precision_10, "%.2f", 100, "%");
    sm_report_card(h, "R-precision", NULL, &r->r_precision, "%.2f", 100, "%");
    sm_report_card(h, "MAP@R", "eval-map-r", &r->map_at_r, "%.2f", 100, "%");
    sm_html_raw(h, "</div>\n");
}

void sm_report_lake(sm_html *h, const siamese_lake_runs *r) {
    sm_html_raw(h, "<h2 id=\"lake\">Lake's one-shot runs</h2><div class=\"cards\">");
    sm_report_card_value(h, "accuracy", "eval-lake-accuracy", r->accuracy * 100, "%.2f", "%");
    sm_report_card_value(h, "right", NULL, r->correct, "%.0f", "tests");
    sm_report_card_value(h, "scored", NULL, r->total, "%.0f", "tests");
    sm_html_printf(h, "</div><p>%d images embedded, %d did not decode, %d tests not scored.</p>",
                   r->images, r->skipped_images, r->skipped);
    sm_html_raw(h, "<div class=\"scroll\"><table><tr><th>run</th><th class=\"n\">right</th>"
                   "<th class=\"n\">tests</th><th class=\"n\">accuracy</th></tr>");
    for (int i = 0; i < r->run_count; i++) {
        const siamese_oneshot_run *run = &r->runs[i];
        sm_html_raw(h, "<tr><td>");
        sm_html_text(h, run->name);
        sm_html_printf(h, "</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">",
                       run->correct, run->total);
        sm_html_number(h, "%.1f", run->total ? 100.0 * run->correct / run->total : NAN, "%");
        sm_html_raw(h, "</td></tr>");
    }
    sm_html_raw(h, "</table></div>\n");
}
