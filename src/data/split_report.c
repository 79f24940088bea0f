/* src/data/split_report.c - what a split covers: sizes, ages, genders. */
#include "data/dataset.h"

#include <string.h>

static const char *const part_names[AGECL_SPLIT_PARTS] = {"train", "validation", "test"};

/* Which ages a part holds. */
static void ages_of(const agecl_split *split, const agecl_dataset *ds, int p,
                    char present[AGECL_AGE_MAX + 1])
{
    memset(present, 0, AGECL_AGE_MAX + 1);
    for (int k = 0; k < split->count[p]; k++) present[ds->e[split->index[p][k]].s.age] = 1;
}

int agecl_split_uncovered_ages(const agecl_split *split, const agecl_dataset *ds,
                               int *ages, int cap)
{
    char train[AGECL_AGE_MAX + 1], val[AGECL_AGE_MAX + 1], test[AGECL_AGE_MAX + 1];
    ages_of(split, ds, AGECL_SPLIT_TRAIN, train);
    ages_of(split, ds, AGECL_SPLIT_VAL, val);
    ages_of(split, ds, AGECL_SPLIT_TEST, test);
    int n = 0;
    for (int a = 0; a <= AGECL_AGE_MAX; a++)
        if (!train[a] && (val[a] || test[a])) {
            if (n < cap) ages[n] = a;
            n++;
        }
    return n;
}

void agecl_split_report(const agecl_split *split, const agecl_dataset *ds, FILE *f)
{
    int total = 0;
    for (int p = 0; p < AGECL_SPLIT_PARTS; p++) total += split->count[p];
    fprintf(f, "split of %s: %d of %d samples\n", ds->name, total, ds->count);
    for (int p = 0; p < AGECL_SPLIT_PARTS; p++) {
        char present[AGECL_AGE_MAX + 1];
        ages_of(split, ds, p, present);
        int n_ages = 0, lo = -1, hi = -1, genders[3] = {0};
        for (int a = 0; a <= AGECL_AGE_MAX; a++)
            if (present[a]) {
                if (lo < 0) lo = a;
                hi = a;
                n_ages++;
            }
        for (int k = 0; k < split->count[p]; k++) genders[ds->e[split->index[p][k]].s.gender + 1]++;
        fprintf(f, "  %-10s %6d samples (%5.1f%%), %3d of %d age labels, ages %d..%d, "
                "%d male, %d female, %d unknown\n",
                part_names[p], split->count[p], total ? 100.0 * split->count[p] / total : 0.0,
                n_ages, ds->n_ages, lo, hi, genders[1], genders[2], genders[0]);
    }
    int ages[AGECL_AGE_MAX + 1];
    int n = agecl_split_uncovered_ages(split, ds, ages, AGECL_AGE_MAX + 1);
    if (n) {
        fprintf(f, "  %d age%s in validation or test but not in training:", n, n > 1 ? "s" : "");
        for (int i = 0; i < n; i++) fprintf(f, " %d", ages[i]);
        fputc('\n', f);
    }
}
