/* torchvision's ResNets: our resnet18 forward (eval and train), parameter gradients and running
 * statistics against torchvision in float64 (tests/fixtures/resnet, made by
 * tests/ref/make_resnet_fixtures.py), resnet50's bottleneck forward, the state_dict names, and
 * siamese_model_init_from (torchvision names load as they are; mismatches in one message). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "nn/arch.h"
#include "nn/net.h"
#include "siamese.h"
#include "test_util.h"

#define TOL 1e-4
#define RN18_SIDE 64

/* formula.py's numbers (tests/test_parity.c has the same twin). */
static double formula_u01(uint64_t stream, uint64_t i) {
    uint64_t counter = (stream << 32) | i;
    return (double)(sm_splitmix64(&counter) >> 40) * 0x1p-24;
}

/* The fixture maker's fill: tensor t of the state_dict uses stream t + 1. */
static void fill_like_fixture(sm_net *net) {
    const sm_param_table *table = sm_net_table(net);
    const sm_arch *arch = sm_net_arch(net);
    for (int t = 0; t < table->n; t++) {
        const sm_tensor_info *info = &table->t[t];
        const sm_layer *l = &arch->layers[info->layer];
        if (info->role == SM_TENSOR_COUNTER) {
            sm_net_counters(net)[info->offset] = 0;
            continue;
        }
        float *dst =
            (info->role == SM_TENSOR_PARAM ? sm_net_params_write(net) : sm_net_buffers(net)) +
            info->offset;
        int bn = l->kind == SM_LAYER_BATCHNORM2D;
        double fan_in = l->kind == SM_LAYER_CONV2D ? (double)l->in.c * l->kh * l->kw
                                                   : (double)l->in.c * l->in.h * l->in.w;
        for (size_t i = 0; i < info->count; i++) {
            double u = formula_u01((uint64_t)t + 1, i), v;
            if (!bn) v = (2 * u - 1) / sqrt(fan_in);
            else if (info->slot == SM_SLOT_WEIGHT || info->slot == SM_SLOT_RUNNING_VAR) v = 0.5 + u;
            else if (info->slot == SM_SLOT_BIAS) v = 0.2 * (2 * u - 1);
            else v = 0.1 * (2 * u - 1);
            dst[i] = (float)v;
        }
    }
}

static sm_st_file *read_fixture(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/resnet/%s", name);
    sm_st_file *f = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_safetensors_read(tu_source_path(rel), &f, &err), SIAMESE_OK, "%s", err.msg);
    return f;
}

static const float *need(const sm_st_file *f, const char *name, size_t count) {
    const sm_st_tensor *t = sm_safetensors_find(f, name);
    cr_assert_not_null(t, "fixture lacks '%s'", name);
    size_t n;
    cr_assert_eq(sm_st_element_count(t->ndim, t->shape, &n), 0);
    cr_assert_eq(n, count, "fixture '%s' has %zu values, want %zu", name, n, count);
    return t->data;
}

/* A preset with a 16-way fc (as torchvision's num_classes=16) for side x side images. */
static sm_net *make_resnet(const char *preset, int side, int batch) {
    sm_shape in;
    const char *text = sm_arch_preset_text(preset, &in);
    cr_assert_not_null(text);
    static char buf[16384];
    const char *head = strstr(text, "linear(128,name=fc)");
    cr_assert_not_null(head, "%s: no fc head", preset);
    snprintf(buf, sizeof buf, "%.*slinear(16,name=fc)", (int)(head - text), text);
    sm_arch *arch = malloc(sizeof *arch);
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_arch_parse(buf, (sm_shape){3, side, side}, arch, &err), SIAMESE_OK, "%s",
                 err.msg);
    sm_net *net = NULL;
    cr_assert_eq(sm_net_create(arch, batch, &net, &err), SIAMESE_OK, "%s", err.msg);
    free(arch);
    fill_like_fixture(net);
    return net;
}

/* The fixture's state_dict names and shapes, in order, are our table's. */
static void check_names(const sm_st_file *f, const sm_net *net) {
    const char *names = sm_safetensors_meta(f, "names");
    cr_assert_not_null(names);
    const sm_param_table *t = sm_net_table(net);
    static char ours[65536];
    size_t len = 0;
    for (int i = 0; i < t->n; i++) {
        len += (size_t)snprintf(ours + len, sizeof ours - len, "%s%s:", i ? "," : "", t->t[i].name);
        for (int d = 0; d < t->t[i].ndim; d++)
            len += (size_t)snprintf(ours + len, sizeof ours - len, "%s%lld", d ? "x" : "",
                                    (long long)t->t[i].dims[d]);
    }
    cr_assert_str_eq(ours, names, "state_dict names or shapes differ");
}

/* The image stream the fixture maker chose (its __metadata__ "image_stream"). */
static uint64_t image_stream(const sm_st_file *f) {
    const char *s = sm_safetensors_meta(f, "image_stream");
    cr_assert_not_null(s, "fixture lacks image_stream");
    return (uint64_t)strtoull(s, NULL, 10);
}

static double rel_err(const float *got, const float *want, size_t n) {
    return tu_max_rel_err_f(got, want, n);
}

static void forward(sm_net *net, const float *x, int training, float *y) {
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_net_forward(net, x, 2, training, y, &err), SIAMESE_OK, "%s", err.msg);
}

static float *formula_floats(uint64_t stream, size_t n, double scale, double shift) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (float)(scale * formula_u01(stream, i) + shift);
    return v;
}

typedef struct rn18_errors {
    double eval, train, grad, running;
} rn18_errors;

/* resnet18 on 2x3x64x64: eval and train outputs, then the gradients of sum(train * dout) and the
 * running statistics, each as the largest relative error against torchvision. */
static rn18_errors resnet18_errors(void) {
    rn18_errors r = {0, 0, 0, 0};
    sm_st_file *f = read_fixture("resnet18.ref.safetensors");
    sm_net *net = make_resnet("resnet18", RN18_SIDE, 2);
    check_names(f, net);
    float *x = formula_floats(image_stream(f), 2 * 3 * RN18_SIDE * RN18_SIDE, 1.0, 0.0);
    float *dout = formula_floats(1001, 2 * 16, 2.0, -1.0);
    float y[32];
    forward(net, x, 0, y);
    double e_eval = rel_err(y, need(f, "eval", 32), 32);
    forward(net, x, 1, y);
    double e_train = rel_err(y, need(f, "train", 32), 32);
    sm_err err;
    sm_err_clear(&err);
    sm_net_zero_grads(net);
    cr_assert_eq(sm_net_backward(net, dout, &err), SIAMESE_OK, "%s", err.msg);
    const sm_param_table *t = sm_net_table(net);
    double e_grad = 0.0, e_running = 0.0;
    char key[128];
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *ti = &t->t[i];
        if (ti->role == SM_TENSOR_PARAM) {
            size_t k = ti->count < 64 ? ti->count : 64;
            snprintf(key, sizeof key, "grad.%s", ti->name);
            const float *want = need(f, key, k);
            float got[64];
            for (size_t s = 0; s < k; s++) {
                size_t idx = (size_t)llround((double)s * (double)(ti->count - 1) / (double)(k - 1));
                got[s] = sm_net_grads(net)[ti->offset + idx];
            }
            double e = rel_err(got, want, k);
            if (e > e_grad) e_grad = e;
        } else if (ti->role == SM_TENSOR_BUFFER) {
            snprintf(key, sizeof key, "running.%s", ti->name);
            double e =
                rel_err(sm_net_buffers(net) + ti->offset, need(f, key, ti->count), ti->count);
            if (e > e_running) e_running = e;
        }
    }
    fprintf(stderr,
            "[resnet] resnet18 vs torchvision: eval %.3g, train %.3g, gradients %.3g, running "
            "statistics %.3g (max relative error)\n",
            e_eval, e_train, e_grad, e_running);
    free(x);
    free(dout);
    sm_net_free(net);
    sm_safetensors_free(f);
    r.eval = e_eval;
    r.train = e_train;
    r.grad = e_grad;
    r.running = e_running;
    return r;
}

Test(resnet, resnet18_forward_matches_torchvision) {
    rn18_errors r = resnet18_errors();
    cr_expect_leq(r.eval, TOL, "eval output relative error %.3g", r.eval);
    cr_expect_leq(r.train, TOL, "train output relative error %.3g", r.train);
    cr_expect_leq(r.running, TOL, "running statistics relative error %.3g", r.running);
}

/* The fixture's image keeps layer4's ReLU inputs at least 3e-4 from zero: with the first image
 * tried, one of them was 1.1e-5, float32 rounding flipped it, and since an element of those 2x2
 * maps carries a large share of the gradient every gradient upstream moved by 1-2% (our double
 * reference matched torchvision to 5e-8 even then). */
Test(resnet, resnet18_gradients_match_torchvision) {
    rn18_errors r = resnet18_errors();
    cr_expect_leq(r.grad, TOL, "gradient relative error %.3g", r.grad);
}

Test(resnet, resnet50_bottleneck_forward_matches_torchvision) {
    sm_st_file *f = read_fixture("resnet50.ref.safetensors");
    sm_net *net = make_resnet("resnet50", 64, 2);
    check_names(f, net);
    float *x = formula_floats(image_stream(f), 2 * 3 * 64 * 64, 1.0, 0.0);
    float y[32];
    forward(net, x, 0, y);
    double e_eval = rel_err(y, need(f, "eval", 32), 32);
    forward(net, x, 1, y);
    double e_train = rel_err(y, need(f, "train", 32), 32);
    fprintf(stderr, "[resnet] resnet50 vs torchvision: eval %.3g, train %.3g\n", e_eval, e_train);
    cr_expect_leq(e_eval, TOL, "eval output relative error %.3g", e_eval);
    cr_expect_leq(e_train, TOL, "train output relative error %.3g", e_train);
    free(x);
    sm_net_free(net);
    sm_safetensors_free(f);
}

/* ---------------------------------------------------------------- weights by name */

/* Writes the net's tensors under their (torchvision) names, as save_file would; skip names the
 * tensor to leave out, rename / reshape let a test break one. */
static void write_state_dict(const char *path, sm_net *net, const char *skip, const char *rename,
                             const char *reshape) {
    const sm_param_table *t = sm_net_table(net);
    sm_st_tensor *ts = calloc((size_t)t->n, sizeof *ts);
    int n = 0;
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *ti = &t->t[i];
        if (skip && strcmp(ti->name, skip) == 0) continue;
        sm_st_tensor *s = &ts[n++];
        s->name = rename && strcmp(ti->name, rename) == 0 ? "layer9.weight" : ti->name;
        s->ndim = ti->ndim;
        for (int d = 0; d < ti->ndim; d++) s->shape[d] = ti->dims[d];
        if (reshape && strcmp(ti->name, reshape) == 0) {
            s->ndim = 1;
            s->shape[0] = (int64_t)ti->count;
        }
        s->dtype = ti->role == SM_TENSOR_COUNTER ? SM_DT_I64 : SM_DT_F32;
        s->data = ti->role == SM_TENSOR_PARAM ? (const void *)(sm_net_params(net) + ti->offset)
                  : ti->role == SM_TENSOR_BUFFER
                      ? (const void *)(sm_net_buffers(net) + ti->offset)
                      : (const void *)(sm_net_counters(net) + ti->offset);
    }
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_safetensors_write(path, ts, n, NULL, 0, &err), SIAMESE_OK, "%s", err.msg);
    free(ts);
}

static siamese_model *fresh_resnet18(void) {
    siamese_model_params p = tu_model_params("resnet18", 3, 64, 64, 5);
    return tu_create_model(&p);
}

Test(resnet, torchvision_state_dict_initializes_the_backbone) {
    tu_temp_init();
    char *dir = tu_make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/resnet18.safetensors", dir);
    sm_net *src = make_resnet("resnet18", 64, 1); /* a torchvision-like resnet18 with 16 classes */
    write_state_dict(path, src, NULL, NULL, NULL);
    siamese_model *model = fresh_resnet18();
    char left[256];
    cr_assert_eq(siamese_model_init_from(model, path, left, sizeof left), SIAMESE_OK, "%s",
                 siamese_model_errmsg(model));
    cr_assert_str_eq(left, "fc.weight, fc.bias");
    const sm_param_table *ts = sm_net_table(src), *tm = sm_net_table(model->net);
    for (int i = 0; i < tm->n; i++) {
        const sm_tensor_info *ti = &tm->t[i];
        if (ti->role != SM_TENSOR_PARAM || strncmp(ti->name, "fc.", 3) == 0) continue;
        const sm_tensor_info *si = &ts->t[sm_param_table_find(ts, ti->name)];
        cr_assert_eq(memcmp(sm_net_params(model->net) + ti->offset, sm_net_params(src) + si->offset,
                            ti->count * sizeof(float)),
                     0, "%s not copied", ti->name);
    }
    siamese_model_free(model);
    sm_net_free(src);
    tu_rmtree(dir);
    free(dir);
}

Test(resnet, mismatched_weights_give_one_message) {
    tu_temp_init();
    char *dir = tu_make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    sm_net *src = make_resnet("resnet18", 64, 1);
    write_state_dict(path, src, "layer1.0.bn1.running_var", "layer2.1.conv1.weight",
                     "layer3.0.downsample.0.weight");
    siamese_model *model = fresh_resnet18();
    float before = sm_net_params(model->net)[0];
    cr_assert_eq(siamese_model_init_from(model, path, NULL, 0), SIAMESE_ERR_SHAPE);
    const char *msg = siamese_model_errmsg(model);
    cr_assert_not_null(strstr(msg, "4 tensors do not match"), "%s", msg);
    cr_assert_not_null(strstr(msg, "'layer1.0.bn1.running_var' is missing"), "%s", msg);
    cr_assert_not_null(strstr(msg, "'layer2.1.conv1.weight' is missing"), "%s", msg);
    cr_assert_not_null(strstr(msg, "'layer3.0.downsample.0.weight' has shape [32768]"), "%s", msg);
    cr_assert_not_null(strstr(msg, "'layer9.weight' is not part of the architecture"), "%s", msg);
    cr_assert_eq(sm_net_params(model->net)[0], before, "the model changed");
    siamese_model_free(model);
    sm_net_free(src);
    tu_rmtree(dir);
    free(dir);
}

/* siamese_model_freeze: prefixes match at '.' boundaries; frozen layers get no gradient in a
 * training step while the others do. */
Test(resnet, freeze_by_prefix) {
    siamese_model *model = fresh_resnet18();
    cr_assert_eq(siamese_model_freeze(model, "layer1", 1), 8); /* 2 blocks x (2 conv + 2 bn) */
    cr_assert_eq(siamese_model_freeze(model, "conv1", 1), 1);
    cr_assert_eq(siamese_model_freeze(model, "bn1", 1), 1);
    cr_assert_eq(siamese_model_freeze(model, "layer1.0.conv", 1), -1);
    cr_assert_not_null(strstr(siamese_model_errmsg(model), "no layer's parameters are named"));
    sm_net *net = model->net;
    float *x = formula_floats(7, 2 * 3 * 64 * 64, 1.0, 0.0), y[256], d[256];
    for (int i = 0; i < 256; i++) d[i] = 0.01f * (float)((i % 7) - 3);
    sm_err err;
    sm_err_clear(&err);
    sm_net_zero_grads(net);
    cr_assert_eq(sm_net_forward(net, x, 2, 1, y, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_net_backward(net, d, &err), SIAMESE_OK, "%s", err.msg);
    const sm_param_table *t = sm_net_table(net);
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *ti = &t->t[i];
        if (ti->role != SM_TENSOR_PARAM) continue;
        int frozen = strncmp(ti->name, "layer1.", 7) == 0 || strncmp(ti->name, "conv1.", 6) == 0 ||
                     strncmp(ti->name, "bn1.", 4) == 0;
        double sum = 0;
        for (size_t k = 0; k < ti->count; k++) sum += fabs(sm_net_grads(net)[ti->offset + k]);
        if (frozen) cr_assert_eq(sum, 0.0, "%s is frozen but has a gradient", ti->name);
        else cr_assert_gt(sum, 0.0, "%s has no gradient", ti->name);
    }
    free(x);
    siamese_model_free(model);
}

/* bf16 (convolutions in bf16, fp32 master weights) applies to residual networks as to the seed
 * network: resnet18's training-mode output stays within 5% of fp32's (relative L2, as test_bf16
 * measures). Its gradients are 40% off in relative L2 (growing from 3% at fc to 47% at the stem):
 * not the residual layers' doing, since a plain conv-bn-relu stack of the same kind is 21% off
 * and the same stack without batchnorm 0.6%: batchnorm on bf16 activations is the next thing to
 * look at (the bound below only catches a gross failure). */
#define BF16_SIDE 64
#define BF16_BATCH 2
Test(resnet, resnet18_bf16_near_fp32) {
    sm_net *net = make_resnet("resnet18", BF16_SIDE, BF16_BATCH);
    if (!sm_net_set_bf16(net, 1)) {
        sm_net_free(net);
        cr_skip_test("this CPU has no AVX512-BF16 kernels");
    }
    float *x = formula_floats(1004, (size_t)BF16_BATCH * 3 * BF16_SIDE * BF16_SIDE, 1.0, 0.0);
    float *d = formula_floats(1001, (size_t)BF16_BATCH * 16, 2.0, -1.0);
    size_t np = sm_net_table(net)->n_params;
    float y16[16 * BF16_BATCH], y32[16 * BF16_BATCH], *g16 = malloc(np * sizeof *g16);
    sm_err err;
    sm_err_clear(&err);
    sm_net_zero_grads(net);
    cr_assert_eq(sm_net_forward(net, x, BF16_BATCH, 1, y16, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_net_backward(net, d, &err), SIAMESE_OK, "%s", err.msg);
    memcpy(g16, sm_net_grads(net), np * sizeof *g16);
    sm_net_set_bf16(net, 0);
    sm_net_zero_grads(net);
    cr_assert_eq(sm_net_forward(net, x, BF16_BATCH, 1, y32, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_net_backward(net, d, &err), SIAMESE_OK, "%s", err.msg);
    double ey = tu_rel_l2_f(y16, y32, 16 * BF16_BATCH),
           eg = tu_rel_l2_f(g16, sm_net_grads(net), np);
    fprintf(stderr, "[resnet] resnet18 bf16 vs fp32: output %.3g, gradients %.3g\n", ey, eg);
    cr_expect_leq(ey, 0.05, "bf16 output relative error %.3g", ey);
    cr_expect_leq(eg, 0.6, "bf16 gradient relative error %.3g", eg);
    free(x);
    free(d);
    free(g16);
    sm_net_free(net);
}
