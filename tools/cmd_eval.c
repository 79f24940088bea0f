/* agecl eval, agecl predict */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl.h"
#include "commands.h"

enum { MAX_MODELS = 16 };

/* The views of a checkpoint (flags), with --flip/--no-flip and --zoom/--no-zoom
 * (1/0; -1: not given) applied. */
static unsigned override_views(unsigned flags, int flip, int zoom)
{
    if (flip >= 0) flags = (flags & ~(unsigned)AGECL_EVAL_FLIP) | (flip ? AGECL_EVAL_FLIP : 0u);
    if (zoom >= 0) flags = (flags & ~(unsigned)AGECL_EVAL_ZOOM) | (zoom ? AGECL_EVAL_ZOOM : 0u);
    return flags;
}

/* One model of the ensemble: made, run over the samples, freed. */
static agecl_status add_model(agecl_ctx *ctx, agecl_ensemble *e, const char *path, int batch,
                              const int *idx, int n, int workers, int flip, int zoom)
{
    agecl_model_config cfg;
    agecl_model *m = NULL;
    unsigned flags = 0;
    agecl_status s = agecl_model_config_read(path, &cfg);
    if (s == AGECL_OK) s = agecl_model_create(ctx, &cfg, batch, 0, &m);
    if (s == AGECL_OK) s = agecl_model_load(m, path, 0);
    if (s == AGECL_OK) s = agecl_checkpoint_eval_flags(path, &flags);
    flags = override_views(flags, flip, zoom);
    if (s == AGECL_OK) s = agecl_ensemble_add(e, m, idx, n, workers, flags, stderr);
    agecl_model_destroy(m);
    return s;
}

static void eval_usage(FILE *f)
{
    fprintf(f,
        "usage: agecl eval --model FILE [--model FILE...] --data KIND:PATH [options]\n\n"
        "Evaluate a trained model (best.safetensors of agecl train): MAE, CS5, gender\n"
        "accuracy, the confidence score at t = 1, 2, 3 years and the MAE per decade.\n"
        "Several --model options evaluate their ensemble: the mean of their predictions.\n\n"
        "  --model FILE     the checkpoint (required; repeat for an ensemble, up to %d)\n"
        "  --data KIND:PATH utkface:DIR, aaf:DIR or csv:FILE (required)\n"
        "  --split PART     all (default), train, val or test: a part of the 60/20/20 split\n"
        "  --limit N        at most N samples\n"
        "  --batch N        images a pass (32)\n"
        "  --device SEL     index, name or gpu/cpu/any\n"
        "  --workers N      image loading threads (2)\n"
        "  --flip, --no-flip  average each image and its mirror (default: as the model was\n"
        "                   validated in training, its tta_flip metadata)\n"
        "  --zoom, --no-zoom  ... and its centre 0.9 zoomed back, and that zoom's mirror with\n"
        "                   flip (default: as validated, its tta_zoom metadata)\n"
        "  --json           one JSON object (keys n, skipped, mae, cs5, gender_acc,\n"
        "                   confidence_t1..3,"
        " decade_mae; percentages 0..100)\n", MAX_MODELS);
}

int cmd_eval(int argc, char **argv)
{
    const char *models[MAX_MODELS], *data = NULL, *split = "all", *device = NULL;
    int n_models = 0, json = 0, limit = 0, batch = 32, workers = 2, flip = -1,
        zoom = -1;
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'}, {"data", required_argument, 0, 'd'},
        {"split", required_argument, 0, 's'}, {"limit", required_argument, 0, 'l'},
        {"batch", required_argument, 0, 'b'}, {"device", required_argument, 0, 'D'},
        {"workers", required_argument, 0, 'w'}, {"json", no_argument, 0, 'j'},
        {"flip", no_argument, 0, 'f'}, {"no-flip", no_argument, 0, 'F'},
        {"zoom", no_argument, 0, 'z'}, {"no-zoom", no_argument, 0, 'Z'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (n_models == MAX_MODELS) {
                fprintf(stderr, "agecl eval: at most %d --model options\n", MAX_MODELS);
                return 2;
            }
            models[n_models++] = optarg;
            break;
        case 'd': data = optarg; break;
        case 's': split = optarg; break;
        case 'l': if (!cli_int("eval", "--limit", optarg, 0, 1000000000, &limit)) return 2; break;
        case 'b': if (!cli_int("eval", "--batch", optarg, 1, 65536, &batch)) return 2; break;
        case 'D': device = optarg; break;
        case 'w': if (!cli_int("eval", "--workers", optarg, 0, 1024, &workers)) return 2; break;
        case 'j': json = 1; break;
        case 'f': flip = 1; break;
        case 'F': flip = 0; break;
        case 'z': zoom = 1; break;
        case 'Z': zoom = 0; break;
        case 'h': eval_usage(stdout); return 0;
        default: eval_usage(stderr); return 2;
        }
    }
    if (!n_models || !data || optind < argc || batch < 1 || workers < 0 || limit < 0) {
        fprintf(stderr, "agecl eval: --model and --data are required, nothing else (see --help)\n");
        return 2;
    }
    int part = !strcmp(split, "train") ? AGECL_SPLIT_TRAIN
               : !strcmp(split, "val") ? AGECL_SPLIT_VAL
               : !strcmp(split, "test") ? AGECL_SPLIT_TEST
               : !strcmp(split, "all") ? -1 : -2;
    if (part == -2) {
        fprintf(stderr, "agecl eval: --split is all, train, val or test, not '%s'\n", split);
        return 2;
    }
    agecl_ctx *ctx = NULL;
    agecl_dataset *ds = NULL;
    agecl_ensemble *e = NULL;
    agecl_split sp = {{0}, {0}};
    /* every checkpoint is read before the long work starts */
    agecl_model_config cfg;
    agecl_status s = AGECL_OK;
    const char *what = "eval"; /* what an error names */
    for (int i = 0; i < n_models && s == AGECL_OK; i++)
        if ((s = agecl_model_config_read(models[i], &cfg)) != AGECL_OK) what = models[i];
    if (s == AGECL_OK) s = agecl_dataset_open(&ds, data, 0);
    if (s == AGECL_OK && part >= 0) s = agecl_split_hash(&sp, ds);
    if (s == AGECL_OK) s = agecl_ctx_create(&ctx, device, 0);
    if (s == AGECL_OK) s = agecl_ensemble_create(&e, ds);
    const int *idx = part >= 0 ? sp.index[part] : NULL;
    int n = part >= 0 ? sp.count[part] : ds ? agecl_dataset_count(ds) : 0;
    if (limit && n > limit) n = limit;
    for (int i = 0; i < n_models && s == AGECL_OK; i++) {
        if (n_models > 1) fprintf(stderr, "agecl eval: model %d of %d, %s\n", i + 1, n_models, models[i]);
        if ((s = add_model(ctx, e, models[i], batch, idx, n, workers, flip, zoom)) != AGECL_OK)
            what = models[i];
    }
    agecl_eval_result r;
    if (s == AGECL_OK) s = agecl_ensemble_result(e, &r);
    int rc = 0;
    if (s != AGECL_OK) rc = cli_fail(what, s);
    else if (json) agecl_eval_print_json(&r, stdout);
    else agecl_eval_print_table(&r, stdout);
    if (s == AGECL_OK && agecl_dataset_skipped(ds))
        fprintf(stderr, "agecl eval: %d bad entries of the data set skipped\n",
                agecl_dataset_skipped(ds));
    if (s == AGECL_OK && r.skipped)
        fprintf(stderr, "agecl eval: skipped %d unreadable image%s\n", r.skipped,
                r.skipped == 1 ? "" : "s");
    agecl_ensemble_free(e);
    agecl_ctx_destroy(ctx);
    agecl_split_free(&sp);
    agecl_dataset_free(ds);
    return rc;
}

static void predict_usage(FILE *f)
{
    fprintf(f,
        "usage: agecl predict --model FILE [--model FILE...] [--json] [--crop center|full|aaf]\n"
        "                     IMAGE...\n\n"
        "Per image: the expected-value age, the age of the position head (when the model\n"
        "keeps references), and gender with its probability. Images are aligned face\n"
        "crops (JPEG, PNG, BMP); the default crop is the centred square. Several --model\n"
        "options (up to %d) predict as their ensemble: the mean of their predictions.\n"
        "Each model averages the views of a face it was validated with (its mirror, its\n"
        "centre zoom); --flip/--no-flip and --zoom/--no-zoom choose them instead.\n",
        MAX_MODELS);
}

int cmd_predict(int argc, char **argv)
{
    const char *models[MAX_MODELS], *device = NULL, *crop_name = "center";
    int n_models = 0, json = 0, flip = -1, zoom = -1;
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'}, {"device", required_argument, 0, 'D'},
        {"crop", required_argument, 0, 'c'}, {"json", no_argument, 0, 'j'},
        {"flip", no_argument, 0, 'f'}, {"no-flip", no_argument, 0, 'F'},
        {"zoom", no_argument, 0, 'z'}, {"no-zoom", no_argument, 0, 'Z'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (n_models == MAX_MODELS) {
                fprintf(stderr, "agecl predict: at most %d --model options\n", MAX_MODELS);
                return 2;
            }
            models[n_models++] = optarg;
            break;
        case 'D': device = optarg; break;
        case 'c': crop_name = optarg; break;
        case 'j': json = 1; break;
        case 'f': flip = 1; break;
        case 'F': flip = 0; break;
        case 'z': zoom = 1; break;
        case 'Z': zoom = 0; break;
        case 'h': predict_usage(stdout); return 0;
        default: predict_usage(stderr); return 2;
        }
    }
    agecl_crop crop = !strcmp(crop_name, "center") ? AGECL_CROP_CENTER_SQUARE
                      : !strcmp(crop_name, "full") ? AGECL_CROP_FULL
                      : !strcmp(crop_name, "aaf") ? AGECL_CROP_AAF_FACE : (agecl_crop)-1;
    if (!n_models || optind >= argc || (int)crop < 0) {
        fprintf(stderr, "agecl predict: --model and at least one image are required (see --help)\n");
        return 2;
    }
    agecl_predictor *p[MAX_MODELS] = {0};
    for (int k = 0; k < n_models; k++) {
        agecl_status s = agecl_predictor_open(&p[k], models[k], device);
        if (s != AGECL_OK) {
            int rc = cli_fail(models[k], s);
            for (int j = 0; j < k; j++) agecl_predictor_close(p[j]);
            return rc;
        }
        agecl_predictor_set_views(p[k], override_views(agecl_predictor_views(p[k]), flip, zoom));
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        agecl_prediction each[MAX_MODELS], r;
        agecl_status s = AGECL_OK;
        for (int k = 0; k < n_models && s == AGECL_OK; k++)
            s = agecl_predictor_file(p[k], argv[i], crop, &each[k]);
        if (s != AGECL_OK) {
            rc = cli_fail(argv[i], s);
            continue;
        }
        agecl_prediction_mean(each, n_models, &r);
        const char *g = r.gender == 0 ? "male" : r.gender == 1 ? "female" : NULL;
        if (json) {
            agecl_prediction_print_json(argv[i], &r, stdout);
        } else {
            printf("%s: age %.1f", argv[i], r.age);
            if (!isnan(r.position_age)) printf(" (position head: %.0f)", r.position_age);
            if (g) printf(", %s (%.0f%%)", g, 100.0 * r.gender_p);
            printf("\n");
        }
    }
    for (int k = 0; k < n_models; k++) agecl_predictor_close(p[k]);
    return rc;
}
