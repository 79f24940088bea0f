/* The whole model (agecl/model.h): a training step (forward in training mode,
 * losses and backward with every head live, Adam) and an inference pass, on
 * random images and labels, in images per second; with --profile, the device
 * time of the kernels of each from the context's profiler, and the pass's time
 * outside them (launches, host work: the wall time's median less the kernels'
 * time) with the number of launches, which is what a batch of one pays beyond its
 * arithmetic.
 *
 * The model has BENCH_AGES age labels (1..BENCH_AGES) and, as from the second
 * epoch of training on, references for the position head (selected from random
 * features), so that every head runs. Rates count 2 * multiply-adds per image
 * forward and 3x that for a training step (MODEL.md section 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"

#define SEED 123
#define LR 1e-3f
#define WEIGHT_DECAY 1e-2f

typedef struct model_run {
    agecl_model *m;
    float *images, *age;
    float *gender, *pos;
    int step;
} model_run;

static agecl_status train_step(void *arg)
{
    model_run *r = arg;
    agecl_labels labels = {r->age, r->gender, r->pos};
    agecl_losses losses = {0};
    AGECL_TRY(agecl_model_forward(r->m, r->images, 1));
    AGECL_TRY(agecl_model_loss(r->m, &labels, 1, &losses));
    AGECL_TRY(agecl_model_backward(r->m));
    return agecl_model_adam_step(r->m, LR, WEIGHT_DECAY, ++r->step);
}

static agecl_status inference(void *arg)
{
    model_run *r = arg;
    return agecl_model_forward(r->m, r->images, 0);
}

/* References for the position head, from B random features, errors and positions. */
static agecl_status set_references(agecl_ctx *ctx, model_run *r, int batch, unsigned *seed)
{
    const agecl_model_config *cfg = agecl_model_config_of(r->m);
    int C = cfg->channels[cfg->stages - 1];
    agecl_tensor err = {0}, pos = {0}, feat = {0};
    agecl_status s = bench_random_tensor(ctx, &err, 1, 1, 1, batch, 0, 10, seed);
    if (s == AGECL_OK) s = bench_random_tensor(ctx, &feat, batch, C, 1, 1, 0, 1, seed);
    if (s == AGECL_OK) s = agecl_tensor_alloc(ctx, &pos, 1, 1, 1, batch);
    float *host = s == AGECL_OK ? malloc((size_t)batch * sizeof *host) : NULL;
    if (s == AGECL_OK && !host) s = agecl__fail(AGECL_E_OUT_OF_MEMORY, "positions");
    if (s == AGECL_OK) {
        for (int b = 0; b < batch; b++) host[b] = r->pos[b];
        s = agecl_tensor_write(ctx, &pos, host);
    }
    int filled = 0;
    if (s == AGECL_OK) s = agecl_model_select_references(r->m, &err, &pos, &feat, SEED, &filled);
    free(host);
    agecl_tensor_free(&err);
    agecl_tensor_free(&pos);
    agecl_tensor_free(&feat);
    return s;
}

static void free_run(model_run *r)
{
    agecl_model_destroy(r->m);
    free(r->images);
    free(r->age);
    free(r->gender);
    free(r->pos);
    memset(r, 0, sizeof *r);
}

/* A model of d's preset at the benchmark batch on ctx, with random inputs. */
static agecl_status make_run(bench_dev *d, agecl_ctx *ctx, unsigned flags, model_run *r)
{
    const agecl_model_config *cfg = &d->cfg;
    int B = d->opt->batch, S = cfg->input_size;
    size_t pixels = (size_t)B * 3 * S * S;
    memset(r, 0, sizeof *r);
    AGECL_TRY(agecl_model_create(ctx, cfg, B, flags, &r->m));
    AGECL_TRY(agecl_model_init(r->m, SEED));
    r->images = malloc(pixels * sizeof *r->images);
    r->age = malloc((size_t)B * sizeof *r->age);
    r->gender = malloc((size_t)B * sizeof *r->gender);
    r->pos = malloc((size_t)B * sizeof *r->pos);
    if (!r->images || !r->age || !r->gender || !r->pos)
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "benchmark inputs for batch %d", B);
    unsigned seed = SEED;
    for (size_t i = 0; i < pixels; i++) r->images[i] = 4 * bench_uniform(&seed) - 2;
    for (int b = 0; b < B; b++) {
        int p = (int)(bench_uniform(&seed) * cfg->n_ages);
        r->pos[b] = (float)p;
        r->age[b] = cfg->ages[p];
        r->gender[b] = bench_uniform(&seed) < 0.5f ? 0.0f : 1.0f;
    }
    return set_references(ctx, r, B, &seed);
}

static void emit_model(bench_dev *d, const char *section, const char *name, double ms,
                       double flops_per_image)
{
    int B = d->opt->batch;
    char shape[48];
    snprintf(shape, sizeof shape, "%s 3x%dx%d", d->cfg.preset, d->cfg.input_size,
             d->cfg.input_size);
    bench_result r = bench_result_init(section, name, shape, B);
    r.ms = ms;
    r.images_per_s = B / (ms * 1e-3);
    r.gflops = flops_per_image * B / (ms * 1e6);
    bench_emit(d, &r);
}

static int by_ms_desc(const void *a, const void *b)
{
    double x = ((const agecl_profile_entry *)a)->ms, y = ((const agecl_profile_entry *)b)->ms;
    return (x < y) - (x > y);
}

/* The pass fn (on a model made with flags) again on a profiling context of the same
 * device: device time per kernel name, per pass (`per`), longest first, then the
 * pass's wall time (wall_ms, measured without profiling) outside the kernels. Its
 * own context keeps the event bookkeeping out of the timings above. */
static agecl_status profile_pass(bench_dev *d, unsigned flags, agecl_status (*fn)(void *),
                                 const char *per, double wall_ms)
{
    char selector[16];
    snprintf(selector, sizeof selector, "%d", d->index);
    agecl_ctx *ctx = NULL;
    model_run r = {0};
    agecl_status s = agecl_ctx_create(&ctx, selector, AGECL_CTX_PROFILING);
    if (s == AGECL_OK) s = make_run(d, ctx, flags, &r);
    for (int i = 0; i < d->opt->warmup && s == AGECL_OK; i++) s = fn(&r);
    const agecl_profile_entry *entries = NULL;
    int count = 0, runs = d->opt->runs;
    if (s == AGECL_OK) s = agecl_ctx_finish(ctx);
    if (s == AGECL_OK) agecl_ctx_profile_reset(ctx); /* forget the warm-up */
    for (int i = 0; i < runs && s == AGECL_OK; i++) s = fn(&r);
    if (s == AGECL_OK) s = agecl_ctx_profile(ctx, &entries, &count);
    agecl_profile_entry *sorted = NULL;
    if (s == AGECL_OK && count > 0) {
        sorted = malloc((size_t)count * sizeof *sorted);
        if (!sorted) s = agecl__fail(AGECL_E_OUT_OF_MEMORY, "profile table");
    }
    if (s == AGECL_OK && sorted) {
        memcpy(sorted, entries, (size_t)count * sizeof *sorted);
        qsort(sorted, (size_t)count, sizeof *sorted, by_ms_desc);
        double total = 0;
        long long calls = 0;
        for (int i = 0; i < count; i++) total += sorted[i].ms, calls += sorted[i].calls;
        for (int i = 0; i < count; i++) {
            bench_result res = bench_result_init("profile", sorted[i].name, per, d->opt->batch);
            res.ms = sorted[i].ms / runs;
            res.calls = (sorted[i].calls + runs - 1) / runs;
            res.time_pct = total > 0 ? 100 * sorted[i].ms / total : 0;
            bench_emit(d, &res);
        }
        bench_result res = bench_result_init("profile", "all_kernels", per, d->opt->batch);
        res.ms = total / runs;
        res.calls = (calls + runs - 1) / runs;
        res.time_pct = 100;
        bench_emit(d, &res);
        res = bench_result_init("profile", "outside_kernels", per, d->opt->batch);
        res.ms = wall_ms - total / runs;
        res.calls = (calls + runs - 1) / runs;
        bench_emit(d, &res);
    }
    free(sorted);
    free_run(&r);
    agecl_ctx_destroy(ctx);
    return s;
}

agecl_status bench_step(bench_dev *d)
{
    model_run r;
    bench_progress("step: %s, batch %d", d->cfg.preset, d->opt->batch);
    agecl_status s = make_run(d, d->ctx, AGECL_MODEL_TRAIN, &r);
    double ms = 0;
    if (s == AGECL_OK) s = bench_time(d, train_step, &r, &ms);
    free_run(&r);
    if (s != AGECL_OK) return s;
    emit_model(d, "step", "train_step", ms, 3 * 2 * agecl_model_config_macs(&d->cfg));
    if (!d->opt->profile) return AGECL_OK;
    bench_progress("step: profiling %d steps", d->opt->runs);
    return profile_pass(d, AGECL_MODEL_TRAIN, train_step, "per step", ms);
}

agecl_status bench_infer(bench_dev *d)
{
    model_run r;
    bench_progress("infer: %s, batch %d", d->cfg.preset, d->opt->batch);
    agecl_status s = make_run(d, d->ctx, 0, &r);
    double ms = 0;
    if (s == AGECL_OK) s = bench_time(d, inference, &r, &ms);
    free_run(&r);
    if (s != AGECL_OK) return s;
    emit_model(d, "infer", "inference", ms, 2 * agecl_model_config_macs(&d->cfg));
    if (!d->opt->profile) return AGECL_OK;
    bench_progress("infer: profiling %d passes", d->opt->runs);
    return profile_pass(d, 0, inference, "per pass", ms);
}
