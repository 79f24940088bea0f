/* safetensors files (agecl/safetensors.h): every tensor a file lists must be found
 * and readable within the file, every metadata key listed must have its value. */
#include "fuzz.h"
#include "agecl/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    agecl_st_file *f;
    if (agecl_st_open(fuzz_file("x.safetensors", data, n), &f) != AGECL_OK) return 0;
    unsigned sum = 0;
    for (size_t i = 0; i < agecl_st_count(f); i++) {
        agecl_st_info t;
        if (agecl_st_find(f, agecl_st_name(f, i), &t) != AGECL_OK) abort();
        for (size_t k = 0; k < t.nbytes; k++) sum += ((const uint8_t *)t.data)[k];
        if (t.dtype == AGECL_ST_F32 && t.numel <= 4096) {
            float buf[4096];
            if (agecl_st_read_f32(f, t.name, buf, t.numel, NULL, AGECL_ST_ANY_SHAPE) != AGECL_OK)
                abort();
        }
    }
    for (size_t i = 0; i < agecl_st_meta_count(f); i++)
        if (!agecl_st_meta(f, agecl_st_meta_key(f, i))) abort();
    agecl_st_close(f);
    return (int)(sum & 0); /* the bytes were read; the sum only keeps the loop */
}
