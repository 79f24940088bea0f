/* src/data/augment.h - the single augmentation operations, on size x size uint8
 * RGB (HWC) images, for agecl_augment_apply and the tests. */
#ifndef AGECL_DATA_AUGMENT_H
#define AGECL_DATA_AUGMENT_H

#include <stdint.h>

void agecl__data_grayscale(uint8_t *rgb, int size);
void agecl__data_hflip(uint8_t *rgb, int size);
void agecl__data_vflip(uint8_t *rgb, int size);
/* dst = src rotated counter-clockwise by degrees about the centre, bilinear, black
 * where it falls outside src. */
void agecl__data_rotate(const uint8_t *src, uint8_t *dst, int size, float degrees);
/* The same with a zoom: dst shows the square of side scale * size centred at the
 * centre + (dx, dy), rotated by degrees, resized to size x size. */
void agecl__data_affine(const uint8_t *src, uint8_t *dst, int size, float degrees, float scale,
                        float dx, float dy);
/* dst = sharpness adjusted by factor (< 1 blurs): factor * src + (1 - factor) *
 * smooth(src), smooth = [1 1 1; 1 5 1; 1 1 1] / 13 inside, src on the border. */
void agecl__data_sharpness(const uint8_t *src, uint8_t *dst, int size, float factor);

#endif
