/*
 * This file implements the storage interface on embedded SQLite: the schema
 * migrations, the writer thread with group commit, and a small pool of read
 * connections. The database runs in WAL mode, so reads never wait for the
 * writer and the writer never waits for reads.
 *
 * Group commit: producers append jobs to a queue; the writer takes everything
 * queued (up to RT_STORE_MAX_BATCH_JOBS), wraps it in one transaction with a
 * savepoint per job (so one bad job does not sink its neighbours), commits,
 * and only then runs the completion callbacks in submission order.
 */
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ============================================================= SQL and schema */

/* Each migration moves the schema from version i to i+1; never edit one that
 * has shipped, append a new one instead. */
static const char *const migrations[] = {
    /* 1: tenants, keys, topics, event log, schemas */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE apps(id TEXT PRIMARY KEY, name TEXT NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE TABLE envs(app TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
    "  signing_secret TEXT NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY(app, id));"
    "CREATE TABLE keys(id TEXT PRIMARY KEY, app TEXT NOT NULL, env TEXT NOT NULL,"
    "  name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, revoked_ms INTEGER);"
    "CREATE TABLE topics(tid INTEGER PRIMARY KEY, app TEXT NOT NULL, env TEXT NOT NULL,"
    "  name TEXT NOT NULL, description TEXT NOT NULL, retention_ms INTEGER NOT NULL,"
    "  retention_count INTEGER NOT NULL, active_schema_version INTEGER NOT NULL,"
    "  compatibility TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL DEFAULT 0, UNIQUE(app, env, name));"
    "CREATE TABLE events(tid INTEGER NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL, envelope TEXT NOT NULL, PRIMARY KEY(tid, seq)) WITHOUT ROWID;"
    "CREATE TABLE schemas(tid INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, PRIMARY KEY(tid, version));",
    /* 2: formats as assertions, per topic */
    "ALTER TABLE topics ADD COLUMN format_assertion INTEGER NOT NULL DEFAULT 0;",
    /* 3: webhooks: endpoints, the outbox (one delivery per endpoint and event),
     * the attempt log */
    "CREATE TABLE wh_endpoints(eid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  app TEXT NOT NULL, env TEXT NOT NULL, enabled INTEGER NOT NULL, config TEXT NOT NULL,"
    "  secret TEXT NOT NULL, old_secret TEXT, old_until_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE TABLE wh_deliveries(did INTEGER PRIMARY KEY AUTOINCREMENT, eid INTEGER NOT NULL,"
    "  event_id TEXT NOT NULL, tid INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  state INTEGER NOT NULL, attempts INTEGER NOT NULL, next_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE INDEX wh_deliveries_pending ON wh_deliveries(did) WHERE state = 0;"
    "CREATE INDEX wh_deliveries_event ON wh_deliveries(eid, event_id);"
    "CREATE INDEX wh_deliveries_created ON wh_deliveries(eid, created_ms);"
    "CREATE TABLE wh_attempts(aid INTEGER PRIMARY KEY AUTOINCREMENT, eid INTEGER NOT NULL,"
    "  did INTEGER, event_id TEXT NOT NULL, attempt INTEGER NOT NULL, time_ms INTEGER NOT NULL,"
    "  status_code INTEGER NOT NULL, error TEXT, latency_us INTEGER NOT NULL, response TEXT);"
    "CREATE INDEX wh_attempts_eid ON wh_attempts(eid, aid);",
    /* 4: change data capture: sources, mappings, and each source's checkpoint
     * (the end LSN of the last transaction stored, written in the same commit
     * as that transaction's events) */
    "CREATE TABLE cdc_sources(app TEXT NOT NULL, env TEXT NOT NULL, name TEXT NOT NULL,"
    "  config TEXT NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY(app, env, name));"
    "CREATE TABLE cdc_mappings(app TEXT NOT NULL, env TEXT NOT NULL, name TEXT NOT NULL,"
    "  source TEXT NOT NULL, config TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(app, env, name));"
    "CREATE TABLE cdc_checkpoints(app TEXT NOT NULL, env TEXT NOT NULL, source TEXT NOT NULL,"
    "  lsn INTEGER NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY(app, env, source));",
};

static const char *const op_sql[RT_STORE_OP_COUNT] = {
    [RT_STORE_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                          " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [RT_STORE_APP_PUT] = "INSERT INTO apps(id, name, created_ms) VALUES(?1, ?2, ?3)"
                         " ON CONFLICT(id) DO UPDATE SET name = excluded.name",
    [RT_STORE_APP_DEL] = "DELETE FROM events WHERE tid IN (SELECT tid FROM topics WHERE app = ?1);"
                         "DELETE FROM schemas WHERE tid IN (SELECT tid FROM topics WHERE app = ?1);"
                         "DELETE FROM topics WHERE app = ?1; DELETE FROM keys WHERE app = ?1;"
                         "DELETE FROM envs WHERE app = ?1; DELETE FROM apps WHERE id = ?1",
    [RT_STORE_ENV_PUT] = "INSERT INTO envs(app, id, name, signing_secret, created_ms)"
                         " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(app, id) DO UPDATE SET"
                         " name = excluded.name",
    [RT_STORE_ENV_DEL] =
        "DELETE FROM events WHERE tid IN (SELECT tid FROM topics WHERE app = ?1 AND env = ?2);"
        "DELETE FROM schemas WHERE tid IN (SELECT tid FROM topics WHERE app = ?1 AND env = ?2);"
        "DELETE FROM topics WHERE app = ?1 AND env = ?2;"
        "DELETE FROM keys WHERE app = ?1 AND env = ?2;"
        "DELETE FROM envs WHERE app = ?1 AND id = ?2",
    [RT_STORE_KEY_PUT] = "INSERT INTO keys(id, app, env, name, hash, prefix, created_ms)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [RT_STORE_KEY_REVOKE] = "UPDATE keys SET revoked_ms = ?2 WHERE id = ?1",
    [RT_STORE_TOPIC_PUT] =
        "INSERT INTO topics(tid, app, env, name, description, retention_ms, retention_count,"
        " active_schema_version, compatibility, created_ms, format_assertion)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(tid) DO UPDATE SET"
        " description = excluded.description, retention_ms = excluded.retention_ms,"
        " retention_count = excluded.retention_count,"
        " active_schema_version = excluded.active_schema_version,"
        " compatibility = excluded.compatibility, format_assertion = excluded.format_assertion",
    [RT_STORE_TOPIC_DEL] = "DELETE FROM events WHERE tid = ?1; DELETE FROM schemas WHERE tid = ?1;"
                           "DELETE FROM topics WHERE tid = ?1",
    [RT_STORE_EVENT_APPEND] =
        "INSERT INTO events(tid, seq, id, time_ms, envelope) VALUES(?1, ?2, ?3, ?4, ?5)",
    /* The topic remembers its highest seq before old events go, so a restart
     * after the log was trimmed empty continues the sequence. */
    [RT_STORE_EVENT_TRIM] =
        "UPDATE topics SET seq = MAX(seq, IFNULL((SELECT MAX(seq) FROM events WHERE tid = ?1), 0))"
        " WHERE tid = ?1;"
        "DELETE FROM events WHERE tid = ?1 AND (seq <= ?2 OR time_ms < ?3)",
    [RT_STORE_SCHEMA_PUT] =
        "INSERT INTO schemas(tid, version, body, created_ms) VALUES(?1, ?2, ?3, ?4)",
    [RT_STORE_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [RT_STORE_APPS_ALL] = "SELECT id, name, created_ms FROM apps ORDER BY id",
    [RT_STORE_ENVS_ALL] =
        "SELECT app, id, name, signing_secret, created_ms FROM envs ORDER BY app, id",
    [RT_STORE_KEYS_ALL] = "SELECT id, app, env, name, hash, prefix, created_ms, revoked_ms"
                          " FROM keys ORDER BY id",
    [RT_STORE_TOPICS_ALL] =
        "SELECT t.tid, t.app, t.env, t.name, t.description, t.retention_ms, t.retention_count,"
        " t.active_schema_version, t.compatibility, t.created_ms,"
        " MAX(t.seq, IFNULL((SELECT MAX(e.seq) FROM events e WHERE e.tid = t.tid), 0)),"
        " t.format_assertion FROM topics t ORDER BY t.tid",
    [RT_STORE_EVENTS_RANGE] =
        "SELECT seq, envelope FROM events WHERE tid = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [RT_STORE_SCHEMAS_ALL] =
        "SELECT tid, version, body, created_ms FROM schemas ORDER BY tid, version",
    [RT_STORE_WH_ENDPOINT_PUT] =
        "INSERT INTO wh_endpoints(eid, id, app, env, enabled, config, secret, old_secret,"
        " old_until_ms, created_ms, updated_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
        "?11)"
        " ON CONFLICT(eid) DO UPDATE SET enabled = excluded.enabled, config = excluded.config,"
        " secret = excluded.secret, old_secret = excluded.old_secret,"
        " old_until_ms = excluded.old_until_ms, updated_ms = excluded.updated_ms",
    [RT_STORE_WH_ENDPOINT_DEL] = "DELETE FROM wh_attempts WHERE eid = ?1;"
                                 "DELETE FROM wh_deliveries WHERE eid = ?1;"
                                 "DELETE FROM wh_endpoints WHERE eid = ?1",
    /* One row per endpoint id given, in the event's own commit. */
    [RT_STORE_WH_OUTBOX_PUT] =
        "INSERT INTO wh_deliveries(eid, event_id, tid, seq, state, attempts, next_ms, created_ms,"
        " updated_ms) SELECT column1, ?1, ?2, ?3, 0, 0, ?4, ?4, ?4 FROM"
        " (VALUES(?5), (?6), (?7), (?8), (?9), (?10), (?11), (?12)) WHERE column1 IS NOT NULL",
    [RT_STORE_WH_DELIVERY_SET] = "UPDATE wh_deliveries SET state = ?2, attempts = ?3,"
                                 " next_ms = ?4, updated_ms = ?5 WHERE did = ?1",
    [RT_STORE_WH_ATTEMPT_PUT] =
        "INSERT INTO wh_attempts(eid, did, event_id, attempt, time_ms, status_code, error,"
        " latency_us, response) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [RT_STORE_WH_REPLAY_EVENT] = "UPDATE wh_deliveries SET state = 0, attempts = 0, next_ms = ?3,"
                                 " updated_ms = ?3 WHERE eid = ?1 AND event_id = ?2",
    [RT_STORE_WH_REPLAY_SINCE] =
        "UPDATE wh_deliveries SET state = 0, attempts = 0, next_ms = ?4, updated_ms = ?4"
        " WHERE eid = ?1 AND created_ms >= ?2 AND (?3 = 0 OR state = 2)",
    [RT_STORE_WH_REPLAY_INSERT] =
        "INSERT INTO wh_deliveries(eid, event_id, tid, seq, state, attempts, next_ms, created_ms,"
        " updated_ms) VALUES(?1, ?2, ?3, ?4, 0, 0, ?5, ?5, ?5)",
    [RT_STORE_WH_TRIM] = "DELETE FROM wh_attempts WHERE time_ms < ?1;"
                         "DELETE FROM wh_deliveries WHERE state != 0 AND updated_ms < ?1",
    [RT_STORE_WH_ENDPOINTS_ALL] =
        "SELECT eid, id, app, env, enabled, config, secret, old_secret, old_until_ms, created_ms,"
        " updated_ms FROM wh_endpoints ORDER BY eid",
    [RT_STORE_WH_SCAN] = "SELECT did, eid, event_id, tid, seq, attempts, next_ms, created_ms"
                         " FROM wh_deliveries"
                         " WHERE state = 0 AND did > ?1 ORDER BY did LIMIT ?2",
    [RT_STORE_WH_ATTEMPTS] =
        "SELECT aid, did, event_id, attempt, time_ms, status_code, error, latency_us, response"
        " FROM wh_attempts WHERE eid = ?1 AND aid < ?2 AND (?3 = 0 OR (?3 = 1) ="
        " (status_code BETWEEN 200 AND 299)) AND (?4 IS NULL OR event_id = ?4)"
        " ORDER BY aid DESC LIMIT ?5",
    [RT_STORE_WH_REPLAY_COUNT] =
        "SELECT COUNT(*) FROM wh_deliveries WHERE eid = ?1 AND (?2 IS NULL OR event_id = ?2)"
        " AND (?2 IS NOT NULL OR created_ms >= ?3) AND (?4 = 0 OR state = 2)",
    [RT_STORE_WH_EVENT_BY_ID] = "SELECT tid, seq FROM events WHERE id = ?1 LIMIT 1",
    [RT_STORE_WH_PENDING_STATS] =
        "SELECT COUNT(*), MIN(created_ms) FROM wh_deliveries WHERE state = 0",
    [RT_STORE_WH_FAILING_SINCE] =
        "SELECT MIN(time_ms) FROM wh_attempts WHERE eid = ?1 AND aid > COALESCE("
        "(SELECT MAX(aid) FROM wh_attempts WHERE eid = ?1"
        " AND status_code BETWEEN 200 AND 299), 0)",
    [RT_STORE_CDC_SOURCE_PUT] =
        "INSERT INTO cdc_sources(app, env, name, config, created_ms) VALUES(?1, ?2, ?3, ?4, ?5)",
    [RT_STORE_CDC_SOURCE_DEL] =
        "DELETE FROM cdc_checkpoints WHERE app = ?1 AND env = ?2 AND source = ?3;"
        "DELETE FROM cdc_sources WHERE app = ?1 AND env = ?2 AND name = ?3",
    [RT_STORE_CDC_MAPPING_PUT] = "INSERT INTO cdc_mappings(app, env, name, source, config,"
                                 " created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [RT_STORE_CDC_MAPPING_DEL] =
        "DELETE FROM cdc_mappings WHERE app = ?1 AND env = ?2 AND name = ?3",
    [RT_STORE_CDC_CHECKPOINT] =
        "INSERT INTO cdc_checkpoints(app, env, source, lsn, updated_ms) VALUES(?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT(app, env, source) DO UPDATE SET lsn = MAX(lsn, excluded.lsn),"
        " updated_ms = excluded.updated_ms",
    [RT_STORE_CDC_SOURCES_ALL] =
        "SELECT s.app, s.env, s.name, s.config, s.created_ms, c.lsn FROM cdc_sources s"
        " LEFT JOIN cdc_checkpoints c ON c.app = s.app AND c.env = s.env AND c.source = s.name"
        " ORDER BY s.app, s.env, s.name",
    [RT_STORE_CDC_MAPPINGS_ALL] = "SELECT app, env, name, source, config, created_ms"
                                  " FROM cdc_mappings ORDER BY app, env, name",
};

/* ================================================================ types */

typedef struct job_s {
    struct job_s *next;
    rt_store_done_fn done;
    void *arg;
    int n;
    int status;
    rt_store_write_t writes[]; /* n entries */
} job_t;

/* A read connection with its prepared statements, cached per operation. */
typedef struct reader_s {
    sqlite3 *db;
    sqlite3_stmt *stmts[RT_STORE_OP_COUNT];
} reader_t;

struct rt_store_s {
    char *path;
    rt_store_fsync_t fsync_mode;
    sqlite3 *wdb; /* writer connection: only the writer thread touches it after open */
    /* the writer's prepared statements: single-statement operations, and the
     * savepoint commands run around every job */
    sqlite3_stmt *wstmts[RT_STORE_OP_COUNT];
    sqlite3_stmt *sp_begin, *sp_release, *sp_rollback;
    int schema_version;
    atomic_int healthy;

    pthread_t writer;
    pthread_mutex_t lock; /* guards the queue and stopping */
    pthread_cond_t cond;
    job_t *head, **tail;
    int stopping;

    pthread_mutex_t readers_lock; /* guards the reader pool */
    reader_t *free_readers[RT_STORE_READERS_MAX];
    int nfree;

    /* The checkpointer: its own thread and connection, so that copying the
     * WAL into the database (and its fsyncs) never stalls a group commit. */
    pthread_t checkpointer;
    sqlite3 *cdb;
    pthread_cond_t ckpt_cond; /* signalled on close; guarded by lock */

    rt_histo_t *commit_latency;
    rt_metric_t *commits;
    rt_metric_t *commit_failures;
};

struct rt_store_row_s {
    sqlite3_stmt *stmt;
};

rt_store_val_t rt_store_text(const char *s)
{
    rt_store_val_t v = {s ? RT_STORE_TEXT : RT_STORE_NULL, 0, s, s ? strlen(s) : 0};
    return v;
}

rt_store_val_t rt_store_textn(const char *s, size_t len)
{
    rt_store_val_t v = {RT_STORE_TEXT, 0, s, len};
    return v;
}

/* ============================================================= connections */

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        rt_log_error("store_sql_failed", "error=\"%s\"", err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return RT_EIO;
    }
    return 0;
}

static int open_conn(const rt_store_t *s, int readonly, sqlite3 **out)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_NOMUTEX |
                (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(s->path, &db, flags, NULL) != SQLITE_OK) {
        rt_log_error("store_open_failed", "path=%s error=\"%s\"", s->path,
                     db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return RT_EIO;
    }
    sqlite3_busy_timeout(db, 5000);
    const char *pragmas = s->fsync_mode == RT_STORE_FSYNC_ALWAYS
                              ? "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
                              : "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;";
    if (exec_sql(db, pragmas) != 0) {
        sqlite3_close(db);
        return RT_EIO;
    }
    *out = db;
    return 0;
}

static int read_user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return RT_EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : RT_EIO;
}

/* Runs every migration past the stored version, each in its own transaction
 * together with the version bump, so a crash mid-way resumes cleanly. */
static int migrate(rt_store_t *s)
{
    int version = 0;
    if (read_user_version(s->wdb, &version) != 0)
        return RT_EIO;
    int target = (int)RT_ARRAY_LEN(migrations);
    if (version > target) {
        rt_log_error("store_too_new", "path=%s schema_version=%d supported=%d", s->path, version,
                     target);
        return RT_EIO;
    }
    for (int v = version; v < target; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version=%d;", v + 1);
        if (exec_sql(s->wdb, "BEGIN IMMEDIATE") != 0)
            return RT_EIO;
        if (exec_sql(s->wdb, migrations[v]) != 0 || exec_sql(s->wdb, bump) != 0) {
            exec_sql(s->wdb, "ROLLBACK");
            return RT_EIO;
        }
        if (exec_sql(s->wdb, "COMMIT") != 0)
            return RT_EIO;
        rt_log_info("store_migrated", "path=%s schema_version=%d", s->path, v + 1);
    }
    s->schema_version = target;
    return 0;
}

/* =============================================================== writes */

static int bind_vals(sqlite3_stmt *st, const rt_store_val_t *vals, int n)
{
    int params = sqlite3_bind_parameter_count(st);
    for (int i = 0; i < n && i < params; i++) {
        const rt_store_val_t *v = &vals[i];
        int rc;
        if (v->type == RT_STORE_INT)
            rc = sqlite3_bind_int64(st, i + 1, v->i);
        else if (v->type == RT_STORE_TEXT)
            rc = sqlite3_bind_text(st, i + 1, v->s, (int)v->len, SQLITE_STATIC);
        else
            rc = sqlite3_bind_null(st, i + 1);
        if (rc != SQLITE_OK)
            return RT_EIO;
    }
    return 0;
}

static int step_write(sqlite3 *db, sqlite3_stmt *st, const rt_store_write_t *w)
{
    int rc = bind_vals(st, w->vals, w->nvals);
    int step = rc == 0 ? sqlite3_step(st) : SQLITE_ERROR;
    int ext = sqlite3_extended_errcode(db);
    if (step == SQLITE_DONE || step == SQLITE_ROW)
        return 0;
    rt_log_warn("store_write_failed", "op=%d error=\"%s\"", (int)w->op, sqlite3_errmsg(db));
    return ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE ? RT_EEXIST
                                                                                  : RT_EIO;
}

/* Runs one operation. Single-statement operations use a statement prepared
 * once; the few with several statements (cascading deletes) are prepared on
 * the spot. */
static int run_write(rt_store_t *s, const rt_store_write_t *w)
{
    sqlite3 *db = s->wdb;
    const char *sql = op_sql[w->op];
    const char *tail = NULL;
    sqlite3_stmt *st = s->wstmts[w->op];
    if (st) {
        int rc = step_write(db, st, w);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc;
    }
    while (sql && *sql) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail) != SQLITE_OK) {
            rt_log_error("store_prepare_failed", "op=%d error=\"%s\"", (int)w->op,
                         sqlite3_errmsg(db));
            return RT_EIO;
        }
        if (st == NULL)
            break;
        if (sql == op_sql[w->op] && (tail == NULL || *tail == '\0')) {
            s->wstmts[w->op] = st; /* the whole operation: keep it */
            return run_write(s, w);
        }
        int rc = step_write(db, st, w);
        sqlite3_finalize(st);
        if (rc != 0)
            return rc;
        sql = tail;
    }
    return 0;
}

static int run_stmt(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : RT_EIO;
}

static void run_job(rt_store_t *s, job_t *j)
{
    /* One statement is atomic by itself in SQLite: only jobs of several
     * writes need a savepoint to fail alone. */
    if (j->n == 1 && s->wstmts[j->writes[0].op]) {
        j->status = run_write(s, &j->writes[0]);
        return;
    }
    if (run_stmt(s->sp_begin) != 0) {
        j->status = RT_EIO;
        return;
    }
    j->status = 0;
    for (int i = 0; i < j->n && j->status == 0; i++)
        j->status = run_write(s, &j->writes[i]);
    if (j->status != 0)
        run_stmt(s->sp_rollback);
    run_stmt(s->sp_release);
}

static job_t *take_batch(rt_store_t *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->head == NULL && !s->stopping)
        pthread_cond_wait(&s->cond, &s->lock);
    job_t *batch = s->head, *last = NULL;
    int n = 0;
    for (job_t *j = batch; j && n < RT_STORE_MAX_BATCH_JOBS; j = j->next, n++)
        last = j;
    if (last) {
        s->head = last->next;
        last->next = NULL;
        if (s->head == NULL)
            s->tail = &s->head;
    }
    pthread_mutex_unlock(&s->lock);
    return batch;
}

static void commit_batch(rt_store_t *s, job_t *batch)
{
    uint64_t t0 = rt_mono_ns();
    int status = exec_sql(s->wdb, "BEGIN IMMEDIATE");
    if (status == 0) {
        for (job_t *j = batch; j; j = j->next)
            run_job(s, j);
        status = exec_sql(s->wdb, "COMMIT");
        if (status != 0)
            exec_sql(s->wdb, "ROLLBACK");
    }
    rt_histo_observe_ns(s->commit_latency, rt_mono_ns() - t0);
    rt_metric_add(s->commits, 1);
    if (status != 0) {
        /* Nothing of this batch is durable: tell every producer, and stop
         * claiming readiness, since seqs handed out may now have a gap. */
        atomic_store(&s->healthy, 0);
        rt_metric_add(s->commit_failures, 1);
    }
    while (batch) {
        job_t *next = batch->next;
        if (batch->done)
            batch->done(batch->arg, status != 0 ? status : batch->status);
        rt_free(batch);
        batch = next;
    }
}

static void *writer_main(void *arg)
{
    rt_store_t *s = arg;
    for (;;) {
        job_t *batch = take_batch(s);
        if (batch == NULL)
            break; /* stopping and drained */
        commit_batch(s, batch);
    }
    return NULL;
}

int rt_store_submit(rt_store_t *s, const rt_store_write_t *writes, int n, rt_store_done_fn done,
                    void *arg)
{
    rt_assert(n > 0);
    /* Text values are copied behind the job in the same allocation, so that
     * callers need not keep anything alive until the commit. */
    size_t text = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < writes[i].nvals; k++) {
            if (writes[i].vals[k].type == RT_STORE_TEXT)
                text += writes[i].vals[k].len;
        }
    }
    size_t head = sizeof(job_t) + (size_t)n * sizeof(rt_store_write_t);
    job_t *j = rt_malloc(head + text + 1);
    j->next = NULL;
    j->done = done;
    j->arg = arg;
    j->n = n;
    j->status = 0;
    memcpy(j->writes, writes, (size_t)n * sizeof(rt_store_write_t));
    char *p = (char *)j + head;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < j->writes[i].nvals; k++) {
            rt_store_val_t *v = &j->writes[i].vals[k];
            if (v->type != RT_STORE_TEXT)
                continue;
            if (v->len)
                memcpy(p, v->s, v->len);
            v->s = p;
            p += v->len;
        }
    }
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        rt_free(j);
        return RT_ESTATE;
    }
    *s->tail = j;
    s->tail = &j->next;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* ================================================================ reads */

static reader_t *reader_get(rt_store_t *s)
{
    pthread_mutex_lock(&s->readers_lock);
    reader_t *r = s->nfree > 0 ? s->free_readers[--s->nfree] : NULL;
    pthread_mutex_unlock(&s->readers_lock);
    if (r)
        return r;
    r = rt_calloc(1, sizeof(*r));
    if (open_conn(s, 1, &r->db) != 0) {
        rt_free(r);
        return NULL;
    }
    return r;
}

static void reader_free(reader_t *r)
{
    for (int i = 0; i < RT_STORE_OP_COUNT; i++)
        sqlite3_finalize(r->stmts[i]);
    sqlite3_close(r->db);
    rt_free(r);
}

static void reader_put(rt_store_t *s, reader_t *r)
{
    pthread_mutex_lock(&s->readers_lock);
    if (s->nfree < RT_STORE_READERS_MAX) {
        s->free_readers[s->nfree++] = r;
        r = NULL;
    }
    pthread_mutex_unlock(&s->readers_lock);
    if (r)
        reader_free(r);
}

int rt_store_read(rt_store_t *s, rt_store_op_t op, const rt_store_val_t *vals, int nvals,
                  rt_store_row_fn fn, void *arg)
{
    reader_t *r = reader_get(s);
    if (r == NULL)
        return RT_EIO;
    int status = 0;
    sqlite3_stmt *st = r->stmts[op];
    if (st == NULL && sqlite3_prepare_v3(r->db, op_sql[op], -1, SQLITE_PREPARE_PERSISTENT, &st,
                                         NULL) != SQLITE_OK) {
        rt_log_error("store_prepare_failed", "op=%d error=\"%s\"", (int)op, sqlite3_errmsg(r->db));
        status = RT_EIO;
        goto out;
    }
    r->stmts[op] = st;
    if (bind_vals(st, vals, nvals) != 0) {
        status = RT_EIO;
        goto reset;
    }
    rt_store_row_t row = {st};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn(arg, &row))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rt_log_error("store_read_failed", "op=%d error=\"%s\"", (int)op, sqlite3_errmsg(r->db));
        status = RT_EIO;
    }
reset:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
out:
    reader_put(s, r);
    return status;
}

int64_t rt_store_row_int(const rt_store_row_t *row, int col)
{
    return sqlite3_column_int64(row->stmt, col);
}

const char *rt_store_row_text(const rt_store_row_t *row, int col, size_t *len)
{
    const char *t = (const char *)sqlite3_column_text(row->stmt, col);
    if (len)
        *len = t ? (size_t)sqlite3_column_bytes(row->stmt, col) : 0;
    return t;
}

int rt_store_row_is_null(const rt_store_row_t *row, int col)
{
    return sqlite3_column_type(row->stmt, col) == SQLITE_NULL;
}

/* ============================================================ lifecycle */

/* Every RT_STORE_CHECKPOINT_MS, a PASSIVE checkpoint: it copies what it can
 * without waiting for the writer or readers, and the writer never runs one
 * itself (wal_autocheckpoint is off on its connection). */
static void *checkpointer_main(void *arg)
{
    rt_store_t *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)RT_STORE_CHECKPOINT_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->ckpt_cond, &s->lock, &ts);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->lock);
        sqlite3_wal_checkpoint_v2(s->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void close_writer_stmts(rt_store_t *s)
{
    for (int i = 0; i < RT_STORE_OP_COUNT; i++)
        sqlite3_finalize(s->wstmts[i]);
    sqlite3_finalize(s->sp_begin);
    sqlite3_finalize(s->sp_release);
    sqlite3_finalize(s->sp_rollback);
}

int rt_store_open(const char *dir, rt_store_fsync_t fsync_mode, rt_store_t **out)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rt_log_error("store_mkdir_failed", "dir=%s error=\"%s\"", dir, strerror(errno));
        return RT_EIO;
    }
    rt_store_t *s = rt_calloc(1, sizeof(*s));
    rt_buf_t path;
    rt_buf_init(&path);
    rt_buf_appendf(&path, "%s/realtime.db", dir);
    s->path = rt_buf_steal(&path, NULL);
    s->fsync_mode = fsync_mode;
    s->tail = &s->head;
    atomic_init(&s->healthy, 1);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_cond_init(&s->ckpt_cond, NULL);
    pthread_mutex_init(&s->readers_lock, NULL);
    s->commit_latency =
        rt_histo_get("rt_store_commit_seconds", "", "Latency of one storage group commit");
    s->commits = rt_metric_get("rt_store_commits_total", "", "counter", "Storage group commits");
    s->commit_failures = rt_metric_get("rt_store_commit_failures_total", "", "counter",
                                       "Storage group commits that failed");

    if (open_conn(s, 0, &s->wdb) != 0)
        goto err;
    if (exec_sql(s->wdb, "PRAGMA journal_mode=WAL") != 0 || migrate(s) != 0)
        goto err;
    if (sqlite3_prepare_v2(s->wdb, "SAVEPOINT job", -1, &s->sp_begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->wdb, "RELEASE job", -1, &s->sp_release, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->wdb, "ROLLBACK TO job", -1, &s->sp_rollback, NULL) != SQLITE_OK)
        goto err;
    if (exec_sql(s->wdb, "PRAGMA wal_autocheckpoint=0") != 0 || open_conn(s, 0, &s->cdb) != 0)
        goto err;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        goto err;
    if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s) != 0) {
        sqlite3_close(s->cdb);
        s->cdb = NULL; /* tells rt_store_close there is no thread to join */
        rt_store_close(s);
        return RT_EIO;
    }
    *out = s;
    return 0;
err:
    close_writer_stmts(s);
    sqlite3_close(s->cdb);
    sqlite3_close(s->wdb);
    rt_free(s->path);
    rt_free(s);
    return RT_EIO;
}

void rt_store_close(rt_store_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_signal(&s->cond);
    pthread_cond_signal(&s->ckpt_cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->writer, NULL);
    if (s->cdb)
        pthread_join(s->checkpointer, NULL);
    sqlite3_close(s->cdb);
    for (int i = 0; i < s->nfree; i++)
        reader_free(s->free_readers[i]);
    /* A checkpoint on close keeps the WAL file from growing across restarts. */
    close_writer_stmts(s);
    exec_sql(s->wdb, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(s->wdb);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->ckpt_cond);
    pthread_mutex_destroy(&s->readers_lock);
    rt_free(s->path);
    rt_free(s);
}

int rt_store_schema_version(rt_store_t *s)
{
    return s->schema_version;
}

int rt_store_healthy(rt_store_t *s)
{
    return atomic_load(&s->healthy);
}
