/* bench_allreduce - what data-parallel training adds to a step: the gradient
 * block of a preset's model (agecl_model_param_count floats) read from the
 * device into host memory and written back, and summed over the ranks by
 * MPI_Allreduce in place.
 *
 *   mpirun -np 2 bench_allreduce [--device SEL] [--runs N] [--warmup N] [PRESET...]
 *
 * Every rank opens the selected device (default: AGECL_DEVICE, else the first).
 * Presets: cpu and ir50 by default, each with 100 age labels, gender and RAPL
 * heads. Each measurement: --warmup (3) runs, then the median of --runs (20),
 * each the slowest rank's time after a barrier. GB/s: bytes moved over time,
 * 2 x the block for the copy (down and up), the block for the all-reduce. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agecl.h"

#define MAX_RUNS 1000

static int rank;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static int failed(agecl_status s, const char *what)
{
    if (s == AGECL_OK) return 0;
    fprintf(stderr, "bench_allreduce (rank %d): %s: %s: %s\n", rank, what, agecl_strerror(s),
            agecl_last_error());
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The block's two timings: down and up through agecl_tensor_read/write, and
 * MPI_Allreduce of the host copy. ms[0], ms[1]: medians; 0, or 1 on an error
 * (the caller then ends every rank). */
static int measure(agecl_ctx *ctx, size_t n, int runs, int warmup, double ms[2])
{
    agecl_tensor t;
    if (failed(agecl_tensor_alloc(ctx, &t, 1, 1, 1, (int)n), "gradient block")) return 1;
    float *host = calloc(n, sizeof *host);
    if (!host) return fprintf(stderr, "bench_allreduce: out of memory\n"), 1;
    agecl_status s = agecl_tensor_write(ctx, &t, host);
    double times[2][MAX_RUNS];
    for (int i = -warmup; i < runs && s == AGECL_OK; i++)
        for (int k = 0; k < 2 && s == AGECL_OK; k++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = now_ms();
            if (k == 0) {
                s = agecl_tensor_read(ctx, &t, host);
                if (s == AGECL_OK) s = agecl_tensor_write(ctx, &t, host);
            } else { /* an MPI error ends every rank (MPI's default handler) */
                MPI_Allreduce(MPI_IN_PLACE, host, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            }
            double dt = now_ms() - t0;
            MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (i >= 0) times[k][i] = dt;
        }
    agecl_tensor_free(&t);
    free(host);
    if (failed(s, "copy or all-reduce")) return 1;
    for (int k = 0; k < 2; k++) {
        qsort(times[k], (size_t)runs, sizeof times[k][0], cmp_double);
        ms[k] = runs % 2 ? times[k][runs / 2]
                         : 0.5 * (times[k][runs / 2 - 1] + times[k][runs / 2]);
    }
    return 0;
}

/* The parameter count of a preset's model with the benchmark's heads. */
static int param_count(agecl_ctx *ctx, const char *preset, size_t *n)
{
    agecl_model_config cfg;
    int ages[100];
    for (int i = 0; i < 100; i++) ages[i] = i + 1;
    agecl_model *m;
    if (failed(agecl_model_preset(preset, &cfg), preset) ||
        failed(agecl_model_config_set_ages(&cfg, ages, 100), preset) ||
        failed(agecl_model_create(ctx, &cfg, 1, 0, &m), preset))
        return 1;
    *n = agecl_model_param_count(m);
    agecl_model_destroy(m);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *device = NULL, *defaults[] = {"cpu", "ir50"}, **presets = defaults;
    int runs = 20, warmup = 3, n_presets = 2, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        int last = i + 1 >= argc;
        if (!strcmp(argv[i], "--device") && !last) device = argv[++i];
        else if (!strcmp(argv[i], "--runs") && !last) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && !last) warmup = atoi(argv[++i]);
        else runs = 0;
    }
    if (runs < 1 || runs > MAX_RUNS || warmup < 0) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np N bench_allreduce [--device SEL] [--runs 1..%d] "
                            "[--warmup N] [PRESET...]\n", MAX_RUNS);
        MPI_Finalize();
        return 2;
    }
    if (i < argc) presets = (const char **)argv + i, n_presets = argc - i;

    agecl_ctx *ctx;
    if (failed(agecl_ctx_create(&ctx, device, 0), "device")) MPI_Abort(MPI_COMM_WORLD, 1);
    if (rank == 0) {
        printf("%d ranks on %s; median of %d runs after %d warm-ups, each the slowest rank's\n",
               size, agecl_ctx_device(ctx)->name, runs, warmup);
        printf("%-10s %10s %8s %9s %9s %13s %14s\n", "preset", "params", "MB", "copy ms",
               "copy GB/s", "allreduce ms", "allreduce GB/s");
    }
    for (int p = 0; p < n_presets; p++) {
        size_t n;
        double ms[2];
        if (param_count(ctx, presets[p], &n) || measure(ctx, n, runs, warmup, ms))
            MPI_Abort(MPI_COMM_WORLD, 1);
        double mb = 4e-6 * (double)n;
        if (rank == 0)
            printf("%-10s %10zu %8.1f %9.2f %9.2f %13.2f %14.2f\n", presets[p], n, mb, ms[0],
                   2 * mb / ms[0], ms[1], mb / ms[1]);
    }
    agecl_ctx_destroy(ctx);
    MPI_Finalize();
    return 0;
}
