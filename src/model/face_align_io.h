/* A model's face aligner in its file (face_align_io.c). */
#ifndef SM_FACE_ALIGN_IO_H
#define SM_FACE_ALIGN_IO_H

#include "base/errors.h"
#include "model/safetensors.h"
#include "siamese.h"

#define SM_ALIGN_META 3 /* metadata entries sm_align_tensors writes */

/* The aligner's tensors (names "align.<name>") and SM_ALIGN_META metadata entries into meta, for
 * saving; *n_out = 0 when the model has none. Free *out and *keep after writing. */
siamese_status sm_align_tensors(const siamese_model *model, sm_st_tensor **out, int *n_out,
                                sm_st_meta *meta, char **keep, sm_err *err);
/* 1 when file holds any part of a face aligner: an "align.*" tensor or its metadata. */
int sm_align_in_file(const sm_st_file *file);
/* Builds the aligner a file's metadata describes (none when it has no 'align'). */
siamese_status sm_align_read(siamese_model *model, const char *path, const sm_st_file *file,
                             sm_err *err);

#endif
