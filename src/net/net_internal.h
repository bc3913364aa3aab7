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
typedef struct rt_net_uring_s rt_net_uring_t;

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
    unsigned batched : 1; /* a send is queued on the worker's io_uring */
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
    rt_conn_t *conns;      /* every open connection */
    rt_conn_t *dirty;      /* connections with output to flush */
    rt_net_uring_t *uring; /* batched sends; NULL: one writev per connection */
    char *readbuf;         /* shared read buffer, RT_NET_READ_BUF_BYTES */
    int readbuf_busy;      /* the shared buffer is lent to a read */
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

/* net_uring.c - one io_uring submission for many connections' writes. */
#define RT_NET_URING_ENTRIES   64 /* sends per submission (S1L: best of 32-4096) */
#define RT_NET_URING_IOV       8  /* queued items sent per connection and batch */
#define RT_NET_URING_MIN_CONNS 8  /* smaller flush rounds write directly */

/* Called once per queued send with its tag and the send's result (bytes
 * written, or a negative errno: -EAGAIN when the socket is full). */
typedef void (*rt_net_uring_done_fn)(void *tag, int res);
/* Makes the calling worker's ring; returns a negative errno where io_uring
 * is unavailable (old kernel, seccomp, io_uring_disabled). Caller frees with
 * rt_net_uring_free(). */
int rt_net_uring_new(rt_net_uring_t **out);
void rt_net_uring_free(rt_net_uring_t *u);
/* Whether RT_NET_URING_ENTRIES sends are queued (run before queueing more). */
int rt_net_uring_full(const rt_net_uring_t *u);
/* Queues a non-blocking sendmsg of the first RT_NET_URING_IOV of bufs[0..n)
 * on fd. The buffers are borrowed until rt_net_uring_run returns; the uv_buf_t
 * array itself is copied. */
void rt_net_uring_send(rt_net_uring_t *u, int fd, const uv_buf_t *bufs, unsigned n, void *tag);
/* Sends everything queued in one submission and returns once every send has
 * completed, after calling done for each (in completion order). */
void rt_net_uring_run(rt_net_uring_t *u, rt_net_uring_done_fn done);

/* net_http.c */
extern const rt_conn_proto_t rt_net_http_proto;
void *rt_net_http_state_new(rt_conn_t *c);

#endif
