/*
 * This file implements the plain WebSocket gateway (ARCHITECTURE §5.4): the
 * upgrade with its credential check, the connection protocol (frames through
 * src/net/ws_codec.c, JSON messages subscribe / unsubscribe / publish /
 * ping), rights from the client token, limits, heartbeats, the close
 * handshake, and the subscriber side of the fan-out: the event frame is
 * encoded once per worker and the same bytes are queued on every connection,
 * each bounded by its send queue.
 */
#include "gateway/gateway_internal.h"

#include <pthread.h>
#include <string.h>

#include "gateway/ws_message.h"
#include "net/ws_codec.h"

typedef struct ws_sub_s {
    rt_sub_t sub;
    struct ws_sub_s *next;
    char topic[]; /* as the client asked: a name or a pattern */
} ws_sub_t;

/*
 * One WebSocket connection. Refcounted: the connection holds one reference
 * and each publish awaiting its commit another, so a late acknowledgement
 * finds conn == NULL instead of freed memory.
 */
typedef struct {
    int refs;
    rt_gateway_t *g;
    rt_conn_t *conn; /* NULL once the connection closed */
    rt_worker_t *worker;
    char *scope;           /* "app/env" */
    const char *app;       /* into the scope block */
    const char *env;       /* into the scope block */
    json_t *can_subscribe; /* pattern lists; NULL = everything */
    json_t *can_publish;
    rt_ws_decoder_t dec;
    ws_sub_t *subs;
    int nsubs;
    uint64_t last_rx_ms;
    uint64_t ping_sent_ms; /* 0 = no ping outstanding */
    double tokens;         /* publish rate bucket */
    uint64_t tokens_ms;
    int64_t last_tid, last_seq; /* last event delivered, to drop overlaps */
    int closing;
} ws_t;

static const rt_sub_ops_t ws_sub_ops;
static const rt_conn_proto_t ws_proto;

void rt_gateway_config_defaults(rt_gateway_config_t *cfg)
{
    cfg->max_message_bytes = RT_WS_MAX_MESSAGE_BYTES_DEFAULT;
    cfg->ping_interval_ms = RT_WS_PING_INTERVAL_MS_DEFAULT;
    cfg->send_queue_bytes = RT_WS_SEND_QUEUE_BYTES_DEFAULT;
    cfg->max_subscriptions = RT_WS_MAX_SUBSCRIPTIONS_DEFAULT;
    cfg->publish_rate = RT_WS_PUBLISH_RATE_DEFAULT;
    cfg->max_connections_per_env = RT_WS_MAX_CONNECTIONS_DEFAULT;
    cfg->sio_ping_interval_ms = RT_SIO_PING_INTERVAL_MS_DEFAULT;
    cfg->sio_ping_timeout_ms = RT_SIO_PING_TIMEOUT_MS_DEFAULT;
    cfg->sio_max_payload_bytes = RT_SIO_MAX_PAYLOAD_BYTES_DEFAULT;
    cfg->sio_max_disconnect_ms = RT_SIO_MAX_DISCONNECT_MS_DEFAULT;
    memcpy(cfg->sio_cors_origins, RT_SIO_CORS_ORIGINS_DEFAULT, sizeof(RT_SIO_CORS_ORIGINS_DEFAULT));
    cfg->sio_conformance = 0;
}

/* ================================================================ output */

/* Queues one text message as a single frame (header and body in one block). */
static void send_text(ws_t *ws, const char *text, size_t len)
{
    if (ws->conn == NULL || ws->closing)
        return;
    uint8_t hdr[RT_WS_MAX_HEADER_BYTES];
    size_t hl = rt_ws_frame_header(hdr, RT_WS_OP_TEXT, len);
    char *frame = rt_malloc(hl + len);
    memcpy(frame, hdr, hl);
    memcpy(frame + hl, text, len);
    rt_conn_write_owned(ws->conn, frame, hl + len);
}

static void send_json(ws_t *ws, json_t *msg)
{
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_json(&b, msg);
    send_text(ws, b.data, b.len);
    rt_buf_close(&b);
    json_decref(msg);
}

static void send_control(ws_t *ws, uint8_t op, const uint8_t *payload, size_t len)
{
    uint8_t frame[RT_WS_MAX_HEADER_BYTES + RT_WS_MAX_CONTROL_BYTES];
    size_t hl = rt_ws_frame_header(frame, op, len);
    if (len > 0)
        memcpy(frame + hl, payload, len);
    rt_conn_write_copy(ws->conn, frame, hl + len);
}

/* Starts the close handshake with code and reason, then closes the TCP
 * connection once the frame is written (RFC 6455 §7.1.2). */
static void ws_close(ws_t *ws, uint16_t code, const char *reason)
{
    if (ws->conn == NULL || ws->closing)
        return;
    uint8_t payload[RT_WS_MAX_CONTROL_BYTES];
    size_t n = rt_ws_close_payload(payload, code, reason);
    send_control(ws, RT_WS_OP_CLOSE, payload, n);
    ws->closing = 1;
    rt_conn_pause(ws->conn, 1);
    rt_conn_close(ws->conn, 0);
}

static json_t *id_of(const rt_ws_message_t *msg)
{
    return json_incref(msg->id);
}

static void send_error(ws_t *ws, json_t *id, const char *code, const char *message, json_t *details)
{
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (details)
        json_object_set_new(err, "details", details);
    send_json(ws, json_pack("{s:s, s:o, s:o}", "type", "error", "id", id, "error", err));
}

/* ================================================================ fan-out */

/* The event message is the envelope with "type":"event" in front: made by
 * splicing bytes, never by re-encoding JSON. */
static rt_rc_t *ws_encode(const rt_event_t *ev, const rt_sub_t *sub)
{
    (void)sub;
    static const char prefix[] = "{\"type\":\"event\",";
    size_t body = sizeof(prefix) - 1 + ev->envelope->len - 1;
    uint8_t hdr[RT_WS_MAX_HEADER_BYTES];
    size_t hl = rt_ws_frame_header(hdr, RT_WS_OP_TEXT, body);
    rt_rc_t *rc = rt_rc_new(hl + body);
    memcpy(rc->data, hdr, hl);
    memcpy(rc->data + hl, prefix, sizeof(prefix) - 1);
    memcpy(rc->data + hl + sizeof(prefix) - 1, ev->envelope->data + 1, ev->envelope->len - 1);
    return rc;
}

static void ws_deliver(rt_sub_t *sub, const rt_event_t *ev, const rt_frame_t *frame)
{
    ws_t *ws = sub->owner;
    if (ws->conn == NULL || ws->closing)
        return;
    /* A name and a pattern may both match: one copy per connection. */
    if (ev->tid == ws->last_tid && ev->seq == ws->last_seq)
        return;
    ws->last_tid = ev->tid;
    ws->last_seq = ev->seq;
    if (rt_conn_queued_bytes(ws->conn) + frame->len > ws->g->cfg.send_queue_bytes) {
        rt_metric_add(ws->g->m_slow, 1);
        rt_log_info("ws_slow_consumer", "scope=%s queued=%zu", ws->scope,
                    rt_conn_queued_bytes(ws->conn));
        ws_close(ws, RT_WS_CLOSE_POLICY, "slow consumer: send queue full");
        return;
    }
    rt_conn_write_rc(ws->conn, frame->page, frame->off, frame->len);
}

static void ws_replayed(rt_sub_t *sub, int status)
{
    ws_t *ws = sub->owner;
    if (status != 0)
        send_error(ws, json_null(), "replay_failed", "missed events could not be read", NULL);
}

static const rt_sub_ops_t ws_sub_ops = {ws_encode, ws_deliver, ws_replayed};

/* ============================================================= lifecycle */

static void ws_unref(ws_t *ws)
{
    if (--ws->refs > 0)
        return;
    json_decref(ws->can_subscribe);
    json_decref(ws->can_publish);
    rt_free(ws->scope);
    rt_free(ws);
}

void rt_gateway_env_release(rt_gateway_t *g, const char *scope)
{
    pthread_mutex_lock(&g->lock);
    intptr_t n = (intptr_t)rt_map_get(&g->per_env, scope) - 1;
    if (n > 0)
        rt_map_put(&g->per_env, scope, (void *)n);
    else
        rt_map_del(&g->per_env, scope);
    pthread_mutex_unlock(&g->lock);
}

static void ws_on_close(rt_conn_t *c)
{
    ws_t *ws = rt_conn_data(c);
    ws_sub_t *next;
    for (ws_sub_t *s = ws->subs; s; s = next) {
        next = s->next;
        rt_topics_unsubscribe(ws->g->topics, &s->sub);
        rt_free(s);
    }
    ws->subs = NULL;
    rt_ws_decoder_close(&ws->dec);
    rt_gateway_env_release(ws->g, ws->scope);
    rt_metric_add(ws->g->m_conns, -1);
    ws->conn = NULL;
    ws_unref(ws);
}

/* ============================================================== messages */

static ws_sub_t *find_sub(ws_t *ws, const char *topic)
{
    for (ws_sub_t *s = ws->subs; s; s = s->next) {
        if (strcmp(s->topic, topic) == 0)
            return s;
    }
    return NULL;
}

static void on_subscribe(ws_t *ws, const rt_ws_message_t *msg)
{
    const char *topic = msg->topic;
    int pattern = msg->pattern;
    int64_t since = msg->since;
    if (!rt_topics_allowed(ws->can_subscribe, topic)) {
        send_error(ws, id_of(msg), "forbidden", "the token does not allow subscribing here", NULL);
        return;
    }
    rt_topic_t *t = NULL;
    if (!pattern) {
        t = rt_registry_topic_get(ws->g->registry, ws->app, ws->env, topic);
        if (t == NULL) {
            send_error(ws, id_of(msg), "topic_not_found", "no such topic", NULL);
            return;
        }
    }
    ws_sub_t *existing = find_sub(ws, topic);
    if (existing == NULL && ws->nsubs >= ws->g->cfg.max_subscriptions) {
        rt_topic_release(t);
        send_error(ws, id_of(msg), "too_many_subscriptions",
                   "subscription limit of this connection reached", NULL);
        return;
    }
    int64_t seq = 0;
    if (existing) {
        /* Idempotent: the same topic again just answers with where it is. */
        if (t) {
            pthread_mutex_lock(&t->lock);
            seq = t->committed_seq;
            pthread_mutex_unlock(&t->lock);
        }
    } else {
        size_t tl = strlen(topic);
        ws_sub_t *s = rt_calloc(1, sizeof(*s) + tl + 1);
        memcpy(s->topic, topic, tl + 1);
        s->sub.ops = &ws_sub_ops;
        s->sub.owner = ws;
        s->next = ws->subs;
        ws->subs = s;
        ws->nsubs++;
        /* The ack goes out first; replayed events follow it. */
        if (t) {
            pthread_mutex_lock(&t->lock);
            seq = t->committed_seq;
            pthread_mutex_unlock(&t->lock);
        }
        json_t *ack = json_pack("{s:s, s:o}", "type", "ack", "id", id_of(msg));
        if (t)
            json_object_set_new(ack, "seq", json_integer(seq));
        send_json(ws, ack);
        rt_topics_subscribe(ws->g->topics, ws->worker, &s->sub, t, ws->app, ws->env, topic, since,
                            &seq);
        rt_topic_release(t);
        return;
    }
    json_t *ack = json_pack("{s:s, s:o}", "type", "ack", "id", id_of(msg));
    if (t)
        json_object_set_new(ack, "seq", json_integer(seq));
    send_json(ws, ack);
    rt_topic_release(t);
}

static void on_unsubscribe(ws_t *ws, const rt_ws_message_t *msg)
{
    const char *topic = msg->topic;
    ws_sub_t **pp = &ws->subs;
    while (*pp && strcmp((*pp)->topic, topic) != 0)
        pp = &(*pp)->next;
    if (*pp == NULL) {
        send_error(ws, id_of(msg), "not_subscribed", "not subscribed to this topic", NULL);
        return;
    }
    ws_sub_t *s = *pp;
    *pp = s->next;
    rt_topics_unsubscribe(ws->g->topics, &s->sub);
    rt_free(s);
    ws->nsubs--;
    send_json(ws, json_pack("{s:s, s:o}", "type", "ack", "id", id_of(msg)));
}

typedef struct {
    ws_t *ws;
    json_t *id;
    int status;
    char evt[32];
    int64_t seq;
} ws_pub_t;

static void publish_answer(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    (void)b;
    ws_pub_t *p = a;
    if (p->status == 0)
        send_json(p->ws, json_pack("{s:s, s:o, s:{s:s, s:I}}", "type", "ack", "id", p->id, "event",
                                   "id", p->evt, "seq", (json_int_t)p->seq));
    else
        send_error(p->ws, p->id, "storage_failed", "the event could not be stored", NULL);
    ws_unref(p->ws);
    rt_free(p);
}

/* Writer thread: hop back to the connection's worker. */
static void publish_done(void *arg, int status, const rt_event_t *ev)
{
    ws_pub_t *p = arg;
    p->status = status;
    if (ev) {
        memcpy(p->evt, ev->id, sizeof(p->evt));
        p->seq = ev->seq;
    }
    rt_worker_post(p->ws->worker, publish_answer, p, NULL);
}

/* Token bucket: publish_rate per second with the same burst. */
static int rate_ok(ws_t *ws)
{
    uint64_t now = uv_now(rt_worker_loop(ws->worker));
    double rate = ws->g->cfg.publish_rate;
    ws->tokens += (double)(now - ws->tokens_ms) * rate / 1000.0;
    if (ws->tokens > rate)
        ws->tokens = rate;
    ws->tokens_ms = now;
    if (ws->tokens < 1.0)
        return 0;
    ws->tokens -= 1.0;
    return 1;
}

static void on_publish(ws_t *ws, const rt_ws_message_t *msg)
{
    const char *topic = msg->topic;
    const json_t *payload = msg->payload;
    if (!rt_topics_allowed(ws->can_publish, topic)) {
        send_error(ws, id_of(msg), "forbidden", "the token does not allow publishing here", NULL);
        return;
    }
    if (!rate_ok(ws)) {
        send_error(ws, id_of(msg), "rate_limited", "too many publishes on this connection", NULL);
        return;
    }
    rt_publish_t pub = {ws->app, ws->env, topic, payload, NULL, RT_SOURCE_SOCKET};
    ws_pub_t *p = rt_calloc(1, sizeof(*p));
    p->ws = ws;
    p->id = id_of(msg);
    ws->refs++;
    rt_publish_error_t err;
    if (rt_topic_publish(ws->g->topics, &pub, publish_done, p, &err) != 0) {
        send_error(ws, p->id, err.code, err.message, err.details);
        ws->refs--;
        rt_free(p);
    }
}

static void on_message(ws_t *ws, const char *text, size_t len)
{
    rt_metric_add(ws->g->m_messages, 1);
    rt_ws_message_t msg;
    rt_ws_message_error_t err;
    if (rt_ws_message_parse(text, len, &msg, &err) != 0) {
        send_error(ws, err.id, err.code, err.message, NULL);
        return;
    }
    switch (msg.type) {
    case RT_WSM_SUBSCRIBE:
        on_subscribe(ws, &msg);
        break;
    case RT_WSM_UNSUBSCRIBE:
        on_unsubscribe(ws, &msg);
        break;
    case RT_WSM_PUBLISH:
        on_publish(ws, &msg);
        break;
    case RT_WSM_PING:
        send_json(ws, json_pack("{s:s, s:O}", "type", "pong", "id", msg.id));
        break;
    }
    rt_ws_message_close(&msg);
}

/* ================================================================ frames */

static void on_frame(ws_t *ws, const rt_ws_msg_t *m)
{
    switch (m->opcode) {
    case RT_WS_OP_TEXT:
        on_message(ws, (const char *)m->data, m->len);
        break;
    case RT_WS_OP_BINARY:
        ws_close(ws, RT_WS_CLOSE_UNSUPPORTED, "binary messages are not supported");
        break;
    case RT_WS_OP_PING:
        send_control(ws, RT_WS_OP_PONG, m->data, m->len);
        break;
    case RT_WS_OP_PONG:
        break;
    case RT_WS_OP_CLOSE: {
        /* Echo the peer's code (RFC 6455 §5.5.1), then close. */
        uint16_t code = m->len >= 2 ? (uint16_t)(m->data[0] << 8 | m->data[1]) : RT_WS_CLOSE_NORMAL;
        ws_close(ws, code == RT_WS_CLOSE_NO_STATUS ? RT_WS_CLOSE_NORMAL : code, "");
        break;
    }
    default:
        break;
    }
}

static size_t ws_on_data(rt_conn_t *c, char *buf, size_t len)
{
    ws_t *ws = rt_conn_data(c);
    if (ws->closing)
        return len; /* after our close frame, input is ignored */
    ws->last_rx_ms = uv_now(rt_worker_loop(ws->worker));
    ws->ping_sent_ms = 0;
    size_t consumed = 0;
    rt_ws_msg_t m;
    uint16_t code = 0;
    int rc = rt_ws_decode(&ws->dec, (uint8_t *)buf, len, &consumed, &m, &code);
    if (rc == RT_EPROTO) {
        const char *why = code == RT_WS_CLOSE_INVALID_DATA ? "invalid UTF-8"
                          : code == RT_WS_CLOSE_TOO_BIG    ? "message too big"
                                                           : "protocol error";
        ws_close(ws, code, why);
        return len;
    }
    if (rc == 0)
        on_frame(ws, &m);
    return consumed;
}

static void ws_on_sweep(rt_conn_t *c, uint64_t now)
{
    ws_t *ws = rt_conn_data(c);
    uint64_t interval = (uint64_t)ws->g->cfg.ping_interval_ms;
    if (ws->closing)
        return;
    if (ws->ping_sent_ms && now - ws->ping_sent_ms >= interval) {
        rt_log_debug("ws_dead", "scope=%s", ws->scope);
        rt_conn_close(c, 1); /* no pong for a whole interval: the peer is gone */
        return;
    }
    if (!ws->ping_sent_ms && now - ws->last_rx_ms >= interval) {
        send_control(ws, RT_WS_OP_PING, NULL, 0);
        ws->ping_sent_ms = now;
    }
}

static void ws_on_shutdown(rt_conn_t *c)
{
    ws_close(rt_conn_data(c), RT_WS_CLOSE_GOING_AWAY, "server shutting down");
}

static const rt_conn_proto_t ws_proto = {ws_on_data, ws_on_sweep, ws_on_close, NULL,
                                         ws_on_shutdown};

/* ============================================================== handshake */

static void refuse(rt_http_req_t *req, int status, const char *code, const char *message)
{
    rt_http_respond_error(req, status, code, message, NULL);
}

/* The credential: ?token= or Authorization: Bearer. Copies into out. */
static int credential(const rt_http_req_t *req, char *out, size_t cap, size_t *len)
{
    if (rt_http_query_get(req->head.query, req->head.query_len, "token", out, cap, len) == 0)
        return 0;
    const rt_http_header_t *h = rt_http_header_find(&req->head, "authorization");
    if (h && h->value_len > 7 && strncasecmp(h->value, "Bearer ", 7) == 0 &&
        h->value_len - 7 < cap) {
        memcpy(out, h->value + 7, h->value_len - 7);
        out[h->value_len - 7] = '\0';
        *len = h->value_len - 7;
        return 0;
    }
    return RT_ENOENT;
}

int rt_gateway_rights(rt_gateway_t *g, const char *app, const char *env, const char *cred,
                      size_t len, json_t **subs, json_t **pubs, rt_gateway_refusal_t *why)
{
    rt_principal_t who;
    if (rt_registry_authenticate(g->registry, cred, len, &who) == 0) {
        if (who.admin || (strcmp(who.app, app) == 0 && strcmp(who.env, env) == 0)) {
            *subs = *pubs = NULL;
            return 0;
        }
        *why = (rt_gateway_refusal_t){403, "forbidden", "this key belongs to another environment"};
        return -1;
    }
    json_t *claims = NULL;
    const char *reason = NULL;
    if (rt_registry_token_verify(g->registry, app, env, cred, len, &claims, &reason) != 0) {
        *why = (rt_gateway_refusal_t){
            401, strstr(reason, "expired") ? "token_expired" : "invalid_token", reason};
        return -1;
    }
    json_t *s = json_object_get(claims, "subscribe"), *p = json_object_get(claims, "publish");
    *subs = json_is_array(s) ? json_incref(s) : json_array();
    *pubs = json_is_array(p) ? json_incref(p) : json_array();
    json_decref(claims);
    return 0;
}

/* Resolves the credential of req to rights (rt_gateway_rights), answering
 * the refusal itself. */
static int authenticate(rt_gateway_t *g, rt_http_req_t *req, const char *app, const char *env,
                        json_t **subs, json_t **pubs)
{
    char cred[4096];
    size_t len;
    if (credential(req, cred, sizeof(cred), &len) != 0) {
        refuse(req, 401, "unauthorized", "a token is required (?token= or Authorization)");
        return -1;
    }
    rt_gateway_refusal_t why;
    if (rt_gateway_rights(g, app, env, cred, len, subs, pubs, &why) != 0) {
        refuse(req, why.status, why.code, why.message);
        return -1;
    }
    return 0;
}

static int header_has_token(const rt_http_header_t *h, const char *token)
{
    if (h == NULL)
        return 0;
    size_t tl = strlen(token), i = 0;
    while (i < h->value_len) {
        while (i < h->value_len && (h->value[i] == ' ' || h->value[i] == ','))
            i++;
        size_t start = i;
        while (i < h->value_len && h->value[i] != ',')
            i++;
        size_t end = i;
        while (end > start && h->value[end - 1] == ' ')
            end--;
        if (end - start == tl && strncasecmp(h->value + start, token, tl) == 0)
            return 1;
    }
    return 0;
}

int rt_gateway_ws_handshake(rt_http_req_t *req, char accept[29])
{
    const rt_http_request_t *h = &req->head;
    const rt_http_header_t *upgrade = rt_http_header_find(h, "upgrade");
    if (h->minor_version != 1 || !header_has_token(upgrade, "websocket") ||
        !header_has_token(rt_http_header_find(h, "connection"), "upgrade")) {
        refuse(req, 400, "bad_handshake",
               "expected a WebSocket upgrade (HTTP/1.1, Upgrade: "
               "websocket, Connection: Upgrade)");
        return -1;
    }
    const rt_http_header_t *ver = rt_http_header_find(h, "sec-websocket-version");
    if (ver == NULL || ver->value_len != 2 || memcmp(ver->value, "13", 2) != 0) {
        rt_http_respond(req, 426, "application/json", "Sec-WebSocket-Version: 13\r\n",
                        "{\"error\":{\"code\":\"unsupported_version\",\"message\":\"only "
                        "WebSocket version 13 is supported\"}}",
                        strlen("{\"error\":{\"code\":\"unsupported_version\",\"message\":\"only "
                               "WebSocket version 13 is supported\"}}"));
        return -1;
    }
    const rt_http_header_t *key = rt_http_header_find(h, "sec-websocket-key");
    if (key == NULL || rt_ws_accept_key(key->value, key->value_len, accept) != 0) {
        refuse(req, 400, "bad_handshake", "Sec-WebSocket-Key must be base64 of 16 bytes");
        return -1;
    }
    return 0;
}

int rt_gateway_env_reserve(rt_gateway_t *g, const char *scope)
{
    pthread_mutex_lock(&g->lock);
    intptr_t n = (intptr_t)rt_map_get(&g->per_env, scope);
    int ok = n < g->cfg.max_connections_per_env;
    if (ok)
        rt_map_put(&g->per_env, scope, (void *)(n + 1));
    pthread_mutex_unlock(&g->lock);
    return ok;
}

void rt_gateway_ws_upgrade(void *ctx, rt_http_req_t *req, const char *app, const char *env)
{
    rt_gateway_t *g = ctx;
    char accept[29];
    if (rt_gateway_ws_handshake(req, accept) != 0)
        return;
    json_t *subs, *pubs;
    if (authenticate(g, req, app, env, &subs, &pubs) != 0)
        return;
    rt_buf_t scope;
    rt_buf_init(&scope);
    rt_buf_appendf(&scope, "%s/%s", app, env);
    if (!rt_gateway_env_reserve(g, scope.data)) {
        rt_buf_close(&scope);
        json_decref(subs);
        json_decref(pubs);
        refuse(req, 429, "too_many_connections", "connection limit of this environment reached");
        return;
    }
    ws_t *ws = rt_calloc(1, sizeof(*ws));
    ws->refs = 1;
    ws->g = g;
    ws->conn = req->conn;
    ws->worker = req->worker;
    /* One block "app/env\0app\0env\0": the scope key, then app and env. */
    size_t al = strlen(app), el = strlen(env);
    rt_buf_append(&scope, "", 1);
    rt_buf_append(&scope, app, al + 1);
    rt_buf_append(&scope, env, el + 1);
    ws->scope = rt_buf_steal(&scope, NULL);
    ws->app = ws->scope + al + 1 + el + 1;
    ws->env = ws->app + al + 1;
    ws->can_subscribe = subs;
    ws->can_publish = pubs;
    ws->last_rx_ms = uv_now(rt_worker_loop(req->worker));
    ws->tokens = g->cfg.publish_rate;
    ws->tokens_ms = ws->last_rx_ms;
    ws->last_tid = -1;
    rt_ws_decoder_init(&ws->dec, g->cfg.max_message_bytes, 1);
    rt_metric_add(g->m_conns, 1);

    const rt_http_header_t *proto = rt_http_header_find(&req->head, "sec-websocket-protocol");
    int offer = proto && rt_ws_protocol_offered(proto->value, proto->value_len, RT_WS_SUBPROTOCOL);
    rt_buf_t resp;
    rt_buf_init(&resp);
    rt_buf_appendf(&resp,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                   accept, offer ? "Sec-WebSocket-Protocol: " RT_WS_SUBPROTOCOL "\r\n" : "");
    rt_http_upgrade(req, resp.data, resp.len, &ws_proto, ws);
    rt_buf_close(&resp);
}

rt_gateway_t *rt_gateway_new(const rt_gateway_config_t *cfg, rt_registry_t *registry,
                             rt_topics_t *topics)
{
    rt_gateway_t *g = rt_calloc(1, sizeof(*g));
    g->cfg = *cfg;
    g->registry = registry;
    g->topics = topics;
    pthread_mutex_init(&g->lock, NULL);
    rt_map_init(&g->per_env);
    g->m_conns = rt_metric_get("rt_ws_connections", "", "gauge", "Open WebSocket connections");
    g->m_slow = rt_metric_get("rt_ws_slow_consumers_total", "", "counter",
                              "WebSocket connections closed because their send queue was full");
    g->m_messages = rt_metric_get("rt_ws_messages_total", "", "counter",
                                  "WebSocket messages received from clients");
    g->sio = rt_gateway_sio_new(g);
    return g;
}

void rt_gateway_free(rt_gateway_t *g)
{
    if (g == NULL)
        return;
    rt_gateway_sio_free(g->sio);
    rt_map_close(&g->per_env);
    pthread_mutex_destroy(&g->lock);
    rt_free(g);
}
