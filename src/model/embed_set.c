/* Embedding sets: decode every image of a dataset (or a file list) once, in parallel, at the
 * model's input geometry, and embed them in batches; bad files are warned about and skipped. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "base/util.h"
#include "data/dataset.h"
#include "image/image.h"
#include "model/face_align.h"
#include "model/model.h"
#include "siamese.h"

siamese_embed_params siamese_embed_default_params(void) {
    siamese_embed_params p;
    memset(&p, 0, sizeof p);
    p.batch_size = 64;
    return p;
}

void siamese_embeddings_free(siamese_embeddings *e) {
    if (!e) return;
    for (int i = 0; i < e->count; i++) {
        if (e->names) free(e->names[i]);
        if (e->paths) free(e->paths[i]);
    }
    for (int c = 0; c < e->class_count; c++)
        if (e->class_names) free(e->class_names[c]);
    free(e->vectors);
    free(e->labels);
    free(e->names);
    free(e->paths);
    free(e->class_names);
    free(e->image_index);
    memset(e, 0, sizeof *e);
}

/* Where the images come from: a dataset's images or a list of files. */
typedef struct embed_source {
    siamese_dataset *ds;      /* dataset source, or NULL */
    const char *const *paths; /* file source */
    int *items;               /* [n]: dataset image indices, or file indices */
    int n;
} embed_source;

static siamese_status decode_item(const embed_source *src, int item,
                                  const siamese_image_options *opts, siamese_image *img,
                                  sm_err *err) {
    if (src->ds) return sm_ds_decode(src->ds, src->items[item], opts, img, err);
    return sm_image_load_file(src->paths[src->items[item]], opts, img, err);
}

/* The work of one embedding run: buffers sized for one batch, the output being filled. */
typedef struct embed_job {
    siamese_model *model;
    const embed_source *src;
    siamese_embed_params p;
    siamese_image_options opts;       /* how images are decoded */
    siamese_image_options opts_model; /* the model's input geometry */
    size_t image_floats;
    int dim;
    float *tensors;        /* [batch, C, H, W] */
    sm_image *images;      /* [batch] decoded at their own size, for a model with an aligner */
    float *aligned;        /* [batch, C, H, W] the aligned chips of the decoded images */
    siamese_status *state; /* [batch] decode status */
    sm_err *errs;          /* [batch] decode messages */
    siamese_embeddings *out;
    sm_err err;
} embed_job;

static void warn(const embed_job *job, const char *message) {
    if (job->p.warning) job->p.warning(job->p.warning_user, message);
}

/* Decoding threads: the caller's, else the model's own count, else every core. */
static int decode_threads(const embed_job *job) {
    if (job->p.threads > 0) return job->p.threads;
    return job->model->threads > 0 ? job->model->threads : omp_get_num_procs();
}

/* A model with a face aligner: the decoded images of the batch become aligned chips in their
 * slots of the batch buffer (model/face_align.c); a failure fails every image of the batch. */
static void align_batch(embed_job *job, int n) {
    int good = 0;
    for (int j = 0; j < n; j++)
        if (job->state[j] == SIAMESE_OK) job->images[good++] = job->images[j];
    sm_err err;
    sm_err_clear(&err);
    siamese_model *aligner = job->model->aligner;
    aligner->threads = job->model->threads;
    siamese_status st =
        good ? sm_face_align_tensors(aligner, job->images, good, job->opts_model.channels,
                                     job->opts_model.width, job->aligned, &err)
             : SIAMESE_OK;
    for (int j = 0, k = 0; j < n; j++) {
        if (job->state[j] != SIAMESE_OK) continue;
        if (st != SIAMESE_OK) {
            job->state[j] = st;
            job->errs[j] = err;
        } else {
            memcpy(job->tensors + (size_t)j * job->image_floats,
                   job->aligned + (size_t)k * job->image_floats, job->image_floats * sizeof(float));
        }
        k++;
    }
    for (int k = 0; k < good; k++) sm_image_free(&job->images[k]);
}

/* Decodes items [first, first + n) into the batch buffer, in parallel. */
static void decode_batch(embed_job *job, int first, int n) {
    int threads = decode_threads(job);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int j = 0; j < n; j++) {
        siamese_image img;
        sm_err_clear(&job->errs[j]);
        job->state[j] = decode_item(job->src, first + j, &job->opts, &img, &job->errs[j]);
        if (job->images) { /* aligned below, each photo on its own */
            job->images[j] = img;
            continue;
        }
        if (job->state[j] == SIAMESE_OK)
            job->state[j] =
                sm_image_to_tensor(&img, NULL, NULL, job->tensors + (size_t)j * job->image_floats);
        sm_image_free(&img);
    }
    if (job->images) align_batch(job, n);
}

/* Reports the batch's failed decodes (in order) and moves the good tensors to the front;
 * returns how many are left and lists their items in kept. */
static int drop_failed(embed_job *job, int first, int n, int *kept) {
    int good = 0;
    for (int j = 0; j < n; j++) {
        if (job->state[j] != SIAMESE_OK) {
            char line[SM_ERRMSG_MAX + 16];
            snprintf(line, sizeof line, "%s; skipped", job->errs[j].msg);
            warn(job, line);
            job->out->skipped++;
            if (job->src->ds) {
                job->src->ds->images[job->src->items[first + j]].usable = 0;
                job->src->ds->skipped++;
            }
            continue;
        }
        if (good != j)
            memmove(job->tensors + (size_t)good * job->image_floats,
                    job->tensors + (size_t)j * job->image_floats,
                    job->image_floats * sizeof(float));
        kept[good++] = first + j;
    }
    return good;
}

/* Appends the names, paths, labels and dataset indices of one embedded item. */
static siamese_status record_item(embed_job *job, int item) {
    siamese_embeddings *e = job->out;
    const embed_source *src = job->src;
    int row = e->count;
    const char *name, *path;
    if (src->ds) {
        const sm_ds_image *im = &src->ds->images[src->items[item]];
        name = im->name;
        path = im->path;
        e->labels[row] = im->class_id;
        e->image_index[row] = src->items[item];
    } else {
        name = path = src->paths[src->items[item]];
        e->labels[row] = -1;
        e->image_index[row] = -1;
    }
    e->names[row] = sm_strdup(name);
    e->paths[row] = path ? sm_strdup(path) : NULL;
    if (!e->names[row] || (path && !e->paths[row])) {
        free(e->names[row]);
        free(e->paths[row]);
        return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    e->count++;
    return SIAMESE_OK;
}

/* Decodes, embeds and records items [first, first + n). */
static siamese_status embed_batch(embed_job *job, int first, int n, int *kept) {
    decode_batch(job, first, n);
    for (int j = 0; j < n; j++)
        if (job->state[j] == SIAMESE_ERR_NOMEM)
            return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory decoding images");
    int good = drop_failed(job, first, n, kept);
    if (good == 0) return SIAMESE_OK;
    siamese_embeddings *e = job->out;
    siamese_status st = siamese_model_embed(job->model, job->tensors, good,
                                            e->vectors + (size_t)e->count * job->dim);
    if (st != SIAMESE_OK)
        return sm_fail(&job->err, st, "embedding failed: %s",
                       *siamese_model_errmsg(job->model) ? siamese_model_errmsg(job->model)
                                                         : siamese_status_str(st));
    for (int j = 0; j < good && st == SIAMESE_OK; j++) st = record_item(job, kept[j]);
    return st;
}

static siamese_status alloc_output(embed_job *job, int n) {
    siamese_embeddings *e = job->out;
    size_t rows = (size_t)(n > 0 ? n : 1);
    e->dim = job->dim;
    e->vectors = malloc(rows * (size_t)job->dim * sizeof(float));
    e->labels = malloc(rows * sizeof(int));
    e->names = calloc(rows, sizeof(char *));
    e->paths = calloc(rows, sizeof(char *));
    e->image_index = malloc(rows * sizeof(int));
    if (!e->vectors || !e->labels || !e->names || !e->paths || !e->image_index)
        return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory for %d embeddings", n);
    return SIAMESE_OK;
}

static siamese_status alloc_batch(embed_job *job) {
    int b = job->p.batch_size;
    if (job->image_floats > ((size_t)1 << 40) / (size_t)b)
        return sm_fail(&job->err, SIAMESE_ERR_LIMIT, "batch of %d images too large", b);
    job->tensors = malloc((size_t)b * job->image_floats * sizeof(float));
    job->state = malloc((size_t)b * sizeof *job->state);
    job->errs = malloc((size_t)b * sizeof *job->errs);
    if (job->model->aligner) {
        job->images = calloc((size_t)b, sizeof *job->images);
        job->aligned = malloc((size_t)b * job->image_floats * sizeof(float));
        if (!job->images || !job->aligned)
            return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory for a batch of %d images",
                           b);
    }
    if (!job->tensors || !job->state || !job->errs)
        return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory for a batch of %d images", b);
    return SIAMESE_OK;
}

static siamese_status check_params(embed_job *job, siamese_model *model,
                                   const siamese_embed_params *params) {
    job->p = params ? *params : siamese_embed_default_params();
    if (!model) return sm_fail(&job->err, SIAMESE_ERR_INVALID_ARG, "no model");
    if (!sm_model_ready(model)) /* its geometry is 0 x 0: whole images would fill the batch */
        return sm_fail(&job->err, SIAMESE_ERR_INVALID_ARG, "embed: the model failed to load");
    if (job->p.batch_size <= 0 || job->p.batch_size > 4096)
        return sm_fail(&job->err, SIAMESE_ERR_INVALID_ARG, "batch size %d out of range (1-4096)",
                       job->p.batch_size);
    if (job->p.threads < 0 || job->p.threads > SIAMESE_THREADS_MAX)
        return sm_fail(&job->err, SIAMESE_ERR_INVALID_ARG, "threads %d out of range (0-%d)",
                       job->p.threads, SIAMESE_THREADS_MAX);
    job->model = model;
    job->opts = siamese_image_default_options();
    job->opts.channels = siamese_model_channels(model);
    job->opts.height = siamese_model_height(model);
    job->opts.width = siamese_model_width(model);
    job->opts.fast_jpeg = 0;
    job->image_floats =
        (size_t)job->opts.channels * (size_t)job->opts.height * (size_t)job->opts.width;
    job->opts_model = job->opts;
    if (model->aligner) job->opts = sm_face_photo_options(); /* then aligned into chips */
    job->dim = siamese_model_embedding_dim(model);
    return SIAMESE_OK;
}

/* Embeds every item of src into out (already zeroed); batches of p.batch_size. */
static siamese_status run_job(embed_job *job, const embed_source *src, siamese_embeddings *out) {
    job->src = src;
    job->out = out;
    siamese_status st = alloc_output(job, src->n);
    if (st == SIAMESE_OK) st = alloc_batch(job);
    int *kept = st == SIAMESE_OK ? malloc((size_t)job->p.batch_size * sizeof *kept) : NULL;
    if (st == SIAMESE_OK && !kept) st = sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    for (int first = 0; st == SIAMESE_OK && first < src->n; first += job->p.batch_size) {
        int n = src->n - first < job->p.batch_size ? src->n - first : job->p.batch_size;
        st = embed_batch(job, first, n, kept);
        if (job->p.progress) job->p.progress(job->p.progress_user, first + n, src->n);
    }
    if (st == SIAMESE_OK && out->count == 0)
        st = sm_fail(&job->err, SIAMESE_ERR_DATA, "no image could be decoded (%d skipped)",
                     out->skipped);
    free(kept);
    free(job->tensors);
    free(job->images);
    free(job->aligned);
    free(job->state);
    free(job->errs);
    return st;
}

static siamese_status finish(const embed_job *job, siamese_status st, siamese_embeddings *out,
                             char *errmsg, size_t errmsg_size) {
    if (st != SIAMESE_OK) siamese_embeddings_free(out);
    return sm_err_out(&job->err, st, errmsg, errmsg_size);
}

static siamese_status copy_class_names(embed_job *job, const siamese_dataset *ds,
                                       siamese_embeddings *out) {
    if (ds->n_classes <= 0) return SIAMESE_OK;
    out->class_names = calloc((size_t)ds->n_classes, sizeof(char *));
    if (!out->class_names) return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    out->class_count = ds->n_classes;
    for (int c = 0; c < ds->n_classes; c++)
        if (!(out->class_names[c] = sm_strdup(ds->class_names[c])))
            return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    return SIAMESE_OK;
}

/* Empties the job and the output, then checks the parameters. */
static siamese_status begin(embed_job *job, siamese_model *model,
                            const siamese_embed_params *params, siamese_embeddings *out) {
    memset(job, 0, sizeof *job);
    memset(out, 0, sizeof *out);
    return check_params(job, model, params);
}

siamese_status siamese_embed_dataset(siamese_model *model, siamese_dataset *dataset,
                                     const siamese_embed_params *params, siamese_embeddings *out,
                                     char *errmsg, size_t errmsg_size) {
    embed_job job;
    if (!out) return sm_refuse(errmsg, errmsg_size, "embed: no output given");
    siamese_status st = begin(&job, model, params, out);
    if (st == SIAMESE_OK && !dataset) st = sm_fail(&job.err, SIAMESE_ERR_INVALID_ARG, "no dataset");
    embed_source src = {dataset, NULL, NULL, 0};
    if (st == SIAMESE_OK) {
        src.items = malloc((size_t)(dataset->n_images > 0 ? dataset->n_images : 1) * sizeof(int));
        if (!src.items) st = sm_fail(&job.err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    if (st == SIAMESE_OK) {
        for (int i = 0; i < dataset->n_images; i++) {
            if (dataset->images[i].usable) src.items[src.n++] = i;
            else out->skipped++; /* warned when it was found unusable */
        }
        st = copy_class_names(&job, dataset, out);
    }
    if (st == SIAMESE_OK) st = run_job(&job, &src, out);
    free(src.items);
    if (st != SIAMESE_OK && dataset) sm_fail(&dataset->err, st, "%s", job.err.msg);
    return finish(&job, st, out, errmsg, errmsg_size);
}

siamese_status siamese_embed_files(siamese_model *model, const char *const *paths, int n,
                                   const siamese_embed_params *params, siamese_embeddings *out,
                                   char *errmsg, size_t errmsg_size) {
    embed_job job;
    if (!out) return sm_refuse(errmsg, errmsg_size, "embed: no output given");
    siamese_status st = begin(&job, model, params, out);
    if (st == SIAMESE_OK && (n <= 0 || !paths))
        st = sm_fail(&job.err, SIAMESE_ERR_INVALID_ARG, "no image files given");
    for (int i = 0; st == SIAMESE_OK && i < n; i++)
        if (!paths[i]) st = sm_fail(&job.err, SIAMESE_ERR_INVALID_ARG, "image path %d is NULL", i);
    embed_source src = {NULL, paths, NULL, n};
    if (st == SIAMESE_OK) {
        src.items = malloc((size_t)n * sizeof(int));
        if (!src.items) st = sm_fail(&job.err, SIAMESE_ERR_NOMEM, "out of memory");
        for (int i = 0; src.items && i < n; i++) src.items[i] = i;
    }
    if (st == SIAMESE_OK) st = run_job(&job, &src, out);
    free(src.items);
    return finish(&job, st, out, errmsg, errmsg_size);
}
