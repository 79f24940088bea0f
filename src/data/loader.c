/* src/data/loader.c - the batch loader, the caller's side: epochs and batches. */
#include "data/loader.h"

#include <stdlib.h>
#include <string.h>

#include "data/rng.h"

void agecl_loader_defaults(agecl_loader_options *opt)
{
    *opt = (agecl_loader_options){.batch_size = 64, .image_size = AGECL_IMAGE_SIZE,
                                  .threads = 2, .prefetch = 3, .seed = 123,
                                  .shards = 1};
}

static agecl_status check_options(const agecl_dataset *ds, const int *indices, int count,
                                  const agecl_loader_options *o)
{
    if (o->batch_size < 1 || o->batch_size > 65536 || o->image_size < 1 ||
        o->image_size > AGECL_IMAGE_MAX_SIZE || o->threads < 0 || o->threads > 64 ||
        o->prefetch < 1 || o->prefetch > 16)
        return agecl__fail(AGECL_E_INVALID_ARG,
                           "loader: batch %d, size %d, threads %d, prefetch %d out of range",
                           o->batch_size, o->image_size, o->threads, o->prefetch);
    if (o->shards < 1 || o->shard < 0 || o->shard >= o->shards)
        return agecl__fail(AGECL_E_INVALID_ARG, "loader: shard %d of %d", o->shard, o->shards);
    if (count < 1) return agecl__fail(AGECL_E_DATA, "loader: no samples to load from %s", ds->name);
    for (int i = 0; indices && i < count; i++)
        if (indices[i] < 0 || indices[i] >= ds->count)
            return agecl__fail(AGECL_E_INVALID_ARG, "loader: index %d of %s out of range",
                               indices[i], ds->name);
    const agecl_image_cache *c = o->cache;
    if (c && (c->size != o->image_size || c->count != ds->count ||
              c->list_hash != agecl__data_list_hash(ds)))
        return agecl__fail(AGECL_E_INVALID_ARG, "loader: the cache is not of %s at size %d",
                           ds->name, o->image_size);
    return AGECL_OK;
}

static agecl_status alloc_batches(agecl_loader *l)
{
    size_t b = (size_t)l->opt.batch_size, image = (size_t)l->opt.image_size * l->opt.image_size * 3;
    for (int k = 0; k < 2; k++) {
        agecl_batch *bt = &l->batch[k];
        bt->images = malloc(b * image * sizeof(float));
        bt->ages = malloc(3 * b * sizeof(int));
        bt->target_age = malloc(3 * b * sizeof(float));
        if (!bt->images || !bt->ages || !bt->target_age)
            return agecl__fail(AGECL_E_OUT_OF_MEMORY, "loader: batches of %zu", b);
        bt->genders = bt->ages + b;
        bt->indices = bt->ages + 2 * b;
        bt->target_gender = bt->target_age + b;
        bt->target_pos = bt->target_age + 2 * b;
        bt->size = l->opt.image_size;
    }
    l->images = malloc((size_t)l->ring * image * sizeof(float));
    l->slots = calloc((size_t)l->ring, sizeof *l->slots);
    if (!l->images || !l->slots)
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "loader: %d prefetched images", l->ring);
    return AGECL_OK;
}

static agecl_status start_workers(agecl_loader *l)
{
    AGECL_TRY(agecl__data_worker_init(&l->self, l));
    l->workers = calloc((size_t)l->opt.threads + 1, sizeof *l->workers);
    if (!l->workers) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "loader: workers");
    for (int t = 0; t < l->opt.threads; t++) {
        AGECL_TRY(agecl__data_worker_init(&l->workers[t], l));
        if (pthread_create(&l->workers[t].tid, NULL, agecl__data_loader_thread, &l->workers[t])) {
            agecl__data_worker_free(&l->workers[t]);
            return agecl__fail(AGECL_E_OUT_OF_MEMORY, "loader: cannot start thread %d", t);
        }
        l->n_workers++;
    }
    return AGECL_OK;
}

agecl_status agecl_loader_create(agecl_loader **out, const agecl_dataset *ds,
                                 const int *indices, int count, const agecl_loader_options *opt)
{
    if (!out || !ds || !opt) return agecl__fail(AGECL_E_INVALID_ARG, "loader: null argument");
    *out = NULL;
    if (!indices) count = ds->count;
    AGECL_TRY(check_options(ds, indices, count, opt));
    agecl_loader *l = calloc(1, sizeof *l);
    if (!l) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "loader");
    l->ds = ds;
    l->opt = *opt;
    l->count = count;
    l->epoch = -1;
    l->ring = opt->prefetch * opt->batch_size;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->done_cv, NULL);
    agecl__data_issues_init(&l->issues);
    l->indices = malloc((size_t)count * sizeof *l->indices);
    l->order = malloc((size_t)count * sizeof *l->order);
    l->known_bad = calloc((size_t)ds->count, 1);
    agecl_status st = AGECL_OK;
    if (!l->indices || !l->order || !l->known_bad)
        st = agecl__fail(AGECL_E_OUT_OF_MEMORY, "loader: %d samples", count);
    for (int i = 0; st == AGECL_OK && i < count; i++) l->indices[i] = indices ? indices[i] : i;
    /* No position to claim before the first epoch starts. */
    l->claim = l->take = l->span = count;
    if (st == AGECL_OK) st = alloc_batches(l);
    if (st == AGECL_OK) st = start_workers(l);
    if (st != AGECL_OK) {
        agecl_loader_free(l);
        return st;
    }
    *out = l;
    return AGECL_OK;
}

agecl_status agecl_loader_start_epoch(agecl_loader *l, int epoch)
{
    if (!l || epoch < 0) return agecl__fail(AGECL_E_INVALID_ARG, "loader: epoch %d", epoch);
    pthread_mutex_lock(&l->lock);
    /* Stop claims and let the slots being prepared finish before reordering. */
    l->claim = l->span;
    while (l->busy > 0) pthread_cond_wait(&l->done_cv, &l->lock);
    for (int i = 0; i < l->ring; i++) {
        free(l->slots[i].msg);
        l->slots[i] = (agecl__data_slot){SLOT_EMPTY, AGECL_OK, NULL};
    }
    memcpy(l->order, l->indices, (size_t)l->count * sizeof *l->order);
    if (l->opt.shuffle) { /* Fisher-Yates, keyed by (seed, epoch) */
        agecl__data_rng r = agecl__data_rng_key(l->opt.seed, AGECL__DATA_STREAM_SHUFFLE,
                                                (uint64_t)epoch, 0);
        for (int i = l->count - 1; i > 0; i--) {
            int j = (int)agecl__data_rng_below(&r, (uint32_t)i + 1), t = l->order[i];
            l->order[i] = l->order[j];
            l->order[j] = t;
        }
    }
    l->span = l->count;
    if (l->opt.shards > 1) { /* this shard's part of each global batch, in place */
        int B = l->opt.batch_size, G = B * l->opt.shards, k = 0;
        for (int g = 0; (g + 1) * G <= l->count; g++)
            for (int j = 0; j < B; j++) l->order[k++] = l->order[g * G + l->opt.shard * B + j];
        l->span = k;
    }
    l->epoch = epoch;
    l->number = 0;
    l->claim = l->take = 0;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->lock);
    return AGECL_OK;
}

/* With the lock held: the slot of position take, waiting for it (or preparing it
 * here when no worker has claimed it). */
static agecl__data_slot *wait_slot(agecl_loader *l)
{
    if (l->claim == l->take) agecl__data_loader_claim(l, &l->self);
    agecl__data_slot *slot = &l->slots[l->take % l->ring];
    while (slot->state != SLOT_DONE) pthread_cond_wait(&l->done_cv, &l->lock);
    return slot;
}

/* Copy the done slot of position take into batch b at n (or report it bad), then
 * free the slot; returns 1 when the sample went into the batch. Drops the lock
 * while copying: the slot stays DONE, so no worker touches it meanwhile. */
static int take_slot(agecl_loader *l, agecl__data_slot *slot, agecl_batch *b, int n,
                     agecl_status *err)
{
    int pos = l->take, idx = l->order[pos], used = 0;
    const agecl_sample *s = &l->ds->e[idx].s;
    int strict = (l->ds->flags & AGECL_DATA_STRICT) != 0;
    pthread_mutex_unlock(&l->lock);
    if (slot->status == AGECL_OK) {
        size_t floats = (size_t)l->opt.image_size * l->opt.image_size * 3;
        memcpy(b->images + n * floats, l->images + (size_t)(pos % l->ring) * floats,
               floats * sizeof(float));
        b->ages[n] = s->age;
        b->genders[n] = s->gender;
        b->indices[n] = idx;
        b->target_age[n] = (float)s->age;
        b->target_gender[n] = s->gender == AGECL_GENDER_UNKNOWN ? -1.0f : (float)s->gender;
        b->target_pos[n] = (float)agecl_dataset_age_position(l->ds, s->age);
        used = 1;
    } else if (strict) {
        *err = agecl__fail(slot->status, "%s", slot->msg ? slot->msg : s->path);
    } else if (slot->msg) {
        agecl__data_issues_add(&l->issues, "%s", slot->msg);
    }
    pthread_mutex_lock(&l->lock);
    if (slot->status != AGECL_OK) l->known_bad[idx] = 1;
    free(slot->msg);
    *slot = (agecl__data_slot){SLOT_EMPTY, AGECL_OK, NULL};
    l->take++;
    pthread_cond_signal(&l->work_cv);
    return used;
}

agecl_status agecl_loader_next(agecl_loader *l, agecl_batch **batch)
{
    if (!l || !batch) return agecl__fail(AGECL_E_INVALID_ARG, "loader: null argument");
    *batch = NULL;
    if (l->epoch < 0) return agecl__fail(AGECL_E_INVALID_ARG, "loader: no epoch started");
    int k = l->held[0] ? 1 : 0;
    if (l->held[k])
        return agecl__fail(AGECL_E_INVALID_ARG, "loader: two batches held; release one first");
    agecl_batch *b = &l->batch[k];
    agecl_status err = AGECL_OK;
    int n = 0;
    pthread_mutex_lock(&l->lock);
    while (n < l->opt.batch_size && l->take < l->span && err == AGECL_OK)
        n += take_slot(l, wait_slot(l), b, n, &err);
    pthread_mutex_unlock(&l->lock);
    if (err != AGECL_OK) return err;
    if (n == 0 || (l->opt.drop_last && n < l->opt.batch_size)) return AGECL_OK;
    b->count = n;
    b->epoch = l->epoch;
    b->number = l->number++;
    l->held[k] = 1;
    *batch = b;
    return AGECL_OK;
}

void agecl_loader_release(agecl_loader *l, agecl_batch *batch)
{
    for (int k = 0; l && k < 2; k++)
        if (batch == &l->batch[k]) l->held[k] = 0;
}

int agecl_loader_skipped(const agecl_loader *l) { return agecl__data_issues_count(&l->issues); }
int agecl_loader_issue_count(const agecl_loader *l) { return agecl__data_issues_kept(&l->issues); }
const char *agecl_loader_issue(const agecl_loader *l, int i) { return agecl__data_issues_get(&l->issues, i); }

void agecl_loader_free(agecl_loader *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->lock);
    l->quit = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->lock);
    for (int t = 0; t < l->n_workers; t++) {
        pthread_join(l->workers[t].tid, NULL);
        agecl__data_worker_free(&l->workers[t]);
    }
    free(l->workers);
    agecl__data_worker_free(&l->self);
    for (int i = 0; l->slots && i < l->ring; i++) free(l->slots[i].msg);
    for (int k = 0; k < 2; k++) {
        free(l->batch[k].images);
        free(l->batch[k].ages);
        free(l->batch[k].target_age);
    }
    free(l->slots);
    free(l->images);
    free(l->indices);
    free(l->order);
    free(l->known_bad);
    agecl__data_issues_free(&l->issues);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->done_cv);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
