/* ToTensor: uint8 HWC image to float CHW in [0,1], with optional per-channel mean/std. */
#include "image/image.h"

siamese_status sm_image_tensor_check(const sm_image *image, const float *mean, const float *std,
                                     const float *out, sm_err *err) {
    if (!image || !image->data || image->width <= 0 || image->height <= 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "to tensor: the image has no pixels");
    if (image->channels < 1 || image->channels > 4)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "to tensor: the image has %d channels (1 to 4 are possible)",
                       image->channels);
    if (!out) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "to tensor: no output buffer");
    if ((!mean) != (!std))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "to tensor: give both mean and std, or neither");
    for (int c = 0; std && c < image->channels; c++)
        if (!(std[c] != 0.0f))
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                           "to tensor: std[%d] is %g; it must not be 0", c, (double)std[c]);
    return SIAMESE_OK;
}

siamese_status sm_image_to_tensor(const sm_image *image, const float *mean, const float *std,
                                  float *out) {
    siamese_status st = sm_image_tensor_check(image, mean, std, out, NULL);
    if (st != SIAMESE_OK) return st;
    const int c_count = image->channels;
    const size_t plane = (size_t)image->width * (size_t)image->height;
    /* per channel, the float of every byte value, computed with the same float operations
     * torchvision uses (x / 255, then (x - mean) / std) */
    float lut[4][256];
    for (int c = 0; c < c_count; c++) {
        for (int v = 0; v < 256; v++) {
            float x = (float)v / 255.0f;
            lut[c][v] = mean ? (x - mean[c]) / std[c] : x;
        }
    }
    const uint8_t *in = image->data;
    if (c_count == 3) {
        float *r = out, *g = out + plane, *b = out + 2 * plane;
        for (size_t i = 0; i < plane; i++) {
            r[i] = lut[0][in[3 * i]];
            g[i] = lut[1][in[3 * i + 1]];
            b[i] = lut[2][in[3 * i + 2]];
        }
        return SIAMESE_OK;
    }
    for (int c = 0; c < c_count; c++) {
        float *dst = out + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) dst[i] = lut[c][in[i * (size_t)c_count + c]];
    }
    return SIAMESE_OK;
}
