/* src/io/json.c - a small strict JSON parser (see json.h). */
#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MAX_DEPTH 64

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    const char *what; /* the file, for messages */
    int depth;
} parser;

static agecl_status fail_at(const parser *p, size_t pos, const char *msg)
{
    return agecl__fail(AGECL_E_FORMAT, "%s: malformed JSON header at byte %zu: %s", p->what,
                       pos, msg);
}

/* "expected <expected>, found <what is at the current position>". */
static agecl_status fail_expected(const parser *p, const char *expected)
{
    char found[32];
    if (p->pos >= p->len)
        snprintf(found, sizeof found, "the end of the header");
    else if (p->s[p->pos] >= 0x20 && p->s[p->pos] < 0x7f)
        snprintf(found, sizeof found, "'%c'", p->s[p->pos]);
    else
        snprintf(found, sizeof found, "byte 0x%02x", p->s[p->pos]);
    return agecl__fail(AGECL_E_FORMAT, "%s: malformed JSON header at byte %zu: expected %s, found %s",
                       p->what, p->pos, expected, found);
}

static agecl_status fail_oom(const parser *p)
{
    return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: out of memory parsing the header", p->what);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int peek(const parser *p)
{
    return p->pos < p->len ? p->s[p->pos] : -1;
}

/* The length of the well-formed UTF-8 sequence at s (n bytes available), or 0:
 * overlong forms, surrogates and code points past U+10FFFF are ill-formed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

int agecl__utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0, k; i < n; i += k)
        if ((k = utf8_seq(u + i, n - i)) == 0) return 0;
    return 1;
}

static size_t put_utf8(char *dst, uint32_t cp)
{
    if (cp < 0x80) { dst[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        dst[0] = (char)(0xc0 | cp >> 6);
        dst[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xe0 | cp >> 12);
        dst[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        dst[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    dst[0] = (char)(0xf0 | cp >> 18);
    dst[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    dst[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    dst[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The four hex digits at p->pos as a number, or -1. */
static long hex4(const parser *p)
{
    long v = 0;
    if (p->len - p->pos < 4) return -1;
    for (int i = 0; i < 4; i++) {
        int c = p->s[p->pos + (size_t)i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

/* After the 'u' of \uXXXX: the code point, joining a surrogate pair. */
static agecl_status parse_u_escape(parser *p, uint32_t *cp)
{
    size_t start = p->pos - 2;
    long hi = hex4(p);
    if (hi < 0) return fail_at(p, start, "\\u must be followed by four hex digits");
    p->pos += 4;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return fail_at(p, start, "\\u escape is a low surrogate with no high surrogate before it");
    if (hi >= 0xd800 && hi <= 0xdbff) {
        long lo = -1;
        if (p->len - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
            p->pos += 2;
            lo = hex4(p);
        }
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail_at(p, start, "\\u escape is a high surrogate not followed by a low one");
        p->pos += 4;
        *cp = 0x10000 + (uint32_t)((hi - 0xd800) << 10 | (lo - 0xdc00));
        return AGECL_OK;
    }
    if (hi == 0) return fail_at(p, start, "\\u0000 is not supported in strings");
    *cp = (uint32_t)hi;
    return AGECL_OK;
}

static agecl_status parse_string(parser *p, char **out)
{
    size_t start = p->pos++, end = p->pos, n = 0;
    /* Find the closing quote first: the decoded string is never longer. */
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) return fail_at(p, start, "unterminated string");
    char *dst = malloc(end - start);
    if (!dst) return fail_oom(p);

    agecl_status st = AGECL_OK;
    while (st == AGECL_OK && p->s[p->pos] != '"') {
        unsigned c = p->s[p->pos];
        if (c < 0x20) {
            char msg[64];
            snprintf(msg, sizeof msg, "raw control character 0x%02x in a string", c);
            st = fail_at(p, p->pos, msg);
        } else if (c == '\\') {
            c = p->s[p->pos + 1];
            p->pos += 2;
            switch (c) {
            case '"': case '\\': case '/': dst[n++] = (char)c; break;
            case 'b': dst[n++] = '\b'; break;
            case 'f': dst[n++] = '\f'; break;
            case 'n': dst[n++] = '\n'; break;
            case 'r': dst[n++] = '\r'; break;
            case 't': dst[n++] = '\t'; break;
            case 'u': {
                uint32_t cp = 0;
                if ((st = parse_u_escape(p, &cp)) == AGECL_OK) n += put_utf8(dst + n, cp);
                break;
            }
            default: st = fail_at(p, p->pos - 2, "unknown escape in a string");
            }
        } else {
            size_t k = utf8_seq(p->s + p->pos, end - p->pos);
            if (k == 0) {
                st = fail_at(p, p->pos, "invalid UTF-8 in a string");
            } else {
                memcpy(dst + n, p->s + p->pos, k);
                n += k;
                p->pos += k;
            }
        }
    }
    if (st != AGECL_OK) {
        free(dst);
        return st;
    }
    dst[n] = '\0';
    p->pos++;
    *out = dst;
    return AGECL_OK;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static agecl_status parse_int(parser *p, int64_t *out)
{
    size_t start = p->pos;
    int neg = peek(p) == '-';
    p->pos += (size_t)neg;
    if (!is_digit(peek(p))) return fail_expected(p, "a digit");
    if (p->s[p->pos] == '0' && p->pos + 1 < p->len && is_digit(p->s[p->pos + 1]))
        return fail_at(p, start, "integer with a leading zero");
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    while (is_digit(peek(p))) {
        unsigned d = (unsigned)(p->s[p->pos++] - '0');
        if (v > (limit - d) / 10) return fail_at(p, start, "integer out of the int64 range");
        v = v * 10 + d;
    }
    int c = peek(p);
    if (c == '.' || c == 'e' || c == 'E')
        return fail_at(p, start, "only integers are supported, not fractions or exponents");
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return AGECL_OK;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static agecl_status check_unique_keys(const parser *p, const agecl_json *obj, size_t start)
{
    if (obj->count < 2) return AGECL_OK;
    char **sorted = malloc(obj->count * sizeof *sorted);
    if (!sorted) return fail_oom(p);
    memcpy(sorted, obj->keys, obj->count * sizeof *sorted);
    qsort(sorted, obj->count, sizeof *sorted, cmp_keys);
    agecl_status st = AGECL_OK;
    for (size_t i = 1; i < obj->count && st == AGECL_OK; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            st = agecl__fail(AGECL_E_FORMAT,
                             "%s: malformed JSON header: the object at byte %zu has the key '%s' twice",
                             p->what, start, sorted[i]);
    free(sorted);
    return st;
}

/* Make room for one more item (and key, in an object); the new slot is zeroed,
 * so that a value that fails half-parsed can still be freed. */
static agecl_status grow(const parser *p, agecl_json *v, size_t *cap)
{
    if (v->count == *cap) {
        size_t n = *cap ? *cap * 2 : 4;
        agecl_json *items = realloc(v->items, n * sizeof *items);
        if (!items) return fail_oom(p);
        v->items = items;
        if (v->kind == AGECL_JSON_OBJECT) {
            char **keys = realloc(v->keys, n * sizeof *keys);
            if (!keys) return fail_oom(p);
            v->keys = keys;
        }
        *cap = n;
    }
    memset(&v->items[v->count], 0, sizeof *v->items);
    v->items[v->count].kind = AGECL_JSON_INT;
    return AGECL_OK;
}

static agecl_status parse_value(parser *p, agecl_json *v);

/* An object or an array, after its opening bracket. */
static agecl_status parse_container(parser *p, agecl_json *v, size_t start)
{
    int object = v->kind == AGECL_JSON_OBJECT, close = object ? '}' : ']';
    size_t cap = 0;
    skip_ws(p);
    if (peek(p) == close) {
        p->pos++;
        return AGECL_OK;
    }
    for (;;) {
        AGECL_TRY(grow(p, v, &cap));
        if (object) {
            skip_ws(p);
            if (peek(p) != '"') return fail_expected(p, "a string key");
            AGECL_TRY(parse_string(p, &v->keys[v->count]));
            v->count++;
            skip_ws(p);
            if (peek(p) != ':') return fail_expected(p, "':' after an object key");
            p->pos++;
        } else {
            v->count++;
        }
        AGECL_TRY(parse_value(p, &v->items[v->count - 1]));
        skip_ws(p);
        if (peek(p) == close) break;
        if (peek(p) != ',')
            return fail_expected(p, object ? "',' or '}' after an object member"
                                           : "',' or ']' after an array item");
        p->pos++;
    }
    p->pos++;
    return object ? check_unique_keys(p, v, start) : AGECL_OK;
}

static agecl_status parse_value(parser *p, agecl_json *v)
{
    skip_ws(p);
    int c = peek(p);
    size_t start = p->pos;
    if (c == '"') {
        v->kind = AGECL_JSON_STRING;
        return parse_string(p, &v->str);
    }
    if (c == '-' || is_digit(c)) {
        v->kind = AGECL_JSON_INT;
        return parse_int(p, &v->num);
    }
    if (c != '{' && c != '[') return fail_expected(p, "an object, array, string or integer");
    if (p->depth == MAX_DEPTH) return fail_at(p, start, "nested too deeply");
    v->kind = c == '{' ? AGECL_JSON_OBJECT : AGECL_JSON_ARRAY;
    p->pos++;
    p->depth++;
    agecl_status st = parse_container(p, v, start);
    p->depth--;
    return st;
}

static void free_value(agecl_json *v)
{
    for (size_t i = 0; i < v->count; i++) {
        free_value(&v->items[i]);
        if (v->kind == AGECL_JSON_OBJECT) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

void agecl__json_free(agecl_json *root)
{
    if (!root) return;
    free_value(root);
    free(root);
}

agecl_status agecl__json_parse(const char *text, size_t len, const char *what,
                               agecl_json **out)
{
    parser p = {(const unsigned char *)text, len, 0, what, 0};
    *out = NULL;
    agecl_json *root = calloc(1, sizeof *root);
    if (!root) return fail_oom(&p);
    root->kind = AGECL_JSON_INT;
    agecl_status st = parse_value(&p, root);
    if (st == AGECL_OK) {
        skip_ws(&p);
        if (p.pos < p.len) st = fail_expected(&p, "the end of the header");
    }
    if (st != AGECL_OK) {
        agecl__json_free(root);
        return st;
    }
    *out = root;
    return AGECL_OK;
}

const agecl_json *agecl__json_get(const agecl_json *obj, const char *key)
{
    if (obj->kind != AGECL_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

void agecl__json_write_string(const char *s, void (*put)(void *arg, const char *p, size_t n),
                              void *arg)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    put(arg, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f" : NULL;
        char hex[8];
        if (!esc && c < 0x20) {
            snprintf(hex, sizeof hex, "\\u%04x", c);
            esc = hex;
        }
        size_t k = esc ? 1 : utf8_seq(u + i, n - i);
        if (esc) put(arg, esc, strlen(esc));
        else if (k) put(arg, s + i, k);
        else put(arg, "\\ufffd", 6), k = 1;
        i += k;
    }
    put(arg, "\"", 1);
}

static void put_file(void *arg, const char *p, size_t n) { fwrite(p, 1, n, (FILE *)arg); }

void agecl__json_fput_string(const char *s, FILE *f) { agecl__json_write_string(s, put_file, f); }
