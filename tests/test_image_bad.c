/* Bad input: empty, truncated, flipped, absurd sizes, over the limits, unreadable. Every case is
 * an error with a message (or, for flipped bytes in formats without checksums, a valid image);
 * never a crash or a leak (run under ASan/LSan). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "image_fixtures.h"

#define MAX_FIXTURES 128

static int load_fixtures(char names[][256]) {
    static char lines[MAX_FIXTURES][256];
    int n = if_manifest(IF_DIR "/manifest.txt", lines, MAX_FIXTURES);
    for (int i = 0; i < n; i++) {
        char name[128];
        sscanf(lines[i], "%127s", name);
        snprintf(names[i], 256, IF_DIR "/src/%s", name);
    }
    return n;
}

static uint8_t *read_fixture(const char *name, size_t *size) {
    uint8_t *data = tu_read_file(tu_source_path(name), size);
    cr_assert_not_null(data, "cannot read %s", name);
    return data;
}

/* Decodes from memory, asserting it fails with a message and leaves no image. */
static siamese_status expect_failure(const uint8_t *data, size_t size, const sm_image_options *o,
                                     const char *what) {
    sm_image img;
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = sm_image_load_memory(data, size, "case", o, &img, &err);
    cr_expect_neq(st, SIAMESE_OK, "%s: decoded although it should fail", what);
    cr_expect_null(img.data, "%s", what);
    cr_expect(strncmp(err.msg, "case: ", 6) == 0 && strlen(err.msg) > 8, "%s: message '%s'", what,
              err.msg);
    if (st == SIAMESE_OK) sm_image_free(&img);
    return st;
}

Test(image_bad, empty_and_truncated_files_fail) {
    static char names[MAX_FIXTURES][256];
    int n = load_fixtures(names);
    cr_assert_geq(n, 45);
    sm_image_options o = if_opts(3, 16, 16);
    cr_expect_eq(expect_failure((const uint8_t *)"", 0, &o, "zero length"), SIAMESE_ERR_FORMAT);
    for (int i = 0; i < n; i++) {
        size_t size;
        uint8_t *data = read_fixture(names[i], &size);
        size_t cuts[] = {1, 2, 7, size / 4, size / 2, size * 3 / 4};
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            char what[300];
            snprintf(what, sizeof what, "%s cut to %zu of %zu bytes", names[i], cuts[c], size);
            uint8_t *copy = malloc(cuts[c]); /* exact-size buffer: ASan sees any over-read */
            memcpy(copy, data, cuts[c]);
            expect_failure(copy, cuts[c], &o, what);
            free(copy);
        }
        free(data);
    }
}

Test(image_bad, flipped_bytes_never_crash) {
    static char names[MAX_FIXTURES][256];
    int n = load_fixtures(names);
    sm_image_options o = if_opts(3, 16, 16);
    int failures = 0, cases = 0;
    for (int i = 0; i < n; i++) {
        size_t size;
        uint8_t *data = read_fixture(names[i], &size);
        const int is_png = sm_image_detect(data, size) == SM_IMAGE_PNG;
        for (int k = 0; k < 24; k++) {
            size_t pos = (size_t)k * 2654435761u % size;
            uint8_t *copy = malloc(size);
            memcpy(copy, data, size);
            copy[pos] ^= (uint8_t)(0x5A + k);
            sm_image img;
            sm_err err;
            siamese_status st = sm_image_load_memory(copy, size, "flip", &o, &img, &err);
            cases++;
            if (st == SIAMESE_OK) {
                cr_expect(img.width == 16 && img.height == 16 && img.channels == 3 && img.data);
                sm_image_free(&img);
            } else {
                failures++;
                cr_expect_null(img.data);
                cr_expect(strlen(err.msg) > 6);
            }
            /* every byte before a PNG's IEND chunk is covered by a CRC or the signature */
            if (is_png && pos < size - 12)
                cr_expect_neq(st, SIAMESE_OK, "%s: flip at %zu undetected", names[i], pos);
            free(copy);
        }
        free(data);
    }
    cr_expect_gt(failures, cases / 4, "only %d of %d flips detected", failures, cases);
}

static void put_be16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put_be32(uint8_t *p, uint32_t v) {
    put_be16(p, v >> 16);
    put_be16(p + 2, v & 0xFFFF);
}

static void png_set_size(uint8_t *d, uint32_t w, uint32_t h) {
    put_be32(d + 16, w);
    put_be32(d + 20, h);
    put_be32(d + 29, (uint32_t)crc32(0, d + 12, 17)); /* keep the IHDR CRC valid */
}

static size_t jpeg_sof(const uint8_t *d, size_t size) {
    for (size_t i = 2; i + 9 < size; i++)
        if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC1 || d[i + 1] == 0xC2)) return i;
    return 0;
}

Test(image_bad, absurd_header_sizes) {
    sm_image_options o = if_opts(3, 16, 16);
    size_t size;
    uint8_t *png = read_fixture(IF_DIR "/src/png_rgb8.png", &size);
    png_set_size(png, 0x7FFFFFFF, 23);
    cr_expect_eq(expect_failure(png, size, &o, "PNG width 2^31-1"), SIAMESE_ERR_LIMIT);
    png_set_size(png, 16000, 17000);
    cr_expect_eq(expect_failure(png, size, &o, "PNG 16000x17000"), SIAMESE_ERR_LIMIT);
    png_set_size(png, 0, 23);
    cr_expect_eq(expect_failure(png, size, &o, "PNG width 0"), SIAMESE_ERR_FORMAT);
    free(png);

    uint8_t *jpg = read_fixture(IF_DIR "/src/jpeg_420.jpg", &size);
    size_t sof = jpeg_sof(jpg, size);
    cr_assert_gt(sof, 0);
    put_be16(jpg + sof + 5, 65000);
    put_be16(jpg + sof + 7, 65000);
    cr_expect_eq(expect_failure(jpg, size, &o, "JPEG 65000x65000"), SIAMESE_ERR_LIMIT);
    put_be16(jpg + sof + 5, 0);
    expect_failure(jpg, size, &o, "JPEG height 0");
    free(jpg);

    uint8_t *gif = read_fixture(IF_DIR "/src/gif_plain.gif", &size);
    gif[6] = gif[7] = 0xFF; /* logical screen 65535 wide */
    cr_expect_eq(expect_failure(gif, size, &o, "GIF screen 65535"), SIAMESE_ERR_LIMIT);
    free(gif);

    const char *pnm[] = {"P6\n99999999 99999999\n255\n",
                         "P6\n37 23\n0\n",
                         "P6\n37 23\n70000\n",
                         "P6\n37 99999999999\n255\n",
                         "P5\n-3 4\n255\n",
                         "P5 3 4 255 ab",
                         "P2\n2 1\n7\n3 9\n",
                         "P1\n2 2\n0 1 2 0\n",
                         "P3\n1 1\n255\n1 2\n"};
    for (size_t i = 0; i < sizeof pnm / sizeof pnm[0]; i++)
        expect_failure((const uint8_t *)pnm[i], strlen(pnm[i]), &o, pnm[i]);
    cr_expect_eq(expect_failure((const uint8_t *)pnm[0], strlen(pnm[0]), &o, pnm[0]),
                 SIAMESE_ERR_LIMIT);
}

/* A JPEG whose markers end before any frame header (only tables, or cut after a marker):
 * TurboJPEG's header call then succeeds without setting the size, which was read uninitialized
 * ("invalid image size -220664736x32765", different each run). */
Test(image_bad, jpeg_without_a_frame_header) {
    sm_image_options o = if_opts(3, 16, 16);
    sm_image img;
    sm_err err;
    static const uint8_t cut_after_app0[] = {0xFF, 0xD8, 0xFF, 0xE0, 'g', 'a', 'r', 'b', 'a', 'g'};
    uint8_t tables_only[73] = {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43}; /* SOI, DQT of 67 bytes */
    memset(tables_only + 7, 1, 64);                                 /* table 0: all ones */
    tables_only[71] = 0xFF, tables_only[72] = 0xD9;                 /* EOI */
    const struct {
        const uint8_t *data;
        size_t size;
    } cases[] = {{cut_after_app0, sizeof cut_after_app0}, {tables_only, sizeof tables_only}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(sm_image_load_memory(cases[i].data, cases[i].size, "case", &o, &img, &err),
                     SIAMESE_ERR_FORMAT, "case %zu", i);
        cr_expect(strstr(err.msg, "case: bad JPEG header: no image") == err.msg, "case %zu: %s", i,
                  err.msg);
        cr_expect_null(img.data);
    }
}

Test(image_bad, limits_are_enforced_for_every_format) {
    static char names[MAX_FIXTURES][256];
    int n = load_fixtures(names);
    for (int i = 0; i < n; i++) {
        sm_image img;
        sm_err err;
        sm_image_options o = if_opts(3, 0, 0);
        o.max_side = 36; /* fixtures are 37x23 (GIF canvases too) */
        cr_expect_eq(sm_image_load_file(tu_source_path(names[i]), &o, &img, &err),
                     SIAMESE_ERR_LIMIT, "%s", names[i]);
        cr_expect(strstr(err.msg, names[i]) != NULL && strstr(err.msg, "limit"), "%s", err.msg);
        o.max_side = 37;
        o.max_pixels = 37 * 23 - 1;
        if (strstr(names[i], "progressive")) o.max_pixels = 120 * 90 - 1, o.max_side = 120;
        cr_expect_eq(sm_image_load_file(tu_source_path(names[i]), &o, &img, &err),
                     SIAMESE_ERR_LIMIT, "%s", names[i]);
        o.max_pixels++;
        cr_expect_eq(sm_image_load_file(tu_source_path(names[i]), &o, &img, &err), SIAMESE_OK,
                     "%s: %s", names[i], err.msg);
        sm_image_free(&img);
    }
}

Test(image_bad, unreadable_and_non_image_files) {
    sm_image img;
    sm_err err;
    sm_image_options o = if_opts(3, 16, 16);
    cr_expect_eq(sm_image_load_file("/nonexistent/dog.jpg", &o, &img, &err), SIAMESE_ERR_IO);
    cr_expect(strstr(err.msg, "/nonexistent/dog.jpg: cannot open") == err.msg, "%s", err.msg);
    char *dir = tu_make_temp_dir();
    cr_assert_not_null(dir);
    cr_expect_eq(sm_image_load_file(dir, &o, &img, &err), SIAMESE_ERR_IO, "%s", err.msg);
    char path[4200];
    snprintf(path, sizeof path, "%s/notes.jpg", dir);
    FILE *fp = fopen(path, "w");
    fputs("these are not pixels\n", fp);
    fclose(fp);
    cr_expect_eq(sm_image_load_file(path, &o, &img, &err), SIAMESE_ERR_FORMAT);
    cr_expect(strstr(err.msg, "notes.jpg") && strstr(err.msg, "not a recognized image"), "%s",
              err.msg);
    snprintf(path, sizeof path, "%s/empty.png", dir);
    fclose(fopen(path, "w"));
    cr_expect_eq(sm_image_load_file(path, &o, &img, &err), SIAMESE_ERR_FORMAT);
    cr_expect(strstr(err.msg, "empty.png: empty file") != NULL, "%s", err.msg);
    cr_expect_null(img.data);
    tu_rmtree(dir);
    free(dir);
}
