/* siamese search under mpirun (issue 16): every rank opens its shard INDEX.<rank> (written by
 * 'siamese index build --shards N'), embeds the queries, and siamese_index_search_shards merges
 * the ranks' neighbours on rank 0, which prints them as the unsharded search does. */
#include "search_shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"
#include "collection.h"

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* INDEX.<rank>; the shard count must equal the rank count (INDEX.<size> must not exist). */
static int shard_path(const char *index_path, char *out, size_t size) {
    int rank = siamese_dist_rank(), ranks = siamese_dist_size();
    char beyond[4096];
    snprintf(out, size, "%s.%d", index_path, rank);
    snprintf(beyond, sizeof beyond, "%s.%d", index_path, ranks);
    if (file_exists(beyond)) {
        if (rank == 0)
            fprintf(stderr,
                    "siamese search: %s exists: the index has more shards than the %d ranks "
                    "(run mpirun -np with its shard count)\n",
                    beyond, ranks);
        return 0;
    }
    return 1;
}

static void print_hits(const siamese_shard_hits *h, const siamese_embeddings *q, int q_index,
                       siamese_metric metric, int json) {
    const float *d = h->distances + (size_t)q_index * h->k;
    const long long *rows = h->rows + (size_t)q_index * h->k;
    char **items = h->items + (size_t)q_index * h->k,
         **classes = h->classes + (size_t)q_index * h->k;
    if (json) {
        printf("{\"query\":");
        cli_json_string(stdout, cli_embedding_name(q, q_index));
        printf(",\"metric\":\"%s\",\"neighbours\":[", siamese_metric_name(metric));
        for (int j = 0; j < h->k && rows[j] >= 0; j++) {
            printf("%s{\"rank\":%d,\"item\":", j ? "," : "", j + 1);
            cli_json_string(stdout, items[j]);
            printf(",\"class\":");
            if (classes[j]) cli_json_string(stdout, classes[j]);
            else printf("null");
            printf(",\"dissimilarity\":%.9g}", d[j]);
        }
        printf("]}\n");
        return;
    }
    printf("query %s\n", cli_embedding_name(q, q_index));
    for (int j = 0; j < h->k && rows[j] >= 0; j++)
        printf("%4d  %.6f  %-16s  %s\n", j + 1, d[j], classes[j] ? classes[j] : "-", items[j]);
}

int cli_search_shards(const char *index_path, const char *model_path, const cli_compute *compute,
                      const char *const *queries, int n, int k, int json) {
    char path[4096];
    siamese_index *index = NULL;
    siamese_model *model = NULL;
    siamese_embeddings q = {0};
    siamese_shard_hits hits = {0};
    int rank = siamese_dist_rank();
    int ok = shard_path(index_path, path, sizeof path) && cli_open_index("search", path, &index) &&
             cli_open_index_model("search", index, model_path, compute, &model) &&
             cli_embed_sources("search", model, queries, n, 1, 1, &q);
    /* every rank must be ready before the collective search */
    if (!siamese_dist_all_ok(ok)) {
        if (ok && rank == 0) fprintf(stderr, "siamese search: another rank failed (see above)\n");
    } else if (siamese_index_search_shards(index, q.vectors, q.count, k, &hits) != SIAMESE_OK) {
        fprintf(stderr, "siamese search (rank %d): %s\n", rank, siamese_index_errmsg(index));
        ok = 0;
    }
    if (rank == 0) ok = ok && hits.nq == q.count; /* the other ranks print nothing */
    for (int i = 0; ok && rank == 0 && i < q.count; i++)
        print_hits(&hits, &q, i, siamese_index_metric(index), json);
    siamese_shard_hits_free(&hits);
    siamese_embeddings_free(&q);
    siamese_model_free(model);
    siamese_index_free(index);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
