/*
 * This file implements the server and its worker threads: one libuv loop per
 * worker, each with its own SO_REUSEPORT listener so the kernel spreads
 * connections, a cross-thread post queue drained by a uv_async, a uv_check
 * that flushes corked output once per loop turn, and the graceful stop.
 */
#include "net/net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void rt_server_config_defaults(rt_server_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->host, sizeof(cfg->host), "0.0.0.0");
    cfg->port = 8080;
    cfg->workers = 0;
    cfg->max_body_bytes = RT_HTTP_MAX_BODY_BYTES_DEFAULT;
    cfg->max_head_bytes = RT_HTTP_MAX_HEAD_BYTES;
    cfg->header_timeout_ms = RT_HTTP_HEADER_TIMEOUT_MS;
    cfg->idle_timeout_ms = RT_HTTP_IDLE_TIMEOUT_MS;
    cfg->flush_pacing_max_ms = RT_NET_FLUSH_PACE_MAX_MS_DEFAULT;
    cfg->io_uring = 1;
}

/* ================================================================== posts */

void rt_worker_post(rt_worker_t *w, rt_worker_fn fn, void *a, void *b)
{
    pthread_mutex_lock(&w->post_lock);
    if (w->nposts == w->capposts) {
        w->capposts = w->capposts ? w->capposts * 2 : 64;
        w->posts = rt_realloc(w->posts, w->capposts * sizeof(*w->posts));
    }
    w->posts[w->nposts++] = (post_t){fn, a, b};
    int closed = w->async_closed;
    pthread_mutex_unlock(&w->post_lock);
    /* Once the loop is winding down, posts wait for rt_server_free(). */
    if (!closed)
        uv_async_send(&w->async);
}

/* Runs every queued post; posts made meanwhile wait for the next wake-up. */
static void drain_posts(rt_worker_t *w)
{
    pthread_mutex_lock(&w->post_lock);
    post_t *batch = w->posts;
    size_t n = w->nposts;
    w->posts = NULL;
    w->nposts = w->capposts = 0;
    pthread_mutex_unlock(&w->post_lock);
    for (size_t i = 0; i < n; i++)
        batch[i].fn(w, batch[i].a, batch[i].b);
    rt_free(batch);
}

static void on_async(uv_async_t *h)
{
    drain_posts(h->data);
}

/*
 * Flush pacing. A flush round costs about one kernel send per dirty
 * connection, nearly whatever the bytes (11-17 us each over loopback on the
 * project's VM, docs/internals/server.md), so under a flood the cheapest
 * frames are those written later, together. A round that wrote to at least
 * RT_NET_FLUSH_PACE_MIN_CONNS connections and took r of wall time holds the
 * next one back until 2r after it ended (at most flush_pacing_max_ms): a
 * flooded worker then spends at most a third of its time writing and every
 * connection gets about three times the frames per write (S2 measured
 * 1.15M deliveries per server CPU-s unpaced, 1.9M with r, 2.4M with 2r).
 * Smaller rounds are never followed by a wait - the threshold counts work,
 * not wall time, so a small round on a busy machine is not mistaken for a
 * flood - and the added latency stays within a small multiple of what the
 * round's own length already cost.
 */
static void flush_round(rt_worker_t *w)
{
    uint64_t start = uv_hrtime();
    size_t conns = rt_net_flush_dirty(w);
    uint64_t end = uv_hrtime();
    uint64_t cap_ns = (uint64_t)w->server->cfg.flush_pacing_max_ms * 1000000u;
    if (conns < RT_NET_FLUSH_PACE_MIN_CONNS || cap_ns == 0)
        w->flush_not_before = 0;
    else
        w->flush_not_before = end + RT_MIN(2 * (end - start), cap_ns);
}

static void on_pace(uv_timer_t *h)
{
    flush_round(h->data);
}

static void flush_paced(rt_worker_t *w)
{
    if (w->dirty == NULL || uv_is_active((uv_handle_t *)&w->pace))
        return;
    uint64_t now = uv_hrtime();
    if (now >= w->flush_not_before) {
        flush_round(w);
        return;
    }
    uint64_t wait_ms = (w->flush_not_before - now + 999999u) / 1000000u;
    uv_timer_start(&w->pace, on_pace, wait_ms, 0);
}

static void on_check(uv_check_t *h)
{
    flush_paced(h->data);
}

/* Timers run before the loop polls, and the uv_check flush runs only after
 * the poll returns: flush here, or a heartbeat ping would wait out the poll. */
static void on_sweep(uv_timer_t *h)
{
    rt_net_sweep(h->data);
    flush_paced(h->data);
}

uv_loop_t *rt_worker_loop(rt_worker_t *w)
{
    return &w->loop;
}

int rt_worker_index(const rt_worker_t *w)
{
    return w->index;
}

rt_server_t *rt_worker_server(rt_worker_t *w)
{
    return w->server;
}

/* ============================================================== listening */

static void on_connection(uv_stream_t *srv, int status)
{
    rt_worker_t *w = srv->data;
    if (status < 0) {
        rt_log_warn("accept_failed", "worker=%d error=\"%s\"", w->index, uv_strerror(status));
        return;
    }
    rt_net_conn_accept(w);
}

/* libuv 1.44 has no SO_REUSEPORT flag, so the socket is made here and
 * adopted with uv_tcp_open(). */
static int listen_socket(const rt_server_config_t *cfg, int port, int *out_fd, int *out_port)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(cfg->host, portstr, &hints, &ai);
    if (rc != 0) {
        rt_log_error("listen_failed", "host=%s error=\"%s\"", cfg->host, gai_strerror(rc));
        return RT_EIO;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
        rt_log_error("listen_failed", "host=%s port=%d error=\"%s\"", cfg->host, port,
                     strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return RT_EIO;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *out_fd = fd;
    return 0;
}

/* ================================================================ workers */

static void worker_init(rt_server_t *s, rt_worker_t *w, int index)
{
    w->index = index;
    w->server = s;
    w->listen_fd = -1;
    pthread_mutex_init(&w->post_lock, NULL);
    uv_loop_init(&w->loop);
    uv_async_init(&w->loop, &w->async, on_async);
    w->async.data = w;
    uv_check_init(&w->loop, &w->check);
    w->check.data = w;
    uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    uv_timer_init(&w->loop, &w->pace);
    w->pace.data = w;
    w->readbuf = rt_malloc(RT_NET_READ_BUF_BYTES);
    rt_map_init(&w->metric_cache);
    char labels[32];
    snprintf(labels, sizeof(labels), "worker=\"%d\"", index);
    w->m_conns = rt_metric_get("rt_connections_open", labels, "gauge", "Open TCP connections");
}

/* Batched sends where the kernel allows io_uring; otherwise (seccomp,
 * io_uring_disabled, an old kernel) every connection is written directly,
 * which is correct, only slower for large fan-outs. Said once, by worker 0. */
static void uring_start(rt_worker_t *w)
{
    int rc = rt_net_uring_new(&w->uring);
    if (w->index != 0)
        return;
    if (rc == 0)
        rt_log_info("io_uring", "state=on entries=%d", RT_NET_URING_ENTRIES);
    else
        rt_log_warn("io_uring", "state=unavailable error=\"%s\" fallback=writev", strerror(-rc));
}

static void *worker_main(void *arg)
{
    rt_worker_t *w = arg;
    rt_server_t *s = w->server;
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    uv_tcp_open(&w->listener, w->listen_fd);
    uv_listen((uv_stream_t *)&w->listener, 4096, on_connection);
    uv_check_start(&w->check, on_check);
    uv_timer_start(&w->sweep, on_sweep, RT_NET_SWEEP_MS, RT_NET_SWEEP_MS);
    if (s->cfg.io_uring)
        uring_start(w);
    for (int i = 0; i < s->nhooks; i++)
        s->hooks[i].fn(s->hooks[i].ctx, w, 1);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < s->nhooks; i++)
        s->hooks[i].fn(s->hooks[i].ctx, w, 0);
    return NULL;
}

int rt_server_new(const rt_server_config_t *cfg, rt_http_handler_fn handler, void *ctx,
                  rt_server_t **out)
{
    rt_server_t *s = rt_calloc(1, sizeof(*s));
    s->cfg = *cfg;
    s->handler = handler;
    s->handler_ctx = ctx;
    s->nworkers = cfg->workers > 0 ? cfg->workers : 1;
    s->workers = rt_calloc((size_t)s->nworkers, sizeof(*s->workers));
    int port = cfg->port;
    for (int i = 0; i < s->nworkers; i++) {
        worker_init(s, &s->workers[i], i);
        /* The first bind picks the port (it may be 0); the rest share it. */
        if (listen_socket(cfg, port, &s->workers[i].listen_fd, &port) != 0) {
            rt_server_free(s);
            return RT_EIO;
        }
    }
    s->port = port;
    *out = s;
    return 0;
}

int rt_server_start(rt_server_t *s)
{
    for (int i = 0; i < s->nworkers; i++) {
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0)
            return RT_EIO;
    }
    atomic_store(&s->started, 1);
    return 0;
}

static void close_cb_noop(uv_handle_t *h)
{
    (void)h;
}

/* Runs on the worker: stop accepting and ask every connection to wind down. */
static void begin_stop(rt_worker_t *w, void *a, void *b)
{
    (void)a;
    (void)b;
    w->stopping = 1;
    uv_close((uv_handle_t *)&w->listener, close_cb_noop);
    for (rt_conn_t *c = w->conns; c; c = c->next) {
        if (c->proto && c->proto->on_shutdown)
            c->proto->on_shutdown(c);
    }
}

/* Runs on the worker once the grace period is over: close what is left and
 * let the loop end. */
static void finish_stop(rt_worker_t *w, void *a, void *b)
{
    (void)a;
    (void)b;
    rt_conn_t *next;
    for (rt_conn_t *c = w->conns; c; c = next) {
        next = c->next;
        rt_conn_close(c, 1);
    }
    uv_timer_stop(&w->sweep);
    uv_close((uv_handle_t *)&w->sweep, close_cb_noop);
    uv_timer_stop(&w->pace);
    uv_close((uv_handle_t *)&w->pace, close_cb_noop);
    uv_check_stop(&w->check);
    uv_close((uv_handle_t *)&w->check, close_cb_noop);
    pthread_mutex_lock(&w->post_lock);
    w->async_closed = 1;
    pthread_mutex_unlock(&w->post_lock);
    uv_close((uv_handle_t *)&w->async, close_cb_noop);
}

static int worker_busy(rt_worker_t *w)
{
    return w->conns != NULL;
}

void rt_server_stop(rt_server_t *s)
{
    if (!atomic_load(&s->started))
        return;
    for (int i = 0; i < s->nworkers; i++)
        rt_worker_post(&s->workers[i], begin_stop, NULL, NULL);
    /* Give connections the grace period to finish; workers whose connections
     * are all gone are done early. The list is read racily, which is fine for
     * a "maybe done" poll: finish_stop closes whatever is left anyway. */
    uint64_t deadline = rt_mono_ns() + (uint64_t)RT_NET_SHUTDOWN_MS * 1000000u;
    while (rt_mono_ns() < deadline) {
        int busy = 0;
        for (int i = 0; i < s->nworkers; i++)
            busy |= worker_busy(&s->workers[i]);
        if (!busy)
            break;
        usleep(20 * 1000);
    }
    for (int i = 0; i < s->nworkers; i++)
        rt_worker_post(&s->workers[i], finish_stop, NULL, NULL);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i].thread, NULL);
    atomic_store(&s->started, 0);
}

void rt_server_free(rt_server_t *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->nworkers; i++) {
        rt_worker_t *w = &s->workers[i];
        /* Posts that arrived after the loop ended still own their arguments. */
        drain_posts(w);
        if (w->listen_fd >= 0 && !uv_is_closing((uv_handle_t *)&w->listener) &&
            w->listener.loop == NULL)
            close(w->listen_fd);
        if (!uv_is_closing((uv_handle_t *)&w->async)) {
            uv_close((uv_handle_t *)&w->async, close_cb_noop);
            uv_close((uv_handle_t *)&w->check, close_cb_noop);
            uv_close((uv_handle_t *)&w->sweep, close_cb_noop);
            uv_close((uv_handle_t *)&w->pace, close_cb_noop);
        }
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        rt_net_uring_free(w->uring);
        pthread_mutex_destroy(&w->post_lock);
        rt_free(w->posts);
        rt_free(w->readbuf);
        rt_map_close(&w->metric_cache);
    }
    rt_free(s->workers);
    rt_free(s);
}

int rt_server_nworkers(const rt_server_t *s)
{
    return s->nworkers;
}

rt_worker_t *rt_server_worker(rt_server_t *s, int i)
{
    return &s->workers[i];
}

const rt_server_config_t *rt_server_config(const rt_server_t *s)
{
    return &s->cfg;
}

int rt_server_port(const rt_server_t *s)
{
    return s->port;
}

void rt_server_add_worker_hook(rt_server_t *s, rt_worker_hook_fn fn, void *ctx)
{
    rt_assert(s->nhooks < (int)RT_ARRAY_LEN(s->hooks));
    s->hooks[s->nhooks++] = (worker_hook_t){fn, ctx};
}
