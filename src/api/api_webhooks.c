/*
 * This file implements the webhook endpoint resources of ARCHITECTURE §5.2:
 * create, list, read, patch and delete an endpoint, read its secret, rotate
 * it, send a test event, list the attempt log and replay deliveries. Reads of
 * the store (attempts, replay) run on the worker's thread pool.
 */
#include "api/api_internal.h"

#include <string.h>

#include "webhooks/webhooks.h"

#define APP  (c->params[0])
#define ENV  (c->params[1])
#define EPID (c->params[2])

static int no_webhooks(api_call_t *c)
{
    if (c->api->webhooks)
        return 0;
    rt_api_error(c, 503, "unavailable", "webhooks are not running", NULL);
    return 1;
}

static void invalid(api_call_t *c, rt_wh_invalid_t *inv)
{
    rt_api_error(c, 400, "invalid_field", "the endpoint has invalid fields", inv->details);
}

static void not_found(api_call_t *c)
{
    rt_api_error(c, 404, "endpoint_not_found", "webhook endpoint not found", NULL);
}

void rt_api_wh_endpoints_create(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    json_t *out = NULL;
    rt_wh_invalid_t inv = {NULL};
    api_pending_t *p = rt_api_pending(c, 201, NULL);
    int rc = rt_webhooks_endpoint_create(c->api->webhooks, APP, ENV, c->body, &out, &inv,
                                         rt_api_pending_done, p);
    if (rt_api_submitted(p, rc, out) == 0)
        return;
    if (rc == RT_EINVAL)
        invalid(c, &inv);
    else if (rc == RT_ELIMIT)
        rt_api_error(c, 409, "limit_reached", "too many endpoints in this environment", NULL);
    else
        rt_api_registry_fail(c, rc, "endpoint");
}

void rt_api_wh_endpoints_list(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    size_t limit;
    char after[API_PARAM_MAX_BYTES];
    if (rt_api_paging(c, &limit, after, sizeof(after)) != 0)
        return;
    rt_api_reply(
        c, 200,
        rt_webhooks_endpoint_list(c->api->webhooks, APP, ENV, after[0] ? after : NULL, limit));
}

void rt_api_wh_endpoint_get(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    json_t *j = rt_webhooks_endpoint_get(c->api->webhooks, APP, ENV, EPID);
    if (j == NULL)
        not_found(c);
    else
        rt_api_reply(c, 200, j);
}

void rt_api_wh_endpoint_secret(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    json_t *j = rt_webhooks_endpoint_secret(c->api->webhooks, APP, ENV, EPID);
    if (j == NULL)
        not_found(c);
    else
        rt_api_reply(c, 200, j);
}

void rt_api_wh_endpoint_patch(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    json_t *out = NULL;
    rt_wh_invalid_t inv = {NULL};
    api_pending_t *p = rt_api_pending(c, 200, NULL);
    int rc = rt_webhooks_endpoint_patch(c->api->webhooks, APP, ENV, EPID, c->body, &out, &inv,
                                        rt_api_pending_done, p);
    if (rt_api_submitted(p, rc, out) == 0)
        return;
    if (rc == RT_EINVAL)
        invalid(c, &inv);
    else if (rc == RT_ENOENT)
        not_found(c);
    else
        rt_api_registry_fail(c, rc, "endpoint");
}

void rt_api_wh_endpoint_delete(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    api_pending_t *p = rt_api_pending(c, 204, NULL);
    int rc = rt_webhooks_endpoint_delete(c->api->webhooks, APP, ENV, EPID, rt_api_pending_done, p);
    if (rc == 0)
        return;
    rt_free(p);
    if (rc == RT_ENOENT)
        not_found(c);
    else
        rt_api_registry_fail(c, rc, "endpoint");
}

void rt_api_wh_endpoint_rotate(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    json_t *out = NULL;
    api_pending_t *p = rt_api_pending(c, 200, NULL);
    int rc =
        rt_webhooks_endpoint_rotate(c->api->webhooks, APP, ENV, EPID, &out, rt_api_pending_done, p);
    if (rt_api_submitted(p, rc, out) == 0)
        return;
    if (rc == RT_ENOENT)
        not_found(c);
    else
        rt_api_registry_fail(c, rc, "endpoint");
}

/* =================================================================== test */

static void test_answer(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    api_call_t *c = a;
    json_t *attempt = b;
    if (attempt == NULL)
        rt_api_error(c, 503, "unavailable", "the server is shutting down", NULL);
    else
        rt_api_reply(c, 200, attempt);
}

/* Dispatcher thread: hop back to the request's worker. */
static void test_done(void *arg, int status, const json_t *attempt)
{
    api_call_t *c = arg;
    json_t *copy = status == 0 && attempt ? json_deep_copy(attempt) : NULL;
    rt_worker_post(c->req->worker, test_answer, c, copy);
}

void rt_api_wh_endpoint_test(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    int rc = rt_webhooks_test(c->api->webhooks, APP, ENV, EPID, test_done, c);
    if (rc == RT_ENOENT)
        not_found(c);
    else if (rc != 0)
        rt_api_error(c, 503, "unavailable", "webhooks are not running", NULL);
}

/* ============================================================ thread pool */

/* A store read on the worker's thread pool, answered on the worker. */
typedef struct {
    uv_work_t work;
    api_call_t *call;
    int rc;
    json_t *out;
    /* attempts */
    char status[16];
    char event_id[64];
    rt_wh_attempt_query_t q;
    /* replay */
    int replay;
    int64_t since_ms;
    int only_failed;
    int64_t count;
    int store_status;
    int holds; /* replay: the pool's after-callback and the commit's answer */
} pool_t;

static void pool_release(pool_t *p)
{
    if (--p->holds <= 0)
        rt_free(p);
}

static void pool_after(uv_work_t *w, int status)
{
    pool_t *p = w->data;
    api_call_t *c = p->call;
    (void)status;
    if (p->rc == RT_ENOENT)
        rt_api_error(c, 404, p->replay ? "event_not_found" : "endpoint_not_found",
                     p->replay ? "no such event in the log" : "webhook endpoint not found", NULL);
    else if (p->rc != 0)
        rt_api_error(c, 500, "storage_failed", "the store could not be read", NULL);
    else if (!p->replay)
        rt_api_reply(c, 200, p->out);
    if (p->rc != 0)
        p->holds = 0;
    pool_release(p);
}

static void run_pool(api_call_t *c, pool_t *p, uv_work_cb fn)
{
    p->call = c;
    p->work.data = p;
    p->holds = p->replay ? 2 : 1;
    uv_queue_work(rt_worker_loop(c->req->worker), &p->work, fn, pool_after);
}

static void attempts_work(uv_work_t *w)
{
    pool_t *p = w->data;
    api_call_t *c = p->call;
    p->rc = rt_webhooks_attempts(c->api->webhooks, APP, ENV, EPID, &p->q, &p->out);
}

/* Copies query parameter name into out; 0, 1 if absent, -1 after answering
 * 400. */
static int query(api_call_t *c, const char *name, char *out, size_t cap)
{
    const rt_http_request_t *h = &c->req->head;
    size_t len;
    int rc = rt_http_query_get(h->query, h->query_len, name, out, cap, &len);
    if (rc == RT_ENOENT)
        return 1;
    if (rc != 0 || strlen(out) != len) {
        char msg[64];
        snprintf(msg, sizeof(msg), "malformed %s", name);
        rt_api_error(c, 400, "invalid_parameter", msg, NULL);
        return -1;
    }
    return 0;
}

void rt_api_wh_endpoint_attempts(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    pool_t *p = rt_calloc(1, sizeof(*p));
    char after[API_PARAM_MAX_BYTES];
    int rs = -1, re = -1;
    if (rt_api_paging(c, &p->q.limit, after, sizeof(after)) != 0)
        goto fail;
    rs = query(c, "status", p->status, sizeof(p->status));
    if (rs < 0)
        goto fail;
    re = query(c, "eventId", p->event_id, sizeof(p->event_id));
    if (re < 0)
        goto fail;
    if (rs == 0 && strcmp(p->status, "success") != 0 && strcmp(p->status, "failure") != 0) {
        rt_api_error(c, 400, "invalid_parameter", "status must be success or failure", NULL);
        goto fail;
    }
    if (after[0] &&
        (rt_parse_i64(after, strlen(after), &p->q.before_aid) != 0 || p->q.before_aid <= 0)) {
        rt_api_error(c, 400, "invalid_parameter", "after must be a cursor from next", NULL);
        goto fail;
    }
    p->q.status = rs == 0 ? p->status : NULL;
    p->q.event_id = re == 0 ? p->event_id : NULL;
    run_pool(c, p, attempts_work);
    return;
fail:
    rt_free(p);
}

static void replay_answer(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    (void)b;
    pool_t *p = a;
    if (p->store_status != 0)
        rt_api_error(p->call, 500, "storage_failed", "the change could not be stored", NULL);
    else
        rt_api_reply(p->call, 202, json_pack("{s:I}", "count", (json_int_t)p->count));
    pool_release(p);
}

/* Writer thread: the re-queued deliveries are durable. */
static void replay_committed(void *arg, int status)
{
    pool_t *p = arg;
    p->store_status = status;
    rt_worker_post(p->call->req->worker, replay_answer, p, NULL);
}

static void replay_work(uv_work_t *w)
{
    pool_t *p = w->data;
    api_call_t *c = p->call;
    const char *ev = p->event_id[0] ? p->event_id : NULL;
    p->rc = rt_webhooks_replay(c->api->webhooks, APP, ENV, EPID, ev, p->since_ms, p->only_failed,
                               &p->count, replay_committed, p);
}

/* RFC 3339 "2026-11-28T03:16:23(.123)?(Z|±hh:mm)" to ms since the epoch. */
static int parse_rfc3339(const char *s, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return RT_EINVAL;
    int64_t ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        }
        for (; digits < 3 && digits > 0; digits++)
            ms *= 10;
    }
    int64_t off = 0;
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int64_t hh, mm;
        if (rt_parse_i64(p + 1, 2, &hh) != 0 || rt_parse_i64(p + 4, 2, &mm) != 0)
            return RT_EINVAL;
        off = (hh * 60 + mm) * 60 * (*p == '+' ? 1 : -1);
    } else if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0) {
        return RT_EINVAL;
    }
    *out = ((int64_t)timegm(&tm) - off) * 1000 + ms;
    return 0;
}

void rt_api_wh_endpoint_replay(api_call_t *c)
{
    if (no_webhooks(c))
        return;
    const json_t *ev = json_object_get(c->body, "eventId");
    const json_t *since = json_object_get(c->body, "since");
    const json_t *only = json_object_get(c->body, "onlyFailed");
    pool_t *p = rt_calloc(1, sizeof(*p));
    const char *msg = NULL;
    if ((ev == NULL) == (since == NULL))
        msg = "give exactly one of eventId and since";
    else if (ev && (!json_is_string(ev) || json_string_length(ev) >= sizeof(p->event_id)))
        msg = "eventId must be an event id string";
    else if (since &&
             (!json_is_string(since) || parse_rfc3339(json_string_value(since), &p->since_ms) != 0))
        msg = "since must be an RFC 3339 time";
    else if (only && !json_is_boolean(only))
        msg = "onlyFailed must be true or false";
    else if (only && ev)
        msg = "onlyFailed goes with since, not with eventId";
    if (msg) {
        rt_free(p);
        rt_api_error(c, 400, "invalid_field", msg, NULL);
        return;
    }
    if (ev)
        snprintf(p->event_id, sizeof(p->event_id), "%s", json_string_value(ev));
    p->only_failed = json_is_true(only);
    json_t *j = rt_webhooks_endpoint_get(c->api->webhooks, APP, ENV, EPID);
    if (j == NULL) {
        rt_free(p);
        not_found(c);
        return;
    }
    json_decref(j);
    p->replay = 1;
    run_pool(c, p, replay_work);
}
