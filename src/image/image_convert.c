/* Pillow-exact mode conversion to L (ITU-R 601-2 luma, Pillow's integer rounding) and to RGB. */
#include <string.h>

#include "image/image.h"

/* Pillow's L24: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16 (Convert.c, rgb2l). */
static inline uint8_t luma(const uint8_t *rgb) {
    return (uint8_t)(((uint32_t)rgb[0] * 19595u + (uint32_t)rgb[1] * 38470u +
                      (uint32_t)rgb[2] * 7471u + 0x8000u) >>
                     16);
}

static void to_grey(const uint8_t *in, int in_channels, uint8_t *out, size_t pixels) {
    if (in_channels <= 2) { /* L or LA: take the grey sample, drop alpha */
        for (size_t i = 0; i < pixels; i++) out[i] = in[i * (size_t)in_channels];
    } else { /* RGB or RGBA: luma of the colour samples */
        for (size_t i = 0; i < pixels; i++) out[i] = luma(in + i * (size_t)in_channels);
    }
}

static void to_rgb(const uint8_t *in, int in_channels, uint8_t *out, size_t pixels) {
    if (in_channels <= 2) { /* grey replicated, alpha dropped */
        for (size_t i = 0; i < pixels; i++) {
            uint8_t v = in[i * (size_t)in_channels];
            out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v;
        }
    } else { /* RGBA: alpha dropped */
        for (size_t i = 0; i < pixels; i++) memcpy(out + 3 * i, in + i * (size_t)in_channels, 3);
    }
}

siamese_status sm_image_convert(const sm_image *src, int channels, sm_image *out, sm_err *err) {
    memset(out, 0, sizeof *out);
    if (channels != 1 && channels != 3 && channels != src->channels)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "cannot convert to %d channels", channels);
    siamese_status st = sm_image_alloc(out, src->width, src->height, channels, err);
    if (st != SIAMESE_OK) return st;
    size_t pixels = (size_t)src->width * (size_t)src->height;
    if (channels == src->channels) memcpy(out->data, src->data, pixels * (size_t)channels);
    else if (channels == 1) to_grey(src->data, src->channels, out->data, pixels);
    else to_rgb(src->data, src->channels, out->data, pixels);
    return SIAMESE_OK;
}
