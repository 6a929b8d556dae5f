/* A small option parser shared by the subcommands (see args.h). */
#include "args.h"
#include "cli.h"
#include "siamese.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MAX_OPTIONS 64

static const cli_spec *given_spec;
static unsigned char given[CLI_MAX_OPTIONS];

/* Appends the target's value as the default, unless the help text states its own. */
static void print_default(const cli_option *o) {
    if (strstr(o->help, "(default")) return;
    switch (o->kind) {
    case CLI_OPT_FLAG:
        break;
    case CLI_OPT_STRING:
        if (*(const char **)o->target) printf(" (default: %s)", *(const char **)o->target);
        break;
    case CLI_OPT_INT:
        printf(" (default: %d)", *(int *)o->target);
        break;
    case CLI_OPT_FLOAT:
        printf(" (default: %g)", (double)*(float *)o->target);
        break;
    case CLI_OPT_U64:
        printf(" (default: %" PRIu64 ")", *(uint64_t *)o->target);
        break;
    }
}

/* An option's help text; a line break in it continues under the first line's start. */
static void print_option_help(const char *help) {
    for (const char *nl; (nl = strchr(help, '\n')) != NULL; help = nl + 1)
        printf("%.*s\n%31s", (int)(nl - help), help, "");
    printf("%s", help);
}

void cli_print_help(const cli_spec *spec) {
    printf("usage: siamese %s %s\n\n%s\n\noptions:\n", spec->command, spec->usage,
           spec->description);
    for (int i = 0; i < spec->n_options; i++) {
        const cli_option *o = &spec->options[i];
        char left[64], flag[8] = "    ";
        if (o->short_name) snprintf(flag, sizeof flag, "-%c, ", o->short_name);
        if (o->kind == CLI_OPT_FLAG) snprintf(left, sizeof left, "%s--%s", flag, o->name);
        else
            snprintf(left, sizeof left, "%s--%s %s", flag, o->name,
                     o->metavar ? o->metavar : "VALUE");
        printf("  %-28s ", left);
        print_option_help(o->help);
        print_default(o);
        printf("\n");
    }
    printf("  %-28s %s\n", "-h, --help", "show this help and exit");
    if (spec->epilog) printf("\n%s\n", spec->epilog);
}

static const cli_option *find_long(const cli_spec *spec, const char *name, size_t len) {
    for (int i = 0; i < spec->n_options; i++)
        if (strlen(spec->options[i].name) == len && !strncmp(spec->options[i].name, name, len))
            return &spec->options[i];
    return NULL;
}

static const cli_option *find_short(const cli_spec *spec, char c) {
    for (int i = 0; i < spec->n_options; i++)
        if (spec->options[i].short_name == c) return &spec->options[i];
    return NULL;
}

static int usage_error(const cli_spec *spec, const char *fmt, const char *what) {
    fprintf(stderr, "siamese %s: ", spec->command);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n(see 'siamese %s --help')\n", spec->command);
    return CLI_PARSE_ERROR;
}

int cli_parse_int(const char *text, int lo, int hi, int *out) {
    char *end = NULL;
    if (!*text || *text == '+' || isspace((unsigned char)*text)) return 0;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

int cli_parse_ints(const char *text, int *values, int max, int lo, int hi) {
    char part[32];
    int n = 0;
    for (const char *p = text;; n++) {
        const char *x = strchr(p, 'x');
        size_t len = x ? (size_t)(x - p) : strlen(p);
        if (n == max || len >= sizeof part) return 0;
        memcpy(part, p, len);
        part[len] = '\0';
        if (!cli_parse_int(part, lo, hi, &values[n])) return 0;
        if (!x) return n + 1;
        p = x + 1;
    }
}

/* Stores text into the option's target; returns 0 when the value does not parse. */
static int store_value(const cli_option *o, const char *text) {
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case CLI_OPT_FLAG:
        *(int *)o->target = 1;
        return 1;
    case CLI_OPT_STRING:
        *(const char **)o->target = text;
        return 1;
    case CLI_OPT_INT:
        return cli_parse_int(text, -INT_MAX, INT_MAX, (int *)o->target);
    case CLI_OPT_FLOAT: {
        float v = strtof(text, &end);
        if (errno || end == text || *end) return 0;
        *(float *)o->target = v;
        return 1;
    }
    case CLI_OPT_U64: {
        if (*text == '-') return 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || end == text || *end) return 0;
        *(uint64_t *)o->target = (uint64_t)v;
        return 1;
    }
    }
    return 0;
}

static int apply_option(const cli_spec *spec, const cli_option *o, const char *inline_value, int *i,
                        int argc, char **argv) {
    given[o - spec->options] = 1;
    if (o->kind == CLI_OPT_FLAG) {
        if (inline_value) return usage_error(spec, "option --%s takes no value", o->name);
        *(int *)o->target = 1;
        return CLI_PARSE_OK;
    }
    const char *value = inline_value;
    if (!value) {
        if (*i + 1 >= argc) return usage_error(spec, "option --%s needs a value", o->name);
        value = argv[++*i];
    }
    if (!store_value(o, value)) {
        fprintf(stderr, "siamese %s: invalid value '%s' for --%s\n", spec->command, value, o->name);
        return CLI_PARSE_ERROR;
    }
    return CLI_PARSE_OK;
}

int cli_parse(const cli_spec *spec, int argc, char **argv, const char **positional,
              int *n_positional) {
    given_spec = spec;
    memset(given, 0, sizeof given);
    *n_positional = 0;
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int rc = CLI_PARSE_OK;
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (*n_positional >= spec->max_positional)
                return usage_error(spec, "unexpected argument '%s'", arg);
            positional[(*n_positional)++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_positional = 1;
            continue;
        }
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            cli_print_help(spec);
            return CLI_PARSE_HELP;
        }
        if (arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            const cli_option *o = find_long(spec, name, eq ? (size_t)(eq - name) : strlen(name));
            if (!o) return usage_error(spec, "unknown option '%s'", arg);
            rc = apply_option(spec, o, eq ? eq + 1 : NULL, &i, argc, argv);
        } else {
            const cli_option *o = find_short(spec, arg[1]);
            if (!o) return usage_error(spec, "unknown option '%s'", arg);
            rc = apply_option(spec, o, arg[2] ? arg + 2 : NULL, &i, argc, argv);
        }
        if (rc != CLI_PARSE_OK) return rc;
    }
    if (*n_positional < spec->min_positional)
        return usage_error(spec, "missing arguments (usage: %s)", spec->usage);
    return CLI_PARSE_OK;
}

int cli_was_given(const cli_spec *spec, const char *name) {
    if (spec != given_spec) return 0;
    for (int i = 0; i < spec->n_options && i < CLI_MAX_OPTIONS; i++)
        if (!strcmp(spec->options[i].name, name)) return given[i];
    return 0;
}

int cli_threads_ok(const char *command, int threads) {
    if (threads >= 0 && threads <= SIAMESE_THREADS_MAX) return 1;
    fprintf(stderr, "siamese %s: --threads must be 0 (all cores) to %d, got %d\n", command,
            SIAMESE_THREADS_MAX, threads);
    return 0;
}

int cli_threshold_ok(const char *command, int given, double threshold) {
    if (!given || threshold >= 0) return 1;
    fprintf(stderr, "siamese %s: --threshold must be a number >= 0, got %g\n", command, threshold);
    return 0;
}

int cli_parse_exit_code(int parsed) {
    return parsed == CLI_PARSE_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}
