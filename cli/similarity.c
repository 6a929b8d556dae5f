/* Helpers shared by 'siamese test' and 'siamese compare' (see similarity.h). */
#include "similarity.h"

#include <stdint.h>
#include <stdlib.h>

#include "args.h"

int cli_parse_precision(const char *command, const char *name, siamese_precision *out) {
    *out = SIAMESE_PRECISION_AUTO;
    if (!name || siamese_precision_parse(name, out) == SIAMESE_OK) return 1;
    fprintf(stderr, "siamese %s: unknown --precision '%s' (auto, fp32, bf16, int8)\n", command,
            name);
    return 0;
}

int cli_parse_compute(const char *command, const char *precision, cli_compute *compute) {
    if (!cli_threads_ok(command, compute->threads)) return 0;
    return cli_parse_precision(command, precision, &compute->precision);
}

/* auto: measures (or reads the cache), prints the choice and sets it. */
static void apply_auto(const char *command, siamese_model *model, const cli_compute *compute) {
    siamese_precision_choice c;
    if (siamese_precision_choose(model, compute->batch, &c) != SIAMESE_OK) {
        if (!compute->quiet)
            fprintf(stderr, "siamese %s: --precision auto: %s; computing in fp32\n", command,
                    siamese_model_errmsg(model));
        siamese_model_set_precision(model, SIAMESE_PRECISION_FP32);
        return;
    }
    siamese_model_set_precision(model, c.precision);
    if (compute->quiet) return;
    if (c.bf16_seconds <= 0) {
        fprintf(stderr, "siamese %s: precision auto: fp32 (this CPU has no bf16 kernels)\n",
                command);
        return;
    }
    fprintf(stderr,
            "siamese %s: precision auto: %s (forward of %d images in CPU time: fp32 %.3g ms, "
            "bf16 %.3g ms; %s)\n",
            command, siamese_precision_name(c.precision), c.batch, 1e3 * c.fp32_seconds,
            1e3 * c.bf16_seconds, c.from_cache ? "cached" : "measured now");
}

int cli_apply_compute(const char *command, siamese_model *model, const cli_compute *compute) {
    if (compute->threads > 0) siamese_model_set_threads(model, compute->threads);
    if (compute->precision == SIAMESE_PRECISION_INT8) {
        if (siamese_model_set_precision(model, SIAMESE_PRECISION_INT8) == SIAMESE_PRECISION_INT8)
            return 1;
        fprintf(stderr, "siamese %s: --precision int8: %s\n", command, siamese_model_errmsg(model));
        return 0;
    }
    if (compute->precision == SIAMESE_PRECISION_AUTO) {
        apply_auto(command, model, compute);
        return 1;
    }
    if (siamese_model_set_precision(model, compute->precision) != compute->precision) {
        if (!compute->quiet)
            fprintf(stderr,
                    "siamese %s: this CPU has no bf16 kernels (AVX512-BF16): computing in fp32\n",
                    command);
        return 1;
    }
    siamese_precision_choice c;
    if (!compute->quiet && compute->precision == SIAMESE_PRECISION_BF16 &&
        siamese_precision_choose(model, compute->batch, &c) == SIAMESE_OK &&
        c.bf16_seconds > c.fp32_seconds && c.fp32_seconds > 0)
        fprintf(stderr,
                "siamese %s: warning: bf16 is slower than fp32 on this CPU (forward of %d images "
                "in CPU time: fp32 %.3g ms, bf16 %.3g ms); --precision auto picks the faster\n",
                command, c.batch, 1e3 * c.fp32_seconds, 1e3 * c.bf16_seconds);
    return 1;
}

int cli_finish_open_model(const char *command, siamese_model *model, const cli_compute *compute,
                          siamese_model **out) {
    *out = NULL;
    if (!cli_apply_compute(command, model, compute)) {
        siamese_model_free(model);
        return 0;
    }
    *out = model;
    return 1;
}

int cli_open_model(const char *command, const char *path, const cli_compute *compute,
                   siamese_model **out) {
    siamese_model *model = NULL;
    siamese_status st = siamese_model_load(path, &model);
    if (st != SIAMESE_OK) {
        const char *msg = model ? siamese_model_errmsg(model) : "";
        if (*msg) fprintf(stderr, "siamese %s: %s\n", command, msg);
        else fprintf(stderr, "siamese %s: %s: %s\n", command, path, siamese_status_str(st));
        siamese_model_free(model);
        *out = NULL;
        return 0;
    }
    if (compute->precision == SIAMESE_PRECISION_INT8 && siamese_model_int8_images(model) == 0) {
        int lacking = 0; /* an ensemble's first member without one */
        while (lacking < siamese_model_members(model) &&
               siamese_model_int8_images(siamese_model_member(model, lacking)) > 0)
            lacking++;
        char which[48] = "";
        if (siamese_model_members(model) > 0)
            snprintf(which, sizeof which, " (its member %d has none)", lacking);
        fprintf(stderr,
                "siamese %s: --precision int8: %s has no int8 calibration%s (make one with "
                "'siamese quantize %s DATA -o MODEL_INT8')\n",
                command, path, which, path);
        siamese_model_free(model);
        *out = NULL;
        return 0;
    }
    return cli_finish_open_model(command, model, compute, out);
}

siamese_image_options cli_model_image_options(const siamese_model *model) {
    siamese_image_options o = siamese_image_default_options();
    o.channels = siamese_model_channels(model);
    o.height = siamese_model_height(model);
    o.width = siamese_model_width(model);
    o.fast_jpeg = 0;
    return o;
}

size_t cli_model_image_floats(const siamese_model *model) {
    return (size_t)siamese_model_channels(model) * (size_t)siamese_model_height(model) *
           (size_t)siamese_model_width(model);
}

float *cli_alloc_tensors(const siamese_model *model, size_t n) {
    size_t per = cli_model_image_floats(model);
    if (n == 0 || per == 0 || n > SIZE_MAX / sizeof(float) / per) return NULL;
    return malloc(n * per * sizeof(float));
}

int cli_embed(const char *command, siamese_model *model, const float *images, int n, float **out) {
    size_t dim = (size_t)siamese_model_embedding_dim(model);
    float *emb = n > 0 && dim > 0 && (size_t)n <= SIZE_MAX / sizeof(float) / dim
                     ? malloc((size_t)n * dim * sizeof(float))
                     : NULL;
    if (!emb) {
        fprintf(stderr, "siamese %s: out of memory for %d embeddings\n", command, n);
        return 0;
    }
    siamese_status st = siamese_model_embed(model, images, n, emb);
    if (st != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: embedding failed: %s\n", command,
                *siamese_model_errmsg(model) ? siamese_model_errmsg(model)
                                             : siamese_status_str(st));
        free(emb);
        return 0;
    }
    *out = emb;
    return 1;
}

const char *cli_verdict(double distance, double threshold) {
    if (!(threshold >= 0)) return NULL;
    return distance <= threshold ? "similar" : "dissimilar";
}

void cli_dissimilarity_caption(char *out, size_t size, double distance) {
    snprintf(out, size, distance < 0.1 ? "Dissimilarity: %.3g" : "Dissimilarity: %.2f", distance);
}

void cli_json_string(FILE *out, const char *text) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (*p < 0x20) fprintf(out, "\\u%04x", *p);
            else fputc(*p, out);
        }
    }
    fputc('"', out);
}
