/* Where a training run's data set is (see run_data.h). The CLI is a client of siamese.h only
 * and links no JSON library, hence this reader of one top-level string of config.json. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "run_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pair_list.h"

#define CONFIG_MAX_BYTES (1 << 20) /* a run's config.json holds a few hundred bytes */

/* The whole file at path as a string, malloc'd; NULL when it cannot be read or is too big. */
static char *read_text(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *text = malloc(CONFIG_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, CONFIG_MAX_BYTES, fp) : 0;
    int whole = text && !ferror(fp) && fgetc(fp) == EOF;
    fclose(fp);
    if (!whole) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Past the JSON string whose opening quote is at p; NULL when it does not end. */
static const char *skip_string(const char *p) {
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && !*++p) return NULL;
    return *p ? p + 1 : NULL;
}

/* The ',' or '}' ending the member value that starts at p (strings skipped whole, nesting
 * counted); NULL when there is none. */
static const char *value_end(const char *p) {
    for (int depth = 0; *p;) {
        if (*p == '"') {
            if (!(p = skip_string(p))) return NULL;
            continue;
        }
        if (depth == 0 && (*p == ',' || *p == '}')) return p;
        if (*p == '{' || *p == '[') depth++;
        else if ((*p == '}' || *p == ']') && --depth < 0) return NULL;
        p++;
    }
    return NULL;
}

static int hex4(const char *p, unsigned *out) {
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0) return 0;
        *out = *out * 16 + (unsigned)v;
    }
    return 1;
}

/* Writes code point u as UTF-8 at o; returns the end. */
static char *put_utf8(char *o, unsigned u) {
    if (u < 0x80) *o++ = (char)u;
    else if (u < 0x800) {
        *o++ = (char)(0xC0 | u >> 6);
        *o++ = (char)(0x80 | (u & 0x3F));
    } else if (u < 0x10000) {
        *o++ = (char)(0xE0 | u >> 12);
        *o++ = (char)(0x80 | (u >> 6 & 0x3F));
        *o++ = (char)(0x80 | (u & 0x3F));
    } else {
        *o++ = (char)(0xF0 | u >> 18);
        *o++ = (char)(0x80 | (u >> 12 & 0x3F));
        *o++ = (char)(0x80 | (u >> 6 & 0x3F));
        *o++ = (char)(0x80 | (u & 0x3F));
    }
    return o;
}

/* The code point of the \uXXXX escape at p (past "\u"), a surrogate pair joined; *p moves past
 * it. 0 when malformed (or U+0000, which no path holds). */
static unsigned unicode_escape(const char **p) {
    unsigned u, low;
    if (!hex4(*p, &u)) return 0;
    *p += 4;
    if (u >= 0xD800 && u < 0xDC00 && (*p)[0] == '\\' && (*p)[1] == 'u' && hex4(*p + 2, &low) &&
        low >= 0xDC00 && low < 0xE000) {
        u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
        *p += 6;
    }
    return u;
}

/* The JSON string whose opening quote is at p, unescaped, malloc'd; NULL when malformed. */
static char *decode_string(const char *p) {
    const char *end = skip_string(p);
    char *out = end ? malloc((size_t)(end - p)) : NULL; /* unescaping never lengthens it */
    char *o = out;
    for (p++; out && *p != '"';) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        static const char escaped[] = "\"\\/bfnrt", meant[] = "\"\\/\b\f\n\r\t";
        char c = p[1];
        const char *plain = c ? strchr(escaped, c) : NULL;
        unsigned u;
        p += 2;
        if (plain) *o++ = meant[plain - escaped];
        else if (c == 'u' && (u = unicode_escape(&p)) != 0) o = put_utf8(o, u);
        else {
            free(out);
            return NULL;
        }
    }
    if (out) *o = '\0';
    return out;
}

/* The top-level member key of the JSON object text when it is a string, malloc'd; else NULL. */
static char *top_level_string(const char *text, const char *key) {
    const char *p = skip_space(text);
    if (*p++ != '{') return NULL;
    for (size_t n = strlen(key);;) {
        p = skip_space(p);
        const char *name = p + 1;
        if (*p != '"' || !(p = skip_string(p))) return NULL;
        int match = (size_t)(p - 1 - name) == n && strncmp(name, key, n) == 0;
        p = skip_space(p);
        if (*p++ != ':') return NULL;
        p = skip_space(p);
        if (match) return *p == '"' ? decode_string(p) : NULL;
        if (!(p = value_end(p)) || *p++ != ',') return NULL;
    }
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* data as it is when absolute or found from here, else joined to the first folder above
 * run_dir where it exists; malloc'd, NULL when found nowhere. */
static char *find_data(const char *run_dir, const char *data) {
    if (data[0] == '/' || exists(data)) return strdup(data);
    char *dir = realpath(run_dir, NULL);
    while (dir && strcmp(dir, "/") != 0) {
        char *up = cli_list_folder(dir);
        free(dir);
        dir = up;
        char *candidate = dir ? cli_list_path(dir, data) : NULL;
        if (candidate && exists(candidate)) {
            free(dir);
            return candidate;
        }
        free(candidate);
    }
    free(dir);
    return NULL;
}

char *cli_run_data_path(const char *run_dir) {
    char *config = cli_list_path(run_dir, "config.json");
    char *text = config ? read_text(config) : NULL;
    char *data = text ? top_level_string(text, "data") : NULL;
    char *found = data && *data ? find_data(run_dir, data) : NULL;
    free(data);
    free(text);
    free(config);
    return found;
}
