/* agecl/predict.h - age and gender of single faces, for applications.
 *
 *   agecl_predictor *p;
 *   agecl_predictor_open(&p, "runs/utk/best.safetensors", NULL);
 *   agecl_prediction r;
 *   agecl_predictor_rgb(p, pixels, width, height, AGECL_CROP_CENTER_SQUARE, &r);
 *   printf("%.1f years\n", r.age);
 *   agecl_predictor_close(p);
 *
 * The image is an aligned face crop (as the training data were), 8-bit RGB,
 * rows packed (3 * width bytes each). */
#ifndef AGECL_PREDICT_H
#define AGECL_PREDICT_H

#include <stdint.h>
#include <stdio.h>
#include "agecl/data.h"
#include "agecl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agecl_prediction {
    float age;          /* expected-value age (years) */
    float position_age; /* the age at the argmax of the position head; NaN without references */
    int gender;         /* 0 male, 1 female; -1 when the model has no gender head */
    float gender_p;     /* probability of that gender */
} agecl_prediction;

typedef struct agecl_predictor agecl_predictor;

/* Load a checkpoint (best.safetensors of agecl train) on a device (selector as
 * agecl_ctx_create; NULL: AGECL_DEVICE or the first device). A model validated
 * with flip or zoom averaging (agecl_checkpoint_eval_flags) predicts the mean
 * over each face's views (its mirror, its centre zoom), as it was measured. */
agecl_status agecl_predictor_open(agecl_predictor **out, const char *model_path,
                                  const char *device);
void agecl_predictor_close(agecl_predictor *p);
const agecl_model_config *agecl_predictor_config(const agecl_predictor *p);
/* The views a prediction averages (AGECL_EVAL_FLIP | AGECL_EVAL_ZOOM of
 * agecl/train.h, or 0: the face alone, one forward pass instead of up to four),
 * in place of the checkpoint's; and those in force. */
void agecl_predictor_set_views(agecl_predictor *p, unsigned flags);
unsigned agecl_predictor_views(const agecl_predictor *p);

agecl_status agecl_predictor_rgb(agecl_predictor *p, const uint8_t *rgb, int width, int height,
                                 agecl_crop crop, agecl_prediction *out);
agecl_status agecl_predictor_file(agecl_predictor *p, const char *path, agecl_crop crop,
                                  agecl_prediction *out);

/* The prediction of an ensemble from its n models' predictions of one face: the
 * mean age, the mean position age (of the models with references; NaN if none)
 * and the gender whose mean probability is above one half (as agecl_ensemble). */
void agecl_prediction_mean(const agecl_prediction *r, int n, agecl_prediction *out);

/* One line of JSON for the prediction r of image: keys image, age, position_age
 * (null without references), gender ("male", "female" or null) and gender_p. Any
 * name gives valid JSON: quotes, backslashes and control characters are escaped,
 * bytes that are not UTF-8 become U+FFFD. */
void agecl_prediction_print_json(const char *image, const agecl_prediction *r, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
