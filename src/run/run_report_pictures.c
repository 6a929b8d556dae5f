/* The run report's pictures: the hardest false accepts and false rejects of the run's test pairs
 * and a few test images with their nearest neighbours (eval/gallery.c draws them). */
#include <stdlib.h>
#include <string.h>

#include "eval/gallery.h"
#include "report/report_sections.h"
#include "run/run_report.h"
#include "siamese.h"

#define GALLERY_PAIRS 8
#define QUERIES 4
#define NEIGHBOURS 5

static sm_gallery_source source(const sm_report_side *t) {
    sm_gallery_source s = {t->ds, siamese_model_channels(t->model), siamese_model_width(t->model),
                           siamese_model_height(t->model), t->fast_jpeg};
    return s;
}

/* Usable test pairs that the threshold gets wrong, the hardest first. */
void sm_report_mistakes(sm_html *h, const sm_report_side *t, int false_accepts) {
    int *a = malloc(((size_t)t->n_pairs + 1) * sizeof *a);
    int *b = malloc(((size_t)t->n_pairs + 1) * sizeof *b);
    if (a && b) {
        for (int i = 0; i < t->n_pairs; i++) {
            a[i] = t->test.items[t->pair[i]].a;
            b[i] = t->test.items[t->pair[i]].b;
        }
        sm_gallery_source s = source(t);
        sm_gallery_pairs p = {a, b, t->distances, t->labels, t->n_pairs, t->threshold};
        sm_gallery_mistakes(h, &s, &p, false_accepts, GALLERY_PAIRS);
    } else h->failed = 1;
    free(a);
    free(b);
}

/* The query's first NEIGHBOURS neighbours that decoded, as dataset images. */
static void neighbour_row(sm_html *h, const sm_report_side *t, int query, const int *index,
                          const float *distance, int k_found) {
    int images[NEIGHBOURS];
    float d[NEIGHBOURS];
    int n = 0;
    for (int k = 0; k < k_found && n < NEIGHBOURS && index[k] >= 0; k++) {
        int image = t->images[index[k]];
        if (t->row_of_image[image] != index[k]) continue; /* did not decode */
        images[n] = image, d[n++] = distance[k];
    }
    sm_gallery_source s = source(t);
    sm_gallery_neighbour_row(h, &s, t->images[query], &s, images, d, n);
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
                   siamese_dataset_class_count(t->ds) > 0
                       ? ", green when of the query's class, red and outlined when not"
                       : "");
    if (!ok) {
        sm_report_note(h, "The neighbour search failed.");
        return;
    }
    sm_html_raw(h, "<div class=\"gallery\">");
    for (int q = 0; q < nq; q++) neighbour_row(h, t, usable[q], index + q * k, distance + q * k, k);
    sm_html_raw(h, "</div>\n");
}
