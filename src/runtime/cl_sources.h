/* The OpenCL C sources of cl/, embedded at build time by tools/embed_cl.py. */
#ifndef AGECL_RUNTIME_CL_SOURCES_H
#define AGECL_RUNTIME_CL_SOURCES_H

typedef struct agecl__cl_source {
    const char *name;   /* base name of the file without .cl */
    const char *source;
} agecl__cl_source;

extern const agecl__cl_source agecl__cl_sources[];
extern const int agecl__cl_source_count;

/* The embedded source named name, or NULL. */
const char *agecl__cl_source_find(const char *name);

#endif
