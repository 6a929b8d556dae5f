/* siamese search: the k nearest images of each query image in an index, as a table, JSON lines
 * or a picture grid (query, then its neighbours captioned with their dissimilarity). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "collection.h"
#include "listed_files.h"
#include "outputs.h"
#include "search_shards.h"
#include "siamese.h"
#include "similarity.h"

#define SEARCH_K_MAX 1000

typedef struct search_args {
    int k;
    int json;
    const char *png;
    const char *model;
    int threads;
    int quiet;
    const char *precision;
} search_args;

/* Loads an image for the grid at its own size (as RGB), or leaves it empty (a blank cell). */
static void load_for_grid(const char *path, siamese_image *out) {
    siamese_image_options o = siamese_image_default_options();
    o.channels = 3;
    o.width = o.height = 0;
    *out = (siamese_image){0, 0, 0, NULL};
    if (path && siamese_image_load(path, &o, out, NULL, 0) != SIAMESE_OK)
        *out = (siamese_image){0, 0, 0, NULL};
}

/* One row per query: the query, then its k neighbours captioned "Dissimilarity: x.xx". */
static int draw_results(const char *png, const siamese_index *index, const siamese_embeddings *q,
                        const int *rows, const float *dist, int k) {
    int cols = k + 1, n = q->count * cols;
    siamese_image *images = calloc((size_t)n, sizeof *images);
    siamese_captioned_image *cells = calloc((size_t)n, sizeof *cells);
    char(*captions)[48] = calloc((size_t)n, sizeof *captions);
    int ok = images && cells && captions;
    for (int i = 0; ok && i < n; i++) {
        int query = i / cols, j = i % cols - 1;
        int row = j >= 0 ? rows[query * k + j] : -1;
        if (j >= 0 && row < 0) continue;
        load_for_grid(j < 0 ? cli_embedding_name(q, query) : siamese_index_item(index, row),
                      &images[i]);
        if (j < 0) snprintf(captions[i], sizeof captions[i], "Query");
        else cli_dissimilarity_caption(captions[i], sizeof captions[i], dist[query * k + j]);
        cells[i] = (siamese_captioned_image){images[i].data ? &images[i] : NULL, captions[i]};
    }
    char why[1024] = "out of memory";
    ok = ok && siamese_draw_grid(png, cells, q->count, cols, why, sizeof why) == SIAMESE_OK;
    if (!ok) fprintf(stderr, "siamese search: %s\n", why);
    for (int i = 0; images && i < n; i++) siamese_image_free(&images[i]);
    free(images);
    free(cells);
    free(captions);
    return ok;
}

static int search(const search_args *a, const char *index_path, const char *const *queries, int n) {
    siamese_index *index = NULL;
    siamese_model *model = NULL;
    siamese_embeddings q = {0};
    int *rows = NULL;
    float *dist = NULL;
    cli_compute compute = {a->threads, SIAMESE_PRECISION_AUTO, 0, a->quiet};
    if (!cli_parse_compute("search", a->precision, &compute)) return CLI_EXIT_USAGE;
    if (siamese_dist_size() > 1 && a->png) {
        fprintf(stderr, "siamese search: --png is not available under mpirun (sharded search)\n");
        return CLI_EXIT_USAGE;
    }
    const char *files[] = {index_path, a->model};
    cli_listed_files listed = {.inputs = queries, .n = n, .kind = CLI_LISTS_OF_SOURCES};
    int refused = a->png && (cli_output_refused("search", a->png, CLI_OUTPUT_FILE, files, 2) ||
                             cli_output_overwrites_input("search", a->png, queries, n) ||
                             cli_output_is_listed_file("search", a->png, &listed));
    cli_listed_files_free(&listed);
    if (refused) return CLI_EXIT_USAGE;
    if (siamese_dist_size() > 1)
        return cli_search_shards(index_path, a->model, &compute, queries, n, a->k, a->json);
    int ok = cli_open_index("search", index_path, &index);
    if (ok && a->png && cli_output_overwrites_index_file("search", a->png, index)) {
        siamese_index_free(index);
        return CLI_EXIT_USAGE;
    }
    ok = ok && cli_open_index_model("search", index, a->model, &compute, &model) &&
         cli_embed_sources("search", model, queries, n, 1, 1, &q);
    if (ok) {
        rows = malloc((size_t)q.count * a->k * sizeof(int));
        dist = malloc((size_t)q.count * a->k * sizeof(float));
        ok = rows && dist &&
             siamese_index_search(index, q.vectors, q.count, a->k, NULL, rows, dist) == SIAMESE_OK;
        if (!ok) fprintf(stderr, "siamese search: %s\n", siamese_index_errmsg(index));
    }
    for (int i = 0; ok && i < q.count; i++)
        cli_print_neighbours(index, cli_embedding_name(&q, i), rows + (size_t)i * a->k,
                             dist + (size_t)i * a->k, a->k, a->json);
    if (ok && a->png) {
        ok = draw_results(a->png, index, &q, rows, dist, a->k);
        if (ok && !a->quiet) fprintf(stderr, "results drawn in %s\n", a->png);
    }
    free(rows);
    free(dist);
    siamese_embeddings_free(&q);
    siamese_model_free(model);
    siamese_index_free(index);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cli_search(int argc, char **argv) {
    search_args a = {10, 0, NULL, NULL, 0, 0, NULL};
    const cli_option options[] = {
        {"k", 'k', CLI_OPT_INT, &a.k, "K",
         "neighbours per query (1 to " CLI_TEXT(SEARCH_K_MAX) ")"},
        {"json", 0, CLI_OPT_FLAG, &a.json, NULL, "one JSON object per query"},
        {"png", 0, CLI_OPT_STRING, &a.png, "FILE",
         "draw each query and its neighbours, captioned with the dissimilarity"},
        {"model", 'm', CLI_OPT_STRING, &a.model, "MODEL",
         "embed the queries with this model (default: the one recorded in the index)"},
        {"threads", 'j', CLI_OPT_INT, &a.threads, "N", "threads (0 = all cores)"},
        CLI_PRECISION_OPTION(&a.precision),
        {"quiet", 'q', CLI_OPT_FLAG, &a.quiet, NULL, "no notes on stderr"},
    };
    const cli_spec spec = {
        "search",
        "INDEX QUERY... [-k 10] [--json] [--png FILE] [--model MODEL]",
        "Finds the k images of the index nearest to each query image (files, folders or .txt\n"
        "lists: one path a line, relative paths read from the list's own folder), nearest first;\n"
        "a query that does not decode is an error naming it. Queries are embedded with the model\n"
        "that made the index (its recorded path, or --model: a model whose fingerprint differs is\n"
        "refused). The search is exact: the same order as comparing the query with every item,\n"
        "ties by index order.\n"
        "Output: per query a line 'query PATH', then 'rank dissimilarity class item' lines.",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        argc,
        "examples:\n"
        "  siamese search faces.idx probe.pgm -k 5\n"
        "  siamese search photos.idx q1.jpg q2.jpg --json\n"
        "  siamese search photos.idx q1.jpg --png results.png\n"
        "exit status: 0 ok, 1 bad index, model or query image, 2 usage error or a refused --png\n"
        "(its folder missing, a folder, an input, an existing file of a query folder or an image\n"
        "a query .txt list names)"};
    const char **pos = malloc((size_t)argc * sizeof(char *));
    int n = 0;
    int parsed = pos ? cli_parse(&spec, argc, argv, pos, &n) : CLI_PARSE_ERROR;
    int code = cli_parse_exit_code(parsed);
    if (parsed == CLI_PARSE_OK && (a.k < 1 || a.k > SEARCH_K_MAX))
        fprintf(stderr, "siamese search: -k must be between 1 and %d\n", SEARCH_K_MAX);
    else if (parsed == CLI_PARSE_OK) code = search(&a, pos[0], pos + 1, n - 1);
    free(pos);
    return code;
}
