/*
 * This file implements the documents the validator walks (sc_val_t, see
 * schema_internal.h): a strict RFC 8259 parser from raw bytes, a converter
 * from jansson values, and the way back for the rare paths that need jansson.
 *
 * The parser exists because jansson's per-value mallocs and hash tables cost
 * several times the validation itself on the publish path. Here every value
 * is 16 bytes in one bump arena sized from the input (usually one malloc per
 * document, none for small ones when the caller lends a stack block), strings
 * without escapes point into the input, and containers are built on a stack
 * of pending members and copied out contiguous when they close. It accepts
 * exactly what json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) accepts
 * (fuzz/schema_doc.c checks that differentially): RFC 8259 §2-§8 plus
 * jansson's rules - duplicate keys rejected, "\u0000" rejected, lone
 * surrogates rejected (§8.2), integers (no fraction, no exponent) within
 * int64, reals finite, nesting at most RT_SCHEMA_DOC_MAX_DEPTH.
 */
#include "schema/schema_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ arena */

/* Heap chunks: the first is sized from the input, then they double up to
 * DOC_MAX_CHUNK_BYTES. */
#define DOC_MIN_CHUNK_BYTES 16384
#define DOC_MAX_CHUNK_BYTES (16u << 20)
/* Arena bytes reserved per input byte: 2.8 is what a 1,000-item array of
 * small objects takes, so one chunk usually holds the whole document. */
#define DOC_BYTES_PER_INPUT_BYTE 3
/* First heap stack of pending members, entries. */
#define DOC_MIN_STACK 64

struct sc_dchunk_s {
    struct sc_dchunk_s *next;
    max_align_t data[];
};

void rt_schema_doc_init(sc_doc_t *d, void *block, size_t block_bytes, sc_member_t *stack,
                        size_t stack_entries)
{
    uintptr_t a = ((uintptr_t)block + 7) & ~(uintptr_t)7;
    size_t skip = block ? (size_t)(a - (uintptr_t)block) : 0;
    *d = (sc_doc_t){NULL, NULL, NULL, DOC_MIN_CHUNK_BYTES, stack, stack ? stack_entries : 0, stack};
    if (block && block_bytes > skip) {
        d->cur = (char *)a;
        d->end = (char *)block + block_bytes;
    }
}

void rt_schema_doc_close(sc_doc_t *d)
{
    while (d->chunks) {
        struct sc_dchunk_s *next = d->chunks->next;
        rt_free(d->chunks);
        d->chunks = next;
    }
    if (d->stack != d->stack_local)
        rt_free(d->stack);
    d->stack = NULL;
    d->cur = d->end = NULL;
}

static void doc_grow(sc_doc_t *d, size_t n)
{
    size_t size = RT_MAX(d->next_chunk, n + sizeof(struct sc_dchunk_s));
    struct sc_dchunk_s *c = rt_malloc(size);
    c->next = d->chunks;
    d->chunks = c;
    d->cur = (char *)c->data;
    d->end = (char *)c + size;
    d->next_chunk = RT_MIN(size * 2, RT_MAX(size, DOC_MAX_CHUNK_BYTES));
}

/* n bytes aligned to 8, valid until the document is closed. */
static void *doc_alloc(sc_doc_t *d, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if ((size_t)(d->end - d->cur) < n)
        doc_grow(d, n);
    void *p = d->cur;
    d->cur += n;
    return p;
}

/* ========================================================== key index */

static size_t index_slots(size_t n)
{
    size_t s = 32;
    while (s < 2 * n)
        s *= 2;
    return s;
}

/* Bytes of an object's members plus, when large, its index. */
static size_t object_bytes(size_t n)
{
    size_t b = n * sizeof(sc_member_t);
    return n >= SC_DOC_INDEX_MIN_MEMBERS ? b + index_slots(n) * sizeof(uint32_t) : b;
}

static int key_eq(const sc_member_t *m, const char *k, size_t klen)
{
    return m->klen == klen && rt_schema_bytes_eq(m->key, k, klen);
}

/* Fills the index after m[0..n) (slot = member index + 1, 0 = empty).
 * Returns 0, or RT_EPROTO on a duplicate key. */
static int index_build(sc_member_t *m, size_t n)
{
    uint32_t *slots = (uint32_t *)(m + n);
    size_t mask = index_slots(n) - 1;
    memset(slots, 0, (mask + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
        size_t s = rt_schema_name_hash(m[i].key, m[i].klen) & mask;
        for (; slots[s]; s = (s + 1) & mask) {
            if (key_eq(&m[slots[s] - 1], m[i].key, m[i].klen))
                return RT_EPROTO;
        }
        slots[s] = (uint32_t)i + 1;
    }
    return 0;
}

/* Small objects: pairwise, cheaper than hashing below the index size. */
static int has_dup_small(const sc_member_t *m, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (key_eq(&m[j], m[i].key, m[i].klen))
                return 1;
        }
    }
    return 0;
}

const sc_val_t *rt_schema_val_get(const sc_val_t *o, const char *k, size_t klen)
{
    rt_assert(o->type == SC_V_OBJECT);
    const sc_member_t *m = o->u.members;
    size_t n = o->n;
    if (n < SC_DOC_INDEX_MIN_MEMBERS) {
        for (size_t i = 0; i < n; i++) {
            if (key_eq(&m[i], k, klen))
                return &m[i].val;
        }
        return NULL;
    }
    const uint32_t *slots = (const uint32_t *)(m + n);
    size_t mask = index_slots(n) - 1;
    for (size_t s = rt_schema_name_hash(k, klen) & mask; slots[s]; s = (s + 1) & mask) {
        if (key_eq(&m[slots[s] - 1], k, klen))
            return &m[slots[s] - 1].val;
    }
    return NULL;
}

const sc_val_t *rt_schema_val_find(const sc_val_t *o, const char *k, size_t klen, size_t *hint)
{
    const sc_member_t *m = o->u.members;
    if (*hint < o->n && key_eq(&m[*hint], k, klen))
        return &m[(*hint)++].val;
    const sc_val_t *v = rt_schema_val_get(o, k, klen);
    if (v)
        *hint =
            (size_t)((const sc_member_t *)((const char *)v - offsetof(sc_member_t, val)) - m) + 1;
    return v;
}

/* ============================================================== parser */

typedef struct pctx_s {
    sc_doc_t *d;
    const unsigned char *p, *end;
    size_t sp; /* entries of d->stack in use */
} pctx_t;

static void __attribute__((noinline)) stack_grow(pctx_t *c)
{
    sc_doc_t *d = c->d;
    size_t cap = RT_MAX(DOC_MIN_STACK, d->stack_cap * 2);
    sc_member_t *s = rt_malloc(cap * sizeof(*s));
    if (c->sp)
        memcpy(s, d->stack, c->sp * sizeof(*s));
    if (d->stack != d->stack_local)
        rt_free(d->stack);
    d->stack = s;
    d->stack_cap = cap;
}

static inline void stack_push(pctx_t *c, const char *key, uint32_t klen)
{
    sc_doc_t *d = c->d;
    if (c->sp == d->stack_cap)
        stack_grow(c);
    d->stack[c->sp].key = key;
    d->stack[c->sp].klen = klen;
    c->sp++;
}

static inline void skip_ws(pctx_t *c)
{
    const unsigned char *p = c->p;
    /* one comparison when there is no whitespace, the common case */
    while (p < c->end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    c->p = p;
}

/* Bytes that end the fast scan of a string: '"', '\\', controls, non-ASCII. */
static const uint8_t str_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Byte-lane masks for testing 8 bytes at a time. */
#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Length of the well-formed UTF-8 sequence at p (a non-ASCII lead byte;
 * RFC 3629 §4: no overlong forms, no surrogates, nothing above U+10FFFF),
 * or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return 0;
    if (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        return 0;
    return n;
}

int rt_schema_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        uint64_t w;
        if (end - p >= 8 && (memcpy(&w, p, 8), (w & HIGHS) == 0)) {
            p += 8; /* eight ASCII bytes */
            continue;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t k = utf8_seq(p, end);
        if (k == 0)
            return 0;
        p += k;
    }
    return 1;
}

void rt_schema_utf8_repair(char *s, size_t n)
{
    unsigned char *p = (unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t k = *p < 0x80 ? 1 : utf8_seq(p, end);
        if (k == 0)
            *p = '?';
        p += k ? k : 1;
    }
}

/* Reads 4 hex digits at p (p + 4 <= end checked by the caller). */
static int hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned ch = p[i];
        unsigned d = ch >= '0' && ch <= '9'   ? ch - '0'
                     : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                     : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                              : 16;
        if (d == 16)
            return RT_EPROTO;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static unsigned char *utf8_put(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xc0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xe0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (unsigned char)(0xf0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* A \u escape at p (just after the 'u'), q the closing quote: RFC 8259 §7,
 * a UTF-16 surrogate pair as two escapes. Advances *pp, writes UTF-8. */
static int unescape_u(const unsigned char **pp, const unsigned char *q, unsigned char **oo)
{
    const unsigned char *p = *pp;
    uint32_t cp, lo;
    if (q - p < 4 || hex4(p, &cp) != 0)
        return RT_EPROTO;
    p += 4;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 || lo < 0xdc00 ||
            lo > 0xdfff)
            return RT_EPROTO;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    } else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
        return RT_EPROTO; /* a lone low surrogate; NUL as jansson refuses it */
    }
    *pp = p;
    *oo = utf8_put(*oo, cp);
    return 0;
}

/* The slow path of a string with escapes: start is just after the opening
 * quote, p at the first backslash. Decodes into the arena. */
static int parse_escaped(pctx_t *c, const unsigned char *start, const unsigned char *p,
                         const char **s, uint32_t *n)
{
    const unsigned char *q = p;
    while (q < c->end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    if (q >= c->end)
        return RT_EPROTO;
    /* escapes only shrink: the output fits in the input's length */
    unsigned char *out = doc_alloc(c->d, (size_t)(q - start)), *o = out;
    memcpy(o, start, (size_t)(p - start));
    o += p - start;
    while (p < q) {
        unsigned ch = *p;
        if (ch != '\\') {
            size_t k = ch < 0x80 ? 1 : utf8_seq(p, q);
            if (ch < 0x20 || k == 0)
                return RT_EPROTO;
            memcpy(o, p, k);
            o += k;
            p += k;
            continue;
        }
        static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
        const char *e = p[1] ? memchr(esc_in, p[1], 8) : NULL;
        p += 2;
        if (e) {
            *o++ = (unsigned char)esc_out[e - esc_in];
        } else if (p[-1] != 'u' || unescape_u(&p, q, &o) != 0) {
            return RT_EPROTO;
        }
    }
    *s = (const char *)out;
    *n = (uint32_t)(o - out);
    c->p = q + 1;
    return 0;
}

/* Nonzero if one of the 8 bytes of w stops the scan (str_stop), eight at a
 * time: a zero byte after XOR with '"' or '\\', a byte below 0x20, or a high
 * bit ("Bit Twiddling Hacks", determine if a word has a byte less than n). */
static uint64_t stop_in_word(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    return ((q - ONES) & ~q) | ((b - ONES) & ~b) | (w - ONES * 0x20) | w;
}

/* Skips the bytes that need no attention in a string. */
static const unsigned char *scan_plain(const unsigned char *p, const unsigned char *end)
{
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        /* little-endian: the lowest flagged byte is the first stop byte (the
         * borrows that cause false flags only run upwards from a true one) */
        uint64_t m = stop_in_word(w) & HIGHS;
        if (m) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + __builtin_ctzll(m) / 8;
#else
            break;
#endif
        }
        p += 8;
    }
    while (p < end && !str_stop[*p])
        p++;
    return p;
}

/* A string (RFC 8259 §7) whose opening quote is at c->p. */
static inline int parse_string(pctx_t *c, const char **s, uint32_t *n)
{
    const unsigned char *start = ++c->p, *p = start, *end = c->end;
    for (;;) {
        p = scan_plain(p, end);
        if (p == end || *p < 0x20)
            return RT_EPROTO;
        if (*p == '"')
            break;
        if (*p == '\\')
            return parse_escaped(c, start, p, s, n);
        size_t k = utf8_seq(p, end);
        if (k == 0)
            return RT_EPROTO;
        p += k;
    }
    *s = (const char *)start;
    *n = (uint32_t)(p - start);
    c->p = p + 1;
    return 0;
}

static int is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* An integer lexeme [p, end) of digits: int64 or RT_EPROTO (jansson: "too
 * big integer"). */
static int number_int(const unsigned char *p, const unsigned char *end, int neg, int64_t *out)
{
    uint64_t m = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < end; p++) {
        uint64_t dg = (uint64_t)(*p - '0');
        if (m > (limit - dg) / 10)
            return RT_EPROTO;
        m = m * 10 + dg;
    }
    *out = neg ? (int64_t)(0 - m) : (int64_t)m;
    return 0;
}

/* Exact powers of ten for the fast path (Clinger: an integer below 2^53
 * times or divided by one of these is correctly rounded). */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#define SIG_DIGITS_MAX 19
#define EXP_CLAMP      100000

/* The slow path: strtod on a NUL-terminated copy of the lexeme. */
static int number_strtod(pctx_t *c, const unsigned char *start, size_t len, double *out)
{
    char local[64];
    char *buf = len < sizeof(local) ? local : doc_alloc(c->d, len + 1);
    memcpy(buf, start, len);
    buf[len] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    if (errno == ERANGE && isinf(d))
        return RT_EPROTO; /* jansson: "real number overflow" */
    *out = d;
    return 0;
}

/* A number (RFC 8259 §6) at c->p. */
static int parse_number(pctx_t *c, sc_val_t *v)
{
    const unsigned char *p = c->p, *end = c->end, *start = p;
    int neg = *p == '-';
    p += neg;
    const unsigned char *int_start = p;
    if (!is_digit(p, end))
        return RT_EPROTO;
    if (*p == '0') {
        p++;
        if (is_digit(p, end))
            return RT_EPROTO;
    } else {
        while (is_digit(p, end))
            p++;
    }
    if (p == end || (*p != '.' && *p != 'e' && *p != 'E')) {
        c->p = p;
        v->type = SC_V_INT;
        return number_int(int_start, p, neg, &v->u.i);
    }
    uint64_t m = 0;
    int sig = 0, exp10 = 0, exact = 1;
    for (const unsigned char *q = int_start; q < p; q++) {
        if (sig < SIG_DIGITS_MAX) {
            m = m * 10 + (uint64_t)(*q - '0');
            sig += m != 0;
        } else {
            exp10++;
            exact = 0;
        }
    }
    if (*p == '.') {
        p++;
        if (!is_digit(p, end))
            return RT_EPROTO;
        for (; is_digit(p, end); p++) {
            if (sig < SIG_DIGITS_MAX) {
                m = m * 10 + (uint64_t)(*p - '0');
                sig += m != 0;
                exp10--;
            } else {
                exact = 0;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = p < end && *p == '-';
        p += p < end && (*p == '-' || *p == '+');
        if (!is_digit(p, end))
            return RT_EPROTO;
        int e = 0;
        for (; is_digit(p, end); p++)
            e = RT_MIN(e * 10 + (*p - '0'), EXP_CLAMP);
        exp10 += eneg ? -e : e;
    }
    c->p = p;
    v->type = SC_V_REAL;
    double d;
    if (m == 0) {
        d = 0;
    } else if (exact && m < (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        d = exp10 >= 0 ? (double)m * pow10_exact[exp10] : (double)m / pow10_exact[-exp10];
    } else {
        if (number_strtod(c, start, (size_t)(p - start), &d) != 0)
            return RT_EPROTO;
        v->u.d = d;
        return 0;
    }
    v->u.d = neg ? -d : d;
    return 0;
}

static int parse_literal(pctx_t *c, const char *word, size_t n, uint8_t type, sc_val_t *v)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return RT_EPROTO;
    c->p += n;
    v->type = type;
    return 0;
}

static int parse_scalar(pctx_t *c, sc_val_t *v)
{
    switch (*c->p) {
    case '"':
        v->type = SC_V_STRING;
        return parse_string(c, &v->u.s, &v->n);
    case 't':
        return parse_literal(c, "true", 4, SC_V_TRUE, v);
    case 'f':
        return parse_literal(c, "false", 5, SC_V_FALSE, v);
    case 'n':
        return parse_literal(c, "null", 4, SC_V_NULL, v);
    default:
        return *c->p == '-' || (*c->p >= '0' && *c->p <= '9') ? parse_number(c, v) : RT_EPROTO;
    }
}

/* Closes the container whose members are stack[base..sp) into *out. */
static int close_container(pctx_t *c, size_t base, uint8_t type, sc_val_t *out)
{
    size_t n = c->sp - base;
    const sc_member_t *src = c->d->stack + base;
    *out = (sc_val_t){type, (uint32_t)n, {0}};
    c->sp = base;
    if (type == SC_V_ARRAY) {
        sc_val_t *items = n ? doc_alloc(c->d, n * sizeof(*items)) : NULL;
        for (size_t i = 0; i < n; i++)
            items[i] = src[i].val;
        out->u.items = items;
        return 0;
    }
    sc_member_t *m = n ? doc_alloc(c->d, object_bytes(n)) : NULL;
    if (n)
        memcpy(m, src, n * sizeof(*m));
    out->u.members = m;
    if (n >= SC_DOC_INDEX_MIN_MEMBERS)
        return index_build(m, n);
    return has_dup_small(m, n) ? RT_EPROTO : 0;
}

/*
 * The parse loop, without recursion: every value being parsed has a slot on
 * the stack (the root's is entry 0; a member's carries its key). While a
 * container is open its slot holds its type and, in u.i, the parent's base
 * (the index where the parent's members start), so the stack alone is the
 * parse state.
 */
static int parse_doc(pctx_t *c, sc_val_t *out)
{
    size_t base = 0, depth = 0;
    uint8_t kind = 0; /* the innermost open container's type */
    stack_push(c, NULL, 0);
value:
    skip_ws(c);
    if (c->p == c->end)
        return RT_EPROTO;
    if (*c->p == '[' || *c->p == '{') {
        if (depth == RT_SCHEMA_DOC_MAX_DEPTH)
            return RT_EPROTO;
        sc_member_t *slot = &c->d->stack[c->sp - 1];
        slot->val.type = kind = *c->p == '[' ? SC_V_ARRAY : SC_V_OBJECT;
        slot->val.u.i = (int64_t)base;
        base = c->sp;
        depth++;
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == (kind == SC_V_ARRAY ? ']' : '}')) {
            c->p++;
            goto close;
        }
        if (kind == SC_V_OBJECT)
            goto key;
        stack_push(c, NULL, 0);
        goto value;
    }
    if (parse_scalar(c, &c->d->stack[c->sp - 1].val) != 0)
        return RT_EPROTO;
next:
    if (depth == 0) {
        skip_ws(c);
        *out = c->d->stack[0].val;
        return c->p == c->end ? 0 : RT_EPROTO;
    }
    skip_ws(c);
    if (c->p == c->end)
        return RT_EPROTO;
    if (*c->p == ',') {
        c->p++;
        skip_ws(c);
        if (kind == SC_V_OBJECT)
            goto key;
        stack_push(c, NULL, 0);
        goto value;
    }
    if (*c->p != (kind == SC_V_ARRAY ? ']' : '}'))
        return RT_EPROTO;
    c->p++;
close : {
    sc_val_t v;
    if (close_container(c, base, kind, &v) != 0)
        return RT_EPROTO;
    sc_member_t *slot = &c->d->stack[c->sp - 1];
    base = (size_t)slot->val.u.i;
    slot->val = v;
    depth--;
    kind = depth ? c->d->stack[base - 1].val.type : 0;
    goto next;
}
key : {
    const char *k;
    uint32_t klen;
    if (c->p == c->end || *c->p != '"' || parse_string(c, &k, &klen) != 0)
        return RT_EPROTO;
    skip_ws(c);
    if (c->p == c->end || *c->p != ':')
        return RT_EPROTO;
    c->p++;
    stack_push(c, k, klen);
    goto value;
}
}

int rt_schema_doc_parse(sc_doc_t *d, const char *data, size_t len, sc_val_t *out)
{
    if (len > RT_SCHEMA_DOC_MAX_BYTES)
        return RT_ETOOBIG;
    size_t want = len * DOC_BYTES_PER_INPUT_BYTE;
    if ((size_t)(d->end - d->cur) < want)
        d->next_chunk = RT_MAX(d->next_chunk, RT_MIN(want, DOC_MAX_CHUNK_BYTES));
    pctx_t c = {d, (const unsigned char *)data, (const unsigned char *)data + len, 0};
    return parse_doc(&c, out);
}

/* ========================================================= conversion */

void rt_schema_doc_from_json(sc_doc_t *d, const json_t *j, sc_val_t *out)
{
    *out = (sc_val_t){SC_V_NULL, 0, {0}};
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        sc_member_t *m = n ? doc_alloc(d, object_bytes(n)) : NULL;
        json_t *obj = (json_t *)j;
        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it), i++) {
            m[i].key = json_object_iter_key(it);
            m[i].klen = (uint32_t)json_object_iter_key_len(it);
            rt_schema_doc_from_json(d, json_object_iter_value(it), &m[i].val);
        }
        if (n >= SC_DOC_INDEX_MIN_MEMBERS)
            (void)index_build(m, n); /* jansson keys are unique already */
        *out = (sc_val_t){SC_V_OBJECT, (uint32_t)n, {.members = m}};
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        sc_val_t *items = n ? doc_alloc(d, n * sizeof(*items)) : NULL;
        for (size_t i = 0; i < n; i++)
            rt_schema_doc_from_json(d, json_array_get(j, i), &items[i]);
        *out = (sc_val_t){SC_V_ARRAY, (uint32_t)n, {.items = items}};
        break;
    }
    case JSON_STRING:
        *out =
            (sc_val_t){SC_V_STRING, (uint32_t)json_string_length(j), {.s = json_string_value(j)}};
        break;
    case JSON_INTEGER:
        *out = (sc_val_t){SC_V_INT, 0, {.i = json_integer_value(j)}};
        break;
    case JSON_REAL:
        *out = (sc_val_t){SC_V_REAL, 0, {.d = json_real_value(j)}};
        break;
    case JSON_TRUE:
        out->type = SC_V_TRUE;
        break;
    case JSON_FALSE:
        out->type = SC_V_FALSE;
        break;
    default:
        break;
    }
}

json_t *rt_schema_doc_to_json(const sc_val_t *v)
{
    switch (v->type) {
    case SC_V_OBJECT: {
        json_t *o = json_object();
        for (size_t i = 0; i < v->n; i++) {
            const sc_member_t *m = &v->u.members[i];
            json_object_setn_new_nocheck(o, m->key, m->klen, rt_schema_doc_to_json(&m->val));
        }
        return o;
    }
    case SC_V_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < v->n; i++)
            json_array_append_new(a, rt_schema_doc_to_json(&v->u.items[i]));
        return a;
    }
    case SC_V_STRING:
        return json_stringn_nocheck(v->u.s, v->n);
    case SC_V_INT:
        return json_integer(v->u.i);
    case SC_V_REAL:
        return json_real(v->u.d);
    case SC_V_TRUE:
        return json_true();
    case SC_V_FALSE:
        return json_false();
    default:
        return json_null();
    }
}
