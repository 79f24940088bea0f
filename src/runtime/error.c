/* Status names, the per-thread error detail and OpenCL error names. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CL/cl.h>
#include "error.h"

static _Thread_local char last_error[4096];
static _Thread_local char *last_build_log;

const char *agecl_strerror(agecl_status status)
{
    switch (status) {
    case AGECL_OK: return "success";
    case AGECL_E_INVALID_ARG: return "invalid argument";
    case AGECL_E_SHAPE: return "shape mismatch";
    case AGECL_E_UNSUPPORTED: return "unsupported";
    case AGECL_E_NO_PLATFORM: return "no OpenCL platform";
    case AGECL_E_NO_DEVICE: return "no matching OpenCL device";
    case AGECL_E_OPENCL: return "OpenCL error";
    case AGECL_E_BUILD: return "OpenCL program build failed";
    case AGECL_E_OUT_OF_MEMORY: return "out of memory";
    case AGECL_E_IO: return "I/O error";
    case AGECL_E_FORMAT: return "malformed or corrupt file";
    case AGECL_E_BLAS: return "CLBlast/clFFT error";
    case AGECL_E_DATA: return "bad input data";
    case AGECL_STATUS_COUNT: break;
    }
    return "unknown status";
}

const char *agecl_last_error(void) { return last_error; }

const char *agecl_last_build_log(void) { return last_build_log ? last_build_log : ""; }

void agecl_clear_error(void) { last_error[0] = '\0'; }

agecl_status agecl__fail(agecl_status status, const char *fmt, ...)
{
    /* through a copy, so that a message may wrap the last one (agecl_last_error()) */
    char msg[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof msg);
    return status;
}

void agecl__set_build_log(const char *log)
{
    free(last_build_log);
    last_build_log = log ? strdup(log) : NULL;
}

const char *agecl__cl_error_name(int err)
{
#define E(x) case x: return #x
    switch (err) {
    E(CL_SUCCESS); E(CL_DEVICE_NOT_FOUND); E(CL_DEVICE_NOT_AVAILABLE);
    E(CL_COMPILER_NOT_AVAILABLE); E(CL_MEM_OBJECT_ALLOCATION_FAILURE);
    E(CL_OUT_OF_RESOURCES); E(CL_OUT_OF_HOST_MEMORY); E(CL_PROFILING_INFO_NOT_AVAILABLE);
    E(CL_MEM_COPY_OVERLAP); E(CL_IMAGE_FORMAT_MISMATCH); E(CL_IMAGE_FORMAT_NOT_SUPPORTED);
    E(CL_BUILD_PROGRAM_FAILURE); E(CL_MAP_FAILURE); E(CL_MISALIGNED_SUB_BUFFER_OFFSET);
    E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST); E(CL_COMPILE_PROGRAM_FAILURE);
    E(CL_LINKER_NOT_AVAILABLE); E(CL_LINK_PROGRAM_FAILURE); E(CL_DEVICE_PARTITION_FAILED);
    E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE); E(CL_INVALID_VALUE); E(CL_INVALID_DEVICE_TYPE);
    E(CL_INVALID_PLATFORM); E(CL_INVALID_DEVICE); E(CL_INVALID_CONTEXT);
    E(CL_INVALID_QUEUE_PROPERTIES); E(CL_INVALID_COMMAND_QUEUE); E(CL_INVALID_HOST_PTR);
    E(CL_INVALID_MEM_OBJECT); E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR); E(CL_INVALID_IMAGE_SIZE);
    E(CL_INVALID_SAMPLER); E(CL_INVALID_BINARY); E(CL_INVALID_BUILD_OPTIONS);
    E(CL_INVALID_PROGRAM); E(CL_INVALID_PROGRAM_EXECUTABLE); E(CL_INVALID_KERNEL_NAME);
    E(CL_INVALID_KERNEL_DEFINITION); E(CL_INVALID_KERNEL); E(CL_INVALID_ARG_INDEX);
    E(CL_INVALID_ARG_VALUE); E(CL_INVALID_ARG_SIZE); E(CL_INVALID_KERNEL_ARGS);
    E(CL_INVALID_WORK_DIMENSION); E(CL_INVALID_WORK_GROUP_SIZE); E(CL_INVALID_WORK_ITEM_SIZE);
    E(CL_INVALID_GLOBAL_OFFSET); E(CL_INVALID_EVENT_WAIT_LIST); E(CL_INVALID_EVENT);
    E(CL_INVALID_OPERATION); E(CL_INVALID_GL_OBJECT); E(CL_INVALID_BUFFER_SIZE);
    E(CL_INVALID_MIP_LEVEL); E(CL_INVALID_GLOBAL_WORK_SIZE); E(CL_INVALID_PROPERTY);
    E(CL_INVALID_IMAGE_DESCRIPTOR); E(CL_INVALID_COMPILER_OPTIONS); E(CL_INVALID_LINKER_OPTIONS);
    E(CL_INVALID_DEVICE_PARTITION_COUNT);
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "unknown OpenCL error";
    }
#undef E
}

agecl_status agecl__cl_fail(int err, const char *what)
{
    agecl_status s = (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
                      err == CL_INVALID_BUFFER_SIZE)
                         ? AGECL_E_OUT_OF_MEMORY
                         : AGECL_E_OPENCL;
    return agecl__fail(s, "%s: %s (%d)", what, agecl__cl_error_name(err), err);
}
