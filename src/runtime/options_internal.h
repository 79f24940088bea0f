/* src/runtime/options_internal.h - what the library itself needs of agecl_options. */
#ifndef AGECL_RUNTIME_OPTIONS_INTERNAL_H
#define AGECL_RUNTIME_OPTIONS_INTERNAL_H

#include "agecl/options.h"
#include "agecl/runtime.h"

/* AGECL_DEVICE when set and not empty, else NULL (agecl_device_select's default). */
const char *agecl__options_env_device(void);

/* Fail naming the field when o holds a value outside the table. */
agecl_status agecl__options_check(const agecl_options *o);

/* Whether the CPU kernel family runs on a device described by info: o->kernels when
 * forced, else the device's type. */
int agecl__options_cpu_kernels(const agecl_options *o, const agecl_device_info *info);

#endif
