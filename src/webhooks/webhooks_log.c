/*
 * This file implements the reading side of webhook delivery: the attempt log
 * (paged newest first, filtered by outcome or event) and replay, which puts
 * deliveries of one event, or of everything since a time, back in the outbox.
 * Both read the store and so run on a thread pool, never on a worker loop.
 */
#include "webhooks/webhooks_internal.h"

#include <string.h>

/* The eid of app/env/id, or -1. */
static int64_t eid_of(rt_webhooks_t *wh, const char *app, const char *env, const char *id)
{
    int64_t eid = -1;
    pthread_rwlock_rdlock(&wh->lock);
    for (size_t i = 0; i < wh->neps && eid < 0; i++) {
        const wh_endpoint_t *ep = wh->eps[i];
        if (strcmp(ep->id, id) == 0 && strcmp(ep->app, app) == 0 && strcmp(ep->env, env) == 0)
            eid = ep->eid;
    }
    pthread_rwlock_unlock(&wh->lock);
    return eid;
}

typedef struct {
    json_t *items;
    int64_t last;
} page_t;

static int attempt_row(void *arg, const rt_store_row_t *row)
{
    page_t *pg = arg;
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(rt_store_row_int(row, 4), ts);
    int64_t code = rt_store_row_int(row, 5);
    size_t rlen = 0;
    const char *resp = rt_store_row_text(row, 8, &rlen);
    const char *err = rt_store_row_text(row, 6, NULL);
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)rt_store_row_int(row, 0));
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:I,s:I,s:b}", "id", id, "time", ts, "eventId",
                  rt_store_row_text(row, 2, NULL), "attempt", (json_int_t)rt_store_row_int(row, 3),
                  "latencyMs", (json_int_t)(rt_store_row_int(row, 7) / 1000), "success",
                  code >= 200 && code < 300);
    json_object_set_new(j, "statusCode", code ? json_integer(code) : json_null());
    json_object_set_new(j, "error", err ? json_string(err) : json_null());
    /* The snippet may end inside a UTF-8 sequence or be binary. */
    json_object_set_new(j, "response",
                        resp && rt_utf8_valid(resp, rlen) ? json_stringn(resp, rlen)
                                                          : json_string(""));
    json_array_append_new(pg->items, j);
    pg->last = rt_store_row_int(row, 0);
    return 0;
}

int rt_webhooks_attempts(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                         const rt_wh_attempt_query_t *q, json_t **out)
{
    int64_t eid = eid_of(wh, app, env, id);
    if (eid < 0)
        return RT_ENOENT;
    int status = q->status == NULL ? 0 : strcmp(q->status, "success") == 0 ? 1 : 2;
    rt_store_val_t v[5] = {
        rt_store_int(eid), rt_store_int(q->before_aid > 0 ? q->before_aid : INT64_MAX),
        rt_store_int(status), rt_store_text(q->event_id), rt_store_int((int64_t)q->limit)};
    page_t pg = {json_array(), 0};
    if (rt_store_read(wh->store, RT_STORE_WH_ATTEMPTS, v, 5, attempt_row, &pg) != 0) {
        json_decref(pg.items);
        return RT_EIO;
    }
    json_t *next = json_null();
    if (json_array_size(pg.items) == q->limit) {
        char c[24];
        snprintf(c, sizeof(c), "%lld", (long long)pg.last);
        next = json_string(c);
    }
    *out = json_pack("{s:o,s:o}", "items", pg.items, "next", next);
    return 0;
}

static int count_row(void *arg, const rt_store_row_t *row)
{
    *(int64_t *)arg = rt_store_row_int(row, 0);
    return 1;
}

static int event_row(void *arg, const rt_store_row_t *row)
{
    int64_t *ts = arg;
    ts[0] = rt_store_row_int(row, 0);
    ts[1] = rt_store_row_int(row, 1);
    return 1;
}

/* The replay's own completion: the dispatcher hears of it, to re-run a
 * delivery whose attempt raced the replay and to scan the rows it touched
 * (they are before its cursor). */
typedef struct {
    rt_webhooks_t *wh;
    rt_registry_done_fn done;
    void *arg;
    int64_t eid;
    char event_id[32]; /* "" for a since replay */
    int64_t since_ms;
    int only_failed;
} replay_t;

static void replay_done(void *arg, int status)
{
    replay_t *r = arg;
    if (status == 0)
        rt_wh_disp_replayed(r->wh, r->eid, r->event_id[0] ? r->event_id : NULL, r->since_ms,
                            r->only_failed);
    if (r->done)
        r->done(r->arg, status);
    rt_free(r);
}

int rt_webhooks_replay(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                       const char *event_id, int64_t since_ms, int only_failed, int64_t *count,
                       rt_registry_done_fn done, void *arg)
{
    int64_t eid = eid_of(wh, app, env, id);
    if (eid < 0)
        return RT_ENOENT;
    int64_t n = 0, now = rt_time_ms();
    if (event_id)
        only_failed = 0; /* it selects among the rows of a since replay only */
    rt_store_val_t cv[4] = {rt_store_int(eid), rt_store_text(event_id), rt_store_int(since_ms),
                            rt_store_int(only_failed)};
    if (rt_store_read(wh->store, RT_STORE_WH_REPLAY_COUNT, cv, 4, count_row, &n) != 0)
        return RT_EIO;
    rt_store_write_t w;
    if (event_id && n > 0) {
        w = (rt_store_write_t){RT_STORE_WH_REPLAY_EVENT,
                               3,
                               {rt_store_int(eid), rt_store_text(event_id), rt_store_int(now)}};
    } else if (event_id) {
        /* Never delivered to this endpoint (e.g. it was created later): a new
         * delivery of the event, if the log still has it. */
        int64_t ts[2] = {-1, -1};
        rt_store_val_t ev = rt_store_text(event_id);
        if (rt_store_read(wh->store, RT_STORE_WH_EVENT_BY_ID, &ev, 1, event_row, ts) != 0)
            return RT_EIO;
        if (ts[0] < 0)
            return RT_ENOENT;
        n = 1;
        w = (rt_store_write_t){RT_STORE_WH_REPLAY_INSERT,
                               5,
                               {rt_store_int(eid), rt_store_text(event_id), rt_store_int(ts[0]),
                                rt_store_int(ts[1]), rt_store_int(now)}};
    } else {
        w = (rt_store_write_t){RT_STORE_WH_REPLAY_SINCE,
                               4,
                               {rt_store_int(eid), rt_store_int(since_ms),
                                rt_store_int(only_failed), rt_store_int(now)}};
    }
    replay_t *r = rt_calloc(1, sizeof(*r));
    *r = (replay_t){wh, done, arg, eid, "", since_ms, only_failed};
    if (event_id)
        snprintf(r->event_id, sizeof(r->event_id), "%s", event_id);
    *count = n; /* before the submit: done may run at once */
    int rc = rt_store_submit(wh->store, &w, 1, replay_done, r);
    if (rc != 0)
        rt_free(r);
    return rc;
}
