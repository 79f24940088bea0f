/* CLBlast's SGEMM parameters for a device: the search, the file that keeps
 * them and applying them (include/agecl/clblast_tune.h says what and why).
 *
 * The file, <cache folder>/clblast-<key>.txt:
 *
 *   agecl-clblast-tune 1
 *   key 0123456789abcdef
 *   # <device, driver, CLBlast library, GFLOP/s measured: comments, ignored>
 *   Xgemm GEMMK=0 KREG=1 KWG=32 ...          all 16 of CLBlast 1.5.3's names
 *   XgemmDirect KWID=2 MDIMAD=8 ...          all 10
 *   GemmRoutine XGEMM_MIN_INDIRECT_SIZE=896
 *   end
 *
 * Anything else (another first line or key, an unknown or repeated name, a
 * missing line or value, a value CLBlast's kernels or the device cannot take, no
 * "end" last) makes the file damaged: it is ignored, never half applied. */
#define _GNU_SOURCE /* dladdr, to name the CLBlast library actually loaded */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <clblast_c.h>
#include "core/blas.h"
#include "core/clblast_tune.h"
#include "core/ctx.h"
#include "core/hash.h"
#include "error.h"
#include "io/atomic_file.h"

#define FILE_MAGIC "agecl-clblast-tune 1"
#define FILE_MAX_BYTES 16384
#define VALUE_MAX 1024                   /* above any tile or vector width */
#define MIN_INDIRECT_MAX ((size_t)1 << 20) /* its cube still fits in 64 bits */
#define MAX_SHAPES 8
#define DEFAULT_BUDGET_S 120.0
#define SLOW_FACTOR 3.0 /* a candidate this much slower than the best on a product is dropped */

enum { XG_GEMMK, XG_KREG, XG_KWG, XG_KWI, XG_MDIMA, XG_MDIMC, XG_MWG, XG_NDIMB, XG_NDIMC,
       XG_NWG, XG_SA, XG_SB, XG_STRM, XG_STRN, XG_VWM, XG_VWN };
enum { XD_KWID, XD_MDIMAD, XD_MDIMCD, XD_NDIMBD, XD_NDIMCD, XD_PADA, XD_PADB, XD_VWMD,
       XD_VWND, XD_WGD };

static const char *const xgemm_names[AGECL__XGEMM_PARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"};
static const char *const direct_names[AGECL__DIRECT_PARAMS] = {
    "KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "PADA", "PADB", "VWMD", "VWND", "WGD"};
static const char *const routine_names[1] = {"XGEMM_MIN_INDIRECT_SIZE"};

/* What CLBlast 1.5.3 runs on a device its database does not know (read back
 * with its RetrieveParameters on PoCL). */
const agecl__clblast_params agecl__clblast_defaults = {
    {0, 1, 32, 2, 8, 8, 32, 16, 16, 32, 1, 1, 0, 0, 4, 2},
    {2, 8, 8, 8, 8, 1, 1, 1, 1, 16},
    896};

/* The candidates, best first as far as is known, since the budget may stop the
 * list early; agecl_clblast_tune_ex appends CLBlast's defaults to each list.
 * Xgemm: GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN.
 * XgemmDirect: KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD VWND WGD.
 * CPUs, from timings on PoCL (AMD EPYC, AVX-512): the tiled kernel with 8 x 8
 * results per work-item in 8-wide vectors and no local memory (only cache on a
 * CPU) ran 3 to 4 times faster than the defaults, 4-wide vectors about a third
 * slower; the direct kernel stayed 3 times slower than the tiled one at
 * convolution sizes, and its compilation grows steeply with the results per
 * work-item (minutes at 8 x 8), so only a 4 x 4 one is tried. */
static const size_t cpu_xgemm[][AGECL__XGEMM_PARAMS] = {
    {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 8, 8},
    {0, 1, 32, 2, 8, 8, 64, 4, 4, 32, 0, 0, 0, 0, 8, 8},
    {0, 1, 32, 2, 16, 16, 128, 8, 8, 64, 0, 0, 0, 0, 8, 8},
    {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4},
};
static const size_t cpu_direct[][AGECL__DIRECT_PARAMS] = {
    {2, 8, 8, 8, 8, 0, 0, 4, 4, 32},
};
/* GPUs: 64 to 256 work-items, operands staged in local memory, 4 x 4 to 8 x 8
 * results per work-item (CLBlast's database holds values of this kind). */
static const size_t gpu_xgemm[][AGECL__XGEMM_PARAMS] = {
    {0, 1, 32, 2, 16, 16, 128, 16, 16, 128, 1, 1, 1, 1, 4, 4},
    {0, 1, 16, 2, 16, 16, 64, 16, 16, 64, 1, 1, 0, 0, 2, 2},
    {0, 1, 16, 2, 8, 8, 64, 8, 8, 64, 1, 1, 1, 0, 4, 4},
    {0, 1, 32, 2, 32, 32, 128, 8, 8, 64, 1, 1, 0, 0, 4, 2},
    {0, 1, 32, 2, 8, 8, 32, 32, 32, 64, 1, 1, 0, 0, 4, 2},
};
static const size_t gpu_direct[][AGECL__DIRECT_PARAMS] = {
    {2, 16, 16, 16, 16, 1, 1, 4, 4, 64},
    {2, 8, 8, 8, 8, 1, 1, 2, 2, 32},
    {2, 16, 16, 16, 16, 1, 1, 2, 2, 32},
    {4, 8, 8, 8, 8, 1, 1, 4, 4, 64},
};

/* Products shaped like IR50's convolutions as im2col + GEMM runs them (chunks of
 * samples, see bench/bench_gemm.c): 128 -> 128 channels at 28 x 28, 4 samples
 * (forward, backward data, backward filter), and 256 -> 256 at 14 x 14, one
 * sample, smaller, which places the switch between the two kernels. */
static const agecl__clblast_shape conv_shapes[] = {
    {128, 3136, 1152, 0, 0},
    {1152, 3136, 128, 1, 0},
    {128, 1152, 3136, 0, 1},
    {256, 196, 2304, 0, 0},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- checking a setting ---- */

static int vector_width(size_t v) { return v == 1 || v == 2 || v == 4 || v == 8 || v == 16; }
static int divides(size_t d, size_t x) { return d && x % d == 0; }

typedef struct device_limits {
    size_t group, item[2];
    unsigned long long local_bytes;
} device_limits;

static agecl_status limits_of(agecl_ctx *ctx, device_limits *l)
{
    size_t items[16] = {0};
    cl_int err = clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items,
                                 NULL);
    if (err != CL_SUCCESS) return agecl__cl_fail(err, "clGetDeviceInfo(MAX_WORK_ITEM_SIZES)");
    l->group = ctx->info.max_work_group_size;
    l->item[0] = items[0];
    l->item[1] = items[1];
    l->local_bytes = ctx->info.local_mem_bytes;
    return AGECL_OK;
}

/* Why a setting cannot run (CLBlast 1.5.3's tuner constraints for kernel 0, the
 * device's work-group and local memory limits), or NULL when it can. */
static const char *why_not(const device_limits *l, const agecl__clblast_params *p, char *why,
                           size_t len)
{
    const size_t *x = p->xgemm, *d = p->direct;
    for (int i = 0; i < AGECL__XGEMM_PARAMS; i++)
        if (x[i] > VALUE_MAX) return snprintf(why, len, "Xgemm %s too large", xgemm_names[i]), why;
    for (int i = 0; i < AGECL__DIRECT_PARAMS; i++)
        if (d[i] > VALUE_MAX)
            return snprintf(why, len, "XgemmDirect %s too large", direct_names[i]), why;
    if (p->min_indirect < 1 || p->min_indirect > MIN_INDIRECT_MAX)
        return "GemmRoutine XGEMM_MIN_INDIRECT_SIZE out of range";

    if (x[XG_GEMMK] != 0 || x[XG_KREG] != 1) return "Xgemm: only GEMMK=0 with KREG=1 is used";
    if (x[XG_SA] > 1 || x[XG_SB] > 1 || x[XG_STRM] > 1 || x[XG_STRN] > 1)
        return "Xgemm: SA, SB, STRM and STRN are 0 or 1";
    if (!vector_width(x[XG_VWM]) || !vector_width(x[XG_VWN]))
        return "Xgemm: VWM and VWN are 1, 2, 4, 8 or 16";
    size_t threads = x[XG_MDIMC] * x[XG_NDIMC];
    if (!divides(x[XG_KWI], x[XG_KWG])) return "Xgemm: KWG is not a multiple of KWI";
    if (!divides(x[XG_MDIMC] * x[XG_VWM], x[XG_MWG]) ||
        !divides(x[XG_NDIMC] * x[XG_VWN], x[XG_NWG]))
        return "Xgemm: MWG (NWG) is not a multiple of MDIMC*VWM (NDIMC*VWN)";
    if (!divides(x[XG_MDIMA] * x[XG_VWM], x[XG_MWG]) ||
        !divides(x[XG_NDIMB] * x[XG_VWN], x[XG_NWG]))
        return "Xgemm: MWG (NWG) is not a multiple of MDIMA*VWM (NDIMB*VWN)";
    if (!divides(x[XG_MDIMA], threads) || !divides(x[XG_NDIMB], threads) ||
        !divides(threads / x[XG_MDIMA], x[XG_KWG]) || !divides(threads / x[XG_NDIMB], x[XG_KWG]))
        return "Xgemm: KWG is not a multiple of MDIMC*NDIMC/MDIMA and MDIMC*NDIMC/NDIMB";
    if (threads > l->group || x[XG_MDIMC] > l->item[0] || x[XG_NDIMC] > l->item[1])
        return "Xgemm: the work-group MDIMC x NDIMC is larger than the device allows";
    if ((x[XG_SA] * x[XG_KWG] * x[XG_MWG] + x[XG_SB] * x[XG_KWG] * x[XG_NWG]) * sizeof(float) >
        l->local_bytes)
        return "Xgemm: more local memory than the device has";

    if (d[XD_PADA] > 1 || d[XD_PADB] > 1) return "XgemmDirect: PADA and PADB are 0 or 1";
    if (!vector_width(d[XD_VWMD]) || !vector_width(d[XD_VWND]))
        return "XgemmDirect: VWMD and VWND are 1, 2, 4, 8 or 16";
    size_t wgd = d[XD_WGD], dthreads = d[XD_MDIMCD] * d[XD_NDIMCD];
    if (!divides(d[XD_KWID], wgd)) return "XgemmDirect: WGD is not a multiple of KWID";
    if (!divides(d[XD_MDIMCD] * d[XD_VWMD], wgd) || !divides(d[XD_NDIMCD] * d[XD_VWND], wgd) ||
        !divides(d[XD_MDIMAD] * d[XD_VWMD], wgd) || !divides(d[XD_NDIMBD] * d[XD_VWND], wgd))
        return "XgemmDirect: WGD is not a multiple of MDIMCD*VWMD, NDIMCD*VWND, MDIMAD*VWMD "
               "and NDIMBD*VWND";
    if (!divides(d[XD_MDIMAD], dthreads) || !divides(d[XD_NDIMBD], dthreads) ||
        !divides(dthreads / d[XD_MDIMAD], wgd) || !divides(dthreads / d[XD_NDIMBD], wgd))
        return "XgemmDirect: WGD is not a multiple of MDIMCD*NDIMCD/MDIMAD and "
               "MDIMCD*NDIMCD/NDIMBD";
    if (dthreads > l->group || d[XD_MDIMCD] > l->item[0] || d[XD_NDIMCD] > l->item[1])
        return "XgemmDirect: the work-group MDIMCD x NDIMCD is larger than the device allows";
    if ((wgd * (wgd + d[XD_PADA]) + wgd * (wgd + d[XD_PADB])) * sizeof(float) > l->local_bytes)
        return "XgemmDirect: more local memory than the device has";
    return NULL;
}

agecl_status agecl__clblast_check(agecl_ctx *ctx, const agecl__clblast_params *p)
{
    device_limits l;
    AGECL_TRY(limits_of(ctx, &l));
    char why[160];
    const char *bad = why_not(&l, p, why, sizeof why);
    return bad ? agecl__fail(AGECL_E_UNSUPPORTED, "CLBlast parameters for %s: %s", ctx->info.name,
                             bad)
               : AGECL_OK;
}

/* ---- giving a setting to CLBlast ---- */

static agecl_status override(agecl_ctx *ctx, const char *kernel, const char *const *names,
                             const size_t *values, size_t count)
{
    CLBlastStatusCode code = CLBlastOverrideParameters(
        ctx->device, kernel, CLBlastPrecisionSingle, count, (const char **)names, values);
    if (code == CLBlastSuccess) return AGECL_OK;
    return agecl__fail(AGECL_E_BLAS, "CLBlastOverrideParameters(%s) on %s: %s (%d)", kernel,
                       ctx->info.name, agecl__clblast_error_name(code), code);
}

static agecl_status override_routine(agecl_ctx *ctx, size_t min_indirect)
{
    return override(ctx, "GemmRoutine", routine_names, &min_indirect, 1);
}

agecl_status agecl__clblast_apply(agecl_ctx *ctx, const agecl__clblast_params *p)
{
    AGECL_TRY(agecl__clblast_check(ctx, p));
    AGECL_TRY(override(ctx, "Xgemm", xgemm_names, p->xgemm, AGECL__XGEMM_PARAMS));
    AGECL_TRY(override(ctx, "XgemmDirect", direct_names, p->direct, AGECL__DIRECT_PARAMS));
    return override_routine(ctx, p->min_indirect);
}

/* ---- the file ---- */

/* The CLBlast library this process runs: its file name (Debian's carries the
 * version, libclblast.so.1.5.3) and size. */
static void clblast_library(char *out, size_t len)
{
    Dl_info info;
    char real[PATH_MAX];
    struct stat st;
    if (dladdr((void *)CLBlastSgemm, &info) && info.dli_fname &&
        realpath(info.dli_fname, real) && stat(real, &st) == 0) {
        const char *base = strrchr(real, '/');
        snprintf(out, len, "%s (%lld bytes)", base ? base + 1 : real, (long long)st.st_size);
    } else {
        snprintf(out, len, "unknown");
    }
}

static uint64_t file_key(const agecl_ctx *ctx)
{
    char lib[PATH_MAX + 40];
    clblast_library(lib, sizeof lib);
    uint64_t h = agecl__fnv1a_str(agecl__device_key(&ctx->info), FILE_MAGIC);
    return agecl__fnv1a_str(h, lib);
}

static void file_path(const agecl_ctx *ctx, uint64_t key, char *path, size_t len)
{
    snprintf(path, len, "%s/clblast-%016llx.txt", ctx->cache_dir, (unsigned long long)key);
}

static void put_line(char *buf, size_t len, size_t *used, const char *kernel,
                     const char *const *names, const size_t *values, int count)
{
    *used += snprintf(buf + *used, *used < len ? len - *used : 0, "%s", kernel);
    for (int i = 0; i < count; i++)
        *used += snprintf(buf + *used, *used < len ? len - *used : 0, " %s=%zu", names[i],
                          values[i]);
    *used += snprintf(buf + *used, *used < len ? len - *used : 0, "\n");
}

/* The parameter lines of the file. */
static size_t format_params(const agecl__clblast_params *p, char *buf, size_t len)
{
    size_t used = 0;
    put_line(buf, len, &used, "Xgemm", xgemm_names, p->xgemm, AGECL__XGEMM_PARAMS);
    put_line(buf, len, &used, "XgemmDirect", direct_names, p->direct, AGECL__DIRECT_PARAMS);
    put_line(buf, len, &used, "GemmRoutine", routine_names, &p->min_indirect, 1);
    return used;
}

agecl_status agecl__clblast_save(agecl_ctx *ctx, const agecl__clblast_params *p, double before,
                                 double after, char *path, size_t path_len)
{
    if (!ctx->cache_dir[0])
        return agecl__fail(AGECL_E_INVALID_ARG, "clblast tune: caching is off (no cache folder)");
    AGECL_TRY(agecl__clblast_check(ctx, p));
    uint64_t key = file_key(ctx);
    char file[1100], lib[PATH_MAX + 40], text[FILE_MAX_BYTES];
    file_path(ctx, key, file, sizeof file);
    clblast_library(lib, sizeof lib);
    size_t n = (size_t)snprintf(text, sizeof text,
                                FILE_MAGIC "\nkey %016llx\n"
                                "# device: %s (%s; driver %s)\n"
                                "# CLBlast: %s\n"
                                "# SGEMM at the tuning products: %.1f GFLOP/s before, %.1f after\n",
                                (unsigned long long)key, ctx->info.name, ctx->info.platform,
                                ctx->info.driver_version, lib, before, after);
    n += format_params(p, text + n, sizeof text - n);
    n += (size_t)snprintf(text + n, sizeof text - n, "end\n");
    if (n >= sizeof text)
        return agecl__fail(AGECL_E_INVALID_ARG, "clblast tune: file text too long");
    if (path) snprintf(path, path_len, "%s", file);

    agecl__atomic_file f;
    AGECL_TRY(agecl__atomic_begin(&f, file));
    agecl_status st = agecl__atomic_write(&f, text, n);
    if (st != AGECL_OK) {
        agecl__atomic_abort(&f);
        return st;
    }
    return agecl__atomic_commit(&f);
}

/* Parse "NAME=VALUE ..." for one kernel: every name of the list exactly once. */
static const char *parse_values(char *text, const char *const *names, int count, size_t *values,
                                char *why, size_t len)
{
    int seen[AGECL__XGEMM_PARAMS] = {0};
    char *save = NULL;
    for (char *tok = strtok_r(text, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return snprintf(why, len, "'%.40s' is not NAME=VALUE", tok), why;
        *eq = '\0';
        int i = 0;
        while (i < count && strcmp(names[i], tok) != 0) i++;
        if (i == count) return snprintf(why, len, "unknown parameter '%.40s'", tok), why;
        if (seen[i]++) return snprintf(why, len, "%s given twice", names[i]), why;
        const char *v = eq + 1;
        size_t digits = strspn(v, "0123456789");
        if (digits == 0 || digits > 7 || v[digits] != '\0')
            return snprintf(why, len, "%s has no valid value", names[i]), why;
        values[i] = (size_t)strtoull(v, NULL, 10);
    }
    for (int i = 0; i < count; i++)
        if (!seen[i]) return snprintf(why, len, "%s is missing", names[i]), why;
    return NULL;
}

const char *agecl__clblast_parse(char *text, uint64_t key, agecl__clblast_params *p, int *line_no,
                              char *why, size_t len)
{
    int have_x = 0, have_d = 0, have_r = 0, ended = 0;
    char *save = NULL;
    *line_no = 0;
    /* strtok_r would merge empty lines away: walk the lines by hand. */
    for (char *line = text; *line; line = save) {
        char *nl = strchr(line, '\n');
        if (!nl) return "the last line has no end (truncated)";
        *nl = '\0';
        save = nl + 1;
        ++*line_no;
        if (ended) return "text after 'end'";
        if (*line_no == 1) {
            if (strcmp(line, FILE_MAGIC) != 0) return "not an agecl CLBlast tuning file";
        } else if (*line_no == 2) {
            char expect[40];
            snprintf(expect, sizeof expect, "key %016llx", (unsigned long long)key);
            if (strcmp(line, expect) != 0) return "the key is not this device's";
        } else if (line[0] == '#') {
            continue;
        } else if (!strncmp(line, "Xgemm ", 6)) {
            if (have_x++) return "two Xgemm lines";
            const char *bad = parse_values(line + 6, xgemm_names, AGECL__XGEMM_PARAMS, p->xgemm,
                                           why, len);
            if (bad) return bad;
        } else if (!strncmp(line, "XgemmDirect ", 12)) {
            if (have_d++) return "two XgemmDirect lines";
            const char *bad = parse_values(line + 12, direct_names, AGECL__DIRECT_PARAMS,
                                           p->direct, why, len);
            if (bad) return bad;
        } else if (!strncmp(line, "GemmRoutine ", 12)) {
            if (have_r++) return "two GemmRoutine lines";
            const char *bad = parse_values(line + 12, routine_names, 1, &p->min_indirect, why,
                                           len);
            if (bad) return bad;
        } else if (!strcmp(line, "end")) {
            ended = 1;
        } else {
            return "an unknown line";
        }
    }
    if (*line_no < 2) return "the file is too short";
    if (!have_x || !have_d || !have_r) return "a kernel's line is missing";
    if (!ended) return "no 'end' line (truncated)";
    return NULL;
}

agecl_status agecl__clblast_load(agecl_ctx *ctx, agecl__clblast_params *p, int *found,
                                 char *path, size_t path_len)
{
    *found = 0;
    if (path && path_len) path[0] = '\0';
    if (!ctx->cache_dir[0]) return AGECL_OK;
    uint64_t key = file_key(ctx);
    char file[1100];
    file_path(ctx, key, file, sizeof file);
    if (path) snprintf(path, path_len, "%s", file);
    FILE *f = fopen(file, "rb");
    if (!f) {
        if (errno == ENOENT) return AGECL_OK;
        return agecl__fail(AGECL_E_IO, "clblast tuning file %s cannot be read: %s; it is ignored",
                           file, strerror(errno));
    }
    char *text = malloc(FILE_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "clblast tuning file %s", file);
    }
    size_t n = fread(text, 1, FILE_MAX_BYTES + 1, f);
    int read_error = ferror(f);
    fclose(f);
    char why[200];
    const char *bad = NULL;
    int line_no = 0;
    agecl__clblast_params parsed;
    if (read_error) bad = "a read error";
    else if (n > FILE_MAX_BYTES) bad = "longer than any file agecl writes";
    else if (memchr(text, '\0', n)) bad = "a NUL byte";
    if (!bad) {
        text[n] = '\0';
        bad = agecl__clblast_parse(text, key, &parsed, &line_no, why, sizeof why);
    }
    free(text);
    if (!bad) {
        device_limits l;
        AGECL_TRY(limits_of(ctx, &l));
        char rule[160];
        const char *broken = why_not(&l, &parsed, rule, sizeof rule);
        if (broken) {
            snprintf(why, sizeof why, "values CLBlast cannot run (%s)", broken);
            bad = why;
            line_no = 0;
        }
    }
    if (bad) {
        char where[24] = "";
        if (line_no) snprintf(where, sizeof where, "line %d: ", line_no);
        return agecl__fail(AGECL_E_FORMAT,
                           "clblast tuning file %s is damaged (%s%s); it is ignored: run "
                           "`agecl tune` again",
                           file, where, bad);
    }
    *p = parsed;
    *found = 1;
    return AGECL_OK;
}

/* ---- applying saved parameters once per (device, cache folder) ---- */

/* CLBlast keeps parameters per device for the whole process, so the pairs
 * already seen are process-wide too. A full table forgets its oldest pair, which
 * at worst reads a file again. */
#define SEEN_SLOTS 32
static struct {
    cl_device_id device;
    uint64_t folder;
} seen[SEEN_SLOTS];
static int seen_count, seen_next;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static int seen_has(cl_device_id device, uint64_t folder)
{
    for (int i = 0; i < seen_count; i++)
        if (seen[i].device == device && seen[i].folder == folder) return 1;
    return 0;
}

static void seen_add(cl_device_id device, uint64_t folder)
{
    if (seen_has(device, folder)) return;
    seen[seen_next].device = device;
    seen[seen_next].folder = folder;
    seen_next = (seen_next + 1) % SEEN_SLOTS;
    if (seen_count < SEEN_SLOTS) seen_count++;
}

void agecl__clblast_use(agecl_ctx *ctx)
{
    uint64_t folder = agecl__fnv1a_str(AGECL_FNV_INIT, ctx->cache_dir);
    pthread_mutex_lock(&seen_lock);
    if (!seen_has(ctx->device, folder)) {
        agecl__clblast_params p;
        int found = 0;
        /* A damaged file, or one CLBlast refuses, leaves CLBlast's parameters as
         * they are; agecl_clblast_tuned reports the file. */
        if (agecl__clblast_load(ctx, &p, &found, NULL, 0) == AGECL_OK && found)
            (void)agecl__clblast_apply(ctx, &p);
        seen_add(ctx->device, folder);
    }
    pthread_mutex_unlock(&seen_lock);
}

static void mark_applied(agecl_ctx *ctx)
{
    pthread_mutex_lock(&seen_lock);
    seen_add(ctx->device, agecl__fnv1a_str(AGECL_FNV_INIT, ctx->cache_dir));
    pthread_mutex_unlock(&seen_lock);
}

agecl_status agecl_clblast_tuned(agecl_ctx *ctx, int *has)
{
    if (!ctx || !has) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_clblast_tuned: NULL argument");
    agecl__clblast_params p;
    return agecl__clblast_load(ctx, &p, has, NULL, 0);
}

/* ---- timing ---- */

typedef struct operands {
    cl_mem a, b, c;
} operands;

static agecl_status alloc_operands(agecl_ctx *ctx, const agecl__clblast_search *s, operands *o)
{
    size_t a = 1, b = 1, c = 1;
    for (int i = 0; i < s->n_shapes; i++) {
        const agecl__clblast_shape *sh = &s->shapes[i];
        if (sh->m * sh->k > a) a = sh->m * sh->k;
        if (sh->k * sh->n > b) b = sh->k * sh->n;
        if (sh->m * sh->n > c) c = sh->m * sh->n;
    }
    size_t sizes[3] = {a, b, c};
    cl_mem *bufs[3] = {&o->a, &o->b, &o->c};
    for (int i = 0; i < 3; i++) {
        cl_int err = 0;
        *bufs[i] = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, sizes[i] * sizeof(float), NULL,
                                  &err);
        if (err != CL_SUCCESS) return agecl__cl_fail(err, "clblast tune: operand buffer");
        /* Any finite values: the time does not depend on them. */
        float value = 0.01f;
        err = clEnqueueFillBuffer(ctx->queue, *bufs[i], &value, sizeof value, 0,
                                  sizes[i] * sizeof(float), 0, NULL, NULL);
        if (err != CL_SUCCESS) return agecl__cl_fail(err, "clblast tune: filling operands");
    }
    return AGECL_OK;
}

static void free_operands(operands *o)
{
    if (o->a) clReleaseMemObject(o->a);
    if (o->b) clReleaseMemObject(o->b);
    if (o->c) clReleaseMemObject(o->c);
}

static double shape_flops(const agecl__clblast_shape *s) { return 2.0 * s->m * s->n * s->k; }

static agecl_status run_product(agecl_ctx *ctx, const operands *o, const agecl__clblast_shape *s)
{
    agecl__matrix a = {o->a, 0, s->a_trans ? s->m : s->k, s->a_trans};
    agecl__matrix b = {o->b, 0, s->b_trans ? s->k : s->n, s->b_trans};
    agecl__matrix c = {o->c, 0, s->n, 0};
    AGECL_TRY(agecl__gemm_on(ctx, AGECL__GEMM_CLBLAST, "clblast tune", s->m, s->n, s->k, 1.0f, a,
                             b, 0.0f, c));
    return agecl_ctx_finish(ctx);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds of each product: a warm-up (which compiles), then the median of 3.
 * Stops early, *slow = 1, when a product's median is SLOW_FACTOR times the one
 * in `best` (NULL: no bound). */
static agecl_status time_products(agecl_ctx *ctx, const operands *o,
                                  const agecl__clblast_search *s, const double *best,
                                  double *seconds, int *slow)
{
    *slow = 0;
    AGECL_TRY(agecl_ctx_finish(ctx));
    for (int i = 0; i < s->n_shapes; i++) {
        double t[3];
        AGECL_TRY(run_product(ctx, o, &s->shapes[i]));
        for (int r = 0; r < 3; r++) {
            double t0 = now_seconds();
            AGECL_TRY(run_product(ctx, o, &s->shapes[i]));
            t[r] = now_seconds() - t0;
        }
        qsort(t, 3, sizeof t[0], cmp_double);
        seconds[i] = t[1];
        if (best && seconds[i] > SLOW_FACTOR * best[i]) {
            *slow = 1;
            return AGECL_OK;
        }
    }
    return AGECL_OK;
}

static double gflops(const agecl__clblast_search *s, const double *seconds)
{
    double flops = 0, time = 0;
    for (int i = 0; i < s->n_shapes; i++) {
        flops += shape_flops(&s->shapes[i]);
        time += seconds[i];
    }
    return time > 0 ? flops / time * 1e-9 : 0;
}

/* ---- the search ---- */

typedef struct search_state {
    agecl_ctx *ctx;
    const agecl__clblast_search *search;
    const agecl_clblast_tune_options *opt;
    agecl_clblast_tune_report *report;
    operands ops;
    device_limits limits;
    double start, budget;
    int applied; /* the chosen setting is in CLBlast */
} search_state;

static void progress(search_state *st, const char *fmt, ...) AGECL_PRINTF(2, 3);
static void progress(search_state *st, const char *fmt, ...)
{
    if (!st->opt || !st->opt->progress) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    st->opt->progress(st->opt->user, line);
}

static void describe(char *buf, size_t len, const char *const *names, const size_t *values,
                     int count)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count; i++)
        used += snprintf(buf + used, used < len ? len - used : 0, "%s%s=%zu", i ? " " : "",
                         names[i], values[i]);
}

/* Give one kernel's candidate to CLBlast. */
typedef agecl_status (*apply_fn)(agecl_ctx *ctx, const size_t *values);

static agecl_status apply_xgemm(agecl_ctx *ctx, const size_t *v)
{
    return override(ctx, "Xgemm", xgemm_names, v, AGECL__XGEMM_PARAMS);
}

static agecl_status apply_direct(agecl_ctx *ctx, const size_t *v)
{
    return override(ctx, "XgemmDirect", direct_names, v, AGECL__DIRECT_PARAMS);
}

/* One kernel's phase: time each candidate (`apply` gives it to CLBlast) with
 * every product, keep the fastest in *best and its times in best_s. Stops
 * starting candidates at `deadline` (seconds since the start), once one ran. */
static agecl_status phase(search_state *st, const char *kernel, const char *const *names,
                          int count, const size_t *candidates, int n, apply_fn apply,
                          agecl__clblast_params *probe, size_t *probe_values, double deadline,
                          size_t *best, double *best_s, int *found)
{
    const agecl__clblast_search *s = st->search;
    double times[MAX_SHAPES];
    *found = 0;
    for (int c = 0; c < n; c++) {
        const size_t *v = candidates + (size_t)c * count;
        char desc[512];
        describe(desc, sizeof desc, names, v, count);
        if (*found && now_seconds() - st->start > deadline) {
            st->report->skipped++;
            progress(st, "%s %d/%d %s: not tried, the time budget is spent", kernel, c + 1, n,
                     desc);
            continue;
        }
        /* Check against the device with the rest of the setting as it will be. */
        memcpy(probe_values, v, count * sizeof *v);
        char why[160];
        const char *bad = why_not(&st->limits, probe, why, sizeof why);
        if (bad) {
            progress(st, "%s %d/%d %s: cannot run here (%s)", kernel, c + 1, n, desc, bad);
            continue;
        }
        st->report->tried++;
        double t0 = now_seconds();
        int slow = 0;
        agecl_status status = apply(st->ctx, v);
        if (status == AGECL_OK)
            status = time_products(st->ctx, &st->ops, s, *found ? best_s : NULL, times, &slow);
        if (status != AGECL_OK) {
            st->report->failed++;
            progress(st, "%s %d/%d %s: failed, skipped (%s)", kernel, c + 1, n, desc,
                     agecl_last_error());
            /* A failed product may leave the queue in error: drain it. */
            clFinish(st->ctx->queue);
            continue;
        }
        if (slow) {
            progress(st, "%s %d/%d %s: over %.0fx slower than the best, dropped (%.1f s)", kernel,
                     c + 1, n, desc, SLOW_FACTOR, now_seconds() - t0);
            continue;
        }
        double total = 0, best_total = 0;
        for (int i = 0; i < s->n_shapes; i++) {
            total += times[i];
            best_total += best_s[i];
        }
        progress(st, "%s %d/%d %s: %.1f GFLOP/s (%.1f s)", kernel, c + 1, n, desc,
                 gflops(s, times), now_seconds() - t0);
        if (!*found || total < best_total) {
            memcpy(best, v, count * sizeof *v);
            memcpy(best_s, times, s->n_shapes * sizeof *times);
            *found = 1;
        }
    }
    return AGECL_OK;
}

static double cube(double x) { return x * x * x; }

/* The switch size: SGEMM runs the direct kernel when m*n*k < size^3. Choose the
 * size that gives the least total time over the products, from each kernel's
 * times; when one kernel wins everywhere, the size stays within a factor 2 of
 * the products measured rather than claiming every size for it. */
static size_t choose_switch(const agecl__clblast_search *s, const double *tiled,
                            const double *direct)
{
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < s->n_shapes; i++) {
        double mnk = (double)s->shapes[i].m * s->shapes[i].n * s->shapes[i].k;
        lo = fmin(lo, mnk);
        hi = fmax(hi, mnk);
    }
    /* Candidate sizes: below every product, then just above each product's m*n*k. */
    size_t options[MAX_SHAPES + 1];
    int n = 0;
    options[n++] = (size_t)fmax(1.0, floor(cbrt(lo) / 2));
    for (int i = 0; i < s->n_shapes; i++) {
        double mnk = (double)s->shapes[i].m * s->shapes[i].n * s->shapes[i].k;
        size_t size = (size_t)floor(cbrt(mnk));
        while (cube((double)size) <= mnk) size++; /* the least size with size^3 > mnk */
        while (size > 1 && cube((double)(size - 1)) > mnk) size--;
        if (mnk >= hi) size = (size_t)ceil(2 * cbrt(hi));
        options[n++] = size < MIN_INDIRECT_MAX ? size : MIN_INDIRECT_MAX;
    }
    size_t choice = options[0];
    double best = INFINITY;
    for (int o = 0; o < n; o++) {
        double total = 0;
        for (int i = 0; i < s->n_shapes; i++) {
            double mnk = (double)s->shapes[i].m * s->shapes[i].n * s->shapes[i].k;
            total += mnk < cube((double)options[o]) ? direct[i] : tiled[i];
        }
        if (total < best) {
            best = total;
            choice = options[o];
        }
    }
    return choice;
}

/* Leave CLBlast as the saved file says, else with its generic defaults. */
static void restore(agecl_ctx *ctx)
{
    agecl__clblast_params p;
    int found = 0;
    if (agecl__clblast_load(ctx, &p, &found, NULL, 0) != AGECL_OK || !found)
        p = agecl__clblast_defaults;
    (void)agecl__clblast_apply(ctx, &p);
}

static agecl_status search_run(search_state *st)
{
    agecl_ctx *ctx = st->ctx;
    const agecl__clblast_search *s = st->search;
    agecl_clblast_tune_report *r = st->report;
    double before[MAX_SHAPES], after[MAX_SHAPES], tiled[MAX_SHAPES], direct[MAX_SHAPES];
    int slow = 0, found_x = 0, found_d = 0;

    AGECL_TRY(limits_of(ctx, &st->limits));
    AGECL_TRY(alloc_operands(ctx, s, &st->ops));
    progress(st, "before: timing SGEMM with the parameters in use");
    AGECL_TRY(time_products(ctx, &st->ops, s, NULL, before, &slow));
    r->gflops_before = gflops(s, before);
    progress(st, "before: %.1f GFLOP/s", r->gflops_before);

    /* The tiled kernel alone (switch size 1), then the direct one alone (the
     * largest switch size); each phase's probe is the whole setting it checks. */
    agecl__clblast_params probe = agecl__clblast_defaults, chosen = agecl__clblast_defaults;
    probe.min_indirect = 1;
    AGECL_TRY(override_routine(ctx, 1));
    AGECL_TRY(phase(st, "Xgemm", xgemm_names, AGECL__XGEMM_PARAMS,
                    s->n_xgemm ? &s->xgemm[0][0] : NULL, s->n_xgemm, apply_xgemm, &probe,
                    probe.xgemm, st->budget / 2, chosen.xgemm, tiled, &found_x));
    AGECL_TRY(override_routine(ctx, MIN_INDIRECT_MAX));
    if (found_x) AGECL_TRY(apply_xgemm(ctx, chosen.xgemm));
    probe = chosen;
    probe.min_indirect = MIN_INDIRECT_MAX;
    AGECL_TRY(phase(st, "XgemmDirect", direct_names, AGECL__DIRECT_PARAMS,
                    s->n_direct ? &s->direct[0][0] : NULL, s->n_direct, apply_direct, &probe,
                    probe.direct, st->budget, chosen.direct, direct, &found_d));
    if (!found_x && !found_d)
        return agecl__fail(AGECL_E_BLAS, "clblast tune on %s: no candidate ran (last: %s)",
                           ctx->info.name, agecl_last_error());
    if (!found_x) chosen.min_indirect = MIN_INDIRECT_MAX;
    else if (!found_d) chosen.min_indirect = 1;
    else chosen.min_indirect = choose_switch(s, tiled, direct);

    AGECL_TRY(agecl__clblast_apply(ctx, &chosen));
    st->applied = 1;
    progress(st, "after: timing SGEMM with the chosen parameters (switch size %zu)",
             chosen.min_indirect);
    AGECL_TRY(time_products(ctx, &st->ops, s, NULL, after, &slow));
    r->gflops_after = gflops(s, after);
    format_params(&chosen, r->chosen, sizeof r->chosen);
    mark_applied(ctx);
    if (ctx->cache_dir[0]) {
        AGECL_TRY(agecl__clblast_save(ctx, &chosen, r->gflops_before, r->gflops_after, r->path,
                                      sizeof r->path));
        r->saved = 1;
    }
    return AGECL_OK;
}

agecl_status agecl__clblast_tune_search(agecl_ctx *ctx, const agecl__clblast_search *search,
                                        const agecl_clblast_tune_options *options,
                                        agecl_clblast_tune_report *report)
{
    agecl_clblast_tune_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof *report);
    if (!ctx || !search) return agecl__fail(AGECL_E_INVALID_ARG, "clblast tune: NULL argument");
    if (search->n_shapes < 1 || search->n_shapes > MAX_SHAPES || search->n_xgemm < 0 ||
        search->n_direct < 0)
        return agecl__fail(AGECL_E_INVALID_ARG, "clblast tune: 1 to %d products, and candidate "
                           "counts >= 0", MAX_SHAPES);
    search_state st = {.ctx = ctx, .search = search, .opt = options, .report = report,
                       .start = now_seconds(), .budget = DEFAULT_BUDGET_S};
    if (options && options->budget_seconds > 0) st.budget = options->budget_seconds;
    agecl__clblast_use(ctx); /* "before" is what products would run with */
    agecl_status status = search_run(&st);
    if (status != AGECL_OK && !st.applied) {
        /* Leave no candidate behind; the error detail stays the search's. */
        char detail[1024];
        snprintf(detail, sizeof detail, "%s", agecl_last_error());
        restore(ctx);
        agecl__fail(status, "%s", detail);
    }
    clFinish(ctx->queue);
    free_operands(&st.ops);
    report->seconds = now_seconds() - st.start;
    return status;
}

agecl_status agecl_clblast_tune_ex(agecl_ctx *ctx, const agecl_clblast_tune_options *options,
                                   agecl_clblast_tune_report *report)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_clblast_tune: ctx is NULL");
    /* The device type's list, then CLBlast's defaults. */
    enum { LIST_MAX = 8 };
    _Static_assert(COUNT(cpu_xgemm) < LIST_MAX && COUNT(gpu_xgemm) < LIST_MAX &&
                       COUNT(cpu_direct) < LIST_MAX && COUNT(gpu_direct) < LIST_MAX,
                   "candidate lists fit LIST_MAX with the defaults");
    size_t xgemm[LIST_MAX][AGECL__XGEMM_PARAMS], direct[LIST_MAX][AGECL__DIRECT_PARAMS];
    int cpu = (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    int nx = cpu ? COUNT(cpu_xgemm) : COUNT(gpu_xgemm);
    int nd = cpu ? COUNT(cpu_direct) : COUNT(gpu_direct);
    memcpy(xgemm, cpu ? cpu_xgemm : gpu_xgemm, nx * sizeof xgemm[0]);
    memcpy(direct, cpu ? cpu_direct : gpu_direct, nd * sizeof direct[0]);
    memcpy(xgemm[nx++], agecl__clblast_defaults.xgemm, sizeof xgemm[0]);
    memcpy(direct[nd++], agecl__clblast_defaults.direct, sizeof direct[0]);
    agecl__clblast_search s = {(const size_t(*)[AGECL__XGEMM_PARAMS])xgemm, nx,
                               (const size_t(*)[AGECL__DIRECT_PARAMS])direct, nd,
                               conv_shapes, COUNT(conv_shapes)};
    return agecl__clblast_tune_search(ctx, &s, options, report);
}

agecl_status agecl_clblast_tune(agecl_ctx *ctx, agecl_clblast_tune_report *report)
{
    return agecl_clblast_tune_ex(ctx, NULL, report);
}
