/* CSV manifests (csv:FILE, agecl/data.h). */
#include "fuzz.h"
#include "agecl/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char spec[1100];
    snprintf(spec, sizeof spec, "csv:%s", fuzz_file("list.csv", data, n));
    agecl_dataset *ds;
    if (agecl_dataset_open(&ds, spec, 0) != AGECL_OK) return 0;
    const int *ages;
    for (int i = 0, k = agecl_dataset_age_labels(ds, &ages); i < k; i++)
        if (ages[i] < AGECL_AGE_MIN || ages[i] > AGECL_AGE_MAX) abort();
    agecl_dataset_free(ds);
    return 0;
}
