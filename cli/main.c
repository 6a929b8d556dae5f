/* siamese: the command-line tool's entry point; dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "siamese.h"
#include "stop_signals.h"

static const cli_command commands[] = {
    {"train", "train a Siamese network on a dataset (or resume a run)", cli_train},
    {"pairs", "write the recipe's pairs of a dataset as a manifest or folder tree", cli_pairs},
    {"test", "the recipe's visual check: the first test image against the next five", cli_test},
    {"compare", "dissimilarity of two images, or of every pair in a manifest", cli_compare},
    {"eval", "score a model: verification, n-way k-shot, retrieval, Lake's one-shot runs",
     cli_eval},
    {"calibrate", "choose a model's threshold on a validation set and write it into the model",
     cli_calibrate},
    {"embed", "embeddings of every image of a folder, dataset or list (safetensors, npy)",
     cli_embed_command},
    {"index", "build, update or describe an index of a collection's embeddings", cli_index},
    {"search", "the k most similar images of an index for each query image", cli_search},
    {"similar", "more like this: the nearest items of an item already in an index", cli_similar},
    {"verify", "same or different: two images against the model's threshold", cli_verify},
    {"identify", "the enrolled identity nearest to a probe image, or unknown", cli_identify},
    {"report", "one self-contained HTML page of a training run: curves, mistakes, neighbours",
     cli_report},
    {"import", "convert a pretrained network a package ships (face-api) into a model file",
     cli_import},
    {"quantize", "int8 calibration of a model on a dataset (for --precision int8)", cli_quantize},
    {"ensemble", "join several trained models into one model file that judges as one",
     cli_ensemble},
};

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: siamese [--help] [--version] COMMAND [ARGS]\n\n"
            "Learn image similarity with a Siamese convolutional network (contrastive loss).\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'siamese COMMAND --help' for the options of one command.\n");
}

/* Under mpirun (issue 16) MPI lives for the whole command: train runs data-parallel, search
 * merges the ranks' shards; every other command runs the same on every rank. */
static int run_command(const cli_command *command, int argc, char **argv) {
    cli_stop_signals_start(); /* before MPI, OpenMP or the loader make a thread */
    if (siamese_dist_init(&argc, &argv) < 0) {
        fprintf(stderr, "siamese: MPI_Init failed\n");
        return CLI_EXIT_FAIL;
    }
    int rc = command->run(argc - 1, argv + 1);
    siamese_dist_finalize();
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("siamese %s\n", siamese_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return run_command(&commands[i], argc, argv);
    fprintf(stderr, "siamese: unknown command '%s' (see 'siamese --help')\n", argv[1]);
    return CLI_EXIT_USAGE;
}
