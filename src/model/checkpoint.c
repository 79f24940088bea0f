/* Checkpoints: a model's tensors in a safetensors file, with PyTorch's shapes.
 *
 * Tensors: every parameter and buffer under its name (agecl/model.h), and with
 * the optimizer state "adam.m.<name>", "adam.v.<name>" and, where the model keeps
 * a moving average of its weights, "ema.<name>" (parameters and running
 * statistics). Metadata: "format"
 * (agecl-checkpoint-1), the config ("preset", "stages", "units", "channels",
 * "input_size", "gender", "rapl", "ages"), "references" (1 when rapl.R holds
 * selected references), and whatever the caller adds (the trainer's state). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/safetensors.h"
#include "error.h"
#include "io/number.h"
#include "model/model_internal.h"

#define FORMAT "agecl-checkpoint-1"

/* PyTorch's shape of a tensor: [C], [N,C] or [N,C,H,W] (params.h). */
static int st_shape(const agecl__param *e, int shape[4])
{
    if (e->ndim == 1) {
        shape[0] = e->c;
        return 1;
    }
    shape[0] = e->n, shape[1] = e->c, shape[2] = e->h, shape[3] = e->w;
    return e->ndim;
}

static void join_ints(char *buf, size_t len, const int *v, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "", v[i]);
}

static agecl_status add_config(agecl_st_writer *w, const agecl_model_config *cfg,
                               int references)
{
    char buf[4096];
    int ages[AGECL_MAX_AGES];
    for (int i = 0; i < cfg->n_ages; i++) ages[i] = (int)cfg->ages[i];
    AGECL_TRY(agecl_st_writer_meta(w, "format", FORMAT));
    AGECL_TRY(agecl_st_writer_meta(w, "preset", cfg->preset));
    snprintf(buf, sizeof buf, "%d", cfg->stages);
    AGECL_TRY(agecl_st_writer_meta(w, "stages", buf));
    join_ints(buf, sizeof buf, cfg->units, cfg->stages);
    AGECL_TRY(agecl_st_writer_meta(w, "units", buf));
    join_ints(buf, sizeof buf, cfg->channels, cfg->stages);
    AGECL_TRY(agecl_st_writer_meta(w, "channels", buf));
    snprintf(buf, sizeof buf, "%d", cfg->input_size);
    AGECL_TRY(agecl_st_writer_meta(w, "input_size", buf));
    AGECL_TRY(agecl_st_writer_meta(w, "gender", cfg->gender ? "1" : "0"));
    AGECL_TRY(agecl_st_writer_meta(w, "rapl", cfg->rapl ? "1" : "0"));
    join_ints(buf, sizeof buf, ages, cfg->n_ages);
    AGECL_TRY(agecl_st_writer_meta(w, "ages", buf));
    return agecl_st_writer_meta(w, "references", references ? "1" : "0");
}

/* The copies of tensor i a checkpoint holds: the value, then with the optimizer
 * Adam's moments (parameters) and the moving average (where the model keeps one).
 * Fills t and prefix; returns how many. */
static int copies_of(const agecl__params *p, int i, int with_optimizer, agecl_tensor t[4],
                     const char *prefix[4])
{
    const agecl__param *e = &p->items[i];
    int n = 0;
    t[n] = e->value, prefix[n++] = "";
    if (!with_optimizer) return n;
    if (e->kind == AGECL__PARAM) {
        t[n] = e->m, prefix[n++] = "adam.m.";
        t[n] = e->v, prefix[n++] = "adam.v.";
    }
    if (agecl__params_ema_view(p, i, &t[n])) prefix[n++] = "ema.";
    return n;
}

agecl_status agecl_model_save(agecl_model *m, const char *path, int with_optimizer,
                              const char *const *meta)
{
    if (!m || !path) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_save: NULL argument");
    agecl__params *p = &m->params;
    if (with_optimizer && p->ema_swapped)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_save: %s: the moving average is "
                           "swapped in (swap back before saving the optimizer state)", path);
    size_t total = 0;
    agecl_tensor t[4];
    const char *prefix[4];
    for (int i = 0; i < p->count; i++)
        total += agecl_tensor_numel(&p->items[i].value) * copies_of(p, i, with_optimizer, t, prefix);
    float *host = malloc((total ? total : 1) * sizeof *host);
    char (*names)[80] = calloc((size_t)p->count * 4, sizeof *names);
    agecl_st_writer *w = NULL;
    agecl_status s = host && names ? agecl_st_writer_create(&w)
                                   : agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_model_save");
    float *at = host;
    for (int i = 0; i < p->count && s == AGECL_OK; i++) {
        agecl__param *e = &p->items[i];
        int shape[4], nd = st_shape(e, shape);
        int copies = copies_of(p, i, with_optimizer, t, prefix);
        for (int k = 0; k < copies && s == AGECL_OK; k++) {
            snprintf(names[4 * i + k], sizeof names[0], "%s%s", prefix[k], e->name);
            s = agecl_tensor_read(m->ctx, &t[k], at);
            if (s == AGECL_OK) s = agecl_st_writer_add(w, names[4 * i + k], AGECL_ST_F32, nd, shape, at);
            at += agecl_tensor_numel(&t[k]);
        }
    }
    if (s == AGECL_OK) s = add_config(w, &m->cfg, m->heads.refs_set);
    for (int i = 0; meta && meta[i] && meta[i + 1] && s == AGECL_OK; i += 2)
        s = agecl_st_writer_meta(w, meta[i], meta[i + 1]);
    if (s == AGECL_OK) s = agecl_st_writer_save(w, path);
    agecl_st_writer_free(w);
    free(names);
    free(host);
    return s;
}

static agecl_status parse_ints(const char *path, const char *key, const char *text, int *v,
                               int max, int *n)
{
    *n = 0;
    const char *p = text;
    while (p && *p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || *n == max || x < 0 || x > 1000000)
            return agecl__fail(AGECL_E_FORMAT, "%s: metadata '%s' is not a list of at most %d "
                               "numbers: '%.60s'", path, key, max, text);
        v[(*n)++] = (int)x;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return agecl__fail(AGECL_E_FORMAT, "%s: metadata '%s' is malformed: '%.60s'", path,
                               key, text);
    }
    return AGECL_OK;
}

static agecl_status need_meta(const agecl_st_file *f, const char *path, const char *key,
                              const char **value)
{
    *value = agecl_st_meta(f, key);
    if (!*value)
        return agecl__fail(AGECL_E_FORMAT, "%s: not an agecl checkpoint (no '%s' in its metadata)",
                           path, key);
    return AGECL_OK;
}

/* The whole number key, in [lo, hi]. */
static agecl_status meta_int(const agecl_st_file *f, const char *path, const char *key, int lo,
                             int hi, int *out)
{
    const char *v;
    long long x;
    char what[1100];
    AGECL_TRY(need_meta(f, path, key, &v));
    snprintf(what, sizeof what, "%s: metadata '%s'", path, key);
    AGECL_TRY(agecl__parse_int(AGECL_E_FORMAT, what, v, lo, hi, &x));
    *out = (int)x;
    return AGECL_OK;
}

/* The backbone's part of the config (format, preset, units, channels, input size). */
static agecl_status read_backbone(const agecl_st_file *f, const char *path, agecl_model_config *cfg)
{
    const char *v;
    int n = 0;
    memset(cfg, 0, sizeof *cfg);
    AGECL_TRY(need_meta(f, path, "format", &v));
    if (strcmp(v, FORMAT))
        return agecl__fail(AGECL_E_FORMAT, "%s: not an agecl checkpoint (format '%s', expected "
                           "'%s')", path, v, FORMAT);
    AGECL_TRY(need_meta(f, path, "preset", &v));
    snprintf(cfg->preset, sizeof cfg->preset, "%s", v);
    AGECL_TRY(need_meta(f, path, "units", &v));
    AGECL_TRY(parse_ints(path, "units", v, cfg->units, AGECL_MAX_STAGES, &cfg->stages));
    AGECL_TRY(need_meta(f, path, "channels", &v));
    AGECL_TRY(parse_ints(path, "channels", v, cfg->channels, AGECL_MAX_STAGES, &n));
    if (n != cfg->stages || cfg->stages == 0)
        return agecl__fail(AGECL_E_FORMAT, "%s: %d stages of units but %d of channels", path,
                           cfg->stages, n);
    return meta_int(f, path, "input_size", 1, 4096, &cfg->input_size);
}

/* A backbone without heads: what tools/torch/import_pytorch.py writes. */
static int backbone_only(const agecl_st_file *f)
{
    const char *v = agecl_st_meta(f, "heads");
    return v && !strcmp(v, "none");
}

agecl_status agecl_model_backbone_read(const char *path, agecl_model_config *cfg)
{
    if (!path || !cfg) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_backbone_read: NULL argument");
    agecl_st_file *f;
    AGECL_TRY(agecl_st_open(path, &f));
    agecl_status s = read_backbone(f, path, cfg);
    agecl_st_close(f);
    return s;
}

agecl_status agecl_model_config_read(const char *path, agecl_model_config *cfg)
{
    if (!path || !cfg) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_config_read: NULL argument");
    agecl_st_file *f;
    AGECL_TRY(agecl_st_open(path, &f));
    const char *v;
    int n = 0, ages[AGECL_MAX_AGES];
    agecl_status s = read_backbone(f, path, cfg);
    if (s == AGECL_OK && backbone_only(f))
        s = agecl__fail(AGECL_E_FORMAT, "%s: a backbone without heads (an import): train from it "
                        "with 'agecl train --init %s' first", path, path);
    if (s == AGECL_OK) s = meta_int(f, path, "gender", 0, 1, &cfg->gender);
    if (s == AGECL_OK) s = meta_int(f, path, "rapl", 0, 1, &cfg->rapl);
    if (s == AGECL_OK) s = need_meta(f, path, "ages", &v);
    if (s == AGECL_OK) s = parse_ints(path, "ages", v, ages, AGECL_MAX_AGES, &n);
    if (s == AGECL_OK) s = agecl_model_config_set_ages(cfg, ages, n);
    agecl_st_close(f);
    return s;
}

/* The largest parameter's element count: the size of the host staging buffer. */
static size_t largest_param(const agecl__params *p)
{
    size_t largest = 1;
    for (int i = 0; i < p->count; i++)
        if (agecl_tensor_numel(&p->items[i].value) > largest)
            largest = agecl_tensor_numel(&p->items[i].value);
    return largest;
}

/* The file's tensor name into t, staged through host; a missing one is an error
 * naming the file, the tensor and the likely reason (missing). */
static agecl_status read_into(agecl_ctx *ctx, agecl_st_file *f, const char *path, const char *name,
                              agecl_tensor *t, const int *shape, int nd, float *host,
                              const char *missing)
{
    agecl_st_info info;
    if (agecl_st_find(f, name, &info) != AGECL_OK)
        return agecl__fail(AGECL_E_FORMAT, "%s: no tensor '%s': %s", path, name, missing);
    AGECL_TRY(agecl_st_read_f32(f, name, host, agecl_tensor_numel(t), shape, nd));
    return agecl_tensor_write(ctx, t, host);
}

agecl_status agecl_model_load(agecl_model *m, const char *path, int with_optimizer)
{
    if (!m || !path) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_load: NULL argument");
    agecl__params_changed(m);
    agecl_st_file *f;
    AGECL_TRY(agecl_st_open(path, &f));
    agecl__params *p = &m->params;
    float *host = malloc(largest_param(p) * sizeof *host);
    agecl_status s = host ? AGECL_OK : agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_model_load");
    /* A file with a moving average gives the model one. */
    agecl_st_info info;
    char first[96];
    snprintf(first, sizeof first, "ema.%s", p->count ? p->items[0].name : "");
    if (s == AGECL_OK && with_optimizer && p->count && agecl_st_find(f, first, &info) == AGECL_OK)
        s = agecl__params_ema_start(m->ctx, p);
    if (s == AGECL_OK && p->ema_swapped)
        s = agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_load: the moving average is swapped in");
    for (int i = 0; i < p->count && s == AGECL_OK; i++) {
        agecl__param *e = &p->items[i];
        int shape[4], nd = st_shape(e, shape);
        agecl_tensor t[4];
        const char *prefix[4];
        int copies = copies_of(p, i, with_optimizer, t, prefix);
        for (int k = 0; k < copies && s == AGECL_OK; k++) {
            char name[96];
            snprintf(name, sizeof name, "%s%s", prefix[k], e->name);
            s = read_into(m->ctx, f, path, name, &t[k], shape, nd, host,
                          k ? "a checkpoint of another model, or one saved without the optimizer?"
                            : "a checkpoint of another model?");
        }
    }
    const char *refs = agecl_st_meta(f, "references");
    if (s == AGECL_OK) m->heads.refs_set = m->cfg.rapl && refs && !strcmp(refs, "1");
    free(host);
    agecl_st_close(f);
    return s;
}

/* The head a tensor belongs to (AGECL_HEAD_*), 0 for the backbone. */
static unsigned head_of(const char *name)
{
    if (!strncmp(name, "age.", 4)) return AGECL_HEAD_AGE;
    if (!strncmp(name, "gender.", 7)) return AGECL_HEAD_GENDER;
    if (!strncmp(name, "rapl.", 5)) return AGECL_HEAD_POSITION;
    return 0;
}

static int has_shape(const agecl_st_file *f, const char *name, const int *shape, int nd)
{
    agecl_st_info info;
    if (agecl_st_find(f, name, &info) != AGECL_OK || info.ndim != nd) return 0;
    for (int d = 0; d < nd; d++)
        if (info.shape[d] != shape[d]) return 0;
    return 1;
}

static void describe(char *buf, size_t len, const agecl_model_config *c)
{
    char u[64], ch[64];
    join_ints(u, sizeof u, c->units, c->stages);
    join_ints(ch, sizeof ch, c->channels, c->stages);
    snprintf(buf, len, "%s: units %s, channels %s", c->preset, u, ch);
}

/* The file's backbone (where its metadata says) against the model's. */
static agecl_status check_backbone(const agecl_st_file *f, const char *path,
                                   const agecl_model_config *mine)
{
    agecl_model_config file;
    if (!agecl_st_meta(f, "units")) return AGECL_OK; /* no metadata: the tensors decide */
    AGECL_TRY(read_backbone(f, path, &file));
    int same = file.stages == mine->stages;
    for (int i = 0; same && i < file.stages; i++)
        same = file.units[i] == mine->units[i] && file.channels[i] == mine->channels[i];
    if (same) return AGECL_OK;
    char a[160], b[160];
    describe(a, sizeof a, &file);
    describe(b, sizeof b, mine);
    return agecl__fail(AGECL_E_SHAPE, "%s: a backbone of another shape (%s) than the model's "
                       "(%s): choose the file's preset", path, a, b);
}

agecl_status agecl_model_load_weights(agecl_model *m, const char *path, unsigned *from_file)
{
    if (!m || !path) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_load_weights: NULL argument");
    if (from_file) *from_file = 0;
    agecl__params_changed(m);
    agecl__params *p = &m->params;
    if (p->ema_swapped)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_load_weights: the moving average "
                           "is swapped in");
    agecl_st_file *f;
    AGECL_TRY(agecl_st_open(path, &f));
    agecl_status s = check_backbone(f, path, &m->cfg);
    if (s != AGECL_OK) {
        agecl_st_close(f);
        return s;
    }
    /* A head comes from the file when every one of its tensors is there with the
     * model's shape (same age labels); otherwise it keeps its initialisation. */
    unsigned heads = AGECL_HEAD_AGE | AGECL_HEAD_GENDER | AGECL_HEAD_POSITION;
    for (int i = 0; i < p->count; i++) {
        const agecl__param *e = &p->items[i];
        int shape[4], nd = st_shape(e, shape);
        if (!has_shape(f, e->name, shape, nd)) heads &= ~head_of(e->name);
    }
    float *host = malloc(largest_param(p) * sizeof *host);
    if (!host) s = agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_model_load_weights");
    unsigned present = 0;
    for (int i = 0; i < p->count && s == AGECL_OK; i++) {
        agecl__param *e = &p->items[i];
        unsigned h = head_of(e->name);
        if (h && !(heads & h)) continue;
        int shape[4], nd = st_shape(e, shape);
        s = read_into(m->ctx, f, path, e->name, &e->value, shape, nd, host,
                      "not a backbone of this model");
        present |= h;
    }
    const char *refs = agecl_st_meta(f, "references");
    if (s == AGECL_OK) {
        m->heads.refs_set = (present & AGECL_HEAD_POSITION) && refs && !strcmp(refs, "1");
        if (from_file) *from_file = present;
    }
    free(host);
    agecl_st_close(f);
    return s;
}
