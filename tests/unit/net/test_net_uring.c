/* Unit tests of the batched sends (src/net/net_uring.c) over socket pairs. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_internal.h"

#define PAIRS (RT_NET_URING_ENTRIES * 2 + 5) /* more than two full batches */

typedef struct {
    int calls;
    int res;
} result_t;

static void record(void *tag, int res)
{
    result_t *r = tag;
    r->calls++;
    r->res = res;
}

/* Makes a ring. Where the kernel or a sandbox refuses io_uring, checks that
 * the refusal is clean (a negative errno, *out untouched), prints why and
 * returns NULL: the server then writes directly, which cli.test.mjs covers
 * with --io-uring off, and the caller has no batch to check. */
static rt_net_uring_t *ring_or_refusal(void)
{
    static int untouched;
    rt_net_uring_t *u = (rt_net_uring_t *)&untouched;
    int rc = rt_net_uring_new(&u);
    if (rc == 0)
        return u;
    assert_true(rc < 0);
    assert_ptr_equal(u, &untouched);
    print_message("io_uring unavailable here (%s): checked the clean refusal only\n",
                  strerror(-rc));
    return NULL;
}

static void nonblocking_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static void test_many_sends_across_batches(void **state)
{
    (void)state;
    rt_net_uring_t *u = ring_or_refusal();
    if (u == NULL)
        return;
    static int sv[PAIRS][2];
    static result_t res[PAIRS];
    static char msg[PAIRS][32];
    memset(res, 0, sizeof(res));
    for (int i = 0; i < PAIRS; i++) {
        nonblocking_pair(sv[i]);
        snprintf(msg[i], sizeof(msg[i]), "event-%d", i);
        uv_buf_t bufs[2] = {uv_buf_init(msg[i], 6), uv_buf_init(msg[i] + 6, strlen(msg[i]) - 6)};
        if (rt_net_uring_full(u))
            rt_net_uring_run(u, record);
        rt_net_uring_send(u, sv[i][0], bufs, 2, &res[i]);
    }
    rt_net_uring_run(u, record);
    for (int i = 0; i < PAIRS; i++) {
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].res, (int)strlen(msg[i]));
        char got[64] = {0};
        assert_int_equal(read(sv[i][1], got, sizeof(got)), (ssize_t)strlen(msg[i]));
        assert_string_equal(got, msg[i]);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    rt_net_uring_free(u);
}

/* A full socket completes with -EAGAIN at once: the send is never parked in
 * the kernel, so nothing queued outlives rt_net_uring_run. */
static void test_full_socket_is_eagain(void **state)
{
    (void)state;
    rt_net_uring_t *u = ring_or_refusal();
    if (u == NULL)
        return;
    int sv[2];
    nonblocking_pair(sv);
    char block[4096];
    memset(block, 'x', sizeof(block));
    while (write(sv[0], block, sizeof(block)) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    result_t r = {0};
    uv_buf_t b = uv_buf_init(block, sizeof(block));
    rt_net_uring_send(u, sv[0], &b, 1, &r);
    rt_net_uring_run(u, record);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.res, -EAGAIN);
    close(sv[0]);
    close(sv[1]);
    rt_net_uring_free(u);
}

/* Only the first RT_NET_URING_IOV buffers go in one send; the caller sends
 * the rest after advancing its queue. */
static void test_iov_cap(void **state)
{
    (void)state;
    rt_net_uring_t *u = ring_or_refusal();
    if (u == NULL)
        return;
    int sv[2];
    nonblocking_pair(sv);
    char bytes[RT_NET_URING_IOV + 3];
    uv_buf_t bufs[RT_NET_URING_IOV + 3];
    for (int i = 0; i < RT_NET_URING_IOV + 3; i++) {
        bytes[i] = (char)('a' + i);
        bufs[i] = uv_buf_init(&bytes[i], 1);
    }
    result_t r = {0};
    rt_net_uring_send(u, sv[0], bufs, RT_NET_URING_IOV + 3, &r);
    rt_net_uring_run(u, record);
    assert_int_equal(r.res, RT_NET_URING_IOV);
    char got[64];
    assert_int_equal(read(sv[1], got, sizeof(got)), RT_NET_URING_IOV);
    assert_memory_equal(got, bytes, RT_NET_URING_IOV);
    close(sv[0]);
    close(sv[1]);
    rt_net_uring_free(u);
}

/* A peer that went away is an error result, not a SIGPIPE. */
static void test_closed_peer_is_error(void **state)
{
    (void)state;
    rt_net_uring_t *u = ring_or_refusal();
    if (u == NULL)
        return;
    int sv[2];
    nonblocking_pair(sv);
    close(sv[1]);
    result_t r = {0};
    char x = 'x';
    uv_buf_t b = uv_buf_init(&x, 1);
    rt_net_uring_send(u, sv[0], &b, 1, &r);
    rt_net_uring_run(u, record);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.res, -EPIPE);
    close(sv[0]);
    rt_net_uring_free(u);
}

static void test_free_null(void **state)
{
    (void)state;
    rt_net_uring_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_sends_across_batches),
        cmocka_unit_test(test_full_socket_is_eagain),
        cmocka_unit_test(test_iov_cap),
        cmocka_unit_test(test_closed_peer_is_error),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
