/*
 * This file implements connections: accept, the read path (a per-worker
 * shared read buffer, so idle connections hold no read memory), the corked
 * write path (output queued during a loop turn goes out in one writev from
 * the worker's uv_check), backpressure, the deadline sweep and close.
 */
#include "net/net_internal.h"

#include <string.h>

static void conn_release_items(out_item_t *items, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        rt_rc_release(items[i].rc);
        rt_free(items[i].owned);
    }
}

static void on_closed(uv_handle_t *h)
{
    rt_conn_t *c = h->data;
    rt_worker_t *w = c->worker;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->proto && c->proto->on_close)
        c->proto->on_close(c);
    /* A uv_write in flight was cancelled before this callback; its items are
     * released here together with the unsent ones. */
    conn_release_items(c->out, c->out_len);
    rt_free(c->out);
    rt_buf_close(&c->in);
    rt_metric_add(w->m_conns, -1);
    rt_free(c);
}

void rt_conn_close(rt_conn_t *c, int now)
{
    if (c->closing)
        return;
    if (!now && c->out_len > c->out_head) {
        c->close_after_flush = 1;
        return;
    }
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

int rt_conn_closing(const rt_conn_t *c)
{
    return c->closing || c->close_after_flush;
}

/* =================================================================== read */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    rt_conn_t *c = h->data;
    rt_worker_t *w = c->worker;
    /* libuv reads one connection at a time per loop, so one buffer serves
     * every connection of the worker. */
    rt_assert(!w->readbuf_busy);
    w->readbuf_busy = 1;
    *buf = uv_buf_init(w->readbuf, RT_NET_READ_BUF_BYTES);
}

/* Feeds data to the protocol until it stops consuming; keeps the rest. */
static void deliver(rt_conn_t *c, char *data, size_t len, int from_shared)
{
    size_t off = 0;
    c->in_deliver = 1;
    while (off < len && !c->closing && !c->paused) {
        size_t used = c->proto->on_data(c, data + off, len - off);
        if (used == 0)
            break;
        off += used;
    }
    c->in_deliver = 0;
    if (c->closing)
        return;
    if (from_shared) {
        if (off < len)
            rt_buf_append(&c->in, data + off, len - off);
    } else if (off == c->in.len) {
        rt_buf_close(&c->in); /* idle connections keep no read storage */
    } else if (off > 0) {
        rt_buf_consume(&c->in, off);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    rt_conn_t *c = s->data;
    rt_worker_t *w = c->worker;
    (void)buf;
    if (nread < 0) {
        w->readbuf_busy = 0;
        rt_conn_close(c, 1);
        return;
    }
    if (nread == 0 || c->closing) {
        w->readbuf_busy = 0;
        return;
    }
    if (c->in.len == 0) {
        deliver(c, w->readbuf, (size_t)nread, 1);
        w->readbuf_busy = 0;
        return;
    }
    rt_buf_append(&c->in, w->readbuf, (size_t)nread);
    w->readbuf_busy = 0;
    deliver(c, c->in.data, c->in.len, 0);
}

void rt_conn_pause(rt_conn_t *c, int paused)
{
    if (c->closing)
        return;
    c->paused = paused ? 1 : 0;
    if (paused && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    } else if (!paused) {
        /* Bytes that arrived while paused are processed first, unless we are
         * already inside deliver(), whose loop goes on by itself. */
        if (c->in.len > 0 && !c->in_deliver)
            deliver(c, c->in.data, c->in.len, 0);
        if (!c->closing && !c->paused && !c->reading) {
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
            c->reading = 1;
        }
    }
}

static void free_unaccepted(uv_handle_t *h)
{
    rt_free(h->data);
}

void rt_net_conn_accept(rt_worker_t *w)
{
    rt_conn_t *c = rt_calloc(1, sizeof(*c));
    c->worker = w;
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, free_unaccepted);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    rt_metric_add(w->m_conns, 1);
    c->proto = &rt_net_http_proto;
    c->data = rt_net_http_state_new(c);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->reading = 1;
}

/* ================================================================== write */

static void mark_dirty(rt_conn_t *c)
{
    if (c->dirty)
        return;
    c->dirty = 1;
    c->dirty_next = c->worker->dirty;
    c->worker->dirty = c;
}

static void push(rt_conn_t *c, out_item_t item)
{
    if (c->out_len == c->out_cap) {
        c->out_cap = c->out_cap ? c->out_cap * 2 : 4;
        c->out = rt_realloc(c->out, c->out_cap * sizeof(*c->out));
    }
    c->out[c->out_len++] = item;
    c->queued_bytes += item.buf.len;
    mark_dirty(c);
}

void rt_conn_write_copy(rt_conn_t *c, const void *p, size_t len)
{
    if (c->closing || len == 0)
        return;
    void *copy = rt_malloc(len);
    memcpy(copy, p, len);
    push(c, (out_item_t){uv_buf_init(copy, (unsigned)len), NULL, copy});
}

void rt_conn_write_rc(rt_conn_t *c, rt_rc_t *rc, size_t off, size_t len)
{
    if (c->closing || len == 0)
        return;
    rt_assert(off + len <= rc->len);
    /* A connection whose kernel buffer is full (a write waits for POLLOUT)
     * may stay stuck for long. The fan-out's blocks are pages shared by many
     * frames of many topics, so referencing one would pin 64 KiB for a few
     * hundred bytes: copy instead, and such a connection holds exactly its
     * own queued bytes, which the gateway bounds. */
    if (c->writing) {
        rt_conn_write_copy(c, rc->data + off, len);
        return;
    }
    /* The fan-out puts successive frames side by side in one block: extend
     * the last queued run instead of adding an item (and a reference). Items
     * before out_head are in a write already and must not change. */
    if (c->out_len > c->out_head) {
        out_item_t *last = &c->out[c->out_len - 1];
        if (last->rc == rc && last->buf.base + last->buf.len == rc->data + off &&
            (size_t)last->buf.len + len <= UINT32_MAX) {
            last->buf.len += (unsigned)len;
            c->queued_bytes += len;
            mark_dirty(c);
            return;
        }
    }
    push(c, (out_item_t){uv_buf_init(rc->data + off, (unsigned)len), rt_rc_retain(rc), NULL});
}

void rt_conn_write_owned(rt_conn_t *c, void *p, size_t len)
{
    if (c->closing || len == 0) {
        rt_free(p);
        return;
    }
    push(c, (out_item_t){uv_buf_init(p, (unsigned)len), NULL, p});
}

size_t rt_conn_queued_bytes(const rt_conn_t *c)
{
    return c->queued_bytes;
}

/* Drops the first n items (written), shifting the rest down. */
static void drop_written(rt_conn_t *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        c->queued_bytes -= c->out[i].buf.len;
    conn_release_items(c->out, n);
    memmove(c->out, c->out + n, (c->out_len - n) * sizeof(*c->out));
    c->out_len -= n;
    c->out_head = c->out_head > n ? c->out_head - n : 0;
}

static void flush(rt_conn_t *c);

static void on_written(uv_write_t *req, int status)
{
    rt_conn_t *c = req->data;
    rt_free(req);
    if (status == UV_ECANCELED)
        return; /* the connection is closing; on_closed releases the items */
    c->writing = 0;
    drop_written(c, c->writing_n);
    c->writing_n = 0;
    if (status < 0) {
        rt_conn_close(c, 1);
        return;
    }
    flush(c);
}

/* Advances a partially written item by n bytes (after uv_try_write). */
static void advance(rt_conn_t *c, size_t n)
{
    uint32_t done = 0;
    while (done < c->out_len && n >= c->out[done].buf.len) {
        n -= c->out[done].buf.len;
        done++;
    }
    drop_written(c, done);
    if (n > 0) {
        c->out[0].buf.base += n;
        c->out[0].buf.len -= n;
        c->queued_bytes -= n;
    }
}

#define MAX_IOV 256

static void flush_wrote(rt_conn_t *c, int wrote);

static void flush(rt_conn_t *c)
{
    if (c->closing || c->writing || c->batched || c->out_len == 0) {
        flush_wrote(c, 0);
        return;
    }
    uv_buf_t iov[MAX_IOV];
    uint32_t n = RT_MIN(c->out_len, MAX_IOV);
    for (uint32_t i = 0; i < n; i++)
        iov[i] = c->out[i].buf;
    flush_wrote(c, uv_try_write((uv_stream_t *)&c->tcp, iov, n));
}

/* Goes on after a write attempt that returned `wrote` (bytes, or a negative
 * uv error; UV_EAGAIN when the kernel buffer is full): drops what went out,
 * hands the rest to libuv to wait for POLLOUT, or tells the protocol the
 * queue drained. */
static void flush_wrote(rt_conn_t *c, int wrote)
{
    if (c->closing || c->writing || c->batched)
        return;
    if (wrote < 0 && wrote != UV_EAGAIN) {
        rt_conn_close(c, 1);
        return;
    }
    if (wrote > 0)
        advance(c, (size_t)wrote);
    if (c->out_len == 0)
        goto done;
    uv_buf_t iov[MAX_IOV];
    uint32_t n = RT_MIN(c->out_len, MAX_IOV);
    for (uint32_t i = 0; i < n; i++)
        iov[i] = c->out[i].buf;
    uv_write_t *req = rt_malloc(sizeof(*req));
    req->data = c;
    if (uv_write(req, (uv_stream_t *)&c->tcp, iov, n, on_written) != 0) {
        rt_free(req);
        rt_conn_close(c, 1);
        return;
    }
    c->writing = 1;
    c->writing_n = n;
    c->out_head = n;
    return;
done:
    if (c->close_after_flush) {
        c->close_after_flush = 0;
        rt_conn_close(c, 1);
    } else if (c->proto && c->proto->on_drain) {
        c->proto->on_drain(c);
    }
}

static void batch_done(void *tag, int res)
{
    rt_conn_t *c = tag;
    c->batched = 0;
    flush_wrote(c, res); /* a negative errno is the uv error on Unix */
}

static int longer_than(const rt_conn_t *c, int n)
{
    for (; c != NULL && n >= 0; c = c->dirty_next)
        n--;
    return n < 0;
}

/*
 * One flush round. A round with many connections to write (a fan-out) goes
 * through the worker's io_uring in batches. The connections it cannot batch
 * (nothing queued, a write already waiting for POLLOUT) are flushed after
 * the batch: their on_drain callbacks may close connections, which must not
 * happen between queueing a send and submitting it. They stay marked dirty
 * meanwhile, so a callback during the batch cannot relink them.
 */
static size_t flush_list(rt_worker_t *w, rt_conn_t *list)
{
    size_t n = 0;
    int batch = w->uring != NULL && longer_than(list, RT_NET_URING_MIN_CONNS);
    rt_conn_t *later = NULL;
    while (list) {
        rt_conn_t *c = list;
        list = c->dirty_next;
        if (c->closing) {
            c->dirty = 0;
            c->dirty_next = NULL;
            continue;
        }
        n++;
        if (!batch || c->writing || c->out_len == 0) {
            c->dirty_next = later;
            later = c;
            continue;
        }
        c->dirty = 0;
        c->dirty_next = NULL;
        if (rt_net_uring_full(w->uring))
            rt_net_uring_run(w->uring, batch_done);
        uv_buf_t iov[RT_NET_URING_IOV];
        uint32_t k = RT_MIN(c->out_len, RT_NET_URING_IOV);
        for (uint32_t i = 0; i < k; i++)
            iov[i] = c->out[i].buf;
        uv_os_fd_t fd;
        uv_fileno((uv_handle_t *)&c->tcp, &fd);
        rt_net_uring_send(w->uring, fd, iov, k, c);
        c->batched = 1;
    }
    if (batch)
        rt_net_uring_run(w->uring, batch_done);
    while (later) {
        rt_conn_t *c = later;
        later = c->dirty_next;
        c->dirty = 0;
        c->dirty_next = NULL;
        flush(c);
    }
    return n;
}

size_t rt_net_flush_dirty(rt_worker_t *w)
{
    size_t n = 0;
    /* Flushing may queue more output (on_drain): such connections form a new
     * list, flushed in the same round. */
    while (w->dirty) {
        rt_conn_t *list = w->dirty;
        w->dirty = NULL;
        n += flush_list(w, list);
    }
    return n;
}

/* ================================================================== misc */

void rt_net_sweep(rt_worker_t *w)
{
    uint64_t now = uv_now(&w->loop);
    rt_conn_t *next;
    for (rt_conn_t *c = w->conns; c; c = next) {
        next = c->next;
        if (!c->closing && c->proto && c->proto->on_sweep)
            c->proto->on_sweep(c, now);
    }
}

void rt_conn_set_proto(rt_conn_t *c, const rt_conn_proto_t *proto, void *data)
{
    c->proto = proto;
    c->data = data;
}

void *rt_conn_data(rt_conn_t *c)
{
    return c->data;
}

rt_worker_t *rt_conn_worker(rt_conn_t *c)
{
    return c->worker;
}

void rt_conn_peer(rt_conn_t *c, char *out, size_t outcap)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[64] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(out, outcap, "%s:%d", ip, port);
}
