/* tools/comm.h over MPI: agecl_comm's collectives on MPI_COMM_WORLD. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include "comm.h"
#include "error.h" /* agecl__fail: the detail of a failed collective */

/* MPI counts are ints: a longer array goes in pieces of at most this many
 * elements. tests/mpi builds this file with a small value to run the pieces. */
#ifndef CLI_MPI_PIECE
#define CLI_MPI_PIECE INT_MAX
#endif

static agecl_comm world;
static int joined, local_rank, local_size = 1;

/* AGECL_OK, or AGECL_E_IO (the transport failed, as a network or a file can)
 * with MPI's own words. */
static agecl_status check(int rc, const char *call)
{
    if (rc == MPI_SUCCESS) return AGECL_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", rc);
    return agecl__fail(AGECL_E_IO, "%s failed on rank %d of %d: %s", call, world.rank, world.size,
                       text);
}

/* The length of the piece of an n-element array that starts at element done. */
static int piece(size_t n, size_t done)
{
    return n - done < (size_t)CLI_MPI_PIECE ? (int)(n - done) : CLI_MPI_PIECE;
}

static agecl_status allreduce(void *data, size_t n, MPI_Datatype type, size_t size)
{
    for (size_t done = 0, k; done < n; done += k) {
        k = (size_t)piece(n, done);
        AGECL_TRY(check(MPI_Allreduce(MPI_IN_PLACE, (char *)data + done * size, (int)k, type,
                                      MPI_SUM, MPI_COMM_WORLD),
                        "MPI_Allreduce"));
    }
    return AGECL_OK;
}

static agecl_status allreduce_f32(const agecl_comm *c, float *data, size_t n)
{
    (void)c;
    return allreduce(data, n, MPI_FLOAT, sizeof *data);
}

static agecl_status allreduce_f64(const agecl_comm *c, double *data, size_t n)
{
    (void)c;
    return allreduce(data, n, MPI_DOUBLE, sizeof *data);
}

static agecl_status allgather_f32(const agecl_comm *c, const float *mine, size_t n, float *all)
{
    (void)c;
    for (size_t done = 0, k; done < n; done += k) {
        k = (size_t)piece(n, done);
        /* Each rank's piece arrives as one element of k floats whose extent is a
         * whole block of n, so that rank r's lands at all[r * n + done]. */
        MPI_Datatype floats, block;
        AGECL_TRY(check(MPI_Type_contiguous((int)k, MPI_FLOAT, &floats), "MPI_Type_contiguous"));
        int rc = MPI_Type_create_resized(floats, 0, (MPI_Aint)(n * sizeof *all), &block);
        MPI_Type_free(&floats);
        if (rc == MPI_SUCCESS) {
            rc = MPI_Type_commit(&block);
            if (rc == MPI_SUCCESS)
                rc = MPI_Allgather(mine + done, (int)k, MPI_FLOAT, all + done, 1, block,
                                   MPI_COMM_WORLD);
            MPI_Type_free(&block);
        }
        AGECL_TRY(check(rc, "MPI_Allgather"));
    }
    return AGECL_OK;
}

static agecl_status broadcast_f32(const agecl_comm *c, float *data, size_t n, int root)
{
    (void)c;
    for (size_t done = 0, k; done < n; done += k) {
        k = (size_t)piece(n, done);
        AGECL_TRY(check(MPI_Bcast(data + done, (int)k, MPI_FLOAT, root, MPI_COMM_WORLD),
                        "MPI_Bcast"));
    }
    return AGECL_OK;
}

int cli_comm_init(int *argc, char ***argv)
{
    if (!cli_comm_launched() || joined) return 1;
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "agecl: MPI_Init failed (error %d)\n", rc);
        return 0;
    }
    joined = 1;
    /* Errors come back as codes, made statuses, so that the process at fault
     * says what failed before it ends the others (cli_comm_abort). */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    world.allreduce_f32 = allreduce_f32;
    world.allreduce_f64 = allreduce_f64;
    world.allgather_f32 = allgather_f32;
    world.broadcast_f32 = broadcast_f32;
    /* The processes that share this host's memory are those that share its devices. */
    MPI_Comm host;
    rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank, MPI_INFO_NULL,
                             &host);
    if (rc == MPI_SUCCESS) {
        MPI_Comm_rank(host, &local_rank);
        MPI_Comm_size(host, &local_size);
        MPI_Comm_free(&host);
        return 1;
    }
    agecl_status s = check(rc, "MPI_Comm_split_type");
    fprintf(stderr, "agecl: %s: %s\n", agecl_strerror(s), agecl_last_error());
    cli_comm_abort(1);
    return 0;
}

const agecl_comm *cli_comm(void)
{
    return joined ? &world : NULL;
}

int cli_comm_local_rank(void)
{
    return local_rank;
}

int cli_comm_local_size(void)
{
    return local_size;
}

void cli_comm_abort(int code)
{
    if (joined) MPI_Abort(MPI_COMM_WORLD, code);
}

void cli_comm_finalize(void)
{
    if (joined) MPI_Finalize();
    joined = 0;
}
