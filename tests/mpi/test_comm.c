/* The MPI transport of agecl train (tools/comm_mpi.c), built here with pieces
 * of CLI_MPI_PIECE = 5 elements so that arrays of several pieces and a
 * remainder run the splitting that arrays past INT_MAX elements need.
 *
 *   mpirun -np N test_comm   every collective's result on every rank (started
 *                            sums among blocking calls included), and an MPI
 *                            error turned into a status
 *   test_comm                alone: no MPI, no agecl_comm
 *
 * Prints each failed check, naming the rank; exits 1 on any. */
#include <stdio.h>
#include <string.h>
#include "comm.h"

static int failures;

static void check(int ok, int rank, const char *what, size_t n)
{
    if (ok) return;
    fprintf(stderr, "test_comm: rank %d: %s, n = %zu\n", rank, what, n);
    failures++;
}

/* Sizes: none, less than a piece, a piece, pieces and a remainder. */
static const size_t sizes[] = {0, 1, 5, 12};

static void collectives(const agecl_comm *c)
{
    int r = c->rank, p = c->size;
    float f[12 * 8], all[12 * 8];
    double d[12];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        for (size_t i = 0; i < n; i++) {
            f[i] = (float)(r + 1) + (float)i;
            d[i] = 0.5 * (r + 1) + (double)i;
        }
        check(c->allreduce_f32(c, f, n) == AGECL_OK, r, "allreduce_f32 failed", n);
        check(c->allreduce_f64(c, d, n) == AGECL_OK, r, "allreduce_f64 failed", n);
        int ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= f[i] == (float)(p * (p + 1) / 2) + (float)(p * (int)i) &&
                  d[i] == 0.25 * p * (p + 1) + (double)p * (double)i;
        check(ok, r, "allreduce gave the wrong sums", n);

        for (size_t i = 0; i < n; i++) f[i] = (float)(100 * r) + (float)i;
        memset(all, 0, sizeof all);
        check(c->allgather_f32(c, f, n, all) == AGECL_OK, r, "allgather_f32 failed", n);
        ok = 1;
        for (int q = 0; q < p; q++)
            for (size_t i = 0; i < n; i++)
                ok &= all[(size_t)q * n + i] == (float)(100 * q) + (float)i;
        check(ok, r, "allgather put a rank's block in the wrong place", n);

        for (size_t i = 0; i < n; i++) f[i] = r == p - 1 ? (float)i + 0.5f : -1.0f;
        check(c->broadcast_f32(c, f, n, p - 1) == AGECL_OK, r, "broadcast_f32 failed", n);
        ok = 1;
        for (size_t i = 0; i < n; i++) ok &= f[i] == (float)i + 0.5f;
        check(ok, r, "broadcast gave other values than the root's", n);
    }
    /* Started sums run in the order they were started, with a blocking call made
     * between them queued behind the first: all three right on every rank. */
    float a[12], b[7], between[3];
    for (int i = 0; i < 12; i++) a[i] = (float)(r + i);
    for (int i = 0; i < 7; i++) b[i] = (float)(2 * r - i);
    for (int i = 0; i < 3; i++) between[i] = (float)r;
    void *ra = NULL, *rb = NULL;
    check(c->iallreduce_f32(c, a, 12, &ra) == AGECL_OK, r, "iallreduce_f32 failed", 12);
    check(c->allreduce_f32(c, between, 3) == AGECL_OK, r, "allreduce_f32 failed", 3);
    check(c->iallreduce_f32(c, b, 7, &rb) == AGECL_OK, r, "iallreduce_f32 failed", 7);
    check(c->wait(c, rb) == AGECL_OK && c->wait(c, ra) == AGECL_OK, r, "wait failed", 0);
    int ok = 1, ranks = p * (p - 1) / 2; /* the sum of the ranks */
    for (int i = 0; i < 12; i++) ok &= a[i] == (float)(ranks + p * i);
    for (int i = 0; i < 7; i++) ok &= b[i] == (float)(2 * ranks - p * i);
    for (int i = 0; i < 3; i++) ok &= between[i] == (float)ranks;
    check(ok, r, "started sums or the call between them gave the wrong sums", 12);
    /* A root that is no rank: MPI's error comes back as a status with its words. */
    agecl_status s = c->broadcast_f32(c, f, 1, p);
    check(s == AGECL_E_IO && strstr(agecl_last_error(), "MPI_Bcast"), r,
          "an MPI error is not AGECL_E_IO naming the call", 1);
}

int main(int argc, char **argv)
{
    if (!cli_comm_init(&argc, &argv)) return 1;
    const agecl_comm *c = cli_comm();
    if (!cli_comm_launched()) {
        check(!c && cli_comm_local_rank() == 0 && cli_comm_local_size() == 1, 0,
              "a process alone has an agecl_comm", 0);
        return failures != 0;
    }
    if (!c || c->size > 8) {
        fprintf(stderr, "test_comm: run it under mpirun with 1 to 8 processes\n");
        cli_comm_abort(1);
        return 1;
    }
    /* One host: the local ranks are the ranks. */
    check(cli_comm_local_rank() == c->rank && cli_comm_local_size() == c->size, c->rank,
          "the local rank or size is not the rank or size", 0);
    collectives(c);
    cli_comm_finalize();
    return failures != 0;
}
