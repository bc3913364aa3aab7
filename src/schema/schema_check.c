/*
 * This file implements the check of a submitted schema against its
 * dialect's metaschema, written out keyword by keyword instead of read from
 * the official metaschema documents (the product never loads those): the
 * draft-07 metaschema (json-schema.org/draft-07/schema) and the 2020-12
 * metaschema with its vocabulary metaschemas (core, applicator, unevaluated,
 * validation, meta-data, format-annotation, content). Formats stay
 * annotations here, as in the metaschemas, so a `pattern` is only checked to
 * be a string (the compiler checks that it compiles). The same check backs
 * `$ref`s to the metaschema URIs when no resolver supplies them.
 */
#include "schema/schema_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* How a keyword's value must look (the metaschema's subschema for it). */
enum kind {
    K_ANY,
    K_SCHEMA,
    K_SCHEMA_OR_ARRAY, /* draft-07 items */
    K_SCHEMA_ARRAY,    /* non-empty array of schemas */
    K_SCHEMA_MAP,      /* object of schemas */
    K_DEPENDENCIES,    /* object of schemas or string arrays */
    K_STRING,
    K_ID,     /* 2020-12 $id: no non-empty fragment */
    K_ANCHOR, /* ^[A-Za-z_][-A-Za-z0-9._]*$ */
    K_BOOL,
    K_NUMBER,
    K_POS_NUMBER,
    K_NONNEG_INT,
    K_STRING_ARRAY,     /* unique strings */
    K_STRING_ARRAY_MAP, /* object of unique-string arrays */
    K_TYPE,
    K_ENUM,   /* 2020-12: any array */
    K_ENUM07, /* draft-07: non-empty array of unique values */
    K_ARRAY,
    K_VOCABULARY
};

typedef struct kwdef_s {
    const char *name;
    enum kind kind;
    unsigned vocab; /* 2020-12 vocabulary (draft-07 ignores it) */
} kwdef_t;

static const kwdef_t kw2020[] = {
    {"$id", K_ID, SC_VOC_CORE},
    {"$schema", K_STRING, SC_VOC_CORE},
    {"$ref", K_STRING, SC_VOC_CORE},
    {"$anchor", K_ANCHOR, SC_VOC_CORE},
    {"$dynamicRef", K_STRING, SC_VOC_CORE},
    {"$dynamicAnchor", K_ANCHOR, SC_VOC_CORE},
    {"$vocabulary", K_VOCABULARY, SC_VOC_CORE},
    {"$comment", K_STRING, SC_VOC_CORE},
    {"$defs", K_SCHEMA_MAP, SC_VOC_CORE},
    {"prefixItems", K_SCHEMA_ARRAY, SC_VOC_APPLICATOR},
    {"items", K_SCHEMA, SC_VOC_APPLICATOR},
    {"contains", K_SCHEMA, SC_VOC_APPLICATOR},
    {"additionalProperties", K_SCHEMA, SC_VOC_APPLICATOR},
    {"properties", K_SCHEMA_MAP, SC_VOC_APPLICATOR},
    {"patternProperties", K_SCHEMA_MAP, SC_VOC_APPLICATOR},
    {"dependentSchemas", K_SCHEMA_MAP, SC_VOC_APPLICATOR},
    {"propertyNames", K_SCHEMA, SC_VOC_APPLICATOR},
    {"if", K_SCHEMA, SC_VOC_APPLICATOR},
    {"then", K_SCHEMA, SC_VOC_APPLICATOR},
    {"else", K_SCHEMA, SC_VOC_APPLICATOR},
    {"allOf", K_SCHEMA_ARRAY, SC_VOC_APPLICATOR},
    {"anyOf", K_SCHEMA_ARRAY, SC_VOC_APPLICATOR},
    {"oneOf", K_SCHEMA_ARRAY, SC_VOC_APPLICATOR},
    {"not", K_SCHEMA, SC_VOC_APPLICATOR},
    {"unevaluatedItems", K_SCHEMA, SC_VOC_UNEVALUATED},
    {"unevaluatedProperties", K_SCHEMA, SC_VOC_UNEVALUATED},
    {"type", K_TYPE, SC_VOC_VALIDATION},
    {"const", K_ANY, SC_VOC_VALIDATION},
    {"enum", K_ENUM, SC_VOC_VALIDATION},
    {"multipleOf", K_POS_NUMBER, SC_VOC_VALIDATION},
    {"maximum", K_NUMBER, SC_VOC_VALIDATION},
    {"exclusiveMaximum", K_NUMBER, SC_VOC_VALIDATION},
    {"minimum", K_NUMBER, SC_VOC_VALIDATION},
    {"exclusiveMinimum", K_NUMBER, SC_VOC_VALIDATION},
    {"maxLength", K_NONNEG_INT, SC_VOC_VALIDATION},
    {"minLength", K_NONNEG_INT, SC_VOC_VALIDATION},
    {"pattern", K_STRING, SC_VOC_VALIDATION},
    {"maxItems", K_NONNEG_INT, SC_VOC_VALIDATION},
    {"minItems", K_NONNEG_INT, SC_VOC_VALIDATION},
    {"uniqueItems", K_BOOL, SC_VOC_VALIDATION},
    {"maxContains", K_NONNEG_INT, SC_VOC_VALIDATION},
    {"minContains", K_NONNEG_INT, SC_VOC_VALIDATION},
    {"maxProperties", K_NONNEG_INT, SC_VOC_VALIDATION},
    {"minProperties", K_NONNEG_INT, SC_VOC_VALIDATION},
    {"required", K_STRING_ARRAY, SC_VOC_VALIDATION},
    {"dependentRequired", K_STRING_ARRAY_MAP, SC_VOC_VALIDATION},
    {"title", K_STRING, SC_VOC_METADATA},
    {"description", K_STRING, SC_VOC_METADATA},
    {"deprecated", K_BOOL, SC_VOC_METADATA},
    {"readOnly", K_BOOL, SC_VOC_METADATA},
    {"writeOnly", K_BOOL, SC_VOC_METADATA},
    {"examples", K_ARRAY, SC_VOC_METADATA},
    {"format", K_STRING, SC_VOC_FORMAT_ANNOTATION | SC_VOC_FORMAT_ASSERTION},
    {"contentEncoding", K_STRING, SC_VOC_CONTENT},
    {"contentMediaType", K_STRING, SC_VOC_CONTENT},
    {"contentSchema", K_SCHEMA, SC_VOC_CONTENT},
    /* the 2020-12 root metaschema also checks these legacy keywords */
    {"definitions", K_SCHEMA_MAP, SC_VOC_DEFAULT},
    {"dependencies", K_DEPENDENCIES, SC_VOC_DEFAULT},
    {"$recursiveAnchor", K_ANCHOR, SC_VOC_DEFAULT},
    {"$recursiveRef", K_STRING, SC_VOC_DEFAULT},
};

static const kwdef_t kw07[] = {
    {"$id", K_STRING, 0},
    {"$schema", K_STRING, 0},
    {"$ref", K_STRING, 0},
    {"$comment", K_STRING, 0},
    {"title", K_STRING, 0},
    {"description", K_STRING, 0},
    {"readOnly", K_BOOL, 0},
    {"writeOnly", K_BOOL, 0},
    {"examples", K_ARRAY, 0},
    {"multipleOf", K_POS_NUMBER, 0},
    {"maximum", K_NUMBER, 0},
    {"exclusiveMaximum", K_NUMBER, 0},
    {"minimum", K_NUMBER, 0},
    {"exclusiveMinimum", K_NUMBER, 0},
    {"maxLength", K_NONNEG_INT, 0},
    {"minLength", K_NONNEG_INT, 0},
    {"pattern", K_STRING, 0},
    {"additionalItems", K_SCHEMA, 0},
    {"items", K_SCHEMA_OR_ARRAY, 0},
    {"maxItems", K_NONNEG_INT, 0},
    {"minItems", K_NONNEG_INT, 0},
    {"uniqueItems", K_BOOL, 0},
    {"contains", K_SCHEMA, 0},
    {"maxProperties", K_NONNEG_INT, 0},
    {"minProperties", K_NONNEG_INT, 0},
    {"required", K_STRING_ARRAY, 0},
    {"additionalProperties", K_SCHEMA, 0},
    {"definitions", K_SCHEMA_MAP, 0},
    {"properties", K_SCHEMA_MAP, 0},
    {"patternProperties", K_SCHEMA_MAP, 0},
    {"dependencies", K_DEPENDENCIES, 0},
    {"propertyNames", K_SCHEMA, 0},
    {"enum", K_ENUM07, 0},
    {"type", K_TYPE, 0},
    {"format", K_STRING, 0},
    {"contentMediaType", K_STRING, 0},
    {"contentEncoding", K_STRING, 0},
    {"if", K_SCHEMA, 0},
    {"then", K_SCHEMA, 0},
    {"else", K_SCHEMA, 0},
    {"allOf", K_SCHEMA_ARRAY, 0},
    {"anyOf", K_SCHEMA_ARRAY, 0},
    {"oneOf", K_SCHEMA_ARRAY, 0},
    {"not", K_SCHEMA, 0},
};

typedef struct chk_s {
    json_t *errors;
    size_t max, count;
    rt_buf_t ptr; /* keywordLocation of the value being checked */
} chk_t;

static void check_schema(chk_t *c, const json_t *s, sc_dialect_t d, int depth);

static void problem(chk_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(chk_t *c, const char *fmt, ...)
{
    if (c->count >= c->max)
        return;
    c->count++;
    if (c->errors == NULL)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(c->errors,
                          json_pack("{s:s%,s:s}", "keywordLocation", c->ptr.data ? c->ptr.data : "",
                                    c->ptr.len, "message", msg));
}

static int is_nonneg_int(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) >= 0;
    return rt_schema_num_is_integer(v) && json_real_value(v) >= 0;
}

static int unique_strings(const json_t *v)
{
    if (!json_is_array(v))
        return 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (!json_is_string(json_array_get(v, i)))
            return 0;
    }
    size_t a, b;
    return !rt_schema_json_dup(v, &a, &b);
}

static int simple_type(const json_t *v)
{
    static const char *const names[] = {"array",  "boolean", "integer", "null",
                                        "number", "object",  "string"};
    if (!json_is_string(v))
        return 0;
    for (size_t i = 0; i < RT_ARRAY_LEN(names); i++) {
        if (strcmp(json_string_value(v), names[i]) == 0)
            return 1;
    }
    return 0;
}

static int type_ok(const json_t *v)
{
    if (json_is_string(v))
        return simple_type(v);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (!simple_type(json_array_get(v, i)))
            return 0;
    }
    size_t a, b;
    return !rt_schema_json_dup(v, &a, &b);
}

static int anchor_ok(const json_t *v)
{
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_'))
            return 0;
    }
    return 1;
}

static int id_ok(const json_t *v)
{
    if (!json_is_string(v))
        return 0;
    const char *hash = memchr(json_string_value(v), '#', json_string_length(v));
    return hash == NULL || (size_t)(hash - json_string_value(v)) + 1 == json_string_length(v);
}

static int vocabulary_ok(const json_t *v)
{
    if (!json_is_object(v))
        return 0;
    const char *k;
    json_t *b;
    json_object_foreach((json_t *)v, k, b)
    {
        if (!json_is_boolean(b))
            return 0;
    }
    return 1;
}

/* Checks every member of an object as a schema (or, for dependencies, as a
 * schema or a string array). */
static void check_map(chk_t *c, const json_t *v, sc_dialect_t d, int depth, int deps)
{
    const char *k;
    size_t klen;
    json_t *sub;
    json_object_keylen_foreach((json_t *)v, k, klen, sub)
    {
        size_t mark = c->ptr.len;
        rt_schema_ptr_push(&c->ptr, k, klen);
        if (deps && json_is_array(sub)) {
            if (!unique_strings(sub))
                problem(c, "must be a schema or an array of unique strings");
        } else {
            check_schema(c, sub, d, depth + 1);
        }
        c->ptr.len = mark;
        c->ptr.data[mark] = '\0';
    }
}

static void check_array(chk_t *c, const json_t *v, sc_dialect_t d, int depth)
{
    for (size_t i = 0; i < json_array_size(v); i++) {
        size_t mark = c->ptr.len;
        rt_schema_ptr_push_index(&c->ptr, i);
        check_schema(c, json_array_get(v, i), d, depth + 1);
        c->ptr.len = mark;
        c->ptr.data[mark] = '\0';
    }
}

/* Checks keywords whose value holds subschemas; returns 1 if kind was one. */
static int check_applicator(chk_t *c, const kwdef_t *k, const json_t *v, sc_dialect_t d, int depth)
{
    switch (k->kind) {
    case K_SCHEMA:
        check_schema(c, v, d, depth + 1);
        return 1;
    case K_SCHEMA_OR_ARRAY:
        if (json_is_array(v) && json_array_size(v) > 0)
            check_array(c, v, d, depth);
        else if (json_is_array(v))
            problem(c, "%s must be a schema or a non-empty array of schemas", k->name);
        else
            check_schema(c, v, d, depth + 1);
        return 1;
    case K_SCHEMA_ARRAY:
        if (!json_is_array(v) || json_array_size(v) == 0)
            problem(c, "%s must be a non-empty array of schemas", k->name);
        else
            check_array(c, v, d, depth);
        return 1;
    case K_SCHEMA_MAP:
    case K_DEPENDENCIES:
        if (!json_is_object(v))
            problem(c, "%s must be an object", k->name);
        else
            check_map(c, v, d, depth, k->kind == K_DEPENDENCIES);
        return 1;
    default:
        return 0;
    }
}

/* Returns NULL if the value fits its kind, else the expectation. */
static const char *value_problem(enum kind kind, const json_t *v)
{
    switch (kind) {
    case K_STRING:
        return json_is_string(v) ? NULL : "a string";
    case K_ID:
        return id_ok(v) ? NULL : "a URI reference without a non-empty fragment";
    case K_ANCHOR:
        return anchor_ok(v) ? NULL : "a plain name matching ^[A-Za-z_][-A-Za-z0-9._]*$";
    case K_BOOL:
        return json_is_boolean(v) ? NULL : "a boolean";
    case K_NUMBER:
        return json_is_number(v) ? NULL : "a number";
    case K_POS_NUMBER:
        return json_is_number(v) && json_number_value(v) > 0 ? NULL : "a number greater than 0";
    case K_NONNEG_INT:
        return is_nonneg_int(v) ? NULL : "a non-negative integer";
    case K_STRING_ARRAY:
        return unique_strings(v) ? NULL : "an array of unique strings";
    case K_TYPE:
        return type_ok(v) ? NULL : "a type name or a non-empty array of unique type names";
    case K_ENUM:
        return json_is_array(v) ? NULL : "an array";
    case K_ENUM07: {
        size_t a, b;
        return json_is_array(v) && json_array_size(v) > 0 && !rt_schema_json_dup(v, &a, &b)
                   ? NULL
                   : "a non-empty array of unique values";
    }
    case K_ARRAY:
        return json_is_array(v) ? NULL : "an array";
    case K_VOCABULARY:
        return vocabulary_ok(v) ? NULL : "an object of booleans";
    default:
        return NULL;
    }
}

static void check_string_array_map(chk_t *c, const json_t *v)
{
    if (!json_is_object(v)) {
        problem(c, "dependentRequired must be an object");
        return;
    }
    const char *k;
    size_t klen;
    json_t *sub;
    json_object_keylen_foreach((json_t *)v, k, klen, sub)
    {
        size_t mark = c->ptr.len;
        rt_schema_ptr_push(&c->ptr, k, klen);
        if (!unique_strings(sub))
            problem(c, "must be an array of unique strings");
        c->ptr.len = mark;
        c->ptr.data[mark] = '\0';
    }
}

static void check_keyword(chk_t *c, const kwdef_t *k, const json_t *v, sc_dialect_t d, int depth)
{
    size_t mark = c->ptr.len;
    rt_schema_ptr_push(&c->ptr, k->name, strlen(k->name));
    if (k->kind == K_STRING_ARRAY_MAP) {
        check_string_array_map(c, v);
    } else if (!check_applicator(c, k, v, d, depth)) {
        const char *want = value_problem(k->kind, v);
        if (want)
            problem(c, "%s must be %s", k->name, want);
    }
    c->ptr.len = mark;
    c->ptr.data[mark] = '\0';
}

static void check_schema(chk_t *c, const json_t *s, sc_dialect_t d, int depth)
{
    if (json_is_boolean(s))
        return;
    if (!json_is_object(s)) {
        problem(c, "a schema must be an object or a boolean");
        return;
    }
    if (depth > RT_SCHEMA_MAX_COMPILE_DEPTH) {
        problem(c, "schema nested more than %d levels deep", RT_SCHEMA_MAX_COMPILE_DEPTH);
        return;
    }
    const json_t *ds = json_object_get(s, "$schema");
    sc_dialect_t nd;
    if (depth > 0 && json_is_string(ds) && rt_schema_dialect_known(json_string_value(ds), &nd))
        d = nd;
    const kwdef_t *tab = d.draft == SC_DRAFT07 ? kw07 : kw2020;
    size_t n = d.draft == SC_DRAFT07 ? RT_ARRAY_LEN(kw07) : RT_ARRAY_LEN(kw2020);
    for (size_t i = 0; i < n; i++) {
        if (d.draft == SC_DRAFT2020 && (tab[i].vocab & d.vocab) == 0)
            continue;
        if (d.draft == SC_DRAFT2020 && tab[i].vocab == SC_VOC_DEFAULT && d.vocab != SC_VOC_DEFAULT)
            continue;
        const json_t *v = json_object_get(s, tab[i].name);
        if (v)
            check_keyword(c, &tab[i], v, d, depth);
    }
}

size_t rt_schema_check(const json_t *doc, sc_dialect_t d, const char *prefix, json_t *errors,
                       size_t max)
{
    chk_t c = {errors, max, 0, {0}};
    rt_buf_init(&c.ptr);
    rt_buf_append_str(&c.ptr, prefix);
    check_schema(&c, doc, d, 0);
    rt_buf_close(&c.ptr);
    return c.count;
}
