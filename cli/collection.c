/* Helpers shared by the collection commands (see collection.h). */
#include "collection.h"

#include "grow.h"
#include "pair_list.h"
#include "progress.h"
#include "similarity.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CLI_ERRMSG 1024

/* ---------------------------------------------------------------- progress and warnings */

/* What the embedding callbacks print for one command. */
typedef struct embed_report {
    const char *command;
    int terminal; /* stderr is a terminal: redraw one progress line */
    int line_open;
    double last_draw;
    pthread_mutex_t lock; /* warnings may come from decoding threads */
    int strict;           /* every warning is an error (else only those about named files) */
    char *const *named;   /* the files named on the command line: their warnings are errors */
    int n_named;
    char first_error[CLI_ERRMSG]; /* the first warning that is an error here */
} embed_report;

static void end_line(embed_report *r) {
    if (r->line_open) fputc('\n', stderr);
    r->line_open = 0;
}

/* 1 when message ("PATH: reason; skipped") is about a file named on the command line. */
static int about_named_file(const embed_report *r, const char *message) {
    for (int i = 0; i < r->n_named; i++) {
        size_t n = strlen(r->named[i]);
        if (strncmp(message, r->named[i], n) == 0 && message[n] == ':') return 1;
    }
    return 0;
}

static void on_warning(void *user, const char *message) {
    embed_report *r = user;
    pthread_mutex_lock(&r->lock);
    if (r->strict || about_named_file(r, message)) {
        if (!r->first_error[0]) snprintf(r->first_error, CLI_ERRMSG, "%s", message);
        size_t n = strlen(r->first_error), tail = strlen("; skipped");
        if (n > tail && strcmp(r->first_error + n - tail, "; skipped") == 0)
            r->first_error[n - tail] = '\0'; /* here it is an error, nothing is skipped */
    } else {
        end_line(r);
        fprintf(stderr, "siamese %s: warning: %s\n", r->command, message);
    }
    pthread_mutex_unlock(&r->lock);
}

static void on_progress(void *user, int done, int total) {
    embed_report *r = user;
    double t = cli_now_seconds();
    if (!r->terminal || (done < total && t - r->last_draw < 0.2)) return;
    r->last_draw = t;
    fprintf(stderr, "\rembedding %d/%d images", done, total);
    r->line_open = 1;
    if (done == total) end_line(r);
}

/* ---------------------------------------------------------------- gathering files */

/* A growing list of malloc'd paths. */
typedef struct path_list {
    char **items;
    int count, cap;
} path_list;

static int list_push(path_list *l, const char *path) {
    if (!cli_grow((void **)&l->items, &l->cap, l->count + 1, sizeof *l->items)) return 0;
    char *copy = malloc(strlen(path) + 1);
    if (!copy) return 0;
    strcpy(copy, path);
    l->items[l->count++] = copy;
    return 1;
}

static void list_free(path_list *l) {
    for (int i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Every regular file below dir (hidden entries skipped), sorted. */
static int walk(const char *dir, path_list *out) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    path_list here = {0};
    struct dirent *e;
    int ok = 1;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        ok = path != NULL;
        if (ok) snprintf(path, len, "%s/%s", dir, e->d_name);
        ok = ok && list_push(&here, path);
        free(path);
    }
    closedir(d);
    if (here.count) qsort(here.items, (size_t)here.count, sizeof(char *), by_name);
    for (int i = 0; ok && i < here.count; i++) {
        struct stat st;
        if (stat(here.items[i], &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) ok = walk(here.items[i], out);
        else if (S_ISREG(st.st_mode)) ok = list_push(out, here.items[i]);
    }
    list_free(&here);
    return ok;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cli_source_is_list(const char *source) { return !is_dir(source) && ends_with(source, ".txt"); }

int cli_image_list_each(const char *list, cli_list_visit visit, void *user) {
    FILE *fp = fopen(list, "r");
    if (!fp) return -1;
    char line[4096], *dir = cli_list_folder(list);
    int ok = dir != NULL;
    while (ok && fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        char *file = cli_list_path(dir, line);
        ok = file && visit(user, line, file);
        free(file);
    }
    free(dir);
    fclose(fp);
    return ok;
}

static int push_visit(void *user, const char *written, const char *path) {
    (void)written;
    return list_push(user, path);
}

/* The images of a .txt list, in out. */
static int read_list(const char *command, const char *path, path_list *out) {
    int read = cli_image_list_each(path, push_visit, out);
    if (read < 0)
        fprintf(stderr, "siamese %s: %s: cannot open: %s\n", command, path, strerror(errno));
    else if (!read) fprintf(stderr, "siamese %s: %s: out of memory\n", command, path);
    return read > 0;
}

/* A file named on the command line: one that cannot be opened (a typo) is an error, found
 * before anything is embedded, where a file of a folder or list would only be skipped. */
static int add_named_file(const char *command, const char *path, path_list *out, path_list *named) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "siamese %s: %s: cannot open: %s\n", command, path, strerror(errno));
        return 0;
    }
    fclose(fp);
    if (list_push(out, path) && list_push(named, path)) return 1;
    fprintf(stderr, "siamese %s: out of memory\n", command);
    return 0;
}

/* Files named by sources: folders walked, .txt lists read, anything else taken as a file (and
 * also kept in named). */
static int gather(const char *command, const char *const *sources, int n, path_list *out,
                  path_list *named) {
    for (int i = 0; i < n; i++) {
        if (is_dir(sources[i])) {
            if (walk(sources[i], out)) continue;
            fprintf(stderr, "siamese %s: %s: cannot read\n", command, sources[i]);
            return 0;
        }
        int ok = cli_source_is_list(sources[i]) ? read_list(command, sources[i], out)
                                                : add_named_file(command, sources[i], out, named);
        if (!ok) return 0;
    }
    if (out->count == 0 && n == 1)
        fprintf(stderr, "siamese %s: %s: no files in it (an empty folder or list)\n", command,
                sources[0]);
    else if (out->count == 0)
        fprintf(stderr, "siamese %s: no files in the %d folders and lists given\n", command, n);
    return out->count > 0;
}

/* ---------------------------------------------------------------- embedding */

/* A source that is one dataset (class folders, IDX, recipe layout), or NULL when it is not. */
static siamese_dataset *open_dataset(const char *source, embed_report *r) {
    struct stat st;
    if (stat(source, &st) != 0) return NULL;
    if (!S_ISDIR(st.st_mode) && !strstr(source, "idx3-ubyte")) return NULL;
    siamese_dataset_params p = siamese_dataset_default_params();
    p.warning = on_warning;
    p.warning_user = r;
    siamese_dataset *ds = NULL;
    if (siamese_dataset_open(source, &p, &ds) == SIAMESE_OK && siamese_dataset_class_count(ds) > 0)
        return ds;
    siamese_dataset_free(ds);
    return NULL;
}

int cli_embed_sources(const char *command, siamese_model *model, const char *const *sources, int n,
                      int strict, int quiet, siamese_embeddings *out) {
    embed_report r = {
        command, !quiet && isatty(2), 0, 0, PTHREAD_MUTEX_INITIALIZER, strict, NULL, 0, ""};
    siamese_embed_params p = siamese_embed_default_params();
    p.warning = on_warning;
    p.warning_user = &r;
    p.progress = on_progress;
    p.progress_user = &r;
    char errmsg[CLI_ERRMSG] = "";
    siamese_status st;
    siamese_dataset *ds = n == 1 ? open_dataset(sources[0], &r) : NULL;
    if (ds) {
        st = siamese_embed_dataset(model, ds, &p, out, errmsg, sizeof errmsg);
        siamese_dataset_free(ds);
    } else {
        path_list files = {0}, named = {0};
        int ok = gather(command, sources, n, &files, &named);
        r.named = named.items;
        r.n_named = named.count;
        st = ok ? siamese_embed_files(model, (const char *const *)files.items, files.count, &p, out,
                                      errmsg, sizeof errmsg)
                : SIAMESE_OK;
        list_free(&files);
        list_free(&named);
        if (!ok) return 0;
    }
    end_line(&r);
    if (st == SIAMESE_OK && ((strict && out->skipped > 0) || r.first_error[0])) {
        siamese_embeddings_free(out);
        fprintf(stderr, "siamese %s: %s\n", command, r.first_error);
        return 0;
    }
    if (st != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: %s\n", command,
                r.first_error[0] ? r.first_error
                : errmsg[0]      ? errmsg
                                 : siamese_status_str(st));
        return 0;
    }
    return 1;
}

const char *cli_embedding_name(const siamese_embeddings *e, int i) {
    return e->paths && e->paths[i] ? e->paths[i] : e->names[i];
}

/* ---------------------------------------------------------------- index and model */

/* The number of shards PATH.0, PATH.1, ... there are when PATH itself is missing ('index build
 * --shards N' writes only those), else 0. */
static int shard_count(const char *path) {
    struct stat st;
    char name[4096];
    if (stat(path, &st) == 0) return 0;
    int n = 0;
    while (n < SIAMESE_INDEX_SHARDS_MAX &&
           (size_t)snprintf(name, sizeof name, "%s.%d", path, n) < sizeof name &&
           stat(name, &st) == 0)
        n++;
    return n;
}

int cli_open_index(const char *command, const char *path, siamese_index **out) {
    siamese_index *index = NULL;
    int shards = shard_count(path);
    if (shards > 0) {
        fprintf(stderr,
                "siamese %s: %s is a sharded index of %d shard%s (%s.0 .. %s.%d): search it with "
                "'mpirun -np %d siamese search %s QUERY...', or name one shard\n",
                command, path, shards, shards == 1 ? "" : "s", path, path, shards - 1, shards,
                path);
        *out = NULL;
        return 0;
    }
    siamese_status st = siamese_index_open(path, &index);
    if (st == SIAMESE_OK) {
        *out = index;
        return 1;
    }
    const char *msg = index ? siamese_index_errmsg(index) : "";
    if (*msg) fprintf(stderr, "siamese %s: %s\n", command, msg);
    else fprintf(stderr, "siamese %s: %s: %s\n", command, path, siamese_status_str(st));
    siamese_index_free(index);
    *out = NULL;
    return 0;
}

int cli_open_index_model(const char *command, siamese_index *index, const char *model_path,
                         const cli_compute *compute, siamese_model **out) {
    const char *path = model_path ? model_path : siamese_index_model_path(index);
    *out = NULL;
    if (!path) {
        fprintf(stderr, "siamese %s: the index records no model: give --model\n", command);
        return 0;
    }
    siamese_model *model = NULL;
    if (siamese_model_load(path, &model) != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: %s%s\n", command, model ? siamese_model_errmsg(model) : path,
                model_path ? "" : " (the index's model; give another with --model)");
        siamese_model_free(model);
        return 0;
    }
    if (siamese_index_check_model(index, model) != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: %s: %s\n", command, path, siamese_index_errmsg(index));
        siamese_model_free(model);
        return 0;
    }
    return cli_finish_open_model(command, model, compute, out);
}

const char *cli_row_class(const siamese_index *index, int row) {
    const char *name = siamese_index_class_name(index, siamese_index_label(index, row));
    return name ? name : "-";
}

void cli_print_neighbours(const siamese_index *index, const char *query, const int *rows,
                          const float *distances, int k, int json) {
    if (json) {
        printf("{\"query\":");
        cli_json_string(stdout, query);
        printf(",\"metric\":\"%s\",\"neighbours\":[",
               siamese_metric_name(siamese_index_metric(index)));
        for (int j = 0; j < k && rows[j] >= 0; j++) {
            printf("%s{\"rank\":%d,\"item\":", j ? "," : "", j + 1);
            cli_json_string(stdout, siamese_index_item(index, rows[j]));
            printf(",\"class\":");
            if (siamese_index_label(index, rows[j]) >= 0)
                cli_json_string(stdout, cli_row_class(index, rows[j]));
            else printf("null");
            printf(",\"dissimilarity\":%.9g}", distances[j]);
        }
        printf("]}\n");
        return;
    }
    printf("query %s\n", query);
    for (int j = 0; j < k && rows[j] >= 0; j++)
        printf("%4d  %.6f  %-16s  %s\n", j + 1, distances[j], cli_row_class(index, rows[j]),
               siamese_index_item(index, rows[j]));
}
