/* Evaluation of a model on a set of samples (MODEL.md section 7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/safetensors.h"
#include "agecl/train.h"
#include "error.h"
#include "train/views.h"

agecl_status agecl_checkpoint_eval_flags(const char *path, unsigned *flags)
{
    if (!path || !flags)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_checkpoint_eval_flags: NULL argument");
    agecl_st_file *f;
    AGECL_TRY(agecl_st_open(path, &f));
    const char *flip = agecl_st_meta(f, "tta_flip"), *zoom = agecl_st_meta(f, "tta_zoom");
    *flags = (flip && !strcmp(flip, "1") ? AGECL_EVAL_FLIP : 0u) |
             (zoom && !strcmp(zoom, "1") ? AGECL_EVAL_ZOOM : 0u);
    agecl_st_close(f);
    return AGECL_OK;
}

/* Per-sample predictions summed over the models of an ensemble, indexed by the
 * sample's index in the data set. */
struct agecl_ensemble {
    const agecl_dataset *ds;
    int models, skipped;
    double *age, *gender_p, *pos_age;
    int *age_n, *gender_n, *pos_n, *true_age, *gender;
};

agecl_status agecl_ensemble_create(agecl_ensemble **out, const agecl_dataset *ds)
{
    if (!out || !ds) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_ensemble_create: NULL argument");
    *out = NULL;
    size_t n = (size_t)agecl_dataset_count(ds);
    agecl_ensemble *e = calloc(1, sizeof *e);
    if (e) {
        e->ds = ds;
        e->age = calloc(n, sizeof *e->age), e->gender_p = calloc(n, sizeof *e->gender_p);
        e->pos_age = calloc(n, sizeof *e->pos_age), e->age_n = calloc(n, sizeof *e->age_n);
        e->gender_n = calloc(n, sizeof *e->gender_n), e->pos_n = calloc(n, sizeof *e->pos_n);
        e->true_age = calloc(n, sizeof *e->true_age), e->gender = calloc(n, sizeof *e->gender);
    }
    if (!e || !e->age || !e->gender_p || !e->pos_age || !e->age_n || !e->gender_n || !e->pos_n ||
        !e->true_age || !e->gender) {
        agecl_ensemble_free(e);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_ensemble_create: %zu samples", n);
    }
    *out = e;
    return AGECL_OK;
}

void agecl_ensemble_free(agecl_ensemble *e)
{
    if (!e) return;
    free(e->age), free(e->gender_p), free(e->pos_age), free(e->age_n);
    free(e->gender_n), free(e->pos_n), free(e->true_age), free(e->gender);
    free(e);
}

static void add_batch(agecl_ensemble *e, const agecl_model_config *cfg, const agecl_batch *b,
                      const float *age, const float *gender_p, const int *pos)
{
    for (int i = 0; i < b->count; i++) {
        int k = b->indices[i];
        e->true_age[k] = b->ages[i];
        e->gender[k] = b->genders[i];
        e->age[k] += age[i];
        e->age_n[k]++;
        if (!isnan(gender_p[i])) e->gender_p[k] += gender_p[i], e->gender_n[k]++;
        if (pos[i] >= 0) e->pos_age[k] += cfg->ages[pos[i]], e->pos_n[k]++;
    }
}

/* The predictions are kept per sample, so a sample may be listed once. */
static agecl_status check_distinct(const agecl_ensemble *e, const int *indices, int count)
{
    int N = agecl_dataset_count(e->ds);
    if (!indices) return AGECL_OK;
    if (count < 0 || count > N)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_evaluate: %d samples of a set of %d", count, N);
    unsigned char *seen = calloc((size_t)N, 1);
    if (!seen) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_evaluate: %d samples", N);
    agecl_status st = AGECL_OK;
    for (int i = 0; i < count && st == AGECL_OK; i++) {
        if (indices[i] < 0 || indices[i] >= N)
            st = agecl__fail(AGECL_E_INVALID_ARG, "agecl_evaluate: indices[%d] = %d is not a sample "
                             "of the set (0..%d)", i, indices[i], N - 1);
        else if (seen[indices[i]]++)
            st = agecl__fail(AGECL_E_INVALID_ARG, "agecl_evaluate: sample %d is listed twice "
                             "(indices[%d])", indices[i], i);
    }
    free(seen);
    return st;
}

agecl_status agecl_ensemble_add(agecl_ensemble *e, agecl_model *m, const int *indices, int count,
                                int threads, unsigned flags, FILE *issues)
{
    if (!e || !m) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_ensemble_add: NULL argument");
    AGECL_TRY(check_distinct(e, indices, count));
    const agecl_model_config *cfg = agecl_model_config_of(m);
    int B = agecl_model_batch(m), S = cfg->input_size;
    agecl_loader_options opt;
    agecl_loader_defaults(&opt);
    opt.batch_size = B;
    opt.image_size = S;
    opt.threads = threads;
    agecl_loader *loader = NULL;
    AGECL_TRY(agecl_loader_create(&loader, e->ds, indices,
                                  indices ? count : agecl_dataset_count(e->ds), &opt));
    size_t image = (size_t)3 * S * S;
    float *images = calloc((size_t)B * image, sizeof *images);
    float *age = malloc((size_t)B * sizeof *age), *gp = malloc((size_t)B * sizeof *gp);
    float *scratch = malloc(AGECL__VIEWS_SCRATCH(B, S) * sizeof *scratch);
    int *pos = malloc((size_t)B * sizeof *pos), added = 0;
    agecl_status st = images && age && gp && pos && scratch ? agecl_loader_start_epoch(loader, 0)
                                                 : agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_evaluate");
    while (st == AGECL_OK) {
        agecl_batch *b = NULL;
        st = agecl_loader_next(loader, &b);
        if (st != AGECL_OK || !b) break;
        /* A short last batch is padded with zeros: inference is per sample. */
        memcpy(images, b->images, (size_t)b->count * image * sizeof *images);
        memset(images + (size_t)b->count * image, 0, (size_t)(B - b->count) * image * sizeof *images);
        st = agecl__predict_views(m, images, flags, age, gp, pos, scratch);
        if (st == AGECL_OK) add_batch(e, cfg, b, age, gp, pos), added += b->count;
        agecl_loader_release(loader, b);
    }
    /* Every model reads the same images, so the first one's reports stand for all. */
    if (e->models++ == 0) {
        e->skipped = agecl_loader_skipped(loader);
        for (int i = 0; issues && i < agecl_loader_issue_count(loader); i++)
            fprintf(issues, "skipped %s\n", agecl_loader_issue(loader, i));
        if (issues && e->skipped > agecl_loader_issue_count(loader))
            fprintf(issues, "skipped %d more bad images (not listed)\n",
                    e->skipped - agecl_loader_issue_count(loader));
    }
    /* no number is better than a NaN one: an empty or unreadable set is an error */
    if (st == AGECL_OK && added == 0)
        st = agecl_loader_skipped(loader)
                 ? agecl__fail(AGECL_E_DATA, "agecl_evaluate: none of the %d images could be read; "
                               "the first: %s", agecl_loader_skipped(loader),
                               agecl_loader_issue_count(loader) ? agecl_loader_issue(loader, 0)
                                                                : "(no message)")
                 : agecl__fail(AGECL_E_DATA, "agecl_evaluate: no sample to evaluate");
    free(images);
    free(age);
    free(gp);
    free(scratch);
    free(pos);
    agecl_loader_free(loader);
    return st;
}

agecl_status agecl_ensemble_result(const agecl_ensemble *e, agecl_eval_result *out)
{
    if (!e || !out) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_ensemble_result: NULL argument");
    double abs = 0, within5 = 0, gender_ok = 0, decade[10] = {0};
    long n = 0, gender_n = 0, conf[3] = {0}, conf_n = 0;
    memset(out, 0, sizeof *out);
    /* A sample counts when every model predicted it (a bad image none did). */
    for (int k = 0, N = agecl_dataset_count(e->ds); k < N; k++) {
        if (!e->models || e->age_n[k] != e->models) continue;
        double age = e->age[k] / e->models, err = fabs(age - e->true_age[k]);
        abs += err;
        within5 += err <= 5.0;
        n++;
        int d = e->true_age[k] / 10;
        d = d > 9 ? 9 : d < 0 ? 0 : d;
        decade[d] += err;
        out->decade_n[d]++;
        if (e->gender[k] >= 0 && e->gender_n[k]) {
            gender_n++;
            gender_ok += (e->gender_p[k] / e->gender_n[k] > 0.5 ? 1 : 0) == e->gender[k];
        }
        if (e->pos_n[k]) {
            double gap = fabs(age - e->pos_age[k] / e->pos_n[k]);
            conf_n++;
            for (int t = 0; t < 3; t++) conf[t] += gap <= t + 1;
        }
    }
    out->n = (int)n;
    out->skipped = e->skipped;
    out->mae = n ? abs / n : NAN;
    out->cs5 = n ? 100.0 * within5 / n : NAN;
    out->gender_n = (int)gender_n;
    out->gender_acc = gender_n ? 100.0 * gender_ok / gender_n : NAN;
    for (int t = 0; t < 3; t++) out->confidence[t] = conf_n ? 100.0 * conf[t] / conf_n : NAN;
    for (int d = 0; d < 10; d++)
        out->decade_mae[d] = out->decade_n[d] ? decade[d] / out->decade_n[d] : NAN;
    if (!n) return agecl__fail(AGECL_E_DATA, "agecl_evaluate: no sample to evaluate");
    return AGECL_OK;
}

agecl_status agecl_evaluate(agecl_model *m, const agecl_dataset *ds, const int *indices,
                            int count, int threads, unsigned flags, FILE *issues,
                            agecl_eval_result *out)
{
    if (!m || !ds || !out) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_evaluate: NULL argument");
    agecl_ensemble *e;
    AGECL_TRY(agecl_ensemble_create(&e, ds));
    agecl_status st = agecl_ensemble_add(e, m, indices, count, threads, flags, issues);
    if (st == AGECL_OK) st = agecl_ensemble_result(e, out);
    agecl_ensemble_free(e);
    return st;
}

static void json_number(FILE *f, const char *key, double v, int comma)
{
    if (isnan(v)) fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
    else fprintf(f, "\"%s\": %.4f%s", key, v, comma ? ", " : "");
}

void agecl_eval_print_json(const agecl_eval_result *r, FILE *f)
{
    fprintf(f, "{\"n\": %d, \"skipped\": %d, ", r->n, r->skipped);
    json_number(f, "mae", r->mae, 1);
    json_number(f, "cs5", r->cs5, 1);
    json_number(f, "gender_acc", r->gender_acc, 1);
    json_number(f, "confidence_t1", r->confidence[0], 1);
    json_number(f, "confidence_t2", r->confidence[1], 1);
    json_number(f, "confidence_t3", r->confidence[2], 1);
    fprintf(f, "\"decade_mae\": {");
    int first = 1;
    for (int d = 0; d < 10; d++) {
        if (!r->decade_n[d]) continue;
        fprintf(f, "%s\"%d\": %.4f", first ? "" : ", ", d * 10, r->decade_mae[d]);
        first = 0;
    }
    fprintf(f, "}}\n");
}

void agecl_eval_print_table(const agecl_eval_result *r, FILE *f)
{
    fprintf(f, "samples            %d\n", r->n);
    if (r->skipped) fprintf(f, "skipped            %d bad images\n", r->skipped);
    fprintf(f, "MAE                %.3f years\n", r->mae);
    fprintf(f, "CS5                %.2f %%\n", r->cs5);
    if (r->gender_n) fprintf(f, "gender accuracy    %.2f %% (%d labelled)\n", r->gender_acc, r->gender_n);
    else fprintf(f, "gender accuracy    n/a (no gender labels)\n");
    if (!isnan(r->confidence[0]))
        fprintf(f, "confidence t=1/2/3 %.2f / %.2f / %.2f %%\n", r->confidence[0],
                r->confidence[1], r->confidence[2]);
    else fprintf(f, "confidence         n/a (the model has no references)\n");
    fprintf(f, "MAE by decade of true age:\n");
    for (int d = 0; d < 10; d++) {
        if (!r->decade_n[d]) continue;
        char range[16];
        if (d == 9) snprintf(range, sizeof range, "90+");
        else snprintf(range, sizeof range, "%d-%d", d * 10, d * 10 + 9);
        fprintf(f, "  %-6s %6d samples  MAE %.3f\n", range, r->decade_n[d], r->decade_mae[d]);
    }
}
