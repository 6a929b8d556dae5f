/* WebP decoding with libwebp (lossy and lossless, first frame of a still image): RGB, or RGBA
 * when the file has alpha. */
#include <string.h>
#include <webp/decode.h>

#include "image/image.h"

siamese_status sm_decode_webp(const uint8_t *data, size_t size, const sm_image_options *opts,
                              sm_image *out, sm_err *err) {
    memset(out, 0, sizeof *out);
    WebPBitstreamFeatures features;
    VP8StatusCode rc = WebPGetFeatures(data, size, &features);
    if (rc == VP8_STATUS_NOT_ENOUGH_DATA)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "truncated WebP header");
    if (rc != VP8_STATUS_OK)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "bad WebP header (code %d)", (int)rc);
    if (features.has_animation)
        return sm_fail(err, SIAMESE_ERR_UNSUPPORTED, "animated WebP is not supported");
    siamese_status st = sm_image_check_size(features.width, features.height, opts, err);
    const int channels = features.has_alpha ? 4 : 3;
    if (st == SIAMESE_OK) st = sm_image_alloc(out, features.width, features.height, channels, err);
    if (st != SIAMESE_OK) return st;
    size_t stride = (size_t)out->width * channels;
    size_t total = stride * (size_t)out->height;
    if (stride > INT32_MAX) {
        sm_image_free(out);
        return sm_fail(err, SIAMESE_ERR_LIMIT, "WebP row too large");
    }
    uint8_t *ok = channels == 4 ? WebPDecodeRGBAInto(data, size, out->data, total, (int)stride)
                                : WebPDecodeRGBInto(data, size, out->data, total, (int)stride);
    if (!ok) {
        sm_image_free(out);
        return sm_fail(err, SIAMESE_ERR_FORMAT, "corrupt or truncated WebP data");
    }
    return SIAMESE_OK;
}
