/*
 * api.h - the REST API of ARCHITECTURE §5.2 and the operational endpoints
 * (/healthz, /readyz, /metrics). rt_api_handle is the server's one HTTP
 * handler: it routes, authenticates (§5.1), and answers with the §5 error
 * shape. Upgrade routes (WebSocket, Socket.IO) are handed to the gateway
 * through rt_api_set_upgrade().
 */
#ifndef RT_API_H
#define RT_API_H

#include "net/net.h"
#include "registry/registry.h"
#include "topics/topics.h"

#define RT_BATCH_MAX_ITEMS 1000

typedef struct rt_api_s rt_api_t;

/* A handler for GET E/ws: called after routing, with app and env decoded and
 * the environment known to exist (auth is the gateway's: tokens). */
typedef void (*rt_api_upgrade_fn)(void *ctx, rt_http_req_t *req, const char *app, const char *env);

/* A handler for a whole path prefix (e.g. "/socket.io/"), before any auth. */
typedef void (*rt_api_prefix_fn)(void *ctx, rt_http_req_t *req);

/* Creates the API over registry (borrowed). Caller frees with rt_api_free().
 * The topics hub is attached once the server (which it needs) exists. */
rt_api_t *rt_api_new(rt_registry_t *registry);
void rt_api_set_topics(rt_api_t *api, rt_topics_t *topics);
/* Attaches the webhooks subsystem (borrowed; outlives the API's use). */
typedef struct rt_webhooks_s rt_webhooks_t;
void rt_api_set_webhooks(rt_api_t *api, rt_webhooks_t *webhooks);
/* Attaches change data capture (borrowed; outlives the API's use). */
typedef struct rt_cdc_s rt_cdc_t;
void rt_api_set_cdc(rt_api_t *api, rt_cdc_t *cdc);
void rt_api_free(rt_api_t *api);

void rt_api_set_upgrade(rt_api_t *api, rt_api_upgrade_fn fn, void *ctx);
void rt_api_set_prefix(rt_api_t *api, const char *prefix, rt_api_prefix_fn fn, void *ctx);

/* The HTTP handler (rt_http_handler_fn) with ctx = the rt_api_t. */
void rt_api_handle(void *ctx, rt_http_req_t *req);

#endif
