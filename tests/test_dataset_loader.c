/* The loader: batches equal direct decode + resize, prefetching, the cache bound, bad files,
 * data-parallel shares. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "data/loader_share.h"
#include "dataset_fixtures.h"
#include "siamese.h"
#include "test_util.h"

static char *tmp;
static siamese_dataset *ds;
static df_warnings warnings;

/* 4 classes x 5 PGM images of varying sizes (so resizing really happens). */
static void setup(void) {
    tmp = tu_make_temp_dir();
    cr_assert_not_null(tmp);
    for (int c = 0; c < 4; c++) {
        char rel[64];
        snprintf(rel, sizeof rel, "c%d", c);
        df_mkdir(tmp, rel);
        for (int j = 0; j < 5; j++) {
            snprintf(rel, sizeof rel, "c%d/%d.pgm", c, j);
            df_write_pgm(tmp, rel, 9 + j, 7 + c, (unsigned)(c * 10 + j));
        }
    }
    ds = df_open(tmp, &warnings, SIAMESE_OK);
}

static void teardown(void) {
    siamese_dataset_free(ds);
    tu_rmtree(tmp);
    free(tmp);
}

TestSuite(loader, .init = setup, .fini = teardown);

static siamese_loader_params small_params(int channels) {
    siamese_loader_params p = siamese_loader_default_params();
    p.channels = channels;
    p.width = 6;
    p.height = 4;
    p.batch_size = 4;
    p.seed = 3;
    return p;
}

/* The tensor the loader should produce for image i. */
static void expected_tensor(int image, const siamese_loader_params *p, float *out) {
    siamese_image_options o = siamese_image_default_options();
    o.channels = p->channels;
    o.width = p->width;
    o.height = p->height;
    siamese_image img;
    cr_assert_eq(siamese_dataset_load_image(ds, image, &o, &img), SIAMESE_OK);
    cr_assert_eq(siamese_image_to_tensor(&img, p->mean, p->std, out, NULL, 0), SIAMESE_OK);
    siamese_image_free(&img);
}

/* Checks every batch of one epoch against the pairs in order (shuffle off). */
static void check_epoch_in_order(siamese_loader *ld, const siamese_pairs *pairs,
                                 const siamese_loader_params *p) {
    size_t chw = (size_t)p->channels * p->width * p->height;
    float *want = malloc(chw * sizeof *want);
    int index = 0;
    const float *buffers[2] = {NULL, NULL};
    for (;;) {
        siamese_batch b;
        cr_assert_eq(siamese_loader_next(ld, &b), SIAMESE_OK, "%s", siamese_loader_errmsg(ld));
        if (b.n == 0) break;
        cr_assert(b.n <= p->batch_size);
        cr_assert_eq(b.first, b.images);
        cr_assert_eq(b.second, b.images + (size_t)b.n * chw);
        int k = index / p->batch_size % 2; /* two preallocated buffers, used in turn */
        if (!buffers[k]) buffers[k] = b.images;
        cr_assert_eq(b.images, buffers[k]);
        for (int j = 0; j < b.n; j++, index++) {
            const siamese_pair *q = &pairs->items[index];
            expected_tensor(q->a, p, want);
            cr_assert(!memcmp(b.first + j * chw, want, chw * sizeof *want), "pair %d first", index);
            expected_tensor(q->b, p, want);
            cr_assert(!memcmp(b.second + j * chw, want, chw * sizeof *want), "pair %d second",
                      index);
            cr_assert_eq(b.labels[j], (float)q->label);
        }
    }
    cr_assert_eq(index, pairs->count);
    free(want);
}

static void check_in_order(int channels, int prefetch, size_t cache_bytes, const float *mean,
                           const float *std) {
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 2, 1, &pairs), SIAMESE_OK);
    siamese_loader_params p = small_params(channels);
    p.shuffle = 0;
    p.prefetch = prefetch;
    p.cache_bytes = cache_bytes;
    p.mean = mean;
    p.std = std;
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &ld), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    cr_assert_eq(siamese_loader_pair_count(ld), 16);
    cr_assert_eq(siamese_loader_batch_count(ld), 4);
    cr_assert(siamese_loader_cache_bytes(ld) <= cache_bytes);
    for (int epoch = 0; epoch < 2; epoch++) {
        cr_assert_eq(siamese_loader_start_epoch(ld, epoch), SIAMESE_OK);
        check_epoch_in_order(ld, &pairs, &p);
    }
    cr_assert(siamese_loader_wait_seconds(ld) >= 0);
    siamese_loader_free(ld);
    siamese_pairs_free(&pairs);
}

Test(loader, batches_match_direct_decode_rgb_prefetch) {
    check_in_order(3, 1, 1 << 20, NULL, NULL);
}
Test(loader, batches_match_direct_decode_grey_sync) { check_in_order(1, 0, 1 << 20, NULL, NULL); }
Test(loader, batches_match_without_cache) { check_in_order(3, 1, 0, NULL, NULL); }
Test(loader, batches_match_normalized) {
    float mean[3] = {0.5f, 0.4f, 0.3f}, std[3] = {0.2f, 0.25f, 0.3f};
    check_in_order(3, 1, 1 << 20, mean, std);
}

Test(loader, cache_bound_respected) {
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 1, &pairs), SIAMESE_OK);
    siamese_loader_params p = small_params(3);
    p.cache_bytes = 3 * 6 * 4 * 3 + 5; /* three images and a bit */
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &ld), SIAMESE_OK);
    cr_assert_eq(siamese_loader_cached_images(ld), 3);
    cr_assert(siamese_loader_cache_bytes(ld) <= p.cache_bytes);
    cr_assert_eq(siamese_loader_start_epoch(ld, 0), SIAMESE_OK);
    siamese_batch b;
    int pairs_seen = 0;
    do {
        cr_assert_eq(siamese_loader_next(ld, &b), SIAMESE_OK);
        pairs_seen += b.n;
    } while (b.n);
    cr_assert_eq(pairs_seen, pairs.count);
    siamese_loader_free(ld);
    siamese_pairs_free(&pairs);
}

/* Reads a whole epoch into one array of [pairs][2][chw] + labels. */
static float *read_epoch(siamese_loader *ld, int epoch, int first_batch, size_t chw, int *n) {
    float *all = malloc((size_t)64 * (2 * chw + 1) * sizeof *all);
    *n = 0;
    cr_assert_eq(siamese_loader_start_epoch_at(ld, epoch, first_batch), SIAMESE_OK);
    siamese_batch b;
    for (;;) {
        cr_assert_eq(siamese_loader_next(ld, &b), SIAMESE_OK);
        if (!b.n) break;
        for (int j = 0; j < b.n; j++, (*n)++) {
            float *dst = all + (size_t)*n * (2 * chw + 1);
            memcpy(dst, b.first + j * chw, chw * sizeof *dst);
            memcpy(dst + chw, b.second + j * chw, chw * sizeof *dst);
            dst[2 * chw] = b.labels[j];
        }
    }
    return all;
}

Test(loader, shuffle_seeded_by_epoch_prefetch_equals_sync) {
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 2, 1, &pairs), SIAMESE_OK);
    siamese_loader_params p = small_params(1);
    siamese_loader *a = NULL, *s = NULL;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &a), SIAMESE_OK);
    p.prefetch = 0;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &s), SIAMESE_OK);
    size_t chw = 24, row = 2 * chw + 1;
    int n1, n2, n3, n4;
    float *e0 = read_epoch(a, 0, 0, chw, &n1);
    float *e0s = read_epoch(s, 0, 0, chw, &n2);
    float *e1 = read_epoch(a, 1, 0, chw, &n3);
    float *e1tail = read_epoch(a, 1, 2, chw, &n4); /* resume at batch 2 */
    cr_assert_eq(n1, 16);
    cr_assert_eq(n2, 16);
    cr_assert_eq(n3, 16);
    cr_assert_eq(n4, 8);
    cr_assert(!memcmp(e0, e0s, 16 * row * sizeof(float)), "prefetch and sync differ");
    cr_assert(memcmp(e0, e1, 16 * row * sizeof(float)), "epochs 0 and 1 in the same order");
    cr_assert(!memcmp(e1 + 8 * row, e1tail, 8 * row * sizeof(float)), "resumed epoch differs");
    /* an epoch abandoned half way, then a new one: no deadlock, full epoch */
    siamese_batch b;
    cr_assert_eq(siamese_loader_start_epoch(a, 2), SIAMESE_OK);
    cr_assert_eq(siamese_loader_next(a, &b), SIAMESE_OK);
    free(read_epoch(a, 3, 0, chw, &n1));
    cr_assert_eq(n1, 16);
    free(e0);
    free(e0s);
    free(e1);
    free(e1tail);
    siamese_loader_free(a);
    siamese_loader_free(s);
    siamese_pairs_free(&pairs);
}

/* Data-parallel shares (issue 16): part k of 3 holds exactly its slice of every whole batch,
 * augmented (elastic field included, from each slot's own scratch) as in the whole batch, and an
 * empty share still reports the whole batch. */
Test(loader, shares_are_slices_of_the_whole_batch) {
    enum { PARTS = 3 };
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_online(ds, NULL, 0, 14, 1, 0, &pairs), SIAMESE_OK);
    siamese_loader_params p = small_params(1);
    p.augment = "rotate=10,translate=1,flip,elastic=2:1";
    siamese_loader *whole = NULL, *part[PARTS];
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &whole), SIAMESE_OK);
    p.prefetch = 0; /* the synchronous path for the shares: the same batches */
    for (int k = 0; k < PARTS; k++) {
        cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &part[k]), SIAMESE_OK);
        cr_assert_eq(sm_loader_set_share(part[k], k, PARTS), SIAMESE_OK);
    }
    cr_assert_eq(sm_loader_set_share(part[0], PARTS, PARTS), SIAMESE_ERR_INVALID_ARG);
    size_t chw = 24, bytes = chw * sizeof(float);
    int empty = 0;
    for (int epoch = 0; epoch < 2; epoch++) {
        cr_assert_eq(siamese_loader_start_epoch(whole, epoch), SIAMESE_OK);
        for (int k = 0; k < PARTS; k++)
            cr_assert_eq(siamese_loader_start_epoch(part[k], epoch), SIAMESE_OK);
        for (int batch = 0;; batch++) {
            siamese_batch w, s;
            cr_assert_eq(siamese_loader_next(whole, &w), SIAMESE_OK);
            int covered = 0;
            for (int k = 0; k < PARTS; k++) {
                int n, first, count;
                cr_assert_eq(sm_loader_next_share(part[k], &s, &n), SIAMESE_OK);
                cr_assert_eq(n, w.n, "epoch %d batch %d part %d: whole %d, want %d", epoch, batch,
                             k, n, w.n);
                sm_share_of(w.n, k, PARTS, &first, &count);
                cr_assert_eq(s.n, count);
                cr_assert_eq(first, covered);
                covered += count;
                empty += w.n > 0 && count == 0;
                for (int j = 0; j < count; j++) {
                    cr_assert(!memcmp(s.first + j * chw, w.first + (first + j) * chw, bytes),
                              "epoch %d batch %d part %d pair %d: first image", epoch, batch, k, j);
                    cr_assert(!memcmp(s.second + j * chw, w.second + (first + j) * chw, bytes),
                              "epoch %d batch %d part %d pair %d: second image", epoch, batch, k,
                              j);
                    cr_assert_eq(s.labels[j], w.labels[first + j]);
                }
            }
            cr_assert_eq(covered, w.n);
            if (w.n == 0) break;
        }
    }
    cr_assert_eq(empty, 2, "the last batch (2 pairs) leaves part 2 empty in both epochs");
    siamese_loader_free(whole);
    for (int k = 0; k < PARTS; k++) siamese_loader_free(part[k]);
    siamese_pairs_free(&pairs);
}

Test(loader, set_pairs_and_drop_last) {
    siamese_pairs e0, e1;
    cr_assert_eq(siamese_pairs_online(ds, NULL, 0, 10, 1, 0, &e0), SIAMESE_OK);
    cr_assert_eq(siamese_pairs_online(ds, NULL, 0, 14, 1, 1, &e1), SIAMESE_OK);
    siamese_loader_params p = small_params(3);
    p.drop_last = 1;
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(ds, &e0, &p, &ld), SIAMESE_OK);
    cr_assert_eq(siamese_loader_batch_count(ld), 2);
    cr_assert_eq(siamese_loader_set_pairs(ld, &e1), SIAMESE_OK);
    cr_assert_eq(siamese_loader_pair_count(ld), 14);
    cr_assert_eq(siamese_loader_batch_count(ld), 3);
    int n;
    free(read_epoch(ld, 1, 0, 72, &n));
    cr_assert_eq(n, 12);
    siamese_loader_free(ld);
    siamese_pairs_free(&e0);
    siamese_pairs_free(&e1);
}

Test(loader, bad_files_skipped_with_warnings_and_counted) {
    /* three of class c0's files go bad after the listing */
    df_write(tmp, "c0/0.pgm", "", 0);                      /* empty */
    df_write_text(tmp, "c0/1.pgm", "P5\n9 7\n255\nshort"); /* truncated */
    df_write_text(tmp, "c0/2.pgm", "hello, not an image"); /* not an image */
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_online(ds, NULL, 0, 60, 2, 0, &pairs), SIAMESE_OK);
    int bad_pairs = 0;
    for (int i = 0; i < pairs.count; i++) bad_pairs += pairs.items[i].a < 3 || pairs.items[i].b < 3;
    cr_assert(bad_pairs > 0);
    siamese_loader_params p = small_params(3);
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &ld), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    cr_assert_eq(siamese_loader_pair_count(ld), 60 - bad_pairs);
    cr_assert_eq(warnings.count, 3, "%s", warnings.all);
    cr_assert_eq(siamese_dataset_skipped_count(ds), 3);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "c0/%d.pgm", i);
        cr_assert(strstr(warnings.all, name), "no warning names %s:\n%s", name, warnings.all);
        cr_assert_eq(siamese_dataset_image_usable(ds, i), 0);
    }
    cr_assert(strstr(warnings.all, "skipped"));
    int n;
    free(read_epoch(ld, 0, 0, 72, &n));
    cr_assert_eq(n, 60 - bad_pairs);
    siamese_loader_free(ld);
    siamese_pairs_free(&pairs);
}

Test(loader, no_usable_pairs_is_a_data_error) {
    for (int j = 0; j < 5; j++) {
        char rel[32];
        snprintf(rel, sizeof rel, "c0/%d.pgm", j);
        df_write_text(tmp, rel, "broken");
    }
    siamese_pairs pairs = {malloc(sizeof(siamese_pair)), 1};
    pairs.items[0] = (siamese_pair){0, 1, 0};
    siamese_loader_params p = small_params(3);
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &ld), SIAMESE_ERR_DATA);
    cr_assert(strstr(siamese_loader_errmsg(ld), "no usable pairs"), "%s",
              siamese_loader_errmsg(ld));
    cr_assert_eq(warnings.count, 2);
    siamese_loader_free(ld);
    /* verify then finds the class empty: three classes remain usable */
    cr_assert_eq(siamese_dataset_verify(ds, NULL), SIAMESE_OK);
    cr_assert_eq(siamese_dataset_skipped_count(ds), 5);
    siamese_pairs_free(&pairs);
}

Test(loader, bad_parameters) {
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 1, 1, &pairs), SIAMESE_OK);
    siamese_loader_params p = small_params(2);
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &ld), SIAMESE_ERR_INVALID_ARG);
    siamese_loader_free(ld);
    p = small_params(3);
    p.batch_size = 0;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &ld), SIAMESE_ERR_INVALID_ARG);
    siamese_loader_free(ld);
    p = small_params(3);
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &ld), SIAMESE_OK);
    siamese_batch b;
    cr_assert_eq(siamese_loader_next(ld, &b), SIAMESE_ERR_INVALID_ARG); /* no epoch started */
    siamese_loader_free(ld);
    siamese_pairs_free(&pairs);
}

Test(loader, idx_images_come_from_memory) {
    char *dir = tu_make_temp_dir();
    df_write_idx_part(dir, "train", 12, 3, 2, 3, 1);
    siamese_dataset *idx = df_open(dir, NULL, SIAMESE_OK);
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(idx, NULL, 0, 1, 1, &pairs), SIAMESE_OK);
    siamese_loader_params p = siamese_loader_default_params();
    p.channels = 1;
    p.width = 2;
    p.height = 3;
    p.shuffle = 0;
    p.batch_size = 64;
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(idx, &pairs, &p, &ld), SIAMESE_OK);
    tu_rmtree(dir); /* the files are no longer needed */
    cr_assert_eq(siamese_loader_start_epoch(ld, 0), SIAMESE_OK);
    siamese_batch b;
    cr_assert_eq(siamese_loader_next(ld, &b), SIAMESE_OK);
    cr_assert_eq(b.n, pairs.count);
    for (int j = 0; j < b.n; j++)
        for (int k = 0; k < 6; k++) {
            int a = pairs.items[j].a;
            cr_assert_float_eq(b.first[j * 6 + k], (float)(uint8_t)((a * 6 + k) * 7) / 255.0f,
                               1e-7);
        }
    siamese_loader_free(ld);
    siamese_pairs_free(&pairs);
    siamese_dataset_free(idx);
    free(dir);
}
