/* src/data/dataset_build.c - adding samples, sorting and finding them by name. */
#include "data/dataset.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/hash.h"

agecl_status agecl__data_bad(agecl_dataset *ds, agecl_status status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ds->flags & AGECL_DATA_STRICT) return agecl__fail(status, "%s", msg);
    agecl__data_issues_add(&ds->issues, "%s", msg);
    return AGECL_OK;
}

const char *agecl__data_errno(int err, char *buf, size_t len)
{
    if (strerror_r(err, buf, len)) snprintf(buf, len, "error %d", err);
    return buf;
}

static char *join_path(const char *dir, const char *file)
{
    if (!dir || file[0] == '/') return strdup(file);
    size_t d = strlen(dir), f = strlen(file);
    int slash = d > 0 && dir[d - 1] != '/';
    char *p = malloc(d + (size_t)slash + f + 1);
    if (!p) return NULL;
    memcpy(p, dir, d);
    if (slash) p[d] = '/';
    memcpy(p + d + slash, file, f + 1);
    return p;
}

agecl_status agecl__data_add(agecl_dataset *ds, const char *dir, const char *file,
                             int age, int gender, const char *where)
{
    char *path = join_path(dir, file);
    if (!path) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: %s", ds->kind_name, file);
    struct stat st;
    char why[128];
    agecl_status bad = AGECL_OK;
    const char *problem = NULL;
    if (age < AGECL_AGE_MIN || age > AGECL_AGE_MAX) {
        bad = AGECL_E_DATA;
        snprintf(why, sizeof why, "age %d is outside %d..%d", age, AGECL_AGE_MIN, AGECL_AGE_MAX);
        problem = why;
    } else if (stat(path, &st) != 0) {
        bad = AGECL_E_IO;
        problem = agecl__data_errno(errno, why, sizeof why);
    } else if (!S_ISREG(st.st_mode)) {
        bad = AGECL_E_IO;
        problem = "not a regular file";
    } else if (st.st_size == 0) {
        bad = AGECL_E_FORMAT;
        problem = "empty file";
    }
    if (problem) {
        agecl_status s = agecl__data_bad(ds, bad, "%s: %s%s%s: %s", ds->kind_name,
                                         where ? where : "", where ? ": " : "", path, problem);
        free(path);
        return s;
    }
    if (ds->count == ds->cap) {
        int cap = ds->cap ? 2 * ds->cap : 1024;
        agecl__data_entry *e = realloc(ds->e, (size_t)cap * sizeof *e);
        if (!e) {
            free(path);
            return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: %d samples", ds->kind_name, cap);
        }
        ds->e = e;
        ds->cap = cap;
    }
    const char *slash = strrchr(path, '/');
    ds->e[ds->count] = (agecl__data_entry){
        .s = {path, slash ? slash + 1 : path, age, gender},
        .part = -1,
        .bytes = (uint64_t)st.st_size,
        .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
    };
    ds->count++;
    return AGECL_OK;
}

static int entry_name_cmp(const void *a, const void *b)
{
    const agecl__data_entry *x = a, *y = b;
    return strcmp(x->s.name, y->s.name);
}

void agecl__data_sort(agecl_dataset *ds)
{
    /* qsort's array may not be NULL, even for no element */
    if (ds->count > 1) qsort(ds->e, (size_t)ds->count, sizeof *ds->e, entry_name_cmp);
}

typedef struct name_key { const char *name; int index; } name_key;

static int name_key_cmp(const void *a, const void *b)
{
    const name_key *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

agecl_status agecl__data_index(agecl_dataset *ds)
{
    name_key *k = malloc((size_t)ds->count * sizeof *k);
    int *by_name = malloc((size_t)ds->count * sizeof *by_name);
    if (!k || !by_name) {
        free(k);
        free(by_name);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: %d samples", ds->kind_name, ds->count);
    }
    for (int i = 0; i < ds->count; i++) k[i] = (name_key){ds->e[i].s.name, i};
    qsort(k, (size_t)ds->count, sizeof *k, name_key_cmp);
    for (int i = 0; i < ds->count; i++) by_name[i] = k[i].index;
    free(k);
    free(ds->by_name);
    ds->by_name = by_name;
    return AGECL_OK;
}

int agecl__data_find(const agecl_dataset *ds, const char *name)
{
    int lo = 0, hi = ds->count;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(ds->e[ds->by_name[mid]].s.name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    /* Names that start with name sort together from lo on: "x", "x.jpg", "x2.jpg". */
    size_t len = strlen(name);
    int found = -1;
    for (int i = lo; i < ds->count; i++) {
        const char *s = ds->e[ds->by_name[i]].s.name;
        if (strncmp(s, name, len)) break;
        if (s[len] != '\0' && s[len] != '.') continue;
        if (found >= 0) return -2;
        found = ds->by_name[i];
    }
    return found;
}

char *agecl__data_getline(FILE *f, char **buf, size_t *cap)
{
    ssize_t n = getline(buf, cap, f);
    if (n < 0) return NULL;
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) (*buf)[--n] = '\0';
    return *buf;
}

uint64_t agecl__data_list_hash(const agecl_dataset *ds)
{
    uint64_t h = AGECL_FNV_INIT;
    for (int i = 0; i < ds->count; i++) {
        const agecl__data_entry *e = &ds->e[i];
        h = agecl__fnv1a_str(h, e->s.path);
        h = agecl__fnv1a(h, &e->bytes, sizeof e->bytes);
        h = agecl__fnv1a(h, &e->mtime_ns, sizeof e->mtime_ns);
    }
    return h;
}
