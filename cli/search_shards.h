/* siamese search under mpirun (issue 16): rank r searches shard INDEX.r, rank 0 prints the
 * merged neighbours. */
#ifndef SIAMESE_CLI_SEARCH_SHARDS_H
#define SIAMESE_CLI_SEARCH_SHARDS_H

#include "similarity.h"

/* The sharded search of the queries; returns the exit code. */
int cli_search_shards(const char *index_path, const char *model_path, const cli_compute *compute,
                      const char *const *queries, int n, int k, int json);

#endif
