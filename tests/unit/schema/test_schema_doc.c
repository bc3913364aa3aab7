/*
 * Unit tests of the document parser (schema_doc.c) and of
 * rt_schema_validate_bytes(): the parser accepts exactly what jansson's
 * json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) accepts and yields
 * the same values (checked on a table of edge cases, the same way
 * fuzz/schema_doc.c checks random inputs), duplicate keys in small and
 * indexed objects, the depth and size caps, key lookup, and that the bytes
 * path reports exactly the errors of the jansson path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema_internal.h"

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)

/* Parses text both ways; asserts the same verdict and, if accepted, the same
 * value. Returns 1 if accepted. */
static int same_as_jansson(const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, LOAD_FLAGS, NULL);
    sc_doc_t d;
    sc_val_t v;
    rt_schema_doc_init(&d, NULL, 0, NULL, 0);
    int rc = rt_schema_doc_parse(&d, text, len, &v);
    if ((rc == 0) != (j != NULL))
        print_error("verdicts differ on %.*s: ours %d, jansson %s\n", (int)len, text, rc,
                    j ? "accepts" : "refuses");
    assert_int_equal(rc == 0, j != NULL);
    if (j) {
        json_t *back = rt_schema_doc_to_json(&v);
        if (!json_equal(back, j))
            print_error("values differ on %.*s\n", (int)len, text);
        assert_true(json_equal(back, j));
        json_decref(back);
    }
    rt_schema_doc_close(&d);
    json_decref(j);
    return rc == 0;
}

static int same(const char *text)
{
    return same_as_jansson(text, strlen(text));
}

static void test_accepts_like_jansson(void **state)
{
    (void)state;
    static const char *const ok[] = {"0",
                                     "-0",
                                     "1",
                                     "-1",
                                     "9223372036854775807",
                                     "-9223372036854775808",
                                     "1.5",
                                     "-0.0",
                                     "1e3",
                                     "1E+3",
                                     "1e-3",
                                     "0.1",
                                     "0.30000000000000004",
                                     "123456789012345678901234567890.5",
                                     "1e308",
                                     "1e-400",
                                     "2.2250738585072014e-308",
                                     "4.9e-324",
                                     "12345678901234567e-5",
                                     "1.7976931348623157e308",
                                     "0.000001",
                                     "1e22",
                                     "1e23",
                                     "9007199254740993.0",
                                     "\"\"",
                                     "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
                                     "\"\\u00e9\\u4e2d\\ud83d\\ude00\"",
                                     "\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"",
                                     "\"\x7f\"",
                                     "true",
                                     "false",
                                     "null",
                                     " \t\r\n[ 1 , 2 ] \n",
                                     "[]",
                                     "{}",
                                     "[[]]",
                                     "{\"a\":{\"b\":[1,{\"c\":null}]}}",
                                     "{\"a\":1,\"b\":2}",
                                     "[\"x\",1,true,null,{},[]]",
                                     "{\"\":0}",
                                     "\"\\u0001\"",
                                     "{\"a\\u0000b\":1}"};
    for (size_t i = 0; i < RT_ARRAY_LEN(ok) - 1; i++)
        assert_true(same(ok[i]));
    /* jansson refuses NUL in keys as in strings */
    assert_false(same(ok[RT_ARRAY_LEN(ok) - 1]));
}

static void test_refuses_like_jansson(void **state)
{
    (void)state;
    static const char *const bad[] = {"",
                                      " ",
                                      "01",
                                      "-",
                                      "+1",
                                      "1.",
                                      ".5",
                                      "1e",
                                      "1e+",
                                      "-01",
                                      "0x10",
                                      "NaN",
                                      "Infinity",
                                      "9223372036854775808",
                                      "-9223372036854775809",
                                      "1e309",
                                      "-1e400",
                                      "tru",
                                      "truex",
                                      "nul",
                                      "[1,]",
                                      "[,1]",
                                      "[1 2]",
                                      "{\"a\"}",
                                      "{\"a\":}",
                                      "{\"a\":1,}",
                                      "{a:1}",
                                      "{\"a\":1 \"b\":2}",
                                      "{\"a\":1,\"a\":2}",
                                      "[1]x",
                                      "[1]]",
                                      "[",
                                      "{",
                                      "\"abc",
                                      "\"a\nb\"",
                                      "\"\\x\"",
                                      "\"\\u12\"",
                                      "\"\\u12g4\"",
                                      "\"\\ud800\"",
                                      "\"\\ud800x\"",
                                      "\"\\ud800\\u0041\"",
                                      "\"\\udc00\"",
                                      "\"\\u0000\"",
                                      "\"\xc3\"",
                                      "\"\xc0\xaf\"",
                                      "\"\xed\xa0\x80\"",
                                      "\"\xf4\x90\x80\x80\"",
                                      "\"\xff\"",
                                      "'a'",
                                      "\xef\xbb\xbf[]",
                                      "/*c*/1"};
    for (size_t i = 0; i < RT_ARRAY_LEN(bad); i++) {
        if (same(bad[i]))
            print_error("accepted: %s\n", bad[i]);
        assert_false(same(bad[i]));
    }
    assert_false(same_as_jansson("\"a\0b\"", 5));
    assert_false(same_as_jansson("[1]\0", 4));
    /* a deliberate difference: jansson 2.14 skips a NUL byte right after a
     * number or a literal; RFC 8259 has no place for it */
    assert_int_equal(rt_schema_json_check("[1\0]", 4), RT_EPROTO);
}

/* Duplicate keys are refused whether the object is scanned or indexed, and
 * lookups find every key either way. */
static void test_duplicates_and_lookup(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 3 * SC_DOC_INDEX_MIN_MEMBERS; n++) {
        rt_buf_t b;
        rt_buf_init(&b);
        rt_buf_append_str(&b, "{");
        for (size_t i = 0; i < n; i++)
            rt_buf_appendf(&b, "%s\"k%zu\":%zu", i ? "," : "", i, i);
        size_t prefix = b.len;
        rt_buf_append_str(&b, "}");
        sc_doc_t d;
        sc_val_t v;
        rt_schema_doc_init(&d, NULL, 0, NULL, 0);
        assert_int_equal(rt_schema_doc_parse(&d, b.data, b.len, &v), 0);
        size_t hint = 0;
        for (size_t i = 0; i < n; i++) {
            char key[16];
            int kl = snprintf(key, sizeof(key), "k%zu", i);
            const sc_val_t *m = rt_schema_val_get(&v, key, (size_t)kl);
            assert_non_null(m);
            assert_int_equal(m->u.i, (int64_t)i);
            assert_ptr_equal(rt_schema_val_find(&v, key, (size_t)kl, &hint), m);
        }
        assert_null(rt_schema_val_get(&v, "k", 1));
        rt_schema_doc_close(&d);
        /* the same object with its last key repeated */
        b.len = prefix;
        rt_buf_appendf(&b, ",\"k%zu\":0}", n - 1);
        assert_false(same_as_jansson(b.data, b.len));
        rt_buf_close(&b);
    }
}

static char *nested(size_t depth)
{
    char *s = rt_malloc(2 * depth + 1);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

static void test_depth_and_size_caps(void **state)
{
    (void)state;
    char *ok = nested(RT_SCHEMA_DOC_MAX_DEPTH), *deep = nested(RT_SCHEMA_DOC_MAX_DEPTH + 1);
    assert_int_equal(rt_schema_json_check(ok, strlen(ok)), 0);
    assert_int_equal(rt_schema_json_check(deep, strlen(deep)), RT_EPROTO);
    /* the same limit as jansson's */
    assert_true(same(ok));
    assert_false(same(deep));
    rt_free(ok);
    rt_free(deep);
    /* the cap is checked before a byte is read */
    assert_int_equal(rt_schema_json_check("1", (size_t)RT_SCHEMA_DOC_MAX_BYTES + 1), RT_ETOOBIG);
}

/* A document far larger than the lent blocks: several heap chunks, a heap
 * stack, escaped strings in the arena. */
static void test_large_document(void **state)
{
    (void)state;
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_str(&b, "[");
    for (int i = 0; i < 20000; i++)
        rt_buf_appendf(&b, "%s{\"id\":%d,\"s\":\"x\\u00e9\\n%d\",\"a\":[%d.5,true]}", i ? "," : "",
                       i, i, i);
    rt_buf_append_str(&b, "]");
    assert_true(same_as_jansson(b.data, b.len));
    rt_buf_close(&b);
}

static rt_schema_t *compile(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    rt_schema_t *s = NULL;
    assert_int_equal(rt_schema_compile(j, NULL, &s, NULL), 0);
    json_decref(j);
    return s;
}

/* The bytes path reports exactly what the jansson path reports. */
static void test_bytes_errors_identical(void **state)
{
    (void)state;
    rt_schema_t *s = compile(
        "{\"type\":\"object\",\"required\":[\"id\",\"tags\"],\"additionalProperties\":false,"
        "\"properties\":{\"id\":{\"type\":\"integer\",\"minimum\":1},"
        "\"name\":{\"type\":\"string\",\"maxLength\":3,\"pattern\":\"^[a-z]+$\"},"
        "\"tag\":{\"enum\":[\"red\",\"green\"]},\"c\":{\"const\":{\"a\":[1,2]}},"
        "\"tags\":{\"type\":\"array\",\"uniqueItems\":true,\"items\":{\"type\":\"string\"}}}}");
    static const char *const docs[] = {
        "{\"id\":0,\"name\":\"ABCDE\",\"tag\":\"blue\",\"c\":{\"a\":[1,2.0]},\"x\":1}",
        "{\"id\":1.0,\"tags\":[\"a\",\"a\",3],\"c\":{\"a\":[2,1]}}", "[1]", "{\"id\":\"1\"}"};
    for (size_t i = 0; i < RT_ARRAY_LEN(docs); i++) {
        json_t *j = json_loads(docs[i], 0, NULL), *e1 = NULL, *e2 = NULL;
        int r1 = rt_schema_validate(s, j, 20, &e1);
        int r2 = rt_schema_validate_bytes(s, docs[i], strlen(docs[i]), 20, &e2);
        assert_int_equal(r1, RT_EINVAL);
        assert_int_equal(r2, RT_EINVAL);
        assert_true(json_equal(e1, e2));
        json_decref(e1);
        json_decref(e2);
        json_decref(j);
    }
    json_t *errors = NULL;
    assert_int_equal(rt_schema_validate_bytes(s, "{\"id\":1,}", 9, 20, &errors), RT_EPROTO);
    assert_null(errors);
    assert_int_equal(rt_schema_validate_bytes(s, "{\"id\":1,\"tags\":[]}", 18, 20, &errors), 0);
    assert_null(errors);
    rt_schema_free(s);
}

/* A name cut inside a UTF-8 sequence (messages quote at most 200 bytes)
 * leaves a '?' instead of an invalid string or a lost error. */
static void test_message_cut_in_utf8(void **state)
{
    (void)state;
    char name[256], schema[320], want[300];
    memset(name, 'a', 199);
    memcpy(name + 199, "\xc3\xa9", 3); /* U+00E9 across bytes 200-201 */
    snprintf(schema, sizeof(schema), "{\"required\":[\"%s\"]}", name);
    snprintf(want, sizeof(want), "missing required property \"%.199s?\"", name);
    rt_schema_t *s = compile(schema);
    json_t *errors = NULL;
    assert_int_equal(rt_schema_validate_bytes(s, "{}", 2, 5, &errors), RT_EINVAL);
    assert_int_equal(json_array_size(errors), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
                        want);
    json_decref(errors);
    rt_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_like_jansson),  cmocka_unit_test(test_refuses_like_jansson),
        cmocka_unit_test(test_duplicates_and_lookup), cmocka_unit_test(test_depth_and_size_caps),
        cmocka_unit_test(test_large_document),        cmocka_unit_test(test_bytes_errors_identical),
        cmocka_unit_test(test_message_cut_in_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
