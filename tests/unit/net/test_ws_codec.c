/* Unit tests of src/net/ws_codec.c: the RFC 6455 §1.3 handshake example and
 * the §5.7 example frames, every protocol rule of the decoder with its close
 * code, fragmentation with interleaved control frames, streams split at
 * every byte boundary, 16- and 64-bit lengths, the message cap, UTF-8
 * validation against core's validator, masking, close payloads and the
 * subprotocol list. */
#include "test_util.h"

#include "net/ws_codec.h"

static const uint8_t key37[4] = {0x37, 0xfa, 0x21, 0x3d}; /* the mask key of RFC 6455 §5.7 */

/* Fails with the table row when cond does not hold. */
#define ROW_CHECK(cond, row)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("row %zu: %s", (size_t)(row), #cond);                                         \
    } while (0)

/* Appends a masked client frame of payload p[0..n) to out; returns its size. */
static size_t cframe(uint8_t *out, uint8_t op, int fin, const void *p, size_t n)
{
    size_t h = rt_ws_client_frame_header(out, op, fin, n, key37);
    if (n > 0)
        memcpy(out + h, p, n);
    rt_ws_mask(out + h, n, key37, 0);
    return h + n;
}

/* Decodes buf[0..len) once; returns the result code. */
static int decode1(rt_ws_decoder_t *d, uint8_t *buf, size_t len, size_t *used, rt_ws_msg_t *m,
                   uint16_t *code)
{
    *used = SIZE_MAX;
    return rt_ws_decode(d, buf, len, used, m, code);
}

/* Decodes one buffer holding exactly one frame on a fresh server decoder
 * with cap max; returns 0 or the close code. */
static unsigned decode_code(uint8_t *buf, size_t len, size_t max, int require_mask)
{
    rt_ws_decoder_t d;
    rt_ws_msg_t m;
    size_t used;
    uint16_t code = 0;
    rt_ws_decoder_init(&d, max, require_mask);
    int rc = decode1(&d, buf, len, &used, &m, &code);
    rt_ws_decoder_close(&d);
    if (rc == RT_EPROTO)
        return code;
    assert_int_equal(rc, 0);
    assert_int_equal(used, len);
    return 0;
}

/* ============================================================ handshake */

static void test_accept_key_rfc_example(void **state)
{
    (void)state;
    char out[29];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ=="; /* RFC 6455 §1.3 */
    assert_int_equal(rt_ws_accept_key(key, strlen(key), out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const char *padded = " \tdGhlIHNhbXBsZSBub25jZQ== ";
    memset(out, 0, sizeof(out));
    assert_int_equal(rt_ws_accept_key(padded, strlen(padded), out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_accept_key_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",    /* 23 chars */
        "dGhlIHNhbXBsZSBub25jZQ===",  /* 25 chars */
        "dGhlIHNhbXBsZSBub25jZQ",     /* no padding */
        "dGhlIHNhbXBsZSBub25jZXk=",   /* 17 bytes */
        "dGhlIHNhbXBsZSBub25j",       /* 15 bytes */
        "dGhlIHNhbXBsZSBub25jZ.==",   /* not base64 */
        "dGhlIHNhbXBs ZSBub25jZQ==",  /* inner space */
        "dGhlIHNhbXBsZSBub25jZQ==AA", /* trailing junk */
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(bad); i++) {
        char out[29] = "untouched";
        ROW_CHECK(rt_ws_accept_key(bad[i], strlen(bad[i]), out) == RT_EINVAL, i);
        ROW_CHECK(strcmp(out, "untouched") == 0, i);
    }
}

static void test_protocol_offered(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int want;
    } cases[] = {
        {"realtime.v1", 1},
        {"chat, realtime.v1", 1},
        {" a ,\trealtime.v1 ", 1},
        {"realtime.v1,", 1},
        {"realtime.v10", 0},
        {"Realtime.v1", 0},
        {"realtime", 0},
        {"", 0},
        {",,", 0},
        {"x realtime.v1", 0},
        {"realtime.v1;q=1", 0},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        const char *v = cases[i].value;
        ROW_CHECK(rt_ws_protocol_offered(v, strlen(v), "realtime.v1") == cases[i].want, i);
    }
    assert_int_equal(rt_ws_protocol_offered("a,,b", 4, ""), 0);
    /* Only value[0..len) is read. */
    assert_int_equal(rt_ws_protocol_offered("chat,realtime.v1", 4, "realtime.v1"), 0);
}

/* ======================================================= §5.7 examples */

static void test_rfc_examples_unmasked(void **state)
{
    (void)state;
    rt_ws_decoder_t d;
    rt_ws_msg_t m;
    size_t used;
    uint16_t code;
    rt_ws_decoder_init(&d, 0, 0);
    /* A single-frame unmasked text message. */
    uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    assert_int_equal(decode1(&d, hello, sizeof(hello), &used, &m, &code), 0);
    assert_int_equal(used, 7);
    assert_int_equal(m.opcode, RT_WS_OP_TEXT);
    assert_ptr_equal(m.data, hello + 2); /* zero-copy */
    assert_memory_equal(m.data, "Hello", 5);
    /* A fragmented unmasked text message. */
    uint8_t frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    assert_int_equal(decode1(&d, frag, 5, &used, &m, &code), RT_EAGAIN);
    assert_int_equal(used, 5); /* the first fragment was absorbed */
    assert_int_equal(decode1(&d, frag + 5, 4, &used, &m, &code), 0);
    assert_int_equal(used, 4);
    assert_int_equal(m.opcode, RT_WS_OP_TEXT);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "Hello", 5);
    /* Unmasked Ping. */
    uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    assert_int_equal(decode1(&d, ping, sizeof(ping), &used, &m, &code), 0);
    assert_int_equal(m.opcode, RT_WS_OP_PING);
    assert_memory_equal(m.data, "Hello", 5);
    rt_ws_decoder_close(&d);
}

static void test_rfc_examples_masked(void **state)
{
    (void)state;
    rt_ws_decoder_t d;
    rt_ws_msg_t m;
    size_t used;
    uint16_t code;
    rt_ws_decoder_init(&d, 0, 1);
    /* A single-frame masked text message, then a masked Pong. */
    uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
                    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_int_equal(decode1(&d, in, sizeof(in), &used, &m, &code), 0);
    assert_int_equal(used, 11);
    assert_int_equal(m.opcode, RT_WS_OP_TEXT);
    assert_ptr_equal(m.data, in + 6);
    assert_memory_equal(m.data, "Hello", 5);
    assert_int_equal(decode1(&d, in + 11, 11, &used, &m, &code), 0);
    assert_int_equal(m.opcode, RT_WS_OP_PONG);
    assert_memory_equal(m.data, "Hello", 5);
    rt_ws_decoder_close(&d);
    /* The writer produces the same masked header. */
    uint8_t h[RT_WS_MAX_HEADER_BYTES];
    assert_int_equal(rt_ws_client_frame_header(h, RT_WS_OP_PONG, 1, 5, key37), 6);
    assert_memory_equal(h, "\x8a\x85\x37\xfa\x21\x3d", 6);
}

static void test_rfc_examples_lengths(void **state)
{
    (void)state;
    /* 256 bytes binary (16-bit length) and 64 KiB binary (64-bit length). */
    static const size_t sizes[] = {256, 65536};
    static const uint8_t want[][10] = {{0x82, 0x7e, 0x01, 0x00},
                                       {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}};
    for (size_t i = 0; i < RT_ARRAY_LEN(sizes); i++) {
        size_t n = sizes[i];
        uint8_t *buf = malloc(n + RT_WS_MAX_HEADER_BYTES);
        size_t h = rt_ws_frame_header(buf, RT_WS_OP_BINARY, n);
        ROW_CHECK(h == (i == 0 ? 4u : 10u), i);
        ROW_CHECK(memcmp(buf, want[i], h) == 0, i);
        for (size_t j = 0; j < n; j++)
            buf[h + j] = (uint8_t)(j * 7);
        rt_ws_decoder_t d;
        rt_ws_msg_t m;
        size_t used;
        uint16_t code;
        rt_ws_decoder_init(&d, 0, 0);
        ROW_CHECK(decode1(&d, buf, h + n - 1, &used, &m, &code) == RT_EAGAIN, i);
        ROW_CHECK(used == 0, i);
        ROW_CHECK(decode1(&d, buf, h + n, &used, &m, &code) == 0, i);
        ROW_CHECK(used == h + n && m.len == n && m.data == buf + h, i);
        ROW_CHECK(m.opcode == RT_WS_OP_BINARY && m.data[255] == (uint8_t)(255 * 7), i);
        rt_ws_decoder_close(&d);
        free(buf);
    }
}

/* ============================================================== writers */

static void test_frame_header_lengths(void **state)
{
    (void)state;
    static const struct {
        uint64_t len;
        size_t hlen;
        uint8_t bytes[10];
    } cases[] = {
        {0, 2, {0x81, 0}},
        {125, 2, {0x81, 125}},
        {126, 4, {0x81, 126, 0, 126}},
        {65535, 4, {0x81, 126, 0xff, 0xff}},
        {65536, 10, {0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
        {UINT64_C(0x0102030405060708), 10, {0x81, 127, 1, 2, 3, 4, 5, 6, 7, 8}},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        uint8_t out[RT_WS_MAX_HEADER_BYTES];
        ROW_CHECK(rt_ws_frame_header(out, RT_WS_OP_TEXT, cases[i].len) == cases[i].hlen, i);
        ROW_CHECK(memcmp(out, cases[i].bytes, cases[i].hlen) == 0, i);
        size_t ch = rt_ws_client_frame_header(out, RT_WS_OP_TEXT, 0, cases[i].len, key37);
        ROW_CHECK(ch == cases[i].hlen + 4, i);
        ROW_CHECK(out[0] == 0x01 && (out[1] & 0x80), i);
        ROW_CHECK((out[1] & 0x7f) == (cases[i].bytes[1] & 0x7f), i);
        ROW_CHECK(memcmp(out + 2, cases[i].bytes + 2, cases[i].hlen - 2) == 0, i);
        ROW_CHECK(memcmp(out + cases[i].hlen, key37, 4) == 0, i);
    }
}

static void test_lengths_round_trip(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 100000};
    for (size_t i = 0; i < RT_ARRAY_LEN(sizes); i++) {
        size_t n = sizes[i];
        uint8_t *payload = malloc(n + 1);
        uint8_t *buf = malloc(n + RT_WS_MAX_HEADER_BYTES);
        for (size_t j = 0; j < n; j++)
            payload[j] = (uint8_t)('a' + j % 26);
        size_t total = cframe(buf, RT_WS_OP_TEXT, 1, payload, n);
        rt_ws_decoder_t d;
        rt_ws_msg_t m;
        size_t used;
        uint16_t code;
        rt_ws_decoder_init(&d, 100000, 1);
        ROW_CHECK(decode1(&d, buf, total, &used, &m, &code) == 0, i);
        ROW_CHECK(used == total && m.len == n, i);
        ROW_CHECK(n == 0 || memcmp(m.data, payload, n) == 0, i);
        rt_ws_decoder_close(&d);
        free(buf);
        free(payload);
    }
}

static void test_mask_round_trip(void **state)
{
    (void)state;
    const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t orig[67], a[67], b[67];
    for (size_t i = 0; i < sizeof(orig); i++)
        orig[i] = (uint8_t)(i * 31 + 5);
    for (size_t len = 0; len <= 64; len++) {
        for (size_t off = 0; off < 8; off++) {
            for (size_t start = 0; start < 3; start++) {
                memcpy(a, orig, sizeof(a));
                rt_ws_mask(a + start, len, key, off);
                for (size_t i = 0; i < sizeof(a); i++) {
                    int inside = i >= start && i < start + len;
                    uint8_t want = inside ? orig[i] ^ key[(off + i - start) & 3] : orig[i];
                    if (a[i] != want)
                        fail_msg("len %zu off %zu start %zu byte %zu", len, off, start, i);
                }
                rt_ws_mask(a + start, len, key, off);
                assert_memory_equal(a, orig, sizeof(a));
            }
        }
    }
    /* Masking in pieces, each with its payload offset, equals masking whole. */
    memcpy(a, orig, sizeof(a));
    memcpy(b, orig, sizeof(b));
    rt_ws_mask(a, sizeof(a), key, 0);
    rt_ws_mask(b, 5, key, 0);
    rt_ws_mask(b + 5, 13, key, 5);
    rt_ws_mask(b + 18, sizeof(b) - 18, key, 18);
    assert_memory_equal(a, b, sizeof(a));
}

static void test_close_payload(void **state)
{
    (void)state;
    uint8_t out[RT_WS_MAX_CONTROL_BYTES];
    assert_int_equal(rt_ws_close_payload(out, 1000, "bye"), 5);
    assert_memory_equal(out,
                        "\x03\xe8"
                        "bye",
                        5);
    assert_int_equal(rt_ws_close_payload(out, 4001, NULL), 2);
    assert_memory_equal(out, "\x0f\xa1", 2);
    assert_int_equal(rt_ws_close_payload(out, RT_WS_CLOSE_NO_STATUS, "x"), 0);

    /* 122 ASCII bytes then "€" (3 bytes): only 123 fit, so the € goes. */
    char reason[200];
    memset(reason, 'r', 122);
    memcpy(reason + 122, "\xe2\x82\xac", 4);
    assert_int_equal(rt_ws_close_payload(out, 1001, reason), 2 + 122);
    /* 121 ASCII then "é" (2 bytes) fits exactly. */
    memcpy(reason + 121, "\xc3\xa9zzz", 6);
    assert_int_equal(rt_ws_close_payload(out, 1001, reason), 125);
    assert_memory_equal(out + 2 + 121, "\xc3\xa9", 2);
    /* Long ASCII is cut at 123. */
    memset(reason, 'q', 199);
    reason[199] = '\0';
    assert_int_equal(rt_ws_close_payload(out, 1008, reason), 125);

    /* What the builder makes passes the decoder's close check. */
    memcpy(reason + 120, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 9); /* two U+1F600 */
    size_t n = rt_ws_close_payload(out, 1011, reason);
    assert_int_equal(n, 2 + 120);
    uint8_t frame[RT_WS_MAX_CONTROL_BYTES + RT_WS_MAX_HEADER_BYTES];
    size_t total = cframe(frame, RT_WS_OP_CLOSE, 1, out, n);
    assert_int_equal(decode_code(frame, total, 0, 1), 0);
}

/* ============================================================ violations */

typedef struct {
    const char *what;
    uint8_t bytes[16];
    size_t len;
    int require_mask;
    unsigned code;
} bad_case_t;

static void test_header_violations(void **state)
{
    (void)state;
    static const bad_case_t cases[] = {
        {"RSV1", {0xc1, 0x80, 1, 2, 3, 4}, 6, 1, 1002},
        {"RSV2", {0xa1, 0x80, 1, 2, 3, 4}, 6, 1, 1002},
        {"RSV3", {0x91, 0x80, 1, 2, 3, 4}, 6, 1, 1002},
        {"RSV1 alone is enough", {0xc1}, 1, 1, 1002},
        {"opcode 3", {0x83}, 1, 1, 1002},
        {"opcode 7", {0x87}, 1, 1, 1002},
        {"opcode 11", {0x8b}, 1, 1, 1002},
        {"opcode 15", {0x8f}, 1, 1, 1002},
        {"unmasked client frame", {0x81, 0x00}, 2, 1, 1002},
        {"masked server frame", {0x81, 0x80, 1, 2, 3, 4}, 6, 0, 1002},
        {"fragmented ping", {0x09, 0x80, 1, 2, 3, 4}, 6, 1, 1002},
        {"fragmented close", {0x08}, 1, 1, 1002},
        {"ping of 126", {0x89, 0xfe, 0, 126}, 4, 1, 1002},
        {"pong of 127 (7-bit field 127)", {0x8a, 0xff}, 2, 1, 1002},
        {"continuation without start", {0x80, 0x80, 1, 2, 3, 4}, 6, 1, 1002},
        {"16-bit length under 126", {0x82, 0xfe, 0, 125}, 4, 1, 1002},
        {"64-bit length under 65536", {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 10, 1, 1002},
        {"64-bit length with MSB", {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, 10, 1, 1002},
        {"huge declared length", {0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0}, 10, 1, 1009},
        {"16-bit length over max", {0x82, 0xfe, 0x04, 0x01}, 4, 1, 1009},
        {"close of 1 byte", {0x88, 0x81, 0, 0, 0, 0, 0x03}, 7, 1, 1002},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        uint8_t buf[16];
        memcpy(buf, cases[i].bytes, sizeof(buf));
        rt_ws_decoder_t d;
        rt_ws_msg_t m = {77, NULL, 77};
        size_t used = 1234;
        uint16_t code = 0;
        rt_ws_decoder_init(&d, 1024, cases[i].require_mask);
        int rc = rt_ws_decode(&d, buf, cases[i].len, &used, &m, &code);
        if (rc != RT_EPROTO || code != cases[i].code)
            fail_msg("row %zu (%s): rc %d code %u", i, cases[i].what, rc, code);
        ROW_CHECK(used == 1234 && m.opcode == 77 && m.len == 77, i); /* untouched */
        /* The error is sticky, even for a valid frame. */
        uint8_t ok[] = {0x89, 0x80, 0, 0, 0, 0, 0x89, 0x00};
        code = 0;
        if (cases[i].require_mask)
            rc = rt_ws_decode(&d, ok, 6, &used, &m, &code);
        else
            rc = rt_ws_decode(&d, ok + 6, 2, &used, &m, &code);
        ROW_CHECK(rc == RT_EPROTO && code == cases[i].code, i);
        rt_ws_decoder_close(&d);
    }
}

static void test_fragmentation_violations(void **state)
{
    (void)state;
    static const uint8_t second_ops[] = {RT_WS_OP_TEXT, RT_WS_OP_BINARY};
    for (size_t i = 0; i < RT_ARRAY_LEN(second_ops); i++) {
        uint8_t buf[64];
        size_t n = cframe(buf, RT_WS_OP_BINARY, 0, "ab", 2);
        n += cframe(buf + n, second_ops[i], 1, "cd", 2);
        ROW_CHECK(decode_code(buf, n, 0, 1) == 1002, i);
    }
    /* A continuation after a finished fragmented message. */
    uint8_t buf[64];
    size_t n = cframe(buf, RT_WS_OP_TEXT, 0, "ab", 2);
    n += cframe(buf + n, RT_WS_OP_CONT, 1, "cd", 2);
    size_t first = n;
    n += cframe(buf + n, RT_WS_OP_CONT, 1, "ef", 2);
    rt_ws_decoder_t d;
    rt_ws_msg_t m;
    size_t used;
    uint16_t code = 0;
    rt_ws_decoder_init(&d, 0, 1);
    assert_int_equal(decode1(&d, buf, n, &used, &m, &code), 0);
    assert_int_equal(used, first);
    assert_memory_equal(m.data, "abcd", 4);
    assert_int_equal(decode1(&d, buf + first, n - first, &used, &m, &code), RT_EPROTO);
    assert_int_equal(code, 1002);
    rt_ws_decoder_close(&d);
}

static void test_close_codes(void **state)
{
    (void)state;
    static const struct {
        unsigned code;
        unsigned want;
    } cases[] = {
        {1000, 0},    {1001, 0},    {1002, 0},    {1003, 0},     {1007, 0},    {1008, 0},
        {1009, 0},    {1010, 0},    {1011, 0},    {1012, 0},     {1013, 0},    {1014, 0},
        {3000, 0},    {3999, 0},    {4000, 0},    {4999, 0},     {0, 1002},    {999, 1002},
        {1004, 1002}, {1005, 1002}, {1006, 1002}, {1015, 1002},  {1016, 1002}, {1100, 1002},
        {2000, 1002}, {2999, 1002}, {5000, 1002}, {65535, 1002},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        uint8_t payload[] = {(uint8_t)(cases[i].code >> 8), (uint8_t)cases[i].code, 'o', 'k'};
        uint8_t buf[32];
        size_t n = cframe(buf, RT_WS_OP_CLOSE, 1, payload, sizeof(payload));
        ROW_CHECK(decode_code(buf, n, 0, 1) == cases[i].want, i);
    }
    /* Empty close payload is fine; an invalid UTF-8 reason is 1007. */
    uint8_t buf[32];
    size_t n = cframe(buf, RT_WS_OP_CLOSE, 1, "", 0);
    assert_int_equal(decode_code(buf, n, 0, 1), 0);
    n = cframe(buf, RT_WS_OP_CLOSE, 1, "\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80", 12);
    assert_int_equal(decode_code(buf, n, 0, 1), 1007);
    n = cframe(buf, RT_WS_OP_CLOSE, 1, "\x03\xe8\xc3", 3); /* truncated sequence */
    assert_int_equal(decode_code(buf, n, 0, 1), 1007);
}

/* ================================================================= UTF-8 */

/* The decoder's verdict on s[0..n) sent as one text frame and as one
 * fragment per byte must both equal core's whole-string validator. */
static void check_utf8(const uint8_t *s, size_t n)
{
    uint8_t buf[64 * 8];
    int want = rt_utf8_valid((const char *)s, n);
    size_t total = cframe(buf, RT_WS_OP_TEXT, 1, s, n);
    unsigned whole = decode_code(buf, total, 0, 1);
    total = 0;
    for (size_t i = 0; i < n; i++)
        total += cframe(buf + total, i == 0 ? RT_WS_OP_TEXT : RT_WS_OP_CONT, i + 1 == n, s + i, 1);
    unsigned split = n > 0 ? decode_code(buf, total, 0, 1) : whole;
    if (whole != (want ? 0u : 1007u) || split != whole) {
        char hex[64] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(hex + 3 * i, 4, "%02x ", s[i]);
        fail_msg("%s: want valid=%d, whole %u, split %u", hex, want, whole, split);
    }
}

static void test_utf8_examples(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int valid;
    } cases[] = {
        {"", 1},
        {"plain ascii, long enough for the word loop", 1},
        {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1}, /* κόσμε */
        {"\xef\xbf\xbf", 1},                                 /* U+FFFF */
        {"\xf4\x8f\xbf\xbf", 1},                             /* U+10FFFF */
        {"\xed\x9f\xbf", 1},                                 /* U+D7FF */
        {"\xee\x80\x80", 1},                                 /* U+E000 */
        {"\xc0\x80", 0},                                     /* overlong NUL */
        {"\xc1\xbf", 0},                                     /* overlong */
        {"\xe0\x80\xaf", 0},                                 /* overlong '/' */
        {"\xe0\x9f\xbf", 0},                                 /* overlong U+07FF */
        {"\xf0\x8f\xbf\xbf", 0},                             /* overlong U+FFFF */
        {"\xed\xa0\x80", 0},                                 /* surrogate U+D800 */
        {"\xed\xbf\xbf", 0},                                 /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 0},                             /* U+110000 */
        {"\xf5\x80\x80\x80", 0},
        {"\xff", 0},
        {"\x80", 0},
        {"abc\xbf", 0},
        {"\xe2\x82", 0}, /* truncated € */
        {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
         "edited",
         0},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        const uint8_t *s = (const uint8_t *)cases[i].s;
        size_t n = strlen(cases[i].s);
        ROW_CHECK(rt_utf8_valid(cases[i].s, n) == cases[i].valid, i);
        check_utf8(s, n);
    }
}

static void test_utf8_against_core(void **state)
{
    (void)state;
    /* Every sequence of up to four bytes drawn from the boundary values. */
    static const uint8_t v[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
                                0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
    const size_t nv = RT_ARRAY_LEN(v);
    uint8_t s[4];
    for (size_t a = 0; a < nv; a++) {
        s[0] = v[a];
        check_utf8(s, 1);
        for (size_t b = 0; b < nv; b++) {
            s[1] = v[b];
            check_utf8(s, 2);
            for (size_t c = 0; c < nv; c++) {
                s[2] = v[c];
                check_utf8(s, 3);
                for (size_t e = 0; e < nv; e++) {
                    s[3] = v[e];
                    if (s[0] >= 0xf0 || e % 5 == 0)
                        check_utf8(s, 4);
                }
            }
        }
    }
}

static void test_utf8_invalid_prefix_fails_early(void **state)
{
    (void)state;
    rt_ws_decoder_t d;
    rt_ws_msg_t m;
    size_t used;
    uint16_t code = 0;
    uint8_t buf[64];
    rt_ws_decoder_init(&d, 0, 1);
    size_t n = cframe(buf, RT_WS_OP_TEXT, 0, "ok", 2);
    assert_int_equal(decode1(&d, buf, n, &used, &m, &code), RT_EAGAIN);
    n = cframe(buf, RT_WS_OP_CONT, 0, "\xed\xa0", 2); /* a surrogate's start, no FIN */
    assert_int_equal(decode1(&d, buf, n, &used, &m, &code), RT_EPROTO);
    assert_int_equal(code, 1007);
    rt_ws_decoder_close(&d);
    /* A message that ends inside a code point. */
    n = cframe(buf, RT_WS_OP_TEXT, 0, "\xe2\x82", 2);
    n += cframe(buf + n, RT_WS_OP_CONT, 1, "", 0);
    assert_int_equal(decode_code(buf, n, 0, 1), 1007);
    /* Binary is not validated. */
    n = cframe(buf, RT_WS_OP_BINARY, 0, "\xff", 1);
    n += cframe(buf + n, RT_WS_OP_CONT, 1, "\xc0", 1);
    assert_int_equal(decode_code(buf, n, 0, 1), 0);
}

/* ======================================================== fragmentation */

static void test_fragmented_with_ping(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = cframe(buf, RT_WS_OP_TEXT, 0, "caf", 3);
    size_t f1 = n;
    n += cframe(buf + n, RT_WS_OP_PING, 1, "hb", 2);
    size_t p = n;
    n += cframe(buf + n, RT_WS_OP_CONT, 0, "\xc3", 1); /* é split across fragments */
    n += cframe(buf + n, RT_WS_OP_CONT, 1, "\xa9!", 2);
    rt_ws_decoder_t d;
    rt_ws_msg_t m;
    size_t used;
    uint16_t code = 0;
    rt_ws_decoder_init(&d, 0, 1);
    assert_int_equal(decode1(&d, buf, n, &used, &m, &code), 0);
    assert_int_equal(used, p); /* the first fragment and the ping */
    assert_int_equal(m.opcode, RT_WS_OP_PING);
    assert_ptr_equal(m.data, buf + f1 + 6);
    assert_memory_equal(m.data, "hb", 2);
    assert_non_null(d.asm_data);
    assert_int_equal(decode1(&d, buf + p, n - p, &used, &m, &code), 0);
    assert_int_equal(used, n - p);
    assert_int_equal(m.opcode, RT_WS_OP_TEXT);
    assert_int_equal(m.len, 6);
    assert_memory_equal(m.data, "caf\xc3\xa9!", 6);
    assert_ptr_equal(m.data, d.asm_data);
    /* The next call frees the assembly buffer; idle again. */
    assert_int_equal(decode1(&d, buf, 0, &used, &m, &code), RT_EAGAIN);
    assert_int_equal(used, 0);
    assert_null(d.asm_data);
    assert_int_equal(d.asm_cap, 0);
    rt_ws_decoder_close(&d);
}

static void test_partial_frames_not_consumed(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = cframe(buf, RT_WS_OP_BINARY, 0, "abc", 3);
    size_t f1 = n;
    n += cframe(buf + n, RT_WS_OP_CONT, 1, "defg", 4);
    rt_ws_decoder_t d;
    rt_ws_msg_t m = {0, NULL, 0};
    size_t used;
    uint16_t code = 0;
    rt_ws_decoder_init(&d, 0, 1);
    for (size_t cut = 0; cut < f1; cut++) {
        ROW_CHECK(decode1(&d, buf, cut, &used, &m, &code) == RT_EAGAIN && used == 0, cut);
    }
    assert_int_equal(decode1(&d, buf, n - 1, &used, &m, &code), RT_EAGAIN);
    assert_int_equal(used, f1);
    assert_null(m.data); /* untouched on RT_EAGAIN */
    assert_int_equal(decode1(&d, buf + f1, n - f1 - 1, &used, &m, &code), RT_EAGAIN);
    assert_int_equal(used, 0);
    assert_int_equal(decode1(&d, buf + f1, n - f1, &used, &m, &code), 0);
    assert_int_equal(m.len, 7);
    assert_memory_equal(m.data, "abcdefg", 7);
    rt_ws_decoder_close(&d);
}

static void test_empty_messages(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = cframe(buf, RT_WS_OP_TEXT, 0, "", 0);
    n += cframe(buf + n, RT_WS_OP_CONT, 0, "", 0);
    n += cframe(buf + n, RT_WS_OP_CONT, 1, "", 0);
    size_t frag = n;
    n += cframe(buf + n, RT_WS_OP_TEXT, 1, "", 0);
    rt_ws_decoder_t d;
    rt_ws_msg_t m;
    size_t used;
    uint16_t code = 0;
    rt_ws_decoder_init(&d, 0, 1);
    assert_int_equal(decode1(&d, buf, n, &used, &m, &code), 0);
    assert_int_equal(used, frag);
    assert_int_equal(m.opcode, RT_WS_OP_TEXT);
    assert_int_equal(m.len, 0);
    assert_non_null(m.data);
    assert_int_equal(decode1(&d, buf + frag, n - frag, &used, &m, &code), 0);
    assert_int_equal(m.len, 0);
    rt_ws_decoder_close(&d);
}

/* ================================================================ limits */

static void test_too_big(void **state)
{
    (void)state;
    /* A huge 64-bit length is refused from the header alone: no mask key,
     * no payload. */
    uint8_t huge[] = {0x82, 0xff, 0, 0, 0x10, 0, 0, 0, 0, 0};
    assert_int_equal(decode_code(huge, sizeof(huge), 0, 1), 1009);
    /* Exactly the cap is fine, one more is not. */
    uint8_t *buf = malloc(2 * 1000 + 64);
    uint8_t *payload = calloc(1, 1001);
    size_t n = cframe(buf, RT_WS_OP_BINARY, 1, payload, 1000);
    assert_int_equal(decode_code(buf, n, 1000, 1), 0);
    n = cframe(buf, RT_WS_OP_BINARY, 1, payload, 1001);
    assert_int_equal(decode_code(buf, 4, 1000, 1), 1009);
    /* Fragments: the continuation's header takes the total over the cap. */
    rt_ws_decoder_t d;
    rt_ws_msg_t m;
    size_t used;
    uint16_t code = 0;
    rt_ws_decoder_init(&d, 1000, 1);
    n = cframe(buf, RT_WS_OP_TEXT, 0, payload, 600);
    assert_int_equal(decode1(&d, buf, n, &used, &m, &code), RT_EAGAIN);
    assert_true(d.asm_cap <= 1000);
    n = cframe(buf, RT_WS_OP_CONT, 1, payload, 401);
    assert_int_equal(decode1(&d, buf, 4, &used, &m, &code), RT_EPROTO);
    assert_int_equal(code, 1009);
    assert_null(d.asm_data); /* freed on the error */
    rt_ws_decoder_close(&d);
    /* Control frames have their own cap and are not counted. */
    rt_ws_decoder_init(&d, 10, 1);
    n = cframe(buf, RT_WS_OP_PING, 1, payload, 125);
    assert_int_equal(decode1(&d, buf, n, &used, &m, &code), 0);
    assert_int_equal(m.len, 125);
    rt_ws_decoder_close(&d);
    free(payload);
    free(buf);
}

static void test_assembly_stays_under_cap(void **state)
{
    (void)state;
    const size_t max = 3000;
    uint8_t *buf = malloc(max + 64);
    uint8_t chunk[700];
    rt_ws_decoder_t d;
    rt_ws_msg_t m;
    size_t used;
    uint16_t code = 0;
    rt_ws_decoder_init(&d, max, 1);
    size_t total = 0;
    for (int i = 0; total + sizeof(chunk) <= max; i++) {
        memset(chunk, 'a' + i, sizeof(chunk));
        size_t n = cframe(buf, i == 0 ? RT_WS_OP_TEXT : RT_WS_OP_CONT, 0, chunk, sizeof(chunk));
        assert_int_equal(decode1(&d, buf, n, &used, &m, &code), RT_EAGAIN);
        assert_int_equal(used, n);
        total += sizeof(chunk);
        assert_true(d.asm_cap <= max && d.asm_len == total);
    }
    size_t n = cframe(buf, RT_WS_OP_CONT, 1, chunk, max - total);
    assert_int_equal(decode1(&d, buf, n, &used, &m, &code), 0);
    assert_int_equal(m.len, max);
    assert_int_equal(d.asm_cap, max);
    assert_int_equal(m.data[0], 'a');
    assert_int_equal(m.data[700], 'b');
    rt_ws_decoder_close(&d);
    rt_ws_decoder_close(NULL);
    free(buf);
}

static void test_decoder_small(void **state)
{
    (void)state;
    assert_true(sizeof(rt_ws_decoder_t) <= 48);
    rt_ws_decoder_t d;
    rt_ws_decoder_init(&d, 0, 1);
    assert_int_equal(d.max_message_bytes, RT_WS_MAX_MESSAGE_BYTES_DEFAULT);
    assert_null(d.asm_data);
    rt_ws_decoder_close(&d);
}

/* ======================================================= split streams */

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/*
 * Plays the caller: delivers stream[0..len) in pieces ending at cuts[] (and
 * len), keeping unconsumed bytes like the connection code does, and logs
 * every message and the final result into log.
 */
static void run_stream(const uint8_t *stream, size_t len, const size_t *cuts, size_t ncuts,
                       rt_buf_t *log)
{
    rt_ws_decoder_t d;
    uint8_t *buf = malloc(len + 1);
    size_t have = 0, off = 0;
    int rc = RT_EAGAIN;
    uint16_t code = 0;
    rt_ws_decoder_init(&d, 4096, 1);
    for (size_t c = 0; c <= ncuts && rc != RT_EPROTO; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        memcpy(buf + have, stream + off, end - off);
        have += end - off;
        off = end;
        for (;;) {
            rt_ws_msg_t m;
            size_t used = SIZE_MAX;
            rc = rt_ws_decode(&d, buf, have, &used, &m, &code);
            if (rc == RT_EPROTO)
                break;
            assert_true(used <= have);
            if (rc == 0)
                rt_buf_appendf(log, "op=%u len=%zu h=%08x;", m.opcode, m.len, fnv1a(m.data, m.len));
            memmove(buf, buf + used, have - used);
            have -= used;
            if (rc == RT_EAGAIN)
                break;
        }
    }
    rt_buf_appendf(log, "rc=%d code=%u", rc, rc == RT_EPROTO ? code : 0);
    if (rc != RT_EPROTO)
        rt_buf_appendf(log, " have=%zu", have);
    rt_ws_decoder_close(&d);
    free(buf);
}

/* Builds a stream exercising most paths; returns its length. */
static size_t sample_stream(uint8_t *out, int bad_tail)
{
    uint8_t big[300];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;
    size_t n = cframe(out, RT_WS_OP_TEXT, 1, "hello", 5);
    n += cframe(out + n, RT_WS_OP_TEXT, 0, "\xe2", 1);
    n += cframe(out + n, RT_WS_OP_PING, 1, "p1", 2);
    n += cframe(out + n, RT_WS_OP_CONT, 0, "\x82", 1);
    n += cframe(out + n, RT_WS_OP_CONT, 1, "\xac euro", 6);
    n += cframe(out + n, RT_WS_OP_BINARY, 1, big, sizeof(big));
    n += cframe(out + n, RT_WS_OP_BINARY, 0, big, 10);
    n += cframe(out + n, RT_WS_OP_PONG, 1, "", 0);
    n += cframe(out + n, RT_WS_OP_CONT, 1, big + 10, 20);
    if (bad_tail)
        n += cframe(out + n, RT_WS_OP_TEXT, 1, "ok\xc0\xaf", 4);
    else
        n += cframe(out + n, RT_WS_OP_CLOSE, 1,
                    "\x03\xe8"
                    "done",
                    6);
    n += cframe(out + n, RT_WS_OP_TEXT, 0, "tail", 4); /* never finished */
    out[n++] = 0x80;                                   /* a partial header */
    return n;
}

static void test_split_at_every_byte(void **state)
{
    (void)state;
    for (int bad = 0; bad <= 1; bad++) {
        uint8_t stream[512];
        size_t len = sample_stream(stream, bad);
        rt_buf_t whole, split;
        rt_buf_init(&whole);
        run_stream(stream, len, NULL, 0, &whole);
        if (bad)
            assert_non_null(strstr(whole.data, "rc=-8 code=1007"));
        else
            assert_non_null(strstr(whole.data, "op=8 len=6"));
        /* Two pieces, cut at every byte. */
        for (size_t cut = 0; cut <= len; cut++) {
            rt_buf_init(&split);
            run_stream(stream, len, &cut, 1, &split);
            if (strcmp(whole.data, split.data) != 0)
                fail_msg("cut %zu:\n%s\n%s", cut, whole.data, split.data);
            rt_buf_close(&split);
        }
        /* One byte at a time. */
        size_t cuts[512];
        for (size_t i = 0; i < len; i++)
            cuts[i] = i;
        rt_buf_init(&split);
        run_stream(stream, len, cuts, len, &split);
        assert_string_equal(whole.data, split.data);
        rt_buf_close(&split);
        rt_buf_close(&whole);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc_example),
        cmocka_unit_test(test_accept_key_refused),
        cmocka_unit_test(test_protocol_offered),
        cmocka_unit_test(test_rfc_examples_unmasked),
        cmocka_unit_test(test_rfc_examples_masked),
        cmocka_unit_test(test_rfc_examples_lengths),
        cmocka_unit_test(test_frame_header_lengths),
        cmocka_unit_test(test_lengths_round_trip),
        cmocka_unit_test(test_mask_round_trip),
        cmocka_unit_test(test_close_payload),
        cmocka_unit_test(test_header_violations),
        cmocka_unit_test(test_fragmentation_violations),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_utf8_examples),
        cmocka_unit_test(test_utf8_against_core),
        cmocka_unit_test(test_utf8_invalid_prefix_fails_early),
        cmocka_unit_test(test_fragmented_with_ping),
        cmocka_unit_test(test_partial_frames_not_consumed),
        cmocka_unit_test(test_empty_messages),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_assembly_stays_under_cap),
        cmocka_unit_test(test_decoder_small),
        cmocka_unit_test(test_split_at_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
