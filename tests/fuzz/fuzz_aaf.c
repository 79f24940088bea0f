/* All-Age-Faces gender lists (aaf:DIR, labels.txt), over a folder of four images
 * (names only: opening a data set decodes nothing). */
#include "fuzz.h"
#include <sys/stat.h>
#include "agecl/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static char spec[1100];
    if (!spec[0]) {
        char sub[1100];
        snprintf(sub, sizeof sub, "%s/aaf", fuzz_dir());
        snprintf(spec, sizeof spec, "aaf:%s", sub);
        if (mkdir(sub, 0755) != 0) abort();
        snprintf(sub, sizeof sub, "%s/aaf/aglined faces", fuzz_dir());
        if (mkdir(sub, 0755) != 0) abort();
        const char *names[] = {"aaf/aglined faces/00001A02.jpg", "aaf/aglined faces/00002A35.jpg",
                               "aaf/aglined faces/07000A61.jpg", "aaf/aglined faces/10000A80.jpg"};
        for (int i = 0; i < 4; i++) fuzz_file(names[i], (const uint8_t *)"x", 1);
    }
    fuzz_file("aaf/labels.txt", data, n);
    agecl_dataset *ds;
    if (agecl_dataset_open(&ds, spec, 0) != AGECL_OK) return 0;
    if (agecl_dataset_count(ds) > 4) abort();
    agecl_dataset_free(ds);
    return 0;
}
