/* The oneDNN engine (sm_net) against the double-precision reference kernels: every layer kind on
 * random shapes, forward and backward, fused conv+relu, batchnorm modes, a reduced seed network
 * and several batch sizes through one engine. Max relative error <= 1e-4 everywhere. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/arch.h"
#include "nn/net.h"
#include "oracle/oracle.h"
#include "test_util.h"

#define TOL 1e-4

/* ---------------------------------------------------------------- small helpers */

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    cr_assert_not_null(p, "out of memory");
    return p;
}

static size_t per_image(sm_shape s) { return (size_t)s.c * (size_t)s.h * (size_t)s.w; }

static double *to_double(const float *v, size_t n) {
    double *d = xcalloc(n, sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

static double *to_double_copy(const double *v, size_t n) {
    double *d = xcalloc(n, sizeof *d);
    memcpy(d, v, n * sizeof *d);
    return d;
}

static double rel_err(const float *got, const double *want, size_t n) {
    double *g = to_double(got, n);
    double e = tu_max_rel_err_d(g, want, n);
    free(g);
    return e;
}

static uint64_t rng_state;
static int rand_int(int lo, int hi) /* inclusive */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

/* Largest error seen per layer kind, printed at the end of each test for the record. */
typedef struct err_log {
    double fwd, bwd;
} err_log;

static void note(err_log *log, double fwd, double bwd) {
    if (fwd > log->fwd) log->fwd = fwd;
    if (bwd > log->bwd) log->bwd = bwd;
}

/* ---------------------------------------------------------------- reference network */

typedef struct refnet {
    const sm_arch *a;
    const sm_param_table *t;
    int n;
    double *p, *g, *buf; /* parameters, gradients, buffers (double copies of the engine's) */
    double *act[SM_MAX_LAYERS + 1]; /* act[0] input, act[i + 1] output of layer i */
    double *mean[SM_MAX_LAYERS], *invstd[SM_MAX_LAYERS];
    int training;
    unsigned char frozen[SM_MAX_LAYERS]; /* layers whose parameters get no gradient */
} refnet;

static double *tensor(const refnet *r, double *base, int layer, const char *suffix) {
    for (int i = 0; i < r->t->n; i++) {
        const sm_tensor_info *ti = &r->t->t[i];
        size_t a = strlen(ti->name), b = strlen(suffix);
        if (ti->layer == layer && a >= b && strcmp(ti->name + a - b, suffix) == 0)
            return base + ti->offset;
    }
    return NULL;
}

static void refnet_clear(refnet *r) {
    for (int i = 0; i <= SM_MAX_LAYERS; i++) {
        free(r->act[i]);
        r->act[i] = NULL;
    }
    for (int i = 0; i < SM_MAX_LAYERS; i++) {
        free(r->mean[i]);
        free(r->invstd[i]);
        r->mean[i] = r->invstd[i] = NULL;
    }
}

static void refnet_init(refnet *r, sm_net *net) {
    memset(r, 0, sizeof *r);
    r->a = sm_net_arch(net);
    r->t = sm_net_table(net);
    r->p = to_double(sm_net_params(net), r->t->n_params);
    r->g = xcalloc(r->t->n_params, sizeof(double));
    r->buf = to_double(sm_net_buffers(net), r->t->n_buffers);
}

static void refnet_free(refnet *r) {
    refnet_clear(r);
    free(r->p);
    free(r->g);
    free(r->buf);
}

static sm_conv_geom conv_geom(const sm_layer *l, int n) {
    sm_conv_geom g = {n,
                      l->in.c,
                      l->in.h,
                      l->in.w,
                      l->out,
                      l->kh,
                      l->kw,
                      l->sh,
                      l->sw,
                      l->ph,
                      l->pw,
                      0,
                      0,
                      l->groups,
                      l->ph_end - l->ph,
                      l->pw_end - l->pw};
    cr_assert(sm_conv_geom_finish(&g), "bad conv geometry");
    return g;
}

static sm_pool_geom pool_geom(const sm_layer *l, int n) {
    sm_pool_geom g = {n, l->in.c, l->in.h, l->in.w, l->kh, l->kw, l->sh, l->sw, l->ph, l->pw, 0, 0};
    cr_assert(sm_pool_geom_finish(&g), "bad pool geometry");
    return g;
}

/* The block layer that opens the block layer i is in, and its skip layer (or -1). */
static int block_of(const sm_arch *a, int i) {
    while (a->layers[i].kind != SM_LAYER_BLOCK) i--;
    return i;
}

static int skip_of(const sm_arch *a, int i) {
    for (int k = i; a->layers[k].kind != SM_LAYER_BLOCK; k--)
        if (a->layers[k].kind == SM_LAYER_SKIP) return k;
    return -1;
}

/* Constant statistics for layer i: the running ones (frozen batchnorm; the variance read as
 * running_var for forward_infer, kept as invstd for backward) or mean 0, variance 1 (scale). */
static void fixed_stats(refnet *r, int i, const double *rm, const double *rv, double eps) {
    int c = r->a->layers[i].in.c;
    r->mean[i] = xcalloc((size_t)c, sizeof(double));
    r->invstd[i] = xcalloc((size_t)c, sizeof(double));
    for (int k = 0; k < c; k++) {
        r->mean[i][k] = rm ? rm[k] : 0.0;
        r->invstd[i][k] = rv ? 1.0 / sqrt(rv[k] + eps) : 1.0;
    }
}

static void ref_forward(refnet *r, const float *x, int n, int training) {
    refnet_clear(r);
    r->n = n;
    r->training = training;
    r->act[0] = to_double(x, (size_t)n * per_image(r->a->input));
    for (int i = 0; i < r->a->n_layers; i++) {
        const sm_layer *l = &r->a->layers[i];
        size_t in_e = per_image(l->in), out_e = per_image(l->out_shape);
        const double *xin = r->act[i];
        double *y = xcalloc((size_t)n * out_e, sizeof *y);
        double *w = tensor(r, r->p, i, ".weight"), *b = tensor(r, r->p, i, ".bias");
        switch (l->kind) {
        case SM_LAYER_CONV2D: {
            sm_conv_geom g = conv_geom(l, n);
            sm_ref_conv2d_forward(&g, xin, w, b, y);
            break;
        }
        case SM_LAYER_RELU:
            sm_ref_relu_forward((long)(n * in_e), xin, y);
            break;
        case SM_LAYER_MAXPOOL2D: {
            sm_pool_geom g = pool_geom(l, n);
            sm_ref_maxpool2d_forward(&g, xin, y);
            break;
        }
        case SM_LAYER_LINEAR:
            sm_ref_linear_forward(n, (int)in_e, l->out, xin, w, b, y);
            break;
        case SM_LAYER_FLATTEN:
        case SM_LAYER_DROPOUT: /* compared in inference only (test_dropout checks training) */
            memcpy(y, xin, (size_t)n * in_e * sizeof *y);
            break;
        case SM_LAYER_BLOCK:
            memcpy(y, xin, (size_t)n * in_e * sizeof *y);
            break;
        case SM_LAYER_SKIP: /* the skip branch starts from the block's input */
            memcpy(y, r->act[block_of(r->a, i)], (size_t)n * out_e * sizeof *y);
            break;
        case SM_LAYER_ADD: {
            int sk = skip_of(r->a, i);
            const double *other = sk >= 0 ? r->act[sk] : r->act[block_of(r->a, i)];
            for (size_t k = 0; k < (size_t)n * out_e; k++) y[k] = xin[k] + other[k];
            break;
        }
        case SM_LAYER_AVGPOOL:
            sm_ref_avgpool_forward(n, l->in.c, l->in.h * l->in.w, xin, y);
            break;
        case SM_LAYER_SCALE:
            fixed_stats(r, i, NULL, NULL, 0.0);
            sm_ref_batchnorm2d_forward_infer(n, l->in.c, l->in.h * l->in.w, xin, w, b, 0.0,
                                             r->mean[i], r->invstd[i], y);
            break;
        case SM_LAYER_BATCHNORM2D: {
            int c = l->in.c, hw = l->in.h * l->in.w;
            double *rm = tensor(r, r->buf, i, ".running_mean");
            double *rv = tensor(r, r->buf, i, ".running_var");
            if (training && l->bn_frozen) {
                fixed_stats(r, i, rm, rv, l->bn_eps);
                sm_ref_batchnorm2d_forward_infer(n, c, hw, xin, w, b, l->bn_eps, rm, rv, y);
            } else if (training) {
                r->mean[i] = xcalloc((size_t)c, sizeof(double));
                r->invstd[i] = xcalloc((size_t)c, sizeof(double));
                sm_ref_batchnorm2d_forward_train(n, c, hw, xin, w, b, l->bn_eps, l->bn_momentum, rm,
                                                 rv, y, r->mean[i], r->invstd[i]);
            } else {
                sm_ref_batchnorm2d_forward_infer(n, c, hw, xin, w, b, l->bn_eps, rm, rv, y);
            }
            break;
        }
        }
        r->act[i + 1] = y;
    }
}

static void ref_backward(refnet *r, const float *d_emb) {
    int n = r->n, L = r->a->n_layers;
    double *dcur = to_double(d_emb, (size_t)n * per_image(r->a->layers[L - 1].out_shape));
    double *d_main = NULL; /* add -> skip: the main branch output's gradient */
    double *d_x = NULL;    /* add or skip -> block: the block input's gradient through the skip */
    for (int i = L - 1; i >= 0; i--) {
        const sm_layer *l = &r->a->layers[i];
        size_t in_e = per_image(l->in);
        double *dprev = xcalloc((size_t)n * in_e, sizeof *dprev);
        double *dx = i > 0 ? dprev : NULL;
        const double *xin = r->act[i];
        double *w = tensor(r, r->p, i, ".weight");
        double *dw = tensor(r, r->g, i, ".weight"), *db = tensor(r, r->g, i, ".bias");
        switch (l->kind) {
        case SM_LAYER_CONV2D: {
            sm_conv_geom g = conv_geom(l, n);
            sm_ref_conv2d_backward(&g, xin, w, dcur, dx, dw, db);
            break;
        }
        case SM_LAYER_RELU:
            sm_ref_relu_backward((long)(n * in_e), xin, dcur, dprev);
            break;
        case SM_LAYER_MAXPOOL2D: {
            sm_pool_geom g = pool_geom(l, n);
            sm_ref_maxpool2d_backward(&g, xin, dcur, dprev);
            break;
        }
        case SM_LAYER_LINEAR:
            sm_ref_linear_backward(n, (int)in_e, l->out, xin, w, dcur, dx, dw, db);
            break;
        case SM_LAYER_FLATTEN:
        case SM_LAYER_DROPOUT:
            for (size_t k = 0; k < (size_t)n * in_e; k++) dprev[k] += dcur[k];
            break;
        case SM_LAYER_BATCHNORM2D:
            if (l->bn_frozen)
                sm_ref_batchnorm2d_backward_fixed(n, l->in.c, l->in.h * l->in.w, xin, w, r->mean[i],
                                                  r->invstd[i], dcur, dprev, dw, db);
            else
                sm_ref_batchnorm2d_backward(n, l->in.c, l->in.h * l->in.w, xin, w, r->mean[i],
                                            r->invstd[i], dcur, dprev, dw, db);
            break;
        case SM_LAYER_SCALE:
            sm_ref_batchnorm2d_backward_fixed(n, l->in.c, l->in.h * l->in.w, xin, w, r->mean[i],
                                              r->invstd[i], dcur, dprev, dw, db);
            break;
        case SM_LAYER_AVGPOOL:
            sm_ref_avgpool_backward(n, l->in.c, l->in.h * l->in.w, dcur, dprev);
            break;
        case SM_LAYER_ADD: /* both branches get the output's gradient */
            for (size_t k = 0; k < (size_t)n * in_e; k++) dprev[k] = dcur[k];
            if (skip_of(r->a, i) >= 0) {
                d_main = to_double_copy(dcur, (size_t)n * in_e);
            } else {
                d_x = to_double_copy(dcur, (size_t)n * in_e);
            }
            break;
        case SM_LAYER_SKIP: /* dcur: the block input's gradient through the projection */
            d_x = to_double_copy(dcur, (size_t)n * per_image(l->out_shape));
            for (size_t k = 0; k < (size_t)n * in_e; k++) dprev[k] = d_main[k];
            free(d_main);
            d_main = NULL;
            break;
        case SM_LAYER_BLOCK:
            for (size_t k = 0; k < (size_t)n * in_e; k++) dprev[k] = dcur[k] + d_x[k];
            free(d_x);
            d_x = NULL;
            break;
        }
        free(dcur);
        dcur = dprev;
    }
    free(dcur);
    for (int i = 0; i < r->t->n; i++) /* frozen layers: no parameter gradient */
        if (r->t->t[i].role == SM_TENSOR_PARAM && r->frozen[r->t->t[i].layer])
            memset(r->g + r->t->t[i].offset, 0, r->t->t[i].count * sizeof(double));
}

/* ---------------------------------------------------------------- engine set-up */

/* Parses text, builds the engine and fills parameters (and batchnorm buffers) with values of
 * a sensible scale: weights +-1/sqrt(fan_in), biases +-0.2, batchnorm gamma in [0.5, 1.5]. */
static sm_net *make_net(const char *text, sm_shape input, int max_batch, uint64_t seed) {
    sm_arch arch;
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = sm_arch_parse(text, input, &arch, &err);
    cr_assert_eq(st, SIAMESE_OK, "parse %s: %s", text, err.msg);
    sm_net *net = NULL;
    st = sm_net_create(&arch, max_batch, &net, &err);
    cr_assert_eq(st, SIAMESE_OK, "create %s: %s", text, err.msg);
    const sm_param_table *t = sm_net_table(net);
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *ti = &t->t[i];
        const sm_layer *l = &arch.layers[ti->layer];
        float *base = ti->role == SM_TENSOR_PARAM ? sm_net_params_write(net) : sm_net_buffers(net);
        if (ti->role == SM_TENSOR_COUNTER) continue;
        float lo = -0.2f, hi = 0.2f;
        if (l->kind == SM_LAYER_BATCHNORM2D || l->kind == SM_LAYER_SCALE) {
            if (ti->slot == SM_SLOT_WEIGHT || ti->slot == SM_SLOT_RUNNING_VAR) lo = 0.5f, hi = 1.5f;
        } else if (ti->ndim >= 2) {
            hi = (float)(1.0 / sqrt((double)(ti->count / (size_t)ti->dims[0])));
            lo = -hi;
        }
        tu_fill_uniform(base + ti->offset, ti->count, lo, hi, seed * 1000 + (uint64_t)i);
    }
    return net;
}

static float *random_floats(size_t n, float lo, float hi, uint64_t seed) {
    float *v = xcalloc(n, sizeof *v);
    tu_fill_uniform(v, n, lo, hi, seed);
    return v;
}

static size_t emb_dim(sm_net *net) { return (size_t)sm_arch_embedding_dim(sm_net_arch(net)); }

/* Max relative error over every parameter gradient, each compared against factor * ref. */
static double grads_err(sm_net *net, const refnet *r, double factor, const char *what) {
    const sm_param_table *t = sm_net_table(net);
    double worst = 0.0;
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *ti = &t->t[i];
        if (ti->role != SM_TENSOR_PARAM) continue;
        double *want = xcalloc(ti->count, sizeof *want);
        for (size_t k = 0; k < ti->count; k++) want[k] = factor * r->g[ti->offset + k];
        double e = rel_err(sm_net_grads(net) + ti->offset, want, ti->count);
        free(want);
        cr_expect_leq(e, TOL, "%s: gradient %s relative error %.3g", what, ti->name, e);
        if (e > worst) worst = e;
    }
    return worst;
}

/* One training forward + two backward calls (gradients must accumulate) against the
 * reference; returns the forward and backward errors through *fe / *be. */
static void check_train_step(sm_net *net, refnet *r, int n, uint64_t seed, const char *what,
                             double *fe, double *be) {
    const sm_arch *a = sm_net_arch(net);
    size_t E = emb_dim(net);
    float *x = random_floats((size_t)n * per_image(a->input), -1.0f, 1.0f, seed);
    float *emb = xcalloc((size_t)n * E, sizeof *emb);
    float *demb = random_floats((size_t)n * E, -1.0f, 1.0f, seed + 1);
    sm_err err;
    sm_err_clear(&err);
    sm_net_zero_grads(net);
    memset(r->g, 0, r->t->n_params * sizeof(double));

    cr_assert_eq(sm_net_forward(net, x, n, 1, emb, &err), SIAMESE_OK, "%s: %s", what, err.msg);
    ref_forward(r, x, n, 1);
    *fe = rel_err(emb, r->act[a->n_layers], (size_t)n * E);
    cr_expect_leq(*fe, TOL, "%s: embeddings relative error %.3g", what, *fe);

    cr_assert_eq(sm_net_backward(net, demb, &err), SIAMESE_OK, "%s: %s", what, err.msg);
    ref_backward(r, demb);
    *be = grads_err(net, r, 1.0, what);
    cr_assert_eq(sm_net_backward(net, demb, &err), SIAMESE_OK, "%s: %s", what, err.msg);
    double acc = grads_err(net, r, 2.0, what);
    if (acc > *be) *be = acc;
    free(x);
    free(emb);
    free(demb);
}

static void run_case(const char *text, sm_shape input, int n, uint64_t seed, err_log *log) {
    sm_net *net = make_net(text, input, n, seed);
    refnet r;
    refnet_init(&r, net);
    double fe, be;
    check_train_step(net, &r, n, seed + 7, text, &fe, &be);
    note(log, fe, be);
    refnet_free(&r);
    sm_net_free(net);
}

static void report(const char *kind, const err_log *log) {
    cr_log_info("%s: max relative error forward %.3g, backward %.3g", kind, log->fwd, log->bwd);
    fprintf(stderr, "[net_vs_ref] %-22s forward %.3g backward %.3g\n", kind, log->fwd, log->bwd);
}

/* ---------------------------------------------------------------- tests per layer kind */

/* Two convolutions (so the second one's backward-data is checked through the first one's
 * weight gradients): odd sizes, rectangular kernels, strides 1-4, paddings, with and without
 * bias, batch sizes 1-5. */
Test(net_vs_ref, conv2d_random_shapes) {
    err_log log = {0};
    rng_state = 12345;
    int done = 0;
    for (int attempt = 0; done < 10 && attempt < 200; attempt++) {
        int c = rand_int(1, 5), h = rand_int(5, 19), w = rand_int(5, 19);
        int o1 = rand_int(1, 20), kh1 = rand_int(1, 5), kw1 = rand_int(1, 5);
        int sh1 = rand_int(1, 3), sw1 = rand_int(1, 3);
        int ph1 = rand_int(0, kh1 - 1), pw1 = rand_int(0, kw1 - 1);
        int o2 = rand_int(1, 7), kh2 = rand_int(1, 4), kw2 = rand_int(1, 4);
        int sh2 = rand_int(1, 4), sw2 = rand_int(1, 4), ph2 = rand_int(0, 2), pw2 = rand_int(0, 2);
        int bias = rand_int(0, 1), n = rand_int(1, 5);
        int oh1 = (h + 2 * ph1 - kh1) / sh1 + 1, ow1 = (w + 2 * pw1 - kw1) / sw1 + 1;
        if (oh1 < 1 || ow1 < 1 || oh1 + 2 * ph2 < kh2 || ow1 + 2 * pw2 < kw2) continue;
        char text[256];
        snprintf(text, sizeof text,
                 "conv(%d,k=%dx%d,s=%dx%d,p=%dx%d,bias=%d) conv(%d,k=%dx%d,s=%dx%d,p=%dx%d)", o1,
                 kh1, kw1, sh1, sw1, ph1, pw1, bias, o2, kh2, kw2, sh2, sw2, ph2, pw2);
        run_case(text, (sm_shape){c, h, w}, n, 100 + (uint64_t)attempt, &log);
        done++;
    }
    cr_assert_eq(done, 10, "could not draw enough valid shapes");
    report("conv2d", &log);
}

/* No step of the training plan of text (batch n) names banned (what: what that would be). */
static void no_training_step(const char *text, sm_shape input, int n, const char *banned,
                             const char *what) {
    sm_net *net = make_net(text, input, n, 402);
    sm_err err;
    sm_err_clear(&err);
    char steps[16384];
    size_t len = sm_net_describe(net, n, 1, steps, sizeof steps, &err);
    cr_assert(len > 0 && len < sizeof steps, "describe %s: %s", text, err.msg);
    cr_assert_null(strstr(steps, banned), "%s: %s in training:\n%s", text, what, steps);
    sm_net_free(net);
}

/* A convolution of fewer than 16 input channels after a layer the forward left plain, whose
 * output is blocked (16 channels): oneDNN has only its reference kernel for the backward over
 * those layouts, 1500 times slower, so the layer runs its backward over layouts oneDNN chose
 * (copies made by reorders). The gradients still match, and no step of the training plan is a
 * reference kernel; the single-channel input convolution is there too. */
Test(net_vs_ref, few_channels_backward_not_reference) {
    err_log log = {0};
    const char *text = "conv(8,k=5,s=2) relu maxpool(2) conv(16,k=3) relu linear(16)";
    const char *grouped = "conv(8,k=3) relu conv(24,k=3,g=4) relu conv(4,k=1) linear(8)";
    run_case(text, (sm_shape){1, 30, 26}, 4, 400, &log);
    run_case(grouped, (sm_shape){3, 12, 11}, 3, 401, &log);
    report("few-channel backward", &log);
    no_training_step(text, (sm_shape){1, 30, 26}, 4, "ref:", "a reference kernel");
    no_training_step(grouped, (sm_shape){3, 12, 11}, 4, "ref:", "a reference kernel");
}

/* Max pooling whose windows tile the map (stride = kernel, no padding) over 16-channel blocks
 * runs on the host kernel of maxpool_tiles.c in training: rows and columns no window covers
 * (odd sizes), channels padded to a block (20 of 32), 3x3 and 2x3 windows, after a fused
 * batchnorm + relu (ties at 0; the conv before it has no bias, whose gradient would be 0) and
 * before a linear layer. The gradients match the reference,
 * and no training plan here has a oneDNN pooling step left. */
Test(net_vs_ref, maxpool_tiles_host_kernel) {
    err_log log = {0};
    const char *cases[3] = {"conv(20,k=3,bias=0) batchnorm relu maxpool(2) conv(4,k=1) linear(3)",
                            "conv(16,k=3,p=1) relu maxpool(3) linear(5)",
                            "conv(32,k=1) maxpool(2x3,s=2x3) conv(2,k=1)"};
    sm_shape inputs[3] = {{3, 13, 11}, {2, 14, 10}, {3, 9, 14}};
    for (int i = 0; i < 3; i++) {
        run_case(cases[i], inputs[i], 3, 450 + (uint64_t)i, &log);
        no_training_step(cases[i], inputs[i], 3, "pooling", "oneDNN pooling");
    }
    report("maxpool2d (host kernel)", &log);
}

/* conv followed by relu is fused (post-op forward, relu backward from the saved output). */
Test(net_vs_ref, conv_relu_fused) {
    err_log log = {0};
    run_case("conv(6,k=3) relu conv(3,k=2,s=2) relu", (sm_shape){3, 9, 11}, 3, 1, &log);
    run_case("conv(17,k=3x2,s=2,p=1) relu conv(5,k=3) relu linear(4)", (sm_shape){2, 13, 10}, 4, 2,
             &log);
    report("conv2d+relu (fused)", &log);
}

/* Grouped (and depthwise) convolutions and convolutions padded only at the bottom/right
 * (conv2d.c, oneDNN's grouped weights), alone and in face-api's dense blocks: separable
 * convolutions summed by residual blocks whose main branch starts with a relu. */
Test(net_vs_ref, grouped_and_end_padded_conv) {
    err_log log = {0};
    run_case("conv(6,k=3,g=3) relu conv(4,k=3,s=2,pe=1,g=2) conv(4,k=1)", (sm_shape){3, 9, 8}, 3,
             140, &log);
    run_case("conv(8,k=3,s=2,pe=1) relu conv(8,k=3,p=1,g=8,bias=0) conv(8,k=1) "
             "block relu conv(8,k=3,p=1,g=8,bias=0) conv(8,k=1) add relu "
             "conv(8,k=3,s=2,pe=1,g=8,bias=0) conv(16,k=1) avgpool linear(5)",
             (sm_shape){3, 12, 12}, 2, 141, &log);
    report("grouped conv", &log);
}

/* Weight gradients big enough to be accumulated by a oneDNN reorder with a sum post-op (the
 * small ones are summed on the host). */
Test(net_vs_ref, large_weight_gradients) {
    err_log log = {0};
    run_case("conv(32,k=3,p=1) relu conv(64,k=3) relu conv(16,k=2,s=2)", (sm_shape){3, 11, 9}, 2,
             120, &log);
    report("conv2d (large weights)", &log);
}

/* relu on its own: after a linear layer, after a pooling layer, and as the first layer. */
Test(net_vs_ref, relu_standalone) {
    err_log log = {0};
    run_case("linear(9) relu linear(3)", (sm_shape){2, 3, 5}, 5, 3, &log);
    run_case("conv(4,k=3) maxpool(2) relu conv(2,k=1)", (sm_shape){3, 10, 9}, 2, 4, &log);
    run_case("relu conv(3,k=3) relu", (sm_shape){2, 7, 7}, 2, 5, &log);
    report("relu", &log);
}

/* Pooling windows of many shapes; a 1x1 conv before it carries the gradient back. Random
 * inputs make every window's values distinct. */
Test(net_vs_ref, maxpool2d_random_shapes) {
    err_log log = {0};
    rng_state = 777;
    int done = 0;
    for (int attempt = 0; done < 8 && attempt < 200; attempt++) {
        int c = rand_int(1, 20), h = rand_int(4, 21), w = rand_int(4, 21);
        int kh = rand_int(1, 4), kw = rand_int(1, 4), sh = rand_int(1, 4), sw = rand_int(1, 4);
        int ph = rand_int(0, kh / 2), pw = rand_int(0, kw / 2), n = rand_int(1, 5);
        if (h + 2 * ph < kh || w + 2 * pw < kw) continue;
        char text[256];
        snprintf(text, sizeof text, "conv(%d,k=1) maxpool(%dx%d,s=%dx%d,p=%dx%d) conv(2,k=1)", c,
                 kh, kw, sh, sw, ph, pw);
        run_case(text, (sm_shape){3, h, w}, n, 200 + (uint64_t)attempt, &log);
        done++;
    }
    cr_assert_eq(done, 8, "could not draw enough valid shapes");
    report("maxpool2d", &log);
}

/* Linear layers on flat input, after an implicit flatten of a blocked conv output (20
 * channels: oneDNN pads them to a 16-channel block) and after an explicit flatten. */
Test(net_vs_ref, linear_and_flatten) {
    err_log log = {0};
    run_case("linear(7) linear(3)", (sm_shape){2, 3, 5}, 4, 11, &log);
    run_case("linear(5,bias=0) linear(1)", (sm_shape){1, 1, 13}, 1, 12, &log);
    run_case("conv(20,k=3) linear(5)", (sm_shape){3, 7, 6}, 3, 13, &log);
    run_case("conv(33,k=2,s=2) relu flatten linear(6) linear(2)", (sm_shape){2, 9, 9}, 2, 14, &log);
    report("linear/flatten", &log);
}

/* batchnorm2d: training (batch statistics, running statistics, counter), then inference with
 * the running statistics. */
Test(net_vs_ref, batchnorm2d_train_then_infer) {
    err_log log = {0};
    sm_shape in = {3, 8, 7};
    int n = 4;
    sm_net *net = make_net("conv(5,k=3,bias=0) batchnorm relu conv(3,k=2)", in, n, 21);
    refnet r;
    refnet_init(&r, net);
    const sm_param_table *t = sm_net_table(net);
    for (int step = 0; step < 2; step++) {
        double fe, be;
        check_train_step(net, &r, n, 30 + (uint64_t)step, "batchnorm train", &fe, &be);
        note(&log, fe, be);
        double *buf = r.buf;
        double e = rel_err(sm_net_buffers(net), buf, t->n_buffers);
        cr_expect_leq(e, TOL, "running statistics relative error %.3g", e);
        note(&log, e, 0.0);
        int k = sm_param_table_find(t, "bn1.num_batches_tracked");
        cr_assert_geq(k, 0);
        cr_expect_eq(sm_net_counters(net)[t->t[k].offset], step + 1);
    }
    size_t E = emb_dim(net);
    float *x = random_floats((size_t)n * per_image(in), -1.0f, 1.0f, 40);
    float *emb = xcalloc((size_t)n * E, sizeof *emb);
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_net_forward(net, x, n, 0, emb, &err), SIAMESE_OK, "%s", err.msg);
    ref_forward(&r, x, n, 0);
    double fe = rel_err(emb, r.act[sm_net_arch(net)->n_layers], (size_t)n * E);
    cr_expect_leq(fe, TOL, "inference embeddings relative error %.3g", fe);
    note(&log, fe, 0.0);
    free(x);
    free(emb);
    refnet_free(&r);
    sm_net_free(net);
    report("batchnorm2d", &log);
}

/* ---------------------------------------------------------------- whole networks */

#define SEED_SMALL                                                                                 \
    "conv(8,k=11,s=4) relu maxpool(3,s=2) conv(8,k=5) relu maxpool(2,s=2) "                        \
    "conv(12,k=3) relu linear(32) linear(16) linear(1)"

/* The recipe's network at reduced widths: embeddings and every gradient. */
Test(net_vs_ref, seed_network_reduced) {
    err_log log = {0};
    run_case(SEED_SMALL, (sm_shape){3, 96, 96}, 4, 50, &log);
    report("seed (reduced widths)", &log);
}

/* Two batch sizes through one engine (each gets its own plan; memory grows to the larger),
 * then the first size again, and an inference forward between a training forward and its
 * backward must not disturb the backward. */
Test(net_vs_ref, batch_sizes_share_one_engine) {
    err_log log = {0};
    sm_shape in = {3, 96, 96};
    sm_net *net = make_net(SEED_SMALL, in, 5, 60);
    refnet r;
    refnet_init(&r, net);
    int sizes[] = {2, 5, 2, 1};
    for (int i = 0; i < 4; i++) {
        double fe, be;
        check_train_step(net, &r, sizes[i], 61 + (uint64_t)i, "batch sizes", &fe, &be);
        note(&log, fe, be);
    }

    size_t E = emb_dim(net);
    int n = 3;
    float *x = random_floats((size_t)n * per_image(in), -1.0f, 1.0f, 70);
    float *x2 = random_floats((size_t)5 * per_image(in), -1.0f, 1.0f, 71);
    float *emb = xcalloc(5 * E, sizeof *emb);
    float *demb = random_floats((size_t)n * E, -1.0f, 1.0f, 72);
    sm_err err;
    sm_err_clear(&err);
    sm_net_zero_grads(net);
    memset(r.g, 0, r.t->n_params * sizeof(double));
    cr_assert_eq(sm_net_forward(net, x, n, 1, emb, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_net_forward(net, x2, 5, 0, emb, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_net_backward(net, demb, &err), SIAMESE_OK, "%s", err.msg);
    ref_forward(&r, x, n, 1);
    ref_backward(&r, demb);
    note(&log, 0.0, grads_err(net, &r, 1.0, "inference between forward and backward"));
    free(x);
    free(x2);
    free(emb);
    free(demb);
    refnet_free(&r);
    sm_net_free(net);
    report("several batch sizes", &log);
}

/* Changing the OpenMP thread count between steps rebuilds the plans for it; results stay
 * right. */
Test(net_vs_ref, thread_count_change) {
    int threads = omp_get_max_threads();
    sm_net *net =
        make_net("conv(20,k=3,s=2) relu maxpool(2) linear(5)", (sm_shape){3, 17, 15}, 4, 110);
    refnet r;
    refnet_init(&r, net);
    double fe, be;
    check_train_step(net, &r, 4, 111, "default threads", &fe, &be);
    omp_set_num_threads(1);
    check_train_step(net, &r, 4, 112, "one thread", &fe, &be);
    omp_set_num_threads(threads);
    check_train_step(net, &r, 4, 113, "threads restored", &fe, &be);
    refnet_free(&r);
    sm_net_free(net);
}

/* Inference and training forwards give the same embeddings when no layer depends on mode. */
Test(net_vs_ref, inference_matches_training_forward) {
    sm_shape in = {3, 96, 96};
    int n = 3;
    sm_net *net = make_net(SEED_SMALL, in, n, 80);
    size_t E = emb_dim(net);
    float *x = random_floats((size_t)n * per_image(in), -1.0f, 1.0f, 81);
    float *e1 = xcalloc((size_t)n * E, sizeof *e1), *e2 = xcalloc((size_t)n * E, sizeof *e2);
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_net_forward(net, x, n, 1, e1, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_net_forward(net, x, n, 0, e2, &err), SIAMESE_OK, "%s", err.msg);
    double *d1 = to_double(e1, (size_t)n * E);
    double e = rel_err(e2, d1, (size_t)n * E);
    cr_expect_leq(e, 1e-6, "inference vs training forward relative error %.3g", e);
    free(d1);
    free(x);
    free(e1);
    free(e2);
    sm_net_free(net);
}

/* Parameters written between steps (as Adam does) are used by the next forward. */
Test(net_vs_ref, forward_rereads_parameters) {
    sm_shape in = {3, 12, 12};
    int n = 2;
    sm_net *net = make_net("conv(20,k=3) relu linear(4)", in, n, 90);
    size_t E = emb_dim(net);
    float *x = random_floats((size_t)n * per_image(in), -1.0f, 1.0f, 91);
    float *emb = xcalloc((size_t)n * E, sizeof *emb);
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_net_forward(net, x, n, 1, emb, &err), SIAMESE_OK, "%s", err.msg);
    float *p = sm_net_params_write(net);
    for (size_t i = 0; i < sm_net_table(net)->n_params; i++) p[i] *= 0.5f;
    cr_assert_eq(sm_net_forward(net, x, n, 1, emb, &err), SIAMESE_OK, "%s", err.msg);
    refnet r;
    refnet_init(&r, net);
    ref_forward(&r, x, n, 1);
    double e = rel_err(emb, r.act[sm_net_arch(net)->n_layers], (size_t)n * E);
    cr_expect_leq(e, TOL, "after a parameter update, relative error %.3g", e);
    refnet_free(&r);
    free(x);
    free(emb);
    sm_net_free(net);
}

Test(net_vs_ref, bad_calls_fail_cleanly) {
    sm_shape in = {1, 4, 4};
    sm_net *net = make_net("linear(2)", in, 2, 95);
    float x[3 * 16] = {0}, emb[6] = {0}, demb[6] = {0};
    sm_err err;
    sm_err_clear(&err);
    cr_expect_eq(sm_net_backward(net, demb, &err), SIAMESE_ERR_INVALID_ARG);
    cr_expect_neq(strlen(err.msg), 0u);
    cr_expect_eq(sm_net_forward(net, x, 3, 1, emb, &err), SIAMESE_ERR_INVALID_ARG);
    cr_expect_eq(sm_net_forward(net, x, 0, 1, emb, &err), SIAMESE_ERR_INVALID_ARG);
    cr_expect_eq(sm_net_forward(net, NULL, 1, 1, emb, &err), SIAMESE_ERR_INVALID_ARG);
    sm_net_free(net);
    sm_net_free(NULL);
}

/* A plan that cannot be built (batchnorm training on one value per channel) fails with a
 * message naming the layer, and the engine keeps working for other batch sizes. */
Test(net_vs_ref, failed_plan_leaves_engine_usable) {
    sm_shape in = {2, 1, 1};
    int n = 3;
    sm_net *net = make_net("linear(4) relu batchnorm linear(2)", in, n, 96);
    float x[6], emb[6], demb[6];
    tu_fill_uniform(x, 6, -1.0f, 1.0f, 97);
    tu_fill_uniform(demb, 6, -1.0f, 1.0f, 98);
    sm_err err;
    sm_err_clear(&err);
    cr_expect_eq(sm_net_forward(net, x, 1, 1, emb, &err), SIAMESE_ERR_SHAPE);
    cr_expect(strstr(err.msg, "bn1") != NULL, "message names the layer: %s", err.msg);
    refnet r;
    refnet_init(&r, net);
    double fe, be;
    check_train_step(net, &r, n, 99, "after a failed plan", &fe, &be);
    cr_assert_eq(sm_net_forward(net, x, 1, 0, emb, &err), SIAMESE_OK, "%s", err.msg);
    ref_forward(&r, x, 1, 0);
    double e = rel_err(emb, r.act[sm_net_arch(net)->n_layers], 2);
    cr_expect_leq(e, TOL, "inference with one image relative error %.3g", e);
    refnet_free(&r);
    sm_net_free(net);
}

/* ---------------------------------------------------------------- residual networks */

/* Identity and projected skips, a scale layer, global average pooling: training forward and
 * backward (the block input's gradient is the sum of both branches'), then inference. */
#define RESIDUAL_TEXT                                                                              \
    "conv(8,k=3,p=1,bias=0) bn relu "                                                              \
    "block conv(8,k=3,p=1,bias=0) bn relu conv(8,k=3,p=1,bias=0) bn add relu "                     \
    "block conv(16,k=3,s=2,p=1,bias=0) bn relu conv(16,k=3,p=1) scale "                            \
    "skip conv(16,k=1,s=2,bias=0) bn add relu avgpool linear(5)"

static void check_inference(sm_net *net, refnet *r, int n, uint64_t seed, const char *what,
                            err_log *log) {
    size_t E = emb_dim(net);
    float *x = random_floats((size_t)n * per_image(sm_net_arch(net)->input), -1.0f, 1.0f, seed);
    float *emb = xcalloc((size_t)n * E, sizeof *emb);
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_net_forward(net, x, n, 0, emb, &err), SIAMESE_OK, "%s: %s", what, err.msg);
    ref_forward(r, x, n, 0);
    double e = rel_err(emb, r->act[sm_net_arch(net)->n_layers], (size_t)n * E);
    cr_expect_leq(e, TOL, "%s: inference relative error %.3g", what, e);
    note(log, e, 0.0);
    free(x);
    free(emb);
}

Test(net_vs_ref, residual_blocks) {
    err_log log = {0};
    sm_shape in = {3, 11, 10};
    sm_net *net = make_net(RESIDUAL_TEXT, in, 4, 300);
    refnet r;
    refnet_init(&r, net);
    double fe, be;
    for (int step = 0; step < 2; step++) {
        check_train_step(net, &r, 4, 301 + (uint64_t)step, "residual train", &fe, &be);
        note(&log, fe, be);
    }
    double e = rel_err(sm_net_buffers(net), r.buf, r.t->n_buffers);
    cr_expect_leq(e, TOL, "running statistics relative error %.3g", e);
    check_inference(net, &r, 3, 310, "residual", &log);
    refnet_free(&r);
    sm_net_free(net);
    run_case("conv(4,k=1) block relu add avgpool", (sm_shape){2, 5, 6}, 3, 320, &log);
    report("residual blocks", &log);
}

/* Frozen batchnorm (frozen=1 in the text, or sm_net_freeze_layer) uses the running statistics
 * in training and leaves them as they are; frozen parameters get no gradient. */
Test(net_vs_ref, frozen_batchnorm_and_parameters) {
    err_log log = {0};
    sm_shape in = {3, 9, 8};
    sm_net *net =
        make_net("conv(6,k=3,bias=0) bn(frozen=1) relu conv(4,k=3) linear(3)", in, 3, 330);
    refnet r;
    refnet_init(&r, net);
    double fe, be;
    check_train_step(net, &r, 3, 331, "frozen batchnorm", &fe, &be);
    note(&log, fe, be);
    cr_expect_leq(rel_err(sm_net_buffers(net), r.buf, r.t->n_buffers), 0.0,
                  "frozen running statistics changed");
    refnet_free(&r);
    sm_net_free(net);

    net = make_net(RESIDUAL_TEXT, (sm_shape){3, 11, 10}, 4, 340);
    for (int i = 0; i < 9; i++) sm_net_freeze_layer(net, i, 1, 1); /* the stem and block 1 */
    refnet_init(&r, net);
    for (int i = 0; i < 9; i++) r.frozen[i] = 1;
    const sm_param_table *t = sm_net_table(net);
    float *before = xcalloc(t->n_buffers, sizeof *before);
    memcpy(before, sm_net_buffers(net), t->n_buffers * sizeof *before);
    check_train_step(net, &r, 4, 341, "frozen prefix", &fe, &be);
    note(&log, fe, be);
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *ti = &t->t[i];
        if (ti->layer >= 9 || ti->role == SM_TENSOR_COUNTER) continue;
        const float *v = ti->role == SM_TENSOR_PARAM ? sm_net_grads(net) : sm_net_buffers(net);
        const float *want = ti->role == SM_TENSOR_PARAM ? NULL : before;
        for (size_t k = 0; k < ti->count; k++)
            cr_assert_eq(v[ti->offset + k], want ? want[ti->offset + k] : 0.0f,
                         "%s of a frozen layer changed", ti->name);
    }
    free(before);
    refnet_free(&r);
    sm_net_free(net);
    report("frozen", &log);
}

/* ResNet-like tails: wide channels on 2x2 and 1x1 maps, blocks back to back. */
Test(net_vs_ref, residual_small_maps) {
    err_log log = {0};
    run_case("conv(32,k=3,p=1,bias=0) bn relu "
             "block conv(32,k=3,p=1,bias=0) bn relu conv(32,k=3,p=1,bias=0) bn add relu "
             "block conv(32,k=3,p=1,bias=0) bn relu conv(32,k=3,p=1,bias=0) bn add relu "
             "avgpool linear(16)",
             (sm_shape){16, 2, 2}, 2, 350, &log);
    run_case("conv(8,k=3,p=1,bias=0) bn relu "
             "block conv(8,k=3,p=1,bias=0) bn relu conv(8,k=3,p=1,bias=0) bn add relu "
             "block conv(8,k=3,p=1,bias=0) bn relu conv(8,k=3,p=1,bias=0) bn add relu "
             "avgpool linear(4)",
             (sm_shape){3, 6, 5}, 2, 351, &log);
    run_case("block conv(512,k=3,s=2,p=1,bias=0) bn relu conv(512,k=3,p=1,bias=0) bn "
             "skip conv(512,k=1,s=2,bias=0) bn add relu "
             "block conv(512,k=3,p=1,bias=0) bn relu conv(512,k=3,p=1,bias=0) bn add relu "
             "avgpool linear(16)",
             (sm_shape){256, 4, 4}, 2, 352, &log);
    report("residual small maps", &log);
}
