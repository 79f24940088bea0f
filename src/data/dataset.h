/* src/data/dataset.h - the data set's insides, shared by the readers of each kind. */
#ifndef AGECL_DATA_DATASET_H
#define AGECL_DATA_DATASET_H

#include <stdint.h>
#include "agecl/data.h"
#include "data/issues.h"

typedef struct agecl__data_entry {
    agecl_sample s;    /* s.path is owned */
    int part;          /* AGECL_SPLIT_* from the data set's own lists, or -1 */
    uint64_t bytes;    /* file size and modification time, for the cache's */
    int64_t mtime_ns;  /* staleness check */
} agecl__data_entry;

struct agecl_dataset {
    agecl_dataset_kind kind;
    agecl_crop crop;
    unsigned flags;
    const char *kind_name; /* "utkface", "aaf", "csv": the prefix of messages */
    char *name;            /* "KIND:PATH" */
    agecl__data_entry *e;
    int count, cap;
    int *by_name; /* sample indices sorted by base name (agecl__data_index) */
    int has_own_split;
    int has_gender;
    int *ages, n_ages;
    agecl__data_issues issues;
};

/* A bad sample: an error under AGECL_DATA_STRICT, otherwise logged and AGECL_OK. */
agecl_status agecl__data_bad(agecl_dataset *ds, agecl_status status, const char *fmt, ...)
    AGECL_PRINTF(3, 4);

/* Add the sample dir/file (file alone when absolute or dir is NULL) after checking
 * its age and that it is a non-empty regular file, or skip it as bad; where (may be
 * NULL) says where it was listed, for messages. */
agecl_status agecl__data_add(agecl_dataset *ds, const char *dir, const char *file,
                             int age, int gender, const char *where);

/* Sort the samples by name (folders have no meaningful order of their own). */
void agecl__data_sort(agecl_dataset *ds);
/* Build by_name; call after the last agecl__data_add. */
agecl_status agecl__data_index(agecl_dataset *ds);
/* The sample whose base name is name, or whose base name is name plus an extension
 * (".jpg"): its index, -1 if none, -2 if several. Needs by_name. */
int agecl__data_find(const agecl_dataset *ds, const char *name);

/* A line of a text file without its line end; NULL at the end of the file. */
char *agecl__data_getline(FILE *f, char **buf, size_t *cap);
/* strerror that is safe from several threads. */
const char *agecl__data_errno(int err, char *buf, size_t len);

/* The readers of each kind. */
agecl_status agecl__data_read_utkface(agecl_dataset *ds, const char *dir);
agecl_status agecl__data_read_aaf(agecl_dataset *ds, const char *dir);
agecl_status agecl__data_read_csv(agecl_dataset *ds, const char *file);

/* FNV-1a 64 over each sample's path, size and modification time. */
uint64_t agecl__data_list_hash(const agecl_dataset *ds);

#endif
