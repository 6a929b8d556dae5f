/* Post-training int8 quantisation of a model: calibration on a dataset's images, the int8
 * engine as the model's precision, and the calibration as extra tensors of its file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "data/dataset.h"
#include "image/image.h"
#include "model/face_align.h"
#include "model/model.h"

#define QUANTIZE_IMAGES_DEFAULT 256
#define QUANTIZE_BATCH_DEFAULT 32
#define INT8_RANGE "input_range"
#define INT8_SCALE "weight_scale"
#define INT8_META_IMAGES "int8_calibration_images"

siamese_quantize_params siamese_quantize_default_params(void) {
    siamese_quantize_params p;
    memset(&p, 0, sizeof p);
    p.images = QUANTIZE_IMAGES_DEFAULT;
    p.batch = QUANTIZE_BATCH_DEFAULT;
    return p;
}

/* An ensemble's: the fewest of its members' (0 when one has none). */
int siamese_model_int8_images(const siamese_model *model) {
    if (!sm_model_ready(model)) return 0;
    int fewest = -1;
    for (int i = 0; i < sm_model_n_networks(model); i++) {
        const sm_quant *q = sm_model_network(model, i)->quant;
        int images = q ? q->images : 0;
        if (fewest < 0 || images < fewest) fewest = images;
    }
    return fewest;
}

/* ---------------------------------------------------------------- precision */

void sm_model_drop_int8(siamese_model *model) {
    sm_qnet_free(model->qnet);
    model->qnet = NULL;
}

siamese_precision sm_model_use_int8(siamese_model *model) {
    if (model->qnet) return SIAMESE_PRECISION_INT8;
    if (!model->quant) {
        sm_fail(&model->err, SIAMESE_ERR_UNSUPPORTED,
                "the model has no int8 calibration (make one with siamese_model_quantize, on "
                "the command line 'siamese quantize MODEL DATA -o MODEL_INT8')");
        return SIAMESE_PRECISION_FP32;
    }
    sm_net_set_bf16(model->net, 0);
    sm_threads_scope threads = sm_model_threads_enter(model);
    siamese_status st =
        sm_qnet_create(&model->arch, sm_net_table(model->net), sm_net_params(model->net),
                       sm_net_buffers(model->net), model->quant, &model->qnet, &model->err);
    sm_threads_leave(threads);
    return st == SIAMESE_OK ? SIAMESE_PRECISION_INT8 : SIAMESE_PRECISION_FP32;
}

/* ---------------------------------------------------------------- calibration */

/* The work of one calibration: the fp32 engine, the record it fills, one batch of tensors. */
typedef struct calib {
    siamese_model *model;
    siamese_dataset *ds;
    siamese_quantize_params p;
    siamese_image_options opts;
    size_t image_floats;
    sm_qnet *engine;
    sm_quant *quant;
    float *x, *emb;
} calib;

static void warn(const calib *c, const char *message) {
    if (c->p.warning) c->p.warning(c->p.warning_user, message);
}

/* Decodes image `image` into slot j of the batch, as the embedding sees it (a model with a face
 * aligner: its aligned face chip); 0 when it fails (warned and skipped). */
static int decode_into(calib *c, int image, int j) {
    siamese_image img = {0};
    sm_err err;
    sm_err_clear(&err);
    siamese_model *aligner = c->model->aligner;
    const sm_shape *in = &c->model->arch.input;
    float *x = c->x + (size_t)j * c->image_floats;
    siamese_status st = sm_ds_decode(c->ds, image, &c->opts, &img, &err);
    if (st == SIAMESE_OK && aligner) {
        aligner->threads = c->model->threads;
        st = sm_face_align_tensors(aligner, &img, 1, in->c, in->w, x, &err);
    } else if (st == SIAMESE_OK) {
        st = sm_image_to_tensor(&img, NULL, NULL, x);
    }
    sm_image_free(&img);
    if (st == SIAMESE_OK) return 1;
    char line[SM_ERRMSG_MAX + 16];
    snprintf(line, sizeof line, "%s; skipped", err.msg[0] ? err.msg : siamese_status_str(st));
    warn(c, line);
    return 0;
}

/* Runs the images of items[0..n) through the fp32 engine and records their ranges. */
static siamese_status calibrate_items(calib *c, const int *items, int n) {
    siamese_status st = SIAMESE_OK;
    for (int start = 0; start < n && st == SIAMESE_OK; start += c->p.batch) {
        int count = n - start < c->p.batch ? n - start : c->p.batch, good = 0;
        for (int j = 0; j < count; j++) good += decode_into(c, items[start + j], good);
        if (good > 0) {
            sm_threads_scope threads = sm_model_threads_enter(c->model);
            st = sm_qnet_forward(c->engine, c->x, good, c->emb, &c->model->err);
            sm_threads_leave(threads);
            if (st == SIAMESE_OK) sm_qnet_observe(c->engine, c->quant);
        }
        if (c->p.progress) c->p.progress(c->p.progress_user, start + count, n);
    }
    return st;
}

/* Usable images spread evenly over the dataset (sorted by class, so every class is seen). */
static int pick_images(const siamese_dataset *ds, int want, int **out) {
    int total = siamese_dataset_image_count(ds), usable = 0;
    for (int i = 0; i < total; i++) usable += siamese_dataset_image_usable(ds, i);
    int n = usable < want ? usable : want;
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!*out) return -1;
    for (int i = 0, u = 0, k = 0; i < total && k < n; i++) {
        if (!siamese_dataset_image_usable(ds, i)) continue;
        if ((int64_t)u * n / usable == k) (*out)[k++] = i; /* the first of each n-th share */
        u++;
    }
    return n;
}

static siamese_status check_quantize_args(siamese_model *model, siamese_dataset *ds,
                                          const siamese_quantize_params *p) {
    if (!model->net)
        return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG, "quantize: the model failed to load");
    if (!ds) return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG, "quantize: no dataset");
    if (p->images < 1 || p->batch < 1 || p->batch > SIAMESE_QUANTIZE_BATCH_MAX)
        return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG,
                       "quantize: images %d (>= 1) or batch %d (1-%d) out of range", p->images,
                       p->batch, SIAMESE_QUANTIZE_BATCH_MAX);
    return sm_qnet_check(&model->arch, &model->err);
}

static siamese_status calibrate(calib *c) {
    siamese_model *m = c->model;
    int *items = NULL;
    int n = pick_images(c->ds, c->p.images, &items);
    if (n < 0) return sm_fail(&m->err, SIAMESE_ERR_NOMEM, "quantize: out of memory");
    c->image_floats = (size_t)m->arch.input.c * m->arch.input.h * m->arch.input.w;
    c->x = malloc((size_t)c->p.batch * c->image_floats * sizeof(float));
    c->emb = malloc((size_t)c->p.batch * (size_t)sm_arch_embedding_dim(&m->arch) * sizeof(float));
    c->quant = sm_quant_create(&m->arch);
    siamese_status st = SIAMESE_OK;
    if (!c->x || !c->emb || !c->quant)
        st = sm_fail(&m->err, SIAMESE_ERR_NOMEM, "quantize: out of memory");
    if (st == SIAMESE_OK) {
        sm_threads_scope threads = sm_model_threads_enter(m);
        st = sm_qnet_create(&m->arch, sm_net_table(m->net), sm_net_params(m->net),
                            sm_net_buffers(m->net), NULL, &c->engine, &m->err);
        sm_threads_leave(threads);
    }
    if (st == SIAMESE_OK) st = calibrate_items(c, items, n);
    if (st == SIAMESE_OK && c->quant->images == 0)
        st = sm_fail(&m->err, SIAMESE_ERR_DATA, "%s: no image decoded to calibrate int8 on",
                     siamese_dataset_path(c->ds));
    free(items);
    return st;
}

/* An ensemble's progress: member i's done of total as part of all members' work. */
typedef struct member_progress {
    const siamese_quantize_params *p;
    int member, members;
} member_progress;

static void report_member_progress(void *user, int done, int total) {
    member_progress *mp = user;
    mp->p->progress(mp->p->progress_user, mp->member * total + done, mp->members * total);
}

/* Calibrates each member on the same images (with the ensemble's face aligner, lent to each in
 * turn, on the face chips it embeds); warnings about them are given once. */
static siamese_status quantize_members(siamese_model *model, siamese_dataset *dataset,
                                       const siamese_quantize_params *params) {
    siamese_quantize_params p = params ? *params : siamese_quantize_default_params();
    member_progress mp = {params, 0, model->n_members};
    if (p.progress) {
        p.progress = report_member_progress;
        p.progress_user = &mp;
    }
    for (int i = 0; i < model->n_members; i++) {
        siamese_model *m = model->members[i];
        mp.member = i;
        if (i > 0) p.warning = NULL;
        siamese_model *had = m->aligner; /* NULL but for one given to the member after joining */
        m->aligner = model->aligner;     /* the member sees what the ensemble embeds */
        siamese_status st = siamese_model_quantize(m, dataset, &p);
        m->aligner = had;
        if (st != SIAMESE_OK)
            return sm_fail(&model->err, st, "ensemble member %d: %s", i, m->err.msg);
    }
    return SIAMESE_OK;
}

siamese_status siamese_model_quantize(siamese_model *model, siamese_dataset *dataset,
                                      const siamese_quantize_params *params) {
    if (!model) return SIAMESE_ERR_INVALID_ARG;
    if (model->n_members) return quantize_members(model, dataset, params);
    calib c;
    memset(&c, 0, sizeof c);
    c.model = model;
    c.ds = dataset;
    c.p = params ? *params : siamese_quantize_default_params();
    siamese_status st = check_quantize_args(model, dataset, &c.p);
    if (st != SIAMESE_OK) return st;
    c.opts = siamese_image_default_options();
    c.opts.channels = model->arch.input.c;
    c.opts.height = model->arch.input.h;
    c.opts.width = model->arch.input.w;
    c.opts.fast_jpeg = 0;
    if (model->aligner) c.opts = sm_face_photo_options(); /* then aligned into chips */
    st = calibrate(&c);
    if (st == SIAMESE_OK) {
        int was_int8 = model->qnet != NULL;
        sm_model_drop_int8(model);
        sm_quant_free(model->quant);
        model->quant = c.quant;
        c.quant = NULL;
        if (was_int8 && sm_model_use_int8(model) != SIAMESE_PRECISION_INT8) st = model->err.status;
    }
    sm_qnet_free(c.engine);
    sm_quant_free(c.quant);
    free(c.x);
    free(c.emb);
    return st;
}

/* ---------------------------------------------------------------- model files */

typedef struct int8_names {
    char name[2][SM_NAME_MAX + 32];
    float range[2];
} int8_names;

typedef struct int8_block {
    char images[32];
    sm_st_meta meta;
    int8_names layer[];
} int8_block;

siamese_status sm_model_int8_tensors(const siamese_model *model, sm_st_tensor **out, int *n_out,
                                     sm_st_meta **meta, void **keep, sm_err *err) {
    *out = NULL;
    *n_out = 0;
    *meta = NULL;
    *keep = NULL;
    const sm_quant *q = model->quant;
    if (!q || q->n == 0) return SIAMESE_OK;
    int8_block *block = malloc(sizeof *block + (size_t)q->n * sizeof(int8_names));
    sm_st_tensor *t = calloc((size_t)q->n * 2, sizeof *t);
    if (!block || !t) {
        free(block);
        free(t);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "int8: out of memory");
    }
    for (int i = 0; i < q->n; i++) {
        const sm_quant_layer *l = &q->l[i];
        int8_names *nm = &block->layer[i];
        const char *lname = model->arch.layers[l->layer].name;
        snprintf(nm->name[0], sizeof nm->name[0], "%s%s.%s", SM_INT8_PREFIX, lname, INT8_RANGE);
        snprintf(nm->name[1], sizeof nm->name[1], "%s%s.%s", SM_INT8_PREFIX, lname, INT8_SCALE);
        nm->range[0] = l->in_lo;
        nm->range[1] = l->in_hi;
        t[2 * i] = (sm_st_tensor){
            .name = nm->name[0], .dtype = SM_DT_F32, .ndim = 1, .shape = {2}, .data = nm->range};
        t[2 * i + 1] = (sm_st_tensor){.name = nm->name[1],
                                      .dtype = SM_DT_F32,
                                      .ndim = 1,
                                      .shape = {l->out},
                                      .data = l->w_scale};
    }
    snprintf(block->images, sizeof block->images, "%d", q->images);
    block->meta.key = INT8_META_IMAGES;
    block->meta.value = block->images;
    *out = t;
    *n_out = 2 * q->n;
    *meta = &block->meta;
    *keep = block;
    return SIAMESE_OK;
}

/* The entry and field a tensor "int8.<layer>.<field>" names; -1 when it names none. */
static int int8_target(const siamese_model *model, sm_quant *q, const char *name,
                       sm_quant_layer **entry) {
    const char *rest = name + strlen(SM_INT8_PREFIX), *dot = strrchr(rest, '.');
    if (!dot) return -1;
    int field = strcmp(dot + 1, INT8_RANGE) == 0 ? 0 : strcmp(dot + 1, INT8_SCALE) == 0 ? 1 : -1;
    for (int i = 0; field >= 0 && i < q->n; i++) {
        const char *lname = model->arch.layers[q->l[i].layer].name;
        if (strlen(lname) == (size_t)(dot - rest) && !strncmp(lname, rest, (size_t)(dot - rest))) {
            *entry = &q->l[i];
            return field;
        }
    }
    return -1;
}

static siamese_status read_int8_tensor(const siamese_model *model, sm_quant *q, const char *path,
                                       const sm_st_tensor *t, unsigned char *seen, sm_err *err) {
    sm_quant_layer *e = NULL;
    int field = int8_target(model, q, t->name, &e);
    if (field < 0)
        return sm_fail(err, SIAMESE_ERR_FORMAT,
                       "%s: tensor '%s' names no conv or linear layer's int8 calibration", path,
                       t->name);
    int64_t want = field == 0 ? 2 : e->out;
    if (!sm_dtype_fits_role(t->dtype, SM_TENSOR_PARAM) || t->ndim != 1 || t->shape[0] != want)
        return sm_fail(err, SIAMESE_ERR_SHAPE, "%s: tensor '%s' should be %lld floats", path,
                       t->name, (long long)want);
    float range[2];
    float *dst = field == 0 ? range : e->w_scale;
    sm_st_copy_floats(t, dst, (size_t)want);
    for (int64_t i = 0; i < want; i++)
        if (!isfinite(dst[i]) || (field == 1 && !(dst[i] > 0.0f)))
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: tensor '%s' holds %s value %g", path,
                           t->name, field ? "a non-positive or non-finite" : "a non-finite",
                           (double)dst[i]);
    if (field == 0) {
        if (range[0] > range[1])
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: tensor '%s': range [%g, %g] is empty",
                           path, t->name, (double)range[0], (double)range[1]);
        e->in_lo = range[0];
        e->in_hi = range[1];
    }
    seen[(e - q->l) * 2 + field] = 1;
    return SIAMESE_OK;
}

siamese_status sm_model_int8_read(siamese_model *model, const char *path, const sm_st_file *file,
                                  sm_err *err) {
    int found = 0;
    for (int i = 0; i < sm_safetensors_count(file); i++)
        found +=
            !strncmp(sm_safetensors_get(file, i)->name, SM_INT8_PREFIX, strlen(SM_INT8_PREFIX));
    if (!found) return SIAMESE_OK;
    sm_quant *q = sm_quant_create(&model->arch);
    unsigned char *seen = q ? calloc((size_t)q->n * 2 + 1, 1) : NULL;
    siamese_status st =
        q && seen ? SIAMESE_OK : sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < sm_safetensors_count(file) && st == SIAMESE_OK; i++) {
        const sm_st_tensor *t = sm_safetensors_get(file, i);
        if (!strncmp(t->name, SM_INT8_PREFIX, strlen(SM_INT8_PREFIX)))
            st = read_int8_tensor(model, q, path, t, seen, err);
    }
    for (int i = 0; st == SIAMESE_OK && i < q->n * 2; i++)
        if (!seen[i])
            st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: int8 calibration incomplete: no '%s%s.%s'",
                         path, SM_INT8_PREFIX, model->arch.layers[q->l[i / 2].layer].name,
                         i % 2 ? INT8_SCALE : INT8_RANGE);
    if (st == SIAMESE_OK) {
        const char *images = sm_safetensors_meta(file, INT8_META_IMAGES);
        q->images = images ? atoi(images) : 0;
        if (q->images < 1) q->images = 1;
        sm_quant_free(model->quant);
        model->quant = q;
        q = NULL;
    }
    free(seen);
    sm_quant_free(q);
    return st;
}
