/* Data-parallel training: the model's side (agecl_model_set_comm and the two
 * collectives of a step and an epoch, agecl/model.h). The gradients and the
 * state travel through one host buffer of the model: a device's memory is not
 * what a transport such as MPI reads (a GPU's gradient block is read to the
 * host and written back; on a CPU device both are copies in memory). */
#include <stdlib.h>
#include "error.h"
#include "layers/batchnorm_sync.h"
#include "model/model_internal.h"

static int parallel(const agecl_model *m) { return m->comm && m->comm->size > 1; }

/* The most channels of a BatchNorm layer of the model. */
static int bn_channels(agecl_model *m)
{
    int most = agecl__P(m, m->stem.bn.gamma)->c;
    for (int i = 0; i < m->n_units; i++) {
        const agecl__unit *u = &m->units[i];
        const agecl__bn *bns[] = {&u->bn1, &u->bn2, &u->sc_bn};
        for (int k = 0; k < 3; k++)
            if (bns[k]->plan && agecl__P(m, bns[k]->gamma)->c > most)
                most = agecl__P(m, bns[k]->gamma)->c;
    }
    return most;
}

void agecl__model_comm_free(agecl_model *m)
{
    /* requests still out (a backward that failed) complete before their buffer goes */
    for (int i = 0; i < m->n_requests; i++) m->comm->wait(m->comm, m->requests[i]);
    if (m->bn_sync) agecl__bn_sync_free(m->bn_sync);
    free(m->bn_sync);
    free(m->comm_host);
    free(m->unit_from);
    free(m->requests);
    m->bn_sync = NULL, m->comm_host = NULL, m->comm_host_n = 0, m->comm = NULL;
    m->unit_from = NULL, m->requests = NULL, m->n_requests = 0, m->bucket = 0;
}

/* Where tensor i's gradient starts in the gradient region. */
static size_t grad_at(agecl_model *m, int i)
{
    return m->params.items[i].grad.offset - m->params.grads.offset;
}

/* unit_from[] (model_internal.h), after checking that the weights of the stem,
 * the units and the heads lie in that order: AGECL_E_UNSUPPORTED otherwise. */
static agecl_status plan_buckets(agecl_model *m)
{
    int n = m->n_units;
    m->unit_from = malloc((size_t)n * sizeof *m->unit_from);
    m->requests = malloc((size_t)(n + 1) * sizeof *m->requests);
    if (!m->unit_from || !m->requests)
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "gradient buckets of %d units", n);
    int stem = m->stem.conv.weight;
    size_t end = grad_at(m, stem) + agecl_tensor_numel(agecl__G(m, stem)); /* what comes before */
    for (int i = 0; i < n; i++) {
        const agecl__unit *u = &m->units[i];
        int w[3] = {u->conv1.weight, u->conv2.weight, u->sc_conv ? u->sc.weight : -1};
        size_t lo = (size_t)-1, hi = 0;
        for (int k = 0; k < 3; k++) {
            if (w[k] < 0) continue;
            size_t at = grad_at(m, w[k]), size = agecl_tensor_numel(agecl__G(m, w[k]));
            if (at < lo) lo = at;
            if (at + size > hi) hi = at + size;
        }
        if (lo < end)
            return agecl__fail(AGECL_E_UNSUPPORTED, "gradient buckets: the weights of unit %d "
                               "lie before those of the layers ahead of it", i);
        m->unit_from[i] = lo;
        end = hi;
    }
    return AGECL_OK;
}

/* The host buffer, at least n floats. */
static agecl_status host(agecl_model *m, size_t n)
{
    if (m->comm_host_n >= n) return AGECL_OK;
    float *h = realloc(m->comm_host, n * sizeof *h);
    if (!h) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%zu floats to reduce", n);
    m->comm_host = h, m->comm_host_n = n;
    return AGECL_OK;
}

agecl_status agecl_model_set_comm(agecl_model *m, const agecl_comm *comm, int sync_bn,
                                  size_t bucket)
{
    if (!m) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_set_comm: NULL model");
    if (comm && (comm->size < 1 || comm->rank < 0 || comm->rank >= comm->size ||
                 !comm->allreduce_f32 || !comm->allreduce_f64 || !comm->allgather_f32 ||
                 !comm->broadcast_f32))
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_set_comm: rank %d of %d, or a "
                           "collective missing", comm->rank, comm->size);
    if (bucket && comm && comm->size > 1 && (!comm->iallreduce_f32 || !comm->wait))
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_set_comm: buckets of %zu floats, "
                           "but the comm has no iallreduce_f32 and wait", bucket);
    agecl__model_comm_free(m);
    m->comm = comm;
    if (parallel(m) && bucket) {
        agecl_status s = plan_buckets(m);
        /* the host copy the buckets land in, made now: it must not move under them */
        if (s == AGECL_OK) s = host(m, agecl_tensor_numel(&m->params.grads));
        if (s != AGECL_OK) return s;
        m->bucket = bucket;
        m->sent_from = m->params.weight_elems;
    }
    if (!parallel(m) || !sync_bn) return AGECL_OK;
    m->bn_sync = calloc(1, sizeof *m->bn_sync);
    if (!m->bn_sync) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "sync-BN");
    agecl_status s = agecl__bn_sync_create(m->ctx, comm, bn_channels(m), m->bn_sync);
    if (s != AGECL_OK) free(m->bn_sync), m->bn_sync = NULL;
    return s;
}

/* Read grads [from, to) into the host copy and start its sum. */
static agecl_status send(agecl_model *m, size_t from, size_t to)
{
    agecl_tensor part;
    AGECL_TRY(agecl_tensor_view(&m->params.grads, from, 1, (int)(to - from), 1, 1, &part));
    AGECL_TRY(agecl_tensor_read(m->ctx, &part, m->comm_host + from));
    AGECL_TRY(m->comm->iallreduce_f32(m->comm, m->comm_host + from, to - from,
                                      &m->requests[m->n_requests]));
    m->n_requests++;
    return AGECL_OK;
}

agecl_status agecl__model_unit_grads_done(agecl_model *m, int i)
{
    if (!m->bucket) return AGECL_OK;
    size_t from = m->unit_from[i];
    if (m->sent_from - from < m->bucket) return AGECL_OK;
    AGECL_TRY(send(m, from, m->sent_from));
    m->sent_from = from;
    return AGECL_OK;
}

agecl_status agecl_model_allreduce_gradients(agecl_model *m)
{
    if (!m) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_allreduce_gradients: NULL model");
    if (!parallel(m)) return AGECL_OK;
    agecl_tensor *g = &m->params.grads;
    size_t n = agecl_tensor_numel(g);
    AGECL_TRY(host(m, n));
    if (m->n_requests == 0) { /* one sum of the whole region */
        AGECL_TRY(agecl_tensor_read(m->ctx, g, m->comm_host));
        AGECL_TRY(m->comm->allreduce_f32(m->comm, m->comm_host, n));
    } else { /* what the buckets left: the first weights and the one-dimensional tail */
        agecl_tensor part;
        size_t w = m->params.weight_elems;
        AGECL_TRY(agecl_tensor_view(g, 0, 1, (int)m->sent_from, 1, 1, &part));
        AGECL_TRY(agecl_tensor_read(m->ctx, &part, m->comm_host));
        AGECL_TRY(agecl_tensor_view(g, w, 1, (int)(n - w), 1, 1, &part));
        AGECL_TRY(agecl_tensor_read(m->ctx, &part, m->comm_host + w));
        agecl_status s = m->comm->allreduce_f32(m->comm, m->comm_host, m->sent_from);
        if (s == AGECL_OK) s = m->comm->allreduce_f32(m->comm, m->comm_host + w, n - w);
        for (int i = 0; i < m->n_requests; i++) {
            agecl_status done = m->comm->wait(m->comm, m->requests[i]);
            if (s == AGECL_OK) s = done;
        }
        m->n_requests = 0;
        m->sent_from = w;
        AGECL_TRY(s);
    }
    /* each rank's loss is the mean over its batch: the global mean is the mean of those */
    float inv = 1.0f / (float)m->comm->size;
    for (size_t i = 0; i < n; i++) m->comm_host[i] *= inv;
    return agecl_tensor_write(m->ctx, g, m->comm_host);
}

static agecl_status broadcast(agecl_model *m, agecl_tensor *t, int root)
{
    size_t n = agecl_tensor_numel(t);
    if (!n) return AGECL_OK;
    AGECL_TRY(host(m, n));
    AGECL_TRY(agecl_tensor_read(m->ctx, t, m->comm_host));
    AGECL_TRY(m->comm->broadcast_f32(m->comm, m->comm_host, n, root));
    return agecl_tensor_write(m->ctx, t, m->comm_host);
}

agecl_status agecl_model_broadcast_state(agecl_model *m, int root)
{
    if (!m) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_broadcast_state: NULL model");
    if (!parallel(m)) return AGECL_OK;
    if (root < 0 || root >= m->comm->size)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_broadcast_state: root %d of %d ranks",
                           root, m->comm->size);
    agecl__params *p = &m->params;
    agecl__params_changed(m);
    if (p->stat_elems) AGECL_TRY(broadcast(m, &p->stats, root));
    if (!p->ema_on) return AGECL_OK;
    AGECL_TRY(broadcast(m, &p->ema_values, root));
    return p->stat_elems ? broadcast(m, &p->ema_stats, root) : AGECL_OK;
}
