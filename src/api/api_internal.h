/*
 * api_internal.h - private to src/api: the route table entry, the request
 * context handed to resource handlers, and shared helpers.
 */
#ifndef RT_API_INTERNAL_H
#define RT_API_INTERNAL_H

#include "api/api.h"
#include "webhooks/webhooks.h"

#define API_MAX_PARAMS      4
#define API_PARAM_MAX_BYTES 256

struct rt_api_s {
    rt_registry_t *registry;
    rt_topics_t *topics;
    rt_webhooks_t *webhooks; /* NULL until attached */
    rt_cdc_t *cdc;           /* NULL until attached */
    rt_api_upgrade_fn upgrade;
    void *upgrade_ctx;
    struct {
        const char *prefix;
        rt_api_prefix_fn fn;
        void *ctx;
    } prefixes[4];
    int nprefixes;
};

/* One routed request: the path parameters (decoded) and the caller. */
typedef struct {
    rt_api_t *api;
    rt_http_req_t *req;
    char params[API_MAX_PARAMS][API_PARAM_MAX_BYTES];
    int nparams;
    rt_principal_t who;
    json_t *body; /* parsed JSON body, when the route takes one; owned */
} api_call_t;

typedef void (*api_handler_fn)(api_call_t *call);

/* Answers and frees the call (and its request). */
void rt_api_reply(api_call_t *call, int status, json_t *body);
void rt_api_error(api_call_t *call, int status, const char *code, const char *message,
                  json_t *details);
void rt_api_call_free(api_call_t *call);

/* Parses the body as a JSON object (or array with allow_array); on failure
 * answers 400 and returns -1 (the call is then gone). */
int rt_api_body(api_call_t *call, int allow_array);

/* ?limit= and ?after= for lists; on bad values answers 400 and returns -1. */
int rt_api_paging(api_call_t *call, size_t *limit, char *after, size_t aftercap);

/* Answers status with body once the registry change is durable (the done
 * callback of rt_registry_*), or 500 if the store failed. Takes body. */
typedef struct api_pending_s api_pending_t;
api_pending_t *rt_api_pending(api_call_t *call, int status, json_t *body);
void rt_api_pending_done(void *arg, int status);
/* Sets the body once the registry produced it. Safe after the change was
 * submitted: the answer runs on this same worker thread, later. */
void rt_api_pending_set_body(api_pending_t *p, json_t *body);
/* After a change was submitted with p: on success (rc 0) out becomes the
 * answer sent once the change is durable; otherwise p and out are freed and
 * rc is returned for the caller to answer. */
int rt_api_submitted(api_pending_t *p, int rc, json_t *out);

/* Maps a registry return code to an answer; returns 1 if it answered. */
int rt_api_registry_fail(api_call_t *call, int rc, const char *what);

/* Resource handlers (rt_api_tenants.c, rt_api_topics.c, rt_api_events.c, rt_api_ops.c). */
void rt_api_apps_create(api_call_t *c);
void rt_api_apps_list(api_call_t *c);
void rt_api_app_get(api_call_t *c);
void rt_api_app_delete(api_call_t *c);
void rt_api_envs_create(api_call_t *c);
void rt_api_envs_list(api_call_t *c);
void rt_api_env_get(api_call_t *c);
void rt_api_env_delete(api_call_t *c);
void rt_api_keys_create(api_call_t *c);
void rt_api_keys_list(api_call_t *c);
void rt_api_key_get(api_call_t *c);
void rt_api_key_delete(api_call_t *c);
void rt_api_tokens_create(api_call_t *c);
void rt_api_topics_create(api_call_t *c);
void rt_api_topics_list(api_call_t *c);
void rt_api_topic_get(api_call_t *c);
void rt_api_topic_patch(api_call_t *c);
void rt_api_topic_delete(api_call_t *c);
void rt_api_schemas_create(api_call_t *c);
void rt_api_schemas_check(api_call_t *c);
void rt_api_schemas_list(api_call_t *c);
void rt_api_schema_get(api_call_t *c);
void rt_api_events_publish(api_call_t *c);
void rt_api_events_history(api_call_t *c);
void rt_api_events_batch(api_call_t *c);
void rt_api_wh_endpoints_create(api_call_t *c); /* api_webhooks.c */
void rt_api_wh_endpoints_list(api_call_t *c);
void rt_api_wh_endpoint_get(api_call_t *c);
void rt_api_wh_endpoint_patch(api_call_t *c);
void rt_api_wh_endpoint_delete(api_call_t *c);
void rt_api_wh_endpoint_secret(api_call_t *c);
void rt_api_wh_endpoint_rotate(api_call_t *c);
void rt_api_wh_endpoint_test(api_call_t *c);
void rt_api_wh_endpoint_replay(api_call_t *c);
void rt_api_wh_endpoint_attempts(api_call_t *c);
void rt_api_sources_create(api_call_t *c); /* api_cdc.c */
void rt_api_sources_list(api_call_t *c);
void rt_api_source_get(api_call_t *c);
void rt_api_source_delete(api_call_t *c);
void rt_api_mappings_create(api_call_t *c);
void rt_api_mappings_list(api_call_t *c);
void rt_api_mapping_get(api_call_t *c);
void rt_api_mapping_delete(api_call_t *c);
void rt_api_mapping_test(api_call_t *c);
void rt_api_healthz(api_call_t *c);
void rt_api_readyz(api_call_t *c);
void rt_api_metrics(api_call_t *c);

#endif
