/* A small option parser shared by the subcommands: --name VALUE, --name=VALUE, flags, --help. */
#ifndef SIAMESE_CLI_ARGS_H
#define SIAMESE_CLI_ARGS_H

#include <stdint.h>

typedef enum cli_opt_kind {
    CLI_OPT_FLAG,   /* int: set to 1 */
    CLI_OPT_STRING, /* const char * */
    CLI_OPT_INT,    /* int */
    CLI_OPT_FLOAT,  /* float */
    CLI_OPT_U64     /* uint64_t */
} cli_opt_kind;

typedef struct cli_option {
    const char *name; /* long name without dashes: "epochs" */
    char short_name;  /* 'o', or 0 */
    cli_opt_kind kind;
    void *target;
    const char *metavar; /* "N", "FILE" (ignored for flags) */
    const char *help;    /* one line; the default is appended from the target's value */
} cli_option;

typedef struct cli_spec {
    const char *command;     /* "train" */
    const char *usage;       /* "DATA -o RUN_DIR [options]" */
    const char *description; /* a paragraph */
    const cli_option *options;
    int n_options;
    int min_positional, max_positional;
    const char *epilog; /* examples, or NULL */
} cli_spec;

enum { CLI_PARSE_OK = 0, CLI_PARSE_HELP = 1, CLI_PARSE_ERROR = 2 };

/* Parses argv[1..argc-1] (argv[0] is the command name) into the options' targets and collects
 * positional arguments. Prints help to stdout (CLI_PARSE_HELP) or a usage error naming the
 * option to stderr (CLI_PARSE_ERROR). */
int cli_parse(const cli_spec *spec, int argc, char **argv, const char **positional,
              int *n_positional);

/* The CLI's number parsers (the options' and the commands' own values such as "3x256x256"):
 * the whole text in base 10, no spaces or '+', within [lo, hi]; 1 on success, 0 otherwise. */
int cli_parse_int(const char *text, int lo, int hi, int *out);
/* "AxBxC": up to max numbers separated by 'x', each in [lo, hi]; the count read, or 0 when the
 * text is not such a list. */
int cli_parse_ints(const char *text, int *values, int max, int lo, int hi);

void cli_print_help(const cli_spec *spec);

/* --threads N: 1 when N is 0 (all cores) to SIAMESE_THREADS_MAX; else prints "siamese COMMAND:
 * --threads must be 0 (all cores) to MAX, got N" to stderr and returns 0. One message for every
 * command. */
int cli_threads_ok(const char *command, int threads);

/* --threshold T when given: 1 when T is a number >= 0; else prints "siamese COMMAND: --threshold
 * must be a number >= 0, got T" to stderr and returns 0. One message for every command. */
int cli_threshold_ok(const char *command, int given, double threshold);

/* The exit code of a command that stops at cli_parse's result: 0 when it printed the help, else
 * 2 (a usage error there, or in a later check of the arguments). */
int cli_parse_exit_code(int parsed);

/* True when the option was given on the command line in the last cli_parse call. */
int cli_was_given(const cli_spec *spec, const char *name);

#endif
