/* Unit tests of the HTTP/1.1 request parser (src/net/http_parse.c). */
#include "test_util.h"

#include "net/http_parse.h"

#define MAX RT_HTTP_MAX_HEAD_BYTES
#define H11 " HTTP/1.1\r\nHost: x\r\n"

/* ============================================================== helpers */

/* Parses s[0..n) from an exact-size heap copy, so that ASan catches any read
 * past n. Returns the parser's result; *hl is set only on 0. */
static int parse_copy(const char *s, size_t n, size_t max, size_t *hl)
{
    char *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    memcpy(buf, s, n);
    rt_http_request_t req;
    size_t len = 0;
    int rc = rt_http_parse_request(buf, n, max, &req, &len);
    if (rc == 0)
        *hl = len;
    free(buf);
    return rc;
}

/*
 * Feeds every prefix of s (as a reader would see it, byte by byte) and checks
 * that each gives RT_EAGAIN or the final result, that once a prefix gives a
 * result every longer one gives the same, and that a complete head is
 * reported at exactly its length. Returns the whole buffer's result.
 */
static int check_prefixes(const char *s, size_t n, size_t max)
{
    size_t whole_hl = 0, hl = 0;
    int whole = parse_copy(s, n, max, &whole_hl);
    int settled = 0;
    for (size_t k = 0; k < n; k++) {
        int rc = parse_copy(s, k, max, &hl);
        if (rc == RT_EAGAIN) {
            assert_int_equal(settled, 0);
            continue;
        }
        assert_int_equal(rc, whole);
        settled = 1;
        if (rc == 0) {
            assert_int_equal(hl, whole_hl);
            assert_true(k >= whole_hl);
        }
    }
    if (whole == 0) {
        /* The server re-parses exactly the head once it has copied it. */
        assert_int_equal(parse_copy(s, whole_hl, whole_hl, &hl), 0);
        assert_int_equal(hl, whole_hl);
    }
    return whole;
}

/* Asserts the result of parsing the NUL-terminated s, whole and in pieces. */
static void expect_rc(const char *s, int want)
{
    int rc = check_prefixes(s, strlen(s), MAX);
    if (rc != want)
        fail_msg("parse(\"%s\") = %d, want %d", s, rc, want);
}

static void ok(const char *s)
{
    expect_rc(s, 0);
}

static void bad(const char *s)
{
    expect_rc(s, RT_EINVAL);
}

/* Parses s and asserts success; fields of *req point into s. */
static void parse_ok(const char *s, rt_http_request_t *req)
{
    size_t hl = 0;
    ok(s);
    assert_int_equal(rt_http_parse_request(s, strlen(s), MAX, req, &hl), 0);
    assert_int_equal(hl, strlen(s));
}

static void assert_span(const char *p, size_t n, const char *want)
{
    assert_non_null(p);
    if (n != strlen(want) || memcmp(p, want, n) != 0)
        fail_msg("got \"%.*s\", want \"%s\"", (int)n, p, want);
}

/* ========================================================= request line */

static void test_simple_get(void **state)
{
    (void)state;
    rt_http_request_t r;
    parse_ok("GET /v1/apps?limit=10&after=x HTTP/1.1\r\nHost: example.com\r\n"
             "Accept:  */* \t\r\nX-Empty:\r\n\r\n",
             &r);
    assert_int_equal(r.method, RT_HTTP_GET);
    assert_span(r.method_str, r.method_len, "GET");
    assert_span(r.path, r.path_len, "/v1/apps");
    assert_span(r.query, r.query_len, "limit=10&after=x");
    assert_int_equal(r.minor_version, 1);
    assert_int_equal(r.nheaders, 3);
    assert_span(r.headers[0].name, r.headers[0].name_len, "Host");
    assert_span(r.headers[0].value, r.headers[0].value_len, "example.com");
    assert_span(r.headers[1].value, r.headers[1].value_len, "*/*");
    assert_int_equal(r.headers[2].value_len, 0);
    assert_int_equal(r.content_length, -1);
    assert_int_equal(r.chunked, 0);
    assert_int_equal(r.keep_alive, 1);
    assert_int_equal(r.upgrade, 0);
    assert_int_equal(r.expect_continue, 0);
}

static void test_methods(void **state)
{
    (void)state;
    static const struct {
        const char *req;
        rt_http_method_t m;
    } cases[] = {
        {"GET /" H11 "\r\n", RT_HTTP_GET},         {"HEAD /" H11 "\r\n", RT_HTTP_HEAD},
        {"POST /" H11 "\r\n", RT_HTTP_POST},       {"PUT /" H11 "\r\n", RT_HTTP_PUT},
        {"PATCH /" H11 "\r\n", RT_HTTP_PATCH},     {"DELETE /" H11 "\r\n", RT_HTTP_DELETE},
        {"OPTIONS /" H11 "\r\n", RT_HTTP_OPTIONS}, {"get /" H11 "\r\n", RT_HTTP_OTHER},
        {"PURGE /" H11 "\r\n", RT_HTTP_OTHER},     {"GETS /" H11 "\r\n", RT_HTTP_OTHER},
        {"X-M.1~ /" H11 "\r\n", RT_HTTP_OTHER},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        rt_http_request_t r;
        parse_ok(cases[i].req, &r);
        assert_int_equal(r.method, cases[i].m);
    }
    bad(" / HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("GE(T /" H11 "\r\n");
    bad("GET\t/" H11 "\r\n");
    bad("GARBAGE\r\n\r\n");
}

/* Every byte value inside a method, a header name, a target and a value is
 * accepted exactly when the RFC grammar allows it. */
static void test_byte_classes(void **state)
{
    (void)state;
    static const char tchar_extra[] = "!#$%&'*+-.^_`|~";
    for (int b = 0; b < 256; b++) {
        int alnum = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
        int tchar = alnum || (b != 0 && strchr(tchar_extra, b) != NULL);
        int vchar = b > 0x20 && b < 0x7f;
        int field = vchar || b == ' ' || b == '\t' || b >= 0x80;
        char buf[128];
        int n = snprintf(buf, sizeof(buf), "G%cT /" H11 "\r\n", b);
        assert_int_equal(check_prefixes(buf, (size_t)n, MAX), tchar ? 0 : RT_EINVAL);
        n = snprintf(buf, sizeof(buf), "GET /" H11 "X%cY: v\r\n\r\n", b);
        assert_int_equal(check_prefixes(buf, (size_t)n, MAX), tchar || b == ':' ? 0 : RT_EINVAL);
        n = snprintf(buf, sizeof(buf), "GET /a%cb" H11 "\r\n", b);
        assert_int_equal(check_prefixes(buf, (size_t)n, MAX), vchar ? 0 : RT_EINVAL);
        n = snprintf(buf, sizeof(buf), "GET /" H11 "X: a%cb\r\n\r\n", b);
        assert_int_equal(check_prefixes(buf, (size_t)n, MAX), field ? 0 : RT_EINVAL);
    }
}

/* Writes pre, then n bytes of mid, then post into out; returns the length. */
static size_t build(char *out, const char *pre, const char *mid, size_t n, const char *post)
{
    size_t a = strlen(pre), c = strlen(post);
    memcpy(out, pre, a);
    memcpy(out + a, mid, n);
    memcpy(out + a + n, post, c);
    return a + n + c;
}

/* The same classes at every offset of long values and targets, so that the
 * parser's 8-bytes-at-a-time scan meets each byte in every lane. */
static void test_byte_classes_long(void **state)
{
    (void)state;
    static const unsigned char bytes[] = {0x00, 0x01, '\t', '\n', '\r', 0x1f, ' ',
                                          '!',  '?',  '~',  0x7f, 0x80, 0xc3, 0xff};
    for (size_t i = 0; i < sizeof(bytes); i++) {
        unsigned char b = bytes[i];
        int vchar = b > 0x20 && b < 0x7f;
        int field = vchar || b == ' ' || b == '\t' || b >= 0x80;
        for (size_t off = 0; off < 40; off++) {
            char v[40], buf[160];
            memset(v, 'v', sizeof(v));
            v[off] = (char)b;
            rt_http_request_t r;
            size_t hl = 0;
            size_t n = build(buf, "GET /" H11 "X: ", v, 40, "\r\n\r\n");
            assert_int_equal(check_prefixes(buf, n, MAX), field ? 0 : RT_EINVAL);
            if (field) {
                assert_int_equal(rt_http_parse_request(buf, n, MAX, &r, &hl), 0);
                size_t trim = (off == 0 || off == 39) && (b == ' ' || b == '\t');
                assert_int_equal(r.headers[1].value_len, 40 - trim);
                assert_memory_equal(r.headers[1].value, v + (off == 0 ? trim : 0), 40 - trim);
            }
            n = build(buf, "GET /", v, 40, H11 "\r\n");
            assert_int_equal(check_prefixes(buf, n, MAX), vchar ? 0 : RT_EINVAL);
            if (vchar) {
                assert_int_equal(rt_http_parse_request(buf, n, MAX, &r, &hl), 0);
                assert_int_equal(r.path_len, b == '?' ? off + 1 : 41);
                if (b == '?')
                    assert_int_equal(r.query_len, 39 - off);
                else
                    assert_null(r.query);
            }
        }
    }
}

static void test_spacing(void **state)
{
    (void)state;
    bad("GET  / HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("GET /  HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("GET / HTTP/1.1 \r\nHost: x\r\n\r\n");
    bad("GET /\r\n\r\n");
    bad("GET / \r\nHost: x\r\n\r\n");
    bad("GET\r\n\r\n");
    bad(" GET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void test_target(void **state)
{
    (void)state;
    rt_http_request_t r;
    parse_ok("GET /" H11 "\r\n", &r);
    assert_span(r.path, r.path_len, "/");
    assert_null(r.query);
    assert_int_equal(r.query_len, 0);
    parse_ok("GET /a?" H11 "\r\n", &r);
    assert_span(r.path, r.path_len, "/a");
    assert_non_null(r.query);
    assert_int_equal(r.query_len, 0);
    parse_ok("GET /a%20b?x=1?y=/2 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_span(r.path, r.path_len, "/a%20b");
    assert_span(r.query, r.query_len, "x=1?y=/2");
    parse_ok("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_span(r.path, r.path_len, "*");
    assert_null(r.query);
    bad("GET * HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("OPTIONS *x HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("OPTIONS */ HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("GET a/b HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n");
    bad("GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void test_version(void **state)
{
    (void)state;
    rt_http_request_t r;
    parse_ok("GET / HTTP/1.0\r\n\r\n", &r);
    assert_int_equal(r.minor_version, 0);
    assert_int_equal(r.keep_alive, 0);
    parse_ok("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.minor_version, 1);
    expect_rc("GET / HTTP/2.0\r\nHost: x\r\n\r\n", RT_EVERSION);
    expect_rc("GET / HTTP/1.2\r\nHost: x\r\n\r\n", RT_EVERSION);
    expect_rc("GET / HTTP/0.9\r\n\r\n", RT_EVERSION);
    expect_rc("GET / HTTP/3.1\r\n", RT_EVERSION);
    bad("GET / HTTX/1.1\r\nHost: x\r\n\r\n");
    bad("GET / http/1.1\r\nHost: x\r\n\r\n");
    bad("GET / HTTP/1.1x\r\nHost: x\r\n\r\n");
    bad("GET / HTTP/1.10\r\nHost: x\r\n\r\n");
    bad("GET / HTTP/11\r\nHost: x\r\n\r\n");
    bad("GET / HTTP/1\r\nHost: x\r\n\r\n");
    bad("GET / HTTP/a.1\r\nHost: x\r\n\r\n");
    bad("GET / HTTP/1,1\r\nHost: x\r\n\r\n");
}

static void test_line_endings(void **state)
{
    (void)state;
    bad("GET / HTTP/1.1\nHost: x\r\n\r\n");
    bad("GET / HTTP/1.1\r\nHost: x\n\r\n");
    bad("GET / HTTP/1.1\r\nHost: x\r\n\n");
    bad("GET / HTTP/1.1\rHost: x\r\n\r\n");
    bad("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n");
    bad("GET / HTTP/1.1\r\nHost: x\r\n\r\r\n");
    bad("GET / HTTP/1.1\r\r\nHost: x\r\n\r\n");
    expect_rc("GET / HTTP/1.1\r\nHost: x\r\n\r", RT_EAGAIN);
}

static void test_leading_empty_lines(void **state)
{
    (void)state;
    const char *s = "\r\n\r\nGET /" H11 "\r\nNEXT";
    rt_http_request_t r;
    size_t hl = 0;
    assert_int_equal(rt_http_parse_request(s, strlen(s), MAX, &r, &hl), 0);
    assert_int_equal(hl, strlen(s) - 4);
    assert_span(r.method_str, r.method_len, "GET");
    ok("\r\nGET /" H11 "\r\n");
    bad("\nGET /" H11 "\r\n");
    bad("\r\rGET /" H11 "\r\n");
    expect_rc("\r\n\r\n", RT_EAGAIN);
}

/* ============================================================== headers */

static void test_header_syntax(void **state)
{
    (void)state;
    rt_http_request_t r;
    parse_ok("GET /" H11 "A:b\r\nB: \t c d \t \r\nC: \xff\x80 obs\r\n\r\n", &r);
    assert_span(r.headers[1].value, r.headers[1].value_len, "b");
    assert_span(r.headers[2].value, r.headers[2].value_len, "c d");
    assert_span(r.headers[3].value, r.headers[3].value_len, "\xff\x80 obs");
    bad("GET /" H11 "Bad Header: y\r\n\r\n");
    bad("GET /" H11 "X : y\r\n\r\n");
    bad("GET /" H11 "X\t: y\r\n\r\n");
    bad("GET /" H11 ": y\r\n\r\n");
    bad("GET /" H11 "NoColon\r\n\r\n");
    bad("GET /" H11 "X: a\r\n folded\r\n\r\n");
    bad("GET /" H11 "X: a\r\n\tfolded\r\n\r\n");
    bad("GET / HTTP/1.1\r\n Host: x\r\n\r\n");
    bad("GET /" H11 "X: a\x7f"
        "b\r\n\r\n");
    bad("GET /" H11 "X(Y): z\r\n\r\n");
    const char nul[] = "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n";
    assert_int_equal(check_prefixes(nul, sizeof(nul) - 1, MAX), RT_EINVAL);
}

static void test_header_find(void **state)
{
    (void)state;
    rt_http_request_t r;
    parse_ok("GET /" H11 "X-Thing: 1\r\nx-thing: 2\r\nAuthorization: Bearer k\r\n\r\n", &r);
    const rt_http_header_t *h = rt_http_header_find(&r, "x-THING");
    assert_non_null(h);
    assert_span(h->value, h->value_len, "1");
    h = rt_http_header_find(&r, "authorization");
    assert_non_null(h);
    assert_span(h->value, h->value_len, "Bearer k");
    assert_null(rt_http_header_find(&r, "x-thin"));
    assert_null(rt_http_header_find(&r, "x-things"));
    assert_null(rt_http_header_find(&r, "missing"));
}

/* A request with Host plus n-1 more headers, in a caller-freed buffer. */
static char *many_headers(size_t n)
{
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_str(&b, "GET /" H11);
    for (size_t i = 1; i < n; i++)
        rt_buf_appendf(&b, "X-%zu: y\r\n", i);
    rt_buf_append_str(&b, "\r\n");
    size_t len;
    return rt_buf_steal(&b, &len);
}

static void test_limits(void **state)
{
    (void)state;
    char *s = many_headers(RT_HTTP_MAX_HEADERS);
    rt_http_request_t r;
    size_t hl = 0;
    assert_int_equal(check_prefixes(s, strlen(s), MAX), 0);
    assert_int_equal(rt_http_parse_request(s, strlen(s), MAX, &r, &hl), 0);
    assert_int_equal(r.nheaders, RT_HTTP_MAX_HEADERS);
    rt_free(s);
    s = many_headers(RT_HTTP_MAX_HEADERS + 1);
    assert_int_equal(check_prefixes(s, strlen(s), MAX), RT_ETOOBIG);
    rt_free(s);

    /* A head of exactly max_head bytes fits; one byte less does not. */
    const char *g = "GET /" H11 "X: 12345\r\n\r\n";
    size_t n = strlen(g);
    assert_int_equal(check_prefixes(g, n, n), 0);
    assert_int_equal(check_prefixes(g, n, n - 1), RT_ETOOBIG);
    assert_int_equal(parse_copy(g, n - 1, n, &hl), RT_EAGAIN);
    assert_int_equal(parse_copy(g, n - 1, n - 1, &hl), RT_ETOOBIG);
    /* The cap applies to the head, not to what follows it. */
    const char *body = "POST /" H11 "Content-Length: 20\r\n\r\n01234567890123456789";
    assert_int_equal(check_prefixes(body, strlen(body), strlen(body) - 20), 0);

    /* One long header value: over the default cap even with more to come. */
    char *big = calloc(1, MAX + 64);
    assert_non_null(big);
    memcpy(big, "GET / HTTP/1.1\r\nHost: x\r\nX: ", 28);
    memset(big + 28, 'a', MAX + 64 - 29);
    assert_int_equal(parse_copy(big, MAX - 1, MAX, &hl), RT_EAGAIN);
    assert_int_equal(parse_copy(big, MAX, MAX, &hl), RT_ETOOBIG);
    assert_int_equal(parse_copy(big, MAX + 63, MAX, &hl), RT_ETOOBIG);
    free(big);
}

/* ============================================================== framing */

static void test_content_length(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int64_t want;
    } good[] = {
        {"5", 5},    {"0", 0},        {"007", 7},
        {"5, 5", 5}, {"5,5 ,  5", 5}, {"4611686018427387904", RT_HTTP_MAX_CONTENT_LENGTH_BYTES},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(good); i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "POST /" H11 "Content-Length: %s\r\n\r\n", good[i].value);
        rt_http_request_t r;
        parse_ok(buf, &r);
        assert_int_equal(r.content_length, good[i].want);
        assert_int_equal(r.chunked, 0);
    }
    static const char *const wrong[] = {
        "",
        "+5",
        "-1",
        "5a",
        "0x5",
        "5 5",
        "5,",
        ",5",
        "5,,5",
        "5, 6",
        "5.",
        "1e3",
        "\t",
        "\xef\xbc\x95",
        "4611686018427387905",
        "99999999999999999999999999",
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(wrong); i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "POST /" H11 "Content-Length: %s\r\n\r\n", wrong[i]);
        bad(buf);
    }
    rt_http_request_t r;
    parse_ok("POST /" H11 "Content-Length: 3\r\ncontent-length: 3\r\n\r\n", &r);
    assert_int_equal(r.content_length, 3);
    bad("POST /" H11 "Content-Length: 3\r\nContent-Length: 4\r\n\r\n");
    bad("POST /" H11 "Content-Length: 3\r\nContent-Length: 3, 4\r\n\r\n");
    bad("POST /" H11 "Content-Length: 3\r\nContent-Length:\r\n\r\n");
}

static void test_transfer_encoding(void **state)
{
    (void)state;
    rt_http_request_t r;
    parse_ok("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n", &r);
    assert_int_equal(r.chunked, 1);
    assert_int_equal(r.content_length, -1);
    parse_ok("POST /" H11 "transfer-encoding:  Chunked \r\n\r\n", &r);
    assert_int_equal(r.chunked, 1);
    bad("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n");
    bad("POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n");
    bad("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n");
    bad("POST /" H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
    bad("POST /" H11 "Transfer-Encoding: identity\r\n\r\n");
    bad("POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n");
    bad("POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n");
    bad("POST /" H11 "Transfer-Encoding:\r\n\r\n");
    bad("POST /" H11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
    bad("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
    bad("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
}

static void test_host(void **state)
{
    (void)state;
    ok("GET / HTTP/1.0\r\n\r\n");
    ok("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
    ok("GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n");
    ok("GET / HTTP/1.1\r\nHost:\r\n\r\n");
    ok("GET / HTTP/1.1\r\nX: y\r\nhOsT: a-b.example_~%41\r\n\r\n");
    bad("GET / HTTP/1.1\r\n\r\n");
    bad("GET / HTTP/1.1\r\nX: y\r\n\r\n");
    bad("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n");
    bad("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n");
    bad("GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
    bad("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n");
    bad("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n");
    bad("GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n");
}

static void test_connection(void **state)
{
    (void)state;
    rt_http_request_t r;
    parse_ok("GET /" H11 "Connection: close\r\n\r\n", &r);
    assert_int_equal(r.keep_alive, 0);
    parse_ok("GET /" H11 "Connection: Keep-Alive, CLOSE\r\n\r\n", &r);
    assert_int_equal(r.keep_alive, 0);
    parse_ok("GET /" H11 "Connection: keep-alive\r\n\r\n", &r);
    assert_int_equal(r.keep_alive, 1);
    parse_ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r);
    assert_int_equal(r.keep_alive, 1);
    parse_ok("GET / HTTP/1.0\r\nConnection: foo,,keep-alive , close\r\n\r\n", &r);
    assert_int_equal(r.keep_alive, 0);
    parse_ok("GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", &r);
    assert_int_equal(r.keep_alive, 0);

    parse_ok("GET /" H11 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", &r);
    assert_int_equal(r.upgrade, 1);
    assert_int_equal(r.keep_alive, 1);
    parse_ok("GET /" H11 "Connection: keep-alive\r\nUpgrade: websocket\r\n"
             "Connection: upgrade\r\n\r\n",
             &r);
    assert_int_equal(r.upgrade, 1);
    parse_ok("GET /" H11 "Upgrade: websocket\r\n\r\n", &r);
    assert_int_equal(r.upgrade, 0);
    parse_ok("GET /" H11 "Connection: upgrade\r\n\r\n", &r);
    assert_int_equal(r.upgrade, 0);
    parse_ok("GET /" H11 "Connection: upgrade\r\nUpgrade:\r\n\r\n", &r);
    assert_int_equal(r.upgrade, 0);
    parse_ok("GET /" H11 "Connection: upgrade\r\nUpgrade: websocket\r\nUpgrade:\r\n\r\n", &r);
    assert_int_equal(r.upgrade, 1);
    parse_ok("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", &r);
    assert_int_equal(r.upgrade, 0);
}

static void test_expect(void **state)
{
    (void)state;
    rt_http_request_t r;
    parse_ok("POST /" H11 "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n", &r);
    assert_int_equal(r.expect_continue, 1);
    parse_ok("POST /" H11 "Expect: 100-Continue\r\n\r\n", &r);
    assert_int_equal(r.expect_continue, 1);
    parse_ok("POST /" H11 "Expect: 200-ok\r\n\r\n", &r);
    assert_int_equal(r.expect_continue, 0);
    parse_ok("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &r);
    assert_int_equal(r.expect_continue, 0);
}

static void test_pipelined(void **state)
{
    (void)state;
    const char *s = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                    "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                    "\r\nDELETE /c?d HTTP/1.0\r\n\r\n";
    const char *want[] = {"/a", "/b", "/c"};
    size_t off = 0, len = strlen(s);
    for (size_t i = 0; i < RT_ARRAY_LEN(want); i++) {
        rt_http_request_t r;
        size_t hl = 0;
        assert_int_equal(rt_http_parse_request(s + off, len - off, MAX, &r, &hl), 0);
        assert_span(r.path, r.path_len, want[i]);
        off += hl + (r.content_length > 0 ? (size_t)r.content_length : 0);
    }
    assert_int_equal(off, len);
}

static void test_untouched_on_failure(void **state)
{
    (void)state;
    rt_http_request_t r;
    memset(&r, 0x5a, sizeof(r));
    size_t hl = 77;
    const char *s = "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    assert_int_equal(rt_http_parse_request(s, strlen(s), MAX, &r, &hl), RT_EINVAL);
    assert_int_equal(hl, 77);
    const unsigned char *p = (const unsigned char *)&r;
    for (size_t i = 0; i < sizeof(r); i++)
        assert_int_equal(p[i], 0x5a);
}

/* ============================================================== chunked */

/* Decodes s in one call; returns the result, output in *out (caller frees). */
static int chunked_whole(const char *s, size_t n, char **out, size_t *out_len, size_t *consumed)
{
    rt_http_chunked_t c;
    rt_http_chunked_init(&c);
    char *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    memcpy(buf, s, n);
    size_t used = 0, dec = 0;
    int rc = rt_http_chunked_decode(&c, buf, n, &used, &dec);
    *out = buf;
    *out_len = rc == RT_EINVAL ? 0 : dec;
    *consumed = rc == RT_EINVAL ? 0 : used;
    if (rc == RT_EAGAIN)
        assert_int_equal(used, n);
    return rc;
}

/*
 * Feeds s as the server does: input arrives in pieces of at most `step`
 * bytes after a first piece of `first` bytes; unconsumed bytes are kept and
 * the next piece appended. Returns the final result; decoded output is
 * appended to out and the total consumed stored in *consumed.
 */
static int chunked_pieces(const char *s, size_t n, size_t first, size_t step, rt_buf_t *out,
                          size_t *consumed)
{
    rt_http_chunked_t c;
    rt_http_chunked_init(&c);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    size_t have = 0, fed = 0, total = 0, piece = first;
    int rc = RT_EAGAIN;
    while (rc == RT_EAGAIN && fed < n) {
        size_t take = RT_MIN(n - fed, piece);
        piece = step;
        memcpy(buf + have, s + fed, take);
        have += take;
        fed += take;
        size_t used = 0, dec = 0;
        rc = rt_http_chunked_decode(&c, buf, have, &used, &dec);
        if (rc == RT_EINVAL)
            break;
        assert_true(dec <= used && used <= have);
        rt_buf_append(out, buf, dec);
        memmove(buf, buf + used, have - used);
        have -= used;
        total += used;
    }
    free(buf);
    *consumed = total;
    return rc;
}

/* Checks that s decodes to want with result want_rc whole, split at every
 * byte boundary, and fed one byte at a time. */
static void expect_chunked(const char *s, size_t n, int want_rc, const char *want, size_t want_n)
{
    char *out;
    size_t out_len, consumed;
    int rc = chunked_whole(s, n, &out, &out_len, &consumed);
    if (rc != want_rc)
        fail_msg("chunked(\"%.*s\") = %d, want %d", (int)n, s, rc, want_rc);
    if (rc != RT_EINVAL) {
        assert_int_equal(out_len, want_n);
        assert_memory_equal(out, want, want_n);
    }
    free(out);
    for (size_t split = 0; split <= n + 1; split++) {
        rt_buf_t got;
        rt_buf_init(&got);
        size_t used;
        int prc = split <= n ? chunked_pieces(s, n, split, n, &got, &used)
                             : chunked_pieces(s, n, 1, 1, &got, &used);
        assert_int_equal(prc, rc);
        if (rc != RT_EINVAL) {
            assert_int_equal(got.len, want_n);
            assert_memory_equal(got.data ? got.data : "", want, want_n);
            assert_int_equal(used, consumed);
        }
        rt_buf_close(&got);
    }
}

static void chunked_ok(const char *s, const char *want)
{
    expect_chunked(s, strlen(s), 0, want, strlen(want));
}

static void chunked_bad(const char *s)
{
    expect_chunked(s, strlen(s), RT_EINVAL, "", 0);
}

static void test_chunked_basic(void **state)
{
    (void)state;
    chunked_ok("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
    chunked_ok("0\r\n\r\n", "");
    chunked_ok("000\r\n\r\n", "");
    chunked_ok("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij");
    const char nul[] = "1\r\n\0\r\n0\r\n\r\n";
    expect_chunked(nul, sizeof(nul) - 1, 0, "\0", 1);
    expect_chunked("5\r\nhel", 6, RT_EAGAIN, "hel", 3);
    expect_chunked("5\r\nhello\r\n0\r\n", 13, RT_EAGAIN, "hello", 5);
}

static void test_chunked_stops_at_end(void **state)
{
    (void)state;
    const char *s = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    char *out;
    size_t out_len, consumed;
    assert_int_equal(chunked_whole(s, strlen(s), &out, &out_len, &consumed), 0);
    assert_int_equal(consumed, 13);
    assert_int_equal(out_len, 3);
    assert_memory_equal(out, "abc", 3);
    free(out);

    /* Once done, nothing more is consumed; once failed, it stays failed. */
    rt_http_chunked_t c;
    rt_http_chunked_init(&c);
    char buf[64];
    memcpy(buf, "0\r\n\r\nxyz", 8);
    size_t used = 99, dec = 99;
    assert_int_equal(rt_http_chunked_decode(&c, buf, 8, &used, &dec), 0);
    assert_int_equal(used, 5);
    assert_int_equal(dec, 0);
    assert_int_equal(rt_http_chunked_decode(&c, buf + 5, 3, &used, &dec), 0);
    assert_int_equal(used, 0);
    rt_http_chunked_init(&c);
    memcpy(buf, "z\r\n", 3);
    used = dec = 99;
    assert_int_equal(rt_http_chunked_decode(&c, buf, 3, &used, &dec), RT_EINVAL);
    assert_int_equal(used, 99);
    memcpy(buf, "0\r\n\r\n", 5);
    assert_int_equal(rt_http_chunked_decode(&c, buf, 5, &used, &dec), RT_EINVAL);
}

static void test_chunked_extensions(void **state)
{
    (void)state;
    chunked_ok("5;a\r\nhello\r\n0\r\n\r\n", "hello");
    chunked_ok("5 ; a = b ;c;d=\"q\\\"x;\\\\\"\r\nhello\r\n0;last=1\r\n\r\n", "hello");
    chunked_ok("5;a=\"\"\r\nhello\r\n0\r\n\r\n", "hello");
    chunked_ok("5;a=\"\t \xff\"\r\nhello\r\n0\r\n\r\n", "hello");
    chunked_ok("5;a=b ;c\r\nhello\r\n0\r\n\r\n", "hello");
    chunked_bad("5;\r\nhello\r\n0\r\n\r\n");
    chunked_bad("5;a=\r\nhello\r\n0\r\n\r\n");
    chunked_bad("5 \r\nhello\r\n0\r\n\r\n");
    chunked_bad("5;a \r\nhello\r\n0\r\n\r\n");
    chunked_bad("5;a=b \r\nhello\r\n0\r\n\r\n");
    chunked_bad("5;a b\r\nhello\r\n0\r\n\r\n");
    chunked_bad("5;a=\"x\r\nhello\r\n0\r\n\r\n");
    chunked_bad("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n");
    chunked_bad("5;a=(b)\r\nhello\r\n0\r\n\r\n");
    chunked_bad("5;a\nhello\r\n0\r\n\r\n");
    chunked_bad("5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n");
}

static void test_chunked_trailers(void **state)
{
    (void)state;
    chunked_ok("5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\nZ:  a b \r\n\r\n", "hello");
    chunked_bad("5\r\nhello\r\n0\r\nX-Sum: 1\r\n folded\r\n\r\n");
    chunked_bad("5\r\nhello\r\n0\r\nBad Name: 1\r\n\r\n");
    chunked_bad("5\r\nhello\r\n0\r\n: 1\r\n\r\n");
    chunked_bad("5\r\nhello\r\n0\r\nNoColon\r\n\r\n");
    chunked_bad("5\r\nhello\r\n0\r\nX: a\x01\r\n\r\n");
    chunked_bad("5\r\nhello\r\n0\r\nX: a\n\r\n");
    chunked_bad("5\r\nhello\r\n0\r\n\rx");
    chunked_bad("5\r\nhello\r\n0\r\n\n");
}

static void test_chunked_malformed(void **state)
{
    (void)state;
    chunked_bad("\r\nhello\r\n0\r\n\r\n");
    chunked_bad("g\r\nhello\r\n0\r\n\r\n");
    chunked_bad("-5\r\nhello\r\n0\r\n\r\n");
    chunked_bad("0x5\r\nhello\r\n0\r\n\r\n");
    chunked_bad(" 5\r\nhello\r\n0\r\n\r\n");
    chunked_bad("5\nhello\r\n0\r\n\r\n");
    chunked_bad("5\rhello\r\n0\r\n\r\n");
    chunked_bad("5\r\nhelloX\r\n0\r\n\r\n");
    chunked_bad("5\r\nhello\n0\r\n\r\n");
    chunked_bad("5\r\nhello\r0\r\n\r\n");
    chunked_bad("5\r\nhell\r\n0\r\n\r\n");
    chunked_bad("5\r\nhello\r\n\r\n");
}

static void test_chunked_overflow(void **state)
{
    (void)state;
    expect_chunked("4000000000000000\r\nab", 20, RT_EAGAIN, "ab", 2);
    chunked_bad("4000000000000001\r\n");
    chunked_bad("10000000000000000\r\n");
    chunked_bad("FFFFFFFFFFFFFFFFFFFFFFFF\r\n");
    chunked_ok("00000000000000000000000000000000001\r\nx\r\n0\r\n\r\n", "x");
}

/* Decodes "1;a=xxx..\r\nz\r\n0\r\nT: yyy..\r\n" + trailers + "\r\n", whose size
 * line and first trailer line have the given lengths without CRLF. */
static int chunked_lines(size_t size_line, size_t trailer_line, size_t more_trailers)
{
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_str(&b, "1;a=");
    for (size_t i = 4; i < size_line; i++)
        rt_buf_append_str(&b, "x");
    rt_buf_append_str(&b, "\r\nz\r\n0\r\nT: ");
    for (size_t i = 3; i < trailer_line; i++)
        rt_buf_append_str(&b, "y");
    rt_buf_append_str(&b, "\r\n");
    for (size_t i = 0; i < more_trailers; i++)
        rt_buf_append_str(&b, "T: abc\r\n");
    rt_buf_append_str(&b, "\r\n");
    char *out;
    size_t out_len, consumed;
    int rc = chunked_whole(b.data, b.len, &out, &out_len, &consumed);
    if (rc == 0) {
        assert_int_equal(consumed, b.len);
        assert_int_equal(out_len, 1);
        assert_int_equal(out[0], 'z');
    }
    free(out);
    rt_buf_close(&b);
    return rc;
}

static void test_chunked_line_limits(void **state)
{
    (void)state;
    const size_t max = RT_HTTP_MAX_CHUNK_LINE_BYTES;
    assert_int_equal(chunked_lines(max, 8, 0), 0);
    assert_int_equal(chunked_lines(max + 1, 8, 0), RT_EINVAL);
    assert_int_equal(chunked_lines(8, max, 0), 0);
    assert_int_equal(chunked_lines(8, max + 1, 0), RT_EINVAL);
    /* The trailer section as a whole is capped too: 8 bytes a line here, and
     * the first line and the final CRLF make 10 + 2 more. */
    size_t fit = (RT_HTTP_MAX_TRAILER_BYTES - 12) / 8;
    assert_int_equal(chunked_lines(8, 8, fit), 0);
    assert_int_equal(chunked_lines(8, 8, fit + 1), RT_EINVAL);
}

/* ================================================================ query */

static void test_query_get(void **state)
{
    (void)state;
    const char *q = "a=1&token=abc%2Fdef&flag&sp=a+b%20c&to%6Ben2=x&t=1&t=2&nul=%00z";
    size_t ql = strlen(q), n = 0;
    char out[32];
    assert_int_equal(rt_http_query_get(q, ql, "token", out, sizeof(out), &n), 0);
    assert_string_equal(out, "abc/def");
    assert_int_equal(n, 7);
    assert_int_equal(rt_http_query_get(q, ql, "flag", out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    assert_int_equal(rt_http_query_get(q, ql, "sp", out, sizeof(out), &n), 0);
    assert_string_equal(out, "a b c");
    assert_int_equal(rt_http_query_get(q, ql, "token2", out, sizeof(out), &n), 0);
    assert_string_equal(out, "x");
    assert_int_equal(rt_http_query_get(q, ql, "t", out, sizeof(out), &n), 0);
    assert_string_equal(out, "1");
    assert_int_equal(rt_http_query_get(q, ql, "nul", out, sizeof(out), &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(strlen(out), 0);
    assert_int_equal(rt_http_query_get(q, ql, "tok", out, sizeof(out), &n), RT_ENOENT);
    assert_int_equal(rt_http_query_get(q, ql, "tokens", out, sizeof(out), &n), RT_ENOENT);
    assert_int_equal(rt_http_query_get(q, ql, "A", out, sizeof(out), &n), RT_ENOENT);
    assert_int_equal(rt_http_query_get(NULL, 0, "a", out, sizeof(out), &n), RT_ENOENT);
    assert_int_equal(rt_http_query_get("&&", 2, "a", out, sizeof(out), &n), RT_ENOENT);
    /* Only the found value's escapes matter; a bad key never matches. */
    const char *b = "x=%zz&%zz=1&t=%4&u=%&v=%4g&w=ok";
    size_t bl = strlen(b);
    assert_int_equal(rt_http_query_get(b, bl, "w", out, sizeof(out), &n), 0);
    assert_string_equal(out, "ok");
    memset(out, 'Z', sizeof(out));
    n = 99;
    assert_int_equal(rt_http_query_get(b, bl, "x", out, sizeof(out), &n), RT_EINVAL);
    assert_int_equal(rt_http_query_get(b, bl, "t", out, sizeof(out), &n), RT_EINVAL);
    assert_int_equal(rt_http_query_get(b, bl, "u", out, sizeof(out), &n), RT_EINVAL);
    assert_int_equal(rt_http_query_get(b, bl, "v", out, sizeof(out), &n), RT_EINVAL);
    assert_int_equal(rt_http_query_get("k=abc", 5, "k", out, 3, &n), RT_ETOOBIG);
    assert_int_equal(n, 99);
    assert_int_equal(out[0], 'Z');
    assert_int_equal(rt_http_query_get("k=abc", 5, "k", out, 4, &n), 0);
    assert_string_equal(out, "abc");
    /* The query length bounds the scan, not a NUL. */
    assert_int_equal(rt_http_query_get("k=abcdef", 4, "k", out, sizeof(out), &n), 0);
    assert_string_equal(out, "ab");
}

static void test_pct_decode(void **state)
{
    (void)state;
    char out[16];
    size_t n = 0;
    assert_int_equal(rt_http_pct_decode("a%2Fb", 5, out, sizeof(out), &n), 0);
    assert_string_equal(out, "a/b");
    assert_int_equal(rt_http_pct_decode("a%2fb+c", 7, out, sizeof(out), &n), 0);
    assert_string_equal(out, "a/b+c");
    assert_int_equal(rt_http_pct_decode("%41%42", 6, out, sizeof(out), &n), 0);
    assert_string_equal(out, "AB");
    assert_int_equal(n, 2);
    assert_int_equal(rt_http_pct_decode("", 0, out, 1, &n), 0);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    assert_int_equal(rt_http_pct_decode("%G1", 3, out, sizeof(out), &n), RT_EINVAL);
    assert_int_equal(rt_http_pct_decode("%1", 2, out, sizeof(out), &n), RT_EINVAL);
    assert_int_equal(rt_http_pct_decode("%", 1, out, sizeof(out), &n), RT_EINVAL);
    assert_int_equal(rt_http_pct_decode("ab%4", 4, out, sizeof(out), &n), RT_EINVAL);
    assert_int_equal(rt_http_pct_decode("%414", 3, out, sizeof(out), &n), 0);
    assert_string_equal(out, "A");
    assert_int_equal(rt_http_pct_decode("abcd", 4, out, 4, &n), RT_ETOOBIG);
    assert_int_equal(rt_http_pct_decode("%41%41%41", 9, out, 4, &n), 0);
    assert_int_equal(rt_http_pct_decode("", 0, NULL, 0, &n), RT_ETOOBIG);
}

static void test_status_text(void **state)
{
    (void)state;
    assert_string_equal(rt_http_status_text(200), "OK");
    assert_string_equal(rt_http_status_text(201), "Created");
    assert_string_equal(rt_http_status_text(101), "Switching Protocols");
    assert_string_equal(rt_http_status_text(404), "Not Found");
    assert_string_equal(rt_http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(rt_http_status_text(505), "HTTP Version Not Supported");
    assert_string_equal(rt_http_status_text(299), "Unknown");
    assert_string_equal(rt_http_status_text(-1), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_byte_classes),
        cmocka_unit_test(test_byte_classes_long),
        cmocka_unit_test(test_spacing),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_leading_empty_lines),
        cmocka_unit_test(test_header_syntax),
        cmocka_unit_test(test_header_find),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_connection),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_untouched_on_failure),
        cmocka_unit_test(test_chunked_basic),
        cmocka_unit_test(test_chunked_stops_at_end),
        cmocka_unit_test(test_chunked_extensions),
        cmocka_unit_test(test_chunked_trailers),
        cmocka_unit_test(test_chunked_malformed),
        cmocka_unit_test(test_chunked_overflow),
        cmocka_unit_test(test_chunked_line_limits),
        cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
