/* Creating a model: declare its tensors, allocate them, make the conv plans. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/model.h"
#include "error.h"
#include "model/model_internal.h"

static agecl_status declare(agecl__params *p, int *index, agecl__param_kind kind, int n, int c,
                            const char *name_fmt, const char *prefix)
{
    *index = agecl__params_add(p, kind, n, c, 1, 1, name_fmt, prefix);
    return *index < 0 ? agecl__fail(AGECL_E_OUT_OF_MEMORY, "model: parameter table") : AGECL_OK;
}

static agecl_status declare_bn(agecl__params *p, agecl__bn *bn, int c, const char *prefix)
{
    AGECL_TRY(declare(p, &bn->gamma, AGECL__PARAM, 1, c, "%s.weight", prefix));
    AGECL_TRY(declare(p, &bn->beta, AGECL__PARAM, 1, c, "%s.bias", prefix));
    AGECL_TRY(declare(p, &bn->mean, AGECL__BUFFER, 1, c, "%s.running_mean", prefix));
    AGECL_TRY(declare(p, &bn->var, AGECL__BUFFER, 1, c, "%s.running_var", prefix));
    return AGECL_OK;
}

static agecl_status declare_conv(agecl__params *p, agecl__conv *cv, int cout, int cin, int k,
                                 const char *prefix)
{
    cv->weight = agecl__params_add(p, AGECL__PARAM, cout, cin, k, k, "%s.weight", prefix);
    if (cv->weight < 0) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "model: parameter table");
    p->items[cv->weight].ndim = 4; /* 1x1 kernels too */
    return AGECL_OK;
}

static agecl_status declare_linear(agecl__params *p, int *w, int *b, int out, int in,
                                   const char *prefix)
{
    *w = agecl__params_add(p, AGECL__PARAM, out, in, 1, 1, "%s.weight", prefix);
    *b = agecl__params_add(p, AGECL__PARAM, 1, out, 1, 1, "%s.bias", prefix);
    if (*w < 0 || *b < 0) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "model: parameter table");
    p->items[*w].ndim = 2; /* [out, in] even for out == 1 */
    return AGECL_OK;
}

static agecl_status validate(const agecl_model_config *cfg, int batch)
{
    if (cfg->stages < 1 || cfg->stages > AGECL_MAX_STAGES)
        return agecl__fail(AGECL_E_INVALID_ARG, "model: %d stages (1..%d)", cfg->stages,
                           AGECL_MAX_STAGES);
    for (int s = 0; s < cfg->stages; s++)
        if (cfg->units[s] < 1 || cfg->channels[s] < 1)
            return agecl__fail(AGECL_E_INVALID_ARG, "model: stage %d has %d units of %d channels",
                               s + 1, cfg->units[s], cfg->channels[s]);
    if (cfg->input_size < 4)
        return agecl__fail(AGECL_E_INVALID_ARG, "model: input size %d", cfg->input_size);
    if (cfg->n_ages < 2 || cfg->n_ages > AGECL_MAX_AGES)
        return agecl__fail(AGECL_E_INVALID_ARG, "model: %d age labels (set them first)",
                           cfg->n_ages);
    if (batch < 1) return agecl__fail(AGECL_E_INVALID_ARG, "model: batch %d", batch);
    return AGECL_OK;
}

/* Declare every parameter and buffer, in PyTorch's state_dict order. */
static agecl_status declare_all(agecl_model *m)
{
    const agecl_model_config *cfg = &m->cfg;
    agecl__params *p = &m->params;
    int c0 = cfg->channels[0];
    AGECL_TRY(declare_conv(p, &m->stem.conv, c0, 3, 3, "stem.conv"));
    AGECL_TRY(declare_bn(p, &m->stem.bn, c0, "stem.bn"));
    AGECL_TRY(declare(p, &m->stem.prelu, AGECL__PARAM, 1, c0, "%s.weight", "stem.prelu"));

    int cin = c0, hw = cfg->input_size, k = 0;
    char name[64];
    for (int s = 0; s < cfg->stages; s++) {
        for (int u = 0; u < cfg->units[s]; u++, k++) {
            agecl__unit *unit = &m->units[k];
            unit->cin = cin;
            unit->d = cfg->channels[s];
            unit->stride = u == 0 ? 2 : 1;
            unit->in_hw = hw;
            unit->out_hw = (hw - 1) / unit->stride + 1;
            unit->sc_conv = cin != unit->d;
#define N(suffix) (snprintf(name, sizeof name, "stage%d.%d.%s", s + 1, u, suffix), name)
            AGECL_TRY(declare_bn(p, &unit->bn1, cin, N("bn1")));
            AGECL_TRY(declare_conv(p, &unit->conv1, unit->d, cin, 3, N("conv1")));
            AGECL_TRY(declare(p, &unit->prelu, AGECL__PARAM, 1, unit->d, "%s.weight", N("prelu")));
            AGECL_TRY(declare_conv(p, &unit->conv2, unit->d, unit->d, 3, N("conv2")));
            AGECL_TRY(declare_bn(p, &unit->bn2, unit->d, N("bn2")));
            if (unit->sc_conv) {
                AGECL_TRY(declare_conv(p, &unit->sc, unit->d, cin, 1, N("shortcut.conv")));
                AGECL_TRY(declare_bn(p, &unit->sc_bn, unit->d, N("shortcut.bn")));
            }
#undef N
            cin = unit->d;
            hw = unit->out_hw;
        }
    }
    agecl__heads *h = &m->heads;
    int n = cfg->n_ages;
    AGECL_TRY(declare_linear(p, &h->age_w, &h->age_b, n, cin, "age"));
    if (cfg->gender) AGECL_TRY(declare_linear(p, &h->gender_w, &h->gender_b, 2, cin, "gender"));
    if (cfg->rapl) {
        AGECL_TRY(declare(p, &h->rapl_P, AGECL__PARAM, 1, n, "%s", "rapl.P"));
        AGECL_TRY(declare_linear(p, &h->rapl_a_w, &h->rapl_a_b, 1, n, "rapl.a"));
        AGECL_TRY(declare_linear(p, &h->rapl_fc_w, &h->rapl_fc_b, n, cin, "rapl.fc"));
        h->rapl_R = agecl__params_add(p, AGECL__BUFFER, n, cin, 1, 1, "rapl.R");
        if (h->rapl_R < 0) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "model: parameter table");
    }
    return AGECL_OK;
}

/* A tensor of the model's own, carved from its current arena, or from the next
 * one when it would take the current past the device's largest allocation (the
 * counting pass decides; the carving pass, over arenas of the counted sizes,
 * switches at the same tensors). */
static agecl_status own(agecl_model *m, agecl_tensor *t, int n, int c, int h, int w)
{
    agecl_arena *a = &m->acts[m->n_acts - 1];
    size_t start = (a->used + AGECL_ALIGN - 1) / AGECL_ALIGN * AGECL_ALIGN;
    size_t end = start + (size_t)n * c * h * w;
    size_t max_alloc = agecl_ctx_device(m->ctx)->max_alloc_bytes; /* 0: not reported */
    size_t limit = a->buf ? a->capacity : max_alloc ? max_alloc / sizeof(float) : SIZE_MAX;
    if (end > limit && a->used > 0) {
        /* the last two are the workspace's and the prepared weights' */
        if (m->n_acts == AGECL__ACT_ARENAS - 2)
            return agecl__fail(AGECL_E_OUT_OF_MEMORY, "model: its tensors need more than %d "
                               "buffers of %zu bytes (the device's largest allocation)",
                               AGECL__ACT_ARENAS - 2, limit * sizeof(float));
        a = &m->acts[m->n_acts++];
    }
    return agecl_arena_carve(a, t, n, c, h, w);
}

/* An activation: its own tensor when training, else a view of a shared slot. */
static agecl_status act(agecl_model *m, agecl_tensor *t, int slot, int c, int hw)
{
    if (m->flags & AGECL_MODEL_TRAIN) return own(m, t, m->batch, c, hw, hw);
    return agecl_tensor_view(&m->slots[slot], 0, m->batch, c, hw, hw, t);
}

enum { SLOT_A, SLOT_B, SLOT_C, SLOT_D, SLOT_OUT0, SLOT_OUT1 };

/* A convolution's plan (made in the carving pass only: choosing the algorithm may
 * take a while) and the workspace it needs. */
static agecl_status make_plan(agecl_model *m, agecl__conv *cv, int cin, int hw, int cout, int k,
                              int stride, size_t *ws)
{
    agecl_conv2d_desc d = {m->batch, cin, hw, hw, cout, k, stride, k == 3 ? 1 : 0};
    AGECL_TRY(agecl_conv2d_plan_create(m->ctx, &d, AGECL_CONV_AUTO, &cv->plan));
    size_t need = agecl_conv2d_plan_workspace_bytes(cv->plan);
    if (need > *ws) *ws = need;
    return AGECL_OK;
}

/* A layer's plan for a map of c channels, hw x hw, at the model's batch (made in
 * the carving pass, as the convolutions'). */
static agecl_status make_layer(agecl_model *m, agecl_layer_plan **plan, agecl_layer_op op, int c,
                               int hw, int stride)
{
    agecl_layer_desc d = {op, m->batch, c, hw, hw, stride};
    return agecl_layer_plan_create(m->ctx, &d, plan);
}

static agecl_status bn_stats(agecl_model *m, agecl__bn *bn, int c)
{
    AGECL_TRY(own(m, &bn->save_mean, 1, c, 1, 1));
    return own(m, &bn->save_invstd, 1, c, 1, 1);
}

/* The convolutions of the folded inference, each with the weights it reads. */
static int folded_convs(agecl_model *m, agecl__conv **cv)
{
    int n = 0;
    cv[n++] = &m->stem.conv;
    for (int i = 0; i < m->n_units; i++) {
        cv[n++] = &m->units[i].conv1;
        cv[n++] = &m->units[i].conv2;
        if (m->units[i].sc_conv) cv[n++] = &m->units[i].sc;
    }
    return n;
}

/* An inference model's prepared weights (agecl_conv2d_prepare: Winograd's transformed
 * filters, made once per change of the weights instead of on every forward), where
 * the plans' forward algorithms have them: one arena, after the workspace's. */
static agecl_status carve_prepared(agecl_model *m)
{
    if ((m->flags & AGECL_MODEL_TRAIN) || !m->fold) return AGECL_OK;
    agecl__conv **cv = malloc(((size_t)3 * m->n_units + 1) * sizeof *cv);
    if (!cv) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "model: prepared weights");
    int n = folded_convs(m, cv);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t f = agecl_conv2d_plan_prepared_bytes(cv[i]->plan) / sizeof(float);
        total += (f + AGECL_ALIGN - 1) / AGECL_ALIGN * AGECL_ALIGN;
    }
    agecl_status s = AGECL_OK;
    /* past the device's largest allocation, the forwards transform as they go */
    size_t max_alloc = agecl_ctx_device(m->ctx)->max_alloc_bytes;
    if (total && (!max_alloc || total * sizeof(float) <= max_alloc)) {
        agecl_arena *a = &m->acts[m->n_acts++];
        s = agecl_arena_alloc(m->ctx, a, total);
        for (int i = 0; i < n && s == AGECL_OK; i++) {
            size_t f = agecl_conv2d_plan_prepared_bytes(cv[i]->plan) / sizeof(float);
            if (f) s = agecl_arena_carve(a, &cv[i]->prepared, 1, 1, 1, (int)f);
        }
    }
    free(cv);
    return s;
}

/* Every tensor of the model's own, and the convolution plans; run twice (see
 * carve_all): counting, then carving. */
static agecl_status allocate(agecl_model *m, int counting)
{
    const agecl_model_config *cfg = &m->cfg;
    int B = m->batch, S = cfg->input_size, c0 = cfg->channels[0];
    size_t largest = (size_t)c0 * S * S, ws = 0;
    for (int i = 0; i < m->n_units; i++) {
        agecl__unit *u = &m->units[i];
        size_t in = (size_t)u->d * u->in_hw * u->in_hw; /* conv1 output at the input size */
        size_t cin = (size_t)u->cin * u->in_hw * u->in_hw;
        if (in > largest) largest = in;
        if (cin > largest) largest = cin;
    }
    if (!(m->flags & AGECL_MODEL_TRAIN))
        for (int i = 0; i < 6; i++) AGECL_TRY(own(m, &m->slots[i], B, (int)largest, 1, 1));
    else
        for (int i = 0; i < 4; i++) AGECL_TRY(own(m, &m->grad[i], B, (int)largest, 1, 1));

    AGECL_TRY(own(m, &m->input, B, 3, S, S));
    if (!counting) AGECL_TRY(make_plan(m, &m->stem.conv, 3, S, c0, 3, 1, &ws));
    AGECL_TRY(act(m, &m->stem.t_conv, SLOT_A, c0, S));
    m->stem.fused = m->fold = agecl_ctx_options(m->ctx)->fuse; /* AGECL_FUSE */
    if (!m->stem.fused) AGECL_TRY(act(m, &m->stem.t_bn, SLOT_B, c0, S));
    if (!counting) {
        agecl_layer_op op = m->stem.fused ? AGECL_LAYER_BATCHNORM_PRELU : AGECL_LAYER_BATCHNORM;
        AGECL_TRY(make_layer(m, &m->stem.bn.plan, op, c0, S, 0));
        if (!m->stem.fused)
            AGECL_TRY(make_layer(m, &m->stem.prelu_plan, AGECL_LAYER_PRELU, c0, S, 0));
    }
    AGECL_TRY(act(m, &m->stem.out, SLOT_OUT1, c0, S));
    AGECL_TRY(bn_stats(m, &m->stem.bn, c0));
    for (int i = 0; i < m->n_units; i++) {
        agecl__unit *u = &m->units[i];
        if (!counting) AGECL_TRY(make_plan(m, &u->conv1, u->cin, u->in_hw, u->d, 3, 1, &ws));
        if (!counting) AGECL_TRY(make_plan(m, &u->conv2, u->d, u->in_hw, u->d, 3, u->stride, &ws));
        if (!counting) {
            AGECL_TRY(make_layer(m, &u->bn1.plan, AGECL_LAYER_BATCHNORM, u->cin, u->in_hw, 0));
            AGECL_TRY(make_layer(m, &u->prelu_plan, AGECL_LAYER_PRELU, u->d, u->in_hw, 0));
            AGECL_TRY(make_layer(m, &u->bn2.plan, AGECL_LAYER_BATCHNORM, u->d, u->out_hw, 0));
            AGECL_TRY(make_layer(m, &u->add_plan, AGECL_LAYER_ADD, u->d, u->out_hw, 0));
            if (u->sc_conv)
                AGECL_TRY(make_layer(m, &u->sc_bn.plan, AGECL_LAYER_BATCHNORM, u->d, u->out_hw,
                                     0));
            else /* the backward adds dout into dx through it at stride 1 too */
                AGECL_TRY(make_layer(m, &u->sub_plan, AGECL_LAYER_SUBSAMPLE, u->cin, u->in_hw,
                                     u->stride));
        }
        AGECL_TRY(act(m, &u->t_bn1, SLOT_A, u->cin, u->in_hw));
        AGECL_TRY(act(m, &u->t_conv1, SLOT_B, u->d, u->in_hw));
        AGECL_TRY(act(m, &u->t_prelu, SLOT_A, u->d, u->in_hw));
        AGECL_TRY(act(m, &u->t_conv2, SLOT_B, u->d, u->out_hw));
        AGECL_TRY(bn_stats(m, &u->bn1, u->cin));
        AGECL_TRY(bn_stats(m, &u->bn2, u->d));
        if (u->sc_conv) {
            if (!counting) AGECL_TRY(make_plan(m, &u->sc, u->cin, u->in_hw, u->d, 1, u->stride, &ws));
            AGECL_TRY(act(m, &u->t_sc_conv, SLOT_C, u->d, u->out_hw));
            AGECL_TRY(bn_stats(m, &u->sc_bn, u->d));
        }
        if (u->sc_conv || u->stride > 1) AGECL_TRY(act(m, &u->t_sc, SLOT_D, u->d, u->out_hw));
        if (m->fold) {
            AGECL_TRY(own(m, &u->w2_fold, u->d, u->d, 3, 3));
            if (u->sc_conv) AGECL_TRY(own(m, &u->sc_fold, u->d, u->cin, 1, 1));
            AGECL_TRY(own(m, &u->bias_fold, 1, u->d, 1, 1));
        }
        AGECL_TRY(act(m, &u->out, i % 2 ? SLOT_OUT1 : SLOT_OUT0, u->d, u->out_hw));
    }

    agecl__heads *h = &m->heads;
    int C = cfg->channels[cfg->stages - 1], n = cfg->n_ages;
    if (!counting)
        AGECL_TRY(make_layer(m, &m->pool_plan, AGECL_LAYER_AVGPOOL, C,
                             m->units[m->n_units - 1].out_hw, 0));
    AGECL_TRY(own(m, &h->ages, 1, n, 1, 1));
    if (!counting) AGECL_TRY(agecl_tensor_write(m->ctx, &h->ages, cfg->ages));
    AGECL_TRY(own(m, &h->feat, B, C, 1, 1));
    AGECL_TRY(own(m, &h->age_logits, B, n, 1, 1));
    AGECL_TRY(own(m, &h->age_pred, B, 1, 1, 1));
    AGECL_TRY(own(m, &h->age_err, B, 1, 1, 1));
    AGECL_TRY(own(m, &h->age_loss, 1, 1, 1, 1));
    if (cfg->gender) AGECL_TRY(own(m, &h->gender_logits, B, 2, 1, 1));
    if (cfg->rapl) {
        AGECL_TRY(own(m, &h->rapl_gain, 1, C, 1, 1));
        AGECL_TRY(own(m, &h->rapl_out, B, C, 1, 1));
        AGECL_TRY(own(m, &h->pos_logits, B, n, 1, 1));
    }
    if (m->flags & AGECL_MODEL_TRAIN) {
        AGECL_TRY(own(m, &h->dfeat, B, C, 1, 1));
        AGECL_TRY(own(m, &h->dage_logits, B, n, 1, 1));
        AGECL_TRY(own(m, &h->target_age, B, 1, 1, 1));
        AGECL_TRY(own(m, &h->dist_loss, 1, 1, 1, 1));
        if (cfg->gender) {
            AGECL_TRY(own(m, &h->gender_loss, 1, 1, 1, 1));
            AGECL_TRY(own(m, &h->dgender_logits, B, 2, 1, 1));
            AGECL_TRY(own(m, &h->target_gender, B, 1, 1, 1));
        }
        if (cfg->rapl) {
            AGECL_TRY(own(m, &h->drapl_out, B, C, 1, 1));
            AGECL_TRY(own(m, &h->drapl_gain, 1, C, 1, 1));
            AGECL_TRY(own(m, &h->pos_loss, 1, 1, 1, 1));
            AGECL_TRY(own(m, &h->dpos_logits, B, n, 1, 1));
            AGECL_TRY(own(m, &h->target_pos, B, 1, 1, 1));
        }
    }
    /* The plans' workspace, known once they are made: an arena of its own,
     * after the others. */
    if (ws) {
        agecl_arena *a = &m->acts[m->n_acts++];
        AGECL_TRY(agecl_arena_alloc(m->ctx, a, (ws + 3) / 4));
        AGECL_TRY(agecl_arena_carve(a, &m->workspace, 1, 1, 1, (int)((ws + 3) / 4)));
    }
    return counting ? AGECL_OK : carve_prepared(m);
}

/* The model's own tensors: a counting pass sizes the arenas, which are then
 * allocated and carved by a second pass in the same order. */
static agecl_status carve_all(agecl_model *m)
{
    for (int i = 0; i < AGECL__ACT_ARENAS; i++) agecl_arena_init_counting(&m->acts[i]);
    m->n_acts = 1;
    AGECL_TRY(allocate(m, 1));
    size_t bytes = 0;
    for (int i = 0; i < m->n_acts; i++) bytes += m->acts[i].used * sizeof(float);
    unsigned long long have = agecl_ctx_device(m->ctx)->global_mem_bytes;
    if (bytes > have)
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "model: its activations and their gradients "
                           "need %zu bytes, more than the device's %llu", bytes, have);
    for (int i = 0; i < m->n_acts; i++) AGECL_TRY(agecl_arena_alloc(m->ctx, &m->acts[i], 0));
    m->n_acts = 1;
    return allocate(m, 0);
}

agecl_status agecl_model_create(agecl_ctx *ctx, const agecl_model_config *cfg, int batch,
                                unsigned flags, agecl_model **out)
{
    if (!ctx || !cfg || !out) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_create: NULL argument");
    *out = NULL;
    AGECL_TRY(validate(cfg, batch));
    agecl_model *m = calloc(1, sizeof *m);
    if (!m) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_model_create");
    m->ctx = ctx;
    m->cfg = *cfg;
    m->batch = batch;
    m->flags = flags;
    m->loss = agecl_loss_defaults();
    m->params_gen = 1; /* folded_gen 0: the first inference folds */
    for (int s = 0; s < cfg->stages; s++) m->n_units += cfg->units[s];
    m->units = calloc((size_t)m->n_units, sizeof *m->units);
    agecl_status s = m->units ? AGECL_OK : agecl__fail(AGECL_E_OUT_OF_MEMORY, "model units");
    m->host = malloc((size_t)batch * (cfg->n_ages + 2) * sizeof *m->host);
    if (s == AGECL_OK && !m->host) s = agecl__fail(AGECL_E_OUT_OF_MEMORY, "model host scratch");
    if (s == AGECL_OK) s = declare_all(m);
    if (s == AGECL_OK) s = agecl__params_alloc(ctx, &m->params);
    if (s == AGECL_OK) s = carve_all(m);
    if (s == AGECL_E_OUT_OF_MEMORY || s == AGECL_E_OPENCL) {
        /* the batch is the one thing a user can change: say so */
        const agecl_device_info *dev = agecl_ctx_device(ctx);
        s = agecl__fail(s, "model %s at batch %d on %s (%llu MiB of memory, buffers of at most "
                        "%llu MiB): %s; a smaller batch may fit", cfg->preset, batch, dev->name,
                        dev->global_mem_bytes >> 20, dev->max_alloc_bytes >> 20,
                        agecl_last_error());
    }
    if (s != AGECL_OK) {
        agecl_model_destroy(m);
        return s;
    }
    *out = m;
    return AGECL_OK;
}

static void destroy_plan(agecl__conv *cv)
{
    agecl_conv2d_plan_destroy(cv->plan);
    cv->plan = NULL;
}

void agecl_model_destroy(agecl_model *m)
{
    if (!m) return;
    destroy_plan(&m->stem.conv);
    agecl_layer_plan_destroy(m->stem.bn.plan);
    agecl_layer_plan_destroy(m->stem.prelu_plan);
    for (int i = 0; m->units && i < m->n_units; i++) {
        agecl__unit *u = &m->units[i];
        destroy_plan(&u->conv1);
        destroy_plan(&u->conv2);
        destroy_plan(&u->sc);
        agecl_layer_plan *layers[] = {u->bn1.plan,  u->bn2.plan,  u->sc_bn.plan,
                                      u->prelu_plan, u->add_plan, u->sub_plan};
        for (size_t k = 0; k < sizeof layers / sizeof layers[0]; k++)
            agecl_layer_plan_destroy(layers[k]);
    }
    agecl_layer_plan_destroy(m->pool_plan);
    agecl__model_comm_free(m);
    for (int i = 0; i < AGECL__ACT_ARENAS; i++) agecl_arena_free(&m->acts[i]);
    free(m->host);
    free(m->units);
    agecl__params_free(&m->params);
    free(m);
}

const agecl_model_config *agecl_model_config_of(const agecl_model *m) { return &m->cfg; }
int agecl_model_batch(const agecl_model *m) { return m->batch; }
agecl_ctx *agecl_model_ctx(const agecl_model *m) { return m->ctx; }
const agecl_tensor *agecl_model_features(const agecl_model *m) { return &m->heads.feat; }
const agecl_tensor *agecl_model_abs_errors(const agecl_model *m) { return &m->heads.age_err; }
size_t agecl_model_param_count(const agecl_model *m)
{
    return agecl__params_count(&m->params, AGECL__PARAM);
}
size_t agecl_model_buffer_count(const agecl_model *m)
{
    return agecl__params_count(&m->params, AGECL__BUFFER);
}
