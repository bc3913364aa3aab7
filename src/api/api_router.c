/*
 * This file implements the API's router and the helpers every resource
 * handler shares: the route table, path parameter decoding, authentication
 * and scope checks (ARCHITECTURE §5.1), JSON bodies, paging, the §5 error
 * shape, and answering after a change became durable.
 */
#include "api/api_internal.h"

#include <string.h>

enum { AUTH_NONE, AUTH_ADMIN, AUTH_ENV };

typedef struct {
    rt_http_method_t method;
    api_handler_fn fn;
    int auth;     /* AUTH_* for this method */
    int has_body; /* parse a JSON body first */
} route_method_t;

/* A path template: literal segments, and "*" for a parameter. */
typedef struct {
    const char *path;
    const char *name; /* route label for metrics */
    route_method_t methods[3];
} route_t;

#define E "/v1/apps/*/envs/*"

static const route_t routes[] = {
    {"/healthz", "/healthz", {{RT_HTTP_GET, rt_api_healthz, AUTH_NONE, 0}}},
    {"/readyz", "/readyz", {{RT_HTTP_GET, rt_api_readyz, AUTH_NONE, 0}}},
    {"/metrics", "/metrics", {{RT_HTTP_GET, rt_api_metrics, AUTH_NONE, 0}}},
    {"/v1/apps",
     "/v1/apps",
     {{RT_HTTP_POST, rt_api_apps_create, AUTH_ADMIN, 1},
      {RT_HTTP_GET, rt_api_apps_list, AUTH_ADMIN, 0}}},
    {"/v1/apps/*",
     "/v1/apps/{app}",
     {{RT_HTTP_GET, rt_api_app_get, AUTH_ADMIN, 0},
      {RT_HTTP_DELETE, rt_api_app_delete, AUTH_ADMIN, 0}}},
    {"/v1/apps/*/envs",
     "/v1/apps/{app}/envs",
     {{RT_HTTP_POST, rt_api_envs_create, AUTH_ADMIN, 1},
      {RT_HTTP_GET, rt_api_envs_list, AUTH_ADMIN, 0}}},
    {E,
     "E",
     {{RT_HTTP_GET, rt_api_env_get, AUTH_ENV, 0},
      {RT_HTTP_DELETE, rt_api_env_delete, AUTH_ADMIN, 0}}},
    {E "/keys",
     "E/keys",
     {{RT_HTTP_POST, rt_api_keys_create, AUTH_ENV, 1},
      {RT_HTTP_GET, rt_api_keys_list, AUTH_ENV, 0}}},
    {E "/keys/*",
     "E/keys/{id}",
     {{RT_HTTP_GET, rt_api_key_get, AUTH_ENV, 0},
      {RT_HTTP_DELETE, rt_api_key_delete, AUTH_ENV, 0}}},
    {E "/tokens", "E/tokens", {{RT_HTTP_POST, rt_api_tokens_create, AUTH_ENV, 1}}},
    {E "/topics",
     "E/topics",
     {{RT_HTTP_POST, rt_api_topics_create, AUTH_ENV, 1},
      {RT_HTTP_GET, rt_api_topics_list, AUTH_ENV, 0}}},
    {E "/topics/*",
     "E/topics/{topic}",
     {{RT_HTTP_GET, rt_api_topic_get, AUTH_ENV, 0},
      {RT_HTTP_PATCH, rt_api_topic_patch, AUTH_ENV, 1},
      {RT_HTTP_DELETE, rt_api_topic_delete, AUTH_ENV, 0}}},
    {E "/topics/*/schemas/check",
     "E/topics/{topic}/schemas/check",
     {{RT_HTTP_POST, rt_api_schemas_check, AUTH_ENV, 1}}},
    {E "/topics/*/schemas/*",
     "E/topics/{topic}/schemas/{version}",
     {{RT_HTTP_GET, rt_api_schema_get, AUTH_ENV, 0}}},
    {E "/topics/*/schemas",
     "E/topics/{topic}/schemas",
     {{RT_HTTP_POST, rt_api_schemas_create, AUTH_ENV, 1},
      {RT_HTTP_GET, rt_api_schemas_list, AUTH_ENV, 0}}},
    {E "/topics/*/events",
     "E/topics/{topic}/events",
     {{RT_HTTP_POST, rt_api_events_publish, AUTH_ENV, 1},
      {RT_HTTP_GET, rt_api_events_history, AUTH_ENV, 0}}},
    {E "/events", "E/events", {{RT_HTTP_POST, rt_api_events_batch, AUTH_ENV, 1}}},
    {E "/webhooks/endpoints",
     "E/webhooks/endpoints",
     {{RT_HTTP_POST, rt_api_wh_endpoints_create, AUTH_ENV, 1},
      {RT_HTTP_GET, rt_api_wh_endpoints_list, AUTH_ENV, 0}}},
    {E "/webhooks/endpoints/*",
     "E/webhooks/endpoints/{id}",
     {{RT_HTTP_GET, rt_api_wh_endpoint_get, AUTH_ENV, 0},
      {RT_HTTP_PATCH, rt_api_wh_endpoint_patch, AUTH_ENV, 1},
      {RT_HTTP_DELETE, rt_api_wh_endpoint_delete, AUTH_ENV, 0}}},
    {E "/webhooks/endpoints/*/secret",
     "E/webhooks/endpoints/{id}/secret",
     {{RT_HTTP_GET, rt_api_wh_endpoint_secret, AUTH_ENV, 0}}},
    {E "/webhooks/endpoints/*/rotate-secret",
     "E/webhooks/endpoints/{id}/rotate-secret",
     {{RT_HTTP_POST, rt_api_wh_endpoint_rotate, AUTH_ENV, 0}}},
    {E "/webhooks/endpoints/*/test",
     "E/webhooks/endpoints/{id}/test",
     {{RT_HTTP_POST, rt_api_wh_endpoint_test, AUTH_ENV, 0}}},
    {E "/webhooks/endpoints/*/replay",
     "E/webhooks/endpoints/{id}/replay",
     {{RT_HTTP_POST, rt_api_wh_endpoint_replay, AUTH_ENV, 1}}},
    {E "/webhooks/endpoints/*/attempts",
     "E/webhooks/endpoints/{id}/attempts",
     {{RT_HTTP_GET, rt_api_wh_endpoint_attempts, AUTH_ENV, 0}}},
    {E "/sources",
     "E/sources",
     {{RT_HTTP_POST, rt_api_sources_create, AUTH_ENV, 1},
      {RT_HTTP_GET, rt_api_sources_list, AUTH_ENV, 0}}},
    {E "/sources/*",
     "E/sources/{name}",
     {{RT_HTTP_GET, rt_api_source_get, AUTH_ENV, 0},
      {RT_HTTP_DELETE, rt_api_source_delete, AUTH_ENV, 0}}},
    {E "/mappings",
     "E/mappings",
     {{RT_HTTP_POST, rt_api_mappings_create, AUTH_ENV, 1},
      {RT_HTTP_GET, rt_api_mappings_list, AUTH_ENV, 0}}},
    {E "/mappings/*",
     "E/mappings/{name}",
     {{RT_HTTP_GET, rt_api_mapping_get, AUTH_ENV, 0},
      {RT_HTTP_DELETE, rt_api_mapping_delete, AUTH_ENV, 0}}},
    {E "/mappings/*/test",
     "E/mappings/{name}/test",
     {{RT_HTTP_POST, rt_api_mapping_test, AUTH_ENV, 1}}},
};

#define WS_ROUTE E "/ws"

/* GET only; the handler is never called (upgrades go to the gateway), it is
 * there for the Allow header of a 405. */
static const route_t ws_route = {WS_ROUTE, "E/ws", {{RT_HTTP_GET, rt_api_healthz, AUTH_NONE, 0}}};

static const char *method_name(rt_http_method_t m)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    return m < RT_HTTP_OTHER ? names[m] : "?";
}

/* Matches path against template tpl, decoding parameters into params.
 * Returns 1 on a match, 0 if not, -1 if a parameter is malformed. */
static int match_path(const char *tpl, const char *path, size_t len,
                      char params[][API_PARAM_MAX_BYTES], int *nparams)
{
    size_t i = 0;
    int n = 0;
    while (*tpl) {
        if (*tpl != '/' || i >= len || path[i] != '/')
            return 0;
        tpl++;
        i++;
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        const char *tend = strchr(tpl, '/');
        size_t tl = tend ? (size_t)(tend - tpl) : strlen(tpl);
        if (tl == 1 && tpl[0] == '*') {
            size_t outlen;
            if (n >= API_MAX_PARAMS || i == start ||
                rt_http_pct_decode(path + start, i - start, params[n], API_PARAM_MAX_BYTES,
                                   &outlen) != 0 ||
                strlen(params[n]) != outlen)
                return -1;
            n++;
        } else if (tl != i - start || memcmp(tpl, path + start, tl) != 0) {
            return 0;
        }
        tpl += tl;
    }
    if (i != len)
        return 0;
    *nparams = n;
    return 1;
}

/* ================================================================ helpers */

void rt_api_call_free(api_call_t *call)
{
    json_decref(call->body);
    rt_free(call);
}

void rt_api_reply(api_call_t *call, int status, json_t *body)
{
    rt_http_respond_json(call->req, status, body);
    rt_api_call_free(call);
}

void rt_api_error(api_call_t *call, int status, const char *code, const char *message,
                  json_t *details)
{
    rt_http_respond_error(call->req, status, code, message, details);
    rt_api_call_free(call);
}

int rt_api_body(api_call_t *call, int allow_array)
{
    rt_http_req_t *req = call->req;
    json_error_t jerr;
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        char msg[256];
        snprintf(msg, sizeof(msg), "request body is not valid JSON: %s at line %d column %d",
                 jerr.text, jerr.line, jerr.column);
        rt_api_error(call, 400, "invalid_json", msg, NULL);
        return -1;
    }
    if (!json_is_object(j) && !(allow_array && json_is_array(j))) {
        json_decref(j);
        rt_api_error(call, 400, "invalid_body",
                     allow_array ? "request body must be a JSON object or array"
                                 : "request body must be a JSON object",
                     NULL);
        return -1;
    }
    call->body = j;
    return 0;
}

int rt_api_paging(api_call_t *call, size_t *limit, char *after, size_t aftercap)
{
    const rt_http_request_t *h = &call->req->head;
    char buf[32];
    size_t len;
    *limit = RT_LIST_LIMIT_DEFAULT;
    after[0] = '\0';
    int rc = rt_http_query_get(h->query, h->query_len, "limit", buf, sizeof(buf), &len);
    if (rc == 0) {
        int64_t v;
        if (rt_parse_i64(buf, len, &v) != 0 || v < 1 || v > RT_LIST_LIMIT_MAX) {
            rt_api_error(call, 400, "invalid_parameter", "limit must be an integer 1..1000", NULL);
            return -1;
        }
        *limit = (size_t)v;
    } else if (rc != RT_ENOENT) {
        rt_api_error(call, 400, "invalid_parameter", "malformed limit", NULL);
        return -1;
    }
    rc = rt_http_query_get(h->query, h->query_len, "after", after, aftercap, &len);
    if (rc != 0 && rc != RT_ENOENT) {
        rt_api_error(call, 400, "invalid_parameter", "malformed after", NULL);
        return -1;
    }
    if (rc != 0)
        after[0] = '\0';
    return 0;
}

struct api_pending_s {
    api_call_t *call;
    int status;
    json_t *body;
    int store_status;
};

api_pending_t *rt_api_pending(api_call_t *call, int status, json_t *body)
{
    api_pending_t *p = rt_calloc(1, sizeof(*p));
    p->call = call;
    p->status = status;
    p->body = body;
    return p;
}

void rt_api_pending_set_body(api_pending_t *p, json_t *body)
{
    json_decref(p->body);
    p->body = body;
}

int rt_api_submitted(api_pending_t *p, int rc, json_t *out)
{
    if (rc != 0) {
        rt_free(p);
        json_decref(out);
        return rc;
    }
    rt_api_pending_set_body(p, out);
    return 0;
}

static void pending_answer(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    (void)b;
    api_pending_t *p = a;
    if (p->store_status != 0) {
        json_decref(p->body);
        rt_api_error(p->call, 500, "storage_failed", "the change could not be stored", NULL);
    } else {
        rt_api_reply(p->call, p->status, p->body);
    }
    rt_free(p);
}

/* Writer thread: hop back to the request's worker to answer. */
void rt_api_pending_done(void *arg, int status)
{
    api_pending_t *p = arg;
    p->store_status = status;
    rt_worker_post(p->call->req->worker, pending_answer, p, NULL);
}

int rt_api_registry_fail(api_call_t *call, int rc, const char *what)
{
    char msg[160];
    switch (rc) {
    case 0:
        return 0;
    case RT_EEXIST:
        snprintf(msg, sizeof(msg), "%s already exists", what);
        rt_api_error(call, 409, "already_exists", msg, NULL);
        return 1;
    case RT_ENOENT:
        snprintf(msg, sizeof(msg), "%s not found", what);
        rt_api_error(call, 404, "not_found", msg, NULL);
        return 1;
    case RT_EINVAL:
        snprintf(msg, sizeof(msg), "invalid %s", what);
        rt_api_error(call, 400, "invalid_field", msg, NULL);
        return 1;
    default:
        rt_api_error(call, 503, "unavailable", "the server is shutting down", NULL);
        return 1;
    }
}

/* ================================================================= auth */

/* 401 without a valid key; 403 for an environment key outside its own
 * environment or on an admin-only route. Returns 0 when allowed. */
static int authorize(api_call_t *call, int auth)
{
    if (auth == AUTH_NONE)
        return 0;
    const rt_http_header_t *h = rt_http_header_find(&call->req->head, "authorization");
    const char *v = h ? h->value : NULL;
    size_t n = h ? h->value_len : 0;
    if (v == NULL || n < 8 || strncasecmp(v, "Bearer ", 7) != 0 ||
        rt_registry_authenticate(call->api->registry, v + 7, n - 7, &call->who) != 0) {
        rt_http_respond(call->req, 401, "application/json",
                        "WWW-Authenticate: Bearer realm=\"realtime\"\r\n",
                        "{\"error\":{\"code\":\"unauthorized\",\"message\":\"a valid API key is "
                        "required (Authorization: Bearer <key>)\"}}",
                        strlen("{\"error\":{\"code\":\"unauthorized\",\"message\":\"a valid API "
                               "key is required (Authorization: Bearer <key>)\"}}"));
        rt_api_call_free(call);
        return -1;
    }
    if (call->who.admin)
        return 0;
    if (auth == AUTH_ENV && call->nparams >= 2 && strcmp(call->who.app, call->params[0]) == 0 &&
        strcmp(call->who.env, call->params[1]) == 0)
        return 0;
    rt_api_error(call, 403, "forbidden", "this key may not act here", NULL);
    return -1;
}

/* Routes under an environment 404 early when it does not exist, so that
 * handlers can rely on it. */
static int env_exists(api_call_t *call, const route_t *r)
{
    if (strncmp(r->path, E, strlen(E)) != 0)
        return 1;
    if (rt_registry_env_exists(call->api->registry, call->params[0], call->params[1]))
        return 1;
    rt_api_error(call, 404, "not_found", "environment not found", NULL);
    return 0;
}

/* =============================================================== dispatch */

static void method_not_allowed(api_call_t *call, const route_t *r)
{
    rt_buf_t allow;
    rt_buf_init(&allow);
    rt_buf_append_str(&allow, "Allow: ");
    for (size_t i = 0; i < RT_ARRAY_LEN(r->methods) && r->methods[i].fn; i++)
        rt_buf_appendf(&allow, "%s%s", i ? ", " : "", method_name(r->methods[i].method));
    rt_buf_append_str(&allow, "\r\n");
    const char *body = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"method not "
                       "allowed on this resource\"}}";
    rt_http_respond(call->req, 405, "application/json", allow.data, body, strlen(body));
    rt_buf_close(&allow);
    rt_api_call_free(call);
}

static void run_route(api_call_t *call, const route_t *r)
{
    rt_http_req_t *req = call->req;
    req->route = r->name;
    const route_method_t *m = NULL;
    for (size_t i = 0; i < RT_ARRAY_LEN(r->methods) && r->methods[i].fn; i++) {
        if (r->methods[i].method == req->head.method)
            m = &r->methods[i];
    }
    if (m == NULL) {
        method_not_allowed(call, r);
        return;
    }
    if (authorize(call, m->auth) != 0)
        return;
    if (!env_exists(call, r))
        return;
    if (m->has_body && rt_api_body(call, m->fn == rt_api_events_batch) != 0)
        return;
    m->fn(call);
}

static int try_upgrade(rt_api_t *api, api_call_t *call)
{
    const rt_http_request_t *h = &call->req->head;
    int rc = match_path(WS_ROUTE, h->path, h->path_len, call->params, &call->nparams);
    if (rc != 1)
        return 0;
    call->req->route = "E/ws";
    if (api->upgrade == NULL || h->method != RT_HTTP_GET) {
        if (api->upgrade == NULL)
            rt_api_error(call, 404, "not_found", "no such route", NULL);
        else
            method_not_allowed(call, &ws_route);
        return 1;
    }
    if (!rt_registry_env_exists(api->registry, call->params[0], call->params[1])) {
        rt_api_error(call, 404, "not_found", "environment not found", NULL);
        return 1;
    }
    rt_http_req_t *req = call->req;
    api->upgrade(api->upgrade_ctx, req, call->params[0], call->params[1]);
    rt_api_call_free(call);
    return 1;
}

void rt_api_handle(void *ctx, rt_http_req_t *req)
{
    rt_api_t *api = ctx;
    const rt_http_request_t *h = &req->head;
    for (int i = 0; i < api->nprefixes; i++) {
        size_t pl = strlen(api->prefixes[i].prefix);
        if (h->path_len >= pl && memcmp(h->path, api->prefixes[i].prefix, pl) == 0) {
            api->prefixes[i].fn(api->prefixes[i].ctx, req);
            return;
        }
    }
    api_call_t *call = rt_calloc(1, sizeof(*call));
    call->api = api;
    call->req = req;
    if (try_upgrade(api, call))
        return;
    for (size_t i = 0; i < RT_ARRAY_LEN(routes); i++) {
        int rc = match_path(routes[i].path, h->path, h->path_len, call->params, &call->nparams);
        if (rc == 1) {
            run_route(call, &routes[i]);
            return;
        }
        if (rc < 0) {
            rt_api_error(call, 400, "invalid_path", "malformed path parameter", NULL);
            return;
        }
    }
    req->route = "(unknown)";
    rt_api_error(call, 404, "not_found", "no such route", NULL);
}

rt_api_t *rt_api_new(rt_registry_t *registry)
{
    rt_api_t *api = rt_calloc(1, sizeof(*api));
    api->registry = registry;
    return api;
}

void rt_api_set_topics(rt_api_t *api, rt_topics_t *topics)
{
    api->topics = topics;
}

void rt_api_set_webhooks(rt_api_t *api, rt_webhooks_t *webhooks)
{
    api->webhooks = webhooks;
}

void rt_api_free(rt_api_t *api)
{
    rt_free(api);
}

void rt_api_set_upgrade(rt_api_t *api, rt_api_upgrade_fn fn, void *ctx)
{
    api->upgrade = fn;
    api->upgrade_ctx = ctx;
}

void rt_api_set_prefix(rt_api_t *api, const char *prefix, rt_api_prefix_fn fn, void *ctx)
{
    rt_assert(api->nprefixes < (int)RT_ARRAY_LEN(api->prefixes));
    api->prefixes[api->nprefixes].prefix = prefix;
    api->prefixes[api->nprefixes].fn = fn;
    api->prefixes[api->nprefixes].ctx = ctx;
    api->nprefixes++;
}
