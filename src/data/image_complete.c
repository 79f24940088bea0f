/* src/data/image_complete.c - is an image file complete and safe to decode?
 * stb_image decodes a truncated JPEG or BMP without complaint (the missing part
 * comes out gray or black), so their structure is checked first; stb itself
 * rejects a truncated PNG. The stb_image of Debian 12 (2.27) also writes past its
 * Huffman tables for a JPEG whose table declares more than 256 codes (fixed in
 * 2.28), so those tables are checked here before it sees them. */
#include "data/image.h"

/* JPEG markers with no length field: TEM and RST0..RST7 (SOI and EOI apart). */
static int standalone(uint8_t m) { return m == 0x01 || (m >= 0xd0 && m <= 0xd7); }

/* Whether the define-Huffman-table segment b[0, len) holds tables of at most 256
 * codes each, as the JPEG standard allows. */
static int huffman_tables_sane(const uint8_t *b, size_t len)
{
    size_t i = 2; /* after the length */
    while (i < len) {
        if (i + 17 > len) return 0;
        size_t codes = 0;
        for (int k = 1; k <= 16; k++) codes += b[i + k];
        if (codes > 256) return 0;
        i += 17 + codes;
    }
    return i == len;
}

size_t agecl__data_jpeg_start(const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i < n && b[i] == 0xff) i++; /* stb_image, too, takes fill bytes before SOI */
    return i >= 1 && i < n && b[i] == 0xd8 ? i + 1 : 0;
}

/* Walk the markers from i (just after SOI) to the end-of-image marker: 1
 * complete, 0 truncated, -1 a Huffman table out of the standard. */
static int jpeg_complete(const uint8_t *b, size_t n, size_t i)
{
    while (i + 1 < n) {
        if (b[i] != 0xff) { /* stray bytes between segments: tolerated, as decoders do */
            i++;
            continue;
        }
        uint8_t m = b[i + 1];
        if (m == 0xff) { /* fill byte */
            i++;
            continue;
        }
        i += 2;
        if (m == 0xd9) return 1;
        if (standalone(m) || m == 0x00) continue;
        if (i + 2 > n) return 0;
        size_t len = (size_t)b[i] << 8 | b[i + 1];
        if (len < 2 || i + len > n) return 0;
        if (m == 0xc4 && !huffman_tables_sane(b + i, len)) return -1;
        i += len;
        if (m != 0xda) continue;
        /* Entropy-coded data after SOS: it ends at the first marker that is neither a
         * stuffed 0xff00 nor a restart marker. */
        while (i + 1 < n && !(b[i] == 0xff && b[i + 1] != 0x00 && !standalone(b[i + 1]))) i++;
    }
    return 0;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* An uncompressed BMP must hold all its rows; otherwise its declared file size. */
static int bmp_complete(const uint8_t *b, size_t n, int w, int h)
{
    if (n < 54) return 0;
    uint32_t header = le32(b + 14), compression = le32(b + 30), bpp = b[28] | b[29] << 8;
    if (header >= 40 && (compression == 0 || compression == 3)) {
        uint64_t row = ((uint64_t)w * bpp + 31) / 32 * 4;
        return le32(b + 10) + row * (uint64_t)h <= n;
    }
    return le32(b + 2) <= n;
}

int agecl__data_complete(const uint8_t *b, size_t n, int w, int h)
{
    size_t soi = agecl__data_jpeg_start(b, n);
    if (soi) return jpeg_complete(b, n, soi);
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return bmp_complete(b, n, w, h);
    return 1;
}
