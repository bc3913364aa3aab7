/*
 * This file implements the event resources of ARCHITECTURE §5.2: publish one
 * event, publish a batch (each item reported on its own), and read a topic's
 * history in seq order. Publishes answer only after the event is committed.
 */
#include "api/api_internal.h"

#include <string.h>

#define APP   (c->params[0])
#define ENV   (c->params[1])
#define TOPIC (c->params[2])

/* ================================================================ publish */

typedef struct {
    api_call_t *call;
    int status;
    char id[32];
    int64_t seq;
} pub_t;

static void publish_answer(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    (void)b;
    pub_t *p = a;
    if (p->status != 0)
        rt_api_error(p->call, 500, "storage_failed", "the event could not be stored", NULL);
    else
        rt_api_reply(p->call, 201, json_pack("{s:s, s:I}", "id", p->id, "seq", (json_int_t)p->seq));
    rt_free(p);
}

/* Writer thread: record the outcome and answer on the request's worker. */
static void publish_done(void *arg, int status, const rt_event_t *ev)
{
    pub_t *p = arg;
    p->status = status;
    if (ev) {
        memcpy(p->id, ev->id, sizeof(p->id));
        p->seq = ev->seq;
    }
    rt_worker_post(p->call->req->worker, publish_answer, p, NULL);
}

static void publish_refused(api_call_t *c, rt_publish_error_t *err)
{
    rt_api_error(c, err->status, err->code, err->message, err->details);
}

void rt_api_events_publish(api_call_t *c)
{
    json_t *payload = json_object_get(c->body, "payload");
    if (payload == NULL) {
        rt_api_error(c, 400, "invalid_field", "payload is required",
                     json_pack("[{s:s, s:s}]", "field", "payload", "message", "is required"));
        return;
    }
    rt_publish_t pub = {APP, ENV, TOPIC, payload, NULL, RT_SOURCE_API};
    pub_t *p = rt_calloc(1, sizeof(*p));
    p->call = c;
    rt_publish_error_t err;
    if (rt_topic_publish(c->api->topics, &pub, publish_done, p, &err) != 0) {
        rt_free(p);
        publish_refused(c, &err);
    }
}

/* ================================================================== batch */

typedef struct {
    int status; /* HTTP-style status of this item */
    const char *code;
    const char *message;
    json_t *details;
    char id[32];
    int64_t seq;
} item_t;

typedef struct {
    api_call_t *call;
    size_t n;
    item_t *items;
    atomic_size_t outstanding; /* completions still due, plus one for the submitter */
} batch_t;

static void batch_answer(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    (void)b;
    batch_t *bt = a;
    json_t *results = json_array();
    for (size_t i = 0; i < bt->n; i++) {
        item_t *it = &bt->items[i];
        json_t *r;
        if (it->status == 201) {
            r = json_pack("{s:i, s:s, s:I}", "status", 201, "id", it->id, "seq",
                          (json_int_t)it->seq);
        } else {
            json_t *e = json_pack("{s:s, s:s}", "code", it->code, "message", it->message);
            if (it->details)
                json_object_set_new(e, "details", it->details);
            r = json_pack("{s:i, s:o}", "status", it->status, "error", e);
        }
        json_array_append_new(results, r);
    }
    rt_api_reply(bt->call, 200, json_pack("{s:o}", "results", results));
    rt_free(bt->items);
    rt_free(bt);
}

static void batch_release(batch_t *bt)
{
    if (atomic_fetch_sub(&bt->outstanding, 1) == 1)
        rt_worker_post(bt->call->req->worker, batch_answer, bt, NULL);
}

typedef struct {
    batch_t *bt;
    size_t index;
} batch_ref_t;

static void batch_item_done(void *arg, int status, const rt_event_t *ev)
{
    batch_ref_t *ref = arg;
    item_t *it = &ref->bt->items[ref->index];
    if (status == 0) {
        it->status = 201;
        memcpy(it->id, ev->id, sizeof(it->id));
        it->seq = ev->seq;
    } else {
        it->status = 500;
        it->code = "storage_failed";
        it->message = "the event could not be stored";
    }
    batch_t *bt = ref->bt;
    rt_free(ref);
    batch_release(bt);
}

static void item_fail(item_t *it, int status, const char *code, const char *message)
{
    it->status = status;
    it->code = code;
    it->message = message;
}

static void batch_submit(api_call_t *c, batch_t *bt, size_t i, json_t *entry)
{
    item_t *it = &bt->items[i];
    json_t *topic = json_object_get(entry, "topic");
    json_t *payload = json_object_get(entry, "payload");
    if (!json_is_object(entry) || !json_is_string(topic) || payload == NULL) {
        item_fail(it, 400, "invalid_item", "each item needs a string topic and a payload");
        return;
    }
    rt_publish_t pub = {APP, ENV, json_string_value(topic), payload, NULL, RT_SOURCE_API};
    batch_ref_t *ref = rt_malloc(sizeof(*ref));
    *ref = (batch_ref_t){bt, i};
    rt_publish_error_t err;
    atomic_fetch_add(&bt->outstanding, 1);
    if (rt_topic_publish(c->api->topics, &pub, batch_item_done, ref, &err) != 0) {
        rt_free(ref);
        atomic_fetch_sub(&bt->outstanding, 1);
        item_fail(it, err.status, err.code, err.message);
        it->details = err.details;
    }
}

void rt_api_events_batch(api_call_t *c)
{
    json_t *list = json_is_array(c->body) ? c->body : json_object_get(c->body, "events");
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > RT_BATCH_MAX_ITEMS) {
        rt_api_error(c, 400, "invalid_body",
                     "body must be an array of 1..1000 {\"topic\",\"payload\"} items", NULL);
        return;
    }
    batch_t *bt = rt_calloc(1, sizeof(*bt));
    bt->call = c;
    bt->n = json_array_size(list);
    bt->items = rt_calloc(bt->n, sizeof(*bt->items));
    atomic_init(&bt->outstanding, 1);
    for (size_t i = 0; i < bt->n; i++)
        batch_submit(c, bt, i, json_array_get(list, i));
    batch_release(bt);
}

/* ================================================================ history */

typedef struct {
    api_call_t *call;
    size_t limit;
} hist_t;

static void history_page(void *arg, rt_history_t *page)
{
    hist_t *h = arg;
    api_call_t *c = h->call;
    if (page->status != 0) {
        rt_free(h);
        rt_api_error(c, 500, "storage_failed", "history could not be read", NULL);
        return;
    }
    /* The stored envelopes are already JSON: join them without re-parsing. */
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_str(&b, "{\"events\":[");
    for (size_t i = 0; i < page->n; i++) {
        if (i)
            rt_buf_append(&b, ",", 1);
        rt_buf_append(&b, page->envelopes[i]->data, page->envelopes[i]->len);
    }
    if (page->n == h->limit && page->n > 0)
        rt_buf_appendf(&b, "],\"next\":%lld}", (long long)page->seqs[page->n - 1]);
    else
        rt_buf_append_str(&b, "],\"next\":null}");
    rt_http_respond(c->req, 200, "application/json", NULL, b.data, b.len);
    rt_buf_close(&b);
    rt_api_call_free(c);
    rt_free(h);
}

/* Reads an optional integer query parameter in [min, max]. */
static int query_int(api_call_t *c, const char *key, int64_t def, int64_t min, int64_t max,
                     int64_t *out)
{
    const rt_http_request_t *hd = &c->req->head;
    char buf[32];
    size_t len;
    int rc = rt_http_query_get(hd->query, hd->query_len, key, buf, sizeof(buf), &len);
    *out = def;
    if (rc == RT_ENOENT)
        return 0;
    if (rc != 0 || rt_parse_i64(buf, len, out) != 0 || *out < min || *out > max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s must be an integer in %lld..%lld", key, (long long)min,
                 (long long)max);
        rt_api_error(c, 400, "invalid_parameter", msg, NULL);
        return -1;
    }
    return 0;
}

void rt_api_events_history(api_call_t *c)
{
    int64_t since, limit;
    if (query_int(c, "since", 0, 0, INT64_MAX, &since) != 0 ||
        query_int(c, "limit", RT_HISTORY_LIMIT_DEFAULT, 1, RT_HISTORY_LIMIT_MAX, &limit) != 0)
        return;
    rt_topic_t *t = rt_registry_topic_get(c->api->registry, APP, ENV, TOPIC);
    if (t == NULL) {
        rt_api_error(c, 404, "topic_not_found", "topic not found", NULL);
        return;
    }
    hist_t *h = rt_malloc(sizeof(*h));
    h->call = c;
    h->limit = (size_t)limit;
    rt_topics_history(c->api->topics, c->req->worker, t->tid, since, (size_t)limit, history_page,
                      h);
    rt_topic_release(t);
}
