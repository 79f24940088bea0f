/* Choosing a convolution algorithm by measuring, once per device, shape and pass (as
 * cuDNN's find does), and remembering the choice.
 *
 * Every algorithm that supports the pass runs it on scratch tensors: once to warm up
 * (that run also builds any kernel still missing), then MEASURED_RUNS times, each
 * timed around clFinish; the smallest median wins. One already SLOWER times slower
 * than the best so far after the warm-up and one timed run stops there. The measurement uses at most
 * FIND_BATCH samples of the plan's batch, to bound the time (and the memory) a first
 * plan costs: the algorithms' work is linear in the batch from a few samples on.
 * Candidates whose state cannot be made or whose run fails are skipped.
 *
 * The choices are kept for the process (a table shared by all contexts), and in the
 * context's cache folder in conv_algos.txt, a line per choice:
 *   <device key> <n> <c_in> <h> <w> <c_out> <kernel> <stride> <pad> <pass> <algo> <ms>
 * appended in one write; the last line for a key wins, and lines that do not parse
 * or name an algorithm that no longer supports the shape are ignored. The key mixes
 * the device's (agecl__device_key, which changes with the driver) with the kernels'
 * (agecl__kernels_key): a new driver, or a library whose kernels changed, measures
 * anew.
 * Deleting the file forgets the choices. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "conv/conv2d_plan.h"
#include "runtime/hash.h"
#include "error.h"

#define FIND_BATCH 16
#define MEASURED_RUNS 3
#define SLOWER 3.0
#define CHOICES_FILE "conv_algos.txt"

static const char *const pass_names[AGECL_CONV_PASS_COUNT] = {"forward", "backward_data",
                                                              "backward_filter"};

typedef struct choice {
    uint64_t device;
    agecl_conv2d_desc d;
    int pass;
    agecl_conv2d_algo algo;
} choice;

static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static choice *memo;
static int n_memo, cap_memo;

static int same_desc(const agecl_conv2d_desc *a, const agecl_conv2d_desc *b)
{
    return a->n == b->n && a->c_in == b->c_in && a->h == b->h && a->w == b->w &&
           a->c_out == b->c_out && a->kernel == b->kernel && a->stride == b->stride &&
           a->pad == b->pad;
}

static int memo_find(uint64_t device, const agecl_conv2d_desc *d, int pass,
                     agecl_conv2d_algo *algo)
{
    int found = 0;
    pthread_mutex_lock(&memo_lock);
    for (int i = n_memo - 1; i >= 0 && !found; i--)
        if (memo[i].device == device && memo[i].pass == pass && same_desc(&memo[i].d, d)) {
            *algo = memo[i].algo;
            found = 1;
        }
    pthread_mutex_unlock(&memo_lock);
    return found;
}

/* Remembering is best effort: without memory the next plan measures again. */
static void memo_add(uint64_t device, const agecl_conv2d_desc *d, int pass, agecl_conv2d_algo algo)
{
    pthread_mutex_lock(&memo_lock);
    if (n_memo == cap_memo) {
        int cap = cap_memo ? 2 * cap_memo : 32;
        choice *grown = realloc(memo, (size_t)cap * sizeof *grown);
        if (grown) {
            memo = grown;
            cap_memo = cap;
        }
    }
    if (n_memo < cap_memo) memo[n_memo++] = (choice){device, *d, pass, algo};
    pthread_mutex_unlock(&memo_lock);
}

static void choices_path(agecl_ctx *ctx, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", agecl_ctx_cache_dir(ctx), CHOICES_FILE);
}

/* One whole number of a choice line at *s, then *s past it and its blank. */
static int line_int(const char **s, long long lo, long long hi, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(*s, &end, 10);
    if (end == *s || errno == ERANGE || *v < lo || *v > hi || (*end != ' ' && *end != '\t'))
        return 0;
    *s = end + 1;
    return 1;
}

int agecl__conv2d_choice_parse(const char *line, agecl__conv2d_choice *c)
{
    char *end;
    errno = 0;
    c->device = strtoull(line, &end, 16);
    if (end == line || errno == ERANGE || *end != ' ') return 0;
    const char *s = end + 1;
    int *fields[] = {&c->d.n, &c->d.c_in, &c->d.h, &c->d.w, &c->d.c_out, &c->d.kernel,
                     &c->d.stride, &c->d.pad};
    for (int i = 0; i < 8; i++) {
        long long v;
        if (!line_int(&s, 0, 1 << 24, &v)) return 0;
        *fields[i] = (int)v;
    }
    int used = 0;
    if (sscanf(s, "%31s %31s %lf%n", c->pass, c->algo, &c->ms, &used) != 3) return 0;
    while (s[used] == ' ' || s[used] == '\t' || s[used] == '\r' || s[used] == '\n') used++;
    return s[used] == '\0' && c->ms >= 0;
}

/* The last usable line of the cache folder's file for this key. */
static int file_find(agecl_ctx *ctx, uint64_t device, const agecl_conv2d_desc *d, int pass,
                     agecl_conv2d_algo *algo)
{
    if (!agecl_ctx_cache_dir(ctx)[0]) return 0;
    char path[1200], line[256];
    choices_path(ctx, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        agecl__conv2d_choice c;
        agecl_conv2d_algo a;
        /* a line longer than the buffer comes in pieces, none of which parses */
        if (!agecl__conv2d_choice_parse(line, &c)) continue;
        if (c.device != device || !same_desc(&c.d, d) || strcmp(c.pass, pass_names[pass])) continue;
        if (agecl_conv2d_algo_parse(c.algo, &a) != AGECL_OK ||
            !agecl_conv2d_algo_supports(ctx, d, a, pass) || a == AGECL_CONV_AUTO)
            continue;
        *algo = a;
        found = 1;
    }
    fclose(f);
    return found;
}

/* Best effort, like the program cache: a folder that cannot be written only means
 * measuring again in the next process. One write(2) of one short line with
 * O_APPEND, so that processes sharing the folder do not interleave lines. */
static void file_add(agecl_ctx *ctx, uint64_t device, const agecl_conv2d_desc *d, int pass,
                     agecl_conv2d_algo algo, double ms)
{
    if (!agecl_ctx_cache_dir(ctx)[0]) return;
    char path[1200], line[256];
    choices_path(ctx, path, sizeof path);
    int len = snprintf(line, sizeof line, "%016llx %d %d %d %d %d %d %d %d %s %s %.4f\n",
                       (unsigned long long)device, d->n, d->c_in, d->h, d->w, d->c_out, d->kernel,
                       d->stride, d->pad, pass_names[pass], agecl_conv2d_algo_name(algo), ms);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return;
    if (write(fd, line, (size_t)len) != len) { /* a torn line is ignored when read */
    }
    close(fd);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The scratch tensors of a measurement: x-shaped, weight-shaped, y-shaped, workspace. */
typedef struct scratch {
    agecl_tensor x, wt, y, ws;
} scratch;

static void scratch_free(scratch *s)
{
    agecl_tensor_free(&s->x);
    agecl_tensor_free(&s->wt);
    agecl_tensor_free(&s->y);
    agecl_tensor_free(&s->ws);
}

static agecl_status scratch_alloc(agecl_ctx *ctx, const agecl_conv2d_desc *d, size_t ws,
                                  scratch *s)
{
    int oh = agecl__conv2d_out_size(d->h, d), ow = agecl__conv2d_out_size(d->w, d);
    memset(s, 0, sizeof *s);
    agecl_status st = agecl_tensor_alloc(ctx, &s->x, d->n, d->c_in, d->h, d->w);
    if (st == AGECL_OK) st = agecl_tensor_alloc(ctx, &s->wt, d->c_out, d->c_in, d->kernel, d->kernel);
    if (st == AGECL_OK) st = agecl_tensor_alloc(ctx, &s->y, d->n, d->c_out, oh, ow);
    if (st == AGECL_OK && ws) /* rows of 1024, so that any size fits the int sizes */
        st = agecl_tensor_alloc(ctx, &s->ws, 1, 1, (int)((ws + 1023) / 1024), 1024);
    /* Values of the size of real activations: no denormals, no NaN. */
    if (st == AGECL_OK) st = agecl_tensor_fill(ctx, &s->x, 0.5f);
    if (st == AGECL_OK) st = agecl_tensor_fill(ctx, &s->wt, 0.01f);
    if (st == AGECL_OK) st = agecl_tensor_fill(ctx, &s->y, 0.25f);
    if (st != AGECL_OK) scratch_free(s);
    return st;
}

static agecl_status run_once(agecl_ctx *ctx, const agecl__conv2d_algo *a, void *state, int pass,
                             scratch *s, double *ms)
{
    const agecl_tensor *ws = s->ws.buf ? &s->ws : NULL;
    double t0 = now_ms();
    agecl_status st;
    switch (pass) {
    case AGECL_CONV_FORWARD: st = a->run[pass](state, &s->x, &s->wt, 0.0f, &s->y, ws); break;
    case AGECL_CONV_BACKWARD_DATA: st = a->run[pass](state, &s->y, &s->wt, 0.0f, &s->x, ws); break;
    default: st = a->run[pass](state, &s->x, &s->y, 0.0f, &s->wt, ws); break;
    }
    if (st != AGECL_OK) return st;
    cl_int err = clFinish(agecl_ctx_queue(ctx));
    if (err != CL_SUCCESS) return agecl__cl_fail(err, "conv2d find: a measured run");
    *ms = now_ms() - t0;
    return AGECL_OK;
}

/* The median time of the algorithm's pass (ms), or a failure to skip it. A candidate
 * already SLOWER times slower than the best so far (best_ms; 0: none yet) is left
 * at that, so that an algorithm written for other devices (e.g. a GPU kernel on a
 * CPU) costs little: after the warm-up (which may still be building CLBlast's
 * kernels), one timed run that slow is its figure. */
static agecl_status measure(agecl_ctx *ctx, const agecl__conv2d_algo *a, void *state, int pass,
                            scratch *s, double best_ms, double *ms)
{
    double t[MEASURED_RUNS];
    AGECL_TRY(run_once(ctx, a, state, pass, s, &t[0]));
    for (int r = 0; r < MEASURED_RUNS; r++) {
        AGECL_TRY(run_once(ctx, a, state, pass, s, &t[r]));
        if (r == 0 && best_ms > 0 && t[0] > SLOWER * best_ms) {
            *ms = t[0];
            return AGECL_OK;
        }
    }
    qsort(t, MEASURED_RUNS, sizeof t[0], by_value);
    *ms = t[MEASURED_RUNS / 2];
    return AGECL_OK;
}

/* The candidates' states for the passes in `todo` (a mask of passes), made once for
 * all of them; need[pass] gets the workspace the pass needs. */
typedef struct candidates {
    void *state[AGECL_CONV_ALGO_COUNT];
    size_t need;
    agecl_status failure; /* the first candidate's failure, if none runs */
} candidates;

static void candidates_make(agecl_ctx *ctx, const agecl_conv2d_desc *m, unsigned todo,
                            candidates *c)
{
    memset(c, 0, sizeof *c);
    for (int id = 1; id < AGECL_CONV_ALGO_COUNT; id++) {
        const agecl__conv2d_algo *a = agecl__conv2d_algo_of((agecl_conv2d_algo)id);
        size_t ws[AGECL_CONV_PASS_COUNT] = {0};
        int wanted = 0;
        for (int pass = 0; a && pass < AGECL_CONV_PASS_COUNT; pass++)
            wanted |= (todo >> pass & 1) && a->supports(ctx, m, pass);
        if (!wanted) continue;
        agecl_status s = a->create(ctx, m, &c->state[id], ws);
        if (s != AGECL_OK) {
            c->state[id] = NULL;
            if (c->failure == AGECL_OK) c->failure = s;
            continue;
        }
        for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++)
            if ((todo >> pass & 1) && a->supports(ctx, m, pass) && ws[pass] > c->need)
                c->need = ws[pass];
    }
}

static void candidates_free(candidates *c)
{
    for (int id = 1; id < AGECL_CONV_ALGO_COUNT; id++)
        if (c->state[id]) agecl__conv2d_algo_of((agecl_conv2d_algo)id)->destroy(c->state[id]);
}

/* The fastest candidate of `pass` on the scratch tensors. */
static agecl_status fastest(agecl_ctx *ctx, const agecl_conv2d_desc *m, int pass, candidates *c,
                            scratch *s, agecl_conv2d_algo *best, double *best_ms)
{
    *best = AGECL_CONV_AUTO;
    agecl_status failure = c->failure;
    for (int id = 1; id < AGECL_CONV_ALGO_COUNT; id++) {
        const agecl__conv2d_algo *a = agecl__conv2d_algo_of((agecl_conv2d_algo)id);
        double ms;
        if (!c->state[id] || !a->supports(ctx, m, pass)) continue;
        agecl_status run = measure(ctx, a, c->state[id], pass, s,
                                   *best == AGECL_CONV_AUTO ? 0.0 : *best_ms, &ms);
        if (run != AGECL_OK && failure == AGECL_OK) failure = run;
        if (run == AGECL_OK && (*best == AGECL_CONV_AUTO || ms < *best_ms)) {
            *best = (agecl_conv2d_algo)id;
            *best_ms = ms;
        }
    }
    if (*best != AGECL_CONV_AUTO) return AGECL_OK;
    return failure != AGECL_OK ? failure : AGECL_E_UNSUPPORTED; /* agecl_last_error says */
}

agecl_status agecl__conv2d_find(agecl_ctx *ctx, const agecl_conv2d_desc *d,
                                agecl_conv2d_algo out[AGECL_CONV_PASS_COUNT])
{
    uint64_t kernels = agecl__kernels_key();
    uint64_t device = agecl__fnv1a(agecl__device_key(agecl_ctx_device(ctx)), &kernels,
                                   sizeof kernels);
    unsigned todo = 0;
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        int n = 0;
        for (int id = 1; id < AGECL_CONV_ALGO_COUNT; id++)
            if (agecl_conv2d_algo_supports(ctx, d, (agecl_conv2d_algo)id, pass)) {
                n++;
                out[pass] = (agecl_conv2d_algo)id;
            }
        if (n == 1 || memo_find(device, d, pass, &out[pass])) continue;
        if (file_find(ctx, device, d, pass, &out[pass]))
            memo_add(device, d, pass, out[pass]);
        else
            todo |= 1u << pass;
    }
    if (!todo) return AGECL_OK;
    /* Measure on at most FIND_BATCH samples; states and scratch made once. */
    agecl_conv2d_desc m = *d;
    if (m.n > FIND_BATCH) m.n = FIND_BATCH;
    candidates c;
    candidates_make(ctx, &m, todo, &c);
    scratch s;
    agecl_status st = scratch_alloc(ctx, &m, c.need, &s);
    int have_scratch = st == AGECL_OK;
    for (int pass = 0; st == AGECL_OK && pass < AGECL_CONV_PASS_COUNT; pass++) {
        double ms = 0;
        if (!(todo >> pass & 1)) continue;
        st = fastest(ctx, &m, pass, &c, &s, &out[pass], &ms);
        if (st != AGECL_OK) break;
        memo_add(device, d, pass, out[pass]);
        file_add(ctx, device, d, pass, out[pass], ms);
    }
    if (have_scratch) scratch_free(&s);
    candidates_free(&c);
    return st;
}
