/*
 * store.h - the storage interface. Everything durable (registry records, the
 * event log, later the webhook outbox) goes through here; nothing else in the
 * server opens the database.
 *
 * Writes are named operations (rt_store_op_t) with positional values. They are
 * queued to one writer thread, which commits everything queued so far in one
 * transaction (group commit) and then calls each job's completion callback on
 * the writer thread. Reads run synchronously on a pooled read connection and
 * may be called from any thread except a libuv worker loop (use a thread-pool
 * work item there): in WAL mode readers never wait for the writer.
 */
#ifndef RT_STORE_H
#define RT_STORE_H

#include "core/core.h"

#define RT_STORE_MAX_VALS       12   /* values per operation */
#define RT_STORE_MAX_BATCH_JOBS 2048 /* jobs per group commit */
#define RT_STORE_READERS_MAX    8    /* pooled read connections */
#define RT_STORE_CHECKPOINT_MS  500  /* period of the background WAL checkpoint */

typedef struct rt_store_s rt_store_t;

typedef enum { RT_STORE_FSYNC_NORMAL, RT_STORE_FSYNC_ALWAYS } rt_store_fsync_t;

/* Named operations; their SQL lives in the backend. Values are listed in the
 * order the backend binds them (see store_sqlite.c's table). */
typedef enum {
    /* writes */
    RT_STORE_META_PUT,     /* key, value */
    RT_STORE_APP_PUT,      /* id, name, created_ms */
    RT_STORE_APP_DEL,      /* id */
    RT_STORE_ENV_PUT,      /* app, id, name, signing_secret, created_ms */
    RT_STORE_ENV_DEL,      /* app, id */
    RT_STORE_KEY_PUT,      /* id, app, env, name, hash, prefix, created_ms */
    RT_STORE_KEY_REVOKE,   /* id, revoked_ms */
    RT_STORE_TOPIC_PUT,    /* tid, app, env, name, description, retention_ms, retention_count,
                              active_schema_version, compatibility, created_ms,
                              format_assertion */
    RT_STORE_TOPIC_DEL,    /* tid */
    RT_STORE_EVENT_APPEND, /* tid, seq, id, time_ms, envelope */
    RT_STORE_EVENT_TRIM,   /* tid, keep_after_seq, min_time_ms */
    RT_STORE_SCHEMA_PUT,   /* tid, version, body, created_ms */
    /* reads */
    RT_STORE_META_GET,     /* key -> value */
    RT_STORE_APPS_ALL,     /* -> id, name, created_ms */
    RT_STORE_ENVS_ALL,     /* -> app, id, name, signing_secret, created_ms */
    RT_STORE_KEYS_ALL,     /* -> id, app, env, name, hash, prefix, created_ms, revoked_ms */
    RT_STORE_TOPICS_ALL,   /* -> tid, app, env, name, description, retention_ms,
                              retention_count, active_schema_version, compatibility,
                              created_ms, seq (the highest seq ever assigned),
                              format_assertion */
    RT_STORE_EVENTS_RANGE, /* tid, after_seq, limit -> seq, envelope */
    RT_STORE_SCHEMAS_ALL,  /* -> tid, version, body, created_ms */
    /* webhooks (src/webhooks) */
    RT_STORE_WH_ENDPOINT_PUT,  /* eid, id, app, env, enabled, config, secret, old_secret,
                                  old_until_ms, created_ms, updated_ms */
    RT_STORE_WH_ENDPOINT_DEL,  /* eid (with its deliveries and attempts) */
    RT_STORE_WH_OUTBOX_PUT,    /* event_id, tid, seq, now_ms, eid x 8 (NULL: unused) */
    RT_STORE_WH_DELIVERY_SET,  /* did, state, attempts, next_ms, updated_ms */
    RT_STORE_WH_ATTEMPT_PUT,   /* eid, did, event_id, attempt, time_ms, status_code, error,
                                  latency_us, response */
    RT_STORE_WH_REPLAY_EVENT,  /* eid, event_id, now_ms */
    RT_STORE_WH_REPLAY_SINCE,  /* eid, since_ms, only_failed, now_ms */
    RT_STORE_WH_REPLAY_INSERT, /* eid, event_id, tid, seq, now_ms */
    RT_STORE_WH_TRIM,          /* before_ms */
    RT_STORE_WH_ENDPOINTS_ALL, /* -> the columns of RT_STORE_WH_ENDPOINT_PUT */
    RT_STORE_WH_SCAN,          /* after_did, limit -> did, eid, event_id, tid, seq, attempts,
                                  next_ms, created_ms (pending deliveries) */
    RT_STORE_WH_ATTEMPTS,      /* eid, before_aid, status (0 any, 1 2xx, 2 other), event_id,
                                  limit -> aid, did, event_id, attempt, time_ms, status_code,
                                  error, latency_us, response */
    RT_STORE_WH_REPLAY_COUNT,  /* eid, event_id, since_ms, only_failed -> count */
    RT_STORE_WH_EVENT_BY_ID,   /* event_id -> tid, seq */
    RT_STORE_WH_PENDING_STATS, /* -> count, MIN(created_ms) of pending deliveries */
    RT_STORE_WH_FAILING_SINCE, /* eid -> MIN(time_ms) of the attempts after its last 2xx */
    /* change data capture (src/cdc) */
    RT_STORE_CDC_SOURCE_PUT,   /* app, env, name, config, created_ms */
    RT_STORE_CDC_SOURCE_DEL,   /* app, env, name (with its checkpoint) */
    RT_STORE_CDC_MAPPING_PUT,  /* app, env, name, source, config, created_ms */
    RT_STORE_CDC_MAPPING_DEL,  /* app, env, name */
    RT_STORE_CDC_CHECKPOINT,   /* app, env, source, lsn, updated_ms */
    RT_STORE_CDC_SOURCES_ALL,  /* -> app, env, name, config, created_ms, lsn (NULL: none) */
    RT_STORE_CDC_MAPPINGS_ALL, /* -> app, env, name, source, config, created_ms */
    RT_STORE_OP_COUNT
} rt_store_op_t;

typedef enum { RT_STORE_NULL, RT_STORE_INT, RT_STORE_TEXT } rt_store_type_t;

typedef struct {
    rt_store_type_t type;
    int64_t i;
    const char *s; /* TEXT: borrowed for the call; rt_store_submit copies it */
    size_t len;
} rt_store_val_t;

static inline rt_store_val_t rt_store_int(int64_t i)
{
    rt_store_val_t v = {RT_STORE_INT, i, NULL, 0};
    return v;
}

/* A NULL s gives SQL NULL. */
rt_store_val_t rt_store_text(const char *s);
rt_store_val_t rt_store_textn(const char *s, size_t len);

/* One write operation of a job. */
typedef struct {
    rt_store_op_t op;
    int nvals;
    rt_store_val_t vals[RT_STORE_MAX_VALS];
} rt_store_write_t;

/* Called on the writer thread once the job's writes are committed (status 0)
 * or failed (negative RT_E*; none of the job's writes took effect). */
typedef void (*rt_store_done_fn)(void *arg, int status);

/*
 * Opens (creating if needed) the database under dir and migrates it to the
 * current schema version, then starts the writer thread. Returns 0 and
 * *out (caller frees with rt_store_close()), or RT_EIO with a log line.
 */
int rt_store_open(const char *dir, rt_store_fsync_t fsync_mode, rt_store_t **out);

/* Commits everything queued, stops the writer thread and closes. NULL is ok. */
void rt_store_close(rt_store_t *s);

/*
 * Queues a job of n writes to be committed atomically in the next group
 * commit; done (may be NULL) is called on the writer thread afterwards. The
 * writes and their TEXT values are copied.
 * Jobs commit in submission order. Thread-safe. Returns 0, or RT_ESTATE when
 * the store is closing (done is then not called).
 */
int rt_store_submit(rt_store_t *s, const rt_store_write_t *writes, int n, rt_store_done_fn done,
                    void *arg);

/* A row handed to a read callback: borrowed, valid during the callback. */
typedef struct rt_store_row_s rt_store_row_t;
int64_t rt_store_row_int(const rt_store_row_t *row, int col);
/* NULL for SQL NULL; *len may be NULL. */
const char *rt_store_row_text(const rt_store_row_t *row, int col, size_t *len);
int rt_store_row_is_null(const rt_store_row_t *row, int col);

/* Return nonzero from a row callback to stop early. */
typedef int (*rt_store_row_fn)(void *arg, const rt_store_row_t *row);

/*
 * Runs read operation op with vals and calls fn for each row. Blocking: call
 * it from start-up code or a thread-pool work item, never on a worker loop.
 * Thread-safe. Returns 0 or RT_EIO.
 */
int rt_store_read(rt_store_t *s, rt_store_op_t op, const rt_store_val_t *vals, int nvals,
                  rt_store_row_fn fn, void *arg);

/* Returns the schema version the database is at (for tests and /readyz). */
int rt_store_schema_version(rt_store_t *s);

/* Returns 1 while the writer is healthy (no failed commit since start). */
int rt_store_healthy(rt_store_t *s);

#endif
