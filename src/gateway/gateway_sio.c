/*
 * This file implements the Socket.IO v4 gateway (ARCHITECTURE §5.5): Engine.IO
 * protocol v4 sessions over HTTP long-polling and WebSocket with the upgrade
 * between them, the server-driven heartbeat, CORS, and on top of them
 * Socket.IO protocol v5 namespaces `/{app}/{env}` whose events subscribe,
 * unsubscribe and publish through the topics subsystem, the fan-out of
 * `event:{topic}` packets (encoded once per worker), connection state
 * recovery from the event log, and the conformance mode of the official
 * protocol test suites. The wire codecs are eio_codec.c and sio_codec.c;
 * the threading design is written down in docs/internals/socketio.md
 * ("Sessions and threads"): a session is global and guarded by its mutex,
 * its Socket.IO state lives on one home worker, and everything that crosses
 * workers goes through rt_worker_post().
 */
#include "gateway/gateway_internal.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "gateway/eio_codec.h"
#include "gateway/sio_codec.h"
#include "net/ws_codec.h"

typedef struct eio_s eio_t;
typedef struct sio_s sio_t;
typedef struct sock_s sock_t;

/* The worker whose thread this is (set by the worker hook); NULL elsewhere. */
static _Thread_local rt_worker_t *cur_worker;

/* A socket that may be recovered: what a closed session's namespace socket
 * leaves behind under its pid (socket.io 4.6 connection state recovery). */
typedef struct parked_s {
    char sid[RT_EIO_SID_LEN + 1];
    char *nsp;
    json_t *subs; /* [[topic, tid, base_seq], …]; tid 0 for a pattern */
    uint64_t closed_ms;
} parked_t;

struct rt_sio_hub_s {
    rt_gateway_t *g;
    pthread_mutex_t lock; /* guards sessions and parked */
    rt_map_t sessions;    /* Engine.IO sid -> eio_t (one reference) */
    rt_map_t parked;      /* pid -> parked_t */
    uint64_t started_ms;  /* monotonic ms at start: recovery after a restart */
    atomic_int stopping;  /* the workers are being torn down */
    atomic_int draining;  /* rt_gateway_sio_stop: no GET is held any more */
    uv_timer_t timer;     /* the heartbeat sweep, on worker 0 */
    int timer_on;
    rt_metric_t *m_sessions;
    rt_metric_t *m_recovered;
};

/* One outbound Engine.IO packet waiting for a transport. */
typedef struct opkt_s {
    struct opkt_s *next;
    size_t len;
    int binary;
    char data[]; /* text packets with their type character */
} opkt_t;

/* One WebSocket connection of a session (the transport or a probe). Lives
 * on its connection's worker and is touched only there. */
typedef struct wsc_s {
    eio_t *s; /* one reference */
    rt_conn_t *conn;
    rt_ws_decoder_t dec;
    int probe; /* opened with a sid: waiting for 2probe / 5 */
    int closing;
} wsc_t;

/*
 * An Engine.IO session. Refcounted (atomic): the session table holds one
 * reference, every pending rt_worker_post another, a WebSocket connection
 * another. Invariants: fields under "guarded by mu" are read and written
 * with mu held; `sio` is touched only on the home worker's thread and only
 * while `attached`; a held GET is answered only on get_worker.
 */
struct eio_s {
    atomic_int refs;
    rt_sio_hub_t *hub;
    char sid[RT_EIO_SID_LEN + 1];
    int echo; /* a conformance /engine.io/ session: messages are echoed */
    pthread_mutex_t mu;
    /* guarded by mu */
    int closed;
    int upgraded; /* WebSocket is the transport */
    int attached; /* sio is present on home (0 while moving) */
    rt_worker_t *home;
    opkt_t *qhead, *qtail;
    size_t qbytes;
    rt_http_req_t *get; /* the held long-polling GET */
    rt_worker_t *get_worker;
    int get_wake; /* a flush of the held GET is posted */
    int posting;  /* a POST is being read */
    wsc_t *ws;    /* the WebSocket (probe or transport); ws_worker only */
    rt_worker_t *ws_worker;
    int ws_wake;
    int probed;            /* the probe WebSocket answered 2probe (until it goes) */
    uint64_t ping_due_ms;  /* when the next ping is due, or was sent */
    int ping_out;          /* a ping was sent and not answered */
    uint64_t probe_ms;     /* a probe WebSocket opened at; 0 = none */
    uint64_t opened_ms;    /* for the connect timeout */
    int connected;         /* a namespace was connected */
    uint64_t bye_ms;       /* the client sent "1" by POST with no GET held */
    opkt_t *ihead, *itail; /* inbound packets waiting for the home worker */
    size_t ibytes;
    int in_wake;           /* a drain of the inbound packets is posted */
    opkt_t *hhead, *htail; /* conformance mode: output held back (conf_hold) */
    uint64_t hold_until_ms;
    /* home worker only */
    sio_t *sio;
};

static void sio_input(eio_t *s, const char *data, size_t len, int binary);
static void sio_move(rt_worker_t *w, void *a, void *b);
static void eio_close(eio_t *s, const char *why, int get_answer, int recoverable);

/* ================================================================ basics */

static uint64_t mono_ms(void)
{
    return rt_mono_ns() / 1000000u;
}

static eio_t *eio_ref(eio_t *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

static void pkt_list_free(opkt_t *p)
{
    opkt_t *next;
    for (; p; p = next) {
        next = p->next;
        rt_free(p);
    }
}

static void eio_unref(eio_t *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    rt_assert(s->sio == NULL && s->get == NULL);
    pkt_list_free(s->qhead);
    pkt_list_free(s->ihead);
    pkt_list_free(s->hhead);
    pthread_mutex_destroy(&s->mu);
    rt_free(s);
}

/* Posts fn(w, s, b) with a reference to s, released by the callee. */
static void post(rt_worker_t *w, rt_worker_fn fn, eio_t *s, void *b)
{
    rt_worker_post(w, fn, eio_ref(s), b);
}

static int stopping(const eio_t *s)
{
    return atomic_load(&s->hub->stopping);
}

static opkt_t *pkt_new(const void *data, size_t len, int binary)
{
    opkt_t *p = rt_malloc(sizeof(*p) + len + 1);
    p->next = NULL;
    p->len = len;
    p->binary = binary;
    memcpy(p->data, data, len);
    p->data[len] = '\0';
    return p;
}

/* ============================================================== WebSocket */

/* Queues one frame (header and payload in one block) on c. */
static void ws_frame(rt_conn_t *c, uint8_t op, const void *data, size_t len)
{
    uint8_t hdr[RT_WS_MAX_HEADER_BYTES];
    size_t hl = rt_ws_frame_header(hdr, op, len);
    char *frame = rt_malloc(hl + len);
    memcpy(frame, hdr, hl);
    if (len > 0)
        memcpy(frame + hl, data, len);
    rt_conn_write_owned(c, frame, hl + len);
}

/* Starts the close handshake and closes once it is written (RFC 6455
 * §7.1.2). ws worker only. */
static void wsc_close(wsc_t *w, uint16_t code, const char *reason)
{
    if (w->conn == NULL || w->closing)
        return;
    uint8_t payload[RT_WS_MAX_CONTROL_BYTES];
    size_t n = rt_ws_close_payload(payload, code, reason);
    ws_frame(w->conn, RT_WS_OP_CLOSE, payload, n);
    w->closing = 1;
    rt_conn_pause(w->conn, 1);
    rt_conn_close(w->conn, 0);
}

/* ================================================================ output */

static void get_flush(rt_worker_t *w, void *a, void *b);
static void ws_flush(rt_worker_t *w, void *a, void *b);

/* Wakes whichever transport can carry the queue. mu held. */
static void wake(eio_t *s)
{
    if (s->upgraded) {
        if (s->ws && !s->ws_wake) {
            s->ws_wake = 1;
            post(s->ws_worker, ws_flush, s, NULL);
        }
        return;
    }
    if (s->get && !s->get_wake) {
        s->get_wake = 1;
        post(s->get_worker, get_flush, s, NULL);
    }
}

/* Appends a packet to the queue and wakes the transport. mu held. Returns
 * -1 when the queue is over the send bound (the caller closes). */
static int push(eio_t *s, opkt_t *p)
{
    if (s->qtail)
        s->qtail->next = p;
    else
        s->qhead = p;
    s->qtail = p;
    s->qbytes += p->len;
    wake(s);
    return s->qbytes > s->hub->g->cfg.send_queue_bytes ? -1 : 0;
}

static opkt_t *take_queue(eio_t *s)
{
    opkt_t *p = s->qhead;
    s->qhead = s->qtail = NULL;
    s->qbytes = 0;
    return p;
}

/* The WebSocket that carries s if it is this thread's, else NULL. mu held. */
static rt_conn_t *direct_conn(eio_t *s)
{
    if (!s->upgraded || s->ws == NULL || s->ws_worker != cur_worker || s->qhead != NULL ||
        s->ws->conn == NULL || s->ws->closing)
        return NULL;
    return s->ws->conn;
}

static void slow_consumer(eio_t *s)
{
    rt_metric_add(s->hub->g->m_slow, 1);
    rt_log_info("sio_slow_consumer", "sid=%s", s->sid);
    eio_close(s, "slow consumer", '1', 1);
}

/*
 * Sends one packet made of head[0..hl) + tail[0..tl) (tail may be empty):
 * straight onto the WebSocket when this thread owns it and nothing is
 * queued, else through the queue. rc, when given, holds head (written by
 * reference). Any thread.
 */
static void send_parts(eio_t *s, rt_rc_t *rc, const char *head, size_t hl, const char *tail,
                       size_t tl, int binary)
{
    int over = 0;
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    rt_conn_t *c = direct_conn(s);
    if (c != NULL) {
        uint8_t hdr[RT_WS_MAX_HEADER_BYTES];
        size_t n = rt_ws_frame_header(hdr, binary ? RT_WS_OP_BINARY : RT_WS_OP_TEXT, hl + tl);
        rt_conn_write_copy(c, hdr, n);
        if (rc)
            rt_conn_write_rc(c, rc, (size_t)(head - (const char *)rc->data), hl);
        else
            rt_conn_write_copy(c, head, hl);
        if (tl)
            rt_conn_write_copy(c, tail, tl);
        over = rt_conn_queued_bytes(c) > s->hub->g->cfg.send_queue_bytes;
    } else {
        opkt_t *p = rt_malloc(sizeof(*p) + hl + tl + 1);
        p->next = NULL;
        p->len = hl + tl;
        p->binary = binary;
        memcpy(p->data, head, hl);
        memcpy(p->data + hl, tail, tl);
        p->data[hl + tl] = '\0';
        over = push(s, p) != 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (over)
        slow_consumer(s);
}

/*
 * Sends one text packet whose WebSocket frame is built already: frame[0..hl)
 * is the frame header and frame[hl..len) the packet, all inside rc. When this
 * thread owns the WebSocket and nothing is queued the whole frame is written
 * by reference, the same bytes for every subscriber; else the packet alone
 * joins the queue. Any thread.
 */
static void send_framed(eio_t *s, rt_rc_t *rc, const char *frame, size_t hl, size_t len)
{
    int over;
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    rt_conn_t *c = direct_conn(s);
    if (c != NULL) {
        rt_conn_write_rc(c, rc, (size_t)(frame - rc->data), len);
        over = rt_conn_queued_bytes(c) > s->hub->g->cfg.send_queue_bytes;
    } else {
        over = push(s, pkt_new(frame + hl, len - hl, 0)) != 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (over)
        slow_consumer(s);
}

static void send_text(eio_t *s, const char *data, size_t len)
{
    send_parts(s, NULL, data, len, "", 0, 0);
}

static void send_buf(eio_t *s, rt_buf_t *b)
{
    send_text(s, b->data, b->len);
    rt_buf_close(b);
}

/* ----------------------------------------------------- conformance output */

/*
 * The official Socket.IO test suite reads one packet at a time and adds its
 * next listener only once the previous one has resolved (test-suite.js
 * waitFor), so of two packets that reach it in one TCP read it sees only the
 * first. The reference server writes the CONNECT reply and the "auth" event
 * in two turns of its loop; our corked output would join them. So in
 * conformance mode the "auth" event is held back for at least
 * RT_SIO_CONFORMANCE_HOLD_MS and released by the heartbeat sweep, and what
 * the conformance handlers send meanwhile waits behind it, in order.
 */

/* Holds a packet back (copied); starts a hold if none is running. Home
 * worker. */
static void conf_hold(eio_t *s, const char *data, size_t len, int binary)
{
    opkt_t *p = pkt_new(data, len, binary);
    pthread_mutex_lock(&s->mu);
    if (s->hhead == NULL)
        s->hold_until_ms = mono_ms() + RT_SIO_CONFORMANCE_HOLD_MS;
    if (s->htail)
        s->htail->next = p;
    else
        s->hhead = p;
    s->htail = p;
    pthread_mutex_unlock(&s->mu);
}

/* Sends a packet behind any held one. Home worker: only it adds held
 * packets, so an empty hold cannot fill up before the send. */
static void conf_send(eio_t *s, const char *data, size_t len, int binary)
{
    pthread_mutex_lock(&s->mu);
    int held = s->hhead != NULL;
    pthread_mutex_unlock(&s->mu);
    if (held)
        conf_hold(s, data, len, binary);
    else
        send_parts(s, NULL, data, len, "", 0, binary);
}

/* The sweep: moves held packets into the send queue once the hold is over.
 * mu held. Returns 1 if it did, 0 if nothing was due, -1 when the queue
 * went over its bound. */
static int hold_release(eio_t *s, uint64_t now)
{
    if (s->hhead == NULL || now < s->hold_until_ms)
        return 0;
    opkt_t *p = s->hhead, *next;
    s->hhead = s->htail = NULL;
    int over = 0;
    for (; p; p = next) {
        next = p->next;
        p->next = NULL;
        over |= push(s, p) != 0;
    }
    return over ? -1 : 1;
}

/* --------------------------------------------------------------- CORS */

/* Appends the CORS headers for req: "*" allows any origin without
 * credentials; a list reflects a listed Origin with credentials. */
static void cors_headers(const rt_sio_hub_t *hub, const rt_http_req_t *req, rt_buf_t *out)
{
    const char *allowed = hub->g->cfg.sio_cors_origins;
    if (allowed[0] == '\0')
        return;
    if (strcmp(allowed, "*") == 0) {
        rt_buf_append_str(out, "Access-Control-Allow-Origin: *\r\n");
        return;
    }
    const rt_http_header_t *o = rt_http_header_find(&req->head, "origin");
    if (o == NULL || o->value_len == 0)
        return;
    const char *p = allowed;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == o->value_len && memcmp(p, o->value, n) == 0) {
            rt_buf_appendf(out,
                           "Access-Control-Allow-Origin: %.*s\r\n"
                           "Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n",
                           (int)n, p);
            return;
        }
        p += comma ? n + 1 : n;
    }
}

static void respond(rt_sio_hub_t *hub, rt_http_req_t *req, int status, const char *type,
                    const char *body, size_t len)
{
    rt_buf_t h;
    rt_buf_init(&h);
    cors_headers(hub, req, &h);
    rt_buf_append(&h, "", 1);
    rt_http_respond(req, status, type, h.data, body, len);
    rt_buf_close(&h);
}

/* Refuses req with the reference server's error body (engine.io
 * Server.errors, abortRequest). */
static void refuse(rt_sio_hub_t *hub, rt_http_req_t *req, rt_eio_error_t code)
{
    rt_buf_t b;
    rt_buf_init(&b);
    rt_eio_error_body(&b, code);
    respond(hub, req, rt_eio_error_status(code), "application/json", b.data, b.len);
    rt_buf_close(&b);
}

/* ------------------------------------------------------------ polling out */

/* Answers a GET with the packets p (joined by the record separator). */
static void answer_get(rt_sio_hub_t *hub, rt_http_req_t *req, opkt_t *p)
{
    rt_buf_t body;
    rt_buf_init(&body);
    for (opkt_t *q = p; q; q = q->next) {
        rt_eio_packet_t pk = {RT_EIO_MESSAGE, 1, q->data, q->len};
        if (q->binary)
            rt_eio_payload_append(&body, &pk);
        else
            rt_eio_payload_append_encoded(&body, q->data, q->len);
    }
    pkt_list_free(p);
    respond(hub, req, 200, "text/plain; charset=UTF-8", body.data, body.len);
    rt_buf_close(&body);
}

/* The held GET's worker: answer it with what is queued. */
static void get_flush(rt_worker_t *w, void *a, void *b)
{
    (void)b;
    eio_t *s = a;
    rt_http_req_t *req = NULL;
    opkt_t *p = NULL;
    pthread_mutex_lock(&s->mu);
    s->get_wake = 0;
    if (s->get && s->get_worker == w && s->qhead && !s->upgraded) {
        req = s->get;
        s->get = NULL;
        p = take_queue(s);
    } else if (s->get && s->qhead) {
        wake(s);
    }
    pthread_mutex_unlock(&s->mu);
    if (req)
        answer_get(s->hub, req, p);
    eio_unref(s);
}

/* Answers a GET taken from a closing or upgraded session with one packet:
 * close ('1') or noop ('6'). Worker of the GET. */
static void get_end(eio_t *s, rt_http_req_t *req, char type)
{
    answer_get(s->hub, req, pkt_new(&type, 1, 0));
    eio_unref(s);
}

static void get_end_close(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    get_end(a, b, '1');
}

static void get_end_noop(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    get_end(a, b, '6');
}

/* ------------------------------------------------------------ WebSocket out */

static void ws_write_list(wsc_t *w, opkt_t *p)
{
    for (opkt_t *q = p; q; q = q->next)
        ws_frame(w->conn, q->binary ? RT_WS_OP_BINARY : RT_WS_OP_TEXT, q->data, q->len);
    pkt_list_free(p);
}

/* The WebSocket's worker: write what is queued, one frame per packet. */
static void ws_flush(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    (void)b;
    eio_t *s = a;
    int over = 0;
    pthread_mutex_lock(&s->mu);
    s->ws_wake = 0;
    wsc_t *ws = s->ws;
    if (ws && ws->conn && !ws->closing && s->upgraded && !s->closed) {
        ws_write_list(ws, take_queue(s));
        over = rt_conn_queued_bytes(ws->conn) > s->hub->g->cfg.send_queue_bytes;
    }
    pthread_mutex_unlock(&s->mu);
    if (over)
        slow_consumer(s);
    eio_unref(s);
}

/* The WebSocket's worker: close it (session closed, or a stale probe). */
static void ws_kill(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    eio_t *s = a;
    pthread_mutex_lock(&s->mu);
    wsc_t *ws = s->ws;
    pthread_mutex_unlock(&s->mu);
    if (ws && (b == NULL || b == ws))
        wsc_close(ws, RT_WS_CLOSE_NORMAL, "");
    eio_unref(s);
}

/* ================================================================ close */

static void sio_close_posted(rt_worker_t *w, void *a, void *b);

static void hub_remove(eio_t *s)
{
    rt_sio_hub_t *hub = s->hub;
    int removed = 0;
    pthread_mutex_lock(&hub->lock);
    if (rt_map_get(&hub->sessions, s->sid) == s) {
        rt_map_del(&hub->sessions, s->sid);
        removed = 1;
    }
    pthread_mutex_unlock(&hub->lock);
    if (removed) {
        rt_metric_add(hub->m_sessions, -1);
        eio_unref(s);
    }
}

/*
 * Closes session s (any thread; idempotent): a held GET is answered with
 * the packet get_answer ('1' close or '6' noop), the WebSocket is closed,
 * the Socket.IO sockets are torn down on the home worker (parked for
 * recovery if recoverable), and the sid is forgotten.
 */
static void eio_close(eio_t *s, const char *why, int get_answer, int recoverable)
{
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->closed = 1;
    rt_http_req_t *req = s->get;
    s->get = NULL;
    if (req)
        post(s->get_worker, get_answer == '1' ? get_end_close : get_end_noop, s, req);
    if (s->ws)
        post(s->ws_worker, ws_kill, s, NULL);
    post(s->home, sio_close_posted, s, (void *)(intptr_t)recoverable);
    pthread_mutex_unlock(&s->mu);
    rt_log_debug("sio_session_closed", "sid=%s reason=\"%s\"", s->sid, why);
    hub_remove(s);
}

/* ============================================================== sessions */

static eio_t *session_new(rt_sio_hub_t *hub, rt_worker_t *w, int echo)
{
    eio_t *s = rt_calloc(1, sizeof(*s));
    atomic_init(&s->refs, 1); /* the table's */
    s->hub = hub;
    s->echo = echo;
    pthread_mutex_init(&s->mu, NULL);
    s->home = w;
    s->attached = 1;
    uint64_t now = mono_ms();
    s->opened_ms = now;
    s->ping_due_ms = now + (uint64_t)hub->g->cfg.sio_ping_interval_ms;
    rt_eio_sid_new(s->sid);
    pthread_mutex_lock(&hub->lock);
    rt_map_put(&hub->sessions, s->sid, s);
    pthread_mutex_unlock(&hub->lock);
    rt_metric_add(hub->m_sessions, 1);
    return s;
}

/* Returns a new reference to the session sid, or NULL. */
static eio_t *session_find(rt_sio_hub_t *hub, const char *sid, size_t len)
{
    char key[RT_EIO_SID_MAX_BYTES + 1];
    if (len > RT_EIO_SID_MAX_BYTES)
        return NULL;
    memcpy(key, sid, len);
    key[len] = '\0';
    pthread_mutex_lock(&hub->lock);
    eio_t *s = rt_map_get(&hub->sessions, key);
    if (s)
        eio_ref(s);
    pthread_mutex_unlock(&hub->lock);
    return s;
}

/* Missed its pong: the ping timeout has passed. mu held. */
static int ping_expired(const eio_t *s, uint64_t now)
{
    return s->ping_out && now >= s->ping_due_ms + (uint64_t)s->hub->g->cfg.sio_ping_timeout_ms;
}

static void open_packet(const eio_t *s, int upgrades, rt_buf_t *out)
{
    const rt_gateway_config_t *cfg = &s->hub->g->cfg;
    rt_eio_open_t o = {s->sid, upgrades, (uint32_t)cfg->sio_ping_interval_ms,
                       (uint32_t)cfg->sio_ping_timeout_ms, cfg->sio_max_payload_bytes};
    rt_eio_open_encode(out, &o);
}

/* ========================================================= packets in */

/* One Engine.IO packet from the client's transport (any worker). Returns
 * -1 if the session was closed because of it. */
static int eio_packet(eio_t *s, const rt_eio_packet_t *p)
{
    switch (p->type) {
    case RT_EIO_PING: {
        /* Clients of v3 ping; v4 servers still answer (engine.io Socket). */
        rt_buf_t b;
        rt_buf_init(&b);
        rt_eio_packet_encode(&b, RT_EIO_PONG, p->data, p->len);
        send_buf(s, &b);
        return 0;
    }
    case RT_EIO_PONG:
        pthread_mutex_lock(&s->mu);
        s->ping_out = 0;
        s->ping_due_ms = mono_ms() + (uint64_t)s->hub->g->cfg.sio_ping_interval_ms;
        pthread_mutex_unlock(&s->mu);
        return 0;
    case RT_EIO_CLOSE: {
        /* Over polling, the client's last GET may still be on its way, on
         * another connection and so maybe another worker: it gets the noop
         * the reference answers a pending GET with (Polling.onClose) when
         * it arrives, and the sweep closes the session if it never does. */
        pthread_mutex_lock(&s->mu);
        int wait_get = !s->upgraded && s->get == NULL && !s->closed;
        if (wait_get)
            s->bye_ms = mono_ms();
        pthread_mutex_unlock(&s->mu);
        if (!wait_get)
            eio_close(s, "client close", '6', 1);
        return -1;
    }
    case RT_EIO_MESSAGE:
        if (s->echo) {
            send_parts(s, NULL, p->binary ? p->data : p->data - 1, p->binary ? p->len : p->len + 1,
                       "", 0, p->binary);
            return 0;
        }
        sio_input(s, p->data, p->len, p->binary);
        return 0;
    case RT_EIO_NOOP:
    case RT_EIO_UPGRADE:
        return 0;
    case RT_EIO_OPEN:
        break;
    }
    eio_close(s, "unexpected packet", '1', 0);
    return -1;
}

/* ================================================================ polling */

static void poll_get_now(rt_sio_hub_t *hub, eio_t *s, rt_http_req_t *req)
{
    pthread_mutex_lock(&s->mu);
    if (s->bye_ms && !s->closed) {
        pthread_mutex_unlock(&s->mu);
        answer_get(hub, req, pkt_new("6", 1, 0));
        eio_close(s, "client close", '6', 1);
        return;
    }
    if (s->closed || s->upgraded) {
        pthread_mutex_unlock(&s->mu);
        refuse(hub, req, s->closed ? RT_EIO_ERR_UNKNOWN_SID : RT_EIO_ERR_BAD_REQUEST);
        return;
    }
    if (ping_expired(s, mono_ms())) {
        pthread_mutex_unlock(&s->mu);
        eio_close(s, "ping timeout", '1', 1);
        refuse(hub, req, RT_EIO_ERR_UNKNOWN_SID);
        return;
    }
    if (s->get) {
        /* A second concurrent GET: refuse it and close (the pending one
         * receives the close packet). */
        pthread_mutex_unlock(&s->mu);
        refuse(hub, req, RT_EIO_ERR_BAD_REQUEST);
        eio_close(s, "concurrent GET", '1', 1);
        return;
    }
    if (s->qhead) {
        opkt_t *p = take_queue(s);
        pthread_mutex_unlock(&s->mu);
        answer_get(hub, req, p);
        return;
    }
    if (s->probed) {
        pthread_mutex_unlock(&s->mu);
        answer_get(hub, req, pkt_new("6", 1, 0));
        return;
    }
    if (atomic_load(&hub->draining)) {
        /* The server is stopping: a held GET would hold the stop. */
        pthread_mutex_unlock(&s->mu);
        answer_get(hub, req, pkt_new("1", 1, 0));
        eio_close(s, "server stopping", '1', 0);
        return;
    }
    s->get = req;
    s->get_worker = req->worker;
    pthread_mutex_unlock(&s->mu);
}

/* The GET's worker again, once the probe's worker has read its input. */
static void get_ordered(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    eio_t *s = a;
    poll_get_now(s->hub, s, b);
    eio_unref(s);
}

/* The probe WebSocket's worker, for a GET that reached another worker
 * during an upgrade. What the client sent on the WebSocket before this GET
 * (2probe, 5) was in the kernel before the GET's connection existed, so
 * this worker has read it by the time this post runs (epoll reports ready
 * sockets in the order they became ready). Decided back on the GET's
 * worker, the GET sees the upgrade the client had asked for first: a 400,
 * not a noop, as in a single-threaded server. */
static void get_after_probe(rt_worker_t *w, void *a, void *b)
{
    (void)w;
    eio_t *s = a;
    rt_http_req_t *req = b;
    if (stopping(s))
        poll_get_now(s->hub, s, req); /* the workers are gone: no more posts */
    else
        post(req->worker, get_ordered, s, req);
    eio_unref(s);
}

static void poll_get(rt_sio_hub_t *hub, eio_t *s, rt_http_req_t *req)
{
    pthread_mutex_lock(&s->mu);
    rt_worker_t *probe = NULL;
    if (s->ws != NULL && !s->upgraded && s->ws_worker != req->worker)
        probe = s->ws_worker;
    pthread_mutex_unlock(&s->mu);
    if (probe != NULL)
        post(probe, get_after_probe, s, req);
    else
        poll_get_now(hub, s, req);
}

static void poll_post(rt_sio_hub_t *hub, eio_t *s, rt_http_req_t *req)
{
    pthread_mutex_lock(&s->mu);
    int gone = s->closed || s->bye_ms;
    int bad = gone || s->upgraded || s->posting;
    int overlap = s->posting;
    int expired = !bad && ping_expired(s, mono_ms());
    if (!bad && !expired)
        s->posting = 1;
    pthread_mutex_unlock(&s->mu);
    if (bad || expired) {
        refuse(hub, req, gone || expired ? RT_EIO_ERR_UNKNOWN_SID : RT_EIO_ERR_BAD_REQUEST);
        if (overlap || expired)
            eio_close(s, expired ? "ping timeout" : "concurrent POST", '1', 1);
        return;
    }
    rt_eio_payload_t *pl = NULL;
    int rc =
        rt_eio_payload_decode(req->body, req->body_len, hub->g->cfg.sio_max_payload_bytes, &pl);
    if (rc == RT_ETOOBIG) {
        respond(hub, req, 413, "text/plain; charset=UTF-8", "Payload Too Large", 17);
    } else if (rc != 0) {
        refuse(hub, req, RT_EIO_ERR_BAD_REQUEST);
        eio_close(s, "bad payload", '1', 0);
    } else {
        for (size_t i = 0; i < pl->count; i++) {
            if (eio_packet(s, &pl->packets[i]) != 0)
                break;
        }
        rt_eio_payload_free(pl);
        respond(hub, req, 200, "text/html", "ok", 2);
    }
    pthread_mutex_lock(&s->mu);
    s->posting = 0;
    pthread_mutex_unlock(&s->mu);
}

static void poll_open(rt_sio_hub_t *hub, rt_http_req_t *req, int echo)
{
    eio_t *s = session_new(hub, req->worker, echo);
    rt_buf_t b;
    rt_buf_init(&b);
    open_packet(s, 1, &b);
    respond(hub, req, 200, "text/plain; charset=UTF-8", b.data, b.len);
    rt_buf_close(&b);
}

/* ============================================================== WebSocket */

static const rt_conn_proto_t wsc_proto;

/* A probe WebSocket (README "Upgrade"): 2probe → 3probe (and a noop for
 * the pending GET), then 5 moves the session onto this connection. */
static void probe_packet(wsc_t *w, const rt_eio_packet_t *p)
{
    eio_t *s = w->s;
    if (p->type == RT_EIO_PING && p->len == 5 && memcmp(p->data, "probe", 5) == 0) {
        ws_frame(w->conn, RT_WS_OP_TEXT, "3probe", 6);
        /* The noop releases the pending GET so that the client can pause
         * polling. As the reference does (Socket.maybeUpgrade), it goes to
         * polling only, never left queued for the WebSocket: a GET that
         * comes later, during the upgrade, gets one at once (poll_get). */
        pthread_mutex_lock(&s->mu);
        s->probed = 1;
        int over = s->get != NULL && push(s, pkt_new("6", 1, 0)) != 0;
        pthread_mutex_unlock(&s->mu);
        if (over)
            slow_consumer(s);
        return;
    }
    if (p->type != RT_EIO_UPGRADE) {
        wsc_close(w, RT_WS_CLOSE_PROTOCOL, "upgrade expected");
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->closed || s->ws != w) {
        pthread_mutex_unlock(&s->mu);
        wsc_close(w, RT_WS_CLOSE_NORMAL, "");
        return;
    }
    w->probe = 0;
    s->upgraded = 1;
    rt_http_req_t *req = s->get;
    s->get = NULL;
    if (req)
        post(s->get_worker, get_end_noop, s, req);
    if (s->home != cur_worker)
        post(s->home, sio_move, s, cur_worker);
    if (s->qhead)
        wake(s);
    pthread_mutex_unlock(&s->mu);
}

static void ws_message(wsc_t *w, const rt_ws_msg_t *m)
{
    rt_eio_packet_t p;
    int binary = m->opcode == RT_WS_OP_BINARY;
    if (rt_eio_packet_decode((const char *)m->data, m->len, binary, &p) != 0) {
        if (!w->probe)
            eio_close(w->s, "bad packet", '1', 0);
        wsc_close(w, RT_WS_CLOSE_PROTOCOL, "invalid Engine.IO packet");
        return;
    }
    if (w->probe)
        probe_packet(w, &p);
    else
        eio_packet(w->s, &p);
}

static void ws_frame_in(wsc_t *w, const rt_ws_msg_t *m)
{
    switch (m->opcode) {
    case RT_WS_OP_TEXT:
    case RT_WS_OP_BINARY:
        ws_message(w, m);
        break;
    case RT_WS_OP_PING:
        ws_frame(w->conn, RT_WS_OP_PONG, m->data, m->len);
        break;
    case RT_WS_OP_CLOSE: {
        uint16_t code = m->len >= 2 ? (uint16_t)(m->data[0] << 8 | m->data[1]) : RT_WS_CLOSE_NORMAL;
        wsc_close(w, code == RT_WS_CLOSE_NO_STATUS ? RT_WS_CLOSE_NORMAL : code, "");
        break;
    }
    default:
        break;
    }
}

static size_t wsc_on_data(rt_conn_t *c, char *buf, size_t len)
{
    wsc_t *w = rt_conn_data(c);
    if (w->closing)
        return len;
    size_t consumed = 0;
    rt_ws_msg_t m;
    uint16_t code = 0;
    int rc = rt_ws_decode(&w->dec, (uint8_t *)buf, len, &consumed, &m, &code);
    if (rc == RT_EPROTO) {
        wsc_close(w, code, code == RT_WS_CLOSE_TOO_BIG ? "message too big" : "protocol error");
        return len;
    }
    if (rc == 0)
        ws_frame_in(w, &m);
    return consumed;
}

static void wsc_on_sweep(rt_conn_t *c, uint64_t now)
{
    (void)now;
    wsc_t *w = rt_conn_data(c);
    if (!w->probe || w->closing)
        return;
    pthread_mutex_lock(&w->s->mu);
    uint64_t started = w->s->probe_ms;
    pthread_mutex_unlock(&w->s->mu);
    if (mono_ms() - started >= RT_SIO_UPGRADE_TIMEOUT_MS)
        wsc_close(w, RT_WS_CLOSE_NORMAL, "upgrade timeout");
}

static void wsc_on_close(rt_conn_t *c)
{
    wsc_t *w = rt_conn_data(c);
    eio_t *s = w->s;
    pthread_mutex_lock(&s->mu);
    int transport = s->ws == w && s->upgraded;
    if (s->ws == w) {
        s->ws = NULL;
        s->probed = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (transport)
        eio_close(s, "transport close", '1', 1);
    rt_ws_decoder_close(&w->dec);
    w->conn = NULL;
    rt_free(w);
    eio_unref(s);
}

static void wsc_on_shutdown(rt_conn_t *c)
{
    wsc_close(rt_conn_data(c), RT_WS_CLOSE_GOING_AWAY, "server shutting down");
}

static const rt_conn_proto_t wsc_proto = {wsc_on_data, wsc_on_sweep, wsc_on_close, NULL,
                                          wsc_on_shutdown};

static wsc_t *wsc_new(eio_t *s, rt_http_req_t *req)
{
    wsc_t *w = rt_calloc(1, sizeof(*w));
    w->s = eio_ref(s);
    w->conn = req->conn;
    rt_ws_decoder_init(&w->dec, s->hub->g->cfg.sio_max_payload_bytes, 1);
    return w;
}

static void upgrade(rt_http_req_t *req, const char *accept, wsc_t *w)
{
    rt_buf_t resp;
    rt_buf_init(&resp);
    rt_buf_appendf(&resp,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
    rt_http_upgrade(req, resp.data, resp.len, &wsc_proto, w);
    rt_buf_close(&resp);
}

/* transport=websocket without a sid: a session on this connection. */
static void ws_open(rt_sio_hub_t *hub, rt_http_req_t *req, int echo)
{
    char accept[29];
    if (rt_gateway_ws_handshake(req, accept) != 0)
        return;
    eio_t *s = session_new(hub, req->worker, echo);
    wsc_t *w = wsc_new(s, req);
    pthread_mutex_lock(&s->mu);
    s->upgraded = 1;
    s->ws = w;
    s->ws_worker = req->worker;
    pthread_mutex_unlock(&s->mu);
    rt_conn_t *c = req->conn;
    upgrade(req, accept, w);
    rt_buf_t b;
    rt_buf_init(&b);
    open_packet(s, 0, &b);
    ws_frame(c, RT_WS_OP_TEXT, b.data, b.len);
    rt_buf_close(&b);
}

/*
 * transport=websocket with a sid: a probe for the upgrade. A probe for a
 * session that is already upgraded or upgrading is accepted and closed at
 * once, as the reference's Server.onWebSocket does ("transport had already
 * been upgraded"); the official test suite waits for that close, not a 400.
 */
static void ws_probe(rt_sio_hub_t *hub, eio_t *s, rt_http_req_t *req)
{
    pthread_mutex_lock(&s->mu);
    int closed = s->closed || s->bye_ms;
    pthread_mutex_unlock(&s->mu);
    if (closed) {
        refuse(hub, req, RT_EIO_ERR_UNKNOWN_SID);
        return;
    }
    char accept[29];
    if (rt_gateway_ws_handshake(req, accept) != 0)
        return;
    wsc_t *w = wsc_new(s, req);
    w->probe = 1;
    pthread_mutex_lock(&s->mu);
    int busy = s->closed || s->upgraded || s->ws != NULL;
    if (!busy) {
        s->ws = w;
        s->ws_worker = req->worker;
        s->probe_ms = mono_ms();
    }
    pthread_mutex_unlock(&s->mu);
    upgrade(req, accept, w);
    if (busy)
        wsc_close(w, RT_WS_CLOSE_NORMAL, "");
}

/* ================================================================ entry */

static void preflight(rt_sio_hub_t *hub, rt_http_req_t *req)
{
    rt_buf_t h;
    rt_buf_init(&h);
    cors_headers(hub, req, &h);
    if (h.len > 0) {
        const rt_http_header_t *rh =
            rt_http_header_find(&req->head, "access-control-request-headers");
        rt_buf_appendf(&h,
                       "Access-Control-Allow-Methods: GET, POST\r\nAccess-Control-Max-Age: %d\r\n",
                       RT_SIO_CORS_MAX_AGE_S);
        if (rh && rh->value_len > 0 && rh->value_len < 1024 &&
            memchr(rh->value, '\r', rh->value_len) == NULL &&
            memchr(rh->value, '\n', rh->value_len) == NULL)
            rt_buf_appendf(&h, "Access-Control-Allow-Headers: %.*s\r\n", (int)rh->value_len,
                           rh->value);
    }
    rt_buf_append(&h, "", 1);
    rt_http_respond(req, 204, NULL, h.data, "", 0);
    rt_buf_close(&h);
}

static int is_path(const rt_http_req_t *req, const char *path)
{
    return req->head.path_len == strlen(path) &&
           memcmp(req->head.path, path, req->head.path_len) == 0;
}

void rt_gateway_sio_handle(void *ctx, rt_http_req_t *req)
{
    rt_gateway_t *g = ctx;
    rt_sio_hub_t *hub = g->sio;
    req->route = "socket.io";
    int echo = g->cfg.sio_conformance && is_path(req, RT_SIO_CONFORMANCE_EIO_PATH);
    if (!echo && !is_path(req, RT_SIO_PATH)) {
        rt_http_respond_error(req, 404, "not_found", "no such path", NULL);
        return;
    }
    if (req->head.method == RT_HTTP_OPTIONS) {
        preflight(hub, req);
        return;
    }
    rt_eio_query_t q;
    rt_eio_error_t err;
    if (rt_eio_parse_query(req->head.query ? req->head.query : "", req->head.query_len, &q, &err) !=
        0) {
        refuse(hub, req, err);
        return;
    }
    int get = req->head.method == RT_HTTP_GET, postm = req->head.method == RT_HTTP_POST;
    if (q.sid == NULL) {
        /* A handshake (engine.io Server.handshake): GET only. */
        if (!get)
            refuse(hub, req, RT_EIO_ERR_BAD_HANDSHAKE_METHOD);
        else if (q.transport == RT_EIO_TRANSPORT_WEBSOCKET)
            ws_open(hub, req, echo);
        else
            poll_open(hub, req, echo);
        return;
    }
    eio_t *s = session_find(hub, q.sid, q.sid_len);
    if (s == NULL || s->echo != echo) {
        if (s)
            eio_unref(s);
        refuse(hub, req, RT_EIO_ERR_UNKNOWN_SID);
        return;
    }
    if (q.transport == RT_EIO_TRANSPORT_WEBSOCKET && get)
        ws_probe(hub, s, req);
    else if (q.transport == RT_EIO_TRANSPORT_POLLING && get)
        poll_get(hub, s, req);
    else if (q.transport == RT_EIO_TRANSPORT_POLLING && postm)
        poll_post(hub, s, req);
    else
        refuse(hub, req, RT_EIO_ERR_BAD_REQUEST);
    eio_unref(s);
}

/* ============================================================= Socket.IO */

/* One subscription of a namespace socket. */
typedef struct sub_s {
    rt_sub_t sub; /* first: the topics subsystem hands it back */
    struct sub_s *next;
    sock_t *sock;
    int64_t tid;      /* 0 for a pattern */
    int64_t base_seq; /* where it started: recovery without an offset */
    int64_t last_seq; /* the last seq delivered */
    char topic[];     /* a name or a pattern */
} sub_t;

/*
 * A Socket.IO socket: one namespace joined by one session. Home worker
 * only; refcounted (the session's list, and each publish awaiting its
 * commit), so a late acknowledgement finds alive == 0 instead of freed
 * memory.
 */
struct sock_s {
    sock_t *next;
    int refs;
    int alive;
    eio_t *s;  /* borrowed: valid while alive */
    char *nsp; /* "/app/env" (or "/", "/custom"), then app and env in the same block */
    size_t nsp_len;
    const char *app, *env, *scope; /* scope "app/env" = nsp + 1 */
    char sid[RT_EIO_SID_LEN + 1];
    char pid[RT_EIO_SID_LEN + 1];
    json_t *can_sub, *can_pub; /* pattern lists; NULL = everything */
    sub_t *subs;
    int nsubs;
    double tokens; /* publish rate bucket */
    uint64_t tokens_ms;
    int64_t last_tid, last_seq; /* the last event delivered, to drop overlaps */
    int echo;                   /* a conformance namespace */
    int slot;                   /* holds an environment connection slot */
};

/* The Socket.IO state of a session (home worker only). */
struct sio_s {
    sock_t *socks;
    int nsocks;
    /* a BINARY_* packet waiting for its attachments */
    rt_sio_packet_t bin;
    char *bin_nsp;
    int bin_left;
    opkt_t *att_head, *att_tail;
};

static const rt_sub_ops_t sio_sub_ops;

static sio_t *sio_get(eio_t *s)
{
    if (s->sio == NULL)
        s->sio = rt_calloc(1, sizeof(sio_t));
    return s->sio;
}

static sock_t *find_sock(sio_t *io, const char *nsp, size_t len)
{
    for (sock_t *k = io->socks; k; k = k->next) {
        if (k->nsp_len == len && memcmp(k->nsp, nsp, len) == 0)
            return k;
    }
    return NULL;
}

static void sock_unref(sock_t *k)
{
    if (--k->refs > 0)
        return;
    json_decref(k->can_sub);
    json_decref(k->can_pub);
    rt_free(k->nsp);
    rt_free(k);
}

/* ---------------------------------------------------------------- output */

/* Sends a Socket.IO packet (ack id -1 for none) on k's namespace. Takes
 * ownership of data. */
static void sock_send(sock_t *k, rt_sio_type_t type, int64_t ack_id, json_t *data)
{
    rt_sio_packet_t p = {type, k->nsp, k->nsp_len, ack_id, 0, data};
    rt_buf_t b;
    rt_buf_init(&b);
    rt_sio_packet_encode(&b, &p);
    send_buf(k->s, &b);
    json_decref(data);
}

/* Answers a request: an ACK when the client asked for one; an error
 * without an ack id becomes an "error" event. Takes ownership of obj. */
static void reply(sock_t *k, int64_t ack_id, json_t *obj)
{
    if (ack_id >= 0)
        sock_send(k, RT_SIO_ACK, ack_id, json_pack("[o]", obj));
    else if (json_object_get(obj, "error"))
        sock_send(k, RT_SIO_EVENT, -1, json_pack("[s, O]", "error", json_object_get(obj, "error")));
    if (ack_id < 0)
        json_decref(obj);
}

static void reply_error(sock_t *k, int64_t ack_id, const char *code, const char *message)
{
    reply(k, ack_id, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

static void connect_error(eio_t *s, const char *nsp, size_t nsp_len, const char *message,
                          const char *code)
{
    rt_buf_t b;
    rt_buf_init(&b);
    json_t *data = code ? json_pack("{s:s}", "code", code) : NULL;
    rt_sio_encode_connect_error(&b, nsp, nsp_len, message, data);
    json_decref(data);
    conf_send(s, b.data, b.len, 0); /* behind a held "auth" in conformance mode */
    rt_buf_close(&b);
}

/* ----------------------------------------------------------------- fan-out */

/* "v1~t<tid>:<seq>" with two int64 values, and its NUL. */
#define EVENT_OFFSET_MAX_BYTES 48

/* The offset of a socket whose only subscription is the exact topic tid
 * after it received seq (see append_offset). Returns its length. */
static size_t event_offset(char *out, int64_t tid, int64_t seq)
{
    int n = snprintf(out, EVENT_OFFSET_MAX_BYTES, "v1~t%" PRId64 ":%" PRId64, tid, seq);
    rt_assert(n > 0 && n < EVENT_OFFSET_MAX_BYTES);
    return (size_t)n;
}

/* The length of the header of a frame we wrote: 2, 4 or 10 bytes, as the
 * 7-bit payload length says (RFC 6455 §5.2; server frames are unmasked). */
static size_t frame_header_len(const char *frame)
{
    uint8_t len7 = (uint8_t)frame[1] & 0x7f;
    return len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
}

/*
 * The fan-out frame, once per event per worker: a WebSocket text frame
 * header, then `42/app/env,["event:topic",<envelope>,"v1~t<tid>:<seq>"]`.
 * That offset is the one a socket whose only subscription is this topic has
 * after this event (docs/internals/socketio.md "Recovery"), so such a socket
 * on its own WebSocket is sent these bytes as they are, by reference, like a
 * plain WebSocket subscriber. Long-polling takes the packet without the
 * frame header; a socket with more subscriptions replaces the offset.
 */
static rt_rc_t *sio_encode(const rt_event_t *ev, const rt_sub_t *sub)
{
    (void)sub;
    const rt_topic_t *t = ev->topic;
    char nsp[2 * RT_SLUG_MAX_BYTES + 3];
    char name[RT_TOPIC_NAME_MAX_BYTES + 8];
    char off[EVENT_OFFSET_MAX_BYTES];
    int nl = snprintf(nsp, sizeof(nsp), "/%s/%s", t->app, t->env);
    int ml = snprintf(name, sizeof(name), "event:%s", t->name);
    rt_sio_raw_event_t re = {nsp,
                             (size_t)nl,
                             name,
                             (size_t)ml,
                             ev->envelope->data,
                             ev->envelope->len,
                             off,
                             event_offset(off, ev->tid, ev->seq)};
    rt_buf_t b;
    rt_buf_init(&b);
    rt_sio_encode_raw_event(&b, &re);
    uint8_t hdr[RT_WS_MAX_HEADER_BYTES];
    size_t hl = rt_ws_frame_header(hdr, RT_WS_OP_TEXT, b.len);
    rt_rc_t *rc = rt_rc_new(hl + b.len);
    memcpy(rc->data, hdr, hl);
    memcpy(rc->data + hl, b.data, b.len);
    rt_buf_close(&b);
    return rc;
}

/*
 * The recovery offset of k (docs/internals/socketio.md "Recovery"):
 * "v1", then "~t<tid>:<seq>" for each exact subscription (the last seq
 * delivered) and "~p<pattern>" for each pattern. Appended as a JSON string.
 */
static void append_offset(const sock_t *k, rt_buf_t *out)
{
    rt_buf_append_str(out, "\"v1");
    for (const sub_t *u = k->subs; u; u = u->next) {
        if (u->tid)
            rt_buf_appendf(out, "~t%" PRId64 ":%" PRId64, u->tid, u->last_seq);
        else
            rt_buf_appendf(out, "~p%s", u->topic);
    }
    rt_buf_append(out, "\"", 1);
}

/* Sends the event packet of frame (sio_encode) with k's own offset in
 * place of the frame's: the packet through the envelope by reference,
 * then `,"<offset>"]`. */
static void send_with_offset(sock_t *k, const rt_event_t *ev, const rt_frame_t *frame)
{
    const char *f = frame->page->data + frame->off;
    size_t hl = frame_header_len(f);
    char off[EVENT_OFFSET_MAX_BYTES];
    size_t event_tail = sizeof(",\"\"]") - 1 + event_offset(off, ev->tid, ev->seq);
    rt_buf_t tail;
    rt_buf_init(&tail);
    rt_buf_append(&tail, ",", 1);
    append_offset(k, &tail);
    rt_buf_append(&tail, "]", 1);
    send_parts(k->s, frame->page, f + hl, frame->len - hl - event_tail, tail.data, tail.len, 0);
    rt_buf_close(&tail);
}

static void sio_deliver(rt_sub_t *rs, const rt_event_t *ev, const rt_frame_t *frame)
{
    sub_t *u = (sub_t *)rs;
    sock_t *k = u->sock;
    if (!k->alive)
        return;
    if (u->tid && ev->seq > u->last_seq)
        u->last_seq = ev->seq;
    /* A name and a pattern may both match: one copy per socket. */
    if (ev->tid == k->last_tid && ev->seq == k->last_seq)
        return;
    k->last_tid = ev->tid;
    k->last_seq = ev->seq;
    if (k->nsubs == 1 && u->tid != 0 && u->last_seq == ev->seq) {
        /* k's offset is the frame's own. */
        const char *f = frame->page->data + frame->off;
        send_framed(k->s, frame->page, f, frame_header_len(f), frame->len);
        return;
    }
    send_with_offset(k, ev, frame);
}

static void sio_replayed(rt_sub_t *rs, int status)
{
    sub_t *u = (sub_t *)rs;
    if (status != 0 && u->sock->alive)
        reply_error(u->sock, -1, "replay_failed", "missed events could not be read");
}

static const rt_sub_ops_t sio_sub_ops = {sio_encode, sio_deliver, sio_replayed};

/* ---------------------------------------------------------- subscriptions */

static sub_t *find_sub(sock_t *k, const char *topic)
{
    for (sub_t *u = k->subs; u; u = u->next) {
        if (strcmp(u->topic, topic) == 0)
            return u;
    }
    return NULL;
}

/* Subscribes u (topic t or a pattern when t is NULL) on this worker. */
static void sub_start(sock_t *k, sub_t *u, rt_topic_t *t, int64_t since)
{
    memset(&u->sub, 0, sizeof(u->sub));
    u->sub.ops = &sio_sub_ops;
    u->sub.owner = k;
    int64_t seq = 0;
    rt_topics_subscribe(k->s->hub->g->topics, cur_worker, &u->sub, t, k->app, k->env, u->topic,
                        t ? since : -1, &seq);
}

static sub_t *sub_add(sock_t *k, const char *topic, int64_t tid, int64_t seq)
{
    size_t tl = strlen(topic);
    sub_t *u = rt_calloc(1, sizeof(*u) + tl + 1);
    memcpy(u->topic, topic, tl + 1);
    u->sock = k;
    u->tid = tid;
    u->base_seq = u->last_seq = seq;
    u->next = k->subs;
    k->subs = u;
    k->nsubs++;
    return u;
}

static int64_t committed(rt_topic_t *t)
{
    pthread_mutex_lock(&t->lock);
    int64_t seq = t->committed_seq;
    pthread_mutex_unlock(&t->lock);
    return seq;
}

/* Reads {topic, since?} (or {topic, payload} for publish). Returns 0, or
 * -1 with *code and *msg set. */
static int read_request(const json_t *arg, int kind, const char **topic, int *pattern,
                        int64_t *since, const char **code, const char **msg)
{
    const json_t *t = json_object_get(arg, "topic");
    const char *s = json_string_value(t);
    *pattern = 0;
    *since = -1;
    if (s == NULL || strlen(s) != json_string_length(t)) {
        *code = "invalid_topic";
        *msg = "the argument must be an object with a topic";
        return -1;
    }
    if (!rt_registry_topic_name_valid(s, strlen(s))) {
        if (kind == 'p' || !rt_topics_pattern_valid(s, strlen(s))) {
            *code = "invalid_topic";
            *msg = kind == 'p' ? "topic must be a topic name"
                               : "topic must be a topic name or pattern (`*` one segment, `>` "
                                 "one or more at the end)";
            return -1;
        }
        *pattern = 1;
    }
    *topic = s;
    const json_t *sj = json_object_get(arg, "since");
    if (kind == 's' && sj && !json_is_null(sj)) {
        if (!json_is_integer(sj) || json_integer_value(sj) < 0) {
            *code = "invalid_since";
            *msg = "since must be a non-negative seq";
            return -1;
        }
        if (*pattern) {
            *code = "since_not_supported";
            *msg = "since needs an exact topic: seqs are per topic";
            return -1;
        }
        *since = json_integer_value(sj);
    }
    return 0;
}

static void on_subscribe(sock_t *k, const json_t *arg, int64_t ack_id)
{
    const char *topic, *code, *msg;
    int pattern;
    int64_t since;
    if (read_request(arg, 's', &topic, &pattern, &since, &code, &msg) != 0) {
        reply_error(k, ack_id, code, msg);
        return;
    }
    if (!rt_topics_allowed(k->can_sub, topic)) {
        reply_error(k, ack_id, "forbidden", "the token does not allow subscribing here");
        return;
    }
    rt_topic_t *t = NULL;
    if (!pattern) {
        t = rt_registry_topic_get(k->s->hub->g->registry, k->app, k->env, topic);
        if (t == NULL) {
            reply_error(k, ack_id, "topic_not_found", "no such topic");
            return;
        }
    }
    sub_t *u = find_sub(k, topic);
    if (u == NULL && k->nsubs >= k->s->hub->g->cfg.max_subscriptions) {
        rt_topic_release(t);
        reply_error(k, ack_id, "too_many_subscriptions",
                    "subscription limit of this connection reached");
        return;
    }
    int64_t seq = t ? committed(t) : 0;
    json_t *ack = json_pack("{s:b}", "ok", 1);
    if (t)
        json_object_set_new(ack, "seq", json_integer(seq));
    /* The ack goes out first; replayed events follow it. */
    reply(k, ack_id, ack);
    if (u == NULL) {
        int64_t from = since >= 0 && since < seq ? since : seq;
        u = sub_add(k, topic, t ? t->tid : 0, from);
        sub_start(k, u, t, since);
    }
    rt_topic_release(t);
}

static void on_unsubscribe(sock_t *k, const json_t *arg, int64_t ack_id)
{
    const char *topic, *code, *msg;
    int pattern;
    int64_t since;
    if (read_request(arg, 'u', &topic, &pattern, &since, &code, &msg) != 0) {
        reply_error(k, ack_id, code, msg);
        return;
    }
    sub_t **pp = &k->subs;
    while (*pp && strcmp((*pp)->topic, topic) != 0)
        pp = &(*pp)->next;
    if (*pp == NULL) {
        reply_error(k, ack_id, "not_subscribed", "not subscribed to this topic");
        return;
    }
    sub_t *u = *pp;
    *pp = u->next;
    rt_topics_unsubscribe(k->s->hub->g->topics, &u->sub);
    rt_free(u);
    k->nsubs--;
    reply(k, ack_id, json_pack("{s:b}", "ok", 1));
}

/* ---------------------------------------------------------------- publish */

typedef struct {
    eio_t *s;  /* a reference */
    sock_t *k; /* a reference */
    int64_t ack_id;
    int status;
    char evt[32];
    int64_t seq;
} pub_t;

/* Home worker: the publish committed (or failed); answer it. */
static void publish_answer(rt_worker_t *w, void *a, void *b)
{
    eio_t *s = a;
    pub_t *p = b;
    pthread_mutex_lock(&s->mu);
    rt_worker_t *home = s->home;
    pthread_mutex_unlock(&s->mu);
    if (home != w && !stopping(s)) {
        rt_worker_post(home, publish_answer, s, p); /* the session moved */
        return;
    }
    if (p->k->alive && p->status == 0)
        reply(p->k, p->ack_id,
              json_pack("{s:b, s:{s:s, s:I}}", "ok", 1, "event", "id", p->evt, "seq",
                        (json_int_t)p->seq));
    else if (p->k->alive)
        reply_error(p->k, p->ack_id, "storage_failed", "the event could not be stored");
    sock_unref(p->k);
    rt_free(p);
    eio_unref(s);
}

/* Writer thread: hop back to the session's home worker. */
static void publish_done(void *arg, int status, const rt_event_t *ev)
{
    pub_t *p = arg;
    p->status = status;
    if (ev) {
        memcpy(p->evt, ev->id, sizeof(p->evt));
        p->seq = ev->seq;
    }
    pthread_mutex_lock(&p->s->mu);
    rt_worker_t *home = p->s->home;
    pthread_mutex_unlock(&p->s->mu);
    rt_worker_post(home, publish_answer, p->s, p);
}

/* Token bucket: publish_rate per second with the same burst. */
static int rate_ok(sock_t *k)
{
    uint64_t now = mono_ms();
    double rate = k->s->hub->g->cfg.publish_rate;
    k->tokens += (double)(now - k->tokens_ms) * rate / 1000.0;
    if (k->tokens > rate)
        k->tokens = rate;
    k->tokens_ms = now;
    if (k->tokens < 1.0)
        return 0;
    k->tokens -= 1.0;
    return 1;
}

static void on_publish(sock_t *k, const json_t *arg, int64_t ack_id)
{
    const char *topic, *code, *msg;
    int pattern;
    int64_t since;
    if (read_request(arg, 'p', &topic, &pattern, &since, &code, &msg) != 0) {
        reply_error(k, ack_id, code, msg);
        return;
    }
    const json_t *payload = json_object_get(arg, "payload");
    if (payload == NULL) {
        reply_error(k, ack_id, "payload_required", "publish needs a payload");
        return;
    }
    if (!rt_topics_allowed(k->can_pub, topic)) {
        reply_error(k, ack_id, "forbidden", "the token does not allow publishing here");
        return;
    }
    if (!rate_ok(k)) {
        reply_error(k, ack_id, "rate_limited", "too many publishes on this connection");
        return;
    }
    rt_publish_t pub = {k->app, k->env, topic, payload, NULL, RT_SOURCE_SOCKET};
    pub_t *p = rt_calloc(1, sizeof(*p));
    p->s = eio_ref(k->s);
    p->k = k;
    p->ack_id = ack_id;
    k->refs++;
    rt_publish_error_t err;
    if (rt_topic_publish(k->s->hub->g->topics, &pub, publish_done, p, &err) != 0) {
        json_t *e = json_pack("{s:s, s:s}", "code", err.code, "message", err.message);
        if (err.details)
            json_object_set_new(e, "details", err.details);
        reply(k, ack_id, json_pack("{s:o}", "error", e));
        k->refs--;
        eio_unref(p->s);
        rt_free(p);
    }
}

/* ------------------------------------------------------------ conformance */

/* The echo handlers of the official test suites' reference server (the
 * Socket.IO Readme, "Test suite"): on the main namespace, "message" →
 * "message-back" with the same arguments, "message-with-ack" → an ack with
 * the same arguments; /custom only emits "auth". data is the event array;
 * attachments the binary packets that follow it (borrowed). */
static void echo_event(sock_t *k, const rt_sio_packet_t *p, const opkt_t *att)
{
    const char *name;
    size_t nl;
    if (k->nsp_len != 1 || rt_sio_event_name(p, &name, &nl) != 0)
        return;
    int back = nl == 7 && memcmp(name, "message", 7) == 0;
    int ack = nl == 16 && memcmp(name, "message-with-ack", 16) == 0;
    if (!back && !(ack && p->ack_id >= 0))
        return;
    json_t *args = json_array();
    if (back)
        json_array_append_new(args, json_string("message-back"));
    for (size_t i = 1; i < json_array_size(p->data); i++)
        json_array_append(args, json_array_get(p->data, i));
    int binary = p->attachments > 0;
    rt_sio_type_t type = back ? (binary ? RT_SIO_BINARY_EVENT : RT_SIO_EVENT)
                              : (binary ? RT_SIO_BINARY_ACK : RT_SIO_ACK);
    rt_sio_packet_t out = {type, k->nsp, k->nsp_len, back ? -1 : p->ack_id, p->attachments, args};
    rt_buf_t b;
    rt_buf_init(&b);
    rt_sio_packet_encode(&b, &out);
    conf_send(k->s, b.data, b.len, 0);
    rt_buf_close(&b);
    json_decref(args);
    for (const opkt_t *q = att; q; q = q->next)
        conf_send(k->s, q->data, q->len, 1);
}

/* ---------------------------------------------------------------- connect */

/* Parses "/app/env" into app and env (NUL-terminated copies). */
static int parse_nsp(const char *nsp, size_t len, char *app, char *env)
{
    if (len < 4 || nsp[0] != '/')
        return -1;
    const char *slash = memchr(nsp + 1, '/', len - 1);
    if (slash == NULL)
        return -1;
    size_t al = (size_t)(slash - nsp - 1), el = len - al - 2;
    if (!rt_registry_slug_valid(nsp + 1, al) || !rt_registry_slug_valid(slash + 1, el))
        return -1;
    memcpy(app, nsp + 1, al);
    app[al] = '\0';
    memcpy(env, slash + 1, el);
    env[el] = '\0';
    return 0;
}

static sock_t *sock_new(eio_t *s, sio_t *io, const char *nsp, size_t nsp_len, const char *app,
                        const char *env)
{
    sock_t *k = rt_calloc(1, sizeof(*k));
    size_t al = strlen(app), el = strlen(env);
    k->nsp = rt_malloc(nsp_len + 1 + al + 1 + el + 1);
    memcpy(k->nsp, nsp, nsp_len);
    k->nsp[nsp_len] = '\0';
    char *a = k->nsp + nsp_len + 1;
    memcpy(a, app, al + 1);
    memcpy(a + al + 1, env, el + 1);
    k->nsp_len = nsp_len;
    k->app = a;
    k->env = a + al + 1;
    k->scope = k->nsp + 1;
    k->refs = 1;
    k->alive = 1;
    k->s = s;
    k->last_tid = -1;
    k->tokens = s->hub->g->cfg.publish_rate;
    k->tokens_ms = mono_ms();
    rt_eio_sid_new(k->sid);
    rt_eio_sid_new(k->pid);
    k->next = io->socks;
    io->socks = k;
    io->nsocks++;
    pthread_mutex_lock(&s->mu);
    s->connected = 1;
    pthread_mutex_unlock(&s->mu);
    return k;
}

static void conformance_connect(eio_t *s, sio_t *io, const rt_sio_packet_t *p)
{
    int main_nsp = p->nsp_len == 1;
    int custom = p->nsp_len == 7 && memcmp(p->nsp, "/custom", 7) == 0;
    if (!main_nsp && !custom) {
        connect_error(s, p->nsp, p->nsp_len, "Invalid namespace", NULL);
        return;
    }
    sock_t *k = sock_new(s, io, p->nsp, p->nsp_len, "", "");
    k->echo = 1;
    rt_buf_t b;
    rt_buf_init(&b);
    rt_sio_encode_connect(&b, k->nsp, k->nsp_len, k->sid, NULL);
    conf_send(s, b.data, b.len, 0);
    rt_buf_close(&b);
    rt_buf_init(&b);
    /* io.on("connection", s => s.emit("auth", s.handshake.auth)), held back
     * so that it does not share a read with the reply (conf_hold). */
    json_t *auth = p->data ? json_incref(p->data) : json_object();
    json_t *args = json_pack("[s, o]", "auth", auth);
    rt_sio_packet_t ev = {RT_SIO_EVENT, k->nsp, k->nsp_len, -1, 0, args};
    rt_sio_packet_encode(&b, &ev);
    json_decref(args);
    conf_hold(s, b.data, b.len, 0);
    rt_buf_close(&b);
}

static void recover(sock_t *k, const json_t *auth);

static void on_connect(eio_t *s, sio_t *io, const rt_sio_packet_t *p)
{
    if (find_sock(io, p->nsp, p->nsp_len))
        return; /* already connected: the client never asks twice */
    rt_gateway_t *g = s->hub->g;
    if (io->nsocks >= RT_SIO_MAX_NAMESPACES) {
        connect_error(s, p->nsp, p->nsp_len, "too many namespaces on one connection",
                      "too_many_namespaces");
        return;
    }
    if (g->cfg.sio_conformance) {
        conformance_connect(s, io, p);
        return;
    }
    char app[RT_SLUG_MAX_BYTES + 1], env[RT_SLUG_MAX_BYTES + 1];
    if (parse_nsp(p->nsp, p->nsp_len, app, env) != 0 ||
        !rt_registry_env_exists(g->registry, app, env)) {
        connect_error(s, p->nsp, p->nsp_len, "Invalid namespace", "namespace_not_found");
        return;
    }
    const json_t *tok = json_object_get(p->data, "token");
    if (!json_is_string(tok)) {
        connect_error(s, p->nsp, p->nsp_len, "a token is required: auth {token}", "unauthorized");
        return;
    }
    json_t *subs, *pubs;
    rt_gateway_refusal_t why;
    if (rt_gateway_rights(g, app, env, json_string_value(tok), json_string_length(tok), &subs,
                          &pubs, &why) != 0) {
        connect_error(s, p->nsp, p->nsp_len, why.message, why.code);
        return;
    }
    char scope[2 * RT_SLUG_MAX_BYTES + 2];
    snprintf(scope, sizeof(scope), "%s/%s", app, env);
    if (!rt_gateway_env_reserve(g, scope)) {
        json_decref(subs);
        json_decref(pubs);
        connect_error(s, p->nsp, p->nsp_len, "connection limit of this environment reached",
                      "too_many_connections");
        return;
    }
    sock_t *k = sock_new(s, io, p->nsp, p->nsp_len, app, env);
    k->slot = 1;
    k->can_sub = subs;
    k->can_pub = pubs;
    rt_metric_add(g->m_conns, 1);
    recover(k, p->data);
}

/* Removes k from the session; park keeps it for recovery. */
static void park_sock(eio_t *s, sock_t *k);

static void sock_drop(eio_t *s, sio_t *io, sock_t *k, int park)
{
    if (park && !k->echo)
        park_sock(s, k);
    sub_t *next;
    for (sub_t *u = k->subs; u; u = next) {
        next = u->next;
        rt_topics_unsubscribe(s->hub->g->topics, &u->sub);
        rt_free(u);
    }
    k->subs = NULL;
    k->nsubs = 0;
    if (k->slot) {
        rt_gateway_env_release(s->hub->g, k->scope);
        rt_metric_add(s->hub->g->m_conns, -1);
    }
    k->alive = 0;
    sock_t **pp = &io->socks;
    while (*pp != k)
        pp = &(*pp)->next;
    *pp = k->next;
    io->nsocks--;
    sock_unref(k);
}

static void bin_reset(sio_t *io)
{
    rt_sio_packet_close(&io->bin);
    rt_free(io->bin_nsp);
    io->bin_nsp = NULL;
    io->bin_left = 0;
    pkt_list_free(io->att_head);
    io->att_head = io->att_tail = NULL;
}

static void sio_teardown(eio_t *s, sio_t *io, int recoverable)
{
    while (io->socks)
        sock_drop(s, io, io->socks, recoverable);
    bin_reset(io);
    rt_free(io);
}

/* ---------------------------------------------------------------- packets */

static void on_event(sock_t *k, const rt_sio_packet_t *p)
{
    if (k->echo) {
        echo_event(k, p, NULL);
        return;
    }
    const char *name;
    size_t nl;
    if (rt_sio_event_name(p, &name, &nl) != 0) {
        reply_error(k, p->ack_id, "unknown_event", "events are subscribe, unsubscribe, publish");
        return;
    }
    const json_t *arg = json_array_get(p->data, 1);
    if (nl == 9 && memcmp(name, "subscribe", 9) == 0)
        on_subscribe(k, arg, p->ack_id);
    else if (nl == 11 && memcmp(name, "unsubscribe", 11) == 0)
        on_unsubscribe(k, arg, p->ack_id);
    else if (nl == 7 && memcmp(name, "publish", 7) == 0)
        on_publish(k, arg, p->ack_id);
    else
        reply_error(k, p->ack_id, "unknown_event", "events are subscribe, unsubscribe, publish");
}

/* A BINARY_* packet with all its attachments. */
static void binary_done(eio_t *s, sio_t *io)
{
    sock_t *k = find_sock(io, io->bin_nsp, strlen(io->bin_nsp));
    if (k && io->bin.type == RT_SIO_BINARY_EVENT) {
        if (k->echo)
            echo_event(k, &io->bin, io->att_head);
        else
            reply_error(k, io->bin.ack_id, "binary_not_supported",
                        "binary arguments are not supported: send JSON");
    }
    (void)s;
    bin_reset(io);
}

/* One Socket.IO packet (the data of an Engine.IO message). Home worker. */
static void sio_packet(eio_t *s, const char *data, size_t len, int binary)
{
    sio_t *io = sio_get(s);
    if (binary) {
        /* A binary message is only ever an attachment (protocol v5). */
        if (io->bin_left == 0) {
            eio_close(s, "unexpected binary message", '1', 0);
            return;
        }
        opkt_t *a = pkt_new(data, len, 1);
        if (io->att_tail)
            io->att_tail->next = a;
        else
            io->att_head = a;
        io->att_tail = a;
        if (--io->bin_left == 0)
            binary_done(s, io);
        return;
    }
    rt_sio_packet_t p;
    if (io->bin_left > 0 || rt_sio_packet_decode(data, len, &p) != 0) {
        eio_close(s, "parse error", '1', 0);
        return;
    }
    sock_t *k = find_sock(io, p.nsp, p.nsp_len);
    switch (p.type) {
    case RT_SIO_CONNECT:
        on_connect(s, io, &p);
        break;
    case RT_SIO_DISCONNECT:
        /* A session left without a namespace is closed (the Readme: the
         * connection "MAY be kept alive if the client is connected to
         * another namespace"). The reference server keeps it, and the
         * official test suite expects the next ping after "41": so does the
         * conformance mode. */
        if (k) {
            sock_drop(s, io, k, 0);
            if (io->nsocks == 0 && !s->hub->g->cfg.sio_conformance)
                eio_close(s, "client namespace disconnect", '1', 0);
        }
        break;
    case RT_SIO_EVENT:
        if (k)
            on_event(k, &p);
        break;
    case RT_SIO_BINARY_EVENT:
    case RT_SIO_BINARY_ACK:
        io->bin = p;
        io->bin_nsp = rt_strndup(p.nsp, p.nsp_len);
        io->bin_left = p.attachments;
        p.data = NULL;
        if (io->bin_left == 0)
            binary_done(s, io);
        break;
    case RT_SIO_ACK:
        break;
    case RT_SIO_CONNECT_ERROR:
        eio_close(s, "unexpected packet", '1', 0);
        break;
    }
    rt_sio_packet_close(&p);
}

/* ------------------------------------------------------------- home worker */

static void sio_drain(rt_worker_t *w, void *a, void *b);

/* A Socket.IO packet from any worker: handled at once on the home worker,
 * else queued in order for it. */
static void sio_input(eio_t *s, const char *data, size_t len, int binary)
{
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (s->home == cur_worker && s->attached && s->ihead == NULL) {
        pthread_mutex_unlock(&s->mu);
        sio_packet(s, data, len, binary);
        return;
    }
    opkt_t *p = pkt_new(data, len, binary);
    if (s->itail)
        s->itail->next = p;
    else
        s->ihead = p;
    s->itail = p;
    s->ibytes += len;
    int over = s->ibytes > RT_SIO_MAX_INBOUND_PENDING_BYTES;
    if (!s->in_wake && s->attached) {
        s->in_wake = 1;
        post(s->home, sio_drain, s, NULL);
    }
    pthread_mutex_unlock(&s->mu);
    if (over)
        eio_close(s, "inbound queue full", '1', 0);
}

static void sio_drain(rt_worker_t *w, void *a, void *b)
{
    (void)b;
    eio_t *s = a;
    pthread_mutex_lock(&s->mu);
    s->in_wake = 0;
    if (s->home != w && s->attached && !stopping(s)) {
        s->in_wake = 1;
        post(s->home, sio_drain, s, NULL);
    }
    opkt_t *list = NULL;
    if (s->home == w && s->attached && !s->closed) {
        list = s->ihead;
        s->ihead = s->itail = NULL;
        s->ibytes = 0;
    }
    pthread_mutex_unlock(&s->mu);
    for (opkt_t *p = list; p; p = p->next) {
        pthread_mutex_lock(&s->mu);
        int closed = s->closed;
        pthread_mutex_unlock(&s->mu);
        if (!closed)
            sio_packet(s, p->data, p->len, p->binary);
    }
    pkt_list_free(list);
    eio_unref(s);
}

static void sio_close_posted(rt_worker_t *w, void *a, void *b)
{
    eio_t *s = a;
    pthread_mutex_lock(&s->mu);
    if (s->home != w && !stopping(s)) {
        rt_worker_post(s->home, sio_close_posted, s, b); /* moved: follow it */
        pthread_mutex_unlock(&s->mu);
        return;
    }
    sio_t *io = s->attached && s->home == w ? s->sio : NULL;
    if (io)
        s->sio = NULL;
    pthread_mutex_unlock(&s->mu);
    if (io)
        sio_teardown(s, io, (int)(intptr_t)b);
    eio_unref(s);
}

static void sio_adopt(rt_worker_t *w, void *a, void *b);

/* The old home worker, after the upgrade landed on another worker: take the
 * subscriptions out of this worker's index and hand the state over. */
static void sio_move(rt_worker_t *w, void *a, void *b)
{
    eio_t *s = a;
    rt_worker_t *to = b;
    if (stopping(s)) {
        eio_unref(s);
        return;
    }
    pthread_mutex_lock(&s->mu);
    rt_assert(s->home == w);
    sio_t *io = s->sio;
    s->sio = NULL;
    s->attached = 0;
    pthread_mutex_unlock(&s->mu);
    for (sock_t *k = io ? io->socks : NULL; k; k = k->next) {
        for (sub_t *u = k->subs; u; u = u->next)
            rt_topics_unsubscribe(s->hub->g->topics, &u->sub);
    }
    pthread_mutex_lock(&s->mu);
    /* Adopt first, then the new home: whatever is posted to the new home
     * from now on runs after the adoption. */
    post(to, sio_adopt, s, io);
    s->home = to;
    pthread_mutex_unlock(&s->mu);
    eio_unref(s);
}

/* The new home: resubscribe each subscription from the last seq it
 * delivered, so that nothing is lost or doubled, then take the packets
 * that waited. */
static void sio_adopt(rt_worker_t *w, void *a, void *b)
{
    eio_t *s = a;
    sio_t *io = b;
    if (stopping(s)) {
        if (io)
            sio_teardown(s, io, 0);
        eio_unref(s);
        return;
    }
    s->sio = io;
    rt_registry_t *reg = s->hub->g->registry;
    for (sock_t *k = io ? io->socks : NULL; k; k = k->next) {
        sub_t **pp = &k->subs;
        while (*pp) {
            sub_t *u = *pp;
            rt_topic_t *t = u->tid ? rt_registry_topic_get(reg, k->app, k->env, u->topic) : NULL;
            if (u->tid && (t == NULL || t->tid != u->tid)) {
                rt_topic_release(t); /* deleted meanwhile */
                *pp = u->next;
                k->nsubs--;
                rt_free(u);
                continue;
            }
            sub_start(k, u, t, u->last_seq);
            rt_topic_release(t);
            pp = &u->next;
        }
    }
    pthread_mutex_lock(&s->mu);
    rt_assert(s->home == w);
    s->attached = 1;
    if (s->ihead && !s->in_wake) {
        s->in_wake = 1;
        post(w, sio_drain, s, NULL);
    }
    pthread_mutex_unlock(&s->mu);
    eio_unref(s);
}

/* =============================================================== recovery */

static void parked_free(parked_t *p)
{
    if (p == NULL)
        return;
    rt_free(p->nsp);
    json_decref(p->subs);
    rt_free(p);
}

/* Keeps k's subscriptions under its pid for maxDisconnectionDuration. */
static void park_sock(eio_t *s, sock_t *k)
{
    parked_t *p = rt_calloc(1, sizeof(*p));
    memcpy(p->sid, k->sid, sizeof(p->sid));
    p->nsp = rt_strdup(k->nsp);
    p->subs = json_array();
    for (const sub_t *u = k->subs; u; u = u->next)
        json_array_append_new(
            p->subs, json_pack("[s, I, I]", u->topic, (json_int_t)u->tid, (json_int_t)u->base_seq));
    p->closed_ms = mono_ms();
    rt_sio_hub_t *hub = s->hub;
    pthread_mutex_lock(&hub->lock);
    parked_t *old = rt_map_put(&hub->parked, k->pid, p);
    pthread_mutex_unlock(&hub->lock);
    parked_free(old);
}

/*
 * Parses an offset of append_offset(): *tids gets {"<tid>": seq} and
 * *patterns the patterns (new references). Returns 0, or -1 for anything
 * else (then nothing is recovered from it).
 */
static int parse_offset(const char *off, size_t len, json_t **tids, json_t **patterns)
{
    if (len < 2 || len > RT_SIO_MAX_OFFSET_BYTES || memcmp(off, "v1", 2) != 0)
        return -1;
    json_t *t = json_object(), *p = json_array();
    size_t i = 2;
    while (i < len) {
        if (off[i] != '~' || i + 1 >= len)
            goto bad;
        const char *e = memchr(off + i + 1, '~', len - i - 1);
        size_t end = e ? (size_t)(e - off) : len;
        const char *f = off + i + 2;
        size_t fl = end - i - 2;
        if (off[i + 1] == 'p') {
            if (!rt_topics_pattern_valid(f, fl))
                goto bad;
            json_array_append_new(p, json_stringn(f, fl));
        } else if (off[i + 1] == 't') {
            const char *colon = memchr(f, ':', fl);
            int64_t tid, seq;
            if (colon == NULL || rt_parse_i64(f, (size_t)(colon - f), &tid) != 0 || tid <= 0 ||
                rt_parse_i64(colon + 1, fl - (size_t)(colon - f) - 1, &seq) != 0 || seq < 0)
                goto bad;
            char key[24];
            snprintf(key, sizeof(key), "%" PRId64, tid);
            json_object_set_new(t, key, json_integer(seq));
        } else {
            goto bad;
        }
        i = end;
    }
    *tids = t;
    *patterns = p;
    return 0;
bad:
    json_decref(t);
    json_decref(p);
    return -1;
}

/* Restores one subscription of a recovered socket (rights and topic checked
 * again): exact topics replay from since. */
static void restore_sub(sock_t *k, const char *topic, int64_t tid, int64_t since)
{
    if (find_sub(k, topic) || k->nsubs >= k->s->hub->g->cfg.max_subscriptions ||
        !rt_topics_allowed(k->can_sub, topic))
        return;
    if (tid == 0) {
        if (!rt_topics_pattern_valid(topic, strlen(topic)))
            return;
        sub_start(k, sub_add(k, topic, 0, 0), NULL, -1);
        return;
    }
    rt_topic_t *t = rt_registry_topic_get(k->s->hub->g->registry, k->app, k->env, topic);
    if (t && t->tid == tid) {
        int64_t c = committed(t);
        int64_t from = since < c ? since : c;
        sub_start(k, sub_add(k, topic, tid, from), t, from);
    }
    rt_topic_release(t);
}

typedef struct {
    json_t *names; /* {"<tid>": name} */
} names_t;

static void name_of(void *arg, rt_topic_t *t)
{
    names_t *n = arg;
    char key[24];
    snprintf(key, sizeof(key), "%" PRId64, t->tid);
    json_object_set_new(n->names, key, json_string(t->name));
}

/* After a restart: the offset alone says what k was subscribed to. */
static void restore_from_offset(sock_t *k, json_t *tids, json_t *patterns)
{
    names_t n = {json_object()};
    rt_registry_topic_foreach(k->s->hub->g->registry, k->app, k->env, name_of, &n);
    const char *key;
    json_t *v;
    json_object_foreach(tids, key, v)
    {
        const char *name = json_string_value(json_object_get(n.names, key));
        int64_t tid;
        if (name && rt_parse_i64(key, strlen(key), &tid) == 0)
            restore_sub(k, name, tid, json_integer_value(v));
    }
    size_t i;
    json_array_foreach(patterns, i, v) restore_sub(k, json_string_value(v), 0, -1);
    json_decref(n.names);
}

/* In this process: the parked list is authoritative for what k was
 * subscribed to; the offset says what the client received. */
static void restore_from_parked(sock_t *k, const parked_t *p, const json_t *tids)
{
    size_t i;
    json_t *v;
    json_array_foreach(p->subs, i, v)
    {
        json_int_t tid = json_integer_value(json_array_get(v, 1));
        int64_t since = json_integer_value(json_array_get(v, 2));
        char key[24];
        snprintf(key, sizeof(key), "%" PRId64, (int64_t)tid);
        const json_t *seen = tids ? json_object_get(tids, key) : NULL;
        if (seen)
            since = json_integer_value(seen);
        restore_sub(k, json_string_value(json_array_get(v, 0)), tid, since);
    }
}

static int pid_plausible(const char *pid)
{
    if (pid == NULL || strlen(pid) != RT_EIO_SID_LEN)
        return 0;
    for (const char *c = pid; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_'))
            return 0;
    }
    return 1;
}

/*
 * Answers the CONNECT of a new socket k, recovering the session named by
 * auth {pid, offset} when it can (socket.io 4.6 connection state recovery):
 * the reply then carries the same pid, which socket.io-client reads as
 * `recovered`, and the subscriptions replay what the client missed.
 */
static void recover(sock_t *k, const json_t *auth)
{
    rt_sio_hub_t *hub = k->s->hub;
    uint64_t now = mono_ms(), window = (uint64_t)hub->g->cfg.sio_max_disconnect_ms;
    const char *pid = json_string_value(json_object_get(auth, "pid"));
    const json_t *oj = json_object_get(auth, "offset");
    json_t *tids = NULL, *patterns = NULL;
    int have_offset =
        json_is_string(oj) &&
        parse_offset(json_string_value(oj), json_string_length(oj), &tids, &patterns) == 0;
    parked_t *p = NULL;
    int recovered = 0;
    if (pid_plausible(pid)) {
        pthread_mutex_lock(&hub->lock);
        p = rt_map_del(&hub->parked, pid);
        pthread_mutex_unlock(&hub->lock);
        if (p)
            recovered = now - p->closed_ms <= window && strcmp(p->nsp, k->nsp) == 0;
        else
            recovered = have_offset && now - hub->started_ms <= window;
    }
    if (recovered) {
        memcpy(k->pid, pid, sizeof(k->pid));
        if (p)
            memcpy(k->sid, p->sid, sizeof(k->sid));
    }
    rt_buf_t b;
    rt_buf_init(&b);
    rt_sio_encode_connect(&b, k->nsp, k->nsp_len, k->sid, k->pid);
    send_buf(k->s, &b);
    if (recovered) {
        rt_metric_add(hub->m_recovered, 1);
        if (p)
            restore_from_parked(k, p, have_offset ? tids : NULL);
        else
            restore_from_offset(k, tids, patterns);
    }
    parked_free(p);
    json_decref(tids);
    json_decref(patterns);
}

/* ============================================================== heartbeat */

/* Worker 0, every tick: pings, ping timeouts, the connect timeout, and the
 * expiry of parked recovery state. */
static void sweep(uv_timer_t *timer)
{
    rt_sio_hub_t *hub = timer->data;
    uint64_t now = mono_ms();
    eio_t **dead = NULL;
    size_t nd = 0, cap = 0;
    char **gone = NULL;
    size_t ng = 0, gcap = 0;
    size_t it = 0;
    const char *key;
    void *val;
    pthread_mutex_lock(&hub->lock);
    while (rt_map_next(&hub->sessions, &it, &key, &val)) {
        eio_t *s = val;
        int kill = 0;
        pthread_mutex_lock(&s->mu);
        if (s->bye_ms && !s->closed) {
            kill = now - s->bye_ms >= RT_SIO_CLIENT_CLOSE_GRACE_MS;
        } else if (!s->closed) {
            /* A due ping waits for the next sweep rather than share a
             * read with released packets (conf_hold). */
            int released = hold_release(s, now);
            kill = released < 0;
            if (ping_expired(s, now)) {
                kill = 1;
            } else if (!released && !s->ping_out && now >= s->ping_due_ms) {
                s->ping_out = 1;
                kill |= push(s, pkt_new("2", 1, 0)) != 0;
            }
            if (!s->echo && !s->connected && now - s->opened_ms >= RT_SIO_CONNECT_TIMEOUT_MS)
                kill = 1;
        }
        pthread_mutex_unlock(&s->mu);
        if (kill) {
            if (nd == cap) {
                cap = cap ? cap * 2 : 16;
                dead = rt_realloc(dead, cap * sizeof(*dead));
            }
            dead[nd++] = eio_ref(s);
        }
    }
    it = 0;
    while (rt_map_next(&hub->parked, &it, &key, &val)) {
        if (now - ((parked_t *)val)->closed_ms <= (uint64_t)hub->g->cfg.sio_max_disconnect_ms)
            continue;
        if (ng == gcap) {
            gcap = gcap ? gcap * 2 : 16;
            gone = rt_realloc(gone, gcap * sizeof(*gone));
        }
        gone[ng++] = rt_strdup(key);
    }
    for (size_t i = 0; i < ng; i++) {
        parked_free(rt_map_del(&hub->parked, gone[i]));
        rt_free(gone[i]);
    }
    pthread_mutex_unlock(&hub->lock);
    rt_free(gone);
    for (size_t i = 0; i < nd; i++) {
        eio_close(dead[i], "timeout", '1', 1);
        eio_unref(dead[i]);
    }
    rt_free(dead);
}

/* The sweep period: a tenth of the shortest heartbeat setting, so that a
 * ping is late by at most that and the client keeps most of pingTimeout to
 * answer (the official suites run at 300/200 ms). */
static uint64_t tick_ms(const rt_gateway_config_t *cfg)
{
    uint64_t t = (uint64_t)RT_MIN(cfg->sio_ping_interval_ms, cfg->sio_ping_timeout_ms) / 10;
    return t < 10 ? 10 : t > 1000 ? 1000 : t;
}

static void timer_closed(uv_handle_t *h)
{
    (void)h;
}

/* A reference to every session in the table, in *n; the caller unrefs them
 * and frees the array with rt_free(). */
static eio_t **all_sessions(rt_sio_hub_t *hub, size_t *n)
{
    eio_t **all = NULL;
    size_t cap = 0, it = 0;
    const char *key;
    void *val;
    *n = 0;
    pthread_mutex_lock(&hub->lock);
    while (rt_map_next(&hub->sessions, &it, &key, &val)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            all = rt_realloc(all, cap * sizeof(*all));
        }
        all[(*n)++] = eio_ref(val);
    }
    pthread_mutex_unlock(&hub->lock);
    return all;
}

/* The worker is stopping (its loop has ended): answer the GETs it holds and
 * tear down the sessions whose home it is. */
static void worker_stop(rt_sio_hub_t *hub, rt_worker_t *w)
{
    size_t n;
    eio_t **all = all_sessions(hub, &n);
    for (size_t i = 0; i < n; i++) {
        eio_t *s = all[i];
        pthread_mutex_lock(&s->mu);
        rt_http_req_t *req = s->get && s->get_worker == w ? s->get : NULL;
        if (req)
            s->get = NULL;
        sio_t *io = s->home == w && s->attached ? s->sio : NULL;
        if (io)
            s->sio = NULL;
        pthread_mutex_unlock(&s->mu);
        if (req)
            answer_get(hub, req, pkt_new("6", 1, 0));
        if (io)
            sio_teardown(s, io, 0);
        eio_unref(s);
    }
    rt_free(all);
}

static void worker_hook(void *ctx, rt_worker_t *w, int starting)
{
    rt_sio_hub_t *hub = ctx;
    if (starting) {
        cur_worker = w;
        if (rt_worker_index(w) == 0) {
            uint64_t t = tick_ms(&hub->g->cfg);
            uv_timer_init(rt_worker_loop(w), &hub->timer);
            hub->timer.data = hub;
            uv_timer_start(&hub->timer, sweep, t, t);
            uv_unref((uv_handle_t *)&hub->timer); /* never keeps the loop alive */
            hub->timer_on = 1;
        }
        return;
    }
    atomic_store(&hub->stopping, 1);
    if (rt_worker_index(w) == 0 && hub->timer_on) {
        uv_close((uv_handle_t *)&hub->timer, timer_closed);
        hub->timer_on = 0;
    }
    worker_stop(hub, w);
    cur_worker = NULL;
}

/* ============================================================= lifecycle */

rt_sio_hub_t *rt_gateway_sio_new(rt_gateway_t *g)
{
    rt_sio_hub_t *hub = rt_calloc(1, sizeof(*hub));
    hub->g = g;
    pthread_mutex_init(&hub->lock, NULL);
    rt_map_init(&hub->sessions);
    rt_map_init(&hub->parked);
    hub->started_ms = mono_ms();
    atomic_init(&hub->stopping, 0);
    atomic_init(&hub->draining, 0);
    if (g->cfg.sio_conformance) {
        /* The reference server of both official test suites. */
        if (g->cfg.sio_ping_interval_ms == RT_SIO_PING_INTERVAL_MS_DEFAULT)
            g->cfg.sio_ping_interval_ms = RT_SIO_CONFORMANCE_PING_INTERVAL_MS;
        if (g->cfg.sio_ping_timeout_ms == RT_SIO_PING_TIMEOUT_MS_DEFAULT)
            g->cfg.sio_ping_timeout_ms = RT_SIO_CONFORMANCE_PING_TIMEOUT_MS;
    }
    hub->m_sessions = rt_metric_get("rt_sio_sessions", "", "gauge", "Open Engine.IO sessions");
    hub->m_recovered = rt_metric_get("rt_sio_recovered_total", "", "counter",
                                     "Socket.IO connections recovered after a disconnection");
    return hub;
}

void rt_gateway_sio_attach(rt_gateway_t *g, rt_server_t *server)
{
    rt_server_add_worker_hook(server, worker_hook, g->sio);
}

/*
 * Closes every long-polling session while the workers still run, so that a
 * held GET is answered at once with the close packet, as the reference's
 * Polling.doClose does on server.close() (Engine.IO README: "close" tells
 * that the transport can be closed), and its connection can wind down
 * instead of holding the stop for RT_NET_SHUTDOWN_MS. WebSocket sessions
 * are left to the connections' own shutdown (close code 1001).
 */
void rt_gateway_sio_stop(rt_gateway_t *g)
{
    rt_sio_hub_t *hub = g->sio;
    atomic_store(&hub->draining, 1);
    size_t n;
    eio_t **all = all_sessions(hub, &n);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&all[i]->mu);
        int polling = !all[i]->upgraded;
        pthread_mutex_unlock(&all[i]->mu);
        if (polling)
            eio_close(all[i], "server stopping", '1', 0);
        eio_unref(all[i]);
    }
    rt_free(all);
}

void rt_gateway_sio_free(rt_sio_hub_t *hub)
{
    if (hub == NULL)
        return;
    size_t it = 0;
    const char *key;
    void *val;
    while (rt_map_next(&hub->sessions, &it, &key, &val)) {
        eio_t *s = val;
        if (s->sio) {
            sio_teardown(s, s->sio, 0);
            s->sio = NULL;
        }
        eio_unref(s);
    }
    it = 0;
    while (rt_map_next(&hub->parked, &it, &key, &val))
        parked_free(val);
    rt_map_close(&hub->sessions);
    rt_map_close(&hub->parked);
    pthread_mutex_destroy(&hub->lock);
    rt_free(hub);
}
