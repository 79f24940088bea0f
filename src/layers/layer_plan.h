/* src/layers/layer_plan.h - the insides of agecl_layer_plan (not installed).
 *
 * Each op's file makes its plan's launches (agecl__<op>_plan) and runs them
 * (the public agecl_layer_<op>_* functions); its one-shot functions, which
 * take the context, make a plan in place (agecl__layer_plan_for, nothing
 * allocated) and run it, so both forms are one code path. */
#ifndef AGECL_LAYERS_LAYER_PLAN_H
#define AGECL_LAYERS_LAYER_PLAN_H

#include "agecl/layers.h"
#include "runtime/launch.h"

enum { AGECL__LAYER_LAUNCHES = 5 };

struct agecl_layer_plan {
    agecl_ctx *ctx;
    agecl_layer_desc d;
    int cpu; /* the CPU kernels (agecl__layer_cpu), chosen when made */
    agecl__launch k[AGECL__LAYER_LAUNCHES]; /* in the order of the op file's enum */
};

/* Fill *p for d (checked: a known op, a shape of positive sizes whose element
 * count fits the kernels' 32-bit indices, a stride >= 1 to subsample). */
agecl_status agecl__layer_plan_init(agecl_ctx *ctx, const agecl_layer_desc *d,
                                    agecl_layer_plan *p);

/* The plan of a one-shot call: ctx present, t (called name) a tensor, whose
 * shape is the plan's. */
agecl_status agecl__layer_plan_for(agecl_ctx *ctx, const char *op, agecl_layer_op kind,
                                   const agecl_tensor *t, const char *name, int stride,
                                   agecl_layer_plan *p);

/* At a run: the plan is present and of one of the ops `a`, `b` (the same
 * twice for one), and t (called name) has the plan's shape; *off its offset. */
agecl_status agecl__layer_plan_check(const agecl_layer_plan *p, const char *op, agecl_layer_op a,
                                     agecl_layer_op b, const agecl_tensor *t, const char *name,
                                     cl_uint *off);

/* Each op's launches, into p->k (p->ctx, p->d and p->cpu are set). */
agecl_status agecl__batchnorm_plan(agecl_layer_plan *p);
agecl_status agecl__prelu_plan(agecl_layer_plan *p);
agecl_status agecl__add_plan(agecl_layer_plan *p);
agecl_status agecl__subsample_plan(agecl_layer_plan *p);
agecl_status agecl__avgpool_plan(agecl_layer_plan *p);

#endif
