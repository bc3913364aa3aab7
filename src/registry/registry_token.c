/*
 * This file implements client tokens (ARCHITECTURE §5.1): JWTs signed with
 * HS256 using the environment's signing secret, carrying the `subscribe` and
 * `publish` pattern lists that bound a connection's rights. Verification
 * accepts HS256 only, so `alg: none` and algorithm confusion are refused
 * whatever the library would allow.
 */
#include "registry/registry.h"

#include <jwt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX 128

int rt_registry_token_mint(rt_registry_t *r, const char *app, const char *env, const char *sub,
                           const json_t *subscribe, const json_t *publish, int64_t ttl_s,
                           char **token, int64_t *expires_ms)
{
    char secret[SECRET_MAX];
    if (rt_registry_env_secret(r, app, env, secret, sizeof(secret)) != 0)
        return RT_ENOENT;
    jwt_t *jwt = NULL;
    int rc = RT_EINVAL;
    if (jwt_new(&jwt) != 0)
        goto out;
    int64_t now_s = rt_time_ms() / 1000;
    json_t *grants = json_object();
    json_object_set_new(grants, "sub", json_string(sub));
    json_object_set_new(grants, "iat", json_integer(now_s));
    json_object_set_new(grants, "exp", json_integer(now_s + ttl_s));
    json_object_set(grants, "subscribe", (json_t *)subscribe);
    json_object_set(grants, "publish", (json_t *)publish);
    char *text = json_dumps(grants, JSON_COMPACT);
    json_decref(grants);
    int bad =
        text == NULL || jwt_add_grants_json(jwt, text) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) != 0;
    free(text);
    if (bad)
        goto out;
    char *encoded = jwt_encode_str(jwt);
    if (encoded == NULL)
        goto out;
    *token = rt_strdup(encoded);
    free(encoded);
    *expires_ms = (now_s + ttl_s) * 1000;
    rc = 0;
out:
    jwt_free(jwt);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

int rt_registry_token_verify(rt_registry_t *r, const char *app, const char *env, const char *token,
                             size_t len, json_t **claims, const char **why)
{
    char secret[SECRET_MAX];
    if (rt_registry_env_secret(r, app, env, secret, sizeof(secret)) != 0) {
        *why = "unknown environment";
        return RT_EPERM;
    }
    char *copy = rt_strndup(token, len);
    jwt_t *jwt = NULL;
    int rc = RT_EPERM;
    *why = "invalid token";
    if (jwt_decode(&jwt, copy, (const unsigned char *)secret, (int)strlen(secret)) != 0)
        goto out;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
        *why = "token algorithm not allowed";
        goto out;
    }
    int64_t now_s = rt_time_ms() / 1000;
    long exp = jwt_get_grant_int(jwt, "exp");
    if (exp <= 0 || exp <= now_s) {
        *why = "token expired";
        goto out;
    }
    long nbf = jwt_get_grant_int(jwt, "nbf");
    if (nbf > now_s) {
        *why = "token not yet valid";
        goto out;
    }
    char *text = jwt_get_grants_json(jwt, NULL);
    json_t *c = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!json_is_object(c)) {
        json_decref(c);
        goto out;
    }
    *claims = c;
    rc = 0;
out:
    jwt_free(jwt);
    rt_free(copy);
    return rc;
}
