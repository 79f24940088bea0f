/* src/train/references.h - Algorithm 1's store (MODEL.md section 4): the pooled
 * features, absolute errors and age positions of every training sample of an
 * epoch, kept on the device, from which the references of RAPL are chosen. */
#ifndef AGECL_TRAIN_REFERENCES_H
#define AGECL_TRAIN_REFERENCES_H

#include <stdint.h>
#include "agecl/model.h"

typedef struct agecl__ref_store {
    int batch, steps, C;            /* rows per step, steps, features */
    agecl_tensor feat, err, pos;    /* one row per sample of an epoch */
    float *pos_host;                /* the positions, gathered on the host */
    /* On several ranks, each keeps its own rows; selection gathers every rank's
     * into all_* (steps x ranks x batch rows, in the order one process with
     * batch ranks x batch would have kept them) and selects from those, so that
     * every rank chooses the same references. */
    const agecl_comm *comm;
    agecl_tensor all_feat, all_err, all_pos;
    float *host, *gathered;         /* one rank's rows, and every rank's */
} agecl__ref_store;

/* Room for `steps` batches of `batch` samples of C features (per rank; comm NULL
 * or of one rank: one process). */
agecl_status agecl__ref_store_create(agecl__ref_store *s, agecl_ctx *ctx, int steps, int batch,
                                     int C, const agecl_comm *comm);

/* Step `step`'s age positions (batch floats, the loader's target_pos), taken
 * while the batch is held. */
void agecl__ref_store_positions(agecl__ref_store *s, int step, const float *pos);

/* Step `step`'s features and absolute errors, from m after its loss step. */
agecl_status agecl__ref_store_keep(agecl__ref_store *s, agecl_ctx *ctx, agecl_model *m, int step);

/* Choose m's references from the store (agecl_model_select_references); *filled
 * receives how many ages had no sample. */
agecl_status agecl__ref_store_select(agecl__ref_store *s, agecl_ctx *ctx, agecl_model *m,
                                     uint32_t seed, int *filled);

void agecl__ref_store_free(agecl__ref_store *s);

#endif
