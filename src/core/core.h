/*
 * core.h - the contract of the core subsystem: error codes, allocation,
 * assertions, time, ULIDs, growable buffers, refcounted byte blocks and the
 * structured logger. Every other subsystem may include this header; it
 * includes nothing of the project.
 */
#ifndef RT_CORE_H
#define RT_CORE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---------------------------------------------------------------- errors */

/* Every fallible function returns 0 or one of these (negative) codes. */
enum {
    RT_OK = 0,
    RT_EAGAIN = -1,   /* need more input (incremental parsers) */
    RT_ENOMEM = -2,   /* out of memory (SDK only; the server aborts) */
    RT_EINVAL = -3,   /* malformed input or argument */
    RT_ENOENT = -4,   /* no such thing */
    RT_EEXIST = -5,   /* already exists */
    RT_ETOOBIG = -6,  /* over a size limit */
    RT_EIO = -7,      /* storage or system failure */
    RT_EPROTO = -8,   /* protocol violation by the peer */
    RT_EPERM = -9,    /* not allowed */
    RT_ESTATE = -10,  /* wrong state for this call */
    RT_ELIMIT = -11,  /* a rate or count limit was hit */
    RT_EVERSION = -12 /* unsupported protocol version */
};

/* Returns a static, human-readable name for an RT_E* code. */
const char *rt_strerror(int err);

/* ------------------------------------------------------------ allocation */

/*
 * The server never handles out-of-memory locally: these wrappers abort
 * through one handler with a log line, so callers need no NULL checks.
 * rt_free(NULL) is a no-op.
 */
void *rt_malloc(size_t n);
void *rt_calloc(size_t count, size_t n);
void *rt_realloc(void *p, size_t n);
char *rt_strdup(const char *s);
char *rt_strndup(const char *s, size_t n);
void rt_free(void *p);

/* --------------------------------------------------------------- asserts */

void rt_assert_fail(const char *expr, const char *file, int line);

/* Invariants: on in every build, since a broken invariant in a server that
 * holds other people's events is worse than a crash. */
#define rt_assert(e) ((e) ? (void)0 : rt_assert_fail(#e, __FILE__, __LINE__))

#define RT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define RT_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define RT_MAX(a, b)    ((a) > (b) ? (a) : (b))

/* ------------------------------------------------------------------ time */

/* Wall clock, milliseconds since the Unix epoch. */
int64_t rt_time_ms(void);

/* Monotonic clock in nanoseconds, for durations only. */
uint64_t rt_mono_ns(void);

#define RT_ISO8601_LEN 25 /* "2026-11-28T03:16:23.123Z" plus NUL */

/* Formats ms-since-epoch as UTC ISO-8601 with milliseconds into out. */
void rt_time_iso8601(int64_t ms, char out[RT_ISO8601_LEN]);

/* ------------------------------------------------------------ randomness */

/* Fills buf with cryptographically secure random bytes (aborts on failure). */
void rt_random_bytes(void *buf, size_t n);

/* -------------------------------------------------------------------- ids */

#define RT_ULID_LEN 26

/*
 * Writes a ULID (Crockford base32, 26 chars, NUL-terminated) for time ms.
 * Within one millisecond the random part is incremented, so ids made by one
 * process sort in creation order. Thread-safe.
 */
void rt_ulid_new(int64_t ms, char out[RT_ULID_LEN + 1]);

/* Returns 1 if s (len bytes) is a syntactically valid ULID, else 0. */
int rt_ulid_valid(const char *s, size_t len);

/* -------------------------------------------------------------- buffers */

/*
 * A growable byte buffer. Invariant: data is NUL-terminated when len > 0 or
 * after any append, so it can be handed to string functions; cap counts the
 * terminator's room.
 */
typedef struct rt_buf_s {
    char *data;
    size_t len;
    size_t cap;
} rt_buf_t;

void rt_buf_init(rt_buf_t *b);
void rt_buf_close(rt_buf_t *b);
void rt_buf_reserve(rt_buf_t *b, size_t extra);
void rt_buf_append(rt_buf_t *b, const void *p, size_t n);
void rt_buf_append_str(rt_buf_t *b, const char *s);
void rt_buf_appendf(rt_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rt_buf_consume(rt_buf_t *b, size_t n);

/* Appends s as a JSON string literal (quotes and escapes included). */
void rt_buf_append_json_str(rt_buf_t *b, const char *s, size_t n);

/*
 * Appends j as compact JSON. Unlike json_dumps(), reals use the shortest text
 * that reads back to the same double (0.1, not 0.10000000000000001).
 */
void rt_buf_append_json(rt_buf_t *b, const json_t *j);

/* Hands the storage to the caller (caller frees with rt_free()) and resets b. */
char *rt_buf_steal(rt_buf_t *b, size_t *len);

/* --------------------------------------------------- refcounted blocks */

/*
 * A refcounted byte block: encoded event frames shared by every connection
 * they are written to. Bytes once shared are never changed (the one thread
 * that fills a block may still append after them). Created with refs = 1;
 * the last rt_rc_release frees it. Over-release is asserted.
 */
typedef struct rt_rc_s {
    atomic_int refs;
    size_t len;
    char data[];
} rt_rc_t;

rt_rc_t *rt_rc_new(size_t len);
rt_rc_t *rt_rc_retain(rt_rc_t *rc);
void rt_rc_release(rt_rc_t *rc);

/* ------------------------------------------------------------ string map */

/*
 * An open-addressing hash map from NUL-terminated string keys to pointers.
 * Keys are copied; values are borrowed (the map never frees them). Not
 * thread-safe: the owner serialises access.
 */
typedef struct rt_map_s {
    struct rt_map_slot_s *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
    size_t tombs;
} rt_map_t;

void rt_map_init(rt_map_t *m);
void rt_map_close(rt_map_t *m);
void *rt_map_get(const rt_map_t *m, const char *key);
/* Sets key to value (replacing any previous value, which is returned). */
void *rt_map_put(rt_map_t *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *rt_map_del(rt_map_t *m, const char *key);
/* Iterates: start with *it = 0; returns 0 at the end. */
int rt_map_next(const rt_map_t *m, size_t *it, const char **key, void **value);

/* ---------------------------------------------------------------- metrics */

/*
 * Process-wide Prometheus metrics. A counter or gauge is named once with its
 * labels (`rt_http_requests_total{route="/v1/apps",status="201"}`) and lives
 * for the life of the process; updates are lock-free atomics.
 */
typedef struct rt_metric_s rt_metric_t;

/* Finds or creates the series `name{labels}` (labels may be ""); type is
 * "counter" or "gauge". Thread-safe; cache the pointer on hot paths. */
rt_metric_t *rt_metric_get(const char *name, const char *labels, const char *type,
                           const char *help);
void rt_metric_add(rt_metric_t *m, int64_t delta);
void rt_metric_set(rt_metric_t *m, int64_t value);
int64_t rt_metric_value(const rt_metric_t *m);

#define RT_HISTO_BUCKETS 14

/* A latency histogram in seconds with fixed buckets 0.0001 .. 10 s. */
typedef struct rt_histo_s rt_histo_t;
rt_histo_t *rt_histo_get(const char *name, const char *labels, const char *help);
void rt_histo_observe_ns(rt_histo_t *h, uint64_t ns);

/* Appends every series in Prometheus text format 0.0.4. */
void rt_metrics_render(rt_buf_t *out);

/* ----------------------------------------------------------------- text */

/* Returns 1 if s (n bytes) is well-formed UTF-8 (RFC 3629), else 0. */
int rt_utf8_valid(const char *s, size_t n);

/* Constant-time comparison of two byte strings; 1 if equal. */
int rt_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Parses a base-10 int64 from exactly n bytes; RT_EINVAL on any junk. */
int rt_parse_i64(const char *s, size_t n, int64_t *out);

/* --------------------------------------------------------------- logging */

typedef enum { RT_LOG_DEBUG, RT_LOG_INFO, RT_LOG_WARN, RT_LOG_ERROR } rt_log_level_t;

/* Configures the process-wide logger; call before threads start. */
void rt_log_setup(rt_log_level_t level, int json);
int rt_log_parse_level(const char *s, rt_log_level_t *out);
int rt_log_enabled(rt_log_level_t level);

/*
 * Writes one line: `ts=… level=… event=<event> <fields>` (text) or the same as
 * one JSON object (json). fields is printf-formatted and must itself be
 * `key=value` pairs separated by spaces, values with spaces double-quoted.
 * Never pass a secret. Thread-safe: one write(2) per line.
 */
void rt_log(rt_log_level_t level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

#define rt_log_debug(ev, ...)                                                                      \
    do {                                                                                           \
        if (rt_log_enabled(RT_LOG_DEBUG))                                                          \
            rt_log(RT_LOG_DEBUG, ev, __VA_ARGS__);                                                 \
    } while (0)
#define rt_log_info(ev, ...)  rt_log(RT_LOG_INFO, ev, __VA_ARGS__)
#define rt_log_warn(ev, ...)  rt_log(RT_LOG_WARN, ev, __VA_ARGS__)
#define rt_log_error(ev, ...) rt_log(RT_LOG_ERROR, ev, __VA_ARGS__)

#endif
