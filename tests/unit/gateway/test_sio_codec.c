/* Unit tests of src/gateway/sio_codec.c: every encoded example of the
 * Socket.IO protocol Readme (socketio/socket.io-protocol) and every packet
 * its test-suite sends or expects, decoded and encoded back; the malformed
 * packets the reference parser refuses; the gateway's own encoders. */
#include "test_util.h"

#include "gateway/sio_codec.h"

/* Fails with the table row when cond does not hold. */
#define ROW_CHECK(cond, row, input)                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("row %zu (%s): %s", (size_t)(row), (input), #cond);                           \
    } while (0)

#define PH(n) "{\"_placeholder\":true,\"num\":" #n "}"

/* ============================================================= decoding */

typedef struct {
    const char *in; /* the Socket.IO packet, without Engine.IO's '4' */
    rt_sio_type_t type;
    const char *nsp;
    int64_t ack_id;
    int attachments;
    const char *data; /* compact JSON, NULL for none */
    int canonical;    /* 1: encoding the packet gives "4" + in back */
} decode_case_t;

static const decode_case_t valid_cases[] = {
    /* Readme "Packet encoding / Examples" */
    {"0", RT_SIO_CONNECT, "/", -1, 0, NULL, 1},
    {"0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", RT_SIO_CONNECT, "/admin", -1, 0,
     "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", 1},
    {"4{\"message\":\"Not authorized\"}", RT_SIO_CONNECT_ERROR, "/", -1, 0,
     "{\"message\":\"Not authorized\"}", 1},
    {"2[\"foo\"]", RT_SIO_EVENT, "/", -1, 0, "[\"foo\"]", 1},
    {"2/admin,[\"bar\"]", RT_SIO_EVENT, "/admin", -1, 0, "[\"bar\"]", 1},
    {"51-[\"baz\"," PH(0) "]", RT_SIO_BINARY_EVENT, "/", -1, 1, "[\"baz\"," PH(0) "]", 1},
    {"52-/admin,[\"baz\"," PH(0) "," PH(1) "]", RT_SIO_BINARY_EVENT, "/admin", -1, 2,
     "[\"baz\"," PH(0) "," PH(1) "]", 1},
    {"212[\"foo\"]", RT_SIO_EVENT, "/", 12, 0, "[\"foo\"]", 1},
    {"3/admin,13[\"bar\"]", RT_SIO_ACK, "/admin", 13, 0, "[\"bar\"]", 1},
    {"61-15[\"bar\"," PH(0) "]", RT_SIO_BINARY_ACK, "/", 15, 1, "[\"bar\"," PH(0) "]", 1},
    {"1", RT_SIO_DISCONNECT, "/", -1, 0, NULL, 1},
    {"1/admin,", RT_SIO_DISCONNECT, "/admin", -1, 0, NULL, 1},
    /* Readme "Exchange protocol": ACK with an empty array */
    {"312[]", RT_SIO_ACK, "/", 12, 0, "[]", 1},
    /* Readme "Sample session" */
    {"0{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}", RT_SIO_CONNECT, "/", -1, 0,
     "{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}", 1},
    {"2[\"hey\",\"Jude\"]", RT_SIO_EVENT, "/", -1, 0, "[\"hey\",\"Jude\"]", 1},
    {"2[\"hello\"]", RT_SIO_EVENT, "/", -1, 0, "[\"hello\"]", 1},
    {"0/admin,", RT_SIO_CONNECT, "/admin", -1, 0, NULL, 1},
    {"0/admin,{\"sid\":\"-G5j-67EZFp-q59rADQM\"}", RT_SIO_CONNECT, "/admin", -1, 0,
     "{\"sid\":\"-G5j-67EZFp-q59rADQM\"}", 1},
    {"2/admin,1[\"tellme\"]", RT_SIO_EVENT, "/admin", 1, 0, "[\"tellme\"]", 1},
    {"61-/admin,1[" PH(0) "]", RT_SIO_BINARY_ACK, "/admin", 1, 1, "[" PH(0) "]", 1},
    /* test-suite: what the client sends */
    {"0{\"token\":\"123\"}", RT_SIO_CONNECT, "/", -1, 0, "{\"token\":\"123\"}", 1},
    {"0/custom,", RT_SIO_CONNECT, "/custom", -1, 0, NULL, 1},
    {"0/custom,{\"token\":\"abc\"}", RT_SIO_CONNECT, "/custom", -1, 0, "{\"token\":\"abc\"}", 1},
    {"0/random", RT_SIO_CONNECT, "/random", -1, 0, NULL, 0}, /* no comma: to the end */
    {"0/custom", RT_SIO_CONNECT, "/custom", -1, 0, NULL, 0},
    {"1/custom", RT_SIO_DISCONNECT, "/custom", -1, 0, NULL, 0},
    {"2[\"message\",\"message to main namespace\"]", RT_SIO_EVENT, "/", -1, 0,
     "[\"message\",\"message to main namespace\"]", 1},
    {"2[\"message\",1,\"2\",{\"3\":[true]}]", RT_SIO_EVENT, "/", -1, 0,
     "[\"message\",1,\"2\",{\"3\":[true]}]", 1},
    {"52-[\"message\"," PH(0) "," PH(1) "]", RT_SIO_BINARY_EVENT, "/", -1, 2,
     "[\"message\"," PH(0) "," PH(1) "]", 1},
    {"2456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", RT_SIO_EVENT, "/", 456, 0,
     "[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", 1},
    {"52-789[\"message-with-ack\"," PH(0) "," PH(1) "]", RT_SIO_BINARY_EVENT, "/", 789, 2,
     "[\"message-with-ack\"," PH(0) "," PH(1) "]", 1},
    /* test-suite: what the server answers */
    {"2[\"auth\",{}]", RT_SIO_EVENT, "/", -1, 0, "[\"auth\",{}]", 1},
    {"2[\"auth\",{\"token\":\"123\"}]", RT_SIO_EVENT, "/", -1, 0, "[\"auth\",{\"token\":\"123\"}]",
     1},
    {"2/custom,[\"auth\",{}]", RT_SIO_EVENT, "/custom", -1, 0, "[\"auth\",{}]", 1},
    {"2/custom,[\"auth\",{\"token\":\"abc\"}]", RT_SIO_EVENT, "/custom", -1, 0,
     "[\"auth\",{\"token\":\"abc\"}]", 1},
    {"4/random,{\"message\":\"Invalid namespace\"}", RT_SIO_CONNECT_ERROR, "/random", -1, 0,
     "{\"message\":\"Invalid namespace\"}", 1},
    {"2[\"message-back\",\"message to main namespace\"]", RT_SIO_EVENT, "/", -1, 0,
     "[\"message-back\",\"message to main namespace\"]", 1},
    {"52-[\"message-back\"," PH(0) "," PH(1) "]", RT_SIO_BINARY_EVENT, "/", -1, 2,
     "[\"message-back\"," PH(0) "," PH(1) "]", 1},
    {"3456[1,\"2\",{\"3\":[false]}]", RT_SIO_ACK, "/", 456, 0, "[1,\"2\",{\"3\":[false]}]", 1},
    {"62-789[" PH(0) "," PH(1) "]", RT_SIO_BINARY_ACK, "/", 789, 2, "[" PH(0) "," PH(1) "]", 1},
    /* the reference parser's other accepted forms */
    {"2[1,\"x\"]", RT_SIO_EVENT, "/", -1, 0, "[1,\"x\"]", 1}, /* a numeric event name */
    {"2[\"connection\"]", RT_SIO_EVENT, "/", -1, 0, "[\"connection\"]", 1}, /* not reserved */
    {"4\"Not authorized\"", RT_SIO_CONNECT_ERROR, "/", -1, 0, "\"Not authorized\"", 1},
    {"4", RT_SIO_CONNECT_ERROR, "/", -1, 0, NULL, 1},
    {"01", RT_SIO_CONNECT, "/", 1, 0, NULL, 1}, /* an ack id on any type */
    {"50-[\"x\"]", RT_SIO_BINARY_EVENT, "/", -1, 0, "[\"x\"]", 1},
    {"510-[\"x\"," PH(9) "]", RT_SIO_BINARY_EVENT, "/", -1, 10, "[\"x\"," PH(9) "]", 1},
    {"51-[\"x\",{\"a\":[" PH(0) "]}]", RT_SIO_BINARY_EVENT, "/", -1, 1,
     "[\"x\",{\"a\":[" PH(0) "]}]", 1},
    {"2[\"x\"," PH(5) "]", RT_SIO_EVENT, "/", -1, 0, "[\"x\"," PH(5) "]", 1}, /* just data */
    {"29007199254740991[\"x\"]", RT_SIO_EVENT, "/", 9007199254740991LL, 0, "[\"x\"]", 1},
    {"20[\"x\"]", RT_SIO_EVENT, "/", 0, 0, "[\"x\"]", 1},
    {"2007[\"x\"]", RT_SIO_EVENT, "/", 7, 0, "[\"x\"]", 0},
    {"2/,[\"x\"]", RT_SIO_EVENT, "/", -1, 0, "[\"x\"]", 0},
    {"2/a/b,[\"x\",0.5,-1e300,null]", RT_SIO_EVENT, "/a/b", -1, 0, "[\"x\",0.5,-1e300,null]", 0},
    {"2 [\"x\"] ", RT_SIO_EVENT, "/", -1, 0, "[\"x\"]", 0},
    {"0/\xc3\xa9t\xc3\xa9,", RT_SIO_CONNECT, "/\xc3\xa9t\xc3\xa9", -1, 0, NULL, 1},
};

static void check_decoded(size_t i, const decode_case_t *c, const rt_sio_packet_t *p)
{
    ROW_CHECK(p->type == c->type, i, c->in);
    ROW_CHECK(p->nsp_len == strlen(c->nsp) && memcmp(p->nsp, c->nsp, p->nsp_len) == 0, i, c->in);
    ROW_CHECK(p->ack_id == c->ack_id, i, c->in);
    ROW_CHECK(p->attachments == c->attachments, i, c->in);
    if (c->data == NULL) {
        ROW_CHECK(p->data == NULL, i, c->in);
        return;
    }
    json_t *want = json_loads(c->data, JSON_DECODE_ANY, NULL);
    ROW_CHECK(want != NULL, i, c->data);
    ROW_CHECK(json_equal(p->data, want), i, c->in);
    json_decref(want);
}

static void test_decode_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < RT_ARRAY_LEN(valid_cases); i++) {
        const decode_case_t *c = &valid_cases[i];
        rt_sio_packet_t p;
        ROW_CHECK(rt_sio_packet_decode(c->in, strlen(c->in), &p) == 0, i, c->in);
        check_decoded(i, c, &p);

        /* the encoder writes what the reference encoder writes, '4' first */
        rt_buf_t b;
        rt_buf_init(&b);
        rt_sio_packet_encode(&b, &p);
        ROW_CHECK(b.data[0] == '4', i, c->in);
        if (c->canonical)
            ROW_CHECK(strcmp(b.data + 1, c->in) == 0, i, c->in);
        /* and what it writes decodes to the same packet */
        rt_sio_packet_t again;
        ROW_CHECK(rt_sio_packet_decode(b.data + 1, b.len - 1, &again) == 0, i, c->in);
        check_decoded(i, c, &again);
        rt_sio_packet_close(&again);
        rt_buf_close(&b);
        rt_sio_packet_close(&p);
        ROW_CHECK(p.data == NULL, i, c->in);
    }
    rt_sio_packet_close(NULL);
}

static void test_decode_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* test-suite "should close the connection upon invalid format" */
        "abc",                                                /* 4abc: unknown packet type */
        "2{}",                                                /* 42{}: invalid payload format */
        "2abc[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", /* invalid ack id */
        /* unknown types */
        "",
        "7",
        "9[\"x\"]",
        "-1",
        " 2[\"x\"]",
        /* payload rules (isPayloadValid; mandatory EVENT/ACK payload per the Readme) */
        "2",
        "2/admin,",
        "212",
        "2[]",
        "2[{}]",
        "2[null]",
        "2[true]",
        "2[[\"x\"]]",
        "2\"x\"",
        "2[\"connect\"]",
        "2[\"connect_error\",1]",
        "2[\"disconnect\"]",
        "2[\"disconnecting\"]",
        "2[\"newListener\"]",
        "2[\"removeListener\"]",
        "3",
        "312",
        "3{}",
        "3\"x\"",
        "1[]",
        "1{}",
        "1/admin,{}",
        "0[]",
        "0\"x\"",
        "0null",
        "4[]",
        "4null",
        "5",
        "51",
        "61-15",
        "51-",
        /* JSON */
        "2[\"x\"",
        "2[\"x\"]x",
        "2[\"x\"][]",
        "2[\"x\",{\"k\":1,\"k\":2}]",
        "2[\"x\\u0000\"]",
        "2['x']",
        "2[\"x\xff\"]",
        "2[\"x\",99999999999999999999999]",
        /* binary headers */
        "5[\"x\"]",
        "5-[\"x\"]",
        "5a-[\"x\"]",
        "5+1-[\"x\"]",
        "511-[\"x\"]",
        "599999999999999999999-[\"x\"]",
        "51[\"x\"]",
        "61-[" PH(1) "]",
        "51-[\"x\",{\"_placeholder\":true}]",
        "51-[\"x\",{\"_placeholder\":true,\"num\":\"0\"}]",
        "51-[\"x\",{\"_placeholder\":true,\"num\":-1}]",
        "51-[\"x\",{\"_placeholder\":true,\"num\":0.5}]",
        "50-[\"x\"," PH(0) "]",
        "51-[\"x\",{\"y\":[" PH(3) "]}]",
        /* ack ids beyond 2^53 - 1 */
        "29007199254740992[\"x\"]",
        "2999999999999999999999999[\"x\"]",
        /* namespaces */
        "2/\xff,[\"x\"]",
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(bad); i++) {
        rt_sio_packet_t p = {RT_SIO_ACK, "sentinel", 8, 99, 99, NULL};
        ROW_CHECK(rt_sio_packet_decode(bad[i], strlen(bad[i]), &p) == RT_EPROTO, i, bad[i]);
        ROW_CHECK(p.ack_id == 99 && p.nsp_len == 8, i, bad[i]); /* untouched */
    }

    /* a namespace of RT_SIO_MAX_NSP_BYTES passes, one byte more does not */
    char pkt[RT_SIO_MAX_NSP_BYTES + 16];
    pkt[0] = '0';
    pkt[1] = '/';
    memset(pkt + 2, 'n', RT_SIO_MAX_NSP_BYTES - 1);
    pkt[RT_SIO_MAX_NSP_BYTES + 1] = ',';
    rt_sio_packet_t p;
    assert_int_equal(rt_sio_packet_decode(pkt, RT_SIO_MAX_NSP_BYTES + 2, &p), 0);
    assert_int_equal(p.nsp_len, RT_SIO_MAX_NSP_BYTES);
    pkt[RT_SIO_MAX_NSP_BYTES + 1] = 'n';
    pkt[RT_SIO_MAX_NSP_BYTES + 2] = ',';
    assert_int_equal(rt_sio_packet_decode(pkt, RT_SIO_MAX_NSP_BYTES + 3, &p), RT_EPROTO);
}

static void test_event_name(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        const char *name;
    } cases[] = {
        {"2[\"publish\",{}]", 0, "publish"},
        {"2/acme/production,7[\"subscribe\",{\"topic\":\"a\"}]", 0, "subscribe"},
        {"51-[\"upload\"," PH(0) "]", 0, "upload"},
        {"2[42]", RT_ENOENT, NULL},
        {"3[\"publish\"]", RT_ENOENT, NULL},
        {"0", RT_ENOENT, NULL},
    };
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        rt_sio_packet_t p;
        ROW_CHECK(rt_sio_packet_decode(cases[i].in, strlen(cases[i].in), &p) == 0, i, cases[i].in);
        const char *name = "sentinel";
        size_t len = 99;
        ROW_CHECK(rt_sio_event_name(&p, &name, &len) == cases[i].rc, i, cases[i].in);
        if (cases[i].rc == 0)
            ROW_CHECK(len == strlen(cases[i].name) && memcmp(name, cases[i].name, len) == 0, i,
                      cases[i].in);
        else
            ROW_CHECK(len == 99, i, cases[i].in);
        rt_sio_packet_close(&p);
    }
}

/* ============================================================= encoding */

static void test_encode_generic(void **state)
{
    (void)state;
    rt_buf_t b;

    /* Readme: { type: ACK, namespace: "/admin", data: ["bar"], id: 13 } */
    json_t *bar = json_pack("[s]", "bar");
    rt_sio_packet_t ack = {RT_SIO_ACK, "/admin", 6, 13, 0, bar};
    rt_buf_init(&b);
    rt_sio_packet_encode(&b, &ack);
    assert_string_equal(b.data, "43/admin,13[\"bar\"]");
    rt_buf_close(&b);

    /* Readme: { type: DISCONNECT, namespace: "/admin" } */
    rt_sio_packet_t disc = {RT_SIO_DISCONNECT, "/admin", 6, -1, 0, NULL};
    rt_buf_init(&b);
    rt_sio_packet_encode(&b, &disc);
    assert_string_equal(b.data, "41/admin,");
    rt_buf_close(&b);

    /* an empty namespace is the main one, as in the reference encoder */
    rt_sio_packet_t ev = {RT_SIO_EVENT, "", 0, -1, 0, bar};
    rt_buf_init(&b);
    rt_sio_packet_encode(&b, &ev);
    assert_string_equal(b.data, "42[\"bar\"]");
    rt_buf_close(&b);

    /* the test-suite's message-back echo, built as a server would */
    json_t *args = json_pack("[s,i,s,{s:[b]}]", "message-back", 1, "2", "3", 1);
    rt_sio_packet_t back = {RT_SIO_EVENT, "/", 1, -1, 0, args};
    rt_buf_init(&b);
    rt_sio_packet_encode(&b, &back);
    assert_string_equal(b.data, "42[\"message-back\",1,\"2\",{\"3\":[true]}]");
    rt_buf_close(&b);
    json_decref(args);
    json_decref(bar);
}

static void test_encode_connect(void **state)
{
    (void)state;
    rt_buf_t b;
    rt_buf_init(&b);
    rt_sio_encode_connect(&b, "/", 1, "wZX3oN0bSVIhsaknAAAI", NULL);
    assert_string_equal(b.data, "40{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}");
    rt_buf_close(&b);

    rt_buf_init(&b);
    rt_sio_encode_connect(&b, "/acme/production", 16, "sid-1", "pid_2");
    assert_string_equal(b.data, "40/acme/production,{\"sid\":\"sid-1\",\"pid\":\"pid_2\"}");
    /* the reply decodes as a CONNECT with an object, as the client needs */
    rt_sio_packet_t p;
    assert_int_equal(rt_sio_packet_decode(b.data + 1, b.len - 1, &p), 0);
    assert_int_equal(p.type, RT_SIO_CONNECT);
    assert_string_equal(json_string_value(json_object_get(p.data, "sid")), "sid-1");
    rt_sio_packet_close(&p);
    rt_buf_close(&b);
}

static void test_encode_connect_error(void **state)
{
    (void)state;
    rt_buf_t b;
    /* test-suite "should disallow connection to an unknown namespace" */
    rt_buf_init(&b);
    rt_sio_encode_connect_error(&b, "/random", 7, "Invalid namespace", NULL);
    assert_string_equal(b.data, "44/random,{\"message\":\"Invalid namespace\"}");
    rt_buf_close(&b);

    /* Readme "connection is refused", with the data our clients read */
    json_t *data = json_pack("{s:s}", "code", "unauthorized");
    rt_buf_init(&b);
    rt_sio_encode_connect_error(&b, "/", 1, "Not authorized", data);
    assert_string_equal(b.data,
                        "44{\"message\":\"Not authorized\",\"data\":{\"code\":\"unauthorized\"}}");
    rt_buf_close(&b);

    rt_buf_init(&b);
    rt_sio_encode_connect_error(&b, "/acme/production", 16, "bad \"token\"\n", data);
    assert_string_equal(b.data, "44/acme/production,{\"message\":\"bad \\\"token\\\"\\n\","
                                "\"data\":{\"code\":\"unauthorized\"}}");
    rt_sio_packet_t p;
    assert_int_equal(rt_sio_packet_decode(b.data + 1, b.len - 1, &p), 0);
    assert_int_equal(p.type, RT_SIO_CONNECT_ERROR);
    assert_string_equal(json_string_value(json_object_get(p.data, "message")), "bad \"token\"\n");
    rt_sio_packet_close(&p);
    rt_buf_close(&b);
    json_decref(data);
}

static void test_encode_raw_event(void **state)
{
    (void)state;
    static const char env[] = "{\"topic\":\"session.status\",\"seq\":17,\"payload\":{\"a\":[1,2]}}";
    rt_sio_raw_event_t ev = {
        "/acme/production", 16, "event:session.status", 20, env, strlen(env), "17", 2};
    rt_buf_t b;
    rt_buf_init(&b);
    rt_sio_encode_raw_event(&b, &ev);
    assert_string_equal(b.data,
                        "42/acme/production,[\"event:session.status\","
                        "{\"topic\":\"session.status\",\"seq\":17,\"payload\":{\"a\":[1,2]}},"
                        "\"17\"]");
    /* a valid EVENT whose last argument is the offset the client keeps */
    rt_sio_packet_t p;
    assert_int_equal(rt_sio_packet_decode(b.data + 1, b.len - 1, &p), 0);
    assert_int_equal(p.type, RT_SIO_EVENT);
    assert_int_equal(json_array_size(p.data), 3);
    assert_string_equal(json_string_value(json_array_get(p.data, 2)), "17");
    rt_sio_packet_close(&p);
    rt_buf_close(&b);

    /* main namespace, no recovery offset, a name that needs escaping */
    rt_sio_raw_event_t plain = {"/", 1, "event:a\"b", 9, "[]", 2, NULL, 0};
    rt_buf_init(&b);
    rt_sio_encode_raw_event(&b, &plain);
    assert_string_equal(b.data, "42[\"event:a\\\"b\",[]]");
    rt_buf_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_valid),     cmocka_unit_test(test_decode_refused),
        cmocka_unit_test(test_event_name),       cmocka_unit_test(test_encode_generic),
        cmocka_unit_test(test_encode_connect),   cmocka_unit_test(test_encode_connect_error),
        cmocka_unit_test(test_encode_raw_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
