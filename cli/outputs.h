/* The output guard of the commands that write files: checked before any work, an output path
 * can be written (its folder exists) and never replaces an input or a file of an input folder. */
#ifndef SIAMESE_CLI_OUTPUTS_H
#define SIAMESE_CLI_OUTPUTS_H

#include "siamese.h"

/* What a command writes at an output path: one file, or a folder it creates or fills. */
typedef enum cli_output_kind { CLI_OUTPUT_FILE, CLI_OUTPUT_FOLDER } cli_output_kind;

/* 1 when the resolved (real) path lies below the resolved folder dir. */
int cli_path_is_below(const char *path, const char *dir);

/* 1 when a and b name the same file: the same text, or the same device and inode. */
int cli_same_file(const char *a, const char *b);

/* The up-front check of an output path: it is not empty and not "-" (no command writes a file
 * to standard output; ./- names a file '-'), its folder exists and is a folder, and it is not an
 * existing folder (CLI_OUTPUT_FILE; nor ends with '/') or an existing file (CLI_OUTPUT_FOLDER).
 * Else prints "siamese COMMAND: OUTPUT: REASON; nothing written" to stderr and returns 0. */
int cli_output_path_ok(const char *command, const char *output, cli_output_kind kind);

/* The output guard against the n inputs a command reads (NULL entries skipped): 1, after
 * printing why to stderr, when writing output would replace one of them:
 *   - output names an input (the same text, or the same device and inode): "siamese COMMAND:
 *     OUTPUT: the output is [the input INPUT | also an input]; it would be overwritten";
 *   - an input is a folder and output already exists below it (output resolved as the realpath
 *     of its folder plus its name, so symlinked folders and ../ are seen through): "siamese
 *     COMMAND: OUTPUT: the output would replace a file of the input folder INPUT".
 * A new file inside an input folder is allowed. Else returns 0. Pass every file and folder the
 * command reads, the ones it reads implicitly too (a split.json beside the model). */
int cli_output_overwrites_input(const char *command, const char *output, const char *const *inputs,
                                int n);

/* Both checks, as every command calls them before any work: 1 (after saying why) when output
 * fails cli_output_path_ok or cli_output_overwrites_input. The command then exits 2. */
int cli_output_refused(const char *command, const char *output, cli_output_kind kind,
                       const char *const *inputs, int n);

/* The same guard for the files an index names: its recorded model and its items (the gallery
 * images, found by siamese_index_find's hashed look-up, as given or resolved). */
int cli_output_overwrites_index_file(const char *command, const char *output, siamese_index *index);

#endif
