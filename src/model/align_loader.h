/* A model's face aligner as the training loader's chip maker (issue 13). */
#ifndef SM_ALIGN_LOADER_H
#define SM_ALIGN_LOADER_H

#include "data/loader_chips.h"
#include "siamese.h"

/* The loader's chips for model: its face aligner's chips (sm_face_chip, computed with the model's
 * threads), the photos decoded as every command decodes them; chips->make is NULL when the model
 * has no aligner. progress and progress_user are left as they were. */
void sm_align_loader_chips(siamese_model *model, sm_loader_chips *chips);

#endif
