/* agecl_train on several ranks (see parallel.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "train/parallel.h"

static int parallel(const agecl_comm *c) { return c && c->size > 1; }

agecl_status agecl__shard_indices(const agecl_comm *comm, const int *indices, int n, int **out,
                                  int *count)
{
    int rank = parallel(comm) ? comm->rank : 0, size = parallel(comm) ? comm->size : 1;
    if (n < size)
        return agecl__fail(AGECL_E_DATA, "%d samples to share among %d ranks", n, size);
    int k = 0, *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%d sample indices", n);
    for (int i = rank; i < n; i += size) idx[k++] = indices[i];
    *out = idx;
    *count = k;
    return AGECL_OK;
}

/* A mean over `count` as a sum (0 for none, where the mean is NaN). */
static double sum_of(double mean, double count) { return count > 0 ? mean * count : 0.0; }
static double mean_of(double sum, double count) { return count > 0 ? sum / count : NAN; }

agecl_status agecl__eval_combine(const agecl_comm *comm, agecl_eval_result *r)
{
    if (!parallel(comm)) return AGECL_OK;
    enum { N, SKIPPED, MAE, CS5, GENDER, GENDER_N, CONF, CONF_NAN = CONF + 3, DEC_SUM,
           DEC_N = DEC_SUM + 10, FIELDS = DEC_N + 10 };
    double v[FIELDS];
    int no_conf = isnan(r->confidence[0]); /* no references: the same on every rank */
    v[N] = r->n, v[SKIPPED] = r->skipped;
    v[MAE] = sum_of(r->mae, r->n), v[CS5] = sum_of(r->cs5, r->n);
    v[GENDER] = sum_of(r->gender_acc, r->gender_n), v[GENDER_N] = r->gender_n;
    for (int t = 0; t < 3; t++) v[CONF + t] = no_conf ? 0.0 : sum_of(r->confidence[t], r->n);
    v[CONF_NAN] = no_conf;
    for (int d = 0; d < 10; d++) {
        v[DEC_SUM + d] = sum_of(r->decade_mae[d], r->decade_n[d]);
        v[DEC_N + d] = r->decade_n[d];
    }
    AGECL_TRY(comm->allreduce_f64(comm, v, FIELDS));
    r->n = (int)v[N], r->skipped = (int)v[SKIPPED];
    r->mae = mean_of(v[MAE], v[N]), r->cs5 = mean_of(v[CS5], v[N]);
    r->gender_n = (int)v[GENDER_N], r->gender_acc = mean_of(v[GENDER], v[GENDER_N]);
    for (int t = 0; t < 3; t++) r->confidence[t] = v[CONF_NAN] > 0 ? NAN : mean_of(v[CONF + t], v[N]);
    for (int d = 0; d < 10; d++) {
        r->decade_n[d] = (int)v[DEC_N + d];
        r->decade_mae[d] = mean_of(v[DEC_SUM + d], v[DEC_N + d]);
    }
    return AGECL_OK;
}

agecl_status agecl__mean_over_ranks(const agecl_comm *comm, double *v, size_t n)
{
    if (!parallel(comm)) return AGECL_OK;
    AGECL_TRY(comm->allreduce_f64(comm, v, n));
    for (size_t i = 0; i < n; i++) v[i] /= comm->size;
    return AGECL_OK;
}

/* v[0..n) becomes rank 0's on every rank (a sum to which the others add 0). */
static agecl_status from_rank0(const agecl_comm *comm, double *v, size_t n)
{
    if (comm->rank != 0)
        for (size_t i = 0; i < n; i++) v[i] = 0.0;
    return comm->allreduce_f64(comm, v, n);
}

agecl_status agecl__rank0_outcome(const agecl_comm *comm, agecl_status s, const char *what)
{
    if (!parallel(comm)) return s;
    double code = (double)s;
    AGECL_TRY(from_rank0(comm, &code, 1));
    if (comm->rank == 0 || code == 0.0) return s;
    return agecl__fail((agecl_status)(int)code, "rank 0 failed to %s", what);
}

agecl_status agecl__check_same_as_rank0(const agecl_comm *comm, const double *v,
                                        const char *const *names, int n)
{
    if (!parallel(comm)) return AGECL_OK;
    enum { MOST = 16 };
    double root[MOST];
    if (n > MOST) return agecl__fail(AGECL_E_INVALID_ARG, "%d values to compare, room for %d", n,
                                     MOST);
    for (int i = 0; i < n; i++) root[i] = v[i];
    AGECL_TRY(from_rank0(comm, root, (size_t)n));
    for (int i = 0; i < n; i++)
        if (v[i] != root[i])
            return agecl__fail(AGECL_E_DATA, "%s is %.17g on rank %d, %.17g on rank 0", names[i],
                               v[i], comm->rank, root[i]);
    return AGECL_OK;
}

agecl_status agecl__rank0_flag(const agecl_comm *comm, int *flag)
{
    if (!parallel(comm)) return AGECL_OK;
    double f = *flag;
    AGECL_TRY(from_rank0(comm, &f, 1));
    *flag = f != 0.0;
    return AGECL_OK;
}

agecl_status agecl__check_same_references(const agecl_comm *comm, agecl_model *m)
{
    if (!parallel(comm)) return AGECL_OK;
    int i = agecl_model_tensor_find(m, "rapl.R"), shape[4], kind;
    if (i < 0) return AGECL_OK;
    agecl_model_tensor_name(m, i, &kind, shape);
    size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    float *mine = malloc(2 * n * sizeof *mine), *root = mine + n;
    if (!mine) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "rapl.R: %zu floats", n);
    agecl_status s = agecl_model_tensor_get(m, i, 0, mine);
    memcpy(root, mine, n * sizeof *mine);
    agecl_status b = comm->broadcast_f32(comm, root, n, 0); /* every rank takes part */
    if (s == AGECL_OK) s = b;
    if (s == AGECL_OK && memcmp(mine, root, n * sizeof *mine) != 0)
        s = agecl__fail(AGECL_E_DATA, "rank %d chose other references (rapl.R) than rank 0",
                        comm->rank);
    free(mine);
    return s;
}
