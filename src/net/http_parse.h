/*
 * http_parse.h - the strict, incremental, zero-copy HTTP/1.1 request parser
 * (RFC 9112): the request head, chunked request bodies, percent-decoding of
 * targets and query strings, and reason phrases.
 *
 * Nothing here allocates or keeps global state; every function is pure and
 * may be called from any thread. The head parser is stateless: call it again
 * from the start of the buffer on each read until it stops saying RT_EAGAIN.
 * It is strict on purpose (this is a public-facing server and request
 * smuggling lives in lenient parsers); docs/internals/http.md lists what it
 * refuses and why.
 */
#ifndef RT_HTTP_PARSE_H
#define RT_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define RT_HTTP_MAX_HEADERS              64    /* more → RT_ETOOBIG (431) */
#define RT_HTTP_MAX_HEAD_BYTES           16384 /* default cap for request line + headers */
#define RT_HTTP_MAX_CHUNK_LINE_BYTES     4096  /* chunk-size line or trailer line, without CRLF */
#define RT_HTTP_MAX_TRAILER_BYTES        16384 /* all trailer lines of one chunked body, with CRLFs */
#define RT_HTTP_MAX_CONTENT_LENGTH_BYTES (INT64_C(1) << 62) /* Content-Length and chunk-size */

/* Methods the router knows; any other token is RT_HTTP_OTHER (see method_str). */
typedef enum {
    RT_HTTP_GET,
    RT_HTTP_HEAD,
    RT_HTTP_POST,
    RT_HTTP_PUT,
    RT_HTTP_PATCH,
    RT_HTTP_DELETE,
    RT_HTTP_OPTIONS,
    RT_HTTP_OTHER
} rt_http_method_t;

/* One header field line. name is a token as received (any case); value has
 * its leading and trailing OWS removed and may be empty. Neither is
 * NUL-terminated. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} rt_http_header_t;

/*
 * A parsed request head. Every pointer points into the buffer that was
 * parsed (borrowed, valid while that buffer is unchanged); nothing is
 * NUL-terminated. Invariants after a successful parse: path_len >= 1 and
 * path[0] is '/' (or path is "*" for OPTIONS); nheaders <= RT_HTTP_MAX_HEADERS;
 * content_length is -1 whenever chunked is 1.
 */
typedef struct rt_http_request_s {
    rt_http_method_t method;
    const char *method_str; /* the method token as received */
    size_t method_len;
    const char *path; /* origin-form target up to '?' (raw, not decoded) */
    size_t path_len;
    const char *query; /* after '?', NULL/0 if none ("/a?" gives len 0, non-NULL) */
    size_t query_len;
    int minor_version; /* 0 or 1 */
    rt_http_header_t headers[RT_HTTP_MAX_HEADERS];
    size_t nheaders;
    int64_t content_length; /* -1 when absent */
    int chunked;            /* Transfer-Encoding: chunked */
    int keep_alive; /* 1.1 default on unless Connection: close; 1.0 default off unless keep-alive */
    int upgrade;    /* Connection has token "upgrade" and an Upgrade header is present (1.1) */
    int expect_continue; /* Expect: 100-continue (1.1 only, RFC 9110 §10.1.1) */
} rt_http_request_t;

/*
 * Parses the request head in buf[0..len) (RFC 9112 §2-§3, §5, §6). Reads no
 * byte at or past len, nor past max_head. On 0, *req is filled (its pointers
 * borrowed from buf, valid while buf is) and *head_len is the number of bytes
 * of request line and headers including the final CRLFCRLF and any leading
 * empty lines; the body or the next pipelined request starts there. On
 * failure neither *req nor *head_len is touched.
 * Returns 0 (complete); RT_EAGAIN (incomplete and len < max_head: read more
 * and call again from the start); RT_ETOOBIG (head longer than max_head, or
 * more than RT_HTTP_MAX_HEADERS headers: answer 431); RT_EVERSION (HTTP/x.y
 * other than 1.0 and 1.1: 505); RT_EINVAL (anything malformed or ambiguous:
 * 400). Errors are found in byte order, so feeding a request in pieces gives
 * RT_EAGAIN and then the same result as feeding it whole. Any thread.
 */
int rt_http_parse_request(const char *buf, size_t len, size_t max_head, rt_http_request_t *req,
                          size_t *head_len);

/* Returns the first header named name (ASCII case-insensitive), or NULL.
 * The result is borrowed from req. Any thread. */
const rt_http_header_t *rt_http_header_find(const rt_http_request_t *req, const char *name);

/*
 * The state of one chunked body being decoded (RFC 9112 §7.1). Caller-
 * allocated; set up with rt_http_chunked_init() and needs no closing. The
 * fields are private to http_parse.c.
 */
typedef struct {
    uint64_t left;          /* chunk-size being read, then data bytes still to come */
    uint32_t line_bytes;    /* bytes so far of the current size or trailer line */
    uint32_t trailer_bytes; /* bytes so far of the whole trailer section */
    uint8_t state;
} rt_http_chunked_t;

void rt_http_chunked_init(rt_http_chunked_t *c);

/*
 * Decodes chunked body bytes in place (RFC 9112 §7.1): reads buf[0..len),
 * moves the chunk data found there to buf[0..*decoded) and sets *consumed to
 * the input bytes used. Chunk extensions are checked against the grammar and
 * dropped; trailer fields are checked like header fields and dropped.
 * Returns 0 when the last chunk and the trailer section have been consumed
 * (the body is complete; bytes after *consumed belong to the next request);
 * RT_EAGAIN when more input is needed (every byte of len was used, so
 * *consumed == len); RT_EINVAL when malformed (bad hex, missing CRLF, bare
 * CR or LF, chunk-size over RT_HTTP_MAX_CONTENT_LENGTH_BYTES, a size or
 * trailer line over RT_HTTP_MAX_CHUNK_LINE_BYTES, trailers over
 * RT_HTTP_MAX_TRAILER_BYTES). After RT_EINVAL the content of buf is
 * unspecified and every later call fails the same way; *consumed and
 * *decoded are set only on 0 and RT_EAGAIN. Any thread (one body per state).
 */
int rt_http_chunked_decode(rt_http_chunked_t *c, char *buf, size_t len, size_t *consumed,
                           size_t *decoded);

/*
 * Finds key in an application/x-www-form-urlencoded query (pairs split on
 * '&', key and value on the first '='; a pair without '=' has an empty
 * value) and percent-decodes its value ('+' is a space) into out, which is
 * NUL-terminated; *out_len excludes the NUL (the value may contain %00, so
 * compare it with strlen(out) if that matters). Keys are compared after
 * decoding; the first match wins. Returns 0 (found); RT_ENOENT (absent);
 * RT_EINVAL (bad escape in the found value); RT_ETOOBIG (value + NUL does not
 * fit in outcap). out and *out_len are written only on 0. Any thread.
 */
int rt_http_query_get(const char *query, size_t query_len, const char *key, char *out,
                      size_t outcap, size_t *out_len);

/* Percent-decodes s[0..n) (a path segment: '+' stays '+') into out,
 * NUL-terminated; *out_len excludes the NUL. Returns 0, RT_EINVAL (a '%' not
 * followed by two hex digits) or RT_ETOOBIG (does not fit in outcap). out and
 * *out_len are written only on 0. Any thread. */
int rt_http_pct_decode(const char *s, size_t n, char *out, size_t outcap, size_t *out_len);

/* The RFC 9110 §15 reason phrase of status ("OK", "Created", ...), or
 * "Unknown". Static string. Any thread. */
const char *rt_http_status_text(int status);

#endif
