/* src/gemm/clblast_params.h - CLBlast's SGEMM parameters inside the library:
 * a setting, its checks, giving it to CLBlast, the file that keeps it (see
 * include/agecl/clblast_tune.h for what is tuned, where it is kept and when it
 * is applied; clblast_tune.h for the search). */
#ifndef AGECL_GEMM_CLBLAST_PARAMS_H
#define AGECL_GEMM_CLBLAST_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include "agecl/clblast_tune.h"

/* CLBlast 1.5.3's names, in the order of its database (OverrideParameters needs
 * every one of a kernel). */
#define AGECL__XGEMM_PARAMS 16   /* GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB
                                    STRM STRN VWM VWN */
#define AGECL__DIRECT_PARAMS 10  /* KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD VWND WGD */

/* One complete setting of the kernels SGEMM runs. */
typedef struct agecl__clblast_params {
    size_t xgemm[AGECL__XGEMM_PARAMS];
    size_t direct[AGECL__DIRECT_PARAMS];
    size_t min_indirect;         /* GemmRoutine XGEMM_MIN_INDIRECT_SIZE */
} agecl__clblast_params;

/* CLBlast 1.5.3's generic defaults (its database's entry for unknown devices). */
extern const agecl__clblast_params agecl__clblast_defaults;

/* Their names, for CLBlastOverrideParameters and the file. */
extern const char *const agecl__clblast_xgemm_names[AGECL__XGEMM_PARAMS];
extern const char *const agecl__clblast_direct_names[AGECL__DIRECT_PARAMS];

/* The largest XGEMM_MIN_INDIRECT_SIZE taken: its cube still fits in 64 bits. */
#define AGECL__CLBLAST_MIN_INDIRECT_MAX ((size_t)1 << 20)

/* The name of a CLBlast (or OpenCL) status code. */
const char *agecl__clblast_error_name(int code);

/* The device limits a setting must fit. */
typedef struct agecl__clblast_limits {
    size_t group, item[2];
    unsigned long long local_bytes;
} agecl__clblast_limits;

agecl_status agecl__clblast_limits_of(agecl_ctx *ctx, agecl__clblast_limits *l);

/* Why a setting cannot run (CLBlast 1.5.3's tuner constraints for kernel 0, the
 * device's work-group and local memory limits), or NULL when it can; why (len
 * bytes) may hold the text. */
const char *agecl__clblast_why_not(const agecl__clblast_limits *l, const agecl__clblast_params *p,
                                   char *why, size_t len);

/* Check a setting against CLBlast's constraints and the device's limits;
 * AGECL_E_UNSUPPORTED naming the first rule broken. */
agecl_status agecl__clblast_check(agecl_ctx *ctx, const agecl__clblast_params *p);
/* Give a setting to CLBlast for ctx's device (process-wide). */
agecl_status agecl__clblast_apply(agecl_ctx *ctx, const agecl__clblast_params *p);
/* Write a setting as ctx's saved parameters (AGECL_E_IO on failure; AGECL_E_INVALID_ARG
 * with caching off); path (may be NULL) receives the file. */
agecl_status agecl__clblast_save(agecl_ctx *ctx, const agecl__clblast_params *p, double before,
                                 double after, char *path, size_t path_len);
/* Read ctx's saved parameters: AGECL_OK and *found = 1, or *found = 0 (no file,
 * caching off), or AGECL_E_FORMAT (damaged). path (may be NULL) receives the file. */
agecl_status agecl__clblast_load(agecl_ctx *ctx, agecl__clblast_params *p, int *found,
                                 char *path, size_t path_len);

/* Parse a tuning file's whole text (NUL-terminated; split in place) written for
 * key: NULL when it is a valid setting (then in *p), else why not (in why), with
 * *line_no the line at fault. The reader that tests/fuzz/ exercises. */
const char *agecl__clblast_parse(char *text, uint64_t key, agecl__clblast_params *p, int *line_no,
                                 char *why, size_t len);

/* A setting as the file's three lines (Xgemm, XgemmDirect, GemmRoutine) into
 * buf (len bytes, cut short if too small); the length written. */
size_t agecl__clblast_format(const agecl__clblast_params *p, char *buf, size_t len);

/* Give one kernel's parameters (count values, in the order of names) to
 * CLBlast for ctx's device; the routine's XGEMM_MIN_INDIRECT_SIZE alone. */
agecl_status agecl__clblast_override(agecl_ctx *ctx, const char *kernel, const char *const *names,
                                     const size_t *values, size_t count);
agecl_status agecl__clblast_override_routine(agecl_ctx *ctx, size_t min_indirect);

/* Before a CLBlast product on ctx: apply the parameters saved in ctx's cache
 * folder for its device, the first time this (device, folder) pair is seen in
 * the process. A missing or damaged file leaves CLBlast as it is. */
void agecl__clblast_use(agecl_ctx *ctx);

/* Record that ctx's (device, cache folder) has its parameters applied (after a
 * search applied and saved them), so agecl__clblast_use reads no file. */
void agecl__clblast_mark_applied(agecl_ctx *ctx);

#endif
