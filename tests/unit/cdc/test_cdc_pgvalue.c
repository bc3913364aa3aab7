/*
 * Tests of the value conversions of src/cdc/pgvalue.c: one table row per
 * (type, PostgreSQL text output, expected JSON), arrays, the fallbacks to
 * strings, base64 (RFC 4648 §10 vectors) and row objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cdc/cdc.h"
#include "cdc/cdc_internal.h"

typedef struct {
    uint32_t oid;
    const char *text;
    const char *json; /* expected, as JSON text */
} conv_t;

static void check_table(const conv_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *got = rt_cdc_pg_value_to_json(rows[i].oid, rows[i].text, strlen(rows[i].text));
        json_error_t e;
        json_t *want = json_loads(rows[i].json, JSON_DECODE_ANY, &e);
        if (!want)
            fail_msg("bad expectation %s", rows[i].json);
        if (!json_equal(got, want) || json_typeof(got) != json_typeof(want)) {
            char *s = json_dumps(got, JSON_ENCODE_ANY);
            fail_msg("oid %u text '%s': got %s want %s", rows[i].oid, rows[i].text, s,
                     rows[i].json);
        }
        json_decref(got);
        json_decref(want);
    }
}

static void test_numbers(void **state)
{
    (void)state;
    static const conv_t rows[] = {
        {RT_CDC_OID_INT2, "-32768", "-32768"},
        {RT_CDC_OID_INT4, "2147483647", "2147483647"},
        {RT_CDC_OID_OID, "4294967295", "4294967295"},
        {RT_CDC_OID_INT8, "9007199254740992", "9007199254740992"},
        {RT_CDC_OID_INT8, "-9007199254740992", "-9007199254740992"},
        {RT_CDC_OID_INT8, "9007199254740993", "\"9007199254740993\""},
        {RT_CDC_OID_INT8, "-9223372036854775808", "\"-9223372036854775808\""},
        {RT_CDC_OID_INT4, "12x", "\"12x\""},
        {RT_CDC_OID_NUMERIC, "123.4500", "\"123.4500\""},
        {RT_CDC_OID_NUMERIC, "NaN", "\"NaN\""},
        {RT_CDC_OID_FLOAT8, "1.5", "1.5"},
        {RT_CDC_OID_FLOAT8, "-0", "-0.0"},
        {RT_CDC_OID_FLOAT8, "1e+100", "1e100"},
        {RT_CDC_OID_FLOAT4, "3.25", "3.25"},
        {RT_CDC_OID_FLOAT8, "NaN", "\"NaN\""},
        {RT_CDC_OID_FLOAT8, "Infinity", "\"Infinity\""},
        {RT_CDC_OID_FLOAT8, "-Infinity", "\"-Infinity\""},
        {RT_CDC_OID_FLOAT8, "0x10", "\"0x10\""},
        {RT_CDC_OID_BOOL, "t", "true"},
        {RT_CDC_OID_BOOL, "f", "false"},
        {RT_CDC_OID_BOOL, "yes", "\"yes\""},
    };
    check_table(rows, RT_ARRAY_LEN(rows));
}

static void test_text_json_uuid(void **state)
{
    (void)state;
    static const conv_t rows[] = {
        {RT_CDC_OID_TEXT, "héllo \"q\"", "\"héllo \\\"q\\\"\""},
        {RT_CDC_OID_VARCHAR, "", "\"\""},
        {RT_CDC_OID_BPCHAR, "ab  ", "\"ab  \""},
        {RT_CDC_OID_NAME, "pg", "\"pg\""},
        {RT_CDC_OID_CHAR, "x", "\"x\""},
        {16999, "citext or enum", "\"citext or enum\""},
        {790, "$1,000.00", "\"$1,000.00\""},
        {RT_CDC_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
         "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\""},
        {RT_CDC_OID_JSONB, "{\"a\": [1, 2.5, null, true], \"b\": {}}",
         "{\"a\": [1, 2.5, null, true], \"b\": {}}"},
        {RT_CDC_OID_JSON, "  [1, \"x\"] ", "[1, \"x\"]"},
        {RT_CDC_OID_JSON, "\"scalar\"", "\"scalar\""},
        {RT_CDC_OID_JSONB, "null", "null"},
        {RT_CDC_OID_JSONB, "{\"big\": 123456789012345678901234567890}",
         "{\"big\": 1.2345678901234568e29}"},
        {RT_CDC_OID_JSON, "{not json", "\"{not json\""},
    };
    check_table(rows, RT_ARRAY_LEN(rows));

    json_t *j = rt_cdc_pg_value_to_json(RT_CDC_OID_TEXT,
                                        "a\xff"
                                        "b\xc3",
                                        4);
    assert_string_equal(json_string_value(j), "a\xef\xbf\xbd"
                                              "b\xef\xbf\xbd");
    json_decref(j);
}

static void test_datetime(void **state)
{
    (void)state;
    static const conv_t rows[] = {
        {RT_CDC_OID_TIMESTAMP, "2026-11-28 03:16:23.123", "\"2026-11-28T03:16:23.123\""},
        {RT_CDC_OID_TIMESTAMP, "2026-11-28 03:16:23", "\"2026-11-28T03:16:23\""},
        {RT_CDC_OID_TIMESTAMP, "0044-03-15 12:00:00 BC", "\"-000043-03-15T12:00:00\""},
        {RT_CDC_OID_TIMESTAMP, "infinity", "\"infinity\""},
        {RT_CDC_OID_TIMESTAMP, "2026-11-28T03:16:23", "\"2026-11-28T03:16:23\""},
        {RT_CDC_OID_TIMESTAMPTZ, "2026-11-28 03:16:23.123+00", "\"2026-11-28T03:16:23.123Z\""},
        {RT_CDC_OID_TIMESTAMPTZ, "2026-11-28 08:46:23.5+05:30", "\"2026-11-28T03:16:23.5Z\""},
        {RT_CDC_OID_TIMESTAMPTZ, "2026-01-01 01:00:00+02", "\"2025-12-31T23:00:00Z\""},
        {RT_CDC_OID_TIMESTAMPTZ, "2024-02-28 22:00:00-03:30", "\"2024-02-29T01:30:00Z\""},
        {RT_CDC_OID_TIMESTAMPTZ, "1850-01-01 00:53:28+00:53:28", "\"1850-01-01T00:00:00Z\""},
        {RT_CDC_OID_TIMESTAMPTZ, "0001-01-01 00:30:00+01 BC", "\"-000001-12-31T23:30:00Z\""},
        {RT_CDC_OID_TIMESTAMPTZ, "294276-12-31 23:59:59.999999+00",
         "\"+294276-12-31T23:59:59.999999Z\""},
        {RT_CDC_OID_TIMESTAMPTZ, "-infinity", "\"-infinity\""},
        {RT_CDC_OID_TIMESTAMPTZ, "2026-13-01 00:00:00+00", "\"2026-13-01 00:00:00+00\""},
        {RT_CDC_OID_DATE, "2026-11-28", "\"2026-11-28\""},
        {RT_CDC_OID_DATE, "0001-01-01 BC", "\"0000-01-01\""},
        {RT_CDC_OID_DATE, "10000-01-01", "\"+010000-01-01\""},
        {RT_CDC_OID_DATE, "26-11-28", "\"26-11-28\""},
        {RT_CDC_OID_TIME, "03:16:23.5", "\"03:16:23.5\""},
        {RT_CDC_OID_TIME, "24:00:00", "\"24:00:00\""},
        {RT_CDC_OID_TIMETZ, "03:16:23+00", "\"03:16:23Z\""},
        {RT_CDC_OID_TIMETZ, "03:16:23.25-05:30", "\"03:16:23.25-05:30\""},
        {RT_CDC_OID_TIMETZ, "03:16:23+05:53:28", "\"03:16:23+05:53:28\""},
    };
    check_table(rows, RT_ARRAY_LEN(rows));
}

static void test_bytea(void **state)
{
    (void)state;
    static const conv_t rows[] = {
        {RT_CDC_OID_BYTEA, "\\x48656c6C6f", "\"SGVsbG8=\""},
        {RT_CDC_OID_BYTEA, "\\x", "\"\""},
        {RT_CDC_OID_BYTEA, "\\x4", "\"\\\\x4\""},
        {RT_CDC_OID_BYTEA, "\\xzz", "\"\\\\xzz\""},
        {RT_CDC_OID_BYTEA, "ab\\000\\\\", "\"YWIAXA==\""},
        {RT_CDC_OID_BYTEA, "ab\\9", "\"ab\\\\9\""},
    };
    check_table(rows, RT_ARRAY_LEN(rows));
}

static void test_arrays(void **state)
{
    (void)state;
    static const conv_t rows[] = {
        {1007, "{1,2,NULL}", "[1, 2, null]"},
        {1007, "{}", "[]"},
        {1007, "{{1,2},{3,4}}", "[[1, 2], [3, 4]]"},
        {1007, "[0:1]={5,6}", "[5, 6]"},
        {1007, "{ 1 , 2 }", "[1, 2]"},
        {1016, "{9007199254740993,1}", "[\"9007199254740993\", 1]"},
        {1009, "{a,\"b c\",\"d\\\"e\",NULL,\"NULL\",null,\"\"}",
         "[\"a\", \"b c\", \"d\\\"e\", null, \"NULL\", null, \"\"]"},
        {1009, "{\"{x}\",\"a,b\",\"back\\\\slash\"}", "[\"{x}\", \"a,b\", \"back\\\\slash\"]"},
        {1000, "{t,f}", "[true, false]"},
        {1022, "{1.5,NaN}", "[1.5, \"NaN\"]"},
        {1231, "{1.10,2}", "[\"1.10\", \"2\"]"},
        {3807, "{\"{\\\"a\\\": 1}\",\"[1]\"}", "[{\"a\": 1}, [1]]"},
        {1185, "{\"2026-01-01 01:00:00+01\"}", "[\"2026-01-01T00:00:00Z\"]"},
        {1001, "{\"\\\\x00ff\"}", "[\"AP8=\"]"},
        {2951, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
         "[\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"]"},
        {1007, "{1,2", "\"{1,2\""},
        {1007, "{1,,2}", "\"{1,,2}\""},
        {1007, "{1}x", "\"{1}x\""},
        {1007, "{\"1}", "\"{\\\"1}\""},
        {1007, "{{{{{{1}}}}}}", "[[[[[[1]]]]]]"},
        {1007, "{{{{{{{1}}}}}}}", "\"{{{{{{{1}}}}}}}\""},
        {1007, "[1:2={1}", "\"[1:2={1}\""},
        {1007, "[-2:-1][1:1]={{7},{8}}", "[[7], [8]]"},
    };
    check_table(rows, RT_ARRAY_LEN(rows));
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < RT_ARRAY_LEN(vec); i++) {
        rt_buf_t b;
        rt_buf_init(&b);
        rt_cdc_base64_append(&b, (const uint8_t *)vec[i][0], strlen(vec[i][0]));
        assert_int_equal(b.len, strlen(vec[i][1]));
        if (b.len)
            assert_memory_equal(b.data, vec[i][1], b.len);
        rt_buf_close(&b);
    }
}

static void test_row(void **state)
{
    (void)state;
    const rt_cdc_column_t cols[] = {
        {RT_CDC_COL_KEY, "id", RT_CDC_OID_INT8, -1},
        {0, "status", RT_CDC_OID_TEXT, -1},
        {0, "doc", RT_CDC_OID_JSONB, -1},
        {0, "big", RT_CDC_OID_TEXT, -1},
        {0, "raw", RT_CDC_OID_BYTEA, -1},
        {0, "gone", RT_CDC_OID_TEXT, -1},
    };
    const rt_cdc_relation_t rel = {1, "public", "t", "public.t", 'd', 6, cols};
    const rt_cdc_datum_t vals[] = {
        {'t', 2, "42"}, {'n', 0, NULL},       {'t', 7, "{\"k\":1}"},
        {'u', 0, NULL}, {'b', 2, "\x01\x02"}, {'u', 0, NULL},
    };
    rt_cdc_tuple_t t = {'N', 6, vals};
    json_t *unchanged = NULL;
    json_t *row = rt_cdc_pg_row_to_json(NULL, &rel, &t, &unchanged);
    json_t *want =
        json_pack("{s:i, s:n, s:{s:i}, s:s}", "id", 42, "status", "doc", "k", 1, "raw", "AQI=");
    assert_true(json_equal(row, want));
    json_t *want_u = json_pack("[s, s]", "big", "gone");
    assert_true(json_equal(unchanged, want_u));
    json_decref(row);
    json_decref(want);
    json_decref(unchanged);
    json_decref(want_u);

    /* An old-key tuple: only the key columns. */
    t.kind = 'K';
    row = rt_cdc_pg_row_to_json(NULL, &rel, &t, NULL);
    want = json_pack("{s:i}", "id", 42);
    assert_true(json_equal(row, want));
    json_decref(row);
    json_decref(want);
}

static void test_row_resolves_types(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = NULL;
    assert_int_equal(rt_cdc_decoder_new(1, &d), 0);
    /* Type messages: 16400 is a domain over int4, 16401 is _mood. */
    const uint8_t dom[] = {'Y', 0, 0, 0x40, 0x10, 0, 'i', 'n', 't', '4', 0};
    const uint8_t arr[] = {'Y', 0, 0, 0x40, 0x11, 'p', 0, '_', 'm', 'o', 'o', 'd', 0};
    rt_cdc_pg_msg_t m;
    assert_int_equal(rt_cdc_pg_decode(d, dom, sizeof(dom), &m), 0);
    assert_int_equal(rt_cdc_pg_decode(d, arr, sizeof(arr), &m), 0);
    const rt_cdc_column_t cols[] = {{0, "n", 16400, -1}, {0, "moods", 16401, -1}};
    const rt_cdc_relation_t rel = {1, "public", "t", "public.t", 'd', 2, cols};
    const rt_cdc_datum_t vals[] = {{'t', 2, "17"}, {'t', 10, "{ok,\"sad\"}"}};
    rt_cdc_tuple_t t = {'N', 2, vals};
    json_t *row = rt_cdc_pg_row_to_json(d, &rel, &t, NULL);
    json_t *want = json_pack("{s:i, s:[s, s]}", "n", 17, "moods", "ok", "sad");
    assert_true(json_equal(row, want));
    json_decref(row);
    json_decref(want);
    rt_cdc_decoder_free(d);
}

static void test_fill_unchanged(void **state)
{
    (void)state;
    json_t *n = json_pack("{s:i}", "id", 1);
    json_t *o = json_pack("{s:i, s:s, s:n}", "id", 1, "big", "long text", "doc");
    json_t *u = json_pack("[s, s, s]", "big", "other", "doc");
    rt_cdc_row_fill_unchanged(n, o, u);
    json_t *want = json_pack("{s:i, s:s, s:n}", "id", 1, "big", "long text", "doc");
    assert_true(json_equal(n, want));
    assert_int_equal(json_array_size(u), 1);
    assert_string_equal(json_string_value(json_array_get(u, 0)), "other");
    rt_cdc_row_fill_unchanged(n, NULL, u); /* no old row: nothing changes */
    assert_int_equal(json_array_size(u), 1);
    json_decref(n);
    json_decref(o);
    json_decref(u);
    json_decref(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_text_json_uuid),
        cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_bytea),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_row),
        cmocka_unit_test(test_row_resolves_types),
        cmocka_unit_test(test_fill_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
