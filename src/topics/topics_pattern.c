/*
 * This file implements topic patterns: `*` matches exactly one segment and a
 * final `>` one or more (the NATS convention), used by subscriptions, token
 * rights and webhook endpoints alike.
 */
#include "topics/topics.h"

#include <string.h>

static int seg_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int rt_topics_pattern_valid(const char *p, size_t len)
{
    if (len == 0 || len > RT_PATTERN_MAX_BYTES)
        return 0;
    size_t i = 0;
    while (i <= len) {
        size_t start = i;
        while (i < len && p[i] != '.')
            i++;
        size_t seg = i - start;
        if (seg == 0)
            return 0;
        if (seg == 1 && p[start] == '>') {
            if (i != len)
                return 0; /* '>' only as the last segment */
        } else if (!(seg == 1 && p[start] == '*')) {
            for (size_t k = start; k < i; k++) {
                if (!seg_char_ok(p[k]))
                    return 0;
            }
        }
        if (i == len)
            break;
        i++; /* skip '.' */
        if (i == len)
            return 0; /* trailing dot */
    }
    return 1;
}

int rt_topics_pattern_is_literal(const char *p, size_t len)
{
    return memchr(p, '*', len) == NULL && memchr(p, '>', len) == NULL;
}

int rt_topics_match(const char *pattern, const char *topic)
{
    const char *p = pattern, *t = topic;
    for (;;) {
        const char *pe = strchr(p, '.');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p);
        if (pl == 1 && p[0] == '>')
            return *t != '\0';
        if (*t == '\0')
            return 0;
        const char *te = strchr(t, '.');
        size_t tl = te ? (size_t)(te - t) : strlen(t);
        /* When the "topic" is itself a pattern (checking a subscription
         * against token rights), '*' must not cover the wider '>'. */
        if (pl == 1 && p[0] == '*' && tl == 1 && t[0] == '>')
            return 0;
        if (!(pl == 1 && p[0] == '*') && (pl != tl || memcmp(p, t, pl) != 0))
            return 0;
        if (!pe || !te)
            return !pe && !te;
        p = pe + 1;
        t = te + 1;
    }
}

int rt_topics_allowed(const json_t *list, const char *topic)
{
    if (list == NULL)
        return 1;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && rt_topics_match(json_string_value(v), topic))
            return 1;
    }
    return 0;
}
