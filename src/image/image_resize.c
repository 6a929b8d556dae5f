/* Pillow-exact resize(size, BILINEAR): antialiased triangle filter, separable, horizontal pass
 * first into an 8-bit intermediate, fixed-point weights (22 fractional bits), clip8 rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

#define PRECISION_BITS (32 - 8 - 2)
#define HALF_ONE ((int32_t)1 << (PRECISION_BITS - 1))

/* Weights of one axis: for output index i, input taps bounds[2i] .. bounds[2i] + bounds[2i+1] - 1
 * with fixed-point weights k[i * ksize + t]. */
typedef struct axis_coeffs {
    int ksize;
    int *bounds;
    int32_t *k;
    /* The same weights over exactly ksize taps starting at start[i] (zero weights pad the window,
     * shifted left at the right border), so inner loops have a fixed trip count. NULL when the
     * input is shorter than ksize. Zero-weight taps add 0: results are identical. */
    int *start;
    int32_t *kpad;
} axis_coeffs;

static double triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void axis_free(axis_coeffs *c) {
    free(c->bounds);
    free(c->k);
    free(c->start);
    free(c->kpad);
    c->bounds = NULL;
    c->k = NULL;
    c->start = NULL;
    c->kpad = NULL;
}

/* Builds start/kpad from bounds/k (see axis_coeffs); leaves them NULL if not possible. */
static void axis_pad(axis_coeffs *c, int in_size, int out_size) {
    const int ks = c->ksize;
    if (in_size < ks) return;
    c->start = malloc((size_t)out_size * sizeof *c->start);
    c->kpad = calloc((size_t)out_size * (size_t)ks, sizeof *c->kpad);
    if (!c->start || !c->kpad) {
        free(c->start);
        free(c->kpad);
        c->start = NULL;
        c->kpad = NULL;
        return;
    }
    for (int i = 0; i < out_size; i++) {
        int xmin = c->bounds[2 * i], n = c->bounds[2 * i + 1];
        int start = xmin + ks > in_size ? in_size - ks : xmin;
        c->start[i] = start;
        for (int t = 0; t < n; t++)
            c->kpad[(size_t)i * ks + (xmin - start) + t] = c->k[(size_t)i * ks + t];
    }
}

/* The filter support grows with the downscale factor (antialiasing); taps are found by rounding
 * center -/+ support, weights normalized to sum 1 in double, then rounded to fixed point
 * (away from zero at .5), all exactly in the order Pillow computes them. */
static siamese_status axis_precompute(int in_size, int out_size, axis_coeffs *c, sm_err *err) {
    c->bounds = NULL;
    c->k = NULL;
    c->start = NULL;
    c->kpad = NULL;
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
    axis_pad(c, in_size, out_size);
    return SIAMESE_OK;
}

/* Pillow's clip8: 255 when v >= 2^30, 0 when v <= 0, else v >> 22. Written branch-free as
 * clamp(v >> 22, 0, 255), which gives the same value for every int32 (arithmetic shift). */
static inline uint8_t clip8(int32_t v) {
    int32_t s = v >> PRECISION_BITS;
    s = s < 0 ? 0 : s;
    return (uint8_t)(s > 255 ? 255 : s);
}

/* One RGB output pixel: the n taps of p (interleaved RGB) weighted by k, each channel rounded
 * by clip8. Inlined, so a constant n unrolls. */
static inline void rgb_taps(const uint8_t *p, const int32_t *k, const int n, uint8_t *out) {
    int32_t s0 = HALF_ONE, s1 = HALF_ONE, s2 = HALF_ONE;
    for (int t = 0; t < n; t++) {
        s0 += p[3 * t] * k[t];
        s1 += p[3 * t + 1] * k[t];
        s2 += p[3 * t + 2] * k[t];
    }
    out[0] = clip8(s0);
    out[1] = clip8(s1);
    out[2] = clip8(s2);
}

/* One grey output pixel: the n taps of p weighted by k, rounded by clip8. */
static inline uint8_t grey_taps(const uint8_t *p, const int32_t *k, const int n) {
    int32_t s = HALF_ONE;
    for (int t = 0; t < n; t++) s += p[t] * k[t];
    return clip8(s);
}

/* RGB rows with a fixed number of taps KS (a constant after inlining: loops unroll). */
static inline void horizontal_rgb_fixed(const uint8_t *in, uint8_t *out, int out_w,
                                        const axis_coeffs *c, const int KS) {
    for (int xx = 0; xx < out_w; xx++)
        rgb_taps(in + (size_t)c->start[xx] * 3, c->kpad + (size_t)xx * KS, KS, out + 3 * xx);
}

static inline void horizontal_grey_fixed(const uint8_t *in, uint8_t *out, int out_w,
                                         const axis_coeffs *c, const int KS) {
    for (int xx = 0; xx < out_w; xx++)
        out[xx] = grey_taps(in + c->start[xx], c->kpad + (size_t)xx * KS, KS);
}

/* The hot loops compiled twice, for AVX2 (32-bit vector multiplies) and the baseline; the
 * loader picks one at run time. Same integer arithmetic, so the same results. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define SM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SM_CLONES
#endif

SM_CLONES static void horizontal_rgb3(const uint8_t *in, uint8_t *out, int out_w,
                                      const axis_coeffs *c) {
    horizontal_rgb_fixed(in, out, out_w, c, 3);
}

SM_CLONES static void horizontal_rgb5(const uint8_t *in, uint8_t *out, int out_w,
                                      const axis_coeffs *c) {
    horizontal_rgb_fixed(in, out, out_w, c, 5);
}

/* One row, horizontally: out[xx][c] = clip8(sum_t in[xmin + t][c] * k[t]). */
static void horizontal_row(const uint8_t *in, uint8_t *out, int out_w, int channels,
                           const axis_coeffs *c) {
    const int ks = c->ksize;
    if (c->kpad && (ks == 3 || ks == 5) && (channels == 3 || channels == 1)) {
        if (channels == 3 && ks == 3) horizontal_rgb3(in, out, out_w, c);
        else if (channels == 3) horizontal_rgb5(in, out, out_w, c);
        else if (ks == 3) horizontal_grey_fixed(in, out, out_w, c, 3);
        else horizontal_grey_fixed(in, out, out_w, c, 5);
        return;
    }
    if (channels == 3) {
        for (int xx = 0; xx < out_w; xx++)
            rgb_taps(in + (size_t)c->bounds[2 * xx] * 3, c->k + (size_t)xx * ks,
                     c->bounds[2 * xx + 1], out + 3 * xx);
        return;
    }
    if (channels == 1) {
        for (int xx = 0; xx < out_w; xx++)
            out[xx] =
                grey_taps(in + c->bounds[2 * xx], c->k + (size_t)xx * ks, c->bounds[2 * xx + 1]);
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

/* One output row from exactly 3 input rows (padded weights of an upscale, the only fixed-tap
 * vertical case): a single vectorizable pass. */
SM_CLONES static void vertical_row3(const uint8_t *in, size_t stride, uint8_t *out, size_t row_len,
                                    const int32_t *k, int start) {
    const uint8_t *r0 = in + (size_t)start * stride, *r1 = r0 + stride, *r2 = r1 + stride;
    const int32_t k0 = k[0], k1 = k[1], k2 = k[2];
    for (size_t i = 0; i < row_len; i++)
        out[i] = clip8(HALF_ONE + r0[i] * k0 + r1[i] * k1 + r2[i] * k2);
}

/* One output row, vertically: accumulate whole input rows times their weight (vectorizable). */
SM_CLONES static void vertical_row(const uint8_t *in, size_t stride, uint8_t *out, size_t row_len,
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
    axis_coeffs hc = {0, NULL, NULL, NULL, NULL}, vc = {0, NULL, NULL, NULL, NULL};
    uint8_t *tmp = NULL;
    size_t tmp_size = 0;
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
        tmp_size = tstride * (size_t)(ylast - yfirst);
        tmp = sm_pixels_alloc(tmp_size);
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
    /* upscaling uses at most 2 taps per output (3 with padding); the padded window may reach
     * rows the horizontal pass skipped only if it starts before yfirst or ends at/after ylast,
     * so the fixed path is taken only when the window stays inside the computed rows */
    const int vrows =
        need_h ? vc.bounds[2 * height - 2] + vc.bounds[2 * height - 1] - yfirst : src->height;
    for (int yy = 0; yy < height; yy++) {
        uint8_t *dst = out->data + (size_t)yy * row_len;
        const int ks = vc.ksize;
        if (vc.kpad && ks == 3 && vc.start[yy] - yfirst >= 0 && vc.start[yy] - yfirst + ks <= vrows)
            vertical_row3(vin, vstride, dst, row_len, vc.kpad + (size_t)yy * ks,
                          vc.start[yy] - yfirst);
        else
            vertical_row(vin, vstride, dst, row_len, vc.k + (size_t)yy * ks,
                         vc.bounds[2 * yy] - yfirst, vc.bounds[2 * yy + 1], acc);
    }
done:
    free(acc);
    sm_pixels_free(tmp, tmp_size);
    axis_free(&hc);
    axis_free(&vc);
    if (st != SIAMESE_OK) sm_image_free(out);
    return st;
}
