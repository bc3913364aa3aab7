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
#include <string.h>

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

/* ================================================================ publish */

typedef struct {
    rt_topics_t *hub;
    rt_event_t *ev;
    rt_publish_done_fn done;
    void *arg;
    rt_source_t source;
    uint64_t start_ns;
} pub_job_t;

static void set_err(rt_publish_error_t *err, int status, const char *code, const char *message)
{
    err->status = status;
    err->code = code;
    err->message = message;
    err->details = NULL;
}

/* The envelope of §5.3, built once; key order is part of the contract only in
 * that it is stable. */
static rt_rc_t *encode_envelope(const rt_event_t *ev, const rt_publish_t *p, int64_t time_ms,
                                int schema_version)
{
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(time_ms, ts);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_reserve(&b, 256);
    rt_buf_appendf(&b, "{\"id\":\"%s\",\"topic\":\"%s\",\"seq\":%lld,\"time\":\"%s\",\"source\":\"%s\",",
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

static void count(rt_topics_t *h, rt_source_t source, const char *result)
{
    char labels[96];
    snprintf(labels, sizeof(labels), "source=\"%s\",result=\"%s\"", rt_source_name(source),
             result);
    rt_metric_add(rt_metric_get("rt_publish_total", labels, "counter",
                                "Publishes by source and result"),
                  1);
    (void)h;
}

/* Writer thread: the event is durable (or not). Producer first, then every
 * worker with subscribers. */
static void on_committed(void *arg, int status)
{
    pub_job_t *job = arg;
    rt_event_t *ev = job->ev;
    rt_topics_t *h = job->hub;
    if (status == 0) {
        rt_topic_t *t = ev->topic;
        pthread_mutex_lock(&t->lock);
        if (ev->seq > t->committed_seq)
            t->committed_seq = ev->seq;
        pthread_mutex_unlock(&t->lock);
        rt_histo_observe_ns(h->publish_latency, rt_mono_ns() - job->start_ns);
        count(h, job->source, "ok");
        rt_topics_fanout(h, ev);
    } else {
        count(h, job->source, "store_failed");
        rt_log_error("publish_failed", "topic=%s seq=%lld error=\"%s\"", ev->topic->key,
                     (long long)ev->seq, rt_strerror(status));
    }
    if (job->done)
        job->done(job->arg, status, status == 0 ? ev : NULL);
    rt_event_release(ev);
    rt_free(job);
}

int rt_topic_publish(rt_topics_t *h, const rt_publish_t *p, rt_publish_done_fn done, void *arg,
                     rt_publish_error_t *err)
{
    uint64_t start = rt_mono_ns();
    rt_topic_t *t = rt_registry_topic_get(h->registry, p->app, p->env, p->topic);
    if (t == NULL) {
        set_err(err, 404, "topic_not_found", "no such topic in this environment");
        count(h, p->source, "topic_not_found");
        return RT_ENOENT;
    }
    if (p->meta && !json_is_object(p->meta)) {
        rt_topic_release(t);
        set_err(err, 400, "invalid_meta", "meta must be an object");
        return RT_EINVAL;
    }
    int64_t now = rt_time_ms();
    rt_event_t *ev = rt_calloc(1, sizeof(*ev));
    atomic_init(&ev->refs, 1);
    ev->topic = t; /* takes the reference from topic_get */
    ev->tid = t->tid;
    memcpy(ev->id, "evt_", 4);
    rt_ulid_new(now, ev->id + 4);

    pub_job_t *job = rt_malloc(sizeof(*job));
    *job = (pub_job_t){h, ev, done, arg, p->source, start};

    pthread_mutex_lock(&t->lock);
    ev->seq = t->seq + 1;
    ev->envelope = encode_envelope(ev, p, now, 0);
    rt_store_write_t w = {RT_STORE_EVENT_APPEND,
                          5,
                          {rt_store_int(ev->tid), rt_store_int(ev->seq), rt_store_text(ev->id),
                           rt_store_int(now), rt_store_textn(ev->envelope->data, ev->envelope->len)}};
    int rc = rt_store_submit(rt_registry_store(h->registry), &w, 1, on_committed, job);
    if (rc == 0)
        t->seq = ev->seq;
    pthread_mutex_unlock(&t->lock);
    if (rc != 0) {
        rt_event_release(ev);
        rt_free(job);
        set_err(err, 503, "unavailable", "the server is shutting down");
        count(h, p->source, "unavailable");
        return rc;
    }
    return 0;
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

static int history_row(void *arg, const rt_store_row_t *row)
{
    history_job_t *j = arg;
    if (j->page.n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 16;
        j->page.seqs = rt_realloc(j->page.seqs, j->cap * sizeof(int64_t));
        j->page.envelopes = rt_realloc(j->page.envelopes, j->cap * sizeof(rt_rc_t *));
    }
    size_t len;
    const char *text = rt_store_row_text(row, 1, &len);
    rt_rc_t *rc = rt_rc_new(len);
    memcpy(rc->data, text, len);
    j->page.seqs[j->page.n] = rt_store_row_int(row, 0);
    j->page.envelopes[j->page.n] = rc;
    j->page.n++;
    return 0;
}

static void history_work(uv_work_t *w)
{
    history_job_t *j = w->data;
    rt_store_val_t vals[3] = {rt_store_int(j->tid), rt_store_int(j->after),
                              rt_store_int((int64_t)j->limit)};
    j->page.status = rt_store_read(rt_registry_store(j->hub->registry), RT_STORE_EVENTS_RANGE,
                                   vals, 3, history_row, j);
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
