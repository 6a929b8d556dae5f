/* The files named inside the lists a command reads, as the output guard sees them (see
 * listed_files.h). */
#include "listed_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collection.h"
#include "grow.h"
#include "siamese.h"

struct cli_listed_file {
    dev_t dev;
    ino_t ino;
    char *name;       /* as the list writes it */
    const char *list; /* the input naming it */
};

/* Adds the file at path (when it exists) as list's entry name. 0 when memory runs out. */
static int add_file(cli_listed_files *l, const char *list, const char *name, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 1; /* nothing there to overwrite */
    if (!cli_grow((void **)&l->files, &l->cap, l->count + 1, sizeof *l->files)) return 0;
    cli_listed_file *f = &l->files[l->count];
    *f = (cli_listed_file){st.st_dev, st.st_ino, strdup(name), list};
    l->count += f->name != NULL;
    return f->name != NULL;
}

typedef struct list_visit {
    cli_listed_files *listed;
    const char *list;
} list_visit;

static int visit_image(void *user, const char *written, const char *path) {
    list_visit *v = user;
    return add_file(v->listed, v->list, written, path);
}

/* The images of the manifest at path, read as the commands read a data set that is a file;
 * one that does not open as a manifest (IDX, or a broken one) names nothing. */
static int add_manifest(cli_listed_files *l, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || S_ISDIR(st.st_mode)) return 1;
    siamese_dataset_params p = siamese_dataset_default_params();
    p.kind = SIAMESE_DATASET_MANIFEST;
    siamese_dataset *ds = NULL;
    int ok = 1;
    if (siamese_dataset_open(path, &p, &ds) == SIAMESE_OK)
        for (int i = 0; ok && i < siamese_dataset_image_count(ds); i++)
            ok = add_file(l, path, siamese_dataset_image_name(ds, i),
                          siamese_dataset_image_path(ds, i));
    siamese_dataset_free(ds);
    return ok;
}

static int by_file(const void *pa, const void *pb) {
    const cli_listed_file *a = pa, *b = pb;
    if (a->dev != b->dev) return a->dev < b->dev ? -1 : 1;
    return a->ino < b->ino ? -1 : a->ino > b->ino;
}

/* Reads every list among the inputs into the sorted set; 0 when memory runs out. */
static int read_lists(cli_listed_files *l) {
    int ok = 1;
    for (int i = 0; ok && i < l->n; i++) {
        const char *input = l->inputs[i];
        if (!input) continue;
        if (l->kind == CLI_LISTS_OF_DATA) ok = add_manifest(l, input);
        else if (cli_source_is_list(input))
            ok = cli_image_list_each(input, visit_image, &(list_visit){l, input}) != 0;
    }
    if (l->count > 1) qsort(l->files, (size_t)l->count, sizeof *l->files, by_file);
    l->read = 1;
    return ok;
}

int cli_output_is_listed_file(const char *command, const char *output, cli_listed_files *listed) {
    struct stat st;
    if (stat(output, &st) != 0) return 0; /* a new file replaces nothing */
    if (!listed->read && !read_lists(listed)) {
        fprintf(stderr, "siamese %s: out of memory reading the lists of images\n", command);
        return 1;
    }
    cli_listed_file key = {st.st_dev, st.st_ino, NULL, NULL};
    const cli_listed_file *hit =
        listed->count ? bsearch(&key, listed->files, (size_t)listed->count, sizeof key, by_file)
                      : NULL;
    if (hit)
        fprintf(stderr,
                "siamese %s: %s: the output is the image %s named in %s; it would be overwritten\n",
                command, output, hit->name, hit->list);
    return hit != NULL;
}

int cli_output_is_manifest_image(const char *command, const char *output, const char *data) {
    cli_listed_files listed = {.inputs = &data, .n = 1, .kind = CLI_LISTS_OF_DATA};
    int hit = cli_output_is_listed_file(command, output, &listed);
    cli_listed_files_free(&listed);
    return hit;
}

void cli_listed_files_free(cli_listed_files *listed) {
    for (int i = 0; i < listed->count; i++) free(listed->files[i].name);
    free(listed->files);
    listed->files = NULL;
    listed->count = listed->cap = listed->read = 0;
}
