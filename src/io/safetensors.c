/* src/io/safetensors.c - dtypes and reading safetensors files (see agecl/safetensors.h). */
#include "agecl/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "io/json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian and is copied as is: a little-endian host is required"
#endif

static const struct {
    const char *name;
    size_t size;
} dtypes[AGECL_ST_DTYPE_COUNT] = {
    [AGECL_ST_BOOL] = {"BOOL", 1},       [AGECL_ST_U8] = {"U8", 1},
    [AGECL_ST_I8] = {"I8", 1},           [AGECL_ST_F8_E4M3] = {"F8_E4M3", 1},
    [AGECL_ST_F8_E5M2] = {"F8_E5M2", 1}, [AGECL_ST_U16] = {"U16", 2},
    [AGECL_ST_I16] = {"I16", 2},         [AGECL_ST_F16] = {"F16", 2},
    [AGECL_ST_BF16] = {"BF16", 2},       [AGECL_ST_U32] = {"U32", 4},
    [AGECL_ST_I32] = {"I32", 4},         [AGECL_ST_F32] = {"F32", 4},
    [AGECL_ST_U64] = {"U64", 8},         [AGECL_ST_I64] = {"I64", 8},
    [AGECL_ST_F64] = {"F64", 8},
};

const char *agecl_st_dtype_name(agecl_st_dtype dtype)
{
    return (unsigned)dtype < AGECL_ST_DTYPE_COUNT ? dtypes[dtype].name : NULL;
}

size_t agecl_st_dtype_size(agecl_st_dtype dtype)
{
    return (unsigned)dtype < AGECL_ST_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

struct agecl_st_file {
    char *path;                 /* for messages */
    unsigned char *map;         /* the whole file */
    size_t size;
    size_t data_start;          /* 8 + header length */
    agecl_json *header;         /* owns the names and the metadata strings */
    const agecl_json *meta;     /* the __metadata__ object, or NULL */
    size_t count;
    agecl_st_info *tensors;     /* in header order */
};

/* "[2, 3]" */
static const char *format_shape(const int *shape, int ndim, char buf[static 128])
{
    size_t n = 1;
    buf[0] = '[';
    /* at most 8 dimensions of 11 characters and a separator each: it fits */
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(buf + n, 128 - n, "%s%d", i ? ", " : "", shape[i]);
    snprintf(buf + n, 128 - n, "]");
    return buf;
}

static agecl_status map_file(agecl_st_file *f)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return agecl__fail(AGECL_E_IO, "%s: cannot open: %s", f->path, strerror(errno));
    struct stat sb;
    agecl_status st = AGECL_OK;
    if (fstat(fd, &sb) != 0) {
        st = agecl__fail(AGECL_E_IO, "%s: cannot stat: %s", f->path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = agecl__fail(AGECL_E_IO, "%s: not a regular file", f->path);
    } else if (sb.st_size < 8) {
        st = agecl__fail(AGECL_E_FORMAT,
                         "%s: the file is %lld bytes, too short for the 8-byte header length: truncated?",
                         f->path, (long long)sb.st_size);
    } else if ((unsigned long long)sb.st_size > SIZE_MAX) {
        st = agecl__fail(AGECL_E_UNSUPPORTED, "%s: the file is too large to map", f->path);
    } else {
        f->size = (size_t)sb.st_size;
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            st = agecl__fail(AGECL_E_IO, "%s: cannot map %zu bytes: %s", f->path, f->size,
                             strerror(errno));
        else
            f->map = m;
    }
    close(fd);
    return st;
}

static agecl_status check_meta(const agecl_st_file *f, const agecl_json *meta)
{
    if (meta->kind != AGECL_JSON_OBJECT)
        return agecl__fail(AGECL_E_FORMAT, "%s: __metadata__ is not a JSON object", f->path);
    for (size_t i = 0; i < meta->count; i++)
        if (meta->items[i].kind != AGECL_JSON_STRING)
            return agecl__fail(AGECL_E_FORMAT, "%s: __metadata__ value of '%s' is not a string",
                               f->path, meta->keys[i]);
    return AGECL_OK;
}

static agecl_status parse_dtype(const agecl_st_file *f, const char *name, const agecl_json *v,
                                agecl_st_dtype *dtype)
{
    if (v->kind != AGECL_JSON_STRING)
        return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s': dtype is not a string", f->path, name);
    for (int d = 0; d < AGECL_ST_DTYPE_COUNT; d++) {
        if (strcmp(v->str, dtypes[d].name) == 0) {
            *dtype = (agecl_st_dtype)d;
            return AGECL_OK;
        }
    }
    return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s' has the unknown dtype '%s'", f->path, name,
                       v->str);
}

static agecl_status parse_shape(const agecl_st_file *f, const char *name, const agecl_json *v,
                                agecl_st_info *info)
{
    if (v->kind != AGECL_JSON_ARRAY)
        return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s': shape is not an array", f->path, name);
    if (v->count > AGECL_ST_MAX_DIMS)
        return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s' has %zu dimensions; at most %d are supported",
                           f->path, name, v->count, AGECL_ST_MAX_DIMS);
    size_t size = dtypes[info->dtype].size, numel = 1;
    info->ndim = (int)v->count;
    for (int i = 0; i < info->ndim; i++) {
        const agecl_json *d = &v->items[i];
        if (d->kind != AGECL_JSON_INT || d->num < 0 || d->num > INT_MAX)
            return agecl__fail(AGECL_E_FORMAT,
                               "%s: tensor '%s': shape must hold integers in [0, %d]", f->path, name,
                               INT_MAX);
        info->shape[i] = (int)d->num;
        if (info->shape[i] && numel > SIZE_MAX / size / (size_t)info->shape[i]) {
            char s[128];
            return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s' has the shape %s, too large",
                               f->path, name, format_shape(info->shape, info->ndim, s));
        }
        numel *= (size_t)info->shape[i];
    }
    info->numel = numel;
    info->nbytes = numel * size;
    return AGECL_OK;
}

/* Check data_offsets against the shape and the file, and point info->data at the data. */
static agecl_status parse_offsets(const agecl_st_file *f, const char *name, const agecl_json *v,
                                  agecl_st_info *info)
{
    if (v->kind != AGECL_JSON_ARRAY || v->count != 2 || v->items[0].kind != AGECL_JSON_INT ||
        v->items[1].kind != AGECL_JSON_INT || v->items[0].num < 0 || v->items[1].num < 0)
        return agecl__fail(AGECL_E_FORMAT,
                           "%s: tensor '%s': data_offsets is not a pair of non-negative integers",
                           f->path, name);
    unsigned long long begin = (unsigned long long)v->items[0].num;
    unsigned long long end = (unsigned long long)v->items[1].num;
    if (begin > end)
        return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s' has data_offsets [%llu, %llu] that run backwards",
                           f->path, name, begin, end);
    if (end > f->size - f->data_start)
        return agecl__fail(AGECL_E_FORMAT,
                           "%s: tensor '%s' ends at byte %llu past the end of the file (%zu bytes): truncated?",
                           f->path, name, f->data_start + end, f->size);
    if (end - begin != info->nbytes) {
        char s[128];
        return agecl__fail(AGECL_E_FORMAT,
                           "%s: tensor '%s' is %s %s, %zu bytes, but its data_offsets [%llu, %llu] span %llu bytes",
                           f->path, name, dtypes[info->dtype].name,
                           format_shape(info->shape, info->ndim, s), info->nbytes, begin, end,
                           end - begin);
    }
    info->data = f->map + f->data_start + begin;
    return AGECL_OK;
}

static agecl_status parse_tensor(const agecl_st_file *f, const char *name, const agecl_json *v,
                                 agecl_st_info *info)
{
    static const char *const fields[] = {"dtype", "shape", "data_offsets"};
    const agecl_json *field[3] = {NULL, NULL, NULL};
    if (v->kind != AGECL_JSON_OBJECT)
        return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s' is not a JSON object", f->path, name);
    for (size_t i = 0; i < v->count; i++) {
        int k = 0;
        while (k < 3 && strcmp(v->keys[i], fields[k]) != 0) k++;
        if (k == 3)
            return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s' has the unknown field '%s'",
                               f->path, name, v->keys[i]);
        field[k] = &v->items[i];
    }
    for (int k = 0; k < 3; k++)
        if (!field[k])
            return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s' has no %s", f->path, name, fields[k]);
    info->name = name;
    AGECL_TRY(parse_dtype(f, name, field[0], &info->dtype));
    AGECL_TRY(parse_shape(f, name, field[1], info));
    return parse_offsets(f, name, field[2], info);
}

static int cmp_by_data(const void *a, const void *b)
{
    const agecl_st_info *x = *(const agecl_st_info *const *)a;
    const agecl_st_info *y = *(const agecl_st_info *const *)b;
    if (x->data != y->data) return (const char *)x->data < (const char *)y->data ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static agecl_status check_overlaps(const agecl_st_file *f)
{
    if (f->count < 2) return AGECL_OK;
    const agecl_st_info **by_data = malloc(f->count * sizeof *by_data);
    if (!by_data) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: out of memory", f->path);
    for (size_t i = 0; i < f->count; i++) by_data[i] = &f->tensors[i];
    qsort(by_data, f->count, sizeof *by_data, cmp_by_data);
    agecl_status st = AGECL_OK;
    for (size_t i = 1; i < f->count && st == AGECL_OK; i++) {
        const agecl_st_info *a = by_data[i - 1], *b = by_data[i];
        size_t a0 = (size_t)((const unsigned char *)a->data - f->map) - f->data_start;
        size_t b0 = (size_t)((const unsigned char *)b->data - f->map) - f->data_start;
        if (a0 + a->nbytes > b0)
            st = agecl__fail(AGECL_E_FORMAT,
                             "%s: tensors '%s' (data bytes %zu to %zu) and '%s' (%zu to %zu) overlap",
                             f->path, a->name, a0, a0 + a->nbytes, b->name, b0, b0 + b->nbytes);
    }
    free(by_data);
    return st;
}

static agecl_status parse_header(agecl_st_file *f)
{
    unsigned long long n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | f->map[i];
    if (n > f->size - 8)
        return agecl__fail(AGECL_E_FORMAT,
                           "%s: the header length %llu runs past the end of the file (%zu bytes): truncated?",
                           f->path, n, f->size);
    f->data_start = 8 + (size_t)n;
    AGECL_TRY(agecl__json_parse((const char *)f->map + 8, (size_t)n, f->path, &f->header));
    const agecl_json *h = f->header;
    if (h->kind != AGECL_JSON_OBJECT)
        return agecl__fail(AGECL_E_FORMAT, "%s: the header is not a JSON object", f->path);
    f->tensors = calloc(h->count ? h->count : 1, sizeof *f->tensors);
    if (!f->tensors) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: out of memory", f->path);
    for (size_t i = 0; i < h->count; i++) {
        if (strcmp(h->keys[i], "__metadata__") == 0) {
            AGECL_TRY(check_meta(f, &h->items[i]));
            f->meta = &h->items[i];
        } else {
            AGECL_TRY(parse_tensor(f, h->keys[i], &h->items[i], &f->tensors[f->count]));
            f->count++;
        }
    }
    return check_overlaps(f);
}

agecl_status agecl_st_open(const char *path, agecl_st_file **out)
{
    if (!path || !out)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_st_open: path and out must not be NULL");
    *out = NULL;
    agecl_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    agecl_status st = map_file(f);
    if (st == AGECL_OK) st = parse_header(f);
    if (st != AGECL_OK) {
        agecl_st_close(f);
        return st;
    }
    *out = f;
    return AGECL_OK;
}

void agecl_st_close(agecl_st_file *f)
{
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    agecl__json_free(f->header);
    free(f->tensors);
    free(f->path);
    free(f);
}

size_t agecl_st_count(const agecl_st_file *f)
{
    return f ? f->count : 0;
}

const char *agecl_st_name(const agecl_st_file *f, size_t i)
{
    return f && i < f->count ? f->tensors[i].name : NULL;
}

agecl_status agecl_st_find(const agecl_st_file *f, const char *name, agecl_st_info *info)
{
    if (!f || !name || !info)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_st_find: f, name and info must not be NULL");
    for (size_t i = 0; i < f->count; i++) {
        if (strcmp(f->tensors[i].name, name) == 0) {
            *info = f->tensors[i];
            return AGECL_OK;
        }
    }
    return agecl__fail(AGECL_E_FORMAT, "%s: no tensor named '%s'", f->path, name);
}

const char *agecl_st_meta(const agecl_st_file *f, const char *key)
{
    const agecl_json *v = f && f->meta && key ? agecl__json_get(f->meta, key) : NULL;
    return v ? v->str : NULL;
}

size_t agecl_st_meta_count(const agecl_st_file *f) { return f && f->meta ? f->meta->count : 0; }

const char *agecl_st_meta_key(const agecl_st_file *f, size_t i)
{
    return i < agecl_st_meta_count(f) ? f->meta->keys[i] : NULL;
}

static agecl_status read_as(const agecl_st_file *f, const char *name, agecl_st_dtype dtype,
                            void *dst, size_t count, const int *shape, int ndim)
{
    agecl_st_info info;
    char have[128], want[128];
    AGECL_TRY(agecl_st_find(f, name, &info));
    if (info.dtype != dtype)
        return agecl__fail(AGECL_E_FORMAT, "%s: tensor '%s' is %s, not %s", f->path, name,
                           dtypes[info.dtype].name, dtypes[dtype].name);
    if (ndim == AGECL_ST_ANY_SHAPE) {
        if (info.numel != count)
            return agecl__fail(AGECL_E_SHAPE, "%s: tensor '%s' has shape %s (%zu elements) but %zu are expected",
                               f->path, name, format_shape(info.shape, info.ndim, have), info.numel,
                               count);
    } else {
        if (ndim < 0 || ndim > AGECL_ST_MAX_DIMS || (ndim > 0 && !shape))
            return agecl__fail(AGECL_E_INVALID_ARG, "reading '%s': bad expected shape (ndim %d)",
                               name, ndim);
        size_t numel = 1;
        for (int i = 0; i < ndim; i++) numel *= shape[i] > 0 ? (size_t)shape[i] : 0;
        if (numel != count)
            return agecl__fail(AGECL_E_INVALID_ARG,
                               "reading '%s': dst holds %zu elements but the expected shape %s has %zu",
                               name, count, format_shape(shape, ndim, want), numel);
        int same = info.ndim == ndim;
        for (int i = 0; same && i < ndim; i++) same = info.shape[i] == shape[i];
        if (!same)
            return agecl__fail(AGECL_E_SHAPE, "%s: tensor '%s' has shape %s but the model expects %s",
                               f->path, name, format_shape(info.shape, info.ndim, have),
                               format_shape(shape, ndim, want));
    }
    if (info.nbytes) {
        if (!dst) return agecl__fail(AGECL_E_INVALID_ARG, "reading '%s': dst is NULL", name);
        memcpy(dst, info.data, info.nbytes);
    }
    return AGECL_OK;
}

agecl_status agecl_st_read_f32(const agecl_st_file *f, const char *name, float *dst,
                               size_t count, const int *expected_shape, int ndim)
{
    return read_as(f, name, AGECL_ST_F32, dst, count, expected_shape, ndim);
}

agecl_status agecl_st_read_f64(const agecl_st_file *f, const char *name, double *dst,
                               size_t count, const int *expected_shape, int ndim)
{
    return read_as(f, name, AGECL_ST_F64, dst, count, expected_shape, ndim);
}

agecl_status agecl_st_read_i32(const agecl_st_file *f, const char *name, int32_t *dst,
                               size_t count, const int *expected_shape, int ndim)
{
    return read_as(f, name, AGECL_ST_I32, dst, count, expected_shape, ndim);
}

agecl_status agecl_st_read_i64(const agecl_st_file *f, const char *name, int64_t *dst,
                               size_t count, const int *expected_shape, int ndim)
{
    return read_as(f, name, AGECL_ST_I64, dst, count, expected_shape, ndim);
}
