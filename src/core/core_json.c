/*
 * This file implements rt_buf_append_json(), the compact JSON writer used for
 * every envelope and response body: object keys in insertion order, strings
 * escaped minimally (UTF-8 kept as is), and reals printed with the fewest
 * digits that round-trip.
 */
#include "core/core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append_real(rt_buf_t *b, double d)
{
    char tmp[32];
    if (!isfinite(d)) {
        rt_buf_append_str(b, "null"); /* JSON has no NaN or infinity */
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    rt_buf_append_str(b, tmp);
    /* Keep a real a real: "3" would read back as an integer. */
    if (strpbrk(tmp, ".eE") == NULL)
        rt_buf_append(b, ".0", 2);
}

void rt_buf_append_json(rt_buf_t *b, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        int first = 1;
        rt_buf_append(b, "{", 1);
        json_object_foreach((json_t *)j, k, v)
        {
            if (!first)
                rt_buf_append(b, ",", 1);
            first = 0;
            rt_buf_append_json_str(b, k, strlen(k));
            rt_buf_append(b, ":", 1);
            rt_buf_append_json(b, v);
        }
        rt_buf_append(b, "}", 1);
        break;
    }
    case JSON_ARRAY: {
        rt_buf_append(b, "[", 1);
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                rt_buf_append(b, ",", 1);
            rt_buf_append_json(b, json_array_get(j, i));
        }
        rt_buf_append(b, "]", 1);
        break;
    }
    case JSON_STRING:
        rt_buf_append_json_str(b, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        rt_buf_appendf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        break;
    case JSON_REAL:
        append_real(b, json_real_value(j));
        break;
    case JSON_TRUE:
        rt_buf_append(b, "true", 4);
        break;
    case JSON_FALSE:
        rt_buf_append(b, "false", 5);
        break;
    case JSON_NULL:
        rt_buf_append(b, "null", 4);
        break;
    }
}
