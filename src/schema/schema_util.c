/*
 * This file implements the small pieces the schema compiler stands on: the
 * arena that owns a compiled graph, a pointer-keyed hash map, RFC 3986
 * reference resolution for $id/$ref, JSON pointers (RFC 6901) inside URI
 * fragments, and the table of built-in dialect and metaschema URIs.
 */
#include "schema/schema_internal.h"

#include <stdio.h>
#include <string.h>

/* ================================================================ arena */

#define ARENA_CHUNK_BYTES 8192

struct sc_chunk_s {
    struct sc_chunk_s *next;
    size_t used, cap;
    max_align_t data[];
};

void *rt_schema_arena_alloc(sc_arena_t *a, size_t n)
{
    size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    struct sc_chunk_s *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK_BYTES ? n : ARENA_CHUNK_BYTES;
        c = rt_malloc(sizeof(*c) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *rt_schema_arena_strndup(sc_arena_t *a, const char *s, size_t n)
{
    char *p = rt_schema_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void rt_schema_arena_free(sc_arena_t *a)
{
    struct sc_chunk_s *c = a->head;
    while (c) {
        struct sc_chunk_s *next = c->next;
        rt_free(c);
        c = next;
    }
    a->head = NULL;
}

/* ========================================================== pointer map */

struct sc_ptrslot_s {
    const void *key; /* NULL = empty */
    void *value;
};

static size_t ptr_hash(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (size_t)h;
}

void *rt_schema_ptrmap_get(const sc_ptrmap_t *m, const void *key)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = ptr_hash(key) & mask;; i = (i + 1) & mask) {
        if (m->slots[i].key == key)
            return m->slots[i].value;
        if (m->slots[i].key == NULL)
            return NULL;
    }
}

static void ptrmap_grow(sc_ptrmap_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct sc_ptrslot_s *slots = rt_calloc(cap, sizeof(*slots));
    for (size_t k = 0; k < m->cap; k++) {
        if (m->slots[k].key == NULL)
            continue;
        size_t i = ptr_hash(m->slots[k].key) & (cap - 1);
        while (slots[i].key)
            i = (i + 1) & (cap - 1);
        slots[i] = m->slots[k];
    }
    rt_free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

void rt_schema_ptrmap_put(sc_ptrmap_t *m, const void *key, void *value)
{
    rt_assert(key != NULL);
    if ((m->len + 1) * 2 > m->cap)
        ptrmap_grow(m);
    size_t mask = m->cap - 1;
    size_t i = ptr_hash(key) & mask;
    while (m->slots[i].key && m->slots[i].key != key)
        i = (i + 1) & mask;
    if (m->slots[i].key == NULL)
        m->len++;
    m->slots[i].key = key;
    m->slots[i].value = value;
}

void rt_schema_ptrmap_close(sc_ptrmap_t *m)
{
    rt_free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* ================================================================ URIs */

/* One component of a URI reference; has distinguishes empty from absent. */
typedef struct part_s {
    const char *s;
    size_t n;
    int has;
} part_t;

typedef struct uri_s {
    part_t scheme, auth, path, query, frag;
} uri_t;

static int scheme_char(char c, int first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return !first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
}

/* Splits a URI reference into its five components (RFC 3986 §3, Appendix B). */
static void uri_parse(const char *s, uri_t *u)
{
    memset(u, 0, sizeof(*u));
    size_t i = 0;
    while (s[i] && scheme_char(s[i], i == 0))
        i++;
    if (i > 0 && s[i] == ':') {
        u->scheme = (part_t){s, i, 1};
        s += i + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        s += 2;
        size_t n = strcspn(s, "/?#");
        u->auth = (part_t){s, n, 1};
        s += n;
    }
    size_t n = strcspn(s, "?#");
    u->path = (part_t){s, n, 1};
    s += n;
    if (*s == '?') {
        s++;
        n = strcspn(s, "#");
        u->query = (part_t){s, n, 1};
        s += n;
    }
    if (*s == '#')
        u->frag = (part_t){s + 1, strlen(s + 1), 1};
}

/* RFC 3986 §5.2.4: removes "." and ".." segments from in (n bytes) into out. */
static void remove_dots(const char *in, size_t n, rt_buf_t *out)
{
    size_t start = out->len;
    size_t i = 0;
    while (i < n) {
        const char *p = in + i;
        size_t left = n - i;
        if (left >= 3 && memcmp(p, "../", 3) == 0) {
            i += 3;
        } else if (left >= 2 && memcmp(p, "./", 2) == 0) {
            i += 2;
        } else if (left >= 3 && memcmp(p, "/./", 3) == 0) {
            i += 2;
        } else if (left == 2 && memcmp(p, "/.", 2) == 0) {
            rt_buf_append(out, "/", 1);
            i += 2;
        } else if ((left >= 4 && memcmp(p, "/../", 4) == 0) ||
                   (left == 3 && memcmp(p, "/..", 3) == 0)) {
            i += 3;
            while (out->len > start && out->data[out->len - 1] != '/')
                out->len--;
            if (out->len > start)
                out->len--;
            if (left == 3)
                rt_buf_append(out, "/", 1);
        } else if ((left == 1 && p[0] == '.') || (left == 2 && memcmp(p, "..", 2) == 0)) {
            i = n;
        } else {
            size_t k = 1;
            while (k < left && p[k] != '/')
                k++;
            rt_buf_append(out, p, k);
            i += k;
        }
    }
    rt_buf_reserve(out, 1);
    out->data[out->len] = '\0';
}

static void append_part(rt_buf_t *b, const char *pre, const part_t *p)
{
    if (!p->has)
        return;
    rt_buf_append_str(b, pre);
    rt_buf_append(b, p->s, p->n);
}

void rt_schema_uri_resolve(const char *base, const char *ref, rt_buf_t *out)
{
    uri_t b, r;
    uri_parse(base, &b);
    uri_parse(ref, &r);
    out->len = 0;
    rt_buf_reserve(out, strlen(base) + strlen(ref) + 8);
    out->data[0] = '\0';
    const part_t *scheme = r.scheme.has ? &r.scheme : &b.scheme;
    const part_t *auth = r.scheme.has || r.auth.has ? &r.auth : &b.auth;
    if (scheme->has) {
        rt_buf_append(out, scheme->s, scheme->n);
        rt_buf_append(out, ":", 1);
    }
    append_part(out, "//", auth);
    const part_t *query = &r.query;
    if (r.scheme.has || r.auth.has || (r.path.n > 0 && r.path.s[0] == '/')) {
        remove_dots(r.path.s, r.path.n, out);
    } else if (r.path.n == 0) {
        rt_buf_append(out, b.path.s, b.path.n);
        if (!r.query.has)
            query = &b.query;
    } else {
        /* RFC 3986 §5.2.3 merge */
        rt_buf_t m;
        rt_buf_init(&m);
        if (b.auth.has && b.path.n == 0) {
            rt_buf_append(&m, "/", 1);
        } else {
            size_t k = b.path.n;
            while (k > 0 && b.path.s[k - 1] != '/')
                k--;
            rt_buf_append(&m, b.path.s, k);
        }
        rt_buf_append(&m, r.path.s, r.path.n);
        remove_dots(m.data, m.len, out);
        rt_buf_close(&m);
    }
    append_part(out, "?", query);
    append_part(out, "#", &r.frag);
    rt_buf_reserve(out, 1);
    out->data[out->len] = '\0';
}

size_t rt_schema_uri_nofrag_len(const char *uri)
{
    return strcspn(uri, "#");
}

/* ======================================================= JSON pointers */

size_t rt_schema_ptr_escape(char *out, const char *tok, size_t n)
{
    char *o = out;
    *o++ = '/';
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '~' || tok[i] == '/') {
            *o++ = '~';
            *o++ = tok[i] == '~' ? '0' : '1';
        } else {
            *o++ = tok[i];
        }
    }
    return (size_t)(o - out);
}

const char *rt_schema_ptr_index(char digits[RT_SCHEMA_INDEX_BYTES], size_t i)
{
    size_t n = RT_SCHEMA_INDEX_BYTES;
    do {
        digits[--n] = (char)('0' + i % 10);
        i /= 10;
    } while (i > 0);
    digits[--n] = '/';
    return digits + n;
}

void rt_schema_ptr_push(rt_buf_t *b, const char *tok, size_t n)
{
    rt_buf_reserve(b, 2 * n + 1);
    b->len += rt_schema_ptr_escape(b->data + b->len, tok, n);
    b->data[b->len] = '\0';
}

void rt_schema_ptr_push_index(rt_buf_t *b, size_t i)
{
    char digits[RT_SCHEMA_INDEX_BYTES];
    const char *p = rt_schema_ptr_index(digits, i);
    rt_buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s (n bytes) into out; returns RT_EINVAL on a bad escape. */
static int pct_decode(const char *s, size_t n, rt_buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return RT_EINVAL;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return RT_EINVAL;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        rt_buf_append(out, &c, 1);
    }
    return 0;
}

/* Unescapes one pointer token (RFC 6901 §4) in place; returns its length or
 * (size_t)-1 on a bad escape. */
static size_t ptr_unescape(char *tok, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] != '~') {
            tok[w++] = tok[i];
            continue;
        }
        if (i + 1 >= n || (tok[i + 1] != '0' && tok[i + 1] != '1'))
            return (size_t)-1;
        tok[w++] = tok[i + 1] == '0' ? '~' : '/';
        i++;
    }
    return w;
}

static const json_t *ptr_step(const json_t *cur, const char *tok, size_t n)
{
    if (json_is_object(cur))
        return json_object_getn(cur, tok, n);
    if (!json_is_array(cur) || n == 0 || n > 18 || (n > 1 && tok[0] == '0'))
        return NULL;
    size_t idx = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return NULL;
        idx = idx * 10 + (size_t)(tok[i] - '0');
    }
    return json_array_get(cur, idx);
}

const json_t *rt_schema_ptr_resolve(const json_t *doc, const char *frag, size_t len,
                                    int (*is_known)(void *ctx, const json_t *v), void *ctx,
                                    const json_t **last_known)
{
    rt_buf_t dec;
    rt_buf_init(&dec);
    const json_t *cur = doc;
    const json_t *known = doc;
    if (pct_decode(frag, len, &dec) < 0 || (dec.len > 0 && dec.data[0] != '/')) {
        cur = NULL;
        goto out;
    }
    size_t i = 0;
    while (cur && i < dec.len) {
        size_t start = ++i;
        while (i < dec.len && dec.data[i] != '/')
            i++;
        size_t n = ptr_unescape(dec.data + start, i - start);
        if (n == (size_t)-1) {
            cur = NULL;
            break;
        }
        cur = ptr_step(cur, dec.data + start, n);
        if (cur && is_known && is_known(ctx, cur))
            known = cur;
    }
out:
    rt_buf_close(&dec);
    if (cur && last_known)
        *last_known = known;
    return cur;
}

/* ===================================================== dialect table */

/* Compares uri with want ignoring an http/https difference and a trailing
 * empty fragment. */
static int uri_is(const char *uri, const char *want)
{
    if (strncmp(uri, "https://", 8) == 0)
        uri += 8;
    else if (strncmp(uri, "http://", 7) == 0)
        uri += 7;
    else
        return 0;
    size_t n = strlen(uri);
    if (n > 0 && uri[n - 1] == '#')
        n--;
    return strlen(want) == n && memcmp(uri, want, n) == 0;
}

int rt_schema_dialect_known(const char *uri, sc_dialect_t *out)
{
    if (uri_is(uri, "json-schema.org/draft/2020-12/schema")) {
        *out = (sc_dialect_t){SC_DRAFT2020, SC_VOC_DEFAULT};
        return 1;
    }
    if (uri_is(uri, "json-schema.org/draft-07/schema")) {
        *out = (sc_dialect_t){SC_DRAFT07, SC_VOC_DEFAULT};
        return 1;
    }
    return 0;
}

static const struct {
    const char *name;
    unsigned vocab;
} vocab_metas[] = {
    {"core", SC_VOC_CORE},
    {"applicator", SC_VOC_APPLICATOR},
    {"unevaluated", SC_VOC_UNEVALUATED},
    {"validation", SC_VOC_VALIDATION},
    {"meta-data", SC_VOC_METADATA},
    {"format-annotation", SC_VOC_FORMAT_ANNOTATION},
    {"format-assertion", SC_VOC_FORMAT_ASSERTION},
    {"content", SC_VOC_CONTENT},
};

int rt_schema_metaschema_builtin(const char *uri, sc_dialect_t *out)
{
    if (rt_schema_dialect_known(uri, out))
        return 1;
    char want[96];
    for (size_t i = 0; i < RT_ARRAY_LEN(vocab_metas); i++) {
        snprintf(want, sizeof(want), "json-schema.org/draft/2020-12/meta/%s", vocab_metas[i].name);
        if (uri_is(uri, want)) {
            *out = (sc_dialect_t){SC_DRAFT2020, vocab_metas[i].vocab};
            return 1;
        }
    }
    return 0;
}
