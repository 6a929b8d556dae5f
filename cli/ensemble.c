/* siamese ensemble: several trained models joined into one model file that every command uses as one model. */
#include <stdio.h>

#include "args.h"
#include "cli.h"
#include "outputs.h"

#define MODELS_READ 64 /* arguments read, so that too many are refused with the limit named */
#define TEXT_OF(x) #x  /* the limit in the help text, from its one definition */
#define NUMBER_TEXT(x) TEXT_OF(x)

/* Loads the n models; on failure prints why, naming the file, frees what it loaded, returns 0. */
static int load_members(const char *const *paths, int n, siamese_model **members) {
    for (int i = 0; i < n; i++) {
        if (siamese_model_load(paths[i], &members[i]) == SIAMESE_OK) continue;
        fprintf(stderr, "siamese ensemble: %s\n",
                members[i] ? siamese_model_errmsg(members[i]) : "out of memory");
        for (int j = 0; j <= i; j++) siamese_model_free(members[j]);
        return 0;
    }
    return 1;
}

static void print_summary(siamese_model *e, const char *const *paths, int n, const char *output) {
    for (int i = 0; i < n; i++) {
        siamese_model *m = siamese_model_member(e, i);
        fprintf(stderr, "member %d: %s (embedding %d, %zu parameters)\n", i, paths[i],
                siamese_model_embedding_dim(m), siamese_model_param_count(m));
    }
    fprintf(stderr, "wrote %s: %d networks, embedding %d, metric %s, %dx%dx%d input\n", output, n,
            siamese_model_embedding_dim(e), siamese_metric_name(siamese_model_metric(e)),
            siamese_model_channels(e), siamese_model_height(e), siamese_model_width(e));
    if (siamese_model_aligns_faces(e))
        fprintf(stderr, "it aligns each photo once with its members' face aligner, kept once\n");
    fprintf(stderr,
            "it has no threshold yet: choose one on validation data, such as the images its\n"
            "members' runs held out (their split.json, one split for all with --split-seed):\n"
            "  siamese calibrate %s TRAINING_DATA --held-out RUN/split.json -o %s\n",
            output, output);
}

static int run_ensemble(const char *const *paths, int n, const char *output, int quiet) {
    siamese_model *members[SIAMESE_ENSEMBLE_MAX] = {0};
    if (!load_members(paths, n, members)) return CLI_EXIT_FAIL;
    siamese_model *e = NULL;
    if (siamese_model_ensemble(members, n, &e) != SIAMESE_OK) {
        const char *msg = e ? siamese_model_errmsg(e) : "out of memory";
        int bad = -1; /* the message says "member I ...": name its file */
        sscanf(msg, "ensemble: member %d", &bad);
        if (bad > 0 && bad < n)
            fprintf(stderr, "siamese ensemble: %s: %s (member 0: %s)\n", paths[bad], msg, paths[0]);
        else if (bad == 0) fprintf(stderr, "siamese ensemble: %s: %s\n", paths[0], msg);
        else fprintf(stderr, "siamese ensemble: %s\n", msg);
        siamese_model_free(e);
        for (int i = 0; i < n; i++) siamese_model_free(members[i]);
        return CLI_EXIT_FAIL;
    }
    int code = CLI_EXIT_OK;
    if (siamese_model_save(e, output) != SIAMESE_OK) {
        fprintf(stderr, "siamese ensemble: %s\n", siamese_model_errmsg(e));
        code = CLI_EXIT_FAIL;
    } else if (!quiet) {
        print_summary(e, paths, n, output);
    }
    siamese_model_free(e); /* and its members */
    return code;
}

int cli_ensemble(int argc, char **argv) {
    const char *output = NULL;
    int quiet = 0;
    const cli_option options[] = {
        {"output", 'o', CLI_OPT_STRING, &output, "FILE",
         "the ensemble's model file (written atomically; never one of the MODELs)"},
        {"quiet", 'q', CLI_OPT_FLAG, &quiet, NULL, "no summary on stderr"},
    };
    const cli_spec spec = {
        "ensemble",
        "MODEL MODEL... -o ENSEMBLE [options]",
        "Joins 2 to " NUMBER_TEXT(
            SIAMESE_ENSEMBLE_MAX) " trained models into one model file, which every command that "
                                  "takes a\n"
                                  "model (eval, calibrate, compare, verify, identify, embed, "
                                  "index, search, quantize)\n"
                                  "uses as one model. An image's embedding is the members' "
                                  "embeddings side by side, each\n"
                                  "times 1/sqrt(N): under euclidean the ensemble's squared "
                                  "distance is the mean of the\n"
                                  "members'; under cosine or correlation each member's embedding "
                                  "is first made unit\n"
                                  "length (and centred), so its similarity is the mean of theirs. "
                                  "Networks trained with\n"
                                  "different --seed on one --split-seed make a good ensemble: "
                                  "their mistakes differ.\n"
                                  "The members must take the same input and use the same metric; "
                                  "they may differ in\n"
                                  "architecture. Their thresholds are not carried over (the "
                                  "ensemble's distances are on\n"
                                  "their own scale): calibrate the ensemble. The file holds each "
                                  "member's tensors as\n"
                                  "'members.<i>.<name>', a state_dict PyTorch loads into a "
                                  "ModuleList named 'members'.\n"
                                  "Face models with a face aligner ('import face-api --align', "
                                  "fine-tuned from it) may\n"
                                  "join when all have the same one (it never trains): the ensemble "
                                  "keeps one copy and\n"
                                  "aligns each photo once, for all members. An ensemble cannot be "
                                  "trained or be used\n"
                                  "with --init.",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        MODELS_READ,
        "examples:\n"
        "  for s in 1 2 3; do\n"
        "      siamese train DATA --split images -o runs/s$s --seed $s --split-seed 1; done\n"
        "  siamese ensemble runs/s1/model.safetensors runs/s2/model.safetensors \\\n"
        "      runs/s3/model.safetensors -o ensemble.safetensors\n"
        "  siamese calibrate ensemble.safetensors DATA --held-out runs/s1/split.json \\\n"
        "      -o ensemble.safetensors\n"
        "exit status: 0 ok, 1 a model that does not load or does not fit the others, or an\n"
        "output that cannot be written, 2 usage error or a refused output (its folder missing,\n"
        "a folder, or a member)"};
    const char *positional[MODELS_READ];
    int n = 0;
    int parsed = cli_parse(&spec, argc, argv, positional, &n);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    if (n > SIAMESE_ENSEMBLE_MAX) {
        fprintf(stderr, "siamese ensemble: at most %d models, not %d\n", SIAMESE_ENSEMBLE_MAX, n);
        return CLI_EXIT_USAGE;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (cli_same_file(positional[i], positional[j])) {
                fprintf(stderr,
                        "siamese ensemble: %s is given twice (as %s too): its members must be "
                        "different networks\n",
                        positional[i], positional[j]);
                return CLI_EXIT_USAGE;
            }
    if (!output) {
        fprintf(stderr, "siamese ensemble: give the output file with -o FILE\n");
        return CLI_EXIT_USAGE;
    }
    if (cli_output_refused("ensemble", output, CLI_OUTPUT_FILE, positional, n))
        return CLI_EXIT_USAGE;
    return run_ensemble(positional, n, output, quiet);
}
