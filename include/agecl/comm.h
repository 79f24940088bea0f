/* agecl/comm.h - the collectives that data-parallel training needs.
 *
 * agecl does not depend on MPI (or any transport): a caller that runs one process
 * per device (the `agecl` tool under mpirun, built with -Dmpi) fills this small
 * table with its transport's collectives and hands it to agecl_train
 * (agecl_train_options.comm) or to a model (agecl_model_set_comm). Every rank
 * must make the same calls in the same order with the same counts, as MPI
 * requires; a call that fails returns an error status, and the caller is then
 * expected to end every rank (MPI_Abort), since the others wait in a collective.
 *
 *   rank 0 of size 1 (or a NULL agecl_comm *): one process, no calls are made.
 */
#ifndef AGECL_COMM_H
#define AGECL_COMM_H

#include <stddef.h>
#include "agecl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agecl_comm {
    int rank, size;  /* this process's rank, and how many there are */
    void *user;      /* the transport's own state */
    /* data[0..n) becomes the sum over every rank, on every rank */
    agecl_status (*allreduce_f32)(const struct agecl_comm *c, float *data, size_t n);
    agecl_status (*allreduce_f64)(const struct agecl_comm *c, double *data, size_t n);
    /* all[r * n .. (r + 1) * n) receives rank r's mine[0..n), on every rank */
    agecl_status (*allgather_f32)(const struct agecl_comm *c, const float *mine, size_t n,
                                  float *all);
    /* data[0..n) of rank root, on every rank */
    agecl_status (*broadcast_f32)(const struct agecl_comm *c, float *data, size_t n, int root);
    /* Optional (NULL: not offered), to overlap the gradients' sum with the rest of
     * the backward: start allreduce_f32 of data[0..n) and return at once with a
     * request; data must stay untouched until wait(request) returns, which
     * releases the request. Calls made meanwhile run after it, in order. */
    agecl_status (*iallreduce_f32)(const struct agecl_comm *c, float *data, size_t n,
                                   void **request);
    agecl_status (*wait)(const struct agecl_comm *c, void *request);
} agecl_comm;

#ifdef __cplusplus
}
#endif
#endif
