/* Lines of conv_algos.txt, the convolution choices (src/conv/conv2d_find.c). */
#include "fuzz.h"
#include "conv/conv2d_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *line = fuzz_text(data, n);
    agecl__conv2d_choice c;
    if (agecl__conv2d_choice_parse(line, &c) &&
        (c.d.n < 0 || c.d.c_in < 0 || !memchr(c.pass, 0, sizeof c.pass) || !(c.ms >= 0)))
        abort();
    free(line);
    return 0;
}
