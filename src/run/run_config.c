/* Training-run settings: the recipe's defaults, and config.json written and read back for resume. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/recipe.h"
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
    return p;
}

static siamese_status copy_text(char *dst, size_t size, const char *src, const char *what,
                                sm_err *err) {
    if (strlen(src) >= size)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s is too long (%zu bytes)", what,
                       strlen(src));
    memcpy(dst, src, strlen(src) + 1);
    return SIAMESE_OK;
}

static siamese_status check_params(const siamese_train_params *p, sm_err *err) {
    if (strcmp(p->sampler, "recipe") != 0 && strcmp(p->sampler, "online") != 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "unknown pair sampler '%s' (expected recipe or online)", p->sampler);
    if (!strcmp(p->sampler, "online") && p->split == SIAMESE_SPLIT_PAIRS)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "online pair sampling draws new pairs every epoch, so it needs a split "
                       "over images or classes, not over pairs");
    if (p->batch_size < 1 || p->batch_size > SM_MAX_BATCH_SIZE)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "batch size %d is out of range",
                       p->batch_size);
    if (p->epochs < 1) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "epochs must be at least 1");
    if (!(p->learning_rate > 0))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "learning rate must be positive");
    if (!(p->margin > 0)) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "margin must be positive");
    if (!(p->train_fraction > 0 && p->train_fraction < 1))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "train fraction must be between 0 and 1");
    if (p->per_class < 1)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "pairs per class must be at least 1");
    if (p->pairs_per_epoch < 2)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "pairs per epoch must be at least 2");
    if (p->log_every < 1)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "log interval must be at least 1");
    return SIAMESE_OK;
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
    if (st != SIAMESE_OK) return st;
    config->params.arch = config->arch;
    config->params.sampler = config->sampler;
    return check_params(&config->params, err);
}

static json_t *config_to_json(const sm_run_config *c) {
    const siamese_train_params *p = &c->params;
    return json_pack("{s:s, s:s, s:s, s:[i,i,i], s:s, s:f, s:f, s:f, s:i, s:i, s:I, s:i, s:s, "
                     "s:i, s:i, s:s, s:f, s:i, s:I, s:b, s:s}",
                     "siamese_version", siamese_version(), "data", c->data_path, "arch", c->arch,
                     "input", p->channels, p->height, p->width, "metric",
                     siamese_metric_name(p->metric), "margin", (double)p->margin, "learning_rate",
                     (double)p->learning_rate, "weight_decay", (double)p->weight_decay,
                     "batch_size", p->batch_size, "epochs", p->epochs, "seed", (json_int_t)p->seed,
                     "threads", p->threads, "sampler", c->sampler, "per_class", p->per_class,
                     "pairs_per_epoch", p->pairs_per_epoch, "split",
                     siamese_split_kind_name(p->split), "train_fraction", p->train_fraction,
                     "log_every", p->log_every, "cache_bytes", (json_int_t)p->cache_bytes,
                     "fast_jpeg", p->fast_jpeg, "precision", siamese_precision_name(p->precision));
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
            sm_atomic_abort(&af);
            st = sm_fail(err, SIAMESE_ERR_IO, "%s: write failed", path);
        } else {
            st = sm_atomic_commit(&af, err);
        }
    }
    free(text);
    return st;
}

siamese_status sm_run_config_load(sm_run_config *config, const char *path, sm_err *err) {
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: line %d: %s", path, jerr.line, jerr.text);
    siamese_train_params p = siamese_train_default_params();
    const char *data = NULL, *arch = NULL, *metric = NULL, *sampler = NULL, *split = NULL,
               *version = NULL, *precision = "fp32"; /* runs from before bf16 have none */
    json_int_t seed = 0, cache = 0;
    int fast_jpeg = 0;
    double margin = 0, lr = 0, wd = 0;
    if (json_unpack_ex(root, &jerr, 0,
                       "{s:s, s:s, s:s, s:[i,i,i], s:s, s:F, s:F, s:F, s:i, s:i, s:I, s:i, s:s, "
                       "s:i, s:i, s:s, s:F, s:i, s:I, s:b, s?s}",
                       "siamese_version", &version, "data", &data, "arch", &arch, "input",
                       &p.channels, &p.height, &p.width, "metric", &metric, "margin", &margin,
                       "learning_rate", &lr, "weight_decay", &wd, "batch_size", &p.batch_size,
                       "epochs", &p.epochs, "seed", &seed, "threads", &p.threads, "sampler",
                       &sampler, "per_class", &p.per_class, "pairs_per_epoch", &p.pairs_per_epoch,
                       "split", &split, "train_fraction", &p.train_fraction, "log_every",
                       &p.log_every, "cache_bytes", &cache, "fast_jpeg", &fast_jpeg, "precision",
                       &precision) != 0) {
        json_decref(root);
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: %s", path, jerr.text);
    }
    p.margin = (float)margin;
    p.learning_rate = (float)lr;
    p.weight_decay = (float)wd;
    p.seed = (uint64_t)seed;
    p.cache_bytes = (size_t)cache;
    p.fast_jpeg = fast_jpeg;
    p.arch = arch;
    p.sampler = sampler;
    siamese_status st = SIAMESE_OK;
    if (siamese_metric_parse(metric, &p.metric) != SIAMESE_OK)
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: unknown metric '%s'", path, metric);
    else if (siamese_split_kind_parse(split, &p.split) != SIAMESE_OK)
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: unknown split '%s'", path, split);
    else if (siamese_precision_parse(precision, &p.precision) != SIAMESE_OK)
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: unknown precision '%s'", path, precision);
    if (st == SIAMESE_OK) {
        st = sm_run_config_init(config, data, &p, err);
        if (st != SIAMESE_OK) sm_err_prefix(err, path);
    }
    json_decref(root);
    return st;
}
