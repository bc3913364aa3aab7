/* Unit tests of src/gateway/eio_codec.c: every example of the Engine.IO
 * protocol README and every body of its test-suite (socketio/
 * engine.io-protocol), malformed packets and payloads, the query, the open
 * packet, session ids and the error bodies. */
#include "test_util.h"

#include "gateway/eio_codec.h"

/* Fails with the table row when cond does not hold. */
#define ROW_CHECK(cond, row, input)                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("row %zu (%s): %s", (size_t)(row), (input), #cond);                           \
    } while (0)

/* ============================================================ WebSocket */

typedef struct {
    const char *frame;
    rt_eio_type_t type;
    const char *data;
} frame_case_t;

static void test_packet_decode_text_frames(void **state)
{
    (void)state;
    static const frame_case_t cases[] = {
        /* README "Handshake", "Heartbeat", "Upgrade", "Packet encoding / WebSocket" */
        {"0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\"}", RT_EIO_OPEN, "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\"}"},
        {"1", RT_EIO_CLOSE, ""},
        {"2", RT_EIO_PING, ""},
        {"3", RT_EIO_PONG, ""},
        {"2probe", RT_EIO_PING, "probe"},
        {"3probe", RT_EIO_PONG, "probe"},
        {"4hello", RT_EIO_MESSAGE, "hello"},
        {"5", RT_EIO_UPGRADE, ""},
        {"6", RT_EIO_NOOP, ""},
        {"4", RT_EIO_MESSAGE, ""},
        {"4\xe2\x82\xac", RT_EIO_MESSAGE, "\xe2\x82\xac"}, /* the README's "€" */
        {"42[\"hello\"]", RT_EIO_MESSAGE, "2[\"hello\"]"},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        rt_eio_packet_t p;
        size_t len = strlen(cases[i].frame);
        ROW_CHECK(rt_eio_packet_decode(cases[i].frame, len, 0, &p) == 0, i, cases[i].frame);
        ROW_CHECK(p.type == cases[i].type && p.binary == 0, i, cases[i].frame);
        ROW_CHECK(p.len == strlen(cases[i].data), i, cases[i].frame);
        ROW_CHECK(memcmp(p.data, cases[i].data, p.len) == 0, i, cases[i].frame);
    }
}

static void test_packet_decode_binary_frame(void **state)
{
    (void)state;
    /* test-suite "sends and receives a binary packet": raw bytes, no type */
    const char bytes[] = {1, 2, 3, 4};
    rt_eio_packet_t p;
    assert_int_equal(rt_eio_packet_decode(bytes, sizeof(bytes), 1, &p), 0);
    assert_int_equal(p.type, RT_EIO_MESSAGE);
    assert_int_equal(p.binary, 1);
    assert_ptr_equal(p.data, bytes);
    assert_int_equal(p.len, 4);
}

static void test_packet_decode_refused(void **state)
{
    (void)state;
    /* test-suite "closes the session upon invalid packet format" sends "abc" */
    static const char *const bad[] = {"", "abc", "7", "9", "x", "/", "bAQIDBA==", " 4"};
    for (size_t i = 0; i < RT_ARRAY_LEN(bad); i++) {
        rt_eio_packet_t p = {RT_EIO_NOOP, 7, NULL, 99};
        ROW_CHECK(rt_eio_packet_decode(bad[i], strlen(bad[i]), 0, &p) == RT_EPROTO, i, bad[i]);
        ROW_CHECK(p.binary == 7 && p.len == 99, i, bad[i]); /* untouched */
    }
}

static void test_packet_encode(void **state)
{
    (void)state;
    rt_buf_t b;
    rt_buf_init(&b);
    rt_eio_packet_encode(&b, RT_EIO_PONG, "probe", 5);
    assert_string_equal(b.data, "3probe");
    rt_buf_close(&b);
    rt_buf_init(&b);
    rt_eio_packet_encode(&b, RT_EIO_NOOP, "", 0);
    assert_string_equal(b.data, "6");
    rt_buf_close(&b);
}

/* ========================================================= long-polling */

typedef struct {
    rt_eio_type_t type;
    int binary;
    const char *data;
    size_t len;
} want_t;

typedef struct {
    const char *body;
    size_t count;
    want_t want[3];
} payload_case_t;

static void test_payload_decode_examples(void **state)
{
    (void)state;
    static const payload_case_t cases[] = {
        /* README "Packet encoding / HTTP long-polling" */
        {"4hello\x1e"
         "2\x1e"
         "4world",
         3,
         {{RT_EIO_MESSAGE, 0, "hello", 5},
          {RT_EIO_PING, 0, "", 0},
          {RT_EIO_MESSAGE, 0, "world", 5}}},
        {"4hello\x1e"
         "bAQIDBA==",
         2,
         {{RT_EIO_MESSAGE, 0, "hello", 5}, {RT_EIO_MESSAGE, 1, "\x01\x02\x03\x04", 4}}},
        /* test-suite bodies */
        {"4hello", 1, {{RT_EIO_MESSAGE, 0, "hello", 5}}},
        {"4test1\x1e"
         "4test2\x1e"
         "4test3",
         3,
         {{RT_EIO_MESSAGE, 0, "test1", 5},
          {RT_EIO_MESSAGE, 0, "test2", 5},
          {RT_EIO_MESSAGE, 0, "test3", 5}}},
        {"3", 1, {{RT_EIO_PONG, 0, "", 0}}},
        {"1", 1, {{RT_EIO_CLOSE, 0, "", 0}}},
        /* socket.io-protocol Readme, sample session request 5 */
        {"42[\"hello\"]\x1e"
         "42[\"world\"]",
         2,
         {{RT_EIO_MESSAGE, 0, "2[\"hello\"]", 10}, {RT_EIO_MESSAGE, 0, "2[\"world\"]", 10}}},
        /* base64 with one, two and no padding characters, and without them */
        {"bAQ==", 1, {{RT_EIO_MESSAGE, 1, "\x01", 1}}},
        {"bAQI=", 1, {{RT_EIO_MESSAGE, 1, "\x01\x02", 2}}},
        {"bAQID", 1, {{RT_EIO_MESSAGE, 1, "\x01\x02\x03", 3}}},
        {"bAQ", 1, {{RT_EIO_MESSAGE, 1, "\x01", 1}}},
        {"b//+/", 1, {{RT_EIO_MESSAGE, 1, "\xff\xff\xbf", 3}}},
        {"b", 1, {{RT_EIO_MESSAGE, 1, "", 0}}},
        {"6\x1e"
         "b\x1e"
         "4",
         3,
         {{RT_EIO_NOOP, 0, "", 0}, {RT_EIO_MESSAGE, 1, "", 0}, {RT_EIO_MESSAGE, 0, "", 0}}},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        const payload_case_t *c = &cases[i];
        rt_eio_payload_t *p = NULL;
        ROW_CHECK(rt_eio_payload_decode(c->body, strlen(c->body), 1000, &p) == 0, i, c->body);
        ROW_CHECK(p->count == c->count, i, c->body);
        for (size_t k = 0; k < c->count; k++) {
            const rt_eio_packet_t *got = &p->packets[k];
            ROW_CHECK(got->type == c->want[k].type, i, c->body);
            ROW_CHECK(got->binary == c->want[k].binary, i, c->body);
            ROW_CHECK(got->len == c->want[k].len, i, c->body);
            ROW_CHECK(memcmp(got->data, c->want[k].data, got->len) == 0, i, c->body);
            ROW_CHECK(got->data[got->len] == '\0', i, c->body);
        }
        rt_eio_payload_free(p);
    }
}

static void test_payload_decode_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "abc", /* the test-suite's invalid packet */
        "7",
        "4hello\x1e",
        "\x1e"
        "4hello",
        "4a\x1e\x1e"
        "4b",
        "4a\x1e"
        "x",
        "b!!!!",
        "bA",
        "bAQ=",
        "bA===",
        "bAQ==AQ==",
        "b====",
        "bAQ-_",
        "bAQ\n",
        "4\xff",
        "4\xc3",
        "2\xed\xa0\x80", /* a UTF-16 surrogate */
    };
    static rt_eio_payload_t sentinel; /* *out must keep pointing here */
    for (size_t i = 0; i < RT_ARRAY_LEN(bad); i++) {
        rt_eio_payload_t *p = &sentinel;
        ROW_CHECK(rt_eio_payload_decode(bad[i], strlen(bad[i]), 1000, &p) == RT_EPROTO, i, bad[i]);
        ROW_CHECK(p == &sentinel, i, bad[i]);
    }
}

static void test_payload_decode_limits(void **state)
{
    (void)state;
    rt_eio_payload_t *p = NULL;
    /* over maxPayload: 413 */
    assert_int_equal(rt_eio_payload_decode("4hello", 6, 5, &p), RT_ETOOBIG);
    assert_int_equal(rt_eio_payload_decode("4hello", 6, 6, &p), 0);
    rt_eio_payload_free(p);

    /* RT_EIO_MAX_PAYLOAD_PACKETS noops pass, one more is refused */
    rt_buf_t b;
    rt_buf_init(&b);
    for (size_t i = 0; i < RT_EIO_MAX_PAYLOAD_PACKETS; i++) {
        rt_eio_packet_t noop = {RT_EIO_NOOP, 0, "", 0};
        rt_eio_payload_append(&b, &noop);
    }
    p = NULL;
    assert_int_equal(rt_eio_payload_decode(b.data, b.len, b.len, &p), 0);
    assert_int_equal(p->count, RT_EIO_MAX_PAYLOAD_PACKETS);
    assert_int_equal(p->packets[RT_EIO_MAX_PAYLOAD_PACKETS - 1].type, RT_EIO_NOOP);
    rt_eio_payload_free(p);
    rt_buf_append(&b,
                  "\x1e"
                  "6",
                  2);
    p = NULL;
    assert_int_equal(rt_eio_payload_decode(b.data, b.len, b.len, &p), RT_ELIMIT);
    assert_null(p);
    rt_buf_close(&b);
    rt_eio_payload_free(NULL);
}

/* Decodes body and encodes the packets again: the test-suite's echo server
 * must answer a GET with exactly the POSTed body. */
static void echo_roundtrip(const char *body)
{
    rt_eio_payload_t *p = NULL;
    assert_int_equal(rt_eio_payload_decode(body, strlen(body), 1000, &p), 0);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_eio_payload_encode(&b, p->packets, p->count);
    assert_string_equal(b.data, body);
    rt_buf_close(&b);
    rt_eio_payload_free(p);
}

static void test_payload_encode(void **state)
{
    (void)state;
    rt_eio_packet_t readme[] = {
        {RT_EIO_MESSAGE, 0, "hello", 5}, {RT_EIO_PING, 0, "", 0}, {RT_EIO_MESSAGE, 0, "world", 5}};
    rt_buf_t b;
    rt_buf_init(&b);
    rt_eio_payload_encode(&b, readme, 3);
    assert_string_equal(b.data, "4hello\x1e"
                                "2\x1e"
                                "4world");
    rt_buf_close(&b);

    rt_eio_packet_t bin[] = {{RT_EIO_MESSAGE, 0, "hello", 5},
                             {RT_EIO_MESSAGE, 1, "\x01\x02\x03\x04", 4},
                             {RT_EIO_MESSAGE, 1, "\x01\x02", 2},
                             {RT_EIO_MESSAGE, 1, "\x01\x02\x03", 3},
                             {RT_EIO_MESSAGE, 1, "", 0}};
    rt_buf_init(&b);
    rt_eio_payload_encode(&b, bin, RT_ARRAY_LEN(bin));
    assert_string_equal(b.data, "4hello\x1e"
                                "bAQIDBA==\x1e"
                                "bAQI=\x1e"
                                "bAQID\x1e"
                                "b");
    rt_buf_close(&b);

    /* a shared pre-encoded frame, then a ping (the upgrade's noop first) */
    rt_buf_init(&b);
    rt_eio_payload_append_encoded(&b, "6", 1);
    rt_eio_payload_append_encoded(&b, "42[\"hey\",\"Jude\"]", 16);
    rt_eio_packet_t ping = {RT_EIO_PING, 0, "", 0};
    rt_eio_payload_append(&b, &ping);
    assert_string_equal(b.data, "6\x1e"
                                "42[\"hey\",\"Jude\"]\x1e"
                                "2");
    rt_buf_close(&b);

    echo_roundtrip("4hello");
    echo_roundtrip("4test1\x1e"
                   "4test2\x1e"
                   "4test3");
    echo_roundtrip("4hello\x1e"
                   "bAQIDBA==");
}

/* ================================================================ query */

typedef struct {
    const char *query;
    int rc;
    rt_eio_error_t err;           /* when rc != 0 */
    rt_eio_transport_t transport; /* when rc == 0 */
    const char *sid;              /* when rc == 0; NULL: none */
} query_case_t;

static void test_parse_query(void **state)
{
    (void)state;
    static const query_case_t cases[] = {
        {"EIO=4&transport=polling", 0, 0, RT_EIO_TRANSPORT_POLLING, NULL},
        {"EIO=4&transport=websocket", 0, 0, RT_EIO_TRANSPORT_WEBSOCKET, NULL},
        {"EIO=4&transport=polling&t=N8hyd6w", 0, 0, RT_EIO_TRANSPORT_POLLING, NULL},
        {"EIO=4&transport=polling&t=N8hyd7H&sid=lv_VI97HAXpY6yYWAAAC", 0, 0,
         RT_EIO_TRANSPORT_POLLING, "lv_VI97HAXpY6yYWAAAC"},
        {"sid=-G5j-67EZFp-q59rADQM&transport=websocket&EIO=4", 0, 0, RT_EIO_TRANSPORT_WEBSOCKET,
         "-G5j-67EZFp-q59rADQM"},
        {"EIO=4&transport=polling&sid=", 0, 0, RT_EIO_TRANSPORT_POLLING, NULL},
        {"EIO=4&transport=polling&sid", 0, 0, RT_EIO_TRANSPORT_POLLING, NULL},
        {"&&EIO=4&&transport=polling&", 0, 0, RT_EIO_TRANSPORT_POLLING, NULL},
        {"EIO=4&transport=polling&t=burst&other=x=y", 0, 0, RT_EIO_TRANSPORT_POLLING, NULL},
        /* test-suite: missing or invalid EIO */
        {"transport=polling", RT_EVERSION, RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION, 0, NULL},
        {"EIO=abc&transport=polling", RT_EVERSION, RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION, 0,
         NULL},
        {"EIO=3&transport=polling", RT_EVERSION, RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION, 0, NULL},
        {"EIO=44&transport=polling", RT_EVERSION, RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION, 0, NULL},
        {"EIO=4&EIO=4&transport=polling", RT_EVERSION, RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION, 0,
         NULL},
        {"eio=4&transport=polling", RT_EVERSION, RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION, 0, NULL},
        /* test-suite: missing or invalid transport */
        {"EIO=4", RT_EPROTO, RT_EIO_ERR_UNKNOWN_TRANSPORT, 0, NULL},
        {"EIO=4&transport=abc", RT_EPROTO, RT_EIO_ERR_UNKNOWN_TRANSPORT, 0, NULL},
        {"EIO=4&transport=", RT_EPROTO, RT_EIO_ERR_UNKNOWN_TRANSPORT, 0, NULL},
        {"EIO=4&transport=pollingx", RT_EPROTO, RT_EIO_ERR_UNKNOWN_TRANSPORT, 0, NULL},
        {"EIO=4&transport=webtransport", RT_EPROTO, RT_EIO_ERR_UNKNOWN_TRANSPORT, 0, NULL},
        {"EIO=4&transport=polling&transport=polling", RT_EPROTO, RT_EIO_ERR_UNKNOWN_TRANSPORT, 0,
         NULL},
        {"", RT_EPROTO, RT_EIO_ERR_UNKNOWN_TRANSPORT, 0, NULL},
        /* transport is checked first, as in the reference server */
        {"EIO=abc&transport=abc", RT_EPROTO, RT_EIO_ERR_UNKNOWN_TRANSPORT, 0, NULL},
        /* sids we cannot have issued */
        {"EIO=4&transport=polling&sid=a%2Fb", RT_EPROTO, RT_EIO_ERR_UNKNOWN_SID, 0, NULL},
        {"EIO=4&transport=polling&sid=a+b", RT_EPROTO, RT_EIO_ERR_UNKNOWN_SID, 0, NULL},
        {"EIO=4&transport=polling&sid=x&sid=y", RT_EPROTO, RT_EIO_ERR_UNKNOWN_SID, 0, NULL},
        {"EIO=4&transport=polling&sid="
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         RT_EPROTO, RT_EIO_ERR_UNKNOWN_SID, 0, NULL},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        const query_case_t *c = &cases[i];
        rt_eio_query_t q = {RT_EIO_TRANSPORT_WEBSOCKET, "sentinel", 8};
        rt_eio_error_t err = (rt_eio_error_t)99;
        int rc = rt_eio_parse_query(c->query, strlen(c->query), &q, &err);
        ROW_CHECK(rc == c->rc, i, c->query);
        if (rc != 0) {
            ROW_CHECK(err == c->err, i, c->query);
            ROW_CHECK(q.sid_len == 8, i, c->query); /* untouched */
            continue;
        }
        ROW_CHECK(err == (rt_eio_error_t)99, i, c->query);
        ROW_CHECK(q.transport == c->transport, i, c->query);
        if (c->sid == NULL) {
            ROW_CHECK(q.sid == NULL && q.sid_len == 0, i, c->query);
        } else {
            ROW_CHECK(q.sid_len == strlen(c->sid), i, c->query);
            ROW_CHECK(memcmp(q.sid, c->sid, q.sid_len) == 0, i, c->query);
        }
    }
    /* a 64-character sid is still plausible */
    const char *q64 = "EIO=4&transport=polling&sid="
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    rt_eio_query_t q;
    rt_eio_error_t err;
    assert_int_equal(rt_eio_parse_query(q64, strlen(q64), &q, &err), 0);
    assert_int_equal(q.sid_len, RT_EIO_SID_MAX_BYTES);
}

/* ============================================ open packet, ids, errors */

static void test_open_encode(void **state)
{
    (void)state;
    rt_eio_open_t o = {"lv_VI97HAXpY6yYWAAAC", 1, RT_EIO_PING_INTERVAL_MS_DEFAULT,
                       RT_EIO_PING_TIMEOUT_MS_DEFAULT, RT_EIO_MAX_PAYLOAD_BYTES_DEFAULT};
    rt_buf_t b;
    rt_buf_init(&b);
    rt_eio_open_encode(&b, &o);
    /* README "Handshake" example, compact */
    assert_string_equal(b.data, "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
                                "\"pingInterval\":25000,\"pingTimeout\":20000,"
                                "\"maxPayload\":1000000}");
    /* test-suite: exactly the five keys */
    json_t *j = json_loads(b.data + 1, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 5);
    assert_int_equal(json_integer_value(json_object_get(j, "maxPayload")), 1000000);
    json_decref(j);
    rt_buf_close(&b);

    /* a WebSocket-only session offers no upgrade; the test-suite's timings */
    rt_eio_open_t ws = {"abc", 0, 300, 200, 1000000};
    rt_buf_init(&b);
    rt_eio_open_encode(&b, &ws);
    assert_string_equal(b.data, "0{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":300,"
                                "\"pingTimeout\":200,\"maxPayload\":1000000}");
    rt_buf_close(&b);
}

static void test_sid_new(void **state)
{
    (void)state;
    enum { N = 200 };
    static char ids[N][RT_EIO_SID_LEN + 1];
    for (int i = 0; i < N; i++) {
        rt_eio_sid_new(ids[i]);
        assert_int_equal(strlen(ids[i]), RT_EIO_SID_LEN);
        assert_int_equal(strspn(ids[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789-_"),
                         RT_EIO_SID_LEN);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(ids[i], ids[k]);
    }
    /* every id we issue passes our own query check */
    char query[64];
    snprintf(query, sizeof(query), "EIO=4&transport=polling&sid=%s", ids[0]);
    rt_eio_query_t q;
    rt_eio_error_t err;
    assert_int_equal(rt_eio_parse_query(query, strlen(query), &q, &err), 0);
    assert_int_equal(q.sid_len, RT_EIO_SID_LEN);
}

static void test_error_bodies(void **state)
{
    (void)state;
    static const struct {
        rt_eio_error_t code;
        int status;
        const char *body;
    } cases[] = {
        {RT_EIO_ERR_UNKNOWN_TRANSPORT, 400, "{\"code\":0,\"message\":\"Transport unknown\"}"},
        {RT_EIO_ERR_UNKNOWN_SID, 400, "{\"code\":1,\"message\":\"Session ID unknown\"}"},
        {RT_EIO_ERR_BAD_HANDSHAKE_METHOD, 400, "{\"code\":2,\"message\":\"Bad handshake method\"}"},
        {RT_EIO_ERR_BAD_REQUEST, 400, "{\"code\":3,\"message\":\"Bad request\"}"},
        {RT_EIO_ERR_FORBIDDEN, 403, "{\"code\":4,\"message\":\"Forbidden\"}"},
        {RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION, 400,
         "{\"code\":5,\"message\":\"Unsupported protocol version\"}"},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        rt_buf_t b;
        rt_buf_init(&b);
        rt_eio_error_body(&b, cases[i].code);
        ROW_CHECK(strcmp(b.data, cases[i].body) == 0, i, cases[i].body);
        ROW_CHECK(rt_eio_error_status(cases[i].code) == cases[i].status, i, cases[i].body);
        rt_buf_close(&b);
    }
    assert_string_equal(rt_eio_error_message(RT_EIO_ERR_UNKNOWN_SID), "Session ID unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packet_decode_text_frames),
        cmocka_unit_test(test_packet_decode_binary_frame),
        cmocka_unit_test(test_packet_decode_refused),
        cmocka_unit_test(test_packet_encode),
        cmocka_unit_test(test_payload_decode_examples),
        cmocka_unit_test(test_payload_decode_refused),
        cmocka_unit_test(test_payload_decode_limits),
        cmocka_unit_test(test_payload_encode),
        cmocka_unit_test(test_parse_query),
        cmocka_unit_test(test_open_encode),
        cmocka_unit_test(test_sid_new),
        cmocka_unit_test(test_error_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
