/* The heads of MODEL.md section 3 on the pooled features, forward and backward. */
#include <math.h>
#include "agecl/layers.h"
#include "agecl/losses.h"
#include "agecl/optim.h"
#include "error.h"
#include "model/model_internal.h"

agecl_loss_config agecl_loss_defaults(void)
{
    return (agecl_loss_config){1.0f, 1.0f, 1.0f, 0.0f, 2.0f};
}

agecl_status agecl_model_set_loss(agecl_model *m, const agecl_loss_config *loss)
{
    if (!m || !loss) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_set_loss: NULL argument");
    const float w[4] = {loss->age_weight, loss->gender_weight, loss->pos_weight,
                        loss->dist_weight};
    const char *names[4] = {"age_weight", "gender_weight", "pos_weight", "dist_weight"};
    for (int i = 0; i < 4; i++)
        if (!(w[i] >= 0 && isfinite(w[i])))
            return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_set_loss: %s %g", names[i], w[i]);
    if (!(loss->dist_sigma > 0 && isfinite(loss->dist_sigma)))
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_set_loss: dist_sigma %g (must be > 0)",
                           loss->dist_sigma);
    m->loss = *loss;
    return AGECL_OK;
}

agecl_status agecl__heads_forward(agecl_model *m, int training)
{
    agecl__heads *h = &m->heads;
    agecl_ctx *ctx = m->ctx;
    AGECL_TRY(agecl_linear_forward(ctx, &h->feat, agecl__P(m, h->age_w), agecl__P(m, h->age_b),
                                   &h->age_logits));
    /* Training: the loss step computes the expected ages with the errors. */
    if (!training)
        AGECL_TRY(agecl_dex_forward(ctx, &h->age_logits, &h->ages, NULL, &h->age_pred, NULL,
                                    NULL));
    if (m->cfg.gender)
        AGECL_TRY(agecl_linear_forward(ctx, &h->feat, agecl__P(m, h->gender_w),
                                       agecl__P(m, h->gender_b), &h->gender_logits));
    if (m->cfg.rapl && h->refs_set) {
        AGECL_TRY(agecl_rapl_forward(ctx, &h->feat, agecl__P(m, h->rapl_R), agecl__P(m, h->rapl_P),
                                     agecl__P(m, h->rapl_a_w), agecl__P(m, h->rapl_a_b),
                                     &h->rapl_gain, &h->rapl_out));
        AGECL_TRY(agecl_linear_forward(ctx, &h->rapl_out, agecl__P(m, h->rapl_fc_w),
                                       agecl__P(m, h->rapl_fc_b), &h->pos_logits));
    }
    return AGECL_OK;
}

/* The labels to the device as they are (the loader made them floats). Positions
 * outside the age list are refused here, with the sample, rather than left to
 * make the position loss NaN. */
static agecl_status upload_targets(agecl_model *m, const agecl_labels *labels, int use_pos)
{
    agecl__heads *h = &m->heads;
    AGECL_TRY(agecl_tensor_write(m->ctx, &h->target_age, labels->age));
    if (m->cfg.gender) {
        if (labels->gender) {
            AGECL_TRY(agecl_tensor_write(m->ctx, &h->target_gender, labels->gender));
        } else {
            AGECL_TRY(agecl_tensor_fill(m->ctx, &h->target_gender, (float)AGECL_IGNORE_CLASS));
        }
    }
    if (use_pos) {
        for (int b = 0; b < m->batch; b++)
            if (!(labels->pos[b] >= 0 && labels->pos[b] < m->cfg.n_ages))
                return agecl__fail(AGECL_E_DATA, "model: sample %d has age position %g, outside "
                                   "0..%d", b, labels->pos[b], m->cfg.n_ages - 1);
        AGECL_TRY(agecl_tensor_write(m->ctx, &h->target_pos, labels->pos));
    }
    return AGECL_OK;
}

agecl_status agecl__heads_loss(agecl_model *m, const agecl_labels *labels, int use_pos,
                               agecl_losses *losses)
{
    agecl__heads *h = &m->heads;
    agecl_ctx *ctx = m->ctx;
    const agecl_loss_config *w = &m->loss;
    AGECL_TRY(upload_targets(m, labels, use_pos));

    /* Each loss and its gradient at the logits it reads. */
    AGECL_TRY(agecl_dex_forward(ctx, &h->age_logits, &h->ages, &h->target_age, &h->age_pred,
                                &h->age_err, &h->age_loss));
    AGECL_TRY(agecl_dex_backward(ctx, &h->age_logits, &h->ages, &h->target_age, w->age_weight,
                                 0.0f, &h->dage_logits));
    if (w->dist_weight > 0) {
        AGECL_TRY(agecl_label_dist_forward(ctx, &h->age_logits, &h->ages, &h->target_age,
                                           w->dist_sigma, &h->dist_loss));
        AGECL_TRY(agecl_label_dist_backward(ctx, &h->age_logits, &h->ages, &h->target_age,
                                            w->dist_sigma, w->dist_weight, 1.0f,
                                            &h->dage_logits));
    }
    if (m->cfg.gender) {
        AGECL_TRY(agecl_softmax_ce_forward(ctx, &h->gender_logits, &h->target_gender,
                                           &h->gender_loss, NULL));
        AGECL_TRY(agecl_softmax_ce_backward(ctx, &h->gender_logits, &h->target_gender,
                                            w->gender_weight, 0.0f, &h->dgender_logits));
    }
    if (use_pos) {
        AGECL_TRY(agecl_softmax_ce_forward(ctx, &h->pos_logits, &h->target_pos, &h->pos_loss,
                                           NULL));
        AGECL_TRY(agecl_softmax_ce_backward(ctx, &h->pos_logits, &h->target_pos, w->pos_weight,
                                            0.0f, &h->dpos_logits));
    }

    *losses = (agecl_losses){.abs_err = losses->abs_err};
    AGECL_TRY(agecl_tensor_read(ctx, &h->age_loss, &losses->age));
    if (w->dist_weight > 0) AGECL_TRY(agecl_tensor_read(ctx, &h->dist_loss, &losses->dist));
    if (m->cfg.gender) AGECL_TRY(agecl_tensor_read(ctx, &h->gender_loss, &losses->gender));
    if (use_pos) AGECL_TRY(agecl_tensor_read(ctx, &h->pos_loss, &losses->pos));
    losses->total = w->age_weight * losses->age + w->dist_weight * losses->dist +
                    w->gender_weight * losses->gender + w->pos_weight * losses->pos;
    if (losses->abs_err) AGECL_TRY(agecl_tensor_read(ctx, &h->age_err, losses->abs_err));
    return AGECL_OK;
}

/* From the gradients at the heads' outputs (agecl__heads_loss) to dfeat; the
 * parameter gradients accumulate onto the zeroed gradient region. */
agecl_status agecl__heads_backward(agecl_model *m)
{
    agecl__heads *h = &m->heads;
    agecl_ctx *ctx = m->ctx;
    AGECL_TRY(agecl_linear_backward(ctx, &h->feat, &h->dage_logits, agecl__P(m, h->age_w), 0.0f,
                                    &h->dfeat, 1.0f, agecl__G(m, h->age_w), agecl__G(m, h->age_b)));
    if (m->cfg.gender)
        AGECL_TRY(agecl_linear_backward(ctx, &h->feat, &h->dgender_logits,
                                        agecl__P(m, h->gender_w), 1.0f, &h->dfeat, 1.0f,
                                        agecl__G(m, h->gender_w), agecl__G(m, h->gender_b)));
    if (m->loss_pos) {
        AGECL_TRY(agecl_linear_backward(ctx, &h->rapl_out, &h->dpos_logits,
                                        agecl__P(m, h->rapl_fc_w), 0.0f, &h->drapl_out, 1.0f,
                                        agecl__G(m, h->rapl_fc_w), agecl__G(m, h->rapl_fc_b)));
        AGECL_TRY(agecl_rapl_backward(ctx, &h->drapl_out, &h->feat, agecl__P(m, h->rapl_R),
                                      agecl__P(m, h->rapl_P), agecl__P(m, h->rapl_a_w),
                                      &h->rapl_gain, &h->drapl_gain, 1.0f, &h->dfeat,
                                      agecl__G(m, h->rapl_P), agecl__G(m, h->rapl_a_w),
                                      agecl__G(m, h->rapl_a_b)));
    }
    return AGECL_OK;
}
