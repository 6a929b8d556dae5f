/* Report galleries: the hardest false accepts and false rejects of judged pairs, and a query's
 * row of nearest neighbours, as JPEG thumbnails inside the page. */
#include "eval/gallery.h"

#include <stdlib.h>
#include <string.h>

#include "report/report_sections.h"

static void thumbnail(sm_html *h, const sm_gallery_source *s, int image) {
    int side = s->width > s->height ? s->width : s->height;
    int tw = s->width * SM_GALLERY_THUMB / (side > 0 ? side : 1);
    int th = s->height * SM_GALLERY_THUMB / (side > 0 ? side : 1);
    siamese_image_options o = siamese_image_default_options();
    o.channels = s->channels == 1 ? 1 : 3;
    o.width = tw > 0 ? tw : 1;
    o.height = th > 0 ? th : 1;
    o.fast_jpeg = s->fast_jpeg;
    siamese_image img = {0};
    const char *name = siamese_dataset_image_name(s->ds, image);
    if (siamese_dataset_load_image(s->ds, image, &o, &img) == SIAMESE_OK)
        sm_html_jpeg(h, img.data, img.width, img.height, img.channels, name);
    else sm_report_note(h, "%s did not decode", name);
    siamese_image_free(&img);
}

static const char *class_of(const sm_gallery_source *s, int image) {
    int c = siamese_dataset_image_class(s->ds, image);
    return c >= 0 ? siamese_dataset_class_name(s->ds, c) : NULL;
}

int sm_gallery_same_class(const sm_gallery_source *a, int image_a, const sm_gallery_source *b,
                          int image_b) {
    const char *ca = class_of(a, image_a), *cb = class_of(b, image_b);
    return ca && cb ? !strcmp(ca, cb) : -1;
}

/* The image's name, and its class when the name does not show it. */
static void image_name(sm_html *h, const sm_gallery_source *s, int image) {
    sm_html_raw(h, "<div class=\"name\">");
    const char *cls = class_of(s, image), *name = siamese_dataset_image_name(s->ds, image);
    sm_html_text(h, name);
    if (cls && !strstr(name, cls)) {
        sm_html_raw(h, " (");
        sm_html_text(h, cls);
        sm_html_raw(h, ")");
    }
    sm_html_raw(h, "</div>");
}

typedef struct ranked {
    float key;
    int pair;
} ranked;

static int by_key(const void *a, const void *b) {
    float x = ((const ranked *)a)->key, y = ((const ranked *)b)->key;
    if (x != y) return (x > y) - (x < y);
    return ((const ranked *)a)->pair - ((const ranked *)b)->pair;
}

static void gallery_pair(sm_html *h, const sm_gallery_source *s, const sm_gallery_pairs *p, int i) {
    sm_html_raw(h, "<div class=\"pair\"><div class=\"imgs\">");
    thumbnail(h, s, p->a[i]);
    thumbnail(h, s, p->b[i]);
    sm_html_raw(h, "</div><div>dissimilarity ");
    sm_html_number(h, "%.4f", p->distances[i], NULL);
    sm_html_raw(h, " (threshold ");
    sm_html_number(h, "%.4f", p->threshold, NULL);
    sm_html_printf(h, "), %s pair</div>", p->labels[i] > 0.5f ? "dissimilar" : "similar");
    image_name(h, s, p->a[i]);
    image_name(h, s, p->b[i]);
    sm_html_raw(h, "</div>");
}

/* 1 when pair wrong[k] holds the same two images as an earlier one (sampled pairs repeat). */
static int shown_before(const sm_gallery_pairs *p, const ranked *wrong, int k) {
    int a = p->a[wrong[k].pair], b = p->b[wrong[k].pair];
    for (int j = 0; j < k; j++) {
        int c = p->a[wrong[j].pair], d = p->b[wrong[j].pair];
        if ((a == c && b == d) || (a == d && b == c)) return 1;
    }
    return 0;
}

void sm_gallery_mistakes(sm_html *h, const sm_gallery_source *src, const sm_gallery_pairs *p,
                         int false_accepts, int cap) {
    ranked *wrong = malloc(((size_t)p->n + 1) * sizeof *wrong);
    if (!wrong) {
        h->failed = 1;
        return;
    }
    int n = 0, of_label = 0;
    for (int i = 0; i < p->n; i++) {
        int accepted = p->distances[i] <= p->threshold, dissimilar = p->labels[i] > 0.5f;
        of_label += dissimilar == false_accepts;
        if (false_accepts ? accepted && dissimilar : !accepted && !dissimilar)
            wrong[n++] = (ranked){false_accepts ? p->distances[i] : -p->distances[i], i};
    }
    qsort(wrong, (size_t)n, sizeof *wrong, by_key);
    sm_html_printf(h, "<h3 id=\"%s\">%s: %d of %d %s pairs</h3>",
                   false_accepts ? "false-accepts" : "false-rejects",
                   false_accepts ? "Hardest false accepts (dissimilar pairs taken as similar)"
                                 : "Hardest false rejects (similar pairs taken as dissimilar)",
                   n, of_label, false_accepts ? "dissimilar" : "similar");
    if (n > cap)
        sm_report_note(h, "The %d %s shown; the page keeps at most %d.", cap,
                       false_accepts ? "nearest" : "farthest", cap);
    sm_html_raw(h, "<div class=\"gallery\">");
    for (int k = 0, shown = 0; k < n && shown < cap; k++)
        if (!shown_before(p, wrong, k)) gallery_pair(h, src, p, wrong[k].pair), shown++;
    if (n == 0) sm_html_raw(h, "<p class=\"note\">None at this threshold.</p>");
    sm_html_raw(h, "</div>\n");
    free(wrong);
}

void sm_gallery_neighbour_row(sm_html *h, const sm_gallery_source *query_src, int query_image,
                              const sm_gallery_source *gallery_src, const int *images,
                              const float *distances, int k) {
    sm_html_raw(h, "<div class=\"nn\"><div class=\"imgs\"><figure class=\"q\">");
    thumbnail(h, query_src, query_image);
    sm_html_raw(h, "<figcaption>query</figcaption></figure>");
    for (int i = 0; i < k; i++) {
        if (images[i] < 0) continue;
        int same = sm_gallery_same_class(query_src, query_image, gallery_src, images[i]);
        sm_html_printf(h, "<figure%s>", same == 0 ? " class=\"wrong\"" : "");
        thumbnail(h, gallery_src, images[i]);
        sm_html_printf(h, "<figcaption class=\"%s\">%s ",
                       same == 1   ? "same"
                       : same == 0 ? "diff"
                                   : "",
                       same == 1   ? "same class,"
                       : same == 0 ? "other class,"
                                   : "");
        sm_html_number(h, "%.4f", distances[i], NULL);
        sm_html_raw(h, "</figcaption></figure>");
    }
    sm_html_raw(h, "</div>");
    image_name(h, query_src, query_image);
    sm_html_raw(h, "</div>");
}
