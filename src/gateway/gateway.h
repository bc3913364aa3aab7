/*
 * gateway.h - client protocols: the plain WebSocket protocol of ARCHITECTURE
 * §5.4 (and, later, Engine.IO/Socket.IO of §5.5). A gateway connection is a
 * subscriber of the topics subsystem and publishes through rt_topic_publish;
 * it never touches storage.
 */
#ifndef RT_GATEWAY_H
#define RT_GATEWAY_H

#include "net/net.h"
#include "registry/registry.h"
#include "topics/topics.h"

#define RT_WS_SUBPROTOCOL               "realtime.v1"
#define RT_WS_PING_INTERVAL_MS_DEFAULT  25000
#define RT_WS_SEND_QUEUE_BYTES_DEFAULT  (4 * 1024 * 1024)
#define RT_WS_MAX_SUBSCRIPTIONS_DEFAULT 100
#define RT_WS_PUBLISH_RATE_DEFAULT      100    /* per second per connection, burst the same */
#define RT_WS_MAX_CONNECTIONS_DEFAULT   100000 /* per environment */
#define RT_WS_ERROR_DETAILS_MAX         20

typedef struct {
    size_t max_message_bytes;
    int ping_interval_ms;
    size_t send_queue_bytes;
    int max_subscriptions;
    int publish_rate;
    int max_connections_per_env;
} rt_gateway_config_t;

void rt_gateway_config_defaults(rt_gateway_config_t *cfg);

typedef struct rt_gateway_s rt_gateway_t;

/* Creates the gateway (registry and topics borrowed; they outlive it).
 * Caller frees with rt_gateway_free() after the server stopped. */
rt_gateway_t *rt_gateway_new(const rt_gateway_config_t *cfg, rt_registry_t *registry,
                             rt_topics_t *topics);
void rt_gateway_free(rt_gateway_t *g);

/* The handler for GET E/ws (an rt_api_upgrade_fn with ctx = the gateway):
 * checks the handshake and the credentials, then answers 101 and takes the
 * connection over, or answers an HTTP error with a JSON body. */
void rt_gateway_ws_upgrade(void *ctx, rt_http_req_t *req, const char *app, const char *env);

#endif
