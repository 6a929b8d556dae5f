/* Pillow-exact resize(size, BILINEAR): antialiased triangle filter, separable, horizontal pass
 * first into an 8-bit intermediate, fixed-point weights (22 fractional bits), clip8 rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#define PRECISION_BITS (32 - 8 - 2)
#define HALF_ONE ((int32_t)1 << (PRECISION_BITS - 1))

/* Weights of one axis: for output index i, input taps bounds[2i] .. bounds[2i] + bounds[2i+1] - 1
 * with fixed-point weights k[i * ksize + t]. */
typedef struct axis_coeffs {
    int ksize;
    int *bounds;
    int32_t *k;
} axis_coeffs;

static double triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void axis_free(axis_coeffs *c) {
    free(c->bounds);
    free(c->k);
    c->bounds = NULL;
    c->k = NULL;
}

/* The filter support grows with the downscale factor (antialiasing); taps are found by rounding
 * center -/+ support, weights normalized to sum 1 in double, then rounded to fixed point
 * (away from zero at .5), all exactly in the order Pillow computes them. */
static siamese_status axis_precompute(int in_size, int out_size, axis_coeffs *c, sm_err *err) {
    c->bounds = NULL;
    c->k = NULL;
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    c->ksize = (int)ceil(support) * 2 + 1;
    size_t n = (size_t)out_size * (size_t)c->ksize;
    double *w = malloc((size_t)c->ksize * sizeof *w);
    c->bounds = malloc((size_t)out_size * 2 * sizeof *c->bounds);
    c->k = calloc(n, sizeof *c->k);
    if (!w || !c->bounds || !c->k) {
        free(w);
        axis_free(c);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory for resize weights");
    }
    const double ss = 1.0 / filterscale;
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double total = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * ss);
            total += w[x];
        }
        int32_t *k = c->k + (size_t)xx * (size_t)c->ksize;
        for (int x = 0; x < xmax; x++) {
            double v = total != 0.0 ? w[x] / total : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(w);
    return SIAMESE_OK;
}

static inline uint8_t clip8(int32_t v) {
    if (v >= ((int32_t)1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* One row, horizontally: out[xx][c] = clip8(sum_t in[xmin + t][c] * k[t]). */
static void horizontal_row(const uint8_t *in, uint8_t *out, int out_w, int channels,
                           const axis_coeffs *c) {
    const int ks = c->ksize;
    if (channels == 3) {
        for (int xx = 0; xx < out_w; xx++) {
            const int32_t *k = c->k + (size_t)xx * ks;
            const uint8_t *p = in + (size_t)c->bounds[2 * xx] * 3;
            const int n = c->bounds[2 * xx + 1];
            int32_t s0 = HALF_ONE, s1 = HALF_ONE, s2 = HALF_ONE;
            for (int t = 0; t < n; t++) {
                s0 += p[3 * t] * k[t];
                s1 += p[3 * t + 1] * k[t];
                s2 += p[3 * t + 2] * k[t];
            }
            out[3 * xx] = clip8(s0);
            out[3 * xx + 1] = clip8(s1);
            out[3 * xx + 2] = clip8(s2);
        }
        return;
    }
    if (channels == 1) {
        for (int xx = 0; xx < out_w; xx++) {
            const int32_t *k = c->k + (size_t)xx * ks;
            const uint8_t *p = in + c->bounds[2 * xx];
            const int n = c->bounds[2 * xx + 1];
            int32_t s = HALF_ONE;
            for (int t = 0; t < n; t++) s += p[t] * k[t];
            out[xx] = clip8(s);
        }
        return;
    }
    for (int xx = 0; xx < out_w; xx++) {
        const int32_t *k = c->k + (size_t)xx * ks;
        const uint8_t *p = in + (size_t)c->bounds[2 * xx] * channels;
        const int n = c->bounds[2 * xx + 1];
        for (int ch = 0; ch < channels; ch++) {
            int32_t s = HALF_ONE;
            for (int t = 0; t < n; t++) s += p[t * channels + ch] * k[t];
            out[xx * channels + ch] = clip8(s);
        }
    }
}

/* One output row, vertically: accumulate whole input rows times their weight (vectorizable). */
static void vertical_row(const uint8_t *in, size_t stride, uint8_t *out, size_t row_len,
                         const int32_t *k, int ymin, int n, int32_t *acc) {
    for (size_t i = 0; i < row_len; i++) acc[i] = HALF_ONE;
    for (int t = 0; t < n; t++) {
        const uint8_t *row = in + (size_t)(ymin + t) * stride;
        const int32_t w = k[t];
        for (size_t i = 0; i < row_len; i++) acc[i] += row[i] * w;
    }
    for (size_t i = 0; i < row_len; i++) out[i] = clip8(acc[i]);
}

siamese_status sm_image_resize(const sm_image *src, int width, int height, sm_image *out,
                               sm_err *err) {
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "invalid resize target %dx%d", width, height);
    const int ch = src->channels;
    siamese_status st = sm_image_alloc(out, width, height, ch, err);
    if (st != SIAMESE_OK) return st;
    const int need_h = width != src->width, need_v = height != src->height;
    if (!need_h && !need_v) {
        memcpy(out->data, src->data, (size_t)width * (size_t)height * (size_t)ch);
        return SIAMESE_OK;
    }
    axis_coeffs hc = {0, NULL, NULL}, vc = {0, NULL, NULL};
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;
    st = axis_precompute(src->height, height, &vc, err);
    if (st == SIAMESE_OK) st = axis_precompute(src->width, width, &hc, err);
    if (st != SIAMESE_OK) goto done;

    const uint8_t *vin = src->data; /* input of the vertical pass */
    size_t vstride = (size_t)src->width * ch;
    int yfirst = 0;
    if (need_h) {
        yfirst = vc.bounds[0];
        int ylast = vc.bounds[2 * height - 2] + vc.bounds[2 * height - 1];
        size_t tstride = (size_t)width * ch;
        tmp = malloc(tstride * (size_t)(ylast - yfirst));
        if (!tmp) {
            st = sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory for a resize buffer");
            goto done;
        }
        for (int y = yfirst; y < ylast; y++)
            horizontal_row(src->data + (size_t)y * src->width * ch,
                           tmp + (size_t)(y - yfirst) * tstride, width, ch, &hc);
        vin = tmp;
        vstride = tstride;
        if (!need_v) {
            memcpy(out->data, tmp, tstride * (size_t)height);
            goto done;
        }
    }
    size_t row_len = (size_t)width * ch;
    acc = malloc(row_len * sizeof *acc);
    if (!acc) {
        st = sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory for a resize buffer");
        goto done;
    }
    for (int yy = 0; yy < height; yy++)
        vertical_row(vin, vstride, out->data + (size_t)yy * row_len, row_len,
                     vc.k + (size_t)yy * vc.ksize, vc.bounds[2 * yy] - yfirst,
                     vc.bounds[2 * yy + 1], acc);
done:
    free(acc);
    free(tmp);
    axis_free(&hc);
    axis_free(&vc);
    if (st != SIAMESE_OK) sm_image_free(out);
    return st;
}
