/* Reads the pair lists 'siamese compare --pairs' takes (see pair_list.h). The dataset manifest
 * reader needs a label on every line, these lists do not, hence this small reader. */
#include "pair_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

void cli_pair_list_free(cli_pair_list *list) {
    for (int i = 0; i < list->count; i++) {
        free(list->items[i].a);
        free(list->items[i].b);
        free(list->items[i].path_a);
        free(list->items[i].path_b);
    }
    free(list->items);
    list->items = NULL;
    list->count = list->cap = 0;
}

char *cli_list_path(const char *dir, const char *name) {
    if (name[0] == '/' || !dir[0]) return strdup(name);
    size_t size = strlen(dir) + strlen(name) + 2;
    char *out = malloc(size);
    if (out) snprintf(out, size, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return out;
}

static void strip_line_end(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
}

static int is_skipped(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return *s == '\0' || *s == '#';
}

/* Splits at tabs into at most 3 fields; returns the number of fields found. */
static int split_fields(char *line, char *field[3]) {
    int n = 0;
    for (char *p = line;;) {
        if (n < 3) field[n] = p;
        n++;
        char *tab = strchr(p, '\t');
        if (!tab) return n;
        *tab = '\0';
        p = tab + 1;
    }
}

static int parse_label(const char *s, int *label) {
    while (*s == ' ') s++;
    if (*s != '0' && *s != '1') return 0;
    *label = *s++ - '0';
    while (*s == ' ') s++;
    return *s == '\0';
}

static int add_entry(cli_pair_list *list, const char *dir, char *field[3], int label, long line) {
    if (!cli_grow((void **)&list->items, &list->cap, list->count + 1, sizeof *list->items))
        return 0;
    cli_pair_entry *e = &list->items[list->count];
    e->a = strdup(field[0]);
    e->b = strdup(field[1]);
    e->path_a = cli_list_path(dir, field[0]);
    e->path_b = cli_list_path(dir, field[1]);
    e->label = label;
    e->line = line;
    if (!e->a || !e->b || !e->path_a || !e->path_b) {
        free(e->a);
        free(e->b);
        free(e->path_a);
        free(e->path_b);
        return 0;
    }
    list->count++;
    return 1;
}

/* Parses one line (changed in place); returns 0 with errmsg filled on a malformed line. */
static int parse_line(cli_pair_list *list, const char *path, const char *dir, char *line,
                      long lineno, char *errmsg, size_t errmsg_size) {
    char *field[3];
    int n = split_fields(line, field);
    int label = -1;
    if (n < 2 || n > 3) {
        snprintf(errmsg, errmsg_size,
                 "%s:%ld: expected 2 or 3 tab-separated fields (path_a, path_b[, label]), found %d",
                 path, lineno, n);
        return 0;
    }
    if (!*field[0] || !*field[1]) {
        snprintf(errmsg, errmsg_size, "%s:%ld: empty image path", path, lineno);
        return 0;
    }
    if (n == 3 && !parse_label(field[2], &label)) {
        snprintf(errmsg, errmsg_size,
                 "%s:%ld: label must be 0 (similar) or 1 (dissimilar), got '%.40s'", path, lineno,
                 field[2]);
        return 0;
    }
    if (!add_entry(list, dir, field, label, lineno)) {
        snprintf(errmsg, errmsg_size, "%s:%ld: out of memory", path, lineno);
        return 0;
    }
    return 1;
}

char *cli_list_folder(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (dir) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

int cli_pair_list_read(const char *path, cli_pair_list *list, char *errmsg, size_t errmsg_size) {
    memset(list, 0, sizeof *list);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(errmsg, errmsg_size, "%s: cannot open: %s", path, strerror(errno));
        return 0;
    }
    char *dir = cli_list_folder(path), *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int ok = dir != NULL;
    if (!ok) snprintf(errmsg, errmsg_size, "%s: out of memory", path);
    while (ok && getline(&line, &cap, fp) >= 0) {
        lineno++;
        strip_line_end(line);
        if (!is_skipped(line)) ok = parse_line(list, path, dir, line, lineno, errmsg, errmsg_size);
    }
    if (ok && ferror(fp)) {
        snprintf(errmsg, errmsg_size, "%s: read error after line %ld: %s", path, lineno,
                 strerror(errno));
        ok = 0;
    }
    if (ok && list->count == 0) {
        snprintf(errmsg, errmsg_size, "%s: no pairs in the file", path);
        ok = 0;
    }
    free(line);
    free(dir);
    fclose(fp);
    if (!ok) cli_pair_list_free(list);
    return ok;
}
