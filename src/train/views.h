/* src/train/views.h - test-time views: a model's mean prediction over each image, its
 * mirror and its centre zoom (agecl/train.h: AGECL_EVAL_FLIP, AGECL_EVAL_ZOOM), for
 * evaluation and the predictor alike. */
#ifndef AGECL_TRAIN_VIEWS_H
#define AGECL_TRAIN_VIEWS_H

#include "agecl/model.h"

/* The expected ages (age) and gender probabilities (gp) of m's batch of images (B x 3
 * x S x S, normalised; B the model's batch), averaged with equal weights over the
 * views flags asks for: the images as given, their mirrors (FLIP), their centres of
 * AGECL_EVAL_ZOOM_KEEP of each side resized back to S x S (ZOOM), and with both, the
 * mirrors of those. pos (or NULL) takes the position head's of the images as given.
 * images is scratch (changed on return); scratch holds AGECL__VIEWS_SCRATCH(B, S)
 * floats, made once by the caller (no allocation per batch). */
#define AGECL__VIEWS_SCRATCH(B, S) (2 * (size_t)(B) + (size_t)(S) * (S))
agecl_status agecl__predict_views(agecl_model *m, float *images, unsigned flags, float *age,
                                  float *gp, int *pos, float *scratch);

#endif
