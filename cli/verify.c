/* siamese verify: are two images of the same identity? The model's calibrated threshold decides;
 * the distance and its margin from the threshold say how clearly. */
#include <stdio.h>

#include "args.h"
#include "cli.h"
#include "collection.h"
#include "similarity.h"

typedef struct verify_args {
    float threshold;
    int json;
    int threads;
    const char *precision;
} verify_args;

static void print_verdict(const char *a, const char *b, double d, double t, siamese_metric m,
                          int json) {
    const char *verdict = d <= t ? "same" : "different";
    if (json) {
        printf("{\"a\":");
        cli_json_string(stdout, a);
        printf(",\"b\":");
        cli_json_string(stdout, b);
        printf(",\"verdict\":\"%s\",\"dissimilarity\":%.9g,\"threshold\":%.9g,\"margin\":%.9g,"
               "\"metric\":\"%s\"}\n",
               verdict, d, t, t - d, siamese_metric_name(m));
        return;
    }
    printf("verdict:       %s\n", verdict);
    printf("dissimilarity: %.6f (%s)\n", d, siamese_metric_name(m));
    printf("threshold:     %.6f (same at or below)\n", t);
    printf("margin:        %+.6f (%s the threshold)\n", t - d, d <= t ? "below" : "above");
}

static int verify(const verify_args *a, int threshold_given, const char *model_path,
                  const char *const *files) {
    siamese_model *model = NULL;
    cli_compute compute = {a->threads, SIAMESE_PRECISION_AUTO, 0, 0};
    if (!cli_parse_compute("verify", a->precision, &compute)) return CLI_EXIT_USAGE;
    if (!cli_open_model("verify", model_path, &compute, &model)) return CLI_EXIT_FAIL;
    double t = threshold_given ? a->threshold : siamese_model_threshold(model);
    siamese_embeddings e = {0};
    int ok = 1;
    if (!(t >= 0)) {
        fprintf(stderr,
                "siamese verify: %s holds no threshold: choose one on validation pairs with "
                "'siamese calibrate %s DATA -o MODEL', or give --threshold\n",
                model_path, model_path);
        ok = 0;
    }
    ok = ok && cli_embed_sources("verify", model, files, 2, 1, 1, &e);
    if (ok && e.count != 2) {
        fprintf(stderr, "siamese verify: give two image files\n");
        ok = 0;
    }
    if (ok) {
        siamese_metric m = siamese_model_metric(model);
        double d = siamese_distance(m, e.vectors, e.vectors + e.dim, e.dim);
        print_verdict(files[0], files[1], d, t, m, a->json);
    }
    siamese_embeddings_free(&e);
    siamese_model_free(model);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cli_verify(int argc, char **argv) {
    verify_args a = {-1.0f, 0, 0, NULL};
    const cli_option options[] = {
        {"threshold", 't', CLI_OPT_FLOAT, &a.threshold, "T",
         "same when the dissimilarity is <= T (default: the model's)"},
        {"json", 0, CLI_OPT_FLAG, &a.json, NULL, "one JSON object"},
        {"threads", 'j', CLI_OPT_INT, &a.threads, "N", "threads (0 = all cores)"},
        CLI_PRECISION_OPTION(&a.precision),
    };
    const cli_spec spec = {
        "verify",
        "MODEL A B [--threshold T] [--json]",
        "Face or signature verification: embeds the two images and decides 'same' when their\n"
        "dissimilarity is at or below the model's threshold (the best-accuracy threshold of its\n"
        "training run's evaluation, stored in the model) or --threshold, else 'different'. The\n"
        "margin is threshold - dissimilarity: the further from zero, the clearer the verdict.\n"
        "The exit status does not depend on the verdict.",
        options,
        (int)(sizeof options / sizeof options[0]),
        3,
        3,
        "examples:\n"
        "  siamese verify runs/faces/best.safetensors "
        "../shared/data/att_faces/training/s1/1.pgm \\\n"
        "      ../shared/data/att_faces/training/s1/2.pgm\n"
        "exit status: 0 ok (either verdict), 1 bad model or image, or no threshold, 2 usage error"};
    const char *pos[3];
    int n = 0;
    int parsed = cli_parse(&spec, argc, argv, pos, &n);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    int given = cli_was_given(&spec, "threshold");
    if (!cli_threshold_ok("verify", given, a.threshold)) return CLI_EXIT_USAGE;
    return verify(&a, given, pos[0], pos + 1);
}
