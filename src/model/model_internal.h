/* src/model/model_internal.h - the insides of agecl_model (not installed). */
#ifndef AGECL_MODEL_INTERNAL_H
#define AGECL_MODEL_INTERNAL_H

#include "agecl/conv.h"
#include "agecl/layers.h"
#include "agecl/model.h"
#include "agecl/comm.h"
#include "model/params.h"

struct agecl__bn_sync;

/* A BatchNorm layer: parameter indices, its plan (the stem's fuses the PReLU
 * unless AGECL_FUSE=0) and the statistics its backward reads. */
typedef struct agecl__bn {
    int gamma, beta, mean, var;
    agecl_layer_plan *plan;
    agecl_tensor save_mean, save_invstd;
} agecl__bn;

typedef struct agecl__conv {
    int weight;
    agecl_conv2d_plan *plan;
    /* an inference model's weights as its forward's algorithm transforms them
     * (agecl_conv2d_prepare), made with the folded weights (fold.c); buf NULL: none */
    agecl_tensor prepared;
} agecl__conv;

/* One IR unit (MODEL.md section 2) and the activations its backward reads. */
typedef struct agecl__unit {
    int cin, d, stride, in_hw, out_hw;
    int sc_conv;                    /* 1: conv1x1 + BN shortcut; 0: subsample */
    agecl__bn bn1, bn2, sc_bn;
    agecl__conv conv1, conv2, sc;
    int prelu;
    agecl_layer_plan *prelu_plan, *add_plan;
    agecl_layer_plan *sub_plan;                    /* the subsample shortcut's */
    agecl_tensor t_bn1, t_conv1, t_prelu, t_conv2; /* residual branch */
    agecl_tensor t_sc_conv, t_sc;                  /* shortcut */
    agecl_tensor out;                              /* bn2(...) + shortcut */
    /* inference with the BNs folded (fold.c): conv2's and the shortcut's weights
     * scaled, and the one bias of both branches */
    agecl_tensor w2_fold, sc_fold, bias_fold;
} agecl__unit;

typedef struct agecl__stem {
    agecl__conv conv;
    agecl__bn bn;
    int prelu;
    int fused;             /* BN and PReLU in one op (AGECL_FUSE, backbone.c); else via t_bn */
    agecl_layer_plan *prelu_plan; /* the PReLU when not fused */
    agecl_tensor t_conv, t_bn, out;
} agecl__stem;

typedef struct agecl__heads {
    int age_w, age_b, gender_w, gender_b;
    int rapl_P, rapl_a_w, rapl_a_b, rapl_fc_w, rapl_fc_b, rapl_R;
    agecl_tensor ages;                    /* n label values */
    agecl_tensor feat, dfeat;             /* B x C x 1 x 1 */
    agecl_tensor age_logits, age_pred, age_err, age_loss, dage_logits;
    agecl_tensor dist_loss;               /* the label distribution term (training) */
    agecl_tensor gender_logits, gender_loss, dgender_logits;
    agecl_tensor rapl_gain, drapl_gain;   /* C */
    agecl_tensor rapl_out, drapl_out, pos_logits, pos_loss, dpos_logits;
    agecl_tensor target_age, target_gender, target_pos; /* B each, uploaded per step */
    int refs_set;                         /* rapl.R holds references */
} agecl__heads;

/* The most arenas a model's own tensors take (ample: IR-50 at batch 64 needs one
 * on a device that allocates 1 GiB at once). */
#define AGECL__ACT_ARENAS 32

struct agecl_model {
    agecl_ctx *ctx;
    agecl_model_config cfg;
    int batch;
    unsigned flags;
    agecl__params params;
    agecl__stem stem;
    agecl__unit *units;
    int n_units;
    agecl__heads heads;
    agecl_loss_config loss;    /* the terms' weights (agecl_model_set_loss) */

    agecl_tensor input;        /* B x 3 x S x S */
    agecl_tensor workspace;    /* shared by every convolution plan */
    agecl_layer_plan *pool_plan;
    agecl_tensor grad[4];      /* gradient scratch, each the largest activation */
    agecl_tensor slots[6];     /* inference: activations share these */

    float *host;               /* host scratch: B x (n_ages + 2) floats */
    /* Every device tensor of the model besides its parameters (the activations
     * and their gradients, BN's saved statistics, the heads' tensors, the
     * workspace), carved from arenas sized by a counting pass, as the parameters
     * are; a new arena starts where the next tensor would take the current one
     * past the device's largest allocation. */
    agecl_arena acts[AGECL__ACT_ARENAS];
    int n_acts;
    int last_training;         /* the mode of the last forward pass */
    /* Inference with the BatchNorms folded (fold.c; the fuse option): params_gen
     * moves whenever the parameters or statistics may have changed
     * (agecl__params_changed), folded_gen is its value when the folded weights
     * were made. */
    int fold;
    unsigned long params_gen, folded_gen;
    int loss_done;             /* agecl_model_loss ran after it */
    int loss_pos;              /* ... with the position term */

    /* Data-parallel training (agecl_model_set_comm, parallel.c) */
    const agecl_comm *comm;    /* NULL: one process */
    struct agecl__bn_sync *bn_sync; /* sync-BN's scratch, or NULL: each rank's statistics */
    float *comm_host;          /* host copy of what is reduced or broadcast */
    size_t comm_host_n;
    /* Overlap of the gradients' sum with the backward (bucket > 0): unit_from[i]
     * is where, in the gradient region, the weights of unit i and of everything
     * after it start, all final once unit i's backward is done (the weights are
     * laid out in the order of the layers, the backward runs them backwards);
     * [sent_from, weight_elems) is on its way, in the requests. */
    size_t bucket;             /* floats a bucket holds at least; 0: one sum at the end */
    size_t *unit_from;
    size_t sent_from;
    void **requests;
    int n_requests;
};

/* Forward and backward of the backbone (backbone.c). */
agecl_status agecl__backbone_forward(agecl_model *m, int training);
agecl_status agecl__backbone_backward(agecl_model *m);

/* Heads (heads.c): forward from heads.feat (the expected ages only when not
 * training); the losses and their gradients at the heads' outputs; backward into
 * heads.dfeat. */
agecl_status agecl__heads_forward(agecl_model *m, int training);
agecl_status agecl__heads_loss(agecl_model *m, const agecl_labels *labels, int use_pos,
                               agecl_losses *losses);
agecl_status agecl__heads_backward(agecl_model *m);

/* BatchNorm's epsilon (MODEL.md section 2). */
#define AGECL__BN_EPS 1e-5f

/* Inference with the BatchNorms folded (fold.c): make the folded weights again if
 * the parameters changed since; y = x + bias per channel (y may be x). */
agecl_status agecl__fold_refresh(agecl_model *m);
agecl_status agecl__channel_bias_add(agecl_model *m, const agecl_tensor *x,
                                     const agecl_tensor *bias, agecl_tensor *y);

/* Every path that may change a parameter or a BatchNorm statistic calls this. */
static inline void agecl__params_changed(agecl_model *m) { m->params_gen++; }

/* Release what agecl_model_set_comm made (parallel.c). */
void agecl__model_comm_free(agecl_model *m);

/* After unit i's backward: with the overlap on, start summing the gradients that
 * are final once a bucket's worth has gathered (parallel.c). */
agecl_status agecl__model_unit_grads_done(agecl_model *m, int i);

/* The tensor of a parameter or buffer, and its gradient. */
static inline agecl_tensor *agecl__P(agecl_model *m, int i) { return &m->params.items[i].value; }
static inline agecl_tensor *agecl__G(agecl_model *m, int i) { return &m->params.items[i].grad; }

#endif
