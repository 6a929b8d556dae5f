/* The run report's pictures: the hardest false accepts and false rejects of the run's test pairs
 * and a few test images with their nearest neighbours, as small JPEG thumbnails. */
#include <stdlib.h>
#include <string.h>

#include "report/report_sections.h"
#include "run/run_report.h"
#include "siamese.h"

#define THUMB_SIDE 96
#define GALLERY_PAIRS 8
#define QUERIES 4
#define NEIGHBOURS 5

static void thumbnail(sm_html *h, const sm_report_side *t, int image) {
    int w = siamese_model_width(t->model), hh = siamese_model_height(t->model);
    int side = w > hh ? w : hh;
    int tw = w * THUMB_SIDE / side, th = hh * THUMB_SIDE / side;
    siamese_image_options o = sm_report_side_options(t, tw > 0 ? tw : 1, th > 0 ? th : 1);
    siamese_image img = {0};
    const char *name = siamese_dataset_image_name(t->ds, image);
    if (siamese_dataset_load_image(t->ds, image, &o, &img) == SIAMESE_OK)
        sm_html_jpeg(h, img.data, img.width, img.height, img.channels, name);
    else sm_report_note(h, "%s did not decode", name);
    siamese_image_free(&img);
}

static const char *class_of(const sm_report_side *t, int image) {
    int c = siamese_dataset_image_class(t->ds, image);
    return c >= 0 ? siamese_dataset_class_name(t->ds, c) : NULL;
}

static void image_name(sm_html *h, const sm_report_side *t, int image) {
    sm_html_raw(h, "<div class=\"name\">");
    const char *cls = class_of(t, image);
    sm_html_text(h, siamese_dataset_image_name(t->ds, image));
    if (cls && !strstr(siamese_dataset_image_name(t->ds, image), cls)) {
        sm_html_raw(h, " (");
        sm_html_text(h, cls);
        sm_html_raw(h, ")");
    }
    sm_html_raw(h, "</div>");
}

typedef struct ranked {
    float key;
    int pair; /* index into the usable pairs */
} ranked;

static int by_key(const void *a, const void *b) {
    float x = ((const ranked *)a)->key, y = ((const ranked *)b)->key;
    return (x > y) - (x < y);
}

static void gallery_pair(sm_html *h, const sm_report_side *t, int usable) {
    const siamese_pair *p = &t->test.items[t->pair[usable]];
    sm_html_raw(h, "<div class=\"pair\"><div class=\"imgs\">");
    thumbnail(h, t, p->a);
    thumbnail(h, t, p->b);
    sm_html_raw(h, "</div><div>dissimilarity ");
    sm_html_number(h, "%.4f", t->distances[usable], NULL);
    sm_html_raw(h, " (threshold ");
    sm_html_number(h, "%.4f", t->threshold, NULL);
    sm_html_raw(h, ")</div>");
    image_name(h, t, p->a);
    image_name(h, t, p->b);
    sm_html_raw(h, "</div>");
}

/* 1 when the pair wrong[k] holds the same two images as an earlier one (sampled pairs repeat). */
static int shown_before(const sm_report_side *t, const ranked *wrong, int k) {
    const siamese_pair *p = &t->test.items[t->pair[wrong[k].pair]];
    for (int j = 0; j < k; j++) {
        const siamese_pair *q = &t->test.items[t->pair[wrong[j].pair]];
        if ((p->a == q->a && p->b == q->b) || (p->a == q->b && p->b == q->a)) return 1;
    }
    return 0;
}

/* Usable test pairs that the threshold gets wrong, the hardest first (false accepts: the
 * nearest dissimilar pairs; false rejects: the farthest similar ones). */
void sm_report_mistakes(sm_html *h, const sm_report_side *t, int false_accepts) {
    ranked *wrong = malloc(((size_t)t->n_pairs + 1) * sizeof *wrong);
    if (!wrong) {
        h->failed = 1;
        return;
    }
    int n = 0, of_label = 0;
    for (int i = 0; i < t->n_pairs; i++) {
        int accepted = t->distances[i] <= t->threshold, dissimilar = t->labels[i] > 0.5f;
        of_label += dissimilar == false_accepts;
        if (false_accepts ? accepted && dissimilar : !accepted && !dissimilar)
            wrong[n++] = (ranked){false_accepts ? t->distances[i] : -t->distances[i], i};
    }
    qsort(wrong, (size_t)n, sizeof *wrong, by_key);
    sm_html_printf(h, "<h3 id=\"%s\">%s: %d of %d %s pairs</h3>",
                   false_accepts ? "false-accepts" : "false-rejects",
                   false_accepts ? "Hardest false accepts (dissimilar pairs taken as similar)"
                                 : "Hardest false rejects (similar pairs taken as dissimilar)",
                   n, of_label, false_accepts ? "dissimilar" : "similar");
    sm_html_raw(h, "<div class=\"gallery\">");
    for (int k = 0, shown = 0; k < n && shown < GALLERY_PAIRS; k++)
        if (!shown_before(t, wrong, k)) gallery_pair(h, t, wrong[k].pair), shown++;
    if (n == 0) sm_html_raw(h, "<p class=\"note\">None at this threshold.</p>");
    sm_html_raw(h, "</div>\n");
    free(wrong);
}

static void neighbour_row(sm_html *h, const sm_report_side *t, int query, const int *index,
                          const float *distance, int k_found) {
    int q_image = t->images[query];
    const char *q_class = class_of(t, q_image);
    sm_html_raw(h, "<div class=\"nn\"><div class=\"imgs\"><figure class=\"q\">");
    thumbnail(h, t, q_image);
    sm_html_raw(h, "<figcaption>query</figcaption></figure>");
    for (int k = 0, shown = 0; k < k_found && shown < NEIGHBOURS && index[k] >= 0; k++) {
        int image = t->images[index[k]];
        if (t->row_of_image[image] != index[k]) continue; /* did not decode */
        shown++;
        const char *cls = class_of(t, image);
        int same = q_class && cls && !strcmp(q_class, cls);
        sm_html_raw(h, "<figure>");
        thumbnail(h, t, image);
        sm_html_printf(h, "<figcaption class=\"%s\">%s ", same ? "same" : "diff",
                       q_class ? (same ? "same class," : "other class,") : "");
        sm_html_number(h, "%.4f", distance[k], NULL);
        sm_html_raw(h, "</figcaption></figure>");
    }
    sm_html_raw(h, "</div>");
    image_name(h, t, q_image);
    sm_html_raw(h, "</div>");
}

void sm_report_neighbours(sm_html *h, const sm_report_side *t) {
    int usable[QUERIES], nq = 0;
    for (int k = 0; k < QUERIES; k++) {
        int row = (int)((long long)k * t->n_images / QUERIES);
        if (row < t->n_images && t->row_of_image[t->images[row]] == row) usable[nq++] = row;
    }
    if (nq == 0 || t->n_images < 2) return;
    float *queries = malloc((size_t)nq * t->dim * sizeof *queries);
    /* rows of images that did not decode hold zeros: ask for enough to skip them */
    int k = NEIGHBOURS + (t->skipped < NEIGHBOURS ? t->skipped : NEIGHBOURS);
    float distance[QUERIES * 2 * NEIGHBOURS];
    int index[QUERIES * 2 * NEIGHBOURS];
    int ok = queries != NULL;
    for (int q = 0; ok && q < nq; q++)
        memcpy(queries + (size_t)q * t->dim, t->vectors + (size_t)usable[q] * t->dim,
               (size_t)t->dim * sizeof *queries);
    ok = ok && siamese_knn(siamese_model_metric(t->model), queries, nq, t->vectors, t->n_images,
                           t->dim, k, usable, index, distance) == SIAMESE_OK;
    free(queries);
    sm_html_printf(h,
                   "<h3 id=\"neighbours\">Nearest neighbours among the %d test images</h3><p "
                   "class=\"note\">Each query's %d nearest other test images with their "
                   "dissimilarity%s.</p>",
                   t->n_images, NEIGHBOURS,
                   siamese_dataset_class_count(t->ds) > 0 ? ", green when of the query's class"
                                                          : "");
    if (!ok) {
        sm_report_note(h, "The neighbour search failed.");
        return;
    }
    sm_html_raw(h, "<div class=\"gallery\">");
    for (int q = 0; q < nq; q++) neighbour_row(h, t, usable[q], index + q * k, distance + q * k, k);
    sm_html_raw(h, "</div>\n");
}
