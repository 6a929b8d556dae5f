/* The HTML page builder: appending markup and escaped text, the page's shell and stylesheet, the
 * atomic save. */
#include "report/html.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"

static int reserve(sm_html *h, size_t more) {
    if (h->failed) return 0;
    if (h->len + more + 1 <= h->cap) return 1;
    size_t cap = h->cap ? h->cap : 4096;
    while (cap < h->len + more + 1) cap *= 2;
    char *buf = realloc(h->buf, cap);
    if (!buf) {
        h->failed = 1;
        return 0;
    }
    h->buf = buf;
    h->cap = cap;
    return 1;
}

static void append(sm_html *h, const char *s, size_t n) {
    if (!reserve(h, n)) return;
    memcpy(h->buf + h->len, s, n);
    h->len += n;
    h->buf[h->len] = '\0';
}

void sm_html_raw(sm_html *h, const char *markup) {
    if (markup) append(h, markup, strlen(markup));
}

static void vappendf(sm_html *h, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || !reserve(h, (size_t)n)) return;
    vsnprintf(h->buf + h->len, (size_t)n + 1, fmt, ap);
    h->len += (size_t)n;
}

void sm_html_printf(sm_html *h, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vappendf(h, fmt, ap);
    va_end(ap);
}

void sm_html_text(sm_html *h, const char *text) {
    for (const char *p = text; p && *p; p++) {
        switch (*p) {
        case '&':
            sm_html_raw(h, "&amp;");
            break;
        case '<':
            sm_html_raw(h, "&lt;");
            break;
        case '>':
            sm_html_raw(h, "&gt;");
            break;
        case '"':
            sm_html_raw(h, "&quot;");
            break;
        case '\'':
            sm_html_raw(h, "&#39;");
            break;
        default:
            append(h, p, 1);
        }
    }
}

void sm_html_textf(sm_html *h, const char *fmt, ...) {
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        sm_html_text(h, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        h->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sm_html_text(h, big);
    free(big);
}

void sm_html_number(sm_html *h, const char *fmt, double value, const char *unit) {
    if (!isfinite(value)) {
        sm_html_raw(h, "n/a");
        return;
    }
    sm_html_printf(h, fmt, value);
    if (unit && *unit) {
        sm_html_raw(h, "&#8239;");
        sm_html_text(h, unit);
    }
}

/* Phones first: one column, full width; wider screens get a grid of figures. */
static const char *stylesheet =
    ":root{color-scheme:light;--fg:#1b1f24;--muted:#5b6470;--line:#d5dae1;--bg:#fff;"
    "--panel:#f6f8fa;--accent:#1f5fbf}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',"
    "sans-serif;color:var(--fg);background:var(--bg)}"
    "main{max-width:1400px;margin:0 auto;padding:12px 16px 48px}"
    "h1{font-size:1.5rem;margin:.5rem 0 .25rem;overflow-wrap:anywhere}"
    "h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line);"
    "padding-bottom:.25rem}"
    "h3{font-size:1rem;margin:1rem 0 .25rem}"
    "p.note{color:var(--muted);margin:.25rem 0}"
    ".scroll{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;font-size:.9rem;margin:.25rem 0}"
    "th,td{padding:.2rem .6rem;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:top}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "table.kv td:first-child{color:var(--muted);white-space:nowrap}"
    "table.kv td{overflow-wrap:anywhere}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}"
    ".card{background:var(--panel);border:1px solid var(--line);border-radius:6px;"
    "padding:.4rem .6rem}"
    ".card .k{color:var(--muted);font-size:.8rem}.card .v{font-size:1.25rem;"
    "font-variant-numeric:tabular-nums}"
    ".card .i{color:var(--muted);font-size:.8rem}"
    ".figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,420px),1fr));"
    "gap:12px}"
    "figure{margin:0;background:var(--panel);border:1px solid var(--line);border-radius:6px;"
    "padding:6px}"
    "figure svg{width:100%;height:auto;display:block}"
    "figcaption{font-size:.85rem;color:var(--muted);padding:0 4px}"
    ".legend{display:flex;flex-wrap:wrap;gap:2px 14px;font-size:.8rem;padding:2px 4px}"
    ".legend i{display:inline-block;width:12px;height:10px;margin-right:5px}"
    ".gallery{display:flex;flex-wrap:wrap;gap:10px}"
    ".pair,.nn{background:var(--panel);border:1px solid var(--line);border-radius:6px;"
    "padding:6px;font-size:.8rem;max-width:100%}"
    ".pair .imgs,.nn .imgs{display:flex;gap:4px;flex-wrap:wrap}"
    ".pair img,.nn img{display:block;width:96px;height:auto;image-rendering:auto}"
    ".nn figure{padding:2px;background:none;border:0;font-size:.75rem;width:100px}"
    ".nn figure.q{outline:2px solid var(--accent)}"
    ".nn figure.wrong{outline:2px dashed #b42318}"
    ".same{color:#1a7f37}.diff{color:#b42318}"
    ".name{color:var(--muted);overflow-wrap:anywhere;max-width:200px}"
    "code{font-size:.85rem;overflow-wrap:anywhere}"
    "@media (max-width:600px){body{font-size:15px}main{padding:8px}th,td{padding:.15rem .35rem}}";

void sm_html_begin(sm_html *h, const char *title) {
    sm_html_raw(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
                   "<title>");
    sm_html_text(h, title);
    sm_html_raw(h, "</title><style>");
    sm_html_raw(h, stylesheet);
    sm_html_raw(h, "</style></head>\n<body><main>\n");
}

/* Counts the pictures that decoded, for the browser test (and anyone curious). */
static const char *image_check =
    "<script>window.addEventListener('load',function(){var im=document.images,ok=0;"
    "for(var i=0;i<im.length;i++)if(im[i].complete&&im[i].naturalWidth>0)ok++;"
    "document.body.setAttribute('data-images',im.length);"
    "document.body.setAttribute('data-images-loaded',ok);});</script>";

void sm_html_end(sm_html *h) {
    sm_html_raw(h, "</main>\n");
    sm_html_raw(h, image_check);
    sm_html_raw(h, "\n</body></html>\n");
}

siamese_status sm_html_save(const sm_html *h, const char *path, sm_err *err) {
    if (h->failed) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    sm_atomic_file af;
    siamese_status st = sm_atomic_open(&af, path, err);
    if (st != SIAMESE_OK) return st;
    if (h->len && fwrite(h->buf, 1, h->len, af.fp) != h->len) return sm_atomic_fail(&af, err);
    return sm_atomic_commit(&af, err);
}

void sm_html_free(sm_html *h) {
    free(h->buf);
    memset(h, 0, sizeof *h);
}
