/* Strict number parsing (see number.h): the text is copied out so that spans need no NUL, and
 * strtoll/strtoull/strtod must consume all of it without a range error. */
#include "base/number.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NUMBER_MAX 64 /* characters of the longest number read (a double with many digits) */

/* Copies the span into buf when it can start a number: not empty, not too long, no leading
 * space or '+' (strto* would skip or accept them). */
static int copy_span(const char *p, size_t len, char buf[NUMBER_MAX]) {
    if (!p || len == 0 || len >= NUMBER_MAX) return -1;
    if (isspace((unsigned char)p[0]) || p[0] == '+') return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return memchr(buf, '\0', len) ? -1 : 0;
}

int sm_parse_i64_n(const char *p, size_t len, int64_t lo, int64_t hi, int64_t *out) {
    char buf[NUMBER_MAX], *end;
    if (copy_span(p, len, buf)) return -1;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || end == buf || *end || v < lo || v > hi) return -1;
    *out = (int64_t)v;
    return 0;
}

int sm_parse_int_n(const char *p, size_t len, int lo, int hi, int *out) {
    int64_t v;
    if (sm_parse_i64_n(p, len, lo, hi, &v)) return -1;
    *out = (int)v;
    return 0;
}

int sm_parse_u64_n(const char *p, size_t len, int base, uint64_t *out) {
    char buf[NUMBER_MAX], *end;
    if (copy_span(p, len, buf) || buf[0] == '-') return -1; /* strtoull wraps negatives */
    errno = 0;
    unsigned long long v = strtoull(buf, &end, base);
    if (errno || end == buf || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

int sm_parse_double_n(const char *p, size_t len, double *out) {
    char buf[NUMBER_MAX], *end;
    if (copy_span(p, len, buf)) return -1;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || end == buf || *end) return -1;
    *out = v;
    return 0;
}

int sm_parse_i64(const char *text, int64_t lo, int64_t hi, int64_t *out) {
    return text ? sm_parse_i64_n(text, strlen(text), lo, hi, out) : -1;
}

int sm_parse_int(const char *text, int lo, int hi, int *out) {
    return text ? sm_parse_int_n(text, strlen(text), lo, hi, out) : -1;
}

int sm_parse_u64(const char *text, int base, uint64_t *out) {
    return text ? sm_parse_u64_n(text, strlen(text), base, out) : -1;
}

int sm_parse_double(const char *text, double *out) {
    return text ? sm_parse_double_n(text, strlen(text), out) : -1;
}
