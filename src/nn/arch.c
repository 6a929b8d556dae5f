/* Network descriptions: the architecture text form, shape inference, presets and the parameter table.
 *
 * Syntax (whitespace separates layers; '#' starts a comment that runs to the end of the line):
 *
 *   spec   := layer+
 *   layer  := KIND [ '(' [ arg { ',' arg } ] ')' ]
 *   arg    := VALUE | KEY '=' VALUE          (positional arguments come before keyword ones)
 *
 *   conv(OUT, k=K, s=1, p=0, bias=1, name=)   2-D convolution; also "conv2d". K, s and p take
 *                                             "N" or "HxW" ("k=3x5"). Positional: OUT, k, s, p.
 *   maxpool(K, s=K, p=0)                      max pooling, PyTorch floor rounding; also
 *                                             "maxpool2d", "pool". Positional: k, s, p.
 *   linear(OUT, bias=1, name=)                fully connected; also "fc". Positional: OUT.
 *                                             After a spatial layer it flattens implicitly (an
 *                                             explicit flatten layer is inserted).
 *   batchnorm(eps=1e-5, momentum=0.1, name=)  BatchNorm2d over channels; also "bn", "batchnorm2d".
 *                                             frozen=1 uses the running statistics in training
 *                                             too and never updates them.
 *   scale(name=)                              per-channel affine weight[c] * x + bias[c].
 *   relu                                      max(0, x)
 *   flatten                                   [C, H, W] -> [C*H*W] in PyTorch's view order
 *   avgpool                                   global average pooling [C, H, W] -> [C, 1, 1]
 *   dropout(p=0.5)                            in training, each value zeroed with probability
 *                                             p and the others scaled by 1 / (1 - p), a new
 *                                             mask every step; the identity in inference (as
 *                                             PyTorch's nn.Dropout). Positional: p.
 *   block ... [skip ...] add                  a residual block: the layers after block form the
 *                                             main branch from the block's input x; add sums
 *                                             its output with x, or, after skip, with the
 *                                             output of the layers between skip and add (a
 *                                             projection, e.g. conv(k=1,s=2) bn) applied to x.
 *                                             Blocks do not nest. add(pad=1) zero-pads a
 *                                             main branch smaller than the skip at the bottom
 *                                             and right (as TF.js face-api's residualDown).
 *
 * Names are parameter prefixes (PyTorch state_dict: "cnn1.weight"): by default the i-th conv is
 * cnnI, the i-th linear fcI and the i-th batchnorm bnI, counted per kind from 1; name= overrides
 * it ([A-Za-z_][A-Za-z0-9_]*, unique). Shapes follow PyTorch: out = floor((in + 2p - k) / s) + 1.
 * Syntax errors are SIAMESE_ERR_SPEC and quote the token and its 1-based position; geometry
 * errors are SIAMESE_ERR_SHAPE and name the layer (1-based index, kind, name) and its shapes. */
#include "nn/arch.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "base/recipe.h"

#define SM_DIM_MAX (1 << 20)             /* cap on any single size in a spec */
#define SM_ACT_MAX ((int64_t)INT_MAX)    /* cap on per-image activation elements */
#define SM_TENSOR_MAX ((int64_t)1 << 34) /* cap on the elements of one parameter tensor */

/* ------------------------------------------------------------------ presets */

/* torchvision's ResNets, with its parameter names; the 1000-way fc becomes our embedding. */
#define RN_CONV(OUT, K, S, P, NAME)                                                                \
    "conv(" #OUT ",k=" #K ",s=" #S ",p=" #P ",bias=0,name=" NAME ") "
#define RN_BN(NAME) "bn(name=" NAME ") "
#define RN_STEM RN_CONV(64, 7, 2, 3, "conv1") RN_BN("bn1") "relu maxpool(3,s=2,p=1) "
#define RN_HEAD "avgpool linear(128,name=fc)"
#define RN_DOWN(OUT, S, B) "skip " RN_CONV(OUT, 1, S, 0, B ".downsample.0") RN_BN(B ".downsample.1")
/* BasicBlock: 3x3 conv, bn, relu, 3x3 conv, bn, + x, relu. */
#define RN_BASIC_MAIN(C, S, B)                                                                     \
    "block " RN_CONV(C, 3, S, 1, B ".conv1")                                                       \
        RN_BN(B ".bn1") "relu " RN_CONV(C, 3, 1, 1, B ".conv2") RN_BN(B ".bn2")
#define RN_BASIC(C, B) RN_BASIC_MAIN(C, 1, B) "add relu "
#define RN_BASIC_DOWN(C, S, B) RN_BASIC_MAIN(C, S, B) RN_DOWN(C, S, B) "add relu "
/* Bottleneck (v1.5, stride on the 3x3): 1x1 W, 3x3 W, 1x1 4W, + x. */
#define RN_BOTTLE_MAIN(W, O, S, B)                                                                 \
    "block " RN_CONV(W, 1, 1, 0, B ".conv1")                                                       \
        RN_BN(B ".bn1") "relu " RN_CONV(W, 3, S, 1, B ".conv2")                                    \
            RN_BN(B ".bn2") "relu " RN_CONV(O, 1, 1, 0, B ".conv3") RN_BN(B ".bn3")
#define RN_BOTTLE(W, O, B) RN_BOTTLE_MAIN(W, O, 1, B) "add relu "
#define RN_BOTTLE_DOWN(W, O, S, B) RN_BOTTLE_MAIN(W, O, S, B) RN_DOWN(O, S, B) "add relu "

/* The ResNet texts run past the 4095 characters ISO C asks compilers to support; gcc and clang
 * take any length. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
static const char resnet18_text[] =
    RN_STEM RN_BASIC(64, "layer1.0") RN_BASIC(64, "layer1.1") RN_BASIC_DOWN(128, 2, "layer2.0")
        RN_BASIC(128, "layer2.1") RN_BASIC_DOWN(256, 2, "layer3.0") RN_BASIC(256, "layer3.1")
            RN_BASIC_DOWN(512, 2, "layer4.0") RN_BASIC(512, "layer4.1") RN_HEAD;

static const char resnet34_text[] =
    RN_STEM RN_BASIC(64, "layer1.0") RN_BASIC(64, "layer1.1") RN_BASIC(64, "layer1.2")
        RN_BASIC_DOWN(128, 2, "layer2.0") RN_BASIC(128, "layer2.1") RN_BASIC(128, "layer2.2")
            RN_BASIC(128, "layer2.3") RN_BASIC_DOWN(256, 2, "layer3.0") RN_BASIC(256, "layer3.1")
                RN_BASIC(256, "layer3.2") RN_BASIC(256, "layer3.3") RN_BASIC(256, "layer3.4")
                    RN_BASIC(256, "layer3.5") RN_BASIC_DOWN(512, 2, "layer4.0")
                        RN_BASIC(512, "layer4.1") RN_BASIC(512, "layer4.2") RN_HEAD;

static const char resnet50_text[] = RN_STEM RN_BOTTLE_DOWN(64, 256, 1, "layer1.0")
    RN_BOTTLE(64, 256, "layer1.1") RN_BOTTLE(64, 256, "layer1.2")
        RN_BOTTLE_DOWN(128, 512, 2, "layer2.0") RN_BOTTLE(128, 512, "layer2.1")
            RN_BOTTLE(128, 512, "layer2.2") RN_BOTTLE(128, 512, "layer2.3")
                RN_BOTTLE_DOWN(256, 1024, 2, "layer3.0") RN_BOTTLE(256, 1024, "layer3.1")
                    RN_BOTTLE(256, 1024, "layer3.2") RN_BOTTLE(256, 1024, "layer3.3")
                        RN_BOTTLE(256, 1024, "layer3.4") RN_BOTTLE(256, 1024, "layer3.5")
                            RN_BOTTLE_DOWN(512, 2048, 2, "layer4.0")
                                RN_BOTTLE(512, 2048, "layer4.1") RN_BOTTLE(512, 2048, "layer4.2")
                                    RN_HEAD;
#pragma GCC diagnostic pop

typedef struct preset {
    const char *name;
    sm_shape input;
    const char *text;
} preset;

static const preset presets[] = {
    /* The reference recipe's SiameseNetwork, exactly (1-D embedding, no activation between fcs). */
    {SM_RECIPE_ARCH,
     {SM_RECIPE_CHANNELS, SM_RECIPE_HEIGHT, SM_RECIPE_WIDTH},
     "conv(256,k=11,s=4) relu maxpool(3,s=2) conv(256,k=5) relu maxpool(2,s=2) "
     "conv(384,k=3) relu flatten linear(1024) linear(256) linear(1)"},
    /* 28x28 grey (MNIST, Fashion-MNIST): 28 -> 14 -> 7, 64-d embedding, 214k parameters.
     * Fashion-MNIST test-pair ROC AUC 0.94 after 300 steps of 32 random balanced pairs. */
    {"mnist",
     {1, 28, 28},
     "conv(16,k=3,p=1) bn relu maxpool(2) conv(32,k=3,p=1) bn relu maxpool(2) "
     "flatten linear(128) relu linear(64)"},
    /* Omniglot at 52x52 grey (its 105x105 images resized): four conv64-bn-relu-maxpool blocks,
     * 52 -> 26 -> 13 -> 6 -> 3, and a 128-d linear embedding, 186k parameters (the "Conv-4" of
     * few-shot learning). bench/quality.sh omniglot's recipe, 30 epochs (1020 s of CPU here):
     * 93.2% 20-way one-shot within 5 held-out alphabets, 92.0% on Lake's runs (16 epochs: 92.7%
     * and 91.3%; 8 epochs: 88.5% on Lake's). At 28x28 the same network costs 14 s of CPU per
     * epoch and reached 92.0% / 87.0% in 20 epochs; the 105x105 preset before it (3 convs to
     * fc512) scored 58% on Lake's runs (bench/README.md). */
    {"omniglot",
     {1, 52, 52},
     "conv(64,k=3,p=1) bn relu maxpool(2) conv(64,k=3,p=1) bn relu maxpool(2) "
     "conv(64,k=3,p=1) bn relu maxpool(2) conv(64,k=3,p=1) bn relu maxpool(2) "
     "flatten linear(128)"},
    /* 92x112 grey (AT&T / ORL faces): 112x92 -> 54x44 -> 27x22 -> 13x11 -> 6x5, 128-d embedding,
     * 1.1M parameters. */
    {"faces",
     {1, 112, 92},
     "conv(32,k=5,s=2) bn relu maxpool(2) conv(64,k=3,p=1) bn relu maxpool(2) "
     "conv(128,k=3,p=1) bn relu maxpool(2) flatten linear(256) relu linear(128)"},
    /* torchvision's resnet18/34/50 for 3x224x224 RGB, parameter names as its state_dict; the
     * head fc is a 128-d embedding instead of the 1000 ImageNet classes. */
    {"resnet18", {3, 224, 224}, resnet18_text},
    {"resnet34", {3, 224, 224}, resnet34_text},
    {"resnet50", {3, 224, 224}, resnet50_text},
};

const char *sm_arch_preset_text(const char *name, sm_shape *default_input) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(presets[i].name, name) == 0) {
            if (default_input) *default_input = presets[i].input;
            return presets[i].text;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ layer kinds */

static const char *kind_name(sm_layer_kind kind) {
    switch (kind) {
    case SM_LAYER_CONV2D:
        return "conv";
    case SM_LAYER_RELU:
        return "relu";
    case SM_LAYER_MAXPOOL2D:
        return "maxpool";
    case SM_LAYER_LINEAR:
        return "linear";
    case SM_LAYER_FLATTEN:
        return "flatten";
    case SM_LAYER_BATCHNORM2D:
        return "batchnorm";
    case SM_LAYER_BLOCK:
        return "block";
    case SM_LAYER_SKIP:
        return "skip";
    case SM_LAYER_ADD:
        return "add";
    case SM_LAYER_AVGPOOL:
        return "avgpool";
    case SM_LAYER_SCALE:
        return "scale";
    case SM_LAYER_DROPOUT:
        return "dropout";
    }
    return "?";
}

const char *sm_layer_kind_name(sm_layer_kind kind) { return kind_name(kind); }

static const char *auto_prefix(sm_layer_kind kind) {
    switch (kind) {
    case SM_LAYER_CONV2D:
        return "cnn";
    case SM_LAYER_LINEAR:
        return "fc";
    case SM_LAYER_BATCHNORM2D:
        return "bn";
    case SM_LAYER_SCALE:
        return "scale";
    default:
        return NULL;
    }
}

static int lookup_kind(const char *word, size_t len, sm_layer_kind *kind) {
    static const struct {
        const char *word;
        sm_layer_kind kind;
    } table[] = {
        {"conv", SM_LAYER_CONV2D},
        {"conv2d", SM_LAYER_CONV2D},
        {"maxpool", SM_LAYER_MAXPOOL2D},
        {"maxpool2d", SM_LAYER_MAXPOOL2D},
        {"pool", SM_LAYER_MAXPOOL2D},
        {"linear", SM_LAYER_LINEAR},
        {"fc", SM_LAYER_LINEAR},
        {"batchnorm", SM_LAYER_BATCHNORM2D},
        {"batchnorm2d", SM_LAYER_BATCHNORM2D},
        {"bn", SM_LAYER_BATCHNORM2D},
        {"relu", SM_LAYER_RELU},
        {"flatten", SM_LAYER_FLATTEN},
        {"block", SM_LAYER_BLOCK},
        {"skip", SM_LAYER_SKIP},
        {"add", SM_LAYER_ADD},
        {"avgpool", SM_LAYER_AVGPOOL},
        {"scale", SM_LAYER_SCALE},
        {"dropout", SM_LAYER_DROPOUT},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strlen(table[i].word) == len && strncmp(table[i].word, word, len) == 0) {
            *kind = table[i].kind;
            return 1;
        }
    }
    return 0;
}

static int has_parameters(sm_layer_kind kind) {
    return kind == SM_LAYER_CONV2D || kind == SM_LAYER_LINEAR || kind == SM_LAYER_BATCHNORM2D ||
           kind == SM_LAYER_SCALE;
}

/* ------------------------------------------------------------------ the scanner */

typedef struct scanner {
    const char *text;
    size_t pos;
    sm_err *err;
} scanner;

/* A span of the text: where a token starts and how long it is. */
typedef struct span {
    size_t start, len;
} span;

static siamese_status spec_error(scanner *sc, span at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "<reason> at position P: 'token'" */
static siamese_status spec_error(scanner *sc, span at, const char *fmt, ...) {
    char reason[SM_ERRMSG_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    int shown = at.len > 40 ? 40 : (int)at.len;
    if (at.len == 0)
        return sm_fail(sc->err, SIAMESE_ERR_SPEC, "architecture: %s at position %zu", reason,
                       at.start + 1);
    return sm_fail(sc->err, SIAMESE_ERR_SPEC, "architecture: %s at position %zu: '%.*s%s'", reason,
                   at.start + 1, shown, sc->text + at.start, at.len > 40 ? "..." : "");
}

static void skip_space_and_comments(scanner *sc) {
    for (;;) {
        char c = sc->text[sc->pos];
        if (c == '#') {
            while (sc->text[sc->pos] && sc->text[sc->pos] != '\n') sc->pos++;
        } else if (isspace((unsigned char)c)) {
            sc->pos++;
        } else {
            return;
        }
    }
}

/* Inside parentheses only blanks are allowed (no comments). */
static void skip_blanks(scanner *sc) {
    while (isspace((unsigned char)sc->text[sc->pos])) sc->pos++;
}

static int is_word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

static span scan_word(scanner *sc) {
    span s = {sc->pos, 0};
    while (is_word_char(sc->text[sc->pos])) sc->pos++;
    s.len = sc->pos - s.start;
    return s;
}

/* A value (or key) runs to the next blank, ',', ')', '=' or '(' ; blanks after it are skipped. */
static span scan_value(scanner *sc) {
    skip_blanks(sc);
    span s = {sc->pos, 0};
    while (sc->text[sc->pos] && !strchr(",)=(", sc->text[sc->pos]) &&
           !isspace((unsigned char)sc->text[sc->pos]))
        sc->pos++;
    s.len = sc->pos - s.start;
    skip_blanks(sc);
    return s;
}

static int span_is(const scanner *sc, span s, const char *word) {
    return strlen(word) == s.len && strncmp(sc->text + s.start, word, s.len) == 0;
}

/* ------------------------------------------------------------------ values */

static siamese_status parse_int_value(scanner *sc, span v, const char *what, int lo, int *out) {
    if (sm_parse_int_n(sc->text + v.start, v.len, lo, SM_DIM_MAX, out))
        return spec_error(sc, v, "bad number for %s (want an integer from %d to %d)", what, lo,
                          SM_DIM_MAX);
    return SIAMESE_OK;
}

/* "N" or "HxW". */
static siamese_status parse_pair_value(scanner *sc, span v, const char *what, int lo, int *h,
                                       int *w) {
    const char *p = sc->text + v.start;
    const char *x = memchr(p, 'x', v.len);
    if (!x) {
        if (sm_parse_int_n(p, v.len, lo, SM_DIM_MAX, h)) goto bad;
        *w = *h;
        return SIAMESE_OK;
    }
    size_t hl = (size_t)(x - p);
    if (sm_parse_int_n(p, hl, lo, SM_DIM_MAX, h) ||
        sm_parse_int_n(x + 1, v.len - hl - 1, lo, SM_DIM_MAX, w))
        goto bad;
    return SIAMESE_OK;
bad:
    return spec_error(sc, v, "bad number for %s (want N or HxW, integers from %d to %d)", what, lo,
                      SM_DIM_MAX);
}

static siamese_status parse_float_value(scanner *sc, span v, const char *what, double lo, double hi,
                                        int lo_open, float *out) {
    double d;
    if (sm_parse_double_n(sc->text + v.start, v.len, &d)) goto bad;
    /* The range is checked on the float that is kept: 1e-72 is a positive double but a zero
     * float, and the canonical text must parse again (found by fuzz_arch). */
    float f = (float)d;
    if (!isfinite(f) || f > hi || f < lo || (lo_open && f == lo)) goto bad;
    *out = f;
    return SIAMESE_OK;
bad:
    return spec_error(sc, v, "bad number for %s (want a number in %s%g, %g])", what,
                      lo_open ? "(" : "[", lo, hi);
}

/* dropout's p: a probability in [0, 1) (1 would zero everything and scale by infinity). */
static siamese_status parse_drop_p(scanner *sc, span v, sm_layer *l) {
    float p = 0;
    siamese_status st = parse_float_value(sc, v, "dropout probability p", 0, 1, 0, &p);
    if (st == SIAMESE_OK && p >= 1)
        return spec_error(sc, v, "bad number for dropout probability p (want [0, 1))");
    if (st == SIAMESE_OK) l->drop_p = p;
    return st;
}

static siamese_status parse_name_value(scanner *sc, span v, char *name) {
    const char *p = sc->text + v.start;
    int ok = v.len > 0 && v.len < SM_NAME_MAX && (isalpha((unsigned char)p[0]) || p[0] == '_') &&
             p[v.len - 1] != '.';
    for (size_t i = 0; ok && i < v.len; i++)
        ok = is_word_char(p[i]) || (p[i] == '.' && p[i + 1] != '.');
    if (!ok)
        return spec_error(sc, v,
                          "bad name (want [A-Za-z_][A-Za-z0-9_.]*, no '..', at most %d characters)",
                          SM_NAME_MAX - 1);
    memcpy(name, p, v.len);
    name[v.len] = '\0';
    return SIAMESE_OK;
}

/* ------------------------------------------------------------------ arguments of one layer */

/* What a layer's argument list set explicitly. */
typedef struct layer_args {
    int have_out, have_k, have_s, have_pe;
} layer_args;

static void layer_defaults(sm_layer *l, sm_layer_kind kind) {
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->sh = l->sw = 1;
    l->has_bias = 1;
    l->groups = 1;
    l->bn_eps = 1e-5f;
    l->bn_momentum = 0.1f;
    l->drop_p = 0.5f;
}

/* The keys a layer kind accepts, in positional order first ("" ends the positional part). */
static const char *const *layer_keys(sm_layer_kind kind, int *n_positional) {
    static const char *const conv_keys[] = {"out", "k", "s", "p", "bias", "g", "pe", "name", NULL};
    static const char *const pool_keys[] = {"k", "s", "p", NULL};
    static const char *const linear_keys[] = {"out", "bias", "name", NULL};
    static const char *const bn_keys[] = {"eps", "momentum", "frozen", "name", NULL};
    static const char *const scale_keys[] = {"name", NULL};
    static const char *const add_keys[] = {"pad", NULL};
    static const char *const dropout_keys[] = {"p", NULL};
    static const char *const no_keys[] = {NULL};
    switch (kind) {
    case SM_LAYER_CONV2D:
        *n_positional = 4;
        return conv_keys;
    case SM_LAYER_MAXPOOL2D:
        *n_positional = 3;
        return pool_keys;
    case SM_LAYER_LINEAR:
        *n_positional = 1;
        return linear_keys;
    case SM_LAYER_BATCHNORM2D:
        *n_positional = 0;
        return bn_keys;
    case SM_LAYER_SCALE:
        *n_positional = 0;
        return scale_keys;
    case SM_LAYER_ADD:
        *n_positional = 0;
        return add_keys;
    case SM_LAYER_DROPOUT:
        *n_positional = 1;
        return dropout_keys;
    default:
        *n_positional = 0;
        return no_keys;
    }
}

static siamese_status set_arg(scanner *sc, sm_layer *l, layer_args *seen, const char *key, span v) {
    if (strcmp(key, "out") == 0) {
        seen->have_out = 1;
        return parse_int_value(
            sc, v, l->kind == SM_LAYER_LINEAR ? "output features" : "output channels", 1, &l->out);
    }
    if (strcmp(key, "k") == 0) {
        seen->have_k = 1;
        return parse_pair_value(sc, v, "kernel k", 1, &l->kh, &l->kw);
    }
    if (strcmp(key, "s") == 0) {
        seen->have_s = 1;
        return parse_pair_value(sc, v, "stride s", 1, &l->sh, &l->sw);
    }
    if (strcmp(key, "p") == 0 && l->kind == SM_LAYER_DROPOUT) return parse_drop_p(sc, v, l);
    if (strcmp(key, "p") == 0) return parse_pair_value(sc, v, "padding p", 0, &l->ph, &l->pw);
    if (strcmp(key, "pe") == 0) {
        seen->have_pe = 1;
        return parse_pair_value(sc, v, "end padding pe", 0, &l->ph_end, &l->pw_end);
    }
    if (strcmp(key, "g") == 0) return parse_int_value(sc, v, "groups g", 1, &l->groups);
    if (strcmp(key, "bias") == 0) {
        if (span_is(sc, v, "1") || span_is(sc, v, "true")) l->has_bias = 1;
        else if (span_is(sc, v, "0") || span_is(sc, v, "false")) l->has_bias = 0;
        else return spec_error(sc, v, "bad value for bias (want 0 or 1)");
        return SIAMESE_OK;
    }
    if (strcmp(key, "frozen") == 0) {
        if (span_is(sc, v, "1") || span_is(sc, v, "true")) l->bn_frozen = 1;
        else if (span_is(sc, v, "0") || span_is(sc, v, "false")) l->bn_frozen = 0;
        else return spec_error(sc, v, "bad value for frozen (want 0 or 1)");
        return SIAMESE_OK;
    }
    if (strcmp(key, "pad") == 0) {
        if (span_is(sc, v, "1") || span_is(sc, v, "true")) l->add_pad = 1;
        else if (span_is(sc, v, "0") || span_is(sc, v, "false")) l->add_pad = 0;
        else return spec_error(sc, v, "bad value for pad (want 0 or 1)");
        return SIAMESE_OK;
    }
    if (strcmp(key, "eps") == 0) return parse_float_value(sc, v, "eps", 0, 1, 1, &l->bn_eps);
    if (strcmp(key, "momentum") == 0)
        return parse_float_value(sc, v, "momentum", 0, 1, 0, &l->bn_momentum);
    /* name */
    return parse_name_value(sc, v, l->name);
}

static int key_index(const char *const *keys, const scanner *sc, span k) {
    for (int i = 0; keys[i]; i++)
        if (span_is(sc, k, keys[i])) return i;
    return -1;
}

/* Parses "( arg, arg, ... )" after the layer word; the scanner sits on '('. */
static siamese_status parse_arg_list(scanner *sc, sm_layer *l, span word, layer_args *seen) {
    int n_positional = 0;
    const char *const *keys = layer_keys(l->kind, &n_positional);
    int given[8] = {0};
    int positional_done = 0, index = 0;
    sc->pos++; /* '(' */
    skip_blanks(sc);
    if (sc->text[sc->pos] == ')') {
        sc->pos++;
        return SIAMESE_OK;
    }
    for (;;) {
        span v = scan_value(sc);
        int key = -1;
        if (sc->text[sc->pos] == '=') {
            span k = v;
            key = key_index(keys, sc, k);
            if (key < 0) return spec_error(sc, k, "unknown argument for %s", kind_name(l->kind));
            sc->pos++; /* '=' */
            v = scan_value(sc);
            positional_done = 1;
        } else {
            if (v.len == 0)
                return spec_error(sc, (span){sc->pos, sc->text[sc->pos] ? 1u : 0u},
                                  "missing value");
            if (positional_done)
                return spec_error(sc, v, "positional argument after a keyword argument");
            if (index >= n_positional)
                return spec_error(sc, v, "too many arguments for %s", kind_name(l->kind));
            key = index;
        }
        if (v.len == 0)
            return spec_error(sc, (span){sc->pos, sc->text[sc->pos] ? 1u : 0u}, "missing value");
        if (given[key]) return spec_error(sc, v, "argument %s given twice", keys[key]);
        given[key] = 1;
        siamese_status st = set_arg(sc, l, seen, keys[key], v);
        if (st) return st;
        index++;
        char c = sc->text[sc->pos];
        if (c == ',') {
            sc->pos++;
            continue;
        }
        if (c == ')') {
            sc->pos++;
            return SIAMESE_OK;
        }
        span tail = {word.start, v.start + v.len - word.start};
        if (c == '\0' || isalpha((unsigned char)c)) return spec_error(sc, tail, "missing ')'");
        return spec_error(sc, (span){sc->pos, 1}, "unexpected character in %s arguments",
                          kind_name(l->kind));
    }
}

/* Checks that the arguments a kind needs are present and fills kind-dependent defaults. */
static siamese_status finish_layer_args(scanner *sc, sm_layer *l, span whole,
                                        const layer_args *seen) {
    if ((l->kind == SM_LAYER_CONV2D || l->kind == SM_LAYER_LINEAR) && !seen->have_out)
        return spec_error(sc, whole, "%s needs its output size, e.g. %s", kind_name(l->kind),
                          l->kind == SM_LAYER_CONV2D ? "conv(64,k=3)" : "linear(128)");
    if ((l->kind == SM_LAYER_CONV2D || l->kind == SM_LAYER_MAXPOOL2D) && !seen->have_k)
        return spec_error(sc, whole, "%s needs a kernel size, e.g. %s", kind_name(l->kind),
                          l->kind == SM_LAYER_CONV2D ? "conv(64,k=3)" : "maxpool(2)");
    if (l->kind == SM_LAYER_MAXPOOL2D && !seen->have_s) {
        l->sh = l->kh;
        l->sw = l->kw;
    }
    if (l->kind != SM_LAYER_CONV2D && l->kind != SM_LAYER_LINEAR) l->has_bias = 0;
    if (!seen->have_pe) { /* padding at the bottom / right: the top / left one unless pe= */
        l->ph_end = l->ph;
        l->pw_end = l->pw;
    }
    return SIAMESE_OK;
}

/* One layer starting at the scanner position (not at the end of the text). */
static siamese_status parse_layer(scanner *sc, sm_layer *l) {
    span word = scan_word(sc);
    if (word.len == 0) {
        span bad = {sc->pos, 1};
        return spec_error(sc, bad, "unexpected character (want a layer name)");
    }
    sm_layer_kind kind;
    if (!lookup_kind(sc->text + word.start, word.len, &kind))
        return spec_error(sc, word,
                          "unknown layer (want conv, maxpool, linear, batchnorm, scale, relu, "
                          "flatten, avgpool, dropout, block, skip or add)");
    layer_defaults(l, kind);
    layer_args seen = {0, 0, 0, 0};
    if (sc->text[sc->pos] == '(') {
        siamese_status st = parse_arg_list(sc, l, word, &seen);
        if (st) return st;
    } else if (sc->text[sc->pos] && !isspace((unsigned char)sc->text[sc->pos]) &&
               sc->text[sc->pos] != '#') {
        span rest = {word.start, word.len + 1};
        return spec_error(sc, rest, "unexpected character after layer name");
    }
    span whole = {word.start, sc->pos - word.start};
    return finish_layer_args(sc, l, whole, &seen);
}

/* ------------------------------------------------------------------ shape inference */

static void describe_layer(const sm_arch *arch, int i, char *buf, size_t size) {
    const sm_layer *l = &arch->layers[i];
    if (l->name[0]) snprintf(buf, size, "layer %d (%s %s)", i + 1, kind_name(l->kind), l->name);
    else snprintf(buf, size, "layer %d (%s)", i + 1, kind_name(l->kind));
}

static siamese_status shape_error(sm_err *err, const sm_arch *arch, int i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "layer 4 (conv cnn2) on input 256x3x3: <reason>" */
static siamese_status shape_error(sm_err *err, const sm_arch *arch, int i, const char *fmt, ...) {
    char who[96], reason[SM_ERRMSG_MAX / 2];
    describe_layer(arch, i, who, sizeof who);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    const sm_shape *in = &arch->layers[i].in;
    return sm_fail(err, SIAMESE_ERR_SHAPE, "architecture: %s on input %dx%dx%d: %s", who, in->c,
                   in->h, in->w, reason);
}

/* PyTorch: floor((in + p + p_end - k) / s) + 1, or 0 when the kernel does not fit. */
static int64_t window_out(int64_t in, int k, int s, int p, int p_end) {
    int64_t span_in = in + (int64_t)p + p_end - k;
    if (span_in < 0) return 0;
    return span_in / s + 1;
}

static siamese_status infer_window(sm_arch *arch, int i, int flat, sm_err *err) {
    sm_layer *l = &arch->layers[i];
    const char *what = l->kind == SM_LAYER_CONV2D ? "convolution" : "pooling";
    if (flat) return shape_error(err, arch, i, "%s needs spatial input, not flat features", what);
    if (l->kind == SM_LAYER_MAXPOOL2D && (2 * l->ph > l->kh || 2 * l->pw > l->kw))
        return shape_error(err, arch, i, "padding %dx%d is more than half the kernel %dx%d", l->ph,
                           l->pw, l->kh, l->kw);
    int conv = l->kind == SM_LAYER_CONV2D;
    int ph_end = conv ? l->ph_end : l->ph, pw_end = conv ? l->pw_end : l->pw;
    if (conv && (l->in.c % l->groups || l->out % l->groups))
        return shape_error(err, arch, i, "%d groups do not divide %d input and %d output channels",
                           l->groups, l->in.c, l->out);
    int64_t oh = window_out(l->in.h, l->kh, l->sh, l->ph, ph_end);
    int64_t ow = window_out(l->in.w, l->kw, l->sw, l->pw, pw_end);
    if (oh < 1 || ow < 1)
        return shape_error(err, arch, i, "kernel %dx%d is larger than the padded input %lldx%lld",
                           l->kh, l->kw, (long long)l->in.h + l->ph + ph_end,
                           (long long)l->in.w + l->pw + pw_end);
    int64_t oc = l->kind == SM_LAYER_CONV2D ? l->out : l->in.c;
    if (oc * oh * ow > SM_ACT_MAX)
        return shape_error(err, arch, i, "output %lldx%lldx%lld is too large", (long long)oc,
                           (long long)oh, (long long)ow);
    if (conv && (int64_t)l->out * (l->in.c / l->groups) * l->kh * l->kw > SM_TENSOR_MAX)
        return shape_error(err, arch, i, "weight tensor is too large");
    l->out_shape = (sm_shape){(int)oc, (int)oh, (int)ow};
    return SIAMESE_OK;
}

static siamese_status infer_layer(sm_arch *arch, int i, int flat, sm_err *err) {
    sm_layer *l = &arch->layers[i];
    int64_t features = (int64_t)l->in.c * l->in.h * l->in.w;
    switch (l->kind) {
    case SM_LAYER_CONV2D:
    case SM_LAYER_MAXPOOL2D:
        return infer_window(arch, i, flat, err);
    case SM_LAYER_RELU:
    case SM_LAYER_DROPOUT:
    case SM_LAYER_BATCHNORM2D:
    case SM_LAYER_SCALE:
    case SM_LAYER_BLOCK:
    case SM_LAYER_SKIP: /* infer_block sets the skip branch's input */
    case SM_LAYER_ADD:  /* infer_block checks the branches agree */
        l->out_shape = l->in;
        return SIAMESE_OK;
    case SM_LAYER_AVGPOOL:
        if (flat)
            return shape_error(err, arch, i, "pooling needs spatial input, not flat features");
        l->out_shape = (sm_shape){l->in.c, 1, 1};
        return SIAMESE_OK;
    case SM_LAYER_FLATTEN:
        l->out_shape = (sm_shape){(int)features, 1, 1};
        return SIAMESE_OK;
    case SM_LAYER_LINEAR:
        if (l->in.h != 1 || l->in.w != 1)
            return shape_error(err, arch, i, "needs flat input (internal: flatten missing)");
        if ((int64_t)l->out * features > SM_TENSOR_MAX)
            return shape_error(err, arch, i, "weight tensor %dx%lld is too large", l->out,
                               (long long)features);
        l->out_shape = (sm_shape){l->out, 1, 1};
        return SIAMESE_OK;
    }
    return shape_error(err, arch, i, "unknown layer kind");
}

/* Where the residual block being read is: its block layer, its skip layer, or -1. */
typedef struct block_state {
    int block, skip;
} block_state;

static int same_shape(sm_shape a, sm_shape b) { return a.c == b.c && a.h == b.h && a.w == b.w; }

/* The block markers: block opens (no nesting), skip restarts from the block input, add closes
 * after checking that the main branch and the skip agree. */
static siamese_status infer_block(sm_arch *arch, int i, block_state *bs, sm_err *err) {
    sm_layer *l = &arch->layers[i];
    if (l->kind == SM_LAYER_BLOCK) {
        if (bs->block >= 0)
            return shape_error(err, arch, i, "blocks do not nest (block at layer %d is open)",
                               bs->block + 1);
        bs->block = i;
        bs->skip = -1;
        return SIAMESE_OK;
    }
    if (l->kind != SM_LAYER_SKIP && l->kind != SM_LAYER_ADD) return SIAMESE_OK;
    if (bs->block < 0)
        return shape_error(err, arch, i, "outside a residual block (want block first)");
    sm_shape x = arch->layers[bs->block].in;
    if (l->kind == SM_LAYER_SKIP) {
        if (bs->skip >= 0)
            return shape_error(err, arch, i, "second skip in the block of layer %d", bs->block + 1);
        bs->skip = i;
        l->out_shape = x;
        return SIAMESE_OK;
    }
    sm_shape main = bs->skip >= 0 ? arch->layers[bs->skip].in : l->in;
    sm_shape skip = bs->skip >= 0 ? l->in : x;
    int padded = l->add_pad && main.c == skip.c && main.h <= skip.h && main.w <= skip.w;
    if (!padded && !same_shape(main, skip))
        return shape_error(
            err, arch, i, "the main branch gives %dx%dx%d but the %s gives %dx%dx%d%s", main.c,
            main.h, main.w, bs->skip >= 0 ? "skip branch" : "block input", skip.c, skip.h, skip.w,
            bs->skip >= 0 ? "" : " (project it: skip conv(C,k=1,s=S,bias=0) bn)");
    l->out_shape = skip;
    bs->block = -1;
    return SIAMESE_OK;
}

static siamese_status infer_shapes(sm_arch *arch, sm_err *err) {
    sm_shape cur = arch->input;
    int flat = 0; /* after flatten or linear the features have no spatial layout */
    block_state bs = {-1, -1};
    for (int i = 0; i < arch->n_layers; i++) {
        arch->layers[i].in = cur;
        siamese_status st = infer_layer(arch, i, flat, err);
        if (!st) st = infer_block(arch, i, &bs, err);
        if (st) return st;
        cur = arch->layers[i].out_shape;
        if (arch->layers[i].kind == SM_LAYER_FLATTEN || arch->layers[i].kind == SM_LAYER_LINEAR)
            flat = 1;
    }
    if (bs.block >= 0)
        return shape_error(err, arch, bs.block, "the residual block has no add to close it");
    return SIAMESE_OK;
}

/* ------------------------------------------------------------------ names */

static void auto_name(sm_layer_kind kind, int ordinal, char *out) {
    snprintf(out, SM_NAME_MAX, "%s%d", auto_prefix(kind), ordinal);
}

static siamese_status assign_names(sm_arch *arch, sm_err *err) {
    int count[SM_LAYER_KINDS] = {0};
    for (int i = 0; i < arch->n_layers; i++) {
        sm_layer *l = &arch->layers[i];
        if (!has_parameters(l->kind)) {
            l->name[0] = '\0';
            continue;
        }
        int ordinal = ++count[l->kind];
        if (!l->name[0]) auto_name(l->kind, ordinal, l->name);
    }
    for (int i = 0; i < arch->n_layers; i++) {
        for (int j = 0; j < i; j++) {
            if (arch->layers[i].name[0] && strcmp(arch->layers[i].name, arch->layers[j].name) == 0)
                return sm_fail(err, SIAMESE_ERR_SPEC,
                               "architecture: layers %d (%s) and %d (%s) are both named '%s'",
                               j + 1, kind_name(arch->layers[j].kind), i + 1,
                               kind_name(arch->layers[i].kind), arch->layers[i].name);
        }
    }
    return SIAMESE_OK;
}

/* ------------------------------------------------------------------ parse */

static siamese_status append_layer(sm_arch *arch, const sm_layer *l, scanner *sc, span at) {
    if (arch->n_layers >= SM_MAX_LAYERS)
        return spec_error(sc, at, "too many layers (at most %d)", SM_MAX_LAYERS);
    arch->layers[arch->n_layers++] = *l;
    return SIAMESE_OK;
}

static siamese_status parse_layers(scanner *sc, sm_arch *arch) {
    int flat = 0; /* the current output is flat features (after flatten or linear) */
    for (;;) {
        skip_space_and_comments(sc);
        if (!sc->text[sc->pos]) break;
        size_t start = sc->pos;
        sm_layer l;
        siamese_status st = parse_layer(sc, &l);
        if (st) return st;
        span at = {start, sc->pos - start};
        if (l.kind == SM_LAYER_LINEAR && !flat) { /* implicit flatten */
            sm_layer flatten;
            layer_defaults(&flatten, SM_LAYER_FLATTEN);
            flatten.has_bias = 0;
            if ((st = append_layer(arch, &flatten, sc, at))) return st;
            flat = 1;
        }
        if (l.kind == SM_LAYER_FLATTEN || l.kind == SM_LAYER_LINEAR) flat = 1;
        if ((st = append_layer(arch, &l, sc, at))) return st;
    }
    return SIAMESE_OK;
}

static siamese_status check_input(sm_shape input, sm_err *err) {
    if (input.c < 1 || input.h < 1 || input.w < 1 || input.c > SM_DIM_MAX || input.h > SM_DIM_MAX ||
        input.w > SM_DIM_MAX || (int64_t)input.c * input.h * input.w > SM_ACT_MAX)
        return sm_fail(err, SIAMESE_ERR_SHAPE, "architecture: invalid input shape %dx%dx%d",
                       input.c, input.h, input.w);
    return SIAMESE_OK;
}

static siamese_status check_trainable(const sm_arch *arch, sm_err *err) {
    for (int i = 0; i < arch->n_layers; i++)
        if (arch->layers[i].kind == SM_LAYER_CONV2D || arch->layers[i].kind == SM_LAYER_LINEAR)
            return SIAMESE_OK;
    return sm_fail(err, SIAMESE_ERR_SPEC, "architecture: no conv or linear layer to train");
}

siamese_status sm_arch_parse(const char *text, sm_shape input, sm_arch *arch, sm_err *err) {
    if (!text || !arch) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "architecture: NULL argument");
    memset(arch, 0, sizeof *arch);
    arch->input = input;
    scanner sc = {text, 0, err};
    siamese_status st = parse_layers(&sc, arch);
    if (!st && arch->n_layers == 0)
        st = sm_fail(err, SIAMESE_ERR_SPEC, "architecture: empty (no layers)");
    if (!st) st = check_trainable(arch, err);
    if (!st) st = assign_names(arch, err);
    if (!st) st = check_input(input, err);
    if (!st) st = infer_shapes(arch, err);
    return st;
}

int sm_arch_embedding_dim(const sm_arch *arch) {
    if (!arch || arch->n_layers == 0) return 0;
    sm_shape s = arch->layers[arch->n_layers - 1].out_shape;
    return s.c * s.h * s.w;
}

int sm_arch_head_layer(const sm_arch *arch) {
    int last = -1;
    for (int i = 0; arch && i < arch->n_layers; i++)
        if (has_parameters(arch->layers[i].kind)) last = i;
    return last;
}

siamese_status sm_arch_set_embedding_dim(sm_arch *arch, int dim, sm_err *err) {
    if (dim < 1 || dim > SM_MAX_EMBEDDING_DIM)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "embedding dimension %d must be in 1..%d", dim,
                       SM_MAX_EMBEDDING_DIM);
    sm_layer *head = arch->n_layers > 0 ? &arch->layers[arch->n_layers - 1] : NULL;
    if (!head || head->kind != SM_LAYER_LINEAR)
        return sm_fail(err, SIAMESE_ERR_SPEC,
                       "embedding dimension %d: the architecture ends in '%s', not in a linear "
                       "head that could give it",
                       dim, head ? kind_name(head->kind) : "nothing");
    head->out = dim;
    head->out_shape = (sm_shape){dim, 1, 1};
    return SIAMESE_OK;
}

/* ------------------------------------------------------------------ format */

typedef struct out_buf {
    char *buf;
    size_t size, len;
} out_buf;

static void emit(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(out_buf *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->size ? o->size - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static void emit_pair(out_buf *o, const char *key, int h, int w) {
    if (h == w) emit(o, ",%s=%d", key, h);
    else emit(o, ",%s=%dx%d", key, h, w);
}

/* The shortest decimal that reads back as the same float. */
static void emit_float(out_buf *o, const char *key, float v) {
    char tmp[48];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)v);
        if (strtof(tmp, NULL) == v) break;
    }
    emit(o, ",%s=%s", key, tmp);
}

static void emit_layer(out_buf *o, const sm_layer *l, int ordinal) {
    char auto_buf[SM_NAME_MAX];
    const char *prefix = auto_prefix(l->kind);
    if (prefix) auto_name(l->kind, ordinal, auto_buf);
    switch (l->kind) {
    case SM_LAYER_CONV2D:
        emit(o, "conv(%d", l->out);
        emit_pair(o, "k", l->kh, l->kw);
        if (l->sh != 1 || l->sw != 1) emit_pair(o, "s", l->sh, l->sw);
        if (l->ph || l->pw) emit_pair(o, "p", l->ph, l->pw);
        if (l->ph_end != l->ph || l->pw_end != l->pw) emit_pair(o, "pe", l->ph_end, l->pw_end);
        if (l->groups != 1) emit(o, ",g=%d", l->groups);
        if (!l->has_bias) emit(o, ",bias=0");
        break;
    case SM_LAYER_MAXPOOL2D:
        if (l->kh == l->kw) emit(o, "maxpool(%d", l->kh);
        else emit(o, "maxpool(%dx%d", l->kh, l->kw);
        if (l->sh != l->kh || l->sw != l->kw) emit_pair(o, "s", l->sh, l->sw);
        if (l->ph || l->pw) emit_pair(o, "p", l->ph, l->pw);
        break;
    case SM_LAYER_LINEAR:
        emit(o, "linear(%d", l->out);
        if (!l->has_bias) emit(o, ",bias=0");
        break;
    case SM_LAYER_BATCHNORM2D:
        emit(o, "batchnorm(");
        if (l->bn_eps != 1e-5f) emit_float(o, "eps", l->bn_eps);
        if (l->bn_momentum != 0.1f) emit_float(o, "momentum", l->bn_momentum);
        if (l->bn_frozen) emit(o, ",frozen=1");
        break;
    case SM_LAYER_SCALE:
        emit(o, "scale(");
        break;
    case SM_LAYER_ADD:
        emit(o, l->add_pad ? "add(pad=1)" : "add");
        return;
    case SM_LAYER_BLOCK:
    case SM_LAYER_SKIP:
    case SM_LAYER_AVGPOOL:
        emit(o, "%s", kind_name(l->kind));
        return;
    case SM_LAYER_RELU:
        emit(o, "relu");
        return;
    case SM_LAYER_FLATTEN:
        emit(o, "flatten");
        return;
    case SM_LAYER_DROPOUT:
        emit(o, "dropout");
        if (l->drop_p != 0.5f) {
            emit(o, "(");
            emit_float(o, "p", l->drop_p);
            emit(o, ")");
        }
        return;
    }
    if (prefix && strcmp(l->name, auto_buf) != 0) emit(o, ",name=%s", l->name);
    emit(o, ")");
}

/* "batchnorm(,eps=...)" -> "batchnorm(eps=...)"; "batchnorm()" -> "batchnorm". */
static void tidy_empty_args(char *buf) {
    char *p;
    while ((p = strstr(buf, "(,")) != NULL) memmove(p + 1, p + 2, strlen(p + 2) + 1);
    while ((p = strstr(buf, "()")) != NULL) memmove(p, p + 2, strlen(p + 2) + 1);
}

size_t sm_arch_format(const sm_arch *arch, char *buf, size_t size) {
    char local[SM_MAX_LAYERS * 128]; /* a layer formats to at most ~120 characters */
    out_buf o = {local, sizeof local, 0};
    int count[SM_LAYER_KINDS] = {0};
    local[0] = '\0';
    for (int i = 0; i < arch->n_layers; i++) {
        const sm_layer *l = &arch->layers[i];
        if (i) emit(&o, " ");
        emit_layer(&o, l, has_parameters(l->kind) ? ++count[l->kind] : 0);
    }
    tidy_empty_args(local);
    size_t len = strlen(local);
    if (buf && size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(buf, local, n);
        buf[n] = '\0';
    }
    return len;
}

/* ------------------------------------------------------------------ parameter table */

/* Each slot's PyTorch name and where its values live. */
static const struct {
    const char *name;
    sm_tensor_role role;
} slots[] = {
    [SM_SLOT_WEIGHT] = {"weight", SM_TENSOR_PARAM},
    [SM_SLOT_BIAS] = {"bias", SM_TENSOR_PARAM},
    [SM_SLOT_RUNNING_MEAN] = {"running_mean", SM_TENSOR_BUFFER},
    [SM_SLOT_RUNNING_VAR] = {"running_var", SM_TENSOR_BUFFER},
    [SM_SLOT_NUM_BATCHES_TRACKED] = {"num_batches_tracked", SM_TENSOR_COUNTER},
};

static void add_tensor(sm_param_table *t, const sm_layer *l, int layer, sm_tensor_slot slot,
                       int ndim, const int64_t *dims) {
    sm_tensor_info *ti = &t->t[t->n++];
    memset(ti, 0, sizeof *ti);
    snprintf(ti->name, sizeof ti->name, "%s.%s", l->name, slots[slot].name);
    ti->slot = slot;
    sm_tensor_role role = ti->role = slots[slot].role;
    ti->layer = layer;
    ti->ndim = ndim;
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        ti->dims[d] = dims[d];
        count *= (size_t)dims[d];
    }
    ti->count = count;
    size_t *cursor = role == SM_TENSOR_PARAM    ? &t->n_params
                     : role == SM_TENSOR_BUFFER ? &t->n_buffers
                                                : &t->n_counters;
    ti->offset = *cursor;
    *cursor += count;
}

void sm_param_table_build(const sm_arch *arch, sm_param_table *table) {
    memset(table, 0, sizeof *table);
    for (int i = 0; i < arch->n_layers; i++) {
        const sm_layer *l = &arch->layers[i];
        int64_t in_features = (int64_t)l->in.c * l->in.h * l->in.w;
        if (l->kind == SM_LAYER_CONV2D) {
            int64_t w[4] = {l->out, l->in.c / l->groups, l->kh, l->kw}, b[1] = {l->out};
            add_tensor(table, l, i, SM_SLOT_WEIGHT, 4, w);
            if (l->has_bias) add_tensor(table, l, i, SM_SLOT_BIAS, 1, b);
        } else if (l->kind == SM_LAYER_LINEAR) {
            int64_t w[2] = {l->out, in_features}, b[1] = {l->out};
            add_tensor(table, l, i, SM_SLOT_WEIGHT, 2, w);
            if (l->has_bias) add_tensor(table, l, i, SM_SLOT_BIAS, 1, b);
        } else if (l->kind == SM_LAYER_SCALE) {
            int64_t c[1] = {l->in.c};
            add_tensor(table, l, i, SM_SLOT_WEIGHT, 1, c);
            add_tensor(table, l, i, SM_SLOT_BIAS, 1, c);
        } else if (l->kind == SM_LAYER_BATCHNORM2D) {
            int64_t c[1] = {l->in.c};
            add_tensor(table, l, i, SM_SLOT_WEIGHT, 1, c);
            add_tensor(table, l, i, SM_SLOT_BIAS, 1, c);
            add_tensor(table, l, i, SM_SLOT_RUNNING_MEAN, 1, c);
            add_tensor(table, l, i, SM_SLOT_RUNNING_VAR, 1, c);
            add_tensor(table, l, i, SM_SLOT_NUM_BATCHES_TRACKED, 0, NULL);
        }
    }
}

int sm_param_table_find(const sm_param_table *table, const char *name) {
    if (!table || !name) return -1;
    for (int i = 0; i < table->n; i++)
        if (strcmp(table->t[i].name, name) == 0) return i;
    return -1;
}
