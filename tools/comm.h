/* The processes of one `agecl train`: under mpirun one per device, joined by MPI
 * (comm_mpi.c, in a build with -Dmpi=enabled), else one alone (comm_none.c).
 * agecl train is the only command that joins them; a plain run never starts MPI. */
#ifndef AGECL_TOOLS_COMM_H
#define AGECL_TOOLS_COMM_H

#include <stdlib.h>
#include "agecl/comm.h"

/* 1 when the environment says mpirun started this process: Open MPI's, or any
 * launcher that speaks PMIx or PMI (Slurm's srun, MPICH's mpiexec). */
static inline int cli_comm_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

/* Join the other processes when mpirun started this one; else nothing. 1, or 0
 * after saying why on stderr (a build without MPI started by mpirun). */
int cli_comm_init(int *argc, char ***argv);

/* The collectives for agecl_train_options.comm; NULL for a process alone. */
const agecl_comm *cli_comm(void);

/* This process's rank among the processes on its host, and their number (0 and
 * 1 for a process alone): what picks each one's device. */
int cli_comm_local_rank(void);
int cli_comm_local_size(void);

/* End every process with exit status code (MPI_Abort), so that none waits in a
 * collective for one that failed; nothing for a process alone. */
void cli_comm_abort(int code);

/* Leave MPI at a normal end; nothing for a process alone. */
void cli_comm_finalize(void);

#endif
