/* src/data/image_decode.c - files to RGB pixels, with stb_image (its one
 * implementation in the library, kept static so it clashes with no other copy). */
#include "data/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset.h"
#include "error.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
/* stb_image's static functions this file does not call are reported at its end. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

/* Files larger than this are not images we want (a 64-megapixel JPEG is far less). */
#define MAX_FILE_BYTES (512L * 1024 * 1024)

int agecl__data_grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 1;
    size_t n = *cap ? *cap : 1;
    while (n < need) n *= 2;
    void *p = realloc(*buf, n * elem);
    if (!p) return 0;
    *buf = p;
    *cap = n;
    return 1;
}

void agecl__data_scratch_free(agecl__data_scratch *s)
{
    free(s->file);
    free(s->rows);
    free(s->coef);
    free(s->span);
    *s = (agecl__data_scratch){0};
}

/* The whole file into s->file; its size in *n. */
static agecl_status read_file(agecl__data_scratch *s, const char *path, size_t *n)
{
    char why[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        return agecl__fail(AGECL_E_IO, "%s: cannot open: %s", path,
                           agecl__data_errno(err, why, sizeof why));
    }
    agecl_status ret = AGECL_OK;
    size_t size = (size_t)st.st_size, got = 0;
    if (size == 0)
        ret = agecl__fail(AGECL_E_FORMAT, "%s: empty file", path);
    else if (st.st_size > MAX_FILE_BYTES)
        ret = agecl__fail(AGECL_E_FORMAT, "%s: %lld bytes is too large for an image", path,
                          (long long)st.st_size);
    else if (!agecl__data_grow((void **)&s->file, &s->file_cap, size, 1))
        ret = agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: %zu bytes", path, size);
    while (ret == AGECL_OK && got < size) {
        ssize_t r = read(fd, s->file + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            ret = agecl__fail(AGECL_E_IO, "%s: read failed: %s", path,
                              r < 0 ? agecl__data_errno(errno, why, sizeof why) : "file shrank");
        else got += (size_t)r;
    }
    close(fd);
    *n = size;
    return ret;
}

/* The size in a PNG's header. stb_image takes a PNG of more than 2^30 bytes of
 * pixels for no image at all; this lets the message say why it is refused. */
static int png_size(const uint8_t *b, size_t n, int *w, int *h)
{
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 24 || memcmp(b, signature, 8) || memcmp(b + 12, "IHDR", 4)) return 0;
    uint32_t dim[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *p = b + 16 + 4 * k;
        dim[k] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    if (dim[0] > INT32_MAX || dim[1] > INT32_MAX) return 0;
    *w = (int)dim[0];
    *h = (int)dim[1];
    return 1;
}

agecl_status agecl__data_decode(agecl__data_scratch *s, const char *path, uint8_t **px,
                                int *w, int *h)
{
    size_t n = 0;
    *px = NULL;
    AGECL_TRY(read_file(s, path, &n));
    int comp;
    /* A JPEG is checked whole before any call into stb_image, whose header reader
     * already builds the Huffman tables (the size does not matter for a JPEG). */
    int jpeg = agecl__data_jpeg_start(s->file, n) != 0;
    int complete = jpeg ? agecl__data_complete(s->file, n, 0, 0) : 1;
    if (complete < 0)
        return agecl__fail(AGECL_E_FORMAT, "%s: corrupt JPEG (a Huffman table of more than 256 "
                           "codes)", path);
    if (!complete) return agecl__fail(AGECL_E_FORMAT, "%s: truncated image", path);
    if (n > INT32_MAX ||
        (!stbi_info_from_memory(s->file, (int)n, w, h, &comp) && !png_size(s->file, n, w, h)))
        return agecl__fail(AGECL_E_FORMAT, "%s: not a JPEG, PNG or BMP image (%s)", path,
                           stbi_failure_reason());
    /* Checked before decoding: the header alone can claim gigapixels. */
    if ((long long)*w * *h > AGECL_IMAGE_MAX_PIXELS)
        return agecl__fail(AGECL_E_FORMAT, "%s: %d x %d pixels is over the limit of %ld", path,
                           *w, *h, (long)AGECL_IMAGE_MAX_PIXELS);
    if (!agecl__data_complete(s->file, n, *w, *h))
        return agecl__fail(AGECL_E_FORMAT, "%s: truncated image", path);
    *px = stbi_load_from_memory(s->file, (int)n, w, h, &comp, 3);
    if (!*px)
        return agecl__fail(AGECL_E_FORMAT, "%s: corrupt image (%s)", path, stbi_failure_reason());
    return AGECL_OK;
}

void agecl__data_image_free(uint8_t *px) { stbi_image_free(px); }
