/* The per-epoch record of a training run, its JSON lines and its SVG plot. */
#ifndef AGECL_TRAIN_HISTORY_H
#define AGECL_TRAIN_HISTORY_H

#include "agecl/status.h"

typedef struct agecl__epoch_record {
    int epoch;
    double lr;
    double loss, loss_age, loss_gender, loss_pos, loss_dist; /* means over the epoch's steps */
    double val_mae, val_cs5, val_gender_acc;
    double images_per_s, seconds;
    double skipped, val_skipped; /* bad images skipped: training (this epoch), validation */
} agecl__epoch_record;

/* One JSON object, no newline, into buf. */
void agecl__record_json(const agecl__epoch_record *r, char *buf, size_t len);

/* Parse what agecl__record_json wrote (1 on success). */
int agecl__record_parse(const char *line, agecl__epoch_record *r);

/* Write records as log.jsonl and curves.svg in dir (atomically). */
agecl_status agecl__history_write(const char *dir, const agecl__epoch_record *r, int n);

#endif
