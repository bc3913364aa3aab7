/*
 * This file implements the schema resources of ARCHITECTURE §5.2: register
 * the next JSON Schema version of a topic (compiled and checked against the
 * topic's compatibility mode first), list and read versions, and the dry-run
 * compatibility check. Enforcement is the publish path's (src/topics).
 */
#include "api/api_internal.h"

#include <string.h>

#include "schema/schema.h"

#define APP   (c->params[0])
#define ENV   (c->params[1])
#define TOPIC (c->params[2])

typedef struct {
    rt_registry_t *registry;
    const char *app, *env;
} resolve_ctx_t;

static json_t *resolve_in_env(void *ctx, const char *uri)
{
    resolve_ctx_t *r = ctx;
    return rt_registry_schema_by_id(r->registry, r->app, r->env, uri);
}

static rt_topic_t *topic_or_404(api_call_t *c)
{
    rt_topic_t *t = rt_registry_topic_get(c->api->registry, APP, ENV, TOPIC);
    if (t == NULL)
        rt_api_error(c, 404, "topic_not_found", "topic not found", NULL);
    return t;
}

/*
 * Compiles body.schema and checks it against the topic's earlier versions.
 * Returns the breaking changes (new reference, empty = compatible), or NULL
 * after answering 400 for a missing or invalid schema.
 */
static json_t *check(api_call_t *c, rt_topic_t *t, const json_t **schema_out)
{
    const json_t *schema = json_object_get(c->body, "schema");
    if (!json_is_object(schema) && !json_is_boolean(schema)) {
        rt_api_error(c, 400, "invalid_field", "schema must be a JSON Schema (object or boolean)",
                     json_pack("[{s:s, s:s}]", "field", "schema", "message", "is required"));
        return NULL;
    }
    resolve_ctx_t rctx = {c->api->registry, APP, ENV};
    rt_schema_opts_t opts = {0, resolve_in_env, &rctx, NULL};
    rt_schema_t *compiled = NULL;
    json_t *errors = NULL;
    if (rt_schema_compile(schema, &opts, &compiled, &errors) != 0) {
        rt_api_error(c, 400, "invalid_schema", "the schema is not valid for its dialect", errors);
        return NULL;
    }
    rt_schema_free(compiled);
    json_t *pol = json_object_get(c->body, "policy");
    const char *policy = pol ? json_string_value(pol) : "strict";
    if (policy == NULL || (strcmp(policy, "strict") != 0 && strcmp(policy, "lenient") != 0)) {
        rt_api_error(
            c, 400, "invalid_field", "policy must be \"strict\" or \"lenient\"",
            json_pack("[{s:s, s:s}]", "field", "policy", "message", "must be strict or lenient"));
        return NULL;
    }
    json_t *tj = rt_registry_topic_json(c->api->registry, t);
    const char *mode = json_string_value(json_object_get(tj, "compatibility"));
    json_t *bodies = rt_registry_schema_bodies(c->api->registry, t);
    size_t n = json_array_size(bodies);
    const json_t **prev = rt_calloc(n + 1, sizeof(*prev));
    for (size_t i = 0; i < n; i++)
        prev[i] = json_array_get(bodies, i);
    json_t *breaking = NULL;
    if (rt_schema_compat_check_policy(prev, n, schema, mode ? mode : "BACKWARD", policy,
                                      &breaking) != 0 ||
        breaking == NULL) {
        json_decref(breaking);
        breaking = json_array();
    }
    rt_free(prev);
    json_decref(bodies);
    json_decref(tj);
    *schema_out = schema;
    return breaking;
}

void rt_api_schemas_create(api_call_t *c)
{
    rt_topic_t *t = topic_or_404(c);
    if (t == NULL)
        return;
    const json_t *schema = NULL;
    json_t *breaking = check(c, t, &schema);
    rt_topic_release(t);
    if (breaking == NULL)
        return;
    if (json_array_size(breaking) > 0) {
        rt_api_error(c, 409, "schema_incompatible",
                     "the new version would break consumers under the topic's compatibility mode",
                     breaking);
        return;
    }
    json_decref(breaking);
    json_t *out = NULL;
    api_pending_t *p = rt_api_pending(c, 201, NULL);
    int rc = rt_registry_schema_add(c->api->registry, APP, ENV, TOPIC, schema, &out,
                                    rt_api_pending_done, p);
    if (rt_api_submitted(p, rc, out) != 0)
        rt_api_registry_fail(c, rc, "topic");
}

void rt_api_schemas_check(api_call_t *c)
{
    rt_topic_t *t = topic_or_404(c);
    if (t == NULL)
        return;
    const json_t *schema = NULL;
    json_t *breaking = check(c, t, &schema);
    rt_topic_release(t);
    if (breaking == NULL)
        return;
    rt_api_reply(c, 200,
                 json_pack("{s:b, s:o}", "compatible", json_array_size(breaking) == 0,
                           "breakingChanges", breaking));
}

void rt_api_schemas_list(api_call_t *c)
{
    rt_topic_t *t = topic_or_404(c);
    if (t == NULL)
        return;
    json_t *list = rt_registry_schema_list(c->api->registry, t);
    rt_topic_release(t);
    rt_api_reply(c, 200, list);
}

void rt_api_schema_get(api_call_t *c)
{
    int64_t version;
    if (rt_parse_i64(c->params[3], strlen(c->params[3]), &version) != 0 || version < 1 ||
        version > INT32_MAX) {
        rt_api_error(c, 404, "schema_not_found", "no such schema version", NULL);
        return;
    }
    rt_topic_t *t = topic_or_404(c);
    if (t == NULL)
        return;
    json_t *s = rt_registry_schema_get(c->api->registry, t, (int)version);
    rt_topic_release(t);
    if (s == NULL) {
        rt_api_error(c, 404, "schema_not_found", "no such schema version", NULL);
        return;
    }
    rt_api_reply(c, 200, s);
}
