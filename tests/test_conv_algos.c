/* Every convolution algorithm behind the plan (agecl/conv.h), as ggml's
 * test-backend-ops does for its backends: each one runs the passes it supports at
 * awkward shapes on random data, against the double-precision reference
 * (ref_conv.c); the passes it does not support must fall back to im2col. Then the
 * measured choice (AUTO): it picks an algorithm that supports each pass, remembers
 * it in the cache folder, reads it back, ignores damaged lines, and AGECL_CONV_ALGO
 * forces one.
 *
 * Tolerances (max abs error / max abs reference), per algorithm below: im2col's are
 * test_conv.c's (1e-5 for y and dx, 5e-5 for dw, a sum over the whole batch);
 * the others state theirs where they are listed, with the measured worst case. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "agecl/conv.h"
#include "common.h"
#include "runtime/hash.h"
#include "ref_conv.h"

typedef struct algo_case {
    agecl_conv2d_algo algo;
    double tol;      /* y and dx */
    double tol_dw;   /* dw */
} algo_case;

static const algo_case algos[] = {
    {AGECL_CONV_IM2COL_GEMM, 1e-5, 5e-5},
    {AGECL_CONV_IM2COL_CLBLAST, 1e-5, 5e-5},
    /* Winograd F(2x2,3x3): measured 8.5e-7 (y), 8.2e-7 (dx), 2.5e-6 (dw) up to 512
     * channels at 7 x 7 and 64 at 112 x 112. */
    {AGECL_CONV_WINOGRAD, 1e-5, 5e-5},
    /* FFT: measured at most 4.5e-7 for all three, up to 512 channels. */
    {AGECL_CONV_FFT, 1e-5, 5e-5},
    /* Implicit GEMM: 1.2e-6 (y), 1.0e-6 (dx), 2.8e-6 (dw, k = 6272 unsplit). */
    {AGECL_CONV_IMPLICIT_GEMM, 1e-5, 5e-5},
    /* Winograd F(4x4,3x3): test_conv_winograd.c's tolerances and measured errors. */
    {AGECL_CONV_WINOGRAD4, 1e-4, 2e-4},
};
#define N_ALGOS (sizeof algos / sizeof algos[0])
_Static_assert(N_ALGOS == AGECL_CONV_ALGO_COUNT - 1, "main() runs one test per algorithm");

static agecl_conv2d_desc desc(int n, int c_in, int h, int w, int c_out, int kernel, int stride)
{
    return (agecl_conv2d_desc){n, c_in, h, w, c_out, kernel, stride, kernel == 3 ? 1 : 0};
}

/* Tile edges of every algorithm: odd and even sizes, 1 to 3 pixels, odd channels,
 * batch 1 and 3, both kernels and strides. */
static const agecl_conv2d_desc shapes[] = {
    {1, 1, 1, 1, 1, 3, 1, 1},  {1, 3, 2, 2, 5, 3, 1, 1},    {3, 5, 7, 7, 17, 3, 1, 1},
    {1, 17, 3, 5, 3, 3, 1, 1}, {3, 3, 15, 15, 5, 3, 2, 1},  {1, 64, 14, 14, 64, 3, 1, 1},
    {3, 5, 28, 28, 17, 3, 1, 1}, {1, 17, 28, 28, 5, 3, 2, 1}, {1, 3, 56, 56, 3, 3, 1, 1},
    {3, 5, 7, 7, 17, 1, 1, 0}, {3, 17, 15, 15, 5, 1, 2, 0}, {1, 64, 14, 14, 17, 1, 2, 0},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static int oh(const agecl_conv2d_desc *d)
{
    return ref_conv2d_out_size(d->h, d->kernel, d->stride, d->pad);
}

static int ow(const agecl_conv2d_desc *d)
{
    return ref_conv2d_out_size(d->w, d->kernel, d->stride, d->pad);
}

static size_t numel_x(const agecl_conv2d_desc *d) { return (size_t)d->n * d->c_in * d->h * d->w; }

static size_t numel_w(const agecl_conv2d_desc *d)
{
    return (size_t)d->c_out * d->c_in * d->kernel * d->kernel;
}

static size_t numel_y(const agecl_conv2d_desc *d)
{
    return (size_t)d->n * d->c_out * oh(d) * ow(d);
}

/* The reference of one pass: the output, of out_n elements. */
static double *reference(const agecl_conv2d_desc *d, agecl_conv2d_pass pass, const float *x,
                         const float *wt, const float *dy, size_t out_n)
{
    size_t nx = numel_x(d), nw = numel_w(d), ny = numel_y(d);
    double *xd = test_to_double(x, nx), *wd = test_to_double(wt, nw);
    double *dyd = test_to_double(dy, ny);
    double *out = malloc(out_n * sizeof *out);
    assert_non_null(out);
    if (pass == AGECL_CONV_FORWARD) ref_conv2d_forward(d, xd, wd, out);
    else if (pass == AGECL_CONV_BACKWARD_DATA) ref_conv2d_backward_data(d, dyd, wd, out);
    else ref_conv2d_backward_filter(d, xd, dyd, out);
    free(xd), free(wd), free(dyd);
    return out;
}

/* One pass of plan p on random inputs: beta 0 into a poisoned output, then beta 1
 * onto random values; the inputs must come back unchanged. */
static void check_pass(agecl_conv2d_plan *p, const agecl_conv2d_desc *d, agecl_conv2d_pass pass,
                       double tol, uint64_t seed, const char *what)
{
    agecl_ctx *ctx = test_ctx();
    test_rng rng = test_rng_seed(seed);
    size_t nx = numel_x(d), nw = numel_w(d), ny = numel_y(d);
    float *x = test_random(&rng, nx, -1, 1), *wt = test_random(&rng, nw, -1, 1);
    float *dy = test_random(&rng, ny, -1, 1);
    agecl_tensor tx = test_upload(ctx, d->n, d->c_in, d->h, d->w, x);
    agecl_tensor tw = test_upload(ctx, d->c_out, d->c_in, d->kernel, d->kernel, wt);
    agecl_tensor tdy = test_upload(ctx, d->n, d->c_out, oh(d), ow(d), dy);
    agecl_tensor out; /* poisoned */
    if (pass == AGECL_CONV_FORWARD)
        out = test_upload(ctx, d->n, d->c_out, oh(d), ow(d), NULL);
    else if (pass == AGECL_CONV_BACKWARD_DATA)
        out = test_upload(ctx, d->n, d->c_in, d->h, d->w, NULL);
    else
        out = test_upload(ctx, d->c_out, d->c_in, d->kernel, d->kernel, NULL);
    size_t wsn = agecl_conv2d_plan_workspace_bytes(p) / sizeof(float);
    agecl_tensor ws = {0};
    if (wsn) ws = test_upload(ctx, 1, 1, (int)((wsn + 1023) / 1024), 1024, NULL);
    const agecl_tensor *wsp = wsn ? &ws : NULL;
    size_t out_n = agecl_tensor_numel(&out);
    double *ref = reference(d, pass, x, wt, dy, out_n);
    char label[200];
    for (int round = 0; round < 2; round++) {
        float beta = (float)round;
        float *old = NULL;
        if (round == 1) {
            old = test_random(&rng, out_n, -1, 1);
            TEST_OK(agecl_tensor_write(ctx, &out, old));
        }
        if (pass == AGECL_CONV_FORWARD) TEST_OK(agecl_conv2d_forward(p, &tx, &tw, beta, &out, wsp));
        else if (pass == AGECL_CONV_BACKWARD_DATA)
            TEST_OK(agecl_conv2d_backward_data(p, &tdy, &tw, beta, &out, wsp));
        else TEST_OK(agecl_conv2d_backward_filter(p, &tx, &tdy, beta, &out, wsp));
        float *want = test_plus_beta(ref, old, beta, out_n), *got = test_download(ctx, &out);
        snprintf(label, sizeof label, "%s beta %g", what, beta);
        test_assert_close(label, got, want, out_n, tol);
        free(want), free(got), free(old);
        if (wsn) test_poison(ctx, &ws); /* no pass may rely on what a call left there */
    }
    float *back = test_download(ctx, pass == AGECL_CONV_BACKWARD_DATA ? &tdy : &tx);
    assert_memory_equal(back, pass == AGECL_CONV_BACKWARD_DATA ? dy : x,
                        (pass == AGECL_CONV_BACKWARD_DATA ? ny : nx) * sizeof *back);
    free(back);
    free(ref), free(x), free(wt), free(dy);
    agecl_tensor_free(&tx), agecl_tensor_free(&tw), agecl_tensor_free(&tdy);
    agecl_tensor_free(&out);
    if (wsn) agecl_tensor_free(&ws);
}

static const char *const pass_names[] = {"forward", "backward_data", "backward_filter"};

static void check_algo(const algo_case *ac)
{
    const char *name = agecl_conv2d_algo_name(ac->algo);
    for (size_t i = 0; i < N_SHAPES; i++) {
        const agecl_conv2d_desc *d = &shapes[i];
        agecl_conv2d_plan *p;
        TEST_OK(agecl_conv2d_plan_create(test_ctx(), d, ac->algo, &p));
        for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
            int supported = agecl_conv2d_algo_supports(test_ctx(), d, ac->algo, pass);
            agecl_conv2d_algo ran = agecl_conv2d_plan_algo(p, pass);
            assert_int_equal(ran, supported ? ac->algo : AGECL_CONV_IM2COL_GEMM);
            char what[160];
            snprintf(what, sizeof what, "%s %s n%d %d->%d %dx%d k%d s%d", name, pass_names[pass],
                     d->n, d->c_in, d->c_out, d->h, d->w, d->kernel, d->stride);
            check_pass(p, d, pass, pass == AGECL_CONV_BACKWARD_FILTER ? ac->tol_dw : ac->tol,
                       1000 + 17 * i + pass, what);
        }
        agecl_conv2d_plan_destroy(p);
    }
}

/* One cmocka test per algorithm (the state is its algo_case), timed on stderr. */
static void test_algorithm(void **state)
{
    const algo_case *ac = *state;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    check_algo(ac);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "conv_algos: %s: %.1f s\n", agecl_conv2d_algo_name(ac->algo),
            (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
}

/* Every algorithm the library names is built in and checked above. */
static void test_every_algorithm_listed(void **state)
{
    (void)state;
    for (int id = 1; id < AGECL_CONV_ALGO_COUNT; id++) {
        int listed = 0;
        for (size_t a = 0; a < N_ALGOS; a++) listed |= algos[a].algo == (agecl_conv2d_algo)id;
        if (!listed) fail_msg("algorithm '%s' is not checked here", agecl_conv2d_algo_name(id));
        agecl_conv2d_algo back;
        TEST_OK(agecl_conv2d_algo_parse(agecl_conv2d_algo_name(id), &back));
        assert_int_equal(back, id);
    }
    agecl_conv2d_algo a;
    assert_int_equal(agecl_conv2d_algo_parse("winograd8", &a), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "winograd8"));
    assert_null(agecl_conv2d_algo_name(AGECL_CONV_ALGO_COUNT));
}

static void choices_file(char *path, size_t len)
{
    snprintf(path, len, "%s/conv_algos.txt", agecl_ctx_cache_dir(test_ctx()));
}

/* A line as conv2d_find.c writes it, for the shape d, claiming algo for forward. */
static int line_names(const char *line, const agecl_conv2d_desc *d, const char *pass)
{
    char want[120];
    snprintf(want, sizeof want, " %d %d %d %d %d %d %d %d %s ", d->n, d->c_in, d->h, d->w,
             d->c_out, d->kernel, d->stride, d->pad, pass);
    return strstr(line, want) != NULL;
}

/* AUTO measures each pass once, picks an algorithm that supports it, and writes the
 * choice; a second plan of the shape runs the same algorithms. */
static void test_auto_measures_and_remembers(void **state)
{
    (void)state;
    assert_true(agecl_ctx_cache_dir(test_ctx())[0] != 0);
    agecl_conv2d_desc d = desc(2, 7, 9, 9, 6, 3, 1);
    agecl_conv2d_plan *p, *q;
    TEST_OK(agecl_conv2d_plan_create(test_ctx(), &d, AGECL_CONV_AUTO, &p));
    TEST_OK(agecl_conv2d_plan_create(test_ctx(), &d, AGECL_CONV_AUTO, &q));
    char path[1200], line[256];
    choices_file(path, sizeof path);
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        agecl_conv2d_algo a = agecl_conv2d_plan_algo(p, pass);
        assert_true(a != AGECL_CONV_AUTO && agecl_conv2d_algo_supports(test_ctx(), &d, a, pass));
        assert_int_equal(agecl_conv2d_plan_algo(q, pass), a);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        int found = 0;
        while (fgets(line, sizeof line, f))
            if (line_names(line, &d, pass_names[pass]) &&
                strstr(line, agecl_conv2d_algo_name(a)))
                found = 1;
        fclose(f);
        assert_true(found);
        check_pass(p, &d, pass, pass == AGECL_CONV_BACKWARD_FILTER ? 1e-4 : 1e-5, 77 + pass,
                   "auto");
    }
    agecl_conv2d_plan_destroy(p);
    agecl_conv2d_plan_destroy(q);
}

/* A choice in the file is used as it is (this process never measured the shape),
 * after a damaged line and a line naming an algorithm that cannot run the pass. */
static void test_auto_reads_the_file(void **state)
{
    (void)state;
    agecl_conv2d_desc d = desc(1, 5, 11, 13, 3, 1, 2);
    char path[1200], key[32];
    choices_file(path, sizeof path);
    /* The device key: measure another shape first, and copy the key it wrote. */
    agecl_conv2d_desc other = desc(1, 3, 5, 5, 3, 3, 2);
    agecl_conv2d_plan *p;
    TEST_OK(agecl_conv2d_plan_create(test_ctx(), &other, AGECL_CONV_AUTO, &p));
    agecl_conv2d_plan_destroy(p);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    key[0] = 0;
    while (fgets(line, sizeof line, f))
        if (line_names(line, &other, "forward")) sscanf(line, "%31s", key);
    fclose(f);
    assert_true(key[0] != 0);
    f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "%s %d %d %d %d %d %d garbage\n", key, d.n, d.c_in, d.h, d.w, d.c_out, d.kernel);
    fprintf(f, "%s %d %d %d %d %d %d %d %d forward clblast 1.0\n", key, d.n, d.c_in, d.h, d.w,
            d.c_out, d.kernel, d.stride, d.pad);
    fprintf(f, "%s %d %d %d %d %d %d %d %d backward_data nosuchalgo 1.0\n", key, d.n, d.c_in,
            d.h, d.w, d.c_out, d.kernel, d.stride, d.pad);
    fclose(f);
    TEST_OK(agecl_conv2d_plan_create(test_ctx(), &d, AGECL_CONV_AUTO, &p));
    assert_int_equal(agecl_conv2d_plan_algo(p, AGECL_CONV_FORWARD), AGECL_CONV_IM2COL_CLBLAST);
    agecl_conv2d_algo bd = agecl_conv2d_plan_algo(p, AGECL_CONV_BACKWARD_DATA);
    assert_true(agecl_conv2d_algo_supports(test_ctx(), &d, bd, AGECL_CONV_BACKWARD_DATA));
    check_pass(p, &d, AGECL_CONV_FORWARD, 1e-5, 91, "auto from the file");
    agecl_conv2d_plan_destroy(p);
}

/* Lines of the file for shape d and pass. */
static int lines_for(const agecl_conv2d_desc *d, const char *pass)
{
    char path[1200], line[256];
    choices_file(path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0;
    while (fgets(line, sizeof line, f)) n += line_names(line, d, pass);
    fclose(f);
    return n;
}

/* Drops the file's lines for shape d (this test's own shape), left by earlier runs. */
static void forget(const agecl_conv2d_desc *d)
{
    char path[1200], tmp[1300], line[256];
    choices_file(path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.test", path);
    FILE *f = fopen(path, "r"), *g = fopen(tmp, "w");
    assert_non_null(g);
    while (f && fgets(line, sizeof line, f)) {
        int mine = 0;
        for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++)
            mine |= line_names(line, d, pass_names[pass]);
        if (!mine) fputs(line, g);
    }
    if (f) fclose(f);
    assert_int_equal(fclose(g), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* A choice measured with other kernels (here: keyed by the device alone, as before
 * the kernels were in the key) is not used: the shape is measured anew, under
 * another key. */
static void test_other_kernels_measure_anew(void **state)
{
    (void)state;
    agecl_conv2d_desc d = desc(1, 4, 10, 6, 3, 3, 2);
    char path[1200], line[256];
    choices_file(path, sizeof path);
    forget(&d);
    uint64_t device = agecl__device_key(agecl_ctx_device(test_ctx()));
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "%016llx %d %d %d %d %d %d %d %d forward clblast 1.0\n",
            (unsigned long long)device, d.n, d.c_in, d.h, d.w, d.c_out, d.kernel, d.stride, d.pad);
    fclose(f);
    assert_int_equal(lines_for(&d, "forward"), 1);
    agecl_conv2d_plan *p;
    TEST_OK(agecl_conv2d_plan_create(test_ctx(), &d, AGECL_CONV_AUTO, &p));
    assert_int_equal(lines_for(&d, "forward"), 2);
    f = fopen(path, "r");
    assert_non_null(f);
    char last[256] = "";
    while (fgets(line, sizeof line, f))
        if (line_names(line, &d, "forward")) snprintf(last, sizeof last, "%s", line);
    fclose(f);
    assert_true(strtoull(last, NULL, 16) != device);
    check_pass(p, &d, AGECL_CONV_FORWARD, 1e-5, 93, "measured anew");
    agecl_conv2d_plan_destroy(p);
}

/* The context's conv_algo (AGECL_CONV_ALGO) forces the algorithm of AUTO plans; an
 * explicit one wins over it; an unknown name is refused, naming the variable. */
static void test_forcing(void **state)
{
    (void)state;
    agecl_conv2d_desc d = desc(2, 3, 8, 8, 4, 3, 1);
    agecl_conv2d_plan *p = NULL;
    test_use_conv_algo("clblast");
    TEST_OK(agecl_conv2d_plan_create(test_ctx(), &d, AGECL_CONV_AUTO, &p));
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++)
        assert_int_equal(agecl_conv2d_plan_algo(p, pass), AGECL_CONV_IM2COL_CLBLAST);
    agecl_conv2d_plan_destroy(p);
    TEST_OK(agecl_conv2d_plan_create(test_ctx(), &d, AGECL_CONV_IM2COL_GEMM, &p));
    assert_int_equal(agecl_conv2d_plan_algo(p, AGECL_CONV_FORWARD), AGECL_CONV_IM2COL_GEMM);
    agecl_conv2d_plan_destroy(p);
    test_use_conv_algo("fastest");
    p = NULL;
    assert_int_equal(agecl_conv2d_plan_create(test_ctx(), &d, AGECL_CONV_AUTO, &p),
                     AGECL_E_INVALID_ARG);
    assert_null(p);
    assert_non_null(strstr(agecl_last_error(), "AGECL_CONV_ALGO"));
    test_use_conv_algo("");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_algorithm_listed),
        cmocka_unit_test_prestate(test_algorithm, (void *)&algos[0]),
        cmocka_unit_test_prestate(test_algorithm, (void *)&algos[1]),
        cmocka_unit_test_prestate(test_algorithm, (void *)&algos[2]),
        cmocka_unit_test_prestate(test_algorithm, (void *)&algos[3]),
        cmocka_unit_test_prestate(test_algorithm, (void *)&algos[4]),
        cmocka_unit_test_prestate(test_algorithm, (void *)&algos[5]),
        cmocka_unit_test(test_auto_measures_and_remembers),
        cmocka_unit_test(test_auto_reads_the_file),
        cmocka_unit_test(test_other_kernels_measure_anew),
        cmocka_unit_test(test_forcing),
    };
    int failed = TEST_RUN_GROUP(tests, NULL, NULL);
    test_ctx_release();
    return failed;
}
