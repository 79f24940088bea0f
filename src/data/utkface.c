/* src/data/utkface.c - a folder of UTKFace files, labels in the names. */
#include "data/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

/* "AGE_GENDER_..." or "AGE_GENDER.ext": 1 and the labels, or 0. Only the first two
 * fields are read, since some names lack the race or have an odd date. */
static int parse_name(const char *name, int *age, int *gender)
{
    int a = 0, digits = 0;
    for (; *name >= '0' && *name <= '9' && digits < 4; name++, digits++) a = 10 * a + (*name - '0');
    if (digits == 0 || digits > 3 || *name++ != '_') return 0;
    if ((name[0] != '0' && name[0] != '1') || (name[1] != '_' && name[1] != '.')) return 0;
    *age = a;
    *gender = name[0] == '0' ? AGECL_GENDER_MALE : AGECL_GENDER_FEMALE;
    return 1;
}

agecl_status agecl__data_read_utkface(agecl_dataset *ds, const char *dir)
{
    DIR *d = opendir(dir);
    char why[128];
    if (!d)
        return agecl__fail(AGECL_E_IO, "utkface: %s: cannot open the folder: %s", dir,
                           agecl__data_errno(errno, why, sizeof why));
    agecl_status st = AGECL_OK;
    struct dirent *de;
    while (st == AGECL_OK && (de = readdir(d))) {
        /* Hidden files and folders are not samples; anything else must parse. */
        if (de->d_name[0] == '.' || de->d_type == DT_DIR) continue;
        int age, gender;
        if (parse_name(de->d_name, &age, &gender))
            st = agecl__data_add(ds, dir, de->d_name, age, gender, NULL);
        else
            st = agecl__data_bad(ds, AGECL_E_DATA,
                                 "utkface: %s/%s: the name is not AGE_GENDER_RACE_DATE.jpg",
                                 dir, de->d_name);
    }
    closedir(d);
    if (st == AGECL_OK) agecl__data_sort(ds);
    return st;
}
