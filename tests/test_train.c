/* Training end to end on real faces: the loss falls, reference selection,
 * checkpoints (round trip, truncated, wrong shape), resume after a kill, eval --json. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"
#include "agecl/model.h"
#include "agecl/safetensors.h"
#include "agecl/train.h"
#include "agecl/predict.h"

extern char **environ;

static char tmpdir[256];

static const char *utkface(void)
{
    static char spec[600];
    char path[512];
    snprintf(spec, sizeof spec, "utkface:%s", test_shared_data("utkface", path, sizeof path));
    return spec;
}

static const char *tmp_path(const char *name)
{
    static char buf[4][600];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 600, "%s/%s", tmpdir, name);
    return p;
}

static agecl_model *tiny_model(agecl_ctx *ctx, int batch, int last_channels, unsigned flags)
{
    agecl_model_config cfg;
    TEST_OK(agecl_model_preset("tiny", &cfg));
    cfg.channels[2] = last_channels;
    const int ages[] = {10, 20, 30, 40, 50};
    TEST_OK(agecl_model_config_set_ages(&cfg, ages, 5));
    agecl_model *m;
    TEST_OK(agecl_model_create(ctx, &cfg, batch, flags, &m));
    TEST_OK(agecl_model_init(m, 5));
    return m;
}

static void test_loss_falls_on_real_faces(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_dataset *ds;
    TEST_OK(agecl_dataset_open(&ds, utkface(), 0));
    agecl_model_config cfg;
    TEST_OK(agecl_model_preset("tiny", &cfg));
    const int *ages;
    int n = agecl_dataset_age_labels(ds, &ages);
    TEST_OK(agecl_model_config_set_ages(&cfg, ages, n));
    agecl_model *m;
    TEST_OK(agecl_model_create(ctx, &cfg, 16, AGECL_MODEL_TRAIN, &m));
    TEST_OK(agecl_model_init(m, 1));

    /* 16 faces spread over the data set, no augmentation. */
    int idx[16];
    for (int i = 0; i < 16; i++) idx[i] = i * (agecl_dataset_count(ds) / 16);
    agecl_loader_options lo;
    agecl_loader_defaults(&lo);
    lo.batch_size = 16, lo.image_size = cfg.input_size, lo.threads = 0;
    agecl_loader *loader;
    TEST_OK(agecl_loader_create(&loader, ds, idx, 16, &lo));
    TEST_OK(agecl_loader_start_epoch(loader, 0));
    agecl_batch *b;
    TEST_OK(agecl_loader_next(loader, &b));
    assert_non_null(b);
    assert_int_equal(b->count, 16);
    for (int i = 0; i < 16; i++) {
        assert_float_equal(b->target_age[i], (float)b->ages[i], 0);
        assert_float_equal(b->target_gender[i], (float)b->genders[i], 0);
        assert_float_equal(b->target_pos[i], (float)agecl_dataset_age_position(ds, b->ages[i]), 0);
    }
    agecl_labels labels = {b->target_age, b->target_gender, b->target_pos};
    float first = 0, last = 0;
    for (int step = 1; step <= 30; step++) {
        agecl_losses l = {0};
        TEST_OK(agecl_model_forward(m, b->images, 1));
        TEST_OK(agecl_model_loss(m, &labels, 0, &l));
        TEST_OK(agecl_model_backward(m));
        TEST_OK(agecl_model_adam_step(m, 1e-2f, 1e-2f, step));
        assert_true(isfinite(l.total));
        if (step == 1) first = l.age;
        last = l.age;
    }
    print_message("age loss on 16 real faces: %.3f at step 1, %.3f at step 30\n", first, last);
    assert_true(last < 0.6f * first);
    agecl_loader_release(loader, b);
    agecl_loader_free(loader);
    agecl_model_destroy(m);
    agecl_dataset_free(ds);
}

static void test_reference_selection(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_model *m = tiny_model(ctx, 2, 16, AGECL_MODEL_TRAIN);
    enum { S = 12, C = 16 };
    test_rng r = test_rng_seed(3);
    float *feat = test_random(&r, S * C, -1, 1);
    /* Ages 0, 1, 3, 4 have samples (position 2 has none); planted minima. */
    const float pos[S] = {0, 1, 3, 4, 0, 1, 3, 4, 0, 1, 3, 4};
    const float err[S] = {5, 2, 9, 4, 1, 8, 3, 7, 6, 0.5f, 3.5f, 4.5f};
    const int want[5] = {4, 9, 9, 6, 3}; /* position 2 takes the nearest, lower: position 1 */
    agecl_tensor tf = test_upload(ctx, S, C, 1, 1, feat), te = test_upload(ctx, S, 1, 1, 1, err),
                 tp = test_upload(ctx, S, 1, 1, 1, pos);
    int filled = -1;
    TEST_OK(agecl_model_select_references(m, &te, &tp, &tf, 42, &filled));
    assert_int_equal(filled, 1);
    assert_true(agecl_model_has_references(m));
    float R[5 * C];
    TEST_OK(agecl_model_tensor_get(m, agecl_model_tensor_find(m, "rapl.R"), 0, R));
    for (int k = 0; k < 5; k++)
        assert_memory_equal(R + k * C, feat + want[k] * C, C * sizeof(float));
    agecl_tensor_free(&tf);
    agecl_tensor_free(&te);
    agecl_tensor_free(&tp);
    free(feat);
    agecl_model_destroy(m);
}

/* Compare every tensor of two models (values, and Adam's moments when asked). */
static void assert_same_tensors(agecl_model *a, agecl_model *b, int moments)
{
    assert_int_equal(agecl_model_tensor_count(a), agecl_model_tensor_count(b));
    for (int i = 0; i < agecl_model_tensor_count(a); i++) {
        int kind, shape[4];
        agecl_model_tensor_name(a, i, &kind, shape);
        size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        for (int which = 0; which < (kind == 0 && moments ? 4 : 1); which++) {
            if (which == 1) continue; /* gradients are not saved */
            TEST_OK(agecl_model_tensor_get(a, i, which, x));
            TEST_OK(agecl_model_tensor_get(b, i, which, y));
            assert_memory_equal(x, y, n * sizeof *x);
        }
        free(x);
        free(y);
    }
}

static void one_step(agecl_model *m)
{
    int B = agecl_model_batch(m), S = agecl_model_config_of(m)->input_size;
    test_rng r = test_rng_seed(9);
    float *img = test_random(&r, (size_t)B * 3 * S * S, -2, 2);
    float age[2] = {14, 44}, pos[2] = {0, 3}, gender[2] = {0, 1};
    agecl_labels l = {age, gender, pos};
    agecl_losses losses = {0};
    TEST_OK(agecl_model_forward(m, img, 1));
    TEST_OK(agecl_model_loss(m, &l, 0, &losses));
    TEST_OK(agecl_model_backward(m));
    TEST_OK(agecl_model_adam_step(m, 1e-3f, 1e-2f, 1));
    free(img);
}

/* agecl_train_lr against PyTorch's schedulers (tools/fixtures/gen_schedule.py). */
static void expect_rates(agecl_st_file *f, const char *name, const agecl_train_options *o,
                         int per_epoch)
{
    int steps = o->epochs * per_epoch;
    float *want = malloc((size_t)steps * sizeof *want);
    TEST_OK(agecl_st_read_f32(f, name, want, (size_t)steps, &steps, 1));
    for (int u = 0; u < steps; u++) {
        double got = agecl_train_lr(o, u / per_epoch + 1, u % per_epoch, per_epoch);
        if (fabs(got - want[u]) > 1e-6 * o->lr + 1e-6 * fabs(want[u]))
            fail_msg("%s: step %d: rate %.9g, PyTorch %.9g", name, u, got, want[u]);
    }
    free(want);
}

static void test_lr_schedules_match_pytorch(void **state)
{
    (void)state;
    char path[1024];
    agecl_st_file *f;
    TEST_OK(agecl_st_open(test_fixture("schedule.safetensors", path, sizeof path), &f));
    agecl_train_options o;
    agecl_train_defaults(&o);
    o.schedule = AGECL_SCHEDULE_COSINE, o.lr = 2e-3, o.epochs = 5, o.warmup = 1;
    expect_rates(f, "cosine_a", &o, 7);
    o.lr = 1e-3, o.epochs = 4, o.warmup = 0.5;
    expect_rates(f, "cosine_b", &o, 9);
    agecl_train_defaults(&o);
    o.epochs = 6, o.lr_drops[0] = 2, o.lr_drops[1] = 4;
    expect_rates(f, "step", &o, 4);
    agecl_st_close(f);
}

static void test_recipes(void **state)
{
    (void)state;
    agecl_train_options o;
    agecl_train_defaults(&o);
    o.epochs = 7;
    TEST_OK(agecl_train_recipe("scratch", &o));
    assert_string_equal(o.recipe, "scratch");
    assert_int_equal(o.decoupled, 1);
    assert_int_equal(o.decay_all, 0);
    assert_int_equal(o.schedule, AGECL_SCHEDULE_COSINE);
    assert_true(o.loss.dist_weight > 0 && o.loss.gender_weight == 8);
    assert_int_equal(o.epochs, 7); /* what a recipe does not set stays */
    TEST_OK(agecl_train_recipe("paper", &o));
    agecl_train_options d;
    agecl_train_defaults(&d);
    assert_int_equal(o.decoupled, d.decoupled);
    assert_int_equal(o.decay_all, 1);
    assert_true(o.weight_decay == 1e-2 && o.lr == 1e-3 && o.warmup == 0);
    assert_int_equal(o.schedule, AGECL_SCHEDULE_STEP);
    assert_int_equal(o.n_lr_drops, 2);
    assert_string_equal(o.augment, "paper");
    assert_true(o.loss.dist_weight == 0 && o.loss.gender_weight == 1 && o.loss.pos_weight == 1);
    assert_int_equal(agecl_train_recipe("fast", &o), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "scratch"));
}

/* With zero gradients, AdamW only shrinks: every weight by 1 - lr wd, and the
 * one-dimensional parameters too only when decay_all says so. */
static void test_decay_on_weights_only(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    for (int all = 0; all < 2; all++) {
        agecl_model *m = tiny_model(ctx, 2, 16, AGECL_MODEL_TRAIN);
        int count = agecl_model_tensor_count(m), weights = 0, others = 0;
        float **before = calloc((size_t)count, sizeof *before);
        for (int i = 0; i < count; i++) {
            int kind, shape[4];
            agecl_model_tensor_name(m, i, &kind, shape);
            if (kind != 0) continue;
            size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
            before[i] = malloc(n * sizeof **before);
            TEST_OK(agecl_model_tensor_get(m, i, 0, before[i]));
        }
        agecl_adam_config cfg = agecl_adam_defaults(0.1, 0.5);
        cfg.decoupled = 1;
        TEST_OK(agecl_model_optimizer_step(m, &cfg, all, 1));
        const float shrink = (float)(1 - 0.1 * 0.5);
        for (int i = 0; i < count; i++) {
            if (!before[i]) continue;
            int kind, shape[4];
            const char *name = agecl_model_tensor_name(m, i, &kind, shape);
            size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
            float *after = malloc(n * sizeof *after);
            TEST_OK(agecl_model_tensor_get(m, i, 0, after));
            int weight = shape[0] > 1 || shape[2] > 1 || !strcmp(name, "rapl.a.weight");
            weights += weight, others += !weight;
            for (size_t k = 0; k < n; k++) {
                float want = weight || all ? before[i][k] * shrink : before[i][k];
                if (after[k] != want)
                    fail_msg("%s[%zu]: %g, want %g (decay_all %d)", name, k, after[k], want, all);
            }
            free(after);
            free(before[i]);
        }
        assert_true(weights > 5 && others > 5);
        free(before);
        agecl_model_destroy(m);
    }
}

/* AGECL_EVAL_FLIP: the MAE of the mean prediction of each image and its mirror. */
/* A tiny model of random weights (seed) at batch EVAL_B over the CI faces, and the
 * batch of the EVAL_B samples idx as evaluation loads them. */
enum { EVAL_B = 8 };
typedef struct eval_case {
    agecl_dataset *ds;
    agecl_model *m;
    agecl_loader *loader;
    agecl_batch *b;
    int S;
} eval_case;

static eval_case eval_case_open(uint64_t seed, const int *idx)
{
    eval_case c;
    TEST_OK(agecl_dataset_open(&c.ds, utkface(), 0));
    agecl_model_config cfg;
    TEST_OK(agecl_model_preset("tiny", &cfg));
    const int *ages;
    TEST_OK(agecl_model_config_set_ages(&cfg, ages, agecl_dataset_age_labels(c.ds, &ages)));
    TEST_OK(agecl_model_create(test_ctx(), &cfg, EVAL_B, 0, &c.m));
    TEST_OK(agecl_model_init(c.m, seed));
    c.S = cfg.input_size;
    agecl_loader_options lo;
    agecl_loader_defaults(&lo);
    lo.batch_size = EVAL_B, lo.image_size = c.S, lo.threads = 0;
    TEST_OK(agecl_loader_create(&c.loader, c.ds, idx, EVAL_B, &lo));
    TEST_OK(agecl_loader_start_epoch(c.loader, 0));
    TEST_OK(agecl_loader_next(c.loader, &c.b));
    return c;
}

static void eval_case_close(eval_case *c)
{
    agecl_loader_release(c->loader, c->b);
    agecl_loader_free(c->loader);
    agecl_model_destroy(c->m);
    agecl_dataset_free(c->ds);
}

static void test_eval_flip_is_mean_of_mirrors(void **state)
{
    (void)state;
    enum { B = EVAL_B };
    int idx[B];
    for (int i = 0; i < B; i++) idx[i] = 100 + 37 * i;
    eval_case c = eval_case_open(3, idx);
    agecl_model *m = c.m;
    agecl_batch *b = c.b;
    int S = c.S;
    agecl_eval_result plain, flip;
    TEST_OK(agecl_evaluate(m, c.ds, idx, B, 0, 0, NULL, &plain));
    TEST_OK(agecl_evaluate(m, c.ds, idx, B, 0, AGECL_EVAL_FLIP, NULL, &flip));
    float a1[B], a2[B], *mirror = malloc((size_t)B * 3 * S * S * sizeof *mirror);
    agecl_outputs o1 = {a1, NULL, NULL, NULL}, o2 = {a2, NULL, NULL, NULL};
    TEST_OK(agecl_model_forward(m, b->images, 0));
    TEST_OK(agecl_model_outputs(m, &o1));
    for (int r = 0; r < B * 3 * S; r++)
        for (int x = 0; x < S; x++) mirror[r * S + x] = b->images[r * S + S - 1 - x];
    TEST_OK(agecl_model_forward(m, mirror, 0));
    TEST_OK(agecl_model_outputs(m, &o2));
    double mae1 = 0, mae_mean = 0;
    int differ = 0;
    for (int i = 0; i < B; i++) {
        mae1 += fabs(a1[i] - b->ages[i]) / B;
        mae_mean += fabs(0.5 * (a1[i] + a2[i]) - b->ages[i]) / B;
        differ += a1[i] != a2[i];
    }
    assert_true(differ > 0); /* a mirror is another input */
    assert_float_equal(plain.mae, mae1, 1e-4);
    assert_float_equal(flip.mae, mae_mean, 1e-4);
    free(mirror);
    eval_case_close(&c);
}

/* The centre keep of each side of B images of 3 x S x S, resized back to S x S:
 * bilinear, pixel centres mapped, edges clamped (double-precision reference). */
static void ref_zoom(const float *in, float *out, int B, int S, double keep)
{
    double off = 0.5 * (1.0 - keep) * S;
    for (int p = 0; p < B * 3; p++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double sy = off + (y + 0.5) * keep - 0.5, sx = off + (x + 0.5) * keep - 0.5;
                int y0 = (int)floor(sy), x0 = (int)floor(sx);
                double fy = sy - y0, fx = sx - x0, v = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int yy = y0 + dy < 0 ? 0 : y0 + dy > S - 1 ? S - 1 : y0 + dy;
                        int xx = x0 + dx < 0 ? 0 : x0 + dx > S - 1 ? S - 1 : x0 + dx;
                        v += (dy ? fy : 1 - fy) * (dx ? fx : 1 - fx) *
                             in[((size_t)p * S + yy) * S + xx];
                    }
                out[((size_t)p * S + y) * S + x] = (float)v;
            }
}

/* AGECL_EVAL_ZOOM: the MAE of the mean prediction over the image and its centre zoom
 * (with FLIP: and both mirrors), the views built here; the predictor, opened on a
 * checkpoint of a recipe that validates so, predicts a face as evaluation does. */
static void test_eval_zoom_is_mean_of_views(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    enum { B = EVAL_B };
    int idx[B];
    for (int i = 0; i < B; i++) idx[i] = 90 + 41 * i;
    eval_case c = eval_case_open(5, idx);
    agecl_model *m = c.m;
    agecl_dataset *ds = c.ds;
    agecl_batch *b = c.b;
    int S = c.S;
    agecl_eval_result zoom, both;
    TEST_OK(agecl_evaluate(m, ds, idx, B, 0, AGECL_EVAL_ZOOM, NULL, &zoom));
    TEST_OK(agecl_evaluate(m, ds, idx, B, 0, AGECL_EVAL_FLIP | AGECL_EVAL_ZOOM, NULL, &both));
    size_t numel = (size_t)B * 3 * S * S;
    float *view[4], a[4][B];
    for (int v = 0; v < 4; v++) view[v] = malloc(numel * sizeof(float));
    memcpy(view[0], b->images, numel * sizeof(float));
    for (size_t r = 0; r < (size_t)B * 3 * S; r++) /* the mirror */
        for (int x = 0; x < S; x++) view[1][r * S + x] = b->images[r * S + S - 1 - x];
    ref_zoom(view[0], view[2], B, S, AGECL_EVAL_ZOOM_KEEP);
    ref_zoom(view[1], view[3], B, S, AGECL_EVAL_ZOOM_KEEP);
    for (int v = 0; v < 4; v++) {
        agecl_outputs o = {a[v], NULL, NULL, NULL};
        TEST_OK(agecl_model_forward(m, view[v], 0));
        TEST_OK(agecl_model_outputs(m, &o));
    }
    double mae_zoom = 0, mae_both = 0;
    int differ = 0;
    for (int i = 0; i < B; i++) {
        mae_zoom += fabs(0.5 * (a[0][i] + a[2][i]) - b->ages[i]) / B;
        mae_both += fabs(0.25 * (a[0][i] + a[1][i] + a[2][i] + a[3][i]) - b->ages[i]) / B;
        differ += fabsf(a[0][i] - a[2][i]) > 1e-3f;
    }
    assert_true(differ > 0); /* a zoom is another input */
    assert_float_equal(zoom.mae, mae_zoom, 1e-3);
    assert_float_equal(both.mae, mae_both, 1e-3);
    for (int v = 0; v < 4; v++) free(view[v]);

    /* the predictor of a scratch-recipe checkpoint (flip and zoom) against evaluation */
    char model[700];
    snprintf(model, sizeof model, "%s/best.safetensors", tmp_path("plain-straight"));
    unsigned flags;
    TEST_OK(agecl_checkpoint_eval_flags(model, &flags));
    assert_int_equal(flags, AGECL_EVAL_FLIP | AGECL_EVAL_ZOOM);
    agecl_model_config cfg;
    TEST_OK(agecl_model_config_read(model, &cfg));
    agecl_model *one_model;
    TEST_OK(agecl_model_create(ctx, &cfg, 1, 0, &one_model));
    TEST_OK(agecl_model_load(one_model, model, 0));
    int one = 100;
    agecl_eval_result r;
    TEST_OK(agecl_evaluate(one_model, ds, &one, 1, 0, flags, NULL, &r));
    agecl_predictor *p;
    agecl_prediction pr;
    TEST_OK(agecl_predictor_open(&p, model, NULL));
    TEST_OK(agecl_predictor_file(p, agecl_dataset_sample(ds, one)->path, agecl_dataset_crop(ds),
                                 &pr));
    assert_float_equal(fabs(pr.age - agecl_dataset_sample(ds, one)->age), r.mae, 1e-3);
    /* the face alone, when asked: as evaluation without views, and so does the tool */
    assert_int_equal(agecl_predictor_views(p), AGECL_EVAL_FLIP | AGECL_EVAL_ZOOM);
    agecl_predictor_set_views(p, 0);
    TEST_OK(agecl_evaluate(one_model, ds, &one, 1, 0, 0, NULL, &r));
    TEST_OK(agecl_predictor_file(p, agecl_dataset_sample(ds, one)->path, agecl_dataset_crop(ds),
                                 &pr));
    assert_float_equal(fabs(pr.age - agecl_dataset_sample(ds, one)->age), r.mae, 1e-3);
    char cmd[2048], out[2048] = "", want[64];
    snprintf(cmd, sizeof cmd, "%s predict --json --no-flip --no-zoom --crop %s --model %s %s",
             getenv("AGECL_TOOL"), agecl_dataset_crop(ds) == AGECL_CROP_FULL ? "full" : "center",
             model, agecl_dataset_sample(ds, one)->path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    out[fread(out, 1, sizeof out - 1, f)] = '\0';
    assert_int_equal(pclose(f), 0);
    snprintf(want, sizeof want, "\"age\": %.2f", pr.age);
    if (!strstr(out, want)) fail_msg("predict --no-flip --no-zoom printed %s, not %s", out, want);
    agecl_predictor_close(p);
    agecl_model_destroy(one_model);
    eval_case_close(&c);
}

/* Each sample's prediction by m (the mean of the image and its mirror with flip),
 * batch by batch as a user would run it. */
static void predict_samples(agecl_model *m, const agecl_dataset *ds, const int *idx, int n, int flip,
                            float *age, float *gp, int *true_age, int *gender)
{
    int B = agecl_model_batch(m), S = agecl_model_config_of(m)->input_size;
    size_t image = (size_t)3 * S * S;
    agecl_loader_options lo;
    agecl_loader_defaults(&lo);
    lo.batch_size = B, lo.image_size = S, lo.threads = 0;
    agecl_loader *loader;
    TEST_OK(agecl_loader_create(&loader, ds, idx, n, &lo));
    TEST_OK(agecl_loader_start_epoch(loader, 0));
    float *x = calloc((size_t)B * image, sizeof *x), *mx = calloc((size_t)B * image, sizeof *mx);
    float a[B], g[B], a2[B], g2[B];
    int done = 0;
    agecl_batch *b;
    while (agecl_loader_next(loader, &b) == AGECL_OK && b) {
        memcpy(x, b->images, (size_t)b->count * image * sizeof *x);
        for (size_t r = 0; r < (size_t)B * 3 * S; r++)
            for (int c = 0; c < S; c++) mx[r * S + c] = x[r * S + S - 1 - c];
        agecl_outputs o = {a, g, NULL, NULL}, o2 = {a2, g2, NULL, NULL};
        TEST_OK(agecl_model_forward(m, x, 0));
        TEST_OK(agecl_model_outputs(m, &o));
        TEST_OK(agecl_model_forward(m, mx, 0));
        TEST_OK(agecl_model_outputs(m, &o2));
        for (int i = 0; i < b->count; i++, done++) {
            age[done] = flip ? 0.5f * (a[i] + a2[i]) : a[i];
            gp[done] = flip ? 0.5f * (g[i] + g2[i]) : g[i];
            true_age[done] = b->ages[i], gender[done] = b->genders[i];
        }
        agecl_loader_release(loader, b);
    }
    assert_int_equal(done, n);
    agecl_loader_free(loader);
    free(x);
    free(mx);
}

/* agecl_ensemble: the metrics of the mean prediction of models of different input
 * sizes, batches (a padded last batch) and flags; a sample listed twice is refused. */
static void test_ensemble_is_mean_of_models(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_dataset *ds;
    TEST_OK(agecl_dataset_open(&ds, utkface(), 0));
    agecl_model_config ca, cb;
    const int *ages;
    TEST_OK(agecl_model_preset("tiny", &ca));
    int nages = agecl_dataset_age_labels(ds, &ages);
    TEST_OK(agecl_model_config_set_ages(&ca, ages, nages));
    cb = ca;
    cb.input_size = 24;
    agecl_model *ma, *mb;
    TEST_OK(agecl_model_create(ctx, &ca, 8, 0, &ma));
    TEST_OK(agecl_model_create(ctx, &cb, 3, 0, &mb));
    TEST_OK(agecl_model_init(ma, 3));
    TEST_OK(agecl_model_init(mb, 5));
    enum { N = 11 };
    int idx[N];
    for (int i = 0; i < N; i++) idx[i] = 50 + 41 * i;
    float a1[N], g1[N], a2[N], g2[N];
    int age[N], gender[N];
    predict_samples(ma, ds, idx, N, 0, a1, g1, age, gender);
    predict_samples(mb, ds, idx, N, 1, a2, g2, age, gender);
    double mae = 0, mae1 = 0, ok = 0, labelled = 0;
    for (int i = 0; i < N; i++) {
        mae += fabs(0.5 * ((double)a1[i] + a2[i]) - age[i]) / N;
        mae1 += fabs((double)a1[i] - age[i]) / N;
        if (gender[i] < 0) continue;
        labelled++;
        ok += (0.5 * ((double)g1[i] + g2[i]) > 0.5) == gender[i];
    }
    agecl_ensemble *e;
    agecl_eval_result r, one;
    TEST_OK(agecl_ensemble_create(&e, ds));
    TEST_OK(agecl_ensemble_add(e, ma, idx, N, 0, 0, NULL));
    TEST_OK(agecl_ensemble_result(e, &one));
    TEST_OK(agecl_ensemble_add(e, mb, idx, N, 2, AGECL_EVAL_FLIP, NULL));
    TEST_OK(agecl_ensemble_result(e, &r));
    agecl_ensemble_free(e);
    assert_int_equal(r.n, N);
    assert_float_equal(one.mae, mae1, 1e-4);
    assert_float_equal(r.mae, mae, 1e-4);
    assert_true(fabs(r.mae - mae1) > 1e-3); /* the second model moved the mean */
    assert_int_equal(r.gender_n, (int)labelled);
    assert_float_equal(r.gender_acc, 100.0 * ok / labelled, 1e-9);

    int twice[3] = {7, 9, 7};
    TEST_OK(agecl_ensemble_create(&e, ds));
    assert_int_equal(agecl_ensemble_add(e, ma, twice, 3, 0, 0, NULL), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "sample 7 is listed twice"));
    agecl_ensemble_free(e);
    agecl_model_destroy(ma);
    agecl_model_destroy(mb);
    agecl_dataset_free(ds);
}

static void get_all(agecl_model *m, float **out)
{
    for (int i = 0; i < agecl_model_tensor_count(m); i++) {
        int kind, shape[4];
        agecl_model_tensor_name(m, i, &kind, shape);
        size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
        out[i] = malloc(n * sizeof **out);
        TEST_OK(agecl_model_tensor_get(m, i, 0, out[i]));
    }
}

/* The moving average of the weights: started as a copy, then d avg + (1 - d) w
 * for the parameters and running statistics, rapl.R shared; swapped in and out
 * exactly; saved with the optimizer state and loaded back. */
static void test_weight_average(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_model *m = tiny_model(ctx, 2, 16, AGECL_MODEL_TRAIN);
    int count = agecl_model_tensor_count(m), R = agecl_model_tensor_find(m, "rapl.R");
    assert_true(R >= 0);
    assert_false(agecl_model_has_ema(m));
    assert_int_equal(agecl_model_ema_swap(m), AGECL_E_INVALID_ARG);
    float **w0 = calloc((size_t)count, sizeof *w0), **w1 = calloc((size_t)count, sizeof *w1);
    float **got = calloc((size_t)count, sizeof *got);
    get_all(m, w0);
    TEST_OK(agecl_model_ema_update(m, 0.9)); /* starts as a copy: the 0.9 is not used */
    assert_true(agecl_model_has_ema(m));
    one_step(m); /* new weights and running statistics */
    int shape[4], kind;
    agecl_model_tensor_name(m, R, &kind, shape);
    test_rng r = test_rng_seed(17);
    float *refs = test_random(&r, (size_t)shape[0] * shape[1], -1, 1);
    TEST_OK(agecl_model_tensor_set(m, R, 0, refs));
    free(refs);
    get_all(m, w1);
    TEST_OK(agecl_model_ema_update(m, 0.75));
    TEST_OK(agecl_model_ema_swap(m));
    assert_int_equal(agecl_model_ema_update(m, 0.75), AGECL_E_INVALID_ARG);
    assert_int_equal(agecl_model_save(m, tmp_path("swapped.safetensors"), 1, NULL),
                     AGECL_E_INVALID_ARG);
    get_all(m, got);
    int changed = 0;
    for (int i = 0; i < count; i++) {
        const char *name = agecl_model_tensor_name(m, i, &kind, shape);
        size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
        for (size_t k = 0; k < n; k++) {
            double want = i == R ? w1[i][k] : 0.75 * w0[i][k] + 0.25 * w1[i][k];
            if (fabs(got[i][k] - want) > 1e-6 * (1 + fabs(want)))
                fail_msg("%s[%zu]: average %.9g, want %.9g", name, k, got[i][k], want);
            changed += w0[i][k] != w1[i][k];
        }
        free(got[i]);
    }
    assert_true(changed > 100);
    TEST_OK(agecl_model_ema_swap(m));
    get_all(m, got);
    for (int i = 0; i < count; i++) {
        agecl_model_tensor_name(m, i, &kind, shape);
        assert_memory_equal(got[i], w1[i], (size_t)shape[0] * shape[1] * shape[2] * shape[3] * 4);
        free(got[i]), free(w0[i]), free(w1[i]);
    }
    /* Saved with the optimizer, the average comes back. */
    TEST_OK(agecl_model_save(m, tmp_path("ema.safetensors"), 1, NULL));
    agecl_model *b;
    TEST_OK(agecl_model_create(ctx, agecl_model_config_of(m), 2, AGECL_MODEL_TRAIN, &b));
    TEST_OK(agecl_model_load(b, tmp_path("ema.safetensors"), 1));
    assert_true(agecl_model_has_ema(b));
    assert_same_tensors(m, b, 1);
    TEST_OK(agecl_model_ema_swap(m));
    TEST_OK(agecl_model_ema_swap(b));
    assert_same_tensors(m, b, 0);
    free(w0), free(w1), free(got);
    agecl_model_destroy(m);
    agecl_model_destroy(b);

    /* The decay's warm-up: (1 + t) / (10 + t) until it reaches the decay. */
    assert_float_equal(agecl_train_ema_decay(0.999, 1), 2.0 / 11, 1e-15);
    assert_float_equal(agecl_train_ema_decay(0.999, 80), 0.9, 1e-15);
    assert_float_equal(agecl_train_ema_decay(0.999, 1000000), 0.999, 1e-15);
    assert_float_equal(agecl_train_ema_decay(0.1, 1), 0.1, 1e-15);
}

static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_model *a = tiny_model(ctx, 2, 16, AGECL_MODEL_TRAIN);
    one_step(a);
    const char *meta[] = {"note", "round trip", NULL};
    TEST_OK(agecl_model_save(a, tmp_path("a.safetensors"), 1, meta));
    agecl_model_config cfg;
    TEST_OK(agecl_model_config_read(tmp_path("a.safetensors"), &cfg));
    assert_memory_equal(&cfg.units, &agecl_model_config_of(a)->units, sizeof cfg.units);
    assert_int_equal(cfg.n_ages, 5);
    assert_true(cfg.ages[4] == 50.0f);
    agecl_model *b;
    TEST_OK(agecl_model_create(ctx, &cfg, 2, AGECL_MODEL_TRAIN, &b));
    TEST_OK(agecl_model_load(b, tmp_path("a.safetensors"), 1));
    assert_same_tensors(a, b, 1);
    agecl_model_destroy(a);
    agecl_model_destroy(b);
}

static void test_bad_checkpoints_rejected(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_model *a = tiny_model(ctx, 2, 16, 0);
    agecl_model *wide = tiny_model(ctx, 2, 20, 0);
    TEST_OK(agecl_model_save(wide, tmp_path("wide.safetensors"), 0, NULL));
    assert_int_equal(agecl_model_load(a, tmp_path("wide.safetensors"), 0), AGECL_E_SHAPE);
    assert_non_null(strstr(agecl_last_error(), "wide.safetensors"));
    assert_non_null(strstr(agecl_last_error(), "stage3.0"));

    TEST_OK(agecl_model_save(a, tmp_path("good.safetensors"), 0, NULL));
    struct stat st;
    assert_int_equal(stat(tmp_path("good.safetensors"), &st), 0);
    FILE *in = fopen(tmp_path("good.safetensors"), "rb"), *out = fopen(tmp_path("cut.safetensors"), "wb");
    char *buf = malloc((size_t)st.st_size);
    assert_int_equal(fread(buf, 1, (size_t)st.st_size, in), (size_t)st.st_size);
    fwrite(buf, 1, (size_t)st.st_size / 2, out);
    fclose(in);
    fclose(out);
    free(buf);
    assert_int_equal(agecl_model_load(a, tmp_path("cut.safetensors"), 0), AGECL_E_FORMAT);
    assert_non_null(strstr(agecl_last_error(), "cut.safetensors"));
    agecl_model_config cfg;
    assert_int_equal(agecl_model_config_read(tmp_path("cut.safetensors"), &cfg), AGECL_E_FORMAT);
    assert_int_equal(agecl_model_load(a, tmp_path("missing.safetensors"), 0), AGECL_E_IO);
    /* A model saved without Adam's state cannot resume training. */
    assert_int_equal(agecl_model_load(a, tmp_path("good.safetensors"), 1), AGECL_E_FORMAT);
    assert_non_null(strstr(agecl_last_error(), "adam.m."));
    char path[512];
    assert_int_equal(agecl_model_config_read(test_fixture("st_python.safetensors", path, sizeof path), &cfg),
                     AGECL_E_FORMAT);
    assert_non_null(strstr(agecl_last_error(), "not an agecl checkpoint"));
    agecl_model_destroy(a);
    agecl_model_destroy(wide);
}

/* Run `agecl ARGS...` in the background; returns its pid. */
static pid_t spawn_tool(const char *const *args)
{
    const char *tool = getenv("AGECL_TOOL");
    assert_non_null(tool);
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)tool;
    for (; args[n - 1] && n < 31; n++) argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, tool, NULL, NULL, argv, environ), 0);
    return pid;
}

static int wait_tool(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int log_lines(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static void assert_same_checkpoint_tensors(const char *a, const char *b)
{
    agecl_st_file *fa, *fb;
    TEST_OK(agecl_st_open(a, &fa));
    TEST_OK(agecl_st_open(b, &fb));
    assert_int_equal(agecl_st_count(fa), agecl_st_count(fb));
    for (size_t i = 0; i < agecl_st_count(fa); i++) {
        agecl_st_info x, y;
        TEST_OK(agecl_st_find(fa, agecl_st_name(fa, i), &x));
        TEST_OK(agecl_st_find(fb, agecl_st_name(fa, i), &y));
        assert_int_equal(x.nbytes, y.nbytes);
        if (memcmp(x.data, y.data, x.nbytes))
            fail_msg("tensor %s differs between %s and %s", x.name, a, b);
    }
    const char *sa = agecl_st_meta(fa, "step"), *sb = agecl_st_meta(fb, "step");
    assert_true((sa == NULL) == (sb == NULL));
    if (sa) assert_string_equal(sa, sb);
    agecl_st_close(fa);
    agecl_st_close(fb);
}

/* A run killed once its first epoch is on disk, then resumed, ends as one never
 * interrupted; `option` (or NULL) and its value are added to both. */
static void resume_check(const char *name, const char *option, const char *value)
{
    char a[600], b[600], sub[64];
    snprintf(sub, sizeof sub, "%s-straight", name);
    snprintf(a, sizeof a, "%s", tmp_path(sub));
    snprintf(sub, sizeof sub, "%s-killed", name);
    snprintf(b, sizeof b, "%s", tmp_path(sub));
    const char *common[] = {"train", "--data", utkface(), "--preset", "tiny", "--epochs", "4",
                            "--batch", "16", "--limit", "96", "--workers", "2", "--quiet"};
    const char *args[24];
    int n = sizeof common / sizeof common[0];
    memcpy(args, common, sizeof common);
    if (option) args[n++] = option, args[n++] = value;
    args[n++] = "--out";
    args[n] = a, args[n + 1] = NULL;
    assert_int_equal(wait_tool(spawn_tool(args)), 0);

    /* The same run, killed once its first epoch is on disk, then resumed. */
    args[n] = b;
    pid_t pid = spawn_tool(args);
    struct timespec tick = {0, 500000};
    while (log_lines(b) < 1 && waitpid(pid, NULL, WNOHANG) == 0) nanosleep(&tick, NULL);
    kill(pid, SIGKILL);
    int status = wait_tool(pid);
    int done = log_lines(b);
    print_message("killed (status %d) with %d of 4 epochs on disk\n", status, done);
    assert_true(done >= 1 && done < 4);
    args[n + 1] = "--resume", args[n + 2] = NULL;
    assert_int_equal(wait_tool(spawn_tool(args)), 0);
    assert_int_equal(log_lines(b), 4);

    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/last.safetensors", a);
    snprintf(pb, sizeof pb, "%s/last.safetensors", b);
    assert_same_checkpoint_tensors(pa, pb);
    snprintf(pa, sizeof pa, "%s/best.safetensors", a);
    snprintf(pb, sizeof pb, "%s/best.safetensors", b);
    assert_same_checkpoint_tensors(pa, pb);
}

static void test_resume_after_kill_matches_uninterrupted(void **state)
{
    (void)state;
    resume_check("plain", NULL, NULL);
}

/* With a moving average of the weights: last.safetensors carries it ("ema.*"),
 * best.safetensors is the average, and resuming continues it exactly. */
/* Without validation (train+val) the state records no best MAE ("none"), and a
 * resumed run still ends as an uninterrupted one. */
static void test_resume_without_validation(void **state)
{
    (void)state;
    resume_check("final", "--train-on", "train+val");
    /* a run of the training split alone does not resume as train+val */
    const char *args[] = {"train", "--data", utkface(), "--preset", "tiny", "--epochs", "4",
                          "--batch", "16", "--limit", "96", "--workers", "2", "--quiet",
                          "--out", tmp_path("plain-straight"), "--resume", "--train-on",
                          "train+val", NULL};
    assert_int_equal(wait_tool(spawn_tool(args)), 1);
}

static void test_resume_with_weight_average(void **state)
{
    (void)state;
    resume_check("ema", "--ema", "0.9");
    char path[700];
    snprintf(path, sizeof path, "%s/last.safetensors", tmp_path("ema-straight"));
    agecl_st_file *last, *best;
    TEST_OK(agecl_st_open(path, &last));
    agecl_st_info info, avg;
    TEST_OK(agecl_st_find(last, "ema.stem.conv.weight", &info));
    TEST_OK(agecl_st_find(last, "ema.stem.bn.running_var", &info));
    assert_int_equal(agecl_st_find(last, "ema.rapl.R", &info), AGECL_E_FORMAT);
    snprintf(path, sizeof path, "%s/best.safetensors", tmp_path("ema-straight"));
    TEST_OK(agecl_st_open(path, &best));
    assert_string_equal(agecl_st_meta(best, "ema"), "0.9");
    /* The best epoch is the last here or not; either way best holds an average,
     * which differs from the weights of last. */
    TEST_OK(agecl_st_find(best, "stem.conv.weight", &info));
    TEST_OK(agecl_st_find(last, "stem.conv.weight", &avg));
    assert_true(memcmp(info.data, avg.data, info.nbytes) != 0);
    agecl_st_close(last);
    agecl_st_close(best);
}

/* Copy checkpoint src to dst with metadata key set to value. */
static void copy_with_meta(const char *src, const char *dst, const char *key, const char *value)
{
    agecl_st_file *f;
    agecl_st_writer *w;
    TEST_OK(agecl_st_open(src, &f));
    TEST_OK(agecl_st_writer_create(&w));
    for (size_t i = 0; i < agecl_st_count(f); i++) {
        agecl_st_info t;
        TEST_OK(agecl_st_find(f, agecl_st_name(f, i), &t));
        TEST_OK(agecl_st_writer_add(w, t.name, t.dtype, t.ndim, t.shape, t.data));
    }
    for (size_t i = 0; i < agecl_st_meta_count(f); i++) {
        const char *k = agecl_st_meta_key(f, i);
        TEST_OK(agecl_st_writer_meta(w, k, strcmp(k, key) ? agecl_st_meta(f, k) : value));
    }
    TEST_OK(agecl_st_writer_save(w, dst));
    agecl_st_writer_free(w);
    agecl_st_close(f);
}

/* Run cmd (its stderr joined to stdout by the caller's 2>&1), keep up to len - 1
 * bytes of what it printed in out, return its wait status. */
static int run_capture(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, len - 1, p);
    out[got] = '\0';
    return pclose(p);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *s = calloc(1, 1 << 16);
    assert_non_null(s);
    size_t n = fread(s, 1, (1 << 16) - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* A trainer state with a number out of range, not a number, or inconsistent is
 * refused before anything is sized by it: a non-zero exit, a message naming the
 * file and the key, and the checkpoint left as it was. */
static void test_resume_refuses_damaged_state(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"epoch", "-1"},      {"epoch", "2x"},      {"step", "1e30"},       {"step", "-5"},
        {"batch", "abc"},     {"best_epoch", "3"},  {"best_val_mae", "nan"}, {"epoch", ""},
    };
    char src[700], dir[700], dst[800], err[800];
    snprintf(src, sizeof src, "%s/last.safetensors", tmp_path("plain-straight"));
    /* the run of 4 epochs ended: make it one epoch done, as a cut-off run would be */
    snprintf(dir, sizeof dir, "%s", tmp_path("damaged"));
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(dst, sizeof dst, "%s/last.safetensors", dir);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char one[800];
        snprintf(one, sizeof one, "%s/one.safetensors", dir);
        copy_with_meta(src, one, "epoch", "1");
        copy_with_meta(one, dst, "best_epoch", "1");
        copy_with_meta(dst, one, "step", "6");
        copy_with_meta(one, dst, bad[i][0], bad[i][1]);
        char *before = read_text(dst);
        const char *args[] = {"train", "--data", utkface(), "--preset", "tiny", "--epochs", "4",
                              "--batch", "16", "--limit", "96", "--workers", "2", "--quiet",
                              "--out", dir, "--resume", NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const char *tool = getenv("AGECL_TOOL");
        char *argv[24] = {(char *)tool};
        for (int a = 0; args[a]; a++) argv[a + 1] = (char *)args[a];
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, tool, &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        int status = wait_tool(pid);
        char *msg = read_text(err);
        print_message("%s = '%s': exit %d: %s", bad[i][0], bad[i][1], status, msg);
        if (status == 0 || status >= 128) fail_msg("exit status %d", status);
        assert_non_null(strstr(msg, "last.safetensors"));
        assert_non_null(strstr(msg, bad[i][0]));
        char *after = read_text(dst);
        assert_memory_equal(before, after, 1 << 16);
        free(before);
        free(after);
        free(msg);
    }
}

static void test_eval_json(void **state)
{
    (void)state;
    const char *tool = getenv("AGECL_TOOL");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s eval --model %s/best.safetensors --data %s --split test "
             "--limit 40 --json", tool, tmp_path("plain-straight"), utkface());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096] = "";
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(out, "\"n\": 40,"));
    const char *keys[] = {"\"mae\": ", "\"cs5\": ", "\"gender_acc\": ", "\"confidence_t1\": "};
    for (int i = 0; i < 4; i++) {
        const char *k = strstr(out, keys[i]);
        if (!k) fail_msg("eval --json lacks %s: %s", keys[i], out);
        double v = strtod(k + strlen(keys[i]), NULL);
        assert_true(v >= 0 && v <= 100 + 1e-9 + (i == 0 ? 1000 : 0));
    }
    assert_non_null(strstr(out, "\"skipped\": 0,"));

    /* an ensemble of a model with itself is the model; a missing file is named */
    char twice[2048];
    snprintf(twice, sizeof twice, "%s eval --model %s/best.safetensors --model %s/best.safetensors "
             "--data %s --split test --limit 40 --json 2>/dev/null", tool, tmp_path("plain-straight"),
             tmp_path("plain-straight"), utkface());
    p = popen(twice, "r");
    assert_non_null(p);
    char out2[4096] = "";
    got = fread(out2, 1, sizeof out2 - 1, p);
    out2[got] = '\0';
    assert_int_equal(pclose(p), 0);
    if (strcmp(out, out2)) fail_msg("one model: %s\ntwice: %s", out, out2);
    snprintf(twice, sizeof twice, "%s eval --model %s/best.safetensors --model /nonexistent/m.st "
             "--data %s 2>&1", tool, tmp_path("plain-straight"), utkface());
    p = popen(twice, "r");
    assert_non_null(p);
    got = fread(out2, 1, sizeof out2 - 1, p);
    out2[got] = '\0';
    assert_int_equal(WEXITSTATUS(pclose(p)), 1);
    if (!strstr(out2, "/nonexistent/m.st")) fail_msg("the missing model is not named: %s", out2);
}

/* An output folder that cannot be written, or whose name is too long, is refused
 * before the data are read or a step is trained; stale temporary files of a killed
 * run are removed. */
static void test_train_checks_output_folder(void **state)
{
    (void)state;
    agecl_train_options o;
    agecl_train_defaults(&o);
    o.data = utkface();
    o.preset = "tiny";
    o.epochs = 1;
    o.batch = 16;
    o.progress = NULL;
    agecl_train_result r;
    char file[700], longname[1300], stale[800];
    snprintf(file, sizeof file, "%s", tmp_path("a-file"));
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    o.out_dir = file;
    assert_int_equal(agecl_train(&o, &r), AGECL_E_IO);
    assert_non_null(strstr(agecl_last_error(), "a-file"));
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    o.out_dir = longname;
    assert_int_equal(agecl_train(&o, &r), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "longer than"));
    snprintf(stale, sizeof stale, "%s/last.safetensors.tmp.AbC123", tmp_path("stale"));
    assert_int_equal(mkdir(tmp_path("stale"), 0755), 0);
    f = fopen(stale, "w");
    assert_non_null(f);
    fclose(f);
    o.out_dir = tmp_path("stale");
    o.data = "utkface:/nonexistent/agecl"; /* fails after the folder is checked */
    assert_true(agecl_train(&o, &r) != AGECL_OK);
    assert_non_null(strstr(agecl_last_error(), "/nonexistent/agecl"));
    struct stat st;
    assert_int_equal(stat(stale, &st), -1);
}

/* Training from an imported backbone (tests/fixtures/import.safetensors) with no
 * preset takes the file's backbone and starts the heads afresh; the result is a
 * whole model that predicts. */
static void test_train_from_imported_backbone(void **state)
{
    (void)state;
    char fixture[512], best[700];
    agecl_train_options o;
    agecl_train_defaults(&o);
    assert_null(o.preset);
    o.data = utkface();
    o.init = test_fixture("import.safetensors", fixture, sizeof fixture);
    o.out_dir = tmp_path("from_import");
    assert_int_equal(mkdir(o.out_dir, 0755), 0);
    o.epochs = 1, o.batch = 8, o.limit = 32, o.max_steps = 2;
    o.progress = NULL;
    o.skip_test = 1;
    agecl_train_result r;
    TEST_OK(agecl_train(&o, &r));
    assert_int_equal(r.epochs_done, 1);
    snprintf(best, sizeof best, "%s/best.safetensors", o.out_dir);
    agecl_model_config cfg;
    TEST_OK(agecl_model_config_read(best, &cfg)); /* heads and ages now */
    assert_int_equal(cfg.units[0], 2), assert_int_equal(cfg.channels[2], 16);
    assert_int_equal(cfg.input_size, 16);
    assert_true(cfg.n_ages > 2);
    /* With a preset of another backbone, the error names both. */
    o.preset = "tiny";
    o.out_dir = tmp_path("from_import_tiny");
    assert_int_equal(mkdir(o.out_dir, 0755), 0);
    assert_int_equal(agecl_train(&o, &r), AGECL_E_SHAPE);
    assert_non_null(strstr(agecl_last_error(), "tiny: units 1,1,1"));
}

/* One tensor of two checkpoints holds the same bytes. */
static int same_tensor(const char *a, const char *b, const char *name)
{
    agecl_st_file *fa, *fb;
    agecl_st_info x, y;
    TEST_OK(agecl_st_open(a, &fa));
    TEST_OK(agecl_st_open(b, &fb));
    TEST_OK(agecl_st_find(fa, name, &x));
    TEST_OK(agecl_st_find(fb, name, &y));
    int same = x.nbytes == y.nbytes && !memcmp(x.data, y.data, x.nbytes);
    agecl_st_close(fa);
    agecl_st_close(fb);
    return same;
}

/* --train-limit thins the training split alone; --train-on train+val trains on both
 * splits (steps counted), validates nothing, keeps the last epoch as the best model
 * and says so in the checkpoint and the log. */
static void test_train_limit_and_train_on_val(void **state)
{
    (void)state;
    agecl_train_options o;
    agecl_train_defaults(&o);
    o.data = utkface();
    o.preset = "tiny";
    o.epochs = 2, o.batch = 8, o.limit = 32;
    o.progress = NULL;
    o.skip_test = 1;
    agecl_train_result r;
    struct { const char *dir; int train_limit, on_val, steps; } runs[] = {
        {"split-train", 0, 0, 2 * 32 / 8},
        {"split-thin", 16, 0, 2 * 16 / 8},
        {"split-both", 0, 1, 2 * 64 / 8},
        {"split-thin-both", 16, 1, 2 * 48 / 8},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        o.out_dir = tmp_path(runs[i].dir);
        o.train_limit = runs[i].train_limit, o.train_on_val = runs[i].on_val;
        TEST_OK(agecl_train(&o, &r));
        assert_int_equal(r.steps, runs[i].steps);
        assert_int_equal(r.best_epoch, runs[i].on_val ? 2 : r.best_epoch);
        char best[700], last[700], log[700];
        snprintf(best, sizeof best, "%s/best.safetensors", o.out_dir);
        snprintf(last, sizeof last, "%s/last.safetensors", o.out_dir);
        snprintf(log, sizeof log, "%s/log.jsonl", o.out_dir);
        agecl_st_file *f;
        TEST_OK(agecl_st_open(best, &f));
        assert_string_equal(agecl_st_meta(f, "train_on"), runs[i].on_val ? "train+val" : "train");
        char limit[16];
        snprintf(limit, sizeof limit, "%d", runs[i].train_limit);
        assert_string_equal(agecl_st_meta(f, "train_limit"), limit);
        agecl_st_close(f);
        char *text = read_text(log);
        assert_int_equal(strstr(text, "\"val_mae\": null") != NULL, runs[i].on_val);
        free(text);
        if (runs[i].on_val) assert_true(same_tensor(best, last, "stem.conv.weight"));
    }
}

/* Numbers on the command line are parsed whole and in range, never cut or wrapped. */
static void test_cli_numbers_are_strict(void **state)
{
    (void)state;
    static const char *const bad[][3] = {
        {"train", "--batch", "abc"},   {"train", "--batch", "16x"},    {"train", "--epochs", "99999999999"},
        {"train", "--lr", "inf"},      {"train", "--lr", "nan"},       {"train", "--ema", "1"},
        {"eval", "--batch", "1e3"},    {"eval", "--limit", "-1"},      {"tune", "--budget", "abc"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[1400], out[1024] = "";
        const char *rest = !strcmp(bad[i][0], "train") ? "--data x --out y"
                           : !strcmp(bad[i][0], "eval") ? "--data x --model y" : "";
        snprintf(cmd, sizeof cmd, "%s %s %s %s '%s' 2>&1", getenv("AGECL_TOOL"), bad[i][0], rest,
                 bad[i][1], bad[i][2]);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t got = fread(out, 1, sizeof out - 1, p);
        out[got] = '\0';
        int status = pclose(p);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 2 || !strstr(out, bad[i][1]) ||
            !strstr(out, bad[i][2]))
            fail_msg("%s %s %s: status %d, said: %s", bad[i][0], bad[i][1], bad[i][2], status, out);
    }
}

/* A bad image among the training faces is named once on the progress stream and
 * counted in log.jsonl; training goes on. */
static void test_train_reports_bad_images(void **state)
{
    (void)state;
    char dir[700], path[900], cmd[2400];
    snprintf(dir, sizeof dir, "%s", tmp_path("one-bad"));
    assert_int_equal(mkdir(dir, 0755), 0);
    agecl_dataset *ds;
    TEST_OK(agecl_dataset_open(&ds, utkface(), 0));
    for (int i = 0; i < 60; i++) {
        const char *src = agecl_dataset_sample(ds, 200 + i)->path;
        snprintf(cmd, sizeof cmd, "ln -s '%s' '%s/%s'", src, dir, strrchr(src, '/') + 1);
        assert_int_equal(system(cmd), 0);
    }
    agecl_dataset_free(ds);
    /* a name the split puts in training or validation (the test split is not run) */
    char name[64];
    for (int k = 0;; k++) {
        snprintf(name, sizeof name, "30_1_0_2017010100000%04d.jpg.chip.jpg", k);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs("not an image", f);
        fclose(f);
        char spec[800];
        snprintf(spec, sizeof spec, "utkface:%s", dir);
        agecl_split sp;
        TEST_OK(agecl_dataset_open(&ds, spec, 0));
        TEST_OK(agecl_split_hash(&sp, ds));
        int in_test = 0;
        for (int i = 0; i < sp.count[AGECL_SPLIT_TEST]; i++)
            in_test |= !strcmp(agecl_dataset_sample(ds, sp.index[AGECL_SPLIT_TEST][i])->name, name);
        agecl_split_free(&sp);
        agecl_dataset_free(ds);
        if (!in_test) break;
        assert_int_equal(unlink(path), 0);
    }
    snprintf(cmd, sizeof cmd, "%s train --data utkface:%s --preset tiny --epochs 2 --batch 8 "
             "--workers 0 --no-test --out %s/run 2>&1", getenv("AGECL_TOOL"), dir, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char out[65536];
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_msg("train failed: %s", out);
    const char *first = strstr(out, "skipped ");
    if (!first || !strstr(first, name))
        fail_msg("the bad image is not named: %s", out);
    assert_null(strstr(strstr(first, "\n"), "skipped /")); /* named once */
    snprintf(path, sizeof path, "%s/run/log.jsonl", dir);
    char *log = read_text(path);
    int counted = strstr(log, "\"skipped\": 1,") != NULL || strstr(log, "\"val_skipped\": 1") != NULL;
    if (!counted) fail_msg("log.jsonl does not count it: %s", log);
    free(log);
}

/* A run that diverges (an absurd learning rate) stops with a message naming the
 * step and the loss, and leaves the last good checkpoint as it was. */
static void test_divergence_stops_and_keeps_checkpoint(void **state)
{
    (void)state;
    char dir[700], cmd[2400], last[800];
    snprintf(dir, sizeof dir, "%s", tmp_path("diverge"));
    snprintf(cmd, sizeof cmd, "cp -r %s %s", tmp_path("plain-straight"), dir);
    assert_int_equal(system(cmd), 0);
    snprintf(last, sizeof last, "%s/last.safetensors", dir);
    size_t n_before, n_after;
    unsigned char *before = test_read_file(last, &n_before);
    snprintf(cmd, sizeof cmd, "%s train --data %s --preset tiny --epochs 5 --batch 16 --limit 96 "
             "--workers 2 --quiet --lr 1e30 --resume --out %s 2>&1", getenv("AGECL_TOOL"),
             utkface(), dir);
    char out[4096] = "";
    int status = run_capture(cmd, out, sizeof out);
    print_message("%s", out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    assert_non_null(strstr(out, "epoch 5 step"));
    assert_non_null(strstr(out, "diverged"));
    unsigned char *after = test_read_file(last, &n_after);
    assert_true(n_before == n_after && !memcmp(before, after, n_before));
    free(before);
    free(after);
}

/* A folder where no image can be read gives an error naming one, not a NaN MAE. */
static void test_eval_refuses_unreadable_set(void **state)
{
    (void)state;
    char dir[700], path[800], cmd[2400];
    snprintf(dir, sizeof dir, "%s", tmp_path("all-bad"));
    assert_int_equal(mkdir(dir, 0755), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%d_%d_0_2017010%d.jpg.chip.jpg", dir, 20 + i, i % 2, i);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs("\xff\xd8\xff\xe0 not a JPEG after all", f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "%s eval --model %s/best.safetensors --data utkface:%s 2>&1",
             getenv("AGECL_TOOL"), tmp_path("plain-straight"), dir);
    char out[4096] = "";
    int status = run_capture(cmd, out, sizeof out);
    print_message("%s", out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    assert_non_null(strstr(out, "none of the 3 images could be read"));
    assert_non_null(strstr(out, ".jpg.chip.jpg"));
    assert_null(strstr(out, "nan"));

    /* with two good faces beside one bad: evaluated, the bad one named and counted */
    snprintf(path, sizeof path, "%s/21_1_0_20170101.jpg.chip.jpg", dir);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/22_0_0_20170102.jpg.chip.jpg", dir);
    assert_int_equal(unlink(path), 0);
    agecl_dataset *ds;
    TEST_OK(agecl_dataset_open(&ds, utkface(), 0));
    for (int i = 0; i < 2; i++) {
        const char *src = agecl_dataset_sample(ds, 10 + i)->path;
        snprintf(path, sizeof path, "%s/%s", dir, strrchr(src, '/') + 1);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, path);
        assert_int_equal(system(cmd), 0);
    }
    agecl_dataset_free(ds);
    snprintf(cmd, sizeof cmd, "%s eval --json --model %s/best.safetensors --data utkface:%s 2>&1",
             getenv("AGECL_TOOL"), tmp_path("plain-straight"), dir);
    status = run_capture(cmd, out, sizeof out);
    print_message("%s", out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(strstr(out, "skipped "));
    assert_non_null(strstr(out, "20_0_0_20170100.jpg.chip.jpg"));
    assert_non_null(strstr(out, "\"n\": 2, \"skipped\": 1,"));
}

static void test_predict_api_and_cli(void **state)
{
    (void)state;
    char model[700], face[700], dir[600];
    snprintf(model, sizeof model, "%s/best.safetensors", tmp_path("plain-straight"));
    agecl_dataset *ds;
    TEST_OK(agecl_dataset_open(&ds, utkface(), 0));
    snprintf(face, sizeof face, "%s", agecl_dataset_sample(ds, 100)->path);
    agecl_predictor *p;
    TEST_OK(agecl_predictor_open(&p, model, NULL));
    agecl_prediction from_file, from_rgb;
    TEST_OK(agecl_predictor_file(p, face, AGECL_CROP_CENTER_SQUARE, &from_file));
    assert_true(from_file.age >= 1 && from_file.age <= 116);
    assert_true(from_file.gender == 0 || from_file.gender == 1);
    assert_true(from_file.gender_p >= 0.5f && from_file.gender_p <= 1.0f);
    int is_label = 0; /* the position head names one of the data set's ages */
    const int *ages;
    for (int i = 0, n = agecl_dataset_age_labels(ds, &ages); i < n; i++)
        is_label |= ages[i] == (int)from_file.position_age;
    assert_true(is_label);
    /* The same face given as pixels (decoded at its own 200 x 200 size) predicts the
     * same age as the file. */
    uint8_t *rgb = malloc(200 * 200 * 3);
    TEST_OK(agecl_image_load(face, AGECL_CROP_FULL, 200, rgb));
    TEST_OK(agecl_predictor_rgb(p, rgb, 200, 200, AGECL_CROP_CENTER_SQUARE, &from_rgb));
    assert_true(fabsf(from_rgb.age - from_file.age) < 1e-3f);
    assert_int_equal(agecl_predictor_file(p, tmp_path("no-such.jpg"), AGECL_CROP_CENTER_SQUARE,
                                          &from_rgb), AGECL_E_IO);
    free(rgb);
    agecl_predictor_close(p);

    char cmd[2048], out[2048] = "";
    snprintf(dir, sizeof dir, "%s", getenv("AGECL_TOOL"));
    snprintf(cmd, sizeof cmd, "%s predict --json --model %s %s", dir, model, face);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t got = fread(out, 1, sizeof out - 1, f);
    out[got] = '\0';
    assert_int_equal(pclose(f), 0);
    char want[64];
    snprintf(want, sizeof want, "\"age\": %.2f", from_file.age);
    if (!strstr(out, want)) fail_msg("predict --json printed %s, expected %s", out, want);
    assert_non_null(strstr(out, "\"gender\": \""));

    /* an ensemble of the model with itself predicts as the model */
    char out2[2048] = "", cmd2[4096];
    snprintf(cmd2, sizeof cmd2, "%s predict --json --model %s --model %s %s", dir, model, model, face);
    f = popen(cmd2, "r");
    assert_non_null(f);
    got = fread(out2, 1, sizeof out2 - 1, f);
    out2[got] = '\0';
    assert_int_equal(pclose(f), 0);
    assert_string_equal(out, out2);
    agecl_dataset_free(ds);
}

/* The mean of an ensemble's predictions: ages, the position ages that exist, and
 * the gender of the larger mean probability. */
static void test_prediction_mean(void **state)
{
    (void)state;
    agecl_prediction r[3] = {{30.0f, 28.0f, 1, 0.75f}, {40.0f, NAN, 0, 0.625f}, {35.0f, 33.0f, 0, 0.875f}};
    agecl_prediction m;
    agecl_prediction_mean(r, 3, &m);
    assert_float_equal(m.age, 35.0, 1e-5);
    assert_float_equal(m.position_age, 30.5, 1e-5);
    /* P(female) = (0.75 + 0.375 + 0.125) / 3: male, with 1 - 1.25 / 3 */
    assert_int_equal(m.gender, 0);
    assert_float_equal(m.gender_p, 1 - 1.25 / 3, 1e-6);
    r[2].gender = 1; /* P(female) = (0.75 + 0.375 + 0.875) / 3 */
    agecl_prediction_mean(r, 3, &m);
    assert_int_equal(m.gender, 1);
    assert_float_equal(m.gender_p, 2.0 / 3, 1e-6);
    r[0].gender = r[1].gender = r[2].gender = -1;
    r[0].position_age = r[2].position_age = NAN;
    agecl_prediction_mean(r, 3, &m);
    assert_int_equal(m.gender, -1);
    assert_true(isnan(m.gender_p) && isnan(m.position_age));
}

/* Image names that are not plain text still give valid JSON lines. */
static void test_prediction_json_escapes_names(void **state)
{
    (void)state;
    agecl_prediction r = {31.25f, NAN, 1, 0.875f};
    char buf[512] = "";
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    assert_non_null(f);
    agecl_prediction_print_json("a\"b\\c\nd\x01\xff\xc3\xa9.jpg", &r, f);
    r.gender = -1;
    agecl_prediction_print_json("x", &r, f);
    fclose(f);
    assert_string_equal(buf,
        "{\"image\": \"a\\\"b\\\\c\\nd\\u0001\\ufffd\xc3\xa9.jpg\", \"age\": 31.25, "
        "\"position_age\": null, \"gender\": \"female\", \"gender_p\": 0.8750}\n"
        "{\"image\": \"x\", \"age\": 31.25, \"position_age\": null, \"gender\": null, "
        "\"gender_p\": null}\n");
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/agecl-test-train-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_falls_on_real_faces),
        cmocka_unit_test(test_reference_selection),
        cmocka_unit_test(test_lr_schedules_match_pytorch),
        cmocka_unit_test(test_recipes),
        cmocka_unit_test(test_decay_on_weights_only),
        cmocka_unit_test(test_eval_flip_is_mean_of_mirrors),
        cmocka_unit_test(test_ensemble_is_mean_of_models),
        cmocka_unit_test(test_weight_average),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_bad_checkpoints_rejected),
        cmocka_unit_test(test_resume_after_kill_matches_uninterrupted),
        cmocka_unit_test(test_resume_with_weight_average),
        cmocka_unit_test(test_resume_without_validation),
        cmocka_unit_test(test_resume_refuses_damaged_state),
        cmocka_unit_test(test_eval_json),
        cmocka_unit_test(test_eval_refuses_unreadable_set),
        cmocka_unit_test(test_train_checks_output_folder),
        cmocka_unit_test(test_train_from_imported_backbone),
        cmocka_unit_test(test_train_limit_and_train_on_val),
        cmocka_unit_test(test_cli_numbers_are_strict),
        cmocka_unit_test(test_train_reports_bad_images),
        cmocka_unit_test(test_divergence_stops_and_keeps_checkpoint),
        cmocka_unit_test(test_predict_api_and_cli),
        cmocka_unit_test(test_eval_zoom_is_mean_of_views),
        cmocka_unit_test(test_prediction_json_escapes_names),
        cmocka_unit_test(test_prediction_mean),
    };
    int failed = TEST_RUN_GROUP(tests, setup, teardown);
    test_ctx_release();
    return failed;
}
