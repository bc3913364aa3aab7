/*
 * This file implements the registry: the in-memory cache of applications,
 * environments, keys and topics, its loading from the store at start-up, and
 * every change to it. One read-write lock guards the cache; a change takes the
 * write lock, checks conflicts against the cache, applies itself, and queues
 * the matching store writes before unlocking, so the store sees changes in
 * the same order as the cache did.
 */
#include "registry/registry.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *id;
    char *name;
    int64_t created_ms;
} app_t;

typedef struct {
    char *app;
    char *id;
    char *name;
    char *secret; /* HS256 token signing secret */
    int64_t created_ms;
} env_t;

typedef struct {
    char *id;
    char *app;
    char *env;
    char *name;
    char hash[65];
    char *prefix; /* first characters of the secret, to recognise it in listings */
    int64_t created_ms;
    int64_t revoked_ms; /* 0 = live */
} apikey_t;

struct rt_registry_s {
    rt_store_t *store;
    pthread_rwlock_t lock;
    rt_map_t apps;   /* id -> app_t */
    rt_map_t envs;   /* "app/env" -> env_t */
    rt_map_t keys;   /* id -> apikey_t */
    rt_map_t hashes; /* sha256 hex -> apikey_t (live keys only) */
    rt_map_t topics; /* "app/env/name" -> rt_topic_t */
    int64_t next_tid;
    char admin_hash[65];
};

/* ============================================================== helpers */

void rt_registry_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* URL-safe, unpadded base64 of n random bytes: for secrets. */
static char *random_token(const char *prefix, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[64];
    rt_assert(n <= sizeof(raw));
    rt_random_bytes(raw, n);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_str(&b, prefix);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            rt_buf_append(&b, &b64[(acc >> bits) & 63], 1);
        }
    }
    if (bits > 0)
        rt_buf_append(&b, &b64[(acc << (6 - bits)) & 63], 1);
    return rt_buf_steal(&b, NULL);
}

static char *join2(const char *a, const char *b)
{
    rt_buf_t k;
    rt_buf_init(&k);
    rt_buf_appendf(&k, "%s/%s", a, b);
    return rt_buf_steal(&k, NULL);
}

static char *join3(const char *a, const char *b, const char *c)
{
    rt_buf_t k;
    rt_buf_init(&k);
    rt_buf_appendf(&k, "%s/%s/%s", a, b, c);
    return rt_buf_steal(&k, NULL);
}

static json_t *time_json(int64_t ms)
{
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(ms, ts);
    return json_string(ts);
}

int rt_registry_slug_valid(const char *s, size_t len)
{
    if (len == 0 || len > RT_SLUG_MAX_BYTES || s[0] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

int rt_registry_topic_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > RT_TOPIC_NAME_MAX_BYTES)
        return 0;
    size_t seg = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (seg == 0)
                return 0;
            seg = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
        seg++;
    }
    return seg > 0;
}

static int text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n <= max && rt_utf8_valid(s, n);
}

static int submit(rt_registry_t *r, const rt_store_write_t *w, int n, rt_registry_done_fn done,
                  void *arg)
{
    return rt_store_submit(r->store, w, n, done, arg);
}

/* Sorted, paged listing over a map: keys of entries accepted by keep() are
 * sorted, those after `after` are rendered with to_json, at most limit. */
typedef int (*keep_fn)(void *ctx, void *value);
typedef json_t *(*render_fn)(rt_registry_t *r, void *value);

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct {
    const char *sort_key;
    void *value;
} entry_t;

static int cmp_entry(const void *a, const void *b)
{
    return cmp_str(&((const entry_t *)a)->sort_key, &((const entry_t *)b)->sort_key);
}

static json_t *list_page(rt_registry_t *r, rt_map_t *m, keep_fn keep, void *ctx,
                         const char *(*sort_key)(void *value), render_fn render, const char *after,
                         size_t limit)
{
    entry_t *all = rt_malloc((m->len + 1) * sizeof(*all));
    size_t n = 0, it = 0;
    const char *k;
    void *v;
    while (rt_map_next(m, &it, &k, &v)) {
        if (keep(ctx, v))
            all[n++] = (entry_t){sort_key(v), v};
    }
    qsort(all, n, sizeof(*all), cmp_entry);
    json_t *items = json_array();
    const char *last = NULL;
    size_t i = 0;
    while (i < n && after && strcmp(all[i].sort_key, after) <= 0)
        i++;
    for (; i < n && json_array_size(items) < limit; i++) {
        json_array_append_new(items, render(r, all[i].value));
        last = all[i].sort_key;
    }
    json_t *page = json_object();
    json_object_set_new(page, "items", items);
    json_object_set_new(page, "next", i < n && last ? json_string(last) : json_null());
    rt_free(all);
    return page;
}

/* ============================================================ apps & envs */

static json_t *app_json(rt_registry_t *r, void *v)
{
    (void)r;
    app_t *a = v;
    return json_pack("{s:s, s:s, s:o}", "id", a->id, "name", a->name, "createdAt",
                     time_json(a->created_ms));
}

static json_t *env_json(rt_registry_t *r, void *v)
{
    (void)r;
    env_t *e = v;
    return json_pack("{s:s, s:s, s:s, s:o}", "id", e->id, "app", e->app, "name", e->name,
                     "createdAt", time_json(e->created_ms));
}

static app_t *app_add(rt_registry_t *r, const char *id, const char *name, int64_t created)
{
    app_t *a = rt_calloc(1, sizeof(*a));
    a->id = rt_strdup(id);
    a->name = rt_strdup(name);
    a->created_ms = created;
    rt_map_put(&r->apps, id, a);
    return a;
}

static env_t *env_add(rt_registry_t *r, const char *app, const char *id, const char *name,
                      const char *secret, int64_t created)
{
    env_t *e = rt_calloc(1, sizeof(*e));
    e->app = rt_strdup(app);
    e->id = rt_strdup(id);
    e->name = rt_strdup(name);
    e->secret = rt_strdup(secret);
    e->created_ms = created;
    char *k = join2(app, id);
    rt_map_put(&r->envs, k, e);
    rt_free(k);
    return e;
}

static void app_free(app_t *a)
{
    rt_free(a->id);
    rt_free(a->name);
    rt_free(a);
}

static void env_free(env_t *e)
{
    rt_free(e->app);
    rt_free(e->id);
    rt_free(e->name);
    rt_free(e->secret);
    rt_free(e);
}

static void key_free(apikey_t *k)
{
    rt_free(k->id);
    rt_free(k->app);
    rt_free(k->env);
    rt_free(k->name);
    rt_free(k->prefix);
    rt_free(k);
}

int rt_registry_app_create(rt_registry_t *r, const char *id, const char *name, json_t **json,
                           rt_registry_done_fn done, void *arg)
{
    if (!rt_registry_slug_valid(id, strlen(id)) || !text_ok(name, RT_NAME_MAX_BYTES))
        return RT_EINVAL;
    pthread_rwlock_wrlock(&r->lock);
    if (rt_map_get(&r->apps, id)) {
        pthread_rwlock_unlock(&r->lock);
        return RT_EEXIST;
    }
    app_t *a = app_add(r, id, name, rt_time_ms());
    if (json)
        *json = app_json(r, a);
    rt_store_write_t w = {
        RT_STORE_APP_PUT,
        3,
        {rt_store_text(a->id), rt_store_text(a->name), rt_store_int(a->created_ms)}};
    int rc = submit(r, &w, 1, done, arg);
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

/* Marks every topic under prefix ("app/" or "app/env/") deleted and drops it. */
static void drop_topics(rt_registry_t *r, const char *prefix)
{
    size_t plen = strlen(prefix), it = 0;
    const char *k;
    void *v;
    while (rt_map_next(&r->topics, &it, &k, &v)) {
        if (strncmp(k, prefix, plen) != 0)
            continue;
        rt_topic_t *t = v;
        t->deleted = 1;
        rt_map_del(&r->topics, t->key);
        rt_topic_release(t);
    }
}

static void drop_keys(rt_registry_t *r, const char *app, const char *env)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (rt_map_next(&r->keys, &it, &k, &v)) {
        apikey_t *key = v;
        if (strcmp(key->app, app) != 0 || (env && strcmp(key->env, env) != 0))
            continue;
        if (!key->revoked_ms)
            rt_map_del(&r->hashes, key->hash);
        rt_map_del(&r->keys, key->id);
        key_free(key);
    }
}

static int submit1(rt_registry_t *r, rt_store_op_t op, const char *a, const char *b,
                   rt_registry_done_fn done, void *arg)
{
    rt_store_write_t w = {op, b ? 2 : 1, {rt_store_text(a), rt_store_text(b)}};
    return submit(r, &w, 1, done, arg);
}

int rt_registry_app_delete(rt_registry_t *r, const char *id, rt_registry_done_fn done, void *arg)
{
    pthread_rwlock_wrlock(&r->lock);
    app_t *a = rt_map_del(&r->apps, id);
    if (a == NULL) {
        pthread_rwlock_unlock(&r->lock);
        return RT_ENOENT;
    }
    char *prefix = join2(id, "");
    drop_topics(r, prefix);
    rt_free(prefix);
    drop_keys(r, id, NULL);
    size_t it = 0;
    const char *k;
    void *v;
    while (rt_map_next(&r->envs, &it, &k, &v)) {
        env_t *e = v;
        if (strcmp(e->app, id) == 0) {
            rt_map_del(&r->envs, k);
            env_free(e);
        }
    }
    int rc = submit1(r, RT_STORE_APP_DEL, id, NULL, done, arg);
    app_free(a);
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

json_t *rt_registry_app_get(rt_registry_t *r, const char *id)
{
    pthread_rwlock_rdlock(&r->lock);
    app_t *a = rt_map_get(&r->apps, id);
    json_t *j = a ? app_json(r, a) : NULL;
    pthread_rwlock_unlock(&r->lock);
    return j;
}

static int keep_all(void *ctx, void *v)
{
    (void)ctx;
    (void)v;
    return 1;
}

static const char *app_sort_key(void *v)
{
    return ((app_t *)v)->id;
}

json_t *rt_registry_app_list(rt_registry_t *r, const char *after, size_t limit)
{
    pthread_rwlock_rdlock(&r->lock);
    json_t *j = list_page(r, &r->apps, keep_all, NULL, app_sort_key, app_json, after, limit);
    pthread_rwlock_unlock(&r->lock);
    return j;
}

int rt_registry_env_create(rt_registry_t *r, const char *app, const char *id, const char *name,
                           json_t **json, rt_registry_done_fn done, void *arg)
{
    if (!rt_registry_slug_valid(id, strlen(id)) || !text_ok(name, RT_NAME_MAX_BYTES))
        return RT_EINVAL;
    pthread_rwlock_wrlock(&r->lock);
    char *k = join2(app, id);
    int rc = 0;
    if (rt_map_get(&r->apps, app) == NULL) {
        rc = RT_ENOENT;
        goto out;
    }
    if (rt_map_get(&r->envs, k)) {
        rc = RT_EEXIST;
        goto out;
    }
    char *secret = random_token("", 32);
    env_t *e = env_add(r, app, id, name, secret, rt_time_ms());
    rt_free(secret);
    if (json)
        *json = env_json(r, e);
    rt_store_write_t w = {RT_STORE_ENV_PUT,
                          5,
                          {rt_store_text(e->app), rt_store_text(e->id), rt_store_text(e->name),
                           rt_store_text(e->secret), rt_store_int(e->created_ms)}};
    rc = submit(r, &w, 1, done, arg);
out:
    rt_free(k);
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

int rt_registry_env_delete(rt_registry_t *r, const char *app, const char *id,
                           rt_registry_done_fn done, void *arg)
{
    pthread_rwlock_wrlock(&r->lock);
    char *k = join2(app, id);
    env_t *e = rt_map_del(&r->envs, k);
    rt_free(k);
    if (e == NULL) {
        pthread_rwlock_unlock(&r->lock);
        return RT_ENOENT;
    }
    char *prefix = join3(app, id, "");
    drop_topics(r, prefix);
    rt_free(prefix);
    drop_keys(r, app, id);
    int rc = submit1(r, RT_STORE_ENV_DEL, app, id, done, arg);
    env_free(e);
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

json_t *rt_registry_env_get(rt_registry_t *r, const char *app, const char *id)
{
    char *k = join2(app, id);
    pthread_rwlock_rdlock(&r->lock);
    env_t *e = rt_map_get(&r->envs, k);
    json_t *j = e ? env_json(r, e) : NULL;
    pthread_rwlock_unlock(&r->lock);
    rt_free(k);
    return j;
}

int rt_registry_env_exists(rt_registry_t *r, const char *app, const char *id)
{
    char *k = join2(app, id);
    pthread_rwlock_rdlock(&r->lock);
    int found = rt_map_get(&r->envs, k) != NULL;
    pthread_rwlock_unlock(&r->lock);
    rt_free(k);
    return found;
}

static int keep_env_of_app(void *ctx, void *v)
{
    return strcmp(((env_t *)v)->app, ctx) == 0;
}

static const char *env_sort_key(void *v)
{
    return ((env_t *)v)->id;
}

json_t *rt_registry_env_list(rt_registry_t *r, const char *app, const char *after, size_t limit)
{
    pthread_rwlock_rdlock(&r->lock);
    json_t *j =
        list_page(r, &r->envs, keep_env_of_app, (void *)app, env_sort_key, env_json, after, limit);
    pthread_rwlock_unlock(&r->lock);
    return j;
}

int rt_registry_env_secret(rt_registry_t *r, const char *app, const char *env, char *out,
                           size_t outcap)
{
    char *k = join2(app, env);
    pthread_rwlock_rdlock(&r->lock);
    env_t *e = rt_map_get(&r->envs, k);
    int rc = RT_ENOENT;
    if (e && strlen(e->secret) < outcap) {
        memcpy(out, e->secret, strlen(e->secret) + 1);
        rc = 0;
    }
    pthread_rwlock_unlock(&r->lock);
    rt_free(k);
    return rc;
}

/* ================================================================== keys */

static json_t *key_json(rt_registry_t *r, void *v)
{
    (void)r;
    apikey_t *k = v;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", k->id, "name", k->name, "prefix",
                          k->prefix, "env", k->env, "createdAt", time_json(k->created_ms));
    json_object_set_new(j, "revokedAt", k->revoked_ms ? time_json(k->revoked_ms) : json_null());
    return j;
}

int rt_registry_key_create(rt_registry_t *r, const char *app, const char *env, const char *name,
                           json_t **json, rt_registry_done_fn done, void *arg)
{
    if (!text_ok(name, RT_NAME_MAX_BYTES))
        return RT_EINVAL;
    char *ek = join2(app, env);
    pthread_rwlock_wrlock(&r->lock);
    int rc = 0;
    if (rt_map_get(&r->envs, ek) == NULL) {
        rc = RT_ENOENT;
        goto out;
    }
    char ulid[RT_ULID_LEN + 1];
    rt_ulid_new(rt_time_ms(), ulid);
    apikey_t *k = rt_calloc(1, sizeof(*k));
    rt_buf_t id;
    rt_buf_init(&id);
    rt_buf_appendf(&id, "key_%s", ulid);
    k->id = rt_buf_steal(&id, NULL);
    k->app = rt_strdup(app);
    k->env = rt_strdup(env);
    k->name = rt_strdup(name);
    k->created_ms = rt_time_ms();
    char *secret = random_token(RT_KEY_PREFIX, 32);
    rt_registry_sha256_hex(secret, strlen(secret), k->hash);
    k->prefix = rt_strndup(secret, strlen(RT_KEY_PREFIX) + 6);
    rt_map_put(&r->keys, k->id, k);
    rt_map_put(&r->hashes, k->hash, k);
    if (json) {
        *json = key_json(r, k);
        json_object_set_new(*json, "key", json_string(secret));
    }
    rt_free(secret);
    rt_store_write_t w = {RT_STORE_KEY_PUT,
                          7,
                          {rt_store_text(k->id), rt_store_text(k->app), rt_store_text(k->env),
                           rt_store_text(k->name), rt_store_text(k->hash), rt_store_text(k->prefix),
                           rt_store_int(k->created_ms)}};
    rc = submit(r, &w, 1, done, arg);
out:
    pthread_rwlock_unlock(&r->lock);
    rt_free(ek);
    return rc;
}

int rt_registry_key_revoke(rt_registry_t *r, const char *app, const char *env, const char *id,
                           rt_registry_done_fn done, void *arg)
{
    pthread_rwlock_wrlock(&r->lock);
    apikey_t *k = rt_map_get(&r->keys, id);
    int rc = 0;
    if (k == NULL || strcmp(k->app, app) != 0 || strcmp(k->env, env) != 0) {
        rc = RT_ENOENT;
        goto out;
    }
    if (!k->revoked_ms) {
        k->revoked_ms = rt_time_ms();
        rt_map_del(&r->hashes, k->hash);
    }
    rt_store_write_t w = {
        RT_STORE_KEY_REVOKE, 2, {rt_store_text(k->id), rt_store_int(k->revoked_ms)}};
    rc = submit(r, &w, 1, done, arg);
out:
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

typedef struct {
    const char *app, *env;
} scope_t;

json_t *rt_registry_key_get(rt_registry_t *r, const char *app, const char *env, const char *id)
{
    pthread_rwlock_rdlock(&r->lock);
    apikey_t *k = rt_map_get(&r->keys, id);
    json_t *j = NULL;
    if (k && strcmp(k->app, app) == 0 && strcmp(k->env, env) == 0)
        j = key_json(r, k);
    pthread_rwlock_unlock(&r->lock);
    return j;
}

static int keep_key_of_env(void *ctx, void *v)
{
    scope_t *s = ctx;
    apikey_t *k = v;
    return strcmp(k->app, s->app) == 0 && strcmp(k->env, s->env) == 0;
}

static const char *key_sort_key(void *v)
{
    return ((apikey_t *)v)->id;
}

json_t *rt_registry_key_list(rt_registry_t *r, const char *app, const char *env, const char *after,
                             size_t limit)
{
    scope_t s = {app, env};
    pthread_rwlock_rdlock(&r->lock);
    json_t *j = list_page(r, &r->keys, keep_key_of_env, &s, key_sort_key, key_json, after, limit);
    pthread_rwlock_unlock(&r->lock);
    return j;
}

int rt_registry_authenticate(rt_registry_t *r, const char *key, size_t len, rt_principal_t *out)
{
    char hash[65];
    rt_registry_sha256_hex(key, len, hash);
    int rc = RT_ENOENT;
    pthread_rwlock_rdlock(&r->lock);
    if (r->admin_hash[0] && rt_ct_equal(hash, 64, r->admin_hash, 64)) {
        memset(out, 0, sizeof(*out));
        out->admin = 1;
        rc = 0;
    } else {
        apikey_t *k = rt_map_get(&r->hashes, hash);
        if (k && !k->revoked_ms) {
            memset(out, 0, sizeof(*out));
            memcpy(out->app, k->app, strlen(k->app) + 1);
            memcpy(out->env, k->env, strlen(k->env) + 1);
            rc = 0;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

typedef struct {
    char *value;
} meta_read_t;

static int meta_row(void *arg, const rt_store_row_t *row)
{
    meta_read_t *m = arg;
    const char *v = rt_store_row_text(row, 0, NULL);
    m->value = v ? rt_strdup(v) : NULL;
    return 1;
}

int rt_registry_admin_setup(rt_registry_t *r, const char *given, char **generated)
{
    *generated = NULL;
    if (given && given[0]) {
        rt_registry_sha256_hex(given, strlen(given), r->admin_hash);
        return 0;
    }
    meta_read_t m = {NULL};
    rt_store_val_t key = rt_store_text("admin_key_sha256");
    if (rt_store_read(r->store, RT_STORE_META_GET, &key, 1, meta_row, &m) != 0)
        return RT_EIO;
    if (m.value && strlen(m.value) == 64) {
        memcpy(r->admin_hash, m.value, 65);
        rt_free(m.value);
        return 0;
    }
    rt_free(m.value);
    char *secret = random_token("rt_admin_", 32);
    rt_registry_sha256_hex(secret, strlen(secret), r->admin_hash);
    rt_store_write_t w = {
        RT_STORE_META_PUT, 2, {rt_store_text("admin_key_sha256"), rt_store_text(r->admin_hash)}};
    if (submit(r, &w, 1, NULL, NULL) != 0) {
        rt_free(secret);
        return RT_EIO;
    }
    *generated = secret;
    return 0;
}

/* ================================================================ topics */

rt_topic_t *rt_topic_retain(rt_topic_t *t)
{
    int old = atomic_fetch_add(&t->refs, 1);
    rt_assert(old > 0);
    return t;
}

/* Set by the topics subsystem so that a freed topic's publish state is freed
 * with it without the registry knowing its type. */
static void (*publish_state_free)(void *);

void rt_registry_set_publish_state_free(void (*fn)(void *))
{
    publish_state_free = fn;
}

void rt_topic_release(rt_topic_t *t)
{
    if (t == NULL)
        return;
    int old = atomic_fetch_sub(&t->refs, 1);
    rt_assert(old > 0);
    if (old != 1)
        return;
    if (t->publish_state && publish_state_free)
        publish_state_free(t->publish_state);
    pthread_mutex_destroy(&t->lock);
    json_decref(t->schemas);
    rt_free(t->app);
    rt_free(t->env);
    rt_free(t->name);
    rt_free(t->key);
    rt_free(t->description);
    rt_free(t);
}

static rt_topic_t *topic_add(rt_registry_t *r, int64_t tid, const char *app, const char *env,
                             const char *name)
{
    rt_topic_t *t = rt_calloc(1, sizeof(*t));
    atomic_init(&t->refs, 1);
    t->tid = tid;
    t->app = rt_strdup(app);
    t->env = rt_strdup(env);
    t->name = rt_strdup(name);
    t->key = join3(app, env, name);
    t->description = rt_strdup("");
    t->retention_ms = RT_TOPIC_RETENTION_MS_DEFAULT;
    t->retention_count = RT_TOPIC_RETENTION_COUNT_DEFAULT;
    memcpy(t->compatibility, "BACKWARD", sizeof("BACKWARD"));
    t->schemas = json_array();
    pthread_mutex_init(&t->lock, NULL);
    rt_map_put(&r->topics, t->key, t);
    if (tid >= r->next_tid)
        r->next_tid = tid + 1;
    return t;
}

/* The caller holds the registry lock (read or write). */
static json_t *topic_json(const rt_topic_t *t)
{
    pthread_mutex_lock((pthread_mutex_t *)&t->lock);
    int64_t seq = t->seq;
    pthread_mutex_unlock((pthread_mutex_t *)&t->lock);
    json_t *j = json_pack(
        "{s:s, s:s, s:i, s:i, s:b, s:s, s:{s:I, s:I}, s:I, s:o}", "name", t->name, "description",
        t->description, "activeSchemaVersion", t->active_schema_version, "schemaVersions",
        (int)json_array_size(t->schemas), "formatAssertion", t->format_assertion, "compatibility",
        t->compatibility, "retention", "maxAgeSeconds", (json_int_t)(t->retention_ms / 1000),
        "maxEvents", (json_int_t)t->retention_count, "seq", (json_int_t)seq, "createdAt",
        time_json(t->created_ms));
    return j;
}

static const char *compat_modes[] = {"NONE",           "BACKWARD",           "BACKWARD_TRANSITIVE",
                                     "FORWARD",        "FORWARD_TRANSITIVE", "FULL",
                                     "FULL_TRANSITIVE"};

/* Applies the mutable fields of body to t (validated first, all or nothing). */
static int topic_apply(rt_topic_t *t, const json_t *body, const char **err)
{
    json_t *fmt = json_object_get(body, "formatAssertion");
    if (fmt && !json_is_boolean(fmt)) {
        *err = "formatAssertion must be true or false";
        return RT_EINVAL;
    }
    json_t *desc = json_object_get(body, "description");
    json_t *ret = json_object_get(body, "retention");
    json_t *compat = json_object_get(body, "compatibility");
    json_t *active = json_object_get(body, "activeSchemaVersion");
    json_t *age = ret ? json_object_get(ret, "maxAgeSeconds") : NULL;
    json_t *count = ret ? json_object_get(ret, "maxEvents") : NULL;
    if (desc &&
        (!json_is_string(desc) || !text_ok(json_string_value(desc), RT_DESCRIPTION_MAX_BYTES))) {
        *err = "description must be a string of at most 1024 bytes";
        return RT_EINVAL;
    }
    if (ret && !json_is_object(ret)) {
        *err = "retention must be an object {maxAgeSeconds, maxEvents}";
        return RT_EINVAL;
    }
    if ((age && (!json_is_integer(age) || json_integer_value(age) < 1)) ||
        (count && (!json_is_integer(count) || json_integer_value(count) < 1))) {
        *err = "retention.maxAgeSeconds and retention.maxEvents must be positive integers";
        return RT_EINVAL;
    }
    int compat_ok = 0;
    for (size_t i = 0; compat && i < RT_ARRAY_LEN(compat_modes); i++)
        compat_ok |=
            json_is_string(compat) && strcmp(json_string_value(compat), compat_modes[i]) == 0;
    if (compat && !compat_ok) {
        *err = "compatibility must be one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, "
               "FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE";
        return RT_EINVAL;
    }
    if (active && (!json_is_integer(active) || json_integer_value(active) < 0 ||
                   json_integer_value(active) > (json_int_t)json_array_size(t->schemas))) {
        *err = "activeSchemaVersion must be a registered schema version, or 0 for none";
        return RT_EINVAL;
    }
    if (desc) {
        rt_free(t->description);
        t->description = rt_strdup(json_string_value(desc));
    }
    if (age)
        t->retention_ms = json_integer_value(age) * 1000;
    if (count)
        t->retention_count = json_integer_value(count);
    if (compat)
        snprintf(t->compatibility, sizeof(t->compatibility), "%s", json_string_value(compat));
    if (active)
        t->active_schema_version = (int)json_integer_value(active);
    if (fmt)
        t->format_assertion = json_is_true(fmt);
    return 0;
}

json_t *rt_registry_topic_json(rt_registry_t *r, const rt_topic_t *t)
{
    pthread_rwlock_rdlock(&r->lock);
    json_t *j = topic_json(t);
    pthread_rwlock_unlock(&r->lock);
    return j;
}

static int submit_topic_put(rt_registry_t *r, rt_topic_t *t, rt_registry_done_fn done, void *arg)
{
    rt_store_write_t w = {RT_STORE_TOPIC_PUT,
                          11,
                          {rt_store_int(t->tid), rt_store_text(t->app), rt_store_text(t->env),
                           rt_store_text(t->name), rt_store_text(t->description),
                           rt_store_int(t->retention_ms), rt_store_int(t->retention_count),
                           rt_store_int(t->active_schema_version), rt_store_text(t->compatibility),
                           rt_store_int(t->created_ms), rt_store_int(t->format_assertion)}};
    return submit(r, &w, 1, done, arg);
}

int rt_registry_topic_create(rt_registry_t *r, const char *app, const char *env, const json_t *body,
                             json_t **json, const char **err, rt_registry_done_fn done, void *arg)
{
    json_t *name = json_object_get(body, "name");
    if (!json_is_string(name) ||
        !rt_registry_topic_name_valid(json_string_value(name), json_string_length(name))) {
        *err = "name must be lowercase dot-separated segments of [a-z0-9_-], at most 255 bytes";
        return RT_EINVAL;
    }
    /* Validate the optional fields on a scratch topic before touching the cache. */
    rt_topic_t scratch;
    memset(&scratch, 0, sizeof(scratch));
    scratch.description = rt_strdup("");
    scratch.schemas = json_array();
    int rc = topic_apply(&scratch, body, err);
    json_decref(scratch.schemas);
    if (rc != 0) {
        rt_free(scratch.description);
        return rc;
    }
    char *ek = join2(app, env);
    char *tk = join3(app, env, json_string_value(name));
    pthread_rwlock_wrlock(&r->lock);
    if (rt_map_get(&r->envs, ek) == NULL) {
        rc = RT_ENOENT;
        goto out;
    }
    if (rt_map_get(&r->topics, tk)) {
        rc = RT_EEXIST;
        goto out;
    }
    rt_topic_t *t = topic_add(r, r->next_tid, app, env, json_string_value(name));
    t->created_ms = rt_time_ms();
    rc = topic_apply(t, body, err);
    rt_assert(rc == 0);
    if (json)
        *json = topic_json(t);
    rc = submit_topic_put(r, t, done, arg);
out:
    pthread_rwlock_unlock(&r->lock);
    rt_free(scratch.description);
    rt_free(ek);
    rt_free(tk);
    return rc;
}

int rt_registry_topic_patch(rt_registry_t *r, const char *app, const char *env, const char *name,
                            const json_t *body, json_t **json, const char **err,
                            rt_registry_done_fn done, void *arg)
{
    char *tk = join3(app, env, name);
    pthread_rwlock_wrlock(&r->lock);
    rt_topic_t *t = rt_map_get(&r->topics, tk);
    int rc;
    if (t == NULL) {
        rc = RT_ENOENT;
        goto out;
    }
    rc = topic_apply(t, body, err);
    if (rc != 0)
        goto out;
    if (json)
        *json = topic_json(t);
    rc = submit_topic_put(r, t, done, arg);
out:
    pthread_rwlock_unlock(&r->lock);
    rt_free(tk);
    return rc;
}

int rt_registry_topic_delete(rt_registry_t *r, const char *app, const char *env, const char *name,
                             rt_registry_done_fn done, void *arg)
{
    char *tk = join3(app, env, name);
    pthread_rwlock_wrlock(&r->lock);
    rt_topic_t *t = rt_map_del(&r->topics, tk);
    rt_free(tk);
    if (t == NULL) {
        pthread_rwlock_unlock(&r->lock);
        return RT_ENOENT;
    }
    t->deleted = 1;
    rt_store_write_t w = {RT_STORE_TOPIC_DEL, 1, {rt_store_int(t->tid)}};
    int rc = submit(r, &w, 1, done, arg);
    pthread_rwlock_unlock(&r->lock);
    rt_topic_release(t);
    return rc;
}

static int keep_topic_of_env(void *ctx, void *v)
{
    scope_t *s = ctx;
    rt_topic_t *t = v;
    return strcmp(t->app, s->app) == 0 && strcmp(t->env, s->env) == 0;
}

static const char *topic_sort_key(void *v)
{
    return ((rt_topic_t *)v)->name;
}

static json_t *topic_render(rt_registry_t *r, void *v)
{
    (void)r;
    return topic_json(v);
}

json_t *rt_registry_topic_list(rt_registry_t *r, const char *app, const char *env,
                               const char *after, size_t limit)
{
    scope_t s = {app, env};
    pthread_rwlock_rdlock(&r->lock);
    json_t *j =
        list_page(r, &r->topics, keep_topic_of_env, &s, topic_sort_key, topic_render, after, limit);
    pthread_rwlock_unlock(&r->lock);
    return j;
}

rt_topic_t *rt_registry_topic_get(rt_registry_t *r, const char *app, const char *env,
                                  const char *name)
{
    char key[3 * (RT_TOPIC_NAME_MAX_BYTES + 1) + 1];
    int n = snprintf(key, sizeof(key), "%s/%s/%s", app, env, name);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    pthread_rwlock_rdlock(&r->lock);
    rt_topic_t *t = rt_map_get(&r->topics, key);
    if (t)
        rt_topic_retain(t);
    pthread_rwlock_unlock(&r->lock);
    return t;
}

void rt_registry_topic_foreach(rt_registry_t *r, const char *app, const char *env,
                               void (*fn)(void *arg, rt_topic_t *t), void *arg)
{
    pthread_rwlock_rdlock(&r->lock);
    size_t it = 0;
    const char *k;
    void *v;
    while (rt_map_next(&r->topics, &it, &k, &v)) {
        rt_topic_t *t = v;
        if (strcmp(t->app, app) == 0 && strcmp(t->env, env) == 0)
            fn(arg, t);
    }
    pthread_rwlock_unlock(&r->lock);
}

void rt_registry_topic_foreach_all(rt_registry_t *r, void (*fn)(void *arg, rt_topic_t *t),
                                   void *arg)
{
    pthread_rwlock_rdlock(&r->lock);
    size_t it = 0;
    const char *k;
    void *v;
    while (rt_map_next(&r->topics, &it, &k, &v))
        fn(arg, v);
    pthread_rwlock_unlock(&r->lock);
}

rt_store_t *rt_registry_store(rt_registry_t *r)
{
    return r->store;
}

/* ============================================================== loading */

static int load_app(void *arg, const rt_store_row_t *row)
{
    app_add(arg, rt_store_row_text(row, 0, NULL), rt_store_row_text(row, 1, NULL),
            rt_store_row_int(row, 2));
    return 0;
}

static int load_env(void *arg, const rt_store_row_t *row)
{
    env_add(arg, rt_store_row_text(row, 0, NULL), rt_store_row_text(row, 1, NULL),
            rt_store_row_text(row, 2, NULL), rt_store_row_text(row, 3, NULL),
            rt_store_row_int(row, 4));
    return 0;
}

static int load_key(void *arg, const rt_store_row_t *row)
{
    rt_registry_t *r = arg;
    apikey_t *k = rt_calloc(1, sizeof(*k));
    k->id = rt_strdup(rt_store_row_text(row, 0, NULL));
    k->app = rt_strdup(rt_store_row_text(row, 1, NULL));
    k->env = rt_strdup(rt_store_row_text(row, 2, NULL));
    k->name = rt_strdup(rt_store_row_text(row, 3, NULL));
    snprintf(k->hash, sizeof(k->hash), "%s", rt_store_row_text(row, 4, NULL));
    k->prefix = rt_strdup(rt_store_row_text(row, 5, NULL));
    k->created_ms = rt_store_row_int(row, 6);
    k->revoked_ms = rt_store_row_is_null(row, 7) ? 0 : rt_store_row_int(row, 7);
    rt_map_put(&r->keys, k->id, k);
    if (!k->revoked_ms)
        rt_map_put(&r->hashes, k->hash, k);
    return 0;
}

static int load_topic(void *arg, const rt_store_row_t *row)
{
    rt_topic_t *t = topic_add(arg, rt_store_row_int(row, 0), rt_store_row_text(row, 1, NULL),
                              rt_store_row_text(row, 2, NULL), rt_store_row_text(row, 3, NULL));
    rt_free(t->description);
    t->description = rt_strdup(rt_store_row_text(row, 4, NULL));
    t->retention_ms = rt_store_row_int(row, 5);
    t->retention_count = rt_store_row_int(row, 6);
    t->active_schema_version = (int)rt_store_row_int(row, 7);
    snprintf(t->compatibility, sizeof(t->compatibility), "%s", rt_store_row_text(row, 8, NULL));
    t->created_ms = rt_store_row_int(row, 9);
    t->seq = rt_store_row_int(row, 10);
    t->format_assertion = (int)rt_store_row_int(row, 11);
    t->committed_seq = t->seq;
    return 0;
}

static int load_schema(void *arg, const rt_store_row_t *row)
{
    rt_registry_t *r = arg;
    int64_t tid = rt_store_row_int(row, 0);
    size_t it = 0;
    const char *k;
    void *v;
    while (rt_map_next(&r->topics, &it, &k, &v)) {
        rt_topic_t *t = v;
        if (t->tid != tid)
            continue;
        size_t len;
        const char *text = rt_store_row_text(row, 2, &len);
        json_t *body = json_loadb(text, len, 0, NULL);
        if (body == NULL)
            return 1;
        json_array_append_new(
            t->schemas, json_pack("{s:I, s:o, s:o}", "version", rt_store_row_int(row, 1), "schema",
                                  body, "createdAt", time_json(rt_store_row_int(row, 3))));
        break;
    }
    return 0;
}

int rt_registry_open(rt_store_t *store, rt_registry_t **out)
{
    rt_registry_t *r = rt_calloc(1, sizeof(*r));
    r->store = store;
    r->next_tid = 1;
    pthread_rwlock_init(&r->lock, NULL);
    rt_map_init(&r->apps);
    rt_map_init(&r->envs);
    rt_map_init(&r->keys);
    rt_map_init(&r->hashes);
    rt_map_init(&r->topics);
    if (rt_store_read(store, RT_STORE_APPS_ALL, NULL, 0, load_app, r) != 0 ||
        rt_store_read(store, RT_STORE_ENVS_ALL, NULL, 0, load_env, r) != 0 ||
        rt_store_read(store, RT_STORE_KEYS_ALL, NULL, 0, load_key, r) != 0 ||
        rt_store_read(store, RT_STORE_TOPICS_ALL, NULL, 0, load_topic, r) != 0 ||
        rt_store_read(store, RT_STORE_SCHEMAS_ALL, NULL, 0, load_schema, r) != 0) {
        rt_registry_close(r);
        return RT_EIO;
    }
    rt_log_info("registry_loaded", "apps=%zu envs=%zu keys=%zu topics=%zu", r->apps.len,
                r->envs.len, r->keys.len, r->topics.len);
    *out = r;
    return 0;
}

void rt_registry_close(rt_registry_t *r)
{
    if (r == NULL)
        return;
    size_t it = 0;
    const char *k;
    void *v;
    while (rt_map_next(&r->apps, &it, &k, &v))
        app_free(v);
    it = 0;
    while (rt_map_next(&r->envs, &it, &k, &v))
        env_free(v);
    it = 0;
    while (rt_map_next(&r->keys, &it, &k, &v))
        key_free(v);
    it = 0;
    while (rt_map_next(&r->topics, &it, &k, &v))
        rt_topic_release(v);
    rt_map_close(&r->apps);
    rt_map_close(&r->envs);
    rt_map_close(&r->keys);
    rt_map_close(&r->hashes);
    rt_map_close(&r->topics);
    pthread_rwlock_destroy(&r->lock);
    rt_free(r);
}

/* ================================================================ schemas */

int rt_registry_schema_add(rt_registry_t *r, const char *app, const char *env, const char *topic,
                           const json_t *schema, json_t **json, rt_registry_done_fn done, void *arg)
{
    char *tk = join3(app, env, topic);
    pthread_rwlock_wrlock(&r->lock);
    rt_topic_t *t = rt_map_get(&r->topics, tk);
    rt_free(tk);
    if (t == NULL) {
        pthread_rwlock_unlock(&r->lock);
        return RT_ENOENT;
    }
    int64_t now = rt_time_ms();
    int version = (int)json_array_size(t->schemas) + 1;
    json_array_append_new(t->schemas, json_pack("{s:i, s:O, s:o}", "version", version, "schema",
                                                schema, "createdAt", time_json(now)));
    if (json)
        *json = json_pack("{s:i, s:o}", "version", version, "createdAt", time_json(now));
    rt_buf_t body;
    rt_buf_init(&body);
    rt_buf_append_json(&body, schema);
    rt_store_write_t w = {RT_STORE_SCHEMA_PUT,
                          4,
                          {rt_store_int(t->tid), rt_store_int(version),
                           rt_store_textn(body.data, body.len), rt_store_int(now)}};
    int rc = submit(r, &w, 1, done, arg);
    rt_buf_close(&body);
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

json_t *rt_registry_schema_get(rt_registry_t *r, const rt_topic_t *t, int version)
{
    pthread_rwlock_rdlock(&r->lock);
    json_t *v = version >= 1 ? json_array_get(t->schemas, (size_t)version - 1) : NULL;
    json_t *copy = v ? json_deep_copy(v) : NULL;
    pthread_rwlock_unlock(&r->lock);
    return copy;
}

json_t *rt_registry_schema_list(rt_registry_t *r, const rt_topic_t *t)
{
    pthread_rwlock_rdlock(&r->lock);
    json_t *items = json_deep_copy(t->schemas);
    pthread_rwlock_unlock(&r->lock);
    return json_pack("{s:o}", "items", items);
}

json_t *rt_registry_schema_bodies(rt_registry_t *r, const rt_topic_t *t)
{
    json_t *out = json_array();
    pthread_rwlock_rdlock(&r->lock);
    size_t i;
    json_t *v;
    json_array_foreach(t->schemas, i, v)
    {
        json_array_append_new(out, json_deep_copy(json_object_get(v, "schema")));
    }
    pthread_rwlock_unlock(&r->lock);
    return out;
}

void rt_registry_topic_gate(rt_registry_t *r, const rt_topic_t *t, int *version, json_t **schema,
                            int *format_assertion)
{
    pthread_rwlock_rdlock(&r->lock);
    *version = t->active_schema_version;
    *format_assertion = t->format_assertion;
    if (schema) {
        json_t *v = *version > 0 ? json_array_get(t->schemas, (size_t)*version - 1) : NULL;
        *schema = v ? json_deep_copy(json_object_get(v, "schema")) : NULL;
    }
    pthread_rwlock_unlock(&r->lock);
}

json_t *rt_registry_schema_by_id(rt_registry_t *r, const char *app, const char *env,
                                 const char *uri)
{
    json_t *found = NULL;
    pthread_rwlock_rdlock(&r->lock);
    size_t it = 0;
    const char *k;
    void *v;
    while (found == NULL && rt_map_next(&r->topics, &it, &k, &v)) {
        rt_topic_t *t = v;
        if (strcmp(t->app, app) != 0 || strcmp(t->env, env) != 0)
            continue;
        for (size_t i = json_array_size(t->schemas); i > 0 && found == NULL; i--) {
            json_t *body = json_object_get(json_array_get(t->schemas, i - 1), "schema");
            const char *id = json_string_value(json_object_get(body, "$id"));
            if (id && strcmp(id, uri) == 0)
                found = json_deep_copy(body);
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return found;
}
