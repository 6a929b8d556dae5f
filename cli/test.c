/* siamese test: the recipe's visual check — the first test image against the next ones — printed
 * as a table of dissimilarities and drawn as a PNG grid of captioned pairs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"
#include "listed_files.h"
#include "outputs.h"
#include "siamese.h"
#include "similarity.h"

#define TEST_MAX_COUNT 999 /* the PNG grid draws at most 1000 pairs */

typedef struct test_args {
    const char *split;
    const char *png;
    int count;
    uint64_t seed;
    int json;
    int threads;
    int no_split;
    const char *precision;
} test_args;

/* What the check shows: x0 (first image of the first usable test pair) and, for row i, x1 = the
 * second image of the next usable test pair, as the tutorial's batch-size-1 loader yields them. */
typedef struct test_rows {
    int first_pair; /* index of x0's pair in the test pairs */
    int x0;         /* dataset image of x0 */
    siamese_image x0_image;
    int n;                   /* rows */
    int *pair;               /* [n] index of row i's pair in the test pairs */
    int *x1;                 /* [n] dataset image of x1 */
    siamese_image *x1_image; /* [n] */
    double *distance;        /* [n] */
} test_rows;

static void rows_free(test_rows *r) {
    siamese_image_free(&r->x0_image);
    for (int i = 0; r->x1_image && i < r->n; i++) siamese_image_free(&r->x1_image[i]);
    free(r->pair);
    free(r->x1);
    free(r->x1_image);
    free(r->distance);
}

static void print_warning(void *user, const char *message) {
    (void)user;
    fprintf(stderr, "siamese test: warning: %s\n", message);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The folder holding model_path ("." when it has none). */
static void folder_of(const char *model_path, char *out, size_t size) {
    const char *slash = strrchr(model_path, '/');
    if (!slash) snprintf(out, size, ".");
    else if (slash == model_path) snprintf(out, size, "/");
    else snprintf(out, size, "%.*s", (int)(slash - model_path), model_path);
}

/* path of NAME in the folder holding model_path. */
static void beside(const char *model_path, const char *name, char *out, size_t size) {
    const char *slash = strrchr(model_path, '/');
    if (!slash) snprintf(out, size, "%s", name);
    else snprintf(out, size, "%.*s/%s", (int)(slash - model_path), model_path, name);
}

static int dataset_fail(siamese_dataset *ds, siamese_status st) {
    fprintf(stderr, "siamese test: %s\n",
            ds && *siamese_dataset_errmsg(ds) ? siamese_dataset_errmsg(ds)
                                              : siamese_status_str(st));
    return CLI_EXIT_FAIL;
}

/* The test pairs: the test side of the split (--split, or split.json beside the model), drawn as
 * the training run drew them (config.json beside the model) when the split did not record its
 * pairs; without a split, every pair of the dataset as the recipe draws them from the seed.
 * source receives a line saying where they come from. */
static int find_test_pairs(siamese_dataset *ds, const char *model_path, const test_args *a,
                           siamese_split **split, siamese_pairs *pairs, char *source,
                           size_t source_size) {
    char split_path[4096], config_path[4096];
    beside(model_path, "split.json", split_path, sizeof split_path);
    beside(model_path, "config.json", config_path, sizeof config_path);
    if (a->split) snprintf(split_path, sizeof split_path, "%s", a->split);
    siamese_status st;
    if (!a->split && (a->no_split || !file_exists(split_path))) {
        st = siamese_pairs_recipe(ds, NULL, 0, 3, a->seed, pairs);
        if (st != SIAMESE_OK) return dataset_fail(ds, st);
        if (siamese_dataset_class_count(ds) > 0)
            snprintf(source, source_size, "all pairs of the dataset (recipe, seed %llu), %d pairs",
                     (unsigned long long)a->seed, pairs->count);
        else
            snprintf(source, source_size, "all pairs of the dataset (its own), %d pairs",
                     pairs->count);
        return CLI_EXIT_OK;
    }
    st = siamese_split_load(ds, split_path, split);
    if (st != SIAMESE_OK) {
        fprintf(stderr, "siamese test: %s\n",
                *split ? siamese_split_errmsg(*split) : siamese_status_str(st));
        if (!a->split)
            fprintf(stderr, "siamese test: (the split beside the model belongs to its training "
                            "data; --no-split uses all pairs of DATA instead)\n");
        return CLI_EXIT_FAIL;
    }
    const char *drawn = "recorded in the split";
    if (siamese_split_pairs(*split, 1, pairs) != SIAMESE_OK) {
        if (file_exists(config_path)) {
            char run_dir[4096], why[1024];
            folder_of(model_path, run_dir, sizeof run_dir);
            if (siamese_train_side_pairs(run_dir, ds, *split, 1, pairs, why, sizeof why) !=
                SIAMESE_OK) {
                fprintf(stderr, "siamese test: %s\n", why);
                return CLI_EXIT_FAIL;
            }
            drawn = "drawn as the run's config.json says";
        } else {
            st = siamese_pairs_recipe(ds, *split, 1, 3, a->seed, pairs);
            drawn = "drawn by the recipe from --seed";
        }
        if (st != SIAMESE_OK) return dataset_fail(ds, st);
    }
    snprintf(source, source_size, "test side of %s (%s split, pairs %s), %d pairs", split_path,
             siamese_split_kind_name(siamese_split_get_kind(*split)), drawn, pairs->count);
    return CLI_EXIT_OK;
}

/* Decodes both images of pair p (a pair is usable only when both decode, as in the loader). */
static int load_pair(siamese_dataset *ds, const siamese_pair *p, const siamese_image_options *o,
                     siamese_image *a, siamese_image *b) {
    if (siamese_dataset_load_image(ds, p->a, o, a) == SIAMESE_OK &&
        siamese_dataset_load_image(ds, p->b, o, b) == SIAMESE_OK)
        return 1;
    fprintf(stderr, "siamese test: warning: %s; pair skipped\n", siamese_dataset_errmsg(ds));
    siamese_image_free(a);
    siamese_image_free(b);
    return 0;
}

/* Walks the test pairs in order and keeps x0 and up to count x1 images. */
static int pick_rows(siamese_dataset *ds, const char *data, const siamese_pairs *pairs, int count,
                     const siamese_image_options *o, test_rows *r) {
    r->pair = calloc((size_t)count, sizeof *r->pair);
    r->x1 = calloc((size_t)count, sizeof *r->x1);
    r->x1_image = calloc((size_t)count, sizeof *r->x1_image);
    r->distance = calloc((size_t)count, sizeof *r->distance);
    if (!r->pair || !r->x1 || !r->x1_image || !r->distance) {
        fprintf(stderr, "siamese test: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int have_x0 = 0;
    for (int i = 0; i < pairs->count && r->n < count; i++) {
        siamese_image a = {0, 0, 0, NULL}, b = {0, 0, 0, NULL};
        if (!load_pair(ds, &pairs->items[i], o, &a, &b)) continue;
        if (!have_x0) {
            have_x0 = 1;
            r->first_pair = i;
            r->x0 = pairs->items[i].a;
            r->x0_image = a;
            siamese_image_free(&b);
            continue;
        }
        siamese_image_free(&a);
        r->pair[r->n] = i;
        r->x1[r->n] = pairs->items[i].b;
        r->x1_image[r->n++] = b;
    }
    if (r->n == 0) {
        fprintf(stderr,
                "siamese test: %s: %d usable test pair%s of %d; the check needs at least 2\n", data,
                have_x0, have_x0 == 1 ? "" : "s", pairs->count);
        return CLI_EXIT_FAIL;
    }
    if (r->n < count)
        fprintf(stderr,
                "siamese test: warning: only %d usable test pairs: %d row%s instead of %d\n",
                r->n + 1, r->n, r->n == 1 ? "" : "s", count);
    return CLI_EXIT_OK;
}

/* Embeds x0 and the x1 images in one batch and measures each x1 against x0. */
static int measure(siamese_model *model, test_rows *r) {
    size_t per = cli_model_image_floats(model);
    float *images = cli_alloc_tensors(model, (size_t)r->n + 1);
    if (!images) {
        fprintf(stderr, "siamese test: out of memory for %d images\n", r->n + 1);
        return CLI_EXIT_FAIL;
    }
    char why[256];
    siamese_status st = siamese_image_to_tensor(&r->x0_image, NULL, NULL, images, why, sizeof why);
    for (int i = 0; st == SIAMESE_OK && i < r->n; i++)
        st = siamese_image_to_tensor(&r->x1_image[i], NULL, NULL, images + (size_t)(i + 1) * per,
                                     why, sizeof why);
    float *emb = NULL;
    int ok = st == SIAMESE_OK && cli_embed("test", model, images, r->n + 1, &emb);
    if (st != SIAMESE_OK) fprintf(stderr, "siamese test: %s\n", why);
    free(images);
    if (!ok) return CLI_EXIT_FAIL;
    int dim = siamese_model_embedding_dim(model);
    for (int i = 0; i < r->n; i++)
        r->distance[i] = siamese_distance(siamese_model_metric(model), emb,
                                          emb + (size_t)(i + 1) * (size_t)dim, dim);
    free(emb);
    return CLI_EXIT_OK;
}

/* Draws each (x0, x1) pair with "Dissimilarity: 0.73" above it; the PNG is written atomically. */
static int draw(const test_rows *r, const char *path) {
    siamese_captioned_pair *cells = calloc((size_t)r->n, sizeof *cells);
    char(*captions)[64] = calloc((size_t)r->n, sizeof *captions);
    int code = CLI_EXIT_OK;
    if (!cells || !captions) {
        fprintf(stderr, "siamese test: out of memory\n");
        code = CLI_EXIT_FAIL;
    }
    for (int i = 0; code == CLI_EXIT_OK && i < r->n; i++) {
        cli_dissimilarity_caption(captions[i], sizeof captions[i], r->distance[i]);
        cells[i].first = &r->x0_image;
        cells[i].second = &r->x1_image[i];
        cells[i].caption = captions[i];
    }
    char why[1024];
    if (code == CLI_EXIT_OK &&
        siamese_draw_pairs(path, cells, r->n, why, sizeof why) != SIAMESE_OK) {
        fprintf(stderr, "siamese test: %s\n", why);
        code = CLI_EXIT_FAIL;
    }
    free(cells);
    free(captions);
    return code;
}

static const char *label_name(int label) { return label ? "dissimilar" : "similar"; }

/* "yes" / "no": whether x0 and x1 share a class; NULL for datasets without classes. */
static const char *same_class(siamese_dataset *ds, int x0, int x1) {
    if (siamese_dataset_class_count(ds) == 0) return NULL;
    return siamese_dataset_image_class(ds, x0) == siamese_dataset_image_class(ds, x1) ? "yes"
                                                                                      : "no";
}

static int max_len(siamese_dataset *ds, const int *images, int n, int at_least) {
    int w = at_least;
    for (int i = 0; i < n; i++) {
        int len = (int)strlen(siamese_dataset_image_name(ds, images[i]));
        if (len > w) w = len;
    }
    return w;
}

/* Columns: whether x0 and x1 share a class (the truth about the compared images, when DATA has
 * classes), the dissimilarity, the verdict, and last, the tutorial's label2: the label of test
 * pair i, which says nothing about (x0, x1). */
static void print_table(siamese_dataset *ds, siamese_model *model, const siamese_pairs *pairs,
                        const test_rows *r, const char *source) {
    double threshold = siamese_model_threshold(model);
    int classes = siamese_dataset_class_count(ds) > 0;
    printf("# %s\n# x0 = first image of test pair %d; x1 = second image of each next test pair; "
           "metric %s",
           source, r->first_pair, siamese_metric_name(siamese_model_metric(model)));
    if (threshold >= 0) printf(", threshold %.4f", threshold);
    printf("\n# %stutorial label: the label of the test pair x1 comes from (the tutorial's "
           "label2), not about x0 and x1\n",
           classes ? "same class: whether x0 and x1 share a class; " : "");
    int wa = max_len(ds, &r->x0, 1, 5), wb = max_len(ds, r->x1, r->n, 5);
    printf("%3s  %-*s  %-*s  %s%13s%s  %s\n", "#", wa, "x0", wb, "x1",
           classes ? "same class  " : "", "dissimilarity", threshold >= 0 ? "  verdict   " : "",
           "tutorial label");
    for (int i = 0; i < r->n; i++) {
        printf("%3d  %-*s  %-*s  ", i + 1, wa, siamese_dataset_image_name(ds, r->x0), wb,
               siamese_dataset_image_name(ds, r->x1[i]));
        if (classes) printf("%-10s  ", same_class(ds, r->x0, r->x1[i]));
        printf("%13.2f", r->distance[i]);
        if (threshold >= 0) printf("  %-10s", cli_verdict(r->distance[i], threshold));
        printf("  %s\n", label_name(pairs->items[r->pair[i]].label));
    }
}

static void print_json(siamese_dataset *ds, siamese_model *model, const siamese_pairs *pairs,
                       const test_rows *r) {
    double threshold = siamese_model_threshold(model);
    for (int i = 0; i < r->n; i++) {
        printf("{\"index\":%d,\"x0\":", i + 1);
        cli_json_string(stdout, siamese_dataset_image_name(ds, r->x0));
        printf(",\"x1\":");
        cli_json_string(stdout, siamese_dataset_image_name(ds, r->x1[i]));
        const char *same = same_class(ds, r->x0, r->x1[i]);
        if (same) printf(",\"same_class\":%s", same[0] == 'y' ? "true" : "false");
        printf(",\"dissimilarity\":%.9g,\"metric\":\"%s\"", r->distance[i],
               siamese_metric_name(siamese_model_metric(model)));
        if (threshold >= 0)
            printf(",\"threshold\":%.9g,\"verdict\":\"%s\"", threshold,
                   cli_verdict(r->distance[i], threshold));
        int label = pairs->items[r->pair[i]].label; /* the tutorial's label2: about pair i */
        printf(",\"pair\":%d,\"tutorial_label\":%d,\"tutorial_label_name\":\"%s\"}\n", r->pair[i],
               label, label_name(label));
    }
}

static int run_test(const char *model_path, const char *data, const test_args *a,
                    const cli_compute *compute) {
    siamese_model *model = NULL;
    if (!cli_open_model("test", model_path, compute, &model)) return CLI_EXIT_FAIL;
    siamese_dataset_params dp = siamese_dataset_default_params();
    dp.warning = print_warning;
    siamese_dataset *ds = NULL;
    siamese_split *split = NULL;
    siamese_pairs pairs = {NULL, 0};
    test_rows rows;
    memset(&rows, 0, sizeof rows);
    char source[4400];
    siamese_status st = siamese_dataset_open(data, &dp, &ds);
    int code = st == SIAMESE_OK ? CLI_EXIT_OK : dataset_fail(ds, st);
    if (code == CLI_EXIT_OK)
        code = find_test_pairs(ds, model_path, a, &split, &pairs, source, sizeof source);
    siamese_image_options o = cli_model_image_options(model);
    if (code == CLI_EXIT_OK) code = pick_rows(ds, data, &pairs, a->count, &o, &rows);
    if (code == CLI_EXIT_OK) code = measure(model, &rows);
    if (code == CLI_EXIT_OK) code = draw(&rows, a->png);
    if (code == CLI_EXIT_OK) {
        if (a->json) {
            print_json(ds, model, &pairs, &rows);
            fprintf(stderr, "siamese test: pairs drawn in %s\n", a->png);
        } else {
            print_table(ds, model, &pairs, &rows, source);
            printf("pairs drawn in %s\n", a->png);
        }
    }
    rows_free(&rows);
    siamese_pairs_free(&pairs);
    siamese_split_free(split);
    siamese_dataset_free(ds);
    siamese_model_free(model);
    return code;
}

int cli_test(int argc, char **argv) {
    test_args a = {NULL, "test_pairs.png", 5, 0, 0, 0, 0, NULL};
    const cli_option options[] = {
        {"split", 0, CLI_OPT_STRING, &a.split, "FILE",
         "split record whose test side to use (default: split.json beside MODEL, if any)"},
        {"no-split", 0, CLI_OPT_FLAG, &a.no_split, NULL,
         "ignore split.json beside MODEL: use all pairs of DATA"},
        {"count", 'n', CLI_OPT_INT, &a.count, "N",
         "images compared with the first one (1 to " CLI_TEXT(TEST_MAX_COUNT) ")"},
        {"png", 'o', CLI_OPT_STRING, &a.png, "FILE",
         "picture of the pairs to write (never a file of DATA, nor split.json or config.json "
         "beside MODEL)"},
        {"seed", 's', CLI_OPT_U64, &a.seed, "N",
         "seed of the pairs when the run folder does not say how they were drawn"},
        {"json", 0, CLI_OPT_FLAG, &a.json, NULL, "one JSON object per row instead of the table"},
        {"threads", 'j', CLI_OPT_INT, &a.threads, "N", "threads (0 = all cores)"},
        CLI_PRECISION_OPTION(&a.precision),
    };
    const cli_spec spec = {
        "test",
        "MODEL DATA [options]",
        "The reference recipe's visual check: the first test image against the next ones.\n"
        "Exactly as the tutorial's loop over a batch-size-1 test loader (x0 from the first batch,\n"
        "then '_, x1, label2 = next(dataiter)' N times): x0 is the FIRST image of test pair 0 and\n"
        "row i compares it with the SECOND image of test pair i (i = 1..N). 'same class' says\n"
        "whether x0 and x1 really share a class (when DATA has classes); the last column,\n"
        "'tutorial label', is pair i's own label (the tutorial's label2), which says nothing\n"
        "about (x0, x1): it is shown only to compare with the tutorial's output.\n\n"
        "Test pairs: the test side of the split recorded beside MODEL (split.json, or --split),\n"
        "in its order; when the split holds no pairs (images or classes splits), they are drawn\n"
        "again exactly as the training run drew them (config.json beside MODEL), else by the\n"
        "recipe (3 + 3 per class) from --seed. Without a split (or with --no-split): all pairs\n"
        "of DATA as the recipe draws them from --seed. Pairs with an image that does not decode\n"
        "are skipped with a warning, as the training loader does.\n\n"
        "Images are decoded and resized to the model's input (Pillow-exact), embedded, and\n"
        "compared with the model's metric. Prints a table (dissimilarity with 2 decimals as the\n"
        "tutorial; --json gives 9 digits) with a verdict when the model carries a threshold\n"
        "(similar when the dissimilarity is at most the threshold), and writes a PNG grid of\n"
        "the pairs with 'Dissimilarity: 0.73' above each.",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        2,
        "examples:\n"
        "  siamese test runs/dogs/best.safetensors Images/\n"
        "  siamese test runs/fashion/model.safetensors /usr/share/datasets/fashion-mnist \\\n"
        "      --count 8 --png fashion_pairs.png\n"
        "  siamese test model.safetensors data/att_faces --seed 3 --json\n"
        "exit status: 0 ok, 1 bad model, data or image, or a file that cannot be written,\n"
        "2 usage error or a refused output (its folder missing, a folder, a file of DATA or an\n"
        "image its manifest names, or of the run beside MODEL: checked before any work)"};
    const char *positional[2];
    int n_positional = 0;
    int parsed = cli_parse(&spec, argc, argv, positional, &n_positional);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    if (a.count < 1 || a.count > TEST_MAX_COUNT) {
        fprintf(stderr, "siamese test: --count must be between 1 and %d, got %d\n", TEST_MAX_COUNT,
                a.count);
        return CLI_EXIT_USAGE;
    }
    if (!a.png || !*a.png) {
        fprintf(stderr, "siamese test: --png needs a file name\n");
        return CLI_EXIT_USAGE;
    }
    /* the files of the run beside MODEL are inputs too, whether or not this call reads them */
    char split_beside[4096], config_beside[4096];
    beside(positional[0], "split.json", split_beside, sizeof split_beside);
    beside(positional[0], "config.json", config_beside, sizeof config_beside);
    const char *inputs[] = {positional[0], positional[1], a.split, split_beside, config_beside};
    if (cli_output_refused("test", a.png, CLI_OUTPUT_FILE, inputs, 5) ||
        cli_output_is_manifest_image("test", a.png, positional[1]))
        return CLI_EXIT_USAGE;
    cli_compute compute = {a.threads, SIAMESE_PRECISION_AUTO, 0, 0};
    if (!cli_parse_compute("test", a.precision, &compute)) return CLI_EXIT_USAGE;
    return run_test(positional[0], positional[1], &a, &compute);
}
