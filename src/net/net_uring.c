/*
 * This file implements batched sends: a flush round that writes to many
 * connections (one event fanned out to thousands of subscribers) queues one
 * sendmsg per connection on the worker's io_uring and enters the kernel once
 * per RT_NET_URING_ENTRIES sends instead of once per connection.
 *
 * Every send carries MSG_DONTWAIT, so io_uring runs it inline during the
 * submit and never parks it: a full socket completes with -EAGAIN, exactly
 * like a non-blocking writev, and rt_net_uring_run returns only once every
 * queued send has completed. The iovecs are therefore copied into the slot
 * and the connection's queue is stable for the whole call (the worker does
 * nothing else meanwhile).
 *
 * The saved system calls are the smaller part of the gain. A loop of
 * write() calls returns to user space after each one, where a reader woken by
 * the previous write (a local client, a sidecar) preempts the worker; on the
 * project's VM batches cut the worker's context switches five-fold and server
 * CPU per delivery by a third (S1L, docs/internals/server.md). Bigger batches were
 * slower again: RT_NET_URING_ENTRIES is the measured sweet spot.
 */
#include "net/net_internal.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
    struct msghdr msg;
    struct iovec iov[RT_NET_URING_IOV];
} slot_t;

struct rt_net_uring_s {
    struct io_uring ring;
    slot_t *slots;  /* RT_NET_URING_ENTRIES, one per queued send */
    void **tags;    /* the caller's tag of each queued send */
    unsigned count; /* sends queued since the last run */
};

int rt_net_uring_new(rt_net_uring_t **out)
{
    rt_net_uring_t *u = rt_calloc(1, sizeof(*u));
    int rc = io_uring_queue_init(RT_NET_URING_ENTRIES, &u->ring, IORING_SETUP_SUBMIT_ALL);
    if (rc < 0) {
        rt_free(u);
        return rc;
    }
    u->slots = rt_malloc(RT_NET_URING_ENTRIES * sizeof(*u->slots));
    u->tags = rt_malloc(RT_NET_URING_ENTRIES * sizeof(*u->tags));
    *out = u;
    return 0;
}

void rt_net_uring_free(rt_net_uring_t *u)
{
    if (u == NULL)
        return;
    io_uring_queue_exit(&u->ring);
    rt_free(u->slots);
    rt_free(u->tags);
    rt_free(u);
}

int rt_net_uring_full(const rt_net_uring_t *u)
{
    return u->count == RT_NET_URING_ENTRIES;
}

void rt_net_uring_send(rt_net_uring_t *u, int fd, const uv_buf_t *bufs, unsigned n, void *tag)
{
    rt_assert(u->count < RT_NET_URING_ENTRIES && n > 0);
    n = RT_MIN(n, RT_NET_URING_IOV);
    slot_t *s = &u->slots[u->count];
    for (unsigned i = 0; i < n; i++)
        s->iov[i] = (struct iovec){bufs[i].base, bufs[i].len};
    memset(&s->msg, 0, sizeof(s->msg));
    s->msg.msg_iov = s->iov;
    s->msg.msg_iovlen = n;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    rt_assert(sqe != NULL); /* the ring has RT_NET_URING_ENTRIES entries */
    io_uring_prep_sendmsg(sqe, fd, &s->msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, u->count);
    u->tags[u->count++] = tag;
}

/* The ring is private to this worker and every send is queued correctly, so
 * the kernel refusing a submission is a broken invariant, not load. */
static void ring_failed(int rc)
{
    rt_log_error("io_uring_failed", "error=\"%s\"", strerror(-rc));
    abort();
}

void rt_net_uring_run(rt_net_uring_t *u, rt_net_uring_done_fn done)
{
    unsigned want = u->count, submitted = 0, got = 0;
    /* Submit everything, then collect every completion: nothing queued may
     * outlive this call, since the slots are reused by the next batch. The
     * sends ran inline, so the completions are already in the ring and
     * waiting for them costs no system call. */
    while (submitted < want) {
        int rc = io_uring_submit(&u->ring);
        if (rc == -EINTR)
            continue;
        if (rc <= 0)
            ring_failed(rc < 0 ? rc : -EIO);
        submitted += (unsigned)rc;
    }
    while (got < want) {
        struct io_uring_cqe *cqe;
        int rc = io_uring_wait_cqe(&u->ring, &cqe);
        if (rc == -EINTR)
            continue;
        if (rc < 0)
            ring_failed(rc);
        uint64_t i = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&u->ring, cqe);
        got++;
        done(u->tags[i], res);
    }
    u->count = 0;
}
