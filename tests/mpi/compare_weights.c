/* compare_weights: do two checkpoints hold the same model, within a tolerance?
 *
 *   compare_weights [--with-optimizer] [--skip NAME]... TOL A.safetensors B.safetensors
 *
 * Every tensor of A must be in B with the same shape, and the other way round.
 * A tensor's difference is max |a - b| / max(|a|, |b|) over its elements (0
 * when they are equal; a NaN on either side is the worst). Adam's moments
 * ("adam.*") are left out unless --with-optimizer: the model's parameters and
 * buffers (rapl.R, the running statistics) are what data-parallel training must
 * reproduce. --skip leaves out a tensor of A (and its Adam moments and moving
 * average) that the comparison must not judge. Prints the worst tensor; exits
 * 0 when it is within TOL, 1 when not, 2 when the files cannot be compared. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/safetensors.h"

static int with_optimizer;
static const char **skip; /* the --skip names */
static int n_skip;

/* The tensor whose copy name is: "adam.m.X", "adam.v.X" and "ema.X" are X's. */
static const char *base_name(const char *name)
{
    static const char *const prefixes[] = {"adam.m.", "adam.v.", "ema."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) return name + strlen(prefixes[i]);
    return name;
}

static int skipped(const char *name)
{
    if (!with_optimizer && !strncmp(name, "adam.", 5)) return 1;
    for (int i = 0; i < n_skip; i++)
        if (!strcmp(base_name(name), skip[i])) return 1;
    return 0;
}

/* Why tensor name of a cannot be compared with b's; NULL when it can. */
static const char *mismatch(const agecl_st_file *a, const agecl_st_file *b, const char *name)
{
    agecl_st_info x, y;
    agecl_st_find(a, name, &x);
    if (agecl_st_find(b, name, &y) != AGECL_OK) return "is missing from the other file";
    if (x.dtype != y.dtype || x.ndim != y.ndim ||
        memcmp(x.shape, y.shape, (size_t)x.ndim * sizeof x.shape[0]))
        return "has another dtype or shape in the other file";
    return x.dtype == AGECL_ST_F32 ? NULL : "is not F32";
}

/* 1 when a tensor of a or b cannot be compared, after saying why. */
static int mismatched(const agecl_st_file *a, const char *pa, const agecl_st_file *b,
                      const char *pb)
{
    const agecl_st_file *f[2] = {a, b};
    const char *path[2] = {pa, pb};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < agecl_st_count(f[k]); i++) {
            const char *name = agecl_st_name(f[k], i), *why;
            if (skipped(name) || !(why = mismatch(f[k], f[1 - k], name))) continue;
            fprintf(stderr, "compare_weights: %s of %s %s\n", name, path[k], why);
            return 1;
        }
    agecl_st_info info;
    for (int i = 0; i < n_skip; i++)
        if (agecl_st_find(a, skip[i], &info) != AGECL_OK) {
            fprintf(stderr, "compare_weights: --skip %s: %s has no such tensor\n", skip[i], pa);
            return 1;
        }
    return 0;
}

/* 1 when difference r is worse than worst (a NaN is the worst of all). */
static int worse(double r, double worst)
{
    return !isnan(worst) && (isnan(r) || r > worst);
}

int main(int argc, char **argv)
{
    int i = 1;
    skip = calloc((size_t)argc, sizeof *skip);
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--with-optimizer")) with_optimizer = 1;
        else if (!strcmp(argv[i], "--skip") && i + 1 < argc) skip[n_skip++] = argv[++i];
        else break;
    }
    char *end = NULL;
    double tol = argc - i == 3 ? strtod(argv[i], &end) : -1;
    if (!end || *end || !(tol >= 0)) {
        fprintf(stderr, "usage: compare_weights [--with-optimizer] [--skip NAME]... TOL "
                        "A.safetensors B.safetensors\n");
        return 2;
    }
    const char *pa = argv[i + 1], *pb = argv[i + 2];
    agecl_st_file *a = NULL, *b = NULL;
    if (agecl_st_open(pa, &a) != AGECL_OK || agecl_st_open(pb, &b) != AGECL_OK) {
        fprintf(stderr, "compare_weights: %s\n", agecl_last_error());
        agecl_st_close(a);
        return 2;
    }
    int status = mismatched(a, pa, b, pb) ? 2 : 0;
    double worst = -1, worst_diff = 0, worst_max = 0;
    const char *worst_name = "";
    int compared = 0;
    for (size_t i = 0; i < agecl_st_count(a) && !status; i++) {
        agecl_st_info x, y;
        const char *name = agecl_st_name(a, i);
        if (skipped(name)) continue;
        agecl_st_find(a, name, &x);
        agecl_st_find(b, name, &y);
        double diff = 0, max = 0;
        for (size_t k = 0; k < x.numel; k++) {
            float u, v; /* the data of a file need not be aligned */
            memcpy(&u, (const char *)x.data + 4 * k, 4);
            memcpy(&v, (const char *)y.data + 4 * k, 4);
            double d = fabs((double)u - v);
            if (worse(d, diff)) diff = d;
            max = fmax(max, fmax(fabs(u), fabs(v)));
        }
        double rel = diff == 0 ? 0 : diff / max;
        if (worse(rel, worst)) worst = rel, worst_name = name, worst_diff = diff, worst_max = max;
        compared++;
    }
    if (!status && !compared) {
        fprintf(stderr, "compare_weights: %s has no tensor to compare\n", pa);
        status = 2;
    }
    if (!status) {
        printf("compare_weights: %d tensors, %d skipped; the worst, %s: max |a - b| %.3g, "
               "%.3g of its max |x| %.3g (tolerance %.3g)\n", compared, n_skip, worst_name,
               worst_diff, worst, worst_max, tol);
        status = worst <= tol ? 0 : 1; /* a NaN is not */
        if (status) fprintf(stderr, "compare_weights: %s and %s differ\n", pa, pb);
    }
    agecl_st_close(a);
    agecl_st_close(b);
    free(skip);
    return status;
}
