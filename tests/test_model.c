/* The whole model against PyTorch (tests/fixtures/model.safetensors, made by
 * tools/fixtures/gen_model.py): the first forward pass, every gradient of the
 * first backward pass (also with the model's tensors spread over many small
 * buffers), and 10 Adam steps (losses and final weights); inference with the
 * BatchNorms folded against the layers unfolded as the weights change. */
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
#include "common.h"
#include "agecl/model.h"
#include "agecl/safetensors.h"
#include "model/model_internal.h" /* the activation arenas */
#include "runtime/ctx.h"          /* a device's largest allocation, made small */

#define B 4

static agecl_st_file *fx;

static float *fixture(const char *name, size_t *count) { return test_st_floats(fx, name, count); }

static agecl_model *make_model_flags(agecl_ctx *ctx, unsigned flags);
static agecl_model *make_model(agecl_ctx *ctx) { return make_model_flags(ctx, AGECL_MODEL_TRAIN); }

static agecl_model *make_model_flags(agecl_ctx *ctx, unsigned flags)
{
    agecl_model_config cfg;
    TEST_OK(agecl_model_preset("tiny", &cfg));
    cfg.units[0] = 2, cfg.units[1] = 1, cfg.units[2] = 1;
    cfg.channels[0] = 8, cfg.channels[1] = 12, cfg.channels[2] = 16;
    cfg.input_size = 16;
    const int ages[] = {3, 7, 20, 41, 66};
    TEST_OK(agecl_model_config_set_ages(&cfg, ages, 5));
    agecl_model *m = NULL;
    TEST_OK(agecl_model_create(ctx, &cfg, B, flags, &m));
    /* Every tensor the model has comes from the fixture, and nothing else. */
    int loaded = 0;
    for (int i = 0; i < agecl_model_tensor_count(m); i++) {
        char key[128];
        snprintf(key, sizeof key, "init.%s", agecl_model_tensor_name(m, i, NULL, NULL));
        float *v = fixture(key, NULL);
        TEST_OK(agecl_model_tensor_set(m, i, 0, v));
        free(v);
        loaded++;
    }
    size_t want = 0;
    for (size_t i = 0; i < agecl_st_count(fx); i++)
        want += strncmp(agecl_st_name(fx, i), "init.", 5) == 0;
    assert_int_equal(loaded, (int)want);
    assert_true(agecl_model_has_references(m));
    return m;
}

typedef struct batch {
    float *images, *age;
    float gender[B], pos[B];
} batch;

static batch load_batch(void)
{
    batch b;
    b.images = fixture("images", NULL);
    b.age = fixture("age", NULL);
    int32_t g[B], p[B];
    TEST_OK(agecl_st_read_i32(fx, "gender", g, B, NULL, AGECL_ST_ANY_SHAPE));
    TEST_OK(agecl_st_read_i32(fx, "pos", p, B, NULL, AGECL_ST_ANY_SHAPE));
    for (int i = 0; i < B; i++) b.gender[i] = (float)g[i], b.pos[i] = (float)p[i];
    return b;
}

/* Relative to the tensor's largest element, or to `floor` where all are smaller:
 * some gradients are zero analytically (a BN shift whose output only reaches
 * training-mode BatchNorms), and then both sides hold rounding noise. */
static void compare_tensor(agecl_model *m, int i, int which, const char *key, double tol,
                           double floor)
{
    size_t n = 0;
    float *want = fixture(key, &n);
    float *got = malloc(n * sizeof *got);
    assert_non_null(got);
    TEST_OK(agecl_model_tensor_get(m, i, which, got));
    double e = test_rel_error(got, want, n, floor);
    if (e > tol) test_assert_close(key, got, want, n, tol);
    free(got);
    free(want);
}

/* The first forward and backward pass on ctx against PyTorch; returns the model's
 * activation arenas. */
static int first_step_matches_pytorch(agecl_ctx *ctx)
{
    agecl_model *m = make_model(ctx);
    batch b = load_batch();
    TEST_OK(agecl_model_forward(m, b.images, 1));
    float age[B], feat[B * 16];
    agecl_outputs out = {age, NULL, NULL, feat};
    /* A training forward leaves the expected ages to the loss step. */
    assert_int_equal(agecl_model_outputs(m, &out), AGECL_E_INVALID_ARG);
    agecl_labels labels = {b.age, b.gender, b.pos};
    float err[B];
    agecl_losses losses = {0};
    losses.abs_err = err;
    assert_int_equal(agecl_model_backward(m), AGECL_E_INVALID_ARG); /* no loss step yet */
    TEST_OK(agecl_model_loss(m, &labels, 1, &losses));
    TEST_OK(agecl_model_outputs(m, &out));
    float *want_age = fixture("step0.age", NULL), *want_feat = fixture("step0.feat", NULL);
    test_assert_close("features", feat, want_feat, B * 16, 1e-4);
    test_assert_close("predicted ages", age, want_age, B, 1e-4);
    TEST_OK(agecl_model_backward(m));
    float *want_losses = fixture("losses", NULL);
    float got_losses[4] = {losses.total, losses.age, losses.gender, losses.pos};
    test_assert_close("step 0 losses", got_losses, want_losses, 4, 1e-4);
    for (int i = 0; i < B; i++) assert_true(fabsf(err[i] - fabsf(b.age[i] - age[i])) < 1e-3f);

    /* Every parameter's gradient, as llm.c's test_gpt2 checks them. */
    int checked = 0;
    for (int i = 0; i < agecl_model_tensor_count(m); i++) {
        int kind;
        const char *name = agecl_model_tensor_name(m, i, &kind, NULL);
        if (kind != 0) continue;
        char key[128];
        snprintf(key, sizeof key, "step0.grad.%s", name);
        compare_tensor(m, i, 1, key, 2e-3, 1e-3);
        checked++;
    }
    assert_true(checked > 40);
    free(want_losses);
    free(want_age);
    free(want_feat);
    free(b.images);
    free(b.age);
    int arenas = m->n_acts;
    agecl_model_destroy(m);
    return arenas;
}

static void test_first_step_matches_pytorch(void **state)
{
    (void)state;
    assert_true(first_step_matches_pytorch(test_ctx()) >= 1);
}

/* On a device that allocates little at once, the model's tensors spread over
 * several arenas (model/build.c) and give the same results. */
static void test_small_allocations_spread_over_arenas(void **state)
{
    (void)state;
    agecl_ctx *ctx;
    TEST_OK(agecl_ctx_create(&ctx, NULL, 0));
    /* The parameters take 181 KiB, the activations 434 KiB; implicit GEMM needs no
     * workspace, which is one tensor (it cannot spread). */
    ctx->info.max_alloc_bytes = 192 << 10;
    agecl_options o = *agecl_ctx_options(ctx);
    snprintf(o.conv_algo, sizeof o.conv_algo, "implicit");
    TEST_OK(agecl_ctx_set_options(ctx, &o));
    int arenas = first_step_matches_pytorch(ctx);
    if (arenas < 3) fail_msg("%d arenas of 192 KiB: the model's tensors did not spread", arenas);
    agecl_ctx_destroy(ctx);
}

static void test_ten_adam_steps_match_pytorch(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_model *m = make_model(ctx);
    batch b = load_batch();
    agecl_labels labels = {b.age, b.gender, b.pos};
    float *want = fixture("losses", NULL);
    for (int step = 1; step <= 10; step++) {
        agecl_losses losses = {0};
        TEST_OK(agecl_model_forward(m, b.images, 1));
        TEST_OK(agecl_model_loss(m, &labels, 1, &losses));
        TEST_OK(agecl_model_backward(m));
        TEST_OK(agecl_model_adam_step(m, 1e-3f, 1e-2f, step));
        float got[4] = {losses.total, losses.age, losses.gender, losses.pos};
        char what[32];
        snprintf(what, sizeof what, "losses of step %d", step);
        test_assert_close(what, got, want + 4 * (step - 1), 4, 2e-3);
    }
    for (int i = 0; i < agecl_model_tensor_count(m); i++) {
        char key[128];
        snprintf(key, sizeof key, "final.%s", agecl_model_tensor_name(m, i, NULL, NULL));
        compare_tensor(m, i, 0, key, 2e-3, 1e-3);
    }
    free(want);
    free(b.images);
    free(b.age);
    agecl_model_destroy(m);
}

/* Inference of a (BatchNorms folded, the default) and of c (an inference model,
 * folded, with prepared weights) against b (AGECL_FUSE=0), b and c given a's weights
 * and statistics: features, ages and gender within 1e-5 of the largest. */
static agecl_model *inference_model; /* c */

static void same_inference(agecl_model *a, agecl_model *b, const float *images, const char *when)
{
    agecl_model *c = inference_model;
    for (int i = 0; i < agecl_model_tensor_count(a); i++) {
        int shape[4];
        agecl_model_tensor_name(a, i, NULL, shape);
        float *v = malloc((size_t)shape[0] * shape[1] * shape[2] * shape[3] * sizeof *v);
        assert_non_null(v);
        TEST_OK(agecl_model_tensor_get(a, i, 0, v));
        TEST_OK(agecl_model_tensor_set(b, i, 0, v));
        if (c) TEST_OK(agecl_model_tensor_set(c, i, 0, v));
        free(v);
    }
    float feat[3][B * 16], age[3][B], gender[3][B];
    agecl_model *m[3] = {b, a, c};
    for (int k = 0; k < 3 && m[k]; k++) {
        for (int i = 0; i < B * 16; i++) feat[k][i] = test_poison_value();
        TEST_OK(agecl_model_forward(m[k], images, 0));
        agecl_outputs out = {age[k], gender[k], NULL, feat[k]};
        TEST_OK(agecl_model_outputs(m[k], &out));
    }
    for (int k = 1; k < 3 && m[k]; k++) {
        const char *model = k == 1 ? "folded inference" : "prepared inference";
        char what[128];
        snprintf(what, sizeof what, "%s %s: features", model, when);
        test_assert_close(what, feat[k], feat[0], B * 16, 1e-5);
        snprintf(what, sizeof what, "%s %s: ages", model, when);
        test_assert_close(what, age[k], age[0], B, 1e-5);
        snprintf(what, sizeof what, "%s %s: gender", model, when);
        test_assert_close(what, gender[k], gender[0], B, 1e-5);
    }
}

/* A training step of lr 0.05 (large, so that stale folded weights show), with
 * inference checked after the training forward and backward, and after the step. */
static void train_step(agecl_model *a, agecl_model *b, const batch *bt, int step)
{
    agecl_labels labels = {bt->age, bt->gender, bt->pos};
    agecl_losses losses = {0};
    TEST_OK(agecl_model_forward(a, bt->images, 1));
    TEST_OK(agecl_model_loss(a, &labels, 1, &losses));
    TEST_OK(agecl_model_backward(a));
    same_inference(a, b, bt->images, "after a training forward (the running statistics)");
    TEST_OK(agecl_model_adam_step(a, 0.05f, 0.0f, step));
    same_inference(a, b, bt->images, "after an optimiser step");
}

/* The folded weights follow every change of the weights and statistics: after each
 * way of changing them alone, a infers as b given a's tensors. Checked to fail when
 * any one of the training forward, the optimiser step, the swap, tensor_set, init
 * and load does not mark the weights changed. An inference model with prepared
 * (Winograd-transformed) weights, given the same tensors each time, infers as b too. */
static void test_folded_inference_follows_the_weights(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    test_use_fuse(1);
    agecl_model *a = make_model(ctx);
    test_use_fuse(0);
    agecl_model *b = make_model(ctx);
    test_use_fuse(1);
    assert_true(a->fold && !b->fold);
    /* an inference model whose 3x3 stride-1 convolutions keep prepared weights */
    test_use_conv_algo("winograd4");
    inference_model = make_model_flags(ctx, 0);
    test_use_conv_algo("");
    assert_non_null(inference_model->units[0].conv1.prepared.buf);
    assert_null(a->units[0].conv1.prepared.buf);
    batch bt = load_batch();
    same_inference(a, b, bt.images, "of the fixture's weights");
    same_inference(a, b, bt.images, "again");
    train_step(a, b, &bt, 1);
    TEST_OK(agecl_model_ema_update(a, 0.5));
    train_step(a, b, &bt, 2);
    TEST_OK(agecl_model_ema_update(a, 0.5));
    TEST_OK(agecl_model_ema_swap(a));
    same_inference(a, b, bt.images, "with the moving average swapped in");
    TEST_OK(agecl_model_ema_swap(a));
    same_inference(a, b, bt.images, "with it swapped out");
    int w = agecl_model_tensor_find(a, "stage1.0.conv2.weight"), shape[4];
    assert_true(w >= 0);
    agecl_model_tensor_name(a, w, NULL, shape);
    size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    TEST_OK(agecl_model_tensor_get(a, w, 0, v));
    for (size_t i = 0; i < n; i++) v[i] *= -2.0f;
    TEST_OK(agecl_model_tensor_set(a, w, 0, v));
    same_inference(a, b, bt.images, "after agecl_model_tensor_set");
    char path[64];
    snprintf(path, sizeof path, "/tmp/agecl_fold_%d.safetensors", (int)getpid());
    TEST_OK(agecl_model_save(a, path, 0, NULL));
    TEST_OK(agecl_model_init(a, 77));
    same_inference(a, b, bt.images, "after init");
    TEST_OK(agecl_model_load(a, path, 0));
    same_inference(a, b, bt.images, "after a load");
    unlink(path);
    free(v);
    free(bt.images);
    free(bt.age);
    agecl_model_destroy(a);
    agecl_model_destroy(b);
    agecl_model_destroy(inference_model);
    inference_model = NULL;
}

static int setup(void **state)
{
    (void)state;
    char path[512];
    return agecl_st_open(test_fixture("model.safetensors", path, sizeof path), &fx) == AGECL_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    agecl_st_close(fx);
    return 0;
}

/* A batch whose activations no buffer of the device can hold: a clear error that
 * names the batch and the device, no model. */
static void test_batch_too_large_is_named(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_model_config cfg;
    TEST_OK(agecl_model_preset("ir50", &cfg));
    const int ages[] = {3, 7, 20, 41, 66};
    TEST_OK(agecl_model_config_set_ages(&cfg, ages, 5));
    agecl_model *m = NULL;
    /* 64 x 112 x 112 floats a sample: 200000 samples are 642 GB in one tensor */
    agecl_status s = agecl_model_create(ctx, &cfg, 200000, AGECL_MODEL_TRAIN, &m);
    assert_int_equal(s, AGECL_E_OUT_OF_MEMORY);
    assert_null(m);
    const char *e = agecl_last_error();
    if (!strstr(e, "batch 200000") || !strstr(e, agecl_ctx_device(ctx)->name) || !strstr(e, "bytes"))
        fail_msg("the error does not name the batch, the device and the bytes: %s", e);
}

/* ---- data-parallel: the gradient sum, in one piece and in buckets ---- */

/* A second rank with the same batch, faked: a sum over the two ranks doubles each
 * element; a started sum doubles them only when waited for, as a transport
 * finishing late would, and every float summed is counted. */
typedef struct fake_request { float *data; size_t n; } fake_request;
static size_t fake_summed;
static int fake_started, fake_waited;

static agecl_status fake_sum(const agecl_comm *c, float *data, size_t n)
{
    (void)c;
    for (size_t i = 0; i < n; i++) data[i] *= 2.0f;
    fake_summed += n;
    return AGECL_OK;
}

static agecl_status fake_sum64(const agecl_comm *c, double *data, size_t n)
{
    (void)c, (void)data, (void)n;
    fail_msg("no double sums in a step without sync-BN");
    return AGECL_E_INVALID_ARG;
}

static agecl_status fake_gather(const agecl_comm *c, const float *mine, size_t n, float *all)
{
    (void)c, (void)mine, (void)n, (void)all;
    fail_msg("no gathers in a step");
    return AGECL_E_INVALID_ARG;
}

static agecl_status fake_bcast(const agecl_comm *c, float *data, size_t n, int root)
{
    (void)c, (void)data, (void)n, (void)root;
    fail_msg("no broadcasts in a step");
    return AGECL_E_INVALID_ARG;
}

static agecl_status fake_start(const agecl_comm *c, float *data, size_t n, void **request)
{
    (void)c;
    fake_request *r = malloc(sizeof *r);
    *r = (fake_request){data, n};
    *request = r;
    fake_started++;
    return AGECL_OK;
}

static agecl_status fake_wait(const agecl_comm *c, void *request)
{
    fake_request *r = request;
    fake_sum(c, r->data, r->n);
    free(r);
    fake_waited++;
    return AGECL_OK;
}

static void test_gradient_sum_in_buckets(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_comm two = {.rank = 0, .size = 2, .allreduce_f32 = fake_sum,
                      .allreduce_f64 = fake_sum64, .allgather_f32 = fake_gather,
                      .broadcast_f32 = fake_bcast, .iallreduce_f32 = fake_start,
                      .wait = fake_wait};
    /* one sum after the backward; buckets of 1 float (one per unit); of 1500 (units
     * of 1152 floats go two together) */
    const size_t buckets[] = {0, 1, 1500};
    for (size_t k = 0; k < 3; k++) {
        agecl_model *m = make_model(ctx);
        TEST_OK(agecl_model_set_comm(m, &two, 0, buckets[k]));
        batch b = load_batch();
        agecl_labels labels = {b.age, b.gender, b.pos};
        agecl_losses losses = {0};
        fake_summed = 0, fake_started = fake_waited = 0;
        for (int step = 0; step < 2; step++) { /* the buckets start afresh each step */
            TEST_OK(agecl_model_forward(m, b.images, 1));
            TEST_OK(agecl_model_loss(m, &labels, 1, &losses));
            TEST_OK(agecl_model_backward(m));
            TEST_OK(agecl_model_allreduce_gradients(m));
        }
        size_t region = 0; /* every gradient summed once a step, in whatever pieces */
        for (int i = 0; i < agecl_model_tensor_count(m); i++) {
            int kind, shape[4];
            const char *name = agecl_model_tensor_name(m, i, &kind, shape);
            if (kind != 0) continue;
            region += (size_t)shape[0] * shape[1] * shape[2] * shape[3];
            char key[128];
            snprintf(key, sizeof key, "step0.grad.%s", name);
            compare_tensor(m, i, 1, key, 2e-3, 1e-3); /* the mean of two equal ranks */
        }
        assert_true(fake_summed >= 2 * region);
        assert_int_equal(fake_started, fake_waited);
        if (buckets[k] == 0) assert_int_equal(fake_started, 0);
        if (buckets[k] == 1) assert_int_equal(fake_started, 2 * 4); /* a bucket per unit */
        if (buckets[k] == 1500) assert_true(fake_started > 0 && fake_started < 2 * 4);
        free(b.images);
        free(b.age);
        agecl_model_destroy(m);
    }
    /* buckets need the started sums */
    agecl_model *m = make_model(ctx);
    two.iallreduce_f32 = NULL;
    assert_int_equal(agecl_model_set_comm(m, &two, 0, 100), AGECL_E_INVALID_ARG);
    agecl_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_step_matches_pytorch),
        cmocka_unit_test(test_small_allocations_spread_over_arenas),
        cmocka_unit_test(test_ten_adam_steps_match_pytorch),
        cmocka_unit_test(test_batch_too_large_is_named),
        cmocka_unit_test(test_folded_inference_follows_the_weights),
        cmocka_unit_test(test_gradient_sum_in_buckets),
    };
    int failed = TEST_RUN_GROUP(tests, setup, teardown);
    test_ctx_release();
    return failed;
}
