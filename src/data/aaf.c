/* src/data/aaf.c - the All-Age-Faces release: "aglined faces/NNNNNAYY.jpg", gender
 * and the published split in the ".txt" lists of "image sets" and (in the shared sample)
 * "labels.txt", lines "NAME GENDER" with GENDER 0 female, 1 male. */
#include "data/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The release spells its folder "aglined faces"; accept the correct spelling too. */
static const char *const image_dirs[] = {"aglined faces", "aligned faces"};

/* "NNNNNAYY" optionally followed by an extension: 1 and the age, or 0. */
static int parse_name(const char *s, int *age)
{
    for (int i = 0; i < 8; i++) {
        int digit = s[i] >= '0' && s[i] <= '9';
        if (i == 5 ? s[i] != 'A' : !digit) return 0;
    }
    if (s[8] != '\0' && s[8] != '.') return 0;
    *age = 10 * (s[6] - '0') + (s[7] - '0');
    return 1;
}

static agecl_status read_images(agecl_dataset *ds, DIR *d, const char *images)
{
    agecl_status st = AGECL_OK;
    struct dirent *de;
    while (st == AGECL_OK && (de = readdir(d))) {
        if (de->d_name[0] == '.' || de->d_type == DT_DIR) continue;
        int age;
        if (parse_name(de->d_name, &age))
            st = agecl__data_add(ds, images, de->d_name, age, AGECL_GENDER_UNKNOWN, NULL);
        else
            st = agecl__data_bad(ds, AGECL_E_DATA, "aaf: %s/%s: the name is not NNNNNAYY.jpg",
                                 images, de->d_name);
    }
    return st;
}

/* Apply one list: genders always, parts when part >= 0. seen marks the samples
 * this list has named (a list naming one twice is malformed). */
static agecl_status read_list(agecl_dataset *ds, const char *path, int part, char *seen)
{
    FILE *f = fopen(path, "r");
    char why[128];
    if (!f)
        return agecl__fail(AGECL_E_IO, "aaf: %s: cannot open: %s", path,
                           agecl__data_errno(errno, why, sizeof why));
    memset(seen, 0, (size_t)ds->count);
    char *buf = NULL, *line;
    size_t cap = 0;
    agecl_status st = AGECL_OK;
    for (int ln = 1; st == AGECL_OK && (line = agecl__data_getline(f, &buf, &cap)); ln++) {
        char name[64], extra;
        int g, age;
        int n = sscanf(line, "%63s %d %c", name, &g, &extra);
        if (n <= 0 || name[0] == '#') continue; /* a blank or comment line */
        if (n != 2 || (g != 0 && g != 1) || !parse_name(name, &age)) {
            st = agecl__fail(AGECL_E_FORMAT, "aaf: %s:%d: expected \"NNNNNAYY.jpg GENDER\" "
                             "with GENDER 0 or 1, found \"%s\"", path, ln, line);
            break;
        }
        int i = agecl__data_find(ds, name);
        if (i == -1) {
            st = agecl__data_bad(ds, AGECL_E_IO, "aaf: %s:%d: %s: no such image", path, ln, name);
            continue;
        }
        if (i == -2) {
            st = agecl__fail(AGECL_E_FORMAT, "aaf: %s:%d: %s names several images", path, ln,
                             name);
            break;
        }
        /* Lists use 0 female, 1 male; samples use 0 male, 1 female. */
        int gender = g == 0 ? AGECL_GENDER_FEMALE : AGECL_GENDER_MALE;
        agecl__data_entry *e = &ds->e[i];
        if (seen[i])
            st = agecl__fail(AGECL_E_FORMAT, "aaf: %s:%d: %s is named twice", path, ln, name);
        else if (e->s.gender != AGECL_GENDER_UNKNOWN && e->s.gender != gender)
            st = agecl__fail(AGECL_E_FORMAT, "aaf: %s:%d: %s: gender differs from another list",
                             path, ln, name);
        else if (part >= 0 && e->part >= 0)
            st = agecl__fail(AGECL_E_FORMAT, "aaf: %s:%d: %s is in two parts of the split",
                             path, ln, name);
        else {
            seen[i] = 1;
            e->s.gender = gender;
            if (part >= 0) e->part = part;
        }
    }
    free(buf);
    fclose(f);
    return st;
}

/* The part a list of "image sets" gives: train*.txt, val*.txt, test*.txt. */
static int list_part(const char *name)
{
    static const char *const prefix[AGECL_SPLIT_PARTS] = {"train", "val", "test"};
    for (int p = 0; p < AGECL_SPLIT_PARTS; p++)
        if (!strncmp(name, prefix[p], strlen(prefix[p]))) return p;
    return -1;
}

static int is_txt(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && !strcmp(name + n - 4, ".txt");
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .txt lists of "image sets" (absent from the shared sample), in name order. */
static agecl_status read_image_sets(agecl_dataset *ds, const char *dir, char *seen, char *path,
                                    size_t len)
{
    snprintf(path, len, "%s/image sets", dir);
    DIR *d = opendir(path);
    if (!d) return AGECL_OK;
    char *names[64];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 64)
        if (is_txt(de->d_name) && !(names[n++] = strdup(de->d_name))) n--;
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    agecl_status st = AGECL_OK;
    for (int i = 0; i < n; i++) {
        if (st == AGECL_OK) {
            int part = list_part(names[i]);
            snprintf(path, len, "%s/image sets/%s", dir, names[i]);
            st = read_list(ds, path, part, seen);
            if (part >= 0) ds->has_own_split = 1;
        }
        free(names[i]);
    }
    return st;
}

agecl_status agecl__data_read_aaf(agecl_dataset *ds, const char *dir)
{
    size_t len = strlen(dir) + 300;
    char *path = malloc(len);
    if (!path) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "aaf: %s", dir);
    DIR *d = NULL;
    for (int i = 0; i < 2 && !d; i++) {
        snprintf(path, len, "%s/%s", dir, image_dirs[i]);
        d = opendir(path);
    }
    if (!d) {
        free(path);
        return agecl__fail(AGECL_E_IO, "aaf: %s: no \"aglined faces\" folder", dir);
    }
    agecl_status st = read_images(ds, d, path);
    closedir(d);
    char *seen = NULL;
    if (st == AGECL_OK && ds->count > 0) {
        agecl__data_sort(ds);
        st = agecl__data_index(ds);
        if (st == AGECL_OK && !(seen = malloc((size_t)ds->count)))
            st = agecl__fail(AGECL_E_OUT_OF_MEMORY, "aaf: %s", dir);
    }
    if (seen) st = read_image_sets(ds, dir, seen, path, len);
    if (seen && st == AGECL_OK) {
        snprintf(path, len, "%s/labels.txt", dir);
        if (access(path, F_OK) == 0) st = read_list(ds, path, -1, seen);
    }
    free(seen);
    free(path);
    return st;
}
