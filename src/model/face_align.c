/* Face alignment: face-api's 68 landmarks, a similarity transform onto dlib's mean face, the 150x150 face chip (dlib's get_face_chip_details with padding 0.25). */
#include "model/face_align.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

/* dlib's mean face shape, landmarks 17..67 (brows, nose, eyes, mouth) in a unit square: the
 * published numbers of dlib's get_face_chip_details, as (x, y). */
#define TEMPLATE_FIRST 17
#define TEMPLATE_POINTS 51
static const double template_xy[TEMPLATE_POINTS][2] = {
    {0.000213256, 0.106454}, {0.0752622, 0.038915}, {0.18113, 0.0187482},  {0.29077, 0.0344891},
    {0.393397, 0.0773906},   {0.586856, 0.0773906}, {0.689483, 0.0344891}, {0.799124, 0.0187482},
    {0.904991, 0.038915},    {0.98004, 0.106454},   {0.490127, 0.203352},  {0.490127, 0.307009},
    {0.490127, 0.409805},    {0.490127, 0.515625},  {0.36688, 0.587326},   {0.426036, 0.609345},
    {0.490127, 0.628106},    {0.554217, 0.609345},  {0.613373, 0.587326},  {0.121737, 0.216423},
    {0.187122, 0.178758},    {0.265825, 0.179852},  {0.334606, 0.231733},  {0.260918, 0.245099},
    {0.182743, 0.244077},    {0.645647, 0.231733},  {0.714428, 0.179852},  {0.793132, 0.178758},
    {0.858516, 0.216423},    {0.79751, 0.244077},   {0.719335, 0.245099},  {0.254149, 0.780233},
    {0.340985, 0.745405},    {0.428858, 0.727388},  {0.490127, 0.742578},  {0.551395, 0.727388},
    {0.639268, 0.745405},    {0.726104, 0.780233},  {0.642159, 0.864805},  {0.556721, 0.902192},
    {0.490127, 0.909281},    {0.423532, 0.902192},  {0.338094, 0.864805},  {0.290379, 0.784792},
    {0.428096, 0.778746},    {0.490127, 0.785343},  {0.552157, 0.778746},  {0.689874, 0.784792},
    {0.553364, 0.824182},    {0.490127, 0.831803},  {0.42689, 0.824182}};

/* ---------------------------------------------------------------- landmarks */

/* The image as the landmark network's input: RGB, padded to a centred black square, resized to
 * 112x112, as [0, 1] floats; *off_x, *off_y and *square say where the image sits in the square. */
static siamese_status landmark_input(const sm_image *src, float *tensor, int *off_x, int *off_y,
                                     int *square, sm_err *err) {
    sm_image rgb = {0}, padded = {0}, small = {0};
    siamese_status st = sm_image_convert(src, 3, &rgb, err);
    int side = rgb.width > rgb.height ? rgb.width : rgb.height;
    *off_x = (side - rgb.width) / 2;
    *off_y = (side - rgb.height) / 2;
    *square = side;
    if (st == SIAMESE_OK) st = sm_image_alloc(&padded, side, side, 3, err);
    if (st == SIAMESE_OK) {
        memset(padded.data, 0, (size_t)side * side * 3);
        for (int y = 0; y < rgb.height; y++)
            memcpy(padded.data + ((size_t)(y + *off_y) * side + *off_x) * 3,
                   rgb.data + (size_t)y * rgb.width * 3, (size_t)rgb.width * 3);
        st = sm_image_resize(&padded, SM_LANDMARK_SIDE, SM_LANDMARK_SIDE, &small, err);
    }
    if (st == SIAMESE_OK) st = sm_image_to_tensor(&small, NULL, NULL, tensor);
    sm_image_free(&rgb);
    sm_image_free(&padded);
    sm_image_free(&small);
    return st;
}

siamese_status sm_face_landmarks(siamese_model *landmarks, const sm_image *images, int n,
                                 float *points, sm_err *err) {
    const size_t per = 3 * SM_LANDMARK_SIDE * SM_LANDMARK_SIDE;
    float *x = calloc((size_t)n * per, sizeof *x);
    int *geom = malloc((size_t)n * 3 * sizeof *geom);
    if (!x || !geom) {
        free(x);
        free(geom);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "face alignment: out of memory");
    }
    siamese_status st = SIAMESE_OK;
    for (int i = 0; i < n && st == SIAMESE_OK; i++)
        st = landmark_input(&images[i], x + (size_t)i * per, &geom[3 * i], &geom[3 * i + 1],
                            &geom[3 * i + 2], err);
    if (st == SIAMESE_OK) {
        st = siamese_model_embed(landmarks, x, n, points);
        if (st != SIAMESE_OK)
            sm_fail(err, st, "face alignment: landmarks: %s", siamese_model_errmsg(landmarks));
    }
    for (int i = 0; i < n && st == SIAMESE_OK; i++) /* fractions of the square -> pixels */
        for (int k = 0; k < SM_LANDMARKS; k++) {
            float *p = points + ((size_t)i * SM_LANDMARKS + k) * 2;
            p[0] = p[0] * (float)geom[3 * i + 2] - (float)geom[3 * i];
            p[1] = p[1] * (float)geom[3 * i + 2] - (float)geom[3 * i + 1];
        }
    free(x);
    free(geom);
    return st;
}

/* ---------------------------------------------------------------- the chip */

/* Least squares over similarity transforms q = z p + t (z = a + ib a scaled rotation):
 * z = sum(conj(p') q') / sum(|p'|^2) over centred points; m maps q back to p. */
void sm_face_chip_transform(const float *points, int side, double m[6]) {
    double mp[2] = {0, 0}, mq[2] = {0, 0}, q[TEMPLATE_POINTS][2];
    const float *p = points + 2 * TEMPLATE_FIRST;
    for (int i = 0; i < TEMPLATE_POINTS; i++) {
        q[i][0] = (template_xy[i][0] + SM_CHIP_PADDING) / (1 + 2 * SM_CHIP_PADDING) * side;
        q[i][1] = (template_xy[i][1] + SM_CHIP_PADDING) / (1 + 2 * SM_CHIP_PADDING) * side;
        mp[0] += p[2 * i] / (double)TEMPLATE_POINTS;
        mp[1] += p[2 * i + 1] / (double)TEMPLATE_POINTS;
        mq[0] += q[i][0] / TEMPLATE_POINTS;
        mq[1] += q[i][1] / TEMPLATE_POINTS;
    }
    double re = 0, im = 0, norm = 0;
    for (int i = 0; i < TEMPLATE_POINTS; i++) {
        double px = p[2 * i] - mp[0], py = p[2 * i + 1] - mp[1];
        double qx = q[i][0] - mq[0], qy = q[i][1] - mq[1];
        re += px * qx + py * qy;
        im += px * qy - py * qx;
        norm += px * px + py * py;
    }
    if (norm <= 0) norm = 1; /* every point in one place: a degenerate face, any chip will do */
    double a = re / norm, b = im / norm, det = a * a + b * b;
    if (det <= 0) det = 1;
    /* inverse of [[a, -b], [b, a]] is [[a, b], [-b, a]] / det */
    m[0] = a / det;
    m[1] = b / det;
    m[3] = -b / det;
    m[4] = a / det;
    m[2] = mp[0] - (m[0] * mq[0] + m[1] * mq[1]);
    m[5] = mp[1] - (m[3] * mq[0] + m[4] * mq[1]);
}

static int clamp_index(int i, int n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

/* Bilinear sample at pixel-centre coordinates (x, y) (pixel i covers [i, i + 1)), channel c;
 * 0 outside the image, edge pixels repeated within it. */
static double sample(const sm_image *src, double x, double y, int c) {
    if (x < 0 || y < 0 || x >= src->width || y >= src->height) return 0.0;
    x -= 0.5;
    y -= 0.5;
    int x0 = (int)floor(x), y0 = (int)floor(y);
    double dx = x - x0, dy = y - y0;
    int xa = clamp_index(x0, src->width), xb = clamp_index(x0 + 1, src->width);
    int ya = clamp_index(y0, src->height), yb = clamp_index(y0 + 1, src->height);
    int ch = src->channels;
    const uint8_t *r0 = src->data + (size_t)ya * src->width * ch;
    const uint8_t *r1 = src->data + (size_t)yb * src->width * ch;
    double top = r0[xa * ch + c] + (r0[xb * ch + c] - r0[xa * ch + c]) * dx;
    double bottom = r1[xa * ch + c] + (r1[xb * ch + c] - r1[xa * ch + c]) * dx;
    return top + (bottom - top) * dy;
}

/* Pillow's affine transform with BILINEAR, which the reference chips were made with: each chip
 * pixel centre mapped into the image, the bilinear value truncated to 8 bits. */
void sm_face_chip_sample(const sm_image *src, const double m[6], sm_image *chip) {
    for (int v = 0; v < chip->height; v++)
        for (int u = 0; u < chip->width; u++) {
            double x = m[0] * (u + 0.5) + m[1] * (v + 0.5) + m[2];
            double y = m[3] * (u + 0.5) + m[4] * (v + 0.5) + m[5];
            uint8_t *out = chip->data + ((size_t)v * chip->width + u) * chip->channels;
            for (int c = 0; c < chip->channels; c++) {
                double s = sample(src, x, y, c);
                out[c] = (uint8_t)(s < 0 ? 0 : s > 255 ? 255 : s);
            }
        }
}

siamese_status sm_face_limit_size(sm_image *img, int side, sm_err *err) {
    int limit = SM_ALIGN_SHRINK * side,
        longer = img->width > img->height ? img->width : img->height;
    if (longer <= limit) return SIAMESE_OK;
    int w = (int)((int64_t)img->width * limit / longer),
        h = (int)((int64_t)img->height * limit / longer);
    sm_image small = {0};
    siamese_status st = sm_image_resize(img, w > 0 ? w : 1, h > 0 ? h : 1, &small, err);
    if (st != SIAMESE_OK) return st;
    sm_image_free(img);
    *img = small;
    return SIAMESE_OK;
}

/* The chip of image (its own channels) for the transform of its landmarks. */
static siamese_status chip_of(const sm_image *image, const float *points, int side, int channels,
                              sm_image *chip, sm_err *err) {
    double m[6];
    sm_face_chip_transform(points, side, m);
    sm_image converted = {0};
    siamese_status st = sm_image_convert(image, channels, &converted, err);
    if (st == SIAMESE_OK) st = sm_image_alloc(chip, side, side, channels, err);
    if (st == SIAMESE_OK) sm_face_chip_sample(&converted, m, chip);
    sm_image_free(&converted);
    return st;
}

/* One refinement: the landmarks found again on each face's chip (where the face is large and
 * upright, so the network finds them more precisely), mapped back into the photo. */
static siamese_status refine_landmarks(siamese_model *landmarks, const sm_image *images, int n,
                                       int side, float *points, sm_err *err) {
    sm_image *chips = calloc((size_t)n, sizeof *chips);
    float *again = malloc((size_t)n * SM_LANDMARKS * 2 * sizeof *again);
    siamese_status st = chips && again
                            ? SIAMESE_OK
                            : sm_fail(err, SIAMESE_ERR_NOMEM, "face alignment: out of memory");
    for (int i = 0; i < n && st == SIAMESE_OK; i++)
        st = chip_of(&images[i], points + (size_t)i * SM_LANDMARKS * 2, side, 3, &chips[i], err);
    if (st == SIAMESE_OK) st = sm_face_landmarks(landmarks, chips, n, again, err);
    for (int i = 0; i < n && st == SIAMESE_OK; i++) {
        double m[6];
        float *p = points + (size_t)i * SM_LANDMARKS * 2;
        sm_face_chip_transform(p, side, m);
        for (int k = 0; k < SM_LANDMARKS; k++) { /* chip pixel coordinates -> photo */
            double u = again[((size_t)i * SM_LANDMARKS + k) * 2];
            double v = again[((size_t)i * SM_LANDMARKS + k) * 2 + 1];
            p[2 * k] = (float)(m[0] * u + m[1] * v + m[2]);
            p[2 * k + 1] = (float)(m[3] * u + m[4] * v + m[5]);
        }
    }
    for (int i = 0; chips && i < n; i++) sm_image_free(&chips[i]);
    free(chips);
    free(again);
    return st;
}

siamese_status sm_face_align_points(siamese_model *landmarks, const sm_image *images, int n,
                                    int side, float *points, sm_err *err) {
    siamese_status st = sm_face_landmarks(landmarks, images, n, points, err);
    for (int pass = 1; pass < SM_ALIGN_PASSES && st == SIAMESE_OK; pass++)
        st = refine_landmarks(landmarks, images, n, side, points, err);
    return st;
}

siamese_image_options sm_face_photo_options(void) {
    siamese_image_options opts = siamese_image_default_options();
    opts.width = opts.height = 0; /* the chip is sampled from the photo itself */
    opts.channels = 3;
    opts.fast_jpeg = 0;
    return opts;
}

siamese_status sm_face_chip(siamese_model *landmarks, sm_image *photo, int channels, int side,
                            sm_image *chip, sm_err *err) {
    float points[SM_LANDMARKS * 2];
    siamese_status st = sm_face_limit_size(photo, side, err);
    if (st == SIAMESE_OK) st = sm_face_align_points(landmarks, photo, 1, side, points, err);
    if (st == SIAMESE_OK) st = chip_of(photo, points, side, channels, chip, err);
    return st;
}

siamese_status sm_face_align_tensors(siamese_model *landmarks, sm_image *images, int n,
                                     int channels, int side, float *tensors, sm_err *err) {
    siamese_status st = SIAMESE_OK;
    for (int i = 0; i < n && st == SIAMESE_OK; i++) {
        sm_image chip = {0};
        st = sm_face_chip(landmarks, &images[i], channels, side, &chip, err);
        if (st == SIAMESE_OK)
            st =
                sm_image_to_tensor(&chip, NULL, NULL, tensors + (size_t)i * channels * side * side);
        sm_image_free(&chip);
    }
    return st;
}
