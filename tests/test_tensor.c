/* Tensors, views, copies and arenas. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

static void test_round_trip_and_views(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    test_rng r = test_rng_seed(1);
    float *host = test_random(&r, 2 * 3 * 5 * 7, -2, 2);
    agecl_tensor t = test_upload(ctx, 2, 3, 5, 7, host);
    float *back = test_download(ctx, &t);
    assert_memory_equal(back, host, 210 * sizeof(float));

    /* The second sample as a view: same elements, its own offset. */
    agecl_tensor v;
    TEST_OK(agecl_tensor_view(&t, 105, 1, 3, 5, 7, &v));
    float *part = test_download(ctx, &v);
    assert_memory_equal(part, host + 105, 105 * sizeof(float));
    assert_int_equal(agecl_tensor_view(&t, 106, 1, 3, 5, 7, &v), AGECL_E_SHAPE);

    agecl_tensor flat;
    TEST_OK(agecl_tensor_reshape(&t, 1, 210, 1, 1, &flat));
    assert_int_equal(agecl_tensor_reshape(&t, 1, 211, 1, 1, &flat), AGECL_E_SHAPE);
    free(part);
    free(back);
    free(host);
    agecl_tensor_free(&t);
    assert_null(t.buf);
}

static void test_fill_and_copy(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    test_rng r = test_rng_seed(2);
    float *src = test_random(&r, 131, -1, 1);
    agecl_tensor a = test_upload(ctx, 1, 1, 1, 131, src);
    agecl_tensor b = test_upload(ctx, 1, 1, 1, 200, NULL);
    agecl_tensor dst;
    TEST_OK(agecl_tensor_view(&b, 13, 1, 1, 1, 131, &dst));
    TEST_OK(agecl_tensor_copy(ctx, &a, &dst));
    agecl_tensor head;
    TEST_OK(agecl_tensor_view(&b, 0, 1, 1, 1, 13, &head));
    TEST_OK(agecl_tensor_fill(ctx, &head, 0.25f));
    float *out = test_download(ctx, &b);
    for (int i = 0; i < 13; i++) assert_true(out[i] == 0.25f);
    assert_memory_equal(out + 13, src, 131 * sizeof(float));
    /* Past the copy, the poison is untouched. */
    for (int i = 144; i < 200; i++) assert_true(out[i] != out[i]);
    agecl_tensor small = test_upload(ctx, 1, 1, 1, 5, NULL);
    assert_int_equal(agecl_tensor_copy(ctx, &a, &small), AGECL_E_SHAPE);
    free(out);
    free(src);
    agecl_tensor_free(&a);
    agecl_tensor_free(&b);
    agecl_tensor_free(&small);
}

static void test_arena_counting_then_carving(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_arena a;
    agecl_tensor w1, w2, w3;
    agecl_arena_init_counting(&a);
    TEST_OK(agecl_arena_carve(&a, &w1, 64, 3, 3, 3));
    TEST_OK(agecl_arena_carve(&a, &w2, 1, 1, 1, 5));
    TEST_OK(agecl_arena_carve(&a, &w3, 1, 64, 1, 1));
    assert_null(w1.buf);
    size_t need = a.used;
    assert_int_equal(w2.offset % AGECL_ALIGN, 0);
    assert_int_equal(w3.offset % AGECL_ALIGN, 0);
    assert_true(need >= 64 * 27 + 5 + 64);

    TEST_OK(agecl_arena_alloc(ctx, &a, 0));
    assert_int_equal(a.capacity, need);
    TEST_OK(agecl_arena_carve(&a, &w1, 64, 3, 3, 3));
    TEST_OK(agecl_arena_carve(&a, &w2, 1, 1, 1, 5));
    TEST_OK(agecl_arena_carve(&a, &w3, 1, 64, 1, 1));
    assert_int_equal(a.used, need);
    assert_ptr_equal(w1.buf, a.buf);
    /* Tensors of one arena do not overlap: write each, read each back. */
    TEST_OK(agecl_tensor_fill(ctx, &w1, 1.0f));
    TEST_OK(agecl_tensor_fill(ctx, &w2, 2.0f));
    TEST_OK(agecl_tensor_fill(ctx, &w3, 3.0f));
    float *p1 = test_download(ctx, &w1), *p3 = test_download(ctx, &w3);
    for (int i = 0; i < 64 * 27; i++) assert_true(p1[i] == 1.0f);
    for (int i = 0; i < 64; i++) assert_true(p3[i] == 3.0f);
    free(p1);
    free(p3);

    agecl_tensor extra;
    assert_int_equal(agecl_arena_carve(&a, &extra, 1, 1, 1, 1), AGECL_E_OUT_OF_MEMORY);
    agecl_arena_reset(&a);
    TEST_OK(agecl_arena_carve(&a, &extra, 1, 1, 1, 1));
    assert_int_equal(extra.offset, 0);
    agecl_arena_free(&a);
    assert_null(a.buf);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_tensor t;
    assert_int_equal(agecl_tensor_alloc(ctx, &t, 0, 1, 1, 1), AGECL_E_SHAPE);
    assert_int_equal(agecl_tensor_alloc(ctx, &t, 1, -3, 1, 1), AGECL_E_SHAPE);
    assert_int_equal(agecl_tensor_alloc(NULL, &t, 1, 1, 1, 1), AGECL_E_INVALID_ARG);
    agecl_tensor empty = {0};
    float x[4];
    assert_int_equal(agecl_tensor_read(ctx, &empty, x), AGECL_E_INVALID_ARG);
    assert_int_equal(agecl_tensor_fill(ctx, NULL, 0), AGECL_E_INVALID_ARG);
    /* A tensor bigger than the device allows fails cleanly, naming the device. */
    assert_int_equal(agecl_tensor_alloc(ctx, &t, 1 << 20, 1 << 20, 1 << 10, 1),
                     AGECL_E_OUT_OF_MEMORY);
    assert_non_null(strstr(agecl_last_error(), agecl_ctx_device(ctx)->name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_views),
        cmocka_unit_test(test_fill_and_copy),
        cmocka_unit_test(test_arena_counting_then_carving),
        cmocka_unit_test(test_bad_arguments),
    };
    int failed = TEST_RUN_GROUP(tests, NULL, NULL);
    test_ctx_release();
    return failed;
}
