/*
 * This file implements the webhook configuration: its defaults (Svix's retry
 * schedule, research §A2; a 15 s timeout; disable after 5 days of failure)
 * and the parser of --webhook-retry-schedule.
 */
#include "webhooks/webhooks.h"

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
