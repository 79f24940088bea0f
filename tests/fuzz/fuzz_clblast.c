/* CLBlast tuning files (src/gemm/clblast_tune.c), with the key taken from the
 * input's "key" line so that the lines past it are reached. */
#include "fuzz.h"
#include "gemm/clblast_tune.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *text = fuzz_text(data, n);
    const char *k = strstr(text, "key ");
    uint64_t key = k ? strtoull(k + 4, NULL, 16) : 0;
    agecl__clblast_params p;
    char why[200];
    int line = 0;
    (void)agecl__clblast_parse(text, key, &p, &line, why, sizeof why);
    free(text);
    return 0;
}
