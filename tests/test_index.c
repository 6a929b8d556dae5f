/* siamese_index: add / save / open / search / remove round trips, classes by name, the model
 * check, and truncated or corrupted files refused with a message naming them. */
#define _DEFAULT_SOURCE /* mincore */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "siamese.h"
#include "test_util.h"

#define DIM 5

static siamese_model *model;

static void setup(void) {
    tu_temp_init();
    siamese_model_params p = tu_model_params("conv(3,k=3) relu linear(5)", 1, 8, 8, 7);
    model = tu_create_model(&p);
}

static void teardown(void) {
    siamese_model_free(model);
    tu_temp_fini();
}

TestSuite(index, .init = setup, .fini = teardown);

/* n rows named "<prefix><i>" (names only: no such files), labelled by class i % 2 of {a, b}. */
typedef struct rows {
    siamese_embeddings e;
    float vectors[64 * DIM];
    int labels[64];
    char *names[64];
    char *class_names[2];
    char text[64][32];
} rows;

static void make_rows(rows *r, int n, const char *prefix, uint64_t seed) {
    memset(r, 0, sizeof *r);
    tu_fill_uniform(r->vectors, (size_t)n * DIM, -1, 1, seed);
    r->class_names[0] = "a";
    r->class_names[1] = "b";
    for (int i = 0; i < n; i++) {
        snprintf(r->text[i], sizeof r->text[i], "%s%d", prefix, i);
        r->names[i] = r->text[i];
        r->labels[i] = i % 2;
    }
    r->e = (siamese_embeddings){.count = n,
                                .dim = DIM,
                                .vectors = r->vectors,
                                .labels = r->labels,
                                .names = r->names,
                                .class_count = 2,
                                .class_names = r->class_names};
}

static siamese_index *new_index(void) {
    siamese_index *index = NULL;
    cr_assert_eq(siamese_index_create(model, "model.safetensors", &index), SIAMESE_OK);
    cr_assert_eq(siamese_index_dim(index), DIM);
    return index;
}

static siamese_index *open_index(const char *path) {
    siamese_index *index = NULL;
    siamese_status st = siamese_index_open(path, &index);
    cr_assert_eq(st, SIAMESE_OK, "%s", index ? siamese_index_errmsg(index) : "no handle");
    return index;
}

Test(index, save_open_keeps_rows_items_labels) {
    rows r;
    make_rows(&r, 20, "img", 1);
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_OK);
    const char *path = tu_path(tu_temp, "x.index");
    cr_assert_eq(siamese_index_save(index, path), SIAMESE_OK, "%s", siamese_index_errmsg(index));
    siamese_index_free(index);

    index = open_index(path);
    cr_assert_eq(siamese_index_count(index), 20);
    cr_assert_eq(siamese_index_class_count(index), 2);
    cr_assert_str_eq(siamese_index_class_name(index, 1), "b");
    char fp[256];
    cr_assert_eq(siamese_model_fingerprint(model, fp, sizeof fp), SIAMESE_OK);
    cr_assert_str_eq(siamese_index_fingerprint(index), fp);
    for (int i = 0; i < 20; i++) {
        cr_assert_str_eq(siamese_index_item(index, i), r.names[i]);
        cr_assert_eq(siamese_index_label(index, i), i % 2);
        cr_assert_eq(memcmp(siamese_index_vector(index, i), r.vectors + i * DIM, DIM * 4), 0);
        cr_assert_eq(siamese_index_find(index, r.names[i]), i);
    }
    cr_assert_eq(siamese_index_find(index, "nope"), -1);
    cr_assert_eq(siamese_index_check_model(index, model), SIAMESE_OK);
    siamese_index_free(index);
}

Test(index, search_equals_knn_and_finds_itself) {
    rows r;
    make_rows(&r, 30, "img", 2);
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_OK);
    int idx[30 * 3], ref[30 * 3];
    float d[30 * 3], refd[30 * 3];
    cr_assert_eq(siamese_index_search(index, r.vectors, 30, 3, NULL, idx, d), SIAMESE_OK);
    cr_assert_eq(siamese_knn(siamese_model_metric(model), r.vectors, 30, r.vectors, 30, DIM, 3,
                             NULL, ref, refd),
                 SIAMESE_OK);
    for (int i = 0; i < 30; i++) {
        cr_assert_eq(idx[i * 3], i, "row %d is its own nearest", i);
        for (int j = 0; j < 3; j++) cr_assert_eq(idx[i * 3 + j], ref[i * 3 + j]);
    }
    siamese_index_free(index);
}

Test(index, add_remove_round_trip_through_files) {
    rows r1, r2;
    make_rows(&r1, 10, "old", 3);
    make_rows(&r2, 6, "new", 4);
    r2.class_names[0] = "c"; /* a new class, and "b" again */
    const char *path = tu_path(tu_temp, "x.index");
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_add(index, &r1.e), SIAMESE_OK);
    cr_assert_eq(siamese_index_save(index, path), SIAMESE_OK);
    siamese_index_free(index);

    index = open_index(path);
    cr_assert_eq(siamese_index_add(index, &r2.e), SIAMESE_OK);
    cr_assert_eq(siamese_index_count(index), 16);
    cr_assert_eq(siamese_index_class_count(index), 3);
    cr_assert_str_eq(siamese_index_class_name(index, 2), "c");
    cr_assert_eq(siamese_index_label(index, 10), 2);
    cr_assert_eq(siamese_index_label(index, 11), 1);
    const char *gone[] = {"old3", "new0", "missing", "old3"};
    int removed = -1;
    cr_assert_eq(siamese_index_remove(index, gone, 4, &removed), SIAMESE_OK);
    cr_assert_eq(removed, 2);
    cr_assert_eq(siamese_index_save(index, path), SIAMESE_OK);
    siamese_index_free(index);

    index = open_index(path);
    cr_assert_eq(siamese_index_count(index), 14);
    cr_assert_eq(siamese_index_find(index, "old3"), -1);
    cr_assert_eq(siamese_index_find(index, "new0"), -1);
    int row = siamese_index_find(index, "old4");
    cr_assert_eq(row, 3);
    cr_assert_eq(memcmp(siamese_index_vector(index, row), r1.vectors + 4 * DIM, DIM * 4), 0);
    row = siamese_index_find(index, "new5");
    cr_assert_eq(memcmp(siamese_index_vector(index, row), r2.vectors + 5 * DIM, DIM * 4), 0);
    /* searching with a removed row's vector no longer finds it */
    int idx[1];
    float d[1];
    cr_assert_eq(siamese_index_search(index, r1.vectors + 3 * DIM, 1, 1, NULL, idx, d), SIAMESE_OK);
    cr_assert_str_neq(siamese_index_item(index, idx[0]), "old3");
    siamese_index_free(index);
}

Test(index, adding_an_item_again_replaces_it) {
    rows r1, r2;
    make_rows(&r1, 4, "img", 5);
    make_rows(&r2, 2, "img", 6);
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_add(index, &r1.e), SIAMESE_OK);
    cr_assert_eq(siamese_index_add(index, &r2.e), SIAMESE_OK);
    cr_assert_eq(siamese_index_count(index), 4);
    cr_assert_eq(memcmp(siamese_index_vector(index, 1), r2.vectors + DIM, DIM * 4), 0);
    siamese_index_free(index);
}

Test(index, a_loose_file_gets_the_class_its_folder_names) {
    rows r, loose;
    make_rows(&r, 4, "img", 11);
    make_rows(&loose, 3, "unused", 12);
    char *paths[3] = {"/nonexistent/x/b/new.pgm", "/nonexistent/x/c/new.pgm", "new.pgm"};
    int none[3] = {-1, -1, -1};
    loose.e.paths = paths;
    loose.e.labels = none;
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_OK);
    cr_assert_eq(siamese_index_add(index, &loose.e), SIAMESE_OK);
    cr_assert_str_eq(siamese_index_item(index, 4), paths[0]);
    cr_assert_eq(siamese_index_label(index, 4), 1, "folder b is class b");
    cr_assert_eq(siamese_index_label(index, 5), -1, "no class c");
    cr_assert_eq(siamese_index_label(index, 6), -1, "no folder");
    siamese_index_free(index);
}

Test(index, many_rows_keep_lookups) {
    /* past the item table's first sizes: every name still resolves to its row */
    siamese_index *index = new_index();
    for (int batch = 0; batch < 40; batch++) {
        rows r;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "b%d_", batch);
        make_rows(&r, 50, prefix, 100 + batch);
        cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_OK);
    }
    cr_assert_eq(siamese_index_count(index), 2000);
    cr_assert_eq(siamese_index_find(index, "b17_33"), 17 * 50 + 33);
    siamese_index_free(index);
}

Test(index, another_model_is_refused) {
    rows r;
    make_rows(&r, 3, "img", 7);
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_OK);
    siamese_model_params p = tu_model_params("conv(3,k=3) relu linear(5)", 1, 8, 8, 8);
    siamese_model *other = tu_create_model(&p);
    cr_assert_eq(siamese_index_check_model(index, other), SIAMESE_ERR_FORMAT);
    cr_assert(strstr(siamese_index_errmsg(index), "weights"), "%s", siamese_index_errmsg(index));
    siamese_model_free(other);
    p = tu_model_params("conv(3,k=3) relu linear(5)", 1, 9, 9, 7);
    other = tu_create_model(&p);
    cr_assert_eq(siamese_index_check_model(index, other), SIAMESE_ERR_FORMAT);
    cr_assert(strstr(siamese_index_errmsg(index), "input"), "%s", siamese_index_errmsg(index));
    siamese_model_free(other);
    siamese_index_free(index);
}

Test(index, wrong_length_embeddings_are_refused) {
    rows r;
    make_rows(&r, 3, "img", 9);
    r.e.dim = 4;
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_ERR_SHAPE);
    cr_assert_eq(siamese_index_count(index), 0);
    siamese_index_free(index);
}

/* NULL arguments are refused with a message saying which, not an empty one. */
Test(index, null_arguments_are_named) {
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_save(index, NULL), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_index_errmsg(index), "no path"), "%s", siamese_index_errmsg(index));
    cr_assert_eq(siamese_index_add(index, NULL), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_index_errmsg(index), "no embeddings"), "%s",
              siamese_index_errmsg(index));
    cr_assert_eq(siamese_index_remove(index, NULL, 2, NULL), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_index_errmsg(index), "no items"), "%s", siamese_index_errmsg(index));
    cr_assert_eq(siamese_index_check_model(index, NULL), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_index_errmsg(index), "no model"), "%s", siamese_index_errmsg(index));
    siamese_index_free(index);
}

/* call returned INVALID_ARG and index's message starts with search's prefix and holds part. */
static void expect_refused(siamese_status call, siamese_index *index, const char *search,
                           const char *part) {
    const char *msg = siamese_index_errmsg(index);
    cr_assert_eq(call, SIAMESE_ERR_INVALID_ARG, "want '%s' refused: %s", part, msg);
    cr_assert(!strncmp(msg, search, strlen(search)) && strstr(msg, part), "want '%s%s': %s", search,
              part, msg);
}

/* search_refused(index, message part, the call's arguments): INVALID_ARG, its message naming the
 * argument; shards_refused the same for siamese_index_search_shards. */
#define search_refused(index, part, ...)                                                           \
    expect_refused(siamese_index_search(index, __VA_ARGS__), index, "index search: ", part)
#define shards_refused(index, part, ...)                                                           \
    expect_refused(siamese_index_search_shards(index, __VA_ARGS__), index, "sharded search: ", part)

/* A search's bad arguments are refused each with its name and why, not "invalid argument"; nq 0
 * needs no buffers; a good search after a refused one leaves no message. */
Test(index, search_arguments_are_named) {
    siamese_index *index = new_index();
    rows r;
    make_rows(&r, 4, "s", 21);
    cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_OK);
    int idx[4];
    float d[4];
    cr_assert_eq(siamese_index_search(NULL, r.vectors, 1, 2, NULL, idx, d),
                 SIAMESE_ERR_INVALID_ARG);
    search_refused(index, "nq (the number of queries) is negative (nq -1", r.vectors, -1, 2, NULL,
                   idx, d);
    search_refused(index, "k (neighbours per query) is below 1 (nq 1, k 0)", r.vectors, 1, 0, NULL,
                   idx, d);
    search_refused(index, "k (neighbours per query) is below 1 (nq 1, k -3)", r.vectors, 1, -3,
                   NULL, idx, d);
    search_refused(index, "no queries given", NULL, 1, 2, NULL, idx, d);
    search_refused(index, "no out_index given", r.vectors, 1, 2, NULL, NULL, d);
    search_refused(index, "no out_distance given", r.vectors, 1, 2, NULL, idx, NULL);
    cr_assert_eq(siamese_index_search(index, NULL, 0, 2, NULL, NULL, NULL), SIAMESE_OK);
    cr_assert_eq(siamese_index_search(index, r.vectors, 1, 4, NULL, idx, d), SIAMESE_OK);
    cr_assert_str_empty(siamese_index_errmsg(index));
    cr_assert_eq(idx[0], 0);
    siamese_index_free(index);
}

/* The sharded search (one process: the plain search of the index) refuses the same arguments and
 * a NULL out, each named, out left empty; nq 0 needs no buffers; a good search after a refused one
 * leaves no message. */
Test(index, search_shards_arguments_are_named) {
    siamese_index *index = new_index();
    rows r;
    make_rows(&r, 4, "s", 22);
    cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_OK);
    siamese_shard_hits hits;
    cr_assert_eq(siamese_index_search_shards(NULL, r.vectors, 1, 2, &hits),
                 SIAMESE_ERR_INVALID_ARG);
    shards_refused(index, "nq (the number of queries) is negative (nq -1, k 2)", r.vectors, -1, 2,
                   &hits);
    shards_refused(index, "k (neighbours per query) is below 1 (nq 1, k 0)", r.vectors, 1, 0,
                   &hits);
    shards_refused(index, "no queries given (queries is NULL) (nq 1, k 2)", NULL, 1, 2, &hits);
    cr_assert(!hits.rows && !hits.distances && !hits.items && hits.nq == 0, "out left empty");
    shards_refused(index, "no out given (nq 1, k 2)", r.vectors, 1, 2, NULL);
    cr_assert_eq(siamese_index_search_shards(index, NULL, 0, 2, NULL), SIAMESE_OK);
    cr_assert_eq(siamese_index_search_shards(index, NULL, 0, 2, &hits), SIAMESE_OK);
    cr_assert(!hits.rows && hits.nq == 0, "nq 0: out empty");
    cr_assert_eq(siamese_index_search_shards(index, r.vectors + DIM, 1, 5, &hits), SIAMESE_OK, "%s",
                 siamese_index_errmsg(index));
    cr_assert_str_empty(siamese_index_errmsg(index));
    cr_assert(hits.nq == 1 && hits.k == 5);
    cr_assert_eq(hits.rows[0], 1);
    cr_assert_str_eq(hits.items[0], "s1");
    cr_assert_str_eq(hits.classes[0], "b");
    cr_assert_eq(hits.rows[4], -1, "k above the row count: the last slot is empty");
    siamese_shard_hits_free(&hits);
    siamese_index_free(index);
}

/* Writes bytes [0, size) of src to dst, optionally flipping one byte. */
static void copy_damaged(const char *src, const char *dst, size_t size, long flip) {
    size_t n;
    unsigned char *data = tu_read_file(src, &n);
    cr_assert_not_null(data);
    if (size > n) size = n;
    if (flip >= 0) data[flip] ^= 0x5a;
    FILE *fp = fopen(dst, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(data, 1, size, fp), size);
    fclose(fp);
    free(data);
}

static void assert_refused(const char *path) {
    siamese_index *index = NULL;
    siamese_status st = siamese_index_open(path, &index);
    cr_assert_neq(st, SIAMESE_OK, "%s opened", path);
    cr_assert_not_null(index);
    cr_assert(strstr(siamese_index_errmsg(index), path), "message names the file: %s",
              siamese_index_errmsg(index));
    siamese_index_free(index);
}

Test(index, truncated_or_corrupt_files_are_refused) {
    rows r;
    make_rows(&r, 12, "img", 10);
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_OK);
    const char *good = tu_path(tu_temp, "good.index"), *badp = tu_path(tu_temp, "bad.index");
    cr_assert_eq(siamese_index_save(index, good), SIAMESE_OK);
    siamese_index_free(index);
    size_t size;
    free(tu_read_file(good, &size));
    copy_damaged(good, badp, size - 7, -1); /* truncated data */
    assert_refused(badp);
    copy_damaged(good, badp, 100, -1); /* truncated header */
    assert_refused(badp);
    copy_damaged(good, badp, size, 20); /* a byte of the JSON header */
    assert_refused(badp);
    copy_damaged(good, badp, 0, -1); /* empty */
    assert_refused(badp);
    assert_refused(tu_path(tu_temp, "missing.index"));
    /* a model file is safetensors but not an index */
    const char *model_path = tu_path(tu_temp, "m.safetensors");
    cr_assert_eq(siamese_model_save(model, model_path), SIAMESE_OK);
    assert_refused(model_path);
}

/* An index file whose row 3 holds value at element 2 opens (its rows stay unread), and its first
 * search is refused, naming the file, the row and its item. */
static void assert_bad_row_refused(float value, const char *name, const char *what) {
    rows r;
    make_rows(&r, 8, "img", 11);
    r.vectors[3 * DIM + 2] = value;
    siamese_index *index = new_index();
    cr_assert_eq(siamese_index_add(index, &r.e), SIAMESE_OK);
    const char *path = tu_path(tu_temp, name);
    cr_assert_eq(siamese_index_save(index, path), SIAMESE_OK);
    siamese_index_free(index);
    index = open_index(path);
    int idx[2];
    float d[2];
    cr_assert_eq(siamese_index_search(index, r.vectors, 1, 2, NULL, idx, d), SIAMESE_ERR_FORMAT,
                 "a search of %s was not refused", name);
    const char *msg = siamese_index_errmsg(index);
    char want[512];
    snprintf(want, sizeof want, "%s: the embedding of row 3 (img3) holds %s at element 2", path,
             what);
    cr_assert(strstr(msg, want), "message '%s' lacks '%s'", msg, want);
    siamese_index_free(index);
}

Test(index, rows_holding_nan_or_inf_are_refused) {
    assert_bad_row_refused(NAN, "nan.index", "NaN");
    assert_bad_row_refused(-INFINITY, "inf.index", "an infinite value");
}

Test(index, empty_index_saves_and_searches) {
    siamese_index *index = new_index();
    const char *path = tu_path(tu_temp, "empty.index");
    cr_assert_eq(siamese_index_save(index, path), SIAMESE_OK, "%s", siamese_index_errmsg(index));
    siamese_index_free(index);
    index = open_index(path);
    cr_assert_eq(siamese_index_count(index), 0);
    float q[DIM] = {0};
    int idx[2];
    float d[2];
    cr_assert_eq(siamese_index_search(index, q, 1, 2, NULL, idx, d), SIAMESE_OK);
    cr_assert_eq(idx[0], -1);
    cr_assert(isinf(d[1]));
    siamese_index_free(index);
}

/* Pages of [p, p + size) resident in memory, by mincore. */
static size_t resident_pages(const void *p, size_t size) {
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t begin = (uintptr_t)p / page * page, end = (uintptr_t)p + size;
    size_t n = (end - begin + page - 1) / page, count = 0;
    unsigned char *v = malloc(n);
    cr_assert_not_null(v);
    cr_assert_eq(mincore((void *)begin, end - begin, v), 0);
    for (size_t i = 0; i < n; i++) count += v[i] & 1;
    free(v);
    return count;
}

Test(index, open_maps_the_embeddings_without_reading_them) {
    /* 65536 x 256 floats = 64 MB of embeddings, dropped from the page cache before opening; the
     * kernel's read-ahead around the header and the items (8 MB each here) may bring back some */
    enum { N = 65536, D = 256 };
    siamese_model_params p = tu_model_params("linear(256)", 1, 1, 1, 3);
    siamese_model *wide = tu_create_model(&p);
    float *vectors = malloc((size_t)N * D * sizeof(float));
    char **names = malloc(N * sizeof(char *)), *text = malloc((size_t)N * 16);
    cr_assert(vectors && names && text);
    tu_fill_uniform(vectors, (size_t)N * D, -1, 1, 13);
    for (int i = 0; i < N; i++) {
        names[i] = text + (size_t)i * 16;
        snprintf(names[i], 16, "n%d", i);
    }
    siamese_embeddings e = {.count = N, .dim = D, .vectors = vectors, .names = names};
    siamese_index *index = NULL;
    cr_assert_eq(siamese_index_create(wide, NULL, &index), SIAMESE_OK);
    cr_assert_eq(siamese_index_add(index, &e), SIAMESE_OK);
    const char *path = tu_path(tu_temp, "big.index");
    cr_assert_eq(siamese_index_save(index, path), SIAMESE_OK);
    siamese_index_free(index);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);

    index = open_index(path);
    const float *rows = siamese_index_vector(index, 0);
    size_t bytes = (size_t)N * D * sizeof(float), total = bytes / (size_t)sysconf(_SC_PAGESIZE);
    size_t before = resident_pages(rows, bytes);
    if (before == total) cr_skip_test("the page cache kept the whole file");
    cr_assert(before < total / 2, "open read %zu of %zu pages of embeddings", before, total);
    int idx[1];
    float d[1];
    cr_assert_eq(siamese_index_search(index, vectors + 7 * D, 1, 1, NULL, idx, d), SIAMESE_OK);
    cr_assert_eq(idx[0], 7);
    size_t after = resident_pages(rows, bytes);
    cr_assert(after > total * 9 / 10, "a search reads the mapping: %zu -> %zu of %zu pages", before,
              after, total);
    siamese_index_free(index);
    siamese_model_free(wide);
    free(vectors);
    free(names);
    free(text);
}
