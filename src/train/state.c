/* A training run's state and settings in its checkpoints (see state.h). */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/safetensors.h"
#include "error.h"
#include "io/number.h"
#include "train/state.h"

/* The settings in force, as checkpoint metadata: key/value pairs into kv (up to
 * 2 * SETTINGS strings), the values kept in store. Returns the strings written. */
enum { SETTINGS = 24 };
static void put(const char **kv, char store[][64], int *n, const char *key, const char *fmt, ...)
    AGECL_PRINTF(5, 6);
static void put(const char **kv, char store[][64], int *n, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(store[*n / 2], 64, fmt, ap);
    va_end(ap);
    kv[*n] = key;
    kv[*n + 1] = store[*n / 2];
    *n += 2;
}

/* The processes training together (agecl/comm.h): the global batch is ranks x
 * batch, which is what a checkpoint records as its batch, so that a run of N
 * ranks resumes on M ranks of batch N x batch / M, or on one process. */
static int ranks(const agecl_train_options *o) { return o->comm ? o->comm->size : 1; }

static int settings_meta(const agecl_train_options *o, const char **kv, char store[SETTINGS][64])
{
    int n = 0;
#define SET(key, ...) put(kv, store, &n, key, __VA_ARGS__)
    SET("recipe", "%s", o->recipe ? o->recipe : "custom");
    SET("epochs", "%d", o->epochs);
    SET("lr", "%.9g", o->lr);
    SET("optimizer", "%s", o->decoupled ? "adamw" : "adam");
    SET("weight_decay", "%.9g", o->weight_decay);
    SET("decay_on", "%s", o->decay_all ? "all" : "weights");
    SET("schedule", "%s", o->schedule == AGECL_SCHEDULE_COSINE ? "cosine" : "step");
    SET("warmup", "%.9g", o->warmup);
    SET("lr_drops", "%d,%d,%d,%d", o->n_lr_drops > 0 ? o->lr_drops[0] : 0,
        o->n_lr_drops > 1 ? o->lr_drops[1] : 0, o->n_lr_drops > 2 ? o->lr_drops[2] : 0,
        o->n_lr_drops > 3 ? o->lr_drops[3] : 0);
    SET("augment", "%s", o->augment);
    SET("label_sigma", "%.9g", o->loss.dist_sigma);
    SET("dist_weight", "%.9g", o->loss.dist_weight);
    SET("age_weight", "%.9g", o->loss.age_weight);
    SET("gender_weight", "%.9g", o->loss.gender_weight);
    SET("pos_weight", "%.9g", o->loss.pos_weight);
    SET("tta_flip", "%d", o->tta_flip);
    SET("tta_zoom", "%d", o->tta_zoom);
    SET("ema", "%.9g", o->ema);
    SET("seed", "%llu", (unsigned long long)o->seed);
    SET("train_limit", "%d", o->train_limit);
    SET("train_on", "%s", o->train_on_val ? "train+val" : "train");
    SET("ranks", "%d", ranks(o));
    SET("sync_bn", "%d", o->sync_bn);
#undef SET
    return n;
}

agecl_status agecl__state_save_best(agecl_model *m, const char *path, const agecl_train_options *o)
{
    const char *meta[2 * SETTINGS + 1];
    char settings[SETTINGS][64];
    meta[settings_meta(o, meta, settings)] = NULL;
    return agecl_model_save(m, path, 0, meta);
}

agecl_status agecl__state_save(agecl_model *m, const char *path, const agecl_train_options *o,
                               const agecl__train_state *st)
{
    size_t hlen = (size_t)(st->epochs_done + 1) * 600;
    char *history = malloc(hlen);
    if (!history) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "checkpoint history");
    history[0] = '\0';
    for (int i = 0; i < st->epochs_done; i++) {
        size_t used = strlen(history);
        agecl__record_json(&st->history[i], history + used, hlen - used - 1);
        used = strlen(history);
        if (used + 1 < hlen) history[used] = '\n', history[used + 1] = '\0';
    }
    char num[5][64];
    snprintf(num[0], 64, "%d", st->epochs_done);
    snprintf(num[1], 64, "%lld", st->step);
    snprintf(num[2], 64, "%d", st->best_epoch);
    /* "none": a run without validation (train_on_val) */
    if (isnan(st->best_mae)) snprintf(num[3], 64, "none");
    else snprintf(num[3], 64, "%.17g", st->best_mae);
    snprintf(num[4], 64, "%d", o->batch * ranks(o));
    const char *kv[] = {"epoch",        num[0], "step",  num[1], "best_epoch", num[2],
                        "best_val_mae", num[3], "batch", num[4], "data",       o->data,
                        "history",      history};
    enum { STATE = (int)(sizeof kv / sizeof kv[0]) };
    const char *meta[STATE + 2 * SETTINGS + 1];
    char settings[SETTINGS][64];
    memcpy(meta, kv, sizeof kv);
    meta[STATE + settings_meta(o, meta + STATE, settings)] = NULL;
    agecl_status s = agecl_model_save(m, path, 1, meta);
    free(history);
    return s;
}

/* The trainer state's number key, in [lo, hi]. */
static agecl_status meta_int(const agecl_st_file *f, const char *path, const char *key,
                             long long lo, long long hi, long long *v)
{
    const char *s = agecl_st_meta(f, key);
    char what[1200];
    snprintf(what, sizeof what, "%s: metadata '%s'", path, key);
    if (!s) return agecl__fail(AGECL_E_FORMAT, "%s: no '%s' in the trainer state: not a "
                               "last.safetensors of agecl train", path, key);
    return agecl__parse_int(AGECL_E_FORMAT, what, s, lo, hi, v);
}

agecl_status agecl__state_load(agecl_model *m, const char *path, const agecl_train_options *o,
                               agecl__train_state *st)
{
    agecl_st_file *f;
    AGECL_TRY(agecl_st_open(path, &f));
    long long epoch = 0, step = 0, best_epoch = 0, batch = 0;
    double best = 0;
    agecl_status s = meta_int(f, path, "batch", 1, INT_MAX, &batch);
    if (s == AGECL_OK && batch != (long long)o->batch * ranks(o))
        s = ranks(o) == 1 ? agecl__fail(AGECL_E_INVALID_ARG, "%s was trained with batch %lld, "
                                        "not %d", path, batch, o->batch)
                          : agecl__fail(AGECL_E_INVALID_ARG, "%s was trained with batch %lld a "
                                        "step, not %d ranks x %d", path, batch, ranks(o),
                                        o->batch);
    /* a run resumes on the samples it started on (no key: before train_on, "train") */
    const char *on = agecl_st_meta(f, "train_on"), *want = o->train_on_val ? "train+val" : "train";
    if (s == AGECL_OK && strcmp(on ? on : "train", want))
        s = agecl__fail(AGECL_E_INVALID_ARG, "%s was trained on %s, not %s (--train-on): "
                        "resume it with its own, or train into another folder", path,
                        on ? on : "train", want);
    if (s == AGECL_OK) s = meta_int(f, path, "epoch", 0, INT_MAX, &epoch);
    if (s == AGECL_OK && epoch > o->epochs)
        s = agecl__fail(AGECL_E_INVALID_ARG, "%s has %lld epochs done, more than --epochs %d",
                        path, epoch, o->epochs);
    if (s == AGECL_OK) /* Adam counts steps in an int */
        s = meta_int(f, path, "step", 0, INT_MAX - 1, &step);
    if (s == AGECL_OK) s = meta_int(f, path, "best_epoch", 0, epoch, &best_epoch);
    if (s == AGECL_OK) {
        const char *v = agecl_st_meta(f, "best_val_mae");
        char what[1200];
        snprintf(what, sizeof what, "%s: metadata 'best_val_mae'", path);
        if (v && o->train_on_val && !strcmp(v, "none")) best = NAN;
        else s = v ? agecl__parse_double(AGECL_E_FORMAT, what, v, 0, INFINITY, &best)
                   : agecl__fail(AGECL_E_FORMAT, "%s: no 'best_val_mae' in the trainer state",
                                 path);
    }
    const char *h = s == AGECL_OK ? agecl_st_meta(f, "history") : NULL;
    for (int i = 0; h && *h && i < (int)epoch; i++) {
        agecl__record_parse(h, &st->history[i]);
        h = strchr(h, '\n');
        if (h) h++;
    }
    agecl_st_close(f);
    AGECL_TRY(s);
    AGECL_TRY(agecl_model_load(m, path, 1));
    st->epochs_done = (int)epoch;
    st->step = step;
    st->best_epoch = (int)best_epoch;
    st->best_mae = best;
    return AGECL_OK;
}
