/* Pairs manifests: "path_a <TAB> path_b <TAB> label" lines, '#' comments and blank lines allowed,
 * relative paths resolved against the manifest's folder. */
#include "data/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

typedef struct manifest_line {
    char *a, *b; /* image names as written */
    int label;
} manifest_line;

typedef struct manifest {
    manifest_line *lines;
    int count, cap;
} manifest;

static void manifest_free(manifest *m) {
    for (int i = 0; i < m->count; i++) {
        free(m->lines[i].a);
        free(m->lines[i].b);
    }
    free(m->lines);
}

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    return 1;
}

static void strip_newline(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
}

/* Splits line at tabs into at most 4 fields; returns how many there are. */
static int split_tabs(char *line, char *field[4]) {
    int n = 0;
    char *p = line;
    for (;;) {
        if (n < 4) field[n] = p;
        n++;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

/* Parses the label field (spaces around it allowed): 0 or 1. */
static int parse_label(const char *s, int *label) {
    while (*s == ' ') s++;
    if ((*s != '0' && *s != '1')) return -1;
    *label = *s - '0';
    for (s++; *s == ' '; s++) {
    }
    return *s ? -1 : 0;
}

static siamese_status add_line(siamese_dataset *ds, manifest *m, const char *a, const char *b,
                               int label) {
    if (sm_grow((void **)&m->lines, &m->cap, m->count + 1, sizeof *m->lines))
        return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    manifest_line *l = &m->lines[m->count];
    l->a = sm_strdup(a);
    l->b = sm_strdup(b);
    l->label = label;
    if (!l->a || !l->b) {
        free(l->a);
        free(l->b);
        return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    m->count++;
    return SIAMESE_OK;
}

/* Parses one non-comment line (modified in place) into m. */
static siamese_status parse_line(siamese_dataset *ds, manifest *m, const char *file, long lineno,
                                 char *line) {
    char *field[4];
    int n = split_tabs(line, field);
    if (n != 3)
        return sm_fail(&ds->err, SIAMESE_ERR_FORMAT,
                       "%s:%ld: expected 3 tab-separated fields (path_a, path_b, label), found %d",
                       file, lineno, n);
    if (!*field[0] || !*field[1])
        return sm_fail(&ds->err, SIAMESE_ERR_FORMAT, "%s:%ld: empty image path", file, lineno);
    int label;
    if (parse_label(field[2], &label))
        return sm_fail(&ds->err, SIAMESE_ERR_FORMAT,
                       "%s:%ld: label must be 0 (similar) or 1 (dissimilar), got '%.40s'", file,
                       lineno, field[2]);
    return add_line(ds, m, field[0], field[1], label);
}

static siamese_status read_manifest(siamese_dataset *ds, const char *path, manifest *m) {
    FILE *fp = fopen(path, "r");
    if (!fp) return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    siamese_status st = SIAMESE_OK;
    while (st == SIAMESE_OK && getline(&line, &cap, fp) >= 0) {
        lineno++;
        strip_newline(line);
        const char *p = line;
        while (*p == ' ') p++;
        if (*p == '#' || is_blank(line)) continue;
        st = parse_line(ds, m, path, lineno, line);
    }
    if (st == SIAMESE_OK && ferror(fp))
        st = sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: read error after line %ld", path, lineno);
    free(line);
    fclose(fp);
    return st;
}

/* Adds the distinct names of m as images, in name order; names[] receives them sorted. */
static siamese_status add_images(siamese_dataset *ds, manifest *m, const char *dir, char ***sorted,
                                 int *n_sorted) {
    size_t total = (size_t)m->count * 2;
    char **names = malloc(total ? total * sizeof *names : 1);
    if (!names) return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->count; i++) {
        names[2 * i] = m->lines[i].a;
        names[2 * i + 1] = m->lines[i].b;
    }
    qsort(names, total, sizeof *names, sm_compare_strings);
    int n = 0;
    for (size_t i = 0; i < total; i++)
        if (n == 0 || strcmp(names[n - 1], names[i])) names[n++] = names[i];
    for (int i = 0; i < n; i++) {
        char *path = names[i][0] == '/' ? sm_strdup(names[i]) : sm_path_join(dir, names[i]);
        int id = path ? sm_ds_add_image(ds, names[i], path, NULL, -1) : -1;
        free(path);
        if (id < 0) {
            free(names);
            return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
        }
    }
    *sorted = names;
    *n_sorted = n;
    return SIAMESE_OK;
}

static int find_name(char **sorted, int n, const char *name) {
    char **hit = bsearch(&name, sorted, (size_t)n, sizeof *sorted, sm_compare_strings);
    return (int)(hit - sorted);
}

siamese_status sm_ds_open_manifest(siamese_dataset *ds, const char *path) {
    manifest m = {NULL, 0, 0};
    siamese_status st = read_manifest(ds, path, &m);
    char *dir = st == SIAMESE_OK ? sm_folder_of(path) : NULL;
    if (st == SIAMESE_OK && !dir) st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    char **sorted = NULL;
    int n_sorted = 0;
    if (st == SIAMESE_OK) st = add_images(ds, &m, dir, &sorted, &n_sorted);
    for (int i = 0; st == SIAMESE_OK && i < m.count; i++)
        st = sm_ds_add_pair(ds, find_name(sorted, n_sorted, m.lines[i].a),
                            find_name(sorted, n_sorted, m.lines[i].b), m.lines[i].label);
    if (st == SIAMESE_ERR_NOMEM) sm_fail(&ds->err, st, "out of memory");
    free(sorted);
    free(dir);
    manifest_free(&m);
    if (st == SIAMESE_OK && ds->n_pairs == 0)
        st = sm_fail(&ds->err, SIAMESE_ERR_DATA, "%s: the manifest holds no pairs", path);
    return st;
}
