/* agecl/model.h - the age estimation network of MODEL.md: an IR backbone
 * (IR-50 truncated after stage 3, or a smaller member of the family) and its
 * heads: expected-value age, gender (optional), relative age position (optional).
 *
 * A model is created for one batch size and holds everything a step needs:
 * parameters, gradients and Adam moments in one allocation (llm.c style),
 * BatchNorm running statistics, the activations a backward pass reads, the
 * convolution plans and their shared workspace. Nothing is allocated per step.
 *
 * Tensor names, as checkpoints store them (PyTorch's state_dict names of
 * tools/torch/ir_model.py):
 *   stem.conv.weight  stem.bn.{weight,bias,running_mean,running_var}  stem.prelu.weight
 *   stage{S}.{U}.bn1.*  .conv1.weight  .prelu.weight  .conv2.weight  .bn2.*
 *   stage{S}.{U}.shortcut.conv.weight  .shortcut.bn.*   (units whose channels change)
 *   age.weight age.bias  gender.weight gender.bias
 *   rapl.P  rapl.a.weight rapl.a.bias  rapl.fc.weight rapl.fc.bias  rapl.R (a buffer) */
#ifndef AGECL_MODEL_H
#define AGECL_MODEL_H

#include <stdint.h>
#include "agecl/comm.h"
#include "agecl/optim.h"
#include "agecl/runtime.h"
#include "agecl/status.h"
#include "agecl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGECL_MAX_STAGES 4
#define AGECL_MAX_AGES 256

typedef struct agecl_model_config {
    char preset[16];
    int stages;                      /* number of stages (3 for IR50 truncated) */
    int units[AGECL_MAX_STAGES];     /* IR units per stage */
    int channels[AGECL_MAX_STAGES];  /* output channels per stage; the stem has channels[0] */
    int input_size;                  /* square input side (112) */
    int gender;                      /* 1: gender head */
    int rapl;                        /* 1: relative age position branch */
    int n_ages;                      /* number of distinct age labels */
    float ages[AGECL_MAX_AGES];      /* the sorted distinct age labels */
} agecl_model_config;

/* Fill cfg from a preset: "ir50" (MODEL.md exactly), "ir18", "ir34", "ir100" and
 * "ir152" (the first three stages of face.evoLVe's deeper IR nets), "cpu" and
 * "cpu-large" (small members of the family for CPU training: see the README),
 * "tiny" (tests).
 * The ages are left to the caller (agecl_model_config_set_ages). */
agecl_status agecl_model_preset(const char *name, agecl_model_config *cfg);

/* Set the age labels (sorted, distinct, 2..AGECL_MAX_AGES of them). */
agecl_status agecl_model_config_set_ages(agecl_model_config *cfg, const int *ages, int n);

/* Forward multiply-adds per image (for throughput figures). */
double agecl_model_config_macs(const agecl_model_config *cfg);

typedef struct agecl_model agecl_model;

enum {
    AGECL_MODEL_TRAIN = 1 << 0, /* keep activations and gradients for training */
};

agecl_status agecl_model_create(agecl_ctx *ctx, const agecl_model_config *cfg, int batch,
                                unsigned flags, agecl_model **out);
void agecl_model_destroy(agecl_model *m);

const agecl_model_config *agecl_model_config_of(const agecl_model *m);
int agecl_model_batch(const agecl_model *m);
agecl_ctx *agecl_model_ctx(const agecl_model *m);

/* Initialise from a seed (MODEL.md section 5): He-normal convolutions (fan in),
 * PyTorch's default Linear initialisation, BN gamma 1 / beta 0, running
 * statistics 0 / 1, PReLU 0.25, RAPL P ones, R zero; Adam moments zero. */
agecl_status agecl_model_init(agecl_model *m, uint64_t seed);

/* Parameter count (optimised elements), buffer count (running statistics, R). */
size_t agecl_model_param_count(const agecl_model *m);
size_t agecl_model_buffer_count(const agecl_model *m);

/* Named tensors: count, name, shape, and host copies of the value. `kind` 0 means a
 * parameter, 1 a buffer. which: 0 value, 1 gradient, 2 Adam m, 3 Adam v. */
int agecl_model_tensor_count(const agecl_model *m);
const char *agecl_model_tensor_name(const agecl_model *m, int i, int *kind, int shape[4]);
agecl_status agecl_model_tensor_get(agecl_model *m, int i, int which, float *host);
agecl_status agecl_model_tensor_set(agecl_model *m, int i, int which, const float *host);
int agecl_model_tensor_find(const agecl_model *m, const char *name);

/* One batch's labels, on the host, as the losses take them (floats holding
 * integers; the loader's agecl_batch has them as target_age, target_gender and
 * target_pos): B ages (years), B genders (0 male, 1 female, -1 unknown; NULL:
 * none) and B age positions (index of the age in cfg.ages; NULL: none). */
typedef struct agecl_labels {
    const float *age;
    const float *gender;
    const float *pos;
} agecl_labels;

/* What a forward pass gives, downloaded to the host (any pointer may be NULL):
 * age[B] expected-value ages, gender_p[B] probability of class 1 (female),
 * pos[B] argmax of the position logits (-1 without the branch), feat[B*C]. */
typedef struct agecl_outputs {
    float *age;
    float *gender_p;
    int *pos;
    float *feat;
} agecl_outputs;

/* The weights of the loss terms: total = age_weight L_age + dist_weight L_dist +
 * gender_weight L_gender + pos_weight L_position. MODEL.md: 1, 0, 1, 1.
 * L_dist is the label distribution term (agecl/losses.h, DLDL) with dist_sigma
 * years; it only counts when dist_weight > 0. */
typedef struct agecl_loss_config {
    float age_weight, gender_weight, pos_weight;
    float dist_weight, dist_sigma;
} agecl_loss_config;

/* {1, 1, 1, 0, 2}: MODEL.md's loss. */
agecl_loss_config agecl_loss_defaults(void);

/* Set the weights a model's training backward uses (a new model has the defaults).
 * AGECL_E_INVALID_ARG for a negative or non-finite weight or dist_sigma <= 0. */
agecl_status agecl_model_set_loss(agecl_model *m, const agecl_loss_config *loss);

/* The loss parts of a training step (means over the batch), unweighted; total is
 * the weighted sum. */
typedef struct agecl_losses {
    float total, age, gender, pos, dist;
    float *abs_err; /* optional, B: |age - predicted| per sample */
} agecl_losses;

/* Forward pass on B images (host, B x 3 x S x S, normalised). training != 0
 * uses batch statistics and keeps activations (needs AGECL_MODEL_TRAIN).
 * Inference (training == 0) folds each BatchNorm that follows a convolution (an IR
 * unit's last one, and its shortcut's) into that convolution's weights and a bias,
 * unless the context's fuse option is off (AGECL_FUSE=0, read at creation): the
 * folded weights are made again on the first inference after anything changed the
 * parameters or statistics (a training forward, an optimiser step, a swap of the
 * moving average, agecl_model_tensor_set, init, load, broadcast). Results differ
 * from the unfolded ones by rounding only. */
agecl_status agecl_model_forward(agecl_model *m, const float *images, int training);

/* After a training forward: the losses of MODEL.md section 3 (the position term
 * only when use_pos != 0 and the references are set), their gradients at the
 * heads' outputs, the expected ages and absolute errors (agecl_model_abs_errors).
 * A training forward leaves the expected ages to this step, which computes them
 * with the losses. */
agecl_status agecl_model_loss(agecl_model *m, const agecl_labels *labels, int use_pos,
                              agecl_losses *losses);

/* After agecl_model_loss: the backward pass, leaving the gradients of this batch
 * in the gradient region (overwritten). */
agecl_status agecl_model_backward(agecl_model *m);

/* Adam (PyTorch's, L2 weight decay added to the gradient) over all parameters:
 * MODEL.md section 5. */
agecl_status agecl_model_adam_step(agecl_model *m, float lr, float weight_decay, int step);

/* Adam or AdamW (cfg->decoupled) over all parameters. decay_all != 0 decays every
 * parameter (MODEL.md); 0 decays only the weights of two or more dimensions
 * (convolutions, Linear weights, rapl.a.weight), not BatchNorm, PReLU, biases
 * or rapl.P, whose pull towards zero only hurts. */
agecl_status agecl_model_optimizer_step(agecl_model *m, const agecl_adam_config *cfg,
                                        int decay_all, int step);

/* The exponential moving average of the weights (EMA): a copy of the parameters
 * and the BatchNorm running statistics, updated after optimiser steps as
 * avg = decay avg + (1 - decay) weights. The first call starts it as a copy of
 * the weights (its decay is not used). rapl.R is not averaged: the references
 * are the same for both. Fails while the average is swapped in. */
agecl_status agecl_model_ema_update(agecl_model *m, double decay);

/* Exchange the weights with their average: evaluate or save the average between
 * two calls (the second restores the weights exactly). AGECL_E_INVALID_ARG
 * before the first agecl_model_ema_update. */
agecl_status agecl_model_ema_swap(agecl_model *m);

/* 1 when the model keeps a moving average. */
int agecl_model_has_ema(const agecl_model *m);

/* Data-parallel training (agecl/comm.h): one model per rank, every rank making
 * the same calls. comm NULL (or of one rank): one process. sync_bn != 0: the
 * training forward's BatchNorm statistics, and its backward, are those of the
 * batches of every rank together (sync-BN, one small all-reduce per layer each
 * way); 0: each rank's own batch (as PyTorch's DistributedDataParallel).
 * bucket > 0 (a comm with iallreduce_f32): the backward starts summing the
 * weights' gradients as they become final, in buckets of at least that many
 * floats, while it goes on (as DDP's buckets); 0: one sum after the backward.
 * The comm must outlive the model. */
agecl_status agecl_model_set_comm(agecl_model *m, const agecl_comm *comm, int sync_bn,
                                  size_t bucket);

/* After agecl_model_backward on every rank: the gradient region becomes the mean
 * of every rank's (summed through the host: the buckets already started, then
 * the rest), so that N ranks of batch B step as one of batch N x B. Nothing
 * without a comm. */
agecl_status agecl_model_allreduce_gradients(agecl_model *m);

/* Every rank takes rank root's BatchNorm running statistics and moving average
 * (what each rank's own batches made differ without sync-BN), so that every
 * rank evaluates and saves the same model; the weights are equal already. */
agecl_status agecl_model_broadcast_state(agecl_model *m, int root);

/* Download the outputs of the last forward pass. */
agecl_status agecl_model_outputs(agecl_model *m, agecl_outputs *out);

/* The device tensors of the last forward pass: pooled features (B x C) and,
 * after agecl_model_loss, the per-sample absolute age errors (B). */
const agecl_tensor *agecl_model_features(const agecl_model *m);
const agecl_tensor *agecl_model_abs_errors(const agecl_model *m);

/* Reference selection (MODEL.md section 4) into rapl.R, from S per-sample errors,
 * S age positions (as floats) and S x C features kept on the device; ties are
 * broken by the seed; *filled (optional) counts ages without a sample, which
 * take the nearest age's row. After it the position head is live. */
agecl_status agecl_model_select_references(agecl_model *m, const agecl_tensor *err,
                                           const agecl_tensor *pos, const agecl_tensor *feat,
                                           uint32_t seed, int *filled);

/* Checkpoints (safetensors; names as above, PyTorch's shapes). with_optimizer
 * adds Adam's moments ("adam.m.<name>", "adam.v.<name>") and, when the model keeps
 * one, the moving average ("ema.<name>", not for rapl.R). meta: NULL, or
 * key, value, key, value, ..., NULL: extra metadata (the trainer's state).
 * The file is written atomically: a crash leaves the old file or the new one. */
agecl_status agecl_model_save(agecl_model *m, const char *path, int with_optimizer,
                              const char *const *meta);

/* The config a checkpoint was saved with (to create a model that fits it). A
 * backbone without heads (tools/torch/import_pytorch.py) fails: it has no ages. */
agecl_status agecl_model_config_read(const char *path, agecl_model_config *cfg);

/* The backbone's part of a checkpoint's config (preset, stages, units, channels,
 * input size), from any agecl checkpoint, heads or not; the rest of cfg is zero. */
agecl_status agecl_model_backbone_read(const char *path, agecl_model_config *cfg);

/* Load a checkpoint into a model of the same config. A missing tensor or a wrong
 * shape fails (AGECL_E_FORMAT, AGECL_E_SHAPE) naming the file and the tensor.
 * with_optimizer also loads Adam's moments and, when the file has one, the
 * moving average (started if the model had none). */
agecl_status agecl_model_load(agecl_model *m, const char *path, int with_optimizer);

/* Heads, for agecl_model_load_weights. */
enum {
    AGECL_HEAD_AGE = 1 << 0,      /* age.* */
    AGECL_HEAD_GENDER = 1 << 1,   /* gender.* */
    AGECL_HEAD_POSITION = 1 << 2, /* rapl.* */
};

/* Start a model from another's weights (fine-tuning): every backbone tensor must
 * be in the file with the model's shape (an error names the file and the tensor,
 * or both backbones when the metadata differ); each head is taken from the file
 * when all its tensors are there with the model's shapes (the same age labels),
 * else it keeps its initialisation. *from_file (optional) gets the AGECL_HEAD_*
 * bits of the heads taken. Optimizer state is not read. */
agecl_status agecl_model_load_weights(agecl_model *m, const char *path, unsigned *from_file);

/* 1 when rapl.R holds references (selected, or loaded from a checkpoint). */
int agecl_model_has_references(const agecl_model *m);

#ifdef __cplusplus
}
#endif
#endif
