/* tests/common.h - what every test shares: the device, random data, poison, comparison.
 * Include after <setjmp.h>, <stdarg.h>, <stddef.h> and <cmocka.h>. */
#ifndef AGECL_TESTS_COMMON_H
#define AGECL_TESTS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include "agecl.h"

/* The value written into output buffers before a kernel runs: a NaN with a
 * recognisable payload, so an element the kernel never wrote fails any comparison. */
#define TEST_POISON_BITS 0x7fc0dea1u
float test_poison_value(void);

/* A context on AGECL_DEVICE (default: the first device); fails the test if none. */
agecl_ctx *test_ctx(void);
void test_ctx_release(void);

/* Change one switch of the shared context (agecl/options.h) for the plans created
 * and calls made from now on; "" or AUTO restores the default. */
void test_use_kernels(agecl_family f);
void test_use_gemm(agecl_gemm_path g);
void test_use_conv_algo(const char *name);
void test_use_fuse(int on); /* 1 is the default */

/* Compare analytic, the gradient of loss(state) with respect to p[0..n), with
 * central differences in double precision (h = 1e-6, each p[i] changed in place
 * and restored); fails the test, naming what, when they differ by more than tol
 * relative to the largest analytic value. */
typedef double (*test_loss_fn)(const void *state);
void test_check_fd(const char *what, test_loss_fn loss, const void *state, double *p, size_t n,
                   const double *analytic, double tol);

/* A deterministic generator (splitmix64) for test data. */
typedef struct test_rng { uint64_t s; } test_rng;
test_rng test_rng_seed(uint64_t seed);
uint64_t test_rng_u64(test_rng *r);
float test_rng_uniform(test_rng *r, float lo, float hi); /* in [lo, hi) */
double test_rng_normal(test_rng *r);

/* Fill with uniform values in [lo, hi); returns a malloc'd array. */
float *test_random(test_rng *r, size_t n, float lo, float hi);

/* Allocate a device tensor, upload host data (or poison it when host is NULL). */
agecl_tensor test_upload(agecl_ctx *ctx, int n, int c, int h, int w, const float *host);
/* Poison an existing device tensor. */
void test_poison(agecl_ctx *ctx, agecl_tensor *t);
/* Read a whole tensor into a malloc'd array. */
float *test_download(agecl_ctx *ctx, const agecl_tensor *t);

/* max_i |a_i - b_i| / max(max_i |b_i|, floor): fails on any NaN or Inf in a. */
double test_rel_error(const float *a, const float *b, size_t n, double floor);
/* Assert test_rel_error(got, want) <= tol, naming what in the failure message. */
void test_assert_close(const char *what, const float *got, const float *want, size_t n,
                       double tol);

/* A malloc'd double copy of f. */
double *test_to_double(const float *f, size_t n);
/* What an output holding `old` must become after a call with beta: ref + beta * old,
 * rounded to float (old is not read when beta is 0, and may be NULL). Malloc'd. */
float *test_plus_beta(const double *ref, const float *old, float beta, size_t n);

/* A path under the shared data folder ($AGECL_SHARED_DATA, default ../shared/data);
 * NULL (and the test is failed) when the folder does not exist. */
const char *test_shared_data(const char *rel, char *buf, size_t len);
/* A path under tests/fixtures ($AGECL_FIXTURES). */
const char *test_fixture(const char *rel, char *buf, size_t len);

/* A whole tensor of a safetensors file as floats, malloc'd; *count (optional)
 * gets its element count (the test fails when it is missing or not numeric). */
float *test_st_floats(agecl_st_file *f, const char *name, size_t *count);

/* A whole file, malloc'd, with room for a terminating byte after its *n bytes
 * (the test fails when it cannot be read). */
unsigned char *test_read_file(const char *path, size_t *n);

/* Run a group of tests (cmocka_run_group_tests), only those whose names match
 * $AGECL_TEST_FILTER where it is set (cmocka's pattern: '*' and '?'): the
 * Oclgrind suite (tests/meson.build) runs a subset of a test at simulator speed. */
void test_apply_filter(void);
#define TEST_RUN_GROUP(tests, setup, teardown) \
    (test_apply_filter(), cmocka_run_group_tests(tests, setup, teardown))

/* Assert a status is AGECL_OK, printing agecl_last_error() otherwise. */
#define TEST_OK(expr)                                                         \
    do {                                                                      \
        agecl_status test__s = (expr);                                        \
        if (test__s != AGECL_OK)                                              \
            fail_msg("%s: %s: %s", #expr, agecl_strerror(test__s), agecl_last_error()); \
    } while (0)

#endif
