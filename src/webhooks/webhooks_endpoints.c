/*
 * This file implements webhook endpoints: the in-memory cache of endpoint snapshots (loaded at
 * start, changed by the API and by the dispatcher when it disables one), per-field validation, the
 * CRUD operations and the outbox hook that turns a published event into
 * delivery rows in the event's own store commit.
 */
#include "webhooks/webhooks_internal.h"

#include <curl/curl.h>
#include <string.h>

/* ============================================================= snapshots */

wh_endpoint_t *rt_wh_ep_retain(wh_endpoint_t *ep)
{
    atomic_fetch_add(&ep->refs, 1);
    return ep;
}

void rt_wh_ep_release(wh_endpoint_t *ep)
{
    if (ep == NULL)
        return;
    int before = atomic_fetch_sub(&ep->refs, 1);
    rt_assert(before > 0);
    if (before != 1)
        return;
    rt_free(ep->app);
    rt_free(ep->env);
    rt_free(ep->url);
    json_decref(ep->topics);
    json_decref(ep->headers);
    rt_free(ep->description);
    rt_free(ep->secret);
    rt_free(ep->old_secret);
    rt_free(ep->disabled_reason);
    rt_free(ep);
}

static char *dup_or_null(const char *s)
{
    return s ? rt_strdup(s) : NULL;
}

static wh_endpoint_t *ep_copy(const wh_endpoint_t *src)
{
    wh_endpoint_t *ep = rt_calloc(1, sizeof(*ep));
    *ep = *src;
    atomic_init(&ep->refs, 1);
    ep->app = rt_strdup(src->app);
    ep->env = rt_strdup(src->env);
    ep->url = rt_strdup(src->url);
    ep->topics = json_deep_copy(src->topics);
    ep->headers = json_deep_copy(src->headers);
    ep->description = rt_strdup(src->description);
    ep->secret = rt_strdup(src->secret);
    ep->old_secret = dup_or_null(src->old_secret);
    ep->disabled_reason = dup_or_null(src->disabled_reason);
    return ep;
}

json_t *rt_wh_ep_json(const wh_endpoint_t *ep)
{
    char created[RT_ISO8601_LEN], updated[RT_ISO8601_LEN];
    rt_time_iso8601(ep->created_ms, created);
    rt_time_iso8601(ep->updated_ms, updated);
    json_t *j =
        json_pack("{s:s,s:s,s:O,s:s,s:b,s:O,s:I,s:b,s:s,s:s}", "id", ep->id, "url", ep->url,
                  "topics", ep->topics, "description", ep->description, "enabled", ep->enabled,
                  "headers", ep->headers, "rateLimit", (json_int_t)ep->rate_limit, "ordered",
                  ep->ordered, "createdAt", created, "updatedAt", updated);
    json_object_set_new(j, "disabledReason",
                        ep->disabled_reason ? json_string(ep->disabled_reason) : json_null());
    return j;
}

void rt_wh_ep_write(const wh_endpoint_t *ep, rt_store_write_t *w, char **config_out)
{
    json_t *cfg = json_pack("{s:s,s:O,s:s,s:O,s:I,s:b}", "url", ep->url, "topics", ep->topics,
                            "description", ep->description, "headers", ep->headers, "rateLimit",
                            (json_int_t)ep->rate_limit, "ordered", ep->ordered);
    if (ep->disabled_reason)
        json_object_set_new(cfg, "disabledReason", json_string(ep->disabled_reason));
    char *config = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    *w = (rt_store_write_t){RT_STORE_WH_ENDPOINT_PUT,
                            11,
                            {rt_store_int(ep->eid), rt_store_text(ep->id), rt_store_text(ep->app),
                             rt_store_text(ep->env), rt_store_int(ep->enabled),
                             rt_store_text(config), rt_store_text(ep->secret),
                             rt_store_text(ep->old_secret), rt_store_int(ep->old_until_ms),
                             rt_store_int(ep->created_ms), rt_store_int(ep->updated_ms)}};
    *config_out = config;
}

/* Submits ep's row; the config text is copied by the store. */
static int ep_store(rt_webhooks_t *wh, const wh_endpoint_t *ep, rt_store_done_fn done, void *arg)
{
    rt_store_write_t w;
    char *config;
    rt_wh_ep_write(ep, &w, &config);
    int rc = rt_store_submit(wh->store, &w, 1, done, arg);
    free(config); /* from jansson's allocator */
    return rc;
}

/* ================================================================= cache */

/* Index of id in app/env under the lock, or -1. */
static long find_ep(rt_webhooks_t *wh, const char *app, const char *env, const char *id)
{
    for (size_t i = 0; i < wh->neps; i++) {
        const wh_endpoint_t *ep = wh->eps[i];
        if (strcmp(ep->id, id) == 0 && strcmp(ep->app, app) == 0 && strcmp(ep->env, env) == 0)
            return (long)i;
    }
    return -1;
}

wh_endpoint_t *rt_wh_ep_by_eid(rt_webhooks_t *wh, int64_t eid)
{
    wh_endpoint_t *out = NULL;
    pthread_rwlock_rdlock(&wh->lock);
    for (size_t i = 0; i < wh->neps && out == NULL; i++) {
        if (wh->eps[i]->eid == eid)
            out = rt_wh_ep_retain(wh->eps[i]);
    }
    pthread_rwlock_unlock(&wh->lock);
    return out;
}

static void cache_append(rt_webhooks_t *wh, wh_endpoint_t *ep)
{
    if (wh->neps == wh->capeps) {
        wh->capeps = wh->capeps ? wh->capeps * 2 : 16;
        wh->eps = rt_realloc(wh->eps, wh->capeps * sizeof(*wh->eps));
    }
    wh->eps[wh->neps++] = ep;
}

static int load_row(void *arg, const rt_store_row_t *row)
{
    rt_webhooks_t *wh = arg;
    json_t *cfg = json_loads(rt_store_row_text(row, 5, NULL), 0, NULL);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return 0;
    }
    wh_endpoint_t *ep = rt_calloc(1, sizeof(*ep));
    atomic_init(&ep->refs, 1);
    ep->eid = rt_store_row_int(row, 0);
    snprintf(ep->id, sizeof(ep->id), "%s", rt_store_row_text(row, 1, NULL));
    ep->app = rt_strdup(rt_store_row_text(row, 2, NULL));
    ep->env = rt_strdup(rt_store_row_text(row, 3, NULL));
    ep->enabled = (int)rt_store_row_int(row, 4);
    ep->url = rt_strdup(json_string_value(json_object_get(cfg, "url")));
    ep->topics = json_incref(json_object_get(cfg, "topics"));
    ep->headers = json_incref(json_object_get(cfg, "headers"));
    ep->description = rt_strdup(json_string_value(json_object_get(cfg, "description")));
    ep->rate_limit = json_integer_value(json_object_get(cfg, "rateLimit"));
    ep->ordered = json_is_true(json_object_get(cfg, "ordered"));
    ep->disabled_reason = dup_or_null(json_string_value(json_object_get(cfg, "disabledReason")));
    ep->secret = rt_strdup(rt_store_row_text(row, 6, NULL));
    ep->old_secret = dup_or_null(rt_store_row_text(row, 7, NULL));
    ep->old_until_ms = rt_store_row_int(row, 8);
    ep->created_ms = rt_store_row_int(row, 9);
    ep->updated_ms = rt_store_row_int(row, 10);
    json_decref(cfg);
    if (ep->url == NULL || !json_is_array(ep->topics) || !json_is_object(ep->headers)) {
        rt_log_error("webhook_endpoint_corrupt", "id=%s", ep->id);
        rt_wh_ep_release(ep);
        return 0;
    }
    cache_append(wh, ep);
    if (ep->eid >= wh->next_eid)
        wh->next_eid = ep->eid + 1;
    return 0;
}

int rt_webhooks_new(const rt_wh_config_t *cfg, rt_registry_t *registry, rt_topics_t *topics,
                    rt_webhooks_t **out)
{
    rt_webhooks_t *wh = rt_calloc(1, sizeof(*wh));
    wh->cfg = *cfg;
    wh->registry = registry;
    wh->topics = topics;
    wh->store = rt_registry_store(registry);
    wh->next_eid = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_rwlock_init(&wh->lock, NULL);
    pthread_mutex_init(&wh->disp_lock, NULL);
    if (rt_store_read(wh->store, RT_STORE_WH_ENDPOINTS_ALL, NULL, 0, load_row, wh) != 0) {
        rt_webhooks_free(wh);
        return RT_EIO;
    }
    /* Ids are ULIDs: sorting by creation order keeps the list ordered by id. */
    rt_log_info("webhooks_loaded", "endpoints=%zu", wh->neps);
    *out = wh;
    return 0;
}

void rt_webhooks_free(rt_webhooks_t *wh)
{
    if (wh == NULL)
        return;
    rt_assert(wh->disp == NULL);
    for (size_t i = 0; i < wh->neps; i++)
        rt_wh_ep_release(wh->eps[i]);
    rt_free(wh->eps);
    pthread_rwlock_destroy(&wh->lock);
    pthread_mutex_destroy(&wh->disp_lock);
    rt_free(wh);
    curl_global_cleanup();
}

/* ============================================================ validation */

static void invalid(json_t *details, const char *field, const char *message)
{
    json_array_append_new(details, json_pack("{s:s,s:s}", "field", field, "message", message));
}

static void check_url(const json_t *v, json_t *details)
{
    const char *s = json_string_value(v);
    if (s == NULL || strlen(s) > RT_WH_URL_MAX_BYTES) {
        invalid(details, "url", "must be an http or https URL of at most 2048 bytes");
        return;
    }
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0' &&
             (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
             (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    if (!ok)
        invalid(details, "url", "must be an absolute http:// or https:// URL with a host");
}

static void check_topics(const json_t *v, json_t *details)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > RT_WH_MAX_TOPICS) {
        invalid(details, "topics", "must be an array of 1..64 topic names or patterns");
        return;
    }
    size_t i;
    const json_t *t;
    json_array_foreach(v, i, t)
    {
        const char *s = json_string_value(t);
        if (s == NULL || !rt_topics_pattern_valid(s, json_string_length(t))) {
            invalid(details, "topics",
                    "each entry must be a topic name or pattern (a.b, a.*, a.>)");
            return;
        }
    }
}

static int header_name_ok(const char *k)
{
    static const char *const reserved[] = {"webhook-id",   "webhook-timestamp", "webhook-signature",
                                           "content-type", "content-length",    "host",
                                           "user-agent",   "transfer-encoding", "connection"};
    if (*k == '\0' || strlen(k) > 128)
        return 0;
    for (const char *p = k; *p; p++) {
        if (!strchr("!#$%&'*+-.^_`|~", *p) && !(*p >= '0' && *p <= '9') &&
            !(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z'))
            return 0;
    }
    for (size_t i = 0; i < RT_ARRAY_LEN(reserved); i++) {
        if (strcasecmp(k, reserved[i]) == 0)
            return 0;
    }
    return 1;
}

static void check_headers(const json_t *v, json_t *details)
{
    if (!json_is_object(v) || json_object_size(v) > RT_WH_MAX_HEADERS) {
        invalid(details, "headers", "must be an object of at most 32 string headers");
        return;
    }
    const char *k;
    const json_t *hv;
    json_object_foreach((json_t *)v, k, hv)
    {
        const char *s = json_string_value(hv);
        if (!header_name_ok(k) || s == NULL || strpbrk(s, "\r\n") ||
            strlen(k) + json_string_length(hv) > RT_WH_HEADER_MAX_BYTES) {
            invalid(details, "headers",
                    "names must be HTTP tokens other than the webhook-*, content-*, host, "
                    "user-agent and connection headers; values strings without CR/LF");
            return;
        }
    }
}

static void check_field(const char *k, const json_t *v, int create, json_t *details)
{
    if (strcmp(k, "url") == 0)
        check_url(v, details);
    else if (strcmp(k, "topics") == 0)
        check_topics(v, details);
    else if (strcmp(k, "description") == 0) {
        if (!json_is_string(v) || json_string_length(v) > RT_DESCRIPTION_MAX_BYTES)
            invalid(details, k, "must be a string of at most 1024 bytes");
    } else if (strcmp(k, "enabled") == 0 || strcmp(k, "ordered") == 0) {
        if (!json_is_boolean(v))
            invalid(details, k, "must be true or false");
    } else if (strcmp(k, "headers") == 0)
        check_headers(v, details);
    else if (strcmp(k, "rateLimit") == 0) {
        if (!json_is_null(v) &&
            (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000))
            invalid(details, k, "must be null or an integer 0..100000 (deliveries per second)");
    } else if (strcmp(k, "secret") == 0 && create) {
        if (!rt_wh_secret_valid(json_string_value(v)))
            invalid(details, k, "must be whsec_ followed by base64 of 24..64 bytes");
    } else if (strcmp(k, "secret") == 0) {
        invalid(details, k, "cannot be changed here: use rotate-secret");
    } else {
        invalid(details, k, "unknown field");
    }
}

/* See webhooks_internal.h. */
int rt_wh_ep_validate(const json_t *body, int create, rt_wh_invalid_t *inv)
{
    json_t *details = json_array();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)body, k, v) check_field(k, v, create, details);
    if (create && json_object_get(body, "url") == NULL)
        invalid(details, "url", "is required");
    if (create && json_object_get(body, "topics") == NULL)
        invalid(details, "topics", "is required");
    if (json_array_size(details) == 0) {
        json_decref(details);
        return 0;
    }
    inv->details = details;
    return RT_EINVAL;
}

static void set_str(char **dst, const json_t *v)
{
    if (v == NULL)
        return;
    rt_free(*dst);
    *dst = rt_strdup(json_string_value(v));
}

static void set_json(json_t **dst, const json_t *v)
{
    if (v == NULL)
        return;
    json_decref(*dst);
    *dst = json_deep_copy(v);
}

/* Applies the (valid) fields of body to ep. */
static void apply(wh_endpoint_t *ep, const json_t *body)
{
    set_str(&ep->url, json_object_get(body, "url"));
    set_str(&ep->description, json_object_get(body, "description"));
    set_json(&ep->topics, json_object_get(body, "topics"));
    set_json(&ep->headers, json_object_get(body, "headers"));
    const json_t *enabled = json_object_get(body, "enabled");
    if (enabled) {
        ep->enabled = json_is_true(enabled);
        if (ep->enabled) {
            rt_free(ep->disabled_reason);
            ep->disabled_reason = NULL;
        }
    }
    const json_t *ordered = json_object_get(body, "ordered");
    if (ordered)
        ep->ordered = json_is_true(ordered);
    const json_t *rate = json_object_get(body, "rateLimit");
    if (rate)
        ep->rate_limit = json_integer_value(rate);
}

/* ================================================================== CRUD */

static size_t count_env(rt_webhooks_t *wh, const char *app, const char *env)
{
    size_t n = 0;
    for (size_t i = 0; i < wh->neps; i++)
        n += strcmp(wh->eps[i]->app, app) == 0 && strcmp(wh->eps[i]->env, env) == 0;
    return n;
}

int rt_webhooks_endpoint_create(rt_webhooks_t *wh, const char *app, const char *env,
                                const json_t *body, json_t **json, rt_wh_invalid_t *inv,
                                rt_registry_done_fn done, void *arg)
{
    if (rt_wh_ep_validate(body, 1, inv) != 0)
        return RT_EINVAL;
    wh_endpoint_t *ep = rt_calloc(1, sizeof(*ep));
    atomic_init(&ep->refs, 1);
    char ulid[RT_ULID_LEN + 1];
    ep->created_ms = ep->updated_ms = rt_time_ms();
    rt_ulid_new(ep->created_ms, ulid);
    snprintf(ep->id, sizeof(ep->id), "ep_%s", ulid);
    ep->app = rt_strdup(app);
    ep->env = rt_strdup(env);
    ep->description = rt_strdup("");
    ep->headers = json_object();
    ep->enabled = 1;
    apply(ep, body);
    const char *given = json_string_value(json_object_get(body, "secret"));
    ep->secret = given ? rt_strdup(given) : rt_wh_secret_new();
    pthread_rwlock_wrlock(&wh->lock);
    int rc = RT_ELIMIT;
    if (count_env(wh, app, env) < RT_WH_MAX_ENDPOINTS_PER_ENV) {
        ep->eid = wh->next_eid++;
        rc = ep_store(wh, ep, done, arg);
    }
    if (rc == 0) {
        *json = rt_wh_ep_json(ep);
        json_object_set_new(*json, "secret", json_string(ep->secret));
        cache_append(wh, ep);
    }
    pthread_rwlock_unlock(&wh->lock);
    if (rc != 0)
        rt_wh_ep_release(ep);
    return rc;
}

/* Replaces the snapshot at index i with ep (lock held for writing). */
static void swap_in(rt_webhooks_t *wh, long i, wh_endpoint_t *ep)
{
    rt_wh_ep_release(wh->eps[i]);
    wh->eps[i] = ep;
}

int rt_webhooks_endpoint_patch(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                               const json_t *body, json_t **json, rt_wh_invalid_t *inv,
                               rt_registry_done_fn done, void *arg)
{
    if (rt_wh_ep_validate(body, 0, inv) != 0)
        return RT_EINVAL;
    pthread_rwlock_wrlock(&wh->lock);
    long i = find_ep(wh, app, env, id);
    int rc = RT_ENOENT;
    wh_endpoint_t *ep = NULL;
    if (i >= 0) {
        ep = ep_copy(wh->eps[i]);
        apply(ep, body);
        ep->updated_ms = rt_time_ms();
        rc = ep_store(wh, ep, done, arg);
    }
    if (rc == 0) {
        *json = rt_wh_ep_json(ep);
        swap_in(wh, i, ep);
    }
    pthread_rwlock_unlock(&wh->lock);
    if (rc != 0)
        rt_wh_ep_release(ep);
    else
        rt_wh_disp_wake(wh, 1); /* re-enabled, or its pacing changed */
    return rc;
}

int rt_webhooks_endpoint_delete(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                                rt_registry_done_fn done, void *arg)
{
    pthread_rwlock_wrlock(&wh->lock);
    long i = find_ep(wh, app, env, id);
    int rc = RT_ENOENT;
    if (i >= 0) {
        rt_store_write_t w = {RT_STORE_WH_ENDPOINT_DEL, 1, {rt_store_int(wh->eps[i]->eid)}};
        rc = rt_store_submit(wh->store, &w, 1, done, arg);
    }
    if (rc == 0) {
        rt_wh_ep_release(wh->eps[i]);
        memmove(&wh->eps[i], &wh->eps[i + 1], (wh->neps - (size_t)i - 1) * sizeof(*wh->eps));
        wh->neps--;
    }
    pthread_rwlock_unlock(&wh->lock);
    return rc;
}

int rt_webhooks_endpoint_rotate(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                                json_t **json, rt_registry_done_fn done, void *arg)
{
    pthread_rwlock_wrlock(&wh->lock);
    long i = find_ep(wh, app, env, id);
    int rc = RT_ENOENT;
    wh_endpoint_t *ep = NULL;
    if (i >= 0) {
        ep = ep_copy(wh->eps[i]);
        rt_free(ep->old_secret);
        ep->old_secret = ep->secret;
        ep->secret = rt_wh_secret_new();
        ep->updated_ms = rt_time_ms();
        ep->old_until_ms = ep->updated_ms + RT_WH_ROTATE_OVERLAP_MS;
        rc = ep_store(wh, ep, done, arg);
    }
    if (rc == 0) {
        char until[RT_ISO8601_LEN];
        rt_time_iso8601(ep->old_until_ms, until);
        *json = json_pack("{s:s,s:s}", "secret", ep->secret, "previousSecretExpiresAt", until);
        swap_in(wh, i, ep);
    }
    pthread_rwlock_unlock(&wh->lock);
    if (rc != 0)
        rt_wh_ep_release(ep);
    return rc;
}

json_t *rt_webhooks_endpoint_get(rt_webhooks_t *wh, const char *app, const char *env,
                                 const char *id)
{
    pthread_rwlock_rdlock(&wh->lock);
    long i = find_ep(wh, app, env, id);
    json_t *j = i >= 0 ? rt_wh_ep_json(wh->eps[i]) : NULL;
    pthread_rwlock_unlock(&wh->lock);
    return j;
}

json_t *rt_webhooks_endpoint_secret(rt_webhooks_t *wh, const char *app, const char *env,
                                    const char *id)
{
    pthread_rwlock_rdlock(&wh->lock);
    long i = find_ep(wh, app, env, id);
    json_t *j = i >= 0 ? json_pack("{s:s}", "secret", wh->eps[i]->secret) : NULL;
    pthread_rwlock_unlock(&wh->lock);
    return j;
}

json_t *rt_webhooks_endpoint_list(rt_webhooks_t *wh, const char *app, const char *env,
                                  const char *after, size_t limit)
{
    json_t *items = json_array();
    pthread_rwlock_rdlock(&wh->lock);
    for (size_t i = 0; i < wh->neps && json_array_size(items) < limit; i++) {
        const wh_endpoint_t *ep = wh->eps[i];
        if (strcmp(ep->app, app) == 0 && strcmp(ep->env, env) == 0 &&
            (after == NULL || strcmp(ep->id, after) > 0))
            json_array_append_new(items, rt_wh_ep_json(ep));
    }
    pthread_rwlock_unlock(&wh->lock);
    return json_pack("{s:o}", "items", items);
}

void rt_wh_ep_disable(rt_webhooks_t *wh, int64_t eid, const char *reason)
{
    wh_endpoint_t *ep = NULL;
    pthread_rwlock_wrlock(&wh->lock);
    for (size_t i = 0; i < wh->neps; i++) {
        if (wh->eps[i]->eid != eid || !wh->eps[i]->enabled)
            continue;
        ep = ep_copy(wh->eps[i]);
        ep->enabled = 0;
        rt_free(ep->disabled_reason);
        ep->disabled_reason = rt_strdup(reason);
        ep->updated_ms = rt_time_ms();
        if (ep_store(wh, ep, NULL, NULL) != 0) {
            rt_wh_ep_release(ep);
            ep = NULL;
            break;
        }
        swap_in(wh, (long)i, rt_wh_ep_retain(ep));
        break;
    }
    pthread_rwlock_unlock(&wh->lock);
    if (ep == NULL)
        return;
    rt_log_warn("webhook_endpoint_disabled", "endpoint=%s app=%s env=%s reason=\"%s\"", ep->id,
                ep->app, ep->env, reason);
    /* Tell the environment, when it has the topic to hear it on. */
    json_t *payload =
        json_pack("{s:s,s:s,s:s}", "endpointId", ep->id, "url", ep->url, "reason", reason);
    rt_publish_t p = {ep->app, ep->env, RT_WH_DISABLED_TOPIC, payload, NULL, RT_SOURCE_API};
    rt_publish_error_t err;
    if (rt_topic_publish(wh->topics, &p, NULL, NULL, &err) != 0)
        json_decref(err.details);
    json_decref(payload);
    rt_wh_ep_release(ep);
}

/* ================================================================ outbox */

static int ep_matches(const wh_endpoint_t *ep, const rt_topic_t *t)
{
    if (!ep->enabled || strcmp(ep->app, t->app) != 0 || strcmp(ep->env, t->env) != 0)
        return 0;
    size_t i;
    const json_t *p;
    json_array_foreach(ep->topics, i, p)
    {
        if (rt_topics_match(json_string_value(p), t->name))
            return 1;
    }
    return 0;
}

/* Publisher thread, under the topic's lock: one write per 8 matching
 * endpoints, carrying only integers and the event's own id, so nothing needs
 * to outlive this call but the event (which the publish job holds). */
int rt_webhooks_outbox(void *ctx, const rt_event_t *ev, rt_store_write_t *out, int max)
{
    rt_webhooks_t *wh = ctx;
    int nw = 0, k = 0;
    int64_t first = rt_time_ms() + wh->cfg.retry_s[0] * 1000;
    pthread_rwlock_rdlock(&wh->lock);
    for (size_t i = 0; i < wh->neps; i++) {
        if (!ep_matches(wh->eps[i], ev->topic))
            continue;
        if (k == 0) {
            if (nw == max) {
                rt_log_error("webhook_too_many_endpoints", "topic=%s event=%s max=%d",
                             ev->topic->key, ev->id, max * RT_WH_EIDS_PER_WRITE);
                break;
            }
            out[nw] = (rt_store_write_t){RT_STORE_WH_OUTBOX_PUT,
                                         4,
                                         {rt_store_text(ev->id), rt_store_int(ev->tid),
                                          rt_store_int(ev->seq), rt_store_int(first)}};
            nw++;
        }
        rt_store_write_t *w = &out[nw - 1];
        w->vals[w->nvals++] = rt_store_int(wh->eps[i]->eid);
        k = (k + 1) % RT_WH_EIDS_PER_WRITE;
    }
    pthread_rwlock_unlock(&wh->lock);
    return nw;
}
