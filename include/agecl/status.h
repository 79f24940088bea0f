/* agecl/status.h - status codes and error details.
 *
 * Every library call returns an agecl_status. AGECL_OK is zero; anything else is
 * an error, and agecl_last_error() then holds a one-paragraph detail for the
 * calling thread (the OpenCL error name, the tensor, file or line at fault).
 * The library never prints, never calls exit() or abort(). */
#ifndef AGECL_STATUS_H
#define AGECL_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum agecl_status {
    AGECL_OK = 0,
    AGECL_E_INVALID_ARG,   /* a null pointer, a negative size, an option out of range */
    AGECL_E_SHAPE,         /* tensors whose shapes do not fit together */
    AGECL_E_UNSUPPORTED,   /* a valid request this build or device cannot do */
    AGECL_E_NO_PLATFORM,   /* no OpenCL platform is installed */
    AGECL_E_NO_DEVICE,     /* no device matches the selector */
    AGECL_E_OPENCL,        /* an OpenCL call failed; the detail names it */
    AGECL_E_BUILD,         /* a program failed to compile; see agecl_last_build_log() */
    AGECL_E_OUT_OF_MEMORY, /* host or device memory could not be allocated */
    AGECL_E_IO,            /* a file could not be opened, read or written */
    AGECL_E_FORMAT,        /* a file or record is malformed, truncated or corrupt */
    AGECL_E_BLAS,          /* CLBlast or clFFT returned an error */
    AGECL_E_DATA,          /* bad input data: a label, an image, an empty data set */
    AGECL_STATUS_COUNT
} agecl_status;

/* A short, constant description of a status ("invalid argument"). */
const char *agecl_strerror(agecl_status status);

/* The detail of the last error raised on this thread; "" when there is none. */
const char *agecl_last_error(void);

/* The full compiler log of the last failed program build on this thread; "" if none. */
const char *agecl_last_build_log(void);

/* Forget the last error of this thread. */
void agecl_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
