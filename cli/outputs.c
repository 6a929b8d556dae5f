/* The output guard of the commands that write files: an output path never names an input. */
#include "outputs.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int cli_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (strcmp(a, b) == 0) return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
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
    return 0;
}

int cli_output_overwrites_index_file(const char *command, const char *output,
                                     siamese_index *index) {
    int row = siamese_index_find(index, output); /* items are recorded as resolved paths */
    const char *named[] = {siamese_index_model_path(index),
                           row >= 0 ? siamese_index_item(index, row) : NULL};
    return cli_output_overwrites_input(command, output, named, 2);
}
