/* src/data/loader.h - the batch loader's insides, shared by its two halves: the
 * caller's side (loader.c) and the preparation of samples (loader_work.c).
 *
 * The positions of an epoch's order are prepared in a ring of prefetch * batch
 * slots. Workers claim positions in order (claim), at most a ring ahead of the one
 * the caller takes next (take); a position nobody has claimed when the caller needs
 * it, the caller prepares itself (with no workers it prepares all). A slot is
 * EMPTY, BUSY while prepared, then DONE with its status until it is taken. */
#ifndef AGECL_DATA_LOADER_H
#define AGECL_DATA_LOADER_H

#include <pthread.h>
#include "data/cache.h"
#include "data/dataset.h"
#include "data/image.h"

enum { SLOT_EMPTY, SLOT_BUSY, SLOT_DONE };

typedef struct agecl__data_slot {
    int state;
    agecl_status status; /* of its preparation */
    char *msg;           /* its error detail; NULL for a sample already known bad */
} agecl__data_slot;

/* What one preparing thread reuses from sample to sample. */
typedef struct agecl__data_worker {
    agecl_loader *l;
    pthread_t tid;
    agecl__data_scratch scratch;
    uint8_t *rgb, *aug; /* size x size x 3 each */
} agecl__data_worker;

struct agecl_loader {
    const agecl_dataset *ds;
    agecl_loader_options opt;
    int count;      /* the loader's samples */
    int span;       /* of them, the positions of order this epoch loads (its shard's) */
    int *indices;   /* the loader's samples */
    int *order;     /* this epoch's order of them */
    int epoch;      /* -1 before the first */
    int number;     /* of the next batch */
    int ring;       /* slots */
    float *images;  /* ring prepared images, 3 x S x S each */
    agecl__data_slot *slots;
    int claim, take, busy; /* positions; slots being prepared */
    int quit;
    char *known_bad; /* by sample index: reported once, then skipped unread */
    pthread_mutex_t lock;
    pthread_cond_t work_cv; /* workers wait for a position to claim */
    pthread_cond_t done_cv; /* the caller waits for a slot to be done */
    agecl__data_worker self; /* the caller's buffers */
    agecl__data_worker *workers;
    int n_workers;
    agecl_batch batch[2];
    int held[2];
    agecl__data_issues issues;
};

/* With the lock held: claim position l->claim and prepare it (releasing the lock
 * meanwhile), or settle it at once if its sample is known bad. */
void agecl__data_loader_claim(agecl_loader *l, agecl__data_worker *w);
/* The worker threads' loop. */
void *agecl__data_loader_thread(void *worker);
agecl_status agecl__data_worker_init(agecl__data_worker *w, agecl_loader *l);
void agecl__data_worker_free(agecl__data_worker *w);

#endif
