/* The recipes (named settings), the learning-rate schedule and the moving
 * average's decay (agecl/train.h). */
#include <math.h>
#include <string.h>
#include "agecl/train.h"
#include "error.h"

void agecl_train_defaults(agecl_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->preset = NULL; /* ir50, or the backbone of init */
    o->epochs = 30;
    o->batch = 64;
    agecl_train_recipe("paper", o); /* MODEL.md's settings, in one place */
    o->seed = 123;
    o->threads = 2;
    o->gender = -1;
    o->rapl = 1;
    o->bucket_mb = -1; /* overlap on GPUs only */
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
        o->tta_flip = 0, o->tta_zoom = 0;
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
        o->tta_zoom = 1; /* 5.40 -> 5.23 on validation (docs/recipes.md) */
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
