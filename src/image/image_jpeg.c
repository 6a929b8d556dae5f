/* JPEG decoding with TurboJPEG: grey, YCbCr and CMYK/YCCK (converted as Pillow does), optional
 * DCT-scaled decoding for large downscales; truncation and corrupt-data warnings are errors. */
#include <string.h>
#include <turbojpeg.h>

#include "image/image.h"

/* The fast path scales by 1/2, 1/4 or 1/8 in the DCT, keeping the scaled image at least
 * min_ratio times the target in both sides; the exact resize does the rest. Measured on the
 * 2,240 Stanford Dogs photos of classes n0208* and n0210* (224x224, max |fast - exact| per
 * sample): remaining ratio 1: 46-67, 2: 14-16, 4: 4-8, 8: 4-5, 14-18: 3. So the +-3 guarantee
 * (fast_jpeg = 1) needs the scaled image >= 16x the target; fast_jpeg = 2 trades accuracy for
 * speed with a ratio of 2 (max 14-16, mean 0.6-1.6 levels). */
#define SAFE_MIN_RATIO 16
#define AGGRESSIVE_MIN_RATIO 2

/* The largest DCT downscale (denominator 1, 2, 4 or 8) that keeps both sides >= ratio * target. */
static int fast_denominator(int width, int height, const sm_image_options *opts) {
    if (!opts || opts->fast_jpeg <= 0 || opts->width <= 0 || opts->height <= 0) return 1;
    const int64_t ratio = opts->fast_jpeg == 1 ? SAFE_MIN_RATIO : AGGRESSIVE_MIN_RATIO;
    int best = 1;
    for (int d = 2; d <= 8; d *= 2) {
        int w = (width + d - 1) / d, h = (height + d - 1) / d; /* TJSCALED rounds up */
        if ((int64_t)w >= ratio * opts->width && (int64_t)h >= ratio * opts->height) best = d;
    }
    return best;
}

/* Benign warnings Pillow ignores too; every other warning (premature end, bad Huffman code...)
 * means truncated or corrupt data and is an error. */
static int warning_is_benign(const char *msg) { return strstr(msg, "extraneous bytes") != NULL; }

/* Adobe APP14 marker: Pillow then reads CMYK as inverted ("CMYK;I"). */
static int has_adobe_marker(const uint8_t *data, size_t size) {
    size_t pos = 2;
    while (pos + 4 <= size && data[pos] == 0xFF) {
        uint8_t marker = data[pos + 1];
        if (marker == 0xDA || marker == 0xD9) break; /* start of scan / end of image */
        size_t len = ((size_t)data[pos + 2] << 8) | data[pos + 3];
        if (marker == 0xEE && len >= 7 && pos + 9 <= size &&
            memcmp(data + pos + 4, "Adobe", 5) == 0)
            return 1;
        pos += 2 + len;
    }
    return 0;
}

/* Pillow's cmyk2rgb: nk = 255 - k; out = nk - c * nk / 255 (rounded as MULDIV255). */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, size_t pixels, int inverted) {
    for (size_t i = 0; i < pixels; i++) {
        int c[4];
        for (int j = 0; j < 4; j++) c[j] = inverted ? 255 - in[4 * i + j] : in[4 * i + j];
        int nk = 255 - c[3];
        for (int j = 0; j < 3; j++) {
            int tmp = c[j] * nk + 128;
            int v = nk - (((tmp >> 8) + tmp) >> 8);
            out[3 * i + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static siamese_status decode_pixels(tjhandle tj, const uint8_t *data, size_t size, int width,
                                    int height, int colorspace, int denom, sm_image *out,
                                    sm_err *err) {
    const int sw = (width + denom - 1) / denom, sh = (height + denom - 1) / denom;
    const int cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    const int grey = colorspace == TJCS_GRAY;
    const int channels = grey ? 1 : cmyk ? 4 : 3;
    const int pixel_format = grey ? TJPF_GRAY : cmyk ? TJPF_CMYK : TJPF_RGB;
    siamese_status st = sm_image_alloc(out, sw, sh, channels, err);
    if (st != SIAMESE_OK) return st;
    if (tjDecompress2(tj, data, (unsigned long)size, out->data, sw, 0, sh, pixel_format,
                      TJFLAG_LIMITSCANS) != 0) {
        const char *msg = tjGetErrorStr2(tj);
        if (tjGetErrorCode(tj) != TJERR_WARNING || !warning_is_benign(msg)) {
            sm_image_free(out);
            return sm_fail(err, SIAMESE_ERR_FORMAT, "corrupt or truncated JPEG: %s", msg);
        }
    }
    if (cmyk) {
        sm_image rgb;
        st = sm_image_alloc(&rgb, sw, sh, 3, err);
        if (st == SIAMESE_OK)
            cmyk_to_rgb(out->data, rgb.data, (size_t)sw * sh, has_adobe_marker(data, size));
        sm_image_free(out);
        if (st == SIAMESE_OK) *out = rgb;
    }
    return st;
}

siamese_status sm_decode_jpeg(const uint8_t *data, size_t size, const sm_image_options *opts,
                              sm_image *out, sm_err *err) {
    memset(out, 0, sizeof *out);
    if (size > 0xFFFFFFFFu) return sm_fail(err, SIAMESE_ERR_LIMIT, "JPEG file too large");
    tjhandle tj = tjInitDecompress();
    if (!tj) return sm_fail(err, SIAMESE_ERR_NOMEM, "cannot create a JPEG decoder");
    /* TurboJPEG returns success without setting these when the markers end before a frame */
    int width = 0, height = 0, subsamp = 0, colorspace = 0;
    siamese_status st = SIAMESE_OK;
    if (tjDecompressHeader3(tj, data, (unsigned long)size, &width, &height, &subsamp,
                            &colorspace) != 0)
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "bad JPEG header: %s", tjGetErrorStr2(tj));
    else if (width == 0 && height == 0)
        st = sm_fail(err, SIAMESE_ERR_FORMAT,
                     "bad JPEG header: no image (only tables, or cut before the frame header)");
    if (st == SIAMESE_OK) st = sm_image_check_size(width, height, opts, err);
    if (st == SIAMESE_OK)
        st = decode_pixels(tj, data, size, width, height, colorspace,
                           fast_denominator(width, height, opts), out, err);
    tjDestroy(tj);
    return st;
}
