/* src/data/loader_work.c - preparing one sample: decode (or read the cache), crop,
 * resize, augment, normalise; and the worker threads that do it ahead. */
#include "data/loader.h"

#include <stdlib.h>
#include <string.h>

agecl_status agecl__data_worker_init(agecl__data_worker *w, agecl_loader *l)
{
    size_t image = (size_t)l->opt.image_size * l->opt.image_size * 3;
    *w = (agecl__data_worker){.l = l, .rgb = malloc(image), .aug = malloc(image)};
    if (!w->rgb || !w->aug) {
        agecl__data_worker_free(w);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "loader: image buffers");
    }
    return AGECL_OK;
}

void agecl__data_worker_free(agecl__data_worker *w)
{
    agecl__data_scratch_free(&w->scratch);
    free(w->rgb);
    free(w->aug);
    w->rgb = w->aug = NULL;
}

static agecl_status prepare(agecl_loader *l, agecl__data_worker *w, int pos, float *out)
{
    int idx = l->order[pos], size = l->opt.image_size;
    const agecl_sample *s = &l->ds->e[idx].s;
    const agecl_image_cache *cache = l->opt.cache;
    size_t image = (size_t)size * size * 3;
    const uint8_t *rgb = w->rgb;
    if (cache) {
        agecl_status st = (agecl_status)cache->status[idx];
        if (st != AGECL_OK)
            return agecl__fail(st, "%s: bad image (%s, found when the cache was built)", s->path,
                               agecl_strerror(st));
        if (l->opt.augment) memcpy(w->rgb, cache->pixels + idx * image, image);
        else rgb = cache->pixels + idx * image;
    } else {
        AGECL_TRY(agecl__data_load(&w->scratch, s->path, l->ds->crop, size, w->rgb));
    }
    if (l->opt.augment) {
        agecl_augment a = agecl_augment_draw(l->opt.policy, l->opt.seed, l->epoch, idx);
        agecl_augment_apply(&a, w->rgb, size, w->aug);
    }
    agecl_image_normalize(rgb, size, size, out);
    return AGECL_OK;
}

void agecl__data_loader_claim(agecl_loader *l, agecl__data_worker *w)
{
    int pos = l->claim++;
    agecl__data_slot *slot = &l->slots[pos % l->ring];
    if (l->known_bad[l->order[pos]]) {
        *slot = (agecl__data_slot){SLOT_DONE, AGECL_E_DATA, NULL};
        pthread_cond_signal(&l->done_cv);
        return;
    }
    slot->state = SLOT_BUSY;
    l->busy++;
    pthread_mutex_unlock(&l->lock);
    size_t floats = (size_t)l->opt.image_size * l->opt.image_size * 3;
    agecl_status st = prepare(l, w, pos, l->images + (size_t)(pos % l->ring) * floats);
    /* The detail is this thread's: copy it for the caller, who reports it. A copy
     * that fails leaves the generic message of the status. */
    char *msg = st == AGECL_OK ? NULL : strdup(agecl_last_error());
    if (st != AGECL_OK && !msg) msg = strdup(agecl_strerror(st));
    pthread_mutex_lock(&l->lock);
    *slot = (agecl__data_slot){SLOT_DONE, st, msg};
    l->busy--;
    pthread_cond_signal(&l->done_cv);
}

void *agecl__data_loader_thread(void *arg)
{
    agecl__data_worker *w = arg;
    agecl_loader *l = w->l;
    pthread_mutex_lock(&l->lock);
    while (!l->quit) {
        if (l->claim < l->span && l->claim - l->take < l->ring) agecl__data_loader_claim(l, w);
        else pthread_cond_wait(&l->work_cv, &l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}
