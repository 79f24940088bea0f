/* src/data/image_resize.c - crop boxes and the separable resampler.
 *
 * Each output sample is a triangle-weighted mean of the input samples within
 * max(scale, 1) input pixels of its centre (scale = input / output length), as
 * PIL's antialiased bilinear: when downscaling the support grows with the factor,
 * so every input pixel counts and nothing aliases; when upscaling it is plain
 * bilinear with half-pixel centres. The box's rows are resized horizontally into
 * floats first, then those rows vertically. */
#include "data/image.h"

#include <math.h>
#include <string.h>

#include "error.h"

agecl_box agecl_image_crop_box(agecl_crop crop, int w, int h)
{
    agecl_box b = {0, 0, w, h};
    int side = w < h ? w : h;
    switch (crop) {
    case AGECL_CROP_CENTER_SQUARE:
        b = (agecl_box){(w - side) / 2, (h - side) / 2, side, side};
        break;
    case AGECL_CROP_AAF_FACE: {
        /* AAF crops are about 309 x 390 with the whole head and some background;
         * UTKFace's, which the models learn from, are tight. The square is framed
         * as UTKFace frames a face: OpenCV's frontal face detector finds UTKFace's
         * face box 0.815 of the side wide with its centre at 0.435 of the height
         * (median of 174 images), and AAF's 208 px wide, centred 225 px down a
         * 309 px wide crop (median of the 48 of ../shared/data/aaf-sample): a square
         * of 208 / 0.815 = 0.825 widths whose top is 225 - 0.435 * 255 = 0.368 widths
         * down, centred across. (The width-sided square it was before showed the
         * faces at 0.8 of the scale the models learnt, and cost years.) Scaled with
         * the width, which varies a little; kept inside the image. */
        side = (int)lround(0.825 * w);
        if (side > h) side = h;
        int top = (int)lround(0.368 * w);
        if (top + side > h) top = h - side;
        if (top < 0) top = 0;
        b = (agecl_box){(w - side) / 2, top, side, side};
        break;
    }
    default:
        break;
    }
    return b;
}

/* Weights of one axis: output o reads span[2o+1] inputs from span[2o], with weights
 * coef[o * stride ...]. The nearest input always has a positive weight, so no sum
 * is zero, and at most 2 support + 1 inputs are read (stride is more). */
static void axis_coefs(int in, int out, float *coef, int *span, int stride)
{
    double scale = (double)in / out, support = scale > 1 ? scale : 1;
    for (int o = 0; o < out; o++) {
        double center = (o + 0.5) * scale, sum = 0;
        int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        float *c = coef + (size_t)o * stride;
        for (int k = lo; k < hi; k++) {
            double t = fabs((k + 0.5 - center) / support);
            c[k - lo] = (float)(t < 1 ? 1 - t : 0);
            sum += c[k - lo];
        }
        for (int k = lo; k < hi; k++) c[k - lo] = (float)(c[k - lo] / sum);
        span[2 * o] = lo;
        span[2 * o + 1] = hi - lo;
    }
}

static int max_taps(int in, int out)
{
    double support = in > out ? (double)in / out : 1;
    return (int)ceil(2 * support) + 2;
}

static uint8_t to_u8(float v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f); }

agecl_status agecl__data_resize(agecl__data_scratch *s, const uint8_t *src, int w, int h,
                                agecl_box box, uint8_t *dst, int dw, int dh)
{
    if (box.x < 0 || box.y < 0 || box.w < 1 || box.h < 1 || box.x + box.w > w ||
        box.y + box.h > h || dw < 1 || dh < 1 || dw > AGECL_IMAGE_MAX_SIZE ||
        dh > AGECL_IMAGE_MAX_SIZE)
        return agecl__fail(AGECL_E_INVALID_ARG, "resize: box %d,%d %dx%d of a %dx%d image to %dx%d",
                           box.x, box.y, box.w, box.h, w, h, dw, dh);
    int tx = max_taps(box.w, dw), ty = max_taps(box.h, dh);
    size_t rows = (size_t)box.h * dw * 3 + (size_t)dw * 3;
    if (!agecl__data_grow((void **)&s->coef, &s->coef_cap, (size_t)dw * tx + (size_t)dh * ty,
                          sizeof *s->coef) ||
        !agecl__data_grow((void **)&s->span, &s->span_cap, 2 * ((size_t)dw + dh), sizeof *s->span) ||
        !agecl__data_grow((void **)&s->rows, &s->rows_cap, rows, sizeof *s->rows))
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "resize: %dx%d to %dx%d", box.w, box.h, dw, dh);
    float *cx = s->coef, *cy = s->coef + (size_t)dw * tx;
    int *sx = s->span, *sy = s->span + 2 * dw;
    axis_coefs(box.w, dw, cx, sx, tx);
    axis_coefs(box.h, dh, cy, sy, ty);

    float *tmp = s->rows, *acc = s->rows + (size_t)box.h * dw * 3;
    for (int r = 0; r < box.h; r++) {
        const uint8_t *row = src + ((size_t)(box.y + r) * w + box.x) * 3;
        float *out = tmp + (size_t)r * dw * 3;
        for (int o = 0; o < dw; o++) {
            const uint8_t *p = row + (size_t)sx[2 * o] * 3;
            const float *c = cx + (size_t)o * tx;
            float r0 = 0, g0 = 0, b0 = 0;
            for (int k = 0; k < sx[2 * o + 1]; k++, p += 3) {
                r0 += c[k] * p[0];
                g0 += c[k] * p[1];
                b0 += c[k] * p[2];
            }
            out[3 * o] = r0;
            out[3 * o + 1] = g0;
            out[3 * o + 2] = b0;
        }
    }
    int n = dw * 3;
    for (int o = 0; o < dh; o++) {
        const float *c = cy + (size_t)o * ty;
        memset(acc, 0, (size_t)n * sizeof *acc);
        for (int k = 0; k < sy[2 * o + 1]; k++) {
            const float *in = tmp + (size_t)(sy[2 * o] + k) * n;
            for (int j = 0; j < n; j++) acc[j] += c[k] * in[j];
        }
        uint8_t *out = dst + (size_t)o * n;
        for (int j = 0; j < n; j++) out[j] = to_u8(acc[j]);
    }
    return AGECL_OK;
}

agecl_status agecl_image_resize(const uint8_t *src, int w, int h, agecl_box box, uint8_t *dst,
                                int dw, int dh)
{
    if (!src || !dst) return agecl__fail(AGECL_E_INVALID_ARG, "resize: null image");
    agecl__data_scratch s = {0};
    agecl_status st = agecl__data_resize(&s, src, w, h, box, dst, dw, dh);
    agecl__data_scratch_free(&s);
    return st;
}
