/* Pictures inside a page: an 8-bit image compressed to JPEG in memory and written as a base64
 * data: URI, so the page needs no other file. */
#include <stdlib.h>
#include <turbojpeg.h>

#include "report/html.h"

#define THUMB_QUALITY 82

static void base64(sm_html *h, const unsigned char *data, size_t n) {
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char quad[5] = {0};
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < n) v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < n) v |= data[i + 2];
        quad[0] = digits[(v >> 18) & 63];
        quad[1] = digits[(v >> 12) & 63];
        quad[2] = i + 1 < n ? digits[(v >> 6) & 63] : '=';
        quad[3] = i + 2 < n ? digits[v & 63] : '=';
        sm_html_raw(h, quad);
    }
}

void sm_html_jpeg(sm_html *h, const uint8_t *pixels, int width, int height, int channels,
                  const char *alt) {
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    int grey = channels == 1;
    int ok = tj && pixels && (channels == 1 || channels == 3) &&
             tjCompress2(tj, pixels, width, 0, height, grey ? TJPF_GRAY : TJPF_RGB, &jpeg, &size,
                         grey ? TJSAMP_GRAY : TJSAMP_420, THUMB_QUALITY, TJFLAG_ACCURATEDCT) == 0;
    if (ok) {
        sm_html_printf(h, "<img width=\"%d\" height=\"%d\" alt=\"", width, height);
        sm_html_text(h, alt);
        sm_html_raw(h, "\" src=\"data:image/jpeg;base64,");
        base64(h, jpeg, size);
        sm_html_raw(h, "\">");
    } else {
        sm_html_raw(h, "<span class=\"note\">(picture not available: ");
        sm_html_text(h, alt);
        sm_html_raw(h, ")</span>");
    }
    tjFree(jpeg);
    if (tj) tjDestroy(tj);
}
