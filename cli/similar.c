/* siamese similar: "more like this" for an item already in an index: its nearest items, itself
 * excluded, optionally only from other classes (recommend across categories). */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "cli.h"
#include "collection.h"
#include "siamese.h"

#define SIMILAR_K_MAX 1000

typedef struct similar_args {
    int k;
    int other_classes;
    int json;
} similar_args;

/* Rows of the item's own class (it included). */
static int class_size(const siamese_index *index, int label) {
    int n = 0;
    for (int i = 0; i < siamese_index_count(index); i++)
        n += siamese_index_label(index, i) == label;
    return n;
}

/* The k nearest rows to row (excluded) with, when other_classes, a class other than row's: the
 * search asks for enough neighbours to survive the filter, so the answer stays exact. */
static int nearest(siamese_index *index, int row, const similar_args *a, int *rows, float *dist) {
    int label = siamese_index_label(index, row);
    int want = a->k + (a->other_classes ? class_size(index, label) : 0);
    if (want > siamese_index_count(index)) want = siamese_index_count(index);
    int *r = malloc((size_t)want * sizeof(int));
    float *d = malloc((size_t)want * sizeof(float));
    int ok = r && d &&
             siamese_index_search(index, siamese_index_vector(index, row), 1, want, &row, r, d) ==
                 SIAMESE_OK;
    int n = 0;
    for (int j = 0; ok && j < want && n < a->k && r[j] >= 0; j++) {
        if (a->other_classes && siamese_index_label(index, r[j]) == label) continue;
        rows[n] = r[j];
        dist[n++] = d[j];
    }
    for (int j = n; j < a->k; j++) rows[j] = -1;
    if (!ok) fprintf(stderr, "siamese similar: %s\n", siamese_index_errmsg(index));
    free(r);
    free(d);
    return ok;
}

static int similar(const similar_args *a, const char *index_path, const char *item) {
    siamese_index *index = NULL;
    if (!cli_open_index("similar", index_path, &index)) return CLI_EXIT_FAIL;
    int row = siamese_index_find(index, item), ok = row >= 0;
    if (!ok)
        fprintf(stderr,
                "siamese similar: %s is not in %s (add it with 'siamese index add', or "
                "use 'siamese search' for any image)\n",
                item, index_path);
    if (ok && a->other_classes && siamese_index_label(index, row) < 0) {
        fprintf(stderr, "siamese similar: %s has no class: --other-classes needs one\n", item);
        ok = 0;
    }
    int *rows = malloc((size_t)a->k * sizeof(int));
    float *dist = malloc((size_t)a->k * sizeof(float));
    ok = ok && rows && dist && nearest(index, row, a, rows, dist);
    if (ok) cli_print_neighbours(index, siamese_index_item(index, row), rows, dist, a->k, a->json);
    free(rows);
    free(dist);
    siamese_index_free(index);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cli_similar(int argc, char **argv) {
    similar_args a = {10, 0, 0};
    const cli_option options[] = {
        {"k", 'k', CLI_OPT_INT, &a.k, "K", "items to recommend (1 to " CLI_TEXT(SIMILAR_K_MAX) ")"},
        {"other-classes", 0, CLI_OPT_FLAG, &a.other_classes, NULL,
         "only items of other classes than the item's"},
        {"json", 0, CLI_OPT_FLAG, &a.json, NULL, "one JSON object"},
    };
    const cli_spec spec = {
        "similar",
        "INDEX ITEM [-k 10] [--other-classes] [--json]",
        "More like this: the k items of the index nearest to ITEM, an item already in the index\n"
        "(its path as recorded, or a path that resolves to it), itself excluded. Its stored\n"
        "embedding is used: no model, no decoding. --other-classes recommends only across\n"
        "classes (e.g. similar-looking items from other categories). Output as 'siamese search'.",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        2,
        "examples:\n"
        "  siamese similar dogs.idx /data/Images/n02085620-Chihuahua/n02085620_10074.jpg -k 5\n"
        "  siamese similar dogs.idx photo.jpg --other-classes\n"
        "exit status: 0 ok, 1 bad index or an item not in it, 2 usage error"};
    const char *pos[2];
    int n = 0;
    int parsed = cli_parse(&spec, argc, argv, pos, &n);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    if (a.k < 1 || a.k > SIMILAR_K_MAX) {
        fprintf(stderr, "siamese similar: -k must be between 1 and %d\n", SIMILAR_K_MAX);
        return CLI_EXIT_USAGE;
    }
    return similar(&a, pos[0], pos[1]);
}
