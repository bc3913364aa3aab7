/*
 * Unit tests of rt_schema_errors_t, the compact error list: the units it
 * collects are exactly those rt_schema_validate() reports (through
 * rt_schema_errors_to_json()), its JSON text is byte for byte the jansson
 * form's, it grows past its inline storage, it is reset by each validation
 * and left empty when valid or unparsable, and the depth-overflow unit
 * replaces the last one at the cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "schema/schema.h"

static rt_schema_t *compile(const char *schema)
{
    json_t *j = json_loads(schema, 0, NULL);
    assert_non_null(j);
    rt_schema_t *out = NULL;
    assert_int_equal(rt_schema_compile(j, NULL, &out, NULL), 0);
    json_decref(j);
    return out;
}

/* Checks that e holds the units the jansson entry point reports for text,
 * in both forms. */
static void check_same_as_json_path(const rt_schema_t *s, const char *text,
                                    const rt_schema_errors_t *e, size_t max)
{
    json_t *inst = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(inst);
    json_t *want = NULL;
    assert_int_equal(rt_schema_validate(s, inst, max, &want), RT_EINVAL);
    json_t *got = rt_schema_errors_to_json(e);
    assert_true(json_equal(want, got));
    assert_int_equal(json_array_size(got), rt_schema_errors_count(e));
    rt_buf_t a, b;
    rt_buf_init(&a);
    rt_buf_init(&b);
    rt_buf_append_json(&a, want);
    rt_schema_errors_append_json(e, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    for (size_t i = 0; i < rt_schema_errors_count(e); i++) {
        rt_schema_error_t u;
        rt_schema_errors_get(e, i, &u);
        const json_t *w = json_array_get(want, i);
        assert_string_equal(u.instance_location,
                            json_string_value(json_object_get(w, "instanceLocation")));
        assert_int_equal(u.instance_location_len, strlen(u.instance_location));
        assert_string_equal(u.keyword_location,
                            json_string_value(json_object_get(w, "keywordLocation")));
        assert_int_equal(u.keyword_location_len, strlen(u.keyword_location));
        assert_string_equal(u.message, json_string_value(json_object_get(w, "message")));
        assert_int_equal(u.message_len, strlen(u.message));
    }
    rt_buf_close(&a);
    rt_buf_close(&b);
    json_decref(got);
    json_decref(want);
    json_decref(inst);
}

static void test_one_unit(void **state)
{
    (void)state;
    rt_schema_t *s = compile("{\"properties\":{\"a\\\"/\\u0001\":{\"type\":\"string\"}}}");
    const char *text = "{\"a\\\"/\\u0001\":1}";
    rt_schema_errors_t e;
    rt_schema_errors_init(&e);
    assert_int_equal(rt_schema_validate_bytes_collect(s, text, strlen(text), 5, &e), RT_EINVAL);
    assert_int_equal(rt_schema_errors_count(&e), 1);
    rt_schema_error_t u;
    rt_schema_errors_get(&e, 0, &u);
    assert_string_equal(u.instance_location, "/a\"~1\x01");
    assert_int_equal(u.instance_location_len, 6);
    assert_string_equal(u.keyword_location, "/properties/a\"~1\x01/type");
    assert_string_equal(u.message, "expected string, got integer");
    rt_buf_t b;
    rt_buf_init(&b);
    rt_schema_errors_append_json(&e, &b);
    assert_string_equal(b.data, "[{\"instanceLocation\":\"/a\\\"~1\\u0001\","
                                "\"keywordLocation\":\"/properties/a\\\"~1\\u0001/type\","
                                "\"message\":\"expected string, got integer\"}]");
    rt_buf_close(&b);
    check_same_as_json_path(s, text, &e, 5);
    rt_schema_errors_close(&e);
    rt_schema_free(s);
}

/* Many long units: the list leaves its inline storage; reuse resets it. */
static void test_growth_and_reuse(void **state)
{
    (void)state;
    rt_schema_t *s = compile("{\"items\":{\"properties\":{\"a_long_property_name_to_fill_"
                             "the_text\":{\"type\":\"string\",\"minimum\":3}}}}");
    rt_buf_t t;
    rt_buf_init(&t);
    rt_buf_append_str(&t, "[");
    for (int i = 0; i < 40; i++)
        rt_buf_appendf(&t, "%s{\"a_long_property_name_to_fill_the_text\":%d}", i ? "," : "", i);
    rt_buf_append_str(&t, "]");
    rt_schema_errors_t e;
    rt_schema_errors_init(&e);
    assert_int_equal(rt_schema_validate_bytes_collect(s, t.data, t.len, 30, &e), RT_EINVAL);
    assert_int_equal(rt_schema_errors_count(&e), 30);
    check_same_as_json_path(s, t.data, &e, 30);
    /* the same list again: the previous units are gone */
    assert_int_equal(rt_schema_validate_bytes_collect(s, "[{}, 7]", 7, 30, &e), 0);
    assert_int_equal(rt_schema_errors_count(&e), 0);
    const char *one = "[{\"a_long_property_name_to_fill_the_text\":null}]";
    assert_int_equal(rt_schema_validate_bytes_collect(s, one, strlen(one), 30, &e), RT_EINVAL);
    assert_int_equal(rt_schema_errors_count(&e), 1);
    check_same_as_json_path(s, one, &e, 30);
    /* not JSON: RT_EPROTO, list emptied */
    assert_int_equal(rt_schema_validate_bytes_collect(s, "[1,", 3, 30, &e), RT_EPROTO);
    assert_int_equal(rt_schema_errors_count(&e), 0);
    /* no errors wanted: the verdict only */
    assert_int_equal(rt_schema_validate_bytes_collect(s, one, strlen(one), 0, &e), RT_EINVAL);
    assert_int_equal(rt_schema_errors_count(&e), 0);
    assert_int_equal(rt_schema_validate_bytes_collect(s, one, strlen(one), 5, NULL), RT_EINVAL);
    rt_schema_errors_close(&e);
    rt_schema_errors_close(NULL);
    rt_buf_close(&t);
    rt_schema_free(s);
}

/* The jansson-value variant collects the same units. */
static void test_collect_from_json(void **state)
{
    (void)state;
    rt_schema_t *s = compile("{\"required\":[\"id\"],\"additionalProperties\":false}");
    json_t *inst = json_loads("{\"x\":1}", 0, NULL);
    rt_schema_errors_t e;
    rt_schema_errors_init(&e);
    assert_int_equal(rt_schema_validate_collect(s, inst, 5, &e), RT_EINVAL);
    assert_int_equal(rt_schema_errors_count(&e), 2);
    check_same_as_json_path(s, "{\"x\":1}", &e, 5);
    json_t *empty = rt_schema_errors_to_json(&e);
    rt_schema_errors_reset(&e);
    json_decref(empty);
    empty = rt_schema_errors_to_json(&e);
    assert_int_equal(json_array_size(empty), 0);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_schema_errors_append_json(&e, &b);
    assert_string_equal(b.data, "[]");
    rt_buf_close(&b);
    json_decref(empty);
    json_decref(inst);
    rt_schema_errors_close(&e);
    rt_schema_free(s);
}

/* A name cut at 200 bytes inside a UTF-8 sequence: '?' for the cut bytes. */
static void test_cut_message_repaired(void **state)
{
    (void)state;
    rt_schema_t *s = compile("{\"additionalProperties\":false}");
    rt_buf_t t;
    rt_buf_init(&t);
    rt_buf_append_str(&t, "{\"");
    for (int i = 0; i < 199; i++)
        rt_buf_append_str(&t, "x");
    rt_buf_append_str(&t, "\xc3\xa9\":1}"); /* é straddles byte 200 */
    rt_schema_errors_t e;
    rt_schema_errors_init(&e);
    assert_int_equal(rt_schema_validate_bytes_collect(s, t.data, t.len, 5, &e), RT_EINVAL);
    rt_schema_error_t u;
    rt_schema_errors_get(&e, 0, &u);
    assert_non_null(strstr(u.message, "x?\""));
    check_same_as_json_path(s, t.data, &e, 5);
    rt_schema_errors_close(&e);
    rt_buf_close(&t);
    rt_schema_free(s);
}

/* Nesting past RT_SCHEMA_MAX_EVAL_DEPTH with the cap already reached: the
 * overflow unit replaces the last one. */
static void test_overflow_replaces_last(void **state)
{
    (void)state;
    rt_schema_t *s =
        compile("{\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"$ref\":\"#\"}}}");
    rt_buf_t t;
    rt_buf_init(&t);
    for (int i = 0; i < RT_SCHEMA_MAX_EVAL_DEPTH + 10; i++)
        rt_buf_append_str(&t, "{\"b\":");
    rt_buf_append_str(&t, "{}");
    for (int i = 0; i < RT_SCHEMA_MAX_EVAL_DEPTH + 10; i++)
        rt_buf_append_str(&t, "}");
    /* "b" first: the overflow happens before "a" fills the cap */
    rt_buf_t top;
    rt_buf_init(&top);
    rt_buf_appendf(&top, "{\"b\":%s,\"a\":1}", t.data);
    rt_schema_errors_t e;
    rt_schema_errors_init(&e);
    assert_int_equal(rt_schema_validate_bytes_collect(s, top.data, top.len, 1, &e), RT_EINVAL);
    assert_int_equal(rt_schema_errors_count(&e), 1);
    rt_schema_error_t u;
    rt_schema_errors_get(&e, 0, &u);
    assert_string_equal(u.message, "schema evaluation nested deeper than 512 levels");
    assert_string_equal(u.instance_location, "");
    check_same_as_json_path(s, top.data, &e, 1);
    assert_int_equal(rt_schema_validate_bytes_collect(s, top.data, top.len, 5, &e), RT_EINVAL);
    assert_int_equal(rt_schema_errors_count(&e), 2);
    rt_schema_errors_get(&e, 0, &u);
    assert_string_equal(u.instance_location, "/a");
    rt_schema_errors_close(&e);
    rt_buf_close(&top);
    rt_buf_close(&t);
    rt_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_unit),
        cmocka_unit_test(test_growth_and_reuse),
        cmocka_unit_test(test_collect_from_json),
        cmocka_unit_test(test_cut_message_repaired),
        cmocka_unit_test(test_overflow_replaces_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
