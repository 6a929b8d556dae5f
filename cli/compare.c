/* siamese compare: the dissimilarity of two image files, or of every pair in a list, under a
 * trained model, with a verdict when a threshold is known. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "outputs.h"
#include "pair_list.h"
#include "siamese.h"
#include "similarity.h"

#define COMPARE_BATCH_BYTES ((size_t)64 << 20) /* image tensors decoded per embedding batch */
#define COMPARE_BATCH_MAX 256                  /* pairs per embedding batch at most */
#define COMPARE_ERRMSG 512

typedef struct compare_args {
    const char *pairs;
    const char *png;
    const char *metric;
    float threshold;
    int json;
    int threads;
    const char *precision;
} compare_args;

/* The model and how its distances are read. */
typedef struct compare_setup {
    siamese_model *model;
    siamese_metric metric;
    double threshold; /* < 0: no verdict */
    siamese_image_options options;
    int threads; /* decoding threads, as --threads (0 = OpenMP's default) */
} compare_setup;

/* The threshold for verdicts: --threshold when given; else the model's own, but only under the
 * metric it was calibrated for. */
static double pick_threshold(const compare_setup *s, const compare_args *a, int threshold_given) {
    if (threshold_given) return a->threshold;
    double own = siamese_model_threshold(s->model);
    if (own >= 0 && s->metric != siamese_model_metric(s->model)) {
        fprintf(stderr,
                "siamese compare: no verdict: the model's threshold %.4f holds for %s distances, "
                "not %s (give --threshold)\n",
                own, siamese_metric_name(siamese_model_metric(s->model)),
                siamese_metric_name(s->metric));
        return -1;
    }
    return own;
}

/* Loads one image file as the model's input tensor (a face chip when the model aligns faces)
 * and, when keep is not NULL, the picture for the drawing; errmsg names the file and the reason. */
static int load_tensor(const compare_setup *s, const char *path, float *out, siamese_image *keep,
                       char *errmsg, size_t errmsg_size) {
    if (siamese_model_load_input(s->model, path, out, errmsg, errmsg_size) != SIAMESE_OK) return 0;
    return !keep || siamese_image_load(path, &s->options, keep, errmsg, errmsg_size) == SIAMESE_OK;
}

/* Distances of n pairs whose tensors sit as [a_0..a_{n-1}, b_0..b_{n-1}] in images. */
static int pair_distances(const compare_setup *s, const float *images, int n, double *out) {
    float *emb = NULL;
    if (!cli_embed("compare", s->model, images, 2 * n, &emb)) return 0;
    int dim = siamese_model_embedding_dim(s->model);
    for (int i = 0; i < n; i++)
        out[i] = siamese_distance(s->metric, emb + (size_t)i * (size_t)dim,
                                  emb + (size_t)(n + i) * (size_t)dim, dim);
    free(emb);
    return 1;
}

static int draw_pair(const char *path, const siamese_image *a, const siamese_image *b,
                     double distance) {
    char caption[64];
    cli_dissimilarity_caption(caption, sizeof caption, distance);
    siamese_captioned_pair cell = {a, b, caption};
    char why[1024];
    if (siamese_draw_pairs(path, &cell, 1, why, sizeof why) == SIAMESE_OK) return 1;
    fprintf(stderr, "siamese compare: %s\n", why);
    return 0;
}

static void print_one(const compare_setup *s, const char *a, const char *b, double d, int json) {
    const char *verdict = cli_verdict(d, s->threshold);
    if (json) {
        printf("{\"a\":");
        cli_json_string(stdout, a);
        printf(",\"b\":");
        cli_json_string(stdout, b);
        printf(",\"dissimilarity\":%.9g,\"metric\":\"%s\"", d, siamese_metric_name(s->metric));
        if (verdict) printf(",\"threshold\":%.9g,\"verdict\":\"%s\"", s->threshold, verdict);
        printf("}\n");
        return;
    }
    printf("dissimilarity: %.6f (%s)\n", d, siamese_metric_name(s->metric));
    if (verdict) printf("verdict:       %s (similar at or below %.4f)\n", verdict, s->threshold);
}

/* A B: two files, one embedding batch of two images. */
static int compare_two(const compare_setup *s, const char *a, const char *b,
                       const compare_args *args) {
    float *images = cli_alloc_tensors(s->model, 2);
    siamese_image ia = {0, 0, 0, NULL}, ib = {0, 0, 0, NULL};
    char errmsg[COMPARE_ERRMSG];
    int ok = images != NULL;
    if (!ok) fprintf(stderr, "siamese compare: out of memory\n");
    size_t per = cli_model_image_floats(s->model);
    siamese_image *keep_a = args->png ? &ia : NULL, *keep_b = args->png ? &ib : NULL;
    if (ok && (!load_tensor(s, a, images, keep_a, errmsg, sizeof errmsg) ||
               !load_tensor(s, b, images + per, keep_b, errmsg, sizeof errmsg))) {
        fprintf(stderr, "siamese compare: %s\n", errmsg);
        ok = 0;
    }
    double d = 0;
    ok = ok && pair_distances(s, images, 1, &d);
    ok = ok && (!args->png || draw_pair(args->png, &ia, &ib, d));
    if (ok) {
        print_one(s, a, b, d, args->json);
        if (args->png) fprintf(args->json ? stderr : stdout, "pair drawn in %s\n", args->png);
    }
    siamese_image_free(&ia);
    siamese_image_free(&ib);
    free(images);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* Decodes the 2n images of pairs [first, first + n) in parallel; on failure prints the message of
 * the first bad file (in list order) with its line. */
static int decode_batch(const compare_setup *s, const char *list_path, const cli_pair_list *list,
                        int first, int n, float *images, char (*errors)[COMPARE_ERRMSG]) {
    size_t per = cli_model_image_floats(s->model);
    int failed = 0;
    int threads = s->threads > 0 ? s->threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic) reduction(| : failed) num_threads(threads)
    for (int k = 0; k < 2 * n; k++) {
        const cli_pair_entry *e = &list->items[first + k % n];
        const char *path = k < n ? e->path_a : e->path_b;
        errors[k][0] = '\0';
        if (!load_tensor(s, path, images + (size_t)k * per, NULL, errors[k], COMPARE_ERRMSG))
            failed |= 1;
    }
    if (!failed) return 1;
    for (int i = 0; i < n; i++)
        for (int side = 0; side < 2; side++)
            if (errors[side * n + i][0]) {
                fprintf(stderr, "siamese compare: %s:%ld: %s\n", list_path,
                        list->items[first + i].line, errors[side * n + i]);
                return 0;
            }
    return 0;
}

static void print_list(const compare_setup *s, const cli_pair_list *list, const double *d,
                       int json) {
    for (int i = 0; i < list->count; i++) {
        const cli_pair_entry *e = &list->items[i];
        const char *verdict = cli_verdict(d[i], s->threshold);
        if (!json) {
            printf("%s\t%s\t%.6f", e->a, e->b, d[i]);
            if (verdict) printf("\t%s", verdict);
            if (e->label >= 0) printf("\t%d", e->label);
            printf("\n");
            continue;
        }
        printf("{\"a\":");
        cli_json_string(stdout, e->a);
        printf(",\"b\":");
        cli_json_string(stdout, e->b);
        printf(",\"dissimilarity\":%.9g,\"metric\":\"%s\"", d[i], siamese_metric_name(s->metric));
        if (verdict) printf(",\"threshold\":%.9g,\"verdict\":\"%s\"", s->threshold, verdict);
        if (e->label >= 0) printf(",\"label\":%d", e->label);
        printf("}\n");
    }
}

/* With labels and a threshold: how often the verdict agrees with the label (on stderr). */
static void print_accuracy(const compare_setup *s, const cli_pair_list *list, const double *d) {
    int labelled = 0, right = 0;
    for (int i = 0; i < list->count; i++) {
        if (list->items[i].label < 0) continue;
        labelled++;
        right += (d[i] > s->threshold) == (list->items[i].label == 1);
    }
    if (labelled > 0 && s->threshold >= 0)
        fprintf(stderr,
                "siamese compare: %d of %d labelled pairs agree with the verdict (%.1f%%)\n", right,
                labelled, 100.0 * right / labelled);
}

/* --pairs FILE: every pair, embedded in batches; nothing is printed unless all pairs succeed. */
static int compare_list(const compare_setup *s, const char *list_path, int json) {
    cli_pair_list list;
    char errmsg[COMPARE_ERRMSG];
    if (!cli_pair_list_read(list_path, &list, errmsg, sizeof errmsg)) {
        fprintf(stderr, "siamese compare: %s\n", errmsg);
        return CLI_EXIT_FAIL;
    }
    size_t per_pair = 2 * cli_model_image_floats(s->model) * sizeof(float);
    size_t fit = per_pair ? COMPARE_BATCH_BYTES / per_pair : 1;
    int batch = fit < 1 ? 1 : fit > COMPARE_BATCH_MAX ? COMPARE_BATCH_MAX : (int)fit;
    if (batch > list.count) batch = list.count;
    float *images = cli_alloc_tensors(s->model, 2 * (size_t)batch);
    double *d = malloc((size_t)list.count * sizeof *d);
    char(*errors)[COMPARE_ERRMSG] = malloc(2 * (size_t)batch * sizeof *errors);
    int ok = images && d && errors;
    if (!ok) fprintf(stderr, "siamese compare: out of memory\n");
    for (int first = 0; ok && first < list.count; first += batch) {
        int n = list.count - first < batch ? list.count - first : batch;
        ok = decode_batch(s, list_path, &list, first, n, images, errors) &&
             pair_distances(s, images, n, d + first);
    }
    if (ok) {
        print_list(s, &list, d, json);
        print_accuracy(s, &list, d);
    }
    free(errors);
    free(d);
    free(images);
    cli_pair_list_free(&list);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* Checks the argument combinations; returns 0 after printing a usage error. */
static int check_usage(const compare_args *a, int n_positional, int threshold_given) {
    const char *problem = NULL;
    if (a->pairs && n_positional != 1) problem = "with --pairs FILE give only MODEL";
    else if (!a->pairs && n_positional != 3) problem = "give MODEL A B, or MODEL --pairs FILE";
    else if (a->pairs && a->png) problem = "--png draws one pair: it does not go with --pairs";
    else if (a->png && !*a->png) problem = "--png needs a file name";
    if (!problem) return cli_threshold_ok("compare", threshold_given, a->threshold);
    fprintf(stderr, "siamese compare: %s (see 'siamese compare --help')\n", problem);
    return 0;
}

int cli_compare(int argc, char **argv) {
    compare_args a = {NULL, NULL, NULL, -1.0f, 0, 0, NULL};
    const cli_option options[] = {
        {"pairs", 'p', CLI_OPT_STRING, &a.pairs, "FILE",
         "compare every pair of a TSV list: path_a, path_b[, label]"},
        {"png", 'o', CLI_OPT_STRING, &a.png, "FILE",
         "draw the pair with its dissimilarity above it"},
        {"metric", 'm', CLI_OPT_STRING, &a.metric, "NAME",
         "euclidean, cosine or correlation (default: the model's)"},
        {"threshold", 't', CLI_OPT_FLOAT, &a.threshold, "T",
         "verdict threshold: similar when the dissimilarity is <= T (default: the model's)"},
        {"json", 0, CLI_OPT_FLAG, &a.json, NULL, "one JSON object per pair"},
        {"threads", 'j', CLI_OPT_INT, &a.threads, "N", "threads (0 = all cores)"},
        CLI_PRECISION_OPTION(&a.precision),
    };
    const cli_spec spec = {
        "compare",
        "MODEL A B [--png out.png]  |  MODEL --pairs FILE [--json]",
        "Measures how dissimilar two images are under a trained model: both are decoded,\n"
        "resized to the model's input (Pillow-exact), embedded, and compared with the model's\n"
        "metric (or --metric). A verdict (similar / dissimilar) is added when a threshold is\n"
        "known: the one stored in the model (the best-accuracy threshold of the training run's\n"
        "last evaluation), or --threshold. The model's threshold holds only for its own metric:\n"
        "with another --metric there is no verdict unless --threshold is given.\n\n"
        "--pairs FILE compares every pair of a list: TSV lines 'path_a<TAB>path_b[<TAB>label]'\n"
        "(label 0 similar, 1 dissimilar; '#' comments; relative paths are read from the list's\n"
        "folder; manifests written by 'siamese pairs' fit). Images are embedded in batches.\n"
        "Output: one line per pair, "
        "'path_a<TAB>path_b<TAB>dissimilarity[<TAB>verdict][<TAB>label]'\n"
        "(paths as written in the list), or one JSON object per line with --json. Nothing is\n"
        "printed unless every pair succeeds; a labelled list also gets an agreement summary on\n"
        "stderr.",
        options,
        (int)(sizeof options / sizeof options[0]),
        1,
        3,
        "examples:\n"
        "  siamese compare runs/dogs/best.safetensors a.jpg b.jpg\n"
        "  siamese compare model.safetensors a.jpg b.jpg --png pair.png --metric cosine\n"
        "  siamese compare model.safetensors --pairs pairs.tsv --json\n"
        "exit status: 0 ok, 1 bad model or image file, or a file that cannot be written,\n"
        "2 usage error or a refused --png (its folder missing, a folder, MODEL, A or B)"};
    const char *positional[3];
    int n_positional = 0;
    int parsed = cli_parse(&spec, argc, argv, positional, &n_positional);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    int threshold_given = cli_was_given(&spec, "threshold");
    if (!check_usage(&a, n_positional, threshold_given)) return CLI_EXIT_USAGE;
    if (a.png && cli_output_refused("compare", a.png, CLI_OUTPUT_FILE, positional, n_positional))
        return CLI_EXIT_USAGE;
    siamese_metric metric = SIAMESE_METRIC_EUCLIDEAN;
    if (a.metric && siamese_metric_parse(a.metric, &metric) != SIAMESE_OK) {
        fprintf(stderr, "siamese compare: unknown --metric '%s' (euclidean, cosine, correlation)\n",
                a.metric);
        return CLI_EXIT_USAGE;
    }
    cli_compute compute = {a.threads, SIAMESE_PRECISION_AUTO, 0, 0};
    if (!cli_parse_compute("compare", a.precision, &compute)) return CLI_EXIT_USAGE;
    compare_setup s;
    if (!cli_open_model("compare", positional[0], &compute, &s.model)) return CLI_EXIT_FAIL;
    s.metric = a.metric ? metric : siamese_model_metric(s.model);
    s.threshold = pick_threshold(&s, &a, threshold_given);
    s.options = cli_model_image_options(s.model);
    s.threads = a.threads;
    int code = a.pairs ? compare_list(&s, a.pairs, a.json)
                       : compare_two(&s, positional[1], positional[2], &a);
    siamese_model_free(s.model);
    return code;
}
