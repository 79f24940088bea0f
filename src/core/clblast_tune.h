/* src/core/clblast_tune.h - CLBlast parameters inside the library (see
 * include/agecl/clblast_tune.h for what is tuned, where it is kept and when it
 * is applied). */
#ifndef AGECL_CORE_CLBLAST_TUNE_H
#define AGECL_CORE_CLBLAST_TUNE_H

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

/* One product of the timing set: row-major C[m x n] = op(A) op(B). */
typedef struct agecl__clblast_shape {
    size_t m, n, k;
    int a_trans, b_trans;
} agecl__clblast_shape;

/* What a search tries: candidates of each kernel in order, and the products
 * that time them. */
typedef struct agecl__clblast_search {
    const size_t (*xgemm)[AGECL__XGEMM_PARAMS];
    int n_xgemm;
    const size_t (*direct)[AGECL__DIRECT_PARAMS];
    int n_direct;
    const agecl__clblast_shape *shapes;
    int n_shapes;
} agecl__clblast_search;

/* Before a CLBlast product on ctx: apply the parameters saved in ctx's cache
 * folder for its device, the first time this (device, folder) pair is seen in
 * the process. A missing or damaged file leaves CLBlast as it is. */
void agecl__clblast_use(agecl_ctx *ctx);

/* The tune with a given search (agecl_clblast_tune_ex uses the device's lists). */
agecl_status agecl__clblast_tune_search(agecl_ctx *ctx, const agecl__clblast_search *search,
                                        const agecl_clblast_tune_options *options,
                                        agecl_clblast_tune_report *report);

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

#endif
