/*
 * This file implements the publish path of ARCHITECTURE §2 (rt_topic_publish),
 * the event object, history reads on the worker's thread pool, and the
 * retention sweep. Ordering: a publish takes its topic's lock, assigns the
 * next seq and queues the store write before unlocking, and the store commits
 * jobs in queue order, so the log, the commit callbacks and the fan-out all
 * see one topic's events in seq order.
 */
#include "topics/topics_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

static void set_err(rt_publish_error_t *err, int status, const char *code, const char *message)
{
    err->status = status;
    err->code = code;
    err->message = message;
    err->details = NULL;
}

const char *rt_source_name(rt_source_t s)
{
    static const char *const names[] = {"api", "socket", "cdc", "sync"};
    return names[s];
}

rt_event_t *rt_event_retain(rt_event_t *ev)
{
    int old = atomic_fetch_add_explicit(&ev->refs, 1, memory_order_relaxed);
    rt_assert(old > 0);
    return ev;
}

void rt_event_release(rt_event_t *ev)
{
    if (ev == NULL)
        return;
    int old = atomic_fetch_sub_explicit(&ev->refs, 1, memory_order_acq_rel);
    rt_assert(old > 0);
    if (old != 1)
        return;
    rt_rc_release(ev->envelope);
    rt_topic_release(ev->topic);
    rt_free(ev);
}

/* ============================================================ schema gate */

/* The compiled validator of a topic's active schema version, built on first
 * use after (re)activation and shared by every publisher of the topic. */
typedef struct {
    pthread_mutex_t lock; /* guards the fields below and serialises validation */
    int version;          /* what compiled is for; 0 = nothing compiled */
    int format_assertion;
    rt_schema_t *compiled;
} gate_t;

static void gate_free(void *p)
{
    gate_t *g = p;
    rt_schema_free(g->compiled);
    pthread_mutex_destroy(&g->lock);
    rt_free(g);
}

void rt_topics_gate_free(void *p)
{
    gate_free(p);
}

static gate_t *gate_of(rt_topic_t *t)
{
    void *cur = atomic_load(&t->publish_state);
    if (cur)
        return cur;
    gate_t *g = rt_calloc(1, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    void *expected = NULL;
    if (!atomic_compare_exchange_strong(&t->publish_state, &expected, g)) {
        gate_free(g); /* another publisher won the race */
        return expected;
    }
    return g;
}

typedef struct {
    rt_registry_t *registry;
    const char *app, *env;
} resolve_ctx_t;

/* $refs resolve to schemas registered in the same environment (by $id). */
static json_t *resolve_in_env(void *ctx, const char *uri)
{
    resolve_ctx_t *rc = ctx;
    return rt_registry_schema_by_id(rc->registry, rc->app, rc->env, uri);
}

/*
 * Validates payload against the topic's active schema. Returns 0 and the
 * version enforced (0 = none) in *version, or RT_EINVAL with err filled
 * (422 and the errors as details).
 */
static int gate_check(rt_topics_t *h, rt_topic_t *t, const json_t *payload, int *version,
                      rt_publish_error_t *err)
{
    json_t *schema = NULL;
    int format = 0;
    /* The schema itself is fetched only to (re)compile: a publish to a topic
     * whose validator is current copies nothing. */
    rt_registry_topic_gate(h->registry, t, version, NULL, &format);
    if (*version == 0)
        return 0;
    gate_t *g = gate_of(t);
    int rc = 0;
    pthread_mutex_lock(&g->lock);
    if (g->version != *version || g->format_assertion != format) {
        rt_registry_topic_gate(h->registry, t, version, &schema, &format);
        if (*version == 0)
            goto out; /* deactivated meanwhile */
        rt_schema_free(g->compiled);
        g->compiled = NULL;
        g->version = 0;
        resolve_ctx_t rctx = {h->registry, t->app, t->env};
        rt_schema_opts_t opts = {format, resolve_in_env, &rctx, NULL};
        json_t *cerr = NULL;
        if (rt_schema_compile(schema, &opts, &g->compiled, &cerr) != 0) {
            /* Registered schemas compiled once already; a later failure means a
             * referenced schema changed. Refuse rather than let anything in. */
            json_decref(cerr);
            set_err(err, 500, "schema_unavailable", "the active schema could not be compiled");
            rc = RT_EIO;
            goto out;
        }
        g->version = *version;
        g->format_assertion = format;
    }
    json_t *errors = NULL;
    if (rt_schema_validate(g->compiled, payload, RT_SCHEMA_DEFAULT_MAX_ERRORS, &errors) != 0) {
        set_err(err, 422, "schema_validation_failed", "payload does not match the topic's schema");
        err->details = errors;
        rc = RT_EINVAL;
    }
out:
    pthread_mutex_unlock(&g->lock);
    json_decref(schema);
    return rc;
}

/* ================================================================ publish */

/* One publish job: n events (some NULL: refused) committed in one store job. */
typedef struct {
    rt_topics_t *hub;
    size_t n;
    rt_event_t **events;
    rt_source_t *sources;
    rt_publish_txn_done_fn done;
    void *arg;
    uint64_t start_ns;
    int has_outbox;
} pub_job_t;

/* rt_publish_total series, looked up once each: publishes are hot. */
static const char *const results[] = {"ok",      "store_failed",    "topic_not_found",
                                      "invalid", "schema_rejected", "unavailable"};
static _Atomic(rt_metric_t *) publish_metrics[4][RT_ARRAY_LEN(results)];

static void count(rt_source_t source, const char *result)
{
    size_t r = 0;
    while (r + 1 < RT_ARRAY_LEN(results) && strcmp(results[r], result) != 0)
        r++;
    rt_metric_t *m = atomic_load_explicit(&publish_metrics[source][r], memory_order_acquire);
    if (m == NULL) {
        char labels[96];
        snprintf(labels, sizeof(labels), "source=\"%s\",result=\"%s\"", rt_source_name(source),
                 results[r]);
        m = rt_metric_get("rt_publish_total", labels, "counter", "Publishes by source and result");
        atomic_store_explicit(&publish_metrics[source][r], m, memory_order_release);
    }
    rt_metric_add(m, 1);
}

/* The envelope of §5.3, built once per event. */
static rt_rc_t *encode_envelope(const rt_event_t *ev, const rt_publish_t *p, int64_t time_ms,
                                int schema_version)
{
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(time_ms, ts);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_reserve(&b, 256);
    rt_buf_appendf(
        &b, "{\"id\":\"%s\",\"topic\":\"%s\",\"seq\":%lld,\"time\":\"%s\",\"source\":\"%s\",",
        ev->id, p->topic, (long long)ev->seq, ts, rt_source_name(p->source));
    if (schema_version > 0)
        rt_buf_appendf(&b, "\"schemaVersion\":%d,", schema_version);
    else
        rt_buf_append_str(&b, "\"schemaVersion\":null,");
    rt_buf_append_str(&b, "\"payload\":");
    rt_buf_append_json(&b, p->payload);
    rt_buf_append_str(&b, ",\"meta\":");
    if (p->meta)
        rt_buf_append_json(&b, p->meta);
    else
        rt_buf_append_str(&b, "{}");
    rt_buf_append(&b, "}", 1);
    rt_rc_t *rc = rt_rc_new(b.len);
    memcpy(rc->data, b.data, b.len);
    rt_buf_close(&b);
    return rc;
}

/* Writer thread: the job is durable (or not). Producer first, then every
 * worker with subscribers, then the webhook outbox is told. */
static void on_committed(void *arg, int status)
{
    pub_job_t *job = arg;
    rt_topics_t *h = job->hub;
    for (size_t i = 0; i < job->n; i++) {
        rt_event_t *ev = job->events[i];
        if (ev == NULL)
            continue;
        if (status != 0) {
            count(job->sources[i], "store_failed");
            rt_log_error("publish_failed", "topic=%s seq=%lld error=\"%s\"", ev->topic->key,
                         (long long)ev->seq, rt_strerror(status));
            continue;
        }
        rt_topic_t *t = ev->topic;
        pthread_mutex_lock(&t->lock);
        if (ev->seq > t->committed_seq)
            t->committed_seq = ev->seq;
        pthread_mutex_unlock(&t->lock);
        rt_histo_observe_ns(h->publish_latency, rt_mono_ns() - job->start_ns);
        count(job->sources[i], "ok");
        rt_topics_fanout(h, ev);
    }
    if (status == 0 && job->has_outbox && h->outbox_committed)
        h->outbox_committed(h->outbox_ctx);
    if (job->done)
        job->done(job->arg, status, job->events, job->n);
    for (size_t i = 0; i < job->n; i++)
        rt_event_release(job->events[i]);
    rt_free(job->events);
    rt_free(job->sources);
    rt_free(job);
}

/* Checks one item (topic, meta, schema) and makes its event without a seq.
 * Returns NULL with err filled when refused. */
static rt_event_t *prepare(rt_topics_t *h, const rt_publish_item_t *it, int *schema_version,
                           rt_publish_error_t *err)
{
    const rt_publish_t *p = &it->p;
    memset(err, 0, sizeof(*err));
    rt_topic_t *t = rt_registry_topic_get(h->registry, p->app, p->env, p->topic);
    if (t == NULL) {
        set_err(err, 404, "topic_not_found", "no such topic in this environment");
        count(p->source, "topic_not_found");
        return NULL;
    }
    if (p->meta && !json_is_object(p->meta)) {
        rt_topic_release(t);
        set_err(err, 400, "invalid_meta", "meta must be an object");
        count(p->source, "invalid");
        return NULL;
    }
    if (gate_check(h, t, p->payload, schema_version, err) != 0) {
        rt_topic_release(t);
        count(p->source, "schema_rejected");
        return NULL;
    }
    rt_event_t *ev = rt_calloc(1, sizeof(*ev));
    atomic_init(&ev->refs, 1);
    ev->topic = t; /* takes the reference */
    ev->tid = t->tid;
    if (it->id && strlen(it->id) < sizeof(ev->id)) {
        memcpy(ev->id, it->id, strlen(it->id) + 1);
    } else {
        memcpy(ev->id, "evt_", 4);
        rt_ulid_new(rt_time_ms(), ev->id + 4);
    }
    return ev;
}

static int cmp_tid(const void *a, const void *b)
{
    const rt_topic_t *x = *(rt_topic_t *const *)a, *y = *(rt_topic_t *const *)b;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* The distinct topics of the job's events, sorted by tid: the lock order, so
 * that two jobs over the same topics never deadlock. */
static size_t job_topics(pub_job_t *job, rt_topic_t **out)
{
    size_t m = 0;
    for (size_t i = 0; i < job->n; i++) {
        if (job->events[i])
            out[m++] = job->events[i]->topic;
    }
    qsort(out, m, sizeof(*out), cmp_tid);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (u == 0 || out[u - 1] != out[i])
            out[u++] = out[i];
    }
    return u;
}

/* Assigns seqs, encodes envelopes and queues the one store job, holding the
 * topics' locks so each topic's log commits in seq order. */
static int submit_job(rt_topics_t *h, pub_job_t *job, const rt_publish_item_t *items,
                      const int *versions, const rt_store_write_t *extra, int nextra)
{
    rt_topic_t **topics = rt_malloc((job->n + 1) * sizeof(*topics));
    size_t nt = job_topics(job, topics);
    size_t cap = job->n * (1 + (h->outbox ? RT_OUTBOX_MAX_WRITES : 0)) + (size_t)nextra + 1;
    rt_store_write_t *w = rt_malloc(cap * sizeof(*w));
    int nw = 0;
    int64_t now = rt_time_ms();
    for (size_t i = 0; i < nt; i++)
        pthread_mutex_lock(&topics[i]->lock);
    for (size_t i = 0; i < job->n; i++) {
        rt_event_t *ev = job->events[i];
        if (ev == NULL)
            continue;
        ev->seq = ++ev->topic->seq; /* undone below if the store refuses the job */
        ev->envelope = encode_envelope(ev, &items[i].p, now, versions[i]);
        w[nw++] = (rt_store_write_t){RT_STORE_EVENT_APPEND,
                                     5,
                                     {rt_store_int(ev->tid), rt_store_int(ev->seq),
                                      rt_store_text(ev->id), rt_store_int(now),
                                      rt_store_textn(ev->envelope->data, ev->envelope->len)}};
        if (h->outbox) {
            int added = h->outbox(h->outbox_ctx, ev, &w[nw], RT_OUTBOX_MAX_WRITES);
            job->has_outbox |= added > 0;
            nw += added;
        }
    }
    for (int i = 0; i < nextra; i++)
        w[nw++] = extra[i];
    int rc = nw > 0 ? rt_store_submit(rt_registry_store(h->registry), w, nw, on_committed, job)
                    : RT_EINVAL;
    if (rc != 0) {
        for (size_t i = job->n; i-- > 0;) {
            if (job->events[i])
                job->events[i]->topic->seq--;
        }
    }
    for (size_t i = nt; i-- > 0;)
        pthread_mutex_unlock(&topics[i]->lock);
    rt_free(w);
    rt_free(topics);
    return rc;
}

static void job_free(pub_job_t *job)
{
    for (size_t i = 0; i < job->n; i++)
        rt_event_release(job->events[i]);
    rt_free(job->events);
    rt_free(job->sources);
    rt_free(job);
}

int rt_topics_publish_txn(rt_topics_t *h, const rt_publish_item_t *items, size_t n,
                          const rt_store_write_t *extra, int nextra, rt_publish_txn_done_fn done,
                          void *arg, rt_publish_error_t *errs)
{
    pub_job_t *job = rt_calloc(1, sizeof(*job));
    job->hub = h;
    job->n = n;
    job->events = rt_calloc(n + 1, sizeof(*job->events));
    job->sources = rt_calloc(n + 1, sizeof(*job->sources));
    job->done = done;
    job->arg = arg;
    job->start_ns = rt_mono_ns();
    int *versions = rt_calloc(n + 1, sizeof(*versions));
    for (size_t i = 0; i < n; i++) {
        job->sources[i] = items[i].p.source;
        job->events[i] = prepare(h, &items[i], &versions[i], &errs[i]);
    }
    int rc = submit_job(h, job, items, versions, extra, nextra);
    rt_free(versions);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            if (job->events[i])
                set_err(&errs[i], 503, "unavailable", "the server is shutting down");
        }
        job_free(job);
    }
    return rc == RT_EINVAL ? 0 : rc;
}

/* A single publish is a job of one; this adapts the callback. */
typedef struct {
    rt_publish_done_fn done;
    void *arg;
} single_t;

static void single_done(void *arg, int status, rt_event_t *const *events, size_t n)
{
    single_t *s = arg;
    (void)n;
    if (s->done)
        s->done(s->arg, status, status == 0 ? events[0] : NULL);
    rt_free(s);
}

int rt_topic_publish(rt_topics_t *h, const rt_publish_t *p, rt_publish_done_fn done, void *arg,
                     rt_publish_error_t *err)
{
    rt_publish_item_t item = {*p, NULL};
    int version = 0;
    rt_event_t *ev = prepare(h, &item, &version, err);
    if (ev == NULL)
        return err->status == 404 ? RT_ENOENT : RT_EINVAL;
    pub_job_t *job = rt_calloc(1, sizeof(*job));
    job->hub = h;
    job->n = 1;
    job->events = rt_calloc(1, sizeof(*job->events));
    job->sources = rt_calloc(1, sizeof(*job->sources));
    job->events[0] = ev;
    job->sources[0] = p->source;
    job->start_ns = rt_mono_ns();
    single_t *s = rt_malloc(sizeof(*s));
    *s = (single_t){done, arg};
    job->done = single_done;
    job->arg = s;
    int rc = submit_job(h, job, &item, &version, NULL, 0);
    if (rc != 0) {
        rt_free(s);
        job_free(job);
        set_err(err, 503, "unavailable", "the server is shutting down");
        count(p->source, "unavailable");
    }
    return rc;
}

void rt_topics_set_outbox(rt_topics_t *h, rt_topics_outbox_fn fn, void (*committed)(void *ctx),
                          void *ctx)
{
    h->outbox = fn;
    h->outbox_committed = committed;
    h->outbox_ctx = ctx;
}

/* ================================================================ history */

typedef struct {
    uv_work_t work;
    rt_topics_t *hub;
    int64_t tid, after;
    size_t limit;
    rt_history_fn fn;
    void *arg;
    rt_history_t page;
    size_t cap;
} history_job_t;

void rt_topics_page_push(rt_history_t *page, size_t *cap, const rt_store_row_t *row)
{
    if (page->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        page->seqs = rt_realloc(page->seqs, *cap * sizeof(int64_t));
        page->envelopes = rt_realloc(page->envelopes, *cap * sizeof(rt_rc_t *));
    }
    size_t len;
    const char *text = rt_store_row_text(row, 1, &len);
    rt_rc_t *rc = rt_rc_new(len);
    memcpy(rc->data, text, len);
    page->seqs[page->n] = rt_store_row_int(row, 0);
    page->envelopes[page->n++] = rc;
}

static int history_row(void *arg, const rt_store_row_t *row)
{
    history_job_t *j = arg;
    rt_topics_page_push(&j->page, &j->cap, row);
    return 0;
}

static void history_work(uv_work_t *w)
{
    history_job_t *j = w->data;
    rt_store_val_t vals[3] = {rt_store_int(j->tid), rt_store_int(j->after),
                              rt_store_int((int64_t)j->limit)};
    j->page.status = rt_store_read(rt_registry_store(j->hub->registry), RT_STORE_EVENTS_RANGE, vals,
                                   3, history_row, j);
}

static void history_after(uv_work_t *w, int status)
{
    history_job_t *j = w->data;
    if (status != 0 && j->page.status == 0)
        j->page.status = RT_EIO;
    j->fn(j->arg, &j->page);
    for (size_t i = 0; i < j->page.n; i++)
        rt_rc_release(j->page.envelopes[i]);
    rt_free(j->page.seqs);
    rt_free(j->page.envelopes);
    rt_free(j);
}

void rt_topics_history(rt_topics_t *h, rt_worker_t *w, int64_t tid, int64_t after, size_t limit,
                       rt_history_fn fn, void *arg)
{
    history_job_t *j = rt_calloc(1, sizeof(*j));
    j->hub = h;
    j->tid = tid;
    j->after = after;
    j->limit = limit;
    j->fn = fn;
    j->arg = arg;
    j->work.data = j;
    int rc = uv_queue_work(rt_worker_loop(w), &j->work, history_work, history_after);
    rt_assert(rc == 0);
}

/* ============================================================== retention */

static void trim_topic(void *arg, rt_topic_t *t)
{
    rt_topics_t *h = arg;
    pthread_mutex_lock(&t->lock);
    int64_t keep_after = t->committed_seq - t->retention_count;
    pthread_mutex_unlock(&t->lock);
    rt_store_write_t w = {RT_STORE_EVENT_TRIM,
                          3,
                          {rt_store_int(t->tid), rt_store_int(keep_after),
                           rt_store_int(rt_time_ms() - t->retention_ms)}};
    rt_store_submit(rt_registry_store(h->registry), &w, 1, NULL, NULL);
}

/* Runs on worker 0 every RT_RETENTION_SWEEP_MS: queues one trim per topic. */
void rt_topics_retention_sweep(rt_topics_t *h)
{
    rt_registry_topic_foreach_all(h->registry, trim_topic, h);
}
