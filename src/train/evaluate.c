/* Evaluation of a model on a set of samples (MODEL.md section 7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/safetensors.h"
#include "agecl/train.h"
#include "error.h"

agecl_status agecl_checkpoint_eval_flags(const char *path, unsigned *flags)
{
    if (!path || !flags)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_checkpoint_eval_flags: NULL argument");
    agecl_st_file *f;
    AGECL_TRY(agecl_st_open(path, &f));
    const char *v = agecl_st_meta(f, "tta_flip");
    *flags = v && !strcmp(v, "1") ? AGECL_EVAL_FLIP : 0;
    agecl_st_close(f);
    return AGECL_OK;
}

typedef struct sums {
    double abs, within5, gender_ok;
    long n, gender_n, conf[3], conf_n;
    double decade[10];
    int decade_n[10];
} sums;

static void add_batch(sums *s, const agecl_model_config *cfg, const agecl_batch *b,
                      const float *age, const float *gender_p, const int *pos)
{
    for (int i = 0; i < b->count; i++) {
        double err = fabs((double)age[i] - b->ages[i]);
        s->abs += err;
        s->within5 += err <= 5.0;
        s->n++;
        int d = b->ages[i] / 10;
        if (d > 9) d = 9;
        if (d < 0) d = 0;
        s->decade[d] += err;
        s->decade_n[d]++;
        if (b->genders[i] >= 0 && !isnan(gender_p[i])) {
            s->gender_n++;
            s->gender_ok += (gender_p[i] > 0.5f ? 1 : 0) == b->genders[i];
        }
        if (pos[i] >= 0) {
            double gap = fabs((double)age[i] - cfg->ages[pos[i]]);
            s->conf_n++;
            for (int t = 0; t < 3; t++) s->conf[t] += gap <= t + 1;
        }
    }
}

static void finish(const sums *s, agecl_eval_result *out)
{
    memset(out, 0, sizeof *out);
    out->n = (int)s->n;
    out->mae = s->n ? s->abs / s->n : NAN;
    out->cs5 = s->n ? 100.0 * s->within5 / s->n : NAN;
    out->gender_n = (int)s->gender_n;
    out->gender_acc = s->gender_n ? 100.0 * s->gender_ok / s->gender_n : NAN;
    for (int t = 0; t < 3; t++)
        out->confidence[t] = s->conf_n ? 100.0 * s->conf[t] / s->conf_n : NAN;
    for (int d = 0; d < 10; d++) {
        out->decade_n[d] = s->decade_n[d];
        out->decade_mae[d] = s->decade_n[d] ? s->decade[d] / s->decade_n[d] : NAN;
    }
}

/* Mirror B images of 3 x S x S left to right, in place. */
static void mirror(float *images, int B, int S)
{
    for (size_t r = 0, rows = (size_t)B * 3 * S; r < rows; r++) {
        float *row = images + r * S;
        for (int x = 0; x < S / 2; x++) {
            float t = row[x];
            row[x] = row[S - 1 - x];
            row[S - 1 - x] = t;
        }
    }
}

/* The outputs of one batch; with AGECL_EVAL_FLIP the ages and gender
 * probabilities are the means over the images and their mirrors (the positions
 * stay the unmirrored ones). The images are mirrored on return. */
static agecl_status predict(agecl_model *m, float *images, unsigned flags, float *age, float *gp,
                            int *pos, float *age2, float *gp2)
{
    agecl_outputs o = {age, gp, pos, NULL};
    AGECL_TRY(agecl_model_forward(m, images, 0));
    AGECL_TRY(agecl_model_outputs(m, &o));
    if (!(flags & AGECL_EVAL_FLIP)) return AGECL_OK;
    int B = agecl_model_batch(m);
    mirror(images, B, agecl_model_config_of(m)->input_size);
    agecl_outputs o2 = {age2, gp2, NULL, NULL};
    AGECL_TRY(agecl_model_forward(m, images, 0));
    AGECL_TRY(agecl_model_outputs(m, &o2));
    for (int b = 0; b < B; b++) {
        age[b] = 0.5f * (age[b] + age2[b]);
        gp[b] = 0.5f * (gp[b] + gp2[b]);
    }
    return AGECL_OK;
}

agecl_status agecl_evaluate(agecl_model *m, const agecl_dataset *ds, const int *indices,
                            int count, int threads, unsigned flags, FILE *issues,
                            agecl_eval_result *out)
{
    if (!m || !ds || !out) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_evaluate: NULL argument");
    const agecl_model_config *cfg = agecl_model_config_of(m);
    int B = agecl_model_batch(m), S = cfg->input_size;
    agecl_loader_options opt;
    agecl_loader_defaults(&opt);
    opt.batch_size = B;
    opt.image_size = S;
    opt.threads = threads;
    agecl_loader *loader = NULL;
    AGECL_TRY(agecl_loader_create(&loader, ds, indices, indices ? count : agecl_dataset_count(ds),
                                  &opt));
    size_t image = (size_t)3 * S * S;
    float *images = calloc((size_t)B * image, sizeof *images);
    float *age = malloc((size_t)B * 2 * sizeof *age), *gp = malloc((size_t)B * 2 * sizeof *gp);
    int *pos = malloc((size_t)B * sizeof *pos);
    sums s;
    memset(&s, 0, sizeof s);
    agecl_status st = images && age && gp && pos ? agecl_loader_start_epoch(loader, 0)
                                                 : agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_evaluate");
    while (st == AGECL_OK) {
        agecl_batch *b = NULL;
        st = agecl_loader_next(loader, &b);
        if (st != AGECL_OK || !b) break;
        /* A short last batch is padded with zeros: inference is per sample. */
        memcpy(images, b->images, (size_t)b->count * image * sizeof *images);
        memset(images + (size_t)b->count * image, 0, (size_t)(B - b->count) * image * sizeof *images);
        st = predict(m, images, flags, age, gp, pos, age + B, gp + B);
        if (st == AGECL_OK) add_batch(&s, cfg, b, age, gp, pos);
        agecl_loader_release(loader, b);
    }
    finish(&s, out);
    out->skipped = agecl_loader_skipped(loader);
    for (int i = 0; issues && i < agecl_loader_issue_count(loader); i++)
        fprintf(issues, "skipped %s\n", agecl_loader_issue(loader, i));
    if (issues && out->skipped > agecl_loader_issue_count(loader))
        fprintf(issues, "skipped %d more bad images (not listed)\n",
                out->skipped - agecl_loader_issue_count(loader));
    /* no number is better than a NaN one: an empty or unreadable set is an error */
    if (st == AGECL_OK && out->n == 0)
        st = out->skipped ? agecl__fail(AGECL_E_DATA, "agecl_evaluate: none of the %d images could "
                                        "be read; the first: %s", out->skipped,
                                        agecl_loader_issue_count(loader)
                                            ? agecl_loader_issue(loader, 0) : "(no message)")
                          : agecl__fail(AGECL_E_DATA, "agecl_evaluate: no sample to evaluate");
    free(images);
    free(age);
    free(gp);
    free(pos);
    agecl_loader_free(loader);
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
