/* siamese import: converts a pretrained network another package ships into a model file. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "outputs.h"
#include "siamese.h"

int cli_import(int argc, char **argv) {
    const char *output = NULL;
    int align = 0;
    const cli_option options[] = {
        {"output", 'o', CLI_OPT_STRING, &output, "FILE",
         "the model file to write (safetensors; never a file of DIR)"},
        {"align", 0, CLI_OPT_FLAG, &align, NULL,
         "also import face-api's 68-point landmark network (face_landmark_68_model in DIR):\n"
         "every command then aligns each face photo onto dlib's mean face before embedding"},
    };
    const cli_spec spec = {
        "import",
        "face-api DIR -o FILE",
        "Converts a pretrained network into a siamese model file (written atomically).\n"
        "face-api: the face recognition network of npm's @vladmandic/face-api (the dlib ResNet:\n"
        "150x150 RGB faces, 128-d embeddings); DIR holds\n"
        "face_recognition_model-weights_manifest.json and its shards (the package's model/).\n"
        "Its input normalisation is the model's first layer, so embed, eval, search and verify\n"
        "preprocess as face-api does; the model's threshold is face-api's 0.6 (Euclidean).",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        2,
        "example:\n"
        "  scripts/deps.sh --face-api\n"
        "  siamese import face-api ~/.cache/siamese/npm/face-api --align -o face.safetensors\n"
        "  siamese eval face.safetensors att_faces/testing --protocol verification\n"
        "exit status: 0 ok, 1 a package that does not import or a file that cannot be written,\n"
        "2 usage error or a refused FILE (its folder missing, a folder, or a file of DIR)",
    };
    const char *pos[2];
    int n = 0;
    int parsed = cli_parse(&spec, argc, argv, pos, &n);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    if (strcmp(pos[0], "face-api") != 0) {
        fprintf(stderr, "siamese import: unknown format '%s' (known: face-api)\n", pos[0]);
        return CLI_EXIT_USAGE;
    }
    if (!output) {
        fprintf(stderr, "siamese import: give the model file to write with -o FILE\n");
        return CLI_EXIT_USAGE;
    }
    if (cli_output_refused("import", output, CLI_OUTPUT_FILE, &pos[1], 1)) return CLI_EXIT_USAGE;
    siamese_model *model = NULL;
    siamese_status st = siamese_model_import_faceapi(pos[1], &model);
    if (st == SIAMESE_OK && align) st = siamese_model_attach_faceapi_aligner(model, pos[1]);
    if (st == SIAMESE_OK) st = siamese_model_save(model, output);
    if (st != SIAMESE_OK) {
        fprintf(stderr, "siamese import: %s\n",
                model ? siamese_model_errmsg(model) : siamese_status_str(st));
        siamese_model_free(model);
        return CLI_EXIT_FAIL;
    }
    siamese_model_free(model);
    printf("wrote %s (face-api face recognition network, 3x150x150 -> 128%s)\n", output,
           align ? ", faces aligned on face-api's 68 landmarks" : "");
    return CLI_EXIT_OK;
}
