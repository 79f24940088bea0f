/* Layer plans: made once for an op and a shape, run many times. */
#include "layers/layer_plan.h"
#include <stdint.h>
#include <stdlib.h>
#include "layers/layer_util.h"
#include "runtime/args.h"
#include "error.h"

static const char *op_name(agecl_layer_op op)
{
    switch (op) {
    case AGECL_LAYER_BATCHNORM: return "batchnorm";
    case AGECL_LAYER_BATCHNORM_PRELU: return "batchnorm_prelu";
    case AGECL_LAYER_PRELU: return "prelu";
    case AGECL_LAYER_ADD: return "add";
    case AGECL_LAYER_SUBSAMPLE: return "subsample";
    case AGECL_LAYER_AVGPOOL: return "avgpool";
    }
    return NULL;
}

agecl_status agecl__layer_plan_init(agecl_ctx *ctx, const agecl_layer_desc *d,
                                    agecl_layer_plan *p)
{
    static const char op[] = "layer_plan_create";
    if (!ctx || !d || !p)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx, desc and out are required", op);
    const char *name = op_name(d->op);
    if (!name) return agecl__fail(AGECL_E_INVALID_ARG, "%s: unknown op %d", op, (int)d->op);
    if (d->n < 1 || d->c < 1 || d->h < 1 || d->w < 1)
        return agecl__fail(AGECL_E_SHAPE, "%s: %s of shape %dx%dx%dx%d", op, name, d->n, d->c,
                           d->h, d->w);
    if ((uint64_t)d->n * (uint64_t)d->c * (uint64_t)d->h * (uint64_t)d->w > UINT32_MAX)
        return agecl__fail(AGECL_E_UNSUPPORTED, "%s: %s of shape %dx%dx%dx%d has more than "
                           "2^32 - 1 elements", op, name, d->n, d->c, d->h, d->w);
    if (d->op == AGECL_LAYER_SUBSAMPLE && d->stride < 1)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: subsample stride %d < 1", op, d->stride);
    *p = (agecl_layer_plan){.ctx = ctx, .d = *d, .cpu = agecl__layer_cpu(ctx)};
    switch (d->op) {
    case AGECL_LAYER_BATCHNORM:
    case AGECL_LAYER_BATCHNORM_PRELU: return agecl__batchnorm_plan(p);
    case AGECL_LAYER_PRELU: return agecl__prelu_plan(p);
    case AGECL_LAYER_ADD: return agecl__add_plan(p);
    case AGECL_LAYER_SUBSAMPLE: return agecl__subsample_plan(p);
    case AGECL_LAYER_AVGPOOL: return agecl__avgpool_plan(p);
    }
    return AGECL_OK;
}

agecl_status agecl_layer_plan_create(agecl_ctx *ctx, const agecl_layer_desc *d,
                                     agecl_layer_plan **out)
{
    if (!out) return agecl__fail(AGECL_E_INVALID_ARG, "layer_plan_create: out is NULL");
    *out = NULL;
    agecl_layer_plan *p = malloc(sizeof *p);
    if (!p) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "layer_plan_create: the plan");
    agecl_status s = agecl__layer_plan_init(ctx, d, p);
    if (s != AGECL_OK) {
        free(p);
        return s;
    }
    *out = p;
    return AGECL_OK;
}

/* The launches hold only kernels the context owns: nothing else to release. */
void agecl_layer_plan_destroy(agecl_layer_plan *p) { free(p); }

agecl_status agecl__layer_plan_for(agecl_ctx *ctx, const char *op, agecl_layer_op kind,
                                   const agecl_tensor *t, const char *name, int stride,
                                   agecl_layer_plan *p)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint off;
    AGECL_TRY(agecl__arg_tensor(t, op, name, &off));
    if (kind == AGECL_LAYER_SUBSAMPLE && stride < 1)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: stride %d < 1", op, stride);
    agecl_layer_desc d = {kind, t->n, t->c, t->h, t->w, stride};
    return agecl__layer_plan_init(ctx, &d, p);
}

agecl_status agecl__layer_plan_check(const agecl_layer_plan *p, const char *op, agecl_layer_op a,
                                     agecl_layer_op b, const agecl_tensor *t, const char *name,
                                     cl_uint *off)
{
    if (!p) return agecl__fail(AGECL_E_INVALID_ARG, "%s: plan is NULL", op);
    if (p->d.op != a && p->d.op != b)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: the plan is for %s", op, op_name(p->d.op));
    return agecl__arg_shape(t, op, name, p->d.n, p->d.c, p->d.h, p->d.w, "the plan", off);
}
