/* The output guard of the commands that write files: checked before any work, an output path
 * can be written (its folder exists) and never replaces an input or a file of an input folder. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "outputs.h"
#include "pair_list.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (strcmp(a, b) == 0) return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The folder part of path into out: "." for a bare name, "/" for a name in the root. */
static void folder_of(const char *path, char *out, size_t size) {
    char *dir = cli_list_folder(path); /* "" for a bare name */
    snprintf(out, size, "%s", dir && *dir ? dir : ".");
    free(dir);
}

int cli_output_path_ok(const char *command, const char *output, cli_output_kind kind) {
    const char *reason = NULL, *about_folder = NULL;
    char folder[PATH_MAX];
    struct stat st;
    size_t n = output ? strlen(output) : 0;
    if (n == 0) {
        fprintf(stderr, "siamese %s: the output needs a file name\n", command);
        return 0;
    }
    /* a folder output may end with '/': its folder is that of the name before it */
    char name[PATH_MAX];
    snprintf(name, sizeof name, "%s", output);
    for (size_t end = strlen(name); kind == CLI_OUTPUT_FOLDER && end > 1 && name[end - 1] == '/';)
        name[--end] = '\0';
    folder_of(name, folder, sizeof folder);
    if (strcmp(output, "-") == 0)
        reason = "'-' is not standard output here: give a file name (./- for a file named '-')";
    else if (n >= sizeof folder) reason = "the path is too long";
    else if (stat(folder, &st) != 0)
        about_folder = errno == ENOENT ? "does not exist" : strerror(errno);
    else if (!S_ISDIR(st.st_mode)) about_folder = "is not a folder";
    else if (kind == CLI_OUTPUT_FILE && output[n - 1] == '/')
        reason = "names a folder: give a file name";
    else if (kind == CLI_OUTPUT_FILE && stat(output, &st) == 0 && S_ISDIR(st.st_mode))
        reason = "is a folder: give a file name";
    else if (kind == CLI_OUTPUT_FOLDER && stat(output, &st) == 0 && !S_ISDIR(st.st_mode))
        reason = "is a file, not a folder";
    if (about_folder)
        fprintf(stderr, "siamese %s: %s: its folder %s %s; nothing written\n", command, output,
                folder, about_folder);
    else if (reason)
        fprintf(stderr, "siamese %s: %s: %s; nothing written\n", command, output, reason);
    return !reason && !about_folder;
}

/* The resolved path of an existing output, malloc'd: its folder's realpath and its own name, so
 * symlinks and ../ of the folders are seen through while the name itself (which a write would
 * replace) is kept; a folder (or "." and "..") resolved whole. NULL when output does not exist
 * or cannot be resolved. */
static char *resolve_existing(const char *output) {
    struct stat st;
    if (lstat(output, &st) != 0) return NULL;
    const char *slash = strrchr(output, '/'), *name = slash ? slash + 1 : output;
    if (S_ISDIR(st.st_mode) || !*name || !strcmp(name, ".") || !strcmp(name, ".."))
        return realpath(output, NULL);
    char folder[PATH_MAX];
    folder_of(output, folder, sizeof folder);
    char *real = realpath(folder, NULL);
    size_t size = real ? strlen(real) + strlen(name) + 2 : 0;
    char *path = real ? malloc(size) : NULL;
    if (path) snprintf(path, size, "%s%s%s", real, strcmp(real, "/") ? "/" : "", name);
    free(real);
    return path;
}

int cli_path_is_below(const char *path, const char *dir) {
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0) return path[0] == '/' && path[1] != '\0';
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* 1 (after saying so) when output is an existing entry below the input folder. */
static int replaces_folder_file(const char *command, const char *output, const char *input) {
    struct stat st;
    if (stat(input, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    char *out = resolve_existing(output);
    char *dir = out ? realpath(input, NULL) : NULL;
    int hit = dir && cli_path_is_below(out, dir);
    if (hit)
        fprintf(stderr, "siamese %s: %s: the output would replace a file of the input folder %s\n",
                command, output, input);
    free(dir);
    free(out);
    return hit;
}

int cli_output_overwrites_input(const char *command, const char *output, const char *const *inputs,
                                int n) {
    for (int i = 0; i < n; i++) {
        if (!inputs[i] || !cli_same_file(output, inputs[i])) continue;
        if (strcmp(output, inputs[i]) == 0)
            fprintf(stderr,
                    "siamese %s: %s: the output is also an input; it would be overwritten\n",
                    command, output);
        else
            fprintf(stderr, "siamese %s: %s: the output is the input %s; it would be overwritten\n",
                    command, output, inputs[i]);
        return 1;
    }
    for (int i = 0; i < n; i++)
        if (inputs[i] && replaces_folder_file(command, output, inputs[i])) return 1;
    return 0;
}

int cli_output_refused(const char *command, const char *output, cli_output_kind kind,
                       const char *const *inputs, int n) {
    return !cli_output_path_ok(command, output, kind) ||
           cli_output_overwrites_input(command, output, inputs, n);
}

int cli_output_overwrites_index_file(const char *command, const char *output,
                                     siamese_index *index) {
    int row = siamese_index_find(index, output); /* items are recorded as resolved paths */
    const char *named[] = {siamese_index_model_path(index),
                           row >= 0 ? siamese_index_item(index, row) : NULL};
    return cli_output_overwrites_input(command, output, named, 2);
}
