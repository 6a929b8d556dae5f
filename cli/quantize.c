/* siamese quantize: int8 calibration of a model on a dataset's images, written with the model
 * to a new file; then a check of int8 against fp32 embeddings on a few of the images. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "listed_files.h"
#include "outputs.h"
#include "similarity.h"

#define CHECK_IMAGES 32

typedef struct quantize_ui {
    int terminal, quiet;
} quantize_ui;

static void print_warning(void *user, const char *message) {
    const quantize_ui *ui = user;
    if (ui->quiet) return;
    if (ui->terminal) fputs("\r\033[K", stderr);
    fprintf(stderr, "siamese quantize: warning: %s\n", message);
}

static void draw_progress(void *user, int done, int total) {
    const quantize_ui *ui = user;
    if (!ui->terminal || ui->quiet) return;
    fprintf(stderr, "\r\033[Kcalibrating on %d/%d images", done, total);
    if (done == total) fputs("\r\033[K", stderr);
    fflush(stderr);
}

/* Up to CHECK_IMAGES decodable images of ds (evenly spaced) as tensors (aligned face chips for a
 * model with a face aligner); returns the count. */
static int load_check_images(siamese_model *model, siamese_dataset *ds, float **out) {
    int total = siamese_dataset_image_count(ds), n = 0;
    size_t per = cli_model_image_floats(model);
    siamese_image_options o = cli_model_image_options(model);
    *out = cli_alloc_tensors(model, CHECK_IMAGES);
    if (!*out) return 0;
    int step = total / CHECK_IMAGES > 1 ? total / CHECK_IMAGES : 1;
    for (int i = step / 2; i < total && n < CHECK_IMAGES; i += step) {
        siamese_image img;
        if (siamese_model_aligns_faces(model)) {
            n += siamese_dataset_image_usable(ds, i) &&
                 siamese_model_load_input(model, siamese_dataset_image_path(ds, i),
                                          *out + (size_t)n * per, NULL, 0) == SIAMESE_OK;
            continue;
        }
        if (!siamese_dataset_image_usable(ds, i) ||
            siamese_dataset_load_image(ds, i, &o, &img) != SIAMESE_OK)
            continue;
        if (siamese_image_to_tensor(&img, NULL, NULL, *out + (size_t)n * per, NULL, 0) ==
            SIAMESE_OK)
            n++;
        siamese_image_free(&img);
    }
    return n;
}

/* Relative L2 error of int8 against fp32 embeddings over the *n check images, or -1. */
static double int8_error(siamese_model *model, siamese_dataset *ds, int *n_out) {
    float *x = NULL, *e32 = NULL, *e8 = NULL;
    int n = load_check_images(model, ds, &x);
    *n_out = n;
    double err = -1.0;
    if (n > 0 && cli_embed("quantize", model, x, n, &e32) &&
        siamese_model_set_precision(model, SIAMESE_PRECISION_INT8) == SIAMESE_PRECISION_INT8 &&
        cli_embed("quantize", model, x, n, &e8)) {
        double num = 0.0, den = 0.0;
        size_t count = (size_t)n * (size_t)siamese_model_embedding_dim(model);
        for (size_t i = 0; i < count; i++) {
            num += ((double)e8[i] - e32[i]) * ((double)e8[i] - e32[i]);
            den += (double)e32[i] * e32[i];
        }
        err = den > 0 ? sqrt(num / den) : 0.0;
    }
    siamese_model_set_precision(model, SIAMESE_PRECISION_FP32);
    free(x);
    free(e32);
    free(e8);
    return err;
}

static int run_quantize(const char *model_path, const char *data, const char *output,
                        const siamese_quantize_params *qp, int threads, quantize_ui *ui) {
    cli_compute compute = {threads, SIAMESE_PRECISION_FP32, 0, 0};
    siamese_model *model = NULL;
    if (!cli_open_model("quantize", model_path, &compute, &model)) return CLI_EXIT_FAIL;
    siamese_dataset_params dp = siamese_dataset_default_params();
    dp.warning = print_warning;
    dp.warning_user = ui;
    siamese_dataset *ds = NULL;
    int code = CLI_EXIT_FAIL;
    siamese_status st;
    if (siamese_dataset_open(data, &dp, &ds) != SIAMESE_OK) {
        const char *msg = ds ? siamese_dataset_errmsg(ds) : "";
        fprintf(stderr, "siamese quantize: %s\n", *msg ? msg : data);
    } else if ((st = siamese_model_quantize(model, ds, qp)) == SIAMESE_ERR_DATA) {
        fprintf(stderr, "siamese quantize: %s\n", siamese_model_errmsg(model)); /* names the data */
    } else if (st != SIAMESE_OK) {
        fprintf(stderr, "siamese quantize: %s: %s\n", model_path, siamese_model_errmsg(model));
    } else {
        int checked = 0;
        double err = int8_error(model, ds, &checked);
        if (siamese_model_save(model, output) != SIAMESE_OK) {
            fprintf(stderr, "siamese quantize: %s\n", siamese_model_errmsg(model));
        } else {
            code = CLI_EXIT_OK;
            if (!ui->quiet) {
                fprintf(stderr, "calibrated on %d images of %s\n", siamese_model_int8_images(model),
                        data);
                if (err >= 0)
                    fprintf(stderr, "int8 embeddings vs fp32 on %d images: %.2f%% relative L2\n",
                            checked, 100.0 * err);
                fprintf(stderr, "wrote %s (use it with --precision int8)\n", output);
            }
        }
    }
    siamese_dataset_free(ds);
    siamese_model_free(model);
    return code;
}

int cli_quantize(int argc, char **argv) {
    siamese_quantize_params qp = siamese_quantize_default_params();
    const char *output = NULL;
    int threads = 0, quiet = 0;
    const cli_option options[] = {
        {"output", 'o', CLI_OPT_STRING, &output, "FILE",
         "the quantised model (a new file; never MODEL itself nor a file of DATA)"},
        {"images", 'n', CLI_OPT_INT, &qp.images, "N", "calibration images, spread over DATA"},
        {"batch", 'b', CLI_OPT_INT, &qp.batch, "N",
         "images per forward while calibrating (1 to " CLI_TEXT(SIAMESE_QUANTIZE_BATCH_MAX) ")"},
        {"threads", 'j', CLI_OPT_INT, &threads, "N", "threads (0 = all cores)"},
        {"quiet", 'q', CLI_OPT_FLAG, &quiet, NULL, "no progress or summary on stderr"},
    };
    const cli_spec spec = {
        "quantize",
        "MODEL DATA -o MODEL_INT8 [options]",
        "Post-training int8 quantisation for 'siamese ... --precision int8': runs the model in\n"
        "fp32 on images of DATA (any dataset the other commands read: class folders, IDX, the\n"
        "recipe's layout, a manifest), records the range of every conv and linear layer's input,\n"
        "and the per-output-channel scales of their weights (batchnorm folded in). Writes\n"
        "MODEL_INT8: MODEL with the calibration as extra tensors 'int8.<layer>.input_range' and\n"
        "'int8.<layer>.weight_scale': the fp32 weights are unchanged, so the file still loads as\n"
        "fp32 here and in PyTorch (drop the int8.* keys before load_state_dict). Then compares\n"
        "int8 with fp32 embeddings of a few images of DATA. Residual networks (the resnet\n"
        "presets, face-api's network) are supported; a model with a face aligner is calibrated\n"
        "on the aligned face chips its embeddings see (the aligner itself stays fp32). Grouped\n"
        "or end-padded convolutions are not.",
        options,
        (int)(sizeof options / sizeof options[0]),
        2,
        2,
        "examples:\n"
        "  siamese quantize runs/fashion/model.safetensors /usr/share/datasets/fashion-mnist \\\n"
        "      -o fashion-int8.safetensors\n"
        "  siamese test fashion-int8.safetensors DATA --precision int8\n"
        "exit status: 0 ok, 1 bad model, data or output file, 2 usage error or a refused output\n"
        "(its folder missing, a folder, MODEL, an existing file of DATA or an image its manifest\n"
        "names)"};
    const char *positional[2];
    int n = 0;
    int parsed = cli_parse(&spec, argc, argv, positional, &n);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    if (!output) {
        fprintf(stderr, "siamese quantize: give the output file with -o FILE\n");
        return CLI_EXIT_USAGE;
    }
    if (cli_output_refused("quantize", output, CLI_OUTPUT_FILE, positional, 2) ||
        cli_output_is_manifest_image("quantize", output, positional[1]))
        return CLI_EXIT_USAGE;
    if (!cli_threads_ok("quantize", threads)) return CLI_EXIT_USAGE;
    if (qp.images < 1) {
        fprintf(stderr, "siamese quantize: --images must be at least 1, got %d\n", qp.images);
        return CLI_EXIT_USAGE;
    }
    if (qp.batch < 1 || qp.batch > SIAMESE_QUANTIZE_BATCH_MAX) {
        fprintf(stderr, "siamese quantize: --batch must be 1 to %d, got %d\n",
                SIAMESE_QUANTIZE_BATCH_MAX, qp.batch);
        return CLI_EXIT_USAGE;
    }
    quantize_ui ui = {isatty(2), quiet};
    qp.warning = print_warning;
    qp.warning_user = &ui;
    qp.progress = draw_progress;
    qp.progress_user = &ui;
    return run_quantize(positional[0], positional[1], output, &qp, threads, &ui);
}
