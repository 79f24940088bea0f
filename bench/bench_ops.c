/* The layers other than convolution (agecl/layers.h) at every activation shape
 * where the preset's model runs them: BatchNorm (training and inference forward,
 * backward), PReLU (forward, backward), the stem's BatchNorm + PReLU both fused
 * (as the model runs it) and as the two ops, the residual add, the strided
 * subsample of a shortcut, global average pooling (forward, backward) and the
 * heads' Linear layers (forward, backward). Their rate is memory traffic: each
 * input read once and each output written once, per-channel vectors included, as
 * a share of the copy ceiling (which streams through memory: an op whose tensors
 * fit in a cache can pass 100%); the two-op BatchNorm + PReLU counts the traffic
 * of both ops, so its rate compares with the fused one's. */
#include <stdio.h>
#include "agecl/layers.h"
#include "bench_util.h"

#define MAX_SITES 64

enum { OP_BN, OP_PRELU, OP_BN_PRELU, OP_BN_PRELU_TWO, OP_ADD, OP_SUBSAMPLE, OP_AVGPOOL, OP_LINEAR };

/* What is timed of a site: the training forward, the backward, the inference forward. */
enum { MODE_TRAIN, MODE_BACKWARD, MODE_INFER, MODES };

/* One kind of layer at one shape: n x c x hw x hw (a Linear: c inputs, out outputs). */
typedef struct op_site {
    int kind, c, hw, out;
    int uses;
    char layer[64];
} op_site;

static void add_site(op_site *s, int *n, int kind, int c, int hw, int out, const char *layer)
{
    for (int i = 0; i < *n; i++) {
        if (s[i].kind == kind && s[i].c == c && s[i].hw == hw && s[i].out == out) {
            s[i].uses++;
            return;
        }
    }
    if (*n == MAX_SITES) return; /* the presets have at most 30 */
    s[*n] = (op_site){kind, c, hw, out, 1, ""};
    snprintf(s[*n].layer, sizeof s[*n].layer, "%s", layer);
    (*n)++;
}

/* The layers of MODEL.md sections 2 and 3 for cfg, in the order of the forward pass. */
static int model_sites(const agecl_model_config *cfg, op_site *s)
{
    int n = 0, hw = cfg->input_size, cin = cfg->channels[0];
    add_site(s, &n, OP_BN_PRELU, cin, hw, 0, "stem.bn+prelu");
    add_site(s, &n, OP_BN_PRELU_TWO, cin, hw, 0, "stem.bn+prelu (two ops)");
    for (int st = 0; st < cfg->stages; st++) {
        int d = cfg->channels[st];
        for (int u = 0; u < cfg->units[st]; u++) {
            int out_hw = u == 0 ? (hw - 1) / 2 + 1 : hw;
            char unit[32], name[64];
            snprintf(unit, sizeof unit, "stage%d.%d", st + 1, u);
            snprintf(name, sizeof name, "%s.bn1", unit);
            add_site(s, &n, OP_BN, cin, hw, 0, name);
            snprintf(name, sizeof name, "%s.prelu", unit);
            add_site(s, &n, OP_PRELU, d, hw, 0, name);
            snprintf(name, sizeof name, "%s.bn2", unit);
            add_site(s, &n, OP_BN, d, out_hw, 0, name);
            if (cin != d) {
                snprintf(name, sizeof name, "%s.shortcut.bn", unit);
                add_site(s, &n, OP_BN, d, out_hw, 0, name);
            } else if (out_hw != hw) {
                snprintf(name, sizeof name, "%s.shortcut (subsample)", unit);
                add_site(s, &n, OP_SUBSAMPLE, cin, hw, 0, name);
            }
            snprintf(name, sizeof name, "%s (add)", unit);
            add_site(s, &n, OP_ADD, d, out_hw, 0, name);
            hw = out_hw;
            cin = d;
        }
    }
    add_site(s, &n, OP_AVGPOOL, cin, hw, 0, "features (avgpool)");
    add_site(s, &n, OP_LINEAR, cin, 1, cfg->n_ages, "age");
    if (cfg->gender) add_site(s, &n, OP_LINEAR, cin, 1, 2, "gender");
    if (cfg->rapl) add_site(s, &n, OP_LINEAR, cin, 1, cfg->n_ages, "rapl.fc");
    return n;
}

/* The tensors of one site: activations n x c x hw x hw and per-channel vectors,
 * or for a Linear x [n, c], y [n, out] and its parameters. */
typedef struct op_run {
    agecl_ctx *ctx;
    int mode;
    const op_site *site;
    agecl_tensor x, y, dy, dx, z, dz, small, dsmall, pooled, dpooled;
    agecl_tensor gamma, beta, run_mean, run_var, mean, invstd, dgamma, dbeta, slope, dslope;
    agecl_layer_plan *plan, *prelu_plan; /* the layer's as the model makes it; the two-op
                                            pair's PReLU */
} op_run;

/* BatchNorm then PReLU as two ops, through z, as the model runs them with
 * AGECL_FUSE=0. */
static agecl_status bn_prelu_two(op_run *r)
{
    if (r->mode == MODE_TRAIN) {
        AGECL_TRY(agecl_layer_batchnorm_train(r->plan, &r->x, &r->gamma, &r->beta, NULL,
                                              &r->run_mean, &r->run_var, 0.1f, 1e-5f, &r->z,
                                              &r->mean, &r->invstd));
        return agecl_layer_prelu_forward(r->prelu_plan, &r->z, &r->slope, &r->y);
    }
    if (r->mode == MODE_INFER) {
        AGECL_TRY(agecl_layer_batchnorm_infer(r->plan, &r->x, &r->gamma, &r->beta, NULL,
                                              &r->run_mean, &r->run_var, 1e-5f, &r->z));
        return agecl_layer_prelu_forward(r->prelu_plan, &r->z, &r->slope, &r->y);
    }
    AGECL_TRY(agecl_layer_prelu_backward(r->prelu_plan, &r->z, &r->dy, &r->slope, 0, &r->dz, 1,
                                         &r->dslope));
    return agecl_layer_batchnorm_backward(r->plan, &r->x, &r->dz, &r->gamma, NULL, NULL,
                                          &r->mean, &r->invstd, 0, &r->dx, 1, &r->dgamma,
                                          &r->dbeta, NULL);
}

/* One op of a site as the model calls it, through its plan (parameter gradients
 * accumulate). BN's slope is NULL, the fused pair's r->slope. */
static agecl_status run_op(void *arg)
{
    op_run *r = arg;
    const agecl_layer_plan *p = r->plan;
    const agecl_tensor *slope = r->site->kind == OP_BN_PRELU ? &r->slope : NULL;
    agecl_tensor *dslope = r->site->kind == OP_BN_PRELU ? &r->dslope : NULL;
    switch (r->site->kind * MODES + r->mode) {
    case OP_BN * MODES + MODE_TRAIN:
    case OP_BN_PRELU * MODES + MODE_TRAIN:
        return agecl_layer_batchnorm_train(p, &r->x, &r->gamma, &r->beta, slope, &r->run_mean,
                                           &r->run_var, 0.1f, 1e-5f, &r->y, &r->mean,
                                           &r->invstd);
    case OP_BN * MODES + MODE_INFER:
    case OP_BN_PRELU * MODES + MODE_INFER:
        return agecl_layer_batchnorm_infer(p, &r->x, &r->gamma, &r->beta, slope, &r->run_mean,
                                           &r->run_var, 1e-5f, &r->y);
    case OP_BN * MODES + MODE_BACKWARD:
    case OP_BN_PRELU * MODES + MODE_BACKWARD:
        return agecl_layer_batchnorm_backward(p, &r->x, &r->dy, &r->gamma, &r->beta, slope,
                                              &r->mean, &r->invstd, 0, &r->dx, 1, &r->dgamma,
                                              &r->dbeta, dslope);
    case OP_PRELU * MODES + MODE_TRAIN:
        return agecl_layer_prelu_forward(p, &r->x, &r->gamma, &r->y);
    case OP_PRELU * MODES + MODE_BACKWARD:
        return agecl_layer_prelu_backward(p, &r->x, &r->dy, &r->gamma, 0, &r->dx, 1,
                                          &r->dgamma);
    case OP_BN_PRELU_TWO * MODES + MODE_TRAIN:
    case OP_BN_PRELU_TWO * MODES + MODE_INFER:
    case OP_BN_PRELU_TWO * MODES + MODE_BACKWARD: return bn_prelu_two(r);
    case OP_ADD * MODES + MODE_TRAIN: return agecl_layer_add_forward(p, &r->x, &r->dy, &r->y);
    case OP_SUBSAMPLE * MODES + MODE_TRAIN:
        return agecl_layer_subsample_forward(p, &r->x, &r->small);
    case OP_SUBSAMPLE * MODES + MODE_BACKWARD: /* adds into dx, as the shortcut's gradient */
        return agecl_layer_subsample_backward(p, &r->dsmall, 1, &r->dx);
    case OP_AVGPOOL * MODES + MODE_TRAIN:
        return agecl_layer_avgpool_forward(p, &r->x, &r->pooled);
    case OP_AVGPOOL * MODES + MODE_BACKWARD:
        return agecl_layer_avgpool_backward(p, &r->dpooled, 0, &r->dx);
    case OP_LINEAR * MODES + MODE_TRAIN:
        return agecl_linear_forward(r->ctx, &r->x, &r->gamma, &r->beta, &r->y);
    default:
        return agecl_linear_backward(r->ctx, &r->x, &r->dy, &r->gamma, 0, &r->dx, 1, &r->dgamma,
                                     &r->dbeta);
    }
}

static void free_run(op_run *r)
{
    agecl_tensor *all[] = {&r->x,     &r->y,        &r->dy,      &r->dx,     &r->z,
                           &r->dz,    &r->small,    &r->dsmall,  &r->pooled, &r->dpooled,
                           &r->gamma, &r->beta,     &r->run_mean, &r->run_var, &r->mean,
                           &r->invstd, &r->dgamma,  &r->dbeta,   &r->slope,  &r->dslope};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) agecl_tensor_free(all[i]);
    agecl_layer_plan_destroy(r->plan);
    agecl_layer_plan_destroy(r->prelu_plan);
}

/* The site's plan for a batch of n (none for a Linear). */
static agecl_status make_plans(op_run *r, int n)
{
    static const agecl_layer_op ops[] = {
        [OP_BN] = AGECL_LAYER_BATCHNORM,          [OP_PRELU] = AGECL_LAYER_PRELU,
        [OP_BN_PRELU] = AGECL_LAYER_BATCHNORM_PRELU, [OP_BN_PRELU_TWO] = AGECL_LAYER_BATCHNORM,
        [OP_ADD] = AGECL_LAYER_ADD,               [OP_SUBSAMPLE] = AGECL_LAYER_SUBSAMPLE,
        [OP_AVGPOOL] = AGECL_LAYER_AVGPOOL};
    const op_site *s = r->site;
    if (s->kind == OP_LINEAR) return AGECL_OK;
    agecl_layer_desc d = {ops[s->kind], n, s->c, s->hw, s->hw, 2};
    AGECL_TRY(agecl_layer_plan_create(r->ctx, &d, &r->plan));
    if (s->kind != OP_BN_PRELU_TWO) return AGECL_OK;
    d.op = AGECL_LAYER_PRELU;
    return agecl_layer_plan_create(r->ctx, &d, &r->prelu_plan);
}

/* Random tensors for the site; a Linear keeps its weight in gamma and its bias in beta. */
static agecl_status alloc_run(op_run *r, int n)
{
    const op_site *s = r->site;
    agecl_ctx *ctx = r->ctx;
    unsigned seed = 11;
    int c = s->c, hw = s->hw, yc = s->kind == OP_LINEAR ? s->out : c;
    AGECL_TRY(bench_random_tensor(ctx, &r->x, n, c, hw, hw, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->dx, n, c, hw, hw, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->y, n, yc, hw, hw, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->dy, n, yc, hw, hw, -1, 1, &seed));
    if (s->kind == OP_BN_PRELU_TWO) {
        AGECL_TRY(bench_random_tensor(ctx, &r->z, n, c, hw, hw, -1, 1, &seed));
        AGECL_TRY(bench_random_tensor(ctx, &r->dz, n, c, hw, hw, -1, 1, &seed));
    }
    if (s->kind == OP_SUBSAMPLE) {
        int half = (hw + 1) / 2;
        AGECL_TRY(bench_random_tensor(ctx, &r->small, n, c, half, half, -1, 1, &seed));
        AGECL_TRY(bench_random_tensor(ctx, &r->dsmall, n, c, half, half, -1, 1, &seed));
    }
    AGECL_TRY(bench_random_tensor(ctx, &r->slope, 1, c, 1, 1, 0, 0.5f, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->dslope, 1, c, 1, 1, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->pooled, n, c, 1, 1, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->dpooled, n, c, 1, 1, -1, 1, &seed));
    int wn = s->kind == OP_LINEAR ? s->out : 1, bc = yc;
    AGECL_TRY(bench_random_tensor(ctx, &r->gamma, wn, c, 1, 1, 0.5f, 1.5f, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->dgamma, wn, c, 1, 1, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->beta, 1, bc, 1, 1, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->dbeta, 1, bc, 1, 1, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->run_mean, 1, c, 1, 1, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->run_var, 1, c, 1, 1, 0.5f, 2, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->mean, 1, c, 1, 1, -1, 1, &seed));
    AGECL_TRY(bench_random_tensor(ctx, &r->invstd, 1, c, 1, 1, 0.5f, 2, &seed));
    return make_plans(r, n);
}

/* The op's name in each mode (NULL: not timed). */
static const char *op_name(int kind, int mode)
{
    static const char *names[][MODES] = {
        {"batchnorm_train_forward", "batchnorm_backward", "batchnorm_infer_forward"},
        {"prelu_forward", "prelu_backward", NULL},
        {"batchnorm_prelu_train_forward", "batchnorm_prelu_backward",
         "batchnorm_prelu_infer_forward"},
        {"batchnorm+prelu_train_forward", "batchnorm+prelu_backward",
         "batchnorm+prelu_infer_forward"},
        {"add_forward", NULL, NULL},
        {"subsample_forward", "subsample_backward", NULL},
        {"avgpool_forward", "avgpool_backward", NULL},
        {"linear_forward", "linear_backward", NULL}};
    return names[kind][mode];
}

/* Bytes an ideal implementation moves: inputs read once, outputs written once
 * (the two-op BatchNorm + PReLU: what both ops move, z included). */
static double op_bytes(const op_site *s, int n, int mode)
{
    double act = 4.0 * n * s->c * s->hw * s->hw, vec = 4.0 * s->c;
    int half = (s->hw + 1) / 2;
    double small = 4.0 * n * s->c * half * half;
    switch (s->kind) {
    case OP_BN:
        return mode == MODE_BACKWARD ? 3 * act + 7 * vec
               : mode == MODE_INFER  ? 2 * act + 4 * vec
                                     : 2 * act + 8 * vec;
    case OP_PRELU: return mode == MODE_BACKWARD ? 3 * act + 3 * vec : 2 * act + vec;
    case OP_BN_PRELU:
        return mode == MODE_BACKWARD ? 3 * act + 11 * vec
               : mode == MODE_INFER  ? 2 * act + 5 * vec
                                     : 2 * act + 9 * vec;
    case OP_BN_PRELU_TWO:
        return mode == MODE_BACKWARD ? 6 * act + 10 * vec
               : mode == MODE_INFER  ? 4 * act + 5 * vec
                                     : 4 * act + 9 * vec;
    case OP_ADD: return 3 * act;
    case OP_SUBSAMPLE: return mode == MODE_BACKWARD ? small + 2 * act : act + small;
    case OP_AVGPOOL: return act + 4.0 * n * s->c;
    default: {
        double x = act, y = 4.0 * n * s->out, w = 4.0 * s->c * s->out, b = 4.0 * s->out;
        /* forward: x, w, b -> y; backward: x, dy, w, dw, db -> dx, dw, db */
        return mode == MODE_BACKWARD ? x + y + w + 2 * (w + b) + x : x + w + b + y;
    }
    }
}

static agecl_status time_site(bench_dev *d, const op_site *s, int batch)
{
    op_run r = {.ctx = d->ctx, .site = s};
    agecl_status st = alloc_run(&r, batch);
    char shape[48];
    if (s->kind == OP_LINEAR) snprintf(shape, sizeof shape, "%dx%d->%d", batch, s->c, s->out);
    else snprintf(shape, sizeof shape, "%dx%dx%dx%d", batch, s->c, s->hw, s->hw);
    for (r.mode = 0; r.mode < MODES && st == AGECL_OK; r.mode++) {
        const char *name = op_name(s->kind, r.mode);
        if (!name) continue;
        bench_progress("ops, batch %d: %s %s (%s)", batch, name, shape, s->layer);
        double ms;
        st = bench_time(d, run_op, &r, &ms);
        if (st != AGECL_OK) break;
        bench_result res = bench_result_init("ops", name, shape, batch);
        res.layer = s->layer;
        res.uses = s->uses;
        res.ms = ms;
        res.gbps = op_bytes(s, batch, r.mode) / (ms * 1e6);
        bench_emit(d, &res);
    }
    free_run(&r);
    return st;
}

agecl_status bench_ops(bench_dev *d, int batch)
{
    op_site sites[MAX_SITES];
    int n = model_sites(&d->cfg, sites);
    for (int i = 0; i < n; i++) AGECL_TRY(time_site(d, &sites[i], batch));
    return AGECL_OK;
}
