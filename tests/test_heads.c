/* The heads' operations (include/agecl/losses.h, optim.h, RAPL in layers.h):
 * the double references (tests/ref_heads.c) against finite differences and
 * against each other, the
 * OpenCL kernels against the references, and both against PyTorch
 * (tests/fixtures/heads.safetensors, made by tools/fixtures/gen_heads.py).
 *
 * Tolerances (relative: max abs diff / max abs reference):
 *   1e-5  OpenCL float vs the double references, forward and gradients;
 *         the longest float sums are 256 channels or 64 samples.
 *   1e-6  finite differences of the references (double, h = 1e-6).
 *   1e-6  Adam after 12 float steps vs the double reference and vs PyTorch
 *         (measured: 1-2 float ulps of the parameters).
 *   Reference selection and counts are exact. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "agecl/layers.h"
#include "agecl/losses.h"
#include "agecl/optim.h"
#include "agecl/safetensors.h"
#include "ref_heads.h"

#define TOL 1e-5
#define FD_TOL 1e-6
#define ADAM_TOL 1e-6

/* ---- helpers ---- */

static double *random_d(test_rng *r, size_t n, double lo, double hi)
{
    double *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = test_rng_uniform(r, (float)lo, (float)hi);
    return x;
}

static float *to_float(const double *x, size_t n)
{
    float *y = malloc((n ? n : 1) * sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
    return y;
}

static agecl_tensor upload_d(int n, int c, int h, int w, const double *x)
{
    float *f = to_float(x, (size_t)n * c * h * w);
    agecl_tensor t = test_upload(test_ctx(), n, c, h, w, f);
    free(f);
    return t;
}

static agecl_tensor upload_i(int n, const int *x)
{
    double *d = malloc((size_t)n * sizeof *d);
    assert_non_null(d);
    for (int i = 0; i < n; i++) d[i] = x[i];
    agecl_tensor t = upload_d(n, 1, 1, 1, d);
    free(d);
    return t;
}

/* Download t and compare it with want (double). */
static void expect_close(const char *what, const agecl_tensor *t, const double *want, double tol)
{
    size_t n = agecl_tensor_numel(t);
    float *got = test_download(test_ctx(), t), *w = to_float(want, n);
    test_assert_close(what, got, w, n, tol);
    free(got);
    free(w);
}

/* Distinct sorted integer ages with gaps of 1 to 3, starting anywhere in [0, 10). */
static double *random_labels(test_rng *r, int n)
{
    double *l = malloc((size_t)n * sizeof *l);
    assert_non_null(l);
    l[0] = floor(test_rng_uniform(r, 0, 10));
    for (int k = 1; k < n; k++) l[k] = l[k - 1] + 1 + (double)(test_rng_u64(r) % 3);
    return l;
}

/* beta = 1 accumulation: out = old + grad. */
static double *plus(const double *old, const double *grad, size_t n)
{
    double *s = malloc(n * sizeof *s);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) s[i] = old[i] + grad[i];
    return s;
}

/* ---- DEX ---- */

typedef struct dex_case {
    int B, n;
    double *logits, *labels, *ages, scale;
} dex_case;

static dex_case dex_make(test_rng *r, int B, int n)
{
    dex_case d = {B, n, random_d(r, (size_t)B * n, -3, 3), random_labels(r, n), NULL, 0.7};
    d.ages = random_d(r, (size_t)B, d.labels[0] - 2, d.labels[n - 1] + 2);
    return d;
}

static void dex_free(dex_case *d)
{
    free(d->logits);
    free(d->labels);
    free(d->ages);
}

static double dex_loss(const void *state)
{
    const dex_case *d = state;
    double *pred = malloc((size_t)d->B * sizeof *pred), loss;
    ref_dex_forward(d->logits, d->labels, d->ages, d->B, d->n, pred, NULL, &loss);
    free(pred);
    return d->scale * loss;
}

static void test_dex_reference_gradient(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(11);
    int sizes[][2] = {{1, 2}, {3, 5}, {4, 9}};
    for (int s = 0; s < 3; s++) {
        dex_case d = dex_make(&r, sizes[s][0], sizes[s][1]);
        double *g = malloc((size_t)d.B * d.n * sizeof *g);
        ref_dex_backward(d.logits, d.labels, d.ages, d.B, d.n, d.scale, g);
        test_check_fd("dex dlogits", dex_loss, &d, d.logits, (size_t)d.B * d.n, g, FD_TOL);
        free(g);
        dex_free(&d);
    }
}

static void dex_check_opencl(test_rng *r, int B, int n)
{
    agecl_ctx *ctx = test_ctx();
    dex_case d = dex_make(r, B, n);
    size_t count = (size_t)B * n;
    double *pred = malloc(B * sizeof *pred), *err = malloc(B * sizeof *err), loss;
    double *grad = malloc(count * sizeof *grad), *old = random_d(r, count, -1, 1);
    ref_dex_forward(d.logits, d.labels, d.ages, B, n, pred, err, &loss);
    ref_dex_backward(d.logits, d.labels, d.ages, B, n, d.scale, grad);

    agecl_tensor tz = upload_d(B, n, 1, 1, d.logits), tl = upload_d(1, 1, 1, n, d.labels);
    agecl_tensor ta = upload_d(B, 1, 1, 1, d.ages);
    agecl_tensor tp = test_upload(ctx, B, 1, 1, 1, NULL), te = test_upload(ctx, B, 1, 1, 1, NULL);
    agecl_tensor ts = test_upload(ctx, 1, 1, 1, 1, NULL), tg = test_upload(ctx, B, n, 1, 1, NULL);
    TEST_OK(agecl_dex_forward(ctx, &tz, &tl, &ta, &tp, &te, &ts));
    expect_close("dex pred", &tp, pred, TOL);
    expect_close("dex abs_err", &te, err, TOL);
    expect_close("dex loss", &ts, &loss, TOL);

    /* Prediction only. */
    test_poison(ctx, &tp);
    TEST_OK(agecl_dex_forward(ctx, &tz, &tl, NULL, &tp, NULL, NULL));
    expect_close("dex pred (no ages)", &tp, pred, TOL);

    TEST_OK(agecl_dex_backward(ctx, &tz, &tl, &ta, (float)d.scale, 0.0f, &tg));
    expect_close("dex dlogits", &tg, grad, TOL);
    agecl_tensor_free(&tg);
    tg = upload_d(B, n, 1, 1, old);
    double *sum = plus(old, grad, count);
    TEST_OK(agecl_dex_backward(ctx, &tz, &tl, &ta, (float)d.scale, 1.0f, &tg));
    expect_close("dex dlogits (beta 1)", &tg, sum, TOL);

    free(sum);
    free(pred);
    free(err);
    free(grad);
    free(old);
    dex_free(&d);
    agecl_tensor *all[] = {&tz, &tl, &ta, &tp, &te, &ts, &tg};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) agecl_tensor_free(all[i]);
}

static void test_dex_opencl(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(12);
    dex_check_opencl(&r, 1, 2);
    dex_check_opencl(&r, 3, 5);
    dex_check_opencl(&r, 64, 101);
    dex_check_opencl(&r, 3, 101);
}

/* ---- label distribution (DLDL) ---- */

static double label_dist_loss(const void *state)
{
    const dex_case *d = state;
    return d->scale * ref_label_dist_forward(d->logits, d->labels, d->ages, d->B, d->n, 1.7);
}

static void test_label_dist_reference_gradient(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(13);
    int sizes[][2] = {{1, 2}, {3, 5}, {4, 9}};
    for (int s = 0; s < 3; s++) {
        dex_case d = dex_make(&r, sizes[s][0], sizes[s][1]);
        double *g = malloc((size_t)d.B * d.n * sizeof *g);
        ref_label_dist_backward(d.logits, d.labels, d.ages, d.B, d.n, 1.7, d.scale, g);
        test_check_fd("label_dist dlogits", label_dist_loss, &d, d.logits, (size_t)d.B * d.n, g,
                      FD_TOL);
        free(g);
        dex_free(&d);
    }
}

static void label_dist_check_opencl(test_rng *r, int B, int n, double sigma)
{
    agecl_ctx *ctx = test_ctx();
    dex_case d = dex_make(r, B, n);
    size_t count = (size_t)B * n;
    double loss = ref_label_dist_forward(d.logits, d.labels, d.ages, B, n, sigma);
    double *grad = malloc(count * sizeof *grad), *old = random_d(r, count, -1, 1);
    ref_label_dist_backward(d.logits, d.labels, d.ages, B, n, sigma, d.scale, grad);
    agecl_tensor tz = upload_d(B, n, 1, 1, d.logits), tl = upload_d(1, 1, 1, n, d.labels);
    agecl_tensor ta = upload_d(B, 1, 1, 1, d.ages);
    agecl_tensor ts = test_upload(ctx, 1, 1, 1, 1, NULL), tg = test_upload(ctx, B, n, 1, 1, NULL);
    test_poison(ctx, &ts);
    test_poison(ctx, &tg);
    TEST_OK(agecl_label_dist_forward(ctx, &tz, &tl, &ta, (float)sigma, &ts));
    expect_close("label_dist loss", &ts, &loss, TOL);
    TEST_OK(agecl_label_dist_backward(ctx, &tz, &tl, &ta, (float)sigma, (float)d.scale, 0.0f, &tg));
    expect_close("label_dist dlogits", &tg, grad, TOL);
    agecl_tensor_free(&tg);
    tg = upload_d(B, n, 1, 1, old);
    double *sum = plus(old, grad, count);
    TEST_OK(agecl_label_dist_backward(ctx, &tz, &tl, &ta, (float)sigma, (float)d.scale, 1.0f, &tg));
    expect_close("label_dist dlogits (beta 1)", &tg, sum, TOL);
    free(sum);
    free(grad);
    free(old);
    dex_free(&d);
    agecl_tensor *all[] = {&tz, &tl, &ta, &ts, &tg};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) agecl_tensor_free(all[i]);
}

static void test_label_dist_opencl(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(14);
    label_dist_check_opencl(&r, 1, 2, 2.0);
    label_dist_check_opencl(&r, 3, 5, 0.6);  /* a narrow target: nearly one label */
    label_dist_check_opencl(&r, 64, 101, 2.0);
    label_dist_check_opencl(&r, 3, 101, 7.5);
}

/* A prediction equal to the true age has gradient 0 (sign(0) = 0, as L1Loss). */
static void test_dex_sign_zero(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    double logits[] = {0, 0, 0.5, -0.5}, labels[] = {20, 40}, ages[] = {30, 25};
    double pred[2], grad[4];
    ref_dex_forward(logits, labels, ages, 2, 2, pred, NULL, NULL);
    assert_true(pred[0] == 30); /* uniform softmax: exactly the midpoint */
    ref_dex_backward(logits, labels, ages, 2, 2, 1.0, grad);
    agecl_tensor tz = upload_d(2, 2, 1, 1, logits), tl = upload_d(2, 1, 1, 1, labels);
    agecl_tensor ta = upload_d(2, 1, 1, 1, ages), tg = test_upload(ctx, 2, 2, 1, 1, NULL);
    TEST_OK(agecl_dex_backward(ctx, &tz, &tl, &ta, 1.0f, 0.0f, &tg));
    float *g = test_download(ctx, &tg);
    assert_true(g[0] == 0.0f && g[1] == 0.0f);
    assert_true(g[2] != 0.0f);
    float want[4];
    for (int i = 0; i < 4; i++) want[i] = (float)grad[i];
    test_assert_close("dex dlogits at sign 0", g, want, 4, TOL);
    free(g);
    agecl_tensor_free(&tz);
    agecl_tensor_free(&tl);
    agecl_tensor_free(&ta);
    agecl_tensor_free(&tg);
}

/* ---- softmax cross-entropy ---- */

typedef struct ce_case {
    int B, K;
    double *logits, scale;
    int *targets;
} ce_case;

/* Random targets, about one in five ignored (never all of them). */
static ce_case ce_make(test_rng *r, int B, int K)
{
    ce_case c = {B, K, random_d(r, (size_t)B * K, -3, 3), 1.3, malloc((size_t)B * sizeof(int))};
    assert_non_null(c.targets);
    for (int b = 0; b < B; b++)
        c.targets[b] = (b > 0 && test_rng_u64(r) % 5 == 0) ? -1 : (int)(test_rng_u64(r) % K);
    return c;
}

static double ce_loss(const void *state)
{
    const ce_case *c = state;
    double loss;
    ref_softmax_ce_forward(c->logits, c->targets, c->B, c->K, &loss, NULL);
    return c->scale * loss;
}

static void test_ce_reference_gradient(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(21);
    int sizes[][2] = {{1, 2}, {5, 2}, {6, 7}};
    for (int s = 0; s < 3; s++) {
        ce_case c = ce_make(&r, sizes[s][0], sizes[s][1]);
        double *g = malloc((size_t)c.B * c.K * sizeof *g);
        ref_softmax_ce_backward(c.logits, c.targets, c.B, c.K, c.scale, g);
        test_check_fd("ce dlogits", ce_loss, &c, c.logits, (size_t)c.B * c.K, g, FD_TOL);
        free(g);
        free(c.logits);
        free(c.targets);
    }
}

static void ce_check_opencl(test_rng *r, int B, int K)
{
    agecl_ctx *ctx = test_ctx();
    ce_case c = ce_make(r, B, K);
    size_t count = (size_t)B * K;
    double loss, *grad = malloc(count * sizeof *grad), *old = random_d(r, count, -1, 1);
    int *argmax = malloc((size_t)B * sizeof *argmax);
    ref_softmax_ce_forward(c.logits, c.targets, B, K, &loss, argmax);
    ref_softmax_ce_backward(c.logits, c.targets, B, K, c.scale, grad);

    agecl_tensor tz = upload_d(B, 1, 1, K, c.logits), tt = upload_i(B, c.targets);
    agecl_tensor ts = test_upload(ctx, 1, 1, 1, 1, NULL), tm = test_upload(ctx, B, 1, 1, 1, NULL);
    agecl_tensor tg = test_upload(ctx, B, 1, 1, K, NULL);
    TEST_OK(agecl_softmax_ce_forward(ctx, &tz, &tt, &ts, &tm));
    expect_close("ce loss", &ts, &loss, TOL);
    float *m = test_download(ctx, &tm);
    for (int b = 0; b < B; b++) assert_int_equal((int)m[b], argmax[b]);
    free(m);
    test_poison(ctx, &ts);
    TEST_OK(agecl_softmax_ce_forward(ctx, &tz, &tt, &ts, NULL));
    expect_close("ce loss (no argmax)", &ts, &loss, TOL);

    TEST_OK(agecl_softmax_ce_backward(ctx, &tz, &tt, (float)c.scale, 0.0f, &tg));
    expect_close("ce dlogits", &tg, grad, TOL);
    agecl_tensor_free(&tg);
    tg = upload_d(B, 1, 1, K, old);
    double *sum = plus(old, grad, count);
    TEST_OK(agecl_softmax_ce_backward(ctx, &tz, &tt, (float)c.scale, 1.0f, &tg));
    expect_close("ce dlogits (beta 1)", &tg, sum, TOL);

    free(sum);
    free(grad);
    free(old);
    free(argmax);
    free(c.logits);
    free(c.targets);
    agecl_tensor *all[] = {&tz, &tt, &ts, &tm, &tg};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) agecl_tensor_free(all[i]);
}

static void test_ce_opencl(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(22);
    ce_check_opencl(&r, 1, 2);
    ce_check_opencl(&r, 3, 5);
    ce_check_opencl(&r, 64, 2);
    ce_check_opencl(&r, 64, 101);
    ce_check_opencl(&r, 130, 3); /* more rows than work-items */
}

static void test_ce_all_ignored_and_invalid(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    double logits[] = {0.3, -1, 2, 0.5, 0.25, -0.75};
    int ignored[] = {-1, -1, -1}, bad[] = {0, 2, 1};
    agecl_tensor tz = upload_d(3, 2, 1, 1, logits), tt = upload_i(3, ignored);
    agecl_tensor ts = test_upload(ctx, 1, 1, 1, 1, NULL), tg = test_upload(ctx, 3, 2, 1, 1, NULL);
    TEST_OK(agecl_softmax_ce_forward(ctx, &tz, &tt, &ts, NULL));
    TEST_OK(agecl_softmax_ce_backward(ctx, &tz, &tt, 1.0f, 0.0f, &tg));
    float *loss = test_download(ctx, &ts), *g = test_download(ctx, &tg);
    assert_true(loss[0] == 0.0f);
    for (int i = 0; i < 6; i++) assert_true(g[i] == 0.0f);
    free(loss);
    free(g);

    /* Target 2 with K = 2 is out of range: the loss is NaN, not a stray read. */
    agecl_tensor tb = upload_i(3, bad);
    TEST_OK(agecl_softmax_ce_forward(ctx, &tz, &tb, &ts, NULL));
    loss = test_download(ctx, &ts);
    assert_true(isnan(loss[0]));
    free(loss);
    agecl_tensor_free(&tz);
    agecl_tensor_free(&tt);
    agecl_tensor_free(&tb);
    agecl_tensor_free(&ts);
    agecl_tensor_free(&tg);
}

/* ---- RAPL ---- */

typedef struct rapl_case {
    int B, C, n;
    double *feat, *refs, *p, *a, bias, *G;
} rapl_case;

static rapl_case rapl_make(test_rng *r, int B, int C, int n)
{
    rapl_case c = {B, C, n, random_d(r, (size_t)B * C, -1, 1), random_d(r, (size_t)n * C, -2, 2),
                   random_d(r, (size_t)n, 0.5, 1.5), random_d(r, (size_t)n, -1, 1),
                   test_rng_uniform(r, -1, 1), random_d(r, (size_t)B * C, -1, 1)};
    return c;
}

static void rapl_free(rapl_case *c)
{
    free(c->feat);
    free(c->refs);
    free(c->p);
    free(c->a);
    free(c->G);
}

/* L = sum(out * G). */
static double rapl_loss(const void *state)
{
    const rapl_case *c = state;
    size_t count = (size_t)c->B * c->C;
    double *out = malloc(count * sizeof *out), L = 0;
    ref_rapl_forward(c->feat, c->refs, c->p, c->a, c->bias, c->B, c->C, c->n, NULL, out);
    for (size_t i = 0; i < count; i++) L += out[i] * c->G[i];
    free(out);
    return L;
}

static void test_rapl_reference(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(31);
    int sizes[][3] = {{1, 3, 2}, {3, 7, 5}};
    for (int s = 0; s < 2; s++) {
        rapl_case c = rapl_make(&r, sizes[s][0], sizes[s][1], sizes[s][2]);
        size_t count = (size_t)c.B * c.C;
        double *cheap = malloc(count * sizeof *cheap), *expanded = malloc(count * sizeof *cheap);
        ref_rapl_forward(c.feat, c.refs, c.p, c.a, c.bias, c.B, c.C, c.n, NULL, cheap);
        ref_rapl_forward_expanded(c.feat, c.refs, c.p, c.a, c.bias, c.B, c.C, c.n, expanded);
        for (size_t i = 0; i < count; i++) assert_true(fabs(cheap[i] - expanded[i]) < 1e-12);

        double *dfeat = malloc(count * sizeof *dfeat), *dp = malloc(c.n * sizeof *dp);
        double *da = malloc(c.n * sizeof *da), dbias;
        ref_rapl_backward(c.G, c.feat, c.refs, c.p, c.a, c.B, c.C, c.n, dfeat, dp, da, &dbias);
        test_check_fd("rapl dfeat", rapl_loss, &c, c.feat, count, dfeat, FD_TOL);
        test_check_fd("rapl dp", rapl_loss, &c, c.p, (size_t)c.n, dp, FD_TOL);
        test_check_fd("rapl da", rapl_loss, &c, c.a, (size_t)c.n, da, FD_TOL);
        test_check_fd("rapl dbias", rapl_loss, &c, &c.bias, 1, &dbias, FD_TOL);
        free(cheap);
        free(expanded);
        free(dfeat);
        free(dp);
        free(da);
        rapl_free(&c);
    }
}

static void rapl_check_opencl(test_rng *r, int B, int C, int n)
{
    agecl_ctx *ctx = test_ctx();
    rapl_case c = rapl_make(r, B, C, n);
    size_t count = (size_t)B * C;
    double *gain = malloc(C * sizeof *gain), *out = malloc(count * sizeof *out);
    double *expanded = malloc(count * sizeof *out);
    double *dfeat = malloc(count * sizeof *dfeat), *dp = malloc(n * sizeof *dp);
    double *da = malloc(n * sizeof *da), dbias;
    ref_rapl_forward(c.feat, c.refs, c.p, c.a, c.bias, B, C, n, gain, out);
    ref_rapl_forward_expanded(c.feat, c.refs, c.p, c.a, c.bias, B, C, n, expanded);
    ref_rapl_backward(c.G, c.feat, c.refs, c.p, c.a, B, C, n, dfeat, dp, da, &dbias);

    agecl_tensor tf = upload_d(B, C, 1, 1, c.feat), tr = upload_d(n, C, 1, 1, c.refs);
    agecl_tensor tp = upload_d(n, 1, 1, 1, c.p), ta = upload_d(1, 1, 1, n, c.a);
    agecl_tensor tb = upload_d(1, 1, 1, 1, &c.bias), tdo = upload_d(B, C, 1, 1, c.G);
    agecl_tensor tgain = test_upload(ctx, C, 1, 1, 1, NULL);
    agecl_tensor tout = test_upload(ctx, B, C, 1, 1, NULL);
    TEST_OK(agecl_rapl_forward(ctx, &tf, &tr, &tp, &ta, &tb, &tgain, &tout));
    expect_close("rapl gain", &tgain, gain, TOL);
    expect_close("rapl out", &tout, out, TOL);
    expect_close("rapl out vs the expanded form", &tout, expanded, TOL);

    agecl_tensor tdg = test_upload(ctx, C, 1, 1, 1, NULL);
    agecl_tensor tdf = test_upload(ctx, B, C, 1, 1, NULL), tdp = test_upload(ctx, n, 1, 1, 1, NULL);
    agecl_tensor tda = test_upload(ctx, n, 1, 1, 1, NULL), tdb = test_upload(ctx, 1, 1, 1, 1, NULL);
    TEST_OK(agecl_rapl_backward(ctx, &tdo, &tf, &tr, &tp, &ta, &tgain, &tdg, 0.0f, &tdf, &tdp,
                                &tda, &tdb));
    expect_close("rapl dfeat", &tdf, dfeat, TOL);
    expect_close("rapl dp", &tdp, dp, TOL);
    expect_close("rapl da", &tda, da, TOL);
    expect_close("rapl dbias", &tdb, &dbias, TOL);

    /* beta 1: every gradient adds to what was there. */
    double *old_f = random_d(r, count, -1, 1), *old_p = random_d(r, n, -1, 1);
    double *old_a = random_d(r, n, -1, 1), old_b = 0.375;
    agecl_tensor_free(&tdf);
    agecl_tensor_free(&tdp);
    agecl_tensor_free(&tda);
    agecl_tensor_free(&tdb);
    tdf = upload_d(B, C, 1, 1, old_f), tdp = upload_d(n, 1, 1, 1, old_p);
    tda = upload_d(n, 1, 1, 1, old_a), tdb = upload_d(1, 1, 1, 1, &old_b);
    TEST_OK(agecl_rapl_backward(ctx, &tdo, &tf, &tr, &tp, &ta, &tgain, &tdg, 1.0f, &tdf, &tdp,
                                &tda, &tdb));
    double *sf = plus(old_f, dfeat, count), *sp = plus(old_p, dp, n), *sa = plus(old_a, da, n);
    double sb = old_b + dbias;
    expect_close("rapl dfeat (beta 1)", &tdf, sf, TOL);
    expect_close("rapl dp (beta 1)", &tdp, sp, TOL);
    expect_close("rapl da (beta 1)", &tda, sa, TOL);
    expect_close("rapl dbias (beta 1)", &tdb, &sb, TOL);

    double *heap[] = {gain, out, expanded, dfeat, dp, da, old_f, old_p, old_a, sf, sp, sa};
    for (size_t i = 0; i < sizeof heap / sizeof *heap; i++) free(heap[i]);
    rapl_free(&c);
    agecl_tensor *all[] = {&tf, &tr, &tp, &ta, &tb, &tdo, &tgain, &tout, &tdg, &tdf, &tdp, &tda,
                           &tdb};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) agecl_tensor_free(all[i]);
}

static void test_rapl_opencl(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(32);
    rapl_check_opencl(&r, 1, 3, 2);
    rapl_check_opencl(&r, 3, 130, 5);
    rapl_check_opencl(&r, 64, 256, 101);
}

/* ---- Adam ---- */

/* 12 steps on a view that starts inside its buffers; the elements around the
 * view must stay as they were. */
static void adam_check(test_rng *r, double weight_decay, int decoupled)
{
    agecl_ctx *ctx = test_ctx();
    const int count = 1237, pad = 64, steps = 12;
    const size_t total = (size_t)count + 2 * pad;
    /* A large rate, so that AdamW's shrink 1 - lr * wd is far from 1. */
    ref_adam cfg = {decoupled ? 0.1 : 1e-3, 0.9, 0.999, 1e-8, weight_decay, decoupled};
    agecl_adam_config acfg = agecl_adam_defaults(cfg.lr, weight_decay);
    acfg.decoupled = decoupled;
    double *p = random_d(r, total, -1, 1), *m = calloc(total, sizeof *m);
    double *v = calloc(total, sizeof *v);
    agecl_tensor bp = upload_d(1, 1, 1, (int)total, p), bm = upload_d(1, 1, 1, (int)total, m);
    agecl_tensor bv = upload_d(1, 1, 1, (int)total, v);
    agecl_tensor vp, vm, vv, vg;
    TEST_OK(agecl_tensor_view(&bp, pad, 1, count, 1, 1, &vp));
    TEST_OK(agecl_tensor_view(&bm, pad, 1, count, 1, 1, &vm));
    TEST_OK(agecl_tensor_view(&bv, pad, 1, count, 1, 1, &vv));
    agecl_tensor grads = test_upload(ctx, 1, 1, 1, count + 3, NULL);
    TEST_OK(agecl_tensor_view(&grads, 3, count, 1, 1, 1, &vg));
    for (int t = 1; t <= steps; t++) {
        double *g = random_d(r, count, -1, 1);
        float *gf = to_float(g, count);
        TEST_OK(agecl_tensor_write(ctx, &vg, gf));
        ref_adam_step(&cfg, t, p + pad, g, m + pad, v + pad, count);
        TEST_OK(agecl_adam_step(ctx, &acfg, t, &vp, &vg, &vm, &vv));
        expect_close("adam params", &vp, p + pad, ADAM_TOL);
        free(g);
        free(gf);
    }
    expect_close("adam m", &vm, m + pad, ADAM_TOL);
    expect_close("adam v", &vv, v + pad, ADAM_TOL);
    float *all = test_download(ctx, &bp);
    for (int i = 0; i < pad; i++) {
        assert_true(all[i] == (float)p[i]);
        assert_true(all[pad + count + i] == (float)p[pad + count + i]);
    }
    free(all);
    free(p);
    free(m);
    free(v);
    agecl_tensor_free(&bp);
    agecl_tensor_free(&bm);
    agecl_tensor_free(&bv);
    agecl_tensor_free(&grads);
}

static void test_adam_opencl(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(41);
    adam_check(&r, 1e-2, 0);
    adam_check(&r, 0, 0);
    adam_check(&r, 0.5, 1);
    adam_check(&r, 0, 1);
}

/* ---- moving average of weights ---- */

/* Updates and swaps on views that start inside their buffers, at awkward counts;
 * the elements around the views must stay as they were. */
static void ema_check(test_rng *r, int count)
{
    agecl_ctx *ctx = test_ctx();
    const int pad = 37;
    const size_t total = (size_t)count + 2 * pad;
    double *avg = random_d(r, total, -1, 1), *x = random_d(r, total, -2, 2);
    agecl_tensor ba = upload_d(1, 1, 1, (int)total, avg), bx = upload_d(1, 1, 1, (int)total, x);
    agecl_tensor va, vx;
    TEST_OK(agecl_tensor_view(&ba, pad, 1, count, 1, 1, &va));
    TEST_OK(agecl_tensor_view(&bx, pad + 1, count, 1, 1, 1, &vx));
    const double decays[] = {0.999, 0.5, 0.0, 1.0};
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < count; i++) {
            /* The kernel's order: avg * decay + (1 - decay) * x, each factor a float. */
            float d = (float)decays[k], e = (float)(1 - decays[k]);
            avg[pad + i] = (float)((float)avg[pad + i] * d) + e * (float)x[pad + 1 + i];
        }
        TEST_OK(agecl_ema_update(ctx, decays[k], &vx, &va));
        expect_close("ema_update", &va, avg + pad, 1e-6);
    }
    /* Swapping twice restores both exactly; once exchanges them. */
    float *a0 = test_download(ctx, &ba), *x0 = test_download(ctx, &bx);
    TEST_OK(agecl_ema_swap(ctx, &va, &vx));
    float *a1 = test_download(ctx, &ba), *x1 = test_download(ctx, &bx);
    for (size_t i = 0; i < total; i++) {
        int in_a = i >= (size_t)pad && i < (size_t)pad + count;
        int in_x = i >= (size_t)pad + 1 && i < (size_t)pad + 1 + count;
        assert_true(a1[i] == (in_a ? x0[i + 1] : a0[i]));
        assert_true(x1[i] == (in_x ? a0[i - 1] : x0[i]));
    }
    TEST_OK(agecl_ema_swap(ctx, &va, &vx));
    float *a2 = test_download(ctx, &ba), *x2 = test_download(ctx, &bx);
    assert_memory_equal(a2, a0, total * sizeof *a0);
    assert_memory_equal(x2, x0, total * sizeof *x0);
    float *ptrs[] = {a0, x0, a1, x1, a2, x2};
    for (int i = 0; i < 6; i++) free(ptrs[i]);
    free(avg);
    free(x);
    agecl_tensor_free(&ba);
    agecl_tensor_free(&bx);
}

static void test_ema_opencl(void **state)
{
    (void)state;
    test_rng r = test_rng_seed(43);
    ema_check(&r, 1);
    ema_check(&r, 257);
    ema_check(&r, 4099);
}

/* ---- reference selection ---- */

typedef struct selection_case {
    int S, C, n;
    double *err, *feat;
    int *pos;
} selection_case;

/* Random errors in [0.5, 20) and positions over n labels, with labels 0, 50,
 * 51, 60 and n - 1 left without a sample (60 sits between two labels at the
 * same distance: the lower one wins), two samples outside [0, n) and one NaN
 * error that would win if counted, planted minima (labels 2, 9, ... but 51),
 * and 40 exact ties at error 0 for labels 10 and 20. */
static selection_case selection_make(test_rng *r, int S, int C, int n, int *planted)
{
    selection_case c = {S, C, n, random_d(r, (size_t)S, 0.5, 20),
                        random_d(r, (size_t)S * C, -1, 1), malloc((size_t)S * sizeof(int))};
    assert_non_null(c.pos);
    for (int i = 0; i < S; i++) {
        int k;
        do k = (int)(test_rng_u64(r) % n);
        while (k == 0 || k == 50 || k == 51 || k == 60 || k == n - 1);
        c.pos[i] = k;
    }
    c.pos[7] = -1, c.pos[8] = n, c.err[7] = c.err[8] = 0; /* would win if counted */
    c.pos[0] = 31, c.err[0] = NAN; /* first in the scan of the work-item that keeps its own */
    for (int k = 0; k < n; k++) planted[k] = -1;
    for (int k = 2; k < n - 1; k += 7) {
        if (k == 51) continue;
        int i = 100 + k;
        c.pos[i] = k, c.err[i] = 0.01;
        planted[k] = i;
    }
    for (int t = 0; t < 40; t++) {
        c.pos[200 + t] = 10, c.err[200 + t] = 0;
        c.pos[300 + t] = 20, c.err[300 + t] = 0;
    }
    return c;
}

static void selection_free(selection_case *c)
{
    free(c->err);
    free(c->feat);
    free(c->pos);
}

/* Run the library on c with seed; compare with the reference; return the
 * chosen samples (malloc'd). */
static int *selection_run(const selection_case *c, agecl_tensor *terr, agecl_tensor *tpos,
                          agecl_tensor *tfeat, uint32_t seed)
{
    agecl_ctx *ctx = test_ctx();
    int n = c->n, filled = -1;
    int *sample = malloc((size_t)n * sizeof *sample), *want = malloc((size_t)n * sizeof *want);
    double *refs = malloc((size_t)n * c->C * sizeof *refs);
    int want_filled = ref_select_references(c->err, c->pos, c->feat, c->S, c->C, n, seed, want,
                                            refs);
    agecl_tensor index = test_upload(ctx, n, 1, 1, 1, NULL);
    agecl_tensor trefs = test_upload(ctx, n, c->C, 1, 1, NULL);
    TEST_OK(agecl_select_references(ctx, terr, tpos, tfeat, seed, &index, &trefs, sample,
                                    &filled));
    assert_int_equal(filled, want_filled);
    for (int k = 0; k < n; k++) assert_int_equal(sample[k], want[k]);
    /* A copy: bit for bit equal to the float features. */
    float *got = test_download(ctx, &trefs), *exact = to_float(refs, (size_t)n * c->C);
    assert_memory_equal(got, exact, (size_t)n * c->C * sizeof *got);
    free(got);
    free(exact);
    free(refs);
    free(want);
    agecl_tensor_free(&index);
    agecl_tensor_free(&trefs);
    return sample;
}

static void selection_check(int S, int C, int n)
{
    test_rng r = test_rng_seed(51 + (uint64_t)S);
    int *planted = malloc((size_t)n * sizeof *planted);
    selection_case c = selection_make(&r, S, C, n, planted);
    agecl_tensor terr = upload_d(S, 1, 1, 1, c.err), tfeat = upload_d(S, C, 1, 1, c.feat);
    agecl_tensor tpos = upload_i(S, c.pos);

    int *first = selection_run(&c, &terr, &tpos, &tfeat, 1);
    for (int k = 0; k < n; k++)
        if (planted[k] >= 0) assert_int_equal(first[k], planted[k]);
    int empty[] = {0, 50, 51, 60, n - 1};
    for (int e = 0; e < 5; e++) assert_int_equal(first[empty[e]], -1);
    assert_true(first[10] >= 200 && first[10] < 240);
    assert_true(first[20] >= 300 && first[20] < 340);
    assert_true(first[31] != 0);

    int *again = selection_run(&c, &terr, &tpos, &tfeat, 1);
    assert_memory_equal(first, again, (size_t)n * sizeof *first);
    /* Other seeds pick other samples among the 40 ties, at least once. */
    int differs = 0;
    for (uint32_t seed = 2; seed < 6; seed++) {
        int *other = selection_run(&c, &terr, &tpos, &tfeat, seed);
        differs += other[10] != first[10] || other[20] != first[20];
        free(other);
    }
    assert_true(differs > 0);

    free(first);
    free(again);
    free(planted);
    selection_free(&c);
    agecl_tensor_free(&terr);
    agecl_tensor_free(&tfeat);
    agecl_tensor_free(&tpos);
}

static void test_select_references(void **state)
{
    (void)state;
    assert_int_equal(agecl_reference_key(7, 12345), ref_reference_key(7, 12345));
    selection_check(3001, 130, 101);
    selection_check(11000, 256, 101); /* a training split's size */
}

static void test_select_references_no_sample(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    double err[] = {1, 2, 3}, feat[] = {1, 2, 3, 4, 5, 6};
    int pos[] = {-1, 5, 4}; /* n = 4: none in range */
    agecl_tensor terr = upload_d(3, 1, 1, 1, err), tpos = upload_i(3, pos);
    agecl_tensor tfeat = upload_d(3, 2, 1, 1, feat), index = test_upload(ctx, 4, 1, 1, 1, NULL);
    agecl_tensor trefs = test_upload(ctx, 4, 2, 1, 1, NULL);
    assert_int_equal(agecl_select_references(ctx, &terr, &tpos, &tfeat, 1, &index, &trefs, NULL,
                                             NULL), AGECL_E_DATA);
    assert_non_null(strstr(agecl_last_error(), "select_references"));
    agecl_tensor_free(&terr);
    agecl_tensor_free(&tpos);
    agecl_tensor_free(&tfeat);
    agecl_tensor_free(&index);
    agecl_tensor_free(&trefs);
}

/* ---- PyTorch ---- */

static float *fixture(agecl_st_file *f, const char *name, size_t count)
{
    float *x = malloc(count * sizeof *x);
    assert_non_null(x);
    TEST_OK(agecl_st_read_f32(f, name, x, count, NULL, AGECL_ST_ANY_SHAPE));
    return x;
}

static agecl_tensor fixture_tensor(agecl_st_file *f, const char *name, int n, int c)
{
    float *x = fixture(f, name, (size_t)n * c);
    agecl_tensor t = test_upload(test_ctx(), n, c, 1, 1, x);
    free(x);
    return t;
}

static void expect_fixture(agecl_st_file *f, const char *name, const agecl_tensor *t, double tol)
{
    size_t n = agecl_tensor_numel(t);
    float *want = fixture(f, name, n), *got = test_download(test_ctx(), t);
    test_assert_close(name, got, want, n, tol);
    free(want);
    free(got);
}

static void pytorch_dex(agecl_st_file *f)
{
    agecl_ctx *ctx = test_ctx();
    agecl_tensor z = fixture_tensor(f, "dex.logits", 4, 7), l = fixture_tensor(f, "dex.labels", 7, 1);
    agecl_tensor a = fixture_tensor(f, "dex.ages", 4, 1);
    agecl_tensor pred = test_upload(ctx, 4, 1, 1, 1, NULL), err = test_upload(ctx, 4, 1, 1, 1, NULL);
    agecl_tensor loss = test_upload(ctx, 1, 1, 1, 1, NULL), dz = test_upload(ctx, 4, 7, 1, 1, NULL);
    TEST_OK(agecl_dex_forward(ctx, &z, &l, &a, &pred, &err, &loss));
    TEST_OK(agecl_dex_backward(ctx, &z, &l, &a, 0.7f, 0.0f, &dz));
    expect_fixture(f, "dex.pred", &pred, TOL);
    expect_fixture(f, "dex.abs_err", &err, TOL);
    expect_fixture(f, "dex.loss", &loss, TOL);
    expect_fixture(f, "dex.dlogits", &dz, TOL);
    agecl_tensor *all[] = {&z, &l, &a, &pred, &err, &loss, &dz};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) agecl_tensor_free(all[i]);
}

static void pytorch_ce(agecl_st_file *f, const char *name, int B, int K)
{
    agecl_ctx *ctx = test_ctx();
    char key[64];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", name, s), key)
    agecl_tensor z = fixture_tensor(f, KEY("logits"), B, K);
    agecl_tensor t = fixture_tensor(f, KEY("targets"), B, 1);
    agecl_tensor loss = test_upload(ctx, 1, 1, 1, 1, NULL), am = test_upload(ctx, B, 1, 1, 1, NULL);
    agecl_tensor dz = test_upload(ctx, B, K, 1, 1, NULL);
    TEST_OK(agecl_softmax_ce_forward(ctx, &z, &t, &loss, &am));
    TEST_OK(agecl_softmax_ce_backward(ctx, &z, &t, 1.3f, 0.0f, &dz));
    expect_fixture(f, KEY("loss"), &loss, TOL);
    expect_fixture(f, KEY("argmax"), &am, 0);
    expect_fixture(f, KEY("dlogits"), &dz, TOL);
#undef KEY
    agecl_tensor *all[] = {&z, &t, &loss, &am, &dz};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) agecl_tensor_free(all[i]);
}

static void pytorch_rapl(agecl_st_file *f)
{
    agecl_ctx *ctx = test_ctx();
    const int B = 3, C = 10, n = 6;
    agecl_tensor feat = fixture_tensor(f, "rapl.feat", B, C);
    agecl_tensor refs = fixture_tensor(f, "rapl.refs", n, C);
    agecl_tensor p = fixture_tensor(f, "rapl.p", n, 1), a = fixture_tensor(f, "rapl.a", n, 1);
    agecl_tensor bias = fixture_tensor(f, "rapl.bias", 1, 1);
    agecl_tensor dout = fixture_tensor(f, "rapl.dout", B, C);
    agecl_tensor gain = test_upload(ctx, C, 1, 1, 1, NULL), out = test_upload(ctx, B, C, 1, 1, NULL);
    agecl_tensor dgain = test_upload(ctx, C, 1, 1, 1, NULL);
    agecl_tensor dfeat = test_upload(ctx, B, C, 1, 1, NULL), dp = test_upload(ctx, n, 1, 1, 1, NULL);
    agecl_tensor da = test_upload(ctx, n, 1, 1, 1, NULL), dbias = test_upload(ctx, 1, 1, 1, 1, NULL);
    TEST_OK(agecl_rapl_forward(ctx, &feat, &refs, &p, &a, &bias, &gain, &out));
    TEST_OK(agecl_rapl_backward(ctx, &dout, &feat, &refs, &p, &a, &gain, &dgain, 0.0f, &dfeat,
                                &dp, &da, &dbias));
    expect_fixture(f, "rapl.out", &out, TOL);
    expect_fixture(f, "rapl.dfeat", &dfeat, TOL);
    expect_fixture(f, "rapl.dp", &dp, TOL);
    expect_fixture(f, "rapl.da", &da, TOL);
    expect_fixture(f, "rapl.dbias", &dbias, TOL);
    agecl_tensor *all[] = {&feat, &refs, &p, &a, &bias, &dout, &gain, &out, &dgain, &dfeat, &dp,
                           &da, &dbias};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) agecl_tensor_free(all[i]);
}

/* torch.optim.Adam (name "adam") or AdamW ("adamw", decoupled) on the fixture's
 * vector: the parameters after every one of 12 steps. */
static void pytorch_adam(agecl_st_file *f, const char *name, double wd, int decoupled)
{
    agecl_ctx *ctx = test_ctx();
    const int count = 37, steps = 12;
    char key[64], want_wd[32];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", name, s), key)
    snprintf(want_wd, sizeof want_wd, "%g", wd);
    assert_string_equal(agecl_st_meta(f, KEY("lr")), "0.01");
    assert_string_equal(agecl_st_meta(f, KEY("weight_decay")), want_wd);
    agecl_adam_config cfg = agecl_adam_defaults(0.01, wd);
    cfg.decoupled = decoupled;
    float *grads = fixture(f, KEY("grads"), (size_t)steps * count);
    float *want = fixture(f, KEY("params"), (size_t)steps * count);
    agecl_tensor p = fixture_tensor(f, KEY("start"), count, 1);
#undef KEY
    agecl_tensor g = test_upload(ctx, count, 1, 1, 1, NULL);
    agecl_tensor m = test_upload(ctx, count, 1, 1, 1, NULL), v = test_upload(ctx, count, 1, 1, 1, NULL);
    TEST_OK(agecl_tensor_fill(ctx, &m, 0));
    TEST_OK(agecl_tensor_fill(ctx, &v, 0));
    for (int t = 1; t <= steps; t++) {
        TEST_OK(agecl_tensor_write(ctx, &g, grads + (size_t)(t - 1) * count));
        TEST_OK(agecl_adam_step(ctx, &cfg, t, &p, &g, &m, &v));
        float *got = test_download(ctx, &p);
        test_assert_close(name, got, want + (size_t)(t - 1) * count, count, ADAM_TOL);
        free(got);
    }
    free(grads);
    free(want);
    agecl_tensor_free(&p);
    agecl_tensor_free(&g);
    agecl_tensor_free(&m);
    agecl_tensor_free(&v);
}

static void pytorch_label_dist(agecl_st_file *f)
{
    agecl_ctx *ctx = test_ctx();
    assert_string_equal(agecl_st_meta(f, "kl.sigma"), "2.5");
    assert_string_equal(agecl_st_meta(f, "kl.scale"), "0.7");
    agecl_tensor z = fixture_tensor(f, "kl.logits", 4, 7), l = fixture_tensor(f, "kl.labels", 7, 1);
    agecl_tensor a = fixture_tensor(f, "kl.ages", 4, 1);
    agecl_tensor loss = test_upload(ctx, 1, 1, 1, 1, NULL), dz = test_upload(ctx, 4, 7, 1, 1, NULL);
    TEST_OK(agecl_label_dist_forward(ctx, &z, &l, &a, 2.5f, &loss));
    TEST_OK(agecl_label_dist_backward(ctx, &z, &l, &a, 2.5f, 0.7f, 0.0f, &dz));
    expect_fixture(f, "kl.loss", &loss, TOL);
    expect_fixture(f, "kl.dlogits", &dz, TOL);
    agecl_tensor *all[] = {&z, &l, &a, &loss, &dz};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) agecl_tensor_free(all[i]);
}

static void test_pytorch_fixture(void **state)
{
    (void)state;
    char path[1024];
    agecl_st_file *f;
    TEST_OK(agecl_st_open(test_fixture("heads.safetensors", path, sizeof path), &f));
    pytorch_dex(f);
    pytorch_ce(f, "ce_gender", 6, 2);
    pytorch_ce(f, "ce_pos", 5, 9);
    pytorch_rapl(f);
    pytorch_adam(f, "adam", 0.01, 0);
    pytorch_adam(f, "adamw", 0.5, 1);
    pytorch_label_dist(f);
    agecl_st_close(f);
}

/* ---- bad arguments ---- */

static void expect_status(agecl_status got, agecl_status want, const char *op)
{
    assert_int_equal(got, want);
    if (!strstr(agecl_last_error(), op))
        fail_msg("the message \"%s\" does not name %s", agecl_last_error(), op);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_tensor z = test_upload(ctx, 4, 5, 1, 1, NULL), l5 = test_upload(ctx, 5, 1, 1, 1, NULL);
    agecl_tensor v4 = test_upload(ctx, 4, 1, 1, 1, NULL), v3 = test_upload(ctx, 3, 1, 1, 1, NULL);
    agecl_tensor one = test_upload(ctx, 1, 1, 1, 1, NULL), z45 = test_upload(ctx, 4, 5, 1, 1, NULL);
    agecl_tensor z36 = test_upload(ctx, 3, 6, 1, 1, NULL), four = test_upload(ctx, 4, 1, 1, 1, NULL);
    agecl_tensor empty = {0};

    /* DEX */
    expect_status(agecl_dex_forward(NULL, &z, &l5, &v4, &v4, &v4, &one), AGECL_E_INVALID_ARG,
                  "dex_forward");
    expect_status(agecl_dex_forward(ctx, NULL, &l5, &v4, &v4, &v4, &one), AGECL_E_INVALID_ARG,
                  "dex_forward");
    expect_status(agecl_dex_forward(ctx, &z, &v4, &v4, &v4, &v4, &one), AGECL_E_SHAPE,
                  "dex_forward");
    expect_status(agecl_dex_forward(ctx, &z, &l5, &v3, &v4, &v4, &one), AGECL_E_SHAPE,
                  "dex_forward");
    expect_status(agecl_dex_forward(ctx, &z, &l5, &v4, &v4, NULL, &one), AGECL_E_INVALID_ARG,
                  "dex_forward");
    expect_status(agecl_dex_forward(ctx, &z, &l5, NULL, &v4, &v4, NULL), AGECL_E_INVALID_ARG,
                  "dex_forward");
    expect_status(agecl_dex_forward(ctx, &z, &l5, &v4, &v4, &v4, &v4), AGECL_E_SHAPE,
                  "dex_forward");
    expect_status(agecl_dex_backward(ctx, &z, &l5, &v4, 1, 0, &z36), AGECL_E_SHAPE,
                  "dex_backward");
    expect_status(agecl_dex_backward(ctx, &z, &l5, &empty, 1, 0, &z45), AGECL_E_INVALID_ARG,
                  "dex_backward");

    /* label distribution */
    expect_status(agecl_label_dist_forward(ctx, &z, &l5, &v4, 0.0f, &one), AGECL_E_INVALID_ARG,
                  "label_dist_forward");
    expect_status(agecl_label_dist_forward(ctx, &z, &l5, &v3, 2.0f, &one), AGECL_E_SHAPE,
                  "label_dist_forward");
    expect_status(agecl_label_dist_backward(ctx, &z, &l5, &v4, -1.0f, 1, 0, &z45),
                  AGECL_E_INVALID_ARG, "label_dist_backward");
    expect_status(agecl_label_dist_backward(ctx, &z, &l5, &v4, 2.0f, 1, 0, &z36), AGECL_E_SHAPE,
                  "label_dist_backward");

    /* cross-entropy */
    expect_status(agecl_softmax_ce_forward(ctx, &z, &v3, &one, NULL), AGECL_E_SHAPE,
                  "softmax_ce_forward");
    expect_status(agecl_softmax_ce_forward(ctx, &z, &v4, &one, &v3), AGECL_E_SHAPE,
                  "softmax_ce_forward");
    expect_status(agecl_softmax_ce_forward(ctx, &z, &v4, NULL, NULL), AGECL_E_INVALID_ARG,
                  "softmax_ce_forward");
    expect_status(agecl_softmax_ce_backward(ctx, &z, &v4, 1, 0, &z36), AGECL_E_SHAPE,
                  "softmax_ce_backward");

    /* RAPL: feat 4 rows of 5, refs 3 rows of 6 do not fit. */
    expect_status(agecl_rapl_forward(ctx, &z, &z36, &v3, &v3, &one, &l5, &z45), AGECL_E_SHAPE,
                  "rapl_forward");
    agecl_tensor refs = test_upload(ctx, 3, 5, 1, 1, NULL);
    expect_status(agecl_rapl_forward(ctx, &z, &refs, &v4, &v3, &one, &l5, &z45), AGECL_E_SHAPE,
                  "rapl_forward");
    expect_status(agecl_rapl_forward(ctx, &z, &refs, &v3, &v3, &one, &v4, &z45), AGECL_E_SHAPE,
                  "rapl_forward");
    expect_status(agecl_rapl_forward(ctx, &z, &refs, &v3, &v3, NULL, &l5, &z45),
                  AGECL_E_INVALID_ARG, "rapl_forward");
    expect_status(agecl_rapl_backward(ctx, &z36, &z, &refs, &v3, &v3, &l5, &l5, 0, &z45, &v3,
                                      &v3, &one), AGECL_E_SHAPE, "rapl_backward");
    expect_status(agecl_rapl_backward(ctx, &z45, &z, &refs, &v3, &v3, &l5, &l5, 0, &z45, &v4,
                                      &v3, &one), AGECL_E_SHAPE, "rapl_backward");
    expect_status(agecl_rapl_backward(ctx, &z45, &z, &refs, &v3, &v3, &l5, NULL, 0, &z45, &v3,
                                      &v3, &one), AGECL_E_INVALID_ARG, "rapl_backward");

    /* Adam */
    agecl_adam_config cfg = agecl_adam_defaults(1e-3, 1e-2);
    expect_status(agecl_adam_step(ctx, &cfg, 1, &z, &z45, &z45, &l5), AGECL_E_SHAPE, "adam_step");
    expect_status(agecl_adam_step(ctx, &cfg, 0, &z, &z45, &z45, &z45), AGECL_E_INVALID_ARG,
                  "adam_step");
    expect_status(agecl_adam_step(ctx, NULL, 1, &z, &z45, &z45, &z45), AGECL_E_INVALID_ARG,
                  "adam_step");
    cfg.beta2 = 1.0;
    expect_status(agecl_adam_step(ctx, &cfg, 1, &z, &z45, &z45, &z45), AGECL_E_INVALID_ARG,
                  "adam_step");
    cfg = agecl_adam_defaults(1e-3, -1);
    expect_status(agecl_adam_step(ctx, &cfg, 1, &z, &z45, &z45, &z45), AGECL_E_INVALID_ARG,
                  "adam_step");
    cfg = agecl_adam_defaults(1e-3, 0);
    cfg.eps = 0;
    expect_status(agecl_adam_step(ctx, &cfg, 1, &z, &z45, &z45, &z45), AGECL_E_INVALID_ARG,
                  "adam_step");

    /* moving average */
    expect_status(agecl_ema_update(ctx, 0.9, &z45, &l5), AGECL_E_SHAPE, "ema_update");
    expect_status(agecl_ema_update(ctx, -0.1, &z45, &z45), AGECL_E_INVALID_ARG, "ema_update");
    expect_status(agecl_ema_update(ctx, 1.5, &z45, &z45), AGECL_E_INVALID_ARG, "ema_update");
    expect_status(agecl_ema_update(ctx, NAN, &z45, &z45), AGECL_E_INVALID_ARG, "ema_update");
    expect_status(agecl_ema_swap(ctx, &z45, &l5), AGECL_E_SHAPE, "ema_swap");
    expect_status(agecl_ema_swap(ctx, &z45, &z45), AGECL_E_INVALID_ARG, "ema_swap");

    /* reference selection: 4 samples; feat must be 4 rows of refs' 5. */
    expect_status(agecl_select_references(ctx, &v4, &v3, &z, 1, &v3, &refs, NULL, NULL),
                  AGECL_E_SHAPE, "select_references");
    expect_status(agecl_select_references(ctx, &v4, &four, &z36, 1, &v3, &refs, NULL, NULL),
                  AGECL_E_SHAPE, "select_references");
    expect_status(agecl_select_references(ctx, &v4, &four, &z, 1, &v4, &refs, NULL, NULL),
                  AGECL_E_SHAPE, "select_references");
    expect_status(agecl_select_references(ctx, &v4, &four, &z, 1, NULL, &refs, NULL, NULL),
                  AGECL_E_INVALID_ARG, "select_references");

    agecl_tensor *all[] = {&z, &l5, &v4, &v3, &one, &z45, &z36, &four, &refs};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) agecl_tensor_free(all[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dex_reference_gradient),
        cmocka_unit_test(test_dex_opencl),
        cmocka_unit_test(test_dex_sign_zero),
        cmocka_unit_test(test_label_dist_reference_gradient),
        cmocka_unit_test(test_label_dist_opencl),
        cmocka_unit_test(test_ce_reference_gradient),
        cmocka_unit_test(test_ce_opencl),
        cmocka_unit_test(test_ce_all_ignored_and_invalid),
        cmocka_unit_test(test_rapl_reference),
        cmocka_unit_test(test_rapl_opencl),
        cmocka_unit_test(test_adam_opencl),
        cmocka_unit_test(test_ema_opencl),
        cmocka_unit_test(test_select_references),
        cmocka_unit_test(test_select_references_no_sample),
        cmocka_unit_test(test_pytorch_fixture),
        cmocka_unit_test(test_bad_arguments),
    };
    int failed = TEST_RUN_GROUP(tests, NULL, NULL);
    test_ctx_release();
    return failed;
}
