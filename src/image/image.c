/* Image pipeline: options, limits, allocation, decode dispatch, load = decode + convert + resize. */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/recipe.h"

#define MAX_FILE_BYTES ((size_t)1 << 31) /* 2 GiB: far more than any allowed image needs */

siamese_image_options siamese_image_default_options(void) {
    siamese_image_options o;
    memset(&o, 0, sizeof o);
    o.max_side = SM_IMAGE_MAX_SIDE;
    o.max_pixels = SM_IMAGE_MAX_PIXELS;
    o.channels = SM_RECIPE_CHANNELS;
    o.width = SM_RECIPE_WIDTH;
    o.height = SM_RECIPE_HEIGHT;
    o.fast_jpeg = 0;
    return o;
}

siamese_status sm_image_check_size(int width, int height, const sm_image_options *opts,
                                   sm_err *err) {
    int max_side = opts && opts->max_side > 0 ? opts->max_side : SM_IMAGE_MAX_SIDE;
    int64_t max_pixels = opts && opts->max_pixels > 0 ? opts->max_pixels : SM_IMAGE_MAX_PIXELS;
    if (width <= 0 || height <= 0)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "invalid image size %dx%d", width, height);
    if (width > max_side || height > max_side)
        return sm_fail(err, SIAMESE_ERR_LIMIT, "image size %dx%d exceeds the limit of %d per side",
                       width, height, max_side);
    if ((int64_t)width * (int64_t)height > max_pixels)
        return sm_fail(err, SIAMESE_ERR_LIMIT, "image size %dx%d exceeds the limit of %lld pixels",
                       width, height, (long long)max_pixels);
    return SIAMESE_OK;
}

siamese_status sm_image_alloc(sm_image *out, int width, int height, int channels, sm_err *err) {
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "invalid image geometry %dx%dx%d", width,
                       height, channels);
    size_t row = (size_t)width * (size_t)channels; /* < 2^33, fits size_t on 64-bit */
    if ((size_t)height > SIZE_MAX / row)
        return sm_fail(err, SIAMESE_ERR_LIMIT, "image %dx%dx%d is too large", width, height,
                       channels);
    out->data = sm_pixels_alloc(row * (size_t)height);
    if (!out->data)
        return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory for a %dx%dx%d image", width, height,
                       channels);
    out->width = width;
    out->height = height;
    out->channels = channels;
    return SIAMESE_OK;
}

void sm_image_free(sm_image *image) {
    if (!image) return;
    if (image->data)
        sm_pixels_free(image->data,
                       (size_t)image->width * (size_t)image->height * (size_t)image->channels);
    memset(image, 0, sizeof *image);
}

siamese_status sm_image_decode(const uint8_t *data, size_t size, const sm_image_options *opts,
                               sm_image *out, sm_err *err) {
    memset(out, 0, sizeof *out);
    if (size == 0) return sm_fail(err, SIAMESE_ERR_FORMAT, "empty file");
    switch (sm_image_detect(data, size)) {
    case SM_IMAGE_JPEG:
        return sm_decode_jpeg(data, size, opts, out, err);
    case SM_IMAGE_PNG:
        return sm_decode_png(data, size, opts, out, err);
    case SM_IMAGE_PNM:
        return sm_decode_pnm(data, size, opts, out, err);
    case SM_IMAGE_WEBP:
        return sm_decode_webp(data, size, opts, out, err);
    case SM_IMAGE_GIF:
        return sm_decode_gif(data, size, opts, out, err);
    case SM_IMAGE_UNKNOWN:
        break;
    }
    return sm_fail(err, SIAMESE_ERR_FORMAT, "not a recognized image (JPEG, PNG, PNM, WebP, GIF)");
}

/* Replaces *image by its conversion to channels (when it differs). */
static siamese_status convert_in_place(sm_image *image, int channels, sm_err *err) {
    if (channels == 0 || channels == image->channels) return SIAMESE_OK;
    sm_image converted;
    siamese_status st = sm_image_convert(image, channels, &converted, err);
    sm_image_free(image);
    if (st == SIAMESE_OK) *image = converted;
    return st;
}

static siamese_status resize_in_place(sm_image *image, int width, int height, sm_err *err) {
    if (width <= 0 || height <= 0) return SIAMESE_OK;
    if (width == image->width && height == image->height) return SIAMESE_OK;
    sm_image resized;
    siamese_status st = sm_image_resize(image, width, height, &resized, err);
    sm_image_free(image);
    if (st == SIAMESE_OK) *image = resized;
    return st;
}

static siamese_status check_options(const sm_image_options *o, sm_err *err) {
    if (o->channels != 0 && o->channels != 1 && o->channels != 3)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "image channels must be 0, 1 or 3, not %d",
                       o->channels);
    if (o->width < 0 || o->height < 0 || (o->width == 0) != (o->height == 0))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "resize target %dx%d: give both sides or neither", o->width, o->height);
    if (o->width > 0 && sm_image_check_size(o->width, o->height, o, err) != SIAMESE_OK)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "resize target %dx%d exceeds the limits",
                       o->width, o->height);
    return SIAMESE_OK;
}

siamese_status sm_image_load_memory(const uint8_t *data, size_t size, const char *name,
                                    const sm_image_options *opts, sm_image *out, sm_err *err) {
    sm_image_options defaults = siamese_image_default_options();
    if (!opts) opts = &defaults;
    if (!name) name = "<memory>";
    memset(out, 0, sizeof *out);
    siamese_status st = check_options(opts, err);
    if (st == SIAMESE_OK && !data && size > 0)
        st = sm_fail(err, SIAMESE_ERR_INVALID_ARG, "no data");
    if (st == SIAMESE_OK) st = sm_image_decode(data, size, opts, out, err);
    if (st == SIAMESE_OK) st = convert_in_place(out, opts->channels, err);
    if (st == SIAMESE_OK) st = resize_in_place(out, opts->width, opts->height, err);
    if (st != SIAMESE_OK) {
        sm_image_free(out);
        sm_err_prefix(err, name);
    }
    return st;
}

siamese_status sm_image_load_file(const char *path, const sm_image_options *opts, sm_image *out,
                                  sm_err *err) {
    memset(out, 0, sizeof *out);
    if (!path) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "no image path");
    uint8_t *data;
    size_t size;
    siamese_status st = sm_read_file_max(path, MAX_FILE_BYTES, &data, &size, err);
    if (st != SIAMESE_OK) return st;
    st = sm_image_load_memory(data, size, path, opts, out, err);
    free(data);
    return st;
}

/* ---- public wrappers ---- */

siamese_status siamese_image_load(const char *path, const siamese_image_options *options,
                                  siamese_image *out, char *errmsg, size_t errmsg_size) {
    if (!out) return sm_refuse(errmsg, errmsg_size, "no output image");
    sm_err err;
    sm_err_clear(&err);
    return sm_err_out(&err, sm_image_load_file(path, options, out, &err), errmsg, errmsg_size);
}

siamese_status siamese_image_decode(const void *data, size_t size,
                                    const siamese_image_options *options, siamese_image *out,
                                    char *errmsg, size_t errmsg_size) {
    if (!out) return sm_refuse(errmsg, errmsg_size, "no output image");
    sm_err err;
    sm_err_clear(&err);
    return sm_err_out(&err, sm_image_load_memory(data, size, NULL, options, out, &err), errmsg,
                      errmsg_size);
}

/* Why image cannot be converted or resized, or SIAMESE_OK. */
static siamese_status check_image(const char *what, const siamese_image *image, sm_err *err) {
    if (!image || !image->data || image->width <= 0 || image->height <= 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: the image has no pixels", what);
    if (image->channels < 1 || image->channels > 4)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "%s: the image has %d channels (1 to 4 are possible)", what,
                       image->channels);
    return SIAMESE_OK;
}

siamese_status siamese_image_convert(const siamese_image *image, int channels, siamese_image *out,
                                     char *errmsg, size_t errmsg_size) {
    if (!out) return sm_refuse(errmsg, errmsg_size, "convert: no output image");
    sm_err err;
    sm_err_clear(&err);
    memset(out, 0, sizeof *out);
    siamese_status st = check_image("convert", image, &err);
    if (st == SIAMESE_OK) st = sm_image_convert(image, channels, out, &err);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}

siamese_status siamese_image_resize(const siamese_image *image, int width, int height,
                                    siamese_image *out, char *errmsg, size_t errmsg_size) {
    if (!out) return sm_refuse(errmsg, errmsg_size, "resize: no output image");
    sm_err err;
    sm_err_clear(&err);
    memset(out, 0, sizeof *out);
    siamese_status st = check_image("resize", image, &err);
    if (st == SIAMESE_OK) st = sm_image_resize(image, width, height, out, &err);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}

siamese_status siamese_image_to_tensor(const siamese_image *image, const float *mean,
                                       const float *std, float *out, char *errmsg,
                                       size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = sm_image_tensor_check(image, mean, std, out, &err);
    if (st == SIAMESE_OK) st = sm_image_to_tensor(image, mean, std, out);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}

void siamese_image_free(siamese_image *image) { sm_image_free(image); }
