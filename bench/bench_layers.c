/* bench_layers - time the layers of agecl/layers.h at the IR50 shapes.
 *
 *   bench_layers [batch] [device]      (batch 8 and the default device if omitted)
 *
 * Each operation runs once to warm up (building kernels), then 5 times, each
 * timed from the call to the end of agecl_ctx_finish; the median is printed in
 * ms with the bandwidth it implies, counting each input read once and each
 * output written once (the per-channel vectors included). BN followed by PReLU
 * is timed both as two ops and fused, the two runs interleaved, with the ratio
 * of the medians (fused / two ops); its bandwidth counts the passes each makes
 * over the activations (forward 5 and 3, inference 4 and 2, backward 8 and 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agecl.h"
#include "agecl/layers.h"

#define RUNS 5

/* The tensors of one activation shape n x c x h x w, and its per-channel vectors. */
typedef struct layer_set {
    agecl_tensor x, y, dy, dx;
    agecl_tensor z, dz; /* BN then PReLU as two ops: the BN output and its gradient */
    agecl_tensor gamma, beta, run_mean, run_var, mean, invstd, dgamma, dbeta, slope, dslope;
    agecl_tensor small, dsmall; /* n x c x ceil(h/2) x ceil(w/2), for the subsample */
    agecl_tensor pooled, dpooled; /* n x c x 1 x 1 */
} layer_set;

typedef agecl_status (*op_fn)(agecl_ctx *ctx, void *tensors);

static void check(agecl_status s, const char *what)
{
    if (s == AGECL_OK) return;
    fprintf(stderr, "bench_layers: %s: %s: %s\n", what, agecl_strerror(s), agecl_last_error());
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void time_op(agecl_ctx *ctx, const char *name, const char *shape, op_fn fn,
                    void *t, double bytes)
{
    double ms[RUNS];
    check(fn(ctx, t), name);
    check(agecl_ctx_finish(ctx), name);
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_ms();
        check(fn(ctx, t), name);
        check(agecl_ctx_finish(ctx), name);
        ms[i] = now_ms() - t0;
    }
    qsort(ms, RUNS, sizeof ms[0], cmp_double);
    double med = ms[RUNS / 2];
    printf("%-22s %-18s %10.3f ms %9.1f GB/s\n", name, shape, med, bytes / (med * 1e6));
    fflush(stdout);
}

/* Time a (two ops) and b (fused), interleaved, and print both and b / a. */
static void time_fused(agecl_ctx *ctx, const char *name, const char *shape, op_fn a, op_fn b,
                       void *t, double bytes_a, double bytes_b)
{
    double ms[2][RUNS];
    op_fn fn[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        check(fn[k](ctx, t), name);
        check(agecl_ctx_finish(ctx), name);
    }
    for (int i = 0; i < RUNS; i++)
        for (int k = 0; k < 2; k++) {
            double t0 = now_ms();
            check(fn[k](ctx, t), name);
            check(agecl_ctx_finish(ctx), name);
            ms[k][i] = now_ms() - t0;
        }
    double med[2], bytes[2] = {bytes_a, bytes_b};
    for (int k = 0; k < 2; k++) {
        qsort(ms[k], RUNS, sizeof ms[k][0], cmp_double);
        med[k] = ms[k][RUNS / 2];
        printf("%-22s %-18s %10.3f ms %9.1f GB/s%s", name, shape, med[k],
               bytes[k] / (med[k] * 1e6), k ? "" : "  (two ops)\n");
    }
    printf("  (fused: %.2f of two ops)\n", med[1] / med[0]);
    fflush(stdout);
}

/* A tensor of random values in [lo, hi). */
static agecl_tensor random_tensor(agecl_ctx *ctx, int n, int c, int h, int w, float lo, float hi,
                                  unsigned *seed)
{
    agecl_tensor t;
    check(agecl_tensor_alloc(ctx, &t, n, c, h, w), "alloc");
    size_t count = agecl_tensor_numel(&t);
    float *p = malloc(count * sizeof *p);
    if (!p) check(AGECL_E_OUT_OF_MEMORY, "malloc");
    for (size_t i = 0; i < count; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = lo + (hi - lo) * (float)(*seed >> 8) / 16777216.0f;
    }
    check(agecl_tensor_write(ctx, &t, p), "write");
    free(p);
    return t;
}

static layer_set make_set(agecl_ctx *ctx, int n, int c, int h, int w, unsigned *seed)
{
    layer_set t;
    t.x = random_tensor(ctx, n, c, h, w, -1, 1, seed);
    t.dy = random_tensor(ctx, n, c, h, w, -1, 1, seed);
    t.y = random_tensor(ctx, n, c, h, w, -1, 1, seed);
    t.dx = random_tensor(ctx, n, c, h, w, -1, 1, seed);
    t.z = random_tensor(ctx, n, c, h, w, -1, 1, seed);
    t.dz = random_tensor(ctx, n, c, h, w, -1, 1, seed);
    t.gamma = random_tensor(ctx, 1, c, 1, 1, 0.5f, 1.5f, seed);
    t.beta = random_tensor(ctx, 1, c, 1, 1, -1, 1, seed);
    t.run_mean = random_tensor(ctx, 1, c, 1, 1, -1, 1, seed);
    t.run_var = random_tensor(ctx, 1, c, 1, 1, 0.5f, 2, seed);
    t.mean = random_tensor(ctx, 1, c, 1, 1, -1, 1, seed);
    t.invstd = random_tensor(ctx, 1, c, 1, 1, 0.5f, 2, seed);
    t.dgamma = random_tensor(ctx, 1, c, 1, 1, -1, 1, seed);
    t.dbeta = random_tensor(ctx, 1, c, 1, 1, -1, 1, seed);
    t.slope = random_tensor(ctx, 1, c, 1, 1, 0, 0.5f, seed);
    t.dslope = random_tensor(ctx, 1, c, 1, 1, -1, 1, seed);
    t.small = random_tensor(ctx, n, c, (h + 1) / 2, (w + 1) / 2, -1, 1, seed);
    t.dsmall = random_tensor(ctx, n, c, (h + 1) / 2, (w + 1) / 2, -1, 1, seed);
    t.pooled = random_tensor(ctx, n, c, 1, 1, -1, 1, seed);
    t.dpooled = random_tensor(ctx, n, c, 1, 1, -1, 1, seed);
    return t;
}

static void free_set(layer_set *t)
{
    agecl_tensor *all[] = {&t->x,      &t->y,       &t->dy,       &t->dx,      &t->z,
                           &t->dz,     &t->gamma,   &t->beta,     &t->run_mean, &t->run_var,
                           &t->mean,   &t->invstd,  &t->dgamma,   &t->dbeta,   &t->slope,
                           &t->dslope, &t->small,   &t->dsmall,   &t->pooled,  &t->dpooled};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) agecl_tensor_free(all[i]);
}

static agecl_status bn_train(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_batchnorm_forward_train(ctx, &t->x, &t->gamma, &t->beta, &t->run_mean,
                                         &t->run_var, 0.1f, 1e-5f, &t->y, &t->mean, &t->invstd);
}
static agecl_status bn_infer(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_batchnorm_forward_infer(ctx, &t->x, &t->gamma, &t->beta, &t->run_mean,
                                         &t->run_var, 1e-5f, &t->y);
}
static agecl_status bn_backward(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_batchnorm_backward(ctx, &t->x, &t->dy, &t->gamma, &t->mean, &t->invstd, 0,
                                    &t->dx, 0, &t->dgamma, &t->dbeta);
}
static agecl_status prelu_forward(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_prelu_forward(ctx, &t->x, &t->gamma, &t->y);
}
static agecl_status prelu_backward(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_prelu_backward(ctx, &t->x, &t->dy, &t->gamma, 0, &t->dx, 0, &t->dgamma);
}
/* BN then PReLU, two ops and fused. */
static agecl_status bn_prelu_train_ops(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    agecl_status s = agecl_batchnorm_forward_train(ctx, &t->x, &t->gamma, &t->beta,
                                                   &t->run_mean, &t->run_var, 0.1f, 1e-5f,
                                                   &t->z, &t->mean, &t->invstd);
    return s ? s : agecl_prelu_forward(ctx, &t->z, &t->slope, &t->y);
}
static agecl_status bn_prelu_train_fused(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_batchnorm_prelu_forward_train(ctx, &t->x, &t->gamma, &t->beta, &t->slope,
                                               &t->run_mean, &t->run_var, 0.1f, 1e-5f, &t->y,
                                               &t->mean, &t->invstd);
}
static agecl_status bn_prelu_infer_ops(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    agecl_status s = agecl_batchnorm_forward_infer(ctx, &t->x, &t->gamma, &t->beta,
                                                   &t->run_mean, &t->run_var, 1e-5f, &t->z);
    return s ? s : agecl_prelu_forward(ctx, &t->z, &t->slope, &t->y);
}
static agecl_status bn_prelu_infer_fused(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_batchnorm_prelu_forward_infer(ctx, &t->x, &t->gamma, &t->beta, &t->slope,
                                               &t->run_mean, &t->run_var, 1e-5f, &t->y);
}
static agecl_status bn_prelu_backward_ops(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    agecl_status s = agecl_prelu_backward(ctx, &t->z, &t->dy, &t->slope, 0, &t->dz, 0,
                                          &t->dslope);
    return s ? s : agecl_batchnorm_backward(ctx, &t->x, &t->dz, &t->gamma, &t->mean,
                                            &t->invstd, 0, &t->dx, 0, &t->dgamma, &t->dbeta);
}
static agecl_status bn_prelu_backward_fused(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_batchnorm_prelu_backward(ctx, &t->x, &t->dy, &t->gamma, &t->beta, &t->slope,
                                          &t->mean, &t->invstd, 0, &t->dx, 0, &t->dgamma,
                                          &t->dbeta, &t->dslope);
}
static agecl_status add_forward(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_add_forward(ctx, &t->x, &t->dy, &t->y);
}
static agecl_status add_backward(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_add_backward(ctx, &t->dy, 0, &t->dx, 0, &t->y);
}
static agecl_status subsample_forward(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_subsample_forward(ctx, &t->x, 2, &t->small);
}
static agecl_status subsample_backward(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_subsample_backward(ctx, &t->dsmall, 2, 0, &t->dx);
}
static agecl_status avgpool_forward(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_avgpool_forward(ctx, &t->x, &t->pooled);
}
static agecl_status avgpool_backward(agecl_ctx *ctx, void *tensors)
{
    layer_set *t = tensors;
    return agecl_avgpool_backward(ctx, &t->dpooled, 0, &t->dx);
}

/* The fully connected layer [n, in] -> [n, out] and its gradients. */
typedef struct linear_set {
    agecl_tensor x, dx, weight, dweight, bias, dbias, y, dy;
} linear_set;

static linear_set make_linear(agecl_ctx *ctx, int n, int in, int out, unsigned *seed)
{
    linear_set l = {random_tensor(ctx, n, in, 1, 1, -1, 1, seed),
                    random_tensor(ctx, n, in, 1, 1, -1, 1, seed),
                    random_tensor(ctx, out, in, 1, 1, -1, 1, seed),
                    random_tensor(ctx, out, in, 1, 1, -1, 1, seed),
                    random_tensor(ctx, 1, out, 1, 1, -1, 1, seed),
                    random_tensor(ctx, 1, out, 1, 1, -1, 1, seed),
                    random_tensor(ctx, n, out, 1, 1, -1, 1, seed),
                    random_tensor(ctx, n, out, 1, 1, -1, 1, seed)};
    return l;
}

static void free_linear(linear_set *l)
{
    agecl_tensor *all[] = {&l->x, &l->dx, &l->weight, &l->dweight, &l->bias, &l->dbias, &l->y,
                           &l->dy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) agecl_tensor_free(all[i]);
}

static agecl_status linear_forward(agecl_ctx *ctx, void *tensors)
{
    linear_set *l = tensors;
    return agecl_linear_forward(ctx, &l->x, &l->weight, &l->bias, &l->y);
}
static agecl_status linear_backward(agecl_ctx *ctx, void *tensors)
{
    linear_set *l = tensors;
    return agecl_linear_backward(ctx, &l->x, &l->dy, &l->weight, 0, &l->dx, 0, &l->dweight,
                                 &l->dbias);
}

int main(int argc, char **argv)
{
    int batch = argc > 1 ? atoi(argv[1]) : 8;
    if (batch < 1) {
        fprintf(stderr, "usage: bench_layers [batch] [device]\n");
        return 2;
    }
    agecl_ctx *ctx;
    check(agecl_ctx_create(&ctx, argc > 2 ? argv[2] : NULL, 0), "context");
    const agecl_device_info *dev = agecl_ctx_device(ctx);
    printf("bench_layers: batch %d on %s / %s; median of %d runs after a warm-up\n", batch,
           dev->platform, dev->name, RUNS);

    static const int shapes[][3] = {{64, 112, 112}, {64, 56, 56}, {128, 28, 28}, {256, 14, 14}};
    unsigned seed = 12345;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int c = shapes[k][0], h = shapes[k][1], w = shapes[k][2];
        layer_set t = make_set(ctx, batch, c, h, w, &seed);
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%dx%dx%d", batch, c, h, w);
        double act = 4.0 * agecl_tensor_numel(&t.x), vec = 4.0 * c;
        time_op(ctx, "batchnorm_train", shape, bn_train, &t, 2 * act + 8 * vec);
        time_op(ctx, "batchnorm_infer", shape, bn_infer, &t, 2 * act + 4 * vec);
        time_op(ctx, "batchnorm_backward", shape, bn_backward, &t, 3 * act + 5 * vec);
        time_op(ctx, "prelu_forward", shape, prelu_forward, &t, 2 * act + vec);
        time_op(ctx, "prelu_backward", shape, prelu_backward, &t, 3 * act + 2 * vec);
        time_fused(ctx, "bn+prelu_train", shape, bn_prelu_train_ops, bn_prelu_train_fused, &t,
                   5 * act, 3 * act);
        time_fused(ctx, "bn+prelu_infer", shape, bn_prelu_infer_ops, bn_prelu_infer_fused, &t,
                   4 * act, 2 * act);
        time_fused(ctx, "bn+prelu_backward", shape, bn_prelu_backward_ops,
                   bn_prelu_backward_fused, &t, 8 * act, 5 * act);
        if (k > 0) {
            time_op(ctx, "add_forward", shape, add_forward, &t, 3 * act);
            time_op(ctx, "add_backward", shape, add_backward, &t, 3 * act);
        } else {
            double small = 4.0 * agecl_tensor_numel(&t.small);
            time_op(ctx, "subsample_forward/2", shape, subsample_forward, &t, act + small);
            time_op(ctx, "subsample_backward/2", shape, subsample_backward, &t, small + act);
        }
        if (k == 3) {
            double pooled = 4.0 * agecl_tensor_numel(&t.pooled);
            time_op(ctx, "avgpool_forward", shape, avgpool_forward, &t, act + pooled);
            time_op(ctx, "avgpool_backward", shape, avgpool_backward, &t, pooled + act);
        }
        free_set(&t);
    }

    static const int linear_out[] = {100, 2};
    for (size_t k = 0; k < sizeof linear_out / sizeof linear_out[0]; k++) {
        int in = 256, out = linear_out[k];
        linear_set l = make_linear(ctx, batch, in, out, &seed);
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%d->%d", batch, in, out);
        double x = 4.0 * batch * in, y = 4.0 * batch * out, w = 4.0 * in * out, b = 4.0 * out;
        time_op(ctx, "linear_forward", shape, linear_forward, &l, x + w + b + y);
        time_op(ctx, "linear_backward", shape, linear_backward, &l, x + y + w + x + w + b);
        free_linear(&l);
    }
    agecl_ctx_destroy(ctx);
    return 0;
}
