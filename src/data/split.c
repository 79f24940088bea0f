/* src/data/split.c - train / validation / test splits: by hash, by lists, by the
 * data set's own lists. */
#include "data/dataset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/hash.h"
#include "data/rng.h"

/* part[i] (AGECL_SPLIT_* or -1) to the index lists of out. */
static agecl_status from_parts(agecl_split *out, const agecl_dataset *ds, const signed char *part)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < ds->count; i++)
        if (part[i] >= 0) out->count[part[i]]++;
    for (int p = 0; p < AGECL_SPLIT_PARTS; p++)
        if (!(out->index[p] = malloc(((size_t)out->count[p] + 1) * sizeof(int)))) {
            agecl_split_free(out);
            return agecl__fail(AGECL_E_OUT_OF_MEMORY, "split: %d samples", ds->count);
        }
    int fill[AGECL_SPLIT_PARTS] = {0};
    for (int i = 0; i < ds->count; i++)
        if (part[i] >= 0) out->index[part[i]][fill[part[i]]++] = i;
    return AGECL_OK;
}

static signed char *new_parts(const agecl_dataset *ds)
{
    signed char *part = malloc((size_t)ds->count);
    if (part) memset(part, -1, (size_t)ds->count);
    else agecl__fail(AGECL_E_OUT_OF_MEMORY, "split: %d samples", ds->count);
    return part;
}

agecl_status agecl_split_hash(agecl_split *out, const agecl_dataset *ds)
{
    if (!out || !ds) return agecl__fail(AGECL_E_INVALID_ARG, "split: null argument");
    signed char *part = new_parts(ds);
    if (!part) return AGECL_E_OUT_OF_MEMORY;
    static const signed char bucket_part[5] = {AGECL_SPLIT_TRAIN, AGECL_SPLIT_TRAIN,
                                               AGECL_SPLIT_TRAIN, AGECL_SPLIT_VAL, AGECL_SPLIT_TEST};
    for (int i = 0; i < ds->count; i++) {
        const char *name = ds->e[i].s.name;
        uint64_t h = agecl__data_mix64(agecl__fnv1a(AGECL_FNV_INIT, name, strlen(name)));
        part[i] = bucket_part[h % 5];
    }
    agecl_status st = from_parts(out, ds, part);
    free(part);
    return st;
}

/* Assign the names listed in path to part p. */
static agecl_status read_list(const agecl_dataset *ds, const char *path, int p, signed char *part)
{
    char why[128];
    FILE *f = fopen(path, "r");
    if (!f)
        return agecl__fail(AGECL_E_IO, "split: %s: cannot open: %s", path,
                           agecl__data_errno(errno, why, sizeof why));
    char *buf = NULL, *line;
    size_t cap = 0;
    agecl_status st = AGECL_OK;
    for (int ln = 1; st == AGECL_OK && (line = agecl__data_getline(f, &buf, &cap)); ln++) {
        char *name = line + strspn(line, " \t");
        name[strcspn(name, " \t")] = '\0';
        if (!*name || *name == '#') continue;
        int i = agecl__data_find(ds, name);
        if (i < 0)
            st = agecl__fail(AGECL_E_FORMAT, "split: %s:%d: \"%s\" %s", path, ln, name,
                             i == -1 ? "is not a sample of the data set" : "names several samples");
        else if (part[i] >= 0)
            st = agecl__fail(AGECL_E_FORMAT, "split: %s:%d: \"%s\" is listed twice", path, ln, name);
        else
            part[i] = (signed char)p;
    }
    free(buf);
    fclose(f);
    return st;
}

agecl_status agecl_split_lists(agecl_split *out, const agecl_dataset *ds,
                               const char *const lists[AGECL_SPLIT_PARTS])
{
    if (!out || !ds || !lists) return agecl__fail(AGECL_E_INVALID_ARG, "split: null argument");
    signed char *part = new_parts(ds);
    if (!part) return AGECL_E_OUT_OF_MEMORY;
    agecl_status st = AGECL_OK;
    for (int p = 0; p < AGECL_SPLIT_PARTS && st == AGECL_OK; p++)
        if (lists[p]) st = read_list(ds, lists[p], p, part);
    if (st == AGECL_OK) st = from_parts(out, ds, part);
    free(part);
    return st;
}

agecl_status agecl_split_own(agecl_split *out, const agecl_dataset *ds)
{
    if (!out || !ds) return agecl__fail(AGECL_E_INVALID_ARG, "split: null argument");
    if (!ds->has_own_split)
        return agecl__fail(AGECL_E_UNSUPPORTED, "split: %s has no lists of its own", ds->name);
    signed char *part = new_parts(ds);
    if (!part) return AGECL_E_OUT_OF_MEMORY;
    for (int i = 0; i < ds->count; i++) part[i] = (signed char)ds->e[i].part;
    agecl_status st = from_parts(out, ds, part);
    free(part);
    return st;
}

void agecl_split_free(agecl_split *split)
{
    if (!split) return;
    for (int p = 0; p < AGECL_SPLIT_PARTS; p++) free(split->index[p]);
    memset(split, 0, sizeof *split);
}
