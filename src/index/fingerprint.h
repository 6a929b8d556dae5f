/* Model fingerprints (siamese_model_fingerprint) and comparing two of them. */
#ifndef SM_FINGERPRINT_H
#define SM_FINGERPRINT_H

#include <stddef.h>

#include "siamese.h"

/* 0 when the two fingerprints are equal; else 1 and why receives what differs first, e.g.
 * "different weights (weights 1a2b..., the model's 3c4d...)". */
int sm_fingerprint_mismatch(const char *expected, const char *actual, char *why, size_t size);

#endif
