/* PNG decoding with libpng: every colour type and bit depth, interlaced, palette with tRNS;
 * 16-bit samples reduced exactly as Pillow 9.4 does (see sm_decode_png). */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

/* State shared with libpng's callbacks; everything the error path frees lives here. */
typedef struct png_ctx {
    const uint8_t *data;
    size_t size;
    size_t pos;
    uint8_t *pixels; /* the decoded rows (16-bit grey: 2 bytes per sample) */
    png_bytep *rows;
    char message[200]; /* libpng's error message */
} png_ctx;

static void read_from_memory(png_structp png, png_bytep dst, size_t n) {
    png_ctx *ctx = png_get_io_ptr(png);
    if (n > ctx->size - ctx->pos) png_error(png, "truncated file");
    memcpy(dst, ctx->data + ctx->pos, n);
    ctx->pos += n;
}

static void on_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->message, sizeof ctx->message, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* Sets libpng's transformations; returns the number of 8-bit channels produced (the 16-bit
 * grey case keeps 16-bit samples and returns 1, see grey16_to_8). */
static int set_transforms(png_structp png, png_infop info, int *grey16) {
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    *grey16 = 0;
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS)) {
            png_set_tRNS_to_alpha(png); /* Pillow keeps it as P + transparency; RGB drops it */
            return 4;
        }
        return 3;
    }
    if (depth < 8) png_set_expand_gray_1_2_4_to_8(png); /* 1-bit -> 0/255, 2-bit x85, 4-bit x17 */
    if (depth == 16) {
        if (color == PNG_COLOR_TYPE_GRAY) {
            *grey16 = 1; /* Pillow: mode I with the full value */
        } else {
            png_set_strip_16(png); /* Pillow's RGB;16B / LA;16B / RGBA;16B take the high byte */
        }
    }
    switch (color) {
    case PNG_COLOR_TYPE_GRAY:
        return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        return 2;
    case PNG_COLOR_TYPE_RGB:
        return 3;
    default:
        return 4;
    }
}

/* Pillow opens 16-bit grey as mode I and its convert("L") / convert("RGB") clip to 255, so the
 * 8-bit value is min(v, 255) (not v >> 8). */
static void grey16_to_8(const uint8_t *in, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v = ((unsigned)in[2 * i] << 8) | in[2 * i + 1];
        out[i] = (uint8_t)(v > 255 ? 255 : v);
    }
}

static siamese_status decode(png_structp png, png_infop info, png_ctx *ctx,
                             const sm_image_options *opts, sm_image *out, sm_err *err) {
    png_read_info(png, info);
    png_uint_32 w32 = png_get_image_width(png, info), h32 = png_get_image_height(png, info);
    int width = w32 > INT32_MAX ? -1 : (int)w32, height = h32 > INT32_MAX ? -1 : (int)h32;
    siamese_status st = sm_image_check_size(width, height, opts, err);
    if (st != SIAMESE_OK) return st;
    int grey16;
    int channels = set_transforms(png, info, &grey16);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    size_t expect = (size_t)width * (size_t)channels * (grey16 ? 2 : 1);
    if (rowbytes != expect)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "unexpected PNG row size %zu", rowbytes);
    if (grey16) {
        ctx->pixels = malloc(rowbytes * (size_t)height);
        if (!ctx->pixels) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory for PNG rows");
    } else {
        st = sm_image_alloc(out, width, height, channels, err);
        if (st != SIAMESE_OK) return st;
        ctx->pixels = out->data;
    }
    ctx->rows = malloc((size_t)height * sizeof *ctx->rows);
    if (!ctx->rows) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory for PNG rows");
    for (int y = 0; y < height; y++) ctx->rows[y] = ctx->pixels + (size_t)y * rowbytes;
    png_read_image(png, ctx->rows); /* may longjmp on truncated or corrupt data */
    if (grey16) {
        st = sm_image_alloc(out, width, height, 1, err);
        if (st != SIAMESE_OK) return st;
        grey16_to_8(ctx->pixels, out->data, (size_t)width * height);
    }
    return SIAMESE_OK;
}

siamese_status sm_decode_png(const uint8_t *data, size_t size, const sm_image_options *opts,
                             sm_image *out, sm_err *err) {
    memset(out, 0, sizeof *out);
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.data = data;
    ctx.size = size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "cannot create a PNG decoder");
    }
    png_set_read_fn(png, &ctx, read_from_memory);
    /* our own limits (checked after the header) report SIAMESE_ERR_LIMIT */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    siamese_status st;
    if (setjmp(png_jmpbuf(png))) {
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "corrupt or truncated PNG: %s", ctx.message);
    } else {
        st = decode(png, info, &ctx, opts, out, err);
    }
    free(ctx.rows);
    if (ctx.pixels != out->data) free(ctx.pixels);
    if (st != SIAMESE_OK) sm_image_free(out);
    png_destroy_read_struct(&png, &info, NULL);
    return st;
}
