/*
 * Tests of the `when` language (src/cdc/when.c): every operator, precedence,
 * three-valued logic with null and missing (unchanged TOAST) values, numeric
 * comparison of numeric strings, changed(), compile errors with positions,
 * and the size and depth limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cdc/cdc.h"

static json_t *row(const char *text)
{
    if (!text)
        return NULL;
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test row %s: %s", text, e.text);
    return j;
}

/* Compiles src (which must compile) and evaluates it once. */
static int ev(const char *src, const char *new_row, const char *old_row, const char *op)
{
    rt_cdc_when_t *w = NULL;
    char err[RT_CDC_WHEN_ERR_BYTES];
    if (rt_cdc_when_compile(src, strlen(src), &w, err, sizeof(err)) != 0)
        fail_msg("'%s' did not compile: %s", src, err);
    json_t *n = row(new_row), *o = row(old_row);
    int r = rt_cdc_when_eval(w, n, o, op);
    json_decref(n);
    json_decref(o);
    rt_cdc_when_free(w);
    return r;
}

#define NEW_ROW                                                                                    \
    "{\"id\": 7, \"status\": \"active\", \"amount\": \"150.00\", \"score\": 2.5, "                 \
    "\"big\": \"9007199254740993\", \"flag\": true, \"gone\": null, \"name\": \"Ünïcode Ok\", "  \
    "\"Weird Col\": 1, \"meta\": {\"kind\": \"vip\", \"n\": 3}, \"tags\": [\"a\", \"b\"]}"
#define OLD_ROW                                                                                    \
    "{\"id\": 7, \"status\": \"pending\", \"amount\": \"90.5\", \"tags\": [\"a\", \"b\"]}"

static int upd(const char *src)
{
    return ev(src, NEW_ROW, OLD_ROW, "update");
}

static void err_is(const char *src, const char *want)
{
    rt_cdc_when_t *w = NULL;
    char err[RT_CDC_WHEN_ERR_BYTES] = "";
    assert_int_equal(rt_cdc_when_compile(src, strlen(src), &w, err, sizeof(err)), RT_EINVAL);
    assert_null(w);
    if (strcmp(err, want) != 0)
        fail_msg("'%s': got \"%s\", want \"%s\"", src, err, want);
}

static void test_comparisons(void **state)
{
    (void)state;
    assert_true(upd("new.status == 'active'"));
    assert_true(upd("new.status = 'active'"));
    assert_false(upd("new.status == 'Active'"));
    assert_true(upd("new.status != 'paused'"));
    assert_true(upd("new.status <> 'paused'"));
    assert_true(upd("old.status == 'pending'"));
    assert_true(upd("new.id == 7 and new.id >= 7 and new.id <= 7 and new.id > 6 and new.id < 8"));
    assert_false(upd("new.id > 7 or new.id < 7"));
    assert_true(upd("new.score > 2.4 and new.score < 2.6 and new.score == 2.5"));
    assert_true(upd("new.score == 25e-1 and new.id == 7.0 and new.id == 0.7e1"));
    assert_true(upd("new.id > -1 and -1 < new.id"));
    assert_true(upd("'b' > 'a' and 'abc' < 'abd' and 'ab' < 'abc'"));
    assert_true(upd("new.flag == true and new.flag != false"));
    assert_true(upd("new.tags == old.tags"));
    assert_false(upd("new.tags != old.tags"));
    assert_false(upd("new.tags < old.tags")); /* arrays only compare for equality */
}

static void test_numeric_strings(void **state)
{
    (void)state;
    /* numeric arrives as a string and compares as a number */
    assert_true(upd("new.amount > 100 and old.amount <= 100"));
    assert_true(upd("new.amount == 150"));
    assert_true(upd("new.amount == 150.000"));
    assert_true(upd("new.amount > old.amount")); /* "150.00" > "90.5" numerically */
    /* int8 beyond 2^53 arrives as a string and compares exactly */
    assert_true(upd("new.big == 9007199254740993"));
    assert_false(upd("new.big == 9007199254740992"));
    assert_true(upd("new.big > 9007199254740992"));
    assert_true(ev("new.a < new.b", "{\"a\": \"-10.5\", \"b\": \"-9\"}", NULL, "insert"));
    assert_true(ev("new.a == 0", "{\"a\": \"-0.00\"}", NULL, "insert"));
    assert_true(ev("new.a == 12345678901234567890.5", "{\"a\": \"12345678901234567890.50\"}", NULL,
                   "insert"));
    assert_false(ev("new.a == 12345678901234567890.5", "{\"a\": \"12345678901234567890.49\"}", NULL,
                    "insert"));
    assert_true(ev("new.a > 1e300", "{\"a\": 1.5e301}", NULL, "insert"));
    assert_true(ev("new.a < 0.001", "{\"a\": \"0.0009\"}", NULL, "insert"));
    /* text that is not canonical numeric text compares as text */
    assert_false(ev("new.a == 7", "{\"a\": \"007\"}", NULL, "insert"));
    assert_true(ev("new.a < new.b", "{\"a\": \"007\", \"b\": \"7\"}", NULL, "insert"));
}

static void test_type_mismatch(void **state)
{
    (void)state;
    assert_false(upd("new.status == 1"));
    assert_true(upd("new.status != 1"));
    assert_false(upd("new.status > 1"));
    assert_false(upd("new.status < 1"));
    assert_false(upd("new.flag == 1"));
    assert_false(upd("new.meta == 'vip'"));
    assert_true(upd("new.meta != 'vip'"));
}

static void test_null_logic(void **state)
{
    (void)state;
    assert_true(upd("new.gone is null"));
    assert_false(upd("new.gone is not null"));
    assert_true(upd("new.status is not null"));
    assert_false(upd("new.gone == null"));    /* unknown */
    assert_false(upd("new.gone != 'x'"));     /* unknown */
    assert_false(upd("not (new.gone == 1)")); /* not unknown is unknown */
    assert_true(upd("new.gone == 1 or true"));
    assert_false(upd("new.gone == 1 and true"));
    assert_false(upd("new.gone == 1 and false"));
    assert_true(upd("not (new.gone == 1 and false)"));
    /* a column not in the row (unchanged TOAST, or unknown) is unknown too */
    assert_false(upd("new.absent is null"));
    assert_false(upd("new.absent is not null"));
    assert_false(upd("new.absent == 1"));
    assert_false(upd("not (new.absent == 1)"));
    /* a missing member of a JSON value reads as null */
    assert_true(upd("new.meta.missing is null"));
    /* old row absent (insert) */
    assert_false(ev("old.status == 'x'", NEW_ROW, NULL, "insert"));
    assert_false(ev("old.status is null", NEW_ROW, NULL, "insert"));
}

static void test_in(void **state)
{
    (void)state;
    assert_true(upd("new.status in ('active', 'paused')"));
    assert_false(upd("new.status in ('paused')"));
    assert_true(upd("new.status not in ('paused', 'done')"));
    assert_false(upd("new.status not in ('active')"));
    assert_true(upd("new.id in (1, 7.0, 'x')"));
    assert_true(upd("new.status in ('active', null)"));
    assert_false(upd("new.status in ('x', null)"));     /* unknown */
    assert_false(upd("new.status not in ('x', null)")); /* unknown */
    assert_false(upd("new.gone in (1, 2)"));
    assert_false(upd("new.gone not in (1, 2)"));
    assert_true(upd("new.id in (old.id)"));
}

static void test_like(void **state)
{
    (void)state;
    assert_true(upd("new.status like 'act%'"));
    assert_true(upd("new.status like '%ive'"));
    assert_true(upd("new.status like '%t%v%'"));
    assert_true(upd("new.status like 'a_tive'"));
    assert_false(upd("new.status like 'a_ive'"));
    assert_false(upd("new.status like 'ACT%'"));
    assert_true(upd("new.status ilike 'ACT%'"));
    assert_true(upd("new.status not like 'x%'"));
    assert_false(upd("new.status not ilike 'A%'"));
    assert_true(upd("new.status like '%'"));
    assert_true(upd("new.name like '_nïcode%'")); /* _ is one character, not one byte */
    assert_true(upd("lower(new.name) like '%ok'"));
    assert_true(ev("new.a like '100\\%'", "{\"a\": \"100%\"}", NULL, "insert"));
    assert_false(ev("new.a like '100\\%'", "{\"a\": \"1000\"}", NULL, "insert"));
    assert_true(ev("new.a like 'a\\_b'", "{\"a\": \"a_b\"}", NULL, "insert"));
    assert_true(ev("new.a like '%%a%%b%%'", "{\"a\": \"xxaxxbxx\"}", NULL, "insert"));
    assert_true(ev("new.a like ''", "{\"a\": \"\"}", NULL, "insert"));
    assert_false(ev("new.a like ''", "{\"a\": \"x\"}", NULL, "insert"));
    assert_false(upd("new.id like '7'")); /* not a string */
    assert_false(upd("new.gone like '%'"));
    assert_false(upd("new.gone not like '%'"));
}

static void test_precedence(void **state)
{
    (void)state;
    /* and binds tighter than or */
    assert_true(upd("true or false and false"));
    assert_false(upd("(true or false) and false"));
    assert_true(upd("false and false or true"));
    /* not binds looser than comparison */
    assert_true(upd("not new.status == 'x'"));
    assert_true(upd("! new.status == 'x'"));
    assert_true(upd("not not new.flag"));
    assert_false(upd("!new.flag"));
    assert_true(upd("new.id == 7 && (new.status == 'x' || new.status == 'active')"));
    assert_true(upd("NOT new.status = 'x' AND new.status IN ('active') OR FALSE"));
    assert_true(upd("(new.id == 7) == true"));
    assert_true(upd("new.flag"));
    assert_false(upd("new.status")); /* a non-boolean value is not true */
}

static void test_refs(void **state)
{
    (void)state;
    assert_true(upd("status == 'active' and id == 7"));              /* bare = new on update */
    assert_true(ev("status == 'pending'", NULL, OLD_ROW, "delete")); /* old on delete */
    assert_true(upd("new.\"Weird Col\" == 1 and \"Weird Col\" == 1"));
    assert_true(ev("new.\"a\"\"b\" == 1", "{\"a\\\"b\": 1}", NULL, "insert"));
    assert_true(upd("new.meta.kind == 'vip' and meta.n > 2"));
    assert_true(upd("new.meta.\"kind\" == 'vip'"));
    assert_false(upd("new.status.x is not null"));
    assert_true(ev("op == 'insert'", NEW_ROW, NULL, "insert"));
    assert_true(upd("op in ('insert', 'update')"));
    assert_false(ev("op == 'update'", NULL, OLD_ROW, "delete"));
    assert_true(ev("new.s == 'it''s'", "{\"s\": \"it's\"}", NULL, "insert"));
    assert_true(ev("new.s == 'é'", "{\"s\": \"é\"}", NULL, "insert"));
    assert_true(ev("NEW.S == 1", "{\"S\": 1}", NULL, "insert"));  /* keywords any case */
    assert_false(ev("NEW.S == 1", "{\"s\": 1}", NULL, "insert")); /* names exact */
}

static void test_functions(void **state)
{
    (void)state;
    assert_true(upd("lower(new.status) == 'active' and upper(new.status) == 'ACTIVE'"));
    assert_true(upd("lower('MiXeD') == 'mixed'"));
    assert_true(upd("upper(lower('MiXeD')) == 'MIXED'"));
    assert_true(upd("lower(new.status) == lower('ACTIVE')"));
    assert_true(upd("length(new.status) == 6"));
    assert_true(upd("length(new.name) == 10")); /* code points */
    assert_true(upd("length(new.tags) == 2 and length(new.meta) == 2"));
    assert_true(upd("length(new.gone) is null"));
    assert_true(upd("length(new.id) is null"));
    assert_true(upd("lower(new.id) is null"));
    assert_false(upd("length(new.absent) is null")); /* missing stays unknown */
}

static void test_changed(void **state)
{
    (void)state;
    assert_true(upd("changed(status)"));
    assert_true(upd("changed(amount)"));
    assert_false(upd("changed(id)"));
    assert_false(upd("changed(tags)"));
    assert_true(upd("changed(id, status)"));
    assert_true(upd("changed(status) && new.status == 'active'"));
    assert_true(upd("not changed(id)"));
    /* no old row (REPLICA IDENTITY DEFAULT): present in new counts as changed */
    assert_true(ev("changed(status)", NEW_ROW, NULL, "update"));
    /* unchanged TOAST: absent from the new row, so not changed */
    assert_false(ev("changed(note)", NEW_ROW, "{\"note\": \"long\"}", "update"));
    assert_false(ev("changed(note)", NEW_ROW, NULL, "update"));
    /* insert: everything present is new; delete: everything present went */
    assert_true(ev("changed(status)", NEW_ROW, NULL, "insert"));
    assert_true(ev("changed(status)", NULL, OLD_ROW, "delete"));
    assert_false(ev("changed(nothere)", NULL, OLD_ROW, "delete"));
    assert_true(ev("changed(\"Weird Col\")", NEW_ROW, "{\"Weird Col\": 2}", "update"));
    assert_true(upd("changed(\"op\")") == 0);
}

static void test_columns_listing(void **state)
{
    (void)state;
    rt_cdc_when_t *w = NULL;
    const char *src = "changed(status) and new.status == 'a' and old.amount > 1 or id = 2 "
                      "or changed(\"x y\")";
    assert_int_equal(rt_cdc_when_compile(src, strlen(src), &w, NULL, 0), 0);
    assert_int_equal(rt_cdc_when_ncolumns(w), 4);
    unsigned f;
    assert_string_equal(rt_cdc_when_column(w, 0, &f), "status");
    assert_int_equal(f, RT_CDC_WHEN_REF_CHANGED | RT_CDC_WHEN_REF_NEW);
    assert_string_equal(rt_cdc_when_column(w, 1, &f), "amount");
    assert_int_equal(f, RT_CDC_WHEN_REF_OLD);
    assert_string_equal(rt_cdc_when_column(w, 2, &f), "id");
    assert_int_equal(f, RT_CDC_WHEN_REF_NEW);
    assert_string_equal(rt_cdc_when_column(w, 3, &f), "x y");
    assert_int_equal(f, RT_CDC_WHEN_REF_CHANGED);
    rt_cdc_when_free(w);
    rt_cdc_when_free(NULL);
}

static void test_errors(void **state)
{
    (void)state;
    err_is("", "at 1: expected an operand");
    err_is("   ", "at 4: expected an operand");
    err_is("new.a == ", "at 10: expected an operand");
    err_is("(new.a == 1", "at 12: expected ')'");
    err_is("new.a == 1)", "at 11: expected end of expression");
    err_is("new.a === 1", "at 9: expected an operand");
    err_is("new.a == 'abc", "at 10: unterminated string");
    err_is("new.\"abc == 1", "at 5: unterminated quoted identifier");
    err_is("foo(1)", "at 1: unknown function 'foo'");
    err_is("new == 1", "at 5: expected '.' after 'new'");
    err_is("new.1 == 1", "at 4: expected '.' after 'new'");
    err_is("new.a in 1", "at 10: expected '(' after 'in'");
    err_is("new.a in ()", "at 11: expected an operand");
    err_is("new.a is 1", "at 10: expected 'null'");
    err_is("new.a is not", "at 13: expected 'null'");
    err_is("1 2", "at 3: expected end of expression");
    err_is("new.a like new.b", "at 12: expected a string pattern after 'like'");
    err_is("new.a @ 1", "at 7: unexpected character '@'");
    err_is("new.a == 1 and", "at 15: expected an operand");
    err_is("and", "at 1: expected an operand, got 'and'");
    err_is("changed()", "at 9: expected a column name");
    err_is("changed(new.a)", "at 9: expected a column name");
    err_is("changed(op)", "at 9: expected a column name");
    err_is("changed(a b)", "at 11: expected ')'");
    err_is("lower(a", "at 8: expected ')'");
    err_is("new.\"\" == 1", "at 5: column names are 1 to 255 bytes");
    err_is("new.a == -", "at 10: unexpected character '-'");
    err_is("new.a == 1 ~", "at 12: unexpected character '~'");
    err_is("new.a == \x01", "at 10: unexpected character");
    err_is("new.a == 'x\xff'", "expression is not valid UTF-8");

    /* an error message is cut to errcap and stays NUL-terminated */
    rt_cdc_when_t *w = NULL;
    char small[8];
    assert_int_equal(rt_cdc_when_compile("(", 1, &w, small, sizeof(small)), RT_EINVAL);
    assert_string_equal(small, "at 2: e");
    assert_int_equal(rt_cdc_when_compile("(", 1, &w, NULL, 0), RT_EINVAL);
}

/* prefix, unit repeated n times, suffix; caller frees with rt_free(). */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
    rt_buf_t b;
    rt_buf_init(&b);
    rt_buf_append_str(&b, prefix);
    for (size_t i = 0; i < n; i++)
        rt_buf_append_str(&b, unit);
    rt_buf_append_str(&b, suffix);
    return rt_buf_steal(&b, NULL);
}

static void test_limits(void **state)
{
    (void)state;
    rt_cdc_when_t *w = NULL;
    char err[RT_CDC_WHEN_ERR_BYTES];

    /* nesting: 64 parentheses compile, 65 do not */
    char *open = repeat("", "(", RT_CDC_WHEN_MAX_DEPTH, "true");
    char *ok = repeat(open, ")", RT_CDC_WHEN_MAX_DEPTH, "");
    char *deep = repeat("", "(", RT_CDC_WHEN_MAX_DEPTH + 1, "true");
    rt_free(open);
    assert_int_equal(rt_cdc_when_compile(ok, strlen(ok), &w, err, sizeof(err)), 0);
    assert_true(rt_cdc_when_eval(w, NULL, NULL, "insert"));
    rt_cdc_when_free(w);
    assert_int_equal(rt_cdc_when_compile(deep, strlen(deep), &w, err, sizeof(err)), RT_EINVAL);
    assert_string_equal(err, "at 65: expression nested too deeply (over 64 levels)");
    rt_free(ok);
    rt_free(deep);

    char *nots = repeat("", "not ", RT_CDC_WHEN_MAX_DEPTH + 1, "true");
    assert_int_equal(rt_cdc_when_compile(nots, strlen(nots), &w, err, sizeof(err)), RT_EINVAL);
    rt_free(nots);
    char *bangs = repeat("", "!", RT_CDC_WHEN_MAX_DEPTH, "true");
    assert_int_equal(rt_cdc_when_compile(bangs, strlen(bangs), &w, err, sizeof(err)), 0);
    assert_true(rt_cdc_when_eval(w, NULL, NULL, "insert"));
    rt_cdc_when_free(w);
    rt_free(bangs);

    /* length */
    char *longsrc = repeat("", " ", RT_CDC_WHEN_MAX_BYTES - 4, "true");
    assert_int_equal(rt_cdc_when_compile(longsrc, strlen(longsrc), &w, err, sizeof(err)), 0);
    rt_cdc_when_free(w);
    rt_free(longsrc);
    longsrc = repeat("", " ", RT_CDC_WHEN_MAX_BYTES - 3, "true");
    assert_int_equal(rt_cdc_when_compile(longsrc, strlen(longsrc), &w, err, sizeof(err)),
                     RT_EINVAL);
    assert_string_equal(err, "expression longer than 4096 bytes");
    rt_free(longsrc);

    /* in list */
    char *in = repeat("new.a in (0", ",1", RT_CDC_WHEN_MAX_IN_ITEMS - 1, ")");
    assert_int_equal(rt_cdc_when_compile(in, strlen(in), &w, err, sizeof(err)), 0);
    rt_cdc_when_free(w);
    rt_free(in);
    in = repeat("new.a in (0", ",1", RT_CDC_WHEN_MAX_IN_ITEMS, ")");
    assert_int_equal(rt_cdc_when_compile(in, strlen(in), &w, err, sizeof(err)), RT_EINVAL);
    assert_non_null(strstr(err, "too many values in 'in' list (at most 256)"));
    rt_free(in);

    /* nodes: a long flat chain is fine for depth, but not for size */
    char *chain = repeat("a", "&&a", RT_CDC_WHEN_MAX_NODES, "");
    assert_int_equal(rt_cdc_when_compile(chain, strlen(chain), &w, err, sizeof(err)), RT_EINVAL);
    assert_non_null(strstr(err, "expression too complex (over 1024 nodes)"));
    rt_free(chain);
    chain = repeat("a", "&&a", 1000, "");
    assert_int_equal(rt_cdc_when_compile(chain, strlen(chain), &w, err, sizeof(err)), 0);
    rt_cdc_when_free(w);
    rt_free(chain);

    /* like pattern */
    char *pat = repeat("new.a like '", "x", RT_CDC_WHEN_MAX_LIKE_BYTES + 1, "'");
    assert_int_equal(rt_cdc_when_compile(pat, strlen(pat), &w, err, sizeof(err)), RT_EINVAL);
    assert_string_equal(err, "at 12: pattern longer than 256 bytes");
    rt_free(pat);
}

static void test_long_chain_eval(void **state)
{
    (void)state;
    char *chain = repeat("new.a", " or new.a", 400, "");
    json_t *n = row("{\"a\": false}");
    rt_cdc_when_t *w = NULL;
    assert_int_equal(rt_cdc_when_compile(chain, strlen(chain), &w, NULL, 0), 0);
    assert_false(rt_cdc_when_eval(w, n, NULL, "insert"));
    json_object_set_new(n, "a", json_true());
    assert_true(rt_cdc_when_eval(w, n, NULL, "insert"));
    rt_cdc_when_free(w);
    json_decref(n);
    rt_free(chain);
}

static void test_changed_function(void **state)
{
    (void)state;
    json_t *n = row("{\"a\": 1, \"b\": [1]}"), *o = row("{\"a\": 1, \"b\": [2], \"c\": 3}");
    assert_false(rt_cdc_changed(n, o, "update", "a"));
    assert_true(rt_cdc_changed(n, o, "update", "b"));
    assert_false(rt_cdc_changed(n, o, "update", "c")); /* omitted from new: unchanged TOAST */
    assert_true(rt_cdc_changed(NULL, o, "delete", "c"));
    assert_true(rt_cdc_changed(n, NULL, "update", "a"));
    assert_false(rt_cdc_changed(NULL, NULL, "update", "a"));
    json_decref(n);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_numeric_strings),
        cmocka_unit_test(test_type_mismatch),
        cmocka_unit_test(test_null_logic),
        cmocka_unit_test(test_in),
        cmocka_unit_test(test_like),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_changed),
        cmocka_unit_test(test_columns_listing),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_long_chain_eval),
        cmocka_unit_test(test_changed_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
