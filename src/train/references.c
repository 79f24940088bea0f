/* Algorithm 1's store (see references.h). */
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "train/references.h"

agecl_status agecl__ref_store_create(agecl__ref_store *s, agecl_ctx *ctx, int steps, int batch,
                                     int C)
{
    memset(s, 0, sizeof *s);
    s->batch = batch;
    size_t rows = (size_t)steps * batch;
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->feat, (int)rows, C, 1, 1));
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->err, (int)rows, 1, 1, 1));
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->pos, (int)rows, 1, 1, 1));
    s->pos_host = malloc(rows * sizeof *s->pos_host);
    return s->pos_host ? AGECL_OK
                       : agecl__fail(AGECL_E_OUT_OF_MEMORY, "reference store of %zu samples",
                                     rows);
}

void agecl__ref_store_positions(agecl__ref_store *s, int step, const float *pos)
{
    memcpy(s->pos_host + (size_t)step * s->batch, pos, (size_t)s->batch * sizeof(float));
}

agecl_status agecl__ref_store_keep(agecl__ref_store *s, agecl_ctx *ctx, agecl_model *m, int step)
{
    const agecl_tensor *feat = agecl_model_features(m);
    int B = s->batch, C = feat->c;
    agecl_tensor rows, errs;
    AGECL_TRY(agecl_tensor_view(&s->feat, (size_t)step * B * C, B, C, 1, 1, &rows));
    AGECL_TRY(agecl_tensor_copy(ctx, feat, &rows));
    AGECL_TRY(agecl_tensor_view(&s->err, (size_t)step * B, B, 1, 1, 1, &errs));
    return agecl_tensor_copy(ctx, agecl_model_abs_errors(m), &errs);
}

agecl_status agecl__ref_store_select(agecl__ref_store *s, agecl_ctx *ctx, agecl_model *m,
                                     uint32_t seed, int *filled)
{
    AGECL_TRY(agecl_tensor_write(ctx, &s->pos, s->pos_host));
    return agecl_model_select_references(m, &s->err, &s->pos, &s->feat, seed, filled);
}

void agecl__ref_store_free(agecl__ref_store *s)
{
    agecl_tensor_free(&s->feat);
    agecl_tensor_free(&s->err);
    agecl_tensor_free(&s->pos);
    free(s->pos_host);
    memset(s, 0, sizeof *s);
}
