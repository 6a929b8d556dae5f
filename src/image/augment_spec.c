/* The augmentation spec: named presets and NAME=VALUE terms parsed into an sm_augment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "image/augment.h"

#define TERM_MAX 64

/* Koch et al. (2015)'s distortions for Omniglot, and a mild photo recipe. */
static const struct {
    const char *name, *terms;
} presets[] = {
    {"none", ""},
    {"koch", "rotate=10,shear=0.3,scale=0.8:1.2,translate=2"},
    {"photo", "crop=0.35:1,flip,brightness=0.2,contrast=0.2"},
};

sm_augment sm_augment_none(void) {
    sm_augment a;
    memset(&a, 0, sizeof a);
    return a;
}

int sm_augment_is_identity(const sm_augment *a) {
    return a->rotate == 0 && a->shear == 0 && a->scale_lo == 0 && a->translate == 0 &&
           a->flip == 0 && a->brightness == 0 && a->contrast == 0 && a->crop_lo == 0 &&
           a->elastic_alpha == 0;
}

/* Reads one number filling the whole text; 0 when it is not one. */
static int read_number(const char *text, double *out) {
    return sm_parse_double(text, out) == 0 && isfinite(*out);
}

/* Copies text into buf[TERM_MAX] and cuts it at its first ':': the text after the colon, or NULL
 * when there is none. */
static const char *split_colon(char *buf, const char *text) {
    snprintf(buf, TERM_MAX, "%s", text);
    char *colon = strchr(buf, ':');
    if (!colon) return NULL;
    *colon = '\0';
    return colon + 1;
}

/* Reads "LO:HI" (or one number, for LO = HI). */
static int read_range(const char *text, double *lo, double *hi) {
    char buf[TERM_MAX];
    const char *hi_text = split_colon(buf, text);
    if (!hi_text) return read_number(buf, lo) && read_number(buf, hi);
    return read_number(buf, lo) && read_number(hi_text, hi);
}

static siamese_status bad_term(sm_err *err, const char *term, const char *why) {
    return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "augment: '%s': %s", term, why);
}

/* One number in [lo, hi]. */
static siamese_status term_number(const char *term, const char *value, double lo, double hi,
                                  const char *why, double *out, sm_err *err) {
    double v;
    if (!value || !read_number(value, &v)) return bad_term(err, term, "expects a number");
    if (!(v >= lo && v <= hi)) return bad_term(err, term, why);
    *out = v;
    return SIAMESE_OK;
}

/* A range LO:HI with lo <= LO <= HI <= hi and LO > 0. */
static siamese_status term_range(const char *term, const char *value, double hi_max,
                                 const char *why, double *lo, double *hi, sm_err *err) {
    if (!value || !read_range(value, lo, hi)) return bad_term(err, term, "expects LO:HI");
    if (!(*lo > 0 && *lo <= *hi && *hi <= hi_max)) return bad_term(err, term, why);
    return SIAMESE_OK;
}

/* One part of an elastic term that does not read as a finite number. */
static siamese_status not_a_number(sm_err *err, const char *term, const char *part,
                                   const char *text) {
    return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                   "augment: '%s': elastic %s '%s' is not a finite number (expects ALPHA:SIGMA "
                   "pixels, e.g. elastic=34:4)",
                   term, part, text);
}

/* "ALPHA:SIGMA" (Simard et al.'s names): displacements scaled by ALPHA in [0, 1000] pixels,
 * 0 = off, smoothed by a Gaussian of SIGMA in [0.5, 100] pixels. */
static siamese_status term_elastic(const char *term, const char *value, sm_augment *a,
                                   sm_err *err) {
    char buf[TERM_MAX];
    const char *sigma_text = split_colon(buf, value ? value : "");
    double alpha, sigma;
    if (!sigma_text) return bad_term(err, term, "expects ALPHA:SIGMA (pixels), e.g. elastic=34:4");
    if (!read_number(buf, &alpha)) return not_a_number(err, term, "ALPHA", buf);
    if (!read_number(sigma_text, &sigma)) return not_a_number(err, term, "SIGMA", sigma_text);
    if (!(alpha >= 0 && alpha <= 1000))
        return bad_term(err, term, "elastic ALPHA must be within 0..1000 pixels (0 = off)");
    if (!(sigma >= 0.5 && sigma <= 100))
        return bad_term(err, term, "elastic SIGMA must be within 0.5..100 pixels");
    a->elastic_alpha = alpha;
    a->elastic_sigma = sigma;
    return SIAMESE_OK;
}

static siamese_status apply_preset(const char *name, sm_augment *a, int *found, sm_err *err);

/* One term "name=value" or "name" (a preset, or flip). */
static siamese_status apply_term(const char *term, sm_augment *a, sm_err *err) {
    char name[TERM_MAX];
    const char *eq = strchr(term, '=');
    size_t len = eq ? (size_t)(eq - term) : strlen(term);
    if (len >= sizeof name) return bad_term(err, term, "unknown term");
    memcpy(name, term, len);
    name[len] = '\0';
    const char *value = eq ? eq + 1 : NULL;
    if (!strcmp(name, "rotate"))
        return term_number(term, value, 0, 180, "rotation must be within 0..180 degrees",
                           &a->rotate, err);
    if (!strcmp(name, "shear"))
        return term_number(term, value, 0, 1, "shear must be within 0..1", &a->shear, err);
    if (!strcmp(name, "translate"))
        return term_number(term, value, 0, 1024, "translation must be within 0..1024 pixels",
                           &a->translate, err);
    if (!strcmp(name, "brightness"))
        return term_number(term, value, 0, 1, "brightness must be within 0..1", &a->brightness,
                           err);
    if (!strcmp(name, "contrast"))
        return term_number(term, value, 0, 1, "contrast must be within 0..1", &a->contrast, err);
    if (!strcmp(name, "flip")) {
        if (!value) {
            a->flip = 0.5;
            return SIAMESE_OK;
        }
        return term_number(term, value, 0, 1, "flip probability must be within 0..1", &a->flip,
                           err);
    }
    if (!strcmp(name, "scale"))
        return term_range(term, value, 4, "scale needs 0 < LO <= HI <= 4", &a->scale_lo,
                          &a->scale_hi, err);
    if (!strcmp(name, "crop"))
        return term_range(term, value, 1, "crop needs area fractions 0 < LO <= HI <= 1",
                          &a->crop_lo, &a->crop_hi, err);
    if (!strcmp(name, "elastic")) return term_elastic(term, value, a, err);
    int found = 0;
    siamese_status st = value ? SIAMESE_OK : apply_preset(name, a, &found, err);
    if (st != SIAMESE_OK || found) return st;
    return bad_term(err, term,
                    "unknown term (presets: koch, photo, none; terms: rotate, shear, scale, "
                    "translate, flip, brightness, contrast, crop, elastic)");
}

/* Applies every comma-separated term of text. */
static siamese_status apply_terms(const char *text, sm_augment *a, sm_err *err) {
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char term[TERM_MAX];
        if (len >= sizeof term)
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "augment: '%.*s...': term too long", 20,
                           p);
        memcpy(term, p, len);
        term[len] = '\0';
        if (len == 0) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "augment: empty term");
        siamese_status st = apply_term(term, a, err);
        if (st != SIAMESE_OK) return st;
        p += len + (comma ? 1 : 0);
        if (comma && !*p) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "augment: empty term");
    }
    return SIAMESE_OK;
}

static siamese_status apply_preset(const char *name, sm_augment *a, int *found, sm_err *err) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name) != 0) continue;
        *found = 1;
        if (!strcmp(name, "none")) *a = sm_augment_none();
        return apply_terms(presets[i].terms, a, err);
    }
    *found = 0;
    return SIAMESE_OK;
}

siamese_status sm_augment_parse(const char *spec, sm_augment *out, sm_err *err) {
    sm_augment a = sm_augment_none();
    siamese_status st = spec ? apply_terms(spec, &a, err) : SIAMESE_OK;
    if (st == SIAMESE_OK) *out = a;
    return st;
}

siamese_status siamese_augment_check(const char *spec, char *errmsg, size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    sm_augment a;
    siamese_status st = sm_augment_parse(spec, &a, &err);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}
