/* Named access to a model's tensors, for checkpoints and tests. */
#include <string.h>
#include "error.h"
#include "model/model_internal.h"

int agecl_model_tensor_count(const agecl_model *m) { return m->params.count; }

const char *agecl_model_tensor_name(const agecl_model *m, int i, int *kind, int shape[4])
{
    if (i < 0 || i >= m->params.count) return NULL;
    const agecl__param *e = &m->params.items[i];
    if (kind) *kind = e->kind == AGECL__PARAM ? 0 : 1;
    if (shape) shape[0] = e->n, shape[1] = e->c, shape[2] = e->h, shape[3] = e->w;
    return e->name;
}

int agecl_model_tensor_find(const agecl_model *m, const char *name)
{
    return agecl__params_find(&m->params, name);
}

static agecl_status pick(agecl_model *m, int i, int which, agecl_tensor **t)
{
    if (!m || i < 0 || i >= m->params.count || which < 0 || which > 3)
        return agecl__fail(AGECL_E_INVALID_ARG, "model tensor %d/%d: no such tensor", i, which);
    agecl__param *e = &m->params.items[i];
    if (e->kind == AGECL__BUFFER && which)
        return agecl__fail(AGECL_E_INVALID_ARG, "model tensor %s is a buffer: it has no "
                           "gradient or moments", e->name);
    agecl_tensor *all[4] = {&e->value, &e->grad, &e->m, &e->v};
    *t = all[which];
    return AGECL_OK;
}

agecl_status agecl_model_tensor_get(agecl_model *m, int i, int which, float *host)
{
    agecl_tensor *t = NULL;
    AGECL_TRY(pick(m, i, which, &t));
    return agecl_tensor_read(m->ctx, t, host);
}

agecl_status agecl_model_tensor_set(agecl_model *m, int i, int which, const float *host)
{
    agecl_tensor *t = NULL;
    AGECL_TRY(pick(m, i, which, &t));
    if (i == m->heads.rapl_R && m->cfg.rapl) m->heads.refs_set = 1;
    agecl__params_changed(m);
    return agecl_tensor_write(m->ctx, t, host);
}
