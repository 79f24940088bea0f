/* tests/test_safetensors.c - safetensors reading and writing, and the atomic file
 * replacement behind every writer of the library (no OpenCL device needed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agecl/safetensors.h"
#include "io/atomic_file.h"

static char g_dir[256]; /* a fresh folder for the files of this run */

static const char *path_in(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", g_dir, name);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The whole file, malloc'd. */
/* A file made of the 8-byte length of header, header, then data_len zero bytes. */
static void write_raw(const char *path, const char *header, size_t data_len)
{
    size_t n = strlen(header);
    unsigned char *p = calloc(1, 8 + n + data_len);
    assert_non_null(p);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(p + 8, header, n);
    write_bytes(path, p, 8 + n + data_len);
    free(p);
}

/* Assert got == want and that the error detail holds every string of the
 * NULL-terminated list that follows. */
static void expect_error(agecl_status got, agecl_status want, ...)
{
    if (got != want)
        fail_msg("got '%s', expected '%s' (%s)", agecl_strerror(got), agecl_strerror(want),
                 agecl_last_error());
    va_list ap;
    va_start(ap, want);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(agecl_last_error(), s))
            fail_msg("the error '%s' does not mention '%s'", agecl_last_error(), s);
    va_end(ap);
}

/* Assert that no temporary file of a failed save is left in g_dir/sub. */
static void assert_no_temporary(const char *sub)
{
    char dir[512];
    DIR *d = opendir(path_in(sub, dir, sizeof dir));
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) fail_msg("%s/%s was left behind", dir, e->d_name);
    closedir(d);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        chmod(path, 0755);
    }
    remove(path);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/agecl_st_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) return -1;
    /* an unprivileged child must reach the folders of test_save_is_atomic */
    return chmod(g_dir, 0755);
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(g_dir);
    return 0;
}

static void test_round_trip(void **state)
{
    (void)state;
    const float f32[6] = {1.5f, -2.25f, 0.0f, 3.0e-38f, -INFINITY, 65504.0f};
    const double f64[4] = {M_PI, -1e300, 0x1p-1074, 0.1};
    const int32_t i32[8] = {INT32_MIN, INT32_MAX, 0, -1, 1, 2, 3, 4};
    const int64_t i64[3] = {INT64_MIN, ((int64_t)1 << 40) + 3, -7};
    const uint8_t u8[5] = {0, 1, 127, 128, 255}, mask[3] = {1, 0, 1};
    const uint16_t f16[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 */
    const char *escapes = "quote\" back\\slash /\n\t\r\b\f \x01\x1f end";
    const char *unicode = "\xc3\xa2ge \xe5\xb9\xb4\xe9\xbd\xa2 \xf0\x9f\x98\x80";
    char path[512];
    path_in("round_trip.safetensors", path, sizeof path);

    agecl_st_writer *w;
    TEST_OK(agecl_st_writer_create(&w));
    TEST_OK(agecl_st_writer_add(w, "conv1.weight", AGECL_ST_F32, 2, (int[]){2, 3}, f32));
    TEST_OK(agecl_st_writer_add(w, "mask", AGECL_ST_BOOL, 1, (int[]){3}, mask));
    TEST_OK(agecl_st_writer_add(w, "f64", AGECL_ST_F64, 1, (int[]){4}, f64));
    TEST_OK(agecl_st_writer_add(w, "i32", AGECL_ST_I32, 3, (int[]){2, 2, 2}, i32));
    TEST_OK(agecl_st_writer_add(w, "half", AGECL_ST_F16, 1, (int[]){2}, f16));
    TEST_OK(agecl_st_writer_add(w, "i64", AGECL_ST_I64, 1, (int[]){3}, i64));
    TEST_OK(agecl_st_writer_add(w, "u8 \"quoted\"\n", AGECL_ST_U8, 1, (int[]){5}, u8));
    TEST_OK(agecl_st_writer_meta(w, "epoch", "11"));
    TEST_OK(agecl_st_writer_meta(w, "epoch", "12"));
    TEST_OK(agecl_st_writer_meta(w, "esc\"apes", escapes));
    TEST_OK(agecl_st_writer_meta(w, "unicode", unicode));
    TEST_OK(agecl_st_writer_save(w, path));
    agecl_st_writer_free(w);
    assert_no_temporary(".");

    agecl_st_file *f;
    TEST_OK(agecl_st_open(path, &f));
    const char *names[] = {"conv1.weight", "mask", "f64", "i32", "half", "i64", "u8 \"quoted\"\n"};
    const void *datas[] = {f32, mask, f64, i32, f16, i64, u8};
    const agecl_st_dtype dtypes[] = {AGECL_ST_F32, AGECL_ST_BOOL, AGECL_ST_F64, AGECL_ST_I32,
                                     AGECL_ST_F16, AGECL_ST_I64, AGECL_ST_U8};
    const int ndims[] = {2, 1, 1, 3, 1, 1, 1};
    const size_t nbytes[] = {sizeof f32, sizeof mask, sizeof f64, sizeof i32, sizeof f16,
                             sizeof i64, sizeof u8};
    assert_int_equal(agecl_st_count(f), 7);
    assert_null(agecl_st_name(f, 7));
    for (size_t i = 0; i < 7; i++) {
        agecl_st_info info;
        assert_string_equal(agecl_st_name(f, i), names[i]);
        TEST_OK(agecl_st_find(f, names[i], &info));
        assert_string_equal(info.name, names[i]);
        assert_int_equal(info.dtype, dtypes[i]);
        assert_int_equal(info.ndim, ndims[i]);
        assert_int_equal(info.nbytes, nbytes[i]);
        assert_int_equal(info.numel * agecl_st_dtype_size(info.dtype), nbytes[i]);
        assert_memory_equal(info.data, datas[i], nbytes[i]);
        /* the writer promises aligned data */
        assert_int_equal((uintptr_t)info.data % agecl_st_dtype_size(info.dtype), 0);
    }
    agecl_st_info info;
    TEST_OK(agecl_st_find(f, "i32", &info));
    assert_int_equal(info.shape[0], 2);
    assert_int_equal(info.shape[1], 2);
    assert_int_equal(info.shape[2], 2);

    float rf32[6];
    double rf64[4];
    int32_t ri32[8];
    int64_t ri64[3];
    TEST_OK(agecl_st_read_f32(f, "conv1.weight", rf32, 6, (int[]){2, 3}, 2));
    TEST_OK(agecl_st_read_f64(f, "f64", rf64, 4, (int[]){4}, 1));
    TEST_OK(agecl_st_read_i32(f, "i32", ri32, 8, (int[]){2, 2, 2}, 3));
    TEST_OK(agecl_st_read_i64(f, "i64", ri64, 3, NULL, AGECL_ST_ANY_SHAPE));
    assert_memory_equal(rf32, f32, sizeof f32);
    assert_memory_equal(rf64, f64, sizeof f64);
    assert_memory_equal(ri32, i32, sizeof i32);
    assert_memory_equal(ri64, i64, sizeof i64);

    assert_string_equal(agecl_st_meta(f, "epoch"), "12");
    assert_string_equal(agecl_st_meta(f, "esc\"apes"), escapes);
    assert_string_equal(agecl_st_meta(f, "unicode"), unicode);
    assert_null(agecl_st_meta(f, "missing"));
    /* every key listed once, each with its value */
    assert_int_equal(agecl_st_meta_count(f), 3);
    int seen = 0;
    for (size_t i = 0; i < agecl_st_meta_count(f); i++) {
        const char *k = agecl_st_meta_key(f, i);
        assert_non_null(k);
        assert_non_null(agecl_st_meta(f, k));
        seen |= !strcmp(k, "epoch") ? 1 : !strcmp(k, "esc\"apes") ? 2 : !strcmp(k, "unicode") ? 4 : 8;
    }
    assert_int_equal(seen, 7);
    assert_null(agecl_st_meta_key(f, 3));
    assert_int_equal(agecl_st_meta_count(NULL), 0);
    agecl_st_close(f);
}

static void test_python_fixture(void **state)
{
    (void)state;
    char path[512];
    agecl_st_file *f;
    TEST_OK(agecl_st_open(test_fixture("st_python.safetensors", path, sizeof path), &f));
    assert_int_equal(agecl_st_count(f), 8);
    assert_string_equal(agecl_st_name(f, 0), "f32");

    float f32[6], scalar;
    double f64[3];
    int32_t i32[4];
    int64_t i64[3];
    TEST_OK(agecl_st_read_f32(f, "f32", f32, 6, (int[]){2, 3}, 2));
    for (int i = 0; i < 6; i++) assert_true(f32[i] == (float)i * 0.5f - 1.25f);
    TEST_OK(agecl_st_read_f64(f, "f64", f64, 3, (int[]){3}, 1));
    assert_true(f64[0] == M_PI && f64[1] == -1e300 && f64[2] == 0x1p-1074);
    TEST_OK(agecl_st_read_i32(f, "i32", i32, 4, (int[]){2, 2}, 2));
    assert_true(i32[0] == INT32_MIN && i32[1] == INT32_MAX && i32[2] == 0 && i32[3] == -1);
    TEST_OK(agecl_st_read_i64(f, "i64", i64, 3, (int[]){3}, 1));
    assert_true(i64[0] == INT64_MIN && i64[1] == ((int64_t)1 << 40) + 3 && i64[2] == 7);
    TEST_OK(agecl_st_read_f32(f, "scalar", &scalar, 1, NULL, 0));
    assert_true(scalar == 42.5f);
    TEST_OK(agecl_st_read_f32(f, "empty", NULL, 0, (int[]){0, 4}, 2));

    agecl_st_info info;
    TEST_OK(agecl_st_find(f, "u8", &info));
    assert_int_equal(info.dtype, AGECL_ST_U8);
    assert_memory_equal(info.data, ((uint8_t[]){0, 127, 255}), 3);
    /* json.dumps wrote the non-ASCII characters as \u escapes, the emoji as a surrogate pair */
    TEST_OK(agecl_st_find(f, "stage1.0/bn \"\xc3\xa2ge\" \xf0\x9f\x98\x80", &info));
    assert_true(info.ndim == 1 && info.shape[0] == 1 && *(const float *)info.data == 1.5f);

    assert_string_equal(agecl_st_meta(f, "format"), "pt");
    assert_string_equal(agecl_st_meta(f, "quoted"), "say \"hi\" \\ back\tslash\n");
    assert_string_equal(agecl_st_meta(f, "unicode"),
                        "\xc3\xa2ge \xe5\xb9\xb4\xe9\xbd\xa2 \xf0\x9f\x98\x80");
    agecl_st_close(f);
}

static void test_truncated_files_are_refused(void **state)
{
    (void)state;
    char path[512], cut_path[512];
    path_in("whole.safetensors", path, sizeof path);
    path_in("cut.safetensors", cut_path, sizeof cut_path);
    const float a[4] = {1, 2, 3, 4};
    const int64_t b[2] = {5, 6};
    agecl_st_writer *w;
    TEST_OK(agecl_st_writer_create(&w));
    TEST_OK(agecl_st_writer_add(w, "a", AGECL_ST_F32, 2, (int[]){2, 2}, a));
    TEST_OK(agecl_st_writer_add(w, "b", AGECL_ST_I64, 1, (int[]){2}, b));
    TEST_OK(agecl_st_writer_save(w, path));
    agecl_st_writer_free(w);

    size_t n;
    unsigned char *bytes = test_read_file(path, &n);
    size_t header_end = 8 + (size_t)bytes[0] + ((size_t)bytes[1] << 8);
    assert_int_equal(n, header_end + sizeof a + sizeof b);
    const size_t cuts[] = {0, 3, 7, 8, 8 + (header_end - 8) / 2, header_end - 1, header_end,
                           header_end + 5, header_end + sizeof b, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        agecl_st_file *f = (agecl_st_file *)1;
        write_bytes(cut_path, bytes, cuts[i]);
        expect_error(agecl_st_open(cut_path, &f), AGECL_E_FORMAT, cut_path, "truncated?", NULL);
        assert_null(f);
    }
    /* the tensor at the end of the data area is named, with the byte it ends at */
    write_bytes(cut_path, bytes, n - 1);
    char ends[64];
    snprintf(ends, sizeof ends, "ends at byte %zu past the end of the file (%zu bytes)", n, n - 1);
    expect_error(agecl_st_open(cut_path, &(agecl_st_file *){NULL}), AGECL_E_FORMAT, "tensor 'a'",
                 ends, NULL);
    free(bytes);
}

static void test_malformed_headers_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        size_t data_len;
        const char *says;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "expected ',' or '}'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, "expected a string key"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "only integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "leading zero"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 4,
         "int64"},
        {"{\"a\":null}", 0, "expected an object, array, string or integer, found 'n'"},
        {"{\"a\x01\":{}}", 0, "raw control character 0x01"},
        {"{\"a\\q\":{}}", 0, "unknown escape"},
        {"{\"\\ud800x\":{}}", 0, "high surrogate"},
        {"{\"\\udc00\":{}}", 0, "low surrogate"},
        {"{\"\\u00\":{}}", 0, "four hex digits"},
        {"{\"a\\u0000\":{}}", 0, "\\u0000"},
        {"{\"\xff\":{}}", 0, "invalid UTF-8"},
        {"{\"\xc0\xaf\":{}}", 0, "invalid UTF-8"},
        {"{\"unterminated}", 0, "unterminated string"},
        {"{} x", 0, "expected the end of the header, found 'x'"},
        {"", 0, "found the end of the header"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 0, "nested too deeply"},
        {"[1, 2]", 0, "the header is not a JSON object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}", 8, "the key 'a' twice"},
        {"{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "tensor 'w' has the unknown dtype 'F33'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
         "tensor 'w' is F32 [2], 8 bytes, but its data_offsets [0, 4] span 4 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
         "tensors 'a' (data bytes 0 to 8) and 'b' (4 to 12) overlap"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "run backwards"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
         "unknown field 'x'"},
        {"{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'w' has no shape"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape must hold"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         "9 dimensions"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "not a pair"},
        {"{\"w\":[]}", 0, "tensor 'w' is not a JSON object"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of 'k' is not a string"},
    };
    char path[512];
    path_in("bad.safetensors", path, sizeof path);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        agecl_st_file *f = NULL;
        write_raw(path, cases[i].header, cases[i].data_len);
        agecl_status st = agecl_st_open(path, &f);
        if (st != AGECL_E_FORMAT || !strstr(agecl_last_error(), cases[i].says) ||
            !strstr(agecl_last_error(), path))
            fail_msg("case %zu: got '%s': '%s', expected one that says '%s'", i,
                     agecl_strerror(st), agecl_last_error(), cases[i].says);
        assert_null(f);
    }
}

static void test_header_escapes_and_layout_are_accepted(void **state)
{
    (void)state;
    /* other writers: any JSON escape, whitespace, a header not padded to 8 bytes,
     * tensors out of data order with holes between them */
    const char *header =
        " {\n\t\"__metadata__\" : {\"e\":\"\\u00e9\\/\\ud83d\\ude00\\\"\\\\\\b\\f\\n\\r\\t\\u001f\"},\r\n"
        "\"b\\u0041\" : {\"shape\": [ 1 ], \"data_offsets\": [8, 12], \"dtype\": \"F32\"},\n"
        "\"a\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [0, 4]} }  ";
    char path[512];
    path_in("escapes.safetensors", path, sizeof path);
    write_raw(path, header, 12);

    agecl_st_file *f;
    TEST_OK(agecl_st_open(path, &f));
    assert_string_equal(agecl_st_meta(f, "e"), "\xc3\xa9/\xf0\x9f\x98\x80\"\\\b\f\n\r\t\x1f");
    assert_int_equal(agecl_st_count(f), 2);
    assert_string_equal(agecl_st_name(f, 0), "bA");
    assert_string_equal(agecl_st_name(f, 1), "a");
    float v;
    TEST_OK(agecl_st_read_f32(f, "bA", &v, 1, (int[]){1}, 1));
    assert_true(v == 0.0f);
    agecl_st_close(f);
}

static void test_wrong_reads_are_refused(void **state)
{
    (void)state;
    char path[512];
    path_in("checkpoint.safetensors", path, sizeof path);
    float gamma[128] = {0};
    agecl_st_writer *w;
    TEST_OK(agecl_st_writer_create(&w));
    TEST_OK(agecl_st_writer_add(w, "stage1.0.bn1.weight", AGECL_ST_F32, 1, (int[]){128}, gamma));
    TEST_OK(agecl_st_writer_save(w, path));
    agecl_st_writer_free(w);

    agecl_st_file *f;
    TEST_OK(agecl_st_open(path, &f));
    expect_error(agecl_st_read_f32(f, "stage1.0.bn1.weight", gamma, 64, (int[]){64}, 1),
                 AGECL_E_SHAPE, path, "tensor 'stage1.0.bn1.weight' has shape [128]",
                 "expects [64]", NULL);
    expect_error(agecl_st_read_f32(f, "stage1.0.bn1.weight", gamma, 128, (int[]){2, 64}, 2),
                 AGECL_E_SHAPE, "[2, 64]", NULL);
    expect_error(agecl_st_read_f32(f, "stage1.0.bn1.weight", gamma, 100, NULL, AGECL_ST_ANY_SHAPE),
                 AGECL_E_SHAPE, "(128 elements) but 100 are expected", NULL);
    expect_error(agecl_st_read_f32(f, "stage1.0.bn1.weight", gamma, 100, (int[]){128}, 1),
                 AGECL_E_INVALID_ARG, "dst holds 100 elements", NULL);
    expect_error(agecl_st_read_f64(f, "stage1.0.bn1.weight", NULL, 128, (int[]){128}, 1),
                 AGECL_E_FORMAT, "is F32, not F64", NULL);
    expect_error(agecl_st_read_f32(f, "stage1.0.bn2.weight", gamma, 128, (int[]){128}, 1),
                 AGECL_E_FORMAT, path, "no tensor named 'stage1.0.bn2.weight'", NULL);
    TEST_OK(agecl_st_read_f32(f, "stage1.0.bn1.weight", gamma, 128, NULL, AGECL_ST_ANY_SHAPE));
    agecl_st_close(f);
}

static void test_zero_size_tensors_and_scalars(void **state)
{
    (void)state;
    char path[512];
    path_in("small.safetensors", path, sizeof path);
    const float scalar = 42.5f;
    const int32_t iscalar = -5;
    agecl_st_writer *w;
    TEST_OK(agecl_st_writer_create(&w));
    TEST_OK(agecl_st_writer_add(w, "scalar", AGECL_ST_F32, 0, NULL, &scalar));
    TEST_OK(agecl_st_writer_add(w, "empty", AGECL_ST_F32, 1, (int[]){0}, NULL));
    TEST_OK(agecl_st_writer_add(w, "empty3", AGECL_ST_I64, 3, (int[]){3, 0, 2}, NULL));
    TEST_OK(agecl_st_writer_add(w, "iscalar", AGECL_ST_I32, 0, NULL, &iscalar));
    TEST_OK(agecl_st_writer_save(w, path));
    agecl_st_writer_free(w);

    agecl_st_file *f;
    agecl_st_info info;
    TEST_OK(agecl_st_open(path, &f));
    TEST_OK(agecl_st_find(f, "scalar", &info));
    assert_true(info.ndim == 0 && info.numel == 1 && info.nbytes == 4);
    TEST_OK(agecl_st_find(f, "empty3", &info));
    assert_true(info.ndim == 3 && info.shape[1] == 0 && info.numel == 0 && info.nbytes == 0);
    float v = 0;
    int32_t iv = 0;
    TEST_OK(agecl_st_read_f32(f, "scalar", &v, 1, NULL, 0));
    TEST_OK(agecl_st_read_i32(f, "iscalar", &iv, 1, NULL, 0));
    assert_true(v == 42.5f && iv == -5);
    expect_error(agecl_st_read_f32(f, "scalar", &v, 1, (int[]){1}, 1), AGECL_E_SHAPE,
                 "has shape [] but the model expects [1]", NULL);
    TEST_OK(agecl_st_read_f32(f, "empty", NULL, 0, (int[]){0}, 1));
    TEST_OK(agecl_st_read_i64(f, "empty3", NULL, 0, (int[]){3, 0, 2}, 3));
    agecl_st_close(f);

    /* a file with no tensors at all */
    TEST_OK(agecl_st_writer_create(&w));
    TEST_OK(agecl_st_writer_save(w, path));
    agecl_st_writer_free(w);
    TEST_OK(agecl_st_open(path, &f));
    assert_int_equal(agecl_st_count(f), 0);
    assert_null(agecl_st_name(f, 0));
    agecl_st_close(f);
}

static void test_open_errors(void **state)
{
    (void)state;
    char path[512];
    agecl_st_file *f = NULL;
    expect_error(agecl_st_open(path_in("no_such.safetensors", path, sizeof path), &f), AGECL_E_IO,
                 path, "No such file or directory", NULL);
    assert_null(f);
    expect_error(agecl_st_open(g_dir, &f), AGECL_E_IO, g_dir, "not a regular file", NULL);
    expect_error(agecl_st_open(NULL, &f), AGECL_E_INVALID_ARG, NULL);
}

static void test_writer_refuses_bad_tensors(void **state)
{
    (void)state;
    const float x[2] = {0};
    agecl_st_writer *w;
    TEST_OK(agecl_st_writer_create(&w));
    TEST_OK(agecl_st_writer_add(w, "x", AGECL_ST_F32, 1, (int[]){2}, x));
    expect_error(agecl_st_writer_add(w, "x", AGECL_ST_F32, 1, (int[]){2}, x), AGECL_E_INVALID_ARG,
                 "'x' added twice", NULL);
    expect_error(agecl_st_writer_add(w, "__metadata__", AGECL_ST_F32, 1, (int[]){2}, x),
                 AGECL_E_INVALID_ARG, "reserved", NULL);
    expect_error(agecl_st_writer_add(w, "bad\xff", AGECL_ST_F32, 1, (int[]){2}, x),
                 AGECL_E_INVALID_ARG, "UTF-8", NULL);
    expect_error(agecl_st_writer_add(w, "y", AGECL_ST_F32, 1, (int[]){-2}, x), AGECL_E_INVALID_ARG,
                 "dimension 0 is -2", NULL);
    expect_error(agecl_st_writer_add(w, "y", AGECL_ST_F32, 9, (int[9]){0}, x), AGECL_E_INVALID_ARG,
                 "ndim 9", NULL);
    expect_error(agecl_st_writer_add(w, "y", AGECL_ST_DTYPE_COUNT, 1, (int[]){2}, x),
                 AGECL_E_INVALID_ARG, "unknown dtype", NULL);
    expect_error(agecl_st_writer_add(w, "y", AGECL_ST_F32, 1, (int[]){2}, NULL),
                 AGECL_E_INVALID_ARG, "data is NULL", NULL);
    expect_error(agecl_st_writer_meta(w, "k", "\xc3"), AGECL_E_INVALID_ARG, "UTF-8", NULL);
    agecl_st_writer_free(w);
}

/* Save as an unprivileged user when running as root (who may write anywhere),
 * in a child process; -1 when privileges cannot be dropped. */
static int save_unprivileged(const agecl_st_writer *w, const char *path)
{
    if (geteuid() != 0) return (int)agecl_st_writer_save(w, path);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(255);
        _exit((int)agecl_st_writer_save(w, path));
    }
    int ws;
    if (pid < 0 || waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) || WEXITSTATUS(ws) == 255)
        return -1;
    return WEXITSTATUS(ws);
}

static const float old_data[3] = {1, 2, 3}, new_data[2] = {4, 5};

/* Make folder g_dir/sub holding model.safetensors with old_data; return its
 * path in path and a writer of new_data in *new_w. */
static void make_old_file(const char *sub, char *path, size_t len, agecl_st_writer **new_w)
{
    char dir[512];
    agecl_st_writer *old_w;
    assert_int_equal(mkdir(path_in(sub, dir, sizeof dir), 0755), 0);
    snprintf(path, len, "%s/%s/model.safetensors", g_dir, sub);
    TEST_OK(agecl_st_writer_create(&old_w));
    TEST_OK(agecl_st_writer_add(old_w, "old", AGECL_ST_F32, 1, (int[]){3}, old_data));
    TEST_OK(agecl_st_writer_save(old_w, path));
    agecl_st_writer_free(old_w);
    TEST_OK(agecl_st_writer_create(new_w));
    TEST_OK(agecl_st_writer_add(*new_w, "new", AGECL_ST_F32, 1, (int[]){2}, new_data));
}

static void test_save_into_unwritable_folder_keeps_old_file(void **state)
{
    (void)state;
    char dir[512], path[512];
    agecl_st_writer *new_w;
    make_old_file("readonly", path, sizeof path, &new_w);
    size_t old_n, n;
    unsigned char *old_bytes = test_read_file(path, &old_n);

    assert_int_equal(chmod(path_in("readonly", dir, sizeof dir), 0555), 0);
    int st = save_unprivileged(new_w, path);
    assert_int_equal(chmod(dir, 0755), 0);
    agecl_st_writer_free(new_w);
    if (st == -1) {
        free(old_bytes);
        skip(); /* root that cannot become another user writes anywhere */
    }
    assert_int_equal(st, AGECL_E_IO);
    unsigned char *bytes = test_read_file(path, &n);
    assert_true(n == old_n && memcmp(bytes, old_bytes, n) == 0);
    free(bytes);
    free(old_bytes);
    assert_no_temporary("readonly");
}

static void test_save_is_atomic(void **state)
{
    (void)state;
    char dir[512], path[512], sub[1024];
    agecl_st_writer *new_w;
    make_old_file("atomic", path, sizeof path, &new_w);
    path_in("atomic", dir, sizeof dir);
    assert_int_equal(chmod(path, 0640), 0);

    /* a path that is a folder */
    snprintf(sub, sizeof sub, "%s/folder.safetensors", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    expect_error(agecl_st_writer_save(new_w, sub), AGECL_E_IO, sub, "cannot rename", NULL);
    struct stat sb;
    assert_true(stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode));
    assert_no_temporary("atomic");

    /* a path under a regular file */
    snprintf(sub, sizeof sub, "%s/model.safetensors/x.safetensors", dir);
    expect_error(agecl_st_writer_save(new_w, sub), AGECL_E_IO, sub, "temporary file", NULL);

    /* success replaces the file and keeps its mode */
    TEST_OK(agecl_st_writer_save(new_w, path));
    assert_no_temporary("atomic");
    assert_true(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0640);
    agecl_st_file *f;
    float got[2];
    TEST_OK(agecl_st_open(path, &f));
    TEST_OK(agecl_st_read_f32(f, "new", got, 2, (int[]){2}, 1));
    assert_memory_equal(got, new_data, sizeof got);
    assert_int_equal(agecl_st_count(f), 1);
    agecl_st_close(f);

    agecl_st_writer_free(new_w);
}

/* Count the temporary files in g_dir/sub. */
static int count_temporary(const char *sub)
{
    char dir[512];
    DIR *d = opendir(path_in(sub, dir, sizeof dir));
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void assert_file_holds(const char *path, const void *want, size_t n)
{
    size_t got_n;
    unsigned char *got = test_read_file(path, &got_n);
    assert_int_equal(got_n, n);
    assert_memory_equal(got, want, n);
    free(got);
}

/* io/atomic_file.h: the old content stays until commit; abort and failures leave
 * it and no temporary file; the mode survives; large writes arrive whole. */
static void test_atomic_file(void **state)
{
    (void)state;
    char dir[512], path[600], sub[700];
    assert_int_equal(mkdir(path_in("af", dir, sizeof dir), 0755), 0);
    snprintf(path, sizeof path, "%s/log.txt", dir);
    write_bytes(path, "old\n", 4);
    assert_int_equal(chmod(path, 0640), 0);

    agecl__atomic_file f;
    TEST_OK(agecl__atomic_begin(&f, path));
    FILE *stream = agecl__atomic_stream(&f);
    assert_non_null(stream);
    assert_ptr_equal(agecl__atomic_stream(&f), stream);
    fprintf(stream, "new line %d\n", 42);
    assert_int_equal(count_temporary("af"), 1);
    assert_file_holds(path, "old\n", 4);
    TEST_OK(agecl__atomic_commit(&f));
    assert_file_holds(path, "new line 42\n", 12);
    assert_int_equal(count_temporary("af"), 0);
    struct stat sb;
    assert_true(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0640);

    TEST_OK(agecl__atomic_begin(&f, path));
    TEST_OK(agecl__atomic_write(&f, "garbage", 7));
    agecl__atomic_abort(&f);
    assert_file_holds(path, "new line 42\n", 12);
    assert_int_equal(count_temporary("af"), 0);

    /* 3 MiB + 5 of random bytes through write, into a new file (mode 0644) */
    size_t n = (3u << 20) + 5;
    unsigned char *big = malloc(n);
    assert_non_null(big);
    uint32_t r = 12345;
    for (size_t i = 0; i < n; i++) big[i] = (unsigned char)((r = r * 1664525u + 1013904223u) >> 24);
    snprintf(sub, sizeof sub, "%s/big.bin", dir);
    TEST_OK(agecl__atomic_begin(&f, sub));
    TEST_OK(agecl__atomic_write(&f, big, n));
    TEST_OK(agecl__atomic_commit(&f));
    assert_file_holds(sub, big, n);
    assert_true(stat(sub, &sb) == 0 && (sb.st_mode & 07777) == 0644);
    free(big);

    /* a folder where the file should be: the rename fails, nothing is left */
    snprintf(sub, sizeof sub, "%s/folder", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    TEST_OK(agecl__atomic_begin(&f, sub));
    TEST_OK(agecl__atomic_write(&f, "x", 1));
    expect_error(agecl__atomic_commit(&f), AGECL_E_IO, sub, "cannot rename", NULL);
    assert_true(stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode));
    assert_int_equal(count_temporary("af"), 0);

    /* a folder that does not exist */
    snprintf(sub, sizeof sub, "%s/missing/x.txt", dir);
    expect_error(agecl__atomic_begin(&f, sub), AGECL_E_IO, sub, "temporary file", NULL);

    /* the sweep: old temporaries of the prefix go; fresh ones, other prefixes and
     * names that are not mkstemp's stay */
    static const char *const names[] = {"log.txt.tmp.AbC123", "log.txt.tmp.XyZ789",
                                        "big.bin.tmp.QqQ111", "log.txt.tmp.toolong",
                                        "log.txt.bak"};
    for (int i = 0; i < 5; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
        write_bytes(sub, "x", 1);
        if (i != 1) { /* all but the second made two hours old */
            struct timeval old[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
            assert_int_equal(utimes(sub, old), 0);
        }
    }
    assert_int_equal(agecl__atomic_sweep(dir, "log.txt", 3600), 1);
    for (int i = 0; i < 5; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
        assert_int_equal(stat(sub, &sb) == 0, i != 0);
    }
    assert_int_equal(agecl__atomic_sweep(dir, "", 0), 2); /* the fresh one, big.bin's */
    assert_int_equal(count_temporary("af"), 1); /* log.txt.tmp.toolong: not a mkstemp name */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_python_fixture),
        cmocka_unit_test(test_truncated_files_are_refused),
        cmocka_unit_test(test_malformed_headers_are_refused),
        cmocka_unit_test(test_header_escapes_and_layout_are_accepted),
        cmocka_unit_test(test_wrong_reads_are_refused),
        cmocka_unit_test(test_zero_size_tensors_and_scalars),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_writer_refuses_bad_tensors),
        cmocka_unit_test(test_save_into_unwritable_folder_keeps_old_file),
        cmocka_unit_test(test_save_is_atomic),
        cmocka_unit_test(test_atomic_file),
    };
    return TEST_RUN_GROUP(tests, setup, teardown);
}
