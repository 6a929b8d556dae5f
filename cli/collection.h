/* Helpers shared by the collection commands (embed, index, search, similar, verify, identify):
 * embedding a folder, dataset or file list with a progress line, and opening an index with the
 * model that made it. */
#ifndef SIAMESE_CLI_COLLECTION_H
#define SIAMESE_CLI_COLLECTION_H

#include "siamese.h"
#include "similarity.h"

/* Embeds the images named by sources: a single dataset (class folders, IDX, recipe layout), or
 * a folder without classes (every file below it), or image files, or .txt lists of image paths
 * (one per line, relative ones read from the list's folder). Files of folders and lists that do
 * not decode are warned about on stderr and skipped, unless strict (then the first one is an
 * error naming it); an image file named in sources that cannot be opened is an error before
 * anything is embedded, and one that does not decode is an error too. Prints a progress line on a terminal
 * unless quiet. On failure prints "siamese COMMAND: <message>" and returns 0. */
int cli_embed_sources(const char *command, siamese_model *model, const char *const *sources, int n,
                      int strict, int quiet, siamese_embeddings *out);

/* 1 when the source is read as a .txt list of image paths (a file, not a folder, named *.txt). */
int cli_source_is_list(const char *source);

/* Receives one image of a list: the line as written and the path that opens it. 0 stops. */
typedef int (*cli_list_visit)(void *user, const char *written, const char *path);

/* Calls visit for every image the .txt list names (blank lines and "#" comments skipped,
 * relative paths read from the list's own folder, as pair manifests do). 1 when every image was
 * visited, 0 when visit (or memory) stopped it, -1 when the list cannot be opened (errno set). */
int cli_image_list_each(const char *list, cli_list_visit visit, void *user);

/* How row i of e was named: its file path when it has one, else its name. */
const char *cli_embedding_name(const siamese_embeddings *e, int i);

/* Opens the index at path; on failure prints "siamese COMMAND: <message naming the file>". When
 * path is missing but path.0 exists (an 'index build --shards N' index), says it is a sharded
 * index of N shards to search with 'mpirun -np N siamese search'. */
int cli_open_index(const char *command, const char *path, siamese_index **out);

/* Loads the model that made index: model_path when not NULL, else the path recorded in the
 * index; refuses (with a message saying what differs) a model that did not make the index. */
int cli_open_index_model(const char *command, siamese_index *index, const char *model_path,
                         const cli_compute *compute, siamese_model **out);

/* Loads the model at model_path and builds an index of its embeddings of sources (as
 * cli_embed_sources); prints a summary on stderr unless quiet. */
int cli_build_index(const char *command, const char *model_path, const char *const *sources, int n,
                    const cli_compute *compute, int quiet, siamese_index **out);

/* The class name of an index row, or "-" when it has none. */
const char *cli_row_class(const siamese_index *index, int row);

/* Prints the k neighbours (rows, distances; -1 rows end the list) of one query: a table under a
 * "query NAME" line, or with json one JSON object on one line. */
void cli_print_neighbours(const siamese_index *index, const char *query, const int *rows,
                          const float *distances, int k, int json);

#endif
