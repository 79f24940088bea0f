/* tools/comm.h over MPI: agecl_comm's collectives on MPI_COMM_WORLD. */
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

static agecl_status allgather(const float *mine, size_t n, float *all)
{
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

static agecl_status broadcast(float *data, size_t n, int root)
{
    for (size_t done = 0, k; done < n; done += k) {
        k = (size_t)piece(n, done);
        AGECL_TRY(check(MPI_Bcast(data + done, (int)k, MPI_FLOAT, root, MPI_COMM_WORLD),
                        "MPI_Bcast"));
    }
    return AGECL_OK;
}

/* Every MPI call after MPI_Init is made by one thread of ours, in the order the
 * calls came: a sum that iallreduce_f32 starts goes on there while the caller
 * goes on with the backward (MPI's own non-blocking collectives would progress
 * only inside later MPI calls), and any call after it waits its turn, so that
 * every rank still makes its calls in one order. */
typedef enum { JOB_ALLREDUCE, JOB_ALLGATHER, JOB_BCAST, JOB_STOP } job_kind;
typedef struct job {
    job_kind kind;
    void *data;
    const float *mine;
    size_t n, size;
    MPI_Datatype type;
    int root;
    agecl_status status;
    char why[512]; /* the error's detail, which is the worker thread's own */
    int done;
    struct job *next;
} job;

static pthread_t worker;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;
static job *first, *last;

static void *work(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (!first) pthread_cond_wait(&queued, &lock);
        job *j = first;
        first = j->next;
        if (!first) last = NULL;
        pthread_mutex_unlock(&lock);
        agecl_status s = AGECL_OK;
        switch (j->kind) {
        case JOB_ALLREDUCE: s = allreduce(j->data, j->n, j->type, j->size); break;
        case JOB_ALLGATHER: s = allgather(j->mine, j->n, j->data); break;
        case JOB_BCAST: s = broadcast(j->data, j->n, j->root); break;
        case JOB_STOP: break;
        }
        int stop = j->kind == JOB_STOP; /* j is its caller's again once done */
        pthread_mutex_lock(&lock);
        j->status = s;
        if (s != AGECL_OK) snprintf(j->why, sizeof j->why, "%s", agecl_last_error());
        j->done = 1;
        pthread_cond_broadcast(&finished);
        pthread_mutex_unlock(&lock);
        if (stop) return NULL;
    }
}

static void submit(job *j)
{
    j->done = 0;
    j->next = NULL;
    pthread_mutex_lock(&lock);
    if (last) last->next = j;
    else first = j;
    last = j;
    pthread_cond_signal(&queued);
    pthread_mutex_unlock(&lock);
}

/* Wait for j; its status, with its detail as this thread's. */
static agecl_status finish(job *j)
{
    pthread_mutex_lock(&lock);
    while (!j->done) pthread_cond_wait(&finished, &lock);
    pthread_mutex_unlock(&lock);
    return j->status == AGECL_OK ? AGECL_OK : agecl__fail(j->status, "%s", j->why);
}

static agecl_status run(job j)
{
    submit(&j);
    return finish(&j);
}

static agecl_status allreduce_f32(const agecl_comm *c, float *data, size_t n)
{
    (void)c;
    return run((job){.kind = JOB_ALLREDUCE, .data = data, .n = n, .type = MPI_FLOAT,
                     .size = sizeof *data});
}

static agecl_status allreduce_f64(const agecl_comm *c, double *data, size_t n)
{
    (void)c;
    return run((job){.kind = JOB_ALLREDUCE, .data = data, .n = n, .type = MPI_DOUBLE,
                     .size = sizeof *data});
}

static agecl_status allgather_f32(const agecl_comm *c, const float *mine, size_t n, float *all)
{
    (void)c;
    return run((job){.kind = JOB_ALLGATHER, .data = all, .mine = mine, .n = n});
}

static agecl_status broadcast_f32(const agecl_comm *c, float *data, size_t n, int root)
{
    (void)c;
    return run((job){.kind = JOB_BCAST, .data = data, .n = n, .root = root});
}

static agecl_status iallreduce_f32(const agecl_comm *c, float *data, size_t n, void **request)
{
    (void)c;
    job *j = malloc(sizeof *j);
    if (!j) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "a request to sum %zu floats", n);
    *j = (job){.kind = JOB_ALLREDUCE, .data = data, .n = n, .type = MPI_FLOAT,
               .size = sizeof *data};
    submit(j);
    *request = j;
    return AGECL_OK;
}

static agecl_status wait_request(const agecl_comm *c, void *request)
{
    (void)c;
    agecl_status s = finish(request);
    free(request);
    return s;
}

int cli_comm_init(int *argc, char ***argv)
{
    if (!cli_comm_launched() || joined) return 1;
    int provided = 0, rc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "agecl: MPI_Init failed (error %d)\n", rc);
        return 0;
    }
    if (provided < MPI_THREAD_SERIALIZED) { /* our worker thread makes the calls */
        fprintf(stderr, "agecl: this MPI offers no calls from a second thread "
                        "(MPI_THREAD_SERIALIZED)\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
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
    world.iallreduce_f32 = iallreduce_f32;
    world.wait = wait_request;
    /* The processes that share this host's memory are those that share its devices. */
    MPI_Comm host;
    rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank, MPI_INFO_NULL,
                             &host);
    if (rc == MPI_SUCCESS) {
        MPI_Comm_rank(host, &local_rank);
        MPI_Comm_size(host, &local_size);
        MPI_Comm_free(&host);
        if (pthread_create(&worker, NULL, work, NULL) == 0) return 1;
        fprintf(stderr, "agecl: cannot start the thread that makes the MPI calls\n");
        cli_comm_abort(1);
        return 0;
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

/* (From the failing thread, while the worker may be inside a collective: MPI_Abort
 * ends the process, so the one-call-at-a-time rule no longer matters.) */
void cli_comm_abort(int code)
{
    if (joined) MPI_Abort(MPI_COMM_WORLD, code);
}

void cli_comm_finalize(void)
{
    if (!joined) return;
    run((job){.kind = JOB_STOP});
    pthread_join(worker, NULL);
    MPI_Finalize();
    joined = 0;
}
