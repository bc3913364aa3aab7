/*
 * Agreement between our compile-time schema checks and the official
 * metaschemas (issue 5: "tests check that our verdicts agree with them").
 * Each schema is judged three ways: by rt_schema_compile() (or, for the
 * generated cases, by its keyword checker rt_schema_check()), by our
 * validator running the official metaschema document, and by the built-in
 * metaschema that a $ref to the metaschema URI gets when no resolver
 * supplies the document. All three must agree. The generated cases take every
 * schema of the test suite and replace each keyword's value, one at a time,
 * by a set of wrong values. Needs the metaschemas at $JSON_SCHEMA_METASCHEMAS
 * or ../shared/data/json-schema-metaschemas; skipped (with a message) if absent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "schema/schema_internal.h"
#include "schema/schema_test_util.h"

typedef struct judge_s {
    const char *dialect;
    sc_dialect_t d;
    rt_schema_t *official; /* {"$ref": metaschema} with the files */
    rt_schema_t *builtin;  /* the same without a resolver */
    size_t cases, disagreements;
} judge_t;

static rt_schema_t *ref_to(const char *uri, int with_resolver)
{
    json_t *s = json_pack("{s:s}", "$ref", uri);
    rt_schema_opts_t opts = {0, with_resolver ? test_resolve : NULL, NULL, NULL};
    rt_schema_t *out = NULL;
    json_t *errors = NULL;
    int rc = rt_schema_compile(s, &opts, &out, &errors);
    if (rc < 0) {
        char *e = json_dumps(errors, 0);
        print_error("cannot compile ref to %s: %s\n", uri, e);
        free(e);
    }
    assert_int_equal(rc, 0);
    json_decref(s);
    json_decref(errors);
    return out;
}

static void judge_init(judge_t *j, const char *dialect, const char *uri)
{
    memset(j, 0, sizeof(*j));
    j->dialect = dialect;
    assert_true(rt_schema_dialect_known(dialect, &j->d));
    j->official = ref_to(uri, 1);
    j->builtin = ref_to(uri, 0);
}

static void judge_close(judge_t *j)
{
    rt_schema_free(j->official);
    rt_schema_free(j->builtin);
}

/* Compares the official verdict with ours (checker, or full compile). */
static void judge(judge_t *j, const json_t *schema, int full_compile, int expect)
{
    int official = rt_schema_validate(j->official, schema, 0, NULL) == 0;
    int builtin = rt_schema_validate(j->builtin, schema, 0, NULL) == 0;
    int ours;
    if (full_compile) {
        rt_schema_opts_t opts = {0, test_resolve, NULL, j->dialect};
        rt_schema_t *s = NULL;
        ours = rt_schema_compile(schema, &opts, &s, NULL) == 0;
        rt_schema_free(s);
    } else {
        ours = rt_schema_check(schema, j->d, "", NULL, 1) == 0;
    }
    j->cases++;
    if (official != ours || official != builtin || (expect >= 0 && official != expect)) {
        j->disagreements++;
        char *d = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
        print_error("%s: official=%d ours=%d builtin=%d expected=%d for %.300s\n", j->dialect,
                    official, ours, builtin, expect, d);
        free(d);
    }
}

/* ------------------------------------------------------ hand-picked cases */

static const char *const valid_2020[] = {
    "true",
    "{}",
    "{\"type\":\"string\",\"minLength\":1.0,\"maxLength\":5}",
    "{\"type\":[\"string\",\"null\"],\"enum\":[]}",
    "{\"$defs\":{\"a\":{\"$anchor\":\"a_1.b-c\"}},\"$ref\":\"#a_1.b-c\"}",
    "{\"$id\":\"http://example.com/x#\",\"properties\":{\"a\":false}}",
    "{\"prefixItems\":[true,{}],\"items\":false,\"unevaluatedItems\":{\"type\":\"integer\"}}",
    "{\"dependentRequired\":{\"a\":[]},\"dependentSchemas\":{\"b\":true}}",
    "{\"dependencies\":{\"a\":[\"b\"],\"c\":{\"type\":\"object\"}}}",
    "{\"contains\":{},\"minContains\":0,\"maxContains\":3,\"multipleOf\":0.0001}",
    "{\"unknownKeyword\":{\"type\":42},\"x-other\":[1,2]}",
    "{\"$vocabulary\":{\"https://example.com/v\":false},\"deprecated\":true,\"examples\":[]}",
    "{\"if\":{\"required\":[\"a\"]},\"then\":{\"required\":[\"b\"]},\"else\":false}",
    "{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},\"propertyNames\":{\"maxLength\":3}}",
};

static const char *const invalid_2020[] = {
    "42",
    "\"string\"",
    "[]",
    "{\"type\":\"strin\"}",
    "{\"type\":[]}",
    "{\"type\":[\"string\",\"string\"]}",
    "{\"minLength\":-1}",
    "{\"minLength\":1.5}",
    "{\"maxItems\":\"3\"}",
    "{\"multipleOf\":0}",
    "{\"required\":[\"a\",\"a\"]}",
    "{\"required\":\"a\"}",
    "{\"properties\":{\"a\":1}}",
    "{\"allOf\":[]}",
    "{\"anyOf\":{}}",
    "{\"prefixItems\":[]}",
    "{\"items\":[{}]}",
    "{\"$id\":\"http://example.com/x#frag\"}",
    "{\"$anchor\":\"1abc\"}",
    "{\"$dynamicAnchor\":\"a b\"}",
    "{\"$ref\":5}",
    "{\"enum\":{}}",
    "{\"uniqueItems\":\"yes\"}",
    "{\"dependentRequired\":{\"a\":[1]}}",
    "{\"$defs\":{\"a\":{\"minimum\":\"0\"}}}",
    "{\"not\":{\"not\":{\"not\":{\"maxProperties\":-3}}}}",
    "{\"$vocabulary\":{\"https://example.com/v\":1}}",
    "{\"dependencies\":{\"a\":[\"b\",\"b\"]}}",
};

static const char *const valid_07[] = {
    "false",
    "{\"items\":[{},true],\"additionalItems\":false}",
    "{\"$id\":\"#foo\",\"definitions\":{\"a\":{}}}",
    "{\"dependencies\":{\"a\":[\"b\"],\"c\":true}}",
    "{\"enum\":[1,\"1\"],\"const\":null}",
    "{\"$defs\":{\"anything\":[1]},\"prefixItems\":7}",
};

static const char *const invalid_07[] = {
    "{\"enum\":[]}",
    "{\"enum\":[1,1.0]}",
    "{\"items\":[]}",
    "{\"additionalItems\":3}",
    "{\"definitions\":{\"a\":\"b\"}}",
    "{\"$id\":7}",
    "{\"dependencies\":{\"a\":7}}",
    "{\"type\":\"int\"}",
    "{\"maxLength\":-0.5}",
};

static void run_list(judge_t *j, const char *const *list, size_t n, int expect)
{
    for (size_t i = 0; i < n; i++) {
        json_error_t err;
        json_t *s = json_loads(list[i], JSON_DECODE_ANY, &err);
        assert_non_null(s);
        judge(j, s, 1, expect);
        json_decref(s);
    }
}

static void test_hand_picked_2020_12(void **state)
{
    (void)state;
    judge_t j;
    judge_init(&j, RT_SCHEMA_DIALECT_2020_12, RT_SCHEMA_DIALECT_2020_12);
    run_list(&j, valid_2020, RT_ARRAY_LEN(valid_2020), 1);
    run_list(&j, invalid_2020, RT_ARRAY_LEN(invalid_2020), 0);
    assert_int_equal(j.disagreements, 0);
    judge_close(&j);
}

static void test_hand_picked_draft7(void **state)
{
    (void)state;
    judge_t j;
    judge_init(&j, RT_SCHEMA_DIALECT_DRAFT_07, "http://json-schema.org/draft-07/schema#");
    run_list(&j, valid_07, RT_ARRAY_LEN(valid_07), 1);
    run_list(&j, invalid_07, RT_ARRAY_LEN(invalid_07), 0);
    assert_int_equal(j.disagreements, 0);
    judge_close(&j);
}

/* ------------------------------------------------------- generated cases */

static const char *const keywords[] = {
    "$id",
    "$schema",
    "$ref",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$defs",
    "definitions",
    "$comment",
    "$vocabulary",
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "items",
    "prefixItems",
    "additionalItems",
    "maxItems",
    "minItems",
    "uniqueItems",
    "contains",
    "maxContains",
    "minContains",
    "maxProperties",
    "minProperties",
    "required",
    "properties",
    "patternProperties",
    "additionalProperties",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
    "if",
    "then",
    "else",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "format",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
    "contentMediaType",
};

static const char *const bad_values[] = {"-1",   "1.5", "\"x\"",         "[]",           "{}",
                                         "null", "[1]", "[\"a\",\"a\"]", "{\"type\":1}", "0"};

static int is_keyword(const char *k)
{
    for (size_t i = 0; i < RT_ARRAY_LEN(keywords); i++) {
        if (strcmp(keywords[i], k) == 0)
            return 1;
    }
    return 0;
}

/* Replaces each keyword value anywhere in node (in place, restored after)
 * with each bad value and judges the whole document. */
static void mutate(judge_t *j, json_t *root, json_t *node, int depth)
{
    if (depth > 20)
        return;
    if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++)
            mutate(j, root, json_array_get(node, i), depth + 1);
        return;
    }
    if (!json_is_object(node))
        return;
    const char *k;
    json_t *v;
    json_object_foreach(node, k, v)
    {
        if (is_keyword(k) && !(depth == 0 && strcmp(k, "$schema") == 0)) {
            json_t *orig = json_incref(v);
            for (size_t b = 0; b < RT_ARRAY_LEN(bad_values); b++) {
                json_object_set_new(node, k, json_loads(bad_values[b], JSON_DECODE_ANY, NULL));
                judge(j, root, 0, -1);
            }
            json_object_set(node, k, orig);
            json_decref(orig);
        }
        mutate(j, root, json_object_get(node, k), depth + 1);
    }
}

static void generated(const char *draft, const char *dialect, const char *meta_uri)
{
    judge_t j;
    judge_init(&j, dialect, meta_uri);
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/tests/%s", suite_dir(), draft);
    size_t n;
    char **names = list_json(dir, &n);
    for (size_t f = 0; f < n; f++) {
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", dir, names[f]);
        json_t *cases = load_json_file(path);
        for (size_t i = 0; i < json_array_size(cases); i++) {
            json_t *s = json_object_get(json_array_get(cases, i), "schema");
            const json_t *ms = json_object_get(s, "$schema");
            sc_dialect_t d;
            if (ms && !(json_is_string(ms) && rt_schema_dialect_known(json_string_value(ms), &d)))
                continue;       /* a custom metaschema: not this test's business */
            judge(&j, s, 0, 1); /* every suite schema is valid */
            mutate(&j, s, s, 0);
        }
        json_decref(cases);
    }
    free_list(names, n);
    printf("%s: %zu generated schemas judged, %zu disagreements\n", draft, j.cases,
           j.disagreements);
    assert_int_equal(j.disagreements, 0);
    judge_close(&j);
}

static void test_generated_2020_12(void **state)
{
    (void)state;
    generated("draft2020-12", RT_SCHEMA_DIALECT_2020_12, RT_SCHEMA_DIALECT_2020_12);
}

static void test_generated_draft7(void **state)
{
    (void)state;
    generated("draft7", RT_SCHEMA_DIALECT_DRAFT_07, "http://json-schema.org/draft-07/schema#");
}

int main(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/draft2020-12", meta_dir());
    if (!dir_exists(path)) {
        printf("SKIPPED: official metaschemas not found at %s (set JSON_SCHEMA_METASCHEMAS)\n",
               meta_dir());
        return 0;
    }
    const struct CMUnitTest hand[] = {
        cmocka_unit_test(test_hand_picked_2020_12),
        cmocka_unit_test(test_hand_picked_draft7),
    };
    int rc = cmocka_run_group_tests_name("hand_picked", hand, NULL, NULL);
    snprintf(path, sizeof(path), "%s/tests", suite_dir());
    if (!dir_exists(path)) {
        printf("SKIPPED: generated cases need the JSON Schema Test Suite at %s\n", suite_dir());
        return rc;
    }
    const struct CMUnitTest gen[] = {
        cmocka_unit_test(test_generated_2020_12),
        cmocka_unit_test(test_generated_draft7),
    };
    return rc | cmocka_run_group_tests_name("generated", gen, NULL, NULL);
}
