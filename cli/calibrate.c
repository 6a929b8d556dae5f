/* siamese calibrate: choose a model's decision threshold on a validation set (best accuracy, the
 * equal error rate, or a false accept rate) and write the model with it, weights untouched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "eval_data.h"
#include "listed_files.h"
#include "outputs.h"
#include "siamese.h"
#include "similarity.h"

typedef struct calibrate_args {
    const char *output, *target;
    int per_class, all_pairs;
    uint64_t seed;
    int threads, batch, quiet;
    const char *precision;
    const char *held_out; /* a run's split.json: only the images it held out */
} calibrate_args;

typedef enum target_kind {
    TARGET_BEST_ACCURACY,
    TARGET_BEST_CENTRE,
    TARGET_EER,
    TARGET_FAR
} target_kind;

/* Parses best-accuracy, best-accuracy-centre, eer or far=X (0 < X < 1). */
static int parse_target(const char *text, target_kind *kind, double *far) {
    char *end = NULL;
    if (!strcmp(text, "best-accuracy")) *kind = TARGET_BEST_ACCURACY;
    else if (!strcmp(text, "best-accuracy-centre")) *kind = TARGET_BEST_CENTRE;
    else if (!strcmp(text, "eer")) *kind = TARGET_EER;
    else if (!strncmp(text, "far=", 4)) {
        *kind = TARGET_FAR;
        *far = strtod(text + 4, &end);
        return end != text + 4 && *end == 0 && *far > 0 && *far < 1;
    } else return 0;
    return 1;
}

/* The threshold the target asks for on the pairs, with a line describing it. */
static int choose(const float *d, const float *y, int n, target_kind kind, double far,
                  const siamese_verification *v, double *t, char *what, size_t size) {
    if (kind == TARGET_BEST_ACCURACY) {
        *t = v->best_threshold;
        snprintf(what, size, "best accuracy %.4f", v->accuracy_best.value);
    } else if (kind == TARGET_BEST_CENTRE) {
        float centre = NAN;
        if (siamese_best_threshold_centred(d, y, n, &centre, NULL) != SIAMESE_OK) {
            fprintf(stderr, "siamese calibrate: out of memory\n");
            return 0;
        }
        *t = centre;
        snprintf(what, size, "best accuracy %.4f, at the centre of its widest span",
                 v->accuracy_best.value);
    } else if (kind == TARGET_EER) {
        *t = v->eer_threshold;
        snprintf(what, size, "equal error rate %.4f", v->eer.value);
    } else {
        double tar = NAN;
        if (siamese_eval_threshold_at_far(d, y, n, far, t, &tar) != SIAMESE_OK || isnan(*t)) {
            fprintf(stderr,
                    "siamese calibrate: no threshold keeps the false accept rate <= %g on these "
                    "%d dissimilar pairs (a dissimilar pair is closer than every similar one)\n",
                    far, v->dissimilar);
            return 0;
        }
        snprintf(what, size, "false accept rate <= %g, true accept rate %.4f", far, tar);
    }
    return 1;
}

static int calibrate(const calibrate_args *a, const char *model_path, const char *data,
                     target_kind kind, double far) {
    cli_compute compute = {a->threads, SIAMESE_PRECISION_AUTO, a->batch, a->quiet};
    if (!cli_parse_compute("calibrate", a->precision, &compute)) return CLI_EXIT_USAGE;
    siamese_model *model = NULL;
    if (!cli_open_model("calibrate", model_path, &compute, &model)) return CLI_EXIT_FAIL;
    eval_set set;
    float *d = NULL, *y = NULL;
    int n = 0, dropped = 0, ok = 1;
    eval_pair_options po = {a->per_class, a->all_pairs, a->seed};
    ok = eval_set_open("calibrate", model, data, a->batch, a->threads, a->quiet, &set) &&
         (!a->held_out || eval_set_hold_out("calibrate", &set, a->held_out)) &&
         eval_set_pairs("calibrate", &set, siamese_model_metric(model), &po, &d, &y, &n, &dropped);
    siamese_verification v;
    siamese_verification_params vp = siamese_verification_default_params();
    vp.bootstrap = 0;
    if (ok && siamese_eval_verification(d, y, n, &vp, &v) != SIAMESE_OK) {
        fprintf(stderr, "siamese calibrate: %s: the pairs need both similar and dissimilar ones\n",
                data);
        ok = 0;
    }
    double t = NAN;
    char what[160], source[256];
    ok = ok && choose(d, y, n, kind, far, &v, &t, what, sizeof what);
    if (ok) {
        if (kind == TARGET_FAR && v.dissimilar * far < 10)
            fprintf(stderr,
                    "siamese calibrate: note: %d dissimilar pairs resolve a false accept rate of "
                    "%g poorly (use --all-pairs or more --pairs-per-class)\n",
                    v.dissimilar, far);
        siamese_model_set_threshold(model, (float)t);
        snprintf(source, sizeof source, "calibrate: %s on %s%s%s (%d pairs, seed %llu)", a->target,
                 data, a->held_out ? " held out by " : "", a->held_out ? a->held_out : "", n,
                 (unsigned long long)a->seed);
        siamese_model_set_threshold_source(model, source);
        if (siamese_model_save(model, a->output) != SIAMESE_OK) {
            fprintf(stderr, "siamese calibrate: %s\n", siamese_model_errmsg(model));
            ok = 0;
        }
    }
    if (ok)
        printf("threshold %.6g (%s, %s distance; %d pairs: %d similar, %d dissimilar)\n"
               "written to %s\n",
               t, what, siamese_metric_name(siamese_model_metric(model)), n, v.similar,
               v.dissimilar, a->output);
    free(d);
    free(y);
    eval_set_free(&set);
    siamese_model_free(model);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cli_calibrate(int argc, char **argv) {
    calibrate_args a = {NULL, "best-accuracy", 10, 0, 0, 0, 0, 0, NULL, NULL};
    const cli_option options[] = {
        {"output", 'o', CLI_OPT_STRING, &a.output, "MODEL2",
         "the calibrated model file to write (MODEL itself is fine; a file of DATA is refused)"},
        {"target", 't', CLI_OPT_STRING, &a.target, "T",
         "best-accuracy, best-accuracy-centre, eer, or far=X (0 < X < 1)"},
        {"pairs-per-class", 0, CLI_OPT_INT, &a.per_class, "K",
         "class datasets: K similar and K dissimilar pairs per class"},
        {"all-pairs", 0, CLI_OPT_FLAG, &a.all_pairs, NULL,
         "class datasets: every similar pair, and as many dissimilar ones"},
        {"seed", 's', CLI_OPT_U64, &a.seed, "S", "seed of the pairs"},
        CLI_HELD_OUT_OPTION(&a.held_out),
        {"quiet", 'q', CLI_OPT_FLAG, &a.quiet, NULL, "no progress line, no warnings"},
        {"threads", 'j', CLI_OPT_INT, &a.threads, "N", "threads (0 = all cores)"},
        CLI_PRECISION_OPTION(&a.precision),
        {"batch", 0, CLI_OPT_INT, &a.batch, "N",
         "images per forward pass (0 = up to 1024, within 128 MB of input)"},
    };
    const cli_spec spec = {
        "calibrate",
        "MODEL DATA -o MODEL2 [--target best-accuracy|eer|far=X]",
        "Chooses the model's decision threshold (similar when the distance is <= T) on a\n"
        "validation set and writes MODEL2: the same weights and settings with that threshold and\n"
        "its source in __metadata__ (written atomically; MODEL2 may be MODEL). 'siamese compare'\n"
        "and every command that gives a verdict use it. DATA: pairs of a manifest or recipe\n"
        "layout, or pairs drawn from a class dataset, as 'siamese eval' draws them. Targets:\n"
        "best-accuracy (the first threshold that reaches it, midway between neighbouring\n"
        "distances), best-accuracy-centre (the same accuracy, at the centre of the widest span\n"
        "of distances that reaches it; on MNIST no better than best-accuracy: bench/README.md,\n"
        "twelfth pass), eer (where false accepts equal false rejects), far=X (the most true\n"
        "accepts with a false accept rate <= X).",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        2,
        "examples:\n"
        "  siamese calibrate model.safetensors val/ -o calibrated.safetensors --target eer\n"
        "  siamese calibrate model.safetensors pairs.tsv -o model.safetensors --target far=0.001\n"
        "  siamese calibrate ensemble.safetensors mnist/train10k-images-idx3-ubyte.gz \\\n"
        "      --held-out runs/mnist_s1/split.json -o ensemble.safetensors\n"
        "exit status: 0 ok, 1 bad model or data, or the file cannot be written, 2 usage error or\n"
        "a refused MODEL2 (its folder missing, a folder, a file of DATA, an image its manifest\n"
        "names, or --held-out)"};
    const char *positional[2];
    int n_positional = 0;
    int parsed = cli_parse(&spec, argc, argv, positional, &n_positional);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    target_kind kind;
    double far = 0;
    const char *problem = NULL;
    if (!a.output) problem = "give the file to write with -o MODEL2";
    else if (!parse_target(a.target, &kind, &far))
        problem =
            "--target must be best-accuracy, best-accuracy-centre, eer or far=X with 0 < X < 1";
    else if (a.per_class < 1) problem = "--pairs-per-class must be at least 1";
    else if (a.batch < 0 || a.batch > 4096) problem = "--batch must be 0 (auto) to 4096";
    if (problem) {
        fprintf(stderr, "siamese calibrate: %s (see 'siamese calibrate --help')\n", problem);
        return CLI_EXIT_USAGE;
    }
    /* MODEL2 may be MODEL (the threshold is rewritten in place, even when MODEL lies in DATA),
     * never DATA, a file of DATA or the --held-out split */
    const char *inputs[] = {positional[1], a.held_out};
    if (cli_same_file(a.output, positional[0])
            ? !cli_output_path_ok("calibrate", a.output, CLI_OUTPUT_FILE)
            : cli_output_refused("calibrate", a.output, CLI_OUTPUT_FILE, inputs, 2) ||
                  cli_output_is_manifest_image("calibrate", a.output, positional[1]))
        return CLI_EXIT_USAGE;
    return calibrate(&a, positional[0], positional[1], kind, far);
}
