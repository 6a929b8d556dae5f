/* Model files: save/load round trips, PyTorch-written files, and every way a file can be unfit. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "model/model.h"
#include "model/safetensors.h"
#include "test_util.h"

#define SMALL_ARCH "conv(4,k=3) relu maxpool(2) conv(6,k=3,p=1) relu flatten linear(8) linear(3)"

TestSuite(model_file, .init = tu_temp_init, .fini = tu_temp_fini);

static const char *tmp_path(const char *name) { return tu_path(tu_temp, name); }

static siamese_model *create_model(const char *arch, int c, int h, int w, uint64_t seed) {
    siamese_model_params p = tu_model_params(arch, c, h, w, seed);
    p.threads = 1;
    return tu_create_model(&p);
}

static siamese_model *small_model(void) { return create_model(SMALL_ARCH, 3, 12, 12, 7); }

static void save_ok(siamese_model *m, const char *path) {
    cr_assert_eq(siamese_model_save(m, path), SIAMESE_OK, "save: %s", siamese_model_errmsg(m));
}

static siamese_model *load_ok(const char *path) {
    siamese_model *m = NULL;
    siamese_status st = siamese_model_load(path, &m);
    cr_assert_eq(st, SIAMESE_OK, "load %s: %s", path, m ? siamese_model_errmsg(m) : "no handle");
    cr_assert_not_null(m);
    return m;
}

/* Loading must fail with status, leave an error-only handle (no network, no parameters), and the
 * message must name the file and contain reason. */
static void expect_load_fails(const char *path, siamese_status status, const char *reason) {
    siamese_model *m = NULL;
    siamese_status st = siamese_model_load(path, &m);
    cr_assert_not_null(m, "failed load gave no handle");
    const char *msg = siamese_model_errmsg(m);
    cr_assert_eq(st, status, "%s: status %d (%s), want %d", path, st, msg, status);
    cr_assert_null(m->net, "a failed load left a network behind");
    cr_assert_eq(siamese_model_param_count(m), 0);
    cr_assert_not_null(strstr(msg, path), "message does not name the file: %s", msg);
    cr_assert_not_null(strstr(msg, reason), "message '%s' lacks '%s'", msg, reason);
    siamese_model_free(m);
}

static void assert_same_params(siamese_model *a, siamese_model *b) {
    const sm_param_table *ta = sm_net_table(a->net), *tb = sm_net_table(b->net);
    cr_assert_eq(ta->n_params, tb->n_params);
    cr_assert_eq(ta->n_buffers, tb->n_buffers);
    cr_assert_eq(ta->n_counters, tb->n_counters);
    cr_assert_eq(memcmp(sm_net_params(a->net), sm_net_params(b->net), ta->n_params * sizeof(float)),
                 0, "parameters differ");
    if (ta->n_buffers)
        cr_assert_eq(
            memcmp(sm_net_buffers(a->net), sm_net_buffers(b->net), ta->n_buffers * sizeof(float)),
            0, "buffers differ");
    if (ta->n_counters)
        cr_assert_eq(memcmp(sm_net_counters(a->net), sm_net_counters(b->net),
                            ta->n_counters * sizeof(int64_t)),
                     0, "counters differ");
}

static void assert_same_embeddings(siamese_model *a, siamese_model *b, int n) {
    size_t per =
        (size_t)siamese_model_channels(a) * siamese_model_height(a) * siamese_model_width(a);
    int dim = siamese_model_embedding_dim(a);
    float *x = malloc(per * n * sizeof *x);
    float *ea = malloc((size_t)n * dim * sizeof *ea), *eb = malloc((size_t)n * dim * sizeof *eb);
    cr_assert(x && ea && eb);
    tu_fill_uniform(x, per * n, 0.0f, 1.0f, 99);
    cr_assert_eq(siamese_model_embed(a, x, n, ea), SIAMESE_OK, "%s", siamese_model_errmsg(a));
    cr_assert_eq(siamese_model_embed(b, x, n, eb), SIAMESE_OK, "%s", siamese_model_errmsg(b));
    cr_assert_eq(memcmp(ea, eb, (size_t)n * dim * sizeof *ea), 0, "embeddings differ");
    free(x);
    free(ea);
    free(eb);
}

/* ---------------------------------------------------------------- round trips */

Test(model_file, save_load_round_trip_keeps_everything) {
    siamese_model *m = small_model();
    m->margin = 1.25f;
    m->metric = SIAMESE_METRIC_COSINE;
    siamese_model_set_threshold(m, 0.375f);
    const char *path = tmp_path("m.safetensors");
    save_ok(m, path);
    siamese_model *back = load_ok(path);
    cr_assert_str_eq(siamese_model_arch(back), siamese_model_arch(m));
    cr_assert_eq(siamese_model_channels(back), 3);
    cr_assert_eq(siamese_model_height(back), 12);
    cr_assert_eq(siamese_model_width(back), 12);
    cr_assert_eq(siamese_model_embedding_dim(back), 3);
    cr_assert_eq(siamese_model_margin(back), 1.25f);
    cr_assert_eq(siamese_model_metric(back), SIAMESE_METRIC_COSINE);
    cr_assert_eq(siamese_model_threshold(back), 0.375f);
    assert_same_params(m, back);
    assert_same_embeddings(m, back, 5);
    siamese_model_free(back);
    siamese_model_free(m);
}

Test(model_file, metadata_and_tensor_order_are_pytorch_like) {
    siamese_model *m = small_model();
    const char *path = tmp_path("meta.safetensors");
    save_ok(m, path);
    sm_st_file *f = NULL;
    sm_err err;
    cr_assert_eq(sm_safetensors_read(path, &f, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_str_eq(sm_safetensors_meta(f, "format"), "siamese/1");
    cr_assert_str_eq(sm_safetensors_meta(f, "arch"), siamese_model_arch(m));
    cr_assert_str_eq(sm_safetensors_meta(f, "input"), "3x12x12");
    cr_assert_str_eq(sm_safetensors_meta(f, "embedding_dim"), "3");
    cr_assert_str_eq(sm_safetensors_meta(f, "metric"), "euclidean");
    cr_assert_str_eq(sm_safetensors_meta(f, "margin"), "2");
    cr_assert_null(sm_safetensors_meta(f, "threshold"), "no threshold was set");
    const char *names[] = {"cnn1.weight", "cnn1.bias", "cnn2.weight", "cnn2.bias",
                           "fc1.weight",  "fc1.bias",  "fc2.weight",  "fc2.bias"};
    cr_assert_eq(sm_safetensors_count(f), 8);
    for (int i = 0; i < 8; i++) {
        const sm_st_tensor *t = sm_safetensors_get(f, i);
        cr_assert_str_eq(t->name, names[i]);
        cr_assert_eq(t->dtype, SM_DT_F32);
    }
    const sm_st_tensor *w = sm_safetensors_find(f, "cnn1.weight");
    cr_assert_eq(w->ndim, 4);
    cr_assert_eq(w->shape[0], 4);
    cr_assert_eq(w->shape[1], 3);
    cr_assert_eq(w->shape[2], 3);
    cr_assert_eq(w->shape[3], 3);
    const sm_st_tensor *fc1 = sm_safetensors_find(f, "fc1.weight");
    cr_assert_eq(fc1->ndim, 2);
    cr_assert_eq(fc1->shape[0], 8);
    cr_assert_eq(fc1->shape[1], 6 * 5 * 5); /* 12 -> 10 -> 5 -> 5, PyTorch's [out, in] */
    sm_safetensors_free(f);
    siamese_model_free(m);
}

Test(model_file, batchnorm_buffers_and_counters_round_trip) {
    siamese_model *m = create_model("mnist", 0, 0, 0, 3);
    const sm_param_table *t = sm_net_table(m->net);
    cr_assert_gt(t->n_buffers, 0);
    cr_assert_gt(t->n_counters, 0);
    tu_fill_uniform(sm_net_buffers(m->net), t->n_buffers, 0.5f, 2.0f, 5);
    for (size_t i = 0; i < t->n_counters; i++) sm_net_counters(m->net)[i] = 1000 + (int64_t)i;
    const char *path = tmp_path("bn.safetensors");
    save_ok(m, path);
    sm_st_file *f = NULL;
    sm_err err;
    cr_assert_eq(sm_safetensors_read(path, &f, &err), SIAMESE_OK, "%s", err.msg);
    const sm_st_tensor *c = sm_safetensors_find(f, "bn1.num_batches_tracked");
    cr_assert_not_null(c);
    cr_assert_eq(c->dtype, SM_DT_I64);
    cr_assert_eq(c->ndim, 0);
    cr_assert_not_null(sm_safetensors_find(f, "bn1.running_var"));
    sm_safetensors_free(f);
    siamese_model *back = load_ok(path);
    assert_same_params(m, back);
    siamese_model_free(back);
    siamese_model_free(m);
}

Test(model_file, pytorch_written_file_loads) {
    const char *path = tu_source_path("tests/fixtures/parity/reduced_euclidean.model.safetensors");
    siamese_model *m = load_ok(path);
    cr_assert_eq(siamese_model_channels(m), 3);
    cr_assert_eq(siamese_model_height(m), 128);
    cr_assert_eq(siamese_model_embedding_dim(m), 1);
    sm_st_file *f = NULL;
    sm_err err;
    cr_assert_eq(sm_safetensors_read(path, &f, &err), SIAMESE_OK, "%s", err.msg);
    const sm_param_table *t = sm_net_table(m->net);
    for (int i = 0; i < t->n; i++) {
        const sm_st_tensor *st = sm_safetensors_find(f, t->t[i].name);
        cr_assert_not_null(st, "%s", t->t[i].name);
        cr_assert_eq(
            memcmp(st->data, sm_net_params(m->net) + t->t[i].offset, t->t[i].count * sizeof(float)),
            0, "%s differs", t->t[i].name);
    }
    sm_safetensors_free(f);
    siamese_model_free(m);
}

/* A plain state_dict of the recipe's network (no __metadata__) loads as the seed preset. */
Test(model_file, seed_state_dict_without_metadata_loads_as_seed, .timeout = 300) {
    siamese_model *m = create_model("seed", 0, 0, 0, 11);
    const sm_param_table *t = sm_net_table(m->net);
    sm_st_tensor *tensors = calloc((size_t)t->n, sizeof *tensors);
    for (int i = 0; i < t->n; i++) {
        tensors[i].name = t->t[i].name;
        tensors[i].dtype = SM_DT_F32;
        tensors[i].ndim = t->t[i].ndim;
        for (int d = 0; d < t->t[i].ndim; d++) tensors[i].shape[d] = t->t[i].dims[d];
        tensors[i].data = sm_net_params(m->net) + t->t[i].offset;
    }
    const char *path = tmp_path("seed_state_dict.safetensors");
    sm_err err;
    cr_assert_eq(sm_safetensors_write(path, tensors, t->n, NULL, 0, &err), SIAMESE_OK, "%s",
                 err.msg);
    free(tensors);
    siamese_model *back = load_ok(path);
    cr_assert_str_eq(siamese_model_arch(back), siamese_model_arch(m));
    cr_assert_eq(siamese_model_height(back), 256);
    cr_assert_eq(siamese_model_width(back), 256);
    cr_assert_eq(siamese_model_param_count(back), 50459777); /* the recipe's parameter count */
    assert_same_params(m, back);
    siamese_model_free(back);
    siamese_model_free(m);
}

/* ---------------------------------------------------------------- unfit files */

/* Writes m's tensors with one change: drop (name), replace shape/dtype, or add a tensor. */
typedef struct tamper {
    const char *drop;
    const char *reshape; /* this tensor gets shape {2, 2} of F32 */
    const char *retype;  /* this tensor is written as I32 (same element count) */
    const char *as_f64;  /* every parameter is written as F64 */
    const char *add;     /* extra tensor of shape {1} */
    const sm_st_meta *meta;
    int n_meta;
} tamper;

static const char *write_tampered(siamese_model *m, const char *name, const tamper *tp) {
    const sm_param_table *t = sm_net_table(m->net);
    sm_st_tensor *tensors = calloc((size_t)t->n + 1, sizeof *tensors);
    double *f64 = calloc(t->n_params, sizeof *f64);
    cr_assert(tensors && f64);
    static float small[4] = {1, 2, 3, 4};
    int n = 0;
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *info = &t->t[i];
        if (tp->drop && strcmp(tp->drop, info->name) == 0) continue;
        sm_st_tensor *x = &tensors[n++];
        x->name = info->name;
        x->dtype = SM_DT_F32;
        x->ndim = info->ndim;
        for (int d = 0; d < info->ndim; d++) x->shape[d] = info->dims[d];
        x->data = sm_net_params(m->net) + info->offset;
        if (tp->reshape && strcmp(tp->reshape, info->name) == 0) {
            x->ndim = 2;
            x->shape[0] = x->shape[1] = 2;
            x->data = small;
        }
        if (tp->retype && strcmp(tp->retype, info->name) == 0) x->dtype = SM_DT_I32;
        if (tp->as_f64) {
            for (size_t k = 0; k < info->count; k++)
                f64[info->offset + k] = sm_net_params(m->net)[info->offset + k];
            x->dtype = SM_DT_F64;
            x->data = f64 + info->offset;
        }
    }
    if (tp->add) {
        sm_st_tensor *x = &tensors[n++];
        x->name = tp->add;
        x->dtype = SM_DT_F32;
        x->ndim = 1;
        x->shape[0] = 1;
        x->data = small;
    }
    char input[32];
    snprintf(input, sizeof input, "%dx%dx%d", m->arch.input.c, m->arch.input.h, m->arch.input.w);
    sm_st_meta meta[8] = {{"format", "siamese/1"}, {"arch", m->arch_text}, {"input", input}};
    int n_meta = 3;
    for (int i = 0; i < tp->n_meta; i++) {
        int j = 0;
        while (j < n_meta && strcmp(meta[j].key, tp->meta[i].key) != 0) j++;
        meta[j] = tp->meta[i];
        if (j == n_meta) n_meta++;
    }
    const char *path = tmp_path(name);
    sm_err err;
    cr_assert_eq(sm_safetensors_write(path, tensors, n, meta, n_meta, &err), SIAMESE_OK, "%s",
                 err.msg);
    free(tensors);
    free(f64);
    return path;
}

Test(model_file, shape_that_does_not_fit_the_architecture) {
    siamese_model *m = small_model();
    tamper tp = {.reshape = "cnn2.weight"};
    expect_load_fails(write_tampered(m, "shape.safetensors", &tp), SIAMESE_ERR_SHAPE,
                      "tensor 'cnn2.weight' has shape [2, 2] but the architecture needs "
                      "[6, 4, 3, 3]");
    siamese_model_free(m);
}

Test(model_file, missing_tensor) {
    siamese_model *m = small_model();
    tamper tp = {.drop = "fc1.bias"};
    expect_load_fails(write_tampered(m, "missing.safetensors", &tp), SIAMESE_ERR_SHAPE,
                      "tensor 'fc1.bias' is missing");
    siamese_model_free(m);
}

Test(model_file, extra_tensor) {
    siamese_model *m = small_model();
    tamper tp = {.add = "fc9.weight"};
    expect_load_fails(write_tampered(m, "extra.safetensors", &tp), SIAMESE_ERR_SHAPE,
                      "tensor 'fc9.weight' is not part of the architecture");
    siamese_model_free(m);
}

Test(model_file, wrong_dtype) {
    siamese_model *m = small_model();
    tamper tp = {.retype = "cnn1.bias"};
    expect_load_fails(write_tampered(m, "dtype.safetensors", &tp), SIAMESE_ERR_FORMAT,
                      "tensor 'cnn1.bias' has dtype I32, expected F32");
    siamese_model_free(m);
}

Test(model_file, f64_parameters_are_converted) {
    siamese_model *m = small_model();
    tamper tp = {.as_f64 = "yes"};
    siamese_model *back = load_ok(write_tampered(m, "f64.safetensors", &tp));
    assert_same_params(m, back);
    siamese_model_free(back);
    siamese_model_free(m);
}

/* NaN or infinite weights would make every distance NaN and every verdict 'dissimilar'. */
Test(model_file, non_finite_values_are_refused) {
    siamese_model *m = small_model();
    const sm_param_table *t = sm_net_table(m->net);
    int fc1_bias = sm_param_table_find(t, "fc1.bias");
    cr_assert_geq(fc1_bias, 0);
    float *bias = sm_net_params_write(m->net) + t->t[fc1_bias].offset;
    bias[2] = NAN;
    save_ok(m, tmp_path("nan.safetensors"));
    expect_load_fails(tmp_path("nan.safetensors"), SIAMESE_ERR_FORMAT,
                      "tensor 'fc1.bias' holds NaN at element 2");
    bias[2] = -INFINITY;
    save_ok(m, tmp_path("inf.safetensors"));
    expect_load_fails(tmp_path("inf.safetensors"), SIAMESE_ERR_FORMAT,
                      "tensor 'fc1.bias' holds an infinite value at element 2");
    siamese_model_free(m);
}

Test(model_file, bad_metadata) {
    siamese_model *m = small_model();
    struct {
        sm_st_meta meta;
        siamese_status status;
        const char *reason;
    } cases[] = {
        {{"input", "3x12"}, SIAMESE_ERR_FORMAT, "'input' is '3x12', expected CxHxW"},
        {{"input", "3x0x12"}, SIAMESE_ERR_FORMAT, "'input' is '3x0x12'"},
        {{"metric", "manhattan"}, SIAMESE_ERR_FORMAT, "'metric' 'manhattan' is unknown"},
        {{"margin", "two"}, SIAMESE_ERR_FORMAT, "'margin' is 'two'"},
        {{"threshold", "nan"}, SIAMESE_ERR_FORMAT, "'threshold' is 'nan'"},
        {{"embedding_dim", "4"},
         SIAMESE_ERR_SHAPE,
         "'embedding_dim' is 4 but the architecture gives 3"},
        {{"format", "siamese/2"}, SIAMESE_ERR_UNSUPPORTED, "model format 'siamese/2'"},
        {{"arch", "conv(4,k=3) frobnicate"}, SIAMESE_ERR_SPEC, "frobnicate"},
        {{"arch", "conv(4,k=30) linear(2)"}, SIAMESE_ERR_SHAPE, "cnn1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tamper tp = {.meta = &cases[i].meta, .n_meta = 1};
        char name[64];
        snprintf(name, sizeof name, "meta%zu.safetensors", i);
        expect_load_fails(write_tampered(m, name, &tp), cases[i].status, cases[i].reason);
    }
    siamese_model_free(m);
}

Test(model_file, no_metadata_and_not_seed_shapes) {
    siamese_model *m = small_model();
    sm_st_meta none = {"format", "pt"};
    tamper tp = {.meta = &none, .n_meta = 1};
    const char *path = write_tampered(m, "nometa.safetensors", &tp);
    /* Rewrite without arch/input: read the tensors back and write them alone. */
    sm_st_file *f = NULL;
    sm_err err;
    cr_assert_eq(sm_safetensors_read(path, &f, &err), SIAMESE_OK, "%s", err.msg);
    int n = sm_safetensors_count(f);
    sm_st_tensor *ts = calloc((size_t)n, sizeof *ts);
    for (int i = 0; i < n; i++) ts[i] = *sm_safetensors_get(f, i);
    sm_st_meta pt = {"format", "pt"};
    const char *bare = tmp_path("bare.safetensors");
    cr_assert_eq(sm_safetensors_write(bare, ts, n, &pt, 1, &err), SIAMESE_OK, "%s", err.msg);
    free(ts);
    sm_safetensors_free(f);
    expect_load_fails(bare, SIAMESE_ERR_SHAPE,
                      "no 'arch' in __metadata__, and the tensors are not the seed network's: ");
    siamese_model_free(m);
}

Test(model_file, malformed_files_fail_cleanly) {
    siamese_model *m = small_model();
    const char *path = tmp_path("whole.safetensors");
    save_ok(m, path);
    size_t size;
    unsigned char *buf = tu_read_file(path, &size);
    cr_assert_not_null(buf);
    const char *cut = tmp_path("cut.safetensors");
    FILE *fp = fopen(cut, "wb");
    fwrite(buf, 1, size - 3, fp);
    fclose(fp);
    expect_load_fails(cut, SIAMESE_ERR_FORMAT, "beyond the end of the file");
    fp = fopen(cut, "wb");
    fwrite(buf, 1, 5, fp);
    fclose(fp);
    expect_load_fails(cut, SIAMESE_ERR_FORMAT, "too short");
    memcpy(buf + 8, "[", 1);
    fp = fopen(cut, "wb");
    fwrite(buf, 1, size, fp);
    fclose(fp);
    expect_load_fails(cut, SIAMESE_ERR_FORMAT, "not valid JSON");
    expect_load_fails(tmp_path("absent.safetensors"), SIAMESE_ERR_IO, "cannot open");
    free(buf);
    siamese_model_free(m);
}

/* ---------------------------------------------------------------- atomic saves */

static int count_temp_files(void) { return tu_count_entries_containing(tu_temp, ".tmp."); }

Test(model_file, failed_save_keeps_the_previous_file) {
    siamese_model *old = create_model("conv(2,k=3) linear(2)", 1, 6, 6, 1);
    siamese_model *big = small_model();
    const char *path = tmp_path("keep.safetensors");
    save_ok(old, path);
    size_t old_size;
    unsigned char *before = tu_read_file(path, &old_size);
    cr_assert_not_null(before);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {.rlim_cur = old_size + 16, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    siamese_status st = siamese_model_save(big, path);
    lim.rlim_cur = RLIM_INFINITY;
    setrlimit(RLIMIT_FSIZE, &lim);
    cr_assert_eq(st, SIAMESE_ERR_IO, "status %d: %s", st, siamese_model_errmsg(big));
    cr_assert_not_null(strstr(siamese_model_errmsg(big), path), "%s", siamese_model_errmsg(big));

    size_t now_size;
    unsigned char *after = tu_read_file(path, &now_size);
    cr_assert_eq(now_size, old_size);
    cr_assert_eq(memcmp(before, after, old_size), 0, "previous file changed");
    cr_assert_eq(count_temp_files(), 0, "temporary file left behind");
    siamese_model *back = load_ok(path);
    assert_same_params(old, back);
    siamese_model_free(back);
    free(before);
    free(after);
    siamese_model_free(old);
    siamese_model_free(big);
}

Test(model_file, save_into_missing_folder_names_the_path) {
    siamese_model *m = small_model();
    const char *path = tmp_path("nope/m.safetensors");
    cr_assert_eq(siamese_model_save(m, path), SIAMESE_ERR_IO);
    cr_assert_not_null(strstr(siamese_model_errmsg(m), path), "%s", siamese_model_errmsg(m));
    siamese_model_free(m);
}

Test(model_file, error_handles_and_null_arguments) {
    cr_assert_eq(siamese_model_load("x", NULL), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_model_save(NULL, "x"), SIAMESE_ERR_INVALID_ARG);
    siamese_model *bad = NULL;
    cr_assert_neq(siamese_model_load(tmp_path("none"), &bad), SIAMESE_OK);
    cr_assert_eq(siamese_model_save(bad, tmp_path("y.safetensors")), SIAMESE_ERR_INVALID_ARG);
    cr_assert_not_null(strstr(siamese_model_errmsg(bad), "no network"), "%s",
                       siamese_model_errmsg(bad));
    siamese_model_free(bad);
}
