/*
 * This file implements the tenant resources of ARCHITECTURE §5.2:
 * applications, environments, secret keys and client tokens.
 */
#include "api/api_internal.h"
#include "cdc/cdc.h"

#include <stdint.h>
#include <string.h>

#define APP (c->params[0])
#define ENV (c->params[1])

/* Reads an optional string field; answers 400 and returns -1 if it is there
 * but not a string. */
static int opt_string(api_call_t *c, const char *field, const char *def, const char **out)
{
    json_t *v = json_object_get(c->body, field);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (!json_is_string(v)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s must be a string", field);
        rt_api_error(c, 400, "invalid_field", msg,
                     json_pack("[{s:s, s:s}]", "field", field, "message", "must be a string"));
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static void field_error(api_call_t *c, const char *field, const char *message)
{
    rt_api_error(c, 400, "invalid_field", message,
                 json_pack("[{s:s, s:s}]", "field", field, "message", message));
}

/* Reads the slug "id" (required) and "name" (defaults to the id); answers
 * 400 and returns -1 when either is wrong. */
static int id_and_name(api_call_t *c, const char **id, const char **name)
{
    if (opt_string(c, "id", NULL, id) != 0)
        return -1;
    if (*id == NULL || !rt_registry_slug_valid(*id, strlen(*id))) {
        field_error(c, "id", "id is required: 1-63 characters of [a-z0-9-], not starting with '-'");
        return -1;
    }
    return opt_string(c, "name", *id, name);
}

/* After a registry change: on success the answer (out) goes once the change
 * is durable; on failure the error is answered now. */
static void submitted(api_call_t *c, api_pending_t *p, int rc, json_t *out, const char *what)
{
    if (rt_api_submitted(p, rc, out) != 0)
        rt_api_registry_fail(c, rc, what);
}

/* ================================================================= apps */

void rt_api_apps_create(api_call_t *c)
{
    const char *id, *name;
    if (id_and_name(c, &id, &name) != 0)
        return;
    json_t *out = NULL;
    api_pending_t *p = rt_api_pending(c, 201, NULL);
    int rc = rt_registry_app_create(c->api->registry, id, name, &out, rt_api_pending_done, p);
    submitted(c, p, rc, out, "application");
}

void rt_api_apps_list(api_call_t *c)
{
    size_t limit;
    char after[API_PARAM_MAX_BYTES];
    if (rt_api_paging(c, &limit, after, sizeof(after)) != 0)
        return;
    rt_api_reply(c, 200, rt_registry_app_list(c->api->registry, after[0] ? after : NULL, limit));
}

void rt_api_app_get(api_call_t *c)
{
    json_t *j = rt_registry_app_get(c->api->registry, APP);
    if (j == NULL) {
        rt_api_error(c, 404, "not_found", "application not found", NULL);
        return;
    }
    rt_api_reply(c, 200, j);
}

/* ======================================================== scope cleanup */

static void purged_cdc(void *arg, int status, json_t *body)
{
    (void)arg;
    (void)status;
    json_decref(body);
}

static void purged(void *arg, int status)
{
    (void)arg;
    (void)status;
}

/* Calls del(c, app, env, name) for the "name" (or "id") of every item. */
static void each_item(json_t *list, const char *field,
                      void (*del)(api_call_t *, const char *, const char *, const char *),
                      api_call_t *c, const char *app, const char *env)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(list, "items"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, field));
        if (name)
            del(c, app, env, name);
    }
    json_decref(list);
}

static void del_mapping(api_call_t *c, const char *app, const char *env, const char *name)
{
    rt_cdc_mapping_delete(c->api->cdc, app, env, name, purged_cdc, NULL);
}

static void del_source(api_call_t *c, const char *app, const char *env, const char *name)
{
    rt_cdc_source_delete(c->api->cdc, app, env, name, 0, purged_cdc, NULL);
}

static void del_endpoint(api_call_t *c, const char *app, const char *env, const char *id)
{
    rt_webhooks_endpoint_delete(c->api->webhooks, app, env, id, purged, NULL);
}

/* What lives beside the registry in an environment goes with it: CDC
 * mappings, then sources (readers stopped, slots dropped), and webhook
 * endpoints. Their removal completes on its own, after the answer. */
static void purge_env(api_call_t *c, const char *app, const char *env)
{
    if (c->api->cdc) {
        each_item(rt_cdc_mapping_list(c->api->cdc, app, env), "name", del_mapping, c, app, env);
        each_item(rt_cdc_source_list(c->api->cdc, app, env), "name", del_source, c, app, env);
    }
    if (c->api->webhooks)
        each_item(rt_webhooks_endpoint_list(c->api->webhooks, app, env, NULL, SIZE_MAX), "id",
                  del_endpoint, c, app, env);
}

void rt_api_app_delete(api_call_t *c)
{
    json_t *envs = rt_registry_env_list(c->api->registry, APP, NULL, SIZE_MAX);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(envs, "items"), i, v)
    {
        purge_env(c, APP, json_string_value(json_object_get(v, "id")));
    }
    json_decref(envs);
    api_pending_t *p = rt_api_pending(c, 204, NULL);
    submitted(c, p, rt_registry_app_delete(c->api->registry, APP, rt_api_pending_done, p), NULL,
              "application");
}

/* ============================================================ environments */

void rt_api_envs_create(api_call_t *c)
{
    const char *id, *name;
    if (id_and_name(c, &id, &name) != 0)
        return;
    json_t *out = NULL;
    api_pending_t *p = rt_api_pending(c, 201, NULL);
    int rc = rt_registry_env_create(c->api->registry, APP, id, name, &out, rt_api_pending_done, p);
    submitted(c, p, rc, out, rc == RT_ENOENT ? "application" : "environment");
}

void rt_api_envs_list(api_call_t *c)
{
    size_t limit;
    char after[API_PARAM_MAX_BYTES];
    if (rt_api_paging(c, &limit, after, sizeof(after)) != 0)
        return;
    json_t *app = rt_registry_app_get(c->api->registry, APP);
    if (app == NULL) {
        rt_api_error(c, 404, "not_found", "application not found", NULL);
        return;
    }
    json_decref(app);
    rt_api_reply(c, 200,
                 rt_registry_env_list(c->api->registry, APP, after[0] ? after : NULL, limit));
}

void rt_api_env_get(api_call_t *c)
{
    json_t *j = rt_registry_env_get(c->api->registry, APP, ENV);
    if (j == NULL) {
        rt_api_error(c, 404, "not_found", "environment not found", NULL);
        return;
    }
    rt_api_reply(c, 200, j);
}

void rt_api_env_delete(api_call_t *c)
{
    if (rt_registry_env_exists(c->api->registry, APP, ENV))
        purge_env(c, APP, ENV);
    api_pending_t *p = rt_api_pending(c, 204, NULL);
    submitted(c, p, rt_registry_env_delete(c->api->registry, APP, ENV, rt_api_pending_done, p),
              NULL, "environment");
}

/* ==================================================================== keys */

void rt_api_keys_create(api_call_t *c)
{
    const char *name;
    if (opt_string(c, "name", "", &name) != 0)
        return;
    json_t *out = NULL;
    api_pending_t *p = rt_api_pending(c, 201, NULL);
    int rc = rt_registry_key_create(c->api->registry, APP, ENV, name, &out, rt_api_pending_done, p);
    submitted(c, p, rc, out, rc == RT_EINVAL ? "name" : "environment");
}

void rt_api_keys_list(api_call_t *c)
{
    size_t limit;
    char after[API_PARAM_MAX_BYTES];
    if (rt_api_paging(c, &limit, after, sizeof(after)) != 0)
        return;
    rt_api_reply(c, 200,
                 rt_registry_key_list(c->api->registry, APP, ENV, after[0] ? after : NULL, limit));
}

void rt_api_key_get(api_call_t *c)
{
    json_t *j = rt_registry_key_get(c->api->registry, APP, ENV, c->params[2]);
    if (j == NULL) {
        rt_api_error(c, 404, "not_found", "key not found", NULL);
        return;
    }
    rt_api_reply(c, 200, j);
}

void rt_api_key_delete(api_call_t *c)
{
    api_pending_t *p = rt_api_pending(c, 204, NULL);
    int rc =
        rt_registry_key_revoke(c->api->registry, APP, ENV, c->params[2], rt_api_pending_done, p);
    if (rc != 0) {
        rt_free(p);
        rt_api_registry_fail(c, rc, "key");
    }
}

/* ================================================================== tokens */

/* A list of topic patterns; absent means "everything" ([">"]). */
static json_t *pattern_list(api_call_t *c, const char *field)
{
    json_t *v = json_object_get(c->body, field);
    if (v == NULL)
        return json_pack("[s]", ">");
    if (!json_is_array(v) || json_array_size(v) > 100)
        return NULL;
    size_t i;
    json_t *p;
    json_array_foreach(v, i, p)
    {
        if (!json_is_string(p) ||
            !rt_topics_pattern_valid(json_string_value(p), json_string_length(p)))
            return NULL;
    }
    return json_incref(v);
}

void rt_api_tokens_create(api_call_t *c)
{
    const char *sub;
    if (opt_string(c, "sub", "", &sub) != 0)
        return;
    json_t *ttl = json_object_get(c->body, "ttl");
    int64_t ttl_s = RT_TOKEN_TTL_DEFAULT_S;
    if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
                json_integer_value(ttl) > RT_TOKEN_TTL_MAX_S)) {
        field_error(c, "ttl", "ttl must be an integer number of seconds, 1..2592000");
        return;
    }
    if (ttl)
        ttl_s = json_integer_value(ttl);
    json_t *subs = pattern_list(c, "subscribe");
    json_t *pubs = pattern_list(c, "publish");
    if (subs == NULL || pubs == NULL) {
        json_decref(subs);
        json_decref(pubs);
        field_error(c, subs ? "publish" : "subscribe",
                    "must be an array of topic patterns (segments of [a-z0-9_-], '*', or a "
                    "final '>')");
        return;
    }
    char *token = NULL;
    int64_t exp_ms = 0;
    int rc =
        rt_registry_token_mint(c->api->registry, APP, ENV, sub, subs, pubs, ttl_s, &token, &exp_ms);
    json_decref(subs);
    json_decref(pubs);
    if (rc != 0) {
        rt_api_registry_fail(c, rc, "environment");
        return;
    }
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(exp_ms, ts);
    json_t *out = json_pack("{s:s, s:s}", "token", token, "expiresAt", ts);
    rt_free(token);
    rt_api_reply(c, 201, out);
}
