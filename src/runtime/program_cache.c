/* The on-disk cache of program binaries.
 *
 * One file per (platform, device, driver, source, options), named by a 64-bit
 * hash of all of them:  <dir>/<hash>.clbin
 *
 *   offset 0   "AGECLPB1"          magic and format version
 *          8   u64 key hash        must equal the file name's hash
 *         16   u64 payload size    bytes of the program binary
 *         24   u64 payload hash    FNV-1a of the payload
 *         32   payload             what clGetProgramInfo(CL_PROGRAM_BINARIES) gave
 *
 * Anything that does not check out (short file, wrong magic, key or checksum,
 * or a binary the driver refuses) is rebuilt from source and the file rewritten,
 * atomically (io/atomic_file.h), so readers never see half a file. The size in
 * the header must be the file's (checked before the payload is allocated) and the
 * checksum must match before the driver sees the binary. The checksum finds
 * damage, not forgery: whoever can write the cache folder can run code through
 * it, as with any compiler cache; it is created for the user alone to write. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "runtime/ctx.h"
#include "runtime/hash.h"
#include "error.h"
#include "io/atomic_file.h"

#define MAGIC "AGECLPB1"
#define HEADER_BYTES 32

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

void agecl__cache_dir_init(const char *want, char *dir, size_t len)
{
    snprintf(dir, len, "%s", want);
    if (dir[0] && mkdir_p(dir) != 0) dir[0] = '\0'; /* no cache, not an error */
    /* what killed writers left (program binaries, CLBlast tuning); an hour old, so
     * that other processes sharing the folder finish theirs */
    if (dir[0]) agecl__atomic_sweep(dir, "", 3600);
}

static uint64_t cache_key(const agecl_ctx *ctx, const char *source, const char *options)
{
    uint64_t h = agecl__device_key(&ctx->info);
    h = agecl__fnv1a_str(h, MAGIC);
    h = agecl__fnv1a_str(h, options);
    return agecl__fnv1a_str(h, source);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

unsigned char *agecl__program_cache_load(const char *path, uint64_t key, size_t *size, int *bad)
{
    *bad = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char head[HEADER_BYTES];
    unsigned char *payload = NULL;
    *bad = 1;
    if (fread(head, 1, HEADER_BYTES, f) != HEADER_BYTES) goto out;
    if (memcmp(head, MAGIC, 8) != 0 || get_u64(head + 8) != key) goto out;
    uint64_t n = get_u64(head + 16);
    struct stat st;
    /* the size the header claims must be the file's before anything is allocated */
    if (n == 0 || n > ((uint64_t)1 << 31) || fstat(fileno(f), &st) != 0 ||
        (uint64_t)st.st_size != HEADER_BYTES + n)
        goto out;
    payload = malloc(n);
    if (!payload) goto out;
    if (fread(payload, 1, n, f) != n || fgetc(f) != EOF ||
        agecl__fnv1a(AGECL_FNV_INIT, payload, n) != get_u64(head + 24)) {
        free(payload);
        payload = NULL;
        goto out;
    }
    *size = n;
    *bad = 0;
out:
    fclose(f);
    return payload;
}

static void store_entry(const char *path, uint64_t key, const unsigned char *bin, size_t n)
{
    agecl__atomic_file f;
    /* a read-only cache folder only costs time: failures here are not reported */
    if (agecl__atomic_begin(&f, path) != AGECL_OK) return;
    unsigned char head[HEADER_BYTES];
    memcpy(head, MAGIC, 8);
    put_u64(head + 8, key);
    put_u64(head + 16, n);
    put_u64(head + 24, agecl__fnv1a(AGECL_FNV_INIT, bin, n));
    if (agecl__atomic_write(&f, head, HEADER_BYTES) == AGECL_OK &&
        agecl__atomic_write(&f, bin, n) == AGECL_OK)
        (void)agecl__atomic_commit(&f);
    else
        agecl__atomic_abort(&f);
}

static agecl_status build_and_check(agecl_ctx *ctx, cl_program program, const char *options)
{
    cl_int err = clBuildProgram(program, 1, &ctx->device, options, NULL, NULL);
    if (err == CL_SUCCESS) return AGECL_OK;
    size_t len = 0;
    clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
    char *log = malloc(len + 1);
    if (log) {
        log[0] = '\0';
        clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, len, log, NULL);
        log[len] = '\0';
    }
    agecl__set_build_log(log);
    agecl_status s = agecl__fail(AGECL_E_BUILD, "clBuildProgram on %s: %s (%d); log: %.1500s",
                                 ctx->info.name, agecl__cl_error_name(err), err,
                                 log ? log : "(none)");
    free(log);
    return s;
}

static agecl_status build_from_binary(agecl_ctx *ctx, const unsigned char *bin, size_t n,
                                      const char *options, cl_program *out)
{
    cl_int status = 0, err = 0;
    cl_program p = clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &n, &bin, &status,
                                             &err);
    if (err != CL_SUCCESS || status != CL_SUCCESS) {
        if (p) clReleaseProgram(p);
        return AGECL_E_FORMAT;
    }
    if (clBuildProgram(p, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(p);
        return AGECL_E_FORMAT;
    }
    *out = p;
    return AGECL_OK;
}

static agecl_status build_from_source(agecl_ctx *ctx, const char *source, const char *options,
                                      cl_program *out)
{
    cl_int err = 0;
    cl_program p = clCreateProgramWithSource(ctx->context, 1, &source, NULL, &err);
    if (err != CL_SUCCESS) return agecl__cl_fail(err, "clCreateProgramWithSource");
    agecl_status s = build_and_check(ctx, p, options);
    if (s != AGECL_OK) {
        clReleaseProgram(p);
        return s;
    }
    *out = p;
    return AGECL_OK;
}

static unsigned char *program_binary(agecl_ctx *ctx, cl_program p, size_t *n)
{
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof *n, n, NULL) != CL_SUCCESS || !*n)
        return NULL;
    unsigned char *bin = malloc(*n);
    if (bin && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(bin);
        bin = NULL;
    }
    (void)ctx;
    return bin;
}

agecl_status agecl__cache_build(agecl_ctx *ctx, const char *source, const char *options,
                                cl_program *out)
{
    double t0 = now_seconds();
    uint64_t key = cache_key(ctx, source, options);
    char path[1100] = "";
    if (ctx->cache_dir[0]) {
        snprintf(path, sizeof path, "%s/%016llx.clbin", ctx->cache_dir, (unsigned long long)key);
        size_t n = 0;
        int bad = 0;
        unsigned char *bin = agecl__program_cache_load(path, key, &n, &bad);
        if (bin) {
            agecl_status s = build_from_binary(ctx, bin, n, options, out);
            free(bin);
            if (s == AGECL_OK) {
                ctx->cache.hits++;
                ctx->cache.build_seconds += now_seconds() - t0;
                return AGECL_OK;
            }
            bad = 1;
        }
        if (bad) ctx->cache.rejected++;
        else ctx->cache.misses++;
    } else {
        ctx->cache.misses++;
    }

    AGECL_TRY(build_from_source(ctx, source, options, out));
    if (path[0]) {
        size_t n = 0;
        unsigned char *bin = program_binary(ctx, *out, &n);
        if (bin) store_entry(path, key, bin, n);
        free(bin);
    }
    ctx->cache.build_seconds += now_seconds() - t0;
    return AGECL_OK;
}
