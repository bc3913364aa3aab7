/*
 * Table-driven tests of rt_schema_compat_check() (issue 5): each change of
 * the research notes' §B2 table under the strict and lenient policies, each
 * mode, transitive versus latest-only, and the report's shape (rule id,
 * pointers into both schemas, direction, index of the previous version).
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

typedef struct ccase_s {
    const char *name;
    const char *prev[3]; /* oldest first, NULL-terminated */
    const char *cand;
    const char *mode;   /* NULL = BACKWARD */
    const char *policy; /* NULL = strict */
    const char *kinds;  /* sorted, comma-separated rule ids; "" = compatible */
} ccase_t;

#define OBJ_A    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}"
#define CLOSED_A OBJ_A ",\"additionalProperties\":false"

static const ccase_t cases[] = {
    /* ------------------------------------------------ content models */
    {"identical", {OBJ_A "}"}, OBJ_A "}", NULL, NULL, ""},
    {"add optional to open",
     {OBJ_A "}"},
     OBJ_A ",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}}}",
     NULL,
     NULL,
     "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"},
    {"add optional to open, lenient",
     {OBJ_A "}"},
     OBJ_A ",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}}}",
     NULL,
     "lenient",
     ""},
    {"add unconstrained property to open",
     {OBJ_A "}"},
     OBJ_A ",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{}}}",
     NULL,
     NULL,
     ""},
    {"add required to open",
     {OBJ_A "}"},
     OBJ_A ",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}},"
           "\"required\":[\"b\"]}",
     NULL,
     NULL,
     "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,REQUIRED_PROPERTY_ADDED"},
    {"add required to open, lenient",
     {OBJ_A "}"},
     OBJ_A ",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}},"
           "\"required\":[\"b\"]}",
     NULL,
     "lenient",
     "REQUIRED_PROPERTY_ADDED"},
    {"add optional to closed",
     {CLOSED_A "}"},
     CLOSED_A ",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}}}",
     NULL,
     NULL,
     ""},
    {"add required with default to closed",
     {CLOSED_A "}"},
     CLOSED_A ",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\","
              "\"default\":0}},\"required\":[\"b\"]}",
     NULL,
     NULL,
     ""},
    {"add required without default to closed",
     {CLOSED_A "}"},
     CLOSED_A ",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}},"
              "\"required\":[\"b\"]}",
     NULL,
     NULL,
     "REQUIRED_PROPERTY_ADDED"},
    {"add required with default to closed, lenient",
     {CLOSED_A "}"},
     CLOSED_A ",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\","
              "\"default\":0}},\"required\":[\"b\"]}",
     NULL,
     "lenient",
     "REQUIRED_PROPERTY_ADDED"},
    {"add property covered by patternProperties",
     {"{\"type\":\"object\",\"patternProperties\":{\"^s_\":{\"type\":\"string\"}}}"},
     "{\"type\":\"object\",\"patternProperties\":{\"^s_\":{\"type\":\"string\"}},"
     "\"properties\":{\"s_name\":{\"type\":\"string\"}}}",
     NULL,
     NULL,
     ""},
    {"add property narrower than its patternProperties",
     {"{\"type\":\"object\",\"patternProperties\":{\"^s_\":{\"type\":\"string\"}}}"},
     "{\"type\":\"object\",\"patternProperties\":{\"^s_\":{\"type\":\"string\"}},"
     "\"properties\":{\"s_name\":{\"type\":\"string\",\"maxLength\":5}}}",
     NULL,
     NULL,
     "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"},
    {"add property narrower than its patternProperties, lenient",
     {"{\"type\":\"object\",\"patternProperties\":{\"^s_\":{\"type\":\"string\"}}}"},
     "{\"type\":\"object\",\"patternProperties\":{\"^s_\":{\"type\":\"string\"}},"
     "\"properties\":{\"s_name\":{\"type\":\"string\",\"maxLength\":5}}}",
     NULL,
     "lenient",
     ""},
    {"add property covered by additionalProperties schema",
     {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}"},
     "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"},"
     "\"properties\":{\"n\":{\"type\":\"number\"}}}",
     NULL,
     NULL,
     ""},
    {"remove property from open", {OBJ_A "}"}, "{\"type\":\"object\"}", NULL, NULL, ""},
    {"remove property from closed",
     {CLOSED_A "}"},
     "{\"type\":\"object\",\"additionalProperties\":false}",
     NULL,
     NULL,
     "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"},
    {"remove optional property from closed, lenient",
     {CLOSED_A "}"},
     "{\"type\":\"object\",\"additionalProperties\":false}",
     NULL,
     "lenient",
     ""},
    {"remove false property from closed",
     {"{\"type\":\"object\",\"properties\":{\"x\":false},\"additionalProperties\":false}"},
     "{\"type\":\"object\",\"additionalProperties\":false}",
     NULL,
     NULL,
     ""},
    {"remove property not covered by partially open",
     {"{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"number\"}},"
      "\"additionalProperties\":{\"type\":\"integer\"}}"},
     "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
     NULL,
     NULL,
     "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"},
    {"required removed", {OBJ_A ",\"required\":[\"a\"]}"}, OBJ_A "}", NULL, NULL, ""},
    {"additionalProperties false to true",
     {CLOSED_A "}"},
     OBJ_A ",\"additionalProperties\":true}",
     NULL,
     NULL,
     ""},
    {"additionalProperties closed",
     {OBJ_A "}"},
     CLOSED_A "}",
     NULL,
     NULL,
     "ADDITIONAL_PROPERTIES_REMOVED"},
    {"additionalProperties closed, lenient", {OBJ_A "}"}, CLOSED_A "}", NULL, "lenient", ""},
    {"additionalProperties narrowed",
     {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}"},
     "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\",\"maxLength\":3}}",
     NULL,
     NULL,
     "ADDITIONAL_PROPERTIES_NARROWED"},
    {"patternProperties added to open model",
     {"{\"type\":\"object\"}"},
     "{\"type\":\"object\",\"patternProperties\":{\"^n_\":{\"type\":\"number\"}}}",
     NULL,
     NULL,
     "PATTERN_PROPERTY_ADDED"},
    {"maxProperties added",
     {"{\"type\":\"object\"}"},
     "{\"type\":\"object\",\"maxProperties\":3}",
     NULL,
     NULL,
     "MAX_PROPERTIES_ADDED"},
    {"minProperties relaxed",
     {"{\"type\":\"object\",\"minProperties\":2}"},
     "{\"type\":\"object\",\"minProperties\":1}",
     NULL,
     NULL,
     ""},
    {"propertyNames added",
     {"{\"type\":\"object\"}"},
     "{\"type\":\"object\",\"propertyNames\":{\"maxLength\":3}}",
     NULL,
     NULL,
     "MAX_LENGTH_ADDED"},
    {"dependencies added",
     {"{\"type\":\"object\"}"},
     "{\"type\":\"object\",\"dependentRequired\":{\"a\":[\"b\"]}}",
     NULL,
     NULL,
     "DEPENDENCY_ADDED"},
    {"dependencies narrowed",
     {"{\"dependencies\":{\"a\":[\"b\",\"c\"]}}"},
     "{\"dependencies\":{\"a\":[\"b\"]}}",
     NULL,
     NULL,
     ""},
    {"dependencies removed", {"{\"dependencies\":{\"a\":[\"b\"]}}"}, "{}", NULL, NULL, ""},
    {"dependencies extended",
     {"{\"dependentRequired\":{\"a\":[\"b\"]}}"},
     "{\"dependentRequired\":{\"a\":[\"b\",\"c\"]}}",
     NULL,
     NULL,
     "DEPENDENCY_ARRAY_EXTENDED"},
    {"dependent schema added",
     {"{}"},
     "{\"dependentSchemas\":{\"a\":{\"required\":[\"b\"]}}}",
     NULL,
     NULL,
     "DEPENDENCY_SCHEMA_ADDED"},
    /* ------------------------------------------------------ enum, type */
    {"enum extended",
     {"{\"enum\":[\"a\",\"b\"]}"},
     "{\"enum\":[\"a\",\"b\",\"c\"]}",
     NULL,
     NULL,
     ""},
    {"enum narrowed",
     {"{\"enum\":[\"a\",\"b\"]}"},
     "{\"enum\":[\"a\"]}",
     NULL,
     NULL,
     "ENUM_NARROWED"},
    {"enum changed",
     {"{\"enum\":[\"a\",\"b\"]}"},
     "{\"enum\":[\"a\",\"c\"]}",
     NULL,
     NULL,
     "ENUM_NARROWED"},
    {"enum added",
     {"{\"type\":\"string\"}"},
     "{\"type\":\"string\",\"enum\":[\"a\"]}",
     NULL,
     NULL,
     "ENUM_ADDED"},
    {"enum to its type", {"{\"enum\":[\"a\",\"b\"]}"}, "{\"type\":\"string\"}", NULL, NULL, ""},
    {"const added", {"{\"type\":\"string\"}"}, "{\"const\":\"a\"}", NULL, NULL, "CONST_ADDED"},
    {"const to enum", {"{\"const\":\"a\"}"}, "{\"enum\":[\"a\",\"b\"]}", NULL, NULL, ""},
    {"integer to number", {"{\"type\":\"integer\"}"}, "{\"type\":\"number\"}", NULL, NULL, ""},
    {"number to integer",
     {"{\"type\":\"number\"}"},
     "{\"type\":\"integer\"}",
     NULL,
     NULL,
     "TYPE_NARROWED"},
    {"string to integer",
     {"{\"type\":\"string\"}"},
     "{\"type\":\"integer\"}",
     NULL,
     NULL,
     "TYPE_CHANGED"},
    {"nullable removed",
     {"{\"type\":[\"string\",\"null\"]}"},
     "{\"type\":\"string\"}",
     NULL,
     NULL,
     "TYPE_NARROWED"},
    {"nullable added",
     {"{\"type\":\"string\"}"},
     "{\"type\":[\"string\",\"null\"]}",
     NULL,
     NULL,
     ""},
    {"true to typed", {"true"}, "{\"type\":\"string\"}", NULL, NULL, "TYPE_NARROWED"},
    {"false to anything", {"false"}, "{\"type\":\"string\"}", NULL, NULL, ""},
    {"to false", {"{}"}, "false", NULL, NULL, "FALSE_SCHEMA"},
    /* --------------------------------------------------- combinators */
    {"type to anyOf containing it",
     {"{\"type\":\"string\"}"},
     "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}",
     NULL,
     NULL,
     ""},
    {"anyOf branch removed",
     {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}"},
     "{\"anyOf\":[{\"type\":\"string\"}]}",
     NULL,
     NULL,
     "SUM_TYPE_NARROWED,TYPE_NARROWED"},
    {"oneOf branch added",
     {"{\"oneOf\":[{\"type\":\"string\"}]}"},
     "{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}",
     NULL,
     NULL,
     ""},
    {"anyOf collapsed to one type",
     {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}"},
     "{\"type\":\"string\"}",
     NULL,
     NULL,
     "SUM_TYPE_NARROWED,TYPE_NARROWED"},
    {"allOf branch removed",
     {"{\"allOf\":[{\"type\":\"string\"},{\"maxLength\":3}]}"},
     "{\"allOf\":[{\"type\":\"string\"}]}",
     NULL,
     NULL,
     ""},
    {"allOf branch added",
     {"{\"type\":\"string\"}"},
     "{\"type\":\"string\",\"allOf\":[{\"minLength\":1}]}",
     NULL,
     NULL,
     "MIN_LENGTH_ADDED"},
    {"not added",
     {"{\"type\":\"string\"}"},
     "{\"type\":\"string\",\"not\":{\"const\":\"x\"}}",
     NULL,
     NULL,
     "NOT_ADDED"},
    {"not relaxed",
     {"{\"not\":{\"type\":\"string\"}}"},
     "{\"not\":{\"type\":\"string\",\"maxLength\":2}}",
     NULL,
     NULL,
     ""},
    {"not widened",
     {"{\"not\":{\"type\":\"string\",\"maxLength\":2}}"},
     "{\"not\":{\"type\":\"string\"}}",
     NULL,
     NULL,
     "NOT_NARROWED"},
    {"if/then added",
     {"{\"type\":\"object\"}"},
     "{\"type\":\"object\",\"if\":{\"required\":[\"a\"]},\"then\":{\"required\":[\"b\"]}}",
     NULL,
     NULL,
     "CONDITIONAL_CHANGED"},
    /* --------------------------------------------- numbers and strings */
    {"maxLength increased",
     {"{\"type\":\"string\",\"maxLength\":5}"},
     "{\"type\":\"string\",\"maxLength\":10}",
     NULL,
     NULL,
     ""},
    {"maxLength removed",
     {"{\"type\":\"string\",\"maxLength\":5}"},
     "{\"type\":\"string\"}",
     NULL,
     NULL,
     ""},
    {"maxLength decreased",
     {"{\"type\":\"string\",\"maxLength\":10}"},
     "{\"type\":\"string\",\"maxLength\":5}",
     NULL,
     NULL,
     "MAX_LENGTH_DECREASED"},
    {"minLength added",
     {"{\"type\":\"string\"}"},
     "{\"type\":\"string\",\"minLength\":1}",
     NULL,
     NULL,
     "MIN_LENGTH_ADDED"},
    {"maximum decreased",
     {"{\"maximum\":10}"},
     "{\"maximum\":9.5}",
     NULL,
     NULL,
     "MAXIMUM_DECREASED"},
    {"maximum made exclusive",
     {"{\"maximum\":10}"},
     "{\"exclusiveMaximum\":10}",
     NULL,
     NULL,
     "MAXIMUM_DECREASED"},
    {"exclusive maximum made inclusive",
     {"{\"exclusiveMaximum\":10}"},
     "{\"maximum\":10}",
     NULL,
     NULL,
     ""},
    {"minimum increased", {"{\"minimum\":0}"}, "{\"minimum\":1}", NULL, NULL, "MINIMUM_INCREASED"},
    {"minimum added",
     {"{\"type\":\"integer\"}"},
     "{\"type\":\"integer\",\"minimum\":0}",
     NULL,
     NULL,
     "MINIMUM_ADDED"},
    {"minimum removed on strings",
     {"{\"type\":\"string\"}"},
     "{\"type\":\"string\",\"minimum\":0}",
     NULL,
     NULL,
     ""},
    {"multipleOf reduced to a divisor",
     {"{\"multipleOf\":0.01}"},
     "{\"multipleOf\":0.005}",
     NULL,
     NULL,
     ""},
    {"multipleOf exact decimals",
     {"{\"multipleOf\":0.0075}"},
     "{\"multipleOf\":0.0001}",
     NULL,
     NULL,
     ""},
    {"multipleOf changed",
     {"{\"multipleOf\":0.005}"},
     "{\"multipleOf\":0.01}",
     NULL,
     NULL,
     "MULTIPLE_OF_CHANGED"},
    {"pattern added",
     {"{\"type\":\"string\"}"},
     "{\"type\":\"string\",\"pattern\":\"^a\"}",
     NULL,
     NULL,
     "PATTERN_ADDED"},
    {"pattern removed",
     {"{\"type\":\"string\",\"pattern\":\"^a\"}"},
     "{\"type\":\"string\"}",
     NULL,
     NULL,
     ""},
    {"pattern changed",
     {"{\"type\":\"string\",\"pattern\":\"^a\"}"},
     "{\"type\":\"string\",\"pattern\":\"^b\"}",
     NULL,
     NULL,
     "PATTERN_CHANGED"},
    {"format added",
     {"{\"type\":\"string\"}"},
     "{\"type\":\"string\",\"format\":\"email\"}",
     NULL,
     NULL,
     "FORMAT_ADDED"},
    {"annotations changed",
     {"{\"title\":\"a\",\"description\":\"x\",\"default\":1,\"$id\":\"urn:a\"}"},
     "{\"title\":\"b\",\"description\":\"y\",\"default\":2,\"$id\":\"urn:b\"}",
     NULL,
     NULL,
     ""},
    /* ----------------------------------------------------------- arrays */
    {"items narrowed",
     {"{\"type\":\"array\",\"items\":{\"type\":\"number\"}}"},
     "{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}",
     NULL,
     NULL,
     "TYPE_NARROWED"},
    {"items widened",
     {"{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}"},
     "{\"type\":\"array\",\"items\":{\"type\":\"number\"}}",
     NULL,
     NULL,
     ""},
    {"prefixItems item changed",
     {"{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"string\"}]}"},
     "{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}",
     NULL,
     NULL,
     "TYPE_CHANGED"},
    {"draft-07 additionalItems closed",
     {"{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}"},
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"}],\"additionalItems\":false}",
     NULL,
     NULL,
     "FALSE_SCHEMA"},
    {"uniqueItems added",
     {"{\"type\":\"array\"}"},
     "{\"type\":\"array\",\"uniqueItems\":true}",
     NULL,
     NULL,
     "UNIQUE_ITEMS_ADDED"},
    {"uniqueItems removed",
     {"{\"type\":\"array\",\"uniqueItems\":true}"},
     "{\"type\":\"array\"}",
     NULL,
     NULL,
     ""},
    {"maxItems decreased",
     {"{\"type\":\"array\",\"maxItems\":5}"},
     "{\"type\":\"array\",\"maxItems\":4}",
     NULL,
     NULL,
     "MAX_ITEMS_DECREASED"},
    {"minItems increased",
     {"{\"type\":\"array\",\"minItems\":1}"},
     "{\"type\":\"array\",\"minItems\":2}",
     NULL,
     NULL,
     "MIN_ITEMS_INCREASED"},
    {"contains added",
     {"{\"type\":\"array\"}"},
     "{\"type\":\"array\",\"contains\":{\"type\":\"string\"}}",
     NULL,
     NULL,
     "CONTAINS_ADDED"},
    /* -------------------------------------------------------------- $ref */
    {"$ref followed",
     {"{\"$defs\":{\"s\":{\"type\":\"string\"}},\"properties\":{\"x\":{\"$ref\":\"#/$defs/s\"}}}"},
     "{\"$defs\":{\"s\":{\"type\":\"string\",\"maxLength\":3}},"
     "\"properties\":{\"x\":{\"$ref\":\"#/$defs/s\"}}}",
     NULL,
     NULL,
     "MAX_LENGTH_ADDED"},
    {"inline moved behind $ref",
     {"{\"properties\":{\"x\":{\"type\":\"string\"}}}"},
     "{\"definitions\":{\"s\":{\"type\":\"string\"}},\"properties\":{\"x\":{\"$ref\":"
     "\"#/definitions/s\"}}}",
     NULL,
     NULL,
     ""},
    {"recursive schema unchanged",
     {"{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":"
      "\"#\"}}}}"},
     "{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}"
     "}}}",
     NULL,
     NULL,
     ""},
    {"non-local $ref",
     {"{}"},
     "{\"$ref\":\"https://example.com/s.json\"}",
     NULL,
     NULL,
     "REFERENCE_UNRESOLVED"},
    {"same non-local $ref",
     {"{\"$ref\":\"https://example.com/s.json\"}"},
     "{\"$ref\":\"https://example.com/s.json\"}",
     NULL,
     NULL,
     ""},
    /* ------------------------------------------------------------ modes */
    {"FORWARD: property removed from open",
     {OBJ_A "}"},
     "{\"type\":\"object\"}",
     "FORWARD",
     NULL,
     "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"},
    {"FORWARD: number to integer",
     {"{\"type\":\"number\"}"},
     "{\"type\":\"integer\"}",
     "FORWARD",
     NULL,
     ""},
    {"FORWARD: integer to number",
     {"{\"type\":\"integer\"}"},
     "{\"type\":\"number\"}",
     "FORWARD",
     NULL,
     "TYPE_NARROWED"},
    {"FULL: integer to number",
     {"{\"type\":\"integer\"}"},
     "{\"type\":\"number\"}",
     "FULL",
     NULL,
     "TYPE_NARROWED"},
    {"FULL: enum extended", {"{\"enum\":[1]}"}, "{\"enum\":[1,2]}", "FULL", NULL, "ENUM_NARROWED"},
    {"FULL: title only", {"{\"title\":\"x\"}"}, "{\"title\":\"y\"}", "FULL", NULL, ""},
    {"BACKWARD checks the latest only",
     {"{\"type\":\"string\",\"maxLength\":10}", "{\"type\":\"string\",\"maxLength\":5}"},
     "{\"type\":\"string\",\"maxLength\":8}",
     "BACKWARD",
     NULL,
     ""},
    {"BACKWARD_TRANSITIVE checks all",
     {"{\"type\":\"string\",\"maxLength\":10}", "{\"type\":\"string\",\"maxLength\":5}"},
     "{\"type\":\"string\",\"maxLength\":8}",
     "BACKWARD_TRANSITIVE",
     NULL,
     "MAX_LENGTH_DECREASED"},
    {"FORWARD checks the latest only",
     {"{\"maxLength\":5}", "{\"maxLength\":10}"},
     "{\"maxLength\":8}",
     "FORWARD",
     NULL,
     ""},
    {"FORWARD_TRANSITIVE checks all",
     {"{\"maxLength\":5}", "{\"maxLength\":10}"},
     "{\"maxLength\":8}",
     "FORWARD_TRANSITIVE",
     NULL,
     "MAX_LENGTH_DECREASED"},
    {"FULL_TRANSITIVE",
     {"{\"maxLength\":5}", "{\"maxLength\":8}"},
     "{\"maxLength\":8}",
     "FULL_TRANSITIVE",
     NULL,
     "MAX_LENGTH_DECREASED"},
    {"NONE accepts anything",
     {"{\"type\":\"string\"}"},
     "{\"type\":\"integer\"}",
     "NONE",
     NULL,
     ""},
    {"no previous version", {NULL}, "{\"type\":\"integer\"}", "FULL_TRANSITIVE", NULL, ""},
};

static json_t *parse(const char *s)
{
    json_error_t err;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &err);
    if (j == NULL)
        print_error("bad test JSON %s: %s\n", s, err.text);
    assert_non_null(j);
    return j;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted, de-duplicated rule ids of a report, comma-separated. */
static char *kinds_of(const json_t *report)
{
    size_t n = json_array_size(report);
    const char **k = rt_calloc(n + 1, sizeof(*k));
    for (size_t i = 0; i < n; i++)
        k[i] = json_string_value(json_object_get(json_array_get(report, i), "kind"));
    if (n > 0)
        qsort(k, n, sizeof(*k), str_cmp);
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_str(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(k[i], k[i - 1]) == 0)
            continue;
        if (b.len)
            rt_buf_append(&b, ",", 1);
        rt_buf_append_str(&b, k[i]);
    }
    rt_free(k);
    return rt_buf_steal(&b, NULL);
}

static void test_table(void **state)
{
    (void)state;
    size_t failed = 0;
    for (size_t i = 0; i < RT_ARRAY_LEN(cases); i++) {
        const ccase_t *c = &cases[i];
        json_t *prev[3];
        size_t n = 0;
        while (n < 3 && c->prev[n])
            prev[n] = parse(c->prev[n]), n++;
        json_t *cand = parse(c->cand);
        json_t *report = NULL;
        int rc = rt_schema_compat_check_policy((const json_t *const *)prev, n, cand,
                                               c->mode ? c->mode : "BACKWARD",
                                               c->policy ? c->policy : "strict", &report);
        assert_int_equal(rc, 0);
        char *got = kinds_of(report);
        if (strcmp(got, c->kinds) != 0) {
            char *d = json_dumps(report, JSON_COMPACT);
            print_error("case \"%s\": expected [%s], got [%s]: %s\n", c->name, c->kinds, got, d);
            free(d);
            failed++;
        }
        for (size_t k = 0; k < json_array_size(report); k++) {
            const json_t *e = json_array_get(report, k);
            assert_true(json_is_string(json_object_get(e, "path")));
            assert_true(json_is_string(json_object_get(e, "previousPath")));
            assert_true(json_is_string(json_object_get(e, "message")));
            assert_true(json_is_integer(json_object_get(e, "previousIndex")));
        }
        rt_free(got);
        json_decref(report);
        json_decref(cand);
        for (size_t k = 0; k < n; k++)
            json_decref(prev[k]);
    }
    printf("%zu compatibility cases, %zu failed\n", RT_ARRAY_LEN(cases), failed);
    assert_int_equal(failed, 0);
}

/* Checks the pointers and the direction of one report entry. */
static void test_report_shape(void **state)
{
    (void)state;
    json_t *prev = parse("{\"$defs\":{\"x\":{}},\"properties\":{\"a\":{\"properties\":{\"b\":{"
                         "\"type\":\"string\"}}}}}");
    json_t *cand = parse("{\"properties\":{\"a\":{\"properties\":{\"b\":{\"type\":"
                         "\"integer\"}}}}}");
    json_t *report = NULL;
    const json_t *p = prev;
    assert_int_equal(rt_schema_compat_check(&p, 1, cand, "FULL", &report), 0);
    assert_int_equal(json_array_size(report), 2);
    const json_t *back = json_array_get(report, 0), *fwd = json_array_get(report, 1);
    assert_string_equal(json_string_value(json_object_get(back, "kind")), "TYPE_CHANGED");
    assert_string_equal(json_string_value(json_object_get(back, "path")),
                        "/properties/a/properties/b/type");
    assert_string_equal(json_string_value(json_object_get(back, "previousPath")),
                        "/properties/a/properties/b/type");
    assert_string_equal(json_string_value(json_object_get(back, "direction")), "backward");
    assert_int_equal(json_integer_value(json_object_get(back, "previousIndex")), 0);
    assert_string_equal(json_string_value(json_object_get(fwd, "direction")), "forward");
    json_decref(report);
    json_decref(prev);
    json_decref(cand);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    json_t *s = parse("{}");
    const json_t *p = s;
    json_t *report = NULL;
    assert_int_equal(rt_schema_compat_check(&p, 1, s, "SIDEWAYS", &report), RT_EINVAL);
    assert_int_equal(rt_schema_compat_check_policy(&p, 1, s, "FULL", "loose", &report), RT_EINVAL);
    assert_null(report);
    assert_true(rt_schema_compat_mode_valid("BACKWARD_TRANSITIVE"));
    assert_false(rt_schema_compat_mode_valid("backward"));
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_report_shape),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
