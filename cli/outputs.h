/* The output guard of the commands that write files: an output path never names an input. */
#ifndef SIAMESE_CLI_OUTPUTS_H
#define SIAMESE_CLI_OUTPUTS_H

#include "siamese.h"

/* 1 when a and b name the same file: the same text, or the same device and inode. */
int cli_same_file(const char *a, const char *b);

/* When output names one of the n inputs (NULL entries skipped), prints "siamese COMMAND: OUTPUT:
 * the output is [the input INPUT | also an input]; it would be overwritten" to stderr and returns
 * 1; else returns 0. */
int cli_output_overwrites_input(const char *command, const char *output, const char *const *inputs,
                                int n);

/* The same guard for the files an index names: its recorded model and its items (the gallery
 * images, found by siamese_index_find's hashed look-up, as given or resolved). */
int cli_output_overwrites_index_file(const char *command, const char *output, siamese_index *index);

#endif
