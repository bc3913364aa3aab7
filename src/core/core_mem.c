/*
 * This file implements the allocation wrappers, the assertion handler, the
 * error names and the refcounted byte blocks of core.h. Out of memory is not
 * recoverable in the server: it is logged once and the process aborts.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(size_t n)
{
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "level=error event=out_of_memory bytes=%zu\n", n);
    if (len > 0 && write(2, msg, (size_t)len) < 0) {
        /* Nothing more can be done: we are aborting anyway. */
    }
    abort();
}

void *rt_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *rt_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL)
        oom(count * n);
    return p;
}

void *rt_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *rt_strndup(const char *s, size_t n)
{
    char *d = rt_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *rt_strdup(const char *s)
{
    return rt_strndup(s, strlen(s));
}

void rt_free(void *p)
{
    free(p);
}

void rt_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "level=error event=assertion_failed expr=\"%s\" file=%s line=%d\n", expr, file,
            line);
    abort();
}

const char *rt_strerror(int err)
{
    switch (err) {
    case RT_OK:
        return "ok";
    case RT_EAGAIN:
        return "need more input";
    case RT_ENOMEM:
        return "out of memory";
    case RT_EINVAL:
        return "invalid input";
    case RT_ENOENT:
        return "not found";
    case RT_EEXIST:
        return "already exists";
    case RT_ETOOBIG:
        return "too large";
    case RT_EIO:
        return "i/o error";
    case RT_EPROTO:
        return "protocol error";
    case RT_EPERM:
        return "not allowed";
    case RT_ESTATE:
        return "wrong state";
    case RT_ELIMIT:
        return "limit reached";
    case RT_EVERSION:
        return "unsupported version";
    default:
        return "unknown error";
    }
}

rt_rc_t *rt_rc_new(size_t len)
{
    rt_rc_t *rc = rt_malloc(sizeof(*rc) + len + 1);
    atomic_init(&rc->refs, 1);
    rc->len = len;
    rc->data[len] = '\0';
    return rc;
}

rt_rc_t *rt_rc_retain(rt_rc_t *rc)
{
    int old = atomic_fetch_add_explicit(&rc->refs, 1, memory_order_relaxed);
    rt_assert(old > 0);
    return rc;
}

void rt_rc_release(rt_rc_t *rc)
{
    if (rc == NULL)
        return;
    int old = atomic_fetch_sub_explicit(&rc->refs, 1, memory_order_acq_rel);
    rt_assert(old > 0);
    if (old == 1)
        free(rc);
}
