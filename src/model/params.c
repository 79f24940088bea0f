/* Named model tensors carved from one allocation (see params.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "model/params.h"

int agecl__params_add(agecl__params *p, agecl__param_kind kind, int n, int c, int h, int w,
                      const char *fmt, ...)
{
    if (p->count == p->cap) {
        int cap = p->cap ? p->cap * 2 : 128;
        void *items = realloc(p->items, (size_t)cap * sizeof *p->items);
        if (!items) return -1;
        p->items = items;
        p->cap = cap;
    }
    agecl__param *e = &p->items[p->count];
    memset(e, 0, sizeof *e);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    e->n = n, e->c = c, e->h = h, e->w = w;
    e->ndim = h == 1 && w == 1 ? (n == 1 ? 1 : 2) : 4;
    e->kind = kind;
    return p->count++;
}

static agecl_status view(const agecl_arena *a, size_t offset, size_t count, agecl_tensor *t)
{
    *t = (agecl_tensor){a->buf, offset, 1, 1, 1, (int)count, 0};
    return AGECL_OK;
}

/* Weights (ndim >= 2) are carved before the one-dimensional parameters, the
 * running statistics (one-dimensional buffers) before rapl.R. */
static int carve_group(const agecl__param *e)
{
    return e->kind == AGECL__PARAM ? e->ndim < 2 : e->ndim >= 2;
}

static size_t align_up(size_t n) { return (n + AGECL_ALIGN - 1) / AGECL_ALIGN * AGECL_ALIGN; }

agecl_status agecl__params_alloc(agecl_ctx *ctx, agecl__params *p)
{
    agecl_arena count_params, count_buffers;
    agecl_arena_init_counting(&count_params);
    agecl_arena_init_counting(&count_buffers);
    for (int group = 0; group < 2; group++) {
        for (int i = 0; i < p->count; i++) {
            agecl__param *e = &p->items[i];
            if (carve_group(e) != group) continue;
            agecl_tensor t;
            AGECL_TRY(agecl_arena_carve(e->kind == AGECL__PARAM ? &count_params : &count_buffers,
                                        &t, e->n, e->c, e->h, e->w));
        }
        if (group == 0) {
            /* The one-dimensional parameters start on an aligned boundary. */
            p->weight_elems = align_up(count_params.used);
            count_params.used = p->weight_elems;
            p->stat_elems = align_up(count_buffers.used);
            count_buffers.used = p->stat_elems;
        }
    }
    /* Each region is rounded up so the next starts aligned. */
    p->param_elems = align_up(count_params.used);
    p->buffer_elems = count_buffers.used;
    if (p->param_elems) AGECL_TRY(agecl_arena_alloc(ctx, &p->arena, 4 * p->param_elems));
    if (p->buffer_elems) AGECL_TRY(agecl_arena_alloc(ctx, &p->buffers, p->buffer_elems));

    size_t P = p->param_elems;
    for (int group = 0; group < 2; group++) {
        for (int i = 0; i < p->count; i++) {
            agecl__param *e = &p->items[i];
            if (carve_group(e) != group) continue;
            if (e->kind == AGECL__BUFFER) {
                AGECL_TRY(agecl_arena_carve(&p->buffers, &e->value, e->n, e->c, e->h, e->w));
                continue;
            }
            AGECL_TRY(agecl_arena_carve(&p->arena, &e->value, e->n, e->c, e->h, e->w));
            e->grad = e->value, e->m = e->value, e->v = e->value;
            e->grad.offset += P;
            e->m.offset += 2 * P;
            e->v.offset += 3 * P;
        }
        if (group == 0) p->arena.used = p->weight_elems, p->buffers.used = p->stat_elems;
    }
    if (P) {
        view(&p->arena, 0, P, &p->values);
        view(&p->arena, P, P, &p->grads);
        view(&p->arena, 2 * P, P, &p->m);
        view(&p->arena, 3 * P, P, &p->v);
        agecl_tensor all;
        view(&p->arena, 0, 4 * P, &all);
        AGECL_TRY(agecl_tensor_fill(ctx, &all, 0.0f));
    }
    if (p->stat_elems) view(&p->buffers, 0, p->stat_elems, &p->stats);
    if (p->buffer_elems) {
        agecl_tensor all;
        view(&p->buffers, 0, p->buffer_elems, &all);
        AGECL_TRY(agecl_tensor_fill(ctx, &all, 0.0f));
    }
    return AGECL_OK;
}

int agecl__params_find(const agecl__params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->items[i].name, name)) return i;
    return -1;
}

size_t agecl__params_count(const agecl__params *p, agecl__param_kind kind)
{
    size_t n = 0;
    for (int i = 0; i < p->count; i++)
        if (p->items[i].kind == kind)
            n += (size_t)p->items[i].n * p->items[i].c * p->items[i].h * p->items[i].w;
    return n;
}

int agecl__params_ema_view(const agecl__params *p, int i, agecl_tensor *t)
{
    const agecl__param *e = &p->items[i];
    if (!p->ema_on || (e->kind == AGECL__BUFFER && carve_group(e))) return 0;
    *t = e->value;
    t->buf = p->ema.buf;
    if (e->kind == AGECL__BUFFER) t->offset += p->param_elems;
    return 1;
}

agecl_status agecl__params_ema_start(agecl_ctx *ctx, agecl__params *p)
{
    if (p->ema_on) return AGECL_OK;
    size_t P = p->param_elems, S = p->stat_elems;
    if (P + S) AGECL_TRY(agecl_arena_alloc(ctx, &p->ema, P + S));
    view(&p->ema, 0, P, &p->ema_values);
    view(&p->ema, P, S, &p->ema_stats);
    if (P) AGECL_TRY(agecl_tensor_copy(ctx, &p->values, &p->ema_values));
    if (S) AGECL_TRY(agecl_tensor_copy(ctx, &p->stats, &p->ema_stats));
    p->ema_on = 1;
    return AGECL_OK;
}

void agecl__params_free(agecl__params *p)
{
    agecl_arena_free(&p->ema);
    agecl_arena_free(&p->arena);
    agecl_arena_free(&p->buffers);
    free(p->items);
    memset(p, 0, sizeof *p);
}
