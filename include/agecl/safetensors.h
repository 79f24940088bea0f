/* agecl/safetensors.h - reading and writing safetensors files.
 *
 * Checkpoints and the PyTorch-made test fixtures are safetensors files:
 *
 *   u64 N (little-endian)  the length of the header
 *   N bytes                a JSON object, padded with spaces:
 *                            {"__metadata__": {"key": "value", ...},       (optional)
 *                             "name": {"dtype": "F32", "shape": [2, 3],
 *                                      "data_offsets": [begin, end]}, ...}
 *   the data               raw little-endian elements, row-major; each tensor
 *                          at [begin, end) counted from the end of the header
 *
 * READING
 *
 *   agecl_st_file *f;
 *   if (agecl_st_open("model.safetensors", &f) != AGECL_OK)
 *       return fprintf(stderr, "%s\n", agecl_last_error()), 1;
 *   int shape[] = {64, 3, 3, 3};
 *   agecl_status s = agecl_st_read_f32(f, "conv1.weight", w, 64 * 3 * 3 * 3, shape, 4);
 *   agecl_st_close(f);
 *
 * agecl_st_open maps the file and checks all of it before returning: the header
 * length, the JSON, every dtype, that each tensor's shape fits its byte range,
 * that the ranges lie inside the file and do not overlap, and that metadata
 * values are strings. A file that fails any check is refused with
 * AGECL_E_FORMAT and a detail naming the file and the fault, e.g.
 *   "model.safetensors: tensor 'conv1.weight' ends at byte 1234 past the end of
 *    the file (1000 bytes): truncated?"
 * The file must not be truncated in place while it is open (the writer below
 * never does that: it replaces files by renaming).
 *
 * The agecl_st_read_* calls copy one tensor out after checking its dtype and
 * shape; a shape that differs from the one expected fails with AGECL_E_SHAPE:
 *   "checkpoint.safetensors: tensor 'stage1.0.bn1.weight' has shape [128] but
 *    the model expects [64]"
 *
 * WRITING
 *
 *   agecl_st_writer *w;
 *   agecl_status s = agecl_st_writer_create(&w);
 *   if (s == AGECL_OK) s = agecl_st_writer_add(w, "conv1.weight", AGECL_ST_F32, 4, shape, w0);
 *   if (s == AGECL_OK) s = agecl_st_writer_meta(w, "epoch", "12");
 *   if (s == AGECL_OK) s = agecl_st_writer_save(w, "model.safetensors");
 *   agecl_st_writer_free(w);
 *
 * The writer does not copy tensor data: it keeps the pointer given to
 * agecl_st_writer_add, which must stay valid and unchanged until the last
 * agecl_st_writer_save. Names, shapes and metadata are copied. Saving is
 * atomic: path holds either the old file or the whole new one, never a mix,
 * even after a crash (which may leave a stray path.tmp.XXXXXX behind; an error
 * never does).
 *
 * Header order is kept (tensors come out of agecl_st_name in the order they
 * were added); in the data area the writer places 8-byte elements first, then
 * 4-, 2- and 1-byte ones, so that every tensor of a file it wrote is aligned
 * to its element size in memory. Files from other writers may not be aligned.
 *
 * This library assumes a little-endian host. */
#ifndef AGECL_SAFETENSORS_H
#define AGECL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "agecl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGECL_ST_MAX_DIMS 8
/* Pass as ndim to the agecl_st_read_* calls to accept any shape whose number
 * of elements is `count`. */
#define AGECL_ST_ANY_SHAPE (-1)

typedef enum agecl_st_dtype {
    AGECL_ST_BOOL,
    AGECL_ST_U8,
    AGECL_ST_I8,
    AGECL_ST_F8_E4M3,
    AGECL_ST_F8_E5M2,
    AGECL_ST_U16,
    AGECL_ST_I16,
    AGECL_ST_F16,
    AGECL_ST_BF16,
    AGECL_ST_U32,
    AGECL_ST_I32,
    AGECL_ST_F32,
    AGECL_ST_U64,
    AGECL_ST_I64,
    AGECL_ST_F64,
    AGECL_ST_DTYPE_COUNT
} agecl_st_dtype;

/* The name used in files ("F32"), or NULL for a value outside the enum. */
const char *agecl_st_dtype_name(agecl_st_dtype dtype);
/* Bytes per element, or 0 for a value outside the enum. */
size_t agecl_st_dtype_size(agecl_st_dtype dtype);

/* ---- reading ---- */

typedef struct agecl_st_file agecl_st_file;

/* One tensor of an open file. name and data point into the file and stay valid
 * until agecl_st_close. */
typedef struct agecl_st_info {
    const char *name;
    agecl_st_dtype dtype;
    int ndim;                      /* 0 for a scalar */
    int shape[AGECL_ST_MAX_DIMS];  /* the first ndim are set */
    size_t numel;                  /* product of the shape; 1 for a scalar */
    size_t nbytes;                 /* numel * agecl_st_dtype_size(dtype) */
    const void *data;              /* read-only; see the note on alignment above */
} agecl_st_info;

/* Open and check a file. A file that cannot be opened or read fails with
 * AGECL_E_IO naming the path and the system error; a malformed one with
 * AGECL_E_FORMAT. Tensors with more than AGECL_ST_MAX_DIMS dimensions or a
 * dimension above INT_MAX are refused as malformed. */
agecl_status agecl_st_open(const char *path, agecl_st_file **out);

/* Release a file opened by agecl_st_open; NULL is allowed. */
void agecl_st_close(agecl_st_file *f);

/* The number of tensors (metadata aside). */
size_t agecl_st_count(const agecl_st_file *f);

/* The name of tensor i in header order, or NULL when i >= agecl_st_count(f). */
const char *agecl_st_name(const agecl_st_file *f, size_t i);

/* Describe the tensor called name. Fails with AGECL_E_FORMAT when the file has
 * no such tensor. */
agecl_status agecl_st_find(const agecl_st_file *f, const char *name, agecl_st_info *info);

/* The metadata value of key, or NULL when the file has none. */
const char *agecl_st_meta(const agecl_st_file *f, const char *key);

/* The number of metadata keys, and key i in header order (NULL when i is past
 * the last), to list or copy them all. */
size_t agecl_st_meta_count(const agecl_st_file *f);
const char *agecl_st_meta_key(const agecl_st_file *f, size_t i);

/* Copy tensor name into dst, which holds count elements. The tensor must have
 * the dtype of the call (F32, F64, I32, I64: no conversion is done), else
 * AGECL_E_FORMAT. Its shape must equal expected_shape[0..ndim) exactly (a
 * scalar: ndim 0, expected_shape may be NULL), else AGECL_E_SHAPE; count must
 * then be the product of expected_shape, else AGECL_E_INVALID_ARG. With ndim
 * AGECL_ST_ANY_SHAPE any shape of count elements is accepted. */
agecl_status agecl_st_read_f32(const agecl_st_file *f, const char *name, float *dst,
                               size_t count, const int *expected_shape, int ndim);
agecl_status agecl_st_read_f64(const agecl_st_file *f, const char *name, double *dst,
                               size_t count, const int *expected_shape, int ndim);
agecl_status agecl_st_read_i32(const agecl_st_file *f, const char *name, int32_t *dst,
                               size_t count, const int *expected_shape, int ndim);
agecl_status agecl_st_read_i64(const agecl_st_file *f, const char *name, int64_t *dst,
                               size_t count, const int *expected_shape, int ndim);

/* ---- writing ---- */

typedef struct agecl_st_writer agecl_st_writer;

/* A writer with no tensors; *out is NULL on failure. */
agecl_status agecl_st_writer_create(agecl_st_writer **out);

/* Add a tensor of shape[0..ndim) (ndim 0: a scalar; shape may then be NULL).
 * data is referenced, not copied (see WRITING above); it may be NULL when the
 * tensor has no elements. Fails with AGECL_E_INVALID_ARG on a name that is
 * not UTF-8, "__metadata__" or already added, on an unknown dtype, a negative
 * dimension or ndim outside [0, AGECL_ST_MAX_DIMS]. */
agecl_status agecl_st_writer_add(agecl_st_writer *w, const char *name, agecl_st_dtype dtype,
                                 int ndim, const int *shape, const void *data);

/* Set a metadata string (both copied, both UTF-8); setting a key again
 * replaces its value. */
agecl_status agecl_st_writer_meta(agecl_st_writer *w, const char *key, const char *value);

/* Write everything added so far to path, atomically: the file is written to
 * path + ".tmp.XXXXXX" in the same folder, synced, renamed over path, and the
 * folder is synced. On any error (AGECL_E_IO naming the path and the system
 * error) the temporary file is removed and an old file at path is untouched.
 * A new file gets mode 0644, a replaced one keeps its mode. */
agecl_status agecl_st_writer_save(const agecl_st_writer *w, const char *path);

/* Release a writer; NULL is allowed. */
void agecl_st_writer_free(agecl_st_writer *w);

#ifdef __cplusplus
}
#endif
#endif
