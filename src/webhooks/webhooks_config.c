/*
 * This file implements the webhook configuration: its defaults (Svix's retry
 * schedule, research §A2; a 15 s timeout; disable after 5 days of failure)
 * the parser of --webhook-retry-schedule, and the parser of a receiver's
 * Retry-After, which the dispatcher honours on 429 and 503.
 */
#include "webhooks/webhooks.h"

#include <curl/curl.h>
#include <string.h>

void rt_wh_config_defaults(rt_wh_config_t *c)
{
    /* Svix's schedule (research §A2): now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
    static const int64_t sched[] = {0, 5, 300, 1800, 7200, 18000, 36000, 36000};
    memset(c, 0, sizeof(*c));
    memcpy(c->retry_s, sched, sizeof(sched));
    c->nretry = (int)RT_ARRAY_LEN(sched);
    c->timeout_ms = RT_WH_TIMEOUT_MS_DEFAULT;
    c->disable_after_ms = RT_WH_DISABLE_AFTER_MS_DEFAULT;
    c->retention_ms = RT_WH_RETENTION_MS_DEFAULT;
}

int rt_wh_parse_schedule(const char *s, rt_wh_config_t *c)
{
    int64_t tmp[RT_WH_MAX_RETRIES];
    int n = 0;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (n == RT_WH_MAX_RETRIES || rt_parse_i64(s, len, &tmp[n]) != 0 || tmp[n] < 0 ||
            tmp[n] > 30LL * 24 * 3600)
            return RT_EINVAL;
        n++;
        s += len + (comma ? 1 : 0);
    }
    if (n == 0)
        return RT_EINVAL;
    memcpy(c->retry_s, tmp, (size_t)n * sizeof(tmp[0]));
    c->nretry = n;
    return 0;
}

static int ows(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds, and
 * delay-seconds = 1*DIGIT (§10.2.3; no sign). */
int rt_wh_retry_after(const char *v, size_t len, int64_t now_s, int64_t *out_s)
{
    while (len > 0 && ows(*v)) {
        v++;
        len--;
    }
    while (len > 0 && ows(v[len - 1]))
        len--;
    if (len == 0)
        return RT_EINVAL;
    size_t digits = 0;
    while (digits < len && v[digits] >= '0' && v[digits] <= '9')
        digits++;
    int64_t secs = 0;
    if (digits == len) {
        /* Saturates: any number of digits is a valid (long) delay. */
        for (size_t i = 0; i < len && secs <= RT_WH_RETRY_AFTER_MAX_S; i++)
            secs = secs * 10 + (v[i] - '0');
    } else {
        char date[RT_WH_RETRY_DATE_MAX_BYTES];
        if (len >= sizeof(date) || memchr(v, '\0', len) != NULL)
            return RT_EINVAL;
        memcpy(date, v, len);
        date[len] = '\0';
        /* IMF-fixdate and the two obsolete formats (§5.6.7), which
         * curl_getdate() reads, among others. */
        time_t t = curl_getdate(date, NULL);
        if (t == -1)
            return RT_EINVAL;
        secs = (int64_t)t > now_s ? (int64_t)t - now_s : 0; /* a past date: now */
    }
    *out_s = RT_MIN(secs, RT_WH_RETRY_AFTER_MAX_S);
    return 0;
}
