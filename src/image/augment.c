/* Augmentation of one 8-bit image: random resized crop, horizontal flip, affine distortion and
 * elastic displacements composed into one inverse map sampled bilinearly, then brightness and
 * contrast jitter. */
#include "image/augment.h"

#include <math.h>
#include <string.h>

#include "base/rng.h"

#define STREAM_AUGMENT 0x4155474d454e5400ull /* "AUGMENT" */
#define CROP_TRIES 10                        /* as torchvision's RandomResizedCrop */

uint64_t sm_augment_sample_seed(uint64_t seed, int epoch, int64_t index, int side) {
    uint64_t x = seed ^ STREAM_AUGMENT;
    uint64_t h = sm_splitmix64(&x);
    x = h ^ (uint64_t)(uint32_t)epoch;
    h = sm_splitmix64(&x);
    x = h ^ (uint64_t)index;
    h = sm_splitmix64(&x);
    x = h ^ (uint64_t)side;
    return sm_splitmix64(&x);
}

static double uniform(sm_rng *rng, double lo, double hi) {
    return lo + (hi - lo) * sm_rng_uniform(rng);
}

/* The draws of one sample. */
typedef struct draws {
    double angle, shear_x, shear_y, scale_x, scale_y, shift_x, shift_y;
    int flip;
    double crop_x, crop_y, crop_w, crop_h; /* crop box in source pixels */
    double brightness, contrast;
} draws;

/* torchvision's RandomResizedCrop box: area fraction in [lo, hi], aspect ratio log-uniform in
 * [3/4, 4/3]; after CROP_TRIES misses, the whole image. */
static void draw_crop(const sm_augment *a, sm_rng *rng, int w, int h, draws *d) {
    d->crop_x = d->crop_y = 0;
    d->crop_w = w;
    d->crop_h = h;
    if (a->crop_lo <= 0) return;
    for (int i = 0; i < CROP_TRIES; i++) {
        double area = (double)w * h * uniform(rng, a->crop_lo, a->crop_hi);
        double ratio = exp(uniform(rng, log(3.0 / 4.0), log(4.0 / 3.0)));
        double cw = sqrt(area * ratio), ch = sqrt(area / ratio);
        if (cw <= w && ch <= h) {
            d->crop_w = cw;
            d->crop_h = ch;
            d->crop_x = uniform(rng, 0, w - cw);
            d->crop_y = uniform(rng, 0, h - ch);
            return;
        }
    }
}

/* Every value is drawn in a fixed order, so one term never shifts another's draws; rng goes on
 * to draw the elastic field. */
static void draw_all(const sm_augment *a, sm_rng *rng, int w, int h, draws *d) {
    const double pi = 3.14159265358979323846;
    d->angle = uniform(rng, -a->rotate, a->rotate) * pi / 180.0;
    d->shear_x = uniform(rng, -a->shear, a->shear);
    d->shear_y = uniform(rng, -a->shear, a->shear);
    int scaled = a->scale_lo > 0;
    d->scale_x = scaled ? uniform(rng, a->scale_lo, a->scale_hi) : 1.0;
    d->scale_y = scaled ? uniform(rng, a->scale_lo, a->scale_hi) : 1.0;
    d->shift_x = uniform(rng, -a->translate, a->translate);
    d->shift_y = uniform(rng, -a->translate, a->translate);
    d->flip = sm_rng_uniform(rng) < a->flip;
    d->brightness = uniform(rng, 1 - a->brightness, 1 + a->brightness);
    d->contrast = uniform(rng, 1 - a->contrast, 1 + a->contrast);
    draw_crop(a, rng, w, h, d);
}

static int has_geometry(const sm_augment *a) {
    return a->rotate > 0 || a->shear > 0 || a->scale_lo > 0 || a->translate > 0 || a->crop_lo > 0 ||
           a->elastic_alpha > 0;
}

/* ---- the elastic field (Simard, Steinkraus & Platt 2003) */

/* The Gaussian's half width: 3 sigma, rounded up. */
static int elastic_radius(const sm_augment *a) { return (int)ceil(3 * a->elastic_sigma); }

size_t sm_augment_scratch_floats(const sm_augment *aug, int width, int height) {
    if (!(aug->elastic_alpha > 0)) return 0;
    size_t r = (size_t)elastic_radius(aug);
    return 3 * (size_t)width * height + (r + 1) + (size_t)width + (size_t)height;
}

/* scale / (the kernel weights k[0..r] that fall inside a line of n values) at each of its n
 * positions: dividing by it makes each blurred value a weighted mean of in-image values, so the
 * edges renormalise instead of fading, and a mean of values in [-1, 1] stays in [-1, 1]. */
static void edge_norms(const float *k, int r, int n, float scale, float *out) {
    for (int i = 0; i < n; i++) {
        float sum = k[0];
        for (int t = 1; t <= r; t++) sum += (i - t >= 0 ? k[t] : 0) + (i + t < n ? k[t] : 0);
        out[i] = scale / sum;
    }
}

/* The truncated Gaussian k[0..r] along each row of a w x h plane, tap by tap over whole rows
 * (contiguous, so the compiler vectorises), then each column position x times norm[x]. */
static void blur_rows(const float *in, float *out, int w, int h, const float *k, int r,
                      const float *norm) {
    for (int y = 0; y < h; y++) {
        const float *row = in + (size_t)y * w;
        float *o = out + (size_t)y * w;
        for (int x = 0; x < w; x++) o[x] = k[0] * row[x];
        for (int t = 1; t <= r && t < w; t++) {
            for (int x = 0; x + t < w; x++) o[x] += k[t] * row[x + t];
            for (int x = t; x < w; x++) o[x] += k[t] * row[x - t];
        }
        for (int x = 0; x < w; x++) o[x] *= norm[x];
    }
}

/* The same down the columns: output row y is the weighted sum of input rows y - r .. y + r
 * inside the plane, times norm[y]. */
static void blur_columns(const float *in, float *out, int w, int h, const float *k, int r,
                         const float *norm) {
    for (int y = 0; y < h; y++) {
        int lo = y - r < 0 ? 0 : y - r, hi = y + r >= h ? h - 1 : y + r;
        float *o = out + (size_t)y * w;
        for (int x = 0; x < w; x++) o[x] = 0;
        for (int j = lo; j <= hi; j++) {
            float kj = norm[y] * k[j > y ? j - y : y - j];
            const float *row = in + (size_t)j * w;
            for (int x = 0; x < w; x++) o[x] += kj * row[x];
        }
    }
}

/* Draws dx then dy, each value uniform in [-1, 1] at every output pixel, from rng (after every
 * other draw), and smooths each plane by the separable Gaussian (O(w h r)) into displacements of
 * up to alpha pixels: scratch[0, w*h) = dx, scratch[w*h, 2*w*h) = dy, then a blur plane, the
 * kernel and the edge norms (sm_augment_scratch_floats floats in all). */
static void draw_field(const sm_augment *a, sm_rng *rng, int w, int h, float *scratch) {
    size_t n = (size_t)w * h;
    int r = elastic_radius(a);
    float *tmp = scratch + 2 * n, *k = tmp + n, *norm_x = k + r + 1, *norm_y = norm_x + w;
    for (int t = 0; t <= r; t++)
        k[t] = (float)exp(-(double)t * t / (2 * a->elastic_sigma * a->elastic_sigma));
    edge_norms(k, r, w, 1.0f, norm_x);
    edge_norms(k, r, h, (float)a->elastic_alpha, norm_y);
    for (size_t i = 0; i < 2 * n; i++) scratch[i] = (float)(2 * sm_rng_uniform(rng) - 1);
    for (int plane = 0; plane < 2; plane++) {
        blur_rows(scratch + plane * n, tmp, w, h, k, r, norm_x);
        blur_columns(tmp, scratch + plane * n, w, h, k, r, norm_y);
    }
}

/* fx held within [-1, n]: beyond it the edge extension gives the same value, and the int
 * conversion below stays defined however far a tiny scale throws the point. */
static double within_edges(double fx, int n) { return fx < -1 ? -1 : fx > n ? n : fx; }

/* Bilinear sample of channel c at continuous point (x, y) (pixel centers at i + 0.5), the edge
 * pixels extended outwards. */
static double sample(const siamese_image *im, int c, double x, double y) {
    double fx = within_edges(x - 0.5, im->width), fy = within_edges(y - 0.5, im->height);
    double x0f = floor(fx), y0f = floor(fy);
    double wx = fx - x0f, wy = fy - y0f;
    int x0 = (int)x0f, y0 = (int)y0f, x1 = x0 + 1, y1 = y0 + 1;
    int wmax = im->width - 1, hmax = im->height - 1;
    x0 = x0 < 0 ? 0 : x0 > wmax ? wmax : x0;
    x1 = x1 < 0 ? 0 : x1 > wmax ? wmax : x1;
    y0 = y0 < 0 ? 0 : y0 > hmax ? hmax : y0;
    y1 = y1 < 0 ? 0 : y1 > hmax ? hmax : y1;
    const uint8_t *p = im->data;
    size_t stride = (size_t)im->width * im->channels;
    double p00 = p[y0 * stride + (size_t)x0 * im->channels + c];
    double p01 = p[y0 * stride + (size_t)x1 * im->channels + c];
    double p10 = p[y1 * stride + (size_t)x0 * im->channels + c];
    double p11 = p[y1 * stride + (size_t)x1 * im->channels + c];
    return (1 - wy) * ((1 - wx) * p00 + wx * p01) + wy * ((1 - wx) * p10 + wx * p11);
}

static uint8_t to_byte(double v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5); }

/* Output pixel (x, y) takes the source point: move by its elastic displacement (field, or NULL
 * for none; in output pixels, so the distortion acts last, on the affine-distorted image), undo
 * the affine distortion (rotation R, shear Sh, scale S about the center, then the shift), mirror
 * when flipped, then map into the crop box. */
static void warp(const draws *d, const float *field, const siamese_image *src, siamese_image *dst) {
    int w = src->width, h = src->height, ch = src->channels;
    double cs = cos(d->angle), sn = sin(d->angle);
    /* M = R * Sh * S */
    double m00 = (cs - sn * d->shear_y) * d->scale_x, m01 = (cs * d->shear_x - sn) * d->scale_y;
    double m10 = (sn + cs * d->shear_y) * d->scale_x, m11 = (sn * d->shear_x + cs) * d->scale_y;
    double det = m00 * m11 - m01 * m10;
    if (fabs(det) < 1e-12) det = det < 0 ? -1e-12 : 1e-12;
    double i00 = m11 / det, i01 = -m01 / det, i10 = -m10 / det, i11 = m00 / det;
    double cx = w / 2.0, cy = h / 2.0, kx = d->crop_w / w, ky = d->crop_h / h;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            double ux = x + 0.5 - cx - d->shift_x, uy = y + 0.5 - cy - d->shift_y;
            if (field) {
                ux += field[(size_t)y * w + x];
                uy += field[(size_t)w * h + (size_t)y * w + x];
            }
            double qx = i00 * ux + i01 * uy + cx, qy = i10 * ux + i11 * uy + cy;
            if (d->flip) qx = w - qx;
            double sx = d->crop_x + qx * kx, sy = d->crop_y + qy * ky;
            uint8_t *out = dst->data + ((size_t)y * w + x) * ch;
            for (int c = 0; c < ch; c++) out[c] = to_byte(sample(src, c, sx, sy));
        }
    }
}

/* An exact mirror image (no resampling). */
static void mirror(const siamese_image *src, siamese_image *dst) {
    int w = src->width, ch = src->channels;
    for (int y = 0; y < src->height; y++) {
        const uint8_t *in = src->data + (size_t)y * w * ch;
        uint8_t *out = dst->data + (size_t)y * w * ch;
        for (int x = 0; x < w; x++) memcpy(out + (size_t)x * ch, in + (size_t)(w - 1 - x) * ch, ch);
    }
}

/* The grey level of pixel i (Pillow's L weights for RGB, else the mean of the channels). */
static double grey(const uint8_t *px, int ch) {
    if (ch >= 3) return 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
    return px[0];
}

/* Brightness scales every value; contrast then blends with the mean grey level (torchvision's
 * adjust_brightness and adjust_contrast), rounded once at the end. */
static void jitter(const draws *d, siamese_image *im) {
    size_t pixels = (size_t)im->width * im->height;
    int ch = im->channels;
    double mean = 0;
    for (size_t i = 0; i < pixels; i++) mean += grey(im->data + i * ch, ch);
    mean = mean / (double)pixels * d->brightness;
    double k = d->contrast * d->brightness, offset = (1 - d->contrast) * mean;
    for (size_t i = 0; i < pixels * ch; i++) im->data[i] = to_byte(k * im->data[i] + offset);
}

void sm_augment_apply(const sm_augment *aug, uint64_t sample_seed, const siamese_image *src,
                      siamese_image *dst, float *scratch) {
    size_t bytes = (size_t)src->width * src->height * src->channels;
    draws d;
    sm_rng rng;
    sm_rng_seed(&rng, sample_seed);
    draw_all(aug, &rng, src->width, src->height, &d);
    int elastic = aug->elastic_alpha > 0 && scratch;
    if (elastic) draw_field(aug, &rng, src->width, src->height, scratch);
    if (has_geometry(aug)) warp(&d, elastic ? scratch : NULL, src, dst);
    else if (d.flip) mirror(src, dst);
    else memcpy(dst->data, src->data, bytes);
    if (aug->brightness > 0 || aug->contrast > 0) jitter(&d, dst);
}
