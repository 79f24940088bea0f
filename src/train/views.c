/* Test-time views (views.h). */
#include <math.h>
#include <string.h>
#include "agecl/train.h"
#include "error.h"
#include "train/views.h"

/* Mirror B images of 3 x S x S left to right, in place. */
static void mirror(float *images, int B, int S)
{
    for (size_t r = 0, rows = (size_t)B * 3 * S; r < rows; r++) {
        float *row = images + r * S;
        for (int x = 0; x < S / 2; x++) {
            float t = row[x];
            row[x] = row[S - 1 - x];
            row[S - 1 - x] = t;
        }
    }
}

/* The centre keep x keep of each plane of B images of 3 x S x S, resized back to
 * S x S bilinearly (pixel centres mapped, edges clamped), in place; tmp: S x S. The
 * normalisation is affine per channel, so zooming normalised images is zooming the
 * pixels. */
static void zoom(float *images, int B, int S, float keep, float *tmp)
{
    float off = 0.5f * (1.0f - keep) * S;
    for (size_t p = 0; p < (size_t)B * 3; p++) {
        float *plane = images + p * S * S;
        for (int y = 0; y < S; y++) {
            float sy = off + (y + 0.5f) * keep - 0.5f, fy = sy - floorf(sy);
            int y0 = (int)floorf(sy), y1 = y0 + 1;
            y0 = y0 < 0 ? 0 : y0 > S - 1 ? S - 1 : y0;
            y1 = y1 > S - 1 ? S - 1 : y1;
            for (int x = 0; x < S; x++) {
                float sx = off + (x + 0.5f) * keep - 0.5f, fx = sx - floorf(sx);
                int x0 = (int)floorf(sx), x1 = x0 + 1;
                x0 = x0 < 0 ? 0 : x0 > S - 1 ? S - 1 : x0;
                x1 = x1 > S - 1 ? S - 1 : x1;
                const float *r0 = plane + (size_t)y0 * S, *r1 = plane + (size_t)y1 * S;
                tmp[(size_t)y * S + x] = (1 - fy) * ((1 - fx) * r0[x0] + fx * r0[x1]) +
                                         fy * ((1 - fx) * r1[x0] + fx * r1[x1]);
            }
        }
        memcpy(plane, tmp, (size_t)S * S * sizeof *tmp);
    }
}

/* One view: its ages and gender probabilities added into age and gp. */
static agecl_status add_view(agecl_model *m, const float *images, float *age, float *gp,
                             float *scratch)
{
    int B = agecl_model_batch(m);
    agecl_outputs o = {scratch, scratch + B, NULL, NULL};
    AGECL_TRY(agecl_model_forward(m, images, 0));
    AGECL_TRY(agecl_model_outputs(m, &o));
    for (int b = 0; b < B; b++) age[b] += scratch[b], gp[b] += scratch[B + b];
    return AGECL_OK;
}

agecl_status agecl__predict_views(agecl_model *m, float *images, unsigned flags, float *age,
                                  float *gp, int *pos, float *scratch)
{
    int B = agecl_model_batch(m), S = agecl_model_config_of(m)->input_size, views = 1;
    agecl_outputs o = {age, gp, pos, NULL};
    AGECL_TRY(agecl_model_forward(m, images, 0));
    AGECL_TRY(agecl_model_outputs(m, &o));
    if (flags & AGECL_EVAL_FLIP) {
        mirror(images, B, S);
        AGECL_TRY(add_view(m, images, age, gp, scratch));
        views++;
    }
    if (flags & AGECL_EVAL_ZOOM) {
        zoom(images, B, S, AGECL_EVAL_ZOOM_KEEP, scratch + 2 * B); /* of the mirrors, with FLIP */
        AGECL_TRY(add_view(m, images, age, gp, scratch));
        views++;
        if (flags & AGECL_EVAL_FLIP) {
            mirror(images, B, S);
            AGECL_TRY(add_view(m, images, age, gp, scratch));
            views++;
        }
    }
    for (int b = 0; views > 1 && b < B; b++) age[b] /= views, gp[b] /= views;
    return AGECL_OK;
}
