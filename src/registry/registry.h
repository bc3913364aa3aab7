/*
 * registry.h - applications, environments, keys and topics: validation, an
 * in-memory cache that every thread reads, and durable changes through the
 * store. Reads are served from memory under a read lock; a change updates the
 * cache at once (so conflicts are caught in order) and calls back after the
 * store has committed it, on the store's writer thread.
 */
#ifndef RT_REGISTRY_H
#define RT_REGISTRY_H

#include <jansson.h>
#include <pthread.h>

#include "core/core.h"
#include "store/store.h"

#define RT_SLUG_MAX_BYTES                63
#define RT_TOPIC_NAME_MAX_BYTES          255
#define RT_NAME_MAX_BYTES                200  /* display names of apps, envs and keys */
#define RT_DESCRIPTION_MAX_BYTES         1024 /* topic descriptions */
#define RT_TOPIC_RETENTION_MS_DEFAULT    (7LL * 24 * 3600 * 1000)
#define RT_TOPIC_RETENTION_COUNT_DEFAULT 1000000LL
#define RT_LIST_LIMIT_DEFAULT            100
#define RT_LIST_LIMIT_MAX                1000
#define RT_KEY_PREFIX                    "rt_sk_"

typedef struct rt_registry_s rt_registry_t;

/*
 * A topic. Identity fields never change after creation; the mutable fields
 * are guarded by the registry lock; seq by the topic's own lock. Refcounted:
 * rt_registry_topic_get() returns a reference, dropped by rt_topic_release().
 * A deleted topic stays valid for holders of a reference (deleted = 1).
 */
typedef struct rt_topic_s {
    atomic_int refs;
    int64_t tid; /* stable numeric id, the event log's key */
    char *app;   /* owning application id */
    char *env;   /* owning environment id */
    char *name;  /* dot-separated topic name */
    char *key;   /* "app/env/name", the fan-out key */
    int64_t created_ms;
    /* guarded by the registry lock */
    char *description;
    int64_t retention_ms;
    int64_t retention_count;
    int active_schema_version;
    int format_assertion; /* JSON Schema `format` asserts instead of annotating */
    char compatibility[24];
    int deleted;
    json_t *schemas; /* [{version, schema, createdAt}], version i at index i-1 */
    /* guarded by lock: the last seq handed out; publishes assign seq under
     * lock and queue their store write before releasing it, so the log
     * commits in seq order. */
    pthread_mutex_t lock;
    int64_t seq;
    /* guarded by lock: the highest seq known committed (commits complete in
     * seq order); what a new live subscriber is told it is at. */
    int64_t committed_seq;
    _Atomic(void *) publish_state; /* owned by the topics subsystem (the schema gate) */
} rt_topic_t;

/* Who is calling: the admin, or one environment's secret key. */
typedef struct {
    int admin;
    char app[RT_SLUG_MAX_BYTES + 1];
    char env[RT_SLUG_MAX_BYTES + 1];
} rt_principal_t;

/* Completion of a change, on the store's writer thread: status 0 once durable. */
typedef void (*rt_registry_done_fn)(void *arg, int status);

/* Loads every record from the store. Returns 0 and *out (caller frees with
 * rt_registry_close()), or RT_EIO. Call before worker threads start. */
int rt_registry_open(rt_store_t *store, rt_registry_t **out);
void rt_registry_close(rt_registry_t *r);

/* ---------------------------------------------------------------- names */

/* Application and environment ids: [a-z0-9-], 1..63 bytes, no leading '-'. */
int rt_registry_slug_valid(const char *s, size_t len);

/* Topic names: lowercase dot-separated segments of [a-z0-9_-], each
 * non-empty, at most 255 bytes in all. */
int rt_registry_topic_name_valid(const char *s, size_t len);

/* ----------------------------------------------------------------- auth */

/*
 * Sets up the admin key. With given (from --admin-key) that key is used and
 * nothing is stored. Without, the stored hash is used; with no stored hash a
 * key is generated, its hash stored, and *generated set (caller frees with
 * rt_free()) so that it can be printed once. Start-up only.
 */
int rt_registry_admin_setup(rt_registry_t *r, const char *given, char **generated);

/* Resolves a bearer key to a principal. 0, or RT_ENOENT for an unknown or
 * revoked key. Thread-safe; compares hashes, never plaintext. */
int rt_registry_authenticate(rt_registry_t *r, const char *key, size_t len, rt_principal_t *out);

/* Copies an environment's token signing secret into out (NUL-terminated).
 * RT_ENOENT when the environment does not exist. */
int rt_registry_env_secret(rt_registry_t *r, const char *app, const char *env, char *out,
                           size_t outcap);

#define RT_TOKEN_TTL_DEFAULT_S 3600
#define RT_TOKEN_TTL_MAX_S     (30 * 24 * 3600)

/*
 * Mints an HS256 client token for app/env with the environment's signing
 * secret and claims sub, iat, exp, subscribe, publish (pattern lists).
 * Returns 0 and *token (caller frees with rt_free()), RT_ENOENT (no such
 * environment) or RT_EINVAL.
 */
int rt_registry_token_mint(rt_registry_t *r, const char *app, const char *env, const char *sub,
                           const json_t *subscribe, const json_t *publish, int64_t ttl_s,
                           char **token, int64_t *expires_ms);

/*
 * Verifies a client token for app/env: HS256 only ("none" and every other alg
 * refused), signature, exp and nbf. Returns 0 and *claims (caller
 * json_decref), or RT_EPERM with *why set to a static reason.
 */
int rt_registry_token_verify(rt_registry_t *r, const char *app, const char *env, const char *token,
                             size_t len, json_t **claims, const char **why);

/* ---------------------------------------------------------- apps & envs */

/* Each create/delete returns RT_EINVAL (bad field), RT_EEXIST, RT_ENOENT
 * synchronously (done not called), or 0 and calls done once durable. On
 * success *json (may be NULL) receives the new record (caller json_decref). */
int rt_registry_app_create(rt_registry_t *r, const char *id, const char *name, json_t **json,
                           rt_registry_done_fn done, void *arg);
int rt_registry_app_delete(rt_registry_t *r, const char *id, rt_registry_done_fn done, void *arg);
json_t *rt_registry_app_get(rt_registry_t *r, const char *id); /* NULL if absent */
json_t *rt_registry_app_list(rt_registry_t *r, const char *after, size_t limit);

int rt_registry_env_create(rt_registry_t *r, const char *app, const char *id, const char *name,
                           json_t **json, rt_registry_done_fn done, void *arg);
int rt_registry_env_delete(rt_registry_t *r, const char *app, const char *id,
                           rt_registry_done_fn done, void *arg);
json_t *rt_registry_env_get(rt_registry_t *r, const char *app, const char *id);
json_t *rt_registry_env_list(rt_registry_t *r, const char *app, const char *after, size_t limit);
int rt_registry_env_exists(rt_registry_t *r, const char *app, const char *id);

/* ----------------------------------------------------------------- keys */

/* Creates a secret key; *json gets {"id","name","key",…} including the secret
 * (the only time it is ever shown). */
int rt_registry_key_create(rt_registry_t *r, const char *app, const char *env, const char *name,
                           json_t **json, rt_registry_done_fn done, void *arg);
int rt_registry_key_revoke(rt_registry_t *r, const char *app, const char *env, const char *id,
                           rt_registry_done_fn done, void *arg);
json_t *rt_registry_key_get(rt_registry_t *r, const char *app, const char *env, const char *id);
json_t *rt_registry_key_list(rt_registry_t *r, const char *app, const char *env, const char *after,
                             size_t limit);

/* --------------------------------------------------------------- topics */

/* Creates a topic from a JSON body {"name","description"?,"retention"?:
 * {"maxAgeSeconds","maxEvents"}}. On RT_EINVAL *err gets a message (static). */
int rt_registry_topic_create(rt_registry_t *r, const char *app, const char *env, const json_t *body,
                             json_t **json, const char **err, rt_registry_done_fn done, void *arg);
/* Applies a PATCH body (description, retention, activeSchemaVersion,
 * compatibility). Same returns. */
int rt_registry_topic_patch(rt_registry_t *r, const char *app, const char *env, const char *name,
                            const json_t *body, json_t **json, const char **err,
                            rt_registry_done_fn done, void *arg);
int rt_registry_topic_delete(rt_registry_t *r, const char *app, const char *env, const char *name,
                             rt_registry_done_fn done, void *arg);
json_t *rt_registry_topic_json(rt_registry_t *r, const rt_topic_t *t);
json_t *rt_registry_topic_list(rt_registry_t *r, const char *app, const char *env,
                               const char *after, size_t limit);

/* Returns a reference to the live topic, or NULL. Thread-safe. */
rt_topic_t *rt_registry_topic_get(rt_registry_t *r, const char *app, const char *env,
                                  const char *name);
rt_topic_t *rt_topic_retain(rt_topic_t *t);
void rt_topic_release(rt_topic_t *t);

/* Calls fn for every live topic of app/env (under the read lock: fn must not
 * call back into the registry). */
void rt_registry_topic_foreach(rt_registry_t *r, const char *app, const char *env,
                               void (*fn)(void *arg, rt_topic_t *t), void *arg);

/* Calls fn for every live topic (for retention sweeps), same rules. */
void rt_registry_topic_foreach_all(rt_registry_t *r, void (*fn)(void *arg, rt_topic_t *t),
                                   void *arg);

/* ---------------------------------------------------------------- schemas */

/*
 * Adds the next schema version of a topic. The caller has compiled and
 * compatibility-checked schema (borrowed). 0 and *json = {"version",…} (caller
 * json_decref) and done later, or RT_ENOENT.
 */
int rt_registry_schema_add(rt_registry_t *r, const char *app, const char *env, const char *topic,
                           const json_t *schema, json_t **json, rt_registry_done_fn done,
                           void *arg);

/* {"version","schema","createdAt"} of one version, or NULL. New reference. */
json_t *rt_registry_schema_get(rt_registry_t *r, const rt_topic_t *t, int version);

/* {"items":[…]} of every version, oldest first. New reference. */
json_t *rt_registry_schema_list(rt_registry_t *r, const rt_topic_t *t);

/* The schema bodies, oldest first, as a new array reference. */
json_t *rt_registry_schema_bodies(rt_registry_t *r, const rt_topic_t *t);

/* The current enforcement of t: *version (0 = none), the format flag, and,
 * unless schema is NULL, a new reference to that version's schema (NULL
 * when none is active). */
void rt_registry_topic_gate(rt_registry_t *r, const rt_topic_t *t, int *version, json_t **schema,
                            int *format_assertion);

/* The newest schema registered in app/env whose "$id" is uri, or NULL. New
 * reference. For $ref resolution within an environment. */
json_t *rt_registry_schema_by_id(rt_registry_t *r, const char *app, const char *env,
                                 const char *uri);

/* Registers the destructor of rt_topic_t.publish_state (start-up only). */
void rt_registry_set_publish_state_free(void (*fn)(void *));

/* The store behind the registry (for the event log). Borrowed. */
rt_store_t *rt_registry_store(rt_registry_t *r);

/* ---------------------------------------------------------------- crypto */

/* Lowercase hex SHA-256 of data into out[65]. */
void rt_registry_sha256_hex(const void *data, size_t len, char out[65]);

#endif
