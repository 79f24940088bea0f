/* agecl_train: MODEL.md section 5 end to end (see agecl/train.h). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "agecl/safetensors.h"
#include "agecl/train.h"
#include "error.h"
#include "io/atomic_file.h"
#include "io/number.h"
#include "train/history.h"

void agecl_train_defaults(agecl_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->preset = "ir50";
    o->epochs = 30;
    o->batch = 64;
    agecl_train_recipe("paper", o); /* MODEL.md's settings, in one place */
    o->seed = 123;
    o->threads = 2;
    o->gender = -1;
    o->rapl = 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Everything a run holds; released by trainer_free. */
typedef struct trainer {
    const agecl_train_options *opt;
    agecl_dataset *ds;
    agecl_split split;
    int n[AGECL_SPLIT_PARTS];        /* samples used of each part (after --limit) */
    agecl_ctx *ctx;
    agecl_model *model;
    agecl_loader *loader;
    agecl_image_cache *cache;
    agecl_augment_policy policy;
    int steps_per_epoch;
    agecl_tensor feat_store, err_store, pos_store; /* one row per training sample seen */
    float *pos_host;
    agecl__epoch_record *history;
    int epochs_done, best_epoch;
    double best_mae;
    long long step;
    char last_path[1100], best_path[1100];
} trainer;

static void say(const trainer *t, const char *fmt, ...) AGECL_PRINTF(2, 3);
static void say(const trainer *t, const char *fmt, ...)
{
    if (!t->opt->progress) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->opt->progress, fmt, ap);
    va_end(ap);
    fflush(t->opt->progress);
}

agecl_status agecl_train_recipe(const char *name, agecl_train_options *o)
{
    if (!name || !o) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_train_recipe: NULL argument");
    if (!strcmp(name, "paper")) {
        o->recipe = "paper";
        o->lr = 1e-3;
        o->weight_decay = 1e-2;
        o->decoupled = 0, o->decay_all = 1;
        o->schedule = AGECL_SCHEDULE_STEP, o->warmup = 0;
        o->lr_drops[0] = 10, o->lr_drops[1] = 20, o->n_lr_drops = 2;
        o->augment = "paper";
        o->loss = agecl_loss_defaults();
        o->tta_flip = 0;
        o->ema = 0;
        return AGECL_OK;
    }
    if (!strcmp(name, "scratch")) {
        o->recipe = "scratch";
        o->lr = 2e-3;
        o->weight_decay = 5e-2;
        o->decoupled = 1, o->decay_all = 0;
        o->schedule = AGECL_SCHEDULE_COSINE, o->warmup = 1;
        o->n_lr_drops = 0;
        o->augment = "light";
        o->loss = agecl_loss_defaults();
        o->loss.dist_weight = 1.0f, o->loss.dist_sigma = 2.0f;
        o->loss.gender_weight = 8.0f; /* else the age terms starve gender (docs/recipes.md) */
        o->tta_flip = 1;
        o->ema = 0;
        return AGECL_OK;
    }
    return agecl__fail(AGECL_E_INVALID_ARG, "no recipe '%s' (recipes: scratch, paper)", name);
}

double agecl_train_lr(const agecl_train_options *o, int epoch, int step, int steps_per_epoch)
{
    /* u counts steps from 0 over the run; the warm-up's last step reaches the rate
     * (its first is not 0, which would waste a step), then the cosine falls from it
     * to 0 at the end of the run, as transformers' get_cosine_schedule_with_warmup. */
    double u = (double)(epoch - 1) * steps_per_epoch + step;
    double U = (double)o->epochs * steps_per_epoch;
    double W = floor(o->warmup * steps_per_epoch + 0.5);
    if (u < W) return o->lr * (u + 1) / W;
    if (o->schedule == AGECL_SCHEDULE_COSINE)
        return U > W ? o->lr * 0.5 * (1 + cos(M_PI * (u - W) / (U - W))) : o->lr;
    double lr = o->lr;
    for (int i = 0; i < o->n_lr_drops; i++)
        if (epoch > o->lr_drops[i]) lr *= 0.1;
    return lr;
}

double agecl_train_ema_decay(double decay, long long step)
{
    double warm = (1.0 + (double)step) / (10.0 + (double)step);
    return decay < warm ? decay : warm;
}

static agecl_status open_data(trainer *t)
{
    const agecl_train_options *o = t->opt;
    AGECL_TRY(agecl_dataset_open(&t->ds, o->data, o->strict ? AGECL_DATA_STRICT : 0));
    AGECL_TRY(agecl_split_hash(&t->split, t->ds));
    for (int p = 0; p < AGECL_SPLIT_PARTS; p++) {
        t->n[p] = t->split.count[p];
        if (o->limit <= 0 || t->n[p] <= o->limit) continue;
        /* An even stride through the part, not its first names (sorted by age here). */
        int *idx = t->split.index[p];
        for (int k = 0; k < o->limit; k++) idx[k] = idx[(long long)k * t->n[p] / o->limit];
        t->n[p] = t->split.count[p] = o->limit; /* the split now describes what is used */
    }
    if (o->progress) {
        agecl_dataset_report(t->ds, o->progress);
        agecl_split_report(&t->split, t->ds, o->progress);
    }
    t->steps_per_epoch = t->n[AGECL_SPLIT_TRAIN] / o->batch;
    if (o->max_steps > 0 && t->steps_per_epoch > o->max_steps) t->steps_per_epoch = o->max_steps;
    if (t->steps_per_epoch < 1)
        return agecl__fail(AGECL_E_DATA, "%s: the training split has %d samples, fewer than one "
                           "batch of %d", o->data, t->n[AGECL_SPLIT_TRAIN], o->batch);
    if (t->n[AGECL_SPLIT_VAL] < 1)
        return agecl__fail(AGECL_E_DATA, "%s: the validation split is empty", o->data);
    return AGECL_OK;
}

static agecl_status make_model(trainer *t)
{
    const agecl_train_options *o = t->opt;
    agecl_model_config cfg;
    AGECL_TRY(agecl_model_preset(o->preset, &cfg));
    const int *ages;
    int n = agecl_dataset_age_labels(t->ds, &ages);
    AGECL_TRY(agecl_model_config_set_ages(&cfg, ages, n));
    cfg.gender = o->gender < 0 ? agecl_dataset_has_gender(t->ds) : o->gender;
    cfg.rapl = o->rapl;
    AGECL_TRY(agecl_ctx_create(&t->ctx, o->device, 0));
    say(t, "device: %s\nmodel: %s, %d age labels (%g..%g), input %d, batch %d\n",
        agecl_ctx_device(t->ctx)->name, cfg.preset, cfg.n_ages, cfg.ages[0],
        cfg.ages[cfg.n_ages - 1], cfg.input_size, o->batch);
    /* The first run on a device measures the convolution algorithms of each layer
     * shape (agecl/conv.h, AUTO), which takes a while on a CPU; later runs read the
     * choices from the cache. */
    say(t, "model: creating the plans (the first run on a device measures the convolution "
           "algorithms, then remembers them in %s)\n",
        agecl_ctx_cache_dir(t->ctx)[0] ? agecl_ctx_cache_dir(t->ctx) : "this process only");
    double t0 = now();
    AGECL_TRY(agecl_model_create(t->ctx, &cfg, o->batch, AGECL_MODEL_TRAIN, &t->model));
    AGECL_TRY(agecl_model_set_loss(t->model, &o->loss));
    say(t, "model: ready in %.1f s\n", now() - t0);
    say(t, "parameters: %zu (%.2f GFLOP forward per image)\n", agecl_model_param_count(t->model),
        2e-9 * agecl_model_config_macs(&cfg));

    size_t rows = (size_t)t->steps_per_epoch * o->batch;
    int C = cfg.channels[cfg.stages - 1];
    AGECL_TRY(agecl_tensor_alloc(t->ctx, &t->feat_store, (int)rows, C, 1, 1));
    AGECL_TRY(agecl_tensor_alloc(t->ctx, &t->err_store, (int)rows, 1, 1, 1));
    AGECL_TRY(agecl_tensor_alloc(t->ctx, &t->pos_store, (int)rows, 1, 1, 1));
    t->pos_host = malloc(rows * sizeof *t->pos_host);
    t->history = calloc((size_t)o->epochs + 1, sizeof *t->history);
    if (!t->pos_host || !t->history)
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "trainer buffers");
    return AGECL_OK;
}

static agecl_status make_loader(trainer *t)
{
    const agecl_train_options *o = t->opt;
    const agecl_model_config *cfg = agecl_model_config_of(t->model);
    AGECL_TRY(agecl_augment_policy_named(o->augment, &t->policy));
    if (o->cache) {
        int built = 0;
        AGECL_TRY(agecl_image_cache_open(&t->cache, t->ds, o->cache, cfg->input_size, o->threads,
                                         &built));
        say(t, "image cache %s: %s\n", o->cache, built ? "built" : "reused");
    }
    agecl_loader_options lo;
    agecl_loader_defaults(&lo);
    lo.batch_size = o->batch;
    lo.image_size = cfg->input_size;
    lo.shuffle = 1;
    lo.augment = 1;
    lo.drop_last = 1;
    lo.threads = o->threads;
    lo.seed = o->seed;
    lo.policy = &t->policy;
    lo.cache = t->cache;
    return agecl_loader_create(&t->loader, t->ds, t->split.index[AGECL_SPLIT_TRAIN],
                               t->n[AGECL_SPLIT_TRAIN], &lo);
}

/* The settings in force, as checkpoint metadata: key/value pairs into kv (up to
 * 2 * SETTINGS strings), the values kept in store. Returns the strings written. */
enum { SETTINGS = 18 };
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
    SET("ema", "%.9g", o->ema);
    SET("seed", "%llu", (unsigned long long)o->seed);
#undef SET
    return n;
}

/* The trainer's state and settings as checkpoint metadata (strings kept in
 * `store`, `settings`). */
static void state_meta(const trainer *t, const char **meta, char store[8][64],
                       char settings[SETTINGS][64], char *history, size_t hlen)
{
    snprintf(store[0], 64, "%d", t->epochs_done);
    snprintf(store[1], 64, "%lld", t->step);
    snprintf(store[2], 64, "%d", t->best_epoch);
    snprintf(store[3], 64, "%.17g", t->best_mae);
    snprintf(store[5], 64, "%d", t->opt->batch);
    history[0] = '\0';
    for (int i = 0; i < t->epochs_done; i++) {
        size_t used = strlen(history);
        agecl__record_json(&t->history[i], history + used, hlen - used - 1);
        used = strlen(history);
        if (used + 1 < hlen) history[used] = '\n', history[used + 1] = '\0';
    }
    const char *kv[] = {"epoch", store[0], "step", store[1], "best_epoch", store[2],
                        "best_val_mae", store[3], "batch", store[5],
                        "data", t->opt->data, "history", history};
    int n = (int)(sizeof kv / sizeof kv[0]);
    memcpy(meta, kv, sizeof kv);
    n += settings_meta(t->opt, meta + n, settings);
    meta[n] = NULL;
}

static agecl_status save_last(trainer *t)
{
    const char *meta[16 + 2 * SETTINGS];
    char store[8][64], settings[SETTINGS][64];
    size_t hlen = (size_t)(t->epochs_done + 1) * 600;
    char *history = malloc(hlen);
    if (!history) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "checkpoint history");
    state_meta(t, meta, store, settings, history, hlen);
    agecl_status s = agecl_model_save(t->model, t->last_path, 1, meta);
    free(history);
    return s;
}

/* The trainer state's number key, in [lo, hi] (a damaged or hostile checkpoint
 * must not size or index anything). */
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

static agecl_status resume(trainer *t)
{
    agecl_st_file *f;
    AGECL_TRY(agecl_st_open(t->last_path, &f));
    const char *path = t->last_path;
    long long epoch = 0, step = 0, best_epoch = 0, batch = 0;
    double best = 0;
    agecl_status s = meta_int(f, path, "batch", 1, INT_MAX, &batch);
    if (s == AGECL_OK && batch != t->opt->batch)
        s = agecl__fail(AGECL_E_INVALID_ARG, "%s was trained with batch %lld, not %d", path,
                        batch, t->opt->batch);
    if (s == AGECL_OK) s = meta_int(f, path, "epoch", 0, INT_MAX, &epoch);
    if (s == AGECL_OK && epoch > t->opt->epochs)
        s = agecl__fail(AGECL_E_INVALID_ARG, "%s has %lld epochs done, more than --epochs %d",
                        path, epoch, t->opt->epochs);
    if (s == AGECL_OK) /* Adam counts steps in an int */
        s = meta_int(f, path, "step", 0, INT_MAX - 1, &step);
    if (s == AGECL_OK) s = meta_int(f, path, "best_epoch", 0, epoch, &best_epoch);
    if (s == AGECL_OK) {
        const char *v = agecl_st_meta(f, "best_val_mae");
        char what[1200];
        snprintf(what, sizeof what, "%s: metadata 'best_val_mae'", path);
        s = v ? agecl__parse_double(AGECL_E_FORMAT, what, v, 0, INFINITY, &best)
              : agecl__fail(AGECL_E_FORMAT, "%s: no 'best_val_mae' in the trainer state", path);
    }
    const char *h = s == AGECL_OK ? agecl_st_meta(f, "history") : NULL;
    for (int i = 0; h && *h && i < (int)epoch; i++) {
        agecl__record_parse(h, &t->history[i]);
        h = strchr(h, '\n');
        if (h) h++;
    }
    agecl_st_close(f);
    AGECL_TRY(s);
    AGECL_TRY(agecl_model_load(t->model, t->last_path, 1));
    t->epochs_done = (int)epoch;
    t->step = step;
    t->best_epoch = (int)best_epoch;
    t->best_mae = best;
    say(t, "resumed from %s after epoch %d (step %lld, best validation MAE %.3f at epoch %d)\n",
        t->last_path, t->epochs_done, t->step, t->best_mae, t->best_epoch);
    return AGECL_OK;
}

/* On a terminal the line is redrawn in place; in a log file, one line each time. */
static void progress_line(const trainer *t, int epoch, int step, double loss, double img_s,
                          double eta)
{
    int tty = t->opt->progress && isatty(fileno(t->opt->progress));
    say(t, "%sepoch %d/%d  step %d/%d  loss %.3f  %.1f img/s  ETA %dm%02ds%s", tty ? "\r" : "",
        epoch, t->opt->epochs, step, t->steps_per_epoch, loss, img_s, (int)eta / 60,
        (int)eta % 60, tty ? "   " : "\n");
}

static agecl_status train_epoch(trainer *t, int epoch, agecl__epoch_record *rec)
{
    const agecl_train_options *o = t->opt;
    agecl_model *m = t->model;
    int B = o->batch, C = agecl_model_features(m)->c;
    int use_pos = epoch > 1 && agecl_model_has_references(m);
    double lr = agecl_train_lr(o, epoch, 0, t->steps_per_epoch), t0 = now(), last_say = 0;
    agecl_adam_config adam = agecl_adam_defaults(lr, o->weight_decay);
    adam.decoupled = o->decoupled;
    double sum[5] = {0};
    int steps = 0;
    AGECL_TRY(agecl_loader_start_epoch(t->loader, epoch));
    while (steps < t->steps_per_epoch) {
        agecl_batch *b = NULL;
        AGECL_TRY(agecl_loader_next(t->loader, &b));
        if (!b) break;
        memcpy(t->pos_host + (size_t)steps * B, b->target_pos, (size_t)B * sizeof(float));
        agecl_labels labels = {b->target_age, b->target_gender, b->target_pos};
        agecl_losses losses = {0};
        agecl_status s = agecl_model_forward(m, b->images, 1);
        if (s == AGECL_OK) s = agecl_model_loss(m, &labels, use_pos, &losses);
        agecl_loader_release(t->loader, b);
        if (s == AGECL_OK) s = agecl_model_backward(m);
        adam.lr = agecl_train_lr(o, epoch, steps, t->steps_per_epoch);
        if (s == AGECL_OK) s = agecl_model_optimizer_step(m, &adam, o->decay_all, (int)++t->step);
        if (s == AGECL_OK && o->ema > 0)
            s = agecl_model_ema_update(m, agecl_train_ema_decay(o->ema, t->step));
        /* Keep this batch's features and errors for reference selection. */
        agecl_tensor rows, errs;
        if (s == AGECL_OK) s = agecl_tensor_view(&t->feat_store, (size_t)steps * B * C, B, C, 1, 1, &rows);
        if (s == AGECL_OK) s = agecl_tensor_copy(t->ctx, agecl_model_features(m), &rows);
        if (s == AGECL_OK) s = agecl_tensor_view(&t->err_store, (size_t)steps * B, B, 1, 1, 1, &errs);
        if (s == AGECL_OK) s = agecl_tensor_copy(t->ctx, agecl_model_abs_errors(m), &errs);
        AGECL_TRY(s);
        if (!isfinite(losses.total))
            return agecl__fail(AGECL_E_DATA, "epoch %d step %d: the loss is %g: training "
                               "diverged (lower --lr?)", epoch, steps + 1, losses.total);
        sum[0] += losses.total, sum[1] += losses.age, sum[2] += losses.gender, sum[3] += losses.pos;
        sum[4] += losses.dist;
        steps++;
        double el = now() - t0;
        double every = t->opt->progress && isatty(fileno(t->opt->progress)) ? 2.0 : 30.0;
        if (el - last_say > every || steps == t->steps_per_epoch) {
            double rate = steps * B / el;
            progress_line(t, epoch, steps, sum[0] / steps, rate,
                          (t->steps_per_epoch - steps) * B / rate);
            last_say = el;
        }
    }
    if (t->opt->progress && isatty(fileno(t->opt->progress))) say(t, "\n");
    rec->epoch = epoch;
    rec->lr = lr;
    rec->loss = sum[0] / steps, rec->loss_age = sum[1] / steps;
    rec->loss_gender = agecl_model_config_of(m)->gender ? sum[2] / steps : NAN;
    rec->loss_pos = use_pos ? sum[3] / steps : NAN;
    rec->loss_dist = o->loss.dist_weight > 0 ? sum[4] / steps : NAN;
    rec->seconds = now() - t0;
    rec->images_per_s = steps * B / rec->seconds;
    return steps == t->steps_per_epoch
               ? AGECL_OK
               : agecl__fail(AGECL_E_DATA, "epoch %d ended after %d of %d batches (bad images "
                             "skipped?)", epoch, steps, t->steps_per_epoch);
}

/* The training loader's bad images met since it had counted `before`, once each. */
static void report_issues(trainer *t, int before)
{
    int kept = agecl_loader_issue_count(t->loader);
    for (int i = before; i < kept; i++) say(t, "skipped %s\n", agecl_loader_issue(t->loader, i));
}

/* With AGECL_PROFILE=1: where the device time of the epoch went, largest first. */
static void report_profile(trainer *t)
{
    const agecl_profile_entry *e;
    int n = 0;
    if (!t->opt->progress || agecl_ctx_profile(t->ctx, &e, &n) != AGECL_OK || !n) return;
    double total = 0;
    for (int i = 0; i < n; i++) total += e[i].ms;
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort by time, descending */
        for (int j = i; j > 0 && e[order[j]].ms > e[order[j - 1]].ms; j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    say(t, "device time by kernel (%.1f s in all):\n", total / 1000);
    for (int i = 0; i < n; i++)
        say(t, "  %-34s %7d calls %10.1f ms %5.1f%%\n", e[order[i]].name, e[order[i]].calls,
            e[order[i]].ms, 100 * e[order[i]].ms / total);
    free(order);
    agecl_ctx_profile_reset(t->ctx);
}

static unsigned eval_flags(const agecl_train_options *o) { return o->tta_flip ? AGECL_EVAL_FLIP : 0; }

static agecl_status select_references(trainer *t, int epoch)
{
    int filled = 0;
    AGECL_TRY(agecl_tensor_write(t->ctx, &t->pos_store, t->pos_host));
    AGECL_TRY(agecl_model_select_references(t->model, &t->err_store, &t->pos_store,
                                            &t->feat_store, (uint32_t)(t->opt->seed * 1000 + epoch),
                                            &filled));
    if (filled) say(t, "references: %d ages had no training sample; they take the nearest "
                    "age's row\n", filled);
    return AGECL_OK;
}

static agecl_status run_epochs(trainer *t, agecl_train_result *res)
{
    const agecl_train_options *o = t->opt;
    const int first = t->epochs_done + 1;
    for (int epoch = first; epoch <= o->epochs; epoch++) {
        agecl__epoch_record *rec = &t->history[epoch - 1];
        int skipped = agecl_loader_skipped(t->loader);
        AGECL_TRY(train_epoch(t, epoch, rec));
        report_issues(t, skipped);
        rec->skipped = agecl_loader_skipped(t->loader) - skipped;
        report_profile(t);
        agecl_eval_result val;
        /* With a moving average, it is what is validated and kept (rapl.R, which
         * reference selection writes, is shared by both). */
        if (o->ema > 0) AGECL_TRY(agecl_model_ema_swap(t->model));
        /* the same images every epoch: their issues are said once per run */
        AGECL_TRY(agecl_evaluate(t->model, t->ds, t->split.index[AGECL_SPLIT_VAL],
                                 t->n[AGECL_SPLIT_VAL], o->threads, eval_flags(o),
                                 epoch == first ? o->progress : NULL, &val));
        rec->val_mae = val.mae, rec->val_cs5 = val.cs5, rec->val_gender_acc = val.gender_acc;
        rec->val_skipped = val.skipped;
        int best = t->best_epoch == 0 || val.mae < t->best_mae;
        say(t, "epoch %d: train loss %.3f (age %.3f)  validation MAE %.3f  CS5 %.1f%%  gender "
            "%.1f%%  %.1f img/s%s\n", epoch, rec->loss, rec->loss_age, val.mae, val.cs5,
            val.gender_acc, rec->images_per_s, best ? "  (best)" : "");
        if (rec->skipped || val.skipped)
            say(t, "epoch %d: bad images skipped: %d in training, %d in validation\n", epoch,
                (int)rec->skipped, val.skipped);
        if (best) {
            t->best_epoch = epoch;
            t->best_mae = val.mae;
            if (agecl_model_config_of(t->model)->rapl) AGECL_TRY(select_references(t, epoch));
            const char *meta[2 * SETTINGS + 1];
            char settings[SETTINGS][64];
            meta[settings_meta(o, meta, settings)] = NULL;
            AGECL_TRY(agecl_model_save(t->model, t->best_path, 0, meta));
        }
        if (o->ema > 0) AGECL_TRY(agecl_model_ema_swap(t->model));
        t->epochs_done = epoch;
        AGECL_TRY(save_last(t));
        AGECL_TRY(agecl__history_write(o->out_dir, t->history, t->epochs_done));
        res->epochs_done = epoch;
        if (o->stop_after > 0 && epoch >= o->stop_after) return AGECL_OK;
    }
    return AGECL_OK;
}

static void trainer_free(trainer *t)
{
    agecl_loader_free(t->loader);
    agecl_image_cache_close(t->cache);
    agecl_model_destroy(t->model);
    agecl_tensor_free(&t->feat_store);
    agecl_tensor_free(&t->err_store);
    agecl_tensor_free(&t->pos_store);
    agecl_ctx_destroy(t->ctx);
    agecl_split_free(&t->split);
    agecl_dataset_free(t->ds);
    free(t->pos_host);
    free(t->history);
}

/* The output folder, made if missing and proven writable before any training: a
 * temporary file made and removed there as every checkpoint is written
 * (io/atomic_file.h). Temporary files that a killed run left are removed. */
static agecl_status check_out_dir(const char *dir)
{
    char probe[1100];
    if (strlen(dir) + sizeof "/best.safetensors.tmp.XXXXXX" > sizeof probe)
        return agecl__fail(AGECL_E_INVALID_ARG, "the output folder's name is longer than %zu "
                           "characters: %.60s...", sizeof probe - sizeof "/best.safetensors.tmp.XXXXXX",
                           dir);
    struct stat st;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return agecl__fail(AGECL_E_IO, "%s: cannot create the output folder: %s", dir,
                           strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return agecl__fail(AGECL_E_IO, "%s: the output folder is not a folder", dir);
    static const char *const ours[] = {"last.safetensors", "best.safetensors", "log.jsonl",
                                       "curves.svg"};
    for (int i = 0; i < 4; i++) agecl__atomic_sweep(dir, ours[i], 0);
    snprintf(probe, sizeof probe, "%s/last.safetensors", dir);
    agecl__atomic_file f;
    agecl_status s = agecl__atomic_begin(&f, probe);
    if (s != AGECL_OK)
        return agecl__fail(AGECL_E_IO, "%s: cannot write into the output folder (%s)", dir,
                           agecl_last_error());
    agecl__atomic_abort(&f);
    return AGECL_OK;
}

static agecl_status check_options(const agecl_train_options *o)
{
    if (!o->data || !o->out_dir)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_train: data and out_dir are required");
    if (o->epochs < 1 || o->batch < 2 || !(o->lr > 0) || o->weight_decay < 0 || o->threads < 0)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_train: epochs %d, batch %d (>= 2: "
                           "BatchNorm), lr %g, weight decay %g, threads %d", o->epochs, o->batch,
                           o->lr, o->weight_decay, o->threads);
    if (!(o->ema >= 0 && o->ema < 1))
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_train: moving average decay %g outside "
                           "[0, 1)", o->ema);
    return check_out_dir(o->out_dir);
}

agecl_status agecl_train(const agecl_train_options *opt, agecl_train_result *result)
{
    if (!opt || !result) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_train: NULL argument");
    memset(result, 0, sizeof *result);
    AGECL_TRY(check_options(opt));
    trainer t;
    memset(&t, 0, sizeof t);
    t.opt = opt;
    snprintf(t.last_path, sizeof t.last_path, "%s/last.safetensors", opt->out_dir);
    snprintf(t.best_path, sizeof t.best_path, "%s/best.safetensors", opt->out_dir);
    agecl_status s = open_data(&t);
    if (s == AGECL_OK) s = make_model(&t);
    if (s == AGECL_OK) s = agecl_model_init(t.model, opt->seed);
    if (s == AGECL_OK && opt->init) {
        s = agecl_model_load(t.model, opt->init, 0);
        if (s == AGECL_OK) say(&t, "initial weights from %s\n", opt->init);
    }
    if (s == AGECL_OK && opt->resume) {
        struct stat st;
        if (stat(t.last_path, &st) == 0) s = resume(&t);
        else say(&t, "nothing to resume in %s: starting afresh\n", opt->out_dir);
    }
    if (s == AGECL_OK) s = make_loader(&t);
    if (s == AGECL_OK) s = run_epochs(&t, result);
    result->epochs_done = t.epochs_done;
    result->best_epoch = t.best_epoch;
    result->best_val_mae = t.best_mae;
    result->steps = t.step;
    if (s == AGECL_OK && t.epochs_done == opt->epochs && !opt->skip_test) {
        s = agecl_model_load(t.model, t.best_path, 0);
        if (s == AGECL_OK) s = agecl_evaluate(t.model, t.ds, t.split.index[AGECL_SPLIT_TEST],
                                              t.n[AGECL_SPLIT_TEST], opt->threads, eval_flags(opt),
                                              opt->progress, &result->test);
        if (s == AGECL_OK)
            say(&t, "test (best epoch %d): MAE %.3f  CS5 %.1f%%  gender %.1f%%  (%d images)\n",
                t.best_epoch, result->test.mae, result->test.cs5, result->test.gender_acc,
                result->test.n);
    }
    trainer_free(&t);
    return s;
}
