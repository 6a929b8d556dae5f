/* A model's face aligner as the training loader's chip maker: the chips training sees are the ones every command embeds (model/face_align.c's sm_face_chip). */
#include "model/align_loader.h"

#include "model/face_align.h"
#include "model/model.h"

static siamese_status make_chip(void *user, sm_image *photo, int channels, int side, sm_image *chip,
                                sm_err *err) {
    siamese_model *model = user;
    model->aligner->threads = model->threads;
    return sm_face_chip(model->aligner, photo, channels, side, chip, err);
}

void sm_align_loader_chips(siamese_model *model, sm_loader_chips *chips) {
    chips->make = model && model->aligner ? make_chip : NULL;
    chips->user = model;
    chips->photo = sm_face_photo_options();
}
