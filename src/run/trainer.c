/* Training steps: both branches of n pairs as one batch of 2n images, contrastive loss, one
 * backward into one gradient buffer, finiteness checks, then PyTorch's Adam. A step allocates
 * nothing: the input, embedding and gradient buffers are sized for max_pairs at creation. */
#include "run/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/recipe.h"
#include "model/model.h"
#include "nn/batch_pairs.h"
#include "nn/batch_triplets.h"
#include "nn/loss.h"
#include "run/dist.h"

struct siamese_trainer {
    sm_err err;
    siamese_model *model;
    siamese_trainer_params params;
    sm_adam adam;
    size_t image_floats;     /* C * H * W */
    int dim;                 /* embedding length */
    float *input;            /* [2 * max_pairs, C, H, W]: the a images, then the b images */
    float *emb;              /* [2 * max_pairs, dim] */
    float *d_emb;            /* [2 * max_pairs, dim] */
    float *saved_buffers;    /* batchnorm running statistics before the step */
    int64_t *saved_counters; /* batchnorm num_batches_tracked before the step */
    /* batch losses over up to 2 * max_pairs images, allocated by the first labelled step */
    sm_batch_pairs_work pairs_work;
    sm_dist *dist;            /* data-parallel communicator, NULL = one process (issue 16) */
    size_t *layer_first_grad; /* [n_layers] first gradient of the layer and the ones after it */
    size_t *grad_bounds;      /* [n_grad_bounds] distinct layer_first_grad values, descending */
    int n_grad_bounds;
    sm_span *trainable; /* [table->n] the parameters of layers not frozen, found each step */
    int n_trainable;
};

siamese_trainer_params siamese_trainer_default_params(void) {
    siamese_trainer_params p;
    p.learning_rate = SM_RECIPE_LEARNING_RATE;
    p.beta1 = SM_ADAM_BETA1;
    p.beta2 = SM_ADAM_BETA2;
    p.eps = SM_ADAM_EPS;
    p.weight_decay = 0.0f;
    p.learning_rate_backbone = 0.0f; /* = learning_rate */
    p.max_pairs = SM_RECIPE_BATCH_SIZE;
    p.batch_loss = SIAMESE_LOSS_CONTRASTIVE;
    return p;
}

sm_adam *sm_trainer_adam(siamese_trainer *trainer) { return trainer ? &trainer->adam : NULL; }

/* The head's parameters are the last in the flat buffer: the backbone is everything before its
 * first tensor (the whole buffer when no layer has parameters). */
void sm_trainer_set_backbone_lr(siamese_trainer *trainer, float lr) {
    const sm_param_table *table = sm_net_table(trainer->model->net);
    int head = sm_arch_head_layer(&trainer->model->arch);
    size_t start = table->n_params;
    for (int i = 0; i < table->n; i++)
        if (table->t[i].role == SM_TENSOR_PARAM && table->t[i].layer == head &&
            table->t[i].offset < start)
            start = table->t[i].offset;
    trainer->adam.n_backbone = start;
    trainer->adam.backbone_lr = lr;
}

const char *siamese_trainer_errmsg(const siamese_trainer *trainer) {
    return trainer ? trainer->err.msg : "no trainer";
}

void siamese_trainer_free(siamese_trainer *trainer) {
    if (!trainer) return;
    sm_adam_free(&trainer->adam);
    free(trainer->input);
    free(trainer->emb);
    free(trainer->d_emb);
    sm_batch_pairs_work_free(&trainer->pairs_work);
    free(trainer->saved_buffers);
    free(trainer->saved_counters);
    free(trainer->layer_first_grad);
    free(trainer->grad_bounds);
    free(trainer->trainable);
    free(trainer);
}

/* ---------------------------------------------------------------- creation */

static int finite_positive(float x) { return isfinite(x) && x > 0.0f; }

static siamese_status check_trainer_params(const siamese_trainer_params *p, sm_err *err) {
    if (!finite_positive(p->learning_rate))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "trainer: learning rate %g must be positive",
                       (double)p->learning_rate);
    if (!(p->beta1 >= 0.0f && p->beta1 < 1.0f) || !(p->beta2 >= 0.0f && p->beta2 < 1.0f))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "trainer: betas %g, %g must be in [0, 1)",
                       (double)p->beta1, (double)p->beta2);
    if (!(p->eps >= 0.0f) || !isfinite(p->eps))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "trainer: eps %g must be >= 0",
                       (double)p->eps);
    if (!(p->weight_decay >= 0.0f) || !isfinite(p->weight_decay))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "trainer: weight decay %g must be >= 0",
                       (double)p->weight_decay);
    if (!(p->learning_rate_backbone >= 0.0f) || !isfinite(p->learning_rate_backbone))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "trainer: backbone learning rate %g must be positive (0 = the same rate)",
                       (double)p->learning_rate_backbone);
    if (p->max_pairs < 1 || p->max_pairs > SM_MAX_BATCH_IMAGES / 2) /* two images a pair */
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "trainer: max_pairs %d must be in 1..%d",
                       p->max_pairs, SM_MAX_BATCH_IMAGES / 2);
    if (p->batch_loss != SIAMESE_LOSS_CONTRASTIVE && p->batch_loss != SIAMESE_LOSS_TRIPLET)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "trainer: batch loss %d is neither contrastive (0) nor triplet (1)",
                       (int)p->batch_loss);
    return SIAMESE_OK;
}

/* count elements of size bytes, or NULL (also when count * size overflows). */
static void *alloc_array(size_t count, size_t size) {
    if (count == 0) count = 1;
    if (count > SIZE_MAX / size) return NULL;
    return malloc(count * size);
}

static siamese_status alloc_trainer_buffers(siamese_trainer *t, sm_err *err) {
    const sm_param_table *table = sm_net_table(t->model->net);
    size_t images = 2 * (size_t)t->params.max_pairs;
    if (t->image_floats > SIZE_MAX / images)
        return sm_fail(err, SIAMESE_ERR_NOMEM, "trainer: batch too large");
    t->input = alloc_array(images * t->image_floats, sizeof(float));
    t->emb = alloc_array(images * (size_t)t->dim, sizeof(float));
    t->d_emb = alloc_array(images * (size_t)t->dim, sizeof(float));
    t->saved_buffers = alloc_array(table->n_buffers, sizeof(float));
    t->saved_counters = alloc_array(table->n_counters, sizeof(int64_t));
    t->trainable = alloc_array((size_t)table->n, sizeof(sm_span));
    if (!t->input || !t->emb || !t->d_emb || !t->saved_buffers || !t->saved_counters ||
        !t->trainable)
        return sm_fail(err, SIAMESE_ERR_NOMEM, "trainer: cannot allocate buffers for %d pairs",
                       t->params.max_pairs);
    const siamese_trainer_params *p = &t->params;
    if (sm_adam_init(&t->adam, table->n_params, p->learning_rate, p->beta1, p->beta2, p->eps,
                     p->weight_decay) != 0)
        return sm_fail(err, SIAMESE_ERR_NOMEM,
                       "trainer: cannot allocate Adam state for %zu "
                       "parameters",
                       table->n_params);
    if (p->learning_rate_backbone > 0.0f) sm_trainer_set_backbone_lr(t, p->learning_rate_backbone);
    return SIAMESE_OK;
}

siamese_status siamese_trainer_create(siamese_model *model, const siamese_trainer_params *params,
                                      siamese_trainer **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    siamese_trainer *t = calloc(1, sizeof *t);
    if (!t) return SIAMESE_ERR_NOMEM;
    t->params = params ? *params : siamese_trainer_default_params();
    siamese_status st = SIAMESE_OK;
    if (!model || !model->net)
        st = model && model->n_members
                 ? sm_fail(&t->err, SIAMESE_ERR_UNSUPPORTED,
                           "trainer: the model is an ensemble of %d networks, which cannot train "
                           "(train each member, then join them)",
                           model->n_members)
                 : sm_fail(&t->err, SIAMESE_ERR_INVALID_ARG, "trainer: needs a valid model");
    if (!st) st = check_trainer_params(&t->params, &t->err);
    if (!st) {
        t->model = model;
        t->image_floats = (size_t)model->arch.input.c * model->arch.input.h * model->arch.input.w;
        t->dim = sm_arch_embedding_dim(&model->arch);
        st = alloc_trainer_buffers(t, &t->err);
    }
    if (st) {
        /* keep the handle so the caller can read the message, but free what it holds */
        sm_err err = t->err;
        siamese_trainer_free(t);
        t = calloc(1, sizeof *t);
        if (t) t->err = err;
    }
    *out = t;
    return st;
}

/* ---------------------------------------------------------------- steps */

static siamese_status check_batch(siamese_trainer *t, const float *a, const float *b,
                                  const float *labels, int n, const void *result) {
    if (!t->model)
        return sm_fail(&t->err, SIAMESE_ERR_INVALID_ARG, "trainer: not created successfully");
    if (!a || !b || !labels || !result)
        return sm_fail(&t->err, SIAMESE_ERR_INVALID_ARG, "trainer: NULL images, labels or output");
    if (n < 1 || n > t->params.max_pairs)
        return sm_fail(&t->err, SIAMESE_ERR_INVALID_ARG,
                       "trainer: %d pairs, want 1 to max_pairs = %d", n, t->params.max_pairs);
    return SIAMESE_OK;
}

/* [a; b]: the two branches as one batch of 2n images, in t->input, or in place when b follows a
 * in memory already (the loader's batches: 2n images per step not copied again). */
static const float *stack_pairs(siamese_trainer *t, const float *a, const float *b, int n) {
    size_t floats = (size_t)n * t->image_floats;
    if (b == a + floats) return a;
    memcpy(t->input, a, floats * sizeof(float));
    memcpy(t->input + floats, b, floats * sizeof(float));
    return t->input;
}

static int all_finite(const float *v, size_t n) {
    int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static)
    for (size_t i = 0; i < n; i++) bad |= !isfinite(v[i]);
    return !bad;
}

static void save_running_stats(siamese_trainer *t) {
    const sm_param_table *table = sm_net_table(t->model->net);
    if (table->n_buffers)
        memcpy(t->saved_buffers, sm_net_buffers(t->model->net), table->n_buffers * sizeof(float));
    if (table->n_counters)
        memcpy(t->saved_counters, sm_net_counters(t->model->net),
               table->n_counters * sizeof(int64_t));
}

static void restore_running_stats(siamese_trainer *t) {
    const sm_param_table *table = sm_net_table(t->model->net);
    if (table->n_buffers)
        memcpy(sm_net_buffers(t->model->net), t->saved_buffers, table->n_buffers * sizeof(float));
    if (table->n_counters)
        memcpy(sm_net_counters(t->model->net), t->saved_counters,
               table->n_counters * sizeof(int64_t));
}

/* Forward of both branches (input: 2n images, from stack_pairs) and the loss; training also fills
 * d_emb. */
static siamese_status forward_and_loss(siamese_trainer *t, const float *input, int training,
                                       const float *labels, int n, double *loss, float *distances) {
    siamese_model *m = t->model;
    if (training) sm_net_set_dropout_seed(m->net, (uint64_t)t->adam.step);
    siamese_status st = sm_net_forward(m->net, input, 2 * n, training, t->emb, &t->err);
    if (st) return st;
    size_t half = (size_t)n * t->dim;
    *loss = sm_contrastive_loss(m->metric, m->margin, n, t->dim, t->emb, t->emb + half, labels,
                                distances, training ? t->d_emb : NULL,
                                training ? t->d_emb + half : NULL);
    return SIAMESE_OK;
}

/* Under the Euclidean metric the loss depends on e1 - e2 only, so it does not change when a
 * constant is added to both embeddings: the biases of the network's affine tail (the conv,
 * flatten and linear layers after the last relu, pool or batchnorm) have an exact gradient of 0.
 * PyTorch gets exactly 0 too (it runs the branches separately and d_e2 = -d_e1, so the two sums
 * cancel bit for bit), and Adam then leaves those biases alone. One backward over 2n images sums
 * the rows in another order and leaves rounding residue that Adam would blow up to steps of
 * about lr, so the trainer sets those gradients to their exact value. */
static void zero_invariant_bias_grads(siamese_trainer *t) {
    const siamese_model *m = t->model;
    if (m->metric != SIAMESE_METRIC_EUCLIDEAN) return;
    const sm_param_table *table = sm_net_table(m->net);
    float *grads = sm_net_grads(m->net);
    int first_affine = m->arch.n_layers;
    while (first_affine > 0) {
        sm_layer_kind kind = m->arch.layers[first_affine - 1].kind;
        if (kind != SM_LAYER_LINEAR && kind != SM_LAYER_CONV2D && kind != SM_LAYER_FLATTEN) break;
        first_affine--;
    }
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *ti = &table->t[i];
        if (ti->layer >= first_affine && ti->slot == SM_SLOT_BIAS)
            memset(grads + ti->offset, 0, ti->count * sizeof(float));
    }
}

static siamese_status numeric_failure(siamese_trainer *t, const char *what) {
    restore_running_stats(t);
    return sm_fail(&t->err, SIAMESE_ERR_NUMERIC,
                   "trainer: step %lld: %s is not finite; parameters left unchanged",
                   (long long)t->adam.step + 1, what);
}

static int span_order(const void *a, const void *b) {
    size_t x = ((const sm_span *)a)->from, y = ((const sm_span *)b)->from;
    return (x > y) - (x < y);
}

/* The parameters of the layers not frozen now, as few sorted spans as cover them. */
static void find_trainable(siamese_trainer *t) {
    const sm_param_table *table = sm_net_table(t->model->net);
    int n = 0;
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *ti = &table->t[i];
        if (ti->role == SM_TENSOR_PARAM && !sm_net_layer_frozen(t->model->net, ti->layer))
            t->trainable[n++] = (sm_span){ti->offset, ti->offset + ti->count};
    }
    qsort(t->trainable, (size_t)n, sizeof *t->trainable, span_order);
    int merged = 0;
    for (int i = 0; i < n; i++) {
        if (merged > 0 && t->trainable[merged - 1].to == t->trainable[i].from)
            t->trainable[merged - 1].to = t->trainable[i].to;
        else t->trainable[merged++] = t->trainable[i];
    }
    t->n_trainable = merged;
}

static void zero_trainable_grads(siamese_trainer *t) {
    float *grads = sm_net_grads(t->model->net);
    for (int i = 0; i < t->n_trainable; i++)
        memset(grads + t->trainable[i].from, 0,
               (t->trainable[i].to - t->trainable[i].from) * sizeof(float));
}

/* After backward: the trainable gradients checked, then Adam over the trainable parameters
 * only, so a frozen layer keeps its values exactly (weight decay included), as in PyTorch,
 * where a frozen parameter has no gradient and Adam skips it. */
static siamese_status update_trainable(siamese_trainer *t) {
    sm_net *net = t->model->net;
    const float *grads = sm_net_grads(net);
    for (int i = 0; i < t->n_trainable; i++)
        if (!all_finite(grads + t->trainable[i].from, t->trainable[i].to - t->trainable[i].from))
            return numeric_failure(t, "a gradient");
    zero_invariant_bias_grads(t);
    sm_adam_step_spans(&t->adam, sm_net_params_write_trainable(net), sm_net_grads(net),
                       t->trainable, t->n_trainable);
    return SIAMESE_OK;
}

/* Backward from d_emb through the last training forward, checks, then the Adam update. */
static siamese_status backward_and_update(siamese_trainer *t) {
    sm_net *net = t->model->net;
    find_trainable(t);
    zero_trainable_grads(t);
    siamese_status st = sm_net_backward(net, t->d_emb, &t->err);
    if (st) {
        restore_running_stats(t);
        return st;
    }
    return update_trainable(t);
}

/* ---------------------------------------------------------------- data-parallel steps */

/* Per layer, where the gradients of it and the layers after it start; the distinct starts, from
 * the last layer's down, are the chunks of the gradient sum. Only parameters count: a batchnorm's
 * running statistics have offsets into the buffer array (its first at 0), which would start the
 * sum of gradients that earlier layers have yet to write. */
void sm_trainer_set_dist(siamese_trainer *t, sm_dist *dist) {
    if (!t || !t->model) return;
    const sm_param_table *table = sm_net_table(t->model->net);
    int layers = t->model->arch.n_layers;
    free(t->layer_first_grad);
    free(t->grad_bounds);
    t->layer_first_grad = dist ? alloc_array((size_t)layers, sizeof(size_t)) : NULL;
    t->grad_bounds = dist ? alloc_array((size_t)layers, sizeof(size_t)) : NULL;
    t->n_grad_bounds = 0;
    t->dist = t->layer_first_grad && t->grad_bounds ? dist : NULL; /* out of memory: one process */
    for (int l = 0; t->dist && l < layers; l++) {
        size_t first = table->n_params;
        for (int i = 0; i < table->n; i++) {
            const sm_tensor_info *ti = &table->t[i];
            if (ti->role == SM_TENSOR_PARAM && ti->layer >= l && ti->offset < first)
                first = ti->offset;
        }
        t->layer_first_grad[l] = first;
    }
    for (int l = layers - 1; t->dist && l >= 0; l--) {
        size_t first = t->layer_first_grad[l];
        int n = t->n_grad_bounds;
        if (first < table->n_params && (n == 0 || first < t->grad_bounds[n - 1]))
            t->grad_bounds[t->n_grad_bounds++] = first;
    }
}

static void gradients_ready(void *user, int layer) {
    siamese_trainer *t = user;
    sm_dist_grads_ready(t->dist, t->layer_first_grad[layer]);
}

/* Backward of this rank's slice (count pairs, maybe none) with the sum over the ranks started
 * layer by layer; a failed backward sends NaN so that every rank fails the step together. */
static siamese_status backward_and_sum(siamese_trainer *t, int count) {
    sm_net *net = t->model->net;
    size_t n = sm_net_table(net)->n_params;
    sm_net_zero_grads(net);
    sm_dist_grads_begin(t->dist, sm_net_grads(net), n, t->grad_bounds, t->n_grad_bounds);
    siamese_status st = SIAMESE_OK;
    if (count > 0) {
        sm_net_set_grad_hook(net, gradients_ready, t);
        st = sm_net_backward(net, t->d_emb, &t->err);
        sm_net_set_grad_hook(net, NULL, NULL);
    }
    if (st) {
        float *grads = sm_net_grads(net);
        for (size_t i = 0; i < n; i++) grads[i] = NAN;
    }
    sm_dist_grads_end(t->dist);
    return st;
}

/* One rank's share (its slice a, b, labels of count pairs) of a global batch of n pairs: the
 * loss of its slice weighted by its share, summed over the ranks (NaN from a rank whose forward
 * failed); d_emb scaled the same way. */
static siamese_status share_step(siamese_trainer *t, const float *a, const float *b,
                                 const float *labels, int count, int n, float *loss) {
    save_running_stats(t);
    double value = 0;
    siamese_status st = SIAMESE_OK;
    if (count > 0) {
        st = forward_and_loss(t, stack_pairs(t, a, b, count), 1, labels, count, &value, NULL);
        value = st ? NAN : value * count / n;
        float share = (float)count / (float)n;
        for (size_t i = 0; i < 2 * (size_t)count * t->dim; i++) t->d_emb[i] *= share;
    }
    sm_dist_sum_doubles(t->dist, &value, 1);
    *loss = (float)value;
    if (st) {
        restore_running_stats(t);
        return st;
    }
    if (!isfinite(value)) return numeric_failure(t, "the loss");
    st = backward_and_sum(t, count);
    if (st) {
        restore_running_stats(t);
        return st;
    }
    find_trainable(t);
    return update_trainable(t);
}

/* The whole global batch on every rank: this rank steps on its contiguous slice. */
static siamese_status distributed_step(siamese_trainer *t, const float *a, const float *b,
                                       const float *labels, int n, float *loss) {
    int first, count;
    sm_dist_slice(t->dist, n, &first, &count);
    size_t offset = (size_t)first * t->image_floats;
    return share_step(t, a + offset, b + offset, labels + first, count, n, loss);
}

static siamese_status trainer_step(siamese_trainer *t, const float *a, const float *b,
                                   const float *labels, int n, float *loss) {
    if (t->dist) return distributed_step(t, a, b, labels, n, loss);
    const float *input = stack_pairs(t, a, b, n);
    save_running_stats(t);
    double value = 0;
    siamese_status st = forward_and_loss(t, input, 1, labels, n, &value, NULL);
    if (st) {
        restore_running_stats(t);
        return st;
    }
    *loss = (float)value;
    if (!isfinite(value)) return numeric_failure(t, "the loss");
    return backward_and_update(t);
}

siamese_status siamese_trainer_step(siamese_trainer *trainer, const float *a, const float *b,
                                    const float *labels, int n, float *loss) {
    if (!trainer) return SIAMESE_ERR_INVALID_ARG;
    siamese_status st = check_batch(trainer, a, b, labels, n, loss);
    if (st) return st;
    sm_threads_scope threads = sm_model_threads_enter(trainer->model);
    st = trainer_step(trainer, a, b, labels, n, loss);
    sm_threads_leave(threads);
    return st;
}

siamese_status sm_trainer_step_share(siamese_trainer *trainer, const float *a, const float *b,
                                     const float *labels, int count, int n, float *loss) {
    if (!trainer) return SIAMESE_ERR_INVALID_ARG;
    int first, expected;
    sm_dist_slice(trainer->dist, n, &first, &expected);
    if (count != expected)
        return sm_fail(&trainer->err, SIAMESE_ERR_INVALID_ARG,
                       "trainer: a share of %d pairs of a batch of %d, want %d", count, n,
                       expected);
    if (!trainer->dist) return siamese_trainer_step(trainer, a, b, labels, n, loss);
    siamese_status st = check_batch(trainer, a, b, labels, n, loss);
    if (st) return st;
    sm_threads_scope threads = sm_model_threads_enter(trainer->model);
    st = share_step(trainer, a, b, labels, count, n, loss);
    sm_threads_leave(threads);
    return st;
}

/* ---------------------------------------------------------------- batches of labelled images */

static siamese_status check_labelled_batch(siamese_trainer *t, const float *images,
                                           const int *classes, int n, const float *loss) {
    if (!t->model)
        return sm_fail(&t->err, SIAMESE_ERR_INVALID_ARG, "trainer: not created successfully");
    if (!images || !classes || !loss)
        return sm_fail(&t->err, SIAMESE_ERR_INVALID_ARG, "trainer: NULL images, classes or loss");
    if (n < 2 || n > 2 * t->params.max_pairs)
        return sm_fail(&t->err, SIAMESE_ERR_INVALID_ARG,
                       "trainer: %d images, want 2 to 2 * max_pairs = %d", n,
                       2 * t->params.max_pairs);
    if (!t->pairs_work.emb &&
        sm_batch_pairs_work_init(&t->pairs_work, 2 * t->params.max_pairs, t->dim) != 0)
        return sm_fail(&t->err, SIAMESE_ERR_NOMEM,
                       "trainer: cannot allocate the pair buffers for %d images",
                       2 * t->params.max_pairs);
    return SIAMESE_OK;
}

/* The mean loss over the batch's selected pairs or triplets (in double), its gradient into
 * d_emb. */
static double labelled_batch_loss(siamese_trainer *t, const int *classes, int n,
                                  siamese_mining mining, int *pairs) {
    sm_batch_pairs_work *w = &t->pairs_work;
    size_t count = (size_t)n * t->dim;
    for (size_t i = 0; i < count; i++) w->emb[i] = t->emb[i];
    siamese_metric metric = t->model->metric;
    double margin = t->model->margin;
    double loss = t->params.batch_loss == SIAMESE_LOSS_TRIPLET
                      ? sm_batch_triplets_loss(w, metric, margin, mining, n, classes, 1, pairs)
                      : sm_batch_pairs_loss(w, metric, margin, mining, n, classes, 1, pairs);
    for (size_t i = 0; i < count; i++) t->d_emb[i] = (float)w->grad[i];
    return loss;
}

/* The network runs once on the n images; the pair losses only see their embeddings. The buffers
 * for the pairs are allocated at the first call and reused. */
static siamese_status trainer_step_batch(siamese_trainer *t, const float *images,
                                         const int *classes, int n, siamese_mining mining,
                                         float *loss, int *pairs) {
    save_running_stats(t);
    sm_net_set_dropout_seed(t->model->net, (uint64_t)t->adam.step);
    siamese_status st = sm_net_forward(t->model->net, images, n, 1, t->emb, &t->err);
    if (st) {
        restore_running_stats(t);
        return st;
    }
    double value = labelled_batch_loss(t, classes, n, mining, pairs);
    *loss = (float)value;
    if (!isfinite(value)) return numeric_failure(t, "the loss");
    return backward_and_update(t);
}

siamese_status siamese_trainer_step_batch(siamese_trainer *trainer, const float *images,
                                          const int *classes, int n, siamese_mining mining,
                                          float *loss, int *pairs) {
    if (!trainer) return SIAMESE_ERR_INVALID_ARG;
    siamese_status st = check_labelled_batch(trainer, images, classes, n, loss);
    if (st) return st;
    sm_threads_scope threads = sm_model_threads_enter(trainer->model);
    st = trainer_step_batch(trainer, images, classes, n, mining, loss, pairs);
    sm_threads_leave(threads);
    return st;
}

/* Evaluation takes any n: it runs in chunks of max_pairs and averages the per-pair losses. */
siamese_status siamese_trainer_evaluate(siamese_trainer *trainer, const float *a, const float *b,
                                        const float *labels, int n, float *loss, float *distances) {
    if (!trainer) return SIAMESE_ERR_INVALID_ARG;
    siamese_trainer *t = trainer;
    int chunk = t->params.max_pairs;
    siamese_status st = check_batch(t, a, b, labels, n < chunk ? n : chunk, loss);
    if (st) return st;
    sm_threads_scope threads = sm_model_threads_enter(t->model);
    double total = 0;
    for (int start = 0; st == SIAMESE_OK && start < n; start += chunk) {
        int count = n - start < chunk ? n - start : chunk;
        size_t offset = (size_t)start * t->image_floats;
        const float *input = stack_pairs(t, a + offset, b + offset, count);
        double value = 0;
        st = forward_and_loss(t, input, 0, labels + start, count, &value,
                              distances ? distances + start : NULL);
        total += value * count;
    }
    sm_threads_leave(threads);
    if (st == SIAMESE_OK) *loss = (float)(total / n);
    return st;
}
