/* agecl_train: MODEL.md section 5 end to end (see agecl/train.h): the data, the
 * model, the epochs and the test. The recipes and schedule are in recipe.c, the
 * checkpoints' state in state.c, Algorithm 1's store in references.c, what the
 * run says in report.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "agecl/train.h"
#include "error.h"
#include "io/atomic_file.h"
#include "train/history.h"
#include "train/parallel.h"
#include "train/references.h"
#include "train/report.h"
#include "train/state.h"

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
    agecl__ref_store refs;           /* Algorithm 1's store */
    agecl__train_state state;        /* what last.safetensors keeps */
    char last_path[1100], best_path[1100];
    int rank, ranks;                 /* this process's rank of how many (agecl/comm.h) */
    int *val_share, n_val_share;     /* the validation samples this rank evaluates */
} trainer;

/* Keep at most limit (> 0) samples of part p: an even stride through it, not its
 * first names (sorted by age here). */
static void thin(trainer *t, int p, int limit)
{
    if (limit <= 0 || t->n[p] <= limit) return;
    int *idx = t->split.index[p];
    for (int k = 0; k < limit; k++) idx[k] = idx[(long long)k * t->n[p] / limit];
    t->n[p] = t->split.count[p] = limit; /* the split now describes what is used */
}

/* The final fit of a recipe chosen on validation: the validation samples join
 * the training split, which the loader then shuffles as one. */
static agecl_status merge_validation(trainer *t)
{
    int nt = t->n[AGECL_SPLIT_TRAIN], nv = t->n[AGECL_SPLIT_VAL];
    int *idx = realloc(t->split.index[AGECL_SPLIT_TRAIN], ((size_t)nt + nv + 1) * sizeof *idx);
    if (!idx) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "split: %d samples", nt + nv);
    memcpy(idx + nt, t->split.index[AGECL_SPLIT_VAL], (size_t)nv * sizeof *idx);
    t->split.index[AGECL_SPLIT_TRAIN] = idx;
    t->n[AGECL_SPLIT_TRAIN] = t->split.count[AGECL_SPLIT_TRAIN] = nt + nv;
    t->n[AGECL_SPLIT_VAL] = t->split.count[AGECL_SPLIT_VAL] = 0;
    return AGECL_OK;
}

static agecl_status open_data(trainer *t)
{
    const agecl_train_options *o = t->opt;
    AGECL_TRY(agecl_dataset_open(&t->ds, o->data, o->strict ? AGECL_DATA_STRICT : 0));
    AGECL_TRY(agecl_split_hash(&t->split, t->ds));
    for (int p = 0; p < AGECL_SPLIT_PARTS; p++) {
        t->n[p] = t->split.count[p];
        thin(t, p, o->limit);
    }
    thin(t, AGECL_SPLIT_TRAIN, o->train_limit);
    if (o->progress) {
        agecl_dataset_report(t->ds, o->progress);
        agecl_split_report(&t->split, t->ds, o->progress);
    }
    if (o->train_on_val) {
        AGECL_TRY(merge_validation(t));
        agecl__say(o->progress, "training on the training and validation splits: %d samples; "
                   "no validation, the last epoch's model is kept\n", t->n[AGECL_SPLIT_TRAIN]);
    }
    int global = o->batch * t->ranks; /* a step's samples over every rank */
    t->steps_per_epoch = t->n[AGECL_SPLIT_TRAIN] / global;
    if (o->max_steps > 0 && t->steps_per_epoch > o->max_steps) t->steps_per_epoch = o->max_steps;
    if (t->steps_per_epoch < 1)
        return agecl__fail(AGECL_E_DATA, "%s: the training split has %d samples, fewer than one "
                           "batch of %d", o->data, t->n[AGECL_SPLIT_TRAIN], global);
    if (o->train_on_val) return AGECL_OK; /* no validation to share among the ranks */
    if (t->n[AGECL_SPLIT_VAL] < 1)
        return agecl__fail(AGECL_E_DATA, "%s: the validation split is empty", o->data);
    return agecl__shard_indices(o->comm, t->split.index[AGECL_SPLIT_VAL], t->n[AGECL_SPLIT_VAL],
                                &t->val_share, &t->n_val_share);
}

static agecl_status make_model(trainer *t)
{
    const agecl_train_options *o = t->opt;
    agecl_model_config cfg;
    /* Without a preset, a run from --init takes the file's backbone. */
    if (!o->preset && o->init) AGECL_TRY(agecl_model_backbone_read(o->init, &cfg));
    else AGECL_TRY(agecl_model_preset(o->preset ? o->preset : "ir50", &cfg));
    const int *ages;
    int n = agecl_dataset_age_labels(t->ds, &ages);
    AGECL_TRY(agecl_model_config_set_ages(&cfg, ages, n));
    cfg.gender = o->gender < 0 ? agecl_dataset_has_gender(t->ds) : o->gender;
    cfg.rapl = o->rapl;
    AGECL_TRY(agecl_ctx_create(&t->ctx, o->device, 0));
    agecl__say(t->opt->progress,
               "device: %s\nmodel: %s, %d age labels (%g..%g), input %d, batch %d\n",
               agecl_ctx_device(t->ctx)->name, cfg.preset, cfg.n_ages, cfg.ages[0],
               cfg.ages[cfg.n_ages - 1], cfg.input_size, o->batch);
    /* The first run on a device measures the convolution algorithms of each layer
     * shape (agecl/conv.h, AUTO), which takes a while on a CPU; later runs read the
     * choices from the cache. */
    agecl__say(t->opt->progress,
               "model: creating the plans (the first run on a device measures the convolution "
               "algorithms, then remembers them in %s)\n",
               agecl_ctx_cache_dir(t->ctx)[0] ? agecl_ctx_cache_dir(t->ctx) : "this process only");
    double t0 = now();
    /* On several ranks, rank 0 measures first and the others then read its choices
     * from the cache (those on its host): ranks measuring at once would slow each
     * other's timings and could choose apart, and a run would not repeat. */
    agecl_status made = t->rank ? AGECL_OK
                                : agecl_model_create(t->ctx, &cfg, o->batch, AGECL_MODEL_TRAIN,
                                                     &t->model);
    AGECL_TRY(agecl__rank0_outcome(o->comm, made, "create the model"));
    if (t->rank)
        AGECL_TRY(agecl_model_create(t->ctx, &cfg, o->batch, AGECL_MODEL_TRAIN, &t->model));
    AGECL_TRY(agecl_model_set_loss(t->model, &o->loss));
    double mb = o->bucket_mb;
    if (mb < 0) mb = agecl_ctx_device(t->ctx)->type & CL_DEVICE_TYPE_GPU ? 25 : 0;
    size_t bucket = (size_t)(mb * (1 << 20) / sizeof(float));
    AGECL_TRY(agecl_model_set_comm(t->model, o->comm, o->sync_bn, bucket));
    if (t->ranks > 1)
        agecl__say(t->opt->progress, "ranks: %d, batch %d each (%d a step), BatchNorm statistics "
                   "%s, gradients summed %s\n", t->ranks, o->batch, o->batch * t->ranks,
                   o->sync_bn ? "over every rank (sync-BN)" : "per rank",
                   bucket ? "during the backward" : "after the backward");
    agecl__say(t->opt->progress, "model: ready in %.1f s\n", now() - t0);
    agecl__say(t->opt->progress, "parameters: %zu (%.2f GFLOP forward per image)\n",
               agecl_model_param_count(t->model), 2e-9 * agecl_model_config_macs(&cfg));

    /* what every rank must share for their collectives to match */
    const char *names[] = {"the data set's sample count", "the training split's size",
                           "the validation split's size", "the steps of an epoch",
                           "the model's parameter count"};
    double same[] = {agecl_dataset_count(t->ds), t->n[AGECL_SPLIT_TRAIN],
                     t->n[AGECL_SPLIT_VAL], t->steps_per_epoch,
                     (double)agecl_model_param_count(t->model)};
    AGECL_TRY(agecl__check_same_as_rank0(o->comm, same, names, 5));
    AGECL_TRY(agecl__ref_store_create(&t->refs, t->ctx, t->steps_per_epoch, o->batch,
                                      cfg.channels[cfg.stages - 1], o->comm));
    t->state.history = calloc((size_t)o->epochs + 1, sizeof *t->state.history);
    return t->state.history ? AGECL_OK
                            : agecl__fail(AGECL_E_OUT_OF_MEMORY, "history of %d epochs",
                                          o->epochs);
}

static void head_names(char *buf, size_t len, unsigned heads)
{
    snprintf(buf, len, "%s%s%s%s", heads & AGECL_HEAD_AGE ? " age" : "",
             heads & AGECL_HEAD_GENDER ? " gender" : "", heads & AGECL_HEAD_POSITION ? " position" : "",
             heads ? "" : " none");
}

/* The weights of --init: its backbone, and its heads where they fit. */
static agecl_status load_init(trainer *t)
{
    unsigned heads;
    AGECL_TRY(agecl_model_load_weights(t->model, t->opt->init, &heads));
    const agecl_model_config *cfg = agecl_model_config_of(t->model);
    unsigned all = AGECL_HEAD_AGE | (cfg->gender ? AGECL_HEAD_GENDER : 0u) |
                   (cfg->rapl ? AGECL_HEAD_POSITION : 0u);
    char from[40], fresh[40];
    head_names(from, sizeof from, heads);
    head_names(fresh, sizeof fresh, all & ~heads);
    agecl__say(t->opt->progress, "initial weights from %s: the backbone; heads from the file:%s; "
               "new heads:%s\n", t->opt->init, from, fresh);
    return AGECL_OK;
}

static agecl_status make_loader(trainer *t)
{
    const agecl_train_options *o = t->opt;
    const agecl_model_config *cfg = agecl_model_config_of(t->model);
    AGECL_TRY(agecl_augment_policy_named(o->augment, &t->policy));
    if (o->cache) {
        int built = 0;
        /* rank 0 builds a missing cache; the others then open it (those it is shared with) */
        agecl_status s = t->rank ? AGECL_OK
                                 : agecl_image_cache_open(&t->cache, t->ds, o->cache,
                                                          cfg->input_size, o->threads, &built);
        AGECL_TRY(agecl__rank0_outcome(o->comm, s, "open the image cache"));
        if (t->rank)
            AGECL_TRY(agecl_image_cache_open(&t->cache, t->ds, o->cache, cfg->input_size,
                                             o->threads, &built));
        agecl__say(t->opt->progress, "image cache %s: %s\n", o->cache, built ? "built" : "reused");
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
    lo.shard = t->rank;
    lo.shards = t->ranks;
    return agecl_loader_create(&t->loader, t->ds, t->split.index[AGECL_SPLIT_TRAIN],
                               t->n[AGECL_SPLIT_TRAIN], &lo);
}

static agecl_status resume(trainer *t)
{
    AGECL_TRY(agecl__state_load(t->model, t->last_path, t->opt, &t->state));
    agecl__say(t->opt->progress, "resumed from %s after epoch %d (step %lld, best validation MAE "
               "%.3f at epoch %d)\n", t->last_path, t->state.epochs_done, t->state.step,
               t->state.best_mae, t->state.best_epoch);
    return AGECL_OK;
}

static agecl_status train_epoch(trainer *t, int epoch, agecl__epoch_record *rec)
{
    const agecl_train_options *o = t->opt;
    agecl_model *m = t->model;
    int B = o->batch;
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
        agecl__ref_store_positions(&t->refs, steps, b->target_pos);
        agecl_labels labels = {b->target_age, b->target_gender, b->target_pos};
        agecl_losses losses = {0};
        agecl_status s = agecl_model_forward(m, b->images, 1);
        if (s == AGECL_OK) s = agecl_model_loss(m, &labels, use_pos, &losses);
        agecl_loader_release(t->loader, b);
        if (s == AGECL_OK) s = agecl_model_backward(m);
        if (s == AGECL_OK) s = agecl_model_allreduce_gradients(m);
        adam.lr = agecl_train_lr(o, epoch, steps, t->steps_per_epoch);
        if (s == AGECL_OK)
            s = agecl_model_optimizer_step(m, &adam, o->decay_all, (int)++t->state.step);
        if (s == AGECL_OK && o->ema > 0)
            s = agecl_model_ema_update(m, agecl_train_ema_decay(o->ema, t->state.step));
        if (s == AGECL_OK) s = agecl__ref_store_keep(&t->refs, t->ctx, m, steps);
        AGECL_TRY(s);
        if (!isfinite(losses.total))
            return agecl__fail(AGECL_E_DATA, "epoch %d step %d: the loss is %g: training "
                               "diverged (lower --lr?)", epoch, steps + 1, losses.total);
        sum[0] += losses.total, sum[1] += losses.age, sum[2] += losses.gender, sum[3] += losses.pos;
        sum[4] += losses.dist;
        steps++;
        double el = now() - t0;
        if (el - last_say > agecl__say_every(o->progress) || steps == t->steps_per_epoch) {
            double rate = steps * B * t->ranks / el;
            agecl__say_step(o->progress, epoch, o->epochs, steps, t->steps_per_epoch,
                            sum[0] / steps, rate,
                            (t->steps_per_epoch - steps) * B * t->ranks / rate);
            last_say = el;
        }
    }
    agecl__say_step_done(o->progress);
    if (steps == t->steps_per_epoch) AGECL_TRY(agecl__mean_over_ranks(o->comm, sum, 5));
    B *= t->ranks; /* the images of a step, for the rate */
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

static unsigned eval_flags(const agecl_train_options *o) {
    return (o->tta_flip ? AGECL_EVAL_FLIP : 0u) | (o->tta_zoom ? AGECL_EVAL_ZOOM : 0u);
}

static agecl_status select_references(trainer *t, int epoch)
{
    int filled = 0;
    AGECL_TRY(agecl__ref_store_select(&t->refs, t->ctx, t->model,
                                      (uint32_t)(t->opt->seed * 1000 + epoch), &filled));
    if (filled)
        agecl__say(t->opt->progress, "references: %d ages had no training sample; they take "
                   "the nearest age's row\n", filled);
    return agecl__check_same_references(t->opt->comm, t->model);
}

static agecl_status run_epochs(trainer *t, agecl_train_result *res)
{
    const agecl_train_options *o = t->opt;
    agecl__train_state *st = &t->state;
    const int first = st->epochs_done + 1;
    for (int epoch = first; epoch <= o->epochs; epoch++) {
        agecl__epoch_record *rec = &st->history[epoch - 1];
        int skipped = agecl_loader_skipped(t->loader);
        AGECL_TRY(train_epoch(t, epoch, rec));
        agecl__say_issues(o->progress, t->loader, skipped);
        rec->skipped = agecl_loader_skipped(t->loader) - skipped;
        agecl__say_profile(o->progress, t->ctx);
        /* rank 0's running statistics (and average) on every rank: one model */
        AGECL_TRY(agecl_model_broadcast_state(t->model, 0));
        agecl_eval_result val = {.mae = NAN, .cs5 = NAN, .gender_acc = NAN};
        /* With a moving average, it is what is validated and kept (rapl.R, which
         * reference selection writes, is shared by both). */
        if (o->ema > 0) AGECL_TRY(agecl_model_ema_swap(t->model));
        /* the same images every epoch: their issues are said once per run */
        if (!o->train_on_val) {
            AGECL_TRY(agecl_evaluate(t->model, t->ds, t->val_share, t->n_val_share, o->threads,
                                     eval_flags(o), epoch == first ? o->progress : NULL, &val));
            AGECL_TRY(agecl__eval_combine(o->comm, &val));
        }
        rec->val_mae = val.mae, rec->val_cs5 = val.cs5, rec->val_gender_acc = val.gender_acc;
        rec->val_skipped = val.skipped;
        /* without validation, the latest epoch is the one kept */
        int best = o->train_on_val || st->best_epoch == 0 || val.mae < st->best_mae;
        if (o->train_on_val)
            agecl__say(o->progress, "epoch %d: train loss %.3f (age %.3f)  %.1f img/s  (no "
                       "validation: trained on train+val)\n", epoch, rec->loss, rec->loss_age,
                       rec->images_per_s);
        else
            agecl__say(o->progress, "epoch %d: train loss %.3f (age %.3f)  validation MAE %.3f  "
                       "CS5 %.1f%%  gender %.1f%%  %.1f img/s%s\n", epoch, rec->loss,
                       rec->loss_age, val.mae, val.cs5, val.gender_acc, rec->images_per_s,
                       best ? "  (best)" : "");
        if (rec->skipped || val.skipped)
            agecl__say(o->progress, "epoch %d: bad images skipped: %d in training, %d in "
                       "validation\n", epoch, (int)rec->skipped, val.skipped);
        if (best) {
            st->best_epoch = epoch;
            st->best_mae = val.mae;
            if (agecl_model_config_of(t->model)->rapl) AGECL_TRY(select_references(t, epoch));
            agecl_status s = t->rank ? AGECL_OK : agecl__state_save_best(t->model, t->best_path, o);
            AGECL_TRY(agecl__rank0_outcome(o->comm, s, "write best.safetensors"));
        }
        if (o->ema > 0) AGECL_TRY(agecl_model_ema_swap(t->model));
        st->epochs_done = epoch;
        agecl_status s = AGECL_OK;
        if (t->rank == 0) s = agecl__state_save(t->model, t->last_path, o, st);
        if (t->rank == 0 && s == AGECL_OK)
            s = agecl__history_write(o->out_dir, st->history, st->epochs_done);
        AGECL_TRY(agecl__rank0_outcome(o->comm, s, "write last.safetensors and the log"));
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
    agecl__ref_store_free(&t->refs);
    agecl_ctx_destroy(t->ctx);
    agecl_split_free(&t->split);
    agecl_dataset_free(t->ds);
    free(t->state.history);
    free(t->val_share);
}

/* The output folder, made if missing and proven writable before any training: a
 * temporary file made and removed there as every checkpoint is written
 * (io/atomic_file.h). Temporary files that a killed run left are removed. */
static agecl_status check_out_dir(const char *dir)
{
    char probe[1100];
    if (strlen(dir) + sizeof "/best.safetensors.tmp.XXXXXX" > sizeof probe)
        return agecl__fail(AGECL_E_INVALID_ARG,
                           "the output folder's name is longer than %zu "
                           "characters: %.60s...",
                           sizeof probe - sizeof "/best.safetensors.tmp.XXXXXX", dir);
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
    if (o->comm && (o->comm->size < 1 || o->comm->rank < 0 || o->comm->rank >= o->comm->size))
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_train: rank %d of %d", o->comm->rank,
                           o->comm->size);
    /* rank 0 writes the folder; the others learn whether it can */
    agecl_status s = o->comm && o->comm->rank ? AGECL_OK : check_out_dir(o->out_dir);
    return agecl__rank0_outcome(o->comm, s, "prepare the output folder");
}

agecl_status agecl_train(const agecl_train_options *opt, agecl_train_result *result)
{
    if (!opt || !result) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_train: NULL argument");
    memset(result, 0, sizeof *result);
    AGECL_TRY(check_options(opt));
    trainer t;
    memset(&t, 0, sizeof t);
    t.opt = opt;
    t.rank = opt->comm ? opt->comm->rank : 0;
    t.ranks = opt->comm ? opt->comm->size : 1;
    snprintf(t.last_path, sizeof t.last_path, "%s/last.safetensors", opt->out_dir);
    snprintf(t.best_path, sizeof t.best_path, "%s/best.safetensors", opt->out_dir);
    agecl_status s = open_data(&t);
    if (s == AGECL_OK) s = make_model(&t);
    if (s == AGECL_OK) s = agecl_model_init(t.model, opt->seed);
    if (s == AGECL_OK && opt->init) s = load_init(&t);
    if (s == AGECL_OK && opt->resume) {
        struct stat st;
        int found = stat(t.last_path, &st) == 0; /* rank 0's finding is everyone's */
        s = agecl__rank0_flag(opt->comm, &found);
        if (s == AGECL_OK && found) s = resume(&t);
        else if (s == AGECL_OK)
            agecl__say(opt->progress, "nothing to resume in %s: starting afresh\n", opt->out_dir);
    }
    if (s == AGECL_OK) s = make_loader(&t);
    if (s == AGECL_OK) s = run_epochs(&t, result);
    result->epochs_done = t.state.epochs_done;
    result->best_epoch = t.state.best_epoch;
    result->best_val_mae = t.state.best_mae;
    result->steps = t.state.step;
    /* the test split is rank 0's alone: it reads best.safetensors, which it wrote */
    if (s == AGECL_OK && t.state.epochs_done == opt->epochs && !opt->skip_test && t.rank == 0) {
        s = agecl_model_load(t.model, t.best_path, 0);
        if (s == AGECL_OK) s = agecl_evaluate(t.model, t.ds, t.split.index[AGECL_SPLIT_TEST],
                                              t.n[AGECL_SPLIT_TEST], opt->threads, eval_flags(opt),
                                              opt->progress, &result->test);
        if (s == AGECL_OK)
            agecl__say(opt->progress,
                       "test (%s epoch %d): MAE %.3f  CS5 %.1f%%  gender %.1f%%  "
                       "(%d images)\n", opt->train_on_val ? "last" : "best",
                       t.state.best_epoch, result->test.mae, result->test.cs5,
                       result->test.gender_acc, result->test.n);
    }
    trainer_free(&t);
    return s;
}
