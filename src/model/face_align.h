/* Face alignment for face networks: 68 landmarks from face-api's landmark network, landmarks 17..67 mapped onto dlib's mean face by a similarity transform, the face chip the recognition network was trained on. */
#ifndef SM_FACE_ALIGN_H
#define SM_FACE_ALIGN_H

#include "base/errors.h"
#include "image/image.h"
#include "siamese.h"

#define SM_LANDMARKS 68
#define SM_LANDMARK_SIDE 112        /* the landmark network's square input */
#define SM_ALIGN_PREFIX "align."    /* its tensors in a model file */
#define SM_ALIGN_KIND "face-api-68" /* __metadata__ 'align' */
#define SM_CHIP_PADDING 0.25        /* dlib's face chip: the mean face in the middle 2/3 */

/* face-api's landmark network from DIR/face_landmark_68_model-weights_manifest.json and its
 * shards (import_faceapi_landmarks.c). */
siamese_status sm_import_faceapi_landmarks(const char *dir, siamese_model **out, sm_err *err);

/* The landmarks of n decoded images (any size, 1, 3 or 4 channels) as face-api finds them: each
 * padded to a centred black square, resized to 112x112 (Pillow's bilinear), run through the
 * network; points [n, 68, 2] in the image's pixel coordinates (x, y). */
siamese_status sm_face_landmarks(siamese_model *landmarks, const sm_image *images, int n,
                                 float *points, sm_err *err);

/* dlib's face chip of side x side for 68 points: the least-squares similarity transform taking
 * landmarks 17..67 onto the mean face shape scaled into the chip with SM_CHIP_PADDING; m maps a
 * chip point to the image: x = m[0] u + m[1] v + m[2], y = m[3] u + m[4] v + m[5]. */
void sm_face_chip_transform(const float *points, int side, double m[6]);

/* Samples the chip from src (pixel centres at +0.5, bilinear, black outside the image) into chip,
 * which has its size and src's channels allocated by the caller. */
void sm_face_chip_sample(const sm_image *src, const double m[6], sm_image *chip);

/* A photo larger than SM_ALIGN_SHRINK chips on its longer side is resized (Pillow's bilinear,
 * aspect kept) to that size in place, so a batch of large photos holds little memory; chips of
 * side `side` lose nothing that matters to them. */
#define SM_ALIGN_SHRINK 4
siamese_status sm_face_limit_size(sm_image *img, int side, sm_err *err);

/* Landmarks found SM_ALIGN_PASSES times: on the photo, then again on the face chip they give
 * (the face large and upright there) and mapped back into the photo. Two passes, chosen on AT&T's
 * training/ subjects (EER 0.0042 with one, 0.0036 with two or three; bench/README.md); points
 * [n, 68, 2] in the photo's pixels. */
#define SM_ALIGN_PASSES 2
siamese_status sm_face_align_points(siamese_model *landmarks, const sm_image *images, int n,
                                    int side, float *points, sm_err *err);

/* How a photo is decoded for alignment, on every path (commands, calibration, the training
 * loader): at its own size, RGB, never DCT-scaled. */
siamese_image_options sm_face_photo_options(void);

/* One photo's face chip, the same on every path that embeds or trains on it: the photo shrunk in
 * place (sm_face_limit_size), its landmarks found on it alone (a batch of one, so that a chip never
 * depends on the photos beside it in a batch), the chip of side x side with `channels` sampled into
 * chip (allocated here; free it with sm_image_free). */
siamese_status sm_face_chip(siamese_model *landmarks, sm_image *photo, int channels, int side,
                            sm_image *chip, sm_err *err);

/* The embedding path of a model with an aligner: n decoded photos (native size, shrunk in place)
 * become their chips (sm_face_chip) of the model's input size and channels, written as [0, 1]
 * tensors [n, c, side, side]. */
siamese_status sm_face_align_tensors(siamese_model *landmarks, sm_image *images, int n,
                                     int channels, int side, float *tensors, sm_err *err);

#endif
