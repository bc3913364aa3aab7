/*
 * gateway.h - client protocols: the plain WebSocket protocol of ARCHITECTURE
 * §5.4 and Socket.IO v4 (Engine.IO v4, Socket.IO protocol v5) of §5.5. A gateway connection is a
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

/* Socket.IO (§5.5; docs/socketio.md). Defaults are the reference server's. */
#define RT_SIO_PATH                         "/socket.io/"
#define RT_SIO_CONFORMANCE_EIO_PATH         "/engine.io/" /* --socketio-conformance only */
#define RT_SIO_PING_INTERVAL_MS_DEFAULT     25000
#define RT_SIO_PING_TIMEOUT_MS_DEFAULT      20000
#define RT_SIO_MAX_PAYLOAD_BYTES_DEFAULT    1000000
#define RT_SIO_MAX_DISCONNECT_MS_DEFAULT    120000 /* connection state recovery window */
#define RT_SIO_CORS_ORIGINS_DEFAULT         "*"
#define RT_SIO_CORS_ORIGINS_MAX_BYTES       4096
#define RT_SIO_UPGRADE_TIMEOUT_MS           10000 /* a probing WebSocket must finish the upgrade */
#define RT_SIO_CONNECT_TIMEOUT_MS           45000 /* a session must CONNECT a namespace */
#define RT_SIO_CLIENT_CLOSE_GRACE_MS        1000  /* after a POSTed "1", for the last GET */
#define RT_SIO_CORS_MAX_AGE_S               86400
#define RT_SIO_MAX_NAMESPACES               16                /* namespaces one session may join */
#define RT_SIO_MAX_INBOUND_PENDING_BYTES    (4 * 1024 * 1024) /* parked while a session moves */
#define RT_SIO_MAX_OFFSET_BYTES             65536 /* a recovery offset sent back by a client */
#define RT_SIO_CONFORMANCE_PING_INTERVAL_MS 300   /* the test suites' reference server */
#define RT_SIO_CONFORMANCE_PING_TIMEOUT_MS  200
#define RT_SIO_CONFORMANCE_HOLD_MS          30 /* "auth" waits this long after the reply */

typedef struct {
    size_t max_message_bytes;
    int ping_interval_ms;
    size_t send_queue_bytes;
    int max_subscriptions;
    int publish_rate;
    int max_connections_per_env;
    /* Socket.IO */
    int sio_ping_interval_ms;
    int sio_ping_timeout_ms;
    size_t sio_max_payload_bytes;
    int sio_max_disconnect_ms;
    /* allowed CORS origins: "*" (any, without credentials), "" (no CORS), or
     * a comma-separated list of exact origins (reflected, with credentials) */
    char sio_cors_origins[RT_SIO_CORS_ORIGINS_MAX_BYTES];
    /* the echo handlers of the official protocol test suites instead of
     * app/env namespaces (docs/socketio.md "Conformance mode") */
    int sio_conformance;
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

/* Starts the Socket.IO gateway's per-worker state (a heartbeat timer, the
 * shutdown of sessions) through a worker hook of server (borrowed). Call
 * once, before rt_server_start(), main thread. */
void rt_gateway_sio_attach(rt_gateway_t *g, rt_server_t *server);

/* Begins the graceful stop of the Socket.IO gateway: every long-polling
 * session is closed and a held GET answered at once with the close packet,
 * so that it does not hold the server's stop. Call from the main thread
 * right before rt_server_stop(). */
void rt_gateway_sio_stop(rt_gateway_t *g);

/* The handler of every request under RT_SIO_PATH (an rt_api_prefix_fn with
 * ctx = the gateway), and in conformance mode of RT_SIO_CONFORMANCE_EIO_PATH:
 * the Engine.IO v4 handshake, long-polling GET and POST, CORS preflight, and
 * the WebSocket transport (which takes the connection over). Answers every
 * refused request with the reference server's JSON error body. Worker
 * thread of req. */
void rt_gateway_sio_handle(void *ctx, rt_http_req_t *req);

#endif
