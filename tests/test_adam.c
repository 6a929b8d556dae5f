/* Adam: bit-exact against torch.optim.Adam, hand-computed first step, double-precision formula. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fixtures/adam_torch.h"
#include "nn/adam.h"
#include "test_util.h"

static void assert_bits_equal(const float *got, const float *want, int n, const char *what) {
    for (int i = 0; i < n; i++)
        cr_assert(memcmp(&got[i], &want[i], sizeof(float)) == 0, "%s[%d]: %a, torch %a", what, i,
                  (double)got[i], (double)want[i]);
}

static void run_torch_case(float wd, const float *p_want, const float *m_want,
                           const float *v_want) {
    sm_adam adam;
    cr_assert_eq(sm_adam_init(&adam, ADAM_N, 5e-4f, 0.9f, 0.999f, 1e-8f, wd), 0);
    float p[ADAM_N];
    memcpy(p, adam_p0, sizeof p);
    const float *grads[3] = {adam_g0, adam_g1, adam_g2};
    for (int s = 0; s < 3; s++) sm_adam_step(&adam, p, grads[s]);
    cr_assert_eq(adam.step, 3);
    assert_bits_equal(adam.m, m_want, ADAM_N, "exp_avg");
    assert_bits_equal(adam.v, v_want, ADAM_N, "exp_avg_sq");
    assert_bits_equal(p, p_want, ADAM_N, "param");
    sm_adam_free(&adam);
}

Test(adam, matches_torch_bit_for_bit) {
    run_torch_case(0.0f, adam_p_nowd, adam_m_nowd, adam_v_nowd);
}

Test(adam, matches_torch_with_weight_decay) {
    run_torch_case(0.01f, adam_p_wd, adam_m_wd, adam_v_wd);
}

Test(adam, first_step_moves_by_lr_times_sign) {
    /* step 1: m = 0.1 g, v = 0.001 g^2, so the update is lr * g / (|g| + eps) */
    float p[4] = {1.0f, -2.0f, 0.5f, 0.0f}, g[4] = {0.3f, -4.0f, 0.0f, 1e-9f};
    sm_adam adam;
    cr_assert_eq(sm_adam_init(&adam, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f), 0);
    sm_adam_step(&adam, p, g);
    cr_assert_float_eq(p[0], 1.0f - 1e-3f, 1e-7);
    cr_assert_float_eq(p[1], -2.0f + 1e-3f, 1e-7);
    cr_assert_eq(p[2], 0.5f);                                     /* zero gradient: no move */
    cr_assert_float_eq(p[3], -1e-3 * 1e-9 / (1e-9 + 1e-8), 1e-9); /* eps dominates */
    cr_assert_float_eq(adam.m[1], -0.4f, 1e-7);
    cr_assert_float_eq(adam.v[1], 0.016f, 1e-9);
    sm_adam_free(&adam);
}

/* Plain double-precision Adam as in the paper / PyTorch docs. */
static void adam_reference(int n, int steps, double lr, double b1, double b2, double eps, double wd,
                           double *p, const float *grads /* [steps][n] */) {
    double m[64] = {0}, v[64] = {0};
    for (int t = 1; t <= steps; t++) {
        for (int i = 0; i < n; i++) {
            double g = grads[(t - 1) * n + i] + wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double mhat = m[i] / (1 - pow(b1, t));
            double denom = sqrt(v[i]) / sqrt(1 - pow(b2, t)) + eps;
            p[i] -= lr * mhat / denom;
        }
    }
}

Test(adam, follows_double_precision_formula) {
    enum { n = 64, steps = 20 };
    static float grads[steps * n];
    tu_fill_uniform(grads, steps * n, -1, 1, 99);
    float p[n];
    double pd[n];
    tu_fill_uniform(p, n, -0.5f, 0.5f, 5);
    for (int i = 0; i < n; i++) pd[i] = p[i];
    float wds[2] = {0.0f, 0.05f};
    for (int w = 0; w < 2; w++) {
        float pf[n];
        double pr[n];
        memcpy(pf, p, sizeof pf);
        memcpy(pr, pd, sizeof pr);
        sm_adam adam;
        cr_assert_eq(sm_adam_init(&adam, n, 2e-3f, 0.8f, 0.99f, 1e-6f, wds[w]), 0);
        for (int t = 0; t < steps; t++) sm_adam_step(&adam, pf, grads + t * n);
        adam_reference(n, steps, 2e-3, 0.8, 0.99, 1e-6, wds[w], pr, grads);
        for (int i = 0; i < n; i++)
            cr_assert_float_eq(pf[i], pr[i], 1e-6, "wd %g param %d: %.9g vs %.9g", wds[w], i,
                               (double)pf[i], pr[i]);
        sm_adam_free(&adam);
    }
}

Test(adam, empty_and_free_twice) {
    sm_adam adam;
    cr_assert_eq(sm_adam_init(&adam, 0, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f), 0);
    sm_adam_step(&adam, NULL, NULL);
    cr_assert_eq(adam.step, 1);
    sm_adam_free(&adam);
    sm_adam_free(&adam);
    sm_adam_free(NULL);
}
