/* Shared declarations of the CLI: exit codes and the subcommand table. */
#ifndef SIAMESE_CLI_H
#define SIAMESE_CLI_H

#include <stdio.h>

/* A number macro as text, for help strings that state a library limit (one source for it). */
#define CLI_TEXT(x) CLI_TEXT_OF(x)
#define CLI_TEXT_OF(x) #x

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2, CLI_EXIT_INTERRUPTED = 130 };

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

int cli_train(int argc, char **argv);
int cli_pairs(int argc, char **argv);
int cli_test(int argc, char **argv);
int cli_compare(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_calibrate(int argc, char **argv);
int cli_embed_command(int argc, char **argv);
int cli_index(int argc, char **argv);
int cli_search(int argc, char **argv);
int cli_similar(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_identify(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_quantize(int argc, char **argv);
int cli_ensemble(int argc, char **argv);

#endif
