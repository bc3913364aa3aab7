/*
 * This file implements Standard Webhooks v1 signing (spec v1.0.0, "Signature
 * scheme": HMAC-SHA256 over id.timestamp.body, base64, "v1," prefix), the
 * "whsec_" secret format, and the base64 codec both need.
 */
#include "webhooks/webhooks.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
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

int rt_wh_sign(const char *secret, const char *id, int64_t timestamp, const char *body, size_t len,
               rt_buf_t *out)
{
    unsigned char key[RT_WH_SECRET_MAX_BYTES];
    size_t klen;
    if (secret_key(secret, key, &klen) != 0)
        return RT_EINVAL;
    rt_buf_t msg;
    rt_buf_init(&msg);
    rt_buf_appendf(&msg, "%s.%lld.", id, (long long)timestamp);
    rt_buf_append(&msg, body, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    unsigned char *ok =
        HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg.data, msg.len, mac, &maclen);
    rt_buf_close(&msg);
    rt_assert(ok != NULL);
    if (out->len > 0)
        rt_buf_append(out, " ", 1);
    rt_buf_append_str(out, "v1,");
    rt_wh_base64_encode(mac, maclen, out);
    return 0;
}
