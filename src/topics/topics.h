/*
 * topics.h - the one publish path (ARCHITECTURE §2), the event log's history
 * reads, retention, and the per-worker subscription index with cross-thread
 * fan-out (§4).
 *
 * rt_topic_publish() checks the event, gives it the next seq of its topic,
 * encodes the envelope once, and queues it to the store. Once committed (on
 * the store's writer thread) the producer's callback runs and the event is
 * posted, as one refcounted object, to every worker; each worker encodes it
 * once per subscriber kind and hands the same bytes to each local subscriber.
 */
#ifndef RT_TOPICS_H
#define RT_TOPICS_H

#include <jansson.h>

#include "core/core.h"
#include "net/net.h"
#include "registry/registry.h"

#define RT_HISTORY_LIMIT_DEFAULT 100
#define RT_HISTORY_LIMIT_MAX     1000
#define RT_REPLAY_BATCH          1000  /* events read per replay step */
#define RT_RETENTION_SWEEP_MS    60000 /* how often retention runs */
#define RT_PATTERN_MAX_BYTES     255

typedef enum { RT_SOURCE_API, RT_SOURCE_SOCKET, RT_SOURCE_CDC, RT_SOURCE_SYNC } rt_source_t;

const char *rt_source_name(rt_source_t s);

/*
 * A committed event, immutable and refcounted (rt_event_retain/release). The
 * envelope is the JSON of ARCHITECTURE §5.3, exactly what history and webhooks
 * return.
 */
typedef struct rt_event_s {
    atomic_int refs;
    int64_t tid;
    int64_t seq;
    rt_topic_t *topic; /* reference */
    char id[32];       /* "evt_" + ULID */
    rt_rc_t *envelope;
} rt_event_t;

rt_event_t *rt_event_retain(rt_event_t *ev);
void rt_event_release(rt_event_t *ev);

typedef struct rt_topics_s rt_topics_t;

/* Creates the hub over registry and server (both borrowed; they outlive it).
 * Registers per-worker state through a server worker hook. */
int rt_topics_new(rt_registry_t *registry, rt_server_t *server, rt_topics_t **out);
void rt_topics_free(rt_topics_t *h);

/* ----------------------------------------------------------------- publish */

typedef struct {
    const char *app;
    const char *env;
    const char *topic;
    const json_t *payload; /* borrowed */
    const json_t *meta;    /* borrowed; NULL gives {} */
    rt_source_t source;
} rt_publish_t;

/* A refused publish: HTTP status, stable code, message, optional details. */
typedef struct {
    int status;
    const char *code;
    const char *message;
    json_t *details; /* owned by the receiver: json_decref */
} rt_publish_error_t;

/* Called on the store's writer thread after the commit: status 0 with the
 * event (borrowed for the call; retain to keep), or a storage failure. */
typedef void (*rt_publish_done_fn)(void *arg, int status, const rt_event_t *ev);

/*
 * Publishes one event. Returns 0 and later calls done exactly once; or
 * returns a negative RT_E* with *err filled and never calls done (unknown
 * topic, invalid payload, store closing). Thread-safe; never blocks on I/O.
 */
int rt_topic_publish(rt_topics_t *h, const rt_publish_t *p, rt_publish_done_fn done, void *arg,
                     rt_publish_error_t *err);

/* A publish of a transaction: the item, and optionally a fixed event id (for
 * producers that must derive ids from their position, like CDC, so that a
 * replay after a crash cannot create a second event). */
typedef struct {
    rt_publish_t p;
    const char *id; /* NULL: a new ULID id */
} rt_publish_item_t;

/* Writer thread: status 0 once committed; events[i] is NULL for an item that
 * was refused (its errs[i] said why). Borrowed for the call. */
typedef void (*rt_publish_txn_done_fn)(void *arg, int status, rt_event_t *const *events, size_t n);

/*
 * Publishes items as one atomic storage commit together with the extra store
 * writes (e.g. a CDC checkpoint). Items refused by the checks (unknown topic,
 * schema) are left out and reported in errs[i] (status != 0); the rest, and
 * the extra writes, commit together even if every item was refused. Returns 0
 * and calls done exactly once, or RT_ESTATE when the store is closing (done
 * not called). Thread-safe.
 */
int rt_topics_publish_txn(rt_topics_t *h, const rt_publish_item_t *items, size_t n,
                          const rt_store_write_t *extra, int nextra, rt_publish_txn_done_fn done,
                          void *arg, rt_publish_error_t *errs);

/* ------------------------------------------------------------------ outbox */

#define RT_OUTBOX_MAX_WRITES 16 /* store writes one event may add */

/*
 * The webhook outbox interface: called for each event while its store job is
 * built (publisher thread, topic lock held: be quick, take no topic lock),
 * it appends at most max writes (one delivery row per matching endpoint) to
 * out and returns how many. committed(ctx) runs on the writer thread after a
 * job with outbox writes committed. Set once, before the server starts.
 */
typedef int (*rt_topics_outbox_fn)(void *ctx, const rt_event_t *ev, rt_store_write_t *out, int max);
void rt_topics_set_outbox(rt_topics_t *h, rt_topics_outbox_fn fn, void (*committed)(void *ctx),
                          void *ctx);

/* ----------------------------------------------------------------- history */

/* One page of history: envelopes in seq order (owned by the page). */
typedef struct {
    size_t n;
    int64_t *seqs;
    rt_rc_t **envelopes;
    int status; /* 0 or RT_EIO */
} rt_history_t;

typedef void (*rt_history_fn)(void *arg, rt_history_t *page);

/* Reads up to limit events of tid with seq > after on the thread pool of
 * worker w, then calls fn on w's loop. The page is freed after fn returns. */
void rt_topics_history(rt_topics_t *h, rt_worker_t *w, int64_t tid, int64_t after, size_t limit,
                       rt_history_fn fn, void *arg);

/* ------------------------------------------------------------ subscriptions */

typedef struct rt_sub_s rt_sub_t;

/*
 * One event's bytes for one subscriber kind: a slice of a refcounted page.
 * A worker copies the frames of successive events into the same page, one
 * after the other, so a connection sent several of them in a row queues one
 * contiguous run (rt_conn_write_rc() joins adjacent slices of one block).
 * The page is borrowed for the duration of deliver; retain it to keep it.
 */
typedef struct {
    rt_rc_t *page;
    uint32_t off, len;
} rt_frame_t;

/*
 * What a subscriber kind (WebSocket, Socket.IO) provides. encode turns an
 * event into the bytes for this kind (called once per event per worker per
 * kind; returns a new block, which the engine may copy into a page and
 * release); deliver hands those bytes to one subscriber.
 */
typedef struct {
    rt_rc_t *(*encode)(const rt_event_t *ev, const rt_sub_t *sub);
    void (*deliver)(rt_sub_t *sub, const rt_event_t *ev, const rt_frame_t *frame);
    /* Replay finished (since-subscriptions): called once, then live. */
    void (*replayed)(rt_sub_t *sub, int status);
} rt_sub_ops_t;

/*
 * A subscription, embedded in the subscriber's own record and owned by it.
 * Lives on one worker; every call below is made on that worker's thread.
 * Invariant: while replaying, live events are parked in `parked` and
 * delivered after the replay, skipping any seq already delivered.
 */
struct rt_sub_s {
    rt_sub_t *prev, *next; /* index list */
    const rt_sub_ops_t *ops;
    void *owner;      /* the subscriber's own pointer */
    char *key;        /* "app/env/topic" or "app/env/pattern" */
    char *scope;      /* "app/env" */
    int pattern;      /* key holds a pattern */
    int64_t next_seq; /* exact topic: deliver only seq >= next_seq */
    int64_t tid;
    int replaying;
    rt_event_t **parked;
    size_t nparked, capparked;
    void *local;  /* the worker index it is in */
    void *replay; /* the replay in progress, if any */
};

/* Subscribes sub (fields zeroed by the caller, ops and owner set) on worker
 * w to exact topic t (since < 0: live from now, else replay seq > since) or to
 * a pattern (t NULL, app/env/pattern given; since must be < 0). Returns 0;
 * the topic's current seq in *seq_out for exact topics. */
int rt_topics_subscribe(rt_topics_t *h, rt_worker_t *w, rt_sub_t *sub, rt_topic_t *t,
                        const char *app, const char *env, const char *pattern, int64_t since,
                        int64_t *seq_out);

/* Removes sub from the index and frees what the index allocated in it. */
void rt_topics_unsubscribe(rt_topics_t *h, rt_sub_t *sub);

/* --------------------------------------------------------------- patterns */

/* A valid pattern: topic-name segments, where a segment may be "*" (exactly
 * one segment) and the last may be ">" (one or more). */
int rt_topics_pattern_valid(const char *p, size_t len);
int rt_topics_pattern_is_literal(const char *p, size_t len);

/* Returns 1 if topic name matches pattern. */
int rt_topics_match(const char *pattern, const char *topic);

/* Returns 1 if any pattern of the JSON array list (of strings) matches topic;
 * NULL list means everything is allowed. */
int rt_topics_allowed(const json_t *list, const char *topic);

#endif
