/* Class-per-folder datasets: the class-root rules (which folders are classes) and their images. */
#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fileio.h"

/* A class folder is a folder that directly holds at least one (non-hidden) regular file. */
static int holds_files(const char *dir) {
    sm_dir_list files;
    if (sm_list_dir(dir, 0, &files, NULL) != SIAMESE_OK) return 0;
    int n = files.count;
    sm_dir_list_free(&files);
    return n > 0;
}

/* Adds class `class_name` with the files of folder `dir`; image names are prefix/file. */
static siamese_status add_class_folder(siamese_dataset *ds, const char *dir, const char *class_name,
                                       const char *name_prefix) {
    sm_dir_list files;
    siamese_status st = sm_list_dir(dir, 0, &files, &ds->err);
    if (st != SIAMESE_OK) return st;
    int c = files.count > 0 ? sm_ds_add_class(ds, class_name) : -2;
    if (c == -1) st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    for (int i = 0; i < files.count && st == SIAMESE_OK; i++) {
        char *path = sm_path_join(dir, files.names[i]);
        char *name = path ? sm_path_join(name_prefix, files.names[i]) : NULL;
        if (!name || sm_ds_add_image(ds, name, path, NULL, c) < 0)
            st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
        free(path);
        free(name);
    }
    sm_dir_list_free(&files);
    return st;
}

/* Adds every subfolder of root that holds files as a class. group ("" or "training") prefixes
 * class names; prefix is root's path relative to the dataset path ("" at the top). */
static siamese_status add_classes_of(siamese_dataset *ds, const char *root, const char *group,
                                     const char *prefix) {
    sm_dir_list dirs;
    siamese_status st = sm_list_dir(root, 1, &dirs, &ds->err);
    for (int i = 0; i < dirs.count && st == SIAMESE_OK; i++) {
        char *dir = sm_path_join(root, dirs.names[i]);
        char *class_name = *group ? sm_path_join(group, dirs.names[i]) : sm_strdup(dirs.names[i]);
        char *name_prefix =
            *prefix ? sm_path_join(prefix, dirs.names[i]) : sm_strdup(dirs.names[i]);
        if (!dir || !class_name || !name_prefix)
            st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
        else if (holds_files(dir)) st = add_class_folder(ds, dir, class_name, name_prefix);
        free(dir);
        free(class_name);
        free(name_prefix);
    }
    sm_dir_list_free(&dirs);
    return st;
}

/* Whether any subfolder of root holds files (root is then the folder of class folders). */
static int is_class_root(const char *root, sm_dir_list *dirs) {
    for (int i = 0; i < dirs->count; i++) {
        char *dir = sm_path_join(root, dirs->names[i]);
        int yes = dir && holds_files(dir);
        free(dir);
        if (yes) return 1;
    }
    return 0;
}

/* Adds the classes of every group folder (training/, testing/) of root, named "group/class". */
static siamese_status add_grouped_classes(siamese_dataset *ds, const char *root, const char *prefix,
                                          sm_dir_list *groups) {
    siamese_status st = SIAMESE_OK;
    for (int i = 0; i < groups->count && st == SIAMESE_OK; i++) {
        char *dir = sm_path_join(root, groups->names[i]);
        char *sub = *prefix ? sm_path_join(prefix, groups->names[i]) : sm_strdup(groups->names[i]);
        if (!dir || !sub) st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
        else st = add_classes_of(ds, dir, groups->names[i], sub);
        free(dir);
        free(sub);
    }
    return st;
}

/* Finds the class root below path (see siamese_dataset_open) and adds its classes. */
static siamese_status add_from_root(siamese_dataset *ds, const char *root, const char *prefix,
                                    int depth) {
    sm_dir_list dirs;
    siamese_status st = sm_list_dir(root, 1, &dirs, &ds->err);
    if (st != SIAMESE_OK) return st;
    if (is_class_root(root, &dirs)) {
        st = add_classes_of(ds, root, "", prefix);
    } else if (dirs.count == 1 && depth < 4) {
        char *dir = sm_path_join(root, dirs.names[0]);
        char *sub = *prefix ? sm_path_join(prefix, dirs.names[0]) : sm_strdup(dirs.names[0]);
        st = dir && sub ? add_from_root(ds, dir, sub, depth + 1)
                        : sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
        free(dir);
        free(sub);
    } else {
        st = add_grouped_classes(ds, root, prefix, &dirs);
    }
    sm_dir_list_free(&dirs);
    return st;
}

/* Images in (class, name) order; class ids are already in class-name order. */
static int compare_images(const void *a, const void *b) {
    const sm_ds_image *x = a, *y = b;
    if (x->class_id != y->class_id) return x->class_id < y->class_id ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Grouped classes are added group by group: renumbers classes in name order and sorts the images by (class, name). */
static siamese_status sort_classes(siamese_dataset *ds) {
    int n = ds->n_classes;
    if (n < 2) return SIAMESE_OK; /* one class's images are already in name order */
    char **old = malloc((size_t)n * sizeof *old);
    int *remap = malloc((size_t)n * sizeof *remap);
    if (!old || !remap) {
        free(old);
        free(remap);
        return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    memcpy(old, ds->class_names, (size_t)n * sizeof *old);
    qsort(ds->class_names, (size_t)n, sizeof *ds->class_names, sm_compare_strings);
    for (int c = 0; c < n; c++) {
        char **hit = bsearch(&old[c], ds->class_names, (size_t)n, sizeof *old, sm_compare_strings);
        remap[c] = (int)(hit - ds->class_names);
    }
    for (int i = 0; i < ds->n_images; i++) ds->images[i].class_id = remap[ds->images[i].class_id];
    qsort(ds->images, (size_t)ds->n_images, sizeof *ds->images, compare_images);
    free(old);
    free(remap);
    return SIAMESE_OK;
}

siamese_status sm_ds_open_folders(siamese_dataset *ds, const char *path) {
    if (!sm_is_dir(path))
        return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: not a folder (or it does not exist)", path);
    siamese_status st = add_from_root(ds, path, "", 0);
    if (st != SIAMESE_OK) return st;
    st = sort_classes(ds);
    if (st != SIAMESE_OK) return st;
    if (ds->n_classes < 2)
        return sm_fail(&ds->err, SIAMESE_ERR_DATA,
                       "%s: found %d class folder%s holding files; need at least two", path,
                       ds->n_classes, ds->n_classes == 1 ? "" : "s");
    return SIAMESE_OK;
}
