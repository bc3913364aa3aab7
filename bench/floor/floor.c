/*
 * floor.c - the least a WebSocket fan-out server can do per delivery, as a
 * yardstick for S1L on a given machine: no protocol beyond the RFC 6455
 * handshake and frame header, no auth, no storage, no queues. A message a
 * publisher sends on /pub is framed once and written to every subscriber,
 * either with one write() per subscriber or with io_uring sends in batches.
 * Speaks wsbench's ws-raw adapter (subscribers on /sub, publisher on /pub).
 * A benchmark instrument only: it trusts its input and is never shipped.
 *
 *   floor PORT THREADS write|uring [BATCH]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_THREADS 8
#define MAX_FRAME   4096
#define WS_GUID     "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 §1.3 */

typedef struct {
    int fd;
    int upgraded, publisher;
    char buf[MAX_FRAME + 64];
    int len;
} conn_t;

typedef struct {
    int id, ep, listen_fd, pipe_r, pipe_w;
    int *subs, nsubs, cap;
    struct io_uring ring;
} worker_t;

static worker_t workers[MAX_THREADS];
static int nthreads, use_uring, batch = 64; /* the server's RT_NET_URING_ENTRIES */

static void fanout(worker_t *w, const unsigned char *f, int n)
{
    if (!use_uring) {
        for (int i = 0; i < w->nsubs; i++)
            if (write(w->subs[i], f, n) < 0 && errno != EAGAIN)
                perror("write");
        return;
    }
    for (int i = 0; i < w->nsubs;) {
        int q = 0;
        for (; i < w->nsubs && q < batch; i++, q++)
            io_uring_prep_send(io_uring_get_sqe(&w->ring), w->subs[i], f, n, MSG_DONTWAIT);
        io_uring_submit_and_wait(&w->ring, q);
        io_uring_cq_advance(&w->ring, q);
    }
}

static void handshake(worker_t *w, conn_t *c)
{
    char *k = strcasestr(c->buf, "Sec-WebSocket-Key:");
    if (k == NULL)
        return;
    k += strlen("Sec-WebSocket-Key:");
    while (*k == ' ')
        k++;
    char key[128];
    int n = 0;
    while (k[n] && k[n] != '\r' && n < 60) {
        key[n] = k[n];
        n++;
    }
    memcpy(key + n, WS_GUID, sizeof(WS_GUID));
    unsigned char sha[SHA_DIGEST_LENGTH], b64[64];
    SHA1((unsigned char *)key, strlen(key), sha);
    EVP_EncodeBlock(b64, sha, SHA_DIGEST_LENGTH);
    char out[256];
    n = snprintf(out, sizeof(out),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 b64);
    if (write(c->fd, out, n) != n)
        perror("handshake");
    c->upgraded = 1;
    c->publisher = strncmp(c->buf, "GET /pub", 8) == 0;
    c->len = 0;
    if (c->publisher)
        return;
    if (w->nsubs == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 1024;
        w->subs = realloc(w->subs, w->cap * sizeof(*w->subs));
    }
    w->subs[w->nsubs++] = c->fd;
}

/* A publisher's text frame (masked, RFC 6455 §5.3) becomes one unmasked
 * server frame, handed to the other workers through their pipes (a write of
 * at most PIPE_BUF bytes is atomic) and written to this worker's subscribers. */
static void on_frames(worker_t *w, conn_t *c)
{
    for (;;) {
        unsigned char *p = (unsigned char *)c->buf;
        if (c->len < 2)
            return;
        int hl = 2, len = p[1] & 127;
        if (len == 126) {
            if (c->len < 4)
                return;
            len = p[2] << 8 | p[3];
            hl = 4;
        }
        hl += 4; /* client frames are masked */
        if (len > MAX_FRAME - 8 || c->len < hl + len)
            return;
        unsigned char frame[MAX_FRAME + 4];
        int fl = 4;
        frame[fl++] = 0x81;
        if (len < 126) {
            frame[fl++] = (unsigned char)len;
        } else {
            frame[fl++] = 126;
            frame[fl++] = (unsigned char)(len >> 8);
            frame[fl++] = (unsigned char)len;
        }
        for (int i = 0; i < len; i++)
            frame[fl++] = p[hl + i] ^ p[hl - 4 + (i & 3)];
        if ((p[0] & 15) == 1 && c->publisher) {
            int n = fl - 4;
            memcpy(frame, &n, 4);
            for (int t = 0; t < nthreads; t++)
                if (t != w->id && write(workers[t].pipe_w, frame, fl) != fl)
                    perror("pipe");
            fanout(w, frame + 4, n);
        }
        memmove(c->buf, c->buf + hl + len, c->len - hl - len);
        c->len -= hl + len;
    }
}

static void on_pipe(worker_t *w)
{
    unsigned char frame[MAX_FRAME];
    int n;
    if (read(w->pipe_r, &n, 4) == 4 && read(w->pipe_r, frame, n) == n)
        fanout(w, frame, n);
}

static void on_accept(worker_t *w)
{
    int fd;
    while ((fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_t *c = calloc(1, sizeof(*c));
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

static void on_read(worker_t *w, conn_t *c)
{
    int n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
    if (n <= 0) {
        if (n == 0 || errno != EAGAIN) {
            close(c->fd); /* subscribers leave only at the end of a run */
            free(c);
        }
        return;
    }
    c->len += n;
    c->buf[c->len] = 0;
    if (!c->upgraded && strstr(c->buf, "\r\n\r\n"))
        handshake(w, c);
    else if (c->upgraded)
        on_frames(w, c);
}

static void *run(void *arg)
{
    worker_t *w = arg;
    if (use_uring && io_uring_queue_init(batch, &w->ring, 0) < 0) {
        fprintf(stderr, "floor: io_uring unavailable\n");
        exit(1);
    }
    struct epoll_event ev[256];
    for (;;) {
        int n = epoll_wait(w->ep, ev, 256, -1);
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &w->listen_fd)
                on_accept(w);
            else if (ev[i].data.ptr == &w->pipe_r)
                on_pipe(w);
            else
                on_read(w, ev[i].data.ptr);
        }
    }
    return NULL;
}

static int start(worker_t *w, int id, int port)
{
    int one = 1, p[2];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    w->id = id;
    w->ep = epoll_create1(0);
    w->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(w->listen_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(w->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(w->listen_fd, 4096) != 0 || pipe(p) != 0)
        return -1;
    w->pipe_r = p[0];
    w->pipe_w = p[1];
    struct epoll_event l = {.events = EPOLLIN, .data.ptr = &w->listen_fd};
    struct epoll_event q = {.events = EPOLLIN, .data.ptr = &w->pipe_r};
    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->listen_fd, &l);
    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->pipe_r, &q);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[3], "write") != 0 && strcmp(argv[3], "uring") != 0)) {
        fprintf(stderr, "usage: floor PORT THREADS write|uring [BATCH]\n");
        return 2;
    }
    int port = (int)strtol(argv[1], NULL, 10);
    nthreads = (int)strtol(argv[2], NULL, 10);
    use_uring = strcmp(argv[3], "uring") == 0;
    if (argc > 4)
        batch = (int)strtol(argv[4], NULL, 10);
    if (nthreads < 1 || nthreads > MAX_THREADS || batch < 1)
        return 2;
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        if (start(&workers[i], i, port) != 0) {
            perror("floor: listen");
            return 1;
        }
    }
    for (int i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, run, &workers[i]);
    pthread_join(th[0], NULL);
    return 0;
}
