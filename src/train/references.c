/* Algorithm 1's store (see references.h). */
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "train/references.h"

static int parallel(const agecl__ref_store *s) { return s->comm && s->comm->size > 1; }

agecl_status agecl__ref_store_create(agecl__ref_store *s, agecl_ctx *ctx, int steps, int batch,
                                     int C, const agecl_comm *comm)
{
    memset(s, 0, sizeof *s);
    s->batch = batch, s->steps = steps, s->C = C, s->comm = comm;
    size_t rows = (size_t)steps * batch;
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->feat, (int)rows, C, 1, 1));
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->err, (int)rows, 1, 1, 1));
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->pos, (int)rows, 1, 1, 1));
    s->pos_host = malloc(rows * sizeof *s->pos_host);
    if (!s->pos_host)
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "reference store of %zu samples", rows);
    if (!parallel(s)) return AGECL_OK;
    size_t all = rows * comm->size;
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->all_feat, (int)all, C, 1, 1));
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->all_err, (int)all, 1, 1, 1));
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->all_pos, (int)all, 1, 1, 1));
    s->host = malloc(rows * C * sizeof *s->host);
    s->gathered = malloc(2 * all * C * sizeof *s->gathered);
    return s->host && s->gathered
               ? AGECL_OK
               : agecl__fail(AGECL_E_OUT_OF_MEMORY, "reference store of %zu samples", all);
}

/* Every rank's rows of `mine` (width floats a row) into `all`, in the order
 * of one process: step, then rank, then the row within the rank's batch. */
static agecl_status gather(agecl__ref_store *s, agecl_ctx *ctx, const float *mine, int width,
                           agecl_tensor *all)
{
    int R = s->comm->size, B = s->batch;
    size_t rows = (size_t)s->steps * B, row = (size_t)width * sizeof(float);
    float *by_rank = s->gathered, *ordered = by_rank + rows * R * width;
    AGECL_TRY(s->comm->allgather_f32(s->comm, mine, rows * width, by_rank));
    for (int r = 0; r < R; r++)
        for (int st = 0; st < s->steps; st++)
            memcpy(ordered + (((size_t)st * R + r) * B) * width,
                   by_rank + ((size_t)r * rows + (size_t)st * B) * width, B * row);
    return agecl_tensor_write(ctx, all, ordered);
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
    if (!parallel(s)) {
        AGECL_TRY(agecl_tensor_write(ctx, &s->pos, s->pos_host));
        return agecl_model_select_references(m, &s->err, &s->pos, &s->feat, seed, filled);
    }
    AGECL_TRY(gather(s, ctx, s->pos_host, 1, &s->all_pos));
    AGECL_TRY(agecl_tensor_read(ctx, &s->err, s->host));
    AGECL_TRY(gather(s, ctx, s->host, 1, &s->all_err));
    AGECL_TRY(agecl_tensor_read(ctx, &s->feat, s->host));
    AGECL_TRY(gather(s, ctx, s->host, s->C, &s->all_feat));
    return agecl_model_select_references(m, &s->all_err, &s->all_pos, &s->all_feat, seed,
                                         filled);
}

void agecl__ref_store_free(agecl__ref_store *s)
{
    agecl_tensor_free(&s->feat);
    agecl_tensor_free(&s->err);
    agecl_tensor_free(&s->pos);
    agecl_tensor_free(&s->all_feat);
    agecl_tensor_free(&s->all_err);
    agecl_tensor_free(&s->all_pos);
    free(s->pos_host);
    free(s->host);
    free(s->gathered);
    memset(s, 0, sizeof *s);
}
