/*
 * This file implements the CDC manager: the sources and mappings of every
 * environment, validated, kept in memory and stored (RT_STORE_CDC_*), their
 * JSON for the API, the mapping dry run, and the hand-off to the reader
 * threads (cdc_reader.c) that read each source. A change is answered through
 * a completion once it is durable and, for mappings, once the source's
 * publication includes the table.
 */
#include <libpq-fe.h>
#include <string.h>

#include "cdc/cdc_internal.h"
#include "cdc/cdc_io.h"

/* ======================================================== refcounting */

cdc_map_t *rt_cdc_map_retain(cdc_map_t *m)
{
    atomic_fetch_add(&m->refs, 1);
    return m;
}

void rt_cdc_map_release(cdc_map_t *m)
{
    if (m == NULL)
        return;
    int before = atomic_fetch_sub(&m->refs, 1);
    rt_assert(before > 0);
    if (before != 1)
        return;
    rt_cdc_mapping_free(m->m);
    json_decref(m->dead);
    pthread_mutex_destroy(&m->lock);
    rt_free(m->app);
    rt_free(m->env);
    rt_free(m);
}

cdc_mapset_t *rt_cdc_mapset_get(cdc_source_t *s)
{
    pthread_mutex_lock(&s->lock);
    cdc_mapset_t *set = s->maps;
    atomic_fetch_add(&set->refs, 1);
    pthread_mutex_unlock(&s->lock);
    return set;
}

void rt_cdc_mapset_release(cdc_mapset_t *set)
{
    if (set == NULL)
        return;
    int before = atomic_fetch_sub(&set->refs, 1);
    rt_assert(before > 0);
    if (before != 1)
        return;
    for (size_t i = 0; i < set->n; i++)
        rt_cdc_map_release(set->maps[i]);
    rt_free(set->maps);
    rt_free(set);
}

void rt_cdc_map_dead_letter(cdc_map_t *m, const char *lsn, const json_t *payload,
                            const rt_publish_error_t *err)
{
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(rt_time_ms(), ts);
    json_t *d =
        json_pack("{s:s,s:s,s:s,s:s,s:O?,s:O?}", "time", ts, "lsn", lsn, "code",
                  err->code ? err->code : "refused", "message", err->message ? err->message : "",
                  "details", err->details, "payload", payload);
    pthread_mutex_lock(&m->lock);
    m->rejected++;
    if (json_array_size(m->dead) >= RT_CDC_DEAD_LETTERS_MAX)
        json_array_remove(m->dead, 0);
    json_array_append_new(m->dead, d);
    pthread_mutex_unlock(&m->lock);
    rt_log_warn("cdc_event_rejected", "mapping=%s topic=%s lsn=%s code=%s", m->m->name, m->m->topic,
                lsn, err->code ? err->code : "refused");
}

/* =========================================================== lookups */

static int same_env(const char *app, const char *env, const char *a, const char *e)
{
    return strcmp(app, a) == 0 && strcmp(env, e) == 0;
}

/* Under c->lock. */
static cdc_source_t *find_source(rt_cdc_t *c, const char *app, const char *env, const char *name)
{
    for (size_t i = 0; i < c->nsources; i++) {
        cdc_source_t *s = c->sources[i];
        if (same_env(app, env, s->app, s->env) && strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

/* Under c->lock. Index of the mapping or -1. */
static long find_map(rt_cdc_t *c, const char *app, const char *env, const char *name)
{
    for (size_t i = 0; i < c->nmaps; i++) {
        cdc_map_t *m = c->maps[i];
        if (same_env(app, env, m->app, m->env) && strcmp(m->m->name, name) == 0)
            return (long)i;
    }
    return -1;
}

/* Under c->lock: rebuilds the mapping set of s from c->maps. */
static void rebuild_mapset(rt_cdc_t *c, cdc_source_t *s)
{
    cdc_mapset_t *set = rt_calloc(1, sizeof(*set));
    atomic_init(&set->refs, 1);
    set->maps = rt_calloc(c->nmaps + 1, sizeof(*set->maps));
    for (size_t i = 0; i < c->nmaps; i++) {
        cdc_map_t *m = c->maps[i];
        if (same_env(s->app, s->env, m->app, m->env) && strcmp(m->m->source, s->name) == 0)
            set->maps[set->n++] = rt_cdc_map_retain(m);
    }
    pthread_mutex_lock(&s->lock);
    cdc_mapset_t *old = s->maps;
    s->maps = set;
    pthread_mutex_unlock(&s->lock);
    rt_cdc_mapset_release(old);
}

static void push(void ***arr, size_t *n, size_t *cap, void *p)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *arr = rt_realloc(*arr, *cap * sizeof(**arr));
    }
    (*arr)[(*n)++] = p;
}

/* ============================================================ sources */

static void source_free(cdc_source_t *s)
{
    if (s == NULL)
        return;
    rt_cdc_mapset_release(s->maps);
    json_decref(s->tables);
    json_decref(s->published);
    pthread_mutex_destroy(&s->lock);
    rt_free(s->app);
    rt_free(s->env);
    rt_free(s->name);
    rt_free(s->dsn);
    rt_free(s->slot);
    rt_free(s->publication);
    rt_free(s);
}

static void add_err(json_t *errors, const char *field, const char *message)
{
    if (errors)
        json_array_append_new(errors, json_pack("{s:s,s:s}", "field", field, "message", message));
}

static int name_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          (s[0] >= '0' && s[0] <= '9')))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '-' || ch == '.';
        if (!ok)
            return 0;
    }
    return 1;
}

/* Slot and publication names: [a-z0-9_], 1..63 bytes (PostgreSQL's rule for
 * slots), so they never need quoting. */
static int pg_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RT_CDC_PG_NAME_MAX_BYTES)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    }
    return 1;
}

/* "rt_" and 24 hex digits of SHA-256(app/env/name): stable and unique. */
static char *default_pg_name(const char *app, const char *env, const char *name)
{
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_appendf(&b, "%s/%s/%s", app, env, name);
    char hex[65];
    rt_registry_sha256_hex(b.data, b.len, hex);
    rt_buf_close(&b);
    hex[24] = '\0';
    rt_buf_init(&b);
    rt_buf_appendf(&b, "rt_%s", hex);
    return rt_buf_steal(&b, NULL);
}

static const char *opt_str(const json_t *spec, const char *key, json_t *errors, int *bad)
{
    const json_t *v = json_object_get(spec, key);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        add_err(errors, key, "must be a string");
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

static void check_tables(const json_t *tables, json_t *errors, int *bad)
{
    if (tables == NULL || json_is_null(tables))
        return;
    if (!json_is_array(tables) || json_array_size(tables) > RT_CDC_SOURCE_MAX_TABLES) {
        add_err(errors, "tables", "must be an array of at most 256 \"schema.table\" strings");
        *bad = 1;
        return;
    }
    size_t i;
    const json_t *t;
    json_array_foreach(tables, i, t)
    {
        const char *v = json_string_value(t);
        if (v == NULL || strlen(v) == 0 || strlen(v) > 2 * RT_CDC_NAME_MAX_BYTES + 1) {
            add_err(errors, "tables", "each entry must be a \"schema.table\" string");
            *bad = 1;
            return;
        }
    }
}

static int dsn_valid(const char *dsn, json_t *errors)
{
    if (strlen(dsn) == 0 || strlen(dsn) > RT_CDC_DSN_MAX_BYTES) {
        add_err(errors, "dsn", "must be a non-empty connection string of at most 4096 bytes");
        return 0;
    }
    char *msg = NULL;
    PQconninfoOption *o = PQconninfoParse(dsn, &msg);
    if (o == NULL) {
        char buf[300];
        snprintf(buf, sizeof(buf), "not a valid PostgreSQL connection string: %s",
                 msg ? msg : "parse error");
        size_t n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            buf[--n] = '\0';
        add_err(errors, "dsn", buf);
        PQfreemem(msg);
        return 0;
    }
    PQconninfoFree(o);
    return 1;
}

static const char *const source_fields[] = {"name", "kind", "dsn", "slot", "publication", "tables"};

static int known_field(const char *k, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(k, fields[i]) == 0)
            return 1;
    }
    return 0;
}

/* Validates a source definition into a new record (not yet registered). */
static cdc_source_t *source_parse(const char *app, const char *env, const json_t *spec,
                                  json_t *errors)
{
    int bad = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)spec, k, v)
    {
        if (!known_field(k, source_fields, RT_ARRAY_LEN(source_fields))) {
            add_err(errors, k, "unknown field");
            bad = 1;
        }
    }
    const char *name = opt_str(spec, "name", errors, &bad);
    const char *kind = opt_str(spec, "kind", errors, &bad);
    const char *dsn = opt_str(spec, "dsn", errors, &bad);
    const char *slot = opt_str(spec, "slot", errors, &bad);
    const char *pub = opt_str(spec, "publication", errors, &bad);
    const json_t *tables = json_object_get(spec, "tables");
    if (name == NULL || !name_valid(name, RT_CDC_SOURCE_NAME_MAX_BYTES)) {
        add_err(errors, "name",
                "required: 1-128 bytes of [A-Za-z0-9_.-], starting with a letter "
                "or digit");
        bad = 1;
    }
    if (kind != NULL && strcmp(kind, "postgres") != 0) {
        add_err(errors, "kind", "must be \"postgres\"");
        bad = 1;
    }
    if (dsn == NULL) {
        add_err(errors, "dsn", "required");
        bad = 1;
    } else if (!dsn_valid(dsn, errors)) {
        bad = 1;
    }
    if (slot && !pg_name_valid(slot)) {
        add_err(errors, "slot", "must be 1-63 bytes of [a-z0-9_]");
        bad = 1;
    }
    if (pub && !pg_name_valid(pub)) {
        add_err(errors, "publication", "must be 1-63 bytes of [a-z0-9_]");
        bad = 1;
    }
    check_tables(tables, errors, &bad);
    if (bad)
        return NULL;
    cdc_source_t *s = rt_calloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->app = rt_strdup(app);
    s->env = rt_strdup(env);
    s->name = rt_strdup(name);
    s->dsn = rt_strdup(dsn);
    s->slot = slot ? rt_strdup(slot) : default_pg_name(app, env, name);
    s->own_publication = pub == NULL;
    s->publication = pub ? rt_strdup(pub) : default_pg_name(app, env, name);
    s->tables = json_is_array(tables) ? json_deep_copy(tables) : json_array();
    s->maps = rt_calloc(1, sizeof(*s->maps));
    atomic_init(&s->maps->refs, 1);
    s->state = "starting";
    s->published = json_array();
    return s;
}

/* The stored definition: what was given, with the derived names. */
static json_t *source_config(const cdc_source_t *s)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:O}", "name", s->name, "kind", "postgres", "dsn",
                     s->dsn, "slot", s->slot, "publication",
                     s->own_publication ? "" : s->publication, "tables", s->tables);
}

/* The DSN as key=value pairs with the password replaced, for display. */
static json_t *dsn_redacted(const char *dsn)
{
    PQconninfoOption *o = PQconninfoParse(dsn, NULL);
    if (o == NULL)
        return json_string("(invalid)");
    rt_buf_t b;
    rt_buf_init(&b);
    for (PQconninfoOption *p = o; p->keyword; p++) {
        if (p->val == NULL || p->val[0] == '\0')
            continue;
        int secret = strcmp(p->keyword, "password") == 0 || strcmp(p->keyword, "sslpassword") == 0;
        rt_buf_appendf(&b, "%s%s=%s", b.len ? " " : "", p->keyword, secret ? "********" : p->val);
    }
    PQconninfoFree(o);
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    rt_buf_close(&b);
    return j;
}

json_t *rt_cdc_source_json(cdc_source_t *s)
{
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(s->created_ms, ts);
    json_t *j = json_pack("{s:s,s:s,s:o,s:s,s:s,s:b,s:O,s:s,s:o}", "name", s->name, "kind",
                          "postgres", "dsn", dsn_redacted(s->dsn), "slot", s->slot, "publication",
                          s->publication, "publicationManaged", s->own_publication, "tables",
                          s->tables, "createdAt", ts, "status", rt_cdc_reader_status(s));
    return j;
}

typedef struct {
    rt_cdc_t *cdc;
    cdc_source_t *s;
    rt_cdc_done_fn done;
    void *arg;
} create_ctx_t;

/* Writer thread: the source is stored; start its reader, answer after its
 * first connection attempt. */
static void source_stored(void *arg, int status)
{
    create_ctx_t *x = arg;
    if (status != 0) {
        x->done(x->arg, status, NULL);
        rt_free(x);
        return;
    }
    cdc_waiter_t *w = rt_calloc(1, sizeof(*w));
    w->first_session = 1;
    w->done = x->done;
    w->arg = x->arg;
    pthread_mutex_lock(&x->cdc->lock);
    int running = x->cdc->running;
    if (running && rt_cdc_reader_start(x->s) == 0)
        rt_cdc_reader_wait(x->s, w);
    pthread_mutex_unlock(&x->cdc->lock);
    if (!running || !x->s->started) {
        x->done(x->arg, 0, rt_cdc_source_json(x->s));
        rt_free(w);
    }
    rt_free(x);
}

int rt_cdc_source_create(rt_cdc_t *c, const char *app, const char *env, const json_t *spec,
                         json_t *errors, rt_cdc_done_fn done, void *arg)
{
    cdc_source_t *s = source_parse(app, env, spec, errors);
    if (s == NULL)
        return RT_EINVAL;
    s->cdc = c;
    s->created_ms = rt_time_ms();
    pthread_mutex_lock(&c->lock);
    if (find_source(c, app, env, s->name)) {
        pthread_mutex_unlock(&c->lock);
        source_free(s);
        return RT_EEXIST;
    }
    push((void ***)&c->sources, &c->nsources, &c->capsources, s);
    rebuild_mapset(c, s);
    json_t *cfg = source_config(s);
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    rt_store_write_t w = {RT_STORE_CDC_SOURCE_PUT,
                          5,
                          {rt_store_text(app), rt_store_text(env), rt_store_text(s->name),
                           rt_store_text(text), rt_store_int(s->created_ms)}};
    create_ctx_t *x = rt_calloc(1, sizeof(*x));
    *x = (create_ctx_t){c, s, done, arg};
    int rc = rt_store_submit(c->store, &w, 1, source_stored, x);
    rt_free(text);
    if (rc != 0) {
        c->nsources--;
        pthread_mutex_unlock(&c->lock);
        source_free(s);
        rt_free(x);
        return rc;
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

json_t *rt_cdc_source_get(rt_cdc_t *c, const char *app, const char *env, const char *name)
{
    pthread_mutex_lock(&c->lock);
    cdc_source_t *s = find_source(c, app, env, name);
    json_t *j = s ? rt_cdc_source_json(s) : NULL;
    pthread_mutex_unlock(&c->lock);
    return j;
}

json_t *rt_cdc_source_list(rt_cdc_t *c, const char *app, const char *env)
{
    json_t *items = json_array();
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nsources; i++) {
        if (same_env(app, env, c->sources[i]->app, c->sources[i]->env))
            json_array_append_new(items, rt_cdc_source_json(c->sources[i]));
    }
    pthread_mutex_unlock(&c->lock);
    return json_pack("{s:o}", "items", items);
}

typedef struct {
    rt_cdc_done_fn done;
    void *arg;
    int keep_slot;
} delete_ctx_t;

static void source_deleted(void *arg, int status)
{
    delete_ctx_t *x = arg;
    x->done(x->arg, status, status == 0 ? json_pack("{s:b}", "slotKept", x->keep_slot) : NULL);
    rt_free(x);
}

int rt_cdc_source_delete(rt_cdc_t *c, const char *app, const char *env, const char *name,
                         int keep_slot, rt_cdc_done_fn done, void *arg)
{
    pthread_mutex_lock(&c->lock);
    cdc_source_t *s = find_source(c, app, env, name);
    if (s == NULL) {
        pthread_mutex_unlock(&c->lock);
        return RT_ENOENT;
    }
    if (s->maps->n > 0) {
        pthread_mutex_unlock(&c->lock);
        return RT_ESTATE;
    }
    rt_store_write_t w = {
        RT_STORE_CDC_SOURCE_DEL,
        3,
        {rt_store_text(app), rt_store_text(env), rt_store_text(name)},
    };
    delete_ctx_t *x = rt_calloc(1, sizeof(*x));
    *x = (delete_ctx_t){done, arg, keep_slot};
    int rc = rt_store_submit(c->store, &w, 1, source_deleted, x);
    if (rc != 0) {
        pthread_mutex_unlock(&c->lock);
        rt_free(x);
        return rc;
    }
    for (size_t i = 0; i < c->nsources; i++) {
        if (c->sources[i] == s) {
            c->sources[i] = c->sources[--c->nsources];
            break;
        }
    }
    if (s->started) {
        rt_cdc_reader_stop(s, !keep_slot);
        push((void ***)&c->retired, &c->nretired, &c->capretired, s);
    } else {
        source_free(s);
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* =========================================================== mappings */

static json_t *map_json(cdc_map_t *m, int detail)
{
    json_t *j = rt_cdc_mapping_to_json(m->m);
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(m->created_ms, ts);
    json_object_set_new(j, "createdAt", json_string(ts));
    pthread_mutex_lock(&m->lock);
    json_object_set_new(j, "stats",
                        json_pack("{s:I,s:I}", "events", (json_int_t)m->events, "rejected",
                                  (json_int_t)m->rejected));
    if (detail)
        json_object_set_new(j, "deadLetters", json_deep_copy(m->dead));
    pthread_mutex_unlock(&m->lock);
    return j;
}

static cdc_map_t *map_new(const char *app, const char *env, rt_cdc_mapping_t *mp, int64_t created)
{
    cdc_map_t *m = rt_calloc(1, sizeof(*m));
    atomic_init(&m->refs, 1);
    pthread_mutex_init(&m->lock, NULL);
    m->app = rt_strdup(app);
    m->env = rt_strdup(env);
    m->m = mp;
    m->created_ms = created;
    m->dead = json_array();
    return m;
}

typedef struct {
    rt_cdc_t *cdc;
    char *app, *env, *source, *mapping;
    json_t *body;
    rt_cdc_done_fn done;
    void *arg;
} map_ctx_t;

static void map_ctx_free(map_ctx_t *x)
{
    rt_free(x->app);
    rt_free(x->env);
    rt_free(x->source);
    rt_free(x->mapping);
    json_decref(x->body);
    rt_free(x);
}

/* Writer thread: the mapping change is stored; have the reader bring the
 * publication in step, then answer (with warnings). */
static void map_stored(void *arg, int status)
{
    map_ctx_t *x = arg;
    if (status != 0) {
        x->done(x->arg, status, NULL);
        map_ctx_free(x);
        return;
    }
    cdc_waiter_t *w = rt_calloc(1, sizeof(*w));
    w->mapping = x->mapping;
    x->mapping = NULL;
    w->done = x->done;
    w->arg = x->arg;
    w->body = x->body;
    x->body = NULL;
    pthread_mutex_lock(&x->cdc->lock);
    cdc_source_t *s = find_source(x->cdc, x->app, x->env, x->source);
    if (s)
        rt_cdc_reader_wait(s, w);
    pthread_mutex_unlock(&x->cdc->lock);
    if (s == NULL) {
        w->done(w->arg, 0, w->body);
        rt_free((char *)w->mapping);
        rt_free(w);
    }
    map_ctx_free(x);
}

static int map_check_refs(rt_cdc_t *c, const char *app, const char *env, rt_cdc_mapping_t *mp,
                          json_t *errors)
{
    int bad = 0;
    if (find_source(c, app, env, mp->source) == NULL) {
        add_err(errors, "source", "no such source in this environment");
        bad = 1;
    }
    rt_topic_t *t = rt_registry_topic_get(c->registry, app, env, mp->topic);
    if (t == NULL) {
        add_err(errors, "topic", "no such topic in this environment");
        bad = 1;
    }
    rt_topic_release(t);
    return bad;
}

int rt_cdc_mapping_create(rt_cdc_t *c, const char *app, const char *env, const json_t *spec,
                          json_t *errors, rt_cdc_done_fn done, void *arg)
{
    rt_cdc_mapping_t *mp = NULL;
    if (rt_cdc_mapping_parse(spec, &mp, errors) != 0)
        return RT_EINVAL;
    pthread_mutex_lock(&c->lock);
    if (map_check_refs(c, app, env, mp, errors)) {
        pthread_mutex_unlock(&c->lock);
        rt_cdc_mapping_free(mp);
        return RT_EINVAL;
    }
    if (find_map(c, app, env, mp->name) >= 0) {
        pthread_mutex_unlock(&c->lock);
        rt_cdc_mapping_free(mp);
        return RT_EEXIST;
    }
    cdc_map_t *m = map_new(app, env, mp, rt_time_ms());
    json_t *cfg = rt_cdc_mapping_to_json(mp);
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    rt_store_write_t w = {RT_STORE_CDC_MAPPING_PUT,
                          6,
                          {rt_store_text(app), rt_store_text(env), rt_store_text(mp->name),
                           rt_store_text(mp->source), rt_store_text(text),
                           rt_store_int(m->created_ms)}};
    map_ctx_t *x = rt_calloc(1, sizeof(*x));
    *x = (map_ctx_t){c,
                     rt_strdup(app),
                     rt_strdup(env),
                     rt_strdup(mp->source),
                     rt_strdup(mp->name),
                     map_json(m, 0),
                     done,
                     arg};
    int rc = rt_store_submit(c->store, &w, 1, map_stored, x);
    rt_free(text);
    if (rc != 0) {
        pthread_mutex_unlock(&c->lock);
        map_ctx_free(x);
        rt_cdc_map_release(m);
        return rc;
    }
    push((void ***)&c->maps, &c->nmaps, &c->capmaps, m);
    rebuild_mapset(c, find_source(c, app, env, mp->source));
    pthread_mutex_unlock(&c->lock);
    return 0;
}

json_t *rt_cdc_mapping_get(rt_cdc_t *c, const char *app, const char *env, const char *name)
{
    pthread_mutex_lock(&c->lock);
    long i = find_map(c, app, env, name);
    json_t *j = i >= 0 ? map_json(c->maps[i], 1) : NULL;
    pthread_mutex_unlock(&c->lock);
    return j;
}

json_t *rt_cdc_mapping_list(rt_cdc_t *c, const char *app, const char *env)
{
    json_t *items = json_array();
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nmaps; i++) {
        if (same_env(app, env, c->maps[i]->app, c->maps[i]->env))
            json_array_append_new(items, map_json(c->maps[i], 0));
    }
    pthread_mutex_unlock(&c->lock);
    return json_pack("{s:o}", "items", items);
}

int rt_cdc_mapping_delete(rt_cdc_t *c, const char *app, const char *env, const char *name,
                          rt_cdc_done_fn done, void *arg)
{
    pthread_mutex_lock(&c->lock);
    long i = find_map(c, app, env, name);
    if (i < 0) {
        pthread_mutex_unlock(&c->lock);
        return RT_ENOENT;
    }
    cdc_map_t *m = c->maps[i];
    rt_store_write_t w = {
        RT_STORE_CDC_MAPPING_DEL,
        3,
        {rt_store_text(app), rt_store_text(env), rt_store_text(name)},
    };
    map_ctx_t *x = rt_calloc(1, sizeof(*x));
    *x = (map_ctx_t){c,    rt_strdup(app), rt_strdup(env), rt_strdup(m->m->source),
                     NULL, NULL,           done,           arg};
    int rc = rt_store_submit(c->store, &w, 1, map_stored, x);
    if (rc != 0) {
        pthread_mutex_unlock(&c->lock);
        map_ctx_free(x);
        return rc;
    }
    c->maps[i] = c->maps[--c->nmaps];
    cdc_source_t *s = find_source(c, app, env, m->m->source);
    if (s)
        rebuild_mapset(c, s);
    rt_cdc_map_release(m);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int rt_cdc_mapping_test(rt_cdc_t *c, const char *app, const char *env, const char *name,
                        const json_t *body, json_t **out, const char **err)
{
    const char *op = json_string_value(json_object_get(body, "op"));
    const json_t *row = json_object_get(body, "row");
    const json_t *old = json_object_get(body, "old");
    if (op == NULL || rt_cdc_op_parse(op) == 0) {
        *err = "op must be \"insert\", \"update\" or \"delete\"";
        return RT_EINVAL;
    }
    if ((row && !json_is_object(row) && !json_is_null(row)) ||
        (old && !json_is_object(old) && !json_is_null(old))) {
        *err = "row and old must be objects";
        return RT_EINVAL;
    }
    pthread_mutex_lock(&c->lock);
    long i = find_map(c, app, env, name);
    cdc_map_t *m = i >= 0 ? rt_cdc_map_retain(c->maps[i]) : NULL;
    pthread_mutex_unlock(&c->lock);
    if (m == NULL)
        return RT_ENOENT;
    rt_cdc_change_t ch = {
        op, NULL, NULL, json_is_object(row) ? row : NULL, json_is_object(old) ? old : NULL, NULL};
    json_t *payload = NULL, *meta = NULL;
    const char *reason = NULL;
    int rc = rt_cdc_mapping_eval(m->m, &ch, &payload, &meta, &reason);
    if (rc == 1)
        *out = json_pack("{s:b,s:s,s:o,s:o}", "matched", 1, "topic", m->m->topic, "payload",
                         payload, "meta", meta);
    else
        *out = json_pack("{s:b,s:s}", "matched", 0, "reason", reason ? reason : "not matched");
    rt_cdc_map_release(m);
    return 0;
}

/* ============================================================ loading */

static int load_source(void *arg, const rt_store_row_t *row)
{
    rt_cdc_t *c = arg;
    const char *app = rt_store_row_text(row, 0, NULL);
    const char *env = rt_store_row_text(row, 1, NULL);
    json_t *cfg = json_loads(rt_store_row_text(row, 3, NULL), 0, NULL);
    if (cfg && json_is_string(json_object_get(cfg, "publication")) &&
        json_string_length(json_object_get(cfg, "publication")) == 0)
        json_object_del(cfg, "publication");
    cdc_source_t *s = cfg ? source_parse(app, env, cfg, NULL) : NULL;
    json_decref(cfg);
    if (s == NULL) {
        rt_log_error("cdc_source_unreadable", "app=%s env=%s name=%s", app, env,
                     rt_store_row_text(row, 2, NULL));
        return 0;
    }
    s->cdc = c;
    s->created_ms = rt_store_row_int(row, 4);
    if (!rt_store_row_is_null(row, 5))
        atomic_store(&s->durable_lsn, (uint64_t)rt_store_row_int(row, 5));
    push((void ***)&c->sources, &c->nsources, &c->capsources, s);
    return 0;
}

static int load_mapping(void *arg, const rt_store_row_t *row)
{
    rt_cdc_t *c = arg;
    json_t *cfg = json_loads(rt_store_row_text(row, 4, NULL), 0, NULL);
    rt_cdc_mapping_t *mp = NULL;
    if (cfg == NULL || rt_cdc_mapping_parse(cfg, &mp, NULL) != 0) {
        rt_log_error("cdc_mapping_unreadable", "name=%s", rt_store_row_text(row, 2, NULL));
        json_decref(cfg);
        return 0;
    }
    json_decref(cfg);
    cdc_map_t *m = map_new(rt_store_row_text(row, 0, NULL), rt_store_row_text(row, 1, NULL), mp,
                           rt_store_row_int(row, 5));
    push((void ***)&c->maps, &c->nmaps, &c->capmaps, m);
    return 0;
}

int rt_cdc_open(rt_registry_t *registry, rt_topics_t *topics, rt_cdc_t **out)
{
    rt_cdc_t *c = rt_calloc(1, sizeof(*c));
    c->registry = registry;
    c->topics = topics;
    c->store = rt_registry_store(registry);
    pthread_mutex_init(&c->lock, NULL);
    if (rt_store_read(c->store, RT_STORE_CDC_SOURCES_ALL, NULL, 0, load_source, c) != 0 ||
        rt_store_read(c->store, RT_STORE_CDC_MAPPINGS_ALL, NULL, 0, load_mapping, c) != 0) {
        rt_cdc_free(c);
        return RT_EIO;
    }
    for (size_t i = 0; i < c->nsources; i++)
        rebuild_mapset(c, c->sources[i]);
    *out = c;
    return 0;
}

void rt_cdc_start(rt_cdc_t *c)
{
    pthread_mutex_lock(&c->lock);
    c->running = 1;
    for (size_t i = 0; i < c->nsources; i++)
        rt_cdc_reader_start(c->sources[i]);
    pthread_mutex_unlock(&c->lock);
}

static void join_source(cdc_source_t *s)
{
    if (s->started) {
        pthread_join(s->thread, NULL);
        s->started = 0;
    }
}

void rt_cdc_stop(rt_cdc_t *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->running = 0;
    for (size_t i = 0; i < c->nsources; i++) {
        if (c->sources[i]->started)
            rt_cdc_reader_stop(c->sources[i], 0);
    }
    pthread_mutex_unlock(&c->lock);
    /* Joined without the lock: a reader's last answers may take it. */
    for (size_t i = 0; i < c->nsources; i++)
        join_source(c->sources[i]);
    for (size_t i = 0; i < c->nretired; i++)
        join_source(c->retired[i]);
}

void rt_cdc_free(rt_cdc_t *c)
{
    if (c == NULL)
        return;
    rt_cdc_stop(c);
    for (size_t i = 0; i < c->nsources; i++)
        source_free(c->sources[i]);
    for (size_t i = 0; i < c->nretired; i++)
        source_free(c->retired[i]);
    for (size_t i = 0; i < c->nmaps; i++)
        rt_cdc_map_release(c->maps[i]);
    rt_free(c->sources);
    rt_free(c->retired);
    rt_free(c->maps);
    pthread_mutex_destroy(&c->lock);
    rt_free(c);
}
