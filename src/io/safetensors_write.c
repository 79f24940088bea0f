/* src/io/safetensors_write.c - writing safetensors files atomically (see agecl/safetensors.h). */
#include "agecl/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
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

/* A JSON string; s is valid UTF-8, so only quotes, backslashes and control
 * characters need escapes. */
static void put_string(strbuf *b, const char *s)
{
    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f" : NULL;
        char u[8];
        if (!esc && c < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", c);
            esc = u;
        }
        if (esc) puts_(b, esc);
        else put(b, s, 1);
    }
    put(b, "\"", 1);
}

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

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n < ((size_t)1 << 30) ? n : (size_t)1 << 30);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Write the file into fd; on failure errno says why. */
static int write_file(const agecl_st_writer *w, const strbuf *header, const size_t *order, int fd)
{
    if (write_all(fd, header->p, header->len) != 0) return -1;
    for (size_t k = 0; k < w->count; k++) {
        const st_entry *e = &w->entries[order[k]];
        if (e->nbytes && write_all(fd, e->data, e->nbytes) != 0) return -1;
    }
    return 0;
}

/* Sync the folder holding path, so that the rename itself is durable. */
static int sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return -1;
    /* some file systems cannot sync a folder (EINVAL); nothing more can be done there */
    int rc = fsync(fd) != 0 && errno != EINVAL ? -1 : 0;
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

/* Write the temporary file tmp (open as fd) and rename it over path; on
 * failure before the rename, remove tmp. */
static agecl_status save_via(const agecl_st_writer *w, const char *path, const char *tmp, int fd)
{
    size_t *order = malloc((2 * w->count + 1) * sizeof *order);
    strbuf header = {0};
    if (order) {
        layout(w, order, order + w->count);
        build_header(w, order + w->count, &header);
    }
    if (!order || header.failed) {
        free(order);
        free(header.p);
        close(fd);
        unlink(tmp);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: out of memory building the header", path);
    }

    struct stat sb;
    mode_t mode = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? sb.st_mode & 07777 : 0644;
    const char *failed = NULL;
    if (fchmod(fd, mode) != 0) failed = "cannot set the mode of the new file";
    else if (write_file(w, &header, order, fd) != 0) failed = "cannot write the new file";
    else if (fsync(fd) != 0) failed = "cannot sync the new file";
    int err = errno;
    free(order);
    free(header.p);
    if (close(fd) != 0 && !failed) {
        failed = "cannot close the new file";
        err = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = "cannot rename the new file over it";
        err = errno;
    }
    if (failed) {
        unlink(tmp);
        return agecl__fail(AGECL_E_IO, "%s: %s (temporary file %s): %s", path, failed, tmp,
                           strerror(err));
    }
    if (sync_folder(path) != 0)
        return agecl__fail(AGECL_E_IO, "%s: saved, but cannot sync its folder: %s", path,
                           strerror(errno));
    return AGECL_OK;
}

agecl_status agecl_st_writer_save(const agecl_st_writer *w, const char *path)
{
    if (!w || !path)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_st_writer_save: w and path must not be NULL");
    static const char suffix[] = ".tmp.XXXXXX";
    size_t n = strlen(path);
    char *tmp = malloc(n + sizeof suffix);
    if (!tmp) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, suffix, sizeof suffix);
    int fd = mkstemp(tmp);
    agecl_status st = fd >= 0 ? save_via(w, path, tmp, fd)
                    : agecl__fail(AGECL_E_IO, "%s: cannot create a temporary file in its folder: %s",
                                  path, strerror(errno));
    free(tmp);
    return st;
}
