/* tools/comm.h for a build without MPI: every process is alone. */
#include <stdio.h>
#include "comm.h"

int cli_comm_init(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (!cli_comm_launched()) return 1;
    /* Each process would train alone and all of them would write the same folder. */
    fprintf(stderr, "agecl: this agecl was built without MPI (-Dmpi=enabled); rebuild it with "
                    "MPI (libopenmpi-dev) to train under mpirun, or run it without mpirun\n");
    return 0;
}

const agecl_comm *cli_comm(void)
{
    return NULL;
}

int cli_comm_local_rank(void)
{
    return 0;
}

int cli_comm_local_size(void)
{
    return 1;
}

void cli_comm_abort(int code)
{
    (void)code;
}

void cli_comm_finalize(void)
{
}
