/*
 * This file implements JSON values as JSON Schema compares them: exact
 * comparison of numbers whether jansson holds them as int64 or double,
 * `multipleOf` on the decimals the user wrote (so 0.0075 is a multiple of
 * 0.0001, which binary floating point denies), structural equality where 1
 * equals 1.0 (validation spec §6.1.3 `const`, §6.4.3 `uniqueItems`), a hash
 * consistent with that equality, and string length in code points (§6.3.1).
 */
#include "schema/schema_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================= numbers */

int rt_schema_num_get(const json_t *j, sc_num_t *out)
{
    if (json_is_integer(j)) {
        *out = (sc_num_t){1, json_integer_value(j), 0};
        return 1;
    }
    if (json_is_real(j)) {
        *out = (sc_num_t){0, 0, json_real_value(j)};
        return 1;
    }
    return 0;
}

/* Compares an int64 with a double exactly. */
static int cmp_int_real(int64_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    double t = trunc(d);
    int64_t ti = (int64_t)t;
    if (i != ti)
        return i < ti ? -1 : 1;
    if (d > t)
        return -1;
    return d < t ? 1 : 0;
}

int rt_schema_num_cmp(const sc_num_t *a, const sc_num_t *b)
{
    if (a->is_int && b->is_int)
        return a->i < b->i ? -1 : a->i > b->i;
    if (a->is_int)
        return cmp_int_real(a->i, b->d);
    if (b->is_int)
        return -cmp_int_real(b->i, a->d);
    return a->d < b->d ? -1 : a->d > b->d;
}

int rt_schema_num_is_integer(const json_t *j)
{
    if (json_is_integer(j))
        return 1;
    if (!json_is_real(j))
        return 0;
    double d = json_real_value(j);
    return isfinite(d) && d == floor(d);
}

static void dec_strip(sc_dec_t *d)
{
    if (d->mant == 0) {
        d->exp = 0;
        return;
    }
    while (d->mant % 10 == 0) {
        d->mant /= 10;
        d->exp++;
    }
}

/* Parses the output of "%.*e" ("d.ddde±X") into a decimal. */
static void dec_parse(const char *s, sc_dec_t *out)
{
    uint64_t mant = 0;
    int digits_after_point = 0, seen_point = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s == '.') {
            seen_point = 1;
            continue;
        }
        if (*s < '0' || *s > '9')
            continue;
        mant = mant * 10 + (uint64_t)(*s - '0');
        digits_after_point += seen_point;
    }
    int e = *s == 'e' ? (int)strtol(s + 1, NULL, 10) : 0;
    *out = (sc_dec_t){mant, e - digits_after_point};
}

void rt_schema_num_decimal(const sc_num_t *n, sc_dec_t *out)
{
    if (n->is_int) {
        uint64_t m = n->i < 0 ? (uint64_t)(-(n->i + 1)) + 1 : (uint64_t)n->i;
        *out = (sc_dec_t){m, 0};
        dec_strip(out);
        return;
    }
    char buf[40];
    double d = fabs(n->d);
    for (int prec = 14; prec <= 16; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    dec_parse(buf, out);
    dec_strip(out);
}

int rt_schema_num_multiple_of(const sc_num_t *x, const sc_num_t *m, const sc_dec_t *mdec)
{
    if (x->is_int && m->is_int)
        return m->i != 0 && x->i % m->i == 0;
    sc_dec_t xd;
    rt_schema_num_decimal(x, &xd);
    if (xd.mant == 0)
        return 1;
    if (mdec->mant == 0)
        return 0;
    if (xd.exp >= mdec->exp) {
        /* mdec.mant < 10^17 < 2^57, so r * 10 never overflows. */
        uint64_t r = xd.mant % mdec->mant;
        for (int k = xd.exp - mdec->exp; k > 0 && r != 0; k--)
            r = (r * 10) % mdec->mant;
        return r == 0;
    }
    uint64_t q = mdec->mant;
    for (int k = mdec->exp - xd.exp; k > 0; k--) {
        if (q > xd.mant / 10)
            return 0;
        q *= 10;
    }
    return xd.mant % q == 0;
}

void rt_schema_num_text(const sc_num_t *n, char out[32])
{
    if (n->is_int) {
        snprintf(out, 32, "%" JSON_INTEGER_FORMAT, (json_int_t)n->i);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, n->d);
        if (strtod(out, NULL) == n->d)
            break;
    }
}

/* ============================================================ equality */

int rt_schema_json_equal(const json_t *a, const json_t *b)
{
    sc_num_t na, nb;
    if (rt_schema_num_get(a, &na))
        return rt_schema_num_get(b, &nb) && rt_schema_num_cmp(&na, &nb) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return 0;
        for (size_t i = 0; i < n; i++) {
            if (!rt_schema_json_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        }
        return 1;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)a, k, klen, v)
        {
            const json_t *w = json_object_getn(b, k, klen);
            if (w == NULL || !rt_schema_json_equal(v, w))
                return 0;
        }
        return 1;
    }
    default:
        return 1; /* true, false, null: equal type is equal value */
    }
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 31;
    h *= 0x7fb5d329728ea185ull;
    h ^= h >> 27;
    return h;
}

#define FNV_BASIS 1469598103934665603ull

static uint64_t hash_num(sc_num_t n)
{
    if (!n.is_int && n.d == floor(n.d) && n.d >= -9223372036854775808.0 &&
        n.d < 9223372036854775808.0)
        n = (sc_num_t){1, (int64_t)n.d, 0};
    if (n.is_int)
        return mix((uint64_t)n.i ^ 0x1234);
    double d = n.d;
    return fnv(FNV_BASIS, &d, sizeof(d));
}

uint64_t rt_schema_json_hash(const json_t *a)
{
    switch (json_typeof(a)) {
    case JSON_INTEGER:
    case JSON_REAL: {
        sc_num_t n;
        rt_schema_num_get(a, &n);
        return hash_num(n);
    }
    case JSON_STRING:
        return fnv(FNV_BASIS, json_string_value(a), json_string_length(a));
    case JSON_ARRAY: {
        uint64_t h = 0xa44a;
        for (size_t i = 0; i < json_array_size(a); i++)
            h = mix(h * 31 + rt_schema_json_hash(json_array_get(a, i)));
        return h;
    }
    case JSON_OBJECT: {
        uint64_t h = 0x0b1ec7;
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)a, k, klen, v)
        {
            h ^= mix(fnv(FNV_BASIS, k, klen) + 7 * rt_schema_json_hash(v));
        }
        return h;
    }
    default:
        return (uint64_t)json_typeof(a) * 0x9e3779b97f4a7c15ull;
    }
}

typedef struct hidx_s {
    uint64_t h;
    size_t i;
} hidx_t;

static int hidx_cmp(const void *pa, const void *pb)
{
    const hidx_t *a = pa, *b = pb;
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

#define DUP_PAIRWISE_MAX 16

int rt_schema_json_dup(const json_t *a, size_t *pi, size_t *pj)
{
    size_t n = json_array_size(a);
    if (n <= DUP_PAIRWISE_MAX) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                if (rt_schema_json_equal(json_array_get(a, i), json_array_get(a, j))) {
                    *pi = i;
                    *pj = j;
                    return 1;
                }
            }
        }
        return 0;
    }
    hidx_t *v = rt_malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = (hidx_t){rt_schema_json_hash(json_array_get(a, i)), i};
    qsort(v, n, sizeof(*v), hidx_cmp);
    int found = 0;
    for (size_t s = 0; s < n && !found; s++) {
        for (size_t t = s + 1; t < n && v[t].h == v[s].h && !found; t++) {
            if (rt_schema_json_equal(json_array_get(a, v[s].i), json_array_get(a, v[t].i))) {
                *pi = v[s].i;
                *pj = v[t].i;
                found = 1;
            }
        }
    }
    rt_free(v);
    return found;
}

/* ================================================== document values */

int rt_schema_val_num(const sc_val_t *v, sc_num_t *out)
{
    if (v->type == SC_V_INT) {
        *out = (sc_num_t){1, v->u.i, 0};
        return 1;
    }
    if (v->type == SC_V_REAL) {
        *out = (sc_num_t){0, 0, v->u.d};
        return 1;
    }
    return 0;
}

int rt_schema_val_is_integer(const sc_val_t *v)
{
    return v->type == SC_V_INT || (v->type == SC_V_REAL && v->u.d == floor(v->u.d));
}

int rt_schema_val_equal(const sc_val_t *a, const sc_val_t *b)
{
    sc_num_t na, nb;
    if (rt_schema_val_num(a, &na))
        return rt_schema_val_num(b, &nb) && rt_schema_num_cmp(&na, &nb) == 0;
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SC_V_STRING:
        return a->n == b->n && memcmp(a->u.s, b->u.s, a->n) == 0;
    case SC_V_ARRAY:
        if (a->n != b->n)
            return 0;
        for (size_t i = 0; i < a->n; i++) {
            if (!rt_schema_val_equal(&a->u.items[i], &b->u.items[i]))
                return 0;
        }
        return 1;
    case SC_V_OBJECT:
        if (a->n != b->n)
            return 0;
        for (size_t i = 0; i < a->n; i++) {
            const sc_member_t *m = &a->u.members[i];
            const sc_val_t *w = rt_schema_val_get(b, m->key, m->klen);
            if (w == NULL || !rt_schema_val_equal(&m->val, w))
                return 0;
        }
        return 1;
    default:
        return 1; /* true, false, null: equal type is equal value */
    }
}

static uint64_t val_hash(const sc_val_t *a)
{
    sc_num_t n;
    if (rt_schema_val_num(a, &n))
        return hash_num(n);
    switch (a->type) {
    case SC_V_STRING:
        return fnv(FNV_BASIS, a->u.s, a->n);
    case SC_V_ARRAY: {
        uint64_t h = 0xa44a;
        for (size_t i = 0; i < a->n; i++)
            h = mix(h * 31 + val_hash(&a->u.items[i]));
        return h;
    }
    case SC_V_OBJECT: {
        uint64_t h = 0x0b1ec7;
        for (size_t i = 0; i < a->n; i++) {
            const sc_member_t *m = &a->u.members[i];
            h ^= mix(fnv(FNV_BASIS, m->key, m->klen) + 7 * val_hash(&m->val));
        }
        return h;
    }
    default:
        return (uint64_t)(a->type + 1) * 0x9e3779b97f4a7c15ull;
    }
}

int rt_schema_val_dup(const sc_val_t *a, size_t *pi, size_t *pj)
{
    size_t n = a->n;
    const sc_val_t *it = a->u.items;
    if (n <= DUP_PAIRWISE_MAX) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                if (rt_schema_val_equal(&it[i], &it[j])) {
                    *pi = i;
                    *pj = j;
                    return 1;
                }
            }
        }
        return 0;
    }
    hidx_t *v = rt_malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = (hidx_t){val_hash(&it[i]), i};
    qsort(v, n, sizeof(*v), hidx_cmp);
    int found = 0;
    for (size_t s = 0; s < n && !found; s++) {
        for (size_t t = s + 1; t < n && v[t].h == v[s].h && !found; t++) {
            if (rt_schema_val_equal(&it[v[s].i], &it[v[t].i])) {
                *pi = v[s].i;
                *pj = v[t].i;
                found = 1;
            }
        }
    }
    rt_free(v);
    return found;
}

size_t rt_schema_utf8_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += ((unsigned char)s[i] & 0xc0) != 0x80;
    return len;
}
