/* bench/model_convs.h - the distinct convolutions of a model preset (MODEL.md
 * section 2), for every bench that times them: one table, derived from the
 * preset's configuration, never written out by hand. */
#ifndef AGECL_BENCH_MODEL_CONVS_H
#define AGECL_BENCH_MODEL_CONVS_H

#include "agecl/model.h"

#define BENCH_MAX_CONVS 32 /* the presets have at most 13 */

typedef struct bench_conv_shape {
    int c_in, hw, c_out, kernel, stride; /* hw: the input's side; pad (kernel - 1) / 2 */
    int uses;       /* convolutions of this shape in one pass of the backbone */
    int needs_dx;   /* 0 for the stem: training never takes the gradient of the images */
    char layer[48]; /* the first of them, by its PyTorch name ("stage2.0.conv1") */
} bench_conv_shape;

/* The distinct convolutions of cfg in the order of the forward pass, equal shapes
 * merged (their count in uses); returns how many (at most BENCH_MAX_CONVS). */
int bench_model_convs(const agecl_model_config *cfg, bench_conv_shape *s);

#endif
