/* CLBlast tuning (src/gemm/clblast_tune.c): a search over a tiny candidate list
 * saves its file; a new context with that file applies it at its first CLBlast
 * product; damaged files are ignored and reported; products stay right with the
 * tuned parameters, through the tiled kernel and through the direct one.
 *
 * Which parameters CLBlast holds is read back through CLBlastSGemmTempBufferSize:
 * for a product run by the tiled kernel, the scratch it asks for is the operands
 * padded to multiples of the tile (MWG, NWG, KWG), so a 16 x 16 tile and the
 * default 32 x 32 one ask for different sizes.
 *
 * The candidates are small tiles, quick to compile (every setting compiles
 * CLBlast's kernels again). Tolerance of the products: 4e-6 * sqrt(k) relative,
 * as in test_gemm.c (a float dot product of length k rounds about eps*sqrt(k)). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <clblast_c.h>
#include "common.h"
#include "agecl/clblast_tune.h"
#include "gemm/blas.h"
#include "gemm/clblast_tune.h"
#include "runtime/ctx.h"

/* 16 x 16 tiles of 8 x 8 work-items, 2 results each way per work-item. */
static const size_t small_xgemm[1][AGECL__XGEMM_PARAMS] = {
    {0, 1, 16, 2, 8, 8, 16, 8, 8, 16, 0, 0, 0, 0, 2, 2}};
/* 8 x 8 tiles of 8 x 8 work-items. */
static const size_t small_direct[1][AGECL__DIRECT_PARAMS] = {{2, 8, 8, 8, 8, 1, 1, 1, 1, 8}};
static const agecl__clblast_shape tune_shape[1] = {{80, 72, 48, 0, 0}};

static char dirs[3][64];

static agecl_ctx *ctx_in(const char *dir)
{
    setenv("AGECL_CACHE_DIR", dir, 1);
    agecl_ctx *ctx = NULL;
    TEST_OK(agecl_ctx_create(&ctx, NULL, 0));
    assert_string_equal(agecl_ctx_cache_dir(ctx), dir);
    return ctx;
}

/* The scratch CLBlast asks for at a 1040^3 product: tiled whatever the switch
 * size of these tests, and 1040 is a multiple of 16 but not of 32. */
static size_t temp_probe(agecl_ctx *ctx)
{
    size_t bytes = 0;
    assert_int_equal(CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                                CLBlastTransposeNo, 1040, 1040, 1040, 0, 1040,
                                                0, 1040, 0, 1040, &ctx->queue, &bytes),
                     CLBlastSuccess);
    return bytes;
}

/* C = alpha op(A) op(B) + beta C through CLBlast against a double reference. */
static void check_product(agecl_ctx *ctx, test_rng *rng, size_t m, size_t n, size_t k, int ta,
                          int tb, float beta)
{
    float *a = test_random(rng, m * k, -1, 1), *b = test_random(rng, k * n, -1, 1);
    float *c0 = test_random(rng, m * n, -1, 1), *want = malloc(m * n * sizeof *want);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += (double)(ta ? a[p * m + i] : a[i * k + p]) *
                     (tb ? b[j * k + p] : b[p * n + j]);
            want[i * n + j] = (float)(0.5 * s + beta * c0[i * n + j]);
        }
    agecl_tensor ta_ = test_upload(ctx, 1, 1, 1, (int)(m * k), a);
    agecl_tensor tb_ = test_upload(ctx, 1, 1, 1, (int)(k * n), b);
    agecl_tensor tc = test_upload(ctx, 1, 1, 1, (int)(m * n), beta != 0 ? c0 : NULL);
    agecl__matrix ma = {ta_.buf, 0, ta ? m : k, ta}, mb = {tb_.buf, 0, tb ? k : n, tb};
    agecl__matrix mc = {tc.buf, 0, n, 0};
    TEST_OK(agecl__gemm_on(ctx, AGECL__GEMM_CLBLAST, "test", m, n, k, 0.5f, ma, mb, beta, mc));
    float *got = test_download(ctx, &tc);
    char what[80];
    snprintf(what, sizeof what, "clblast %zux%zux%zu %c%c beta %g", m, n, k, ta ? 'T' : 'N',
             tb ? 'T' : 'N', beta);
    test_assert_close(what, got, want, m * n, 4e-6 * sqrt((double)k));
    free(got);
    agecl_tensor_free(&ta_);
    agecl_tensor_free(&tb_);
    agecl_tensor_free(&tc);
    free(a);
    free(b);
    free(c0);
    free(want);
}

/* Awkward sizes, every transposition, beta 0 (poisoned C) and 1. */
static void check_products(agecl_ctx *ctx, uint64_t seed)
{
    test_rng rng = test_rng_seed(seed);
    check_product(ctx, &rng, 37, 53, 29, 0, 0, 0.0f);
    check_product(ctx, &rng, 130, 67, 131, 1, 0, 1.0f);
    check_product(ctx, &rng, 5, 70, 64, 0, 1, 0.0f);
    check_product(ctx, &rng, 64, 3, 17, 1, 1, 1.0f);
}

/* The test's candidates with a given switch size. */
static agecl__clblast_params small_setting(size_t min_indirect)
{
    agecl__clblast_params p;
    memcpy(p.xgemm, small_xgemm[0], sizeof p.xgemm);
    memcpy(p.direct, small_direct[0], sizeof p.direct);
    p.min_indirect = min_indirect;
    return p;
}

static void progress_count(void *user, const char *line)
{
    (void)line;
    ++*(int *)user;
}

/* Search, save, reload in a fresh context (another folder holding a copy of
 * the file), and the products right with the setting through both kernels. */
static void test_tune_save_load(void **state)
{
    (void)state;
    agecl_ctx *ctx = ctx_in(dirs[0]);
    int has = -1;
    TEST_OK(agecl_clblast_tuned(ctx, &has));
    assert_int_equal(has, 0);

    /* From CLBlast's defaults, so that the search's first program is the one
     * the tiled check below runs (each setting compiles CLBlast's program). */
    TEST_OK(agecl__clblast_apply(ctx, &agecl__clblast_defaults));
    agecl__clblast_search search = {small_xgemm, 1, small_direct, 1, tune_shape, 1};
    int lines = 0;
    agecl_clblast_tune_options opt = {60, progress_count, &lines};
    agecl_clblast_tune_report r;
    TEST_OK(agecl__clblast_tune_search(ctx, &search, &opt, &r));
    assert_int_equal(r.tried, 2);
    assert_int_equal(r.failed, 0);
    assert_int_equal(r.skipped, 0);
    assert_true(r.gflops_before > 0 && r.gflops_after > 0 && r.seconds > 0);
    assert_true(lines >= 4);
    assert_int_equal(r.saved, 1);
    assert_true(strstr(r.path, dirs[0]) == r.path && strstr(r.path, "/clblast-"));
    assert_non_null(strstr(r.chosen, "Xgemm GEMMK=0 KREG=1 KWG=16 "));
    assert_non_null(strstr(r.chosen, "XgemmDirect KWID=2 MDIMAD=8 "));
    TEST_OK(agecl_clblast_tuned(ctx, &has));
    assert_int_equal(has, 1);
    size_t tuned_probe = temp_probe(ctx);

    agecl__clblast_params p;
    int found = 0;
    TEST_OK(agecl__clblast_load(ctx, &p, &found, NULL, 0));
    assert_int_equal(found, 1);
    assert_memory_equal(p.xgemm, small_xgemm[0], sizeof p.xgemm);
    assert_memory_equal(p.direct, small_direct[0], sizeof p.direct);

    /* CLBlast back to its defaults; a new context whose folder holds the file
     * applies it at its first product, not before. */
    TEST_OK(agecl__clblast_apply(ctx, &agecl__clblast_defaults));
    size_t default_probe = temp_probe(ctx);
    assert_true(default_probe != tuned_probe);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/'", r.path, dirs[1]);
    assert_int_equal(system(cmd), 0);
    agecl_ctx *fresh = ctx_in(dirs[1]);
    TEST_OK(agecl_clblast_tuned(fresh, &has));
    assert_int_equal(has, 1);
    assert_int_equal(temp_probe(fresh), default_probe);
    test_rng rng = test_rng_seed(5);
    check_product(fresh, &rng, tune_shape[0].m, tune_shape[0].n, tune_shape[0].k, 0, 0, 0.0f);
    assert_int_equal(temp_probe(fresh), tuned_probe);

    /* The tuned kernels alone, as the search timed them: the tiled one (with
     * the direct one still at its default), then the direct one. */
    agecl__clblast_params tiled = small_setting(1), direct = small_setting(1 << 20);
    memcpy(tiled.direct, agecl__clblast_defaults.direct, sizeof tiled.direct);
    TEST_OK(agecl__clblast_apply(fresh, &tiled));
    check_products(fresh, 11);
    TEST_OK(agecl__clblast_apply(fresh, &direct));
    check_products(fresh, 12);
    agecl_ctx_destroy(fresh);
    agecl_ctx_destroy(ctx);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* out = text with the first `from` replaced by `to`. */
static void replace_copy(char *out, const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    sprintf(out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

/* Damaged files: reported as such, ignored (CLBlast keeps its parameters),
 * products still right. */
static void test_damaged_file(void **state)
{
    (void)state;
    agecl_ctx *ctx = ctx_in(dirs[2]);
    agecl__clblast_params good = small_setting(1);
    char path[1100];
    TEST_OK(agecl__clblast_save(ctx, &good, 1, 2, path, sizeof path));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    int has = 0;
    TEST_OK(agecl_clblast_tuned(ctx, &has));
    assert_int_equal(has, 1);

    /* What is in CLBlast before this context's first product. */
    TEST_OK(agecl__clblast_apply(ctx, &agecl__clblast_defaults));
    size_t probe = temp_probe(ctx);

    /* truncated in the middle and just before "end"; empty; not text; a tile
     * CLBlast cannot use; an unknown name; a name twice; another key; a value
     * that is no number; no "end" */
    char cases[10][4096];
    int count = 0;
    snprintf(cases[count++], n / 2 + 1, "%s", text);
    snprintf(cases[count++], n - 3, "%s", text);
    snprintf(cases[count++], sizeof cases[0], "%s", "");
    snprintf(cases[count++], sizeof cases[0], "%s", "\x7f" "ELF garbage\n");
    replace_copy(cases[count++], text, " MWG=16", " MWG=17");
    replace_copy(cases[count++], text, " KWID=", " KWIX=");
    replace_copy(cases[count++], text, " SB=0", " SA=0");
    replace_copy(cases[count++], text, "key ", "key 0");
    replace_copy(cases[count++], text, "XGEMM_MIN_INDIRECT_SIZE=1", "XGEMM_MIN_INDIRECT_SIZE=x");
    replace_copy(cases[count++], text, "end\n", "\n");

    for (int i = 0; i < count; i++) {
        write_text(path, cases[i]);
        has = -1;
        assert_int_equal(agecl_clblast_tuned(ctx, &has), AGECL_E_FORMAT);
        assert_int_equal(has, 0);
        if (!strstr(agecl_last_error(), "damaged") || !strstr(agecl_last_error(), path))
            fail_msg("case %d: %s", i, agecl_last_error());
        agecl__clblast_params p;
        int found = 1;
        assert_int_equal(agecl__clblast_load(ctx, &p, &found, NULL, 0), AGECL_E_FORMAT);
        assert_int_equal(found, 0);
    }
    /* The first product with the last damaged file: CLBlast unchanged, right result. */
    test_rng rng = test_rng_seed(21);
    check_product(ctx, &rng, 37, 53, 29, 0, 0, 0.0f);
    assert_int_equal(temp_probe(ctx), probe);
    agecl_ctx_destroy(ctx);
}

/* Settings that break CLBlast's rules or the device's limits are refused; bad
 * arguments; caching off. */
static void test_checks(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    TEST_OK(agecl__clblast_check(ctx, &agecl__clblast_defaults));
    agecl__clblast_params p = small_setting(64);
    TEST_OK(agecl__clblast_check(ctx, &p));
    p.xgemm[6] = 24; /* MWG not a multiple of MDIMC * VWM = 16 */
    assert_int_equal(agecl__clblast_check(ctx, &p), AGECL_E_UNSUPPORTED);
    assert_non_null(strstr(agecl_last_error(), "MWG"));
    p = small_setting(64);
    p.direct[9] = 4096; /* WGD */
    assert_int_equal(agecl__clblast_check(ctx, &p), AGECL_E_UNSUPPORTED);
    p = small_setting(64);
    p.xgemm[5] = p.xgemm[8] = 64; /* MDIMC x NDIMC = 4096 work-items */
    p.xgemm[6] = p.xgemm[9] = 128;
    assert_int_equal(agecl__clblast_check(ctx, &p), AGECL_E_UNSUPPORTED);
    p = small_setting(0);
    assert_int_equal(agecl__clblast_check(ctx, &p), AGECL_E_UNSUPPORTED);

    int has = 0;
    assert_int_equal(agecl_clblast_tuned(NULL, &has), AGECL_E_INVALID_ARG);
    assert_int_equal(agecl_clblast_tuned(ctx, NULL), AGECL_E_INVALID_ARG);
    assert_int_equal(agecl_clblast_tune(NULL, NULL), AGECL_E_INVALID_ARG);
    agecl__clblast_search empty = {small_xgemm, 1, small_direct, 1, tune_shape, 0};
    assert_int_equal(agecl__clblast_tune_search(ctx, &empty, NULL, NULL), AGECL_E_INVALID_ARG);

    char saved_dir[sizeof ctx->cache_dir];
    memcpy(saved_dir, ctx->cache_dir, sizeof saved_dir);
    ctx->cache_dir[0] = '\0';
    has = -1;
    TEST_OK(agecl_clblast_tuned(ctx, &has));
    assert_int_equal(has, 0);
    assert_int_equal(agecl__clblast_save(ctx, &agecl__clblast_defaults, 0, 0, NULL, 0),
                     AGECL_E_INVALID_ARG);
    memcpy(ctx->cache_dir, saved_dir, sizeof saved_dir);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        snprintf(dirs[i], sizeof dirs[i], "/tmp/agecl-tune-test-XXXXXX");
        if (!mkdtemp(dirs[i])) return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dirs[i]);
        if (system(cmd) != 0) return -1;
    }
    test_ctx_release();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_damaged_file),
        cmocka_unit_test(test_tune_save_load),
    };
    return TEST_RUN_GROUP(tests, setup, teardown);
}
