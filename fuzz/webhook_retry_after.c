/*
 * This file implements the libFuzzer target of the Retry-After parser the
 * webhook dispatcher runs on every receiver's 429/503 answer
 * (rt_wh_retry_after, src/webhooks/webhooks_config.c; RFC 9110 §10.2.3).
 *
 * Input: a header value, fed exactly sized (for ASan). Invariants: a value
 * parsed is within 0..RT_WH_RETRY_AFTER_MAX_S; an all-digit value (after
 * whitespace) always parses, to min(its number, the cap); the result does not
 * depend on bytes outside [data, data + size) (the value is parsed twice, the
 * second time inside a larger buffer of junk).
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

#define NOW_S 1795846749LL /* a fixed "now": the parse is deterministic */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The digits-only reading of the value, saturated at the cap; -1 if it is
 * not all digits. */
static int64_t digits_value(const char *v, size_t n)
{
    size_t b = 0, e = n;
    while (b < e && strchr(" \t\r\n", v[b]) && v[b])
        b++;
    while (e > b && strchr(" \t\r\n", v[e - 1]) && v[e - 1])
        e--;
    if (b == e)
        return -1;
    int64_t x = 0;
    for (size_t i = b; i < e; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        if (x <= RT_WH_RETRY_AFTER_MAX_S)
            x = x * 10 + (v[i] - '0');
    }
    return x > RT_WH_RETRY_AFTER_MAX_S ? RT_WH_RETRY_AFTER_MAX_S : x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size ? size : 1);
    memcpy(v, data, size);
    int64_t s1 = -1;
    int rc1 = rt_wh_retry_after(v, size, NOW_S, &s1);
    CHECK(rc1 == 0 || rc1 == RT_EINVAL);
    if (rc1 == 0)
        CHECK(s1 >= 0 && s1 <= RT_WH_RETRY_AFTER_MAX_S);
    int64_t want = digits_value(v, size);
    if (want >= 0)
        CHECK(rc1 == 0 && s1 == want);

    /* The same value with junk around it: only [v, v + size) is read. */
    char *w = malloc(size + 2);
    w[0] = '7';
    memcpy(w + 1, data, size);
    w[size + 1] = '9';
    int64_t s2 = -1;
    int rc2 = rt_wh_retry_after(w + 1, size, NOW_S, &s2);
    CHECK(rc2 == rc1 && (rc1 != 0 || s2 == s1));
    free(w);
    free(v);
    return 0;
}
