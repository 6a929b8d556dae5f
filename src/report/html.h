/* Self-contained HTML pages built in memory: escaped text, inline SVG charts, JPEG thumbnails as
 * data: URIs, one stylesheet, saved atomically. Nothing in a page refers to anything outside it. */
#ifndef SM_HTML_H
#define SM_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

/* A page in progress. Appends never fail visibly: a failed allocation sets failed, and
 * sm_html_save then reports out of memory. */
typedef struct sm_html {
    char *buf;
    size_t len, cap;
    int failed;
} sm_html;

/* Markup written as is: only literals and numbers, never text read from a file. */
void sm_html_raw(sm_html *h, const char *markup);
void sm_html_printf(sm_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text escaped for element content and attribute values (& < > " '). NULL writes nothing. */
void sm_html_text(sm_html *h, const char *text);
void sm_html_textf(sm_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A number with fmt (printf, one double) and a unit after a thin space; "n/a" when not finite. */
void sm_html_number(sm_html *h, const char *fmt, double value, const char *unit);

/* <!doctype html> ... <body><main>: the stylesheet and the title (escaped). */
void sm_html_begin(sm_html *h, const char *title);
/* </main>, the inline script that counts the loaded pictures into <body data-images=N
 * data-images-loaded=M> (the browser test reads it), </body></html>. */
void sm_html_end(sm_html *h);

/* An <img> holding an 8-bit image (1 grey or 3 RGB channels, HWC rows) as a JPEG data: URI,
 * with alt text (escaped). */
void sm_html_jpeg(sm_html *h, const uint8_t *pixels, int width, int height, int channels,
                  const char *alt);

/* Writes the page to path atomically. SIAMESE_ERR_NOMEM when an append had failed. */
siamese_status sm_html_save(const sm_html *h, const char *path, sm_err *err);
void sm_html_free(sm_html *h);

#endif
