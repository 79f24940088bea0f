/* What every test shares; see common.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "common.h"

static agecl_ctx *shared_ctx;

float test_poison_value(void)
{
    union { uint32_t u; float f; } v = {TEST_POISON_BITS};
    return v.f;
}

agecl_ctx *test_ctx(void)
{
    if (!shared_ctx) {
        agecl_status s = agecl_ctx_create(&shared_ctx, NULL, 0);
        if (s != AGECL_OK)
            fail_msg("no OpenCL device for the tests (AGECL_DEVICE=%s): %s: %s",
                     getenv("AGECL_DEVICE") ? getenv("AGECL_DEVICE") : "", agecl_strerror(s),
                     agecl_last_error());
    }
    return shared_ctx;
}

static void set_options(const agecl_options *o)
{
    agecl_status s = agecl_ctx_set_options(test_ctx(), o);
    if (s != AGECL_OK) fail_msg("agecl_ctx_set_options: %s", agecl_last_error());
}

void test_use_kernels(agecl_family f)
{
    agecl_options o = *agecl_ctx_options(test_ctx());
    o.kernels = f;
    set_options(&o);
}

void test_use_gemm(agecl_gemm_path g)
{
    agecl_options o = *agecl_ctx_options(test_ctx());
    o.gemm = g;
    set_options(&o);
}

void test_use_fuse(int on)
{
    agecl_options o = *agecl_ctx_options(test_ctx());
    o.fuse = on;
    set_options(&o);
}

void test_use_conv_algo(const char *name)
{
    agecl_options o = *agecl_ctx_options(test_ctx());
    if (strlen(name) >= sizeof o.conv_algo) fail_msg("conv algorithm name '%s' too long", name);
    strcpy(o.conv_algo, name);
    set_options(&o);
}

void test_ctx_release(void)
{
    agecl_ctx_destroy(shared_ctx);
    shared_ctx = NULL;
}

void test_check_fd(const char *what, test_loss_fn loss, const void *state, double *p, size_t n,
                   const double *analytic, double tol)
{
    const double h = 1e-6;
    double max_diff = 0, max_ref = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double up = loss(state);
        p[i] = keep - h;
        double down = loss(state);
        p[i] = keep;
        double fd = (up - down) / (2 * h);
        max_diff = fmax(max_diff, fabs(fd - analytic[i]));
        max_ref = fmax(max_ref, fabs(analytic[i]));
    }
    if (max_diff / max_ref > tol)
        fail_msg("%s: finite differences differ by %.3g relative", what, max_diff / max_ref);
}

test_rng test_rng_seed(uint64_t seed) { return (test_rng){seed * 0x9e3779b97f4a7c15ull + 1}; }

uint64_t test_rng_u64(test_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float test_rng_uniform(test_rng *r, float lo, float hi)
{
    double u = (double)(test_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

double test_rng_normal(test_rng *r)
{
    double u1 = ((double)(test_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(test_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

float *test_random(test_rng *r, size_t n, float lo, float hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = test_rng_uniform(r, lo, hi);
    return x;
}

agecl_tensor test_upload(agecl_ctx *ctx, int n, int c, int h, int w, const float *host)
{
    agecl_tensor t;
    TEST_OK(agecl_tensor_alloc(ctx, &t, n, c, h, w));
    if (host) TEST_OK(agecl_tensor_write(ctx, &t, host));
    else test_poison(ctx, &t);
    return t;
}

void test_poison(agecl_ctx *ctx, agecl_tensor *t)
{
    size_t n = agecl_tensor_numel(t);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = test_poison_value();
    TEST_OK(agecl_tensor_write(ctx, t, p));
    free(p);
}

float *test_download(agecl_ctx *ctx, const agecl_tensor *t)
{
    float *p = malloc(agecl_tensor_numel(t) * sizeof *p);
    assert_non_null(p);
    TEST_OK(agecl_tensor_read(ctx, t, p));
    return p;
}

double test_rel_error(const float *a, const float *b, size_t n, double floor)
{
    double max_ref = floor, max_diff = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > max_diff) max_diff = d;
        if (fabs((double)b[i]) > max_ref) max_ref = fabs((double)b[i]);
    }
    return max_diff / max_ref;
}

void test_assert_close(const char *what, const float *got, const float *want, size_t n, double tol)
{
    double e = test_rel_error(got, want, n, 1e-30);
    if (e <= tol) return;
    size_t worst = 0;
    double wd = -1;
    for (size_t i = 0; i < n; i++) {
        double d = isfinite(got[i]) ? fabs((double)got[i] - (double)want[i]) : INFINITY;
        if (d > wd) wd = d, worst = i;
    }
    fail_msg("%s: relative error %.3g > %.3g (element %zu of %zu: got %.9g, want %.9g)", what, e,
             tol, worst, n, got[worst], want[worst]);
}

static const char *under(const char *var, const char *fallback, const char *rel, char *buf,
                         size_t len)
{
    const char *root = getenv(var);
    if (!root || !*root) root = fallback;
    snprintf(buf, len, "%s/%s", root, rel);
    return buf;
}

const char *test_shared_data(const char *rel, char *buf, size_t len)
{
    struct stat st;
    under("AGECL_SHARED_DATA", "../shared/data", "", buf, len);
    if (stat(buf, &st) != 0) {
        fail_msg("shared data folder %s not found (set AGECL_SHARED_DATA)", buf);
        return NULL;
    }
    return under("AGECL_SHARED_DATA", "../shared/data", rel, buf, len);
}

const char *test_fixture(const char *rel, char *buf, size_t len)
{
    return under("AGECL_FIXTURES", "tests/fixtures", rel, buf, len);
}

double *test_to_double(const float *f, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    return d;
}

float *test_plus_beta(const double *ref, const float *old, float beta, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)(ref[i] + (beta != 0.0f ? beta * (double)old[i] : 0.0));
    return f;
}

unsigned char *test_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("%s: cannot open", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    *n = (size_t)size;
    rewind(f);
    unsigned char *b = malloc(*n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

void test_apply_filter(void)
{
    const char *f = getenv("AGECL_TEST_FILTER");
    if (f && *f) cmocka_set_test_filter(f);
}

float *test_st_floats(agecl_st_file *f, const char *name, size_t *count)
{
    agecl_st_info info;
    TEST_OK(agecl_st_find(f, name, &info));
    float *v = malloc((info.numel ? info.numel : 1) * sizeof *v);
    assert_non_null(v);
    TEST_OK(agecl_st_read_f32(f, name, v, info.numel, NULL, AGECL_ST_ANY_SHAPE));
    if (count) *count = info.numel;
    return v;
}
