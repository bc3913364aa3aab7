/*
 * This file implements the webhook dispatcher: one thread with its own libuv
 * loop driving libcurl's multi interface through curl_multi_socket_action
 * (libcurl's multi-uv pattern), fed from the durable outbox.
 *
 * The outbox is the wh_deliveries table. The dispatcher scans pending rows in
 * did order from a cursor (new commits wake it and land after the cursor;
 * retries that fall due, replays and re-enabled endpoints ask for a full scan
 * from 0), holds at most RT_WH_MAX_LOADED of them in memory in a FIFO per
 * endpoint, and starts attempts within the global and per-endpoint caps and
 * the endpoint's rateLimit. An ordered endpoint has one delivery in flight and
 * keeps later ones waiting behind a failing head. A delivery stays in memory
 * until the store has committed its outcome, so a scan never sees a stale row
 * of a delivery in progress. The outcomes of one loop iteration are committed
 * as one store job. A replay committed while a delivery's attempt is in
 * flight makes it run again after that attempt (rerun), never beside it.
 *
 * Each attempt is signed per Standard Webhooks v1 (ARCHITECTURE §5.6), sent
 * without following redirects, cut at the timeout, and recorded. Every new
 * connection passes the SSRF guard in the open-socket callback, after
 * resolution.
 */
#include "webhooks/webhooks_internal.h"

#include <curl/curl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef RT_VERSION
#define RT_VERSION "dev"
#endif

/* ================================================================= types */

enum { D_QUEUED, D_INFLIGHT, D_SETTLING };

/* A pending delivery held in memory. Invariant: in disp->loaded under its did
 * from load until its outcome is committed; in its endpoint's queue while
 * D_QUEUED. */
typedef struct delivery_s {
    struct delivery_s *next; /* endpoint queue */
    int64_t did, eid, tid, seq;
    int64_t attempts; /* attempts made before this one */
    int64_t next_ms;  /* not before */
    int state;
    int retry;    /* outcome being committed: 1 = another attempt later */
    int slot;     /* holds one of its endpoint's in-flight slots */
    int failed;   /* outcome being committed: failed for good */
    int replayed; /* a replay committed during the attempt: run it again */
    int64_t created_ms;
    char event_id[32];
    rt_buf_t env; /* the envelope when prefetched, else empty */
} delivery_t;

/* Per-endpoint pacing, dispatcher thread only. */
typedef struct {
    int64_t eid;
    delivery_t *head, *tail;
    int inflight; /* slots taken: started, outcome not yet settled (ordered) */
    /* The deliveries whose request is open: two rows for one event (two
     * concurrent replays of an event never delivered) never overlap. */
    const delivery_t *flying[RT_WH_ENDPOINT_INFLIGHT];
    int nflying;
    double tokens; /* rateLimit bucket */
    uint64_t refill_ns;
    int64_t failing_since; /* ms of the first failure since the last success; 0 */
    int health_known;      /* failing_since reflects attempts before this process */
} ep_state_t;

/* A test request from the API, queued to the dispatcher thread. */
typedef struct test_req_s {
    struct test_req_s *next;
    int64_t eid;
    rt_wh_test_fn fn;
    void *arg;
} test_req_t;

/* A committed replay, handed to the dispatcher (rt_wh_disp_replayed). */
typedef struct replay_note_s {
    struct replay_note_s *next;
    int64_t eid;
    char event_id[32]; /* "": every delivery created at or after since_ms */
    int64_t since_ms;
    int only_failed;
} replay_note_t;

/* The outcomes of one flush, committed by the store and handed back to the
 * dispatcher. */
typedef struct settled_s {
    struct settled_s *next;
    rt_webhooks_t *wh;
    int n;
    int64_t did[]; /* the deliveries whose state the job wrote */
} settled_t;

/* An attempt's outcome waiting for the end of the loop iteration. Text lives
 * in disp->out_text (offsets, since the buffer may move). */
typedef struct {
    int64_t did; /* -1 for a test */
    int64_t eid, attempt, time_ms, code, latency_us, state, next_ms, updated_ms;
    char event_id[32];
    size_t err_off, err_len; /* err_len 0: no error */
    size_t resp_off, resp_len;
} outcome_t;

typedef struct wh_disp_s {
    rt_webhooks_t *wh;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t curl_timer;
    uv_timer_t pump_timer;
    uv_timer_t sweep_timer;
    uv_timer_t stats_timer;
    uv_check_t flush_check; /* commits the iteration's outcomes in one job */
    CURLM *multi;
    int running_handles;

    pthread_mutex_t lock; /* guards the fields up to closed */
    int stopping;
    int full_scan;
    settled_t *settled;
    test_req_t *tests;
    replay_note_t *replays;
    int new_rows; /* commits added rows after the cursor */
    int closed;   /* the wake handle is gone: no more uv_async_send */

    rt_map_t loaded; /* did → delivery_t */
    size_t nloaded;
    rt_map_t eps; /* eid → ep_state_t */
    int inflight; /* curl transfers */
    int64_t cursor;
    int scan_more;                  /* rows after the cursor may wait to be loaded */
    size_t env_bytes;               /* envelopes read ahead, held by queued deliveries */
    CURL *pool[RT_WH_MAX_INFLIGHT]; /* idle easy handles, reused */
    int npool;

    struct sock_ctx_s **socks; /* by descriptor: poll handles of open sockets */
    size_t nsocks;

    outcome_t out[RT_WH_FLUSH_MAX]; /* outcomes not yet submitted */
    int nout;
    rt_buf_t out_text;

    struct attempt_s *attempts; /* in flight */

    rt_metric_t *m_delivered, *m_failed, *m_retry, *m_ok, *m_err, *m_loaded, *m_depth, *m_oldest;
    rt_histo_t *latency;
} wh_disp_t;

/* One HTTP attempt (a curl easy handle). */
typedef struct attempt_s {
    struct attempt_s *prev, *next; /* disp->attempts */
    wh_disp_t *d;
    delivery_t *dl; /* NULL for a test */
    test_req_t *test;
    wh_endpoint_t *ep;
    CURL *easy;
    struct curl_slist *headers;
    rt_buf_t body;
    char resp[RT_WH_RESPONSE_MAX_BYTES + 1];
    size_t resp_len;
    int64_t retry_after_s; /* -1: none */
    uint64_t start_ns;
    int64_t time_ms;
    int ssrf_blocked;
    char event_id[32];
    char curl_error[CURL_ERROR_SIZE];
} attempt_t;

static void pump(wh_disp_t *d);
static int on_closesocket(void *arg, curl_socket_t s);

/* ============================================================ endpoints */

static ep_state_t *ep_state(wh_disp_t *d, int64_t eid)
{
    char key[24];
    snprintf(key, sizeof(key), "%lld", (long long)eid);
    ep_state_t *s = rt_map_get(&d->eps, key);
    if (s == NULL) {
        s = rt_calloc(1, sizeof(*s));
        s->eid = eid;
        s->refill_ns = rt_mono_ns();
        rt_map_put(&d->eps, key, s);
    }
    return s;
}

static void did_key(int64_t did, char key[24])
{
    snprintf(key, 24, "%lld", (long long)did);
}

static void forget(wh_disp_t *d, delivery_t *dl)
{
    char key[24];
    did_key(dl->did, key);
    rt_map_del(&d->loaded, key);
    d->nloaded--;
    d->env_bytes -= dl->env.len;
    rt_buf_close(&dl->env);
    rt_free(dl);
}

/* Drops the queued deliveries of an endpoint that is gone or disabled; their
 * rows stay pending for a later full scan. */
static void drop_queue(wh_disp_t *d, ep_state_t *s)
{
    while (s->head) {
        delivery_t *dl = s->head;
        s->head = dl->next;
        forget(d, dl);
    }
    s->tail = NULL;
}

/* Takes a token of the endpoint's rateLimit; 0 and *wait_ms when empty. */
static int take_token(ep_state_t *s, int64_t rate, int64_t *wait_ms)
{
    if (rate <= 0)
        return 1;
    uint64_t now = rt_mono_ns();
    s->tokens += (double)(now - s->refill_ns) / 1e9 * (double)rate;
    s->refill_ns = now;
    if (s->tokens > (double)rate)
        s->tokens = (double)rate;
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        return 1;
    }
    *wait_ms = (int64_t)((1.0 - s->tokens) * 1000.0 / (double)rate) + 1;
    return 0;
}

/* Whether a request for the event of dl (another row of it) is open. */
static int twin_flying(const ep_state_t *s, const delivery_t *dl)
{
    for (int i = 0; i < s->nflying; i++) {
        const delivery_t *f = s->flying[i];
        if (f->tid == dl->tid && f->seq == dl->seq && strcmp(f->event_id, dl->event_id) == 0)
            return 1;
    }
    return 0;
}

static void fly_add(ep_state_t *s, const delivery_t *dl)
{
    rt_assert(s->nflying < RT_WH_ENDPOINT_INFLIGHT);
    s->flying[s->nflying++] = dl;
}

static void fly_del(ep_state_t *s, const delivery_t *dl)
{
    for (int i = 0; i < s->nflying; i++) {
        if (s->flying[i] == dl) {
            s->flying[i] = s->flying[--s->nflying];
            return;
        }
    }
}

/* ================================================================= curl */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    attempt_t *a = arg;
    size_t len = size * n;
    size_t room = RT_WH_RESPONSE_MAX_BYTES - a->resp_len;
    size_t take = RT_MIN(room, len);
    memcpy(a->resp + a->resp_len, p, take);
    a->resp_len += take;
    return len; /* the rest is read and dropped; the timeout bounds it */
}

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    attempt_t *a = arg;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len <= sizeof(name) - 1 || strncasecmp(p, name, sizeof(name) - 1) != 0)
        return len;
    int64_t secs;
    if (rt_wh_retry_after(p + sizeof(name) - 1, len - (sizeof(name) - 1), rt_time_ms() / 1000,
                          &secs) == 0)
        a->retry_after_s = secs;
    return len;
}

/* The SSRF guard: every new connection, after resolution (so a rebinding
 * DNS answer is checked too). */
static curl_socket_t on_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    attempt_t *a = arg;
    (void)purpose;
    if (!rt_wh_addr_allowed(&a->d->wh->cfg, &addr->addr)) {
        a->ssrf_blocked = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static void add_header(attempt_t *a, const char *name, const char *value)
{
    rt_buf_t h;
    rt_buf_init(&h);
    rt_buf_appendf(&h, "%s: %s", name, value);
    a->headers = curl_slist_append(a->headers, h.data);
    rt_buf_close(&h);
}

/* The headers of §5.6 plus the endpoint's own. */
static void build_headers(attempt_t *a)
{
    const wh_endpoint_t *ep = a->ep;
    int64_t ts = a->time_ms / 1000;
    char tsbuf[24];
    snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)ts);
    rt_buf_t sig;
    rt_buf_init(&sig);
    rt_wh_sign(ep->secret, a->event_id, ts, a->body.data, a->body.len, &sig);
    if (ep->old_secret && ep->old_until_ms > a->time_ms)
        rt_wh_sign(ep->old_secret, a->event_id, ts, a->body.data, a->body.len, &sig);
    const char *k;
    json_t *v;
    json_object_foreach(ep->headers, k, v) add_header(a, k, json_string_value(v));
    add_header(a, "content-type", "application/json");
    add_header(a, "webhook-id", a->event_id);
    add_header(a, "webhook-timestamp", tsbuf);
    add_header(a, "webhook-signature", sig.data);
    a->headers = curl_slist_append(a->headers, "Expect:");
    rt_buf_close(&sig);
}

/* An easy handle from the pool, or a new one. Reuse keeps libcurl's
 * per-handle buffers and state allocations off the per-request path; the
 * connections themselves live in the multi handle's cache either way. */
static CURL *easy_get(wh_disp_t *d)
{
    if (d->npool > 0)
        return d->pool[--d->npool];
    CURL *e = curl_easy_init();
    rt_assert(e != NULL);
    return e;
}

/* Returns a finished handle to the pool. Its options are left as they are:
 * setup_easy sets every one of them for each attempt (curl_easy_reset was a
 * measurable cost for nothing). */
static void easy_put(wh_disp_t *d, CURL *e)
{
    curl_multi_remove_handle(d->multi, e);
    if (d->npool == RT_WH_MAX_INFLIGHT) {
        curl_easy_cleanup(e);
        return;
    }
    d->pool[d->npool++] = e;
}

/* Sets every option an attempt uses (a pooled handle keeps the last
 * attempt's: nothing may be set for some attempts only). */
static void setup_easy(attempt_t *a)
{
    CURL *e = easy_get(a->d);
    a->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, a->ep->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, a->body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->body.len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "realtime/" RT_VERSION);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)RT_WH_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)a->d->wh->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the environment */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, a);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, a->d);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->curl_error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, a);
}

static void attempt_free(attempt_t *a)
{
    wh_disp_t *d = a->d;
    if (a->prev)
        a->prev->next = a->next;
    else if (d->attempts == a)
        d->attempts = a->next;
    if (a->next)
        a->next->prev = a->prev;
    if (a->easy)
        easy_put(d, a->easy);
    curl_slist_free_all(a->headers);
    rt_buf_close(&a->body);
    rt_wh_ep_release(a->ep);
    rt_free(a->test);
    rt_free(a);
}

/* ============================================================== outcomes */

static int64_t jitter_ms(int64_t s)
{
    uint32_t r;
    rt_random_bytes(&r, sizeof(r));
    double f = 1.0 + ((double)r / 4294967295.0 * 2.0 - 1.0) * RT_WH_JITTER_PERCENT / 100.0;
    return (int64_t)((double)s * 1000.0 * f);
}

/* Writer thread: an outcome is durable; hand it back. */
static void on_settled(void *arg, int status)
{
    settled_t *st = arg;
    (void)status; /* a failed commit leaves the row pending: retried later */
    rt_webhooks_t *wh = st->wh;
    pthread_mutex_lock(&wh->disp_lock);
    wh_disp_t *d = wh->disp;
    if (d) {
        pthread_mutex_lock(&d->lock);
        st->next = d->settled;
        d->settled = st;
        if (!d->closed)
            uv_async_send(&d->wake);
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_unlock(&wh->disp_lock);
    if (d == NULL)
        rt_free(st);
}

/* The attempt's log record. */
static json_t *attempt_json(const attempt_t *a, int attempt_no, long code, const char *error,
                            int64_t latency_us)
{
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(a->time_ms, ts);
    json_t *j = json_pack("{s:s,s:s,s:I,s:I}", "time", ts, "eventId", a->event_id, "attempt",
                          (json_int_t)attempt_no, "latencyMs", (json_int_t)(latency_us / 1000));
    json_object_set_new(j, "statusCode", code ? json_integer(code) : json_null());
    json_object_set_new(j, "error", error ? json_string(error) : json_null());
    json_object_set_new(j, "response", json_stringn_nocheck(a->resp, a->resp_len));
    json_object_set_new(j, "success", json_boolean(code >= 200 && code < 300));
    return j;
}

/* Submits the outcomes gathered so far as one store job: the attempt rows
 * and the deliveries' new states. One job per loop iteration instead of one
 * per attempt keeps the writer's commits large (each commit rewrites the
 * pages it touches, whatever the number of rows) and the hand-back to one
 * note and one wake. The deliveries stay in memory until on_settled. */
static void flush_outcomes(wh_disp_t *d)
{
    if (d->nout == 0)
        return;
    rt_store_write_t *w = rt_malloc(sizeof(*w) * 2 * (size_t)d->nout);
    settled_t *st = rt_malloc(sizeof(*st) + sizeof(int64_t) * (size_t)d->nout);
    st->next = NULL;
    st->wh = d->wh;
    st->n = 0;
    int n = 0;
    for (int i = 0; i < d->nout; i++) {
        const outcome_t *o = &d->out[i];
        const char *text = d->out_text.data;
        if (o->did >= 0) {
            w[n++] = (rt_store_write_t){RT_STORE_WH_DELIVERY_SET,
                                        5,
                                        {rt_store_int(o->did), rt_store_int(o->state),
                                         rt_store_int(o->attempt), rt_store_int(o->next_ms),
                                         rt_store_int(o->updated_ms)}};
            st->did[st->n++] = o->did;
        }
        rt_store_val_t did = o->did >= 0 ? rt_store_int(o->did) : rt_store_text(NULL);
        rt_store_val_t err =
            o->err_len ? rt_store_textn(text + o->err_off, o->err_len) : rt_store_text(NULL);
        w[n++] = (rt_store_write_t){RT_STORE_WH_ATTEMPT_PUT,
                                    9,
                                    {rt_store_int(o->eid), did, rt_store_text(o->event_id),
                                     rt_store_int(o->attempt), rt_store_int(o->time_ms),
                                     rt_store_int(o->code), err, rt_store_int(o->latency_us),
                                     rt_store_textn(text ? text + o->resp_off : "", o->resp_len)}};
    }
    if (rt_store_submit(d->wh->store, w, n, on_settled, st) != 0)
        rt_free(st); /* closing: the rows stay pending */
    rt_free(w);
    d->nout = 0;
    d->out_text.len = 0;
}

static void on_flush_check(uv_check_t *h)
{
    flush_outcomes(h->data);
}

/* Queues the attempt row (and the delivery's new state when there is one)
 * for this iteration's flush. */
static void record(wh_disp_t *d, attempt_t *a, int attempt_no, long code, const char *error,
                   int64_t latency_us, int state, int64_t next_ms)
{
    if (d->nout == RT_WH_FLUSH_MAX)
        flush_outcomes(d);
    outcome_t *o = &d->out[d->nout++];
    o->did = a->dl ? a->dl->did : -1;
    o->eid = a->ep->eid;
    o->attempt = attempt_no;
    o->time_ms = a->time_ms;
    o->code = code;
    o->latency_us = latency_us;
    o->state = state;
    o->next_ms = next_ms;
    o->updated_ms = rt_time_ms();
    snprintf(o->event_id, sizeof(o->event_id), "%s", a->event_id);
    o->err_off = d->out_text.len;
    o->err_len = error ? strlen(error) : 0;
    rt_buf_append(&d->out_text, error ? error : "", o->err_len);
    o->resp_off = d->out_text.len;
    o->resp_len = a->resp_len;
    rt_buf_append(&d->out_text, a->resp, a->resp_len);
}

/* Decides what a failed attempt leads to: another attempt at *next_ms, or
 * RT_WH_FAILED. */
static int next_state(wh_disp_t *d, const attempt_t *a, int attempt_no, long code, int64_t *next)
{
    const rt_wh_config_t *cfg = &d->wh->cfg;
    if (code == 410 || attempt_no >= cfg->nretry)
        return RT_WH_FAILED;
    int64_t now = rt_time_ms();
    if ((code == 429 || code == 503) && a->retry_after_s >= 0)
        *next = now + a->retry_after_s * 1000;
    else
        *next = now + jitter_ms(cfg->retry_s[attempt_no]);
    return RT_WH_PENDING;
}

static int failing_row(void *arg, const rt_store_row_t *row)
{
    if (!rt_store_row_is_null(row, 0))
        *(int64_t *)arg = rt_store_row_int(row, 0);
    return 1;
}

/* The first failure of an endpoint in this process: the window may have
 * started before a restart, so it starts at the oldest attempt after the
 * last success in the attempt log (as far back as its retention keeps). */
static int64_t failing_since_logged(wh_disp_t *d, int64_t eid, int64_t now)
{
    int64_t since = now;
    rt_store_val_t v[1] = {rt_store_int(eid)};
    if (rt_store_read(d->wh->store, RT_STORE_WH_FAILING_SINCE, v, 1, failing_row, &since) != 0)
        return now;
    return RT_MIN(since, now);
}

/* Endpoint health: 410 disables at once; continuous failure for the
 * configured window disables too, also across restarts. */
static void health(wh_disp_t *d, const attempt_t *a, int ok, long code)
{
    ep_state_t *s = ep_state(d, a->ep->eid);
    int64_t now = rt_time_ms();
    if (ok) {
        s->failing_since = 0;
        s->health_known = 1;
        return;
    }
    if (s->failing_since == 0)
        s->failing_since = s->health_known ? now : failing_since_logged(d, a->ep->eid, now);
    s->health_known = 1;
    if (code == 410)
        rt_wh_ep_disable(d->wh, a->ep->eid, "the endpoint answered 410 Gone");
    else if (now - s->failing_since >= d->wh->cfg.disable_after_ms)
        rt_wh_ep_disable(d->wh, a->ep->eid, "failing continuously");
}

static const char *error_text(const attempt_t *a, CURLcode res, long code, char *buf, size_t cap)
{
    if (a->ssrf_blocked)
        return "ssrf_blocked: the address is not public (see --webhook-allow-private)";
    if (res == CURLE_OPERATION_TIMEDOUT)
        return "timeout";
    if (res != CURLE_OK) {
        snprintf(buf, cap, "%s", a->curl_error[0] ? a->curl_error : curl_easy_strerror(res));
        return buf;
    }
    if (code >= 300 && code < 400)
        return "redirect not followed";
    return NULL;
}

static void finish(wh_disp_t *d, attempt_t *a, CURLcode res)
{
    long code = 0;
    if (res == CURLE_OK)
        curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &code);
    int64_t latency_us = (int64_t)((rt_mono_ns() - a->start_ns) / 1000);
    rt_histo_observe_ns(d->latency, (uint64_t)latency_us * 1000);
    char ebuf[RT_WH_ERROR_MAX_BYTES];
    const char *error = error_text(a, res, code, ebuf, sizeof(ebuf));
    int ok = error == NULL && code >= 200 && code < 300;
    rt_metric_add(ok ? d->m_ok : d->m_err, 1);
    int attempt_no = a->dl ? (int)a->dl->attempts + 1 : 1;
    rt_log_debug("webhook_attempt", "endpoint=%s event=%s attempt=%d status=%ld ok=%d", a->ep->id,
                 a->event_id, attempt_no, code, ok);
    if (a->test) {
        record(d, a, attempt_no, code, error, latency_us, 0, 0);
        json_t *j = attempt_json(a, attempt_no, code, error, latency_us);
        a->test->fn(a->test->arg, 0, j);
        json_decref(j);
    } else {
        int64_t next = 0;
        int state = ok ? RT_WH_DELIVERED : next_state(d, a, attempt_no, code, &next);
        ep_state_t *s = ep_state(d, a->dl->eid);
        fly_del(s, a->dl);
        a->dl->state = D_SETTLING;
        a->dl->retry = state == RT_WH_PENDING;
        a->dl->failed = state == RT_WH_FAILED;
        a->dl->next_ms = next;
        a->dl->attempts = attempt_no;
        rt_metric_add(state == RT_WH_DELIVERED ? d->m_delivered
                      : state == RT_WH_FAILED  ? d->m_failed
                                               : d->m_retry,
                      1);
        record(d, a, attempt_no, code, error, latency_us, state, next);
        health(d, a, ok, code);
        /* The slot bounds requests to the receiver, not commits: an
         * unordered endpoint may start its next delivery while this outcome
         * is committed (the delivery itself stays in memory until then). An
         * ordered one keeps it, so that a retry takes back the head first. */
        if (!a->ep->ordered) {
            s->inflight--;
            a->dl->slot = 0;
        }
    }
    d->inflight--;
    attempt_free(a);
}

static void check_done(wh_disp_t *d)
{
    int left;
    for (CURLMsg *m = curl_multi_info_read(d->multi, &left); m;
         m = curl_multi_info_read(d->multi, &left)) {
        if (m->msg != CURLMSG_DONE)
            continue;
        attempt_t *a = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
        finish(d, a, m->data.result);
    }
}

/* ============================================================= curl + uv */

typedef struct sock_ctx_s {
    uv_poll_t poll;
    curl_socket_t fd;
    wh_disp_t *d;
} sock_ctx_t;

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_ctx_t *c = h->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    wh_disp_t *d = c->d;
    curl_multi_socket_action(d->multi, c->fd, flags, &d->running_handles);
    check_done(d);
    pump(d);
}

static void free_sock(uv_handle_t *h)
{
    rt_free(h->data);
}

/* The poll handle of socket s: kept from its first transfer until libcurl
 * closes the socket (on_closesocket), because libcurl stops watching a kept-
 * alive connection between transfers, and making a handle per transfer cost
 * an allocation and three system calls (uv_poll_init_socket) each time. */
static sock_ctx_t *sock_get(wh_disp_t *d, curl_socket_t s)
{
    if ((size_t)s >= d->nsocks) {
        size_t n = d->nsocks ? d->nsocks : 64;
        while (n <= (size_t)s)
            n *= 2;
        d->socks = rt_realloc(d->socks, n * sizeof(*d->socks));
        memset(d->socks + d->nsocks, 0, (n - d->nsocks) * sizeof(*d->socks));
        d->nsocks = n;
    }
    sock_ctx_t *c = d->socks[s];
    if (c == NULL) {
        c = rt_calloc(1, sizeof(*c));
        c->fd = s;
        c->d = d;
        uv_poll_init_socket(&d->loop, &c->poll, s);
        c->poll.data = c;
        d->socks[s] = c;
    }
    return c;
}

/* libcurl closes a socket: its poll handle goes first (libuv must not poll a
 * closed descriptor). */
static int on_closesocket(void *arg, curl_socket_t s)
{
    wh_disp_t *d = arg;
    if ((size_t)s < d->nsocks && d->socks[s]) {
        uv_poll_stop(&d->socks[s]->poll);
        uv_close((uv_handle_t *)&d->socks[s]->poll, free_sock);
        d->socks[s] = NULL;
    }
    return close(s);
}

static int on_socket(CURL *e, curl_socket_t s, int action, void *userp, void *socketp)
{
    wh_disp_t *d = userp;
    sock_ctx_t *c = socketp;
    (void)e;
    if (action == CURL_POLL_REMOVE) {
        if (c) {
            uv_poll_stop(&c->poll);
            curl_multi_assign(d->multi, s, NULL);
        }
        return 0;
    }
    if (c == NULL) {
        c = sock_get(d, s);
        curl_multi_assign(d->multi, s, c);
    }
    int ev = (action & CURL_POLL_IN ? UV_READABLE : 0) | (action & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&c->poll, ev, on_poll);
    return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
    wh_disp_t *d = t->data;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &d->running_handles);
    check_done(d);
    pump(d);
}

static int on_timer_set(CURLM *m, long timeout_ms, void *userp)
{
    wh_disp_t *d = userp;
    (void)m;
    if (timeout_ms < 0)
        uv_timer_stop(&d->curl_timer);
    else
        uv_timer_start(&d->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ============================================================= attempts */

/* Envelopes read ahead for the queue from `from` on (same topic only). */
typedef struct {
    wh_disp_t *d;
    delivery_t *from;
    int64_t tid;
    size_t bytes;
} prefetch_t;

static int prefetch_row(void *arg, const rt_store_row_t *row)
{
    prefetch_t *pf = arg;
    int64_t seq = rt_store_row_int(row, 0);
    size_t len;
    const char *env = rt_store_row_text(row, 1, &len);
    delivery_t *p = pf->from;
    for (int i = 0; p && i < RT_WH_PREFETCH_EVENTS; i++, p = p->next) {
        if (p->tid == pf->tid && p->seq == seq && p->env.len == 0) {
            rt_buf_append(&p->env, env, len);
            pf->bytes += len;
            pf->d->env_bytes += len;
            break;
        }
    }
    return pf->bytes >= RT_WH_PREFETCH_MAX_BYTES || pf->d->env_bytes >= RT_WH_PREFETCH_BUDGET_BYTES;
}

/*
 * Reads the envelope of dl, the head of its queue, together with those of
 * the queued deliveries of the same topic right after it: one range query
 * of the event log instead of one query per delivery (consecutive deliveries
 * of an endpoint are mostly consecutive events of one topic). The read-ahead
 * is bounded in events and bytes per read, and in bytes held in all (many
 * endpoints paced by rateLimit could otherwise each hold a window). dl->env
 * stays empty when its event has left the log.
 */
static void prefetch(wh_disp_t *d, delivery_t *dl)
{
    prefetch_t pf = {d, dl, dl->tid, 0};
    rt_store_val_t v[3] = {rt_store_int(dl->tid), rt_store_int(dl->seq - 1),
                           rt_store_int(RT_WH_PREFETCH_EVENTS)};
    rt_store_read(d->wh->store, RT_STORE_EVENTS_RANGE, v, 3, prefetch_row, &pf);
}

static void start(wh_disp_t *d, attempt_t *a)
{
    a->d = d;
    a->retry_after_s = -1;
    a->time_ms = rt_time_ms();
    a->start_ns = rt_mono_ns();
    build_headers(a);
    setup_easy(a);
    d->inflight++;
    a->next = d->attempts;
    if (d->attempts)
        d->attempts->prev = a;
    d->attempts = a;
    curl_multi_add_handle(d->multi, a->easy);
}

/* Starts the delivery at the head of s with endpoint ep. */
static void start_delivery(wh_disp_t *d, ep_state_t *s, wh_endpoint_t *ep)
{
    delivery_t *dl = s->head;
    if (dl->env.len == 0)
        prefetch(d, dl);
    s->head = dl->next;
    if (s->head == NULL)
        s->tail = NULL;
    attempt_t *a = rt_calloc(1, sizeof(*a));
    a->d = d;
    a->dl = dl;
    a->ep = rt_wh_ep_retain(ep);
    snprintf(a->event_id, sizeof(a->event_id), "%s", dl->event_id);
    d->env_bytes -= dl->env.len;
    a->body = dl->env; /* moved */
    rt_buf_init(&dl->env);
    if (a->body.len == 0) {
        /* The event left the log (retention) before it could be delivered. */
        a->time_ms = rt_time_ms();
        dl->state = D_SETTLING;
        dl->retry = 0;
        dl->failed = 1;
        dl->slot = 1;
        s->inflight++;
        record(d, a, (int)dl->attempts + 1, 0, "event no longer in the log", 0, RT_WH_FAILED, 0);
        rt_metric_add(d->m_failed, 1);
        attempt_free(a);
        return;
    }
    dl->state = D_INFLIGHT;
    dl->slot = 1;
    s->inflight++;
    fly_add(s, dl);
    start(d, a);
}

/* Starts what the caps, due times and rate limits allow for one endpoint;
 * returns the earliest time (ms) something of it could start, or 0. */
static int64_t run_endpoint(wh_disp_t *d, ep_state_t *s, int64_t now)
{
    if (s->head == NULL)
        return 0;
    wh_endpoint_t *ep = rt_wh_ep_by_eid(d->wh, s->eid);
    if (ep == NULL || !ep->enabled) {
        drop_queue(d, s);
        rt_wh_ep_release(ep);
        return 0;
    }
    int cap = ep->ordered ? 1 : RT_WH_ENDPOINT_INFLIGHT;
    int64_t wake = 0;
    while (s->head && s->inflight < cap && d->inflight < RT_WH_MAX_INFLIGHT) {
        if (s->head->next_ms > now) {
            wake = s->head->next_ms;
            break;
        }
        if (twin_flying(s, s->head))
            break; /* its request's end pumps again */
        int64_t wait_ms;
        if (!take_token(s, ep->rate_limit, &wait_ms)) {
            wake = now + wait_ms;
            break;
        }
        start_delivery(d, s, ep);
    }
    rt_wh_ep_release(ep);
    return wake;
}

/* ================================================================= scans */

typedef struct {
    wh_disp_t *d;
    int64_t now;
    int64_t min_due;
    int rows;
} scan_t;

static void enqueue(ep_state_t *s, delivery_t *dl)
{
    if (s->tail)
        s->tail->next = dl;
    else
        s->head = dl;
    s->tail = dl;
}

static int scan_row(void *arg, const rt_store_row_t *row)
{
    scan_t *sc = arg;
    wh_disp_t *d = sc->d;
    sc->rows++;
    int64_t did = rt_store_row_int(row, 0);
    d->cursor = did;
    char key[24];
    did_key(did, key);
    if (rt_map_get(&d->loaded, key))
        return 0;
    int64_t eid = rt_store_row_int(row, 1);
    int64_t next_ms = rt_store_row_int(row, 6);
    wh_endpoint_t *ep = rt_wh_ep_by_eid(d->wh, eid);
    int usable = ep && ep->enabled;
    int ordered = ep && ep->ordered;
    rt_wh_ep_release(ep);
    if (!usable)
        return 0;
    /* An ordered endpoint keeps every row in order, due or not; others
     * leave a row that is not due for a later full scan. */
    if (next_ms > sc->now && !ordered) {
        if (sc->min_due == 0 || next_ms < sc->min_due)
            sc->min_due = next_ms;
        return 0;
    }
    delivery_t *dl = rt_calloc(1, sizeof(*dl));
    rt_buf_init(&dl->env);
    dl->did = did;
    dl->eid = eid;
    snprintf(dl->event_id, sizeof(dl->event_id), "%s", rt_store_row_text(row, 2, NULL));
    dl->tid = rt_store_row_int(row, 3);
    dl->seq = rt_store_row_int(row, 4);
    dl->attempts = rt_store_row_int(row, 5);
    dl->next_ms = next_ms;
    dl->created_ms = rt_store_row_int(row, 7);
    rt_map_put(&d->loaded, key, dl);
    d->nloaded++;
    enqueue(ep_state(d, eid), dl);
    return d->nloaded >= RT_WH_MAX_LOADED;
}

/* Loads pending rows after the cursor until the end or the memory cap;
 * returns the earliest due time of rows left behind, or 0. Leaves scan_more
 * set when it stopped before the end. */
static int64_t scan(wh_disp_t *d, int64_t now)
{
    scan_t sc = {d, now, 0, 0};
    d->scan_more = 0;
    while (d->nloaded < RT_WH_MAX_LOADED) {
        rt_store_val_t v[2] = {rt_store_int(d->cursor), rt_store_int(RT_WH_SCAN_BATCH)};
        sc.rows = 0;
        if (rt_store_read(d->wh->store, RT_STORE_WH_SCAN, v, 2, scan_row, &sc) != 0) {
            d->scan_more = 1;
            break;
        }
        if (sc.rows < RT_WH_SCAN_BATCH)
            break;
    }
    if (d->nloaded >= RT_WH_MAX_LOADED)
        d->scan_more = 1;
    return sc.min_due;
}

/* ================================================================= pump */

static void on_pump_timer(uv_timer_t *t)
{
    wh_disp_t *d = t->data;
    pthread_mutex_lock(&d->lock);
    d->full_scan = 1;
    pthread_mutex_unlock(&d->lock);
    pump(d);
}

/*
 * A replay was committed while dl's attempt was in flight or its outcome was
 * being committed. That outcome may have overwritten the replay's reset, so
 * the row is made pending again (attempts from 0, due now); once that is
 * durable the delivery comes back like a retry due now. The replay thus runs
 * after the attempt it raced, never beside it.
 */
static void rerun(wh_disp_t *d, delivery_t *dl)
{
    int64_t now = rt_time_ms();
    dl->replayed = 0;
    dl->failed = 0;
    dl->retry = 1;
    dl->attempts = 0;
    dl->next_ms = now;
    rt_store_write_t w = {RT_STORE_WH_DELIVERY_SET,
                          5,
                          {rt_store_int(dl->did), rt_store_int(RT_WH_PENDING), rt_store_int(0),
                           rt_store_int(now), rt_store_int(now)}};
    settled_t *st = rt_malloc(sizeof(*st) + sizeof(int64_t));
    st->next = NULL;
    st->wh = d->wh;
    st->n = 1;
    st->did[0] = dl->did;
    if (rt_store_submit(d->wh->store, &w, 1, on_settled, st) != 0)
        rt_free(st); /* closing: the replay's own reset may stand or not */
}

/* Applies one committed outcome: a delivery that is done leaves memory; one
 * to retry stays at its ordered endpoint's head, or leaves for the full scan
 * at its due time, which is returned (0 for none). */
static int64_t settle_one(wh_disp_t *d, int64_t did)
{
    char key[24];
    did_key(did, key);
    delivery_t *dl = rt_map_get(&d->loaded, key);
    if (dl == NULL)
        return 0;
    int64_t due = 0;
    ep_state_t *s = ep_state(d, dl->eid);
    if (dl->slot)
        s->inflight--;
    dl->slot = 0;
    if (dl->replayed) {
        rerun(d, dl);
        return 0;
    }
    /* The endpoint matters for retries only (most outcomes are not). */
    wh_endpoint_t *ep = dl->retry ? rt_wh_ep_by_eid(d->wh, dl->eid) : NULL;
    if (ep && ep->ordered) {
        dl->state = D_QUEUED;
        dl->next = s->head;
        s->head = dl;
        if (s->tail == NULL)
            s->tail = dl;
    } else {
        if (dl->retry)
            due = dl->next_ms;
        forget(d, dl);
    }
    rt_wh_ep_release(ep);
    return due;
}

/* Whether replay r reset the row of dl (webhooks_log.c's three statements). */
static int replay_matches(const replay_note_t *r, const delivery_t *dl)
{
    if (dl->eid != r->eid)
        return 0;
    if (r->event_id[0])
        return strcmp(dl->event_id, r->event_id) == 0;
    if (dl->created_ms < r->since_ms)
        return 0;
    /* onlyFailed resets rows already failed: here, a delivery whose final
     * failure is being committed (the replay may have come just after it). */
    return !r->only_failed || (dl->state == D_SETTLING && dl->failed);
}

/* Applies committed replays to the deliveries in memory and frees the notes:
 * one queued has had its row reset (it starts from attempt 0, now); one in
 * flight or settling runs again after its outcome (rerun). */
static void apply_replays(wh_disp_t *d, replay_note_t *r)
{
    while (r) {
        replay_note_t *next = r->next;
        size_t it = 0;
        const char *key;
        void *val;
        while (rt_map_next(&d->loaded, &it, &key, &val)) {
            delivery_t *dl = val;
            if (!replay_matches(r, dl))
                continue;
            if (dl->state == D_QUEUED) {
                dl->attempts = 0;
                dl->next_ms = 0;
            } else {
                dl->replayed = 1;
            }
        }
        rt_free(r);
        r = next;
    }
}

/* Applies the committed notes and frees them; returns the earliest due time
 * of the retries that left memory, or 0. */
static int64_t apply_settled(wh_disp_t *d, settled_t *st)
{
    int64_t due = 0;
    while (st) {
        settled_t *next = st->next;
        for (int i = 0; i < st->n; i++) {
            int64_t w = settle_one(d, st->did[i]);
            if (w && (due == 0 || w < due))
                due = w;
        }
        rt_free(st);
        st = next;
    }
    return due;
}

static void start_tests(wh_disp_t *d, test_req_t *t);

static void pump(wh_disp_t *d)
{
    pthread_mutex_lock(&d->lock);
    if (d->stopping) {
        /* Leave the notes where free_state() and the stop path find them. */
        pthread_mutex_unlock(&d->lock);
        return;
    }
    settled_t *st = d->settled;
    test_req_t *tests = d->tests;
    int full = d->full_scan;
    int fresh = d->new_rows;
    replay_note_t *replays = d->replays;
    d->replays = NULL;
    d->settled = NULL;
    d->tests = NULL;
    d->full_scan = 0;
    d->new_rows = 0;
    pthread_mutex_unlock(&d->lock);
    /* Replays first: a replay committed before an outcome it overwrote is
     * in this list whenever that outcome's note is in st. */
    apply_replays(d, replays);
    int64_t retry_due = apply_settled(d, st);
    start_tests(d, tests);
    int64_t now = rt_time_ms();
    if (full)
        d->cursor = 0;
    /* Reads the outbox only when it may hold something new for memory, and
     * then a whole batch at a time: pump runs on every socket event, and a
     * query per event (mostly finding nothing, or one row of room) was the
     * dispatcher's largest cost after the requests themselves. */
    d->scan_more |= full | fresh;
    int64_t wake = 0;
    if (d->scan_more && d->nloaded + RT_WH_SCAN_BATCH <= RT_WH_MAX_LOADED)
        wake = scan(d, now);
    if (retry_due && (wake == 0 || retry_due < wake))
        wake = retry_due;
    size_t it = 0;
    const char *key;
    void *val;
    while (rt_map_next(&d->eps, &it, &key, &val)) {
        int64_t w = run_endpoint(d, val, now);
        if (w && (wake == 0 || w < wake))
            wake = w;
    }
    rt_metric_set(d->m_loaded, (int64_t)d->nloaded);
    if (wake) {
        int64_t delay = wake > now ? wake - now : 1;
        if (!uv_is_active((uv_handle_t *)&d->pump_timer) ||
            uv_timer_get_due_in(&d->pump_timer) > (uint64_t)delay)
            uv_timer_start(&d->pump_timer, on_pump_timer, (uint64_t)delay, 0);
    }
}

/* ================================================================== tests */

static void start_tests(wh_disp_t *d, test_req_t *t)
{
    while (t) {
        test_req_t *next = t->next;
        t->next = NULL;
        wh_endpoint_t *ep = rt_wh_ep_by_eid(d->wh, t->eid);
        if (ep == NULL) {
            t->fn(t->arg, RT_ENOENT, NULL);
            rt_free(t);
            t = next;
            continue;
        }
        attempt_t *a = rt_calloc(1, sizeof(*a));
        a->ep = ep;
        a->test = t;
        a->d = d;
        char ulid[RT_ULID_LEN + 1], ts[RT_ISO8601_LEN];
        int64_t now = rt_time_ms();
        rt_ulid_new(now, ulid);
        rt_time_iso8601(now, ts);
        snprintf(a->event_id, sizeof(a->event_id), "evt_%s", ulid);
        rt_buf_init(&a->body);
        rt_buf_appendf(&a->body,
                       "{\"id\":\"%s\",\"topic\":\"" RT_WH_TEST_TOPIC
                       "\",\"seq\":0,\"time\":\"%s\","
                       "\"source\":\"api\",\"schemaVersion\":null,\"payload\":{\"endpointId\":"
                       "\"%s\",\"message\":\"a test event\"},\"meta\":{}}",
                       a->event_id, ts, ep->id);
        start(d, a);
        t = next;
    }
}

int rt_webhooks_test(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                     rt_wh_test_fn fn, void *arg)
{
    json_t *j = rt_webhooks_endpoint_get(wh, app, env, id);
    if (j == NULL)
        return RT_ENOENT;
    json_decref(j);
    int64_t eid = -1;
    pthread_rwlock_rdlock(&wh->lock);
    for (size_t i = 0; i < wh->neps; i++) {
        if (strcmp(wh->eps[i]->id, id) == 0)
            eid = wh->eps[i]->eid;
    }
    pthread_rwlock_unlock(&wh->lock);
    test_req_t *t = rt_calloc(1, sizeof(*t));
    t->eid = eid;
    t->fn = fn;
    t->arg = arg;
    int rc = RT_ESTATE;
    pthread_mutex_lock(&wh->disp_lock);
    wh_disp_t *d = wh->disp;
    if (d) {
        pthread_mutex_lock(&d->lock);
        if (!d->closed) {
            t->next = d->tests;
            d->tests = t;
            uv_async_send(&d->wake);
            rc = 0;
        }
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_unlock(&wh->disp_lock);
    if (rc != 0)
        rt_free(t);
    return rc;
}

/* ============================================================= lifecycle */

void rt_wh_disp_wake(rt_webhooks_t *wh, int full)
{
    pthread_mutex_lock(&wh->disp_lock);
    wh_disp_t *d = wh->disp;
    if (d) {
        pthread_mutex_lock(&d->lock);
        d->full_scan |= full;
        d->new_rows = 1;
        if (!d->closed)
            uv_async_send(&d->wake);
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_unlock(&wh->disp_lock);
}

void rt_wh_disp_replayed(rt_webhooks_t *wh, int64_t eid, const char *event_id, int64_t since_ms,
                         int only_failed)
{
    replay_note_t *r = rt_calloc(1, sizeof(*r));
    r->eid = eid;
    snprintf(r->event_id, sizeof(r->event_id), "%s", event_id ? event_id : "");
    r->since_ms = since_ms;
    r->only_failed = only_failed;
    pthread_mutex_lock(&wh->disp_lock);
    wh_disp_t *d = wh->disp;
    if (d) {
        pthread_mutex_lock(&d->lock);
        r->next = d->replays;
        d->replays = r;
        r = NULL;
        d->full_scan = 1;
        d->new_rows = 1;
        if (!d->closed)
            uv_async_send(&d->wake);
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_unlock(&wh->disp_lock);
    rt_free(r); /* not running: the next start scans everything */
}

void rt_webhooks_committed(void *ctx)
{
    rt_wh_disp_wake(ctx, 0);
}

static void on_sweep(uv_timer_t *t)
{
    wh_disp_t *d = t->data;
    rt_store_write_t w = {
        RT_STORE_WH_TRIM, 1, {rt_store_int(rt_time_ms() - d->wh->cfg.retention_ms)}};
    rt_store_submit(d->wh->store, &w, 1, NULL, NULL);
}

static int stats_row(void *arg, const rt_store_row_t *row)
{
    wh_disp_t *d = arg;
    rt_metric_set(d->m_depth, rt_store_row_int(row, 0));
    int64_t oldest = rt_store_row_is_null(row, 1) ? 0 : rt_store_row_int(row, 1);
    rt_metric_set(d->m_oldest, oldest ? RT_MAX(0, (rt_time_ms() - oldest) / 1000) : 0);
    return 1;
}

static void on_stats(uv_timer_t *t)
{
    wh_disp_t *d = t->data;
    rt_store_read(d->wh->store, RT_STORE_WH_PENDING_STATS, NULL, 0, stats_row, d);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_POLL ? free_sock : NULL);
}

/* Ends every transfer: deliveries in flight stay pending in the store and
 * are attempted again after a restart; tests are told. */
static void shutdown_loop(wh_disp_t *d)
{
    pthread_mutex_lock(&d->lock);
    d->closed = 1;
    test_req_t *tests = d->tests;
    d->tests = NULL;
    pthread_mutex_unlock(&d->lock);
    for (test_req_t *t = tests, *next; t; t = next) {
        next = t->next;
        t->fn(t->arg, RT_ESTATE, NULL);
        rt_free(t);
    }
    while (d->attempts) {
        attempt_t *a = d->attempts;
        if (a->test)
            a->test->fn(a->test->arg, RT_ESTATE, NULL);
        d->inflight--;
        attempt_free(a);
    }
    flush_outcomes(d); /* finished attempts are still recorded */
    while (d->npool > 0)
        curl_easy_cleanup(d->pool[--d->npool]);
    /* Closes the cached connections: their poll handles go through
     * on_socket(CURL_POLL_REMOVE) while the loop still runs. */
    curl_multi_cleanup(d->multi);
    d->multi = NULL;
    uv_walk(&d->loop, close_walk, NULL);
}

static void on_wake(uv_async_t *h)
{
    wh_disp_t *d = h->data;
    pthread_mutex_lock(&d->lock);
    int stopping = d->stopping;
    pthread_mutex_unlock(&d->lock);
    if (stopping) {
        shutdown_loop(d);
        return;
    }
    pump(d);
}

static void disp_main(void *arg)
{
    wh_disp_t *d = arg;
    pthread_mutex_lock(&d->lock);
    d->full_scan = 1;
    pthread_mutex_unlock(&d->lock);
    pump(d);
    uv_run(&d->loop, UV_RUN_DEFAULT);
}

int rt_webhooks_start(rt_webhooks_t *wh)
{
    wh_disp_t *d = rt_calloc(1, sizeof(*d));
    d->wh = wh;
    pthread_mutex_init(&d->lock, NULL);
    rt_map_init(&d->loaded);
    rt_map_init(&d->eps);
    uv_loop_init(&d->loop);
    uv_async_init(&d->loop, &d->wake, on_wake);
    uv_timer_init(&d->loop, &d->curl_timer);
    uv_timer_init(&d->loop, &d->pump_timer);
    uv_timer_init(&d->loop, &d->sweep_timer);
    uv_timer_init(&d->loop, &d->stats_timer);
    uv_check_init(&d->loop, &d->flush_check);
    uv_check_start(&d->flush_check, on_flush_check);
    d->flush_check.data = d;
    d->wake.data = d->curl_timer.data = d->pump_timer.data = d;
    d->sweep_timer.data = d->stats_timer.data = d;
    uv_timer_start(&d->sweep_timer, on_sweep, RT_WH_SWEEP_MS, RT_WH_SWEEP_MS);
    uv_timer_start(&d->stats_timer, on_stats, 0, RT_WH_STATS_MS);
    d->multi = curl_multi_init();
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)RT_WH_MAX_INFLIGHT);
    d->m_delivered = rt_metric_get("rt_webhook_deliveries_total", "result=\"delivered\"", "counter",
                                   "Webhook deliveries by outcome");
    d->m_failed = rt_metric_get("rt_webhook_deliveries_total", "result=\"failed\"", "counter",
                                "Webhook deliveries by outcome");
    d->m_retry = rt_metric_get("rt_webhook_deliveries_total", "result=\"retry_scheduled\"",
                               "counter", "Webhook deliveries by outcome");
    d->m_ok = rt_metric_get("rt_webhook_attempts_total", "result=\"success\"", "counter",
                            "Webhook HTTP attempts by result");
    d->m_err = rt_metric_get("rt_webhook_attempts_total", "result=\"failure\"", "counter",
                             "Webhook HTTP attempts by result");
    d->m_loaded = rt_metric_get("rt_webhook_loaded_deliveries", "", "gauge",
                                "Pending webhook deliveries held in the dispatcher's memory");
    d->m_depth = rt_metric_get("rt_webhook_queue_depth", "", "gauge",
                               "Pending webhook deliveries in the outbox");
    d->m_oldest = rt_metric_get("rt_webhook_oldest_pending_seconds", "", "gauge",
                                "Age of the oldest pending webhook delivery");
    d->latency = rt_histo_get("rt_webhook_attempt_seconds", "", "Webhook attempt latency");
    pthread_mutex_lock(&wh->disp_lock);
    wh->disp = d;
    pthread_mutex_unlock(&wh->disp_lock);
    if (uv_thread_create(&d->thread, disp_main, d) != 0) {
        rt_log_error("webhooks_start_failed", "error=\"thread\"");
        return RT_EIO;
    }
    return 0;
}

static void free_state(wh_disp_t *d)
{
    size_t it = 0;
    const char *key;
    void *val;
    while (rt_map_next(&d->loaded, &it, &key, &val)) {
        delivery_t *dl = val;
        rt_buf_close(&dl->env);
        rt_free(dl);
    }
    it = 0;
    while (rt_map_next(&d->eps, &it, &key, &val))
        rt_free(val);
    rt_map_close(&d->loaded);
    rt_map_close(&d->eps);
    rt_buf_close(&d->out_text);
    rt_free(d->socks);
    for (settled_t *st = d->settled, *next; st; st = next) {
        next = st->next;
        rt_free(st);
    }
    for (replay_note_t *r = d->replays, *next; r; r = next) {
        next = r->next;
        rt_free(r);
    }
}

void rt_webhooks_stop(rt_webhooks_t *wh)
{
    wh_disp_t *d = wh ? wh->disp : NULL;
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    uv_async_send(&d->wake);
    pthread_mutex_unlock(&d->lock);
    uv_thread_join(&d->thread);
    pthread_mutex_lock(&wh->disp_lock);
    wh->disp = NULL; /* later commits find no dispatcher and free their note */
    pthread_mutex_unlock(&wh->disp_lock);
    uv_loop_close(&d->loop);
    free_state(d);
    pthread_mutex_destroy(&d->lock);
    rt_free(d);
}
