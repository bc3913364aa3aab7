/*
 * This file implements the conversion of PostgreSQL column values, in the
 * text output format that pgoutput sends, to JSON by type oid (the table in
 * docs/cdc.md), and the row objects built from decoded tuples. The reader
 * sets DateStyle=ISO, TimeZone=UTC and bytea_output=hex on its session, the
 * forms parsed here; any text that does not parse as its type is kept as a
 * JSON string, so a conversion never fails and never loses the value.
 */
#include "cdc/cdc_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* =========================================================== type table */

/* A built-in type with a JSON mapping; elem is the element of an array type. */
typedef struct {
    const char *name;
    uint32_t oid;
    uint32_t elem;
} builtin_t;

/* pg_type.dat, PostgreSQL 15. */
static const builtin_t builtins[] = {
    {"bool", 16, 0},
    {"bytea", 17, 0},
    {"char", 18, 0},
    {"name", 19, 0},
    {"int8", 20, 0},
    {"int2", 21, 0},
    {"int4", 23, 0},
    {"text", 25, 0},
    {"oid", 26, 0},
    {"json", 114, 0},
    {"float4", 700, 0},
    {"float8", 701, 0},
    {"bpchar", 1042, 0},
    {"varchar", 1043, 0},
    {"date", 1082, 0},
    {"time", 1083, 0},
    {"timestamp", 1114, 0},
    {"timestamptz", 1184, 0},
    {"timetz", 1266, 0},
    {"numeric", 1700, 0},
    {"uuid", 2950, 0},
    {"jsonb", 3802, 0},
    {"_json", 199, 114},
    {"_bool", 1000, 16},
    {"_bytea", 1001, 17},
    {"_char", 1002, 18},
    {"_name", 1003, 19},
    {"_int2", 1005, 21},
    {"_int4", 1007, 23},
    {"_text", 1009, 25},
    {"_bpchar", 1014, 1042},
    {"_varchar", 1015, 1043},
    {"_int8", 1016, 20},
    {"_float4", 1021, 700},
    {"_float8", 1022, 701},
    {"_oid", 1028, 26},
    {"_timestamp", 1115, 1114},
    {"_date", 1182, 1082},
    {"_time", 1183, 1083},
    {"_timestamptz", 1185, 1184},
    {"_numeric", 1231, 1700},
    {"_timetz", 1270, 1266},
    {"_uuid", 2951, 2950},
    {"_jsonb", 3807, 3802},
};

uint32_t rt_cdc_builtin_type_oid(const char *name)
{
    for (size_t i = 0; i < RT_ARRAY_LEN(builtins); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return builtins[i].oid;
    return 0;
}

/* The element oid of a mapped array type, or 0. */
static uint32_t array_elem(uint32_t oid)
{
    for (size_t i = 0; i < RT_ARRAY_LEN(builtins); i++)
        if (builtins[i].oid == oid)
            return builtins[i].elem;
    return 0;
}

/* ============================================================= strings */

/* Length of the well-formed UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_seq(const char *p, size_t n)
{
    unsigned char c = (unsigned char)p[0];
    size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (len == 0 || len > n || !rt_utf8_valid(p, len))
        return 0;
    return len;
}

/* A JSON string of s, each ill-formed byte replaced by U+FFFD. */
static json_t *string_json(const char *s, size_t n)
{
    if (rt_utf8_valid(s, n))
        return json_stringn_nocheck(s, n);
    rt_buf_t b;
    rt_buf_init(&b);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (k == 0) {
            rt_buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        } else {
            rt_buf_append(&b, s + i, k);
            i += k;
        }
    }
    json_t *j = json_stringn_nocheck(b.data, b.len);
    rt_buf_close(&b);
    return j;
}

/* ============================================================== numbers */

static json_t *int_json(const char *s, size_t n, int wide)
{
    int64_t v;
    if (rt_parse_i64(s, n, &v) < 0)
        return NULL;
    if (wide && (v > RT_CDC_INT_JSON_MAX || v < -RT_CDC_INT_JSON_MAX))
        return json_stringn_nocheck(s, n); /* beyond exact doubles: keep every digit */
    return json_integer(v);
}

/* float4/float8: a finite decimal number; NaN and ±Infinity stay strings. */
static json_t *float_json(const char *s, size_t n)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!memchr("0123456789+-.eE", s[i], 15))
            return NULL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(d))
        return NULL;
    return json_real(d);
}

static json_t *bool_json(const char *s, size_t n)
{
    if (n == 1 && s[0] == 't')
        return json_true();
    if (n == 1 && s[0] == 'f')
        return json_false();
    return NULL;
}

/* json and jsonb: the document itself. Integers jansson cannot hold as
 * int64 are read again as reals rather than losing the document. */
static json_t *json_json(const char *s, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j)
        j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
    return j;
}

/* ============================================================ base64 */

void rt_cdc_base64_append(rt_buf_t *out, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    rt_buf_reserve(out, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], '=', '='};
        if (i + 1 < n)
            q[2] = tab[v >> 6 & 63];
        if (i + 2 < n)
            q[3] = tab[v & 63];
        rt_buf_append(out, q, 4);
    }
}

/* ============================================================= bytea */

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* bytea_output=hex: "\x" then two hex digits per byte. */
static int bytea_hex(const char *s, size_t n, rt_buf_t *raw)
{
    if ((n - 2) % 2)
        return RT_EINVAL;
    for (size_t i = 2; i < n; i += 2) {
        int hi = hexdigit(s[i]), lo = hexdigit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return RT_EINVAL;
        uint8_t b = (uint8_t)(hi << 4 | lo);
        rt_buf_append(raw, &b, 1);
    }
    return 0;
}

/* bytea_output=escape: "\\" is a backslash, "\ooo" an octal byte. */
static int bytea_escape(const char *s, size_t n, rt_buf_t *raw)
{
    for (size_t i = 0; i < n;) {
        uint8_t b = (uint8_t)s[i];
        if (b != '\\') {
            i++;
        } else if (i + 1 < n && s[i + 1] == '\\') {
            i += 2;
        } else if (i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                   s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            b = (uint8_t)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
            i += 4;
        } else {
            return RT_EINVAL;
        }
        rt_buf_append(raw, &b, 1);
    }
    return 0;
}

static json_t *bytea_json(const char *s, size_t n)
{
    rt_buf_t raw, out;
    rt_buf_init(&raw);
    rt_buf_init(&out);
    int hex = n >= 2 && s[0] == '\\' && s[1] == 'x';
    int rc = hex ? bytea_hex(s, n, &raw) : bytea_escape(s, n, &raw);
    json_t *j = NULL;
    if (rc == 0) {
        rt_cdc_base64_append(&out, (const uint8_t *)raw.data, raw.len);
        j = json_stringn_nocheck(out.data ? out.data : "", out.len);
    }
    rt_buf_close(&raw);
    rt_buf_close(&out);
    return j;
}

/* ========================================================= date & time */

/* The fields of a date/time text in DateStyle ISO. */
typedef struct {
    int64_t year; /* astronomical: 1 BC is 0 */
    int month, day;
    int hour, min, sec;
    const char *frac; /* digits after '.', or NULL */
    size_t fraclen;
    int has_off;
    int off_sec; /* east of UTC */
} dt_t;

/* A cursor over the text being parsed. */
typedef struct {
    const char *s;
    size_t n;
    size_t i;
} cur_t;

/* Exactly want digits (want > 0), or at least 4 and at most 7 (want == 0). */
static int digits(cur_t *c, int want, int64_t *out)
{
    size_t start = c->i;
    int64_t v = 0;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9' && c->i - start < 7) {
        v = v * 10 + (c->s[c->i] - '0');
        c->i++;
    }
    size_t got = c->i - start;
    if (want ? got != (size_t)want : got < 4)
        return RT_EINVAL;
    *out = v;
    return 0;
}

static int lit(cur_t *c, char ch)
{
    if (c->i >= c->n || c->s[c->i] != ch)
        return RT_EINVAL;
    c->i++;
    return 0;
}

static int two(cur_t *c, int *out, int max)
{
    int64_t v;
    if (digits(c, 2, &v) < 0 || v > max)
        return RT_EINVAL;
    *out = (int)v;
    return 0;
}

/* YYYY-MM-DD (the year has 4 or more digits). */
static int parse_date(cur_t *c, dt_t *t)
{
    if (digits(c, 0, &t->year) < 0 || lit(c, '-') < 0 || two(c, &t->month, 12) < 0 ||
        lit(c, '-') < 0 || two(c, &t->day, 31) < 0 || t->month == 0 || t->day == 0)
        return RT_EINVAL;
    return 0;
}

/* HH:MM:SS[.ffffff] */
static int parse_time(cur_t *c, dt_t *t)
{
    if (two(c, &t->hour, 24) < 0 || lit(c, ':') < 0 || two(c, &t->min, 59) < 0 || lit(c, ':') < 0 ||
        two(c, &t->sec, 60) < 0)
        return RT_EINVAL;
    if (c->i < c->n && c->s[c->i] == '.') {
        c->i++;
        t->frac = c->s + c->i;
        while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9')
            c->i++;
        t->fraclen = (size_t)(c->s + c->i - t->frac);
        if (t->fraclen == 0 || t->fraclen > 6)
            return RT_EINVAL;
    }
    return 0;
}

/* +HH[:MM[:SS]] or -HH[:MM[:SS]] */
static int parse_offset(cur_t *c, dt_t *t)
{
    if (c->i >= c->n || (c->s[c->i] != '+' && c->s[c->i] != '-'))
        return RT_EINVAL;
    int neg = c->s[c->i++] == '-';
    int h, m = 0, s = 0;
    if (two(c, &h, 15) < 0)
        return RT_EINVAL;
    if (lit(c, ':') == 0 && two(c, &m, 59) < 0)
        return RT_EINVAL;
    if (lit(c, ':') == 0 && two(c, &s, 59) < 0)
        return RT_EINVAL;
    t->has_off = 1;
    t->off_sec = (neg ? -1 : 1) * (h * 3600 + m * 60 + s);
    return 0;
}

/* An optional " BC" at the end: the year becomes astronomical. */
static int parse_era(cur_t *c, dt_t *t)
{
    if (c->n - c->i == 3 && memcmp(c->s + c->i, " BC", 3) == 0) {
        c->i += 3;
        t->year = 1 - t->year;
    }
    return c->i == c->n ? 0 : RT_EINVAL;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, dt_t *t)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    t->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    t->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    t->year = yoe + era * 400 + (t->month <= 2);
}

/* Moves a timestamp with offset to UTC. */
static void to_utc(dt_t *t)
{
    int64_t secs = days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 +
                   t->min * 60 + t->sec - t->off_sec;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, t);
    t->hour = (int)(rem / 3600);
    t->min = (int)(rem / 60 % 60);
    t->sec = (int)(rem % 60);
    t->off_sec = 0;
}

/* ISO-8601 year: 4 digits within 0..9999, else signed 6 digits (the
 * ECMAScript expanded form); 1 BC is 0000, 2 BC is -000001. */
static void fmt_year(rt_buf_t *b, int64_t y)
{
    if (y >= 0 && y <= 9999)
        rt_buf_appendf(b, "%04d", (int)y);
    else
        rt_buf_appendf(b, "%c%06lld", y < 0 ? '-' : '+', (long long)(y < 0 ? -y : y));
}

static void fmt_date(rt_buf_t *b, const dt_t *t)
{
    fmt_year(b, t->year);
    rt_buf_appendf(b, "-%02d-%02d", t->month, t->day);
}

static void fmt_time(rt_buf_t *b, const dt_t *t)
{
    rt_buf_appendf(b, "%02d:%02d:%02d", t->hour, t->min, t->sec);
    if (t->frac) {
        rt_buf_append(b, ".", 1);
        rt_buf_append(b, t->frac, t->fraclen);
    }
}

/* "Z", or the offset as +HH:MM[:SS]. */
static void fmt_offset(rt_buf_t *b, int off)
{
    if (off == 0) {
        rt_buf_append(b, "Z", 1);
        return;
    }
    int a = off < 0 ? -off : off;
    rt_buf_appendf(b, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
    if (a % 60)
        rt_buf_appendf(b, ":%02d", a % 60);
}

/* Parses one date/time value of the given type oid into t. */
static int parse_datetime(uint32_t oid, const char *s, size_t n, dt_t *t)
{
    cur_t c = {s, n, 0};
    memset(t, 0, sizeof(*t));
    switch (oid) {
    case RT_CDC_OID_DATE:
        return parse_date(&c, t) < 0 ? RT_EINVAL : parse_era(&c, t);
    case RT_CDC_OID_TIME:
        return parse_time(&c, t) < 0 || c.i != n ? RT_EINVAL : 0;
    case RT_CDC_OID_TIMETZ:
        return parse_time(&c, t) < 0 || parse_offset(&c, t) < 0 || c.i != n ? RT_EINVAL : 0;
    case RT_CDC_OID_TIMESTAMP:
        if (parse_date(&c, t) < 0 || lit(&c, ' ') < 0 || parse_time(&c, t) < 0)
            return RT_EINVAL;
        return parse_era(&c, t);
    default: /* RT_CDC_OID_TIMESTAMPTZ */
        if (parse_date(&c, t) < 0 || lit(&c, ' ') < 0 || parse_time(&c, t) < 0 ||
            parse_offset(&c, t) < 0)
            return RT_EINVAL;
        return parse_era(&c, t);
    }
}

/* date, time, timetz, timestamp, timestamptz as ISO-8601; timestamptz in
 * UTC with 'Z'. "infinity" and anything unparsed stay as they are. */
static json_t *datetime_json(uint32_t oid, const char *s, size_t n)
{
    dt_t t;
    if (parse_datetime(oid, s, n, &t) < 0)
        return NULL;
    if (oid == RT_CDC_OID_TIMESTAMPTZ)
        to_utc(&t);
    rt_buf_t b;
    rt_buf_init(&b);
    if (oid != RT_CDC_OID_TIME && oid != RT_CDC_OID_TIMETZ)
        fmt_date(&b, &t);
    if (oid == RT_CDC_OID_TIMESTAMP || oid == RT_CDC_OID_TIMESTAMPTZ)
        rt_buf_append(&b, "T", 1);
    if (oid != RT_CDC_OID_DATE)
        fmt_time(&b, &t);
    if (t.has_off)
        fmt_offset(&b, t.off_sec);
    json_t *j = json_stringn_nocheck(b.data, b.len);
    rt_buf_close(&b);
    return j;
}

/* ============================================================== arrays */

static json_t *array_json(uint32_t elem, const char *s, size_t n);

/* Skips the whitespace array_in allows around elements. */
static void skip_ws(cur_t *c)
{
    while (c->i < c->n &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

/* A double-quoted element: backslash escapes any byte. */
static int quoted_elem(cur_t *c, rt_buf_t *b)
{
    c->i++; /* the opening quote */
    while (c->i < c->n && c->s[c->i] != '"') {
        if (c->s[c->i] == '\\' && ++c->i >= c->n)
            return RT_EINVAL;
        rt_buf_append(b, c->s + c->i, 1);
        c->i++;
    }
    return lit(c, '"');
}

/* An unquoted element up to ',' or '}', trailing whitespace dropped. Sets
 * *is_null for the bare word NULL (any case). */
static int bare_elem(cur_t *c, rt_buf_t *b, int *is_null)
{
    size_t keep = 0;
    int escaped = 0;
    while (c->i < c->n && c->s[c->i] != ',' && c->s[c->i] != '}') {
        char ch = c->s[c->i];
        if (ch == '{' || ch == '"')
            return RT_EINVAL;
        if (ch == '\\') {
            if (++c->i >= c->n)
                return RT_EINVAL;
            escaped = 1;
            ch = c->s[c->i];
            rt_buf_append(b, &ch, 1);
            keep = b->len;
        } else {
            rt_buf_append(b, &ch, 1);
            if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
                keep = b->len;
        }
        c->i++;
    }
    b->len = keep;
    if (b->data)
        b->data[keep] = '\0';
    if (keep == 0)
        return RT_EINVAL;
    *is_null = !escaped && keep == 4 && strncasecmp(b->data, "NULL", 4) == 0;
    return 0;
}

static int parse_level(cur_t *c, uint32_t elem, int depth, json_t *arr);

/* One element of a level: a nested level, a quoted or a bare value. */
static int parse_elem(cur_t *c, uint32_t elem, int depth, json_t *arr)
{
    if (c->s[c->i] == '{') {
        json_t *sub = json_array();
        json_array_append_new(arr, sub);
        return parse_level(c, elem, depth + 1, sub);
    }
    rt_buf_t b;
    rt_buf_init(&b);
    int is_null = 0;
    int rc = c->s[c->i] == '"' ? quoted_elem(c, &b) : bare_elem(c, &b, &is_null);
    if (rc == 0)
        json_array_append_new(arr,
                              is_null ? json_null()
                                      : rt_cdc_pg_value_to_json(elem, b.data ? b.data : "", b.len));
    rt_buf_close(&b);
    return rc;
}

/* "{" elem {"," elem} "}" or "{}", nested at most RT_CDC_ARRAY_MAX_DEPTH. */
static int parse_level(cur_t *c, uint32_t elem, int depth, json_t *arr)
{
    if (depth > RT_CDC_ARRAY_MAX_DEPTH || lit(c, '{') < 0)
        return RT_EINVAL;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == '}') {
        c->i++;
        return 0;
    }
    for (;;) {
        skip_ws(c);
        if (c->i >= c->n || parse_elem(c, elem, depth, arr) < 0)
            return RT_EINVAL;
        skip_ws(c);
        if (c->i < c->n && c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        return lit(c, '}');
    }
}

/* An optionally signed integer of 1 to 10 digits. */
static int bound(cur_t *c)
{
    if (c->i < c->n && c->s[c->i] == '-')
        c->i++;
    size_t start = c->i;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9' && c->i - start < 10)
        c->i++;
    return c->i > start ? 0 : RT_EINVAL;
}

/* The dimensions array_out writes when a lower bound is not 1: "[lo:hi]..=". */
static int skip_dims(cur_t *c)
{
    if (c->n == 0 || c->s[0] != '[')
        return 0;
    while (c->i < c->n && c->s[c->i] == '[') {
        c->i++;
        if (bound(c) < 0 || lit(c, ':') < 0 || bound(c) < 0 || lit(c, ']') < 0)
            return RT_EINVAL;
    }
    return lit(c, '=');
}

/* An array's text: optional dimensions, then nested braces. */
static json_t *array_json(uint32_t elem, const char *s, size_t n)
{
    cur_t c = {s, n, 0};
    if (skip_dims(&c) < 0)
        return NULL;
    json_t *arr = json_array();
    if (parse_level(&c, elem, 1, arr) < 0 || c.i != n) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ============================================================ dispatch */

static json_t *typed_json(uint32_t oid, const char *s, size_t n)
{
    switch (oid) {
    case RT_CDC_OID_INT2:
    case RT_CDC_OID_INT4:
    case RT_CDC_OID_OID:
        return int_json(s, n, 0);
    case RT_CDC_OID_INT8:
        return int_json(s, n, 1);
    case RT_CDC_OID_FLOAT4:
    case RT_CDC_OID_FLOAT8:
        return float_json(s, n);
    case RT_CDC_OID_BOOL:
        return bool_json(s, n);
    case RT_CDC_OID_JSON:
    case RT_CDC_OID_JSONB:
        return json_json(s, n);
    case RT_CDC_OID_BYTEA:
        return bytea_json(s, n);
    case RT_CDC_OID_DATE:
    case RT_CDC_OID_TIME:
    case RT_CDC_OID_TIMETZ:
    case RT_CDC_OID_TIMESTAMP:
    case RT_CDC_OID_TIMESTAMPTZ:
        return datetime_json(oid, s, n);
    default: {
        uint32_t elem = array_elem(oid);
        return elem ? array_json(elem, s, n) : NULL;
    }
    }
}

json_t *rt_cdc_pg_value_to_json(uint32_t type_oid, const char *text, size_t len)
{
    json_t *j = typed_json(type_oid, text, len);
    return j ? j : string_json(text, len);
}

/* A value sent in binary (never asked for by the reader): base64. */
static json_t *binary_json(const char *p, size_t n)
{
    rt_buf_t b;
    rt_buf_init(&b);
    rt_cdc_base64_append(&b, (const uint8_t *)p, n);
    json_t *j = json_stringn_nocheck(b.data ? b.data : "", b.len);
    rt_buf_close(&b);
    return j;
}

json_t *rt_cdc_pg_row_to_json(const rt_cdc_decoder_t *d, const rt_cdc_relation_t *rel,
                              const rt_cdc_tuple_t *t, json_t **unchanged)
{
    rt_assert(t->ncols == rel->ncols);
    json_t *row = json_object();
    json_t *skipped = json_array();
    for (uint16_t i = 0; i < t->ncols; i++) {
        const rt_cdc_column_t *col = &rel->cols[i];
        const rt_cdc_datum_t *v = &t->cols[i];
        json_t *val;
        if (t->kind == 'K' && !(col->flags & RT_CDC_COL_KEY))
            continue; /* an old key tuple carries nulls for the other columns */
        if (v->kind == 'u') {
            json_array_append_new(skipped, json_string_nocheck(col->name));
            continue;
        }
        if (v->kind == 'n')
            val = json_null();
        else if (v->kind == 'b')
            val = binary_json(v->data, v->len);
        else
            val = rt_cdc_pg_value_to_json(
                d ? rt_cdc_decoder_type_resolve(d, col->type_oid) : col->type_oid, v->data, v->len);
        json_object_set_new_nocheck(row, col->name, val);
    }
    if (unchanged)
        *unchanged = skipped;
    else
        json_decref(skipped);
    return row;
}

void rt_cdc_row_fill_unchanged(json_t *new_row, const json_t *old_row, json_t *unchanged)
{
    if (!json_is_object(old_row))
        return;
    size_t i = 0;
    while (i < json_array_size(unchanged)) {
        const char *name = json_string_value(json_array_get(unchanged, i));
        json_t *v = name ? json_object_get(old_row, name) : NULL;
        if (!v) {
            i++;
            continue;
        }
        json_object_set_nocheck(new_row, name, v);
        json_array_remove(unchanged, i);
    }
}
