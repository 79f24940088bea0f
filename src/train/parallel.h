/* src/train/parallel.h - what agecl_train does differently on several ranks
 * (agecl/comm.h): each rank validates a share of the split and the metrics are
 * summed; rank 0's file writes are awaited by every rank and their failure is
 * every rank's; every rank checks that it chose rank 0's references. With a
 * NULL comm or one rank, each is the one-process behaviour. */
#ifndef AGECL_TRAIN_PARALLEL_H
#define AGECL_TRAIN_PARALLEL_H

#include "agecl/comm.h"
#include "agecl/train.h"

/* This rank's share of indices[0..n): every size-th from rank on, into *out
 * (malloc'd; *count of them). Fails when a rank would get none. */
agecl_status agecl__shard_indices(const agecl_comm *comm, const int *indices, int n, int **out,
                                  int *count);

/* The metrics of the union of the ranks' shares, from each rank's (in place). */
agecl_status agecl__eval_combine(const agecl_comm *comm, agecl_eval_result *r);

/* The mean over ranks of each of v[0..n) (in place). */
agecl_status agecl__mean_over_ranks(const agecl_comm *comm, double *v, size_t n);

/* After rank 0 ran something alone (status s there; ignored elsewhere): every
 * rank returns rank 0's outcome, so that a failed write ends every rank and no
 * rank reads a file before rank 0 has written it. */
agecl_status agecl__rank0_outcome(const agecl_comm *comm, agecl_status s, const char *what);

/* AGECL_E_DATA naming the first of v[0..n) (called names[i]) that differs from
 * rank 0's, on the ranks where one does: ranks that see other data or another
 * model would otherwise meet in mismatched collectives and wait for ever. */
agecl_status agecl__check_same_as_rank0(const agecl_comm *comm, const double *v,
                                        const char *const *names, int n);

/* *flag becomes rank 0's. */
agecl_status agecl__rank0_flag(const agecl_comm *comm, int *flag);

/* After reference selection: AGECL_E_DATA when this rank's rapl.R differs from
 * rank 0's. */
agecl_status agecl__check_same_references(const agecl_comm *comm, agecl_model *m);

#endif
