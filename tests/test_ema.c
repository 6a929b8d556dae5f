/* The moving average of the weights (siamese train --ema): the update rule and its warm-up
 * against hand-computed values, and the swap. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run/ema.h"

/* ---- the rule */

Test(ema, the_decay_warms_up_as_1_plus_t_over_10_plus_t_then_holds) {
    cr_assert_float_eq(sm_ema_decay_at(0.999f, 1), 2.0f / 11.0f, 1e-7);
    cr_assert_float_eq(sm_ema_decay_at(0.999f, 8), 0.5f, 1e-7);
    cr_assert_float_eq(sm_ema_decay_at(0.999f, 990), 0.991f, 1e-7);
    cr_assert_eq(sm_ema_decay_at(0.999f, 8991), 0.999f); /* 8992 / 9001 > 0.999 */
    cr_assert_eq(sm_ema_decay_at(0.999f, 1000000), 0.999f);
    cr_assert_float_eq(sm_ema_decay_at(0.2f, 1), 2.0f / 11.0f, 1e-7); /* below 0.2 */
    cr_assert_eq(sm_ema_decay_at(0.2f, 2), 0.2f);                     /* 3/12 > 0.2 */
}

/* decay 0.2 from params (1, -2, 0.5) and buffers (4, 0); the live values after steps 1, 2, 3 are
 * (2, 0, 1 | 3, 1), (3, 1, -1 | 2, 2), (0, 0, 0 | 1, 1). By hand, s = d s + (1 - d) live:
 * step 1, d = 2/11: s = 2/11 (1, -2, 1/2 | 4, 0) + 9/11 (2, 0, 1 | 3, 1)
 *                     = (20/11, -4/11, 10/11 | 35/11, 9/11);
 * step 2, d = min(0.2, 3/12) = 1/5: s = (152/55, 8/11, -34/55 | 123/55, 97/55);
 * step 3, d = 1/5: s = (152/275, 8/55, -34/275 | 343/275, 317/275). */
Test(ema, the_shadow_moves_by_the_hand_computed_amounts) {
    float params[3] = {1, -2, 0.5f}, buffers[2] = {4, 0};
    sm_ema ema;
    cr_assert_eq(sm_ema_init(&ema, 0.2f, params, 3, buffers, 2), 0);
    cr_assert(sm_ema_on(&ema));
    const float live[3][5] = {{2, 0, 1, 3, 1}, {3, 1, -1, 2, 2}, {0, 0, 0, 1, 1}};
    const double want[3][5] = {
        {20.0 / 11, -4.0 / 11, 10.0 / 11, 35.0 / 11, 9.0 / 11},
        {152.0 / 55, 8.0 / 11, -34.0 / 55, 123.0 / 55, 97.0 / 55},
        {152.0 / 275, 8.0 / 55, -34.0 / 275, 343.0 / 275, 317.0 / 275},
    };
    for (int t = 1; t <= 3; t++) {
        sm_ema_update(&ema, live[t - 1], live[t - 1] + 3, t);
        for (int i = 0; i < 5; i++) {
            float got = i < 3 ? ema.params[i] : ema.buffers[i - 3];
            cr_assert(fabs(got - want[t - 1][i]) < 1e-6, "step %d, value %d: %.9g, want %.9g", t, i,
                      (double)got, want[t - 1][i]);
        }
    }
    /* the starting weights were copied, not aliased */
    cr_assert_eq(params[0], 1.0f);
    cr_assert_eq(buffers[0], 4.0f);
    sm_ema_free(&ema);
    cr_assert(!sm_ema_on(&ema));
}

Test(ema, two_swaps_exchange_and_give_the_live_weights_back_bit_for_bit) {
    float start[4] = {0.1f, 0.2f, 0.3f, 0.4f}, buf_start[1] = {7};
    sm_ema ema;
    cr_assert_eq(sm_ema_init(&ema, 0.9f, start, 4, buf_start, 1), 0);
    float live[4] = {1.0f / 3, -2.5f, 1e-7f, 3e5f}, buf[1] = {-1};
    sm_ema_update(&ema, live, buf, 1);
    float shadow[4], shadow_buf = ema.buffers[0], kept[4] = {1.0f / 3, -2.5f, 1e-7f, 3e5f};
    memcpy(shadow, ema.params, sizeof shadow);
    sm_ema_swap(&ema, live, buf);
    cr_assert_eq(memcmp(live, shadow, sizeof live), 0, "the average is not in the network");
    cr_assert_eq(buf[0], shadow_buf);
    sm_ema_swap(&ema, live, buf);
    cr_assert_eq(memcmp(live, kept, sizeof live), 0, "the live weights did not come back");
    cr_assert_eq(memcmp(ema.params, shadow, sizeof shadow), 0);
    cr_assert_eq(buf[0], -1.0f);
    sm_ema_free(&ema);
}

Test(ema, decay_0_is_off_and_every_call_does_nothing) {
    float params[2] = {1, 2}, buffers[1] = {3};
    sm_ema ema;
    cr_assert_eq(sm_ema_init(&ema, 0.0f, params, 2, buffers, 1), 0);
    cr_assert(!sm_ema_on(&ema));
    sm_ema_update(&ema, params, buffers, 1);
    sm_ema_swap(&ema, params, buffers);
    cr_assert(params[0] == 1 && params[1] == 2 && buffers[0] == 3);
    sm_ema_free(&ema);
}
