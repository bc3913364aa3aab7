/*
 * This file implements rt_schema_errors_t, the compact list of "basic"
 * output units (2020-12 core §12.4.2) the validator records errors into:
 * one byte array holding every string back to back and one array of
 * offsets, both starting inside the caller's structure. Recording a unit
 * is a few memcpy()s; jansson values or JSON text are made from the list
 * only when a caller asks, so a rejected payload whose errors are
 * serialized or dropped never pays for a jansson tree (about 13 mallocs
 * for one unit).
 *
 * The validator writes a unit in place: rt_schema_errors_open() starts it,
 * rt_schema_errors_put*() append to its current string, and
 * rt_schema_errors_end_string() closes each of the three strings; the
 * third closes the unit.
 */
#include "schema/schema_internal.h"

/* Indices of a unit's strings in rt_schema_err_unit_t.off/len. */
enum { SC_E_INSTANCE, SC_E_KEYWORD, SC_E_MESSAGE, SC_E_STRINGS };

void rt_schema_errors_init(rt_schema_errors_t *e)
{
    e->units = e->local_units;
    e->n = 0;
    e->units_cap = RT_ARRAY_LEN(e->local_units);
    e->text = e->local_text;
    e->text_len = 0;
    e->text_cap = sizeof(e->local_text);
    e->cur = 0;
}

void rt_schema_errors_close(rt_schema_errors_t *e)
{
    if (e == NULL)
        return;
    if (e->units != e->local_units)
        rt_free(e->units);
    if (e->text != e->local_text)
        rt_free(e->text);
    rt_schema_errors_init(e);
}

void rt_schema_errors_reset(rt_schema_errors_t *e)
{
    e->n = 0;
    e->text_len = 0;
    e->cur = 0;
}

size_t rt_schema_errors_count(const rt_schema_errors_t *e)
{
    return e->n;
}

void rt_schema_errors_get(const rt_schema_errors_t *e, size_t i, rt_schema_error_t *out)
{
    rt_assert(i < e->n);
    const rt_schema_err_unit_t *u = &e->units[i];
    out->instance_location = e->text + u->off[SC_E_INSTANCE];
    out->instance_location_len = u->len[SC_E_INSTANCE];
    out->keyword_location = e->text + u->off[SC_E_KEYWORD];
    out->keyword_location_len = u->len[SC_E_KEYWORD];
    out->message = e->text + u->off[SC_E_MESSAGE];
    out->message_len = u->len[SC_E_MESSAGE];
}

/* The member names of an output unit, in output order. */
static const char *const unit_keys[SC_E_STRINGS] = {"instanceLocation", "keywordLocation",
                                                    "message"};

json_t *rt_schema_errors_to_json(const rt_schema_errors_t *e)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < e->n; i++) {
        const rt_schema_err_unit_t *u = &e->units[i];
        json_t *unit = json_object();
        /* _nocheck: the validator records valid UTF-8 only (messages are
         * repaired where a cut split a sequence), so jansson's re-check
         * would only cost time. */
        for (int f = 0; f < SC_E_STRINGS; f++)
            json_object_setn_new_nocheck(unit, unit_keys[f], strlen(unit_keys[f]),
                                         json_stringn_nocheck(e->text + u->off[f], u->len[f]));
        json_array_append_new(arr, unit);
    }
    return arr;
}

void rt_schema_errors_append_json(const rt_schema_errors_t *e, rt_buf_t *out)
{
    rt_buf_append(out, "[", 1);
    for (size_t i = 0; i < e->n; i++) {
        const rt_schema_err_unit_t *u = &e->units[i];
        rt_buf_append(out, i ? ",{" : "{", i ? 2 : 1);
        for (int f = 0; f < SC_E_STRINGS; f++) {
            if (f)
                rt_buf_append(out, ",", 1);
            rt_buf_append_json_str(out, unit_keys[f], strlen(unit_keys[f]));
            rt_buf_append(out, ":", 1);
            rt_buf_append_json_str(out, e->text + u->off[f], u->len[f]);
        }
        rt_buf_append(out, "}", 1);
    }
    rt_buf_append(out, "]", 1);
}

/* ============================================== recording (schema_validate.c) */

/* Makes room for extra more bytes of text. */
static void text_reserve(rt_schema_errors_t *e, size_t extra)
{
    if (e->text_cap - e->text_len >= extra)
        return;
    /* offsets are 32-bit: 4 GiB of error text is far beyond any cap */
    rt_assert(extra < UINT32_MAX - e->text_len);
    size_t cap = e->text_cap * 2;
    while (cap - e->text_len < extra)
        cap *= 2;
    char *t = rt_malloc(cap);
    memcpy(t, e->text, e->text_len);
    if (e->text != e->local_text)
        rt_free(e->text);
    e->text = t;
    e->text_cap = cap;
}

void rt_schema_errors_open(rt_schema_errors_t *e)
{
    if (e->n == e->units_cap) {
        size_t cap = e->units_cap * 2;
        rt_schema_err_unit_t *u = rt_malloc(cap * sizeof(*u));
        memcpy(u, e->units, e->n * sizeof(*u));
        if (e->units != e->local_units)
            rt_free(e->units);
        e->units = u;
        e->units_cap = cap;
    }
    e->cur = 0;
    e->units[e->n].off[0] = (uint32_t)e->text_len;
}

void rt_schema_errors_put(rt_schema_errors_t *e, const char *s, size_t n)
{
    text_reserve(e, n);
    memcpy(e->text + e->text_len, s, n);
    e->text_len += n;
}

void rt_schema_errors_put_ptr(rt_schema_errors_t *e, const char *tok, size_t n)
{
    text_reserve(e, 2 * n + 1);
    e->text_len += rt_schema_ptr_escape(e->text + e->text_len, tok, n);
}

void rt_schema_errors_put_index(rt_schema_errors_t *e, size_t i)
{
    char digits[RT_SCHEMA_INDEX_BYTES];
    const char *p = rt_schema_ptr_index(digits, i);
    rt_schema_errors_put(e, p, (size_t)(digits + sizeof(digits) - p));
}

char *rt_schema_errors_string(rt_schema_errors_t *e, size_t *len)
{
    rt_schema_err_unit_t *u = &e->units[e->n];
    *len = e->text_len - u->off[e->cur];
    return e->text + u->off[e->cur];
}

void rt_schema_errors_end_string(rt_schema_errors_t *e)
{
    rt_schema_err_unit_t *u = &e->units[e->n];
    text_reserve(e, 1);
    u->len[e->cur] = (uint32_t)(e->text_len - u->off[e->cur]);
    e->text[e->text_len++] = '\0';
    if (++e->cur < SC_E_STRINGS) {
        u->off[e->cur] = (uint32_t)e->text_len;
        return;
    }
    e->n++;
    e->cur = 0;
}

void rt_schema_errors_drop_last(rt_schema_errors_t *e)
{
    rt_assert(e->n > 0 && e->cur == 0);
    e->n--;
    e->text_len = e->units[e->n].off[0];
}
