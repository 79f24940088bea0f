/* agecl/clblast_tune.h - tuning CLBlast's matrix product for a device.
 *
 * CLBlast picks the kernel parameters of its SGEMM from a database of devices it
 * was tuned on; any other device gets generic values that can be several times
 * slower (PoCL on an AMD CPU: 4-27 GFLOP/s at convolution shapes). agecl tunes
 * the parameters itself, keeps them in the context's cache folder and gives them
 * to CLBlast (CLBlastOverrideParameters) whenever that device multiplies through
 * CLBlast:
 *
 *   agecl_clblast_tune_report r;
 *   if (agecl_clblast_tune(ctx, &r) == AGECL_OK)
 *       printf("%.1f -> %.1f GFLOP/s\n", r.gflops_before, r.gflops_after);
 *
 * What is tuned: the parameters of the kernels CLBlast's SGEMM runs, "Xgemm"
 * (the tiled kernel, after copy/pad/transpose kernels bring the operands to its
 * layout) and "XgemmDirect" (one kernel on the operands in place), and the size
 * at which SGEMM switches from the direct to the tiled kernel ("GemmRoutine"
 * XGEMM_MIN_INDIRECT_SIZE: the tiled one when m*n*k >= size^3). The copy, pad
 * and transpose kernels keep CLBlast's values (on PoCL the transposes take a
 * quarter of a backward-filter product, but other tile shapes for them changed
 * its time by under 5%). Each candidate of a short list for the device's type
 * (CPUs or GPUs; those that break CLBlast's rules or the device's work-group and
 * local memory limits are left out), then CLBlast's generic defaults, is applied
 * and timed on products shaped like IR50's convolutions (forward, backward data,
 * backward filter; a warm-up, then the median of 3): first the tiled kernel
 * alone, then the direct one alone, and the switch size is the one that gives
 * the least total time. Candidates CLBlast refuses or fails to run are skipped.
 * Every candidate costs a compilation of CLBlast's program, 5 to 20 seconds on
 * PoCL, so the search starts no new candidate once its time budget is spent
 * (2 minutes by default; half of it for the tiled kernel).
 *
 * Where: <cache folder>/clblast-<key>.txt, the key a hash of the platform, the
 * device, its driver and the CLBlast library loaded (file name, which carries
 * its version, and size): after a new driver or CLBlast the old file is not
 * found, and the device runs CLBlast's own values until tuned again. A text file of lines "Xgemm NAME=VALUE ...", written
 * atomically. A damaged file (truncated, unknown or missing names, values
 * CLBlast's kernels or the device cannot take) or an unreadable one is ignored,
 * and agecl_clblast_tuned reports it.
 * With caching off (no cache folder) the tune applies its result to this
 * process only.
 *
 * When: the first CLBlast product of each context whose cache folder holds
 * parameters for its device applies them (once). CLBlast keeps parameters per
 * device for the whole process: contexts on one device share them (a context
 * whose folder holds none runs what another applied), and products other
 * threads run on that device during a tune use the candidates being timed
 * (their results stay right). */
#ifndef AGECL_CLBLAST_TUNE_H
#define AGECL_CLBLAST_TUNE_H

#include "agecl/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agecl_clblast_tune_report {
    double gflops_before; /* over the tuning products, with the parameters in use before */
    double gflops_after;  /* the same products with the parameters chosen */
    int tried;            /* candidates timed (or refused), over both kernels */
    int failed;           /* candidates CLBlast refused or failed to run: skipped */
    int skipped;          /* candidates left untried when the time budget ran out */
    double seconds;       /* wall time of the whole tune */
    int saved;            /* 1 when written to the cache folder */
    char path[1100];      /* the file written, "" when not saved */
    char chosen[1024];    /* the parameters chosen, as the file's lines */
} agecl_clblast_tune_report;

typedef struct agecl_clblast_tune_options {
    double budget_seconds; /* no new candidate is started after this; 0: 120 */
    /* Called with a line of progress ("Xgemm 3/9 MWG=64 ...: 85.2 GFLOP/s"); may be NULL. */
    void (*progress)(void *user, const char *line);
    void *user;
} agecl_clblast_tune_options;

/* Search the parameters for the context's device, apply the best and save it
 * to the cache folder (see above). report may be NULL. */
agecl_status agecl_clblast_tune(agecl_ctx *ctx, agecl_clblast_tune_report *report);
/* The same with options (NULL: the defaults). */
agecl_status agecl_clblast_tune_ex(agecl_ctx *ctx, const agecl_clblast_tune_options *options,
                                   agecl_clblast_tune_report *report);

/* *has = 1 when the context's cache folder holds tuned parameters for its device
 * (applied at its first CLBlast product), else 0. A damaged file: *has = 0 and
 * AGECL_E_FORMAT, the detail naming the file and what is wrong with it (an
 * unreadable one: AGECL_E_IO). */
agecl_status agecl_clblast_tuned(agecl_ctx *ctx, int *has);

#ifdef __cplusplus
}
#endif
#endif
