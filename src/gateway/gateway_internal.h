/*
 * gateway_internal.h - private to src/gateway: the gateway object shared by
 * the plain WebSocket gateway (gateway_ws.c) and the Socket.IO gateway
 * (gateway_sio.c), and the helpers both use: the RFC 6455 opening handshake
 * check and the resolution of a credential to rights.
 */
#ifndef RT_GATEWAY_INTERNAL_H
#define RT_GATEWAY_INTERNAL_H

#include <pthread.h>

#include "gateway/gateway.h"

typedef struct rt_sio_hub_s rt_sio_hub_t;

struct rt_gateway_s {
    rt_gateway_config_t cfg;
    rt_registry_t *registry;
    rt_topics_t *topics;
    pthread_mutex_t lock; /* guards per_env */
    rt_map_t per_env;     /* "app/env" -> open connection count (intptr_t) */
    rt_metric_t *m_conns;
    rt_metric_t *m_slow;
    rt_metric_t *m_messages;
    rt_sio_hub_t *sio; /* the Socket.IO sessions (gateway_sio.c) */
};

/* Why a credential was refused: HTTP status, stable code, message (static). */
typedef struct {
    int status;
    const char *code;
    const char *message;
} rt_gateway_refusal_t;

/*
 * Resolves a credential to rights in app/env: an environment secret key of
 * app/env (or the admin key) may do everything (*subs = *pubs = NULL); a
 * client token what its claims list (*subs, *pubs new references to pattern
 * arrays; caller json_decref). Returns 0, or -1 with *why filled. Any thread.
 */
int rt_gateway_rights(rt_gateway_t *g, const char *app, const char *env, const char *cred,
                      size_t len, json_t **subs, json_t **pubs, rt_gateway_refusal_t *why);

/* RFC 6455 §4.2.1: checks the opening handshake of req and writes the
 * Sec-WebSocket-Accept value into accept. Returns 0, or -1 after answering
 * req with the HTTP error (req is then freed). Worker thread of req. */
int rt_gateway_ws_handshake(rt_http_req_t *req, char accept[29]);

/* Reserves one connection slot of the environment scope ("app/env"); 1 if
 * granted, 0 at the limit. rt_gateway_env_release() gives it back. */
int rt_gateway_env_reserve(rt_gateway_t *g, const char *scope);
void rt_gateway_env_release(rt_gateway_t *g, const char *scope);

/* Creates and frees the Socket.IO hub of g (gateway_sio.c); called by
 * rt_gateway_new() and rt_gateway_free(). */
rt_sio_hub_t *rt_gateway_sio_new(rt_gateway_t *g);
void rt_gateway_sio_free(rt_sio_hub_t *hub);

#endif
