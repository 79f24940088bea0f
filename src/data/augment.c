/* src/data/augment.c - the training augmentation of MODEL.md section 6, with the
 * semantics of torchvision's transforms on uint8 images. */
#include "data/augment.h"

#include <math.h>
#include <string.h>

#include "agecl/data.h"
#include "data/rng.h"

#include "error.h"

static const struct {
    const char *name;
    agecl_augment_policy p;
} policies[] = {
    /* gray, hflip, degrees, sharpen, sharpness, vflip, min_scale, max_shift */
    {"paper", {0.1f, 0.2f, 30.0f, 0.5f, 0.2f, 0.2f, 1.0f, 0.0f}}, /* MODEL.md section 6 */
    {"light", {0.1f, 0.5f, 10.0f, 0.0f, 1.0f, 0.0f, 0.85f, 0.05f}},
    {"none", {0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f}},
};

agecl_status agecl_augment_policy_named(const char *name, agecl_augment_policy *policy)
{
    if (!name || !policy) return agecl__fail(AGECL_E_INVALID_ARG, "augment policy: NULL argument");
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++)
        if (!strcmp(policies[i].name, name)) {
            *policy = policies[i].p;
            return AGECL_OK;
        }
    return agecl__fail(AGECL_E_INVALID_ARG, "no augmentation '%s' (choices: paper, light, none)",
                       name);
}

void agecl__data_grayscale(uint8_t *rgb, int size)
{
    /* PIL's "L": ITU-R 601-2 luma in 16-bit fixed point, rounded. */
    for (size_t i = 0, n = (size_t)size * size; i < n; i++, rgb += 3) {
        uint8_t l = (uint8_t)((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
        rgb[0] = rgb[1] = rgb[2] = l;
    }
}

static void swap3(uint8_t *a, uint8_t *b)
{
    for (int c = 0; c < 3; c++) {
        uint8_t t = a[c];
        a[c] = b[c];
        b[c] = t;
    }
}

void agecl__data_hflip(uint8_t *rgb, int size)
{
    for (int y = 0; y < size; y++) {
        uint8_t *row = rgb + (size_t)y * size * 3;
        for (int x = 0; x < size / 2; x++) swap3(row + 3 * x, row + 3 * (size - 1 - x));
    }
}

void agecl__data_vflip(uint8_t *rgb, int size)
{
    size_t n = (size_t)size * 3;
    for (int y = 0; y < size / 2; y++) {
        uint8_t *a = rgb + y * n, *b = rgb + (size_t)(size - 1 - y) * n;
        for (size_t i = 0; i < n; i++) {
            uint8_t t = a[i];
            a[i] = b[i];
            b[i] = t;
        }
    }
}

/* The bilinear sample of src at (sx, sy), black outside. */
static void sample_edge(const uint8_t *src, int size, float sx, float sy, uint8_t *dst)
{
    float fx0 = floorf(sx), fy0 = floorf(sy), fx = sx - fx0, fy = sy - fy0;
    int x0 = (int)fx0, y0 = (int)fy0;
    float acc[3] = {0, 0, 0};
    for (int k = 0; k < 4; k++) {
        int xi = x0 + (k & 1), yi = y0 + (k >> 1);
        if (xi < 0 || yi < 0 || xi >= size || yi >= size) continue;
        float wgt = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
        const uint8_t *p = src + ((size_t)yi * size + xi) * 3;
        for (int ch = 0; ch < 3; ch++) acc[ch] += wgt * p[ch];
    }
    for (int ch = 0; ch < 3; ch++) dst[ch] = (uint8_t)fminf(acc[ch] + 0.5f, 255.0f);
}

void agecl__data_rotate(const uint8_t *src, uint8_t *dst, int size, float degrees)
{
    agecl__data_affine(src, dst, size, degrees, 1.0f, 0.0f, 0.0f);
}

void agecl__data_affine(const uint8_t *src, uint8_t *dst, int size, float degrees, float scale,
                        float dx, float dy)
{
    /* Each output pixel samples src at its position rotated back about the centre of
     * the pixel grid (and scaled, shifted); neighbours outside src count as black
     * (torchvision's fill 0). */
    double rad = degrees * (M_PI / 180.0);
    float cs = scale * (float)cos(rad), sn = scale * (float)sin(rad), c = 0.5f * (float)(size - 1);
    float cx = c + dx, cy = c + dy;
    size_t row = (size_t)size * 3;
    for (int y = 0; y < size; y++) {
        float oy = (float)y - c;
        for (int x = 0; x < size; x++, dst += 3) {
            float ox = (float)x - c;
            float sx = cs * ox - sn * oy + cx, sy = sn * ox + cs * oy + cy;
            if (!(sx >= 0 && sy >= 0 && sx < (float)(size - 1) && sy < (float)(size - 1))) {
                sample_edge(src, size, sx, sy, dst);
                continue;
            }
            /* Inside: all four neighbours exist. */
            int x0 = (int)sx, y0 = (int)sy;
            float fx = sx - (float)x0, fy = sy - (float)y0;
            float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
            const uint8_t *p = src + (size_t)y0 * row + (size_t)x0 * 3;
            for (int ch = 0; ch < 3; ch++) {
                float v = w00 * p[ch] + w01 * p[ch + 3] + w10 * p[row + ch] + w11 * p[row + ch + 3];
                dst[ch] = (uint8_t)fminf(v + 0.5f, 255.0f);
            }
        }
    }
}

void agecl__data_sharpness(const uint8_t *src, uint8_t *dst, int size, float factor)
{
    memcpy(dst, src, (size_t)size * size * 3);
    size_t row = (size_t)size * 3;
    for (int y = 1; y < size - 1; y++) {
        const uint8_t *a = src + (y - 1) * row, *b = a + row, *c = b + row;
        uint8_t *out = dst + y * row;
        for (size_t i = 3; i < row - 3; i++) {
            int sum = a[i - 3] + a[i] + a[i + 3] + b[i - 3] + 5 * b[i] + b[i + 3] + c[i - 3] +
                      c[i] + c[i + 3];
            /* The smoothed value is rounded to uint8 (sum / 13 is never a half), the
             * blend truncated and clamped, as torchvision does for uint8 images. */
            float smooth = (float)((2 * sum + 13) / 26);
            float v = factor * b[i] + (1.0f - factor) * smooth;
            out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

agecl_augment agecl_augment_draw(const agecl_augment_policy *policy, uint64_t seed, int epoch,
                                 int index)
{
    agecl_augment_policy paper = policies[0].p;
    const agecl_augment_policy *p = policy ? policy : &paper;
    agecl__data_rng r = agecl__data_rng_key(seed, AGECL__DATA_STREAM_AUGMENT, (uint64_t)epoch,
                                            (uint64_t)index);
    agecl_augment a;
    /* The first five draws are those of MODEL.md's policy, in its order. */
    a.gray = agecl__data_rng_uniform(&r) < p->p_gray;
    a.hflip = agecl__data_rng_uniform(&r) < p->p_hflip;
    a.angle = (float)((2 * agecl__data_rng_uniform(&r) - 1) * p->max_degrees);
    a.sharpen = agecl__data_rng_uniform(&r) < p->p_sharpen;
    a.vflip = agecl__data_rng_uniform(&r) < p->p_vflip;
    a.sharpness = p->sharpness;
    a.scale = 1.0f, a.dx = a.dy = 0.0f;
    if (p->min_scale < 1.0f || p->max_shift > 0.0f) {
        a.scale = (float)(p->min_scale + (1.0 - p->min_scale) * agecl__data_rng_uniform(&r));
        a.dx = (float)((2 * agecl__data_rng_uniform(&r) - 1) * p->max_shift);
        a.dy = (float)((2 * agecl__data_rng_uniform(&r) - 1) * p->max_shift);
    }
    return a;
}

void agecl_augment_apply(const agecl_augment *aug, uint8_t *rgb, int size, uint8_t *scratch)
{
    if (aug->gray) agecl__data_grayscale(rgb, size);
    if (aug->hflip) agecl__data_hflip(rgb, size);
    if (aug->angle == 0.0f && aug->scale == 1.0f && aug->dx == 0.0f && aug->dy == 0.0f)
        memcpy(scratch, rgb, (size_t)size * size * 3);
    else
        agecl__data_affine(rgb, scratch, size, aug->angle, aug->scale, aug->dx * (float)size,
                           aug->dy * (float)size);
    if (aug->sharpen) agecl__data_sharpness(scratch, rgb, size, aug->sharpness);
    else memcpy(rgb, scratch, (size_t)size * size * 3);
    if (aug->vflip) agecl__data_vflip(rgb, size);
}
