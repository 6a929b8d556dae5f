/* GIF decoding with giflib: the first frame composed onto the logical screen exactly as Pillow
 * 9.4 loads frame 0 (canvas filled with the transparent index or 0, palette expanded). */
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

typedef struct gif_source {
    const uint8_t *data;
    size_t size;
    size_t pos;
} gif_source;

static int read_from_memory(GifFileType *gif, GifByteType *dst, int n) {
    gif_source *src = gif->UserData;
    if (n < 0) return 0;
    size_t avail = src->size - src->pos;
    size_t take = (size_t)n < avail ? (size_t)n : avail;
    memcpy(dst, src->data + src->pos, take);
    src->pos += take;
    return (int)take;
}

/* The first image's descriptor plus the transparency of the control extension before it. */
typedef struct first_frame {
    int transparent; /* index, or -1 */
} first_frame;

static siamese_status gif_error(GifFileType *gif, const char *what, sm_err *err) {
    const char *reason = GifErrorString(gif->Error);
    return sm_fail(err, SIAMESE_ERR_FORMAT, "corrupt or truncated GIF (%s): %s", what,
                   reason ? reason : "unknown error");
}

/* Reads records up to the first image descriptor, noting a graphic control extension. */
static siamese_status seek_first_image(GifFileType *gif, first_frame *ff, sm_err *err) {
    ff->transparent = -1;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) return gif_error(gif, "record", err);
        if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) == GIF_ERROR) return gif_error(gif, "image descriptor", err);
            return SIAMESE_OK;
        }
        if (type == TERMINATE_RECORD_TYPE)
            return sm_fail(err, SIAMESE_ERR_FORMAT, "GIF has no image");
        if (type != EXTENSION_RECORD_TYPE) continue;
        int code;
        GifByteType *ext;
        if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR)
            return gif_error(gif, "extension", err);
        if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4)
            ff->transparent = (ext[1] & 1) ? ext[4] : -1;
        while (ext) {
            if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR)
                return gif_error(gif, "extension", err);
        }
    }
}

/* Pillow keeps mode L when a palette is the identity grey ramp (or missing). */
static int palette_is_grey_ramp(const ColorMapObject *map) {
    if (!map) return 1;
    for (int i = 0; i < map->ColorCount; i++) {
        const GifColorType *c = &map->Colors[i];
        if (c->Red != i || c->Green != i || c->Blue != i) return 0;
    }
    return 1;
}

/* Palette as Pillow builds it: the file's entries, then a grey ramp for the rest of 256. */
static void build_palette(const ColorMapObject *map, uint8_t rgb[256][3]) {
    for (int i = 0; i < 256; i++) rgb[i][0] = rgb[i][1] = rgb[i][2] = (uint8_t)i;
    if (!map) return;
    for (int i = 0; i < map->ColorCount && i < 256; i++) {
        rgb[i][0] = map->Colors[i].Red;
        rgb[i][1] = map->Colors[i].Green;
        rgb[i][2] = map->Colors[i].Blue;
    }
}

/* Decodes the frame's indices into the canvas (interlaced rows in GIF pass order). */
static siamese_status read_frame_indices(GifFileType *gif, uint8_t *canvas, int canvas_w,
                                         sm_err *err) {
    const GifImageDesc *d = &gif->Image;
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    int passes = d->Interlace ? 4 : 1;
    for (int p = 0; p < passes; p++) {
        int y0 = d->Interlace ? start[p] : 0, dy = d->Interlace ? step[p] : 1;
        for (int y = y0; y < d->Height; y += dy) {
            uint8_t *row = canvas + ((size_t)(d->Top + y) * canvas_w + d->Left);
            if (DGifGetLine(gif, row, d->Width) == GIF_ERROR) return gif_error(gif, "pixels", err);
        }
    }
    return SIAMESE_OK;
}

static siamese_status decode_first_frame(GifFileType *gif, const sm_image_options *opts,
                                         sm_image *out, sm_err *err) {
    first_frame ff;
    siamese_status st = seek_first_image(gif, &ff, err);
    if (st != SIAMESE_OK) return st;
    const GifImageDesc *d = &gif->Image;
    if (d->Left < 0 || d->Top < 0 || d->Width < 0 || d->Height < 0)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "bad GIF frame geometry");
    /* Pillow grows the canvas to hold a frame that overflows the logical screen */
    int64_t w = gif->SWidth, h = gif->SHeight;
    if ((int64_t)d->Left + d->Width > w) w = (int64_t)d->Left + d->Width;
    if ((int64_t)d->Top + d->Height > h) h = (int64_t)d->Top + d->Height;
    st = sm_image_check_size((int)w, (int)h, opts, err);
    if (st != SIAMESE_OK) return st;
    sm_image indices;
    st = sm_image_alloc(&indices, (int)w, (int)h, 1, err);
    if (st != SIAMESE_OK) return st;
    memset(indices.data, ff.transparent >= 0 ? ff.transparent : 0, (size_t)w * (size_t)h);
    st = read_frame_indices(gif, indices.data, (int)w, err);
    const ColorMapObject *map = d->ColorMap ? d->ColorMap : gif->SColorMap;
    if (st == SIAMESE_OK && palette_is_grey_ramp(map)) {
        *out = indices; /* mode L: the index is the grey level */
        return SIAMESE_OK;
    }
    if (st == SIAMESE_OK) st = sm_image_alloc(out, (int)w, (int)h, 3, err);
    if (st == SIAMESE_OK) {
        uint8_t rgb[256][3];
        build_palette(map, rgb);
        size_t n = (size_t)w * (size_t)h;
        for (size_t i = 0; i < n; i++) memcpy(out->data + 3 * i, rgb[indices.data[i]], 3);
    }
    sm_image_free(&indices);
    return st;
}

siamese_status sm_decode_gif(const uint8_t *data, size_t size, const sm_image_options *opts,
                             sm_image *out, sm_err *err) {
    memset(out, 0, sizeof *out);
    gif_source src = {data, size, 0};
    int code = 0;
    GifFileType *gif = DGifOpen(&src, read_from_memory, &code);
    if (!gif) {
        const char *reason = GifErrorString(code);
        return sm_fail(err, SIAMESE_ERR_FORMAT, "bad GIF header: %s", reason ? reason : "unknown");
    }
    siamese_status st = decode_first_frame(gif, opts, out, err);
    DGifCloseFile(gif, &code);
    if (st != SIAMESE_OK) sm_image_free(out);
    return st;
}
