/*
 * cdc.h - the contract of the change data capture subsystem: the pgoutput
 * decoder (PostgreSQL logical replication protocol versions 1 and 2), the
 * conversion of column values to JSON, the `when` filter language and the
 * mapping engine that turns one row change into topic payloads.
 *
 * Everything declared here is pure: no I/O, no threads, no global state. A
 * decoder belongs to one replication session and is used by one thread at a
 * time; compiled `when` expressions and parsed mappings are immutable and may
 * be evaluated from any number of threads at once. The user documentation is
 * docs/cdc.md; the design notes are docs/internals/cdc.md.
 */
#ifndef RT_CDC_H
#define RT_CDC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ================================================================ limits */

#define RT_CDC_MAX_COLUMNS       1664               /* PostgreSQL MaxTupleAttributeNumber */
#define RT_CDC_NAME_MAX_BYTES    255                /* schema, table, column and type names */
#define RT_CDC_MAX_RELATIONS     65536              /* relation cache entries per session */
#define RT_CDC_MAX_TYPES         65536              /* type cache entries per session */
#define RT_CDC_ARRAY_MAX_DEPTH   6                  /* PostgreSQL MAXDIM */
#define RT_CDC_LSN_STR_MAX_BYTES 18                 /* "FFFFFFFF/FFFFFFFF" and NUL */
#define RT_CDC_INT_JSON_MAX      9007199254740992LL /* 2^53: larger int8 become strings */

#define RT_CDC_WHEN_MAX_BYTES      4096 /* source text of one expression */
#define RT_CDC_WHEN_MAX_DEPTH      64   /* nesting of parentheses, not, functions */
#define RT_CDC_WHEN_MAX_NODES      1024 /* syntax tree size */
#define RT_CDC_WHEN_MAX_IN_ITEMS   256  /* values in one `in (...)` list */
#define RT_CDC_WHEN_MAX_LIKE_BYTES 256  /* a `like` pattern literal */
#define RT_CDC_WHEN_ERR_BYTES      128  /* room for a compile error message */

#define RT_CDC_MAPPING_NAME_MAX_BYTES 128
#define RT_CDC_MAPPING_MAX_WATCH      64  /* watchColumns entries */
#define RT_CDC_PAYLOAD_MAX_FIELDS     256 /* payload projection entries, all levels */
#define RT_CDC_PAYLOAD_MAX_DEPTH      8   /* nested payload objects */
#define RT_CDC_DESCRIPTION_MAX_BYTES  1024

/* ===================================================== replication framing */

/* PostgreSQL timestamps count microseconds from 2000-01-01 00:00:00 UTC. */
#define RT_CDC_PG_EPOCH_UNIX_MS 946684800000LL

#define RT_CDC_XLOGDATA_HEADER_BYTES 25 /* 'w', walStart, walEnd, sendTime */
#define RT_CDC_KEEPALIVE_BYTES       18 /* 'k', walEnd, sendTime, reply */
#define RT_CDC_STANDBY_STATUS_BYTES  34 /* 'r', write, flush, apply, time, reply */

/*
 * One CopyData message of a START_REPLICATION stream (protocol-replication,
 * "XLogData" and "Primary keepalive message"). For 'w', data/len is the
 * pgoutput message: borrowed from the buffer given to rt_cdc_copy_parse().
 */
typedef struct {
    char type;            /* 'w' XLogData or 'k' keepalive */
    uint64_t wal_start;   /* 'w' only */
    uint64_t wal_end;     /* both */
    int64_t send_time_us; /* PostgreSQL epoch */
    int reply_requested;  /* 'k' only: answer at once with a status update */
    const uint8_t *data;  /* 'w' only */
    size_t len;
} rt_cdc_copy_msg_t;

/* Parses one CopyData payload from the server. Returns 0, RT_EPROTO for a
 * short or malformed message, or RT_ENOENT for a type other than 'w'/'k'. */
int rt_cdc_copy_parse(const void *buf, size_t len, rt_cdc_copy_msg_t *out);

/* Writes a Standby Status Update ('r') into out: write/flush/apply are the
 * LSNs (flush is what advances the slot), now_us the client clock in the
 * PostgreSQL epoch (rt_cdc_pg_time_from_unix_ms). */
void rt_cdc_standby_status_encode(uint64_t write, uint64_t flush, uint64_t apply, int64_t now_us,
                                  int reply_requested, uint8_t out[RT_CDC_STANDBY_STATUS_BYTES]);

/* Converts a PostgreSQL timestamp (µs since 2000-01-01) to ms since the Unix
 * epoch (rounding toward minus infinity), and back. */
int64_t rt_cdc_pg_time_to_unix_ms(int64_t pg_us);
int64_t rt_cdc_pg_time_from_unix_ms(int64_t unix_ms);

/*
 * Parses an LSN in PostgreSQL's text form "16/B374D848" (1..8 hex digits,
 * '/', 1..8 hex digits, either case) from exactly len bytes. Returns 0 or
 * RT_EINVAL.
 */
int rt_cdc_lsn_parse(const char *s, size_t len, uint64_t *out);

/* Formats an LSN as PostgreSQL does ("%X/%X", uppercase, no padding). */
void rt_cdc_lsn_format(uint64_t lsn, char out[RT_CDC_LSN_STR_MAX_BYTES]);

/* ======================================================= pgoutput decoder */

/* Column flags of a Relation message. */
#define RT_CDC_COL_KEY 1 /* part of the replica identity (every column under FULL) */

/* A column of a relation. name is owned by the decoder. */
typedef struct {
    uint8_t flags;     /* RT_CDC_COL_* */
    const char *name;  /* valid UTF-8, NUL-terminated */
    uint32_t type_oid; /* pg_type oid as sent; see rt_cdc_decoder_type_resolve() */
    int32_t typmod;
} rt_cdc_column_t;

/*
 * A cached relation, from the last Relation message for relid. The pointer
 * stays valid until rt_cdc_decoder_reset()/free(); its contents (names,
 * columns) are replaced in place by the next Relation message for the same
 * relid, for instance after ALTER TABLE.
 */
typedef struct {
    uint32_t relid;
    const char *nspname; /* schema; "pg_catalog" when sent as "" */
    const char *relname;
    const char *qualified; /* "schema.table", for logs and event meta */
    char replident;        /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    uint16_t ncols;
    const rt_cdc_column_t *cols;
} rt_cdc_relation_t;

/* One column value of a TupleData. data is borrowed from the message. */
typedef struct {
    char kind;        /* 'n' NULL, 'u' unchanged TOAST, 't' text, 'b' binary */
    uint32_t len;     /* bytes at data ('t', 'b'); 0 otherwise */
    const char *data; /* not NUL-terminated */
} rt_cdc_datum_t;

/*
 * A decoded TupleData: exactly rel->ncols values, in column order. cols is
 * borrowed scratch of the decoder (valid until its next decode call), whose
 * data pointers point into the message buffer.
 */
typedef struct {
    char kind; /* 'N' new row, 'K' old key only, 'O' old full row; 0 = absent */
    uint16_t ncols;
    const rt_cdc_datum_t *cols;
} rt_cdc_tuple_t;

/* Message types (first byte), protocol-logicalrep-message-formats. */
enum {
    RT_CDC_MSG_BEGIN = 'B',
    RT_CDC_MSG_COMMIT = 'C',
    RT_CDC_MSG_ORIGIN = 'O',
    RT_CDC_MSG_RELATION = 'R',
    RT_CDC_MSG_TYPE = 'Y',
    RT_CDC_MSG_INSERT = 'I',
    RT_CDC_MSG_UPDATE = 'U',
    RT_CDC_MSG_DELETE = 'D',
    RT_CDC_MSG_TRUNCATE = 'T',
    RT_CDC_MSG_MESSAGE = 'M',
    RT_CDC_MSG_STREAM_START = 'S', /* protocol 2 */
    RT_CDC_MSG_STREAM_STOP = 'E',
    RT_CDC_MSG_STREAM_COMMIT = 'c',
    RT_CDC_MSG_STREAM_ABORT = 'A'
};

#define RT_CDC_TRUNCATE_CASCADE          1
#define RT_CDC_TRUNCATE_RESTART_IDENTITY 2
#define RT_CDC_MESSAGE_TRANSACTIONAL     1

/*
 * One decoded pgoutput message. Every pointer is borrowed: strings and bytes
 * point into the message buffer (valid while it lives), tuples into the
 * decoder's scratch (valid until the next rt_cdc_pg_decode on the same
 * decoder), relations into the decoder's cache (see rt_cdc_relation_t).
 * Strings are NUL-terminated inside the message.
 */
typedef struct {
    char type;    /* RT_CDC_MSG_* */
    int streamed; /* 1 inside a Stream Start..Stop block (protocol 2) */
    uint32_t xid; /* streamed messages and stream control: top-level xid */
    union {
        struct {
            uint64_t final_lsn;
            int64_t commit_time_us;
            uint32_t xid;
        } begin;
        struct { /* Commit and Stream Commit */
            uint8_t flags;
            uint64_t commit_lsn;
            uint64_t end_lsn; /* the LSN to confirm once the transaction is durable */
            int64_t commit_time_us;
        } commit;
        struct {
            uint64_t lsn;
            const char *name;
        } origin;
        struct {
            const rt_cdc_relation_t *rel; /* the cache entry just updated */
        } relation;
        struct {
            uint32_t oid;
            const char *nspname; /* "pg_catalog" when sent as "" */
            const char *name;
        } type;
        struct { /* Insert, Update, Delete */
            const rt_cdc_relation_t *rel;
            rt_cdc_tuple_t old_tuple; /* 'K' or 'O'; kind 0 when absent (insert, most updates) */
            rt_cdc_tuple_t new_tuple; /* 'N'; kind 0 for delete */
        } change;
        struct {
            uint32_t nrels;
            uint8_t options;       /* RT_CDC_TRUNCATE_* */
            const uint8_t *relids; /* nrels big-endian Int32: rt_cdc_pg_truncate_relid() */
        } truncate;
        struct {
            uint8_t flags; /* RT_CDC_MESSAGE_TRANSACTIONAL */
            uint64_t lsn;
            const char *prefix;
            const char *content;
            uint32_t len;
        } message;
        struct {
            int first_segment;
        } stream_start;
        struct {
            uint32_t subxid;
        } stream_abort;
    } u;
} rt_cdc_pg_msg_t;

typedef struct rt_cdc_decoder_s rt_cdc_decoder_t;

/*
 * Creates a decoder for one replication session speaking pgoutput protocol
 * version proto_version (1 or 2; the value given to START_REPLICATION).
 * Returns 0 and *out (caller frees with rt_cdc_decoder_free()) or
 * RT_EVERSION. The decoder owns the relation and type caches.
 */
int rt_cdc_decoder_new(int proto_version, rt_cdc_decoder_t **out);
void rt_cdc_decoder_free(rt_cdc_decoder_t *d); /* accepts NULL */

/* Forgets every cached relation and type and the stream state: call when a
 * new replication session starts (PostgreSQL sends Relation messages again in
 * every session). Invalidates every relation pointer handed out. */
void rt_cdc_decoder_reset(rt_cdc_decoder_t *d);

/*
 * Decodes one pgoutput message (the payload of an XLogData message) of len
 * bytes. Relation and Type messages update the caches. Returns 0 and fills
 * *out, or: RT_EPROTO for a truncated, over-long or malformed message, a
 * change for a relation no Relation message described, or a tuple whose
 * column count differs from its relation's; RT_EVERSION for a message that
 * needs a protocol version the decoder does not speak (two-phase messages of
 * protocol 3, streaming under protocol 1); RT_ELIMIT when a cache is full.
 * On error the caches are unchanged.
 */
int rt_cdc_pg_decode(rt_cdc_decoder_t *d, const void *buf, size_t len, rt_cdc_pg_msg_t *out);

/* The relation cached for relid, or NULL. Borrowed (see rt_cdc_relation_t). */
const rt_cdc_relation_t *rt_cdc_decoder_relation(const rt_cdc_decoder_t *d, uint32_t relid);

/* The i-th relation id of a decoded Truncate message (i < nrels). */
uint32_t rt_cdc_pg_truncate_relid(const rt_cdc_pg_msg_t *m, uint32_t i);

/*
 * The type oid to convert values of type_oid by: built-in oids as they are;
 * a user type that a Type message described as a domain over a built-in type
 * gives that type's oid; a user array type (name starting with '_') gives
 * RT_CDC_OID_TEXT_ARRAY; anything else is returned unchanged (text).
 */
uint32_t rt_cdc_decoder_type_resolve(const rt_cdc_decoder_t *d, uint32_t type_oid);

/* ====================================================== values as JSON */

/* Built-in type oids (pg_type.dat) that have their own JSON mapping. */
enum {
    RT_CDC_OID_BOOL = 16,
    RT_CDC_OID_BYTEA = 17,
    RT_CDC_OID_CHAR = 18,
    RT_CDC_OID_NAME = 19,
    RT_CDC_OID_INT8 = 20,
    RT_CDC_OID_INT2 = 21,
    RT_CDC_OID_INT4 = 23,
    RT_CDC_OID_TEXT = 25,
    RT_CDC_OID_OID = 26,
    RT_CDC_OID_JSON = 114,
    RT_CDC_OID_FLOAT4 = 700,
    RT_CDC_OID_FLOAT8 = 701,
    RT_CDC_OID_BPCHAR = 1042,
    RT_CDC_OID_VARCHAR = 1043,
    RT_CDC_OID_DATE = 1082,
    RT_CDC_OID_TIME = 1083,
    RT_CDC_OID_TIMESTAMP = 1114,
    RT_CDC_OID_TIMESTAMPTZ = 1184,
    RT_CDC_OID_TIMETZ = 1266,
    RT_CDC_OID_NUMERIC = 1700,
    RT_CDC_OID_UUID = 2950,
    RT_CDC_OID_JSONB = 3802,
    RT_CDC_OID_TEXT_ARRAY = 1009
};

/*
 * Converts one value in PostgreSQL's text output format (len bytes, not
 * NUL-terminated) of type type_oid to JSON, by the table in docs/cdc.md.
 * Never fails: text that does not parse as its type, and every type without
 * a mapping, becomes a JSON string (invalid UTF-8 replaced by U+FFFD).
 * Returns a new reference (caller json_decref()s it).
 */
json_t *rt_cdc_pg_value_to_json(uint32_t type_oid, const char *text, size_t len);

/*
 * Builds the row object of a decoded tuple of rel: column name -> value,
 * types resolved through d (NULL: oids taken as they are). NULL becomes null;
 * an unchanged TOAST value is left out of the row and its name appended to
 * *unchanged; a 'K' (old key) tuple yields only the key columns; a binary
 * value becomes a base64 string. Borrows d, rel and t for the call only.
 * Returns a new object (caller json_decref()s it). If unchanged is not NULL,
 * *unchanged receives a new array (possibly empty; caller json_decref()s it).
 */
json_t *rt_cdc_pg_row_to_json(const rt_cdc_decoder_t *d, const rt_cdc_relation_t *rel,
                              const rt_cdc_tuple_t *t, json_t **unchanged);

/*
 * Completes a new row from the old one: under REPLICA IDENTITY FULL an
 * update's old tuple carries the values the new tuple marks as unchanged
 * TOAST. Each name in unchanged that old_row has is set in new_row (value
 * shared) and removed from unchanged. old_row may be NULL (nothing to do).
 */
void rt_cdc_row_fill_unchanged(json_t *new_row, const json_t *old_row, json_t *unchanged);

/* ====================================================== `when` language */

/* The grammar and semantics are in docs/cdc.md. */
typedef struct rt_cdc_when_s rt_cdc_when_t;

/* How an expression uses a column (rt_cdc_when_column flags). */
#define RT_CDC_WHEN_REF_NEW     1 /* new.col or bare col (old row's on delete) */
#define RT_CDC_WHEN_REF_OLD     2 /* old.col */
#define RT_CDC_WHEN_REF_CHANGED 4 /* changed(col) */

/*
 * Compiles an expression of len bytes (at most RT_CDC_WHEN_MAX_BYTES). Returns
 * 0 and *out (caller frees with rt_cdc_when_free()), or RT_EINVAL with a
 * message such as "at 12: expected ')'" in err (errcap bytes, always
 * NUL-terminated when errcap > 0; positions are 1-based byte offsets).
 */
int rt_cdc_when_compile(const char *src, size_t len, rt_cdc_when_t **out, char *err, size_t errcap);
void rt_cdc_when_free(rt_cdc_when_t *w); /* accepts NULL */

/*
 * Evaluates a compiled expression against one change: new_row and old_row
 * are row objects (either may be NULL), op is "insert", "update" or "delete"
 * (anything else evaluates like "update"). Returns 1 when the expression is
 * true, 0 when it is false or unknown (three-valued logic). Never fails and
 * never allocates; safe to call from several threads on the same w.
 */
int rt_cdc_when_eval(const rt_cdc_when_t *w, const json_t *new_row, const json_t *old_row,
                     const char *op);

/* The distinct columns an expression reads, in order of first use: count,
 * and the i-th name (borrowed, valid until rt_cdc_when_free) with its
 * RT_CDC_WHEN_REF_* flags in *flags. */
size_t rt_cdc_when_ncolumns(const rt_cdc_when_t *w);
const char *rt_cdc_when_column(const rt_cdc_when_t *w, size_t i, unsigned *flags);

/*
 * Whether column col changed in a change (the rule of changed() and
 * watchColumns): with both values present, whether they differ; with only
 * the new value (an insert, or an update without old values, REPLICA
 * IDENTITY DEFAULT), 1; with only the old value, 1 for a delete and 0
 * otherwise (an unchanged TOAST value is left out of the new row); with
 * neither, 0. Rows may be NULL.
 */
int rt_cdc_changed(const json_t *new_row, const json_t *old_row, const char *op, const char *col);

/* ========================================================== mappings */

#define RT_CDC_OP_INSERT 1
#define RT_CDC_OP_UPDATE 2
#define RT_CDC_OP_DELETE 4

/*
 * A parsed mapping (docs/cdc.md "Mappings"). Immutable after
 * rt_cdc_mapping_parse(); every field is owned by the mapping.
 */
typedef struct {
    char *name;
    char *source; /* the source (database connection) name */
    char *schema; /* table's schema ("public" when not given) */
    char *table;
    char *qualified; /* "schema.table" as written back by rt_cdc_mapping_to_json */
    unsigned ops;    /* RT_CDC_OP_* */
    char **watch;    /* watchColumns; nwatch == 0: any update */
    size_t nwatch;
    char *when_src; /* NULL: no filter */
    rt_cdc_when_t *when;
    json_t *payload; /* the validated projection object, or NULL: whole row */
    char *topic;
    char *description; /* NULL when not given */
} rt_cdc_mapping_t;

/*
 * Parses and validates a mapping from its JSON definition. Returns 0 and *out
 * (caller frees with rt_cdc_mapping_free()), or RT_EINVAL after appending one
 * {"field": ..., "message": ...} object per problem to errors (an array; may
 * be NULL). spec is borrowed.
 */
int rt_cdc_mapping_parse(const json_t *spec, rt_cdc_mapping_t **out, json_t *errors);
void rt_cdc_mapping_free(rt_cdc_mapping_t *m); /* accepts NULL */

/* The mapping's canonical JSON definition (what parse accepts and the API
 * returns). New reference; caller json_decref()s it. */
json_t *rt_cdc_mapping_to_json(const rt_cdc_mapping_t *m);

/* 1 if the mapping reads old row values (watchColumns, old.* or changed() in
 * when, old.* in payload): the table then needs REPLICA IDENTITY FULL for it
 * to work as written. */
int rt_cdc_mapping_needs_old(const rt_cdc_mapping_t *m);

/* One row change as the mapping engine sees it. All borrowed. */
typedef struct {
    const char *op;     /* "insert", "update" or "delete" */
    const char *schema; /* relation; NULL (with table) skips the table check */
    const char *table;
    const json_t *new_row;   /* NULL for delete */
    const json_t *old_row;   /* NULL when not known */
    const json_t *unchanged; /* array of column names left out (unchanged TOAST), or NULL */
} rt_cdc_change_t;

/*
 * Evaluates mapping m against change c. Returns 1 and sets *payload (the
 * projected payload) and *meta ({table, op, mapping[, unchangedColumns]}),
 * both new references the caller json_decref()s (payload values may be
 * shared with the rows: treat them as read-only); or 0 and sets *reason to a
 * static string ("table not mapped", "operation not mapped", "no watched
 * column changed", "when evaluated to false"); or RT_EINVAL for an unknown
 * op. Thread-safe for a shared m.
 */
int rt_cdc_mapping_eval(const rt_cdc_mapping_t *m, const rt_cdc_change_t *c, json_t **payload,
                        json_t **meta, const char **reason);

/* ============================================ sources and the replication reader */

/*
 * The I/O half (cdc_sources.c, cdc_reader.c): sources (PostgreSQL
 * connections) and mappings of each environment, kept in memory and in the
 * store, and one replication reader per source on its own thread with its
 * own libuv loop. Every function below is thread-safe. Design notes:
 * docs/internals/cdc.md "Reader".
 */
#include "registry/registry.h"
#include "topics/topics.h"

#define RT_CDC_SOURCE_NAME_MAX_BYTES 128
#define RT_CDC_DSN_MAX_BYTES         4096
#define RT_CDC_PG_NAME_MAX_BYTES     63    /* slot and publication names */
#define RT_CDC_SOURCE_MAX_TABLES     256   /* the source's own `tables` list */
#define RT_CDC_STATUS_INTERVAL_MS    10000 /* standby status update at least this often */
#define RT_CDC_TICK_MS               1000  /* reader housekeeping period */
#define RT_CDC_STATS_INTERVAL_MS     5000  /* server LSN and slot lag refresh */
#define RT_CDC_HEARTBEAT_INTERVAL_MS 30000 /* pg_logical_emit_message on idle sources */
#define RT_CDC_BACKOFF_MIN_MS        500   /* first reconnect delay */
#define RT_CDC_BACKOFF_MAX_MS        30000 /* reconnect delay cap */
#define RT_CDC_CONNECT_TIMEOUT_S     5     /* libpq connect_timeout */
#define RT_CDC_STATEMENT_TIMEOUT_MS  10000 /* control connection statements */
#define RT_CDC_MAX_INFLIGHT_TXNS     64    /* transactions queued to the store */
#define RT_CDC_TXN_CHUNK_EVENTS      10000 /* events per storage commit in a huge txn */
#define RT_CDC_DEAD_LETTERS_MAX      100   /* refused events kept per mapping */
#define RT_CDC_ERROR_MAX_BYTES       512   /* a source's last error text */
#define RT_CDC_STOP_DRAIN_MS         10000 /* wait for queued commits at stop */

typedef struct rt_cdc_s rt_cdc_t;

/*
 * Completion of an asynchronous source or mapping change: status 0 with body
 * (the resource, with status or warnings; the callee gives up its
 * reference to the receiver), or a negative RT_E* with body NULL. Called
 * once, on the store's writer thread or a reader thread: hop to your own.
 */
typedef void (*rt_cdc_done_fn)(void *arg, int status, json_t *body);

/* Loads every source, mapping and checkpoint from the store behind registry.
 * registry and topics are borrowed and outlive the manager. Returns 0 and
 * *out (caller frees with rt_cdc_free()) or RT_EIO. Start-up only. */
int rt_cdc_open(rt_registry_t *registry, rt_topics_t *topics, rt_cdc_t **out);

/* Starts one reader thread per loaded source (call once the server runs). */
void rt_cdc_start(rt_cdc_t *c);

/* Stops and joins every reader, after each has drained its queued commits
 * (at most RT_CDC_STOP_DRAIN_MS). Call before the store closes. */
void rt_cdc_stop(rt_cdc_t *c);

/* Frees the manager (stopping readers first if needed). Accepts NULL. */
void rt_cdc_free(rt_cdc_t *c);

/*
 * Creates a source from {name, kind: "postgres", dsn, slot?, publication?,
 * tables?}. Returns RT_EINVAL (one {field, message} per problem appended to
 * errors), RT_EEXIST, or 0: once stored and the reader's first connection
 * attempt is over, done gets the source with its status. spec is borrowed.
 */
int rt_cdc_source_create(rt_cdc_t *c, const char *app, const char *env, const json_t *spec,
                         json_t *errors, rt_cdc_done_fn done, void *arg);

/* The source with its live status (password redacted), or NULL. New ref. */
json_t *rt_cdc_source_get(rt_cdc_t *c, const char *app, const char *env, const char *name);

/* {"items": [...]} of an environment's sources, by name. New reference. */
json_t *rt_cdc_source_list(rt_cdc_t *c, const char *app, const char *env);

/*
 * Deletes a source: stops its reader and, unless keep_slot, drops its
 * replication slot (and the publication the platform created). Returns
 * RT_ENOENT, RT_ESTATE (mappings still read from it), or 0 and calls done
 * (body {"slotDropped": bool, ...}) once removed.
 */
int rt_cdc_source_delete(rt_cdc_t *c, const char *app, const char *env, const char *name,
                         int keep_slot, rt_cdc_done_fn done, void *arg);

/*
 * Creates a mapping (rt_cdc_mapping_parse's fields). Returns RT_EINVAL with
 * errors (including an unknown source or topic), RT_EEXIST, or 0: once stored
 * and the source's publication updated, done gets the mapping with
 * "warnings" (for instance a table that is not REPLICA IDENTITY FULL).
 */
int rt_cdc_mapping_create(rt_cdc_t *c, const char *app, const char *env, const json_t *spec,
                          json_t *errors, rt_cdc_done_fn done, void *arg);

/* The mapping with its counters and dead letters, or NULL. New reference. */
json_t *rt_cdc_mapping_get(rt_cdc_t *c, const char *app, const char *env, const char *name);

/* {"items": [...]} of an environment's mappings, by name. New reference. */
json_t *rt_cdc_mapping_list(rt_cdc_t *c, const char *app, const char *env);

/* Deletes a mapping. RT_ENOENT, or 0 and done (body {}) once stored. */
int rt_cdc_mapping_delete(rt_cdc_t *c, const char *app, const char *env, const char *name,
                          rt_cdc_done_fn done, void *arg);

/*
 * Dry-runs mapping name on {op, row?, old?}: 0 and *out = {"matched": true,
 * "topic", "payload", "meta"} or {"matched": false, "reason"}; RT_ENOENT; or
 * RT_EINVAL with *err (static) for a bad body. Caller json_decref()s *out.
 */
int rt_cdc_mapping_test(rt_cdc_t *c, const char *app, const char *env, const char *name,
                        const json_t *body, json_t **out, const char **err);

#endif
