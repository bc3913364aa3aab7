/*
 * This file implements Standard Webhooks v1 signing (spec v1.0.0, "Signature
 * scheme": HMAC-SHA256 over id.timestamp.body, base64, "v1," prefix), the
 * "whsec_" secret format, and the base64 codec both need.
 */
#include "webhooks/webhooks.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void rt_wh_base64_encode(const unsigned char *in, size_t n, rt_buf_t *out)
{
    rt_buf_reserve(out, (n + 2) / 3 * 4 + 1);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], i + 1 < n ? b64[(v >> 6) & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        rt_buf_append(out, q, 4);
    }
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

int rt_wh_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return RT_EINVAL;
    size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len > cap)
        return RT_ETOOBIG;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return RT_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *outlen = o;
    return 0;
}

/* The HMAC key of a "whsec_" secret. */
static int secret_key(const char *s, unsigned char key[RT_WH_SECRET_MAX_BYTES], size_t *len)
{
    size_t pl = strlen(RT_WH_SECRET_PREFIX);
    if (s == NULL || strncmp(s, RT_WH_SECRET_PREFIX, pl) != 0)
        return RT_EINVAL;
    return rt_wh_base64_decode(s + pl, strlen(s + pl), key, RT_WH_SECRET_MAX_BYTES, len);
}

int rt_wh_secret_valid(const char *s)
{
    unsigned char key[RT_WH_SECRET_MAX_BYTES];
    size_t len;
    return secret_key(s, key, &len) == 0 && len >= RT_WH_SECRET_MIN_BYTES;
}

char *rt_wh_secret_new(void)
{
    unsigned char key[RT_WH_SECRET_NEW_BYTES];
    rt_random_bytes(key, sizeof(key));
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_str(&b, RT_WH_SECRET_PREFIX);
    rt_wh_base64_encode(key, sizeof(key), &b);
    return rt_buf_steal(&b, NULL);
}

/*
 * An HMAC-SHA256 context with the digest chosen and no key, fetched once for
 * the process and only read afterwards: each signature duplicates it. The
 * one-shot HMAC() of OpenSSL 3 fetches the MAC and the digest by name on
 * every call, which was most of the cost of signing a webhook.
 */
static EVP_MAC_CTX *hmac_template;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_init(void)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    rt_assert(mac != NULL);
    hmac_template = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context keeps its own reference */
    rt_assert(hmac_template != NULL);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    int ok = EVP_MAC_CTX_set_params(hmac_template, params);
    rt_assert(ok == 1);
}

/* HMAC-SHA256(key, id "." timestamp "." body) into mac; returns its length. */
static size_t hmac_sha256(const unsigned char *key, size_t klen, const char *id, const char *ts,
                          const char *body, size_t len, unsigned char mac[EVP_MAX_MD_SIZE])
{
    pthread_once(&hmac_once, hmac_init);
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(hmac_template);
    rt_assert(c != NULL);
    size_t maclen = 0;
    int ok = EVP_MAC_init(c, key, klen, NULL) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)id, strlen(id)) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)".", 1) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)ts, strlen(ts)) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)".", 1) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)body, len) == 1 &&
             EVP_MAC_final(c, mac, &maclen, EVP_MAX_MD_SIZE) == 1;
    EVP_MAC_CTX_free(c);
    rt_assert(ok);
    return maclen;
}

int rt_wh_sign(const char *secret, const char *id, int64_t timestamp, const char *body, size_t len,
               rt_buf_t *out)
{
    unsigned char key[RT_WH_SECRET_MAX_BYTES];
    size_t klen;
    if (secret_key(secret, key, &klen) != 0)
        return RT_EINVAL;
    char ts[24];
    snprintf(ts, sizeof(ts), "%lld", (long long)timestamp);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = hmac_sha256(key, klen, id, ts, body, len, mac);
    if (out->len > 0)
        rt_buf_append(out, " ", 1);
    rt_buf_append_str(out, "v1,");
    rt_wh_base64_encode(mac, maclen, out);
    return 0;
}
