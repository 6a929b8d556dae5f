/* PBM/PGM/PPM decoding (binary P4-P6 and ASCII P1-P3) with Pillow 9.4's header rules and its
 * scaling of maxval != 255 (round half to even of v / maxval * 255, 16-bit grey clipped). */
#include <math.h>
#include <string.h>

#include "image/image.h"

#define MAX_TOKEN 10 /* Pillow rejects longer header and ASCII data tokens */

typedef struct pnm_reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
} pnm_reader;

static int is_space(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Skips a comment: everything up to and including the next CR or LF. */
static void skip_comment(pnm_reader *r) {
    while (r->pos < r->size) {
        uint8_t c = r->data[r->pos++];
        if (c == '\r' || c == '\n') break;
    }
}

/* Reads one decimal token (header or ASCII raster): leading whitespace and comments skipped,
 * the whitespace that ends it consumed. Returns 0 and fills *value, -1 at end of data, -2 for a
 * malformed token. */
static int read_number(pnm_reader *r, unsigned long *value) {
    char token[MAX_TOKEN + 1];
    int len = 0;
    while (r->pos < r->size) {
        uint8_t c = r->data[r->pos++];
        if (is_space(c)) {
            if (len == 0) continue;
            break;
        }
        if (c == '#') {
            skip_comment(r);
            continue;
        }
        if (len == MAX_TOKEN) return -2;
        token[len++] = (char)c;
    }
    if (len == 0) return -1;
    unsigned long v = 0;
    for (int i = 0; i < len; i++) {
        if (token[i] < '0' || token[i] > '9') return -2;
        v = v * 10 + (unsigned long)(token[i] - '0');
    }
    *value = v;
    return 0;
}

static siamese_status header_number(pnm_reader *r, const char *what, unsigned long *value,
                                    sm_err *err) {
    int rc = read_number(r, value);
    if (rc == -1) return sm_fail(err, SIAMESE_ERR_FORMAT, "truncated PNM header (no %s)", what);
    if (rc == -2) return sm_fail(err, SIAMESE_ERR_FORMAT, "malformed PNM %s", what);
    return SIAMESE_OK;
}

/* Pillow: round(value / maxval * out_max), Python's round = half to even. */
static unsigned scale_sample(unsigned long v, unsigned long maxval, unsigned out_max) {
    double q = rint((double)v / (double)maxval * (double)out_max);
    return q > out_max ? out_max : (unsigned)q;
}

/* The 8-bit result of a sample as Pillow's decode then convert gives it: 8-bit modes scale to
 * 255; grey with maxval > 255 is mode I scaled to 65535, which convert clips to 255. */
static uint8_t final_sample(unsigned long v, unsigned long maxval, int grey_i) {
    if (grey_i) {
        unsigned v16 =
            maxval == 65535 ? (unsigned)(v > 65535 ? 65535 : v) : scale_sample(v, maxval, 65535);
        return (uint8_t)(v16 > 255 ? 255 : v16);
    }
    if (maxval == 255) return (uint8_t)(v > 255 ? 255 : v);
    return (uint8_t)scale_sample(v, maxval, 255);
}

static siamese_status decode_bitmap(pnm_reader *r, int ascii, sm_image *out, sm_err *err) {
    const int w = out->width, h = out->height;
    if (ascii) {
        size_t n = (size_t)w * h, i = 0;
        while (i < n && r->pos < r->size) {
            uint8_t c = r->data[r->pos++];
            if (c == '#') skip_comment(r);
            else if (c == '0' || c == '1') out->data[i++] = c == '1' ? 0 : 255;
            else if (!is_space(c))
                return sm_fail(err, SIAMESE_ERR_FORMAT, "invalid PBM sample '%c'", c);
        }
        if (i < n) return sm_fail(err, SIAMESE_ERR_FORMAT, "truncated PBM data");
        return SIAMESE_OK;
    }
    size_t row_bytes = ((size_t)w + 7) / 8;
    if (row_bytes > (r->size - r->pos) / (size_t)h)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "truncated PBM data");
    for (int y = 0; y < h; y++) {
        const uint8_t *row = r->data + r->pos + (size_t)y * row_bytes;
        for (int x = 0; x < w; x++)
            out->data[(size_t)y * w + x] = (row[x >> 3] >> (7 - (x & 7)) & 1) ? 0 : 255;
    }
    return SIAMESE_OK;
}

static siamese_status decode_ascii_samples(pnm_reader *r, unsigned long maxval, int grey_i,
                                           sm_image *out, sm_err *err) {
    size_t n = (size_t)out->width * out->height * out->channels;
    for (size_t i = 0; i < n; i++) {
        unsigned long v;
        int rc = read_number(r, &v);
        if (rc == -1) return sm_fail(err, SIAMESE_ERR_FORMAT, "truncated PNM data");
        if (rc == -2) return sm_fail(err, SIAMESE_ERR_FORMAT, "malformed PNM sample");
        if (v > maxval)
            return sm_fail(err, SIAMESE_ERR_FORMAT, "PNM sample %lu exceeds maxval %lu", v, maxval);
        out->data[i] = final_sample(v, maxval, grey_i);
    }
    return SIAMESE_OK;
}

static siamese_status decode_binary_samples(pnm_reader *r, unsigned long maxval, int grey_i,
                                            sm_image *out, sm_err *err) {
    size_t n = (size_t)out->width * out->height * out->channels;
    size_t bytes = maxval > 255 ? 2 : 1;
    if (n > (r->size - r->pos) / bytes)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "truncated PNM data");
    const uint8_t *p = r->data + r->pos;
    if (bytes == 1 && maxval == 255) {
        memcpy(out->data, p, n);
        return SIAMESE_OK;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned long v = bytes == 1 ? p[i] : ((unsigned long)p[2 * i] << 8 | p[2 * i + 1]);
        out->data[i] = final_sample(v, maxval, grey_i);
    }
    return SIAMESE_OK;
}

siamese_status sm_decode_pnm(const uint8_t *data, size_t size, const sm_image_options *opts,
                             sm_image *out, sm_err *err) {
    memset(out, 0, sizeof *out);
    if (size < 3 || data[0] != 'P' || data[1] < '1' || data[1] > '6' || !is_space(data[2]))
        return sm_fail(err, SIAMESE_ERR_FORMAT, "not a PNM file");
    const int kind = data[1] - '0'; /* 1/4 bitmap, 2/5 grey, 3/6 colour */
    const int ascii = kind <= 3, bitmap = kind == 1 || kind == 4, colour = kind == 3 || kind == 6;
    pnm_reader r = {data, size, 3};
    unsigned long w, h, maxval = 1;
    siamese_status st = header_number(&r, "width", &w, err);
    if (st == SIAMESE_OK) st = header_number(&r, "height", &h, err);
    if (st == SIAMESE_OK && !bitmap) st = header_number(&r, "maxval", &maxval, err);
    if (st != SIAMESE_OK) return st;
    if (maxval == 0 || maxval > 65535)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "PNM maxval %lu outside 1..65535", maxval);
    if (w > INT32_MAX || h > INT32_MAX)
        return sm_fail(err, SIAMESE_ERR_LIMIT, "PNM size %lux%lu is too large", w, h);
    st = sm_image_check_size((int)w, (int)h, opts, err);
    if (st == SIAMESE_OK) st = sm_image_alloc(out, (int)w, (int)h, colour ? 3 : 1, err);
    if (st != SIAMESE_OK) return st;
    const int grey_i = !colour && maxval > 255;
    if (bitmap) st = decode_bitmap(&r, ascii, out, err);
    else if (ascii) st = decode_ascii_samples(&r, maxval, grey_i, out, err);
    else st = decode_binary_samples(&r, maxval, grey_i, out, err);
    if (st != SIAMESE_OK) sm_image_free(out);
    return st;
}
