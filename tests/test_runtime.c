/* Device selection, contexts, the program cache, build errors, profiling. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common.h"
#include "runtime/hash.h"
#include "runtime/launch.h"

static void test_device_listing(void **state)
{
    (void)state;
    int count = 0;
    TEST_OK(agecl_device_count(&count));
    assert_true(count > 0);
    agecl_device_info info;
    TEST_OK(agecl_device_query(0, &info));
    assert_true(strlen(info.name) > 0);
    assert_true(info.compute_units > 0);
    assert_true(info.global_mem_bytes > 0);
    assert_int_equal(agecl_device_query(count, &info), AGECL_E_NO_DEVICE);
}

static void test_select_by_index_name_type(void **state)
{
    (void)state;
    int count = 0, idx = -1;
    TEST_OK(agecl_device_count(&count));
    TEST_OK(agecl_device_select("0", &idx));
    assert_int_equal(idx, 0);

    agecl_device_info info;
    TEST_OK(agecl_device_query(count - 1, &info));
    /* A piece of the last device's name, in the other case, finds a device of that name. */
    char piece[8] = {0};
    for (int i = 0; i < 6 && info.name[i]; i++) piece[i] = (char)toupper((unsigned char)info.name[i]);
    TEST_OK(agecl_device_select(piece, &idx));
    agecl_device_info found;
    TEST_OK(agecl_device_query(idx, &found));
    assert_true(strncasecmp(found.name, piece, strlen(piece)) == 0);

    TEST_OK(agecl_device_select(agecl_device_type_name(info.type), &idx));
    TEST_OK(agecl_device_query(idx, &found));
    assert_true((found.type & info.type) != 0);
    /* the k-th match, round-robin (a rank's own device); an index is one device */
    int matches = 0;
    for (int k = 0; k <= count; k++) {
        TEST_OK(agecl_device_select_nth("any", k, &idx, &matches));
        assert_int_equal(matches, count);
        assert_int_equal(idx, k % count);
    }
    TEST_OK(agecl_device_select_nth("0", 3, &idx, &matches));
    assert_int_equal(idx, 0);
    assert_int_equal(matches, 1);
    assert_int_equal(agecl_device_select_nth("any", -1, &idx, NULL), AGECL_E_INVALID_ARG);
    TEST_OK(agecl_device_select("any", &idx));
    assert_int_equal(idx, 0);
}

static void test_select_errors(void **state)
{
    (void)state;
    int idx = -1;
    assert_int_equal(agecl_device_select("no-such-device-xyz", &idx), AGECL_E_NO_DEVICE);
    assert_non_null(strstr(agecl_last_error(), "no-such-device-xyz"));
    assert_int_equal(agecl_device_select("999", &idx), AGECL_E_NO_DEVICE);
    assert_non_null(strstr(agecl_last_error(), "999"));

    /* AGECL_DEVICE applies when no selector is given. */
    char *old = getenv("AGECL_DEVICE") ? strdup(getenv("AGECL_DEVICE")) : NULL;
    setenv("AGECL_DEVICE", "no-such-device-xyz", 1);
    agecl_ctx *ctx = NULL;
    assert_int_equal(agecl_ctx_create(&ctx, NULL, 0), AGECL_E_NO_DEVICE);
    assert_null(ctx);
    if (old) setenv("AGECL_DEVICE", old, 1);
    else unsetenv("AGECL_DEVICE");
    free(old);
}

static void test_status_names(void **state)
{
    (void)state;
    for (int s = 0; s < AGECL_STATUS_COUNT; s++)
        for (int t = s + 1; t < AGECL_STATUS_COUNT; t++)
            assert_string_not_equal(agecl_strerror(s), agecl_strerror(t));
}

/* A fresh cache folder of our own for the cache tests. */
static char cache_dir[256];
static char *saved_cache_env;

static int cache_setup(void **state)
{
    (void)state;
    const char *old = getenv("AGECL_CACHE_DIR");
    saved_cache_env = old ? strdup(old) : NULL;
    snprintf(cache_dir, sizeof cache_dir, "/tmp/agecl-test-cache-XXXXXX");
    if (!mkdtemp(cache_dir)) return -1;
    setenv("AGECL_CACHE_DIR", cache_dir, 1);
    return 0;
}

static int cache_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(cache_dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", cache_dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
    rmdir(cache_dir);
    if (saved_cache_env) setenv("AGECL_CACHE_DIR", saved_cache_env, 1);
    else unsetenv("AGECL_CACHE_DIR");
    free(saved_cache_env);
    saved_cache_env = NULL;
    return 0;
}

static agecl_cache_stats build_selfcheck(void)
{
    agecl_ctx *ctx = NULL;
    TEST_OK(agecl_ctx_create(&ctx, NULL, 0));
    assert_string_equal(agecl_ctx_cache_dir(ctx), cache_dir);
    TEST_OK(agecl_selfcheck(ctx));
    agecl_cache_stats st = agecl_ctx_cache_stats(ctx);
    agecl_ctx_destroy(ctx);
    return st;
}

/* Damage every cache file: mode 0 flips a byte of the payload, 1 truncates. */
static int damage_cache(int mode)
{
    DIR *d = opendir(cache_dir);
    struct dirent *e;
    int n = 0;
    char path[512];
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".clbin")) continue;
        snprintf(path, sizeof path, "%s/%s", cache_dir, e->d_name);
        if (mode == 1) {
            assert_int_equal(truncate(path, 20), 0);
        } else if (mode == 2) { /* a sound header claiming 1 GiB, over 3 bytes */
            FILE *f = fopen(path, "r+b");
            assert_non_null(f);
            unsigned char huge[8] = {0, 0, 0, 0x40, 0, 0, 0, 0};
            fseek(f, 16, SEEK_SET);
            fwrite(huge, 1, 8, f);
            fclose(f);
            assert_int_equal(truncate(path, 35), 0);
        } else {
            FILE *f = fopen(path, "r+b");
            assert_non_null(f);
            fseek(f, 40, SEEK_SET);
            int c = fgetc(f);
            fseek(f, 40, SEEK_SET);
            fputc(c ^ 0x5a, f);
            fclose(f);
        }
        n++;
    }
    if (d) closedir(d);
    return n;
}

static void test_cache_cold_then_warm(void **state)
{
    (void)state;
    agecl_cache_stats cold = build_selfcheck();
    assert_int_equal(cold.hits, 0);
    assert_true(cold.misses >= 1);
    agecl_cache_stats warm = build_selfcheck();
    assert_true(warm.hits >= 1);
    assert_int_equal(warm.misses, 0);
    assert_int_equal(warm.rejected, 0);
    print_message("program build: cold %.3f s, warm (from cache) %.3f s\n", cold.build_seconds,
                  warm.build_seconds);
}

static void test_cache_corrupt_and_truncated_rebuilt(void **state)
{
    (void)state;
    build_selfcheck();
    assert_true(damage_cache(0) >= 1);
    agecl_cache_stats st = build_selfcheck();
    assert_true(st.rejected >= 1);
    assert_int_equal(st.hits, 0);
    /* The rebuilt file is good again. */
    st = build_selfcheck();
    assert_true(st.hits >= 1);
    assert_int_equal(st.rejected, 0);

    assert_true(damage_cache(1) >= 1);
    st = build_selfcheck();
    assert_true(st.rejected >= 1);
    st = build_selfcheck();
    assert_int_equal(st.rejected, 0);

    /* a header whose size is not the file's: refused and rebuilt (program_cache.c
     * compares them before allocating the payload) */
    assert_true(damage_cache(2) >= 1);
    st = build_selfcheck();
    assert_true(st.rejected >= 1);
    assert_int_equal(st.hits, 0);
    st = build_selfcheck();
    assert_int_equal(st.rejected, 0);
}

static void test_two_contexts(void **state)
{
    (void)state;
    agecl_ctx *a = NULL, *b = NULL;
    TEST_OK(agecl_ctx_create(&a, NULL, 0));
    TEST_OK(agecl_ctx_create(&b, "0", 0));
    TEST_OK(agecl_selfcheck(a));
    TEST_OK(agecl_selfcheck(b));
    agecl_ctx_destroy(a);
    TEST_OK(agecl_selfcheck(b));
    agecl_ctx_destroy(b);
}

static void test_build_error_gives_log(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    cl_program p = NULL;
    const char *bad = "__kernel void broken(__global float *x) { x[0] = undeclared_name + ; }\n";
    assert_int_equal(agecl_program_build(ctx, bad, "", &p), AGECL_E_BUILD);
    assert_null(p);
    assert_true(strlen(agecl_last_build_log()) > 0);
    assert_non_null(strstr(agecl_last_build_log(), "undeclared_name"));
    assert_non_null(strstr(agecl_last_error(), "clBuildProgram"));

    /* A good program still builds afterwards. */
    TEST_OK(agecl_program_build(ctx, "__kernel void ok(__global float *x) { x[0] = 1.0f; }", "", &p));
    clReleaseProgram(p);
}

static void test_unknown_kernel_names(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    cl_kernel k;
    assert_int_equal(agecl__kernel(ctx, "no_such_program", "", "x", &k), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "no_such_program"));
    assert_int_equal(agecl__kernel(ctx, "fill", "", "no_such_kernel", &k), AGECL_E_OPENCL);
    assert_non_null(strstr(agecl_last_error(), "no_such_kernel"));
}

static void test_profiling(void **state)
{
    (void)state;
    agecl_ctx *ctx = NULL;
    TEST_OK(agecl_ctx_create(&ctx, NULL, AGECL_CTX_PROFILING));
    TEST_OK(agecl_selfcheck(ctx));
    TEST_OK(agecl_selfcheck(ctx));
    const agecl_profile_entry *e;
    int n = 0;
    TEST_OK(agecl_ctx_profile(ctx, &e, &n));
    assert_int_equal(n, 1);
    assert_string_equal(e[0].name, "saxpy");
    assert_int_equal(e[0].calls, 2);
    assert_true(e[0].ms >= 0.0);
    agecl_ctx_profile_reset(ctx);
    TEST_OK(agecl_ctx_profile(ctx, &e, &n));
    assert_int_equal(n, 0);
    agecl_ctx_destroy(ctx);

    TEST_OK(agecl_ctx_create(&ctx, NULL, 0));
    assert_int_equal(agecl_ctx_profile(ctx, &e, &n), AGECL_E_INVALID_ARG);
    agecl_ctx_destroy(ctx);
}

/* The one device key: the same for equal descriptions, another when the platform,
 * its version, the device, the driver or the OpenCL version changes, and blind to
 * what does not make compiled kernels or measured choices stale. */
static void test_device_key(void **state)
{
    (void)state;
    agecl_device_info a;
    memset(&a, 0, sizeof a);
    strcpy(a.platform, "Portable Computing Language");
    strcpy(a.platform_version, "OpenCL 3.0 PoCL 3.1");
    strcpy(a.name, "cpu-znver5");
    strcpy(a.driver_version, "3.1");
    strcpy(a.device_version, "OpenCL 3.0 PoCL HSTR");
    agecl_device_info b = a;
    uint64_t k = agecl__device_key(&a);
    b.index = 7;
    b.compute_units = 99;
    assert_true(agecl__device_key(&b) == k);
    char *fields[] = {b.platform, b.platform_version, b.name, b.driver_version, b.device_version};
    for (int i = 0; i < 5; i++) {
        b = a;
        fields[i][0] ^= 1;
        if (agecl__device_key(&b) == k) fail_msg("field %d does not change the key", i);
    }
    b = a; /* a boundary moved between fields is another device */
    strcpy(b.platform, "Portable Computing LanguageO");
    strcpy(b.platform_version, "penCL 3.0 PoCL 3.1");
    assert_true(agecl__device_key(&b) != k);
}

/* agecl/options.h: every variable of the table read into its field; values outside
 * the table refused, naming the variable, by agecl_options_from_env and by
 * agecl_ctx_create; a context keeps its options, takes changes to the switches
 * and refuses changes to what is fixed at creation. */
static void test_options(void **state)
{
    (void)state;
    static const char *const vars[] = {"AGECL_KERNELS", "AGECL_GEMM",    "AGECL_CONV_ALGO",
                                       "AGECL_FUSE",    "AGECL_PROFILE", "AGECL_CACHE_DIR",
                                       "AGECL_WERROR"};
    enum { VARS = sizeof vars / sizeof vars[0] };
    char *saved[VARS];
    for (int i = 0; i < VARS; i++) {
        const char *v = getenv(vars[i]);
        saved[i] = v ? strdup(v) : NULL;
        unsetenv(vars[i]);
    }
    agecl_options o;
    agecl_options_default(&o);
    assert_int_equal(o.kernels, AGECL_FAMILY_AUTO);
    assert_int_equal(o.gemm, AGECL_GEMM_PATH_AUTO);
    assert_int_equal(o.fuse, 1);
    assert_int_equal(o.profile, 0);
    assert_int_equal(o.werror, 0);
    assert_string_equal(o.cache_dir, "");

    setenv("AGECL_KERNELS", "gpu", 1);
    setenv("AGECL_GEMM", "clblast", 1);
    setenv("AGECL_CONV_ALGO", "winograd", 1);
    setenv("AGECL_FUSE", "0", 1);
    setenv("AGECL_PROFILE", "1", 1);
    setenv("AGECL_WERROR", "1", 1);
    setenv("AGECL_CACHE_DIR", "/nonexistent/agecl-cache", 1);
    TEST_OK(agecl_options_from_env(&o));
    assert_int_equal(o.kernels, AGECL_FAMILY_GPU);
    assert_int_equal(o.gemm, AGECL_GEMM_PATH_CLBLAST);
    assert_string_equal(o.conv_algo, "winograd");
    assert_int_equal(o.fuse, 0);
    assert_int_equal(o.profile, 1);
    assert_int_equal(o.werror, 1);
    assert_string_equal(o.cache_dir, "/nonexistent/agecl-cache");
    assert_string_equal(agecl_family_name(o.kernels), "gpu");
    assert_string_equal(agecl_gemm_path_name(o.gemm), "clblast");
    assert_null(agecl_family_name((agecl_family)3));
    for (int i = 0; i < VARS; i++) unsetenv(vars[i]);

    static const char *const bad[][2] = {{"AGECL_KERNELS", "fpga"}, {"AGECL_GEMM", "fast"},
                                         {"AGECL_FUSE", "yes"},     {"AGECL_PROFILE", "2"},
                                         {"AGECL_WERROR", "on"}};
    for (int i = 0; i < 5; i++) {
        setenv(bad[i][0], bad[i][1], 1);
        assert_int_equal(agecl_options_from_env(&o), AGECL_E_INVALID_ARG);
        assert_non_null(strstr(agecl_last_error(), bad[i][0]));
        assert_non_null(strstr(agecl_last_error(), bad[i][1]));
        agecl_ctx *ctx = NULL;
        assert_int_equal(agecl_ctx_create(&ctx, NULL, 0), AGECL_E_INVALID_ARG);
        assert_null(ctx);
        assert_non_null(strstr(agecl_last_error(), bad[i][0]));
        unsetenv(bad[i][0]);
    }

    /* a path longer than the field is refused, not cut to another path */
    char longdir[1200];
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = '\0';
    setenv("AGECL_CACHE_DIR", longdir, 1);
    assert_int_equal(agecl_options_from_env(&o), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "AGECL_CACHE_DIR"));
    assert_non_null(strstr(agecl_last_error(), "longer than"));
    unsetenv("AGECL_CACHE_DIR");

    /* a caller's options, the environment unread */
    setenv("AGECL_KERNELS", "fpga", 1);
    agecl_options_default(&o);
    o.kernels = AGECL_FAMILY_CPU;
    o.gemm = AGECL_GEMM_PATH_OWN;
    agecl_ctx *ctx;
    TEST_OK(agecl_ctx_create_with(&ctx, &o, 0));
    unsetenv("AGECL_KERNELS");
    assert_int_equal(agecl_ctx_options(ctx)->kernels, AGECL_FAMILY_CPU);
    assert_int_equal(agecl_ctx_options(ctx)->gemm, AGECL_GEMM_PATH_OWN);
    assert_string_equal(agecl_ctx_cache_dir(ctx), "");
    agecl_options p = *agecl_ctx_options(ctx);
    p.kernels = AGECL_FAMILY_GPU;
    TEST_OK(agecl_ctx_set_options(ctx, &p));
    assert_int_equal(agecl_ctx_options(ctx)->kernels, AGECL_FAMILY_GPU);
    p.kernels = (agecl_family)7;
    assert_int_equal(agecl_ctx_set_options(ctx, &p), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "kernels"));
    p = *agecl_ctx_options(ctx);
    strcpy(p.device, "cpu");
    assert_int_equal(agecl_ctx_set_options(ctx, &p), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "fixed"));
    p = *agecl_ctx_options(ctx);
    p.profile = 1;
    assert_int_equal(agecl_ctx_set_options(ctx, &p), AGECL_E_INVALID_ARG);
    assert_int_equal(agecl_ctx_options(ctx)->kernels, AGECL_FAMILY_GPU);
    agecl_ctx_destroy(ctx);
    o.gemm = (agecl_gemm_path)-1;
    assert_int_equal(agecl_ctx_create_with(&ctx, &o, 0), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "gemm"));

    for (int i = 0; i < VARS; i++) {
        if (saved[i]) setenv(vars[i], saved[i], 1);
        free(saved[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_listing),
        cmocka_unit_test(test_select_by_index_name_type),
        cmocka_unit_test(test_select_errors),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_device_key),
        cmocka_unit_test(test_options),
        cmocka_unit_test_setup_teardown(test_cache_cold_then_warm, cache_setup, cache_teardown),
        cmocka_unit_test_setup_teardown(test_cache_corrupt_and_truncated_rebuilt, cache_setup,
                                        cache_teardown),
        cmocka_unit_test(test_two_contexts),
        cmocka_unit_test(test_build_error_gives_log),
        cmocka_unit_test(test_unknown_kernel_names),
        cmocka_unit_test(test_profiling),
    };
    int failed = TEST_RUN_GROUP(tests, NULL, NULL);
    test_ctx_release();
    return failed;
}
