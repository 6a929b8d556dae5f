/* dropout(p): its text form and errors, the identity in inference, in training a mask that drops
 * about p of the values and scales the rest by 1 / (1 - p), the same mask in backward, and masks
 * that follow the seed (sm_net_set_dropout_seed). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "base/rng.h"
#include "nn/arch.h"
#include "nn/init.h"
#include "nn/net.h"

static siamese_status parse(const char *spec, sm_shape in, sm_arch *arch) {
    sm_err err;
    sm_err_clear(&err);
    return sm_arch_parse(spec, in, arch, &err);
}

static sm_net *make_net(const char *spec, sm_shape in, int n) {
    static sm_arch arch;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_arch_parse(spec, in, &arch, &err), SIAMESE_OK, "%s", err.msg);
    sm_net *net = NULL;
    cr_assert_eq(sm_net_create(&arch, n, &net, &err), SIAMESE_OK, "%s", err.msg);
    return net;
}

/* Every linear / 1x1 conv weight of the net set to the identity, biases to 0. */
static void set_identity(sm_net *net) {
    const sm_param_table *t = sm_net_table(net);
    float *p = sm_net_params_write(net);
    memset(p, 0, t->n_params * sizeof *p);
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *e = &t->t[i];
        if (e->slot != SM_SLOT_WEIGHT) continue;
        int64_t rows = e->dims[0], cols = (int64_t)e->count / rows;
        for (int64_t r = 0; r < rows && r < cols; r++) p[e->offset + r * cols + r] = 1.0f;
    }
}

static void forward(sm_net *net, const float *x, int n, int training, float *emb) {
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_net_forward(net, x, n, training, emb, &err), SIAMESE_OK, "%s", err.msg);
}

Test(dropout, text_form_and_errors) {
    static sm_arch a;
    sm_shape in = {1, 4, 4};
    cr_assert_eq(parse("linear(8) dropout linear(2)", in, &a), SIAMESE_OK);
    cr_assert_eq(a.layers[2].kind, SM_LAYER_DROPOUT);
    cr_assert_float_eq(a.layers[2].drop_p, 0.5f, 0);
    cr_assert_eq(a.layers[2].out_shape.c, 8);
    cr_assert_eq(parse("linear(8) dropout(0.3) linear(2)", in, &a), SIAMESE_OK);
    cr_assert_float_eq(a.layers[2].drop_p, 0.3f, 0);
    char buf[512];
    sm_arch_format(&a, buf, sizeof buf);
    cr_assert_not_null(strstr(buf, "dropout(p=0.3)"), "%s", buf);
    static sm_arch again;
    cr_assert_eq(parse(buf, in, &again), SIAMESE_OK, "%s", buf);
    cr_assert_float_eq(again.layers[2].drop_p, 0.3f, 0);
    cr_assert_eq(parse("conv(4,k=3) dropout(p=0) flatten linear(2)", in, &a), SIAMESE_OK);
    cr_assert_eq(a.layers[1].out_shape.h, 2); /* spatial shapes pass through */
    const char *bad[] = {"linear(8) dropout(1)",     "linear(8) dropout(-0.1)",
                         "linear(8) dropout(p=2)",   "linear(8) dropout(0.2,0.3)",
                         "linear(8) dropout(q=0.2)", "linear(8) dropout(nan)"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(parse(bad[i], in, &a), SIAMESE_ERR_SPEC, "%s", bad[i]);
}

Test(dropout, identity_in_inference) {
    sm_shape in = {1, 4, 4};
    sm_net *with = make_net("linear(16,name=a) relu dropout(0.4) linear(5,name=b)", in, 3);
    sm_net *without = make_net("linear(16,name=a) relu linear(5,name=b)", in, 3);
    float *p = sm_net_params_write(with);
    size_t n_params = sm_net_table(with)->n_params;
    cr_assert_eq(n_params, sm_net_table(without)->n_params);
    memcpy(sm_net_params_write(without), p, n_params * sizeof *p);
    float x[3 * 16], e1[3 * 5], e2[3 * 5];
    for (int i = 0; i < 3 * 16; i++) x[i] = (float)(((i * 37) % 17) / 17.0 - 0.4);
    forward(with, x, 3, 0, e1);
    forward(without, x, 3, 0, e2);
    cr_assert_eq(memcmp(e1, e2, sizeof e1), 0, "dropout changed an inference");
    sm_net_free(with);
    sm_net_free(without);
}

#define N 8
#define F 256

/* emb = dropout(x) through identity weights; returns the number of dropped values and checks
 * that every kept one is x / (1 - p). */
static int dropped(const float *x, const float *emb, int count, float p, float tol) {
    int zeros = 0;
    for (int i = 0; i < count; i++) {
        if (emb[i] == 0.0f) {
            zeros++;
            continue;
        }
        float want = x[i] * (1.0f / (1.0f - p));
        cr_assert(fabsf(emb[i] - want) <= tol * fabsf(want), "value %d: %g, want %g or 0", i,
                  (double)emb[i], (double)want);
    }
    return zeros;
}

Test(dropout, training_mask_flat_and_seeded) {
    sm_net *net =
        make_net("flatten dropout(0.25) linear(256,bias=0,name=id)", (sm_shape){1, 16, 16}, N);
    set_identity(net);
    static float x[N * F], e1[N * F], e2[N * F], e3[N * F];
    for (int i = 0; i < N * F; i++) x[i] = 0.5f + (float)((i * 29) % 31) / 31.0f; /* never 0 */
    sm_net_set_dropout_seed(net, 7);
    forward(net, x, N, 1, e1);
    int zeros = dropped(x, e1, N * F, 0.25f, 1e-6f);
    /* 2048 draws at p = 0.25: mean 512, sd 19.6 */
    cr_assert(zeros > 430 && zeros < 594, "%d of %d dropped at p = 0.25", zeros, N * F);
    forward(net, x, N, 1, e2);
    cr_assert_eq(memcmp(e1, e2, sizeof e1), 0, "the same seed drew another mask");
    sm_net_set_dropout_seed(net, 8);
    forward(net, x, N, 1, e3);
    cr_assert_neq(memcmp(e1, e3, sizeof e1), 0, "another seed drew the same mask");
    forward(net, x, N, 0, e3);
    cr_assert_eq(memcmp(e3, x, sizeof x), 0, "inference is not the identity");
    sm_net_free(net);
}

Test(dropout, training_mask_on_blocked_maps) {
    /* 16 channels: the conv's output is in a blocked layout; bf16 too where the CPU has it */
    for (int bf16 = 0; bf16 <= sm_bf16_supported(); bf16++) {
        sm_net *net =
            make_net("conv(16,k=1,bias=0,name=id) dropout(0.5) flatten", (sm_shape){16, 4, 4}, N);
        if (bf16) cr_assert(sm_net_set_bf16(net, 1));
        set_identity(net);
        static float x[N * F], e[N * F];
        for (int i = 0; i < N * F; i++) x[i] = 0.5f + (float)((i * 13) % 23) / 23.0f;
        sm_net_set_dropout_seed(net, 3);
        forward(net, x, N, 1, e);
        int zeros = dropped(x, e, N * F, 0.5f, bf16 ? 1e-2f : 1e-6f);
        /* 2048 draws at p = 0.5: mean 1024, sd 22.6 */
        cr_assert(zeros > 930 && zeros < 1118, "%d of %d dropped at p = 0.5 (bf16 %d)", zeros,
                  N * F, bf16);
        sm_net_free(net);
    }
}

Test(dropout, backward_applies_the_forward_mask) {
    /* emb = B drop(A x) with A = B = I: dL/dA[j][k] = sum_n keep[n][j] s d[n][j] x[n][k] */
    enum { n = 4, f = 16 };
    sm_net *net = make_net("flatten linear(16,bias=0,name=a) dropout(0.5) linear(16,bias=0,name=b)",
                           (sm_shape){1, 4, 4}, n);
    set_identity(net);
    float x[n * f], d[n * f], e[n * f];
    for (int i = 0; i < n * f; i++) {
        x[i] = 0.25f + (float)((i * 7) % 11) / 11.0f;
        d[i] = (float)((i * 5) % 9) / 9.0f - 0.4f;
    }
    sm_net_set_dropout_seed(net, 11);
    forward(net, x, n, 1, e);
    int zeros = dropped(x, e, n * f, 0.5f, 1e-6f);
    cr_assert(zeros > 0 && zeros < n * f);
    sm_net_zero_grads(net);
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_net_backward(net, d, &err), SIAMESE_OK, "%s", err.msg);
    const float *ga = sm_net_grads(net); /* a.weight comes first: [16, 16] */
    for (int j = 0; j < f; j++) {
        for (int k = 0; k < f; k++) {
            double want = 0;
            for (int s = 0; s < n; s++)
                if (e[s * f + j] != 0.0f) want += 2.0 * d[s * f + j] * x[s * f + k];
            cr_assert(fabs(ga[j * f + k] - want) <= 1e-5 * (1 + fabs(want)),
                      "dA[%d][%d] = %g, want %g", j, k, (double)ga[j * f + k], want);
        }
    }
    sm_net_free(net);
}

/* loss = sum(emb * d) through a whole training net with dropout; every 97th parameter's
 * gradient against a central difference with the same mask (the same seed). */
static double weighted_sum(sm_net *net, const float *x, int n, const float *d, int dim) {
    static float emb[4 * 16];
    sm_net_set_dropout_seed(net, 5);
    forward(net, x, n, 1, emb);
    double s = 0;
    for (int i = 0; i < n * dim; i++) s += (double)emb[i] * d[i];
    return s;
}

Test(dropout, gradients_match_finite_differences_in_a_conv_net) {
    enum { n = 4, dim = 16 };
    static sm_arch arch;
    sm_err err;
    sm_err_clear(&err);
    const char *spec = "conv(8,k=3,p=1) bn relu maxpool(2) flatten linear(32) relu dropout(0.5) "
                       "linear(16)";
    cr_assert_eq(sm_arch_parse(spec, (sm_shape){1, 8, 8}, &arch, &err), SIAMESE_OK, "%s", err.msg);
    sm_net *net = NULL;
    cr_assert_eq(sm_net_create(&arch, n, &net, &err), SIAMESE_OK, "%s", err.msg);
    const sm_param_table *t = sm_net_table(net);
    sm_rng rng;
    sm_rng_seed(&rng, 3);
    sm_init_params(t, &arch, &rng, sm_net_params_write(net), sm_net_buffers(net),
                   sm_net_counters(net));
    static float x[n * 64], d[n * dim];
    for (int i = 0; i < n * 64; i++) x[i] = (float)((i * 37) % 29) / 29.0f - 0.5f;
    for (int i = 0; i < n * dim; i++) d[i] = (float)((i * 11) % 13) / 13.0f - 0.45f;
    static float emb[n * dim];
    sm_net_set_dropout_seed(net, 5);
    forward(net, x, n, 1, emb);
    sm_net_zero_grads(net);
    cr_assert_eq(sm_net_backward(net, d, &err), SIAMESE_OK, "%s", err.msg);
    static float grads[8192];
    cr_assert(t->n_params <= 8192);
    memcpy(grads, sm_net_grads(net), t->n_params * sizeof *grads);
    const float *p = sm_net_params(net);
    int checked = 0;
    for (size_t i = 0; i < t->n_params; i += 97) {
        float keep = p[i];
        const float h = 1e-2f;
        sm_net_params_write(net)[i] = keep + h; /* _write marks the weights changed */
        double up = weighted_sum(net, x, n, d, dim);
        sm_net_params_write(net)[i] = keep - h;
        double down = weighted_sum(net, x, n, d, dim);
        sm_net_params_write(net)[i] = keep;
        double want = (up - down) / (2.0 * h);
        cr_assert(fabs(grads[i] - want) <= 2e-2 * (1 + fabs(want)), "parameter %zu: %g, want %g", i,
                  (double)grads[i], want);
        checked++;
    }
    cr_assert(checked > 20);
    sm_net_free(net);
}
