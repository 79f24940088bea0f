/* One face at a time through a model loaded from a checkpoint. */
#include <math.h>
#include <stdlib.h>
#include "agecl/predict.h"
#include "agecl/train.h"
#include "error.h"
#include "io/json.h"
#include "train/views.h"

struct agecl_predictor {
    agecl_ctx *ctx;
    agecl_model *model;
    uint8_t *rgb;  /* S x S x 3 */
    float *chw;    /* 3 x S x S */
    float *scratch; /* the views' (views.h) */
    unsigned flags; /* AGECL_EVAL_FLIP, _ZOOM: the views averaged (views.h) */
};

agecl_status agecl_predictor_open(agecl_predictor **out, const char *model_path,
                                  const char *device)
{
    if (!out || !model_path) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_predictor_open: NULL argument");
    *out = NULL;
    agecl_model_config cfg;
    AGECL_TRY(agecl_model_config_read(model_path, &cfg));
    agecl_predictor *p = calloc(1, sizeof *p);
    if (!p) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_predictor_open");
    int S = cfg.input_size;
    p->rgb = malloc((size_t)S * S * 3);
    p->chw = malloc((size_t)S * S * 3 * sizeof *p->chw);
    p->scratch = malloc(AGECL__VIEWS_SCRATCH(1, S) * sizeof *p->scratch);
    agecl_status s = p->rgb && p->chw && p->scratch ? agecl_ctx_create(&p->ctx, device, 0)
                                      : agecl__fail(AGECL_E_OUT_OF_MEMORY, "agecl_predictor_open");
    if (s == AGECL_OK) s = agecl_model_create(p->ctx, &cfg, 1, 0, &p->model);
    if (s == AGECL_OK) s = agecl_model_load(p->model, model_path, 0);
    if (s == AGECL_OK) s = agecl_checkpoint_eval_flags(model_path, &p->flags);
    if (s != AGECL_OK) {
        agecl_predictor_close(p);
        return s;
    }
    *out = p;
    return AGECL_OK;
}

void agecl_predictor_close(agecl_predictor *p)
{
    if (!p) return;
    agecl_model_destroy(p->model);
    agecl_ctx_destroy(p->ctx);
    free(p->rgb);
    free(p->chw);
    free(p->scratch);
    free(p);
}

void agecl_predictor_set_views(agecl_predictor *p, unsigned flags)
{
    if (p) p->flags = flags & (AGECL_EVAL_FLIP | AGECL_EVAL_ZOOM);
}

unsigned agecl_predictor_views(const agecl_predictor *p) { return p ? p->flags : 0; }

const agecl_model_config *agecl_predictor_config(const agecl_predictor *p)
{
    return agecl_model_config_of(p->model);
}

static agecl_status predict(agecl_predictor *p, agecl_prediction *out)
{
    const agecl_model_config *cfg = agecl_model_config_of(p->model);
    int S = cfg->input_size;
    agecl_image_normalize(p->rgb, S, S, p->chw);
    float age, gp;
    int pos;
    /* the views the model was validated with (agecl/train.h) */
    AGECL_TRY(agecl__predict_views(p->model, p->chw, p->flags, &age, &gp, &pos, p->scratch));
    out->age = age;
    out->position_age = pos >= 0 ? cfg->ages[pos] : NAN;
    if (cfg->gender) {
        out->gender = gp > 0.5f;
        out->gender_p = out->gender ? gp : 1.0f - gp;
    } else {
        out->gender = -1;
        out->gender_p = NAN;
    }
    return AGECL_OK;
}

void agecl_prediction_mean(const agecl_prediction *r, int n, agecl_prediction *out)
{
    double age = 0, pos = 0, female = 0;
    int pos_n = 0, gender_n = 0;
    for (int i = 0; i < n; i++) {
        age += r[i].age;
        if (!isnan(r[i].position_age)) pos += r[i].position_age, pos_n++;
        if (r[i].gender >= 0) female += r[i].gender ? r[i].gender_p : 1.0 - r[i].gender_p, gender_n++;
    }
    out->age = n ? (float)(age / n) : NAN;
    out->position_age = pos_n ? (float)(pos / pos_n) : NAN;
    out->gender = gender_n ? female / gender_n > 0.5 : -1;
    out->gender_p = !gender_n ? NAN : (float)(out->gender ? female / gender_n : 1.0 - female / gender_n);
}

agecl_status agecl_predictor_rgb(agecl_predictor *p, const uint8_t *rgb, int width, int height,
                                 agecl_crop crop, agecl_prediction *out)
{
    if (!p || !rgb || !out || width < 1 || height < 1)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_predictor_rgb: bad argument");
    int S = agecl_model_config_of(p->model)->input_size;
    AGECL_TRY(agecl_image_resize(rgb, width, height, agecl_image_crop_box(crop, width, height),
                                 p->rgb, S, S));
    return predict(p, out);
}

agecl_status agecl_predictor_file(agecl_predictor *p, const char *path, agecl_crop crop,
                                  agecl_prediction *out)
{
    if (!p || !path || !out) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_predictor_file: NULL argument");
    AGECL_TRY(agecl_image_load(path, crop, agecl_model_config_of(p->model)->input_size, p->rgb));
    return predict(p, out);
}

void agecl_prediction_print_json(const char *image, const agecl_prediction *r, FILE *f)
{
    const char *g = r->gender == 0 ? "male" : r->gender == 1 ? "female" : NULL;
    fputs("{\"image\": ", f);
    agecl__json_fput_string(image, f);
    fprintf(f, ", \"age\": %.2f, ", r->age);
    if (isnan(r->position_age)) fputs("\"position_age\": null, ", f);
    else fprintf(f, "\"position_age\": %.0f, ", r->position_age);
    if (g) fprintf(f, "\"gender\": \"%s\", \"gender_p\": %.4f}\n", g, r->gender_p);
    else fputs("\"gender\": null, \"gender_p\": null}\n", f);
}
