/* siamese index build / add / remove / info: an index file of a collection's embeddings, kept up
 * to date by atomic rewrites. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"
#include "collection.h"
#include "listed_files.h"
#include "outputs.h"
#include "siamese.h"

typedef struct index_args {
    const char *output;
    const char *model;
    int threads;
    int quiet;
    const char *precision;
    cli_compute compute; /* threads and precision, once parsed */
    int shards;          /* build: > 0 writes INDEX.0 .. INDEX.<shards - 1> instead of INDEX */
} index_args;

static int save(const char *command, siamese_index *index, const char *path, int quiet) {
    if (siamese_index_save(index, path) != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: %s\n", command, siamese_index_errmsg(index));
        return 0;
    }
    if (!quiet) fprintf(stderr, "wrote %s (%d items)\n", path, siamese_index_count(index));
    return 1;
}

/* index build --shards N (issue 16): N files for 'mpirun -np N siamese search'. */
static int save_shards(siamese_index *index, const char *path, int shards, int quiet) {
    if (siamese_index_save_shards(index, path, shards) != SIAMESE_OK) {
        fprintf(stderr, "siamese index build: %s\n", siamese_index_errmsg(index));
        return 0;
    }
    if (!quiet)
        fprintf(stderr, "wrote %s.0 .. %s.%d (%d items in %d shards)\n", path, path, shards - 1,
                siamese_index_count(index), shards);
    return 1;
}

/* The guard of build's outputs (INDEX, or its shards INDEX.0 .. INDEX.<shards - 1>) against its
 * inputs (MODEL, DATA..., the images of DATA's lists): 0 after saying why one is refused. */
static int outputs_ok(const index_args *a, const char *const *pos, int n) {
    /* the lists among the sources (after MODEL) */
    cli_listed_files listed = {.inputs = pos + 1, .n = n - 1, .kind = CLI_LISTS_OF_SOURCES};
    char path[4096];
    int ok = 1;
    for (int r = 0; ok && r < (a->shards ? a->shards : 1); r++) {
        if (a->shards) snprintf(path, sizeof path, "%s.%d", a->output, r);
        const char *output = a->shards ? path : a->output;
        ok = !cli_output_refused("index build", output, CLI_OUTPUT_FILE, pos, n) &&
             !cli_output_is_listed_file("index build", output, &listed);
    }
    cli_listed_files_free(&listed);
    return ok;
}

static int run_build(const index_args *a, const char **pos, int n) {
    if (!a->output) {
        fprintf(stderr, "siamese index build: give the index file with -o INDEX\n");
        return CLI_EXIT_USAGE;
    }
    if (n < 2) {
        fprintf(stderr, "siamese index build: give MODEL and DATA\n");
        return CLI_EXIT_USAGE;
    }
    if (a->shards < 0 || a->shards > SIAMESE_INDEX_SHARDS_MAX) {
        fprintf(stderr, "siamese index build: --shards must be 1 to %d, got %d\n",
                SIAMESE_INDEX_SHARDS_MAX, a->shards);
        return CLI_EXIT_USAGE;
    }
    if (!outputs_ok(a, pos, n)) return CLI_EXIT_USAGE;
    siamese_index *index = NULL;
    int ok =
        cli_build_index("index build", pos[0], pos + 1, n - 1, &a->compute, a->quiet, &index) &&
        (a->shards > 0 ? save_shards(index, a->output, a->shards, a->quiet)
                       : save("index build", index, a->output, a->quiet));
    siamese_index_free(index);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int run_add(const index_args *a, const char **pos, int n) {
    if (n < 2) {
        fprintf(stderr, "siamese index add: give INDEX and the images to add\n");
        return CLI_EXIT_USAGE;
    }
    siamese_index *index = NULL;
    siamese_model *model = NULL;
    siamese_embeddings e = {0};
    int before = 0;
    int ok = cli_open_index("index add", pos[0], &index) &&
             cli_open_index_model("index add", index, a->model, &a->compute, &model) &&
             cli_embed_sources("index add", model, pos + 1, n - 1, 0, a->quiet, &e);
    if (ok) before = siamese_index_count(index);
    if (ok && siamese_index_add(index, &e) != SIAMESE_OK) {
        fprintf(stderr, "siamese index add: %s\n", siamese_index_errmsg(index));
        ok = 0;
    }
    if (ok && !a->quiet)
        fprintf(stderr, "added %d images (%d new, %d replaced, %d skipped)\n", e.count,
                siamese_index_count(index) - before,
                e.count - (siamese_index_count(index) - before), e.skipped);
    ok = ok && save("index add", index, pos[0], a->quiet);
    siamese_embeddings_free(&e);
    siamese_model_free(model);
    siamese_index_free(index);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int run_remove(const index_args *a, const char **pos, int n) {
    if (n < 2) {
        fprintf(stderr, "siamese index remove: give INDEX and the items to remove\n");
        return CLI_EXIT_USAGE;
    }
    siamese_index *index = NULL;
    if (!cli_open_index("index remove", pos[0], &index)) return CLI_EXIT_FAIL;
    int missing = 0;
    for (int i = 1; i < n; i++) {
        if (siamese_index_find(index, pos[i]) < 0) {
            fprintf(stderr, "siamese index remove: %s is not in %s\n", pos[i], pos[0]);
            missing++;
        }
    }
    int removed = 0, ok = 1;
    if (missing == 0) {
        ok = siamese_index_remove(index, pos + 1, n - 1, &removed) == SIAMESE_OK;
        if (!ok) fprintf(stderr, "siamese index remove: %s\n", siamese_index_errmsg(index));
        ok = ok && save("index remove", index, pos[0], a->quiet);
    }
    siamese_index_free(index);
    return missing ? CLI_EXIT_FAIL : ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int run_info(const char **pos, int n) {
    if (n != 1) {
        fprintf(stderr, "siamese index info: give one INDEX\n");
        return CLI_EXIT_USAGE;
    }
    siamese_index *index = NULL;
    if (!cli_open_index("index info", pos[0], &index)) return CLI_EXIT_FAIL;
    struct stat st;
    long long bytes = stat(pos[0], &st) == 0 ? (long long)st.st_size : -1;
    int unlabelled = 0;
    for (int i = 0; i < siamese_index_count(index); i++)
        unlabelled += siamese_index_label(index, i) < 0;
    const char *model = siamese_index_model_path(index);
    printf("index:       %s (%lld bytes)\n", pos[0], bytes);
    printf("items:       %d (%d without a class)\n", siamese_index_count(index), unlabelled);
    printf("classes:     %d\n", siamese_index_class_count(index));
    printf("dimensions:  %d\n", siamese_index_dim(index));
    printf("metric:      %s\n", siamese_metric_name(siamese_index_metric(index)));
    printf("model:       %s\n", model ? model : "(none recorded)");
    printf("fingerprint: %s\n", siamese_index_fingerprint(index));
    siamese_index_free(index);
    return CLI_EXIT_OK;
}

int cli_index(int argc, char **argv) {
    index_args a = {NULL, NULL, 0, 0, NULL, {0, SIAMESE_PRECISION_AUTO, 0, 0}, 0};
    const cli_option options[] = {
        {"output", 'o', CLI_OPT_STRING, &a.output, "INDEX", "build: the index file to write"},
        {"shards", 0, CLI_OPT_INT, &a.shards, "N",
         "build: write N shard files INDEX.0 .. INDEX.N-1 instead (1 to 65536, at most the "
         "items; for mpirun -np N siamese search)"},
        {"model", 'm', CLI_OPT_STRING, &a.model, "MODEL",
         "add: embed with this model (default: the one recorded in the index)"},
        {"threads", 'j', CLI_OPT_INT, &a.threads, "N", "threads (0 = all cores)"},
        CLI_PRECISION_OPTION(&a.precision),
        {"quiet", 'q', CLI_OPT_FLAG, &a.quiet, NULL, "no progress or summary on stderr"},
    };
    const cli_spec spec = {
        "index",
        "build MODEL DATA... -o INDEX | add INDEX PATH... | remove INDEX ITEM... | info INDEX",
        "An index is one file holding the embeddings of a collection, their paths, class labels\n"
        "and the fingerprint of the model that made them (architecture, weights, input geometry,\n"
        "metric); 'siamese search', 'similar' and 'identify' read it memory-mapped.\n\n"
        "  build   embeds DATA (as 'siamese embed' reads it) and writes INDEX\n"
        "  add     embeds the images (files, folders, lists; a class-folder dataset keeps its\n"
        "          class names) with the index's model and adds them; an item already in the\n"
        "          index is replaced\n"
        "          (build and add: a .txt list holds one image path a line, relative paths read\n"
        "          from the list's own folder; files of a folder or list that do not decode are\n"
        "          warned about and skipped; an image file named that cannot be read is an\n"
        "          error and INDEX is left as it was)\n"
        "  remove  drops the items (paths as recorded, or that resolve to them); an item not in\n"
        "          the index is an error and nothing is changed\n"
        "  info    prints the counts, metric, model and fingerprint\n\n"
        "Every update writes a new file and renames it over INDEX: a crash leaves the old index.",
        options,
        (int)(sizeof options / sizeof options[0]),
        1,
        argc,
        "examples:\n"
        "  siamese index build runs/faces/best.safetensors ../shared/data/att_faces -o "
        "faces.idx\n"
        "  siamese index add faces.idx new_person/\n"
        "  siamese index remove faces.idx ../shared/data/att_faces/training/s1/1.pgm\n"
        "  siamese index info faces.idx\n"
        "exit status: 0 ok, 1 bad model, data or index file, 2 usage error or a refused build\n"
        "output (its folder missing, a folder, an existing file of DATA or an image a .txt list\n"
        "names)"};
    const char **pos = malloc((size_t)argc * sizeof(char *));
    int n = 0;
    int parsed = pos ? cli_parse(&spec, argc, argv, pos, &n) : CLI_PARSE_ERROR;
    int code = cli_parse_exit_code(parsed);
    a.compute.threads = a.threads;
    a.compute.quiet = a.quiet;
    if (parsed == CLI_PARSE_OK && !cli_parse_compute("index", a.precision, &a.compute))
        parsed = CLI_PARSE_ERROR;
    if (parsed == CLI_PARSE_OK) {
        const char *sub = pos[0];
        if (!strcmp(sub, "build")) code = run_build(&a, pos + 1, n - 1);
        else if (!strcmp(sub, "add")) code = run_add(&a, pos + 1, n - 1);
        else if (!strcmp(sub, "remove")) code = run_remove(&a, pos + 1, n - 1);
        else if (!strcmp(sub, "info")) code = run_info(pos + 1, n - 1);
        else
            fprintf(stderr, "siamese index: unknown action '%s' (build, add, remove, info)\n", sub);
    }
    free(pos);
    return code;
}
