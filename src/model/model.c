/* Model handles: creation from a preset or architecture text with PyTorch initialization, getters,
 * and embedding images in chunks through the engine. Saving and loading live in model_io.c. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/recipe.h"
#include "base/rng.h"
#include "nn/init.h"

#define SM_EMBED_CHUNK_MAX 256                  /* images per chunk when embedding */
#define SM_EMBED_CHUNK_FLOATS ((size_t)1 << 26) /* activation budget of one chunk (256 MB) */

static const sm_shape recipe_input = {SM_RECIPE_CHANNELS, SM_RECIPE_HEIGHT, SM_RECIPE_WIDTH};

siamese_model_params siamese_model_default_params(void) {
    siamese_model_params p;
    memset(&p, 0, sizeof p);
    p.arch = SM_RECIPE_ARCH;
    p.margin = SM_RECIPE_MARGIN;
    p.metric = SIAMESE_METRIC_EUCLIDEAN;
    p.seed = 0;
    p.threads = 0;
    return p;
}

/* ---------------------------------------------------------------- handles */

siamese_model *sm_model_alloc(const sm_arch *arch, sm_err *err) {
    siamese_model *model = calloc(1, sizeof *model);
    if (!model) {
        sm_fail(err, SIAMESE_ERR_NOMEM, "model: out of memory");
        return NULL;
    }
    model->arch = *arch;
    size_t len = sm_arch_format(arch, model->arch_text, sizeof model->arch_text);
    if (len >= sizeof model->arch_text) {
        sm_fail(err, SIAMESE_ERR_SPEC,
                "model: architecture text of %zu characters is too long "
                "(at most %d)",
                len, SM_ARCH_TEXT_MAX - 1);
        free(model);
        return NULL;
    }
    if (sm_net_create(arch, SM_MAX_BATCH_IMAGES, &model->net, err) != SIAMESE_OK) {
        free(model);
        return NULL;
    }
    model->margin = SM_RECIPE_MARGIN;
    model->metric = SIAMESE_METRIC_EUCLIDEAN;
    model->threshold = -1.0f;
    if (sm_model_input_layer(&model->arch) >= 0) /* a fixed fact about the weights */
        sm_net_freeze_layer(model->net, 0, 1, 0);
    sm_err_clear(&model->err);
    return model;
}

int sm_model_input_layer(const sm_arch *arch) {
    return arch->n_layers > 0 && arch->layers[0].kind == SM_LAYER_SCALE &&
                   strcmp(arch->layers[0].name, SM_INPUT_LAYER) == 0
               ? 0
               : -1;
}

void sm_model_set_input_normalization(siamese_model *model, const float *mean, const float *std) {
    const sm_param_table *t = sm_net_table(model->net);
    float *params = sm_net_params_write(model->net);
    int w = sm_param_table_find(t, SM_INPUT_LAYER ".weight");
    int b = sm_param_table_find(t, SM_INPUT_LAYER ".bias");
    if (w < 0 || b < 0) return;
    for (size_t c = 0; c < t->t[w].count; c++) {
        params[t->t[w].offset + c] = 1.0f / std[c];
        params[t->t[b].offset + c] = -mean[c] / std[c];
    }
}

siamese_model *sm_model_error_handle(const sm_err *err) {
    siamese_model *model = calloc(1, sizeof *model);
    if (!model) return NULL;
    model->threshold = -1.0f;
    if (err) model->err = *err;
    if (model->err.status == SIAMESE_OK) model->err.status = SIAMESE_ERR_INVALID_ARG;
    return model;
}

void siamese_model_free(siamese_model *model) {
    if (!model) return;
    sm_net_free(model->net);
    sm_qnet_free(model->qnet);
    sm_quant_free(model->quant);
    siamese_model_free(model->aligner);
    for (int i = 0; i < model->n_members; i++) siamese_model_free(model->members[i]);
    free(model->members);
    free(model);
}

const char *siamese_model_errmsg(const siamese_model *model) {
    return model ? model->err.msg : "no model";
}

/* ---------------------------------------------------------------- creation */

static int imagenet_normalized(const siamese_model_params *p) {
    return p->normalize && !strcmp(p->normalize, "imagenet");
}

static siamese_status check_model_params(const siamese_model_params *p, sm_err *err) {
    if (!p->arch || !p->arch[0])
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "model: no architecture");
    if (p->channels < 0 || p->height < 0 || p->width < 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "model: negative input geometry %dx%dx%d",
                       p->channels, p->height, p->width);
    if (!(p->margin > 0.0f) || !isfinite(p->margin))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "model: margin %g must be positive",
                       (double)p->margin);
    if (p->metric != SIAMESE_METRIC_EUCLIDEAN && p->metric != SIAMESE_METRIC_COSINE &&
        p->metric != SIAMESE_METRIC_CORRELATION)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "model: unknown metric %d", (int)p->metric);
    if (p->threads < 0 || p->threads > SIAMESE_THREADS_MAX)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "model: threads %d must be in 0..%d",
                       p->threads, SIAMESE_THREADS_MAX);
    if (p->normalize && p->normalize[0] && strcmp(p->normalize, "imagenet") != 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "model: unknown input normalisation '%s' (imagenet, or none)", p->normalize);

    return SIAMESE_OK;
}

/* A preset name gives its text and input; other text is an architecture for 3x256x256 images
 * (the recipe's input). Non-zero channels/height/width override either; a non-zero
 * embedding_dim replaces the head's outputs. */
static siamese_status parse_model_arch(const siamese_model_params *p, sm_arch *arch, sm_err *err) {
    sm_shape input = recipe_input;
    const char *text = sm_arch_preset_text(p->arch, &input);
    if (!text) text = p->arch;
    if (p->channels) input.c = p->channels;
    if (p->height) input.h = p->height;
    if (p->width) input.w = p->width;
    char *normalized = NULL;
    if (imagenet_normalized(p)) { /* the normalisation as the network's first layer */
        size_t size = strlen(text) + sizeof "scale(name=" SM_INPUT_LAYER ") ";
        normalized = malloc(size);
        if (!normalized) return sm_fail(err, SIAMESE_ERR_NOMEM, "model: out of memory");
        snprintf(normalized, size, "scale(name=" SM_INPUT_LAYER ") %s", text);
        text = normalized;
    }
    siamese_status st = normalized && input.c != 3
                            ? sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                                      "model: ImageNet normalisation is for RGB input, not %d "
                                      "channel(s)",
                                      input.c)
                            : sm_arch_parse(text, input, arch, err);
    free(normalized);
    if (st == SIAMESE_OK && p->embedding_dim != 0)
        st = sm_arch_set_embedding_dim(arch, p->embedding_dim, err);
    return st;
}

static void init_model_params(siamese_model *model) {
    sm_rng rng;
    sm_rng_seed(&rng, model->seed);
    sm_init_params(sm_net_table(model->net), &model->arch, &rng, sm_net_params_write(model->net),
                   sm_net_buffers(model->net), sm_net_counters(model->net));
}

sm_threads_scope sm_model_threads_enter(const siamese_model *model) {
    return sm_threads_enter(model ? model->threads : 0);
}

void siamese_model_set_threads(siamese_model *model, int threads) {
    if (!model || threads < 0) return;
    model->threads = threads > SIAMESE_THREADS_MAX ? SIAMESE_THREADS_MAX : threads;
    for (int i = 0; i < model->n_members; i++) model->members[i]->threads = threads;
}

siamese_status siamese_model_create(const siamese_model_params *params, siamese_model **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    sm_err err;
    sm_err_clear(&err);
    siamese_model_params defaults = siamese_model_default_params();
    const siamese_model_params *p = params ? params : &defaults;
    sm_arch *arch = malloc(sizeof *arch);
    siamese_status st = arch ? check_model_params(p, &err)
                             : sm_fail(&err, SIAMESE_ERR_NOMEM, "model: out of memory");
    if (!st) st = parse_model_arch(p, arch, &err);
    siamese_model *model = NULL;
    if (!st) {
        sm_threads_scope threads = sm_threads_enter(p->threads);
        model = sm_model_alloc(arch, &err);
        sm_threads_leave(threads);
        if (!model) st = err.status ? err.status : SIAMESE_ERR_NOMEM;
    }
    free(arch);
    if (st) {
        *out = sm_model_error_handle(&err);
        return st;
    }
    model->margin = p->margin;
    model->metric = p->metric;
    model->seed = p->seed;
    model->threads = p->threads;
    init_model_params(model);
    if (imagenet_normalized(p)) {
        const float mean[3] = SM_IMAGENET_MEAN, std[3] = SM_IMAGENET_STD;
        sm_model_set_input_normalization(model, mean, std);
    }
    *out = model;
    return SIAMESE_OK;
}

/* ---------------------------------------------------------------- getters */

int siamese_model_channels(const siamese_model *model) {
    return sm_model_ready(model) ? model->arch.input.c : 0;
}
int siamese_model_height(const siamese_model *model) {
    return sm_model_ready(model) ? model->arch.input.h : 0;
}
int siamese_model_width(const siamese_model *model) {
    return sm_model_ready(model) ? model->arch.input.w : 0;
}
/* An ensemble's are its members' summed. */
int siamese_model_embedding_dim(const siamese_model *model) {
    if (!sm_model_ready(model)) return 0;
    int dim = 0;
    for (int i = 0; i < sm_model_n_networks(model); i++)
        dim += sm_arch_embedding_dim(&sm_model_network(model, i)->arch);
    return dim;
}
size_t siamese_model_param_count(const siamese_model *model) {
    if (!sm_model_ready(model)) return 0;
    size_t count = 0;
    for (int i = 0; i < sm_model_n_networks(model); i++)
        count += sm_net_table(sm_model_network(model, i)->net)->n_params;
    return count;
}
const char *siamese_model_arch(const siamese_model *model) { return model ? model->arch_text : ""; }
float siamese_model_margin(const siamese_model *model) { return model ? model->margin : 0.0f; }
siamese_metric siamese_model_metric(const siamese_model *model) {
    return model ? model->metric : SIAMESE_METRIC_EUCLIDEAN;
}
float siamese_model_threshold(const siamese_model *model) {
    return model ? model->threshold : -1.0f;
}
void siamese_model_set_threshold(siamese_model *model, float threshold) {
    if (!model) return;
    model->threshold = isfinite(threshold) && threshold >= 0.0f ? threshold : -1.0f;
    model->threshold_source[0] = 0; /* a new threshold: its source is for the caller to say */
}

/* ---------------------------------------------------------------- embedding */

/* Images per engine call: as many as fit the activation budget, at most SM_EMBED_CHUNK_MAX. */
static int embed_chunk(const sm_arch *arch) {
    size_t widest = (size_t)arch->input.c * arch->input.h * arch->input.w;
    for (int i = 0; i < arch->n_layers; i++) {
        sm_shape s = arch->layers[i].out_shape;
        size_t n = (size_t)s.c * s.h * s.w;
        if (n > widest) widest = n;
    }
    size_t chunk = SM_EMBED_CHUNK_FLOATS / (widest ? widest : 1);
    if (chunk > SM_EMBED_CHUNK_MAX) chunk = SM_EMBED_CHUNK_MAX;
    return chunk < 1 ? 1 : (int)chunk;
}

siamese_status siamese_model_embed(siamese_model *model, const float *images, int n, float *out) {
    if (!model) return SIAMESE_ERR_INVALID_ARG;
    if (!sm_model_ready(model))
        return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG, "embed: the model failed to load");
    if (!images || !out || n < 0)
        return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG,
                       "embed: needs images, an output buffer and n >= 0 (got %d)", n);
    if (model->n_members) return sm_ensemble_embed(model, images, n, out);
    sm_threads_scope threads = sm_model_threads_enter(model);
    size_t image_floats = (size_t)model->arch.input.c * model->arch.input.h * model->arch.input.w;
    size_t dim = (size_t)sm_arch_embedding_dim(&model->arch);
    int chunk = embed_chunk(&model->arch);
    siamese_status st = SIAMESE_OK;
    for (int start = 0; st == SIAMESE_OK && start < n; start += chunk) {
        int count = n - start < chunk ? n - start : chunk;
        const float *x = images + (size_t)start * image_floats;
        float *emb = out + (size_t)start * dim;
        st = model->qnet ? sm_qnet_forward(model->qnet, x, count, emb, &model->err)
                         : sm_net_forward(model->net, x, count, 0, emb, &model->err);
    }
    sm_threads_leave(threads);
    return st;
}
