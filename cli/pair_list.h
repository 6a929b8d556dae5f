/* Reads the pair lists 'siamese compare --pairs' takes: TSV lines "path_a <TAB> path_b
 * [<TAB> label]", '#' comments and blank lines skipped, relative paths against the file's folder. */
#ifndef SIAMESE_CLI_PAIR_LIST_H
#define SIAMESE_CLI_PAIR_LIST_H

#include <stddef.h>

typedef struct cli_pair_entry {
    char *a, *b;           /* as written in the file */
    char *path_a, *path_b; /* paths that open the files */
    int label;             /* 0 similar, 1 dissimilar, -1 none given */
    long line;             /* line number in the file */
} cli_pair_entry;

typedef struct cli_pair_list {
    cli_pair_entry *items;
    int count, cap;
} cli_pair_list;

/* Reads the list at path. On failure returns 0 and writes a message naming the file (and line)
 * and the reason into errmsg; the list is then empty. */
int cli_pair_list_read(const char *path, cli_pair_list *list, char *errmsg, size_t errmsg_size);
void cli_pair_list_free(cli_pair_list *list);

/* How a list file resolves the paths written in it (these pair lists, and the image lists of
 * collection.c), as dataset manifests do: relative paths against the list's own folder. */
/* The folder holding the list at path ("" for a bare file name: the current folder); malloc'd. */
char *cli_list_folder(const char *path);
/* name as is when absolute or when dir is "", else joined to dir; malloc'd. */
char *cli_list_path(const char *dir, const char *name);

#endif
