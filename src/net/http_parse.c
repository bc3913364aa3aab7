/*
 * This file implements the HTTP/1.1 request parser of the server: the
 * request line and header fields of RFC 9112 §2-§3 and §5 with the framing
 * rules of §6 (Content-Length, Transfer-Encoding, Host), the chunked
 * transfer coding of §7.1 as an in-place byte-at-a-time state machine, and
 * percent-decoding of targets and query strings. The head parser makes one
 * pass over the bytes, keeps no state between calls and points into the
 * caller's buffer instead of copying; it reports errors in byte order so
 * that a request fed in pieces ends in the same result as one fed whole.
 */
#include "net/http_parse.h"

#include <string.h>

/* ========================================================= byte classes */

/* RFC 9110 §5.6.2 tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA; a bit per byte. */
static const uint32_t tchar_bits[8] = {0x00000000, 0x03ff6cfa, 0xc7fffffe, 0x57ffffff, 0, 0, 0, 0};

static int is_tchar(unsigned char ch)
{
    return (tchar_bits[ch >> 5] >> (ch & 31)) & 1;
}

/* RFC 9112 §3.2: origin-form is VCHAR only (no CTL, SP, DEL or non-ASCII). */
static int is_target_char(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f;
}

/* RFC 9110 §5.5 field-vchar / SP / HTAB: every byte but CTLs (HTAB excepted)
 * and DEL; obs-text (0x80-0xFF) is allowed. */
static int is_value_char(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/*
 * Eight bytes at a time (SWAR, "Bit Twiddling Hacks": haszero/hasless): the
 * tests below are exact as yes/no answers, and a block that fails them is
 * handled byte by byte. They keep the common case (long runs of visible
 * ASCII in values and targets) at a few instructions per 8 bytes.
 */
#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS (ONES * 0x80)

static uint64_t load8(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

/* Whether any byte of x is below n (n <= 0x80). */
static int any_below(uint64_t x, unsigned n)
{
    return ((x - ONES * n) & ~x & HIGHS) != 0;
}

static int any_equal(uint64_t x, unsigned char b)
{
    return any_below(x ^ (ONES * b), 1);
}

/* Whether all 8 bytes at p are VCHAR or obs-text (no CTL, SP, HTAB, DEL). */
static int block_visible(const unsigned char *p)
{
    uint64_t x = load8(p);
    return !any_below(x, 0x21) && !any_equal(x, 0x7f);
}

/* Whether all 8 bytes at p are VCHAR other than '?'. */
static int block_target(const unsigned char *p)
{
    uint64_t x = load8(p);
    return (x & HIGHS) == 0 && block_visible(p) && !any_equal(x, '?');
}

static int is_ows(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

static int hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static unsigned char lower(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
}

/* ASCII case-insensitive equality of s[0..n) and the lowercase literal lit. */
static int ieq(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n && lit[i]; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    return i == n && lit[i] == '\0';
}

static void trim_ows(const char **s, size_t *n)
{
    while (*n > 0 && is_ows((unsigned char)(*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_ows((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* Splits the next comma-separated list element (RFC 9110 §5.6.1) off
 * s[*pos..n) into *el, OWS-trimmed. Returns 0 when the list is exhausted. */
static int next_element(const char *s, size_t n, size_t *pos, const char **el, size_t *el_len)
{
    if (*pos > n)
        return 0;
    size_t start = *pos;
    while (*pos < n && s[*pos] != ',')
        (*pos)++;
    *el = s + start;
    *el_len = *pos - start;
    (*pos)++;
    trim_ows(el, el_len);
    return 1;
}

/* ========================================================== request head */

/*
 * Framing facts gathered from header lines while the head is parsed; turned
 * into the request's flags once the head is complete.
 */
typedef struct {
    int64_t content_length; /* -1 until a Content-Length line */
    unsigned host : 1;
    unsigned te : 1;
    unsigned conn_close : 1;
    unsigned conn_keep_alive : 1;
    unsigned conn_upgrade : 1;
    unsigned upgrade_header : 1;
    unsigned expect_continue : 1;
} framing_t;

/* The bytes the parser may look at: buf[0..end), end = min(len, max_head). */
typedef struct {
    const char *buf;
    size_t pos;
    size_t end;
} cursor_t;

/* Advances over tchar bytes. Local pointers, not c->pos, in
 * the loop: a char store may alias the cursor, which would cost a reload per
 * byte. */
static void skip_tchars(cursor_t *c)
{
    const unsigned char *p = (const unsigned char *)c->buf + c->pos;
    const unsigned char *end = (const unsigned char *)c->buf + c->end;
    while (p < end && is_tchar(*p))
        p++;
    c->pos = (size_t)(p - (const unsigned char *)c->buf);
}

static int expect_lf(cursor_t *c)
{
    if (c->pos == c->end)
        return RT_EAGAIN;
    if (c->buf[c->pos] != '\n')
        return RT_EINVAL;
    c->pos++;
    return 0;
}

/* RFC 9112 §2.2: empty lines before the request line are skipped. */
static int skip_empty_lines(cursor_t *c)
{
    while (c->pos < c->end && c->buf[c->pos] == '\r') {
        c->pos++;
        int rc = expect_lf(c);
        if (rc != 0)
            return rc;
    }
    return c->pos == c->end ? RT_EAGAIN : 0;
}

static rt_http_method_t method_of(const char *s, size_t n)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < RT_ARRAY_LEN(names); i++)
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
            return (rt_http_method_t)i;
    return RT_HTTP_OTHER;
}

/* method SP: RFC 9110 §9.1, methods are case-sensitive tokens. */
static int parse_method(cursor_t *c, rt_http_request_t *req)
{
    size_t start = c->pos;
    skip_tchars(c);
    if (c->pos == c->end)
        return RT_EAGAIN;
    if (c->pos == start || c->buf[c->pos] != ' ')
        return RT_EINVAL;
    req->method_str = c->buf + start;
    req->method_len = c->pos - start;
    req->method = method_of(req->method_str, req->method_len);
    c->pos++;
    return 0;
}

/* request-target SP: origin-form (RFC 9112 §3.2.1), or asterisk-form for
 * OPTIONS (§3.2.4). Absolute- and authority-form are refused. */
static int parse_target(cursor_t *c, rt_http_request_t *req)
{
    size_t start = c->pos, qmark = 0;
    if (c->pos == c->end)
        return RT_EAGAIN;
    if (c->buf[start] == '*' && req->method == RT_HTTP_OPTIONS) {
        c->pos++;
    } else if (c->buf[start] != '/') {
        return RT_EINVAL;
    } else {
        const unsigned char *b = (const unsigned char *)c->buf;
        const unsigned char *p = b + c->pos, *end = b + c->end;
        for (;;) {
            while (end - p >= 8 && block_target(p))
                p += 8;
            if (p == end || !is_target_char(*p))
                break;
            if (*p == '?' && qmark == 0)
                qmark = (size_t)(p - b);
            p++;
        }
        c->pos = (size_t)(p - b);
    }
    if (c->pos == c->end)
        return RT_EAGAIN;
    if (c->buf[c->pos] != ' ')
        return RT_EINVAL;
    req->path = c->buf + start;
    req->path_len = (qmark ? qmark : c->pos) - start;
    req->query = qmark ? c->buf + qmark + 1 : NULL;
    req->query_len = qmark ? c->pos - qmark - 1 : 0;
    c->pos++;
    return 0;
}

/* HTTP-version CRLF (RFC 9112 §2.3): "HTTP/" DIGIT "." DIGIT; a well-formed
 * version other than 1.0 or 1.1 is RT_EVERSION, anything else RT_EINVAL. */
static int parse_version(cursor_t *c, rt_http_request_t *req)
{
    static const char pattern[] = "HTTP/0.0";
    for (size_t i = 0; i < sizeof(pattern) - 1; i++, c->pos++) {
        if (c->pos == c->end)
            return RT_EAGAIN;
        unsigned char ch = (unsigned char)c->buf[c->pos];
        int ok = pattern[i] == '0' ? (ch >= '0' && ch <= '9') : ch == (unsigned char)pattern[i];
        if (!ok)
            return RT_EINVAL;
    }
    if (c->pos == c->end)
        return RT_EAGAIN;
    if (c->buf[c->pos] != '\r')
        return RT_EINVAL;
    const char *v = c->buf + c->pos - 3;
    if (v[0] != '1' || (v[2] != '0' && v[2] != '1'))
        return RT_EVERSION;
    req->minor_version = v[2] - '0';
    c->pos++;
    return expect_lf(c);
}

/* RFC 9110 §8.6: 1*DIGIT, or a list of identical values; at most
 * RT_HTTP_MAX_CONTENT_LENGTH_BYTES; every line must agree with the last. */
static int on_content_length(framing_t *f, const char *v, size_t n)
{
    size_t pos = 0;
    const char *el;
    size_t el_len;
    while (next_element(v, n, &pos, &el, &el_len)) {
        if (el_len == 0)
            return RT_EINVAL;
        int64_t value = 0;
        for (size_t i = 0; i < el_len; i++) {
            int d = el[i] - '0';
            if (d < 0 || d > 9 || value > (RT_HTTP_MAX_CONTENT_LENGTH_BYTES - d) / 10)
                return RT_EINVAL;
            value = value * 10 + d;
        }
        if (f->content_length >= 0 && f->content_length != value)
            return RT_EINVAL;
        f->content_length = value;
    }
    return 0;
}

/* RFC 9112 §6.1: only "chunked", once. Any other coding could be read
 * differently by something in front of us, so it is refused, not ignored. */
static int on_transfer_encoding(framing_t *f, const char *v, size_t n)
{
    if (f->te || !ieq(v, n, "chunked"))
        return RT_EINVAL;
    f->te = 1;
    return 0;
}

/* RFC 9112 §3.2: one Host, whose value is uri-host [":" port]: only the
 * characters of reg-name, IP-literal and port (RFC 3986 §3.2.2) may appear. */
static int on_host(framing_t *f, const char *v, size_t n)
{
    static const char allowed[] = "-._~!$&'()*+,;=%:[]";
    if (f->host)
        return RT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        int alnum = (ch >= '0' && ch <= '9') || (lower(ch) >= 'a' && lower(ch) <= 'z');
        if (!alnum && memchr(allowed, ch, sizeof(allowed) - 1) == NULL)
            return RT_EINVAL;
    }
    f->host = 1;
    return 0;
}

/* RFC 9110 §7.6.1: the connection options we act on. */
static void on_connection(framing_t *f, const char *v, size_t n)
{
    size_t pos = 0;
    const char *el;
    size_t el_len;
    while (next_element(v, n, &pos, &el, &el_len)) {
        if (ieq(el, el_len, "close"))
            f->conn_close = 1;
        else if (ieq(el, el_len, "keep-alive"))
            f->conn_keep_alive = 1;
        else if (ieq(el, el_len, "upgrade"))
            f->conn_upgrade = 1;
    }
}

static void on_expect(framing_t *f, const char *v, size_t n)
{
    size_t pos = 0;
    const char *el;
    size_t el_len;
    while (next_element(v, n, &pos, &el, &el_len))
        if (ieq(el, el_len, "100-continue"))
            f->expect_continue = 1;
}

/* Records what a header line means for framing and connection handling.
 * The switch on the name's length keeps this to one comparison a line. */
static int on_header(framing_t *f, const rt_http_header_t *h)
{
    const char *name = h->name, *v = h->value;
    size_t len = h->name_len, n = h->value_len;
    switch (len) {
    case 4:
        return ieq(name, len, "host") ? on_host(f, v, n) : 0;
    case 6:
        if (ieq(name, len, "expect"))
            on_expect(f, v, n);
        return 0;
    case 7:
        if (ieq(name, len, "upgrade") && n > 0)
            f->upgrade_header = 1;
        return 0;
    case 10:
        if (ieq(name, len, "connection"))
            on_connection(f, v, n);
        return 0;
    case 14:
        return ieq(name, len, "content-length") ? on_content_length(f, v, n) : 0;
    case 17:
        return ieq(name, len, "transfer-encoding") ? on_transfer_encoding(f, v, n) : 0;
    default:
        return 0;
    }
}

/* field-line CRLF (RFC 9112 §5): token ":" OWS field-value OWS. No space
 * before the colon (§5.1), no obs-fold (§5.2), no CTL in the value. */
static int parse_header(cursor_t *c, rt_http_header_t *h)
{
    size_t start = c->pos;
    skip_tchars(c);
    if (c->pos == c->end)
        return RT_EAGAIN;
    if (c->pos == start || c->buf[c->pos] != ':')
        return RT_EINVAL;
    h->name = c->buf + start;
    h->name_len = c->pos - start;
    c->pos++;
    const unsigned char *p = (const unsigned char *)c->buf + c->pos;
    const unsigned char *end = (const unsigned char *)c->buf + c->end;
    while (p < end && is_ows(*p))
        p++;
    const unsigned char *vstart = p, *vend = p;
    for (;;) {
        while (end - p >= 8 && block_visible(p)) {
            p += 8;
            vend = p;
        }
        if (p == end)
            return RT_EAGAIN;
        if (*p == '\r')
            break;
        if (!is_value_char(*p))
            return RT_EINVAL;
        if (!is_ows(*p))
            vend = p + 1;
        p++;
    }
    h->value = (const char *)vstart;
    h->value_len = (size_t)(vend - vstart);
    c->pos = (size_t)(p - (const unsigned char *)c->buf) + 1;
    return expect_lf(c);
}

static int parse_headers(cursor_t *c, rt_http_request_t *req, framing_t *f)
{
    req->nheaders = 0;
    for (;;) {
        if (c->pos == c->end)
            return RT_EAGAIN;
        if (c->buf[c->pos] == '\r') {
            c->pos++;
            return expect_lf(c);
        }
        if (req->nheaders == RT_HTTP_MAX_HEADERS)
            return RT_ETOOBIG;
        rt_http_header_t *h = &req->headers[req->nheaders];
        int rc = parse_header(c, h);
        if (rc == 0)
            rc = on_header(f, h);
        if (rc != 0)
            return rc;
        req->nheaders++;
    }
}

/* The checks that need the whole head (RFC 9112 §3.2, §6.1, §6.3, §9.3). */
static int finish_head(const framing_t *f, rt_http_request_t *req)
{
    int v11 = req->minor_version == 1;
    if (v11 && !f->host)
        return RT_EINVAL;
    /* §6.1: Transfer-Encoding with Content-Length is a smuggling attempt, and
     * an HTTP/1.0 message with Transfer-Encoding has faulty framing. */
    if (f->te && (f->content_length >= 0 || !v11))
        return RT_EINVAL;
    req->content_length = f->content_length;
    req->chunked = f->te;
    req->keep_alive = !f->conn_close && (v11 || f->conn_keep_alive);
    /* RFC 9110 §7.8 and §10.1.1: both are ignored in HTTP/1.0 requests. */
    req->upgrade = v11 && f->conn_upgrade && f->upgrade_header;
    req->expect_continue = v11 && f->expect_continue;
    return 0;
}

static int parse_head(cursor_t *c, rt_http_request_t *req)
{
    framing_t f = {.content_length = -1};
    int rc = skip_empty_lines(c);
    if (rc == 0)
        rc = parse_method(c, req);
    if (rc == 0)
        rc = parse_target(c, req);
    if (rc == 0)
        rc = parse_version(c, req);
    if (rc == 0)
        rc = parse_headers(c, req, &f);
    if (rc == 0)
        rc = finish_head(&f, req);
    return rc;
}

/* Copies a parsed request out, skipping the unused header slots. */
static void copy_request(rt_http_request_t *dst, const rt_http_request_t *src)
{
    size_t head = offsetof(rt_http_request_t, headers);
    size_t tail = offsetof(rt_http_request_t, nheaders);
    memcpy(dst, src, head);
    memcpy(dst->headers, src->headers, src->nheaders * sizeof(src->headers[0]));
    memcpy((char *)dst + tail, (const char *)src + tail, sizeof(*dst) - tail);
}

int rt_http_parse_request(const char *buf, size_t len, size_t max_head, rt_http_request_t *req,
                          size_t *head_len)
{
    rt_assert(buf != NULL || len == 0);
    rt_assert(req != NULL && head_len != NULL);
    cursor_t c = {buf, 0, RT_MIN(len, max_head)};
    rt_http_request_t tmp;
    int rc = parse_head(&c, &tmp);
    if (rc == RT_EAGAIN && len >= max_head)
        return RT_ETOOBIG;
    if (rc != 0)
        return rc;
    copy_request(req, &tmp);
    *head_len = c.pos;
    return 0;
}

const rt_http_header_t *rt_http_header_find(const rt_http_request_t *req, const char *name)
{
    rt_assert(req != NULL && name != NULL);
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const rt_http_header_t *h = &req->headers[i];
        if (h->name_len != n)
            continue;
        size_t j = 0;
        while (j < n && lower((unsigned char)h->name[j]) == lower((unsigned char)name[j]))
            j++;
        if (j == n)
            return h;
    }
    return NULL;
}

/* ========================================================== chunked body */

/*
 * RFC 9112 §7.1:
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-val = token / quoted-string
 * One state per position in that grammar; every byte but chunk data goes
 * through step().
 */
enum {
    CK_SIZE_FIRST, /* first HEXDIG of chunk-size */
    CK_SIZE,       /* more HEXDIG, ";", BWS or CR */
    CK_EXT_WS,     /* BWS that must be followed by ";" */
    CK_EXT_NAME0,  /* BWS, then the first tchar of a chunk-ext-name */
    CK_EXT_NAME,   /* tchar, "=", ";", BWS or CR */
    CK_EXT_NAMEWS, /* BWS after a name: "=" or ";" */
    CK_EXT_VAL0,   /* BWS, then a token or a quoted-string */
    CK_EXT_TOKEN,  /* tchar, ";", BWS or CR */
    CK_EXT_QSTR,   /* inside a quoted-string */
    CK_EXT_QPAIR,  /* after a backslash in a quoted-string */
    CK_EXT_END,    /* after a quoted-string: ";", BWS or CR */
    CK_SIZE_LF,    /* LF ending the chunk-size line */
    CK_DATA,       /* chunk-data: left bytes to go */
    CK_DATA_CR,    /* CR after chunk-data */
    CK_DATA_LF,    /* LF after chunk-data */
    CK_TRAILER0,   /* start of a trailer line, or the final CR */
    CK_TRAILER_NAME,
    CK_TRAILER_VALUE,
    CK_TRAILER_LF,
    CK_FINAL_LF,
    CK_DONE,
    CK_ERROR
};

void rt_http_chunked_init(rt_http_chunked_t *c)
{
    rt_assert(c != NULL);
    memset(c, 0, sizeof(*c));
    c->state = CK_SIZE_FIRST;
}

/* A quoted-string byte (RFC 9110 §5.6.4): qdtext, or quoted-pair's second. */
static int is_qdtext(unsigned char ch, int escaped)
{
    if (ch == '\t' || ch == ' ' || ch >= 0x80)
        return 1;
    if (escaped)
        return ch > 0x20 && ch < 0x7f;
    return ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

/* After a chunk-size or an extension: ";" opens an extension, CR ends the
 * line, BWS must lead to ";". Returns the next state or CK_ERROR. */
static uint8_t after_item(unsigned char ch)
{
    if (ch == ';')
        return CK_EXT_NAME0;
    if (ch == '\r')
        return CK_SIZE_LF;
    return is_ows(ch) ? CK_EXT_WS : CK_ERROR;
}

static uint8_t step_ext(uint8_t st, unsigned char ch)
{
    switch (st) {
    case CK_EXT_WS:
        return is_ows(ch) ? CK_EXT_WS : ch == ';' ? CK_EXT_NAME0 : CK_ERROR;
    case CK_EXT_NAME0:
        return is_ows(ch) ? CK_EXT_NAME0 : is_tchar(ch) ? CK_EXT_NAME : CK_ERROR;
    case CK_EXT_NAME:
        if (is_tchar(ch))
            return CK_EXT_NAME;
        if (ch == '=')
            return CK_EXT_VAL0;
        return is_ows(ch) ? CK_EXT_NAMEWS : after_item(ch);
    case CK_EXT_NAMEWS:
        if (is_ows(ch))
            return CK_EXT_NAMEWS;
        return ch == '=' ? CK_EXT_VAL0 : ch == ';' ? CK_EXT_NAME0 : CK_ERROR;
    case CK_EXT_VAL0:
        if (is_ows(ch))
            return CK_EXT_VAL0;
        return ch == '"' ? CK_EXT_QSTR : is_tchar(ch) ? CK_EXT_TOKEN : CK_ERROR;
    case CK_EXT_TOKEN:
        return is_tchar(ch) ? CK_EXT_TOKEN : after_item(ch);
    case CK_EXT_QSTR:
        if (ch == '"')
            return CK_EXT_END;
        if (ch == '\\')
            return CK_EXT_QPAIR;
        return is_qdtext(ch, 0) ? CK_EXT_QSTR : CK_ERROR;
    case CK_EXT_QPAIR:
        return is_qdtext(ch, 1) ? CK_EXT_QSTR : CK_ERROR;
    default:
        return after_item(ch);
    }
}

/* Trailer section (RFC 9112 §7.1.2): field lines like the head's, dropped. */
static uint8_t step_trailer(uint8_t st, unsigned char ch)
{
    switch (st) {
    case CK_TRAILER0:
        if (ch == '\r')
            return CK_FINAL_LF;
        return is_tchar(ch) ? CK_TRAILER_NAME : CK_ERROR;
    case CK_TRAILER_NAME:
        if (ch == ':')
            return CK_TRAILER_VALUE;
        return is_tchar(ch) ? CK_TRAILER_NAME : CK_ERROR;
    case CK_TRAILER_VALUE:
        if (ch == '\r')
            return CK_TRAILER_LF;
        return is_value_char(ch) ? CK_TRAILER_VALUE : CK_ERROR;
    case CK_TRAILER_LF:
        return ch == '\n' ? CK_TRAILER0 : CK_ERROR;
    default:
        return ch == '\n' ? CK_DONE : CK_ERROR;
    }
}

static uint8_t step_size(rt_http_chunked_t *c, unsigned char ch)
{
    int d = hex_value(ch);
    if (d < 0)
        return c->state == CK_SIZE_FIRST ? CK_ERROR : after_item(ch);
    if (c->left > (uint64_t)(RT_HTTP_MAX_CONTENT_LENGTH_BYTES - d) / 16)
        return CK_ERROR;
    c->left = c->left * 16 + (uint64_t)d;
    return CK_SIZE;
}

static uint8_t step_line_end(rt_http_chunked_t *c, unsigned char ch)
{
    if (ch != '\n')
        return CK_ERROR;
    if (c->state == CK_DATA_LF)
        return CK_SIZE_FIRST;
    return c->left > 0 ? CK_DATA : CK_TRAILER0;
}

/* Counts a byte of a size or trailer line against the limits. */
static int over_limits(rt_http_chunked_t *c, unsigned char ch)
{
    int trailer = c->state >= CK_TRAILER0 && c->state <= CK_FINAL_LF;
    if (trailer && ++c->trailer_bytes > RT_HTTP_MAX_TRAILER_BYTES)
        return 1;
    if (ch == '\r' || ch == '\n' || c->state == CK_DATA_CR || c->state == CK_DATA_LF)
        return 0;
    return ++c->line_bytes > RT_HTTP_MAX_CHUNK_LINE_BYTES;
}

/* Feeds one byte that is not chunk data; returns 0 or RT_EINVAL. */
static int step(rt_http_chunked_t *c, unsigned char ch)
{
    uint8_t next;
    if (over_limits(c, ch)) {
        c->state = CK_ERROR;
        return RT_EINVAL;
    }
    switch (c->state) {
    case CK_SIZE_FIRST:
    case CK_SIZE:
        next = step_size(c, ch);
        break;
    case CK_SIZE_LF:
    case CK_DATA_LF:
        next = step_line_end(c, ch);
        break;
    case CK_DATA_CR:
        next = ch == '\r' ? CK_DATA_LF : CK_ERROR;
        break;
    case CK_TRAILER0:
    case CK_TRAILER_NAME:
    case CK_TRAILER_VALUE:
    case CK_TRAILER_LF:
    case CK_FINAL_LF:
        next = step_trailer(c->state, ch);
        break;
    default:
        next = step_ext(c->state, ch);
        break;
    }
    if (next == CK_SIZE_FIRST || next == CK_TRAILER0)
        c->line_bytes = 0;
    c->state = next;
    return next == CK_ERROR ? RT_EINVAL : 0;
}

int rt_http_chunked_decode(rt_http_chunked_t *c, char *buf, size_t len, size_t *consumed,
                           size_t *decoded)
{
    rt_assert(c != NULL && (buf != NULL || len == 0) && consumed != NULL && decoded != NULL);
    size_t in = 0, out = 0;
    while (in < len && c->state != CK_DONE && c->state != CK_ERROR) {
        if (c->state == CK_DATA) {
            size_t n = (size_t)RT_MIN((uint64_t)(len - in), c->left);
            memmove(buf + out, buf + in, n);
            in += n;
            out += n;
            c->left -= n;
            if (c->left == 0)
                c->state = CK_DATA_CR;
        } else if (step(c, (unsigned char)buf[in]) == 0) {
            in++;
        }
    }
    if (c->state == CK_ERROR)
        return RT_EINVAL;
    *consumed = in;
    *decoded = out;
    return c->state == CK_DONE ? 0 : RT_EAGAIN;
}

/* ====================================================== percent-decoding */

/*
 * Reads the byte at s[*i] of a percent-encoded string of n bytes (RFC 3986
 * §2.1; '+' becomes a space if plus_space) into *ch and advances *i past it.
 * Returns 0, or RT_EINVAL for a '%' not followed by two hex digits.
 */
static int pct_next(const char *s, size_t n, size_t *i, int plus_space, unsigned char *ch)
{
    unsigned char b = (unsigned char)s[*i];
    (*i)++;
    if (b == '+' && plus_space)
        b = ' ';
    if (b == '%') {
        int hi = *i + 1 < n ? hex_value((unsigned char)s[*i]) : -1;
        int lo = *i + 1 < n ? hex_value((unsigned char)s[*i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return RT_EINVAL;
        b = (unsigned char)(hi * 16 + lo);
        *i += 2;
    }
    *ch = b;
    return 0;
}

/* Decodes s[0..n) into out when out is non-NULL, else only measures; the
 * decoded length goes to *out_len. Returns 0 or RT_EINVAL. */
static int decode(const char *s, size_t n, int plus_space, char *out, size_t *out_len)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned char ch;
        if (pct_next(s, n, &i, plus_space, &ch) != 0)
            return RT_EINVAL;
        if (out != NULL)
            out[o] = (char)ch;
        o++;
    }
    *out_len = o;
    return 0;
}

/* Validates and measures first, so that out is written only on success. */
static int decode_into(const char *s, size_t n, int plus_space, char *out, size_t outcap,
                       size_t *out_len)
{
    size_t need;
    int rc = decode(s, n, plus_space, NULL, &need);
    if (rc != 0)
        return rc;
    if (need >= outcap)
        return RT_ETOOBIG;
    rc = decode(s, n, plus_space, out, &need);
    rt_assert(rc == 0);
    out[need] = '\0';
    *out_len = need;
    return 0;
}

int rt_http_pct_decode(const char *s, size_t n, char *out, size_t outcap, size_t *out_len)
{
    rt_assert((s != NULL || n == 0) && out_len != NULL && (out != NULL || outcap == 0));
    return decode_into(s, n, 0, out, outcap, out_len);
}

/* Whether the form-encoded key s[0..n) decodes to key; a key with a bad
 * escape matches nothing. */
static int key_matches(const char *s, size_t n, const char *key)
{
    size_t i = 0, k = 0;
    while (i < n) {
        unsigned char ch;
        if (pct_next(s, n, &i, 1, &ch) != 0 || key[k] == '\0' || (unsigned char)key[k] != ch)
            return 0;
        k++;
    }
    return key[k] == '\0';
}

int rt_http_query_get(const char *query, size_t query_len, const char *key, char *out,
                      size_t outcap, size_t *out_len)
{
    rt_assert(key != NULL && out_len != NULL && (out != NULL || outcap == 0));
    rt_assert(query != NULL || query_len == 0);
    size_t pos = 0;
    while (pos < query_len) {
        size_t start = pos;
        while (pos < query_len && query[pos] != '&')
            pos++;
        const char *pair = query + start;
        size_t pair_len = pos - start;
        pos++;
        const char *eq = memchr(pair, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - pair) : pair_len;
        if (pair_len == 0 || !key_matches(pair, key_len, key))
            continue;
        size_t vstart = eq ? key_len + 1 : pair_len;
        return decode_into(pair + vstart, pair_len - vstart, 1, out, outcap, out_len);
    }
    return RT_ENOENT;
}

/* ======================================================= reason phrases */

/* RFC 9110 §15, in status order. */
static const struct {
    int status;
    const char *text;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *rt_http_status_text(int status)
{
    for (size_t i = 0; i < RT_ARRAY_LEN(reasons); i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return "Unknown";
}
