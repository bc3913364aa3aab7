/*
 * webhooks.h - webhook endpoints and their delivery (ARCHITECTURE §5.6,
 * Standard Webhooks v1): the endpoint cache and CRUD, the durable outbox hook
 * that topics calls while an event's store job is built, the dispatcher (its
 * own thread and libuv loop driving libcurl's multi interface), signing,
 * retries, the attempt log, replay and the SSRF guard.
 *
 * Durability: a delivery row is written in the same commit as its event, so an
 * event acknowledged to its producer is delivered at least once even if the
 * process dies right after the acknowledgement.
 */
#ifndef RT_WEBHOOKS_H
#define RT_WEBHOOKS_H

#include <jansson.h>

#include "core/core.h"
#include "registry/registry.h"
#include "store/store.h"
#include "topics/topics.h"

#define RT_WH_SECRET_PREFIX            "whsec_"
#define RT_WH_SECRET_MIN_BYTES         24
#define RT_WH_SECRET_MAX_BYTES         64
#define RT_WH_SECRET_NEW_BYTES         32
#define RT_WH_ROTATE_OVERLAP_MS        (24LL * 3600 * 1000) /* old secret keeps signing */
#define RT_WH_URL_MAX_BYTES            2048
#define RT_WH_MAX_TOPICS               64 /* topic names/patterns per endpoint */
#define RT_WH_MAX_HEADERS              32 /* extra static headers per endpoint */
#define RT_WH_HEADER_MAX_BYTES         1024
#define RT_WH_MAX_ENDPOINTS_PER_ENV    1000
#define RT_WH_EIDS_PER_WRITE           8 /* endpoint ids one outbox write carries */
#define RT_WH_MAX_MATCHES              (RT_WH_EIDS_PER_WRITE * RT_OUTBOX_MAX_WRITES)
#define RT_WH_CONNECT_TIMEOUT_MS       5000
#define RT_WH_TIMEOUT_MS_DEFAULT       15000
#define RT_WH_RESPONSE_MAX_BYTES       1024 /* response body kept in the attempt log */
#define RT_WH_ERROR_MAX_BYTES          256
#define RT_WH_MAX_RETRIES              32 /* entries of a retry schedule */
#define RT_WH_JITTER_PERCENT           20
#define RT_WH_RETRY_AFTER_MAX_S        (24 * 3600)
#define RT_WH_RETRY_DATE_MAX_BYTES     64      /* longer than any HTTP-date */
#define RT_WH_MAX_INFLIGHT             256     /* attempts in flight, all endpoints */
#define RT_WH_ENDPOINT_INFLIGHT        16      /* per-endpoint concurrency cap */
#define RT_WH_MAX_LOADED               4096    /* deliveries held in memory */
#define RT_WH_SCAN_BATCH               512     /* delivery rows read per scan step */
#define RT_WH_PREFETCH_EVENTS          64      /* envelopes read ahead in one query */
#define RT_WH_PREFETCH_MAX_BYTES       262144  /* ...and at most 256 KiB of them */
#define RT_WH_PREFETCH_BUDGET_BYTES    8388608 /* read ahead and held, all endpoints */
#define RT_WH_FLUSH_MAX                256     /* outcomes committed in one store job */
#define RT_WH_DISABLE_AFTER_MS_DEFAULT (5LL * 24 * 3600 * 1000)
#define RT_WH_RETENTION_MS_DEFAULT     (30LL * 24 * 3600 * 1000)
#define RT_WH_SWEEP_MS                 60000 /* attempt-log retention sweep period */
#define RT_WH_STATS_MS                 5000  /* queue depth and oldest-age gauges period */
#define RT_WH_ALLOW_CIDRS_MAX          32
#define RT_WH_TEST_TOPIC               "webhook.test"
#define RT_WH_DISABLED_TOPIC           "webhook.endpoint.disabled"

/* Delivery states (wh_deliveries.state). */
enum { RT_WH_PENDING = 0, RT_WH_DELIVERED = 1, RT_WH_FAILED = 2 };

typedef struct rt_webhooks_s rt_webhooks_t;

/* One CIDR of the SSRF allow-list: family AF_INET or AF_INET6. */
typedef struct {
    int family;
    unsigned char addr[16];
    int prefix;
} rt_wh_cidr_t;

typedef struct {
    int64_t retry_s[RT_WH_MAX_RETRIES]; /* delay before attempt i+1 */
    int nretry;
    int allow_private;
    rt_wh_cidr_t allow[RT_WH_ALLOW_CIDRS_MAX];
    int nallow;
    int64_t timeout_ms;
    int64_t disable_after_ms; /* failing continuously this long disables */
    int64_t retention_ms;     /* attempt log and finished deliveries */
} rt_wh_config_t;

/* Fills c with the defaults (Svix's schedule, 15 s, 5 days, 30 days). */
void rt_wh_config_defaults(rt_wh_config_t *c);

/* Parses "0,5,300,…" (seconds) into c. RT_EINVAL on junk. */
int rt_wh_parse_schedule(const char *s, rt_wh_config_t *c);

/*
 * Parses a Retry-After header value (RFC 9110 §10.2.3): delay-seconds or an
 * HTTP-date, relative to now_s (seconds since the epoch), surrounding
 * whitespace allowed. Returns 0 and *out_s in 0..RT_WH_RETRY_AFTER_MAX_S (a
 * date in the past is 0), or RT_EINVAL: the value is then ignored and the
 * retry schedule applies. Fed by the network.
 */
int rt_wh_retry_after(const char *v, size_t len, int64_t now_s, int64_t *out_s);

/* Parses a comma-separated CIDR list ("10.0.0.0/8,fd00::/8") into c. */
int rt_wh_parse_cidrs(const char *s, rt_wh_config_t *c);

/* ------------------------------------------------------------- lifecycle */

/*
 * Loads every endpoint from the store behind registry and creates the
 * dispatcher (not yet running). Returns 0 and *out (caller frees with
 * rt_webhooks_free()), or RT_EIO. Start-up thread.
 */
int rt_webhooks_new(const rt_wh_config_t *cfg, rt_registry_t *registry, rt_topics_t *topics,
                    rt_webhooks_t **out);

/* The outbox hook and commit callback for rt_topics_set_outbox(ctx = wh). */
int rt_webhooks_outbox(void *ctx, const rt_event_t *ev, rt_store_write_t *out, int max);
void rt_webhooks_committed(void *ctx);

/* Starts and stops the dispatcher thread (main thread). Stop abandons the
 * attempts in flight: their deliveries stay pending in the store and are
 * attempted again after a restart. Stop before rt_store_close(); free after
 * it (commit callbacks reach wh until the store is closed). Stop accepts NULL. */
int rt_webhooks_start(rt_webhooks_t *wh);
void rt_webhooks_stop(rt_webhooks_t *wh);
void rt_webhooks_free(rt_webhooks_t *wh);

/* ------------------------------------------------------------- endpoints */

/* A refused change: the field and message per problem, as the §5 details. */
typedef struct {
    json_t *details; /* [{"field","message"}], owned by the receiver */
} rt_wh_invalid_t;

/*
 * Creates an endpoint from a JSON body. Returns RT_EINVAL with inv->details,
 * RT_ELIMIT, or 0 with *json (the record including "secret"; caller
 * json_decref) and done called once durable (writer thread). Thread-safe.
 */
int rt_webhooks_endpoint_create(rt_webhooks_t *wh, const char *app, const char *env,
                                const json_t *body, json_t **json, rt_wh_invalid_t *inv,
                                rt_registry_done_fn done, void *arg);
/* Applies a PATCH body; same returns, plus RT_ENOENT. */
int rt_webhooks_endpoint_patch(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                               const json_t *body, json_t **json, rt_wh_invalid_t *inv,
                               rt_registry_done_fn done, void *arg);
int rt_webhooks_endpoint_delete(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                                rt_registry_done_fn done, void *arg);
/* Replaces the secret; the old one keeps signing for RT_WH_ROTATE_OVERLAP_MS.
 * *json = {"secret"}. */
int rt_webhooks_endpoint_rotate(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                                json_t **json, rt_registry_done_fn done, void *arg);
/* The record (no secret), or NULL. New reference. */
json_t *rt_webhooks_endpoint_get(rt_webhooks_t *wh, const char *app, const char *env,
                                 const char *id);
/* {"secret"} or NULL. New reference. */
json_t *rt_webhooks_endpoint_secret(rt_webhooks_t *wh, const char *app, const char *env,
                                    const char *id);
/* {"items":[…]} ordered by id, after id `after` (may be NULL). */
json_t *rt_webhooks_endpoint_list(rt_webhooks_t *wh, const char *app, const char *env,
                                  const char *after, size_t limit);

/* ------------------------------------------------- attempts, replay, test */

typedef struct {
    const char *status; /* "success", "failure" or NULL for any */
    const char *event_id;
    int64_t before_aid; /* page: attempts with aid < this; 0 for the newest */
    size_t limit;
} rt_wh_attempt_query_t;

/*
 * Reads one page of an endpoint's attempts, newest first:
 * {"items":[…],"next":cursor|null}. Blocking (store read): thread pool only.
 * RT_ENOENT for an unknown endpoint.
 */
int rt_webhooks_attempts(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                         const rt_wh_attempt_query_t *q, json_t **out);

/*
 * Re-queues deliveries of an endpoint: one event (event_id; a new delivery if
 * it never had one), or every delivery created at or after since_ms (only the
 * failed ones with only_failed). Blocking (store read): thread pool only.
 * Returns 0 with *count set before done can run (done then runs once, writer
 * thread), or RT_ENOENT (endpoint, or event not in the log), RT_EIO, RT_ESTATE.
 */
int rt_webhooks_replay(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                       const char *event_id, int64_t since_ms, int only_failed, int64_t *count,
                       rt_registry_done_fn done, void *arg);

/* Called on the dispatcher thread with the attempt record (borrowed). */
typedef void (*rt_wh_test_fn)(void *arg, int status, const json_t *attempt);

/* Sends a synthetic webhook.test event to the endpoint now; fn runs once with
 * the attempt. RT_ENOENT, RT_ESTATE (not running), or 0. Thread-safe. */
int rt_webhooks_test(rt_webhooks_t *wh, const char *app, const char *env, const char *id,
                     rt_wh_test_fn fn, void *arg);

/* --------------------------------------------------------------- signing */

/*
 * Builds the webhook-signature header value of Standard Webhooks v1 for one
 * secret ("whsec_…"): "v1,<base64(HMAC-SHA256(key, id.timestamp.body))>",
 * appended to out (a space first when out is not empty). RT_EINVAL for a
 * malformed secret.
 */
int rt_wh_sign(const char *secret, const char *id, int64_t timestamp, const char *body, size_t len,
               rt_buf_t *out);

/* A new secret "whsec_" + base64 of RT_WH_SECRET_NEW_BYTES random bytes.
 * Caller frees with rt_free(). */
char *rt_wh_secret_new(void);

/* 1 if s is "whsec_" + base64 of 24..64 bytes. */
int rt_wh_secret_valid(const char *s);

/* Standard base64 with padding. */
void rt_wh_base64_encode(const unsigned char *in, size_t n, rt_buf_t *out);
/* Decodes standard base64 (padding optional) into out (cap bytes); RT_EINVAL
 * on junk, RT_ETOOBIG if it does not fit. */
int rt_wh_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen);

/* ------------------------------------------------------------------ SSRF */

/*
 * Returns 1 when a connection to sa (struct sockaddr of AF_INET/AF_INET6) is
 * allowed by cfg: public addresses always; loopback, private, link-local,
 * CGNAT, multicast, unspecified, reserved and IPv6 ULA/link-local only with
 * allow_private or a matching allow-list CIDR.
 */
int rt_wh_addr_allowed(const rt_wh_config_t *cfg, const void *sa);

#endif
