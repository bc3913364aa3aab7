/*
 * This file implements the HTTP/1.1 protocol on a connection: reading the
 * head (src/net/http_parse.c does the parsing), reading a Content-Length or
 * chunked body under the size limit, handing the request to the handler,
 * writing the response, keep-alive and pipelining, the slow-client
 * deadlines, and the hand-over to another protocol on Upgrade.
 */
#include "net/net_internal.h"

#include <string.h>

enum { ST_HEAD, ST_BODY, ST_BUSY };

typedef struct {
    rt_conn_t *conn;
    int state;
    int keep_alive;
    uint64_t head_started_ms; /* first byte of a partial head; 0 = none */
    uint64_t idle_since_ms;   /* last response or accept */
    uint64_t body_started_ms;
    /* the request being read: head copied once complete */
    char *head_copy;
    size_t head_len;
    int64_t body_left; /* Content-Length bytes still to read */
    int chunked;
    rt_http_chunked_t chunks;
    rt_buf_t body;
    rt_http_req_t *current; /* dispatched and not yet answered */
} http_state_t;

static rt_server_t *server_of(rt_conn_t *c)
{
    return rt_worker_server(rt_conn_worker(c));
}

static uint64_t now_ms(rt_conn_t *c)
{
    return uv_now(rt_worker_loop(rt_conn_worker(c)));
}

void *rt_net_http_state_new(rt_conn_t *c)
{
    http_state_t *st = rt_calloc(1, sizeof(*st));
    st->conn = c;
    st->keep_alive = 1;
    st->idle_since_ms = now_ms(c);
    return st;
}

static void reset_request(http_state_t *st)
{
    rt_free(st->head_copy);
    st->head_copy = NULL;
    st->head_len = 0;
    st->body_left = 0;
    st->chunked = 0;
    rt_buf_close(&st->body);
}

/* ================================================================ errors */

/* rt_http_requests_total by route and status: each worker caches the series
 * it has seen, so the hot path takes no lock. */
static void count_request(rt_worker_t *w, const char *route, int status)
{
    char key[160];
    snprintf(key, sizeof(key), "route=\"%s\",status=\"%d\"", route, status);
    rt_metric_t *m = rt_map_get(&w->metric_cache, key);
    if (m == NULL) {
        m = rt_metric_get("rt_http_requests_total", key, "counter",
                          "HTTP requests by route and status");
        rt_map_put(&w->metric_cache, key, m);
    }
    rt_metric_add(m, 1);
}

/* Answers a request we could not even parse, then closes: after a framing
 * error the byte stream can no longer be trusted. */
static void fail_and_close(rt_conn_t *c, int status, const char *code, const char *message)
{
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_t body;
    rt_buf_init(&body);
    rt_buf_append_str(&body, "{\"error\":{\"code\":\"");
    rt_buf_append_str(&body, code);
    rt_buf_append_str(&body, "\",\"message\":");
    rt_buf_append_json_str(&body, message, strlen(message));
    rt_buf_append_str(&body, "}}");
    rt_buf_appendf(&b,
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   status, rt_http_status_text(status), body.len, body.data);
    size_t len;
    char *p = rt_buf_steal(&b, &len);
    rt_conn_write_owned(c, p, len);
    rt_buf_close(&body);
    count_request(rt_conn_worker(c), "(unparsed)", status);
    char peer[80];
    rt_conn_peer(c, peer, sizeof(peer));
    rt_log_info("http_rejected", "peer=%s status=%d code=%s", peer, status, code);
    rt_conn_pause(c, 1);
    rt_conn_close(c, 0);
}

/* ============================================================== dispatch */

static void dispatch(http_state_t *st)
{
    rt_conn_t *c = st->conn;
    rt_worker_t *w = rt_conn_worker(c);
    rt_server_t *s = server_of(c);
    rt_http_req_t *req = rt_calloc(1, sizeof(*req));
    req->raw = rt_malloc(st->head_len + st->body.len + 1);
    memcpy(req->raw, st->head_copy, st->head_len);
    if (st->body.len)
        memcpy(req->raw + st->head_len, st->body.data, st->body.len);
    req->raw[st->head_len + st->body.len] = '\0';
    size_t hl = 0;
    int rc = rt_http_parse_request(req->raw, st->head_len, st->head_len, &req->head, &hl);
    rt_assert(rc == 0 && hl == st->head_len);
    req->body = req->raw + st->head_len;
    req->body_len = st->body.len;
    req->conn = c;
    req->worker = w;
    req->start_ns = rt_mono_ns();
    req->route = "(none)";
    st->keep_alive = req->head.keep_alive;
    st->state = ST_BUSY;
    reset_request(st);
    st->current = req;
    rt_conn_pause(c, 1);
    s->handler(s->handler_ctx, req);
}

static void write_continue(rt_conn_t *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    rt_conn_write_copy(c, cont, sizeof(cont) - 1);
}

/* Head complete: decide about the body. Returns 0 to go on, -1 if closed. */
static int start_request(http_state_t *st, const char *buf, const rt_http_request_t *h,
                         size_t head_len)
{
    rt_conn_t *c = st->conn;
    const rt_server_config_t *cfg = rt_server_config(server_of(c));
    if (h->content_length > 0 && (uint64_t)h->content_length > cfg->max_body_bytes) {
        fail_and_close(c, 413, "payload_too_large", "request body is over the size limit");
        return -1;
    }
    st->head_copy = rt_strndup(buf, head_len);
    st->head_len = head_len;
    st->head_started_ms = 0;
    st->chunked = h->chunked;
    st->body_left = h->content_length > 0 ? h->content_length : 0;
    if (st->chunked)
        rt_http_chunked_init(&st->chunks);
    if (h->expect_continue && (st->chunked || st->body_left > 0))
        write_continue(c);
    if (st->chunked || st->body_left > 0) {
        st->state = ST_BODY;
        st->body_started_ms = now_ms(c);
    }
    return 0;
}

static size_t on_head(http_state_t *st, char *buf, size_t len)
{
    rt_conn_t *c = st->conn;
    const rt_server_config_t *cfg = rt_server_config(server_of(c));
    rt_http_request_t h;
    size_t head_len = 0;
    int rc = rt_http_parse_request(buf, len, cfg->max_head_bytes, &h, &head_len);
    switch (rc) {
    case 0:
        break;
    case RT_EAGAIN:
        if (st->head_started_ms == 0)
            st->head_started_ms = now_ms(c);
        return 0;
    case RT_ETOOBIG:
        fail_and_close(c, 431, "headers_too_large", "request header fields too large");
        return 0;
    case RT_EVERSION:
        fail_and_close(c, 505, "http_version_not_supported", "only HTTP/1.0 and 1.1");
        return 0;
    default:
        fail_and_close(c, 400, "bad_request", "malformed HTTP request");
        return 0;
    }
    if (start_request(st, buf, &h, head_len) != 0)
        return 0;
    if (st->state == ST_HEAD)
        dispatch(st);
    return head_len;
}

static size_t on_body(http_state_t *st, char *buf, size_t len)
{
    rt_conn_t *c = st->conn;
    const rt_server_config_t *cfg = rt_server_config(server_of(c));
    if (!st->chunked) {
        size_t take = (size_t)RT_MIN((int64_t)len, st->body_left);
        rt_buf_append(&st->body, buf, take);
        st->body_left -= (int64_t)take;
        if (st->body_left == 0)
            dispatch(st);
        return take;
    }
    size_t consumed = 0, decoded = 0;
    int rc = rt_http_chunked_decode(&st->chunks, buf, len, &consumed, &decoded);
    if (rc != 0 && rc != RT_EAGAIN) {
        fail_and_close(c, 400, "bad_request", "malformed chunked body");
        return 0;
    }
    if (st->body.len + decoded > cfg->max_body_bytes) {
        fail_and_close(c, 413, "payload_too_large", "request body is over the size limit");
        return 0;
    }
    rt_buf_append(&st->body, buf, decoded);
    if (rc == 0)
        dispatch(st);
    return consumed;
}

static size_t http_on_data(rt_conn_t *c, char *buf, size_t len)
{
    http_state_t *st = rt_conn_data(c);
    switch (st->state) {
    case ST_HEAD:
        return on_head(st, buf, len);
    case ST_BODY:
        return on_body(st, buf, len);
    default:
        return 0;
    }
}

/* Slowloris and idle clients: a head must complete within the header
 * timeout, a body within the body timeout, and an idle keep-alive connection
 * is closed after the idle timeout. */
static void http_on_sweep(rt_conn_t *c, uint64_t now)
{
    http_state_t *st = rt_conn_data(c);
    const rt_server_config_t *cfg = rt_server_config(server_of(c));
    const char *why = NULL;
    if (st->state == ST_HEAD && st->head_started_ms &&
        now - st->head_started_ms >= (uint64_t)cfg->header_timeout_ms)
        why = "header_timeout";
    else if (st->state == ST_HEAD && !st->head_started_ms &&
             now - st->idle_since_ms >= (uint64_t)cfg->idle_timeout_ms)
        why = "idle_timeout";
    else if (st->state == ST_BODY && now - st->body_started_ms >= RT_HTTP_BODY_TIMEOUT_MS)
        why = "body_timeout";
    if (why == NULL)
        return;
    char peer[80];
    rt_conn_peer(c, peer, sizeof(peer));
    rt_log_debug("http_timeout", "peer=%s reason=%s", peer, why);
    if (strcmp(why, "idle_timeout") == 0)
        rt_conn_close(c, 1);
    else
        fail_and_close(c, 408, "request_timeout", "request not received in time");
}

static void http_on_close(rt_conn_t *c)
{
    http_state_t *st = rt_conn_data(c);
    /* A handler still working on a request answers into the void. */
    if (st->current)
        st->current->conn = NULL;
    reset_request(st);
    rt_free(st);
}

static void http_on_shutdown(rt_conn_t *c)
{
    http_state_t *st = rt_conn_data(c);
    st->keep_alive = 0;
    if (st->state == ST_HEAD && !st->head_started_ms)
        rt_conn_close(c, 0);
}

const rt_conn_proto_t rt_net_http_proto = {
    http_on_data, http_on_sweep, http_on_close, NULL, http_on_shutdown,
};

/* ============================================================== responses */

static void finish(rt_http_req_t *req, int status)
{
    rt_conn_t *c = req->conn;
    count_request(req->worker, req->route, status);
    uint64_t us = (rt_mono_ns() - req->start_ns) / 1000;
    if (status >= 500)
        rt_log_warn("http_request", "method=%.*s path=%.*s route=%s status=%d us=%llu",
                    (int)req->head.method_len, req->head.method_str, (int)req->head.path_len,
                    req->head.path, req->route, status, (unsigned long long)us);
    else
        rt_log_debug("http_request", "method=%.*s path=%.*s route=%s status=%d us=%llu",
                     (int)req->head.method_len, req->head.method_str, (int)req->head.path_len,
                     req->head.path, req->route, status, (unsigned long long)us);
    rt_free(req->raw);
    rt_free(req);
    if (c == NULL)
        return;
    http_state_t *st = rt_conn_data(c);
    st->current = NULL;
    if (rt_conn_closing(c))
        return;
    if (!st->keep_alive) {
        rt_conn_close(c, 0);
        return;
    }
    st->state = ST_HEAD;
    st->idle_since_ms = now_ms(c);
    rt_conn_pause(c, 0);
}

void rt_http_respond(rt_http_req_t *req, int status, const char *content_type,
                     const char *extra_headers, const char *body, size_t len)
{
    rt_conn_t *c = req->conn;
    if (c == NULL) {
        finish(req, status);
        return;
    }
    http_state_t *st = rt_conn_data(c);
    if (req->worker->stopping)
        st->keep_alive = 0;
    int head_only = req->head.method == RT_HTTP_HEAD;
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_reserve(&b, 160 + len);
    rt_buf_appendf(&b, "HTTP/1.1 %d %s\r\n", status, rt_http_status_text(status));
    if (content_type)
        rt_buf_appendf(&b, "Content-Type: %s\r\n", content_type);
    rt_buf_appendf(&b, "Content-Length: %zu\r\n", len);
    if (!st->keep_alive)
        rt_buf_append_str(&b, "Connection: close\r\n");
    else if (req->head.minor_version == 0)
        rt_buf_append_str(&b, "Connection: keep-alive\r\n");
    if (extra_headers)
        rt_buf_append_str(&b, extra_headers);
    rt_buf_append(&b, "\r\n", 2);
    if (!head_only && len)
        rt_buf_append(&b, body, len);
    size_t out_len;
    char *out = rt_buf_steal(&b, &out_len);
    rt_conn_write_owned(c, out, out_len);
    finish(req, status);
}

void rt_http_respond_json(rt_http_req_t *req, int status, json_t *body)
{
    rt_buf_t b;
    rt_buf_init(&b);
    if (body)
        rt_buf_append_json(&b, body);
    else
        rt_buf_append_str(&b, "{}");
    json_decref(body);
    rt_http_respond(req, status, "application/json", NULL, b.data, b.len);
    rt_buf_close(&b);
}

void rt_http_respond_error(rt_http_req_t *req, int status, const char *code, const char *message,
                           json_t *details)
{
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (details)
        json_object_set_new(err, "details", details);
    rt_http_respond_json(req, status, json_pack("{s:o}", "error", err));
}

void rt_http_upgrade(rt_http_req_t *req, const char *response, size_t len,
                     const rt_conn_proto_t *proto, void *data)
{
    rt_conn_t *c = req->conn;
    count_request(req->worker, req->route, 101);
    rt_assert(c != NULL); /* upgrades are answered synchronously */
    rt_conn_write_copy(c, response, len);
    http_state_t *st = rt_conn_data(c);
    reset_request(st);
    rt_free(st);
    rt_free(req->raw);
    rt_free(req);
    rt_conn_set_proto(c, proto, data);
    rt_conn_pause(c, 0);
}
