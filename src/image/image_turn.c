/* Exact quarter turns of an 8-bit image (no resampling): rotated characters as classes of their
 * own (siamese train --class-rotations). */
#include <string.h>

#include "image/image.h"

void sm_image_turn(const sm_image *src, int quarter_turns, sm_image *dst) {
    int w = src->width, h = src->height, ch = src->channels, q = ((quarter_turns % 4) + 4) % 4;
    dst->width = q % 2 ? h : w;
    dst->height = q % 2 ? w : h;
    dst->channels = ch;
    for (int y = 0; y < dst->height; y++) {
        for (int x = 0; x < dst->width; x++) {
            /* the source pixel that a counter-clockwise turn by q quarters brings to (x, y) */
            int sx = q == 0 ? x : q == 1 ? w - 1 - y : q == 2 ? w - 1 - x : y;
            int sy = q == 0 ? y : q == 1 ? x : q == 2 ? h - 1 - y : h - 1 - x;
            memcpy(dst->data + ((size_t)y * dst->width + x) * ch,
                   src->data + ((size_t)sy * w + sx) * ch, (size_t)ch);
        }
    }
}
