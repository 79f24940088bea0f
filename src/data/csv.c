/* src/data/csv.c - a CSV manifest: "path,age[,gender]" lines. */
#include "data/dataset.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Trim spaces in place. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
    return s;
}

static int parse_int(const char *s, int *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < -1000000 || x > 1000000) return 0;
    *v = (int)x;
    return 1;
}

static int parse_gender(const char *s, int *g)
{
    static const char *const male[] = {"0", "m", "male"}, *const female[] = {"1", "f", "female"};
    *g = AGECL_GENDER_UNKNOWN;
    if (!*s || !strcmp(s, "-1")) return 1;
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, male[i])) *g = AGECL_GENDER_MALE;
        if (!strcasecmp(s, female[i])) *g = AGECL_GENDER_FEMALE;
    }
    return *g != AGECL_GENDER_UNKNOWN;
}

/* The folder that relative paths start from: the CSV's own. */
static char *csv_dir(const char *file)
{
    const char *slash = strrchr(file, '/');
    if (!slash) return strdup(".");
    size_t n = slash == file ? 1 : (size_t)(slash - file);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, file, n);
        d[n] = '\0';
    }
    return d;
}

agecl_status agecl__data_read_csv(agecl_dataset *ds, const char *file)
{
    char why[128];
    FILE *f = fopen(file, "r");
    if (!f)
        return agecl__fail(AGECL_E_IO, "csv: %s: cannot open: %s", file,
                           agecl__data_errno(errno, why, sizeof why));
    char *dir = csv_dir(file);
    if (!dir) {
        fclose(f);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "csv: %s", file);
    }
    char *buf = NULL, *line;
    size_t cap = 0;
    int rows = 0;
    agecl_status st = AGECL_OK;
    for (int ln = 1; st == AGECL_OK && (line = agecl__data_getline(f, &buf, &cap)); ln++) {
        if (!*trim(line)) continue;
        char *field[4];
        int n = 0;
        for (char *p = line; n < 4; n++) {
            field[n] = p;
            char *comma = strchr(p, ',');
            if (!comma) {
                n++;
                break;
            }
            *comma = '\0';
            p = comma + 1;
        }
        if (n < 2 || n > 3) {
            st = agecl__fail(AGECL_E_FORMAT, "csv: %s:%d: expected path,age[,gender], found %s",
                             file, ln, n < 2 ? "1 field" : "more than 3 fields");
            break;
        }
        char *path = trim(field[0]), *age_s = trim(field[1]);
        const char *gender_s = n == 3 ? trim(field[2]) : "";
        int age, gender;
        if (!parse_int(age_s, &age)) {
            if (rows++ == 0) continue; /* the header */
            st = agecl__fail(AGECL_E_FORMAT, "csv: %s:%d: the age \"%s\" is not a whole number",
                             file, ln, age_s);
        } else if (!*path) {
            st = agecl__fail(AGECL_E_FORMAT, "csv: %s:%d: empty path", file, ln);
        } else if (!parse_gender(gender_s, &gender)) {
            st = agecl__fail(AGECL_E_FORMAT, "csv: %s:%d: gender \"%s\" is not 0/m, 1/f or -1",
                             file, ln, gender_s);
        } else {
            char where[512];
            snprintf(where, sizeof where, "%s:%d", file, ln);
            rows++;
            st = agecl__data_add(ds, dir, path, age, gender, where);
        }
    }
    free(buf);
    free(dir);
    fclose(f);
    return st;
}
