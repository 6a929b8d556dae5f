/* siamese embed: the embeddings of every image of a folder tree, dataset or list, as safetensors
 * (an index file) or as numpy's .npy with a paths list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "collection.h"
#include "listed_files.h"
#include "outputs.h"
#include "siamese.h"

/* Builds an index of model's embeddings of sources (also what 'index build' writes). */
int cli_build_index(const char *command, const char *model_path, const char *const *sources, int n,
                    const cli_compute *compute, int quiet, siamese_index **out) {
    siamese_model *model = NULL;
    siamese_embeddings e = {0};
    siamese_index *index = NULL;
    int ok = 1;
    if (siamese_model_load(model_path, &model) != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: %s\n", command,
                model ? siamese_model_errmsg(model) : model_path);
        ok = 0;
    }
    if (ok) ok = cli_apply_compute(command, model, compute);
    ok = ok && cli_embed_sources(command, model, sources, n, 0, quiet, &e);
    if (ok && siamese_index_create(model, model_path, &index) != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: %s\n", command, index ? siamese_index_errmsg(index) : "");
        ok = 0;
    }
    if (ok && siamese_index_add(index, &e) != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: %s\n", command, siamese_index_errmsg(index));
        ok = 0;
    }
    if (ok && !quiet)
        fprintf(stderr, "embedded %d images (%d skipped), %d classes, %d dimensions\n", e.count,
                e.skipped, siamese_index_class_count(index), siamese_index_dim(index));
    siamese_embeddings_free(&e);
    siamese_model_free(model);
    if (!ok) {
        siamese_index_free(index);
        index = NULL;
    }
    *out = index;
    return ok;
}

/* FILE without a trailing ".npy" (the prefix of FILE.npy and FILE.paths.txt). */
static char *npy_prefix(const char *file) {
    size_t n = strlen(file);
    char *prefix = malloc(n + 1);
    if (!prefix) return NULL;
    strcpy(prefix, file);
    if (n > 4 && strcmp(prefix + n - 4, ".npy") == 0) prefix[n - 4] = '\0';
    return prefix;
}

/* The output guard for the files FILE writes (FILE.npy and FILE.paths.txt with npy): 1 when one
 * of them cannot be written or would replace an input (a file of an input folder, an image of
 * an input list), after saying so. */
static int output_refused(const char *file, int npy, const char *const *inputs, int n) {
    /* the lists among the sources (after MODEL) */
    cli_listed_files listed = {.inputs = inputs + 1, .n = n - 1, .kind = CLI_LISTS_OF_SOURCES};
    char *prefix = npy ? npy_prefix(file) : NULL;
    size_t size = (prefix ? strlen(prefix) : 0) + sizeof ".paths.txt";
    char *path = prefix ? malloc(size) : NULL;
    int hit = 0;
    if (!npy) {
        hit = cli_output_refused("embed", file, CLI_OUTPUT_FILE, inputs, n) ||
              cli_output_is_listed_file("embed", file, &listed);
    } else if (path) {
        for (int i = 0; i < 2 && !hit; i++) {
            snprintf(path, size, "%s%s", prefix, i ? ".paths.txt" : ".npy");
            hit = cli_output_refused("embed", path, CLI_OUTPUT_FILE, inputs, n) ||
                  cli_output_is_listed_file("embed", path, &listed);
        }
    }
    cli_listed_files_free(&listed);
    free(path);
    free(prefix);
    return hit;
}

static int write_output(siamese_index *index, const char *file, int npy, int quiet) {
    char *prefix = npy ? npy_prefix(file) : NULL;
    siamese_status st = npy ? (prefix ? siamese_index_export_npy(index, prefix) : SIAMESE_ERR_NOMEM)
                            : siamese_index_save(index, file);
    if (st != SIAMESE_OK)
        fprintf(stderr, "siamese embed: %s\n",
                *siamese_index_errmsg(index) ? siamese_index_errmsg(index)
                                             : siamese_status_str(st));
    else if (!quiet && npy) fprintf(stderr, "wrote %s.npy and %s.paths.txt\n", prefix, prefix);
    else if (!quiet) fprintf(stderr, "wrote %s\n", file);
    free(prefix);
    return st == SIAMESE_OK;
}

int cli_embed_command(int argc, char **argv) {
    const char *output = NULL, *format = "safetensors", *precision = NULL;
    int threads = 0, quiet = 0;
    const cli_option options[] = {
        {"output", 'o', CLI_OPT_STRING, &output, "FILE",
         "where to write the embeddings (a new file in DATA is fine; an existing one of DATA is "
         "refused)"},
        {"format", 'f', CLI_OPT_STRING, &format, "NAME",
         "safetensors, or npy (writes FILE.npy and FILE.paths.txt)"},
        {"threads", 'j', CLI_OPT_INT, &threads, "N", "threads (0 = all cores)"},
        CLI_PRECISION_OPTION(&precision),
        {"quiet", 'q', CLI_OPT_FLAG, &quiet, NULL, "no progress or summary on stderr"},
    };
    const cli_spec spec = {
        "embed",
        "MODEL DATA... -o FILE [--format safetensors|npy]",
        "Embeds every image of DATA with the model, in batches on all cores. DATA is a dataset\n"
        "(class folders, an IDX file or folder, the recipe's layout), a folder of images without\n"
        "classes (every file below it), image files, or .txt lists of image paths (one per line;\n"
        "a relative path is read from the list's own folder, as in pair manifests). Files of a\n"
        "folder or list that do not decode are warned about, skipped and counted; an image file\n"
        "named here that cannot be read is an error, and nothing is written.\n\n"
        "safetensors output: 'embeddings' [N, D] float32, 'labels' [N] int32 (class, -1 = none),\n"
        "'items' (the N absolute paths, NUL-separated) and in the metadata the class names, the\n"
        "model's path and fingerprint: the same file 'siamese index build' writes, so it can be\n"
        "searched. npy output: FILE.npy (float32 [N, D]) and FILE.paths.txt (one path per line).",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        argc,
        "examples:\n"
        "  siamese embed runs/faces/best.safetensors ../shared/data/att_faces -o faces.st\n"
        "  siamese embed model.safetensors photos/ -o photos --format npy\n"
        "exit status: 0 ok, 1 bad model, data or output file, 2 usage error or a refused output\n"
        "(its folder missing, a folder, an input, an existing file of an input folder or an\n"
        "image a .txt list names)"};
    const char **positional = malloc((size_t)argc * sizeof(char *));
    int n = 0;
    int parsed = positional ? cli_parse(&spec, argc, argv, positional, &n) : CLI_PARSE_ERROR;
    int code = cli_parse_exit_code(parsed);
    cli_compute compute = {threads, SIAMESE_PRECISION_AUTO, 0, quiet};
    if (parsed == CLI_PARSE_OK && !cli_parse_compute("embed", precision, &compute))
        parsed = CLI_PARSE_ERROR;
    if (parsed == CLI_PARSE_OK && !output)
        fprintf(stderr, "siamese embed: give the output file with -o FILE\n");
    else if (parsed == CLI_PARSE_OK && strcmp(format, "npy") && strcmp(format, "safetensors"))
        fprintf(stderr, "siamese embed: unknown --format '%s' (safetensors, npy)\n", format);
    else if (parsed == CLI_PARSE_OK &&
             output_refused(output, strcmp(format, "npy") == 0, positional, n))
        code = CLI_EXIT_USAGE;
    else if (parsed == CLI_PARSE_OK) {
        siamese_index *index = NULL;
        int ok = cli_build_index("embed", positional[0], positional + 1, n - 1, &compute, quiet,
                                 &index) &&
                 write_output(index, output, strcmp(format, "npy") == 0, quiet);
        siamese_index_free(index);
        code = ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    free(positional);
    return code;
}
