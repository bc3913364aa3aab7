/*
 * This file implements the libFuzzer target of the HTTP/1.1 request parser
 * (src/net/http_parse.c). It parses the input as a request head; when the
 * head is complete it checks the parse's invariants, re-parses exactly the
 * head as the server does, and, for a chunked request, decodes the rest as
 * the body. It cross-checks both parsers against a split of the input at a
 * point derived from its bytes: the head parser must give RT_EAGAIN or the
 * whole input's result on a prefix, and the chunked decoder must produce the
 * same bytes and result when fed in two pieces. Inputs that are no valid
 * head are fed to the chunked decoder directly, and a parsed target goes
 * through the percent and query decoders.
 */
#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"

#define FUZZ_MAX_HEAD_BYTES 1024 /* small, so that the 431 path is reached */

/* A split point in [0, n] that depends on every byte (FNV-1a). */
static size_t split_point(const uint8_t *data, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++)
        h = (h ^ data[i]) * UINT64_C(1099511628211);
    return (size_t)(h % (n + 1));
}

static int parse(const char *buf, size_t n, rt_http_request_t *req, size_t *hl)
{
    return rt_http_parse_request(buf, n, FUZZ_MAX_HEAD_BYTES, req, hl);
}

static void check_span(const char *buf, size_t hl, const char *p, size_t n)
{
    if (p == NULL)
        rt_assert(n == 0);
    else
        rt_assert(p >= buf && p + n <= buf + hl);
}

static void check_request(const char *buf, size_t hl, const rt_http_request_t *r)
{
    rt_assert(hl <= FUZZ_MAX_HEAD_BYTES);
    check_span(buf, hl, r->method_str, r->method_len);
    check_span(buf, hl, r->path, r->path_len);
    check_span(buf, hl, r->query, r->query_len);
    rt_assert(r->path_len >= 1 && (r->path[0] == '/' || r->path[0] == '*'));
    rt_assert(r->minor_version == 0 || r->minor_version == 1);
    rt_assert(r->nheaders <= RT_HTTP_MAX_HEADERS);
    for (size_t i = 0; i < r->nheaders; i++) {
        check_span(buf, hl, r->headers[i].name, r->headers[i].name_len);
        check_span(buf, hl, r->headers[i].value, r->headers[i].value_len);
        rt_assert(r->headers[i].name_len > 0);
    }
    rt_assert(r->content_length >= -1 && r->content_length <= RT_HTTP_MAX_CONTENT_LENGTH_BYTES);
    rt_assert(!(r->chunked && r->content_length >= 0));
}

static int same_request(const rt_http_request_t *a, const rt_http_request_t *b)
{
    return a->method == b->method && a->method_str == b->method_str && a->path == b->path &&
           a->path_len == b->path_len && a->query == b->query && a->query_len == b->query_len &&
           a->minor_version == b->minor_version && a->nheaders == b->nheaders &&
           a->content_length == b->content_length && a->chunked == b->chunked &&
           a->keep_alive == b->keep_alive && a->upgrade == b->upgrade &&
           a->expect_continue == b->expect_continue &&
           memcmp(a->headers, b->headers, a->nheaders * sizeof(a->headers[0])) == 0;
}

/* Decodes body[0..n) in one call into out (a copy); returns the result and
 * the decoded length. */
static int decode_whole(const char *body, size_t n, char *out, size_t *dec, size_t *used)
{
    rt_http_chunked_t c;
    rt_http_chunked_init(&c);
    memcpy(out, body, n);
    int rc = rt_http_chunked_decode(&c, out, n, used, dec);
    if (rc == RT_EAGAIN)
        rt_assert(*used == n);
    if (rc != RT_EINVAL)
        rt_assert(*dec <= *used && *used <= n);
    return rc;
}

/* Decodes body fed in two pieces split at k, keeping unconsumed bytes as the
 * server does; the output goes to out. */
static int decode_split(const char *body, size_t n, size_t k, char *out, size_t *dec)
{
    rt_http_chunked_t c;
    rt_http_chunked_init(&c);
    char *tmp = malloc(n + 1);
    rt_assert(tmp != NULL);
    size_t used = 0, d = 0, total = 0;
    memcpy(tmp, body, k);
    int rc = rt_http_chunked_decode(&c, tmp, k, &used, &d);
    if (rc == RT_EAGAIN) {
        memcpy(out, tmp, d);
        total = d;
        size_t keep = k - used;
        memmove(tmp, tmp + used, keep);
        memcpy(tmp + keep, body + k, n - k);
        rc = rt_http_chunked_decode(&c, tmp, keep + n - k, &used, &d);
        if (rc != RT_EINVAL) {
            memcpy(out + total, tmp, d);
            total += d;
        }
    } else if (rc == 0) {
        memcpy(out, tmp, d);
        total = d;
    }
    free(tmp);
    *dec = total;
    return rc;
}

static void check_chunked(const char *body, size_t n, size_t k)
{
    char *a = malloc(n + 1), *b = malloc(n + 1);
    rt_assert(a != NULL && b != NULL);
    size_t da = 0, db = 0, used = 0;
    int ra = decode_whole(body, n, a, &da, &used);
    int rb = decode_split(body, n, k, b, &db);
    rt_assert(ra == rb);
    if (ra != RT_EINVAL)
        rt_assert(da == db && memcmp(a, b, da) == 0);
    free(a);
    free(b);
}

/* The decoders the router and the gateway apply to the target. */
static void check_target(const rt_http_request_t *r)
{
    char out[256];
    size_t n = 0;
    int rc = rt_http_pct_decode(r->path, r->path_len, out, sizeof(out), &n);
    rt_assert(rc == 0 || rc == RT_EINVAL || rc == RT_ETOOBIG);
    if (rc == 0)
        rt_assert(n <= r->path_len && out[n] == '\0');
    rc = rt_http_query_get(r->query, r->query_len, "token", out, sizeof(out), &n);
    rt_assert(rc == 0 || rc == RT_ENOENT || rc == RT_EINVAL || rc == RT_ETOOBIG);
    if (rc == 0)
        rt_assert(n <= r->query_len && out[n] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    rt_assert(buf != NULL);
    memcpy(buf, data, size);
    rt_http_request_t req, again;
    size_t hl = 0, hl2 = 0;
    int rc = parse(buf, size, &req, &hl);
    size_t k = split_point(data, size);
    int rk = parse(buf, k, &again, &hl2);
    rt_assert(rk == RT_EAGAIN || rk == rc);
    if (rc == 0) {
        rt_assert(hl <= size);
        check_request(buf, hl, &req);
        if (rk == 0)
            rt_assert(hl2 == hl && same_request(&req, &again));
        else
            rt_assert(k < hl);
        rt_assert(rt_http_parse_request(buf, hl, hl, &again, &hl2) == 0);
        rt_assert(hl2 == hl && same_request(&req, &again));
        check_target(&req);
        if (req.chunked)
            check_chunked(buf + hl, size - hl, split_point(data + hl, size - hl));
    } else {
        /* Most inputs are no valid head: give the chunked decoder them too. */
        check_chunked(buf, size, k);
    }
    free(buf);
    return 0;
}
