/* Reference selection (MODEL.md section 4): the per-label argmin of the error on
 * the device, the filling of labels without a sample on the host, then the
 * gather of the reference rows on the device (cl/reference_selection.cl). */
#include <stdlib.h>
#include "agecl/layers.h"
#include "runtime/launch.h"
#include "error.h"
#include "runtime/rows.h"

#define MAX_EXACT_INDEX (1u << 24) /* sample indices travel as floats */

static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

uint32_t agecl_reference_key(uint32_t seed, uint32_t i)
{
    return fmix32(i ^ fmix32(seed ^ 0x9e3779b9u));
}

/* The label whose row label k takes: k itself when it has a sample, else the
 * nearest label that has one, the lower on a tie; -1 when none has. */
static int source_label(const int *chosen, int n, int k)
{
    for (int d = 0; d < n; d++) {
        if (k - d >= 0 && chosen[k - d] >= 0) return k - d;
        if (k + d < n && chosen[k + d] >= 0) return k + d;
    }
    return -1;
}

/* Read the chosen samples, report them, and write back the sample each row
 * copies. */
static agecl_status resolve_sources(agecl_ctx *ctx, agecl_tensor *index, int n, int *sample,
                                    int *filled)
{
    float *idx = malloc((size_t)n * sizeof *idx);
    int *chosen = malloc((size_t)n * sizeof *chosen);
    agecl_status s = AGECL_OK;
    if (!idx || !chosen) {
        s = agecl__fail(AGECL_E_OUT_OF_MEMORY, "select_references: %d labels", n);
        goto done;
    }
    if ((s = agecl_tensor_read(ctx, index, idx)) != AGECL_OK) goto done;
    int empty = 0;
    for (int k = 0; k < n; k++) {
        chosen[k] = (int)idx[k];
        empty += chosen[k] < 0;
        if (sample) sample[k] = chosen[k];
    }
    if (empty == n) {
        s = agecl__fail(AGECL_E_DATA, "select_references: no sample has a position in [0, %d) "
                        "and a non-NaN error", n);
        goto done;
    }
    for (int k = 0; k < n; k++) idx[k] = (float)chosen[source_label(chosen, n, k)];
    if (filled) *filled = empty;
    s = agecl_tensor_write(ctx, index, idx);
done:
    free(idx);
    free(chosen);
    return s;
}

agecl_status agecl_select_references(agecl_ctx *ctx, const agecl_tensor *err,
                                     const agecl_tensor *pos, const agecl_tensor *feat,
                                     uint32_t seed, agecl_tensor *index, agecl_tensor *refs,
                                     int *sample, int *filled)
{
    const char *op = "select_references";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint err_off, pos_off, feat_off, index_off, refs_off;
    AGECL_TRY(agecl__arg_tensor(err, op, "err", &err_off));
    AGECL_TRY(agecl__arg_tensor(refs, op, "refs", &refs_off));
    cl_uint S = (cl_uint)agecl_tensor_numel(err), n = (cl_uint)refs->n;
    cl_uint C = (cl_uint)agecl__row_len(refs);
    if (S > MAX_EXACT_INDEX)
        return agecl__fail(AGECL_E_UNSUPPORTED, "%s: %u samples (at most 2^24)", op, S);
    AGECL_TRY(agecl__arg_count(pos, op, "pos", S, NULL, &pos_off));
    AGECL_TRY(agecl__arg_rows(feat, op, "feat", (int)S, C, &feat_off));
    AGECL_TRY(agecl__arg_count(index, op, "index", n, NULL, &index_off));

    size_t local = AGECL__ROWS_GROUP, global = (size_t)n * AGECL__ROWS_GROUP;
    agecl__arg argmin_args[] = {
        AGECL_ARG(err->buf), AGECL_ARG(err_off), AGECL_ARG(pos->buf), AGECL_ARG(pos_off),
        AGECL_ARG(S), AGECL_ARG(seed), AGECL_ARG(index->buf), AGECL_ARG(index_off),
        AGECL_LOCAL(AGECL__ROWS_GROUP * sizeof(float)),
        AGECL_LOCAL(AGECL__ROWS_GROUP * sizeof(cl_uint)),
        AGECL_LOCAL(AGECL__ROWS_GROUP * sizeof(cl_int))};
    AGECL_TRY(agecl__run(ctx, "reference_selection", "", "reference_argmin", 1, &global, &local,
                         AGECL_NARGS(argmin_args), argmin_args));
    AGECL_TRY(resolve_sources(ctx, index, (int)n, sample, filled));

    size_t global2[2] = {C, n}, local2[2] = {AGECL__ROWS_GROUP, 1};
    agecl__arg gather_args[] = {
        AGECL_ARG(feat->buf), AGECL_ARG(feat_off), AGECL_ARG(index->buf), AGECL_ARG(index_off),
        AGECL_ARG(refs->buf), AGECL_ARG(refs_off), AGECL_ARG(C), AGECL_ARG(n)};
    return agecl__run(ctx, "reference_selection", "", "reference_gather", 2, global2, local2,
                      AGECL_NARGS(gather_args), gather_args);
}
