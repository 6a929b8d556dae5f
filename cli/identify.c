/* siamese identify: who is this? The enrolled identity (class) of the nearest image in an index,
 * or "unknown" when even the nearest is past the model's threshold. */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "cli.h"
#include "collection.h"
#include "similarity.h"

typedef struct identify_args {
    float threshold;
    const char *model;
    int json;
    int threads;
    const char *precision;
} identify_args;

/* The identity of a row: its class, or its item when it has none. */
static const char *identity(const siamese_index *index, int row) {
    return siamese_index_label(index, row) >= 0 ? cli_row_class(index, row)
                                                : siamese_index_item(index, row);
}

static void print_one(const siamese_index *index, const char *probe, int row, float d, double t,
                      int json) {
    int known = row >= 0 && (!(t >= 0) || d <= t);
    const char *who = known ? identity(index, row) : "unknown";
    if (json) {
        printf("{\"probe\":");
        cli_json_string(stdout, probe);
        printf(",\"identity\":");
        cli_json_string(stdout, who);
        if (row >= 0) {
            printf(",\"nearest\":");
            cli_json_string(stdout, siamese_index_item(index, row));
            printf(",\"nearest_identity\":");
            cli_json_string(stdout, identity(index, row));
            printf(",\"dissimilarity\":%.9g", d);
        }
        if (t >= 0) printf(",\"threshold\":%.9g", t);
        printf("}\n");
        return;
    }
    if (row < 0) {
        printf("%s\tunknown\t(the index is empty)\n", probe);
        return;
    }
    printf("%s\t%s\t%.6f", probe, who, d);
    if (!known) printf("\t(nearest: %s at %.6f > threshold %.6f)", identity(index, row), d, t);
    printf("\n");
}

static int identify(const identify_args *a, int threshold_given, const char *index_path,
                    const char *const *probes, int n) {
    siamese_index *index = NULL;
    siamese_model *model = NULL;
    siamese_embeddings e = {0};
    cli_compute compute = {a->threads, SIAMESE_PRECISION_AUTO, 0, 0};
    if (!cli_parse_compute("identify", a->precision, &compute)) return CLI_EXIT_USAGE;
    int ok = cli_open_index("identify", index_path, &index) &&
             cli_open_index_model("identify", index, a->model, &compute, &model) &&
             cli_embed_sources("identify", model, probes, n, 1, 1, &e);
    double t = ok ? (threshold_given ? a->threshold : siamese_model_threshold(model)) : -1;
    if (ok && !(t >= 0))
        fprintf(stderr,
                "siamese identify: the model holds no threshold: every probe gets its "
                "nearest identity (give --threshold, or set one with 'siamese calibrate', to allow "
                "'unknown')\n");
    int *rows = ok ? malloc((size_t)e.count * sizeof(int)) : NULL;
    float *dist = ok ? malloc((size_t)e.count * sizeof(float)) : NULL;
    if (ok &&
        (!rows || !dist ||
         siamese_index_search(index, e.vectors, e.count, 1, NULL, rows, dist) != SIAMESE_OK)) {
        fprintf(stderr, "siamese identify: %s\n", siamese_index_errmsg(index));
        ok = 0;
    }
    for (int i = 0; ok && i < e.count; i++)
        print_one(index, cli_embedding_name(&e, i), rows[i], dist[i], t, a->json);
    free(rows);
    free(dist);
    siamese_embeddings_free(&e);
    siamese_model_free(model);
    siamese_index_free(index);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cli_identify(int argc, char **argv) {
    identify_args a = {-1.0f, NULL, 0, 0, NULL};
    const cli_option options[] = {
        {"threshold", 't', CLI_OPT_FLOAT, &a.threshold, "T",
         "unknown when the nearest dissimilarity is > T (default: the model's)"},
        {"model", 'm', CLI_OPT_STRING, &a.model, "MODEL",
         "embed with this model (default: the one recorded in the index)"},
        {"json", 0, CLI_OPT_FLAG, &a.json, NULL, "one JSON object per probe"},
        {"threads", 'j', CLI_OPT_INT, &a.threads, "N", "threads (0 = all cores)"},
        CLI_PRECISION_OPTION(&a.precision),
    };
    const cli_spec spec = {
        "identify",
        "INDEX PROBE... [--threshold T] [--model MODEL] [--json]",
        "Face identification with a gallery: the index holds the enrolled images in class folders\n"
        "(one folder per identity: 'siamese index build MODEL gallery/ -o INDEX'). Each probe is\n"
        "embedded with the index's model and gets the identity (class folder name) of its\n"
        "nearest enrolled image, or 'unknown' when even that one is past the threshold (the\n"
        "model's, or --threshold). Output: 'probe<TAB>identity<TAB>dissimilarity' per probe.\n"
        "Probes are image files, folders or .txt lists (one path a line, relative paths read\n"
        "from the list's own folder); a probe that does not decode is an error naming it.",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        argc,
        "examples:\n"
        "  siamese identify faces.idx probe.pgm\n"
        "  siamese identify faces.idx probes/ --json\n"
        "exit status: 0 ok (known or unknown), 1 bad index, model or probe image, 2 usage error"};
    const char **pos = malloc((size_t)argc * sizeof(char *));
    int n = 0;
    int parsed = pos ? cli_parse(&spec, argc, argv, pos, &n) : CLI_PARSE_ERROR;
    int code = cli_parse_exit_code(parsed);
    int given = parsed == CLI_PARSE_OK && cli_was_given(&spec, "threshold");
    if (parsed == CLI_PARSE_OK && !cli_threshold_ok("identify", given, a.threshold))
        code = CLI_EXIT_USAGE;
    else if (parsed == CLI_PARSE_OK) code = identify(&a, given, pos[0], pos + 1, n - 1);
    free(pos);
    return code;
}
