/* src/train/report.h - what a training run says on its progress stream (NULL:
 * nothing): lines, the step counter, bad images, where the device time went. */
#ifndef AGECL_TRAIN_REPORT_H
#define AGECL_TRAIN_REPORT_H

#include <stdio.h>
#include "agecl/data.h"
#include "agecl/runtime.h"
#include "error.h"

/* printf to out, flushed. */
void agecl__say(FILE *out, const char *fmt, ...) AGECL_PRINTF(2, 3);

/* The step counter: on a terminal redrawn in place, in a log file one line each
 * time. */
void agecl__say_step(FILE *out, int epoch, int epochs, int step, int steps, double loss,
                     double img_s, double eta);

/* How often to call agecl__say_step: seconds. */
double agecl__say_every(FILE *out);

/* End the step counter's line on a terminal. */
void agecl__say_step_done(FILE *out);

/* The loader's bad images met since it had counted `before`, once each. */
void agecl__say_issues(FILE *out, const agecl_loader *l, int before);

/* With AGECL_PROFILE=1: where the device time went since the last call, largest
 * first; then the profile is reset. */
void agecl__say_profile(FILE *out, agecl_ctx *ctx);

#endif
