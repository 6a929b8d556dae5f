/* Galleries of a report: the hardest mistakes of pairs judged at a threshold and rows of a query
 * with its nearest neighbours, as small JPEG thumbnails decoded from the data set. */
#ifndef SM_GALLERY_H
#define SM_GALLERY_H

#include "report/html.h"
#include "siamese.h"

#define SM_GALLERY_THUMB 96 /* longest side of a thumbnail, pixels */

/* Where thumbnails come from: the data set's images at the model's input shape (what it saw),
 * shrunk to SM_GALLERY_THUMB. */
typedef struct sm_gallery_source {
    siamese_dataset *ds;
    int channels, width, height;
    int fast_jpeg;
} sm_gallery_source;

/* Pairs judged at a threshold: a pair is accepted as similar when its distance is at most it. */
typedef struct sm_gallery_pairs {
    const int *a, *b;                /* [n] dataset images of each pair */
    const float *distances, *labels; /* [n] labels: 0 similar, 1 dissimilar */
    int n;
    double threshold;
} sm_gallery_pairs;

/* A heading with the count (id "false-accepts" or "false-rejects"), then at most cap of the
 * hardest mistakes, a pair shown once: false accepts are the nearest dissimilar pairs accepted,
 * false rejects the farthest similar pairs rejected. Both images, distance, threshold, names. */
void sm_gallery_mistakes(sm_html *h, const sm_gallery_source *src, const sm_gallery_pairs *p,
                         int false_accepts, int cap);

/* One query (a dataset image of query_src) and its k neighbours (dataset images of
 * gallery_src, nearest first, with their distances; images < 0 are left out), each marked as
 * of the query's class or another (by class name, so the two sources may differ). */
void sm_gallery_neighbour_row(sm_html *h, const sm_gallery_source *query_src, int query_image,
                              const sm_gallery_source *gallery_src, const int *images,
                              const float *distances, int k);

/* 1 when the two images have classes of the same name, 0 when not, -1 when either has none. */
int sm_gallery_same_class(const sm_gallery_source *a, int image_a, const sm_gallery_source *b,
                          int image_b);

#endif
