/* add(pad=1): a residual block whose main branch is smaller than its skip zero-pads the main
 * branch at the bottom and right (TF.js face-api's residualDown): shapes, text form, and every
 * parameter gradient against central differences of the forward pass. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/arch.h"
#include "nn/net.h"

/* 2x8x8: the stride-2 3x3 main branch gives 2x3x3, the 2x2/2 skip 2x4x4. No relu, so the
 * loss is linear in every single parameter and central differences are exact up to rounding. */
static const char *const text = "block conv(2,k=3,s=2,name=a) conv(2,k=3,p=1,name=c) "
                                "skip conv(2,k=2,s=2,bias=0,name=b) add(pad=1) avgpool "
                                "linear(3,name=fc)";
#define N 2
#define IN (2 * 8 * 8)

static void parse(const char *spec, sm_arch *arch, siamese_status want) {
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_arch_parse(spec, (sm_shape){2, 8, 8}, arch, &err), want, "%s", err.msg);
}

Test(add_pad, shapes_and_text) {
    static sm_arch arch;
    parse(text, &arch, SIAMESE_OK);
    const sm_layer *add = &arch.layers[5];
    cr_assert_eq(add->kind, SM_LAYER_ADD);
    cr_assert_eq(add->in.h, 4);           /* the skip's output */
    cr_assert_eq(arch.layers[3].in.h, 3); /* the main branch's */
    cr_assert_eq(add->out_shape.h, 4);
    cr_assert_eq(add->out_shape.w, 4);
    char buf[1024];
    sm_arch_format(&arch, buf, sizeof buf);
    cr_assert_not_null(strstr(buf, "add(pad=1)"), "%s", buf);
    static sm_arch again;
    parse(buf, &again, SIAMESE_OK);
    cr_assert_eq(again.layers[5].add_pad, 1);
    /* without pad=1 the shapes must agree */
    char plain[512];
    snprintf(plain, sizeof plain, "%s", text);
    char *p = strstr(plain, "add(pad=1)");
    memmove(p + 3, p + 10, strlen(p + 10) + 1);
    parse(plain, &again, SIAMESE_ERR_SHAPE);
}

static double loss(sm_net *net, const float *x, const float *d) {
    float emb[N * 3];
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_net_forward(net, x, N, 1, emb, &err), SIAMESE_OK, "%s", err.msg);
    double l = 0;
    for (int i = 0; i < N * 3; i++) l += (double)d[i] * emb[i];
    return l;
}

Test(add_pad, gradients_match_central_differences) {
    static sm_arch arch;
    parse(text, &arch, SIAMESE_OK);
    sm_net *net = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_net_create(&arch, N, &net, &err), SIAMESE_OK, "%s", err.msg);
    const sm_param_table *table = sm_net_table(net);
    float *params = sm_net_params_write(net);
    for (size_t i = 0; i < table->n_params; i++) params[i] = (float)(((i * 37) % 19) / 19.0 - 0.45);
    float x[N * IN], d[N * 3] = {1.0f, -0.5f, 0.25f, 0.75f, 0.5f, -1.0f};
    for (int i = 0; i < N * IN; i++) x[i] = (float)(((i * 53) % 29) / 29.0 - 0.5);
    loss(net, x, d);
    sm_net_zero_grads(net);
    cr_assert_eq(sm_net_backward(net, d, &err), SIAMESE_OK, "%s", err.msg);
    float *grads = sm_net_grads(net);
    double worst = 0, largest = 0;
    for (size_t i = 0; i < table->n_params; i++) {
        const float keep = sm_net_params(net)[i], h = 0.125f;
        sm_net_params_write(net)[i] = keep + h;
        double up = loss(net, x, d);
        sm_net_params_write(net)[i] = keep - h;
        double down = loss(net, x, d);
        sm_net_params_write(net)[i] = keep;
        double fd = (up - down) / (2.0 * h);
        worst = fmax(worst, fabs(fd - grads[i]));
        largest = fmax(largest, fabs(fd));
    }
    cr_assert_gt(largest, 1e-3);
    cr_assert_lt(worst, 1e-4 * fmax(1.0, largest), "max |gradient - central difference| = %g",
                 worst);
    sm_net_free(net);
}
