/*
 * This file implements the structured logger: one line per call, either
 * `key=value` text or one JSON object, written with a single write(2) so that
 * lines from different threads never interleave.
 */
#include "core/core.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static rt_log_level_t log_level = RT_LOG_INFO;
static int log_json;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void rt_log_setup(rt_log_level_t level, int json)
{
    log_level = level;
    log_json = json;
}

int rt_log_parse_level(const char *s, rt_log_level_t *out)
{
    for (size_t i = 0; i < RT_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (rt_log_level_t)i;
            return 0;
        }
    }
    return RT_EINVAL;
}

int rt_log_enabled(rt_log_level_t level)
{
    return level >= log_level;
}

/*
 * Turns `a=1 b="x y" c=z` into `,"a":"1","b":"x y","c":"z"`. Values stay
 * strings: log consumers should not have to guess types from text.
 */
static void fields_to_json(rt_buf_t *out, const char *f)
{
    const char *p = f;
    while (*p) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        const char *k = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        size_t klen = (size_t)(p - k);
        const char *v = p;
        size_t vlen = 0;
        if (*p == '=') {
            p++;
            if (*p == '"') {
                v = ++p;
                while (*p && !(*p == '"' && p[-1] != '\\'))
                    p++;
                vlen = (size_t)(p - v);
                if (*p == '"')
                    p++;
            } else {
                v = p;
                while (*p && *p != ' ')
                    p++;
                vlen = (size_t)(p - v);
            }
        }
        rt_buf_append(out, ",", 1);
        rt_buf_append_json_str(out, k, klen);
        rt_buf_append(out, ":", 1);
        rt_buf_append_json_str(out, v, vlen);
    }
}

void rt_log(rt_log_level_t level, const char *event, const char *fields, ...)
{
    if (!rt_log_enabled(level))
        return;
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(rt_time_ms(), ts);

    rt_buf_t f;
    rt_buf_init(&f);
    va_list ap;
    va_start(ap, fields);
    int n = vsnprintf(NULL, 0, fields, ap);
    va_end(ap);
    if (n > 0) {
        rt_buf_reserve(&f, (size_t)n);
        va_start(ap, fields);
        vsnprintf(f.data, (size_t)n + 1, fields, ap);
        va_end(ap);
        f.len = (size_t)n;
    }

    rt_buf_t line;
    rt_buf_init(&line);
    if (log_json) {
        rt_buf_appendf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level_names[level]);
        rt_buf_append_json_str(&line, event, strlen(event));
        if (f.len)
            fields_to_json(&line, f.data);
        rt_buf_append(&line, "}\n", 2);
    } else {
        rt_buf_appendf(&line, "ts=%s level=%s event=%s", ts, level_names[level], event);
        if (f.len) {
            rt_buf_append(&line, " ", 1);
            rt_buf_append(&line, f.data, f.len);
        }
        rt_buf_append(&line, "\n", 1);
    }
    if (write(2, line.data, line.len) < 0) {
        /* stderr is gone; there is nowhere left to report it. */
    }
    rt_buf_close(&line);
    rt_buf_close(&f);
}
