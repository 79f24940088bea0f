/* Image files (JPEG, PNG, BMP) through the checks and stb_image, with the two crops. */
#include "fuzz.h"
#include "agecl/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static uint8_t rgb[24 * 24 * 3];
    const char *path = fuzz_file("image", data, n);
    (void)agecl_image_load(path, AGECL_CROP_FULL, 24, rgb);
    (void)agecl_image_load(path, AGECL_CROP_AAF_FACE, 24, rgb);
    return 0;
}
