/*
 * net.h - worker loops, connections and the HTTP/1.1 server.
 *
 * The server runs N worker threads, each with its own libuv loop and its own
 * SO_REUSEPORT listening socket; a connection lives and dies on one worker.
 * Other threads reach a worker only through rt_worker_post(). Output to a
 * connection is queued and written with one writev per loop turn (corking).
 *
 * HTTP requests are handed to one handler callback as rt_http_req_t; the
 * handler answers at once or later (on the same worker) with rt_http_respond*.
 * A connection handles one request at a time: pipelined requests wait in its
 * buffer until the previous response is queued, so responses keep their order.
 */
#ifndef RT_NET_H
#define RT_NET_H

#include <jansson.h>
#include <uv.h>

#include "core/core.h"
#include "net/http_parse.h"

#define RT_HTTP_HEADER_TIMEOUT_MS      10000 /* whole head must arrive within this */
#define RT_HTTP_IDLE_TIMEOUT_MS        60000 /* idle keep-alive connections are closed */
#define RT_HTTP_BODY_TIMEOUT_MS        30000 /* a started body must keep coming */
#define RT_HTTP_MAX_BODY_BYTES_DEFAULT (1024 * 1024)
#define RT_NET_READ_BUF_BYTES          (64 * 1024) /* per-worker shared read buffer */
#define RT_NET_SWEEP_MS                1000        /* deadline sweep period */
#define RT_NET_SHUTDOWN_MS             8000        /* graceful stop gives up after this */
/* Flush pacing (net_worker.c): a flush round that wrote to fewer
 * connections than this is never followed by a wait; a bigger one holds the
 * next round back by twice its length, capped at the configured maximum
 * (rt_server_config_t.flush_pacing_max_ms; 0 turns pacing off). */
#define RT_NET_FLUSH_PACE_MIN_CONNS      100
#define RT_NET_FLUSH_PACE_MAX_MS_DEFAULT 30

typedef struct rt_server_s rt_server_t;
typedef struct rt_worker_s rt_worker_t;
typedef struct rt_conn_s rt_conn_t;

/* ================================================================ workers */

typedef void (*rt_worker_fn)(rt_worker_t *w, void *a, void *b);

/* Runs fn(w, a, b) on worker w's loop thread soon. Thread-safe; never fails
 * while the server runs. After the worker stopped, fn runs at shutdown with
 * w's loop no longer running, so that owned arguments are still freed. */
void rt_worker_post(rt_worker_t *w, rt_worker_fn fn, void *a, void *b);
uv_loop_t *rt_worker_loop(rt_worker_t *w);
int rt_worker_index(const rt_worker_t *w);
rt_server_t *rt_worker_server(rt_worker_t *w);

/* ============================================================ connections */

/*
 * A protocol running on a connection (HTTP, then maybe WebSocket).
 * on_data: consume input from buf[0..len) (which may be modified); returns
 *   bytes consumed; the rest is kept for the next call. It may close c.
 * on_sweep: called about once a second with the loop's time in ms, for
 *   deadlines and heartbeats.
 * on_close: the connection is going away; free protocol state. Called once.
 * on_drain: optional; the write queue just became empty.
 */
typedef struct rt_conn_proto_s {
    size_t (*on_data)(rt_conn_t *c, char *buf, size_t len);
    void (*on_sweep)(rt_conn_t *c, uint64_t now_ms);
    void (*on_close)(rt_conn_t *c);
    void (*on_drain)(rt_conn_t *c);
    /* Graceful shutdown: ask the protocol to wind the connection down. */
    void (*on_shutdown)(rt_conn_t *c);
} rt_conn_proto_t;

/* Switches c to proto with state data (borrowed by the connection until
 * proto->on_close). */
void rt_conn_set_proto(rt_conn_t *c, const rt_conn_proto_t *proto, void *data);
void *rt_conn_data(rt_conn_t *c);
rt_worker_t *rt_conn_worker(rt_conn_t *c);

/* Queues bytes for the next flush. _copy copies; _rc takes a reference to the
 * block (data[off..off+len)); _owned takes ownership of p (freed with
 * rt_free()). No-ops once the connection is closing. Worker thread only. */
void rt_conn_write_copy(rt_conn_t *c, const void *p, size_t len);
void rt_conn_write_rc(rt_conn_t *c, rt_rc_t *rc, size_t off, size_t len);
void rt_conn_write_owned(rt_conn_t *c, void *p, size_t len);

/* Bytes queued and not yet accepted by the kernel. */
size_t rt_conn_queued_bytes(const rt_conn_t *c);

/* Closes after the queued output is written (or at once with now = 1). */
void rt_conn_close(rt_conn_t *c, int now);
int rt_conn_closing(const rt_conn_t *c);

/* Stops or resumes reading (backpressure). */
void rt_conn_pause(rt_conn_t *c, int paused);

/* "ip:port" of the peer into out. */
void rt_conn_peer(rt_conn_t *c, char *out, size_t outcap);

/* ==================================================================== HTTP */

/*
 * One request. Owned by the server until answered; every pointer in head
 * points into the request's own copy of the bytes, valid until the response
 * call. body is NUL-terminated.
 */
typedef struct rt_http_req_s {
    rt_http_request_t head;
    char *body;
    size_t body_len;
    rt_conn_t *conn;
    rt_worker_t *worker;
    uint64_t start_ns;
    const char *route; /* set by the router for metrics; static string */
    char *raw;         /* head bytes + body, owned */
} rt_http_req_t;

typedef void (*rt_http_handler_fn)(void *ctx, rt_http_req_t *req);

/* Answers req with status, content type, optional extra header lines (each
 * ending in "\r\n"), and body; frees req. Worker thread of req only. */
void rt_http_respond(rt_http_req_t *req, int status, const char *content_type,
                     const char *extra_headers, const char *body, size_t len);

/* Same with a JSON body; takes ownership of body (NULL: empty JSON object). */
void rt_http_respond_json(rt_http_req_t *req, int status, json_t *body);

/* The error shape of ARCHITECTURE §5: {"error":{"code","message","details"?}};
 * takes ownership of details (may be NULL). */
void rt_http_respond_error(rt_http_req_t *req, int status, const char *code, const char *message,
                           json_t *details);

/* Hands the connection of req over to proto after queueing response (the 101
 * head, copied); any bytes already received after the request are passed to
 * proto->on_data. Frees req. */
void rt_http_upgrade(rt_http_req_t *req, const char *response, size_t len,
                     const rt_conn_proto_t *proto, void *data);

/* ================================================================= server */

typedef struct {
    char host[256];
    int port;
    int workers;
    size_t max_body_bytes;
    size_t max_head_bytes;
    int header_timeout_ms;
    int idle_timeout_ms;
    int flush_pacing_max_ms; /* 0: every flush round runs at once */
    int io_uring;            /* batch large flush rounds through io_uring */
} rt_server_config_t;

void rt_server_config_defaults(rt_server_config_t *cfg);

/* Creates the server and binds every worker's listener (so that a busy port
 * fails here, in the caller's thread). Returns 0 and *out (caller frees with
 * rt_server_free()), or RT_EIO with a log line. */
int rt_server_new(const rt_server_config_t *cfg, rt_http_handler_fn handler, void *ctx,
                  rt_server_t **out);

/* Starts the worker threads. */
int rt_server_start(rt_server_t *s);

/* Graceful stop: stop accepting, let in-flight requests finish, ask every
 * connection to wind down, and join the workers (bounded by
 * RT_NET_SHUTDOWN_MS). Call from the main thread. */
void rt_server_stop(rt_server_t *s);
void rt_server_free(rt_server_t *s);

int rt_server_nworkers(const rt_server_t *s);
rt_worker_t *rt_server_worker(rt_server_t *s, int i);
const rt_server_config_t *rt_server_config(const rt_server_t *s);
/* The port actually bound (useful with port 0). */
int rt_server_port(const rt_server_t *s);

/* Called on each worker's thread right after its loop is set up and right
 * before it is torn down; used by subsystems that keep per-worker state. */
typedef void (*rt_worker_hook_fn)(void *ctx, rt_worker_t *w, int starting);
void rt_server_add_worker_hook(rt_server_t *s, rt_worker_hook_fn fn, void *ctx);

#endif
