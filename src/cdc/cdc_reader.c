/*
 * This file implements the replication reader: one thread per source with
 * its own libuv loop. A session opens a control connection (checks,
 * publication, slot, lag), then a replication connection (replication=
 * database) in CopyBoth mode (protocol-replication, START_REPLICATION ...
 * LOGICAL), polled with uv_poll around PQsocket. pgoutput messages are
 * decoded (pgoutput.c), each row change is run through the source's mappings
 * (mapping.c) and a transaction's events are published together with the
 * source's checkpoint, the Commit's end_lsn, in one storage commit
 * (rt_topics_publish_txn). The flush LSN reported to PostgreSQL is only ever
 * a durable checkpoint. Errors close the session and a new one starts after
 * an exponential backoff, from the durable checkpoint.
 */
#include <libpq-fe.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "cdc/cdc_io.h"

/* One row change's event of the transaction being decoded. */
typedef struct {
    cdc_map_t *map; /* borrowed from the set */
    json_t *payload;
    json_t *meta;
    char id[32];
    char lsn[RT_CDC_LSN_STR_MAX_BYTES];
} item_t;

/* Reader-thread state. Only the reader thread touches it. */
typedef struct {
    cdc_source_t *s;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_poll_t *poll; /* per session; NULL when none */
    int paused;      /* poll stopped: too many commits queued */
    PGconn *ctl, *repl;
    rt_cdc_decoder_t *dec;
    int streaming, stopping, first_done;
    int64_t stop_deadline_ms;
    uint64_t skip_before;   /* transactions with commit_lsn below this are stored */
    uint64_t idle_lsn;      /* a keepalive's walEnd seen with nothing pending */
    uint64_t reported;      /* flush LSN last reported */
    int64_t last_status_ms; /* time of the last status update */
    int64_t next_attempt_ms;
    int backoff_ms;
    int64_t last_stats_ms, last_heartbeat_ms;
    int64_t rate_events, rate_ms;
    json_t *tinfo; /* "schema.table" -> replident ("d", "f", ...) or null (missing) */
    /* the transaction being decoded */
    int in_txn, skip_txn;
    uint32_t xid;
    uint64_t commit_lsn;
    int64_t commit_ms;
    uint32_t index; /* events so far in the transaction, across chunks */
    cdc_mapset_t *set;
    item_t *items;
    size_t n, cap;
} reader_t;

/* A transaction (or chunk) queued to the store. */
typedef struct {
    cdc_source_t *s;
    uint64_t end_lsn; /* 0 for a chunk that is not the last */
    int64_t commit_ms;
} commit_ctx_t;

/* ====================================================== small helpers */

static void wake(cdc_source_t *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->wake_open)
        uv_async_send(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

static void set_state(cdc_source_t *s, const char *state)
{
    pthread_mutex_lock(&s->lock);
    s->state = state;
    pthread_mutex_unlock(&s->lock);
}

/* Records the last error: one line, no trailing newline, never a password
 * (libpq messages do not contain one). */
static void set_error(cdc_source_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(cdc_source_t *s, const char *fmt, ...)
{
    char buf[RT_CDC_ERROR_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    }
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
    pthread_mutex_lock(&s->lock);
    memcpy(s->last_error, buf, n + 1);
    s->last_error_ms = rt_time_ms();
    pthread_mutex_unlock(&s->lock);
    rt_log_warn("cdc_source_error", "source=%s/%s/%s error=\"%s\"", s->app, s->env, s->name, buf);
}

static void lsn_str(uint64_t lsn, char out[RT_CDC_LSN_STR_MAX_BYTES])
{
    rt_cdc_lsn_format(lsn, out);
}

static uint64_t durable(cdc_source_t *s)
{
    return atomic_load(&s->durable_lsn);
}

/* ========================================================== status */

json_t *rt_cdc_reader_status(cdc_source_t *s)
{
    char conf[RT_CDC_LSN_STR_MAX_BYTES], srv[RT_CDC_LSN_STR_MAX_BYTES],
        slot[RT_CDC_LSN_STR_MAX_BYTES];
    lsn_str(durable(s), conf);
    pthread_mutex_lock(&s->lock);
    lsn_str(s->server_lsn, srv);
    lsn_str(s->slot_lsn, slot);
    int64_t lag =
        s->server_lsn > s->slot_lsn && s->slot_lsn ? (int64_t)(s->server_lsn - s->slot_lsn) : 0;
    json_t *err = json_null();
    if (s->last_error[0]) {
        char ts[RT_ISO8601_LEN];
        rt_time_iso8601(s->last_error_ms, ts);
        err = json_pack("{s:s,s:s}", "message", s->last_error, "at", ts);
    }
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:f,s:o,s:f,s:I,s:I,s:O}", "state", s->state, "confirmedLsn", conf,
        "slotConfirmedLsn", slot, "serverLsn", srv, "lagBytes", (json_int_t)lag, "lagSeconds",
        lag > 0 ? (double)s->lag_ms / 1000.0 : 0.0, "lastError", err, "eventsPerSecond",
        s->events_per_s, "events", (json_int_t)atomic_load(&s->events), "reconnects",
        (json_int_t)s->reconnects, "publishedTables", s->published);
    pthread_mutex_unlock(&s->lock);
    return j;
}

/* ====================================================== connections */

static PGconn *pg_connect(cdc_source_t *s, int replication)
{
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", RT_CDC_CONNECT_TIMEOUT_S);
    char options[128];
    snprintf(options, sizeof(options),
             "-c datestyle=ISO -c timezone=UTC -c bytea_output=hex -c statement_timeout=%d",
             replication ? 0 : RT_CDC_STATEMENT_TIMEOUT_MS);
    const char *keys[] = {"dbname",          "replication",      "options",
                          "connect_timeout", "application_name", NULL};
    const char *vals[] = {s->dsn, replication ? "database" : NULL, options, timeout, "realtime-cdc",
                          NULL};
    return PQconnectdbParams(keys, vals, 1);
}

static void close_session(reader_t *r)
{
    if (r->poll) {
        uv_poll_stop(r->poll);
        uv_close((uv_handle_t *)r->poll, (uv_close_cb)rt_free);
        r->poll = NULL;
    }
    PQfinish(r->repl);
    r->repl = NULL;
    PQfinish(r->ctl);
    r->ctl = NULL;
    r->streaming = 0;
    r->paused = 0;
    for (size_t i = 0; i < r->n; i++) {
        json_decref(r->items[i].payload);
        json_decref(r->items[i].meta);
    }
    r->n = 0;
    r->in_txn = 0;
    rt_cdc_mapset_release(r->set);
    r->set = NULL;
}

/* Ends the session after an error and schedules the next one. */
static void fail(reader_t *r)
{
    close_session(r);
    if (r->stopping)
        return;
    set_state(r->s, "backoff");
    r->backoff_ms =
        r->backoff_ms ? RT_MIN(r->backoff_ms * 2, RT_CDC_BACKOFF_MAX_MS) : RT_CDC_BACKOFF_MIN_MS;
    r->next_attempt_ms = rt_time_ms() + r->backoff_ms;
}

/* Runs a query on the control connection; returns the result when its status
 * is ok (caller PQclear()s it) or NULL after recording the error. */
static PGresult *ctl_query(reader_t *r, const char *what, const char *sql, int nparams,
                           const char *const *params)
{
    PGresult *res = PQexecParams(r->ctl, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    set_error(r->s, "%s: %s", what, PQerrorMessage(r->ctl));
    PQclear(res);
    return NULL;
}

static int ctl_open(reader_t *r)
{
    if (r->ctl && PQstatus(r->ctl) == CONNECTION_OK)
        return 0;
    PQfinish(r->ctl);
    r->ctl = pg_connect(r->s, 0);
    if (PQstatus(r->ctl) != CONNECTION_OK) {
        set_error(r->s, "could not connect to PostgreSQL: %s", PQerrorMessage(r->ctl));
        PQfinish(r->ctl);
        r->ctl = NULL;
        return -1;
    }
    return 0;
}

static int check_wal_level(reader_t *r)
{
    PGresult *res = ctl_query(r, "SHOW wal_level", "SHOW wal_level", 0, NULL);
    if (res == NULL)
        return -1;
    const char *v = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
    int ok = strcmp(v, "logical") == 0;
    if (!ok)
        set_error(r->s,
                  "wal_level is \"%s\": change data capture needs wal_level=logical "
                  "(set it in postgresql.conf and restart PostgreSQL)",
                  v);
    PQclear(res);
    return ok ? 0 : -1;
}

/* =================================================== the publication */

/* Splits "schema.table" as the mapping stored it (no quoting is needed for
 * the tables list of a source: "schema.table" split at the first '.'). */
static void add_table(json_t *set, const char *schema, const char *table)
{
    json_t *pair = json_pack("[s,s]", schema, table);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_appendf(&b, "%s.%s", schema, table);
    json_object_set_new(set, b.data, pair);
    rt_buf_close(&b);
}

/* Every table the source reads: its mappings' and its own list. */
static json_t *wanted_tables(cdc_source_t *s)
{
    json_t *set = json_object();
    cdc_mapset_t *maps = rt_cdc_mapset_get(s);
    for (size_t i = 0; i < maps->n; i++)
        add_table(set, maps->maps[i]->m->schema, maps->maps[i]->m->table);
    rt_cdc_mapset_release(maps);
    size_t i;
    json_t *t;
    json_array_foreach(s->tables, i, t)
    {
        const char *q = json_string_value(t);
        const char *dot = strchr(q, '.');
        if (dot == NULL) {
            add_table(set, "public", q);
        } else {
            char *schema = rt_strndup(q, (size_t)(dot - q));
            add_table(set, schema, dot + 1);
            rt_free(schema);
        }
    }
    return set;
}

/* Looks up each wanted table's replica identity into r->tinfo; returns the
 * list of existing tables as escaped "schema"."table" SQL, comma-separated. */
static int probe_tables(reader_t *r, json_t *wanted, rt_buf_t *sql_list, json_t *published)
{
    json_t *info = json_object();
    const char *key;
    json_t *pair;
    json_object_foreach(wanted, key, pair)
    {
        const char *p[2] = {json_string_value(json_array_get(pair, 0)),
                            json_string_value(json_array_get(pair, 1))};
        PGresult *res = ctl_query(r, "reading the table's replica identity",
                                  "SELECT c.relreplident FROM pg_class c JOIN pg_namespace n ON "
                                  "n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 "
                                  "AND c.relkind IN ('r', 'p')",
                                  2, p);
        if (res == NULL) {
            json_decref(info);
            return -1;
        }
        if (PQntuples(res) == 1) {
            json_object_set_new(info, key, json_string(PQgetvalue(res, 0, 0)));
            char *a = PQescapeIdentifier(r->ctl, p[0], strlen(p[0]));
            char *b = PQescapeIdentifier(r->ctl, p[1], strlen(p[1]));
            rt_buf_appendf(sql_list, "%s%s.%s", sql_list->len ? ", " : "", a ? a : "", b ? b : "");
            PQfreemem(a);
            PQfreemem(b);
            json_array_append_new(published, json_string(key));
        } else {
            json_object_set_new(info, key, json_null());
        }
        PQclear(res);
    }
    json_decref(r->tinfo);
    r->tinfo = info;
    return 0;
}

static int ensure_publication(reader_t *r)
{
    const char *p[1] = {r->s->publication};
    PGresult *res = ctl_query(r, "reading the publication",
                              "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, p);
    if (res == NULL)
        return -1;
    int exists = PQntuples(res) == 1;
    PQclear(res);
    if (exists)
        return 0;
    if (!r->s->own_publication) {
        set_error(r->s,
                  "publication \"%s\" does not exist: create it, or leave `publication` out "
                  "to let the platform manage one",
                  r->s->publication);
        return -1;
    }
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_appendf(&b, "CREATE PUBLICATION %s", r->s->publication);
    res = ctl_query(r, "creating the publication", b.data, 0, NULL);
    rt_buf_close(&b);
    PQclear(res);
    return res ? 0 : -1;
}

/* Drops every table of our publication that is not wanted (SET TABLE cannot
 * make a publication empty). */
static int empty_publication(reader_t *r)
{
    const char *p[1] = {r->s->publication};
    PGresult *res = ctl_query(r, "reading the publication's tables",
                              "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) "
                              "FROM pg_publication_tables WHERE pubname = $1",
                              1, p);
    if (res == NULL)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        rt_buf_t b;
        rt_buf_init(&b);
        rt_buf_appendf(&b, "ALTER PUBLICATION %s DROP TABLE %s", r->s->publication,
                       PQgetvalue(res, i, 0));
        PGresult *d = ctl_query(r, "updating the publication", b.data, 0, NULL);
        rc = d ? 0 : -1;
        PQclear(d);
        rt_buf_close(&b);
    }
    PQclear(res);
    return rc;
}

/*
 * Brings the publication in step with the mapped tables (ours only; a
 * user's publication is left as it is). Tables that do not exist are left
 * out and reported by mapping warnings. Filters are never pushed into the
 * publication (PostgreSQL 15 breaks UPDATEs of tables whose row filter uses
 * a column outside the replica identity).
 */
static int sync_publication(reader_t *r)
{
    json_t *wanted = wanted_tables(r->s);
    json_t *published = json_array();
    rt_buf_t list;
    rt_buf_init(&list);
    int rc = probe_tables(r, wanted, &list, published);
    if (rc == 0)
        rc = ensure_publication(r);
    if (rc == 0 && r->s->own_publication) {
        if (list.len == 0) {
            rc = empty_publication(r);
        } else {
            rt_buf_t b;
            rt_buf_init(&b);
            rt_buf_appendf(&b, "ALTER PUBLICATION %s SET TABLE %.*s", r->s->publication,
                           (int)list.len, list.data);
            PGresult *res = ctl_query(r, "updating the publication", b.data, 0, NULL);
            rc = res ? 0 : -1;
            PQclear(res);
            rt_buf_close(&b);
        }
    }
    rt_buf_close(&list);
    json_decref(wanted);
    if (rc == 0) {
        pthread_mutex_lock(&r->s->lock);
        json_decref(r->s->published);
        r->s->published = published;
        pthread_mutex_unlock(&r->s->lock);
    } else {
        json_decref(published);
    }
    return rc;
}

/* The warnings for one mapping after a sync: a missing table, or old values
 * needed from a table without REPLICA IDENTITY FULL. */
static json_t *mapping_warnings(reader_t *r, const char *name)
{
    json_t *out = json_array();
    cdc_mapset_t *set = rt_cdc_mapset_get(r->s);
    for (size_t i = 0; i < set->n; i++) {
        const rt_cdc_mapping_t *m = set->maps[i]->m;
        if (strcmp(m->name, name) != 0)
            continue;
        json_t *ri = r->tinfo ? json_object_get(r->tinfo, m->qualified) : NULL;
        char msg[600];
        if (ri == NULL) {
            snprintf(msg, sizeof(msg),
                     "could not check table %s now (%s); the publication is updated when the "
                     "source connects",
                     m->qualified, r->s->last_error[0] ? r->s->last_error : "not connected");
            json_array_append_new(out, json_string(msg));
        } else if (json_is_null(ri)) {
            snprintf(msg, sizeof(msg),
                     "table %s does not exist: no change will be read until it is created and "
                     "the mapping is created again",
                     m->qualified);
            json_array_append_new(out, json_string(msg));
        } else if (rt_cdc_mapping_needs_old(m) && strcmp(json_string_value(ri), "f") != 0) {
            snprintf(msg, sizeof(msg),
                     "table %s is not REPLICA IDENTITY FULL: watchColumns, changed() and old.* "
                     "see no old values (updates count as changed); run ALTER TABLE %s REPLICA "
                     "IDENTITY FULL",
                     m->qualified, m->qualified);
            json_array_append_new(out, json_string(msg));
        }
    }
    rt_cdc_mapset_release(set);
    return out;
}

/* ================================================================ slot */

static int ensure_slot(reader_t *r)
{
    const char *p[1] = {r->s->slot};
    PGresult *res = ctl_query(r, "reading the replication slot",
                              "SELECT plugin FROM pg_replication_slots WHERE slot_name = $1 AND "
                              "database = current_database()",
                              1, p);
    if (res == NULL)
        return -1;
    int exists = PQntuples(res) == 1;
    int pgoutput = exists && strcmp(PQgetvalue(res, 0, 0), "pgoutput") == 0;
    PQclear(res);
    if (exists && !pgoutput) {
        set_error(r->s, "replication slot \"%s\" exists but does not use pgoutput", r->s->slot);
        return -1;
    }
    if (exists)
        return 0;
    if (durable(r->s) != 0)
        rt_log_warn("cdc_slot_recreated",
                    "source=%s/%s/%s slot=%s note=\"the slot was missing: changes made while "
                    "it was gone are not read\"",
                    r->s->app, r->s->env, r->s->name, r->s->slot);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_appendf(&b, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput NOEXPORT_SNAPSHOT", r->s->slot);
    res = PQexec(r->repl, b.data);
    rt_buf_close(&b);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        set_error(r->s, "creating replication slot \"%s\": %s", r->s->slot,
                  PQerrorMessage(r->repl));
    PQclear(res);
    return ok ? 0 : -1;
}

static void drop_slot(reader_t *r)
{
    if (ctl_open(r) != 0)
        return;
    const char *p[1] = {r->s->slot};
    /* The walsender of the session just closed may take a moment to go. */
    for (int i = 0; i < 20; i++) {
        PGresult *res = PQexecParams(r->ctl,
                                     "SELECT pg_drop_replication_slot(slot_name) FROM "
                                     "pg_replication_slots WHERE slot_name = $1",
                                     1, NULL, p, NULL, NULL, 0);
        int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        if (ok)
            break;
        usleep(250 * 1000);
    }
    if (r->s->own_publication) {
        rt_buf_t b;
        rt_buf_init(&b);
        rt_buf_appendf(&b, "DROP PUBLICATION IF EXISTS %s", r->s->publication);
        PQclear(PQexec(r->ctl, b.data));
        rt_buf_close(&b);
    }
    rt_log_info("cdc_slot_dropped", "source=%s/%s/%s slot=%s", r->s->app, r->s->env, r->s->name,
                r->s->slot);
}

/* ============================================================ session */

static void on_poll(uv_poll_t *h, int status, int events);

static int start_replication(reader_t *r)
{
    char lsn[RT_CDC_LSN_STR_MAX_BYTES];
    lsn_str(durable(r->s), lsn);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_appendf(&b,
                   "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', "
                   "publication_names '%s')",
                   r->s->slot, lsn, r->s->publication);
    PGresult *res = PQexec(r->repl, b.data);
    rt_buf_close(&b);
    int ok = PQresultStatus(res) == PGRES_COPY_BOTH;
    if (!ok)
        set_error(r->s, "START_REPLICATION: %s", PQerrorMessage(r->repl));
    PQclear(res);
    return ok ? 0 : -1;
}

static int repl_open(reader_t *r)
{
    r->repl = pg_connect(r->s, 1);
    if (PQstatus(r->repl) == CONNECTION_OK)
        return 0;
    const char *msg = PQerrorMessage(r->repl);
    if (strstr(msg, "replication") != NULL)
        set_error(r->s,
                  "replication connection refused: %s (the user needs the REPLICATION "
                  "attribute: ALTER ROLE ... REPLICATION)",
                  msg);
    else
        set_error(r->s, "could not open the replication connection: %s", msg);
    return -1;
}

static int session_open(reader_t *r)
{
    set_state(r->s, "connecting");
    if (ctl_open(r) != 0 || check_wal_level(r) != 0 || sync_publication(r) != 0 ||
        repl_open(r) != 0 || ensure_slot(r) != 0 || start_replication(r) != 0)
        return -1;
    if (PQsetnonblocking(r->repl, 1) != 0) {
        set_error(r->s, "could not make the replication connection non-blocking");
        return -1;
    }
    if (r->dec)
        rt_cdc_decoder_reset(r->dec);
    else
        rt_cdc_decoder_new(1, &r->dec);
    r->poll = rt_malloc(sizeof(*r->poll));
    uv_poll_init_socket(&r->loop, r->poll, PQsocket(r->repl));
    r->poll->data = r;
    uv_poll_start(r->poll, UV_READABLE, on_poll);
    r->skip_before = durable(r->s);
    r->idle_lsn = 0;
    r->reported = 0;
    r->last_status_ms = 0;
    r->streaming = 1;
    r->backoff_ms = 0;
    pthread_mutex_lock(&r->s->lock);
    r->s->state = "streaming";
    r->s->last_error[0] = '\0';
    pthread_mutex_unlock(&r->s->lock);
    char lsn[RT_CDC_LSN_STR_MAX_BYTES];
    lsn_str(r->skip_before, lsn);
    rt_log_info("cdc_streaming", "source=%s/%s/%s slot=%s from=%s", r->s->app, r->s->env,
                r->s->name, r->s->slot, lsn);
    return 0;
}

/* ======================================================== status updates */

/* The flush LSN we may report: the durable checkpoint, or a keepalive's
 * walEnd seen while nothing was pending (everything before it is stored or
 * was not ours). */
static uint64_t flush_lsn(reader_t *r)
{
    uint64_t f = durable(r->s);
    if (!r->in_txn && atomic_load(&r->s->inflight) == 0 && r->idle_lsn > f)
        f = r->idle_lsn;
    return RT_MAX(f, r->reported);
}

/* Standby status update (protocol-replication "Standby status update"):
 * when forced, when the flush LSN moved, or every RT_CDC_STATUS_INTERVAL_MS. */
static int send_status(reader_t *r, int force)
{
    if (!r->streaming)
        return 0;
    uint64_t f = flush_lsn(r);
    int64_t now = rt_time_ms();
    if (!force && f == r->reported && now - r->last_status_ms < RT_CDC_STATUS_INTERVAL_MS)
        return 0;
    uint8_t msg[RT_CDC_STANDBY_STATUS_BYTES];
    rt_cdc_standby_status_encode(f, f, f, rt_cdc_pg_time_from_unix_ms(now), 0, msg);
    if (PQputCopyData(r->repl, (const char *)msg, (int)sizeof(msg)) != 1 || PQflush(r->repl) < 0) {
        set_error(r->s, "sending a status update: %s", PQerrorMessage(r->repl));
        return -1;
    }
    r->reported = f;
    r->last_status_ms = now;
    return 0;
}

/* ========================================================== publishing */

/* Writer thread: a transaction (or chunk) committed or failed. */
static void on_committed(void *arg, int status, rt_event_t *const *events, size_t n)
{
    commit_ctx_t *x = arg;
    cdc_source_t *s = x->s;
    if (status == 0) {
        size_t ok = 0;
        for (size_t i = 0; i < n; i++)
            ok += events[i] != NULL;
        atomic_fetch_add(&s->events, (long long)ok);
        if (x->end_lsn) {
            uint64_t cur = atomic_load(&s->durable_lsn);
            while (cur < x->end_lsn &&
                   !atomic_compare_exchange_weak(&s->durable_lsn, &cur, x->end_lsn))
                ;
            atomic_store(&s->last_commit_ms, x->commit_ms);
        }
    } else {
        atomic_store(&s->store_failed, 1);
    }
    atomic_fetch_sub(&s->inflight, 1);
    wake(s);
    rt_free(x);
}

/* Crockford base32, as ULIDs use. */
static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The event id of the index-th event of the transaction that committed at
 * commit_lsn: a ULID whose time is the commit time and whose 80 random bits
 * are SHA-256(app/env/source/commit_lsn/index), so a replay after a crash
 * yields the same id. */
static void event_id(reader_t *r, uint32_t index, char out[32])
{
    char key[600];
    int n = snprintf(key, sizeof(key), "%s/%s/%s/%llx/%u", r->s->app, r->s->env, r->s->name,
                     (unsigned long long)r->commit_lsn, index);
    char hex[65];
    rt_registry_sha256_hex(key, (size_t)RT_MIN(n, (int)sizeof(key) - 1), hex);
    memcpy(out, "evt_", 4);
    uint64_t t = (uint64_t)(r->commit_ms < 0 ? 0 : r->commit_ms);
    for (int i = 9; i >= 0; i--) {
        out[4 + i] = b32[t & 31];
        t >>= 5;
    }
    for (int i = 0; i < 16; i++) {
        char h = hex[i];
        int v = h <= '9' ? h - '0' : h - 'a' + 10;
        out[14 + i] = b32[(v * 2 + (hex[i + 16] > '7')) & 31];
    }
    out[30] = '\0';
}

/* Publishes the items decoded so far with the checkpoint: the Commit's
 * end_lsn when last, else the current checkpoint again (a chunk of a huge
 * transaction). Returns 0 or -1 (the store is closing). */
static int publish(reader_t *r, uint64_t end_lsn)
{
    cdc_source_t *s = r->s;
    rt_publish_item_t *items = rt_calloc(r->n + 1, sizeof(*items));
    rt_publish_error_t *errs = rt_calloc(r->n + 1, sizeof(*errs));
    for (size_t i = 0; i < r->n; i++) {
        item_t *it = &r->items[i];
        items[i].p =
            (rt_publish_t){s->app, s->env, it->map->m->topic, it->payload, it->meta, RT_SOURCE_CDC};
        items[i].id = it->id;
    }
    uint64_t ck = end_lsn ? end_lsn : durable(s);
    rt_store_write_t w = {RT_STORE_CDC_CHECKPOINT,
                          5,
                          {rt_store_text(s->app), rt_store_text(s->env), rt_store_text(s->name),
                           rt_store_int((int64_t)ck), rt_store_int(rt_time_ms())}};
    commit_ctx_t *x = rt_calloc(1, sizeof(*x));
    *x = (commit_ctx_t){s, end_lsn, r->commit_ms};
    atomic_fetch_add(&s->inflight, 1);
    int rc = rt_topics_publish_txn(s->cdc->topics, items, r->n, &w, 1, on_committed, x, errs);
    if (rc != 0) {
        atomic_fetch_sub(&s->inflight, 1);
        rt_free(x);
        set_error(s, "the event log is closing: %s", rt_strerror(rc));
    }
    for (size_t i = 0; i < r->n; i++) {
        item_t *it = &r->items[i];
        if (rc == 0 && errs[i].status != 0)
            rt_cdc_map_dead_letter(it->map, it->lsn, it->payload, &errs[i]);
        else if (rc == 0) {
            pthread_mutex_lock(&it->map->lock);
            it->map->events++;
            pthread_mutex_unlock(&it->map->lock);
        }
        json_decref(errs[i].details);
        json_decref(it->payload);
        json_decref(it->meta);
    }
    r->n = 0;
    rt_free(items);
    rt_free(errs);
    return rc == 0 ? 0 : -1;
}

/* ============================================================ decoding */

static const char *op_name(char type)
{
    return type == RT_CDC_MSG_INSERT ? "insert" : type == RT_CDC_MSG_UPDATE ? "update" : "delete";
}

static void add_item(reader_t *r, cdc_map_t *map, json_t *payload, json_t *meta, uint64_t lsn)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->items = rt_realloc(r->items, r->cap * sizeof(*r->items));
    }
    item_t *it = &r->items[r->n++];
    it->map = map;
    it->payload = payload;
    it->meta = meta;
    lsn_str(lsn, it->lsn);
    event_id(r, r->index++, it->id);
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(r->commit_ms, ts);
    json_object_set_new(meta, "source", json_string(r->s->name));
    json_object_set_new(meta, "lsn", json_string(it->lsn));
    json_object_set_new(meta, "xid", json_integer(r->xid));
    json_object_set_new(meta, "commitTime", json_string(ts));
}

/* Insert, Update, Delete: one event per matching mapping. */
static int on_change(reader_t *r, const rt_cdc_pg_msg_t *m, uint64_t lsn)
{
    if (!r->in_txn || r->skip_txn)
        return 0;
    const rt_cdc_relation_t *rel = m->u.change.rel;
    const char *op = op_name(m->type);
    json_t *unchanged = NULL;
    json_t *new_row = NULL, *old_row = NULL;
    if (m->u.change.new_tuple.kind)
        new_row = rt_cdc_pg_row_to_json(r->dec, rel, &m->u.change.new_tuple, &unchanged);
    if (m->u.change.old_tuple.kind)
        old_row = rt_cdc_pg_row_to_json(r->dec, rel, &m->u.change.old_tuple, NULL);
    if (new_row && unchanged)
        rt_cdc_row_fill_unchanged(new_row, old_row, unchanged);
    rt_cdc_change_t ch = {op,           rel->nspname,
                          rel->relname, new_row,
                          old_row,      unchanged && json_array_size(unchanged) ? unchanged : NULL};
    for (size_t i = 0; i < r->set->n; i++) {
        cdc_map_t *map = r->set->maps[i];
        if (strcmp(map->m->table, rel->relname) != 0 || strcmp(map->m->schema, rel->nspname) != 0)
            continue;
        json_t *payload = NULL, *meta = NULL;
        const char *reason = NULL;
        if (rt_cdc_mapping_eval(map->m, &ch, &payload, &meta, &reason) == 1)
            add_item(r, map, payload, meta, lsn);
    }
    json_decref(new_row);
    json_decref(old_row);
    json_decref(unchanged);
    if (r->n >= RT_CDC_TXN_CHUNK_EVENTS)
        return publish(r, 0);
    return 0;
}

static int on_commit(reader_t *r, const rt_cdc_pg_msg_t *m)
{
    int rc = 0;
    if (r->in_txn && !r->skip_txn)
        rc = publish(r, m->u.commit.end_lsn);
    r->in_txn = 0;
    rt_cdc_mapset_release(r->set);
    r->set = NULL;
    return rc;
}

static int on_message(reader_t *r, const rt_cdc_pg_msg_t *m, uint64_t lsn)
{
    switch (m->type) {
    case RT_CDC_MSG_BEGIN:
        rt_cdc_mapset_release(r->set);
        r->set = rt_cdc_mapset_get(r->s);
        r->in_txn = 1;
        r->xid = m->u.begin.xid;
        r->commit_lsn = m->u.begin.final_lsn;
        r->commit_ms = rt_cdc_pg_time_to_unix_ms(m->u.begin.commit_time_us);
        r->skip_txn = r->commit_lsn < r->skip_before;
        r->index = 0;
        r->n = 0;
        return 0;
    case RT_CDC_MSG_INSERT:
    case RT_CDC_MSG_UPDATE:
    case RT_CDC_MSG_DELETE:
        return on_change(r, m, lsn);
    case RT_CDC_MSG_COMMIT:
        return on_commit(r, m);
    case RT_CDC_MSG_TRUNCATE:
        rt_log_info("cdc_truncate", "source=%s/%s/%s relations=%u note=\"no events\"", r->s->app,
                    r->s->env, r->s->name, m->u.truncate.nrels);
        return 0;
    default: /* Relation and Type update the decoder's caches; Origin, Message */
        return 0;
    }
}

/* One CopyData message of the stream. */
static int on_copy(reader_t *r, const char *buf, int len)
{
    rt_cdc_copy_msg_t cm;
    int rc = rt_cdc_copy_parse(buf, (size_t)len, &cm);
    if (rc == RT_ENOENT)
        return 0;
    if (rc != 0) {
        set_error(r->s, "malformed replication message");
        return -1;
    }
    if (cm.type == 'k') {
        if (!r->in_txn && atomic_load(&r->s->inflight) == 0)
            r->idle_lsn = RT_MAX(r->idle_lsn, cm.wal_end);
        return send_status(r, cm.reply_requested);
    }
    rt_cdc_pg_msg_t m;
    rc = rt_cdc_pg_decode(r->dec, cm.data, cm.len, &m);
    if (rc != 0) {
        set_error(r->s, "undecodable pgoutput message (type '%c'): %s",
                  cm.len ? ((const char *)cm.data)[0] : '?', rt_strerror(rc));
        return -1;
    }
    return on_message(r, &m, cm.wal_start);
}

/* Reads every CopyData message libpq has, unless too many commits are
 * queued (then the poll pauses until the store catches up). */
static void drain(reader_t *r)
{
    while (r->streaming) {
        if (atomic_load(&r->s->inflight) >= RT_CDC_MAX_INFLIGHT_TXNS) {
            if (!r->paused && r->poll)
                uv_poll_stop(r->poll);
            r->paused = 1;
            return;
        }
        char *buf = NULL;
        int n = PQgetCopyData(r->repl, &buf, 1);
        if (n == 0)
            return;
        if (n < 0) {
            PGresult *res = PQgetResult(r->repl);
            const char *msg = res ? PQresultErrorMessage(res) : "";
            if (msg[0] == '\0')
                msg = PQerrorMessage(r->repl);
            set_error(r->s, "replication stream ended: %s",
                      msg[0] ? msg : "the server closed it (restart or shutdown?)");
            PQclear(res);
            fail(r);
            return;
        }
        int rc = on_copy(r, buf, n);
        PQfreemem(buf);
        if (rc != 0) {
            fail(r);
            return;
        }
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)events;
    reader_t *r = h->data;
    if (status < 0 || PQconsumeInput(r->repl) == 0) {
        set_error(r->s, "connection to PostgreSQL lost: %s",
                  status < 0 ? uv_strerror(status) : PQerrorMessage(r->repl));
        fail(r);
        return;
    }
    drain(r);
}

/* =============================================================== waiters */

static void answer(reader_t *r, cdc_waiter_t *w)
{
    json_t *body = w->body;
    if (w->first_session) {
        body = rt_cdc_source_json(r->s);
    } else if (w->mapping) {
        json_object_set_new(body, "warnings", mapping_warnings(r, w->mapping));
    }
    w->done(w->arg, 0, body);
    rt_free((char *)w->mapping);
    rt_free(w);
}

static cdc_waiter_t *take_waiters(cdc_source_t *s, int first_session)
{
    pthread_mutex_lock(&s->lock);
    cdc_waiter_t *keep = NULL, *take = NULL;
    while (s->waiters) {
        cdc_waiter_t *w = s->waiters;
        s->waiters = w->next;
        if (w->first_session == first_session || first_session < 0) {
            w->next = take;
            take = w;
        } else {
            w->next = keep;
            keep = w;
        }
    }
    s->waiters = keep;
    pthread_mutex_unlock(&s->lock);
    return take;
}

static void answer_all(reader_t *r, cdc_waiter_t *w)
{
    while (w) {
        cdc_waiter_t *next = w->next;
        answer(r, w);
        w = next;
    }
}

/* Mapping changes: sync the publication (opening the control connection if
 * needed), then answer with warnings. */
static void serve_sync_waiters(reader_t *r)
{
    cdc_waiter_t *w = take_waiters(r->s, 0);
    if (w == NULL)
        return;
    if (ctl_open(r) != 0 || sync_publication(r) != 0) {
        json_decref(r->tinfo);
        r->tinfo = NULL;
    }
    answer_all(r, w);
}

/* =================================================================== loop */

static void finish(reader_t *r)
{
    close_session(r);
    int drop;
    pthread_mutex_lock(&r->s->lock);
    drop = r->s->drop_slot;
    pthread_mutex_unlock(&r->s->lock);
    if (drop)
        drop_slot(r);
    PQfinish(r->ctl);
    r->ctl = NULL;
    pthread_mutex_lock(&r->s->lock);
    r->s->wake_open = 0;
    r->s->state = "stopped";
    pthread_mutex_unlock(&r->s->lock);
    answer_all(r, take_waiters(r->s, -1));
    uv_close((uv_handle_t *)&r->s->wake, NULL);
    uv_close((uv_handle_t *)&r->tick, NULL);
}

/* Stop: close the stream at once, then wait for queued commits to land. */
static int check_stop(reader_t *r)
{
    pthread_mutex_lock(&r->s->lock);
    int stop = r->s->stop;
    pthread_mutex_unlock(&r->s->lock);
    if (!stop)
        return 0;
    if (!r->stopping) {
        r->stopping = 1;
        r->stop_deadline_ms = rt_time_ms() + RT_CDC_STOP_DRAIN_MS;
        close_session(r);
    }
    if (r->stopping == 1 &&
        (atomic_load(&r->s->inflight) == 0 || rt_time_ms() > r->stop_deadline_ms)) {
        r->stopping = 2;
        finish(r);
    }
    return 1;
}

static void refresh_stats(reader_t *r, int64_t now)
{
    if (now - r->last_stats_ms < RT_CDC_STATS_INTERVAL_MS || ctl_open(r) != 0)
        return;
    r->last_stats_ms = now;
    if (now - r->last_heartbeat_ms >= RT_CDC_HEARTBEAT_INTERVAL_MS) {
        r->last_heartbeat_ms = now;
        PQclear(ctl_query(r, "heartbeat",
                          "SELECT pg_logical_emit_message(false, 'realtime.heartbeat', '')", 0,
                          NULL));
    }
    const char *p[1] = {r->s->slot};
    PGresult *res =
        ctl_query(r, "reading the slot's lag",
                  "SELECT pg_current_wal_lsn()::text, (SELECT confirmed_flush_lsn::text "
                  "FROM pg_replication_slots WHERE slot_name = $1)",
                  1, p);
    if (res == NULL)
        return;
    uint64_t srv = 0, slot = 0;
    const char *a = PQgetvalue(res, 0, 0), *b = PQgetvalue(res, 0, 1);
    rt_cdc_lsn_parse(a, strlen(a), &srv);
    rt_cdc_lsn_parse(b, strlen(b), &slot);
    PQclear(res);
    int64_t last = atomic_load(&r->s->last_commit_ms);
    pthread_mutex_lock(&r->s->lock);
    r->s->server_lsn = srv;
    r->s->slot_lsn = slot;
    r->s->lag_ms = last ? now - last : 0;
    pthread_mutex_unlock(&r->s->lock);
}

static void update_rate(reader_t *r, int64_t now)
{
    int64_t ev = atomic_load(&r->s->events);
    if (r->rate_ms && now > r->rate_ms) {
        double inst = (double)(ev - r->rate_events) * 1000.0 / (double)(now - r->rate_ms);
        pthread_mutex_lock(&r->s->lock);
        r->s->events_per_s = r->s->events_per_s * 0.7 + inst * 0.3;
        pthread_mutex_unlock(&r->s->lock);
    }
    r->rate_events = ev;
    r->rate_ms = now;
}

/* The reader's housekeeping: start sessions, status updates, stats, and
 * answers to waiters. Runs on every tick and every wake. */
static void step(reader_t *r)
{
    if (r->stopping == 2 || check_stop(r))
        return;
    if (atomic_exchange(&r->s->store_failed, 0) && r->streaming) {
        set_error(r->s, "storing events failed: restarting from the last checkpoint");
        fail(r);
    }
    int64_t now = rt_time_ms();
    if (!r->streaming && now >= r->next_attempt_ms && atomic_load(&r->s->inflight) == 0) {
        if (r->first_done) {
            pthread_mutex_lock(&r->s->lock);
            r->s->reconnects++;
            pthread_mutex_unlock(&r->s->lock);
        }
        if (session_open(r) != 0)
            fail(r);
        r->first_done = 1;
        answer_all(r, take_waiters(r->s, 1));
    }
    serve_sync_waiters(r);
    if (r->streaming && r->paused && atomic_load(&r->s->inflight) < RT_CDC_MAX_INFLIGHT_TXNS) {
        r->paused = 0;
        uv_poll_start(r->poll, UV_READABLE, on_poll);
        drain(r);
    }
    if (r->streaming && send_status(r, 0) != 0)
        fail(r);
    if (r->streaming)
        refresh_stats(r, now);
}

static void on_tick(uv_timer_t *t)
{
    reader_t *r = t->data;
    update_rate(r, rt_time_ms());
    step(r);
}

static void on_wake(uv_async_t *a)
{
    step(a->data);
}

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    rt_cdc_decoder_free(r->dec);
    json_decref(r->tinfo);
    rt_free(r->items);
    rt_free(r);
    return NULL;
}

int rt_cdc_reader_start(cdc_source_t *s)
{
    reader_t *r = rt_calloc(1, sizeof(*r));
    r->s = s;
    uv_loop_init(&r->loop);
    uv_timer_init(&r->loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, 0, RT_CDC_TICK_MS);
    uv_async_init(&r->loop, &s->wake, on_wake);
    s->wake.data = r;
    pthread_mutex_lock(&s->lock);
    s->wake_open = 1;
    s->stop = 0;
    pthread_mutex_unlock(&s->lock);
    if (pthread_create(&s->thread, NULL, reader_main, r) != 0) {
        rt_log_error("cdc_thread_failed", "source=%s/%s/%s", s->app, s->env, s->name);
        pthread_mutex_lock(&s->lock);
        s->wake_open = 0;
        pthread_mutex_unlock(&s->lock);
        uv_close((uv_handle_t *)&s->wake, NULL);
        uv_close((uv_handle_t *)&r->tick, NULL);
        uv_run(&r->loop, UV_RUN_DEFAULT);
        uv_loop_close(&r->loop);
        rt_free(r);
        return RT_EIO;
    }
    s->started = 1;
    return 0;
}

void rt_cdc_reader_stop(cdc_source_t *s, int drop)
{
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    s->drop_slot = drop;
    if (s->wake_open)
        uv_async_send(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

void rt_cdc_reader_wait(cdc_source_t *s, cdc_waiter_t *w)
{
    pthread_mutex_lock(&s->lock);
    int open = s->wake_open;
    if (open) {
        w->next = s->waiters;
        s->waiters = w;
        uv_async_send(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    if (!open) {
        json_t *body = w->first_session ? rt_cdc_source_json(s) : w->body;
        w->done(w->arg, 0, body);
        rt_free((char *)w->mapping);
        rt_free(w);
    }
}

void rt_cdc_reader_wake(cdc_source_t *s)
{
    wake(s);
}
