/*
 * Tests of mappings (src/cdc/mapping.c): parsing with per-field errors, the
 * canonical write-back, and evaluation (table, operations, watched columns,
 * when, payload projection and meta), including the seed's patterns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cdc/cdc.h"

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return j;
}

static rt_cdc_mapping_t *parse_ok(const char *text)
{
    json_t *spec = js(text);
    json_t *errors = json_array();
    rt_cdc_mapping_t *m = NULL;
    if (rt_cdc_mapping_parse(spec, &m, errors) != 0) {
        char *s = json_dumps(errors, 0);
        fail_msg("mapping did not parse: %s", s);
    }
    assert_int_equal(json_array_size(errors), 0);
    json_decref(spec);
    json_decref(errors);
    return m;
}

/* Parses text, which must fail, and returns the errors array. */
static json_t *parse_err(const char *text)
{
    json_t *spec = js(text);
    json_t *errors = json_array();
    rt_cdc_mapping_t *m = NULL;
    assert_int_equal(rt_cdc_mapping_parse(spec, &m, errors), RT_EINVAL);
    assert_null(m);
    json_decref(spec);
    return errors;
}

/* The message reported for field, or NULL. */
static const char *error_for(const json_t *errors, const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
            return json_string_value(json_object_get(e, "message"));
    }
    return NULL;
}

#define SESSIONS_STARTED                                                                           \
    "{\"name\": \"sessions-started\", \"source\": \"main\", \"table\": \"public.sessions\", "      \
    "\"operations\": [\"insert\", \"update\"], \"watchColumns\": [\"status\"], "                   \
    "\"when\": \"changed(status) and new.status = 'active'\", "                                    \
    "\"payload\": {\"sessionId\": \"id\", \"status\": \"status\"}, "                               \
    "\"topic\": \"session.started\"}"

/* Evaluates m on one change given as JSON texts (NULL for absent). */
static int eval(const rt_cdc_mapping_t *m, const char *op, const char *new_row, const char *old_row,
                const char *unchanged, json_t **payload, json_t **meta, const char **reason)
{
    json_t *n = new_row ? js(new_row) : NULL, *o = old_row ? js(old_row) : NULL;
    json_t *u = unchanged ? js(unchanged) : NULL;
    rt_cdc_change_t c = {op, "public", "sessions", n, o, u};
    int rc = rt_cdc_mapping_eval(m, &c, payload, meta, reason);
    json_decref(n);
    json_decref(o);
    json_decref(u);
    return rc;
}

static void assert_json(json_t *got, const char *want_text)
{
    json_t *want = js(want_text);
    if (!json_equal(got, want)) {
        char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS);
        fail_msg("got %s want %s", s, want_text);
    }
    json_decref(want);
}

static void test_parse_full(void **state)
{
    (void)state;
    rt_cdc_mapping_t *m = parse_ok(SESSIONS_STARTED);
    assert_string_equal(m->name, "sessions-started");
    assert_string_equal(m->source, "main");
    assert_string_equal(m->schema, "public");
    assert_string_equal(m->table, "sessions");
    assert_string_equal(m->qualified, "public.sessions");
    assert_int_equal(m->ops, RT_CDC_OP_INSERT | RT_CDC_OP_UPDATE);
    assert_int_equal(m->nwatch, 1);
    assert_string_equal(m->watch[0], "status");
    assert_non_null(m->when);
    assert_string_equal(m->topic, "session.started");
    assert_null(m->description);
    assert_true(rt_cdc_mapping_needs_old(m));

    /* to_json reads back as the same mapping */
    json_t *j = rt_cdc_mapping_to_json(m);
    assert_json(j, "{\"name\": \"sessions-started\", \"source\": \"main\", "
                   "\"table\": \"public.sessions\", \"operations\": [\"insert\", \"update\"], "
                   "\"watchColumns\": [\"status\"], "
                   "\"when\": \"changed(status) and new.status = 'active'\", "
                   "\"payload\": {\"sessionId\": \"id\", \"status\": \"status\"}, "
                   "\"topic\": \"session.started\", \"description\": null}");
    rt_cdc_mapping_t *again = NULL;
    assert_int_equal(rt_cdc_mapping_parse(j, &again, NULL), 0);
    json_t *j2 = rt_cdc_mapping_to_json(again);
    assert_true(json_equal(j, j2));
    json_decref(j);
    json_decref(j2);
    rt_cdc_mapping_free(again);
    rt_cdc_mapping_free(m);
    rt_cdc_mapping_free(NULL);
}

static void test_parse_defaults_and_tables(void **state)
{
    (void)state;
    rt_cdc_mapping_t *m = parse_ok("{\"name\": \"a\", \"source\": \"s\", \"table\": \"sessions\", "
                                   "\"topic\": \"t\", \"when\": null, \"payload\": null, "
                                   "\"watchColumns\": null, \"description\": \"d\"}");
    assert_string_equal(m->schema, "public");
    assert_int_equal(m->ops, RT_CDC_OP_INSERT | RT_CDC_OP_UPDATE | RT_CDC_OP_DELETE);
    assert_null(m->when);
    assert_null(m->payload);
    assert_string_equal(m->description, "d");
    assert_false(rt_cdc_mapping_needs_old(m));
    rt_cdc_mapping_free(m);

    m = parse_ok(
        "{\"name\": \"a\", \"source\": \"s\", \"table\": \"\\\"my.schema\\\".\\\"T\\\"\\\"x\\\"\", "
        "\"topic\": \"t\"}");
    assert_string_equal(m->schema, "my.schema");
    assert_string_equal(m->table, "T\"x");
    json_t *j = rt_cdc_mapping_to_json(m);
    assert_string_equal(json_string_value(json_object_get(j, "table")), "\"my.schema\".\"T\"\"x\"");
    json_decref(j);
    rt_cdc_mapping_free(m);

    const char *bad[] = {"", ".", "a.", ".b", "a.b.c", "\"a", "a\"b", "\"\".b", "\"a\"b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *spec = js("{\"name\": \"a\", \"source\": \"s\", \"topic\": \"t\"}");
        json_object_set_new(spec, "table", json_string(bad[i]));
        json_t *errors = json_array();
        rt_cdc_mapping_t *out = NULL;
        assert_int_equal(rt_cdc_mapping_parse(spec, &out, errors), RT_EINVAL);
        if (!error_for(errors, "table"))
            fail_msg("table '%s' accepted", bad[i]);
        json_decref(spec);
        json_decref(errors);
    }
}

static void test_parse_errors(void **state)
{
    (void)state;
    json_t *errors = parse_err("{\"source\": 5, \"table\": \"public.s\", \"topic\": \"Bad Topic\", "
                               "\"operations\": [\"insert\", \"upsert\"], "
                               "\"watchColumns\": [\"\"], \"when\": \"(new.a == 1\", "
                               "\"payload\": {\"a\": \"'open\", \"b\": {\"c\": \"old.\"}, "
                               "\"\": \"id\"}, \"extra\": 1}");
    assert_string_equal(error_for(errors, "name"), "is required");
    assert_string_equal(error_for(errors, "source"), "must be a string");
    assert_non_null(error_for(errors, "topic"));
    assert_string_equal(error_for(errors, "operations"),
                        "must contain only insert, update, delete");
    assert_non_null(error_for(errors, "watchColumns"));
    assert_string_equal(error_for(errors, "when"), "at 12: expected ')'");
    assert_string_equal(error_for(errors, "payload.a"), "unterminated string literal");
    assert_string_equal(error_for(errors, "payload.b.c"), "expected a column name");
    assert_string_equal(error_for(errors, "payload."), "field names must not be empty");
    assert_string_equal(error_for(errors, "extra"), "unknown field");
    assert_null(error_for(errors, "table"));
    json_decref(errors);

    errors = parse_err("[1]");
    assert_int_equal(json_array_size(errors), 1);
    json_decref(errors);

    errors = parse_err("{\"name\": \"-x\", \"source\": \"s\", \"table\": \"t\", \"topic\": \"t\", "
                       "\"operations\": [\"insert\", \"insert\"], \"payload\": [\"id\"]}");
    assert_non_null(error_for(errors, "name"));
    assert_string_equal(error_for(errors, "operations"), "lists an operation twice");
    assert_non_null(error_for(errors, "payload"));
    json_decref(errors);

    errors = parse_err("{\"name\": \"x\", \"source\": \"s\", \"table\": \"t\", \"topic\": \"t\", "
                       "\"operations\": [], \"payload\": {\"a\": {\"b\": {\"c\": {\"d\": {\"e\": "
                       "{\"f\": {\"g\": {\"h\": {\"i\": \"id\"}}}}}}}}}}");
    assert_non_null(error_for(errors, "operations"));
    assert_string_equal(error_for(errors, "payload.a.b.c.d.e.f.g.h"),
                        "nested deeper than 8 levels");
    json_decref(errors);

    /* a long non-ASCII field name is cut at a character boundary, not lost */
    json_t *odd = js("{\"name\": \"x\", \"source\": \"s\", \"table\": \"t\", \"topic\": \"t\"}");
    char key[301] = "";
    for (int i = 0; i < 100; i++)
        memcpy(key + 3 * i, "\xe2\x82\xac", 3); /* U+20AC, 3 bytes */
    json_object_set_new(odd, key, json_true());
    errors = json_array();
    rt_cdc_mapping_t *none = NULL;
    assert_int_equal(rt_cdc_mapping_parse(odd, &none, errors), RT_EINVAL);
    assert_int_equal(json_array_size(errors), 1);
    const char *field = json_string_value(json_object_get(json_array_get(errors, 0), "field"));
    assert_non_null(field);
    assert_int_equal(strlen(field) % 3, 0);
    assert_true(strlen(field) > 150);
    json_decref(odd);
    json_decref(errors);

    /* a NULL errors array is allowed */
    json_t *spec = js("{}");
    rt_cdc_mapping_t *m = NULL;
    assert_int_equal(rt_cdc_mapping_parse(spec, &m, NULL), RT_EINVAL);
    json_decref(spec);
}

static void test_eval_pattern_one(void **state)
{
    (void)state;
    rt_cdc_mapping_t *m = parse_ok(SESSIONS_STARTED);
    json_t *payload = NULL, *meta = NULL;
    const char *reason = NULL;

    /* pending -> active with old values (REPLICA IDENTITY FULL): fires */
    assert_int_equal(eval(m, "update", "{\"id\": \"s_1\", \"status\": \"active\", \"n\": 1}",
                          "{\"id\": \"s_1\", \"status\": \"pending\", \"n\": 1}", NULL, &payload,
                          &meta, &reason),
                     1);
    assert_json(payload, "{\"sessionId\": \"s_1\", \"status\": \"active\"}");
    assert_json(meta, "{\"table\": \"public.sessions\", \"op\": \"update\", "
                      "\"mapping\": \"sessions-started\"}");
    json_decref(payload);
    json_decref(meta);

    /* status unchanged: the watched column did not change */
    assert_int_equal(eval(m, "update", "{\"id\": \"s_1\", \"status\": \"active\", \"n\": 2}",
                          "{\"id\": \"s_1\", \"status\": \"active\", \"n\": 1}", NULL, &payload,
                          &meta, &reason),
                     0);
    assert_string_equal(reason, "no watched column changed");

    /* changed, but not to active */
    assert_int_equal(eval(m, "update", "{\"id\": \"s_1\", \"status\": \"done\"}",
                          "{\"id\": \"s_1\", \"status\": \"active\"}", NULL, &payload, &meta,
                          &reason),
                     0);
    assert_string_equal(reason, "when evaluated to false");

    /* insert: watchColumns apply to updates only; changed() is true */
    assert_int_equal(eval(m, "insert", "{\"id\": \"s_2\", \"status\": \"active\"}", NULL, NULL,
                          &payload, &meta, &reason),
                     1);
    json_decref(payload);
    json_decref(meta);

    assert_int_equal(eval(m, "delete", NULL, "{\"id\": \"s_2\"}", NULL, &payload, &meta, &reason),
                     0);
    assert_string_equal(reason, "operation not mapped");

    json_t *n = js("{\"id\": 1}");
    rt_cdc_change_t other = {"insert", "public", "users", n, NULL, NULL};
    assert_int_equal(rt_cdc_mapping_eval(m, &other, &payload, &meta, &reason), 0);
    assert_string_equal(reason, "table not mapped");
    other.op = "upsert";
    assert_int_equal(rt_cdc_mapping_eval(m, &other, &payload, &meta, &reason), RT_EINVAL);
    json_decref(n);
    rt_cdc_mapping_free(m);
}

static void test_eval_toast_and_default_identity(void **state)
{
    (void)state;
    rt_cdc_mapping_t *m = parse_ok("{\"name\": \"doc\", \"source\": \"s\", \"table\": "
                                   "\"public.sessions\", \"operations\": [\"update\"], "
                                   "\"watchColumns\": [\"body\"], \"topic\": \"doc.changed\"}");
    json_t *payload = NULL, *meta = NULL;
    const char *reason = NULL;

    /* body is an unchanged TOAST value: left out of the row, not changed */
    assert_int_equal(eval(m, "update", "{\"id\": 1, \"title\": \"x\"}", "{\"id\": 1}", "[\"body\"]",
                          &payload, &meta, &reason),
                     0);
    assert_string_equal(reason, "no watched column changed");

    /* REPLICA IDENTITY DEFAULT (no old row): present counts as changed */
    assert_int_equal(
        eval(m, "update", "{\"id\": 1, \"body\": \"new\"}", NULL, NULL, &payload, &meta, &reason),
        1);
    json_decref(payload);
    json_decref(meta);

    /* the whole row, and the unchanged columns in meta */
    assert_int_equal(eval(m, "update", "{\"id\": 1, \"body\": \"b\"}",
                          "{\"id\": 1, \"body\": \"a\"}", "[\"big\"]", &payload, &meta, &reason),
                     1);
    assert_json(payload, "{\"id\": 1, \"body\": \"b\"}");
    assert_json(meta, "{\"table\": \"public.sessions\", \"op\": \"update\", \"mapping\": \"doc\", "
                      "\"unchangedColumns\": [\"big\"]}");
    json_decref(payload);
    json_decref(meta);
    rt_cdc_mapping_free(m);
}

static void test_eval_projection(void **state)
{
    (void)state;
    rt_cdc_mapping_t *m =
        parse_ok("{\"name\": \"p\", \"source\": \"s\", \"table\": \"public.sessions\", "
                 "\"topic\": \"session.audit.log\", \"payload\": {"
                 "\"id\": \"id\", \"now\": \"new.status\", \"was\": \"old.status\", "
                 "\"kind\": \"'status change'\", \"quote\": \"'it''s'\", \"v\": 2, "
                 "\"flags\": [true], \"nothing\": null, \"missing\": \"nope\", "
                 "\"all\": \"*\", \"before\": \"old.*\", "
                 "\"nested\": {\"s\": \"status\", \"deeper\": {\"i\": \"new.id\"}}}}");
    assert_true(rt_cdc_mapping_needs_old(m));
    json_t *payload = NULL, *meta = NULL;
    const char *reason = NULL;
    assert_int_equal(eval(m, "update", "{\"id\": 1, \"status\": \"b\"}",
                          "{\"id\": 1, \"status\": \"a\"}", NULL, &payload, &meta, &reason),
                     1);
    assert_json(payload, "{\"id\": 1, \"now\": \"b\", \"was\": \"a\", \"kind\": \"status change\", "
                         "\"quote\": \"it's\", \"v\": 2, \"flags\": [true], \"nothing\": null, "
                         "\"all\": {\"id\": 1, \"status\": \"b\"}, "
                         "\"before\": {\"id\": 1, \"status\": \"a\"}, "
                         "\"nested\": {\"s\": \"b\", \"deeper\": {\"i\": 1}}}");
    json_decref(payload);
    json_decref(meta);

    /* delete: bare columns and * read the old row; new.* is absent */
    assert_int_equal(
        eval(m, "delete", NULL, "{\"id\": 9, \"status\": \"z\"}", NULL, &payload, &meta, &reason),
        1);
    assert_json(payload, "{\"id\": 9, \"was\": \"z\", \"kind\": \"status change\", "
                         "\"quote\": \"it's\", \"v\": 2, \"flags\": [true], \"nothing\": null, "
                         "\"all\": {\"id\": 9, \"status\": \"z\"}, "
                         "\"before\": {\"id\": 9, \"status\": \"z\"}, "
                         "\"nested\": {\"s\": \"z\", \"deeper\": {}}}");
    json_decref(payload);
    json_decref(meta);
    rt_cdc_mapping_free(m);

    /* no payload: the whole row, the old one for deletes */
    m = parse_ok("{\"name\": \"w\", \"source\": \"s\", \"table\": \"public.sessions\", "
                 "\"topic\": \"t\", \"operations\": [\"delete\"]}");
    assert_int_equal(eval(m, "delete", NULL, "{\"id\": 9}", NULL, &payload, &meta, &reason), 1);
    assert_json(payload, "{\"id\": 9}");
    assert_json(meta, "{\"table\": \"public.sessions\", \"op\": \"delete\", \"mapping\": \"w\"}");
    json_decref(payload);
    json_decref(meta);
    rt_cdc_mapping_free(m);
}

static void test_pattern_three(void **state)
{
    (void)state;
    /* one table, several mappings; one change may match several */
    const char *specs[] = {
        "{\"name\": \"started\", \"source\": \"s\", \"table\": \"public.sessions\", "
        "\"topic\": \"session.started\", \"when\": \"new.status = 'active'\"}",
        "{\"name\": \"ended\", \"source\": \"s\", \"table\": \"public.sessions\", "
        "\"topic\": \"session.ended\", \"when\": \"new.status = 'completed'\"}",
        "{\"name\": \"audit\", \"source\": \"s\", \"table\": \"public.sessions\", "
        "\"topic\": \"session.audit.log\", \"operations\": [\"update\"]}",
    };
    rt_cdc_mapping_t *m[3];
    for (int i = 0; i < 3; i++)
        m[i] = parse_ok(specs[i]);
    int fired[3];
    for (int i = 0; i < 3; i++) {
        json_t *payload = NULL, *meta = NULL;
        const char *reason = NULL;
        fired[i] = eval(m[i], "update", "{\"id\": 1, \"status\": \"completed\"}",
                        "{\"id\": 1, \"status\": \"active\"}", NULL, &payload, &meta, &reason);
        if (fired[i] == 1) {
            json_decref(payload);
            json_decref(meta);
        }
        rt_cdc_mapping_free(m[i]);
    }
    assert_int_equal(fired[0], 0);
    assert_int_equal(fired[1], 1);
    assert_int_equal(fired[2], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_parse_defaults_and_tables),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_eval_pattern_one),
        cmocka_unit_test(test_eval_toast_and_default_identity),
        cmocka_unit_test(test_eval_projection),
        cmocka_unit_test(test_pattern_three),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
