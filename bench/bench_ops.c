/* The layers other than convolution (agecl/layers.h) at every activation shape
 * where the preset's model runs them: BatchNorm (training forward, backward),
 * PReLU (forward, backward), the residual add, global average pooling (forward,
 * backward) and the heads' Linear layers (forward, backward). Their rate is
 * memory traffic: each input read once and each output written once, per-channel
 * vectors included, as a share of the copy ceiling (which streams through
 * memory: an op whose tensors fit in a cache can pass 100%). */
#include <stdio.h>
#include "agecl/layers.h"
#include "bench_util.h"

#define MAX_SITES 64

enum { OP_BN, OP_PRELU, OP_ADD, OP_AVGPOOL, OP_LINEAR };

/* One kind of layer at one shape: n x c x hw x hw (a Linear: c inputs, out outputs). */
typedef struct op_site {
    int kind, c, hw, out;
    int uses;
    char layer[48];
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
    add_site(s, &n, OP_BN, cin, hw, 0, "stem.bn");
    add_site(s, &n, OP_PRELU, cin, hw, 0, "stem.prelu");
    for (int st = 0; st < cfg->stages; st++) {
        int d = cfg->channels[st];
        for (int u = 0; u < cfg->units[st]; u++) {
            int out_hw = u == 0 ? (hw - 1) / 2 + 1 : hw;
            char unit[32], name[48];
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
    int backward;
    const op_site *site;
    agecl_tensor x, y, dy, dx, pooled, dpooled;
    agecl_tensor gamma, beta, run_mean, run_var, mean, invstd, dgamma, dbeta;
} op_run;

static agecl_status run_op(void *arg)
{
    op_run *r = arg;
    agecl_ctx *ctx = r->ctx;
    switch (r->site->kind * 2 + r->backward) {
    case OP_BN * 2:
        return agecl_batchnorm_forward_train(ctx, &r->x, &r->gamma, &r->beta, &r->run_mean,
                                             &r->run_var, 0.1f, 1e-5f, &r->y, &r->mean,
                                             &r->invstd);
    case OP_BN * 2 + 1: /* as the model calls it: parameter gradients accumulate */
        return agecl_batchnorm_backward(ctx, &r->x, &r->dy, &r->gamma, &r->mean, &r->invstd, 0,
                                        &r->dx, 1, &r->dgamma, &r->dbeta);
    case OP_PRELU * 2: return agecl_prelu_forward(ctx, &r->x, &r->gamma, &r->y);
    case OP_PRELU * 2 + 1:
        return agecl_prelu_backward(ctx, &r->x, &r->dy, &r->gamma, 0, &r->dx, 1, &r->dgamma);
    case OP_ADD * 2: return agecl_add_forward(ctx, &r->x, &r->dy, &r->y);
    case OP_AVGPOOL * 2: return agecl_avgpool_forward(ctx, &r->x, &r->pooled);
    case OP_AVGPOOL * 2 + 1: return agecl_avgpool_backward(ctx, &r->dpooled, 0, &r->dx);
    case OP_LINEAR * 2: return agecl_linear_forward(ctx, &r->x, &r->gamma, &r->beta, &r->y);
    default:
        return agecl_linear_backward(ctx, &r->x, &r->dy, &r->gamma, 0, &r->dx, 1, &r->dgamma,
                                     &r->dbeta);
    }
}

static void free_run(op_run *r)
{
    agecl_tensor *all[] = {&r->x,        &r->y,       &r->dy,      &r->dx,
                           &r->pooled,   &r->dpooled, &r->gamma,   &r->beta,
                           &r->run_mean, &r->run_var, &r->mean,    &r->invstd,
                           &r->dgamma,   &r->dbeta};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) agecl_tensor_free(all[i]);
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
    return bench_random_tensor(ctx, &r->invstd, 1, c, 1, 1, 0.5f, 2, &seed);
}

static const char *op_name(int kind, int backward)
{
    static const char *names[][2] = {{"batchnorm_train_forward", "batchnorm_backward"},
                                     {"prelu_forward", "prelu_backward"},
                                     {"add_forward", NULL},
                                     {"avgpool_forward", "avgpool_backward"},
                                     {"linear_forward", "linear_backward"}};
    return names[kind][backward];
}

/* Bytes an ideal implementation moves: inputs read once, outputs written once. */
static double op_bytes(const op_site *s, int n, int backward)
{
    double act = 4.0 * n * s->c * s->hw * s->hw, vec = 4.0 * s->c;
    switch (s->kind) {
    case OP_BN: return backward ? 3 * act + 7 * vec : 2 * act + 8 * vec;
    case OP_PRELU: return backward ? 3 * act + 3 * vec : 2 * act + vec;
    case OP_ADD: return 3 * act;
    case OP_AVGPOOL: return act + 4.0 * n * s->c;
    default: {
        double x = act, y = 4.0 * n * s->out, w = 4.0 * s->c * s->out, b = 4.0 * s->out;
        /* forward: x, w, b -> y; backward: x, dy, w, dw, db -> dx, dw, db */
        return backward ? x + y + w + 2 * (w + b) + x : x + w + b + y;
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
    for (r.backward = 0; r.backward < 2 && st == AGECL_OK; r.backward++) {
        const char *name = op_name(s->kind, r.backward);
        if (!name) continue;
        bench_progress("ops, batch %d: %s %s (%s)", batch, name, shape, s->layer);
        double ms;
        st = bench_time(d, run_op, &r, &ms);
        if (st != AGECL_OK) break;
        bench_result res = bench_result_init("ops", name, shape, batch);
        res.layer = s->layer;
        res.uses = s->uses;
        res.ms = ms;
        res.gbps = op_bytes(s, batch, r.backward) / (ms * 1e6);
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
