/* src/error.h - raising errors inside the library (not installed). */
#ifndef AGECL_SRC_ERROR_H
#define AGECL_SRC_ERROR_H

#include "agecl/status.h"

#if defined(__GNUC__)
#define AGECL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define AGECL_PRINTF(a, b)
#endif

/* Record a printf-style detail for this thread and return status, so that
 * error paths read: return agecl__fail(AGECL_E_SHAPE, "conv2d: x has %d channels", c);
 * An argument may be agecl_last_error(), to wrap the message of a failed call. */
agecl_status agecl__fail(agecl_status status, const char *fmt, ...) AGECL_PRINTF(2, 3);

/* Keep a copy of a compiler log for agecl_last_build_log(). */
void agecl__set_build_log(const char *log);

/* The name of an OpenCL error code ("CL_OUT_OF_RESOURCES"). */
const char *agecl__cl_error_name(int err);

/* Shorthand: on an OpenCL error, fail with AGECL_E_OPENCL (or OUT_OF_MEMORY) naming what. */
agecl_status agecl__cl_fail(int err, const char *what);

#define AGECL_TRY(expr)                         \
    do {                                        \
        agecl_status agecl__s = (expr);         \
        if (agecl__s != AGECL_OK) return agecl__s; \
    } while (0)

#endif
