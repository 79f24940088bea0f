/* src/data/image.c - from a file to the network's input: load, normalise. */
#include "data/image.h"

#include "error.h"

agecl_status agecl__data_load(agecl__data_scratch *s, const char *path, agecl_crop crop,
                              int size, uint8_t *dst)
{
    uint8_t *px;
    int w, h;
    AGECL_TRY(agecl__data_decode(s, path, &px, &w, &h));
    agecl_status st = agecl__data_resize(s, px, w, h, agecl_image_crop_box(crop, w, h), dst,
                                         size, size);
    agecl__data_image_free(px);
    return st;
}

agecl_status agecl_image_load(const char *path, agecl_crop crop, int size, uint8_t *rgb)
{
    if (!path || !rgb || size < 1 || size > AGECL_IMAGE_MAX_SIZE)
        return agecl__fail(AGECL_E_INVALID_ARG, "image: bad argument (size %d)", size);
    agecl__data_scratch s = {0};
    agecl_status st = agecl__data_load(&s, path, crop, size, rgb);
    agecl__data_scratch_free(&s);
    return st;
}

/* MODEL.md section 1. */
static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};

void agecl_image_normalize(const uint8_t *rgb, int w, int h, float *chw)
{
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v / 255.0f - mean[c]) / stdev[c];
    size_t n = (size_t)w * h;
    float *r = chw, *g = chw + n, *b = chw + 2 * n;
    for (size_t i = 0; i < n; i++, rgb += 3) {
        r[i] = lut[0][rgb[0]];
        g[i] = lut[1][rgb[1]];
        b[i] = lut[2][rgb[2]];
    }
}
