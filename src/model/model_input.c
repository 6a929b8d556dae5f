/* One image file as a model's input tensor: resized to its geometry, or aligned into its face chip when the model aligns faces. */
#include <stdio.h>

#include "image/image.h"
#include "model/face_align.h"
#include "model/model.h"

siamese_status siamese_model_load_input(siamese_model *model, const char *path, float *out,
                                        char *errmsg, size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    if (!model || !path || !out)
        return sm_err_out(&err,
                          sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "load input: no %s",
                                  !model  ? "model"
                                  : !path ? "image path"
                                          : "output buffer"),
                          errmsg, errmsg_size);
    if (!sm_model_ready(model)) /* its geometry is 0 x 0: the image would go in whole */
        return sm_err_out(
            &err, sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "load input: the model failed to load"),
            errmsg, errmsg_size);
    const sm_shape *in = &model->arch.input;
    sm_image_options opts = siamese_image_default_options();
    opts.channels = in->c;
    opts.height = in->h;
    opts.width = in->w;
    if (model->aligner) opts = sm_face_photo_options(); /* the chip is sampled from the photo */
    sm_image img = {0};
    siamese_status st = sm_image_load_file(path, &opts, &img, &err);
    if (st == SIAMESE_OK && model->aligner) {
        model->aligner->threads = model->threads;
        st = sm_face_align_tensors(model->aligner, &img, 1, in->c, in->w, out, &err);
        if (st != SIAMESE_OK) sm_err_prefix(&err, path);
    } else if (st == SIAMESE_OK) {
        st = sm_image_tensor_check(&img, NULL, NULL, out, &err);
        if (st == SIAMESE_OK) st = sm_image_to_tensor(&img, NULL, NULL, out);
    }
    sm_image_free(&img);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}
