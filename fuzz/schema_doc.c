/*
 * libFuzzer target for the schema subsystem's document parser
 * (src/schema/schema_doc.c), differential against jansson: the input must be
 * accepted by rt_schema_doc_parse() exactly when json_loadb(JSON_DECODE_ANY |
 * JSON_REJECT_DUPLICATES) accepts it (except the NUL bytes jansson lets
 * through, see below), with the same value; then
 * rt_schema_validate_bytes() on the input and rt_schema_validate() on
 * jansson's value must give the same verdict and the same errors under a
 * fixed schema that exercises every instance type, and so must the compact
 * error list (rt_schema_validate_bytes_collect()) in its jansson and JSON
 * text forms. Like the unit tests it reaches the parser through
 * schema_internal.h. No crash, no leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "schema/schema_internal.h"

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)

static const char schema_text[] =
    "{\"type\":[\"object\",\"array\",\"string\",\"number\"],\"minProperties\":1,"
    "\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":\"integer\",\"multipleOf\":3},"
    "\"b\":{\"enum\":[1,\"x\",[null],{\"k\":true}]},\"c\":{\"maxLength\":3}},"
    "\"patternProperties\":{\"^z\":{\"type\":\"string\",\"pattern\":\"^[a-f]+$\"}},"
    "\"additionalProperties\":{\"type\":\"array\",\"uniqueItems\":true},"
    "\"items\":{\"$ref\":\"#\"},\"maxItems\":4,\"minLength\":2,\"maximum\":1e3}";

static rt_schema_t *fixed_schema(void)
{
    static rt_schema_t *s;
    if (s == NULL) {
        json_t *j = json_loads(schema_text, 0, NULL);
        rt_assert(rt_schema_compile(j, NULL, &s, NULL) == 0);
        json_decref(j);
    }
    return s;
}

/* The compact list of rt_schema_validate_bytes_collect() holds the units of
 * want (rt_schema_validate()'s, NULL when valid), as jansson values and as
 * the same JSON text. */
static void check_list(const char *text, size_t size, int rc, const json_t *want)
{
    rt_schema_errors_t list;
    rt_schema_errors_init(&list);
    rt_assert(rt_schema_validate_bytes_collect(fixed_schema(), text, size, 8, &list) == rc);
    json_t *got = rt_schema_errors_to_json(&list);
    rt_assert(want ? json_equal(got, want) : json_array_size(got) == 0);
    rt_buf_t a, b;
    rt_buf_init(&a);
    rt_buf_init(&b);
    rt_buf_append_json(&a, got);
    rt_schema_errors_append_json(&list, &b);
    rt_assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    rt_buf_close(&a);
    rt_buf_close(&b);
    json_decref(got);
    rt_schema_errors_close(&list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_t *j = json_loadb(text, size, LOAD_FLAGS, NULL);
    sc_doc_t d;
    sc_val_t v;
    rt_schema_doc_init(&d, NULL, 0, NULL, 0);
    int rc = rt_schema_doc_parse(&d, text, size, &v);
    /* jansson 2.14 skips one NUL byte after a number or a literal ("[1\0]");
     * we refuse NUL outside strings, as RFC 8259 §2 does */
    rt_assert((rc == 0) == (j != NULL) || (j && memchr(data, 0, size)));
    if (rc == 0) {
        json_t *back = rt_schema_doc_to_json(&v);
        rt_assert(json_equal(back, j));
        json_decref(back);
        json_t *e1 = NULL, *e2 = NULL;
        int r1 = rt_schema_validate(fixed_schema(), j, 8, &e1);
        int r2 = rt_schema_validate_bytes(fixed_schema(), text, size, 8, &e2);
        rt_assert(r1 == r2);
        rt_assert(json_equal(e1, e2) || (e1 == NULL && e2 == NULL));
        check_list(text, size, r1, e1);
        json_decref(e1);
        json_decref(e2);
    }
    rt_schema_doc_close(&d);
    json_decref(j);
    return 0;
}
