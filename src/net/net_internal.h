/*
 * net_internal.h - private to src/net: the worker, connection and server
 * structures shared by net_worker.c, net_conn.c and net_http.c.
 */
#ifndef RT_NET_INTERNAL_H
#define RT_NET_INTERNAL_H

#include <pthread.h>

#include "net/net.h"

/* One queued output chunk: either a reference into a shared block or owned
 * memory. */
typedef struct {
    uv_buf_t buf;
    rt_rc_t *rc; /* non-NULL: reference released once written */
    void *owned; /* non-NULL: freed once written */
} out_item_t;

typedef struct post_s {
    rt_worker_fn fn;
    void *a, *b;
} post_t;

/*
 * A connection. Invariants: `in` holds only bytes not yet consumed by the
 * protocol and has no storage while empty (idle connections stay small);
 * `out` items [out_head, out_len) are not yet written; while `writing`, a
 * uv_write owns the items [0, out_head).
 */
struct rt_conn_s {
    uv_tcp_t tcp;
    rt_worker_t *worker;
    const rt_conn_proto_t *proto;
    void *data;
    rt_conn_t *prev, *next; /* the worker's connection list */
    rt_conn_t *dirty_next;  /* the worker's flush list */
    rt_buf_t in;
    out_item_t *out;
    uint32_t out_len, out_cap, out_head, writing_n;
    size_t queued_bytes;
    unsigned dirty : 1;
    unsigned writing : 1;
    unsigned closing : 1;
    unsigned close_after_flush : 1;
    unsigned paused : 1;
    unsigned reading : 1;
    unsigned in_deliver : 1;
};

struct rt_worker_s {
    int index;
    rt_server_t *server;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t async;
    uv_check_t check;
    uv_timer_t sweep;
    uv_timer_t pace;           /* runs a flush round held back by pacing */
    uint64_t flush_not_before; /* uv_hrtime() ns; 0 = flush at once */
    pthread_t thread;
    pthread_mutex_t post_lock; /* guards posts */
    post_t *posts;
    size_t nposts, capposts;
    rt_conn_t *conns; /* every open connection */
    rt_conn_t *dirty; /* connections with output to flush */
    char *readbuf;    /* shared read buffer, RT_NET_READ_BUF_BYTES */
    int readbuf_busy; /* the shared buffer is lent to a read */
    int stopping;
    int async_closed; /* guarded by post_lock */
    int listen_fd;
    rt_metric_t *m_conns;
    rt_map_t metric_cache; /* label set -> series, this worker's thread only */
};

typedef struct {
    rt_worker_hook_fn fn;
    void *ctx;
} worker_hook_t;

struct rt_server_s {
    rt_server_config_t cfg;
    rt_http_handler_fn handler;
    void *handler_ctx;
    int port;
    rt_worker_t *workers;
    int nworkers;
    worker_hook_t hooks[8];
    int nhooks;
    atomic_int started;
};

/* net_conn.c */
void rt_net_conn_accept(rt_worker_t *w);
/* Flushes every dirty connection; returns how many it wrote to. */
size_t rt_net_flush_dirty(rt_worker_t *w);
void rt_net_sweep(rt_worker_t *w);

/* net_http.c */
extern const rt_conn_proto_t rt_net_http_proto;
void *rt_net_http_state_new(rt_conn_t *c);

#endif
