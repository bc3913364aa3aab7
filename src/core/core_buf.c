/*
 * This file implements the growable buffer, JSON string escaping, UTF-8
 * validation, constant-time comparison and strict integer parsing of core.h.
 */
#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void rt_buf_init(rt_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void rt_buf_close(rt_buf_t *b)
{
    rt_free(b->data);
    rt_buf_init(b);
}

void rt_buf_reserve(rt_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = rt_realloc(b->data, cap);
    b->cap = cap;
}

void rt_buf_append(rt_buf_t *b, const void *p, size_t n)
{
    rt_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void rt_buf_append_str(rt_buf_t *b, const char *s)
{
    rt_buf_append(b, s, strlen(s));
}

void rt_buf_appendf(rt_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    rt_assert(n >= 0);
    rt_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rt_buf_consume(rt_buf_t *b, size_t n)
{
    rt_assert(n <= b->len);
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    if (b->data)
        b->data[b->len] = '\0';
}

void rt_buf_append_json_str(rt_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    rt_buf_reserve(b, n + 2);
    rt_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rt_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            rt_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            rt_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            rt_buf_append(b, "\\n", 2);
            break;
        case '\r':
            rt_buf_append(b, "\\r", 2);
            break;
        case '\t':
            rt_buf_append(b, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rt_buf_append(b, u, 6);
        }
        }
    }
    rt_buf_append(b, s + run, n - run);
    rt_buf_append(b, "\"", 1);
}

char *rt_buf_steal(rt_buf_t *b, size_t *len)
{
    if (b->data == NULL)
        rt_buf_append(b, "", 0);
    char *d = b->data;
    if (len)
        *len = b->len;
    rt_buf_init(b);
    return d;
}

/* RFC 3629 §4: rejects overlong forms, surrogates and code points > U+10FFFF. */
int rt_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return 0;
        }
        if (n - i <= need)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        }
        i += need + 1;
    }
    return 1;
}

int rt_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return 0;
    const unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < alen; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

int rt_parse_i64(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 20)
        return RT_EINVAL;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return RT_EINVAL;
    }
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return RT_EINVAL;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return RT_EINVAL;
        v = v * 10 + d;
    }
    if (!neg && v > (uint64_t)INT64_MAX)
        return RT_EINVAL;
    if (neg && v > (uint64_t)INT64_MAX + 1)
        return RT_EINVAL;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}
