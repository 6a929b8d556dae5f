/* siamese eval: judge a model by the protocols the field uses (verification, n-way k-shot,
 * retrieval, Lake's one-shot runs) on a dataset embedded once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "eval_data.h"
#include "eval_print.h"
#include "eval_report.h"
#include "listed_files.h"
#include "outputs.h"
#include "progress.h"
#include "siamese.h"
#include "similarity.h"

typedef struct eval_args {
    const char *protocol;
    int per_class, all_pairs, bootstrap;
    uint64_t seed;
    int way, shot, episodes;
    const char *metric;
    int threads, batch, json, quiet;
    const char *png_dir;
    const char *precision;
    const char *queries;
    const char *report;
    const char *held_out; /* a run's split.json: only the images it held out */
} eval_args;

enum { RUN_VERIFICATION = 1, RUN_FEWSHOT = 2, RUN_RETRIEVAL = 4 };

/* Everything computed, owned here until printed. */
typedef struct eval_state {
    siamese_model *model;
    siamese_metric metric;
    eval_set set, query_set;
    float *distances, *labels;
    int *rows_a, *rows_b; /* embedding rows of each verification pair */
    int n_pairs, dropped;
    siamese_verification verification;
    siamese_fewshot fewshot;
    siamese_retrieval retrieval;
    siamese_lake_runs lake;
    eval_results results;
} eval_state;

static int parse_protocols(const char *name, int *out) {
    if (!name || !strcmp(name, "verification")) *out = RUN_VERIFICATION;
    else if (!strcmp(name, "fewshot")) *out = RUN_FEWSHOT;
    else if (!strcmp(name, "retrieval")) *out = RUN_RETRIEVAL;
    else if (!strcmp(name, "all")) *out = RUN_VERIFICATION | RUN_FEWSHOT | RUN_RETRIEVAL;
    else return 0;
    return 1;
}

static const char *check_usage(const eval_args *a) {
    if (a->per_class < 1) return "--pairs-per-class must be at least 1";
    if (a->bootstrap < 0 || a->bootstrap > 100000) return "--bootstrap must be 0 to 100000";
    if (a->way < 2) return "--way must be at least 2";
    if (a->shot < 1) return "--shot must be at least 1";
    if (a->episodes < 1) return "--episodes must be at least 1";
    if (a->batch < 0 || a->batch > 4096) return "--batch must be 0 (auto) to 4096";
    return NULL;
}

static int run_verification(eval_state *s, const eval_args *a) {
    eval_pair_options po = {a->per_class, a->all_pairs, a->seed};
    if (!eval_set_pair_rows("eval", &s->set, s->metric, &po, &s->distances, &s->labels, &s->n_pairs,
                            &s->dropped, &s->rows_a, &s->rows_b))
        return 0;
    siamese_verification_params vp = siamese_verification_default_params();
    vp.bootstrap = a->bootstrap;
    vp.seed = a->seed;
    vp.model_threshold =
        s->metric == siamese_model_metric(s->model) ? siamese_model_threshold(s->model) : -1.0f;
    siamese_status st =
        siamese_eval_verification(s->distances, s->labels, s->n_pairs, &vp, &s->verification);
    if (st != SIAMESE_OK) {
        fprintf(stderr, "siamese eval: verification of %d pairs: %s%s\n", s->n_pairs,
                siamese_status_str(st),
                st == SIAMESE_ERR_DATA ? " (the pairs need both similar and dissimilar ones)" : "");
        return 0;
    }
    s->results.verification = &s->verification;
    s->results.pairs_dropped = s->dropped;
    if (a->png_dir) {
        char msg[1024];
        if (siamese_eval_write_pictures(s->distances, s->labels, s->n_pairs,
                                        s->verification.best_threshold, a->png_dir, msg,
                                        sizeof msg) != SIAMESE_OK) {
            fprintf(stderr, "siamese eval: %s\n", msg);
            return 0;
        }
        s->results.png_dir = a->png_dir;
    }
    return 1;
}

static int needs_classes(const eval_state *s, const char *protocol) {
    if (siamese_dataset_class_count(s->set.ds) > 0) return 1;
    fprintf(stderr,
            "siamese eval: %s needs a dataset with classes; %s is a %s dataset (pairs only)\n",
            protocol, siamese_dataset_path(s->set.ds),
            siamese_dataset_kind_name(siamese_dataset_get_kind(s->set.ds)));
    return 0;
}

static int run_fewshot(eval_state *s, const eval_args *a) {
    if (!needs_classes(s, "--protocol fewshot")) return 0;
    siamese_fewshot_params fp = siamese_fewshot_default_params();
    fp.way = a->way, fp.shot = a->shot, fp.episodes = a->episodes, fp.seed = a->seed;
    fp.metric = s->metric;
    char msg[512];
    const siamese_embeddings *e = &s->set.emb;
    if (siamese_eval_fewshot(e->vectors, e->labels, e->count, e->dim, &fp, &s->fewshot, msg,
                             sizeof msg) != SIAMESE_OK) {
        fprintf(stderr, "siamese eval: %s: %s\n", siamese_dataset_path(s->set.ds), msg);
        return 0;
    }
    s->results.fewshot = &s->fewshot;
    s->results.way = a->way, s->results.shot = a->shot;
    return 1;
}

/* Query labels of a separate query set: the gallery's class of the same name, -1 when none. */
static int *labels_by_class_name(const siamese_embeddings *queries,
                                 const siamese_embeddings *gallery) {
    int *out = malloc((size_t)(queries->count > 0 ? queries->count : 1) * sizeof *out);
    int *map = malloc((size_t)(queries->class_count > 0 ? queries->class_count : 1) * sizeof *map);
    if (!out || !map) {
        free(out);
        free(map);
        return NULL;
    }
    for (int c = 0; c < queries->class_count; c++) {
        map[c] = -1;
        for (int g = 0; g < gallery->class_count && map[c] < 0; g++)
            if (!strcmp(queries->class_names[c], gallery->class_names[g])) map[c] = g;
    }
    for (int i = 0; i < queries->count; i++)
        out[i] = queries->labels[i] >= 0 ? map[queries->labels[i]] : -1;
    free(map);
    return out;
}

/* Every image a query against the rest, or the images of --queries against DATA. */
static int run_retrieval(eval_state *s, const eval_args *a) {
    if (!needs_classes(s, "--protocol retrieval")) return 0;
    const siamese_embeddings *g = &s->set.emb, *q = g;
    if (a->queries) {
        if (!eval_set_open("eval", s->model, a->queries, a->batch, a->threads, a->quiet || a->json,
                           &s->query_set))
            return 0;
        q = &s->query_set.emb;
        s->results.query_path = a->queries;
    }
    int *self = malloc((size_t)q->count * sizeof *self);
    int *labels = a->queries ? labels_by_class_name(q, g) : NULL;
    if (!self || (a->queries && !labels)) {
        fprintf(stderr, "siamese eval: out of memory\n");
        free(self);
        free(labels);
        return 0;
    }
    for (int i = 0; i < q->count; i++) self[i] = a->queries ? -1 : i;
    siamese_retrieval_params rp = siamese_retrieval_default_params();
    rp.metric = s->metric, rp.bootstrap = a->bootstrap, rp.seed = a->seed;
    char msg[512];
    siamese_status st = siamese_eval_retrieval(q->vectors, labels ? labels : q->labels, q->count,
                                               g->vectors, g->labels, g->count, g->dim, self, &rp,
                                               &s->retrieval, msg, sizeof msg);
    free(self);
    free(labels);
    if (st != SIAMESE_OK) {
        fprintf(stderr, "siamese eval: retrieval: %s%s\n", msg,
                a->queries ? " (query classes are matched to DATA's by folder name)" : "");
        return 0;
    }
    s->results.retrieval = &s->retrieval;
    return 1;
}

static int run_lake(eval_state *s, const eval_args *a, const char *path) {
    siamese_embed_params ep = siamese_embed_default_params();
    ep.batch_size = a->batch > 0 ? a->batch : eval_auto_batch(s->model);
    ep.threads = a->threads;
    char msg[1024];
    double t0 = cli_now_seconds();
    if (siamese_eval_lake_runs(s->model, path, &ep, &s->lake, msg, sizeof msg) != SIAMESE_OK) {
        fprintf(stderr, "siamese eval: %s\n", msg);
        return 0;
    }
    s->results.embed_seconds = cli_now_seconds() - t0;
    s->results.lake = &s->lake;
    s->results.images = s->lake.images;
    s->results.skipped = s->lake.skipped_images;
    return 1;
}

static int run_dataset(eval_state *s, const eval_args *a, const char *path, int protocols) {
    if (!eval_set_open("eval", s->model, path, a->batch, a->threads, a->quiet || a->json, &s->set))
        return 0;
    if (a->held_out && !eval_set_hold_out("eval", &s->set, a->held_out)) return 0;
    s->results.held_out = a->held_out;
    s->results.data_kind = siamese_dataset_kind_name(siamese_dataset_get_kind(s->set.ds));
    s->results.images = s->set.emb.count;
    s->results.classes = eval_set_classes(&s->set);
    s->results.skipped = s->set.emb.skipped;
    s->results.embed_seconds = s->set.embed_seconds;
    if ((protocols & RUN_VERIFICATION) && !run_verification(s, a)) return 0;
    if ((protocols & RUN_FEWSHOT) && !run_fewshot(s, a)) return 0;
    if ((protocols & RUN_RETRIEVAL) && !run_retrieval(s, a)) return 0;
    return 1;
}

static void free_state(eval_state *s) {
    free(s->distances);
    free(s->labels);
    free(s->rows_a);
    free(s->rows_b);
    siamese_lake_runs_free(&s->lake);
    eval_set_free(&s->set);
    eval_set_free(&s->query_set);
    siamese_model_free(s->model);
}

/* Resolves the protocols and the metric; 0 after a usage message. */
static int resolve(const eval_args *a, const cli_spec *spec, const char *data, int *protocols,
                   int *lake) {
    if (!parse_protocols(a->protocol, protocols)) {
        fprintf(stderr,
                "siamese eval: unknown --protocol '%s' (verification, fewshot, retrieval, all)\n",
                a->protocol);
        return 0;
    }
    if (a->queries && !(*protocols & RUN_RETRIEVAL)) {
        fprintf(stderr, "siamese eval: --queries applies to --protocol retrieval (or all)\n");
        return 0;
    }
    *lake = siamese_lake_runs_detect(data);
    if (*lake && a->held_out) {
        fprintf(stderr,
                "siamese eval: %s is a folder of one-shot runs: --held-out does not apply\n", data);
        return 0;
    }
    if (*lake && cli_was_given(spec, "protocol") && *protocols != RUN_FEWSHOT) {
        fprintf(stderr,
                "siamese eval: %s is a folder of one-shot runs: only --protocol fewshot "
                "applies (scored as each run's class_labels.txt says)\n",
                data);
        return 0;
    }
    if (*lake && (cli_was_given(spec, "way") || cli_was_given(spec, "shot") ||
                  cli_was_given(spec, "episodes"))) {
        fprintf(stderr,
                "siamese eval: %s is a folder of one-shot runs: its class_labels.txt "
                "fix the episodes; --way, --shot and --episodes do not apply\n",
                data);
        return 0;
    }
    return 1;
}

/* The guard of eval's outputs (--report FILE, --png-dir DIR and its pictures) against its inputs
 * (MODEL, DATA, --queries, --held-out, the images of DATA or --queries when a manifest): 0 after
 * saying why one is refused. */
static int outputs_ok(const eval_args *a, const char *const *positional) {
    const char *inputs[] = {positional[0], positional[1], a->queries, a->held_out};
    /* DATA and --queries, when manifests */
    cli_listed_files listed = {.inputs = inputs + 1, .n = 2, .kind = CLI_LISTS_OF_DATA};
    int ok = !a->report || (!cli_output_refused("eval", a->report, CLI_OUTPUT_FILE, inputs, 4) &&
                            !cli_output_is_listed_file("eval", a->report, &listed));
    if (ok && a->png_dir)
        ok = !cli_output_refused("eval", a->png_dir, CLI_OUTPUT_FOLDER, inputs, 4);
    static const char *const pictures[] = {"roc.png", "det.png", "distances.png"};
    char path[4096];
    for (int i = 0; ok && a->png_dir && i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", a->png_dir, pictures[i]);
        ok = !cli_output_overwrites_input("eval", path, inputs, 4) &&
             !cli_output_is_listed_file("eval", path, &listed);
    }
    cli_listed_files_free(&listed);
    return ok;
}

int cli_eval(int argc, char **argv) {
    eval_args a = {NULL, 10, 0, 1000, 0,    5,    1,    1000, NULL,
                   0,    0,  0, 0,    NULL, NULL, NULL, NULL, NULL};
    const cli_option options[] = {
        {"protocol", 'p', CLI_OPT_STRING, &a.protocol, "NAME",
         "verification, fewshot, retrieval or all (default: verification)"},
        {"pairs-per-class", 0, CLI_OPT_INT, &a.per_class, "K",
         "verification on a class dataset: K similar and K dissimilar pairs per class"},
        {"all-pairs", 0, CLI_OPT_FLAG, &a.all_pairs, NULL,
         "verification: every similar pair, and as many dissimilar ones drawn at random"},
        {"bootstrap", 'b', CLI_OPT_INT, &a.bootstrap, "N",
         "resamples for the 95% intervals (0 = none)"},
        {"seed", 's', CLI_OPT_U64, &a.seed, "S", "seed of pairs, episodes and resamples"},
        CLI_HELD_OUT_OPTION(&a.held_out),
        {"way", 0, CLI_OPT_INT, &a.way, "N", "fewshot: classes per episode"},
        {"shot", 0, CLI_OPT_INT, &a.shot, "K", "fewshot: support images per class"},
        {"episodes", 0, CLI_OPT_INT, &a.episodes, "E", "fewshot: episodes"},
        {"queries", 0, CLI_OPT_STRING, &a.queries, "QDATA",
         "retrieval: QDATA's images are the queries, DATA the gallery (classes by name)"},
        {"metric", 'm', CLI_OPT_STRING, &a.metric, "NAME",
         "euclidean, cosine or correlation (default: the model's)"},
        {"png-dir", 0, CLI_OPT_STRING, &a.png_dir, "DIR",
         "verification pictures: roc.png, det.png, distances.png"},
        {"report", 0, CLI_OPT_STRING, &a.report, "FILE",
         "also one self-contained HTML page of the results (curves, intervals)"},
        {"json", 0, CLI_OPT_FLAG, &a.json, NULL, "one JSON object on stdout instead of the table"},
        {"quiet", 'q', CLI_OPT_FLAG, &a.quiet, NULL, "no progress line, no warnings"},
        {"threads", 'j', CLI_OPT_INT, &a.threads, "N", "threads (0 = all cores)"},
        {"batch", 0, CLI_OPT_INT, &a.batch, "N",
         "images per forward pass (0 = up to 1024, within 128 MB of input)"},
        CLI_PRECISION_OPTION(&a.precision),
    };
    const cli_spec spec = {
        "eval",
        "MODEL DATA [--protocol verification|fewshot|retrieval|all] [options]",
        "Scores a model the way the field does. Every image of DATA is decoded and embedded\n"
        "once (batched, all cores); the protocols then work on the embeddings.\n\n"
        "verification: pairs of a manifest or recipe layout as they are, or drawn from a class\n"
        "dataset (--pairs-per-class, --all-pairs). ROC AUC, EER, TAR at FAR 1% and 0.1%,\n"
        "accuracy at the best threshold and at the model's own, each with a 95% bootstrap\n"
        "interval. fewshot: n-way k-shot episodes (nearest support image, or nearest class\n"
        "mean for k > 1). retrieval: every image a query against the rest (or --queries QDATA\n"
        "against DATA): Recall@1/5/10, precision@5/10, R-precision and MAP@R (Musgrave et\n"
        "al. 2020). DATA may also be Lake's Omniglot one-shot runs folder (run01..run20,\n"
        "each with training/, test/ and class_labels.txt): it is scored exactly as each\n"
        "class_labels.txt says, per run and overall. Files that do not decode are skipped\n"
        "with a warning and counted.",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        2,
        "examples:\n"
        "  siamese eval model.safetensors data/att_faces\n"
        "  siamese eval model.safetensors data/omniglot/images_evaluation --protocol all --way 20\n"
        "  siamese eval model.safetensors all_runs/\n"
        "  siamese eval model.safetensors pairs.tsv --json --png-dir plots/\n"
        "exit status: 0 ok, 1 bad model, data or output folder, 2 usage error or a refused\n"
        "--report or --png-dir (its folder missing, an input, an existing file of DATA or an\n"
        "image the manifest DATA or --queries names)"};
    const char *positional[2];
    int n_positional = 0;
    int parsed = cli_parse(&spec, argc, argv, positional, &n_positional);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    const char *problem = check_usage(&a);
    if (problem) {
        fprintf(stderr, "siamese eval: %s (see 'siamese eval --help')\n", problem);
        return CLI_EXIT_USAGE;
    }
    if (!outputs_ok(&a, positional)) return CLI_EXIT_USAGE;
    int protocols = 0, lake = 0;
    if (!resolve(&a, &spec, positional[1], &protocols, &lake)) return CLI_EXIT_USAGE;
    siamese_metric metric = SIAMESE_METRIC_EUCLIDEAN;
    if (a.metric && siamese_metric_parse(a.metric, &metric) != SIAMESE_OK) {
        fprintf(stderr, "siamese eval: unknown --metric '%s' (euclidean, cosine, correlation)\n",
                a.metric);
        return CLI_EXIT_USAGE;
    }
    cli_compute compute = {a.threads, SIAMESE_PRECISION_AUTO, 0, a.quiet};
    if (!cli_parse_compute("eval", a.precision, &compute)) return CLI_EXIT_USAGE;
    eval_state s;
    memset(&s, 0, sizeof s);
    double t0 = cli_now_seconds();
    if (!cli_open_model("eval", positional[0], &compute, &s.model)) return CLI_EXIT_FAIL;
    s.metric = a.metric ? metric : siamese_model_metric(s.model);
    s.results.model_path = positional[0];
    s.results.data_path = positional[1];
    s.results.metric = siamese_metric_name(s.metric);
    if (siamese_model_threshold(s.model) >= 0)
        s.results.threshold_metric = siamese_metric_name(siamese_model_metric(s.model));
    s.results.bootstrap = a.bootstrap;
    int ok = lake ? run_lake(&s, &a, positional[1]) : run_dataset(&s, &a, positional[1], protocols);
    s.results.total_seconds = cli_now_seconds() - t0;
    if (ok) {
        if (a.json) eval_print_json(stdout, &s.results);
        else eval_print_table(stdout, &s.results);
    }
    if (ok && a.report) {
        eval_report_data d = {s.distances,
                              s.labels,
                              s.rows_a,
                              s.rows_b,
                              s.n_pairs,
                              &s.set,
                              a.queries ? &s.query_set : NULL,
                              s.model,
                              s.metric};
        ok = eval_write_report(a.report, &s.results, &d);
    }
    free_state(&s);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
