/*
 * This file implements the fan-out engine of ARCHITECTURE §4: the per-worker
 * subscription index, delivery of a committed event to every local
 * subscriber with the bytes encoded once per subscriber kind, and replay of
 * missed events (`since`) with the switch to live without gap or duplicate.
 *
 * Replay and live: a since-subscription enters the index at once, so every
 * event posted to the worker from then on reaches it; while the history read
 * runs, those live events are parked. History is delivered first, then the
 * parked events; next_seq skips whatever both sources carried.
 */
#include "topics/topics_internal.h"

#include <string.h>

/* ================================================================= index */

static void list_add(rt_map_t *m, const char *key, rt_sub_t *sub)
{
    rt_sub_t *head = rt_map_get(m, key);
    sub->prev = NULL;
    sub->next = head;
    if (head)
        head->prev = sub;
    rt_map_put(m, key, sub);
}

static void list_del(rt_map_t *m, const char *key, rt_sub_t *sub)
{
    if (sub->prev)
        sub->prev->next = sub->next;
    else if (sub->next)
        rt_map_put(m, key, sub->next);
    else
        rt_map_del(m, key);
    if (sub->next)
        sub->next->prev = sub->prev;
    sub->prev = sub->next = NULL;
}

/* ============================================================== delivery */

#define MAX_KINDS 4

/* Frames of one event for each subscriber kind seen so far on this worker. */
typedef struct {
    local_t *local;
    const rt_sub_ops_t *ops[MAX_KINDS];
    rt_frame_t frame[MAX_KINDS];
    int n;
    int64_t delivered; /* counted into the metric once, on release */
} frames_t;

/* Places an encoded frame in the worker's current page (a new page when it
 * does not fit); a frame too big for a page keeps its own block. Takes
 * ownership of rc. */
static rt_frame_t place(local_t *l, rt_rc_t *rc)
{
    size_t len = rc->len;
    if (len > RT_TOPICS_FRAME_IN_PAGE_MAX_BYTES)
        return (rt_frame_t){rc, 0, (uint32_t)len};
    if (l->page == NULL || l->page_used + len > l->page->len) {
        rt_rc_release(l->page); /* the connections' runs keep it alive */
        l->page = rt_rc_new(RT_TOPICS_FRAME_PAGE_BYTES);
        l->page_used = 0;
    }
    rt_frame_t f = {rt_rc_retain(l->page), (uint32_t)l->page_used, (uint32_t)len};
    memcpy(l->page->data + l->page_used, rc->data, len);
    l->page_used += len;
    rt_rc_release(rc);
    return f;
}

static const rt_frame_t *frame_for(frames_t *f, const rt_event_t *ev, const rt_sub_t *sub)
{
    for (int i = 0; i < f->n; i++) {
        if (f->ops[i] == sub->ops)
            return &f->frame[i];
    }
    rt_assert(f->n < MAX_KINDS); /* there are only a few subscriber kinds */
    f->ops[f->n] = sub->ops;
    f->frame[f->n] = place(f->local, sub->ops->encode(ev, sub));
    return &f->frame[f->n++];
}

static void frames_release(rt_topics_t *h, frames_t *f)
{
    /* One shared counter update per event, not per subscriber: the counter
     * is shared by every worker and would bounce between cores. */
    if (f->delivered)
        rt_metric_add(h->m_deliveries, f->delivered);
    for (int i = 0; i < f->n; i++)
        rt_rc_release(f->frame[i].page);
}

static void park(rt_sub_t *sub, rt_event_t *ev)
{
    if (sub->nparked == sub->capparked) {
        sub->capparked = sub->capparked ? sub->capparked * 2 : 8;
        sub->parked = rt_realloc(sub->parked, sub->capparked * sizeof(*sub->parked));
    }
    sub->parked[sub->nparked++] = rt_event_retain(ev);
}

static void deliver_one(rt_sub_t *sub, const rt_event_t *ev, frames_t *f)
{
    sub->ops->deliver(sub, ev, frame_for(f, ev, sub));
    f->delivered++;
}

static void fanout_local(local_t *l, rt_event_t *ev)
{
    frames_t f = {.local = l};
    rt_sub_t *next;
    for (rt_sub_t *s = rt_map_get(&l->exact, ev->topic->key); s; s = next) {
        next = s->next; /* deliver may unsubscribe s (slow consumer closed) */
        if (s->replaying) {
            park(s, ev);
            continue;
        }
        if (ev->seq < s->next_seq)
            continue;
        s->next_seq = ev->seq + 1;
        deliver_one(s, ev, &f);
    }
    char scope[2 * (RT_SLUG_MAX_BYTES + 1)];
    snprintf(scope, sizeof(scope), "%s/%s", ev->topic->app, ev->topic->env);
    for (rt_sub_t *s = rt_map_get(&l->patterns, scope); s; s = next) {
        next = s->next;
        if (rt_topics_match(s->key + strlen(scope) + 1, ev->topic->name))
            deliver_one(s, ev, &f);
    }
    frames_release(l->hub, &f);
}

static void on_event_posted(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    fanout_local(a, b);
    rt_event_release(b);
}

void rt_topics_fanout(rt_topics_t *h, rt_event_t *ev)
{
    for (int i = 0; i < h->nlocals; i++) {
        local_t *l = &h->locals[i];
        if (atomic_load_explicit(&l->nsubs, memory_order_relaxed) == 0)
            continue;
        rt_worker_post(l->worker, on_event_posted, l, rt_event_retain(ev));
    }
}

/* ================================================================ replay */

typedef struct {
    uv_work_t work;
    rt_topics_t *hub;
    rt_sub_t *sub; /* NULL once the subscriber left */
    rt_topic_t *topic;
    int64_t after;
    rt_history_t page;
    size_t cap;
} replay_t;

static void replay_start(replay_t *r);

static int replay_row(void *arg, const rt_store_row_t *row)
{
    replay_t *r = arg;
    rt_topics_page_push(&r->page, &r->cap, row);
    return 0;
}

static void replay_work(uv_work_t *w)
{
    replay_t *r = w->data;
    rt_store_val_t vals[3] = {rt_store_int(r->topic->tid), rt_store_int(r->after),
                              rt_store_int(RT_REPLAY_BATCH)};
    r->page.status = rt_store_read(rt_registry_store(r->hub->registry), RT_STORE_EVENTS_RANGE, vals,
                                   3, replay_row, r);
}

static void page_clear(rt_history_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        rt_rc_release(p->envelopes[i]);
    p->n = 0;
}

static void replay_free(replay_t *r)
{
    page_clear(&r->page);
    rt_free(r->page.seqs);
    rt_free(r->page.envelopes);
    rt_topic_release(r->topic);
    rt_free(r);
}

/* Delivers one stored event: a transient event object around its envelope. */
static void deliver_stored(replay_t *r, int64_t seq, rt_rc_t *envelope)
{
    rt_event_t ev;
    memset(&ev, 0, sizeof(ev));
    atomic_init(&ev.refs, 1);
    ev.tid = r->topic->tid;
    ev.seq = seq;
    ev.topic = r->topic;
    ev.envelope = envelope;
    frames_t f = {.local = r->sub->local};
    r->sub->next_seq = seq + 1;
    deliver_one(r->sub, &ev, &f);
    frames_release(r->hub, &f);
}

static void replay_finish(replay_t *r, int status)
{
    rt_sub_t *sub = r->sub;
    sub->replaying = 0;
    /* Parked live events, minus what history already delivered. The sub may
     * be closed by a delivery (slow consumer), so check it each time. */
    size_t n = sub->nparked;
    rt_event_t **parked = sub->parked;
    sub->parked = NULL;
    sub->nparked = sub->capparked = 0;
    for (size_t i = 0; i < n; i++) {
        if (r->sub && status == 0 && parked[i]->seq >= sub->next_seq) {
            frames_t f = {.local = sub->local};
            sub->next_seq = parked[i]->seq + 1;
            deliver_one(sub, parked[i], &f);
            frames_release(r->hub, &f);
        }
        rt_event_release(parked[i]);
    }
    rt_free(parked);
    if (r->sub) {
        sub->replay = NULL;
        if (sub->ops->replayed)
            sub->ops->replayed(sub, status);
    }
    replay_free(r);
}

static void replay_after(uv_work_t *w, int status)
{
    replay_t *r = w->data;
    if (r->sub == NULL) {
        replay_free(r);
        return;
    }
    int failed = status != 0 || r->page.status != 0;
    size_t got = r->page.n;
    for (size_t i = 0; !failed && i < got && r->sub; i++) {
        if (r->page.seqs[i] >= r->sub->next_seq)
            deliver_stored(r, r->page.seqs[i], r->page.envelopes[i]);
        r->after = r->page.seqs[i];
    }
    page_clear(&r->page);
    if (r->sub == NULL) {
        replay_free(r);
        return;
    }
    if (!failed && got == RT_REPLAY_BATCH) {
        replay_start(r);
        return;
    }
    replay_finish(r, failed ? RT_EIO : 0);
}

static void replay_start(replay_t *r)
{
    local_t *l = r->sub->local;
    r->work.data = r;
    int rc = uv_queue_work(rt_worker_loop(l->worker), &r->work, replay_work, replay_after);
    rt_assert(rc == 0);
}

/* ========================================================== subscriptions */

static char *join(const char *a, const char *b, const char *c)
{
    rt_buf_t k;
    rt_buf_init(&k);
    rt_buf_appendf(&k, "%s/%s/%s", a, b, c);
    return rt_buf_steal(&k, NULL);
}

int rt_topics_subscribe(rt_topics_t *h, rt_worker_t *w, rt_sub_t *sub, rt_topic_t *t,
                        const char *app, const char *env, const char *pattern, int64_t since,
                        int64_t *seq_out)
{
    local_t *l = &h->locals[rt_worker_index(w)];
    sub->local = l;
    if (t == NULL) {
        rt_assert(since < 0);
        sub->pattern = 1;
        sub->key = join(app, env, pattern);
        sub->scope = rt_strndup(sub->key, strlen(app) + 1 + strlen(env));
        list_add(&l->patterns, sub->scope, sub);
    } else {
        sub->key = rt_strdup(t->key);
        sub->tid = t->tid;
        pthread_mutex_lock(&t->lock);
        int64_t committed = t->committed_seq;
        pthread_mutex_unlock(&t->lock);
        *seq_out = committed;
        list_add(&l->exact, sub->key, sub);
        if (since < 0 || since >= committed) {
            sub->next_seq = (since < 0 ? committed : since) + 1;
        } else {
            sub->next_seq = since + 1;
            sub->replaying = 1;
            replay_t *r = rt_calloc(1, sizeof(*r));
            r->hub = h;
            r->sub = sub;
            r->topic = rt_topic_retain(t);
            r->after = since;
            sub->replay = r;
            replay_start(r);
        }
    }
    atomic_fetch_add(&l->nsubs, 1);
    rt_metric_add(h->m_subscriptions, 1);
    return 0;
}

void rt_topics_unsubscribe(rt_topics_t *h, rt_sub_t *sub)
{
    local_t *l = sub->local;
    if (l == NULL)
        return;
    if (sub->pattern)
        list_del(&l->patterns, sub->scope, sub);
    else
        list_del(&l->exact, sub->key, sub);
    if (sub->replay)
        ((replay_t *)sub->replay)->sub = NULL;
    for (size_t i = 0; i < sub->nparked; i++)
        rt_event_release(sub->parked[i]);
    rt_free(sub->parked);
    rt_free(sub->key);
    rt_free(sub->scope);
    sub->parked = NULL;
    sub->nparked = sub->capparked = 0;
    sub->key = sub->scope = NULL;
    sub->local = NULL;
    sub->replay = NULL;
    atomic_fetch_sub(&l->nsubs, 1);
    rt_metric_add(h->m_subscriptions, -1);
}

/* ============================================================= lifecycle */

static void on_retention(uv_timer_t *t)
{
    local_t *l = t->data;
    rt_topics_retention_sweep(l->hub);
}

static void close_noop(uv_handle_t *h)
{
    (void)h;
}

static void worker_hook(void *ctx, rt_worker_t *w, int starting)
{
    rt_topics_t *h = ctx;
    local_t *l = &h->locals[rt_worker_index(w)];
    if (rt_worker_index(w) != 0)
        return;
    if (starting) {
        uv_timer_init(rt_worker_loop(w), &l->retention);
        l->retention.data = l;
        uv_timer_start(&l->retention, on_retention, 5000, RT_RETENTION_SWEEP_MS);
        uv_unref((uv_handle_t *)&l->retention); /* never keeps the loop alive */
        l->retention_on = 1;
    } else if (l->retention_on) {
        uv_close((uv_handle_t *)&l->retention, close_noop);
        l->retention_on = 0;
    }
}

int rt_topics_new(rt_registry_t *registry, rt_server_t *server, rt_topics_t **out)
{
    rt_topics_t *h = rt_calloc(1, sizeof(*h));
    h->registry = registry;
    h->server = server;
    h->nlocals = rt_server_nworkers(server);
    h->locals = rt_calloc((size_t)h->nlocals, sizeof(*h->locals));
    for (int i = 0; i < h->nlocals; i++) {
        local_t *l = &h->locals[i];
        l->hub = h;
        l->worker = rt_server_worker(server, i);
        rt_map_init(&l->exact);
        rt_map_init(&l->patterns);
        atomic_init(&l->nsubs, 0);
    }
    h->publish_latency =
        rt_histo_get("rt_publish_seconds", "", "Publish latency from call to durable commit");
    h->m_deliveries =
        rt_metric_get("rt_deliveries_total", "", "counter", "Events handed to live subscribers");
    h->m_subscriptions = rt_metric_get("rt_subscriptions", "", "gauge", "Live subscriptions");
    rt_server_add_worker_hook(server, worker_hook, h);
    rt_registry_set_publish_state_free(rt_topics_gate_free);
    *out = h;
    return 0;
}

void rt_topics_free(rt_topics_t *h)
{
    if (h == NULL)
        return;
    for (int i = 0; i < h->nlocals; i++) {
        rt_map_close(&h->locals[i].exact);
        rt_map_close(&h->locals[i].patterns);
        rt_rc_release(h->locals[i].page);
    }
    rt_free(h->locals);
    rt_free(h);
}
