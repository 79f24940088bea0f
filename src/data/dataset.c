/* src/data/dataset.c - opening a data set, its labels and its summary. */
#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"utkface", "aaf", "csv"};

agecl_status agecl_dataset_open(agecl_dataset **out, const char *spec, unsigned flags)
{
    if (!out || !spec) return agecl__fail(AGECL_E_INVALID_ARG, "dataset: null argument");
    *out = NULL;
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : 0;
    if (colon && colon[1])
        for (int k = 0; k < 3; k++)
            if (len == strlen(kind_names[k]) && !strncmp(spec, kind_names[k], len))
                return agecl_dataset_open_kind(out, (agecl_dataset_kind)k, colon + 1, flags);
    return agecl__fail(AGECL_E_INVALID_ARG,
                       "dataset: \"%s\" is not KIND:PATH with KIND utkface, aaf or csv", spec);
}

typedef struct path_key { const char *path; int index; } path_key;

static int path_key_cmp(const void *a, const void *b)
{
    const path_key *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Drop the second and later samples with the same path (a CSV may repeat a row). */
static agecl_status drop_duplicates(agecl_dataset *ds)
{
    path_key *k = malloc((size_t)ds->count * sizeof *k);
    char *dup = calloc((size_t)ds->count, 1);
    agecl_status st = AGECL_OK;
    if (!k || !dup) {
        st = agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: %d samples", ds->name, ds->count);
        goto done;
    }
    for (int i = 0; i < ds->count; i++) k[i] = (path_key){ds->e[i].s.path, i};
    qsort(k, (size_t)ds->count, sizeof *k, path_key_cmp);
    for (int i = 1; i < ds->count && st == AGECL_OK; i++)
        if (!strcmp(k[i].path, k[i - 1].path)) {
            dup[k[i].index] = 1;
            st = agecl__data_bad(ds, AGECL_E_DATA, "%s: %s: listed more than once",
                                 ds->kind_name, k[i].path);
        }
    int n = 0;
    for (int i = 0; i < ds->count; i++) {
        if (dup[i]) free((char *)ds->e[i].s.path);
        else ds->e[n++] = ds->e[i];
    }
    ds->count = n;
done:
    free(k);
    free(dup);
    return st;
}

/* What every kind shares once its samples are read: no duplicates, not empty, the
 * name index, the age labels. */
static agecl_status finish(agecl_dataset *ds)
{
    AGECL_TRY(drop_duplicates(ds));
    if (ds->count == 0)
        return agecl__fail(AGECL_E_DATA, "%s: no usable samples (%d skipped)", ds->name,
                           ds->issues.count);
    AGECL_TRY(agecl__data_index(ds));
    char seen[AGECL_AGE_MAX + 1] = {0};
    for (int i = 0; i < ds->count; i++) {
        seen[ds->e[i].s.age] = 1;
        if (ds->e[i].s.gender != AGECL_GENDER_UNKNOWN) ds->has_gender = 1;
    }
    ds->ages = malloc(sizeof seen * sizeof *ds->ages);
    if (!ds->ages) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: age labels", ds->name);
    for (int a = 0; a <= AGECL_AGE_MAX; a++)
        if (seen[a]) ds->ages[ds->n_ages++] = a;
    return AGECL_OK;
}

agecl_status agecl_dataset_open_kind(agecl_dataset **out, agecl_dataset_kind kind,
                                     const char *path, unsigned flags)
{
    if (!out || !path || (unsigned)kind > AGECL_DATASET_CSV || (flags & ~AGECL_DATA_STRICT))
        return agecl__fail(AGECL_E_INVALID_ARG, "dataset: bad argument");
    *out = NULL;
    agecl_dataset *ds = calloc(1, sizeof *ds);
    size_t len = strlen(kind_names[kind]) + strlen(path) + 2;
    if (!ds || !(ds->name = malloc(len))) {
        free(ds);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "dataset: %s", path);
    }
    snprintf(ds->name, len, "%s:%s", kind_names[kind], path);
    agecl__data_issues_init(&ds->issues);
    ds->kind = kind;
    ds->kind_name = kind_names[kind];
    ds->flags = flags;
    agecl_status st;
    switch (kind) {
    case AGECL_DATASET_UTKFACE:
        ds->crop = AGECL_CROP_CENTER_SQUARE;
        st = agecl__data_read_utkface(ds, path);
        break;
    case AGECL_DATASET_AAF:
        ds->crop = AGECL_CROP_AAF_FACE;
        st = agecl__data_read_aaf(ds, path);
        break;
    default:
        ds->crop = AGECL_CROP_CENTER_SQUARE;
        st = agecl__data_read_csv(ds, path);
        break;
    }
    if (st == AGECL_OK) st = finish(ds);
    if (st != AGECL_OK) {
        agecl_dataset_free(ds);
        return st;
    }
    *out = ds;
    return AGECL_OK;
}

void agecl_dataset_free(agecl_dataset *ds)
{
    if (!ds) return;
    for (int i = 0; i < ds->count; i++) free((char *)ds->e[i].s.path);
    free(ds->e);
    free(ds->by_name);
    free(ds->ages);
    free(ds->name);
    agecl__data_issues_free(&ds->issues);
    free(ds);
}

int agecl_dataset_count(const agecl_dataset *ds) { return ds ? ds->count : 0; }

const agecl_sample *agecl_dataset_sample(const agecl_dataset *ds, int index)
{
    return ds && index >= 0 && index < ds->count ? &ds->e[index].s : NULL;
}

const char *agecl_dataset_name(const agecl_dataset *ds) { return ds->name; }
agecl_dataset_kind agecl_dataset_kind_of(const agecl_dataset *ds) { return ds->kind; }
agecl_crop agecl_dataset_crop(const agecl_dataset *ds) { return ds->crop; }
int agecl_dataset_has_gender(const agecl_dataset *ds) { return ds->has_gender; }

int agecl_dataset_age_labels(const agecl_dataset *ds, const int **ages)
{
    if (ages) *ages = ds->ages;
    return ds->n_ages;
}

int agecl_dataset_age_position(const agecl_dataset *ds, int age)
{
    int lo = 0, hi = ds->n_ages;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (ds->ages[mid] < age) lo = mid + 1;
        else hi = mid;
    }
    return lo < ds->n_ages && ds->ages[lo] == age ? lo : -1;
}

int agecl_dataset_skipped(const agecl_dataset *ds) { return agecl__data_issues_count(&ds->issues); }
int agecl_dataset_issue_count(const agecl_dataset *ds) { return agecl__data_issues_kept(&ds->issues); }

const char *agecl_dataset_issue(const agecl_dataset *ds, int i)
{
    return agecl__data_issues_get(&ds->issues, i);
}

void agecl_dataset_report(const agecl_dataset *ds, FILE *f)
{
    int genders[3] = {0};
    for (int i = 0; i < ds->count; i++) genders[ds->e[i].s.gender + 1]++;
    fprintf(f, "%s: %d samples, %d age labels (%d..%d), %d male, %d female, %d unknown gender\n",
            ds->name, ds->count, ds->n_ages, ds->ages[0], ds->ages[ds->n_ages - 1],
            genders[1], genders[2], genders[0]);
    int skipped = agecl_dataset_skipped(ds);
    if (skipped) {
        fprintf(f, "%s: %d entries skipped:\n", ds->name, skipped);
        agecl__data_issues_print(&ds->issues, f);
    }
}
