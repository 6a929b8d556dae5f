/* Architecture text: parsing, shape inference, presets, canonical format, errors, parameter table. */
#include <criterion/criterion.h>
#include <string.h>

#include "nn/arch.h"

static sm_shape shape(int c, int h, int w) {
    sm_shape s = {c, h, w};
    return s;
}

static void parse_ok(const char *text, sm_shape input, sm_arch *arch) {
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = sm_arch_parse(text, input, arch, &err);
    cr_assert_eq(st, SIAMESE_OK, "parse '%s' failed: %s", text, err.msg);
}

/* Parses text expecting status; returns the message in a static buffer. */
static const char *parse_fail(const char *text, sm_shape input, siamese_status want) {
    static sm_err err;
    static sm_arch arch;
    sm_err_clear(&err);
    siamese_status st = sm_arch_parse(text, input, &arch, &err);
    cr_assert_eq(st, want, "parse '%s': status %d, want %d (%s)", text, st, want, err.msg);
    cr_assert(err.msg[0], "no message for '%s'", text);
    return err.msg;
}

static void assert_contains(const char *msg, const char *part) {
    cr_assert(strstr(msg, part) != NULL, "message '%s' does not contain '%s'", msg, part);
}

static void assert_shape(sm_shape s, int c, int h, int w) {
    cr_assert(s.c == c && s.h == h && s.w == w, "shape %dx%dx%d, want %dx%dx%d", s.c, s.h, s.w, c,
              h, w);
}

Test(arch, seed_preset_shapes_and_names) {
    sm_shape in;
    const char *text = sm_arch_preset_text("seed", &in);
    cr_assert_not_null(text);
    assert_shape(in, 3, 256, 256);
    sm_arch arch;
    parse_ok(text, in, &arch);
    cr_assert_eq(arch.n_layers, 12);
    assert_shape(arch.layers[0].out_shape, 256, 62, 62); /* cnn1 */
    assert_shape(arch.layers[2].out_shape, 256, 30, 30); /* maxpool(3,s=2) */
    assert_shape(arch.layers[3].out_shape, 256, 26, 26); /* cnn2 */
    assert_shape(arch.layers[5].out_shape, 256, 13, 13); /* maxpool(2,s=2) */
    assert_shape(arch.layers[6].out_shape, 384, 11, 11); /* cnn3 */
    assert_shape(arch.layers[8].out_shape, 46464, 1, 1); /* flatten */
    assert_shape(arch.layers[9].out_shape, 1024, 1, 1);
    assert_shape(arch.layers[11].out_shape, 1, 1, 1);
    cr_assert_str_eq(arch.layers[0].name, "cnn1");
    cr_assert_str_eq(arch.layers[3].name, "cnn2");
    cr_assert_str_eq(arch.layers[6].name, "cnn3");
    cr_assert_str_eq(arch.layers[9].name, "fc1");
    cr_assert_str_eq(arch.layers[10].name, "fc2");
    cr_assert_str_eq(arch.layers[11].name, "fc3");
    cr_assert_str_eq(arch.layers[1].name, "");
    cr_assert_eq(arch.layers[2].sh, 2);
    cr_assert_eq(arch.layers[5].kh, 2);
    cr_assert_eq(sm_arch_embedding_dim(&arch), 1);
}

Test(arch, seed_parameter_table) {
    sm_shape in;
    sm_arch arch;
    parse_ok(sm_arch_preset_text("seed", &in), in, &arch);
    static sm_param_table t;
    sm_param_table_build(&arch, &t);
    const char *names[] = {"cnn1.weight", "cnn1.bias", "cnn2.weight", "cnn2.bias",
                           "cnn3.weight", "cnn3.bias", "fc1.weight",  "fc1.bias",
                           "fc2.weight",  "fc2.bias",  "fc3.weight",  "fc3.bias"};
    cr_assert_eq(t.n, 12);
    for (int i = 0; i < 12; i++) cr_assert_str_eq(t.t[i].name, names[i]);
    /* 256*3*11*11+256 + 256*256*5*5+256 + 384*256*3*3+384 + 46464*1024+1024 + 1024*256+256 + 257 */
    cr_assert_eq(t.n_params, (size_t)50459777);
    cr_assert_eq(t.n_buffers, 0);
    cr_assert_eq(t.n_counters, 0);
    const sm_tensor_info *w1 = &t.t[0];
    cr_assert_eq(w1->ndim, 4);
    cr_assert(w1->dims[0] == 256 && w1->dims[1] == 3 && w1->dims[2] == 11 && w1->dims[3] == 11);
    const sm_tensor_info *fc1 = &t.t[sm_param_table_find(&t, "fc1.weight")];
    cr_assert_eq(fc1->ndim, 2);
    cr_assert(fc1->dims[0] == 1024 && fc1->dims[1] == 46464);
    cr_assert_eq(fc1->count, (size_t)46464 * 1024);
    size_t offset = 0;
    for (int i = 0; i < t.n; i++) {
        cr_assert_eq(t.t[i].offset, offset, "%s offset", t.t[i].name);
        cr_assert_eq(t.t[i].role, SM_TENSOR_PARAM);
        offset += t.t[i].count;
    }
    cr_assert_eq(sm_param_table_find(&t, "fc4.weight"), -1);
    cr_assert_eq(sm_param_table_find(&t, "fc3.bias"), 11);
}

Test(arch, batchnorm_tensors_in_state_dict_order) {
    sm_arch arch;
    parse_ok("conv(4,k=3,bias=0) bn relu linear(2)", shape(1, 5, 5), &arch);
    sm_param_table t;
    sm_param_table_build(&arch, &t);
    const char *names[] = {"cnn1.weight",      "bn1.weight",      "bn1.bias",
                           "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
                           "fc1.weight",       "fc1.bias"};
    sm_tensor_role roles[] = {SM_TENSOR_PARAM,  SM_TENSOR_PARAM,  SM_TENSOR_PARAM,
                              SM_TENSOR_BUFFER, SM_TENSOR_BUFFER, SM_TENSOR_COUNTER,
                              SM_TENSOR_PARAM,  SM_TENSOR_PARAM};
    sm_tensor_slot slots[] = {SM_SLOT_WEIGHT,      SM_SLOT_WEIGHT,
                              SM_SLOT_BIAS,        SM_SLOT_RUNNING_MEAN,
                              SM_SLOT_RUNNING_VAR, SM_SLOT_NUM_BATCHES_TRACKED,
                              SM_SLOT_WEIGHT,      SM_SLOT_BIAS};
    cr_assert_eq(t.n, 8);
    for (int i = 0; i < 8; i++) {
        cr_assert_str_eq(t.t[i].name, names[i]);
        cr_assert_eq(t.t[i].role, roles[i], "%s role", names[i]);
        cr_assert_eq(t.t[i].slot, slots[i], "%s slot", names[i]);
    }
    cr_assert_eq(t.n_params, 36 + 4 + 4 + 2 * 36 + 2);
    cr_assert_eq(t.n_buffers, 8);
    cr_assert_eq(t.n_counters, 1);
    cr_assert_eq(t.t[5].ndim, 0);
    cr_assert_eq(t.t[4].offset, 4);
    cr_assert_eq(t.t[6].offset, 36 + 8);
    /* linear after conv: a flatten layer was inserted */
    cr_assert_eq(arch.n_layers, 5);
    cr_assert_eq(arch.layers[3].kind, SM_LAYER_FLATTEN);
    assert_shape(arch.layers[3].out_shape, 36, 1, 1);
}

Test(arch, format_round_trip) {
    const char *texts[] = {
        "conv(256,k=11,s=4) relu maxpool(3,s=2) conv(256,k=5) relu maxpool(2,s=2) conv(384,k=3) "
        "relu flatten linear(1024) linear(256) linear(1)",
        "conv(8, k=3x5, s=2x1, p=1x2, bias=0, name=stem)  # a comment\n bn(eps=0.001, "
        "momentum=0.2) "
        "relu pool(3, s=1, p=1) conv2d(16, 3) batchnorm2d fc(10, bias=false) relu "
        "linear(3,name=head)",
        "linear(5) relu linear(2, name=fc1)",
    };
    const char *canonical[] = {
        "conv(256,k=11,s=4) relu maxpool(3,s=2) conv(256,k=5) relu maxpool(2) conv(384,k=3) "
        "relu flatten linear(1024) linear(256) linear(1)",
        "conv(8,k=3x5,s=2x1,p=1x2,bias=0,name=stem) batchnorm(eps=0.001,momentum=0.2) relu "
        "maxpool(3,s=1,p=1) conv(16,k=3) batchnorm flatten linear(10,bias=0) relu "
        "linear(3,name=head)",
        NULL,
    };
    for (int i = 0; i < 3; i++) {
        sm_arch a, b;
        sm_shape in = shape(3, 256, 200);
        char buf[1024], buf2[1024];
        if (i == 2) {
            /* the second linear asks for fc1 while the first one gets fc1 too: duplicate */
            parse_fail(texts[i], in, SIAMESE_ERR_SPEC);
            continue;
        }
        parse_ok(texts[i], in, &a);
        size_t len = sm_arch_format(&a, buf, sizeof buf);
        cr_assert_eq(len, strlen(buf));
        if (canonical[i]) cr_assert_str_eq(buf, canonical[i]);
        parse_ok(buf, in, &b);
        cr_assert_eq(a.n_layers, b.n_layers);
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "re-parse differs for '%s'", buf);
        sm_arch_format(&b, buf2, sizeof buf2);
        cr_assert_str_eq(buf, buf2);
    }
}

Test(arch, format_truncates_safely) {
    sm_arch a;
    parse_ok("conv(4,k=3) relu flatten linear(2)", shape(1, 8, 8), &a);
    char small[8];
    size_t len = sm_arch_format(&a, small, sizeof small);
    cr_assert_eq(len, strlen("conv(4,k=3) relu flatten linear(2)"));
    cr_assert_eq(strlen(small), 7);
}

Test(arch, custom_names_and_counting) {
    sm_arch a;
    parse_ok("conv(4,k=1,name=first) conv(4,k=1) linear(3) linear(2,name=out)", shape(2, 3, 3), &a);
    cr_assert_str_eq(a.layers[0].name, "first");
    cr_assert_str_eq(a.layers[1].name, "cnn2"); /* counted per kind, explicit names included */
    cr_assert_str_eq(a.layers[3].name, "fc1");
    cr_assert_str_eq(a.layers[4].name, "out");
}

Test(arch, maxpool_floor_and_padding) {
    sm_arch a;
    parse_ok("maxpool(3,s=2,p=1) conv(2,k=2,s=3) linear(1)", shape(1, 10, 7), &a);
    assert_shape(a.layers[0].out_shape, 1, 5, 4); /* floor((10+2-3)/2)+1, floor((7+2-3)/2)+1 */
    assert_shape(a.layers[1].out_shape, 2, 2, 1); /* floor((5-2)/3)+1, floor((4-2)/3)+1 */
}

Test(arch, presets_for_small_grey_images) {
    const char *names[] = {"mnist", "omniglot"};
    int sizes[] = {28, 52};
    for (int i = 0; i < 2; i++) {
        sm_shape in;
        const char *text = sm_arch_preset_text(names[i], &in);
        cr_assert_not_null(text, "%s", names[i]);
        assert_shape(in, 1, sizes[i], sizes[i]);
        sm_arch a;
        parse_ok(text, in, &a);
        cr_assert_geq(sm_arch_embedding_dim(&a), 32, "%s", names[i]);
        cr_assert_eq(a.layers[a.n_layers - 1].kind, SM_LAYER_LINEAR);
    }
    cr_assert_null(sm_arch_preset_text("nope", NULL));
    sm_arch a;
    sm_shape in;
    parse_ok(sm_arch_preset_text("mnist", &in), in, &a);
    assert_shape(a.layers[3].out_shape, 16, 14, 14);
    assert_shape(a.layers[7].out_shape, 32, 7, 7);
    cr_assert_eq(sm_arch_embedding_dim(&a), 64);
    parse_ok(sm_arch_preset_text("omniglot", &in), in, &a);
    assert_shape(a.layers[0].out_shape, 64, 52, 52);
    assert_shape(a.layers[3].out_shape, 64, 26, 26);
    assert_shape(a.layers[15].out_shape, 64, 3, 3);
    cr_assert_eq(sm_arch_embedding_dim(&a), 128);
}

Test(arch, syntax_errors_name_the_token) {
    sm_shape in = shape(3, 32, 32);
    const char *m;
    m = parse_fail("conv(8,k=3) relux linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "unknown layer");
    assert_contains(m, "'relux'");
    assert_contains(m, "position 13");
    m = parse_fail("conv(8,k=3a) linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "bad number");
    assert_contains(m, "'3a'");
    m = parse_fail("conv(8,k=3 linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "position");
    m = parse_fail("conv(8,k=3", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "missing ')'");
    assert_contains(m, "'conv(8,k=3'");
    m = parse_fail("conv(8,q=3) linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "unknown argument");
    assert_contains(m, "'q'");
    m = parse_fail("conv(k=3) linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "output size");
    m = parse_fail("conv(8) linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "kernel");
    m = parse_fail("conv(0,k=3) linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "'0'");
    m = parse_fail("conv(8,k=3,k=5) linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "twice");
    m = parse_fail("conv(8,k=3,,) linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "missing value");
    m = parse_fail("linear(2, 3)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "too many arguments");
    m = parse_fail("linear(2) bn(eps=-1)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "eps");
    m = parse_fail("linear(2,name=9x)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "bad name");
    m = parse_fail("linear(2,bias=2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "bias");
    m = parse_fail("linear(99999999999)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "bad number");
    m = parse_fail("   ", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "empty");
    m = parse_fail("relu flatten", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "no conv or linear");
    m = parse_fail("conv(8,k=3), linear(2)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "position 12");
    m = parse_fail("linear(4,name=a) linear(2,name=a)", in, SIAMESE_ERR_SPEC);
    assert_contains(m, "'a'");
}

Test(arch, shape_errors_name_the_layer) {
    const char *m;
    m = parse_fail("conv(8,k=11,s=4) relu conv(8,k=9) linear(1)", shape(3, 32, 32),
                   SIAMESE_ERR_SHAPE);
    /* 32 -> 6; a 9x9 kernel does not fit */
    assert_contains(m, "layer 3 (conv cnn2)");
    assert_contains(m, "8x6x6");
    assert_contains(m, "9x9");
    m = parse_fail("maxpool(3,p=2) linear(1)", shape(1, 8, 8), SIAMESE_ERR_SHAPE);
    assert_contains(m, "layer 1 (maxpool)");
    assert_contains(m, "half");
    m = parse_fail("conv(4,k=3) flatten conv(2,k=1)", shape(1, 8, 8), SIAMESE_ERR_SHAPE);
    assert_contains(m, "layer 3 (conv cnn2)");
    assert_contains(m, "spatial");
    m = parse_fail("linear(3) maxpool(1)", shape(1, 8, 8), SIAMESE_ERR_SHAPE);
    assert_contains(m, "spatial");
    m = parse_fail("linear(3)", shape(0, 8, 8), SIAMESE_ERR_SHAPE);
    assert_contains(m, "input");
    m = parse_fail("conv(1048576,k=1) linear(1)", shape(3, 4096, 4096), SIAMESE_ERR_SHAPE);
    assert_contains(m, "too large");
}

Test(arch, null_arguments) {
    sm_arch a;
    sm_err err;
    cr_assert_eq(sm_arch_parse(NULL, shape(1, 1, 1), &a, &err), SIAMESE_ERR_INVALID_ARG);
}

/* torchvision's ResNets: parameter counts (fc of 128 instead of 1000: 1000*(C+1) - 128*(C+1)
 * fewer) and names. */
Test(arch, resnet_presets) {
    static const struct {
        const char *name;
        size_t torchvision_params; /* with the 1000-way fc */
        int fc_in;
    } cases[] = {
        {"resnet18", 11689512, 512}, {"resnet34", 21797672, 512}, {"resnet50", 25557032, 2048}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sm_shape in;
        const char *text = sm_arch_preset_text(cases[k].name, &in);
        cr_assert_not_null(text, "%s missing", cases[k].name);
        cr_assert_eq(in.h, 224);
        static sm_arch arch;
        parse_ok(text, in, &arch);
        static sm_param_table t;
        sm_param_table_build(&arch, &t);
        size_t want = cases[k].torchvision_params - (size_t)(1000 - 128) * (cases[k].fc_in + 1);
        cr_assert_eq(t.n_params, want, "%s: %zu parameters, want %zu", cases[k].name, t.n_params,
                     want);
        cr_assert_geq(sm_param_table_find(&t, "layer1.0.bn1.running_mean"), 0);
        cr_assert_geq(sm_param_table_find(&t, "layer2.0.downsample.0.weight"), 0);
        cr_assert_geq(sm_param_table_find(&t, "layer4.1.conv2.weight"), 0);
        cr_assert_eq(sm_arch_embedding_dim(&arch), 128);
        /* The canonical text reads back to the same network. */
        static char buf[16384];
        cr_assert_lt(sm_arch_format(&arch, buf, sizeof buf), sizeof buf);
        static sm_arch again;
        parse_ok(buf, in, &again);
        cr_assert_eq(again.n_layers, arch.n_layers);
    }
}

/* Block errors name the layer. */
Test(arch, residual_errors) {
    sm_shape in = {3, 16, 16};
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"conv(8,k=3) block conv(16,k=3,p=1) add",
         "layer 4 (add) on input 16x14x14: the main branch gives 16x14x14 but the block input "
         "gives 8x14x14"},
        {"conv(8,k=3) block conv(8,k=3,p=1) linear(3)", "the residual block has no add"},
        {"conv(8,k=3) add", "layer 2 (add) on input 8x14x14: outside a residual block"},
        {"conv(8,k=3) block block conv(8,k=1) add add", "blocks do not nest"},
        {"conv(8,k=3) block conv(8,k=1) skip skip add", "second skip"},
        {"conv(8,k=3) block conv(8,k=1,s=2) skip conv(8,k=1) add", "skip branch gives 8x14x14"},
        {"conv(8,k=3) scale(eps=1)", "unknown argument for scale"},
        {"conv(8,k=3) bn(frozen=2)", "bad value for frozen"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sm_arch arch;
        sm_err err;
        sm_err_clear(&err);
        cr_assert_neq(sm_arch_parse(cases[k].text, in, &arch, &err), SIAMESE_OK, "%s parsed",
                      cases[k].text);
        cr_assert_not_null(strstr(err.msg, cases[k].want), "%s: message '%s' lacks '%s'",
                           cases[k].text, err.msg, cases[k].want);
    }
}

/* g= groups the channels (depthwise when it equals them; weights [out, in / g, kh, kw]) and pe=
 * pads the bottom / right by its own amount (TF's 'same' for stride 2: p=0,pe=1). */
Test(arch, grouped_and_end_padded_conv) {
    sm_arch a, b;
    parse_ok("conv(32,k=3,s=2,p=0,pe=1) conv(32,k=3,p=1,g=32,bias=0) conv(64,k=1,g=4)",
             shape(3, 112, 112), &a);
    assert_shape(a.layers[0].out_shape, 32, 56, 56); /* floor((112 + 0 + 1 - 3) / 2) + 1 */
    assert_shape(a.layers[1].out_shape, 32, 56, 56);
    sm_param_table t;
    sm_param_table_build(&a, &t);
    int k = sm_param_table_find(&t, "cnn2.weight");
    cr_assert_geq(k, 0);
    cr_assert_eq(t.t[k].dims[0], 32);
    cr_assert_eq(t.t[k].dims[1], 1);
    k = sm_param_table_find(&t, "cnn3.weight");
    cr_assert_eq(t.t[k].dims[1], 8);
    char buf[512];
    sm_arch_format(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, "conv(32,k=3,s=2,pe=1) conv(32,k=3,p=1,g=32,bias=0) conv(64,k=1,g=4)");
    parse_ok(buf, shape(3, 112, 112), &b);
    cr_assert(memcmp(&a, &b, sizeof a) == 0, "re-parse differs for '%s'", buf);
    const char *m = parse_fail("conv(6,k=1,g=4)", shape(8, 4, 4), SIAMESE_ERR_SHAPE);
    assert_contains(m, "4 groups do not divide 8 input and 6 output channels");
    m = parse_fail("conv(4,k=1,g=0)", shape(8, 4, 4), SIAMESE_ERR_SPEC);
    assert_contains(m, "groups");
}
