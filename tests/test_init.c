/* PyTorch default initialization: determinism from the seed, bounds 1/sqrt(fan_in), batchnorm. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/init.h"

typedef struct init_case {
    sm_arch arch;
    sm_param_table table;
    float *params, *buffers;
    int64_t counters[8];
} init_case;

static init_case *make_case(uint64_t seed) {
    init_case *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    sm_err err;
    sm_shape in = {3, 10, 10};
    cr_assert_eq(sm_arch_parse("conv(8,k=3) bn relu maxpool(2) linear(10) linear(3,bias=0)", in,
                               &c->arch, &err),
                 SIAMESE_OK, "%s", err.msg);
    sm_param_table_build(&c->arch, &c->table);
    c->params = malloc(c->table.n_params * sizeof(float));
    c->buffers = malloc(c->table.n_buffers * sizeof(float));
    cr_assert(c->params && c->buffers);
    memset(c->counters, 0x55, sizeof c->counters);
    sm_rng rng;
    sm_rng_seed(&rng, seed);
    sm_init_params(&c->table, &c->arch, &rng, c->params, c->buffers, c->counters);
    return c;
}

static void free_case(init_case *c) {
    free(c->params);
    free(c->buffers);
    free(c);
}

static const sm_tensor_info *tensor(const init_case *c, const char *name) {
    int i = sm_param_table_find(&c->table, name);
    cr_assert_geq(i, 0, "%s", name);
    return &c->table.t[i];
}

Test(init, same_seed_same_model_different_seed_differs) {
    init_case *a = make_case(42), *b = make_case(42), *d = make_case(43);
    size_t n = a->table.n_params;
    cr_assert(memcmp(a->params, b->params, n * sizeof(float)) == 0);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += a->params[i] == d->params[i];
    /* batchnorm weight/bias (16 values) are constants; everything else must differ */
    cr_assert_eq(same, 16, "%zu of %zu equal", same, n);
    free_case(a);
    free_case(b);
    free_case(d);
}

/* All values within +-bound and spread over most of the interval. */
static void check_uniform(const init_case *c, const char *name, double fan_in) {
    const sm_tensor_info *t = tensor(c, name);
    float bound = (float)(1.0 / sqrt(fan_in));
    float lo = 0, hi = 0;
    double mean = 0;
    for (size_t i = 0; i < t->count; i++) {
        float v = c->params[t->offset + i];
        cr_assert(fabsf(v) <= bound, "%s[%zu] = %g beyond %g", name, i, (double)v, (double)bound);
        lo = fminf(lo, v);
        hi = fmaxf(hi, v);
        mean += v;
    }
    mean /= (double)t->count;
    double spread = t->count >= 100 ? 0.9 : 0.3;
    cr_assert(hi > spread * bound && lo < -spread * bound, "%s range [%g, %g], bound %g", name,
              (double)lo, (double)hi, (double)bound);
    if (t->count >= 1000) cr_assert(fabs(mean) < 0.05 * bound, "%s mean %g", name, mean);
}

Test(init, uniform_within_one_over_sqrt_fan_in) {
    init_case *c = make_case(7);
    check_uniform(c, "cnn1.weight", 3 * 3 * 3);
    check_uniform(c, "cnn1.bias", 3 * 3 * 3);
    check_uniform(c, "fc1.weight", 8 * 4 * 4);
    check_uniform(c, "fc1.bias", 8 * 4 * 4);
    check_uniform(c, "fc2.weight", 10);
    cr_assert_eq(sm_param_table_find(&c->table, "fc2.bias"), -1);
    free_case(c);
}

Test(init, batchnorm_starts_as_identity) {
    init_case *c = make_case(7);
    const sm_tensor_info *w = tensor(c, "bn1.weight"), *b = tensor(c, "bn1.bias");
    const sm_tensor_info *rm = tensor(c, "bn1.running_mean"), *rv = tensor(c, "bn1.running_var");
    const sm_tensor_info *nb = tensor(c, "bn1.num_batches_tracked");
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(c->params[w->offset + i], 1.0f);
        cr_assert_eq(c->params[b->offset + i], 0.0f);
        cr_assert_eq(c->buffers[rm->offset + i], 0.0f);
        cr_assert_eq(c->buffers[rv->offset + i], 1.0f);
    }
    cr_assert_eq(c->counters[nb->offset], 0);
    free_case(c);
}
