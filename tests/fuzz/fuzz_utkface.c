/* UTKFace file names (utkface:DIR): the input, made a legal file name, alone in a
 * folder. */
#include "fuzz.h"
#include <sys/stat.h>
#include "agecl/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char name[201], sub[1100], spec[1200];
    size_t k = 0;
    for (; k < n && k < 200 && data[k]; k++) name[k] = data[k] == '/' ? '_' : (char)data[k];
    name[k] = '\0';
    if (!k || !strcmp(name, ".") || !strcmp(name, "..")) return 0;
    snprintf(sub, sizeof sub, "%s/utk", fuzz_dir());
    mkdir(sub, 0755);
    snprintf(spec, sizeof spec, "utkface:%s", sub);
    char file[1400];
    snprintf(file, sizeof file, "utk/%s", name);
    fuzz_file(file, (const uint8_t *)"x", 1);
    agecl_dataset *ds;
    if (agecl_dataset_open(&ds, spec, 0) == AGECL_OK) {
        const agecl_sample *s = agecl_dataset_sample(ds, 0);
        if (!s || s->age < AGECL_AGE_MIN || s->age > AGECL_AGE_MAX) abort();
        agecl_dataset_free(ds);
    }
    snprintf(file, sizeof file, "%s/utk/%s", fuzz_dir(), name);
    unlink(file);
    return 0;
}
