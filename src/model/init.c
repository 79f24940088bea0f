/* Initialisation from a seed (MODEL.md section 5), done on the host and uploaded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "model/model_internal.h"

typedef struct rng { uint64_t s; } rng;

static uint64_t next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(rng *r) { return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0); }

static double normal(rng *r)
{
    double u1 = uniform(r), u2 = uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The Linear layer a parameter belongs to: its fan-in (the weight's second
 * dimension), found from the weight of the same prefix. */
static int linear_fan_in(const agecl__params *p, const agecl__param *e)
{
    char name[80];
    size_t k = strlen(e->name) - strlen(".bias");
    snprintf(name, sizeof name, "%.*s.weight", (int)k, e->name);
    int i = agecl__params_find(p, name);
    return i >= 0 ? p->items[i].c : 1;
}

static void fill_values(const agecl__params *p, const agecl__param *e, rng *r, float *v,
                        size_t n)
{
    const char *name = e->name;
    int is_conv = ends_with(name, ".weight") && (strstr(name, "conv") != NULL);
    int is_bn = strstr(name, "bn.") || strstr(name, "bn1.") || strstr(name, "bn2.");
    if (is_conv) { /* He normal, fan in, gain sqrt(2) */
        double std = sqrt(2.0 / ((double)e->c * e->h * e->w));
        for (size_t i = 0; i < n; i++) v[i] = (float)(std * normal(r));
    } else if (is_bn) {
        float value = ends_with(name, ".weight") || ends_with(name, ".running_var") ? 1.0f : 0.0f;
        for (size_t i = 0; i < n; i++) v[i] = value;
    } else if (strstr(name, "prelu.")) {
        for (size_t i = 0; i < n; i++) v[i] = 0.25f;
    } else if (!strcmp(name, "rapl.P")) {
        for (size_t i = 0; i < n; i++) v[i] = 1.0f; /* MODEL.md leaves P open: ones */
    } else if (!strcmp(name, "rapl.R")) {
        memset(v, 0, n * sizeof *v);
    } else { /* Linear, PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both */
        int fan_in = ends_with(name, ".bias") ? linear_fan_in(p, e) : e->c * e->h * e->w;
        double bound = 1.0 / sqrt((double)fan_in);
        for (size_t i = 0; i < n; i++) v[i] = (float)((2.0 * uniform(r) - 1.0) * bound);
    }
}

agecl_status agecl_model_init(agecl_model *m, uint64_t seed)
{
    if (!m) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_init: model is NULL");
    agecl__params *p = &m->params;
    agecl__params_changed(m);
    size_t largest = 0;
    for (int i = 0; i < p->count; i++) {
        size_t n = agecl_tensor_numel(&p->items[i].value);
        if (n > largest) largest = n;
    }
    float *v = malloc(largest * sizeof *v);
    if (!v) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_model_init");
    rng r = {seed * 0x9e3779b97f4a7c15ull + 0x1234567};
    agecl_status s = AGECL_OK;
    for (int i = 0; i < p->count && s == AGECL_OK; i++) {
        agecl__param *e = &p->items[i];
        size_t n = agecl_tensor_numel(&e->value);
        fill_values(p, e, &r, v, n);
        s = agecl_tensor_write(m->ctx, &e->value, v);
    }
    free(v);
    if (s != AGECL_OK) return s;
    m->heads.refs_set = 0;
    if (p->param_elems) {
        AGECL_TRY(agecl_tensor_fill(m->ctx, &p->grads, 0.0f));
        AGECL_TRY(agecl_tensor_fill(m->ctx, &p->m, 0.0f));
        AGECL_TRY(agecl_tensor_fill(m->ctx, &p->v, 0.0f));
    }
    return agecl_ctx_finish(m->ctx);
}
