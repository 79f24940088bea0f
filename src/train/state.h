/* src/train/state.h - a training run's state and settings in its checkpoints:
 * last.safetensors carries the state (epochs done, step, best epoch and MAE, the
 * per-epoch history) and the settings in force, best.safetensors the settings. */
#ifndef AGECL_TRAIN_STATE_H
#define AGECL_TRAIN_STATE_H

#include "agecl/model.h"
#include "agecl/train.h"
#include "train/history.h"

typedef struct agecl__train_state {
    int epochs_done;
    long long step;
    int best_epoch;
    double best_mae;
    agecl__epoch_record *history; /* epochs_done records (room for opt->epochs) */
} agecl__train_state;

/* Save m with its optimiser state, the run's state and settings (last.safetensors). */
agecl_status agecl__state_save(agecl_model *m, const char *path, const agecl_train_options *o,
                               const agecl__train_state *st);

/* Load what agecl__state_save wrote into m and st, refusing a file of another batch
 * size or with more epochs than o->epochs; every number is range-checked, since a
 * damaged or hostile file must not size or index anything. */
agecl_status agecl__state_load(agecl_model *m, const char *path, const agecl_train_options *o,
                               agecl__train_state *st);

/* Save m's weights with the settings in force (best.safetensors). */
agecl_status agecl__state_save_best(agecl_model *m, const char *path,
                                    const agecl_train_options *o);

#endif
