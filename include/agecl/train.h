/* agecl/train.h - training with the paper's schedule, and evaluation.
 *
 * agecl_train runs MODEL.md section 5 end to end: a data set split 60/20/20
 * (agecl/data.h), Adam with L2 weight decay, the learning rate divided by 10
 * after the given epochs, the position loss from the second epoch on with
 * references selected (section 4) from the training features of the best epoch
 * so far, validation every epoch, the best model kept, the test split run once
 * with it at the end. With a moving average of the weights (ema), the average is
 * what is validated, kept as best and tested.
 *
 * The output folder holds:
 *   last.safetensors   the model, Adam's state and the trainer's state after the
 *                      last finished epoch (what --resume continues from)
 *   best.safetensors   the model of the epoch with the lowest validation MAE,
 *                      with its references (what eval and predict use)
 *   log.jsonl          one JSON object per epoch: epoch, lr, train losses,
 *                      val_mae, val_cs5, val_gender_acc, images_per_s, seconds
 *   curves.svg         the learning curves of log.jsonl
 * Checkpoints are written atomically, so a run killed at any point resumes from
 * its last finished epoch; epochs are reproducible from the seed, so a resumed
 * run ends with the same weights as one that was never interrupted. */
#ifndef AGECL_TRAIN_H
#define AGECL_TRAIN_H

#include <stdint.h>
#include <stdio.h>
#include "agecl/data.h"
#include "agecl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metrics of a set (MODEL.md section 7). Percentages are 0..100; NaN where a
 * metric does not apply (no gender labels; no references for the confidence). */
typedef struct agecl_eval_result {
    int n;                   /* samples evaluated */
    int skipped;             /* bad images skipped (not in n) */
    double mae, cs5;
    double gender_acc;
    int gender_n;            /* samples with a gender label */
    double confidence[3];    /* t = 1, 2, 3 years */
    double decade_mae[10];   /* by true age: 0-9, ..., 80-89, 90+ (NaN: none) */
    int decade_n[10];
} agecl_eval_result;

/* Evaluate a model (any batch size; the last batch is padded) on count samples
 * indices[] of ds (NULL: all), without augmentation. flags: AGECL_EVAL_*. Bad
 * images are skipped and counted, each named with its reason on a line of issues
 * ("skipped FILE: WHY"; NULL: not written); when no sample is left, AGECL_E_DATA
 * (naming the first bad image), never a NaN result. */
agecl_status agecl_evaluate(agecl_model *m, const agecl_dataset *ds, const int *indices,
                            int count, int threads, unsigned flags, FILE *issues,
                            agecl_eval_result *out);

enum {
    AGECL_EVAL_FLIP = 1 << 0, /* average the predictions of each image and its mirror */
    AGECL_EVAL_ZOOM = 1 << 1, /* ... and of its centre zoom (with FLIP: and that zoom's
                                 mirror), the views weighted equally */
};
/* The zoom view: the centre 0.9 of each side, resized back to the input size (the
 * training crops of the "light" augmentation span 0.85 to 1 of the side). Chosen on
 * validation (docs/recipes.md). */
#define AGECL_EVAL_ZOOM_KEEP 0.9f

/* An ensemble: the metrics of the mean prediction of several models (each with its
 * own input size, batch and flags) over the same samples. Add every model over the
 * same distinct indices[] of ds (NULL: all samples); the result averages, per
 * sample, the expected ages, the gender probabilities and the position heads' ages
 * (of the models that have them). agecl_evaluate is an ensemble of one model.
 *
 *   agecl_ensemble *e;  agecl_ensemble_create(&e, ds);
 *   for each model:     agecl_ensemble_add(e, model, idx, n, 2, flags, stderr);
 *   agecl_ensemble_result(e, &r);  agecl_ensemble_free(e);
 *
 * Only one model need be alive at a time. The data set must outlive the ensemble. */
typedef struct agecl_ensemble agecl_ensemble;
agecl_status agecl_ensemble_create(agecl_ensemble **out, const agecl_dataset *ds);
agecl_status agecl_ensemble_add(agecl_ensemble *e, agecl_model *m, const int *indices, int count,
                                int threads, unsigned flags, FILE *issues);
agecl_status agecl_ensemble_result(const agecl_ensemble *e, agecl_eval_result *out);
void agecl_ensemble_free(agecl_ensemble *e);

/* The AGECL_EVAL_* flags a checkpoint of agecl train was validated with (its
 * "tta_flip" and "tta_zoom" metadata; a flag is off where its key is absent), so
 * that eval and predict measure the model as training chose it. */
agecl_status agecl_checkpoint_eval_flags(const char *path, unsigned *flags);

/* Write a result as one JSON object (keys n, mae, cs5, gender_acc, confidence_t1..3,
 * decade_mae) or as a table for people. */
void agecl_eval_print_json(const agecl_eval_result *r, FILE *f);
void agecl_eval_print_table(const agecl_eval_result *r, FILE *f);

/* Learning-rate schedules: the paper's steps (x0.1 after the given epochs), or a
 * cosine decay to 0 over the run; both after an optional linear warm-up. */
enum { AGECL_SCHEDULE_STEP, AGECL_SCHEDULE_COSINE };

typedef struct agecl_train_options {
    const char *data;        /* "KIND:PATH" (agecl/data.h) */
    const char *preset;      /* NULL: the backbone of init, else "ir50" */
    const char *device;      /* selector; NULL: AGECL_DEVICE or the first device */
    const char *out_dir;     /* required */
    const char *recipe;      /* the name of the recipe the settings came from (metadata) */
    int epochs;              /* 30 */
    int batch;               /* 64 */
    double lr;               /* 1e-3 (from random weights; the paper fine-tunes at 1e-5) */
    double weight_decay;     /* 1e-2 */
    int decoupled;           /* 0: Adam, L2 added to the gradient; 1: AdamW */
    int decay_all;           /* 1: decay every parameter; 0: only weights (model.h) */
    int schedule;            /* AGECL_SCHEDULE_STEP or _COSINE */
    double warmup;           /* epochs of linear warm-up from lr / steps (0: none) */
    int lr_drops[4];         /* epochs after which lr is multiplied by 0.1: 10, 20 */
    int n_lr_drops;
    const char *augment;     /* augmentation policy (agecl/data.h): "paper" */
    agecl_loss_config loss;  /* loss weights, label distribution (agecl/model.h) */
    int tta_flip;            /* evaluate on each image and its mirror, averaged */
    int tta_zoom;            /* ... and on its centre zoom (AGECL_EVAL_ZOOM) */
    double ema;              /* > 0: keep a moving average of the weights with this
                                decay (agecl_train_ema_decay), validate and keep it
                                as the best model; 0: none */
    uint64_t seed;           /* 123 */
    int threads;             /* loader worker threads (2) */
    int resume;              /* continue from out_dir/last.safetensors */
    int gender;              /* -1: when the data set has gender labels; 0 off; 1 on */
    int rapl;                /* 1: the relative age position branch */
    int limit;               /* > 0: use at most this many samples of each split */
    int train_limit;         /* > 0: at most this many of the training split, the
                                others whole (a learning curve, judged on validation) */
    int train_on_val;        /* 1: train on the training and validation splits together
                                (the final fit of a recipe chosen on validation): no
                                validation, the last epoch's model is best.safetensors */
    int max_steps;           /* > 0: at most this many steps an epoch */
    int stop_after;          /* > 0: return after this many epochs (as if killed) */
    const char *cache;       /* path of a pre-decoded image cache, or NULL */
    const char *init;        /* start from these weights: an agecl checkpoint or an
                                imported backbone (agecl_model_load_weights) */
    int strict;              /* any bad sample is an error */
    int skip_test;           /* do not run the test split at the end (recipe studies
                                choose on validation and report the test split once) */
    FILE *progress;          /* progress lines and reports; NULL: silent */
    /* Data-parallel training (agecl/comm.h), one call of agecl_train per rank
     * with the same options: batch is each rank's, the global batch is
     * comm->size x batch (the same samples, order and augmentation as one
     * process with that batch); gradients are averaged over the ranks every
     * step; validation is shared among the ranks and its metrics summed;
     * references are chosen from every rank's samples; rank 0 alone writes the
     * output folder and runs the test split, and with resume every rank reads
     * out_dir/last.safetensors (a folder every rank sees). NULL: one process. */
    const agecl_comm *comm;
    int sync_bn;             /* BatchNorm statistics over every rank's batch (sync-BN);
                                0: each rank's own, its running statistics rank 0's */
    double bucket_mb;        /* > 0: sum the gradients in buckets of this many MB while
                                the backward goes on (agecl_model_set_comm); 0: one sum
                                after it; < 0 (default): 25 on a GPU, 0 on a CPU device,
                                whose cores the backward keeps busy */
} agecl_train_options;

/* MODEL.md section 5 exactly (the "paper" recipe, at lr 1e-3 for random weights). */
void agecl_train_defaults(agecl_train_options *opt);

/* Apply a named recipe's settings over opt (the other fields are kept):
 *   "paper"    MODEL.md sections 5 and 6: Adam with L2 decay 1e-2 on every
 *              parameter, steps after 10 and 20, the paper's augmentation. For
 *              fine-tuning pretrained weights (give --lr 1e-5).
 *   "scratch"  for random weights: AdamW (decay 5e-2 on weights only), lr 2e-3,
 *              warm-up 1 epoch then cosine, light augmentation, a label
 *              distribution term (sigma 2, weight 1), gender loss weight 8, flip
 *              and zoom averaging at evaluation (AGECL_EVAL_FLIP | AGECL_EVAL_ZOOM).
 * AGECL_E_INVALID_ARG names the recipes for an unknown name. */
agecl_status agecl_train_recipe(const char *name, agecl_train_options *opt);

/* The learning rate of step `step` (0-based) of epoch `epoch` (1-based), with
 * steps_per_epoch steps an epoch, under opt's schedule and warm-up. */
double agecl_train_lr(const agecl_train_options *opt, int epoch, int step, int steps_per_epoch);

/* The moving average's decay after optimiser step `step` (1-based): min(decay,
 * (1 + step) / (10 + step)), TensorFlow's ExponentialMovingAverage with
 * num_updates, so that the random initial weights fade out quickly. */
double agecl_train_ema_decay(double decay, long long step);

typedef struct agecl_train_result {
    int epochs_done;         /* epochs finished, resumed ones included */
    int best_epoch;
    double best_val_mae;
    agecl_eval_result test;  /* n = 0 unless the run finished every epoch */
    long long steps;
} agecl_train_result;

agecl_status agecl_train(const agecl_train_options *opt, agecl_train_result *result);

#ifdef __cplusplus
}
#endif
#endif
