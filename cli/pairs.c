/* siamese pairs: writes the recipe's pairs of a dataset as a manifest or as the recipe's folders. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "listed_files.h"
#include "outputs.h"
#include "siamese.h"

typedef struct pairs_args {
    const char *output;
    const char *layout;
    const char *idx_part;
    int per_class;
    uint64_t seed;
    int no_verify;
} pairs_args;

static void print_warning(void *user, const char *message) {
    (void)user;
    fprintf(stderr, "siamese pairs: warning: %s\n", message);
}

/* The dataset's message names the path and the reason; the status name only stands in for it
 * when there is none (it read "No such file or directory (input/output error)" beside one). */
static int fail(siamese_dataset *ds, siamese_status st) {
    const char *msg = siamese_dataset_errmsg(ds);
    fprintf(stderr, "siamese pairs: %s\n", msg && *msg ? msg : siamese_status_str(st));
    return st == SIAMESE_ERR_INVALID_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

static int count_label(const siamese_pairs *pairs, int label) {
    int n = 0;
    for (int i = 0; i < pairs->count; i++) n += pairs->items[i].label == label;
    return n;
}

/* Opens (and verifies) the dataset, samples, writes. */
static int run_pairs(const char *data, const pairs_args *a, int recipe_layout) {
    siamese_dataset_params dp = siamese_dataset_default_params();
    dp.idx_part = a->idx_part;
    dp.warning = print_warning;
    siamese_dataset *ds = NULL;
    siamese_status st = siamese_dataset_open(data, &dp, &ds);
    if (st == SIAMESE_OK && !a->no_verify) st = siamese_dataset_verify(ds, NULL);
    siamese_pairs pairs = {NULL, 0};
    if (st == SIAMESE_OK) st = siamese_pairs_recipe(ds, NULL, 0, a->per_class, a->seed, &pairs);
    if (st == SIAMESE_OK)
        st = recipe_layout ? siamese_pairs_write_recipe_layout(ds, &pairs, a->output)
                           : siamese_pairs_write_manifest(ds, &pairs, a->output);
    int code = CLI_EXIT_OK;
    if (st != SIAMESE_OK) {
        code = fail(ds, st);
    } else {
        printf("%s: %d pairs (%d similar, %d dissimilar) from %s dataset %s", a->output,
               pairs.count, count_label(&pairs, 0), count_label(&pairs, 1),
               siamese_dataset_kind_name(siamese_dataset_get_kind(ds)), data);
        if (siamese_dataset_class_count(ds) > 0)
            printf(" (%d classes, %d images)", siamese_dataset_class_count(ds),
                   siamese_dataset_image_count(ds));
        printf("\n");
    }
    if (ds && siamese_dataset_skipped_count(ds) > 0)
        fprintf(stderr, "siamese pairs: %d file%s skipped\n", siamese_dataset_skipped_count(ds),
                siamese_dataset_skipped_count(ds) == 1 ? "" : "s");
    siamese_pairs_free(&pairs);
    siamese_dataset_free(ds);
    return code;
}

int cli_pairs(int argc, char **argv) {
    pairs_args a = {NULL, "manifest", NULL, 3, 0, 0};
    const cli_option options[] = {
        {"output", 'o', CLI_OPT_STRING, &a.output, "PATH",
         "manifest file to write, or the folder for --layout recipe (required; '-' is refused:"
         " the manifest's paths are relative to its folder, so it is always a file)"},
        {"per-class", 'k', CLI_OPT_INT, &a.per_class, "K",
         "similar and dissimilar pairs drawn per class (at random, as the recipe draws them: a "
         "pair may repeat, and K above a class's distinct pairs repeats some)"},
        {"seed", 's', CLI_OPT_U64, &a.seed, "N", "random seed: the same seed gives the same pairs"},
        {"layout", 0, CLI_OPT_STRING, &a.layout, "KIND",
         "manifest (TSV: path_a, path_b, label) or recipe (the tutorial's folders; their images "
         "are hard links to DATA's where the file system allows, so editing one edits DATA's, "
         "else copies)"},
        {"idx-part", 0, CLI_OPT_STRING, &a.idx_part, "PREFIX",
         "IDX folders: use only the files starting with PREFIX (train, t10k)"},
        {"no-verify", 0, CLI_OPT_FLAG, &a.no_verify, NULL,
         "do not decode every image first (undecodable files then end up in pairs)"},
    };
    const cli_spec spec = {
        "pairs",
        "DATA -o OUTPUT [options]",
        "Draws the reference recipe's pairs from DATA: for every class, K similar pairs (two\n"
        "different images of the class) and K dissimilar pairs (images of two different classes\n"
        "drawn at random). Label 0 = similar, 1 = dissimilar. DATA is a folder of class folders\n"
        "(Stanford Dogs Images/, AT&T s1..s40), a folder of IDX files (MNIST), the recipe's\n"
        "folder layout or a pairs manifest. Every image is decoded once first; files that do not\n"
        "decode are skipped with a warning.",
        options,
        (int)(sizeof options / sizeof options[0]),
        1,
        1,
        "examples:\n"
        "  siamese pairs data/Images -o pairs.tsv --seed 1\n"
        "  siamese pairs data/att_faces --per-class 5 --layout recipe -o att_recipe\n"
        "exit status: 0 ok, 1 bad data or I/O error, 2 usage error or a refused output: its "
        "folder\n"
        "missing, a folder, '-', an existing file of DATA or an image its manifest names\n"
        "(checked before any work)"};
    const char *positional[1];
    int n_positional = 0;
    int parsed = cli_parse(&spec, argc, argv, positional, &n_positional);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    if (!a.output || !*a.output) {
        fprintf(stderr, "siamese pairs: -o OUTPUT is required (see 'siamese pairs --help')\n");
        return CLI_EXIT_USAGE;
    }
    if (a.per_class < 1) {
        fprintf(stderr, "siamese pairs: --per-class must be at least 1, got %d\n", a.per_class);
        return CLI_EXIT_USAGE;
    }
    int recipe = !strcmp(a.layout, "recipe");
    if (!recipe && strcmp(a.layout, "manifest")) {
        fprintf(stderr, "siamese pairs: --layout must be manifest or recipe, got '%s'\n", a.layout);
        return CLI_EXIT_USAGE;
    }
    if (cli_output_refused("pairs", a.output, recipe ? CLI_OUTPUT_FOLDER : CLI_OUTPUT_FILE,
                           positional, 1) ||
        cli_output_is_manifest_image("pairs", a.output, positional[0]))
        return CLI_EXIT_USAGE;
    return run_pairs(positional[0], &a, recipe);
}
