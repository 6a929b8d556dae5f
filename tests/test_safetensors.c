/* safetensors reader/writer: round trips, every malformed-file case, and atomic writes. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "model/safetensors.h"
#include "test_util.h"

TestSuite(safetensors, .init = tu_temp_init, .fini = tu_temp_fini);

static const char *tmp_path(const char *name) { return tu_path(tu_temp, name); }

static void write_bytes(const char *path, const void *data, size_t size) {
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(data, 1, size, fp), size);
    fclose(fp);
}

/* Writes a file from a JSON header (unpadded) and data_len bytes of data (values 0..255). */
static const char *write_raw(const char *name, const char *header, size_t data_len) {
    size_t hlen = strlen(header);
    unsigned char *buf = malloc(8 + hlen + data_len + 1);
    cr_assert_not_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++) buf[8 + hlen + i] = (unsigned char)i;
    const char *path = tmp_path(name);
    write_bytes(path, buf, 8 + hlen + data_len);
    free(buf);
    return path;
}

/* Reads path expecting failure with status; checks the message names the file and has `reason`. */
static void expect_bad(const char *path, siamese_status status, const char *reason) {
    sm_st_file *file = (sm_st_file *)1;
    sm_err err;
    sm_err_clear(&err);
    siamese_status got = sm_safetensors_read(path, &file, &err);
    cr_assert_eq(got, status, "%s: got status %d (%s), want %d", path, got, err.msg, status);
    cr_assert_null(file);
    cr_assert_not_null(strstr(err.msg, path), "message does not name the file: %s", err.msg);
    cr_assert_not_null(strstr(err.msg, reason), "message '%s' lacks '%s'", err.msg, reason);
}

static sm_st_file *expect_good(const char *path) {
    sm_st_file *file = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_safetensors_read(path, &file, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_not_null(file);
    return file;
}

/* ---------------------------------------------------------------- a good file */

static float w[2][3] = {{1.5f, -2.0f, 3.25f}, {0.0f, 1e-30f, -7.0f}};
static int64_t counter = 42;
static double scalar = 3.14159;
static uint8_t bytes5[5] = {1, 2, 3, 4, 5};

static const char *write_good(const char *name) {
    sm_st_tensor t[5] = {
        {.name = "cnn1.weight", .dtype = SM_DT_F32, .ndim = 2, .shape = {2, 3}, .data = w},
        {.name = "bytes", .dtype = SM_DT_U8, .ndim = 1, .shape = {5}, .data = bytes5},
        {.name = "bn1.num_batches_tracked", .dtype = SM_DT_I64, .ndim = 0, .data = &counter},
        {.name = "empty", .dtype = SM_DT_F32, .ndim = 2, .shape = {0, 4}, .data = NULL},
        {.name = "pi", .dtype = SM_DT_F64, .ndim = 1, .shape = {1}, .data = &scalar},
    };
    sm_st_meta meta[2] = {{"format", "siamese/1"}, {"arch", "conv(4,k=3) relu"}};
    const char *path = tmp_path(name);
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_safetensors_write(path, t, 5, meta, 2, &err), SIAMESE_OK, "%s", err.msg);
    return path;
}

Test(safetensors, round_trip_keeps_names_order_shapes_data_and_metadata) {
    const char *path = write_good("good.safetensors");
    sm_st_file *f = expect_good(path);
    cr_assert_eq(sm_safetensors_count(f), 5);
    const char *order[5] = {"cnn1.weight", "bytes", "bn1.num_batches_tracked", "empty", "pi"};
    for (int i = 0; i < 5; i++) cr_assert_str_eq(sm_safetensors_get(f, i)->name, order[i]);
    cr_assert_null(sm_safetensors_get(f, 5));
    cr_assert_null(sm_safetensors_get(f, -1));

    const sm_st_tensor *t = sm_safetensors_find(f, "cnn1.weight");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, SM_DT_F32);
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[0], 2);
    cr_assert_eq(t->shape[1], 3);
    cr_assert_eq(memcmp(t->data, w, sizeof w), 0);

    t = sm_safetensors_find(f, "bytes");
    cr_assert_eq(t->dtype, SM_DT_U8);
    cr_assert_eq(memcmp(t->data, bytes5, 5), 0);

    t = sm_safetensors_find(f, "bn1.num_batches_tracked");
    cr_assert_eq(t->dtype, SM_DT_I64);
    cr_assert_eq(t->ndim, 0);
    int64_t c;
    memcpy(&c, t->data, 8);
    cr_assert_eq(c, 42);

    t = sm_safetensors_find(f, "empty");
    cr_assert_eq(t->shape[0], 0);
    cr_assert_eq(t->shape[1], 4);

    t = sm_safetensors_find(f, "pi");
    double d;
    memcpy(&d, t->data, 8);
    cr_assert_eq(d, scalar);
    cr_assert_null(sm_safetensors_find(f, "nope"));

    cr_assert_str_eq(sm_safetensors_meta(f, "format"), "siamese/1");
    cr_assert_str_eq(sm_safetensors_meta(f, "arch"), "conv(4,k=3) relu");
    cr_assert_null(sm_safetensors_meta(f, "margin"));
    cr_assert_eq(sm_safetensors_meta_count(f), 2);
    cr_assert_str_eq(sm_safetensors_meta_get(f, 0).key, "format");
    sm_safetensors_free(f);
}

Test(safetensors, layout_is_aligned_with_metadata_first) {
    const char *path = write_good("layout.safetensors");
    size_t size;
    unsigned char *buf = tu_read_file(path, &size);
    cr_assert_not_null(buf);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    cr_assert_eq((8 + hlen) % 8, 0, "data section not 8-byte aligned");
    size_t data_len = sizeof w + 5 + 8 + 0 + 8;
    cr_assert_eq(size, 8 + hlen + data_len, "file length %zu != 8 + %llu + %zu", size,
                 (unsigned long long)hlen, data_len);
    cr_assert_eq(strncmp((char *)buf + 8, "{\"__metadata__\":", 16), 0, "header: %.60s", buf + 8);
    cr_assert_eq(memcmp(buf + 8 + hlen, w, sizeof w), 0, "first tensor's data not first");
    free(buf);
}

Test(safetensors, tensors_listed_in_data_order_even_if_header_is_not) {
    const char *path = write_raw("order.safetensors",
                                 "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
                                 "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                                 4);
    sm_st_file *f = expect_good(path);
    cr_assert_str_eq(sm_safetensors_get(f, 0)->name, "a");
    cr_assert_str_eq(sm_safetensors_get(f, 1)->name, "b");
    cr_assert_eq(((const unsigned char *)sm_safetensors_find(f, "b")->data)[0], 2);
    sm_safetensors_free(f);
}

Test(safetensors, empty_header_object_is_a_valid_empty_file) {
    sm_st_file *f = expect_good(write_raw("empty.safetensors", "{}", 0));
    cr_assert_eq(sm_safetensors_count(f), 0);
    sm_safetensors_free(f);
}

Test(safetensors, unaligned_data_section_still_reads) {
    /* Header of 3 bytes past an 8-byte boundary: the reader realigns the data itself. */
    const char *path =
        write_raw("unaligned.safetensors",
                  "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    sm_st_file *f = expect_good(path);
    const sm_st_tensor *t = sm_safetensors_find(f, "x");
    cr_assert_eq(((uintptr_t)t->data) % 8, 0);
    cr_assert_eq(((const unsigned char *)t->data)[7], 7);
    sm_safetensors_free(f);
}

/* ---------------------------------------------------------------- malformed files */

Test(safetensors, missing_file_is_an_io_error) {
    expect_bad(tmp_path("does-not-exist.safetensors"), SIAMESE_ERR_IO, "cannot open");
}

Test(safetensors, zero_length_file) {
    const char *path = tmp_path("zero.safetensors");
    write_bytes(path, "", 0);
    expect_bad(path, SIAMESE_ERR_FORMAT, "too short");
}

Test(safetensors, truncated_at_every_interesting_point) {
    const char *good = write_good("whole.safetensors");
    size_t size;
    unsigned char *buf = tu_read_file(good, &size);
    cr_assert_not_null(buf);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    size_t cuts[] = {
        1, 4, 7, 8, 9, 8 + hlen / 2, 8 + hlen - 1, 8 + hlen, 8 + hlen + 1, 8 + hlen + 20, size - 1};
    const char *reasons[] = {"too short",      "too short",      "too short",     "past the end",
                             "past the end",   "past the end",   "past the end",  "beyond the end",
                             "beyond the end", "beyond the end", "beyond the end"};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "cut%zu.safetensors", cuts[i]);
        const char *path = tmp_path(name);
        write_bytes(path, buf, cuts[i]);
        expect_bad(path, SIAMESE_ERR_FORMAT, reasons[i]);
    }
    free(buf);
}

Test(safetensors, header_length_larger_than_file) {
    unsigned char buf[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    const char *path = tmp_path("hlen.safetensors");
    write_bytes(path, buf, sizeof buf);
    expect_bad(path, SIAMESE_ERR_FORMAT, "header length runs past the end");
}

Test(safetensors, header_length_absurd) {
    unsigned char buf[16] = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
    const char *path = tmp_path("huge.safetensors");
    write_bytes(path, buf, sizeof buf);
    expect_bad(path, SIAMESE_ERR_FORMAT,
               "not a safetensors file (its first 8 bytes are not a plausible header length)");
}

/* A PNG given as a model (or any file of another kind) is named as not a safetensors file. */
Test(safetensors, png_is_not_safetensors) {
    unsigned char buf[32] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                             0,    0,   0,   13,  'I',  'H',  'D',  'R'};
    const char *path = tmp_path("picture.png");
    write_bytes(path, buf, sizeof buf);
    expect_bad(path, SIAMESE_ERR_FORMAT, "picture.png: not a safetensors file (its first 8 bytes");
}

Test(safetensors, header_not_json) {
    expect_bad(write_raw("notjson.safetensors", "{\"a\": [1, 2", 0), SIAMESE_ERR_FORMAT,
               "not valid JSON");
    expect_bad(write_raw("binary.safetensors", "\x01\x02\x03\x04", 0), SIAMESE_ERR_FORMAT,
               "not valid JSON");
}

Test(safetensors, header_not_an_object) {
    expect_bad(write_raw("array.safetensors", "[1,2,3]", 0), SIAMESE_ERR_FORMAT,
               "not a JSON object");
}

Test(safetensors, unknown_dtype_is_named) {
    expect_bad(write_raw("dtype.safetensors",
                         "{\"x\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
               SIAMESE_ERR_FORMAT, "tensor 'x' has unknown dtype 'F7'");
    expect_bad(write_raw("dtype2.safetensors",
                         "{\"x\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
               SIAMESE_ERR_FORMAT, "dtype is not a string");
}

Test(safetensors, shape_does_not_match_offsets) {
    expect_bad(write_raw("shape.safetensors",
                         "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
               SIAMESE_ERR_FORMAT, "tensor 'x': data_offsets [0, 8] do not match its shape");
}

Test(safetensors, bad_shapes) {
    expect_bad(write_raw("neg.safetensors",
                         "{\"x\":{\"dtype\":\"U8\",\"shape\":[-2],\"data_offsets\":[0,2]}}", 2),
               SIAMESE_ERR_FORMAT, "negative or non-integer");
    expect_bad(write_raw("real.safetensors",
                         "{\"x\":{\"dtype\":\"U8\",\"shape\":[2.0],\"data_offsets\":[0,2]}}", 2),
               SIAMESE_ERR_FORMAT, "negative or non-integer");
    expect_bad(write_raw("notarr.safetensors",
                         "{\"x\":{\"dtype\":\"U8\",\"shape\":2,\"data_offsets\":[0,2]}}", 2),
               SIAMESE_ERR_FORMAT, "shape is not an array");
    expect_bad(write_raw("overflow.safetensors",
                         "{\"x\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,16],"
                         "\"data_offsets\":[0,2]}}",
                         2),
               SIAMESE_ERR_FORMAT, "too many elements");
    expect_bad(write_raw("dims.safetensors",
                         "{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                         "\"data_offsets\":[0,1]}}",
                         1),
               SIAMESE_ERR_FORMAT, "too many dimensions");
}

Test(safetensors, missing_or_unknown_fields) {
    expect_bad(write_raw("missing.safetensors", "{\"x\":{\"dtype\":\"U8\",\"shape\":[2]}}", 2),
               SIAMESE_ERR_FORMAT, "lacks dtype, shape or data_offsets");
    expect_bad(write_raw("extra.safetensors",
                         "{\"x\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],"
                         "\"stride\":[1]}}",
                         2),
               SIAMESE_ERR_FORMAT, "unknown field 'stride'");
    expect_bad(write_raw("entry.safetensors", "{\"x\":[1]}", 0), SIAMESE_ERR_FORMAT,
               "tensor 'x' is not a JSON object");
}

Test(safetensors, bad_data_offsets) {
    expect_bad(write_raw("gap.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                         "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}",
                         5),
               SIAMESE_ERR_FORMAT, "tensor 'b': data_offsets [3, 5] leave a gap");
    expect_bad(write_raw("overlap.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                         "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[2,5]}}",
                         5),
               SIAMESE_ERR_FORMAT, "tensor 'b': data_offsets [2, 5] overlap the previous tensor");
    expect_bad(write_raw("same.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                         "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                         2),
               SIAMESE_ERR_FORMAT, "overlap the previous tensor");
    expect_bad(write_raw("start.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", 3),
               SIAMESE_ERR_FORMAT, "tensor 'a': data_offsets [1, 3] leave a gap");
    expect_bad(write_raw("oob.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 2),
               SIAMESE_ERR_FORMAT, "tensor 'a': data_offsets [0, 4] lie beyond the end");
    expect_bad(write_raw("reversed.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,0]}}", 2),
               SIAMESE_ERR_FORMAT, "end before they begin");
    expect_bad(write_raw("three.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2,4]}}", 2),
               SIAMESE_ERR_FORMAT, "not a pair of non-negative integers");
    expect_bad(write_raw("negoff.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[-2,0]}}", 2),
               SIAMESE_ERR_FORMAT, "not a pair of non-negative integers");
}

Test(safetensors, trailing_garbage_after_last_tensor) {
    expect_bad(write_raw("trail.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 7),
               SIAMESE_ERR_FORMAT, "5 bytes of trailing data");
}

Test(safetensors, duplicate_tensor_names) {
    expect_bad(write_raw("dup.safetensors",
                         "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                         "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}",
                         4),
               SIAMESE_ERR_FORMAT, "repeats a name");
}

Test(safetensors, metadata_must_be_strings) {
    expect_bad(write_raw("metanum.safetensors", "{\"__metadata__\":{\"margin\":2.0}}", 0),
               SIAMESE_ERR_FORMAT, "value of 'margin' is not a string");
    expect_bad(write_raw("metaarr.safetensors", "{\"__metadata__\":[\"x\"]}", 0),
               SIAMESE_ERR_FORMAT, "__metadata__ is not a JSON object");
    expect_bad(write_raw("metadup.safetensors", "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0),
               SIAMESE_ERR_FORMAT, "repeats a name");
}

Test(safetensors, empty_name_rejected) {
    expect_bad(write_raw("noname.safetensors",
                         "{\"\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
               SIAMESE_ERR_FORMAT, "empty name");
}

/* ---------------------------------------------------------------- writer checks */

Test(safetensors, writer_rejects_duplicate_names_and_bad_shapes) {
    float x[2] = {1, 2};
    sm_st_tensor t[2] = {
        {.name = "a", .dtype = SM_DT_F32, .ndim = 1, .shape = {2}, .data = x},
        {.name = "a", .dtype = SM_DT_F32, .ndim = 1, .shape = {2}, .data = x},
    };
    sm_err err;
    const char *path = tmp_path("w.safetensors");
    cr_assert_eq(sm_safetensors_write(path, t, 2, NULL, 0, &err), SIAMESE_ERR_INVALID_ARG);
    cr_assert_not_null(strstr(err.msg, "duplicate tensor name 'a'"), "%s", err.msg);
    t[1].name = "b";
    t[1].shape[0] = -1;
    cr_assert_eq(sm_safetensors_write(path, t, 2, NULL, 0, &err), SIAMESE_ERR_INVALID_ARG);
    cr_assert_not_null(strstr(err.msg, "'b' has an invalid shape"), "%s", err.msg);
    t[1].name = "__metadata__";
    t[1].shape[0] = 2;
    cr_assert_eq(sm_safetensors_write(path, t, 2, NULL, 0, &err), SIAMESE_ERR_INVALID_ARG);
    FILE *fp = fopen(path, "rb");
    cr_assert_null(fp, "a failed write left a file behind");
}

/* ---------------------------------------------------------------- atomic writes */

static int count_temp_files(const char *dir) { return tu_count_entries_containing(dir, ".tmp."); }

Test(safetensors, write_into_missing_folder_fails_cleanly) {
    float x[2] = {1, 2};
    sm_st_tensor t = {.name = "a", .dtype = SM_DT_F32, .ndim = 1, .shape = {2}, .data = x};
    const char *path = tmp_path("no/such/folder/m.safetensors");
    sm_err err;
    cr_assert_eq(sm_safetensors_write(path, &t, 1, NULL, 0, &err), SIAMESE_ERR_IO);
    cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "No such file or directory"), "%s", err.msg);
}

Test(safetensors, failed_write_leaves_old_file_and_no_temp_files) {
    const char *path = write_good("keep.safetensors");
    size_t old_size;
    unsigned char *old = tu_read_file(path, &old_size);
    cr_assert_not_null(old);

    /* Make the write itself fail part-way: cap file size well below what we write. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t n = 100000;
    float *big = calloc(n, sizeof *big);
    cr_assert_not_null(big);
    sm_st_tensor t = {
        .name = "big", .dtype = SM_DT_F32, .ndim = 1, .shape = {(int64_t)n}, .data = big};
    sm_err err;
    sm_err_clear(&err);
    siamese_status status = sm_safetensors_write(path, &t, 1, NULL, 0, &err);
    lim.rlim_cur = RLIM_INFINITY;
    setrlimit(RLIMIT_FSIZE, &lim);
    free(big);
    cr_assert_eq(status, SIAMESE_ERR_IO, "status %d: %s", status, err.msg);
    cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);

    size_t now_size;
    unsigned char *now = tu_read_file(path, &now_size);
    cr_assert_not_null(now);
    cr_assert_eq(now_size, old_size);
    cr_assert_eq(memcmp(now, old, old_size), 0, "old file changed by a failed write");
    cr_assert_eq(count_temp_files(tu_temp), 0, "temporary file left behind");
    free(now);
    free(old);
}

Test(safetensors, successful_write_replaces_old_file_and_leaves_no_temp_files) {
    const char *path = write_good("replace.safetensors");
    uint8_t one = 9;
    sm_st_tensor t = {.name = "only", .dtype = SM_DT_U8, .ndim = 1, .shape = {1}, .data = &one};
    sm_err err;
    cr_assert_eq(sm_safetensors_write(path, &t, 1, NULL, 0, &err), SIAMESE_OK, "%s", err.msg);
    sm_st_file *f = expect_good(path);
    cr_assert_eq(sm_safetensors_count(f), 1);
    cr_assert_eq(sm_safetensors_meta_count(f), 0);
    cr_assert_eq(*(const uint8_t *)sm_safetensors_get(f, 0)->data, 9);
    sm_safetensors_free(f);
    cr_assert_eq(count_temp_files(tu_temp), 0);
}

/* A replaced file keeps its permissions (a read-only model stays read-only); a new one gets the
 * umask's. */
Test(safetensors, replacing_a_file_keeps_its_permissions) {
    const char *path = write_good("mode.safetensors");
    cr_assert_eq(chmod(path, 0444), 0);
    uint8_t one = 9;
    sm_st_tensor t = {.name = "only", .dtype = SM_DT_U8, .ndim = 1, .shape = {1}, .data = &one};
    sm_err err;
    cr_assert_eq(sm_safetensors_write(path, &t, 1, NULL, 0, &err), SIAMESE_OK, "%s", err.msg);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 07777, 0444, "mode %o", (unsigned)(sb.st_mode & 07777));
    const char *fresh = tmp_path("fresh_mode.safetensors");
    mode_t mask = umask(022);
    cr_assert_eq(sm_safetensors_write(fresh, &t, 1, NULL, 0, &err), SIAMESE_OK, "%s", err.msg);
    umask(mask);
    cr_assert_eq(stat(fresh, &sb), 0);
    cr_assert_eq(sb.st_mode & 07777, 0644, "mode %o", (unsigned)(sb.st_mode & 07777));
}

/* Checks that path holds old's bytes, then frees old. */
static void expect_bytes(const char *path, unsigned char *old, size_t old_size) {
    size_t now_size;
    unsigned char *now = tu_read_file(path, &now_size);
    cr_assert_eq(now_size, old_size);
    cr_assert_eq(memcmp(now, old, old_size), 0);
    free(now);
    free(old);
}

/* siamese_remove_unfinished_writes removes the temporary file of a write in progress, whose
 * commit then fails naming the file, the old file intact; committed writes are not touched. */
Test(safetensors, unfinished_writes_are_removed_on_request) {
    const char *path = write_good("unfinished.safetensors");
    size_t old_size;
    unsigned char *old = tu_read_file(path, &old_size);
    sm_atomic_file af;
    sm_err err;
    cr_assert_eq(sm_atomic_open(&af, path, &err), SIAMESE_OK, "%s", err.msg);
    fputs("half-written", af.fp);
    cr_assert_eq(count_temp_files(tu_temp), 1);
    siamese_remove_unfinished_writes();
    cr_assert_eq(count_temp_files(tu_temp), 0);
    cr_assert_eq(sm_atomic_commit(&af, &err), SIAMESE_ERR_IO);
    cr_assert(strstr(err.msg, path), "%s", err.msg);
    expect_bytes(path, old, old_size);
    siamese_remove_unfinished_writes(); /* nothing in progress: nothing removed */
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
}

Test(safetensors, atomic_abort_removes_temp_file) {
    const char *path = write_good("abort.safetensors");
    size_t old_size;
    unsigned char *old = tu_read_file(path, &old_size);
    sm_atomic_file af;
    sm_err err;
    cr_assert_eq(sm_atomic_open(&af, path, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(count_temp_files(tu_temp), 1);
    fputs("half-written", af.fp);
    sm_atomic_abort(&af);
    sm_atomic_abort(&af); /* harmless twice */
    cr_assert_eq(count_temp_files(tu_temp), 0);
    expect_bytes(path, old, old_size);
}

Test(safetensors, read_file_reports_path_and_reason) {
    unsigned char *data;
    size_t size;
    sm_err err;
    const char *path = tmp_path("absent.bin");
    cr_assert_eq(sm_read_file(path, &data, &size, &err), SIAMESE_ERR_IO);
    cr_assert_null(data);
    cr_assert_not_null(strstr(err.msg, path));
    cr_assert_not_null(strstr(err.msg, "No such file"), "%s", err.msg);
    cr_assert_eq(sm_read_file(tu_temp, &data, &size, &err), SIAMESE_ERR_IO);
    cr_assert_not_null(strstr(err.msg, "not a regular file"), "%s", err.msg);
    write_bytes(path, "abc", 3);
    cr_assert_eq(sm_read_file(path, &data, &size, &err), SIAMESE_OK);
    cr_assert_eq(size, 3);
    cr_assert_str_eq((char *)data, "abc");
    free(data);
}
