/* The files named inside the lists a command reads (the images of a .txt list or of a pairs
 * manifest), inputs too for the output guard: read once, when an output first exists, and kept
 * as a set of files by device and inode, so links and other spellings of a path are seen. */
#ifndef SIAMESE_CLI_LISTED_FILES_H
#define SIAMESE_CLI_LISTED_FILES_H

/* How the command reads its inputs, so which of them are lists. */
typedef enum cli_list_kind {
    CLI_LISTS_OF_SOURCES, /* embed, index build, search: each .txt file lists images */
    CLI_LISTS_OF_DATA     /* a data set that is a file (not IDX): a pairs manifest */
} cli_list_kind;

typedef struct cli_listed_file cli_listed_file;

/* Set inputs (NULL entries skipped), n and kind (designated initializers); the rest zeroed. */
typedef struct cli_listed_files {
    const char *const *inputs;
    int n;
    cli_list_kind kind;
    int read;               /* 1 once the lists were read */
    cli_listed_file *files; /* what they name, sorted by device and inode */
    int count, cap;
} cli_listed_files;

/* The guard against the files the lists name: 1, after printing "siamese COMMAND: OUTPUT: the
 * output is the image NAME named in LIST; it would be overwritten" (NAME as the list writes it),
 * when output exists and is one of them. A list that cannot be read names nothing here (the
 * command reports it when it reads it). Out of memory is said and refuses too. */
int cli_output_is_listed_file(const char *command, const char *output, cli_listed_files *listed);

/* The same guard of one output against the images of data when it is a pairs manifest. */
int cli_output_is_manifest_image(const char *command, const char *output, const char *data);

void cli_listed_files_free(cli_listed_files *listed);

#endif
