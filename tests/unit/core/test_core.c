/* Unit tests of src/core: ULIDs, buffers, JSON writing, UTF-8, integers, the
 * string map and refcounted blocks. */
#include "test_util.h"

#include "core/core.h"

static void test_ulid_format_and_order(void **state)
{
    (void)state;
    char a[RT_ULID_LEN + 1], b[RT_ULID_LEN + 1];
    int64_t now = rt_time_ms();
    rt_ulid_new(now, a);
    assert_int_equal(strlen(a), RT_ULID_LEN);
    assert_true(rt_ulid_valid(a, strlen(a)));
    for (int i = 0; i < 1000; i++) {
        rt_ulid_new(now, b); /* same millisecond: must still increase */
        assert_true(strcmp(a, b) < 0);
        memcpy(a, b, sizeof(a));
    }
    rt_ulid_new(now + 1, b);
    assert_true(strcmp(a, b) < 0);
    assert_false(rt_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAU", 26)); /* U is not Crockford */
    assert_false(rt_ulid_valid("81ARZ3NDEKTSV4RRFFQ69G5FAV", 26)); /* overflows 128 bits */
    assert_false(rt_ulid_valid("01ARZ3NDEK", 10));
}

/* Decodes the 48-bit time of a ULID (the first 10 characters). */
static int64_t ulid_time(const char *u)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    int64_t t = 0;
    for (int i = 0; i < 10; i++)
        t = t * 32 + (int64_t)(strchr(alphabet, u[i]) - alphabet);
    return t;
}

static void test_ulid_time_prefix(void **state)
{
    (void)state;
    char a[RT_ULID_LEN + 1];
    /* Later than anything made so far: ids never go back in time. */
    int64_t ms = rt_time_ms() + 86400000;
    rt_ulid_new(ms, a);
    assert_true(ulid_time(a) == ms);
    assert_true(ulid_time("01ARYZ6S41TSV4RRFFQ69G5FAV") ==
                1469918176385LL); /* the spec's example */
}

static void test_iso8601(void **state)
{
    (void)state;
    char ts[RT_ISO8601_LEN];
    rt_time_iso8601(1700000000123LL, ts);
    assert_string_equal(ts, "2023-11-14T22:13:20.123Z");
    rt_time_iso8601(0, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
}

static void test_buf_and_json_strings(void **state)
{
    (void)state;
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_appendf(&b, "%d-%s", 42, "x");
    rt_buf_append_json_str(&b, "a\"b\\c\n\x01", 7);
    assert_string_equal(b.data, "42-x\"a\\\"b\\\\c\\n\\u0001\"");
    rt_buf_consume(&b, 3);
    assert_string_equal(b.data, "x\"a\\\"b\\\\c\\n\\u0001\"");
    size_t len;
    char *s = rt_buf_steal(&b, &len);
    assert_int_equal(len, strlen(s));
    assert_null(b.data);
    rt_free(s);
}

static void test_json_writer_reals_and_order(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"z\":0.1,\"a\":[1,2.5,1e300,3.0],\"s\":\"é\",\"n\":null,\"t\":true}",
                           0, NULL);
    assert_non_null(j);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_json(&b, j);
    assert_string_equal(b.data,
                        "{\"z\":0.1,\"a\":[1,2.5,1e+300,3.0],\"s\":\"é\",\"n\":null,\"t\":true}");
    rt_buf_close(&b);
    json_decref(j);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(rt_utf8_valid("héllo €𝄞", strlen("héllo €𝄞")));
    assert_false(rt_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(rt_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(rt_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(rt_utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_true(rt_utf8_valid("", 0));
}

static void test_parse_i64(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(rt_parse_i64("123", 3, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(rt_parse_i64("-9223372036854775808", 20, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(rt_parse_i64("9223372036854775808", 19, &v), RT_EINVAL);
    assert_int_equal(rt_parse_i64("12a", 3, &v), RT_EINVAL);
    assert_int_equal(rt_parse_i64("", 0, &v), RT_EINVAL);
    assert_int_equal(rt_parse_i64("-", 1, &v), RT_EINVAL);
}

static void test_map(void **state)
{
    (void)state;
    rt_map_t m;
    rt_map_init(&m);
    char key[32];
    for (intptr_t i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        assert_null(rt_map_put(&m, key, (void *)(i + 1)));
    }
    assert_int_equal(m.len, 1000);
    for (intptr_t i = 0; i < 1000; i += 2) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        assert_true(rt_map_del(&m, key) == (void *)(i + 1));
    }
    assert_int_equal(m.len, 500);
    assert_null(rt_map_get(&m, "k0"));
    assert_true(rt_map_get(&m, "k1") == (void *)2);
    size_t it = 0, n = 0;
    const char *k;
    void *v;
    while (rt_map_next(&m, &it, &k, &v))
        n++;
    assert_int_equal(n, 500);
    rt_map_close(&m);
}

static void test_rc(void **state)
{
    (void)state;
    rt_rc_t *rc = rt_rc_new(5);
    memcpy(rc->data, "hello", 5);
    rt_rc_retain(rc);
    rt_rc_release(rc);
    assert_int_equal(atomic_load(&rc->refs), 1);
    assert_int_equal(rc->data[5], '\0');
    rt_rc_release(rc);
}

static void test_metrics_render(void **state)
{
    (void)state;
    rt_metric_add(rt_metric_get("rt_test_total", "a=\"1\"", "counter", "test"), 2);
    rt_metric_get("rt_other", "", "gauge", "other");
    rt_metric_add(rt_metric_get("rt_test_total", "a=\"2\"", "counter", "test"), 3);
    rt_histo_observe_ns(rt_histo_get("rt_test_seconds", "", "h"), 2000000);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_metrics_render(&b);
    /* Series of one family stay together under one TYPE line. */
    const char *want = "# TYPE rt_test_total counter\nrt_test_total{a=\"1\"} 2\n"
                       "rt_test_total{a=\"2\"} 3\n";
    assert_non_null(strstr(b.data, want));
    assert_non_null(strstr(b.data, "rt_test_seconds_bucket{le=\"0.0025\"} 1\n"));
    assert_non_null(strstr(b.data, "rt_test_seconds_count 1\n"));
    rt_buf_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ulid_format_and_order),
        cmocka_unit_test(test_ulid_time_prefix),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_buf_and_json_strings),
        cmocka_unit_test(test_json_writer_reals_and_order),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_rc),
        cmocka_unit_test(test_metrics_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
