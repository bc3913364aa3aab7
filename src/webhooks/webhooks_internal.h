/*
 * webhooks_internal.h - private to src/webhooks: the endpoint snapshot, the
 * hub struct shared by the endpoint cache and the dispatcher, and the calls
 * between them.
 */
#ifndef RT_WEBHOOKS_INTERNAL_H
#define RT_WEBHOOKS_INTERNAL_H

#include <pthread.h>

#include "webhooks/webhooks.h"

/*
 * One version of an endpoint: immutable once published in the cache, and
 * refcounted, so the dispatcher can hold it through an attempt while the API
 * replaces it. A change makes a new snapshot and swaps it in.
 */
typedef struct wh_endpoint_s {
    atomic_int refs;
    int64_t eid; /* numeric id, the outbox key */
    char id[32]; /* "ep_" + ULID, the API id */
    char *app;
    char *env;
    char *url;
    json_t *topics;  /* array of names/patterns */
    json_t *headers; /* object of extra static headers */
    char *description;
    int enabled;
    int ordered;
    int64_t rate_limit; /* deliveries per second; 0: none */
    char *secret;
    char *old_secret; /* NULL, or signing too until old_until_ms */
    int64_t old_until_ms;
    int64_t created_ms;
    int64_t updated_ms;
    char *disabled_reason; /* NULL, or why it was disabled automatically */
} wh_endpoint_t;

struct rt_webhooks_s {
    rt_wh_config_t cfg;
    rt_registry_t *registry;
    rt_topics_t *topics;
    rt_store_t *store;

    pthread_rwlock_t lock; /* guards eps and next_eid */
    wh_endpoint_t **eps;   /* ordered by id */
    size_t neps, capeps;
    int64_t next_eid;

    pthread_mutex_t disp_lock; /* guards disp against wakes from other threads */
    struct wh_disp_s *disp;    /* the dispatcher while running, else NULL */
};

wh_endpoint_t *rt_wh_ep_retain(wh_endpoint_t *ep);
void rt_wh_ep_release(wh_endpoint_t *ep);

/* A reference to endpoint eid, or NULL. Thread-safe. */
wh_endpoint_t *rt_wh_ep_by_eid(rt_webhooks_t *wh, int64_t eid);

/* The endpoint's JSON (no secret). */
json_t *rt_wh_ep_json(const wh_endpoint_t *ep);

/* Disables endpoint eid with reason (dispatcher thread); publishes
 * webhook.endpoint.disabled when the topic exists. */
void rt_wh_ep_disable(rt_webhooks_t *wh, int64_t eid, const char *reason);

/* Wakes the dispatcher (any thread; no-op when not running). full: rows
 * before the scan cursor may have become due again (replay, re-enable). */
void rt_wh_disp_wake(rt_webhooks_t *wh, int full);

/* Tells the dispatcher that a replay of endpoint eid has been committed
 * (any thread): one event (event_id), or every delivery created at or after
 * since_ms (only the failed ones with only_failed). A delivery of it in
 * flight at that moment runs again once its outcome is committed, instead of
 * that outcome overwriting the replay. Also asks for a full scan. */
void rt_wh_disp_replayed(rt_webhooks_t *wh, int64_t eid, const char *event_id, int64_t since_ms,
                         int only_failed);

/* Checks every field of an endpoint body (create: all required fields too;
 * else a PATCH). Returns 0, or RT_EINVAL with inv->details (the receiver
 * json_decrefs). Pure: no state is read; any thread. */
int rt_wh_ep_validate(const json_t *body, int create, rt_wh_invalid_t *inv);

/* The store write that records an endpoint (its whole row). */
void rt_wh_ep_write(const wh_endpoint_t *ep, rt_store_write_t *w, char **config_out);

#endif
