/* src/io/safetensors_write.c - writing safetensors files atomically (see agecl/safetensors.h). */
#include "agecl/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io/atomic_file.h"
#include "io/json.h"

typedef struct st_entry {
    char *name;
    agecl_st_dtype dtype;
    int ndim;
    int shape[AGECL_ST_MAX_DIMS];
    size_t nbytes;
    const void *data; /* the caller's, not copied */
} st_entry;

typedef struct st_pair {
    char *key, *value;
} st_pair;

struct agecl_st_writer {
    st_entry *entries;
    size_t count, cap;
    st_pair *meta;
    size_t nmeta, meta_cap;
};

/* array, grown if needed to hold one more element of size elem; NULL when out of memory. */
static void *reserve(void *array, size_t *cap, size_t count, size_t elem)
{
    if (count < *cap) return array;
    size_t n = *cap ? *cap * 2 : 8;
    void *p = realloc(array, n * elem);
    if (p) *cap = n;
    return p;
}

agecl_status agecl_st_writer_create(agecl_st_writer **out)
{
    if (!out) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_st_writer_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_st_writer_create: out of memory");
    return AGECL_OK;
}

void agecl_st_writer_free(agecl_st_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->count; i++) free(w->entries[i].name);
    for (size_t i = 0; i < w->nmeta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->entries);
    free(w->meta);
    free(w);
}

agecl_status agecl_st_writer_add(agecl_st_writer *w, const char *name, agecl_st_dtype dtype,
                                 int ndim, const int *shape, const void *data)
{
    if (!w || !name)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_st_writer_add: w and name must not be NULL");
    if (!agecl__utf8_valid(name, strlen(name)))
        return agecl__fail(AGECL_E_INVALID_ARG, "safetensors writer: a tensor name is not valid UTF-8");
    if (strcmp(name, "__metadata__") == 0)
        return agecl__fail(AGECL_E_INVALID_ARG, "safetensors writer: '__metadata__' is reserved");
    size_t size = agecl_st_dtype_size(dtype);
    if (!size)
        return agecl__fail(AGECL_E_INVALID_ARG, "safetensors writer: tensor '%s': unknown dtype %d",
                           name, (int)dtype);
    if (ndim < 0 || ndim > AGECL_ST_MAX_DIMS || (ndim > 0 && !shape))
        return agecl__fail(AGECL_E_INVALID_ARG,
                           "safetensors writer: tensor '%s': ndim %d is outside [0, %d] or shape is NULL",
                           name, ndim, AGECL_ST_MAX_DIMS);
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->entries[i].name, name) == 0)
            return agecl__fail(AGECL_E_INVALID_ARG, "safetensors writer: tensor '%s' added twice", name);

    st_entry e = {.dtype = dtype, .ndim = ndim, .data = data};
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return agecl__fail(AGECL_E_INVALID_ARG,
                               "safetensors writer: tensor '%s': dimension %d is %d", name, i, shape[i]);
        if (shape[i] && numel > SIZE_MAX / size / (size_t)shape[i])
            return agecl__fail(AGECL_E_INVALID_ARG, "safetensors writer: tensor '%s' is too large", name);
        numel *= (size_t)shape[i];
        e.shape[i] = shape[i];
    }
    e.nbytes = numel * size;
    if (e.nbytes && !data)
        return agecl__fail(AGECL_E_INVALID_ARG, "safetensors writer: tensor '%s': data is NULL", name);
    st_entry *entries = reserve(w->entries, &w->cap, w->count, sizeof e);
    if (entries) w->entries = entries;
    if (!entries || !(e.name = strdup(name)))
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "safetensors writer: out of memory");
    w->entries[w->count++] = e;
    return AGECL_OK;
}

agecl_status agecl_st_writer_meta(agecl_st_writer *w, const char *key, const char *value)
{
    if (!w || !key || !value)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_st_writer_meta: w, key and value must not be NULL");
    if (!agecl__utf8_valid(key, strlen(key)) || !agecl__utf8_valid(value, strlen(value)))
        return agecl__fail(AGECL_E_INVALID_ARG, "safetensors writer: metadata is not valid UTF-8");
    char *copy = strdup(value);
    if (!copy) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "safetensors writer: out of memory");
    for (size_t i = 0; i < w->nmeta; i++) {
        if (strcmp(w->meta[i].key, key) == 0) {
            free(w->meta[i].value);
            w->meta[i].value = copy;
            return AGECL_OK;
        }
    }
    st_pair p = {strdup(key), copy};
    st_pair *meta = reserve(w->meta, &w->meta_cap, w->nmeta, sizeof p);
    if (meta) w->meta = meta;
    if (!p.key || !meta) {
        free(p.key);
        free(copy);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "safetensors writer: out of memory");
    }
    w->meta[w->nmeta++] = p;
    return AGECL_OK;
}

/* ---- the header ---- */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: later appends do nothing */
} strbuf;

static void put(strbuf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(strbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_num(strbuf *b, size_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%zu", v);
    puts_(b, s);
}

static void put_piece(void *b, const char *s, size_t n) { put(b, s, n); }

/* A JSON string (names and metadata were checked to be UTF-8 when added). */
static void put_string(strbuf *b, const char *s) { agecl__json_write_string(s, put_piece, b); }

/* The data area holds 8-byte elements first, then 4-, 2- and 1-byte ones, so
 * that every tensor is aligned (the header length is a multiple of 8 too).
 * Fills order (entry indices in data order) and begin (data offset of each entry). */
static void layout(const agecl_st_writer *w, size_t *order, size_t *begin)
{
    size_t k = 0, at = 0;
    for (size_t size = 8; size >= 1; size /= 2) {
        for (size_t i = 0; i < w->count; i++) {
            if (agecl_st_dtype_size(w->entries[i].dtype) != size) continue;
            order[k++] = i;
            begin[i] = at;
            at += w->entries[i].nbytes;
        }
    }
}

/* The 8-byte length and the header, padded with spaces to a multiple of 8. */
static void build_header(const agecl_st_writer *w, const size_t *begin, strbuf *b)
{
    put(b, "\0\0\0\0\0\0\0\0{", 9);
    if (w->nmeta) {
        puts_(b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->nmeta; i++) {
            if (i) put(b, ",", 1);
            put_string(b, w->meta[i].key);
            put(b, ":", 1);
            put_string(b, w->meta[i].value);
        }
        puts_(b, "}");
    }
    for (size_t i = 0; i < w->count; i++) {
        const st_entry *e = &w->entries[i];
        if (i || w->nmeta) put(b, ",", 1);
        put_string(b, e->name);
        puts_(b, ":{\"dtype\":\"");
        puts_(b, agecl_st_dtype_name(e->dtype));
        puts_(b, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            if (d) put(b, ",", 1);
            put_num(b, (size_t)e->shape[d]);
        }
        puts_(b, "],\"data_offsets\":[");
        put_num(b, begin[i]);
        put(b, ",", 1);
        put_num(b, begin[i] + e->nbytes);
        puts_(b, "]}");
    }
    put(b, "}", 1);
    while (!b->failed && b->len % 8) put(b, " ", 1);
    if (b->failed) return;
    size_t n = b->len - 8;
    for (int i = 0; i < 8; i++) b->p[i] = (char)(n >> (8 * i) & 0xff);
}

/* ---- the file ---- */

/* The header, then every tensor in offset order. */
static agecl_status write_file(const agecl_st_writer *w, const strbuf *header, const size_t *order,
                               agecl__atomic_file *f)
{
    AGECL_TRY(agecl__atomic_write(f, header->p, header->len));
    for (size_t k = 0; k < w->count; k++) {
        const st_entry *e = &w->entries[order[k]];
        if (e->nbytes) AGECL_TRY(agecl__atomic_write(f, e->data, e->nbytes));
    }
    return AGECL_OK;
}

agecl_status agecl_st_writer_save(const agecl_st_writer *w, const char *path)
{
    if (!w || !path)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_st_writer_save: w and path must not be NULL");
    size_t *order = malloc((2 * w->count + 1) * sizeof *order);
    strbuf header = {0};
    if (order) {
        layout(w, order, order + w->count);
        build_header(w, order + w->count, &header);
    }
    agecl_status st;
    agecl__atomic_file f;
    if (!order || header.failed)
        st = agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: out of memory building the header", path);
    else if ((st = agecl__atomic_begin(&f, path)) == AGECL_OK) {
        st = write_file(w, &header, order, &f);
        if (st == AGECL_OK) st = agecl__atomic_commit(&f);
        else agecl__atomic_abort(&f);
    }
    free(order);
    free(header.p);
    return st;
}
