/* Training-run settings: the recipe's defaults, and config.json written and read back for resume. */
#include <float.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json_file.h"
#include "base/recipe.h"
#include "image/augment.h"
#include "run/run.h"

siamese_train_params siamese_train_default_params(void) {
    siamese_train_params p;
    memset(&p, 0, sizeof p);
    p.arch = SM_RECIPE_ARCH;
    p.metric = SIAMESE_METRIC_EUCLIDEAN;
    p.margin = SM_RECIPE_MARGIN;
    p.learning_rate = SM_RECIPE_LEARNING_RATE;
    p.weight_decay = 0.0f;
    p.batch_size = SM_RECIPE_BATCH_SIZE;
    p.epochs = SM_RECIPE_EPOCHS;
    p.seed = 0;
    p.sampler = SM_DEFAULT_SAMPLER;
    p.per_class = SM_RECIPE_PER_CLASS;
    p.pairs_per_epoch = SM_DEFAULT_PAIRS_PER_EPOCH;
    p.split = SIAMESE_SPLIT_PAIRS;
    p.train_fraction = SM_RECIPE_TRAIN_FRACTION;
    p.log_every = SM_RECIPE_LOG_EVERY;
    p.cache_bytes = SM_DEFAULT_CACHE_BYTES;
    p.pk_classes = SM_DEFAULT_PK_CLASSES;
    p.pk_images = SM_DEFAULT_PK_IMAGES;
    p.lr_gamma = SM_DEFAULT_LR_GAMMA;
    return p;
}

uint64_t sm_run_split_seed(const siamese_train_params *p) {
    return p->split_seed ? p->split_seed : p->seed;
}

siamese_model_params siamese_train_model_params(const siamese_train_params *p) {
    siamese_model_params mp = siamese_model_default_params();
    mp.arch = p->arch;
    mp.channels = p->channels;
    mp.height = p->height;
    mp.width = p->width;
    mp.margin = p->margin;
    mp.metric = p->metric;
    mp.seed = p->seed;
    mp.threads = p->threads;
    mp.embedding_dim = p->embedding_dim;
    mp.normalize = p->normalize;
    return mp;
}

static siamese_status copy_text(char *dst, size_t size, const char *src, const char *what,
                                sm_err *err) {
    if (strlen(src) >= size)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s is too long (%zu bytes)", what,
                       strlen(src));
    memcpy(dst, src, strlen(src) + 1);
    return SIAMESE_OK;
}

/* The training tools' settings (issue 12): sampler "pk" and mining, augmentation, schedule,
 * patience and validation classes. */
static siamese_status check_tools(const siamese_train_params *p, sm_err *err) {
    int pk = !strcmp(p->sampler, "pk");
    if (p->mining != SIAMESE_MINING_NONE && !pk)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "mining %s needs batches of labelled images: use sampler pk (the %s "
                       "sampler gives pairs)",
                       siamese_mining_name(p->mining), p->sampler);
    if (p->loss == SIAMESE_LOSS_TRIPLET && !pk)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "the triplet loss needs batches of labelled images: use sampler pk (the "
                       "%s sampler gives pairs)",
                       p->sampler);
    if (p->loss != SIAMESE_LOSS_CONTRASTIVE && p->loss != SIAMESE_LOSS_TRIPLET)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "loss %d is neither contrastive nor triplet",
                       (int)p->loss);
    if (pk && (p->pk_classes < 2 || p->pk_images < 2 || p->pk_classes > SM_PK_MAX ||
               p->pk_images > SM_PK_MAX || p->pk_classes * p->pk_images > SM_MAX_BATCH_IMAGES))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "P x K = %d x %d: P and K must each be at least 2 (P x K at most %d)",
                       p->pk_classes, p->pk_images, SM_MAX_BATCH_IMAGES);
    if (p->class_rotations != 0 && p->class_rotations != 1 && p->class_rotations != 2 &&
        p->class_rotations != 4)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "class rotations %d: give 1 (none), 2 or 4",
                       p->class_rotations);
    if (p->class_rotations > 1 && !pk)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "class rotations need batches of labelled images: use sampler pk (the "
                       "%s sampler gives pairs)",
                       p->sampler);
    sm_augment augment;
    if (sm_augment_parse(p->augment, &augment, err) != SIAMESE_OK) return err->status;
    if (p->warmup_steps < 0 || p->lr_step_epochs < 0 || p->patience < 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "warmup steps, step-decay epochs and patience must not be negative");
    if (!(p->lr_gamma > 0 && p->lr_gamma <= 1))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "the step-decay factor %g must be in (0, 1]",
                       (double)p->lr_gamma);
    if (!(p->val_fraction >= 0 && p->val_fraction < 1))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "the validation share %g must be in [0, 1)",
                       p->val_fraction);
    if (!(p->val_groups >= 0) || (p->val_groups >= 1 && p->val_groups != floor(p->val_groups)))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "validation groups %g: give a share in (0, 1) or a whole count >= 1",
                       p->val_groups);
    if (p->val_groups > 0 && p->val_fraction > 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "hold out validation classes or whole groups of them, not both");
    if (p->val_way < 0 || p->val_way == 1 || p->val_way > 1000)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "one-shot validation: %d-way must be 0 (off) or 2 to 1000", p->val_way);
    if (p->val_way > 0 && !(p->val_fraction > 0 || p->val_groups > 0))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "one-shot validation needs validation classes (val_fraction or val_groups)");
    if ((p->val_fraction > 0 || p->val_groups > 0) && p->split == SIAMESE_SPLIT_PAIRS)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "validation classes need a split over images or classes, not over pairs");
    return SIAMESE_OK;
}

/* config.json records these settings by name: a value outside its enum (named
 * SIAMESE_NAME_UNKNOWN) is refused, not trained with and recorded as a name no resume reads. */
static siamese_status check_named_settings(const siamese_train_params *p, sm_err *err) {
    const struct {
        const char *setting, *name;
        int value;
    } named[] = {{"metric", siamese_metric_name(p->metric), (int)p->metric},
                 {"precision", siamese_precision_name(p->precision), (int)p->precision},
                 {"split", siamese_split_kind_name(p->split), (int)p->split},
                 {"mining", siamese_mining_name(p->mining), (int)p->mining},
                 {"lr_schedule", siamese_lr_schedule_name(p->lr_schedule), (int)p->lr_schedule}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (!strcmp(named[i].name, SIAMESE_NAME_UNKNOWN))
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s %d is none of its enum's values",
                           named[i].setting, named[i].value);
    return SIAMESE_OK;
}

static siamese_status check_params(const siamese_train_params *p, sm_err *err) {
    siamese_status st = check_named_settings(p, err);
    if (st != SIAMESE_OK) return st;
    if (strcmp(p->sampler, "recipe") != 0 && strcmp(p->sampler, "online") != 0 &&
        strcmp(p->sampler, "pk") != 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "unknown pair sampler '%s' (expected recipe, online or pk)", p->sampler);
    if (strcmp(p->sampler, "recipe") != 0 && p->split == SIAMESE_SPLIT_PAIRS)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "%s sampling draws new %s every epoch, so it needs a split over images or "
                       "classes, not over pairs",
                       p->sampler, !strcmp(p->sampler, "pk") ? "batches" : "pairs");
    if (p->batch_size < 1 || p->batch_size > SM_MAX_BATCH_SIZE)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "batch size %d is out of range (1 to %d)",
                       p->batch_size, SM_MAX_BATCH_SIZE);
    if (p->precision == SIAMESE_PRECISION_INT8)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "precision int8 is for inference: train in fp32, bf16 or auto, then "
                       "quantise the model (siamese_model_quantize)");
    if (p->epochs < 1) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "epochs must be at least 1");
    if (p->threads < 0 || p->threads > SIAMESE_THREADS_MAX)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "threads %d out of range (0 = all cores, to %d)", p->threads,
                       SIAMESE_THREADS_MAX);
    if (!(p->learning_rate > 0))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "learning rate must be positive");
    if (!(p->learning_rate_backbone >= 0))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "backbone learning rate must be positive (0 = the learning rate)");
    if (p->embedding_dim < 0 || p->embedding_dim > SM_MAX_EMBEDDING_DIM)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "embedding dimension %d must be in 1..%d",
                       p->embedding_dim, SM_MAX_EMBEDDING_DIM);
    if (!(p->margin > 0)) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "margin must be positive");
    if (!(p->train_fraction > 0 && p->train_fraction < 1))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "train fraction must be between 0 and 1");
    if (p->per_class < 1)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "pairs per class must be at least 1");
    if (p->pairs_per_epoch < 2)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "pairs per epoch must be at least 2");
    if (p->log_every < 1)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "log interval must be at least 1");
    if (!(p->ema_decay >= 0 && p->ema_decay < 1))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "the EMA decay %g must be in [0, 1) (0 = no moving average)",
                       (double)p->ema_decay);
    return check_tools(p, err);
}

siamese_status siamese_train_params_check(const siamese_train_params *params, char *errmsg,
                                          size_t errmsg_size) {
    sm_run_config *config = calloc(1, sizeof *config);
    sm_err err = {0};
    siamese_status st = config ? sm_run_config_init(config, "", params, &err)
                               : sm_fail(&err, SIAMESE_ERR_NOMEM, "out of memory");
    free(config);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}

siamese_status sm_run_config_init(sm_run_config *config, const char *data_path,
                                  const siamese_train_params *params, sm_err *err) {
    siamese_train_params defaults = siamese_train_default_params();
    if (!params) params = &defaults;
    config->params = *params;
    siamese_status st =
        copy_text(config->data_path, sizeof config->data_path, data_path, "the data path", err);
    if (st == SIAMESE_OK)
        st = copy_text(config->arch, sizeof config->arch,
                       params->arch ? params->arch : SM_RECIPE_ARCH, "the architecture", err);
    if (st == SIAMESE_OK)
        st = copy_text(config->sampler, sizeof config->sampler,
                       params->sampler ? params->sampler : SM_DEFAULT_SAMPLER, "the sampler name",
                       err);
    if (st == SIAMESE_OK)
        st = copy_text(config->augment, sizeof config->augment,
                       params->augment ? params->augment : "", "the augmentation spec", err);
    if (st == SIAMESE_OK)
        st = copy_text(config->init, sizeof config->init, params->init ? params->init : "",
                       "the init path", err);
    if (st == SIAMESE_OK)
        st = copy_text(config->freeze, sizeof config->freeze, params->freeze ? params->freeze : "",
                       "the freeze prefixes", err);
    if (st == SIAMESE_OK)
        st = copy_text(config->normalize, sizeof config->normalize,
                       params->normalize ? params->normalize : "", "the normalize name", err);
    if (st != SIAMESE_OK) return st;
    config->params.arch = config->arch;
    config->params.sampler = config->sampler;
    config->params.augment = config->augment;
    config->params.init = config->init;
    config->params.freeze = config->freeze;
    config->params.normalize = config->normalize;
    return check_params(&config->params, err);
}

/* ---------------------------------------------------------------- config.json: one field table */

typedef enum field_kind {
    FIELD_VERSION, /* the library version that wrote the file (read, not used) */
    FIELD_TEXT,    /* char array of the config */
    FIELD_INPUT,   /* [channels, height, width] */
    FIELD_INT,
    FIELD_U64,
    FIELD_SIZE,
    FIELD_FLOAT,
    FIELD_DOUBLE,
    FIELD_BOOL, /* int, 0 or 1 */
    FIELD_METRIC,
    FIELD_SPLIT,
    FIELD_PRECISION,
    FIELD_MINING,
    FIELD_LOSS,
    FIELD_LR_SCHEDULE
} field_kind;

/* One setting: its key in config.json and where it lives in sm_run_config. Saving writes the
 * fields in this order; loading reads every one of them and nothing else. */
typedef struct config_field {
    const char *key;
    field_kind kind;
    size_t offset;       /* in sm_run_config */
    size_t size;         /* FIELD_TEXT: the array's size */
    const char *missing; /* NULL: required; else the value of runs written before the field */
} config_field;

#define TEXT(key, member)                                                                          \
    { key, FIELD_TEXT, offsetof(sm_run_config, member), sizeof(((sm_run_config *)0)->member), NULL }
#define PARAM(key, kind, member)                                                                   \
    { key, kind, offsetof(sm_run_config, params.member), 0, NULL }
#define NEWER(key, kind, member)                                                                   \
    { key, kind, offsetof(sm_run_config, params.member), 0, "" }

static const config_field fields[] = {
    {"siamese_version", FIELD_VERSION, 0, 0, NULL},
    TEXT("data", data_path),
    TEXT("arch", arch),
    {"input", FIELD_INPUT, 0, 0, NULL},
    PARAM("metric", FIELD_METRIC, metric),
    PARAM("margin", FIELD_FLOAT, margin),
    PARAM("learning_rate", FIELD_FLOAT, learning_rate),
    PARAM("weight_decay", FIELD_FLOAT, weight_decay),
    PARAM("batch_size", FIELD_INT, batch_size),
    PARAM("epochs", FIELD_INT, epochs),
    PARAM("seed", FIELD_U64, seed),
    PARAM("threads", FIELD_INT, threads),
    TEXT("sampler", sampler),
    PARAM("per_class", FIELD_INT, per_class),
    PARAM("pairs_per_epoch", FIELD_INT, pairs_per_epoch),
    PARAM("split", FIELD_SPLIT, split),
    PARAM("train_fraction", FIELD_DOUBLE, train_fraction),
    PARAM("log_every", FIELD_INT, log_every),
    PARAM("cache_bytes", FIELD_SIZE, cache_bytes),
    PARAM("fast_jpeg", FIELD_BOOL, fast_jpeg),
    {"precision", FIELD_PRECISION, offsetof(sm_run_config, params.precision), 0, "fp32"},
    /* training tools (issue 12): runs from before them keep the defaults ("" = the default) */
    {"augment", FIELD_TEXT, offsetof(sm_run_config, augment), sizeof(((sm_run_config *)0)->augment),
     ""},
    NEWER("pk_classes", FIELD_INT, pk_classes),
    NEWER("pk_images", FIELD_INT, pk_images),
    {"mining", FIELD_MINING, offsetof(sm_run_config, params.mining), 0, "none"},
    {"lr_schedule", FIELD_LR_SCHEDULE, offsetof(sm_run_config, params.lr_schedule), 0, "constant"},
    NEWER("warmup_steps", FIELD_INT, warmup_steps),
    NEWER("lr_step_epochs", FIELD_INT, lr_step_epochs),
    NEWER("lr_gamma", FIELD_FLOAT, lr_gamma),
    NEWER("patience", FIELD_INT, patience),
    NEWER("val_fraction", FIELD_DOUBLE, val_fraction),
    NEWER("val_groups", FIELD_DOUBLE, val_groups),
    /* --precision auto (issue 17): the choice and both timings; "" = not measured */
    {"precision_chosen", FIELD_TEXT, offsetof(sm_run_config, precision_chosen),
     sizeof(((sm_run_config *)0)->precision_chosen), ""},
    {"precision_fp32_seconds", FIELD_DOUBLE, offsetof(sm_run_config, precision_fp32_seconds), 0,
     ""},
    {"precision_bf16_seconds", FIELD_DOUBLE, offsetof(sm_run_config, precision_bf16_seconds), 0,
     ""},
    /* fine-tuning (issue 13): "" = none */
    {"init", FIELD_TEXT, offsetof(sm_run_config, init), sizeof(((sm_run_config *)0)->init), ""},
    {"freeze", FIELD_TEXT, offsetof(sm_run_config, freeze), sizeof(((sm_run_config *)0)->freeze),
     ""},
    {"normalize", FIELD_TEXT, offsetof(sm_run_config, normalize),
     sizeof(((sm_run_config *)0)->normalize), ""},
    NEWER("embedding_dim", FIELD_INT, embedding_dim),
    NEWER("learning_rate_backbone", FIELD_FLOAT, learning_rate_backbone),
    NEWER("val_way", FIELD_INT, val_way),                 /* 0 = choose by validation ROC AUC */
    NEWER("class_rotations", FIELD_INT, class_rotations), /* 0 = none */
    NEWER("split_seed", FIELD_U64, split_seed),           /* 0 = seed */
    NEWER("ema_decay", FIELD_FLOAT, ema_decay),           /* 0 = no moving average */
    {"loss", FIELD_LOSS, offsetof(sm_run_config, params.loss), 0, "contrastive"},
};
#define N_FIELDS ((int)(sizeof fields / sizeof fields[0]))

static json_t *field_to_json(const config_field *f, const sm_run_config *c) {
    const char *at = (const char *)c + f->offset;
    const siamese_train_params *p = &c->params;
    switch (f->kind) {
    case FIELD_VERSION:
        return json_string(siamese_version());
    case FIELD_TEXT:
        return json_string(at);
    case FIELD_INPUT:
        return json_pack("[i,i,i]", p->channels, p->height, p->width);
    case FIELD_INT:
        return json_integer(*(const int *)at);
    case FIELD_U64: /* stored as its two's complement bits: seeds above 2^63 come back exactly */
        return json_integer((json_int_t) * (const uint64_t *)at);
    case FIELD_SIZE:
        return json_integer((json_int_t) * (const size_t *)at);
    case FIELD_FLOAT:
        return json_real(*(const float *)at);
    case FIELD_DOUBLE:
        return json_real(*(const double *)at);
    case FIELD_BOOL:
        return json_boolean(*(const int *)at);
    case FIELD_METRIC:
        return json_string(siamese_metric_name(*(const siamese_metric *)at));
    case FIELD_SPLIT:
        return json_string(siamese_split_kind_name(*(const siamese_split_kind *)at));
    case FIELD_PRECISION:
        return json_string(siamese_precision_name(*(const siamese_precision *)at));
    case FIELD_MINING:
        return json_string(siamese_mining_name(*(const siamese_mining *)at));
    case FIELD_LOSS:
        return json_string(siamese_loss_name(*(const siamese_loss *)at));
    case FIELD_LR_SCHEDULE:
        return json_string(siamese_lr_schedule_name(*(const siamese_lr_schedule *)at));
    }
    return NULL;
}

static json_t *config_to_json(const sm_run_config *c) {
    json_t *root = json_object();
    for (int i = 0; root && i < N_FIELDS; i++)
        if (json_object_set_new(root, fields[i].key, field_to_json(&fields[i], c)) != 0) {
            json_decref(root);
            root = NULL;
        }
    return root;
}

static siamese_status bad_value(const char *path, const config_field *f, const char *want,
                                sm_err *err) {
    return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: '%s' is not %s", path, f->key, want);
}

/* An integer field in [lo, hi]. */
static siamese_status read_integer(const char *path, const config_field *f, const json_t *v,
                                   json_int_t lo, json_int_t hi, json_int_t *out, sm_err *err) {
    if (!json_is_integer(v)) return bad_value(path, f, "an integer", err);
    *out = json_integer_value(v);
    if (*out < lo || *out > hi) return bad_value(path, f, "an integer in range", err);
    return SIAMESE_OK;
}

/* Text: a text field or the name of an enum value. */
static siamese_status read_name(const char *path, const config_field *f, const json_t *v,
                                sm_run_config *c, sm_err *err) {
    const char *text = json_string_value(v);
    char *at = (char *)c + f->offset;
    if (!text) return bad_value(path, f, "text", err);
    int ok = 1;
    switch (f->kind) {
    case FIELD_TEXT:
        if (strlen(text) >= f->size)
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: '%s' is too long (%zu bytes)", path,
                           f->key, strlen(text));
        memcpy(at, text, strlen(text) + 1);
        break;
    case FIELD_METRIC:
        ok = siamese_metric_parse(text, (siamese_metric *)at) == SIAMESE_OK;
        break;
    case FIELD_SPLIT:
        ok = siamese_split_kind_parse(text, (siamese_split_kind *)at) == SIAMESE_OK;
        break;
    case FIELD_PRECISION:
        ok = siamese_precision_parse(text, (siamese_precision *)at) == SIAMESE_OK;
        break;
    case FIELD_MINING:
        ok = siamese_mining_parse(text, (siamese_mining *)at) == SIAMESE_OK;
        break;
    case FIELD_LOSS:
        ok = siamese_loss_parse(text, (siamese_loss *)at) == SIAMESE_OK;
        break;
    case FIELD_LR_SCHEDULE:
        ok = siamese_lr_schedule_parse(text, (siamese_lr_schedule *)at) == SIAMESE_OK;
        break;
    default: /* FIELD_VERSION: any text */
        break;
    }
    return ok ? SIAMESE_OK
              : sm_fail(err, SIAMESE_ERR_FORMAT, "%s: unknown %s '%s'", path, f->key, text);
}

static siamese_status field_from_json(const char *path, const config_field *f, const json_t *v,
                                      sm_run_config *c, sm_err *err) {
    char *at = (char *)c + f->offset;
    siamese_train_params *p = &c->params;
    json_int_t i = 0;
    siamese_status st = SIAMESE_OK;
    switch (f->kind) {
    case FIELD_INPUT:
        if (json_unpack((json_t *)v, "[i,i,i]", &p->channels, &p->height, &p->width) != 0)
            return bad_value(path, f, "[channels, height, width]", err);
        return SIAMESE_OK;
    case FIELD_INT:
        st = read_integer(path, f, v, INT_MIN, INT_MAX, &i, err);
        if (st == SIAMESE_OK) *(int *)at = (int)i;
        return st;
    case FIELD_U64:
        st = read_integer(path, f, v, INT64_MIN, INT64_MAX, &i, err);
        if (st == SIAMESE_OK) *(uint64_t *)at = (uint64_t)i;
        return st;
    case FIELD_SIZE:
        st = read_integer(path, f, v, 0, INT64_MAX, &i, err);
        if (st == SIAMESE_OK) *(size_t *)at = (size_t)i;
        return st;
    case FIELD_FLOAT:
        /* a double beyond a float's range would become infinity, which saving cannot write */
        if (!json_is_number(v)) return bad_value(path, f, "a number", err);
        if (!(fabs(json_number_value(v)) <= FLT_MAX))
            return bad_value(path, f, "a number within a float's range (3.4e38)", err);
        *(float *)at = (float)json_number_value(v);
        return SIAMESE_OK;
    case FIELD_DOUBLE:
        if (!json_is_number(v)) return bad_value(path, f, "a number", err);
        *(double *)at = json_number_value(v);
        return SIAMESE_OK;
    case FIELD_BOOL:
        if (!json_is_boolean(v)) return bad_value(path, f, "true or false", err);
        *(int *)at = json_is_true(v);
        return SIAMESE_OK;
    default:
        return read_name(path, f, v, c, err);
    }
}

static const config_field *find_field(const char *key) {
    for (int i = 0; i < N_FIELDS; i++)
        if (!strcmp(fields[i].key, key)) return &fields[i];
    return NULL;
}

/* Every field of the table from root (the missing value for older runs), and no other key. */
static siamese_status config_from_json(const char *path, json_t *root, sm_run_config *c,
                                       sm_err *err) {
    if (!json_is_object(root))
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: not a JSON object", path);
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (!find_field(key))
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: unknown setting '%s'", path, key);
    }
    siamese_status st = SIAMESE_OK;
    for (int i = 0; st == SIAMESE_OK && i < N_FIELDS; i++) {
        const config_field *f = &fields[i];
        json_t *v = json_object_get(root, f->key), *fallback = NULL;
        if (!v && !f->missing)
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: the setting '%s' is missing", path,
                           f->key);
        if (!v && !*f->missing) continue; /* "" : keep the default */
        if (!v) v = fallback = json_string(f->missing);
        st = field_from_json(path, f, v, c, err);
        json_decref(fallback);
    }
    return st;
}

siamese_status sm_run_config_save(const sm_run_config *config, const char *path, sm_err *err) {
    json_t *root = config_to_json(config);
    if (!root) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: cannot build the configuration", path);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    sm_atomic_file af;
    siamese_status st = sm_atomic_open(&af, path, err);
    if (st == SIAMESE_OK) {
        if (fputs(text, af.fp) < 0 || fputc('\n', af.fp) < 0) {
            st = sm_atomic_fail(&af, err);
        } else {
            st = sm_atomic_commit(&af, err);
        }
    }
    free(text);
    return st;
}

siamese_status sm_run_config_load(sm_run_config *config, const char *path, sm_err *err) {
    json_t *root = NULL;
    siamese_status read = sm_json_read_file(path, JSON_REJECT_DUPLICATES, &root, err);
    if (read != SIAMESE_OK) return read;
    /* zeroed: a text setting that older runs lack ("" in the table: keep the default) is "" */
    sm_run_config *loaded = calloc(1, sizeof *loaded);
    siamese_status st = loaded ? SIAMESE_OK : sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK) {
        loaded->params = siamese_train_default_params();
        st = config_from_json(path, root, loaded, err);
    }
    json_decref(root);
    if (st == SIAMESE_OK) {
        loaded->params.arch = loaded->arch;
        loaded->params.sampler = loaded->sampler;
        loaded->params.augment = loaded->augment;
        loaded->params.init = loaded->init;
        loaded->params.freeze = loaded->freeze;
        loaded->params.normalize = loaded->normalize;
        st = sm_run_config_init(config, loaded->data_path, &loaded->params, err);
        if (st != SIAMESE_OK) sm_err_prefix(err, path);
    }
    if (st == SIAMESE_OK) { /* what --precision auto measured (not a setting of the params) */
        memcpy(config->precision_chosen, loaded->precision_chosen, sizeof config->precision_chosen);
        config->precision_fp32_seconds = loaded->precision_fp32_seconds;
        config->precision_bf16_seconds = loaded->precision_bf16_seconds;
    }
    free(loaded);
    return st;
}
