/* Weights in: a PyTorch IR network imported by tools/torch/import_pytorch.py
 * (tests/fixtures/import.safetensors, made by tools/fixtures/gen_import.py) gives
 * the source network's features; agecl_model_load_weights takes the backbone and
 * the heads that fit, and names what does not fit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agecl.h"
#include "common.h"

#define B 4
#define C 16 /* the fixture's feature width */

static agecl_st_file *fx;
static char fixture_path[512];
static char tmpdir[64];

static float *fixture(const char *name) { return test_st_floats(fx, name, NULL); }

/* A model of the fixture's backbone with 5 age labels (or 6: other_ages). */
static agecl_model *make_model(int other_ages, uint64_t seed)
{
    agecl_model_config cfg;
    TEST_OK(agecl_model_backbone_read(fixture_path, &cfg));
    const int ages[] = {3, 7, 20, 41, 66, 80};
    TEST_OK(agecl_model_config_set_ages(&cfg, ages, other_ages ? 6 : 5));
    cfg.gender = cfg.rapl = 1;
    agecl_model *m = NULL;
    TEST_OK(agecl_model_create(test_ctx(), &cfg, B, 0, &m));
    TEST_OK(agecl_model_init(m, seed));
    return m;
}

static float *tensor(agecl_model *m, const char *name, size_t *n)
{
    int i = agecl_model_tensor_find(m, name), shape[4];
    assert_true(i >= 0);
    agecl_model_tensor_name(m, i, NULL, shape);
    size_t count = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    float *v = malloc(count * sizeof *v);
    assert_non_null(v);
    TEST_OK(agecl_model_tensor_get(m, i, 0, v));
    if (n) *n = count;
    return v;
}

static void features(agecl_model *m, float *feat, float *age)
{
    float *images = fixture("ref.images");
    TEST_OK(agecl_model_forward(m, images, 0));
    agecl_outputs out = {age, NULL, NULL, feat};
    TEST_OK(agecl_model_outputs(m, &out));
    free(images);
}

static void test_imported_backbone_gives_pytorch_features(void **state)
{
    (void)state;
    agecl_model_config cfg;
    TEST_OK(agecl_model_backbone_read(fixture_path, &cfg));
    assert_int_equal(cfg.stages, 3);
    assert_int_equal(cfg.units[0], 2), assert_int_equal(cfg.units[2], 1);
    assert_int_equal(cfg.channels[0], 8), assert_int_equal(cfg.channels[2], C);
    assert_int_equal(cfg.input_size, 16);

    agecl_model *m = make_model(0, 5);
    size_t n;
    float *age_before = tensor(m, "age.weight", &n);
    float feat[B * C], age[B];
    for (int i = 0; i < B * C; i++) feat[i] = test_poison_value();
    features(m, feat, age);
    float *want = fixture("ref.feat");
    /* Before the import the features are the random initialisation's. */
    assert_true(test_rel_error(feat, want, B * C, 1e-3) > 0.1);

    unsigned heads = 99;
    TEST_OK(agecl_model_load_weights(m, fixture_path, &heads));
    assert_int_equal(heads, 0); /* an import has no heads: they keep agecl's initialisation */
    for (int i = 0; i < B * C; i++) feat[i] = test_poison_value();
    features(m, feat, age);
    test_assert_close("imported features", feat, want, B * C, 1e-4);
    print_message("imported features against PyTorch's: max relative error %.2e\n",
                  test_rel_error(feat, want, B * C, 1e-3));
    float *age_after = tensor(m, "age.weight", NULL);
    assert_memory_equal(age_before, age_after, n * sizeof *age_after);
    assert_false(agecl_model_has_references(m));
    free(want);
    free(age_before);
    free(age_after);
    agecl_model_destroy(m);
}

/* Predicting from an import is an error that says what to do. */
static void test_backbone_alone_is_not_a_model(void **state)
{
    (void)state;
    agecl_model_config cfg;
    assert_int_equal(agecl_model_config_read(fixture_path, &cfg), AGECL_E_FORMAT);
    const char *e = agecl_last_error();
    if (!strstr(e, fixture_path) || !strstr(e, "without heads") || !strstr(e, "--init"))
        fail_msg("unclear error: %s", e);
}

/* A backbone of another shape names both. */
static void test_other_backbone_is_named(void **state)
{
    (void)state;
    agecl_model_config cfg;
    TEST_OK(agecl_model_preset("tiny", &cfg));
    const int ages[] = {3, 7, 20};
    TEST_OK(agecl_model_config_set_ages(&cfg, ages, 3));
    agecl_model *m = NULL;
    TEST_OK(agecl_model_create(test_ctx(), &cfg, B, 0, &m));
    assert_int_equal(agecl_model_load_weights(m, fixture_path, NULL), AGECL_E_SHAPE);
    const char *e = agecl_last_error();
    if (!strstr(e, "units 2,1,1, channels 8,12,16") || !strstr(e, "tiny: units 1,1,1"))
        fail_msg("the error does not name both backbones: %s", e);
    agecl_model_destroy(m);
}

/* A file without metadata that lacks a backbone tensor: its name. */
static void test_missing_tensor_is_named(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/partial.safetensors", tmpdir);
    float *w = fixture("stem.conv.weight");
    agecl_st_writer *wr;
    TEST_OK(agecl_st_writer_create(&wr));
    const int shape[4] = {8, 3, 3, 3};
    TEST_OK(agecl_st_writer_add(wr, "stem.conv.weight", AGECL_ST_F32, 4, shape, w));
    TEST_OK(agecl_st_writer_save(wr, path));
    agecl_st_writer_free(wr);
    agecl_model *m = make_model(0, 5);
    assert_int_equal(agecl_model_load_weights(m, path, NULL), AGECL_E_FORMAT);
    const char *e = agecl_last_error();
    if (!strstr(e, path) || !strstr(e, "'stem.bn."))
        fail_msg("the error does not name the file and the tensor: %s", e);
    agecl_model_destroy(m);
    free(w);
    unlink(path);
}

/* A full checkpoint gives every head to a model of the same ages, none to a
 * model of other ages (their heads keep their initialisation). */
static void test_heads_come_when_they_fit(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/full.safetensors", tmpdir);
    agecl_model *src = make_model(0, 5);
    TEST_OK(agecl_model_load_weights(src, fixture_path, NULL));
    TEST_OK(agecl_model_save(src, path, 0, NULL));
    float feat_src[B * C], age_src[B];
    features(src, feat_src, age_src);

    agecl_model *same = make_model(0, 77);
    unsigned heads = 0;
    TEST_OK(agecl_model_load_weights(same, path, &heads));
    assert_int_equal(heads, AGECL_HEAD_AGE | AGECL_HEAD_GENDER | AGECL_HEAD_POSITION);
    float feat[B * C], age[B];
    features(same, feat, age);
    test_assert_close("features", feat, feat_src, B * C, 1e-6);
    test_assert_close("ages", age, age_src, B, 1e-6);

    agecl_model *other = make_model(1, 77);
    size_t n;
    float *before = tensor(other, "age.weight", &n);
    TEST_OK(agecl_model_load_weights(other, path, &heads));
    assert_int_equal(heads, AGECL_HEAD_GENDER); /* age and position heads have 6 rows now */
    float *after = tensor(other, "age.weight", NULL);
    assert_memory_equal(before, after, n * sizeof *after);
    float *g_src = tensor(src, "gender.weight", &n), *g = tensor(other, "gender.weight", NULL);
    assert_memory_equal(g_src, g, n * sizeof *g);
    features(other, feat, age);
    test_assert_close("features, other ages", feat, feat_src, B * C, 1e-6);
    free(before), free(after), free(g_src), free(g);
    agecl_model_destroy(src);
    agecl_model_destroy(same);
    agecl_model_destroy(other);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    test_fixture("import.safetensors", fixture_path, sizeof fixture_path);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/agecl_weights_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    return agecl_st_open(fixture_path, &fx) == AGECL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    agecl_st_close(fx);
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imported_backbone_gives_pytorch_features),
        cmocka_unit_test(test_backbone_alone_is_not_a_model),
        cmocka_unit_test(test_other_backbone_is_named),
        cmocka_unit_test(test_missing_tensor_is_named),
        cmocka_unit_test(test_heads_come_when_they_fit),
    };
    int failed = TEST_RUN_GROUP(tests, setup, teardown);
    test_ctx_release();
    return failed;
}
