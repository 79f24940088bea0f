/* src/io/json.h - a small strict JSON parser, just enough for safetensors headers,
 * and the library's one JSON string writer.
 *
 * It accepts objects, arrays, strings (every escape, \uXXXX and surrogate pairs
 * included) and integers that fit in int64_t. It rejects, with a message naming
 * the byte at fault: fractions and exponents, true/false/null, duplicate object
 * keys, invalid UTF-8, raw control characters, \u0000 (C strings cannot hold
 * it), nesting deeper than 64 and anything after the top value but whitespace. */
#ifndef AGECL_SRC_IO_JSON_H
#define AGECL_SRC_IO_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "agecl/status.h"

typedef enum agecl_json_kind {
    AGECL_JSON_OBJECT,
    AGECL_JSON_ARRAY,
    AGECL_JSON_STRING,
    AGECL_JSON_INT,
} agecl_json_kind;

typedef struct agecl_json agecl_json;
struct agecl_json {
    agecl_json_kind kind;
    int64_t num;       /* AGECL_JSON_INT */
    char *str;         /* AGECL_JSON_STRING: decoded UTF-8, NUL-terminated */
    size_t count;      /* members of an object, items of an array */
    agecl_json *items; /* their values, in document order */
    char **keys;       /* AGECL_JSON_OBJECT: their decoded keys */
};

/* Parse text[0..len) into a tree, to be released with agecl__json_free.
 * Fails with AGECL_E_FORMAT, "<what>: malformed JSON header at byte <i>: ...". */
agecl_status agecl__json_parse(const char *text, size_t len, const char *what,
                               agecl_json **out);

void agecl__json_free(agecl_json *root);

/* The value of key in an object, or NULL. */
const agecl_json *agecl__json_get(const agecl_json *obj, const char *key);

/* 1 when s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates). */
int agecl__utf8_valid(const char *s, size_t n);

/* The one JSON string writer: s quoted, with quotes, backslashes and control
 * characters escaped, handed to put(arg, bytes, n) in pieces. A byte that is not
 * part of well-formed UTF-8 (a file name need not be text) becomes U+FFFD, so the
 * output is always valid JSON. */
void agecl__json_write_string(const char *s, void (*put)(void *arg, const char *p, size_t n),
                              void *arg);

/* agecl__json_write_string into a stdio stream. */
void agecl__json_fput_string(const char *s, FILE *f);

#endif
