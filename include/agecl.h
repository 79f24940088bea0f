/* agecl.h - face-based age estimation on OpenCL: the whole public API.
 *
 * agecl trains and runs the model of "Relative Age Position Learning for
 * Face-Based Age Estimation" (IEEE Access 2024): an IR-50 backbone with an
 * expected-value age head, a gender head and a relative age position head,
 * on any OpenCL 1.2 device. Every call returns an agecl_status (agecl/status.h).
 *
 *   agecl_ctx *ctx;
 *   if (agecl_ctx_create(&ctx, NULL, 0) != AGECL_OK)
 *       fprintf(stderr, "%s\n", agecl_last_error());
 *
 * Link with `pkg-config --cflags --libs agecl`. */
#ifndef AGECL_H
#define AGECL_H

#define AGECL_VERSION_MAJOR 0
#define AGECL_VERSION_MINOR 1
#define AGECL_VERSION_PATCH 0

#include "agecl/status.h"
#include "agecl/comm.h"
#include "agecl/options.h"
#include "agecl/runtime.h"
#include "agecl/tensor.h"
#include "agecl/conv.h"
#include "agecl/layers.h"
#include "agecl/losses.h"
#include "agecl/optim.h"
#include "agecl/safetensors.h"
#include "agecl/data.h"
#include "agecl/model.h"
#include "agecl/train.h"
#include "agecl/predict.h"

#endif
