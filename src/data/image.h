/* src/data/image.h - decoding, cropping and resizing with reusable buffers. */
#ifndef AGECL_DATA_IMAGE_H
#define AGECL_DATA_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "agecl/data.h"

/* Buffers one thread reuses from image to image, so that the per-image work
 * allocates nothing but stb_image's own output. Zero-initialise; free with
 * agecl__data_scratch_free. */
typedef struct agecl__data_scratch {
    uint8_t *file;  /* the bytes of the file being decoded */
    size_t file_cap;
    float *rows;    /* resize: the box's rows resized horizontally, then a row sum */
    size_t rows_cap;
    float *coef;    /* resize: filter weights of both axes */
    int *span;      /* resize: first tap and tap count of each output sample */
    size_t coef_cap, span_cap;
} agecl__data_scratch;

void agecl__data_scratch_free(agecl__data_scratch *s);

/* Read and decode path to 8-bit RGB; *px comes from stb_image: free it with
 * agecl__data_image_free. Rejects empty, truncated, corrupt and oversized images. */
agecl_status agecl__data_decode(agecl__data_scratch *s, const char *path, uint8_t **px,
                                int *w, int *h);
void agecl__data_image_free(uint8_t *px);

/* When b[0, n) is a JPEG as stb_image sees one (fill bytes, then SOI): the offset
 * just after SOI; else 0. */
size_t agecl__data_jpeg_start(const uint8_t *b, size_t n);

/* For the w x h image file b[0, n): 0 when it is a truncated JPEG or BMP, -1 when
 * it is a JPEG that stb_image must not see (a Huffman table of more than 256
 * codes), else 1. */
int agecl__data_complete(const uint8_t *b, size_t n, int w, int h);

agecl_status agecl__data_resize(agecl__data_scratch *s, const uint8_t *src, int w, int h,
                                agecl_box box, uint8_t *dst, int dw, int dh);

/* Decode, crop and resize path to a size x size RGB image. */
agecl_status agecl__data_load(agecl__data_scratch *s, const char *path, agecl_crop crop,
                              int size, uint8_t *dst);

/* Grow *buf to hold need elements of elem bytes; 0 when out of memory. */
int agecl__data_grow(void **buf, size_t *cap, size_t need, size_t elem);

#endif
