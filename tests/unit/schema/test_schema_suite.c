/*
 * The JSON-Schema-Test-Suite conformance runner (issue 5): every file of
 * tests/draft2020-12 and tests/draft7 (not optional/) must pass in full;
 * optional/ (formats as assertions for optional/format/) is run and its
 * pass rate printed without failing. Remotes are served from remotes/ as
 * http://localhost:1234/..., metaschema URIs from the official metaschema
 * files, both by the test resolver. The suite lives at
 * $JSON_SCHEMA_TEST_SUITE or ../shared/data/json-schema-test-suite; where it
 * is absent the runner says so and passes. No case is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "schema/schema_test_util.h"

typedef struct tally_s {
    size_t pass, fail;
} tally_t;

/* rt_schema_validate_bytes() on the serialised instance must give the same
 * verdict and the same errors as rt_schema_validate() on the jansson value,
 * and so must the compact list of rt_schema_validate_bytes_collect() in both
 * its forms (jansson values, JSON text); text that jansson's parser refuses
 * ("\u0000") they must refuse too. */
static void check_bytes_path(const rt_schema_t *s, const json_t *data, int valid,
                             const json_t *errs)
{
    char *text = json_dumps(data, JSON_ENCODE_ANY | JSON_COMPACT);
    size_t len = strlen(text);
    json_t *errs2 = NULL;
    int rc = rt_schema_validate_bytes(s, text, len, 5, &errs2);
    rt_schema_errors_t list;
    rt_schema_errors_init(&list);
    assert_int_equal(rt_schema_validate_bytes_collect(s, text, len, 5, &list), rc);
    if (rc == RT_EPROTO) {
        assert_null(json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL));
    } else {
        assert_int_equal(rc == 0, valid);
        assert_true(valid || json_equal(errs, errs2));
        json_t *errs3 = rt_schema_errors_to_json(&list);
        assert_true(valid || json_equal(errs, errs3));
        rt_buf_t a, b;
        rt_buf_init(&a);
        rt_buf_init(&b);
        rt_buf_append_json(&a, valid ? errs3 : errs);
        rt_schema_errors_append_json(&list, &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        rt_buf_close(&a);
        rt_buf_close(&b);
        json_decref(errs3);
    }
    rt_schema_errors_close(&list);
    json_decref(errs2);
    free(text);
}

/* Runs one test file; prints each failure when verbose. */
static void run_file(const char *path, const char *dialect, int format_assert, int verbose,
                     tally_t *t)
{
    json_t *cases = load_json_file(path);
    if (!json_is_array(cases)) {
        printf("FAIL %s: cannot load\n", path);
        t->fail++;
        json_decref(cases);
        return;
    }
    rt_schema_opts_t opts = {format_assert, test_resolve, NULL, dialect};
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        const json_t *tests = json_object_get(c, "tests");
        rt_schema_t *s = NULL;
        json_t *errors = NULL;
        if (rt_schema_compile(json_object_get(c, "schema"), &opts, &s, &errors) < 0) {
            t->fail += json_array_size(tests);
            if (verbose) {
                char *e = json_dumps(errors, JSON_COMPACT);
                printf("FAIL %s: \"%s\": compile: %s\n", path,
                       json_string_value(json_object_get(c, "description")), e);
                free(e);
            }
            json_decref(errors);
            continue;
        }
        for (size_t k = 0; k < json_array_size(tests); k++) {
            const json_t *tc = json_array_get(tests, k);
            int want = json_is_true(json_object_get(tc, "valid"));
            json_t *errs = NULL;
            int got = rt_schema_validate(s, json_object_get(tc, "data"), 5, &errs) == 0;
            if (got == want) {
                t->pass++;
            } else {
                t->fail++;
                if (verbose)
                    printf("FAIL %s: \"%s\" / \"%s\": expected %s\n", path,
                           json_string_value(json_object_get(c, "description")),
                           json_string_value(json_object_get(tc, "description")),
                           want ? "valid" : "invalid");
            }
            /* an invalid verdict always comes with at least one error */
            if (!got)
                assert_true(json_array_size(errs) > 0);
            check_bytes_path(s, json_object_get(tc, "data"), got, errs);
            json_decref(errs);
        }
        rt_schema_free(s);
    }
    json_decref(cases);
}

static void run_dir(const char *dir, const char *dialect, int format_assert, int verbose,
                    tally_t *t)
{
    size_t n;
    char **names = list_json(dir, &n);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        run_file(path, dialect, format_assert, verbose, t);
    }
    free_list(names, n);
}

static void required(const char *draft, const char *dialect)
{
    char dir[1024];
    tally_t t = {0, 0};
    snprintf(dir, sizeof(dir), "%s/tests/%s", suite_dir(), draft);
    run_dir(dir, dialect, 0, 1, &t);
    printf("%s required: %zu/%zu passed\n", draft, t.pass, t.pass + t.fail);
    assert_true(t.pass > 0);
    assert_int_equal(t.fail, 0);
}

static void test_required_2020_12(void **state)
{
    (void)state;
    required("draft2020-12", RT_SCHEMA_DIALECT_2020_12);
}

static void test_required_draft7(void **state)
{
    (void)state;
    required("draft7", RT_SCHEMA_DIALECT_DRAFT_07);
}

static void optional(const char *draft, const char *dialect)
{
    char dir[1024];
    tally_t t = {0, 0}, f = {0, 0};
    int verbose = getenv("SCHEMA_SUITE_VERBOSE") != NULL;
    snprintf(dir, sizeof(dir), "%s/tests/%s/optional", suite_dir(), draft);
    run_dir(dir, dialect, 0, verbose, &t);
    snprintf(dir, sizeof(dir), "%s/tests/%s/optional/format", suite_dir(), draft);
    run_dir(dir, dialect, 1, verbose, &f);
    printf("%s optional: %zu/%zu passed; optional/format (assertions): %zu/%zu passed\n", draft,
           t.pass, t.pass + t.fail, f.pass, f.pass + f.fail);
}

static void test_optional_report(void **state)
{
    (void)state;
    optional("draft2020-12", RT_SCHEMA_DIALECT_2020_12);
    optional("draft7", RT_SCHEMA_DIALECT_DRAFT_07);
}

int main(void)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/tests", suite_dir());
    if (!dir_exists(dir)) {
        printf("SKIPPED: JSON Schema Test Suite not found at %s (set JSON_SCHEMA_TEST_SUITE)\n",
               suite_dir());
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_2020_12),
        cmocka_unit_test(test_required_draft7),
        cmocka_unit_test(test_optional_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
