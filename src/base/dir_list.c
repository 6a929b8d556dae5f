/* Sorted listing of a folder's subfolders or regular files (hidden entries skipped). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/fileio.h"
#include "base/util.h"

int sm_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void sm_dir_list_free(sm_dir_list *list) {
    if (!list) return;
    for (int i = 0; i < list->count; i++) free(list->names[i]);
    free(list->names);
    list->names = NULL;
    list->count = 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a copy of name to list (capacity *cap); 0 on success. */
static int append_name(sm_dir_list *list, int *cap, const char *name) {
    if (sm_grow((void **)&list->names, cap, list->count + 1, sizeof *list->names)) return -1;
    char *copy = sm_strdup(name);
    if (!copy) return -1;
    list->names[list->count++] = copy;
    return 0;
}

/* Whether dir/name is of the wanted kind (folder or regular file), following symlinks. */
static int entry_matches(const char *dir, const char *name, int want_dirs) {
    char *full = sm_path_join(dir, name);
    if (!full) return 0;
    int ok = want_dirs ? sm_is_dir(full) : is_regular_file(full);
    free(full);
    return ok;
}

siamese_status sm_list_dir(const char *dir, int want_dirs, sm_dir_list *out, sm_err *err) {
    out->names = NULL;
    out->count = 0;
    DIR *d = opendir(dir);
    if (!d) return sm_fail(err, SIAMESE_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    int cap = 0;
    struct dirent *e;
    siamese_status st = SIAMESE_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; /* hidden files, "." and ".." */
        if (!entry_matches(dir, e->d_name, want_dirs)) continue;
        if (append_name(out, &cap, e->d_name)) {
            st = sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory while listing", dir);
            break;
        }
    }
    closedir(d);
    if (st != SIAMESE_OK) {
        sm_dir_list_free(out);
        return st;
    }
    if (out->count > 1) qsort(out->names, (size_t)out->count, sizeof *out->names, compare_names);
    return SIAMESE_OK;
}
