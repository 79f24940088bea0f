/* CLBlast's SGEMM parameters for a device: checking a setting, giving it to
 * CLBlast, the file that keeps it and applying the saved one before the first
 * product (include/agecl/clblast_tune.h says what and why; clblast_tune.c
 * searches for the setting).
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
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <clblast_c.h>
#include "gemm/clblast_params.h"
#include "runtime/ctx.h"
#include "runtime/hash.h"
#include "error.h"
#include "io/atomic_file.h"

#define FILE_MAGIC "agecl-clblast-tune 1"
#define FILE_MAX_BYTES 16384
#define VALUE_MAX 1024                   /* above any tile or vector width */

enum { XG_GEMMK, XG_KREG, XG_KWG, XG_KWI, XG_MDIMA, XG_MDIMC, XG_MWG, XG_NDIMB, XG_NDIMC,
       XG_NWG, XG_SA, XG_SB, XG_STRM, XG_STRN, XG_VWM, XG_VWN };
enum { XD_KWID, XD_MDIMAD, XD_MDIMCD, XD_NDIMBD, XD_NDIMCD, XD_PADA, XD_PADB, XD_VWMD,
       XD_VWND, XD_WGD };

const char *const agecl__clblast_xgemm_names[AGECL__XGEMM_PARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"};
const char *const agecl__clblast_direct_names[AGECL__DIRECT_PARAMS] = {
    "KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "PADA", "PADB", "VWMD", "VWND", "WGD"};
static const char *const routine_names[1] = {"XGEMM_MIN_INDIRECT_SIZE"};

/* What CLBlast 1.5.3 runs on a device its database does not know (read back
 * with its RetrieveParameters on PoCL). */
const agecl__clblast_params agecl__clblast_defaults = {
    {0, 1, 32, 2, 8, 8, 32, 16, 16, 32, 1, 1, 0, 0, 4, 2},
    {2, 8, 8, 8, 8, 1, 1, 1, 1, 16},
    896};

const char *agecl__clblast_error_name(int code)
{
    switch (code) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInvalidDimension: return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA: return "CLBlastInvalidLeadDimA";
    case CLBlastInvalidLeadDimB: return "CLBlastInvalidLeadDimB";
    case CLBlastInvalidLeadDimC: return "CLBlastInvalidLeadDimC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryTemp: return "CLBlastInsufficientMemoryTemp";
    case CLBlastInvalidBatchCount: return "CLBlastInvalidBatchCount";
    case CLBlastInvalidOverrideKernel: return "CLBlastInvalidOverrideKernel";
    case CLBlastMissingOverrideParameter: return "CLBlastMissingOverrideParameter";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return code > -1000 ? agecl__cl_error_name(code) : "CLBlast error";
    }
}

/* ---- checking a setting ---- */

static int vector_width(size_t v) { return v == 1 || v == 2 || v == 4 || v == 8 || v == 16; }
static int divides(size_t d, size_t x) { return d && x % d == 0; }

agecl_status agecl__clblast_limits_of(agecl_ctx *ctx, agecl__clblast_limits *l)
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

const char *agecl__clblast_why_not(const agecl__clblast_limits *l, const agecl__clblast_params *p,
                                   char *why, size_t len) {
    const size_t *x = p->xgemm, *d = p->direct;
    for (int i = 0; i < AGECL__XGEMM_PARAMS; i++)
        if (x[i] > VALUE_MAX)
            return snprintf(why, len, "Xgemm %s too large", agecl__clblast_xgemm_names[i]), why;
    for (int i = 0; i < AGECL__DIRECT_PARAMS; i++)
        if (d[i] > VALUE_MAX)
            return snprintf(why, len, "XgemmDirect %s too large", agecl__clblast_direct_names[i]),
                   why;
    if (p->min_indirect < 1 || p->min_indirect > AGECL__CLBLAST_MIN_INDIRECT_MAX)
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
    agecl__clblast_limits l;
    AGECL_TRY(agecl__clblast_limits_of(ctx, &l));
    char why[160];
    const char *bad = agecl__clblast_why_not(&l, p, why, sizeof why);
    return bad ? agecl__fail(AGECL_E_UNSUPPORTED, "CLBlast parameters for %s: %s", ctx->info.name,
                             bad)
               : AGECL_OK;
}

/* ---- giving a setting to CLBlast ---- */

agecl_status agecl__clblast_override(agecl_ctx *ctx, const char *kernel, const char *const *names,
                             const size_t *values, size_t count)
{
    CLBlastStatusCode code = CLBlastOverrideParameters(
        ctx->device, kernel, CLBlastPrecisionSingle, count, (const char **)names, values);
    if (code == CLBlastSuccess) return AGECL_OK;
    return agecl__fail(AGECL_E_BLAS, "CLBlastOverrideParameters(%s) on %s: %s (%d)", kernel,
                       ctx->info.name, agecl__clblast_error_name(code), code);
}

agecl_status agecl__clblast_override_routine(agecl_ctx *ctx, size_t min_indirect)
{
    return agecl__clblast_override(ctx, "GemmRoutine", routine_names, &min_indirect, 1);
}

agecl_status agecl__clblast_apply(agecl_ctx *ctx, const agecl__clblast_params *p)
{
    AGECL_TRY(agecl__clblast_check(ctx, p));
    AGECL_TRY(agecl__clblast_override(ctx, "Xgemm", agecl__clblast_xgemm_names, p->xgemm,
                                      AGECL__XGEMM_PARAMS));
    AGECL_TRY(agecl__clblast_override(ctx, "XgemmDirect", agecl__clblast_direct_names, p->direct,
                                      AGECL__DIRECT_PARAMS));
    return agecl__clblast_override_routine(ctx, p->min_indirect);
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
size_t agecl__clblast_format(const agecl__clblast_params *p, char *buf, size_t len)
{
    size_t used = 0;
    put_line(buf, len, &used, "Xgemm", agecl__clblast_xgemm_names, p->xgemm,
             AGECL__XGEMM_PARAMS);
    put_line(buf, len, &used, "XgemmDirect", agecl__clblast_direct_names, p->direct,
             AGECL__DIRECT_PARAMS);
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
    n += agecl__clblast_format(p, text + n, sizeof text - n);
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
            const char *bad = parse_values(line + 6, agecl__clblast_xgemm_names,
                                           AGECL__XGEMM_PARAMS, p->xgemm, why, len);
            if (bad) return bad;
        } else if (!strncmp(line, "XgemmDirect ", 12)) {
            if (have_d++) return "two XgemmDirect lines";
            const char *bad = parse_values(line + 12, agecl__clblast_direct_names,
                                           AGECL__DIRECT_PARAMS, p->direct, why, len);
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
        agecl__clblast_limits l;
        AGECL_TRY(agecl__clblast_limits_of(ctx, &l));
        char rule[160];
        const char *broken = agecl__clblast_why_not(&l, &parsed, rule, sizeof rule);
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

/* CLBlast keeps the programs it built in a process-wide cache, keyed by context,
 * until the process exits. Dropped before a context that used it is released:
 * else they outlive their context, and releasing them at exit crashes some
 * implementations (Oclgrind frees the program into a heap its context's release
 * already changed). Programs of other contexts are rebuilt when next used. */
static void drop_clblast_programs(void) { (void)CLBlastClearCache(); }

void agecl__clblast_use(agecl_ctx *ctx)
{
    ctx->release_gemm = drop_clblast_programs;
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

void agecl__clblast_mark_applied(agecl_ctx *ctx)
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

