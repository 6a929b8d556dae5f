/* Dataset sources: class folders (sorting, roots), the recipe layout, manifests, IDX files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dataset_fixtures.h"
#include "siamese.h"
#include "test_util.h"

static char *tmp;
static void setup(void) {
    tmp = tu_make_temp_dir();
    cr_assert_not_null(tmp);
}
static void teardown(void) {
    tu_rmtree(tmp);
    free(tmp);
}

TestSuite(dataset_sources, .init = setup, .fini = teardown);

Test(dataset_sources, class_folders_sorted_by_name_hidden_skipped) {
    df_mkdir(tmp, "b");
    df_mkdir(tmp, "a");
    df_mkdir(tmp, "B");
    df_write_pgm(tmp, "b/2.pgm", 4, 4, 1);
    df_write_pgm(tmp, "b/10.pgm", 4, 4, 2);
    df_write_pgm(tmp, "b/.hidden.pgm", 4, 4, 3);
    df_write_pgm(tmp, "a/z", 4, 4, 4); /* no extension: still an image candidate */
    df_write_pgm(tmp, "B/x.pgm", 4, 4, 5);
    df_write_text(tmp, "README.txt", "root files are ignored");
    df_mkdir(tmp, ".git");
    df_write_text(tmp, ".git/x", "hidden folder");
    siamese_dataset *ds = df_open(tmp, NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_get_kind(ds), SIAMESE_DATASET_FOLDERS);
    cr_assert_eq(siamese_dataset_class_count(ds), 3);
    cr_assert_str_eq(siamese_dataset_class_name(ds, 0), "B"); /* byte order: 'B' < 'a' */
    cr_assert_str_eq(siamese_dataset_class_name(ds, 1), "a");
    cr_assert_str_eq(siamese_dataset_class_name(ds, 2), "b");
    cr_assert_eq(siamese_dataset_image_count(ds), 4);
    const char *want[] = {"B/x.pgm", "a/z", "b/10.pgm", "b/2.pgm"};
    int want_class[] = {0, 1, 2, 2};
    for (int i = 0; i < 4; i++) {
        cr_assert_str_eq(siamese_dataset_image_name(ds, i), want[i]);
        cr_assert_eq(siamese_dataset_image_class(ds, i), want_class[i]);
        cr_assert_str_eq(siamese_dataset_image_path(ds, i), tu_path(tmp, want[i]));
    }
    siamese_dataset_free(ds);
}

Test(dataset_sources, single_wrapper_folder_is_descended) {
    df_mkdir(tmp, "Images");
    df_mkdir(tmp, "Images/n1-dog");
    df_mkdir(tmp, "Images/n2-cat");
    df_write_pgm(tmp, "Images/n1-dog/a.pgm", 4, 4, 1);
    df_write_pgm(tmp, "Images/n2-cat/b.pgm", 4, 4, 2);
    siamese_dataset *ds = df_open(tmp, NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_class_count(ds), 2);
    cr_assert_str_eq(siamese_dataset_class_name(ds, 0), "n1-dog");
    cr_assert_str_eq(siamese_dataset_image_name(ds, 1), "Images/n2-cat/b.pgm");
    siamese_dataset_free(ds);
}

Test(dataset_sources, group_folders_merge_classes) {
    df_mkdir(tmp, "training");
    df_mkdir(tmp, "testing");
    df_mkdir(tmp, "training/s1");
    df_mkdir(tmp, "training/s2");
    df_mkdir(tmp, "testing/s3");
    df_write_pgm(tmp, "training/s1/1.pgm", 4, 4, 1);
    df_write_pgm(tmp, "training/s2/1.pgm", 4, 4, 2);
    df_write_pgm(tmp, "testing/s3/1.pgm", 4, 4, 3);
    siamese_dataset *ds = df_open(tmp, NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_class_count(ds), 3);
    cr_assert_str_eq(siamese_dataset_class_name(ds, 0), "testing/s3");
    cr_assert_str_eq(siamese_dataset_class_name(ds, 2), "training/s2");
    cr_assert_str_eq(siamese_dataset_image_name(ds, 0), "testing/s3/1.pgm");
    cr_assert_eq(siamese_dataset_image_class(ds, 2), 2);
    siamese_dataset_free(ds);
}

Test(dataset_sources, fewer_than_two_classes_is_a_data_error) {
    df_mkdir(tmp, "only");
    df_write_pgm(tmp, "only/1.pgm", 4, 4, 1);
    df_mkdir(tmp, "empty");
    siamese_dataset *ds = df_open(tmp, NULL, SIAMESE_ERR_DATA);
    cr_assert(strstr(siamese_dataset_errmsg(ds), tmp), "%s", siamese_dataset_errmsg(ds));
    cr_assert(strstr(siamese_dataset_errmsg(ds), "two"), "%s", siamese_dataset_errmsg(ds));
    siamese_dataset_free(ds);
}

Test(dataset_sources, missing_folder_is_an_io_error_naming_it) {
    siamese_dataset_params p = siamese_dataset_default_params();
    p.kind = SIAMESE_DATASET_FOLDERS;
    siamese_dataset *ds = NULL;
    cr_assert_eq(siamese_dataset_open(tu_path(tmp, "nope"), &p, &ds), SIAMESE_ERR_IO);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "nope"));
    siamese_dataset_free(ds);
    ds = NULL; /* auto-detection of a missing path: reported as a file that cannot be opened */
    cr_assert_eq(siamese_dataset_open(tu_path(tmp, "nope"), NULL, &ds), SIAMESE_ERR_IO);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "nope"));
    siamese_dataset_free(ds);
}

/* ---- recipe layout */

Test(dataset_sources, recipe_layout_pairs_in_index_order) {
    df_mkdir(tmp, "similar_all_images");
    df_mkdir(tmp, "dissimilar_all_images");
    for (int i = 0; i < 12; i++) {
        char f[128];
        snprintf(f, sizeof f, "similar_all_images/similar_%d_first.jpg", i);
        df_write_pgm(tmp, f, 4, 4, (unsigned)i);
        snprintf(f, sizeof f, "similar_all_images/similar_%d_second.jpg", i);
        df_write_pgm(tmp, f, 4, 4, (unsigned)i + 50);
    }
    df_write_pgm(tmp, "dissimilar_all_images/dissimilar_0_first.png", 4, 4, 1);
    df_write_pgm(tmp, "dissimilar_all_images/dissimilar_0_second.png", 4, 4, 2);
    df_write_pgm(tmp, "dissimilar_all_images/dissimilar_1_first.jpg", 4, 4, 3); /* no partner */
    df_write_text(tmp, "dissimilar_all_images/notes.md", "x");
    df_warnings w;
    siamese_dataset *ds = df_open(tmp, &w, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_get_kind(ds), SIAMESE_DATASET_RECIPE);
    cr_assert_eq(siamese_dataset_class_count(ds), 0);
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 0, &pairs), SIAMESE_OK);
    cr_assert_eq(pairs.count, 13);
    for (int i = 0; i < 12; i++) {
        char want[128];
        snprintf(want, sizeof want, "similar_all_images/similar_%d_first.jpg", i);
        cr_assert_str_eq(siamese_dataset_image_name(ds, pairs.items[i].a),
                         want); /* 2 after 1, 10 after 9 */
        snprintf(want, sizeof want, "similar_all_images/similar_%d_second.jpg", i);
        cr_assert_str_eq(siamese_dataset_image_name(ds, pairs.items[i].b), want);
        cr_assert_eq(pairs.items[i].label, 0);
    }
    cr_assert_eq(pairs.items[12].label, 1);
    cr_assert_str_eq(siamese_dataset_image_name(ds, pairs.items[12].a),
                     "dissimilar_all_images/dissimilar_0_first.png");
    cr_assert_eq(w.count, 2, "%s", w.all);
    cr_assert(strstr(w.all, "dissimilar_1_first.jpg"), "%s", w.all);
    cr_assert(strstr(w.all, "notes.md"), "%s", w.all);
    cr_assert_eq(siamese_dataset_skipped_count(ds), 2);
    siamese_pairs_free(&pairs);
    siamese_dataset_free(ds);
}

Test(dataset_sources, empty_recipe_layout_is_a_data_error) {
    df_mkdir(tmp, "similar_all_images");
    siamese_dataset *ds = df_open(tmp, NULL, SIAMESE_ERR_DATA);
    siamese_dataset_free(ds);
}

/* ---- manifests */

Test(dataset_sources, manifest_comments_blank_lines_relative_paths) {
    df_mkdir(tmp, "m");
    df_mkdir(tmp, "m/img");
    df_write_pgm(tmp, "m/img/a.pgm", 4, 4, 1);
    df_write_pgm(tmp, "m/img/b.pgm", 4, 4, 2);
    char text[4096];
    snprintf(text, sizeof text,
             "# a comment\n\n   # indented comment\nimg/a.pgm\timg/b.pgm\t0\r\n"
             "img/b.pgm\t%s\t 1 \n\t\n",
             tu_path(tmp, "m/img/a.pgm"));
    df_write_text(tmp, "m/pairs.tsv", text);
    siamese_dataset *ds = df_open(tu_path(tmp, "m/pairs.tsv"), NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_get_kind(ds), SIAMESE_DATASET_MANIFEST);
    cr_assert_eq(siamese_dataset_image_count(ds), 3); /* the absolute name is its own image */
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 0, &pairs), SIAMESE_OK);
    cr_assert_eq(pairs.count, 2);
    cr_assert_str_eq(siamese_dataset_image_name(ds, pairs.items[0].a), "img/a.pgm");
    cr_assert_str_eq(siamese_dataset_image_path(ds, pairs.items[0].a), tu_path(tmp, "m/img/a.pgm"));
    cr_assert_eq(pairs.items[0].label, 0);
    cr_assert_eq(pairs.items[1].label, 1);
    cr_assert_str_eq(siamese_dataset_image_path(ds, pairs.items[1].b), tu_path(tmp, "m/img/a.pgm"));
    cr_assert_eq(pairs.items[1].a, pairs.items[0].b); /* same written name: same image */
    siamese_pairs_free(&pairs);
    siamese_dataset_free(ds);
}

static void expect_malformed(const char *text, const char *line_tag, const char *reason) {
    df_write_text(tmp, "bad.tsv", text);
    siamese_dataset *ds = df_open(tu_path(tmp, "bad.tsv"), NULL, SIAMESE_ERR_FORMAT);
    const char *msg = siamese_dataset_errmsg(ds);
    cr_assert(strstr(msg, "bad.tsv"), "%s", msg);
    cr_assert(strstr(msg, line_tag), "want %s in: %s", line_tag, msg);
    cr_assert(strstr(msg, reason), "want %s in: %s", reason, msg);
    siamese_dataset_free(ds);
}

Test(dataset_sources, malformed_manifest_lines_name_file_and_line) {
    expect_malformed("# c\na\tb\t0\na b 1\n", "bad.tsv:3:", "3 tab-separated fields");
    expect_malformed("a\tb\t2\n", "bad.tsv:1:", "label must be 0");
    expect_malformed("a\tb\tyes\n", "bad.tsv:1:", "label must be 0");
    expect_malformed("\n\na\tb\t0\textra\n", "bad.tsv:3:", "found 4");
    expect_malformed("a\t\t1\n", "bad.tsv:1:", "empty image path");
}

Test(dataset_sources, manifest_without_pairs_is_a_data_error) {
    df_write_text(tmp, "empty.tsv", "# nothing here\n\n");
    siamese_dataset *ds = df_open(tu_path(tmp, "empty.tsv"), NULL, SIAMESE_ERR_DATA);
    siamese_dataset_free(ds);
}

/* An image given where a data set is expected: not parsed as a manifest ("expected 3
 * tab-separated fields"), but named as an image with what a data set may be. */
static void expect_image_refused(const char *file, const char *kind) {
    siamese_dataset *ds = df_open(tu_path(tmp, file), NULL, SIAMESE_ERR_DATA);
    const char *msg = siamese_dataset_errmsg(ds);
    cr_assert(strstr(msg, file), "want %s in: %s", file, msg);
    cr_assert(strstr(msg, kind), "want %s in: %s", kind, msg);
    cr_assert(strstr(msg, "not a data set: give a folder of class folders"), "%s", msg);
    cr_assert(strstr(msg, "pairs manifest"), "%s", msg);
    cr_assert_null(strstr(msg, "tab-separated"), "%s", msg);
    siamese_dataset_free(ds);
}

Test(dataset_sources, image_file_is_not_a_data_set) {
    df_write_pgm(tmp, "face.pgm", 4, 4, 1);
    expect_image_refused("face.pgm", "an image (PNM)");
    df_write_pgm(tmp, "face_named.txt", 4, 4, 1); /* by its first bytes, whatever its name */
    expect_image_refused("face_named.txt", "an image (PNM)");
    df_write_text(tmp, "broken.JPG", "not really a photo\n"); /* by its name */
    expect_image_refused("broken.JPG", "an image (.JPG)");
    /* a manifest whose first path starts like a PNM header is still a manifest */
    df_mkdir(tmp, "P5");
    df_write_pgm(tmp, "P5/a.pgm", 4, 4, 1);
    df_write_pgm(tmp, "P5/b.pgm", 4, 4, 2);
    df_write_text(tmp, "p5.tsv", "P5/a.pgm\tP5/b.pgm\t1\n");
    siamese_dataset *ds = df_open(tu_path(tmp, "p5.tsv"), NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_get_kind(ds), SIAMESE_DATASET_MANIFEST);
    siamese_dataset_free(ds);
}

/* ---- IDX */

static void check_idx_dataset(int gz) {
    df_write_idx_part(tmp, "train", 30, 5, 4, 3, gz);
    df_write_idx_part(tmp, "t10k", 6, 5, 4, 3, gz);
    siamese_dataset *ds = df_open(tmp, NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_get_kind(ds), SIAMESE_DATASET_IDX);
    cr_assert_eq(siamese_dataset_image_count(ds), 36);
    cr_assert_eq(siamese_dataset_class_count(ds), 3);
    cr_assert_str_eq(siamese_dataset_class_name(ds, 2), "2");
    cr_assert_str_eq(siamese_dataset_image_name(ds, 0), "train#0"); /* train parts first */
    cr_assert_str_eq(siamese_dataset_image_name(ds, 30), "t10k#0");
    cr_assert_null(siamese_dataset_image_path(ds, 0));
    cr_assert_eq(siamese_dataset_image_class(ds, 4), 1);
    siamese_image_options o = siamese_image_default_options();
    o.channels = 1;
    o.width = 4;
    o.height = 5;
    siamese_image img;
    cr_assert_eq(siamese_dataset_load_image(ds, 1, &o, &img), SIAMESE_OK);
    cr_assert_eq(img.width, 4);
    cr_assert_eq(img.height, 5);
    for (int i = 0; i < 20; i++) cr_assert_eq(img.data[i], (uint8_t)((20 + i) * 7));
    siamese_image_free(&img);
    siamese_dataset_free(ds);
    siamese_dataset_params p = siamese_dataset_default_params();
    p.idx_part = "t10k";
    cr_assert_eq(siamese_dataset_open(tmp, &p, &ds), SIAMESE_OK);
    cr_assert_eq(siamese_dataset_image_count(ds), 6);
    siamese_dataset_free(ds);
}

Test(dataset_sources, idx_raw) { check_idx_dataset(0); }
Test(dataset_sources, idx_gzipped) { check_idx_dataset(1); }

Test(dataset_sources, idx_single_images_file) {
    df_write_idx_part(tmp, "train", 10, 3, 3, 2, 1);
    siamese_dataset *ds = df_open(tu_path(tmp, "train-images-idx3-ubyte.gz"), NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_image_count(ds), 10);
    siamese_dataset_free(ds);
}

/* Writes an images file with the given header and payload plus good labels, then opens it. */
static void expect_bad_idx(const uint8_t magic[4], const uint32_t dims[3], size_t payload,
                           int labels, siamese_status want, const char *reason, int gz) {
    uint8_t *data = calloc(payload + 1, 1);
    df_write_idx(tmp, gz ? "x-images-idx3-ubyte.gz" : "x-images-idx3-ubyte", magic, dims, 3, data,
                 payload, gz);
    uint8_t ml[4] = {0, 0, 8, 1};
    uint32_t dl[1] = {(uint32_t)labels};
    uint8_t lab[4] = {0, 1, 0, 1};
    df_write_idx(tmp, "x-labels-idx1-ubyte", ml, dl, 1, lab, (size_t)labels, 0);
    siamese_dataset *ds = df_open(tmp, NULL, want);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "x-"), "%s", siamese_dataset_errmsg(ds));
    cr_assert(strstr(siamese_dataset_errmsg(ds), reason), "want '%s' in: %s", reason,
              siamese_dataset_errmsg(ds));
    siamese_dataset_free(ds);
    free(data);
}

Test(dataset_sources, idx_corrupt_headers_are_rejected) {
    uint8_t good[4] = {0, 0, 8, 3}, bad_magic[4] = {1, 0, 8, 3}, bad_type[4] = {0, 0, 0x0d, 3};
    uint8_t bad_dims[4] = {0, 0, 8, 2};
    uint32_t d[3] = {4, 2, 2};
    expect_bad_idx(bad_magic, d, 16, 4, SIAMESE_ERR_FORMAT, "bad magic", 0);
    expect_bad_idx(bad_type, d, 16, 4, SIAMESE_ERR_FORMAT, "element type", 0);
    expect_bad_idx(bad_dims, d, 16, 4, SIAMESE_ERR_FORMAT, "dimensions", 0);
    expect_bad_idx(good, d, 15, 4, SIAMESE_ERR_FORMAT, "truncated", 0);
    expect_bad_idx(good, d, 15, 4, SIAMESE_ERR_FORMAT, "truncated", 1);
    expect_bad_idx(good, d, 17, 4, SIAMESE_ERR_FORMAT, "unexpected data", 0);
    expect_bad_idx(good, d, 16, 3, SIAMESE_ERR_FORMAT, "3 labels for 4 images", 0);
    uint32_t huge[3] = {4, 70000, 70000};
    expect_bad_idx(good, huge, 16, 4, SIAMESE_ERR_LIMIT, "over the limits", 0);
    uint32_t many[3] = {0xffffffffu, 28, 28};
    expect_bad_idx(good, many, 16, 4, SIAMESE_ERR_LIMIT, "over the limit", 0);
    uint32_t zero[3] = {4, 0, 2};
    expect_bad_idx(good, zero, 0, 4, SIAMESE_ERR_FORMAT, "zero image size", 0);
}

Test(dataset_sources, idx_corrupt_gzip_stream) {
    df_write_idx_part(tmp, "train", 40, 8, 8, 2, 1);
    size_t size;
    unsigned char *gz = tu_read_file(tu_path(tmp, "train-images-idx3-ubyte.gz"), &size);
    cr_assert_not_null(gz);
    for (size_t i = 20; i < size - 8; i++) gz[i] ^= 0x5a;
    df_write(tmp, "train-images-idx3-ubyte.gz", gz, size);
    free(gz);
    siamese_dataset *ds = NULL;
    siamese_status st = siamese_dataset_open(tmp, NULL, &ds);
    cr_assert_eq(st, SIAMESE_ERR_FORMAT, "%d %s", st, siamese_dataset_errmsg(ds));
    cr_assert(strstr(siamese_dataset_errmsg(ds), "train-images-idx3-ubyte.gz"));
    siamese_dataset_free(ds);
}

Test(dataset_sources, idx_missing_labels_file) {
    uint8_t mi[4] = {0, 0, 8, 3};
    uint32_t di[3] = {2, 2, 2};
    uint8_t px[8] = {0};
    df_write_idx(tmp, "a-images-idx3-ubyte", mi, di, 3, px, 8, 0);
    siamese_dataset *ds = df_open(tmp, NULL, SIAMESE_ERR_IO);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "labels"), "%s", siamese_dataset_errmsg(ds));
    siamese_dataset_free(ds);
}
