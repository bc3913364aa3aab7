/*
 * Tests of the pgoutput decoder (src/cdc/pgoutput.c): every message type of
 * protocol versions 1 and 2 built byte by byte as PostgreSQL writes them,
 * the relation and type caches, every proper prefix of every message (must
 * be RT_EPROTO, read under ASan from an exactly-sized heap copy), malformed
 * fields, the replication framing helpers and LSN text forms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cdc/cdc.h"
#include "cdc/cdc_test_util.h"

#define RELID    16385u
#define OID_MOOD 16390u

/* The last message buffer handed to the decoder: decoded pointers borrow it. */
static uint8_t *last_buf;

static int decode(rt_cdc_decoder_t *d, const bw_t *w, rt_cdc_pg_msg_t *m)
{
    free(last_buf);
    last_buf = bw_dup(w);
    return rt_cdc_pg_decode(d, last_buf, w->len, m);
}

static int teardown(void **state)
{
    (void)state;
    free(last_buf);
    last_buf = NULL;
    return 0;
}

static rt_cdc_decoder_t *new_decoder(int proto)
{
    rt_cdc_decoder_t *d = NULL;
    assert_int_equal(rt_cdc_decoder_new(proto, &d), 0);
    assert_non_null(d);
    return d;
}

/* ------------------------------------------------------------ builders */

/* public.sessions (id int4 key, status text, amount numeric, note text
 * [, extra bool]) with replica identity ident. */
static void build_relation(bw_t *w, char ident, int extra)
{
    memset(w, 0, sizeof(*w));
    bw_u8(w, 'R');
    bw_u32(w, RELID);
    bw_str(w, "public");
    bw_str(w, "sessions");
    bw_u8(w, (uint8_t)ident);
    bw_u16(w, extra ? 5 : 4);
    bw_col(w, 1, "id", RT_CDC_OID_INT4);
    bw_col(w, ident == 'f', "status", RT_CDC_OID_TEXT);
    bw_col(w, ident == 'f', "amount", RT_CDC_OID_NUMERIC);
    bw_col(w, ident == 'f', "note", RT_CDC_OID_TEXT);
    if (extra)
        bw_col(w, ident == 'f', "extra", RT_CDC_OID_BOOL);
}

/* A 4-column TupleData: id, status, amount and an unchanged TOAST note. */
static void build_tuple(bw_t *w, const char *id, const char *status)
{
    bw_u16(w, 4);
    bw_text(w, id);
    if (status)
        bw_text(w, status);
    else
        bw_u8(w, 'n');
    bw_text(w, "12.50");
    bw_u8(w, 'u');
}

/* A 4-column key tuple: id, then nulls. */
static void build_key_tuple(bw_t *w, const char *id)
{
    bw_u16(w, 4);
    bw_text(w, id);
    bw_u8(w, 'n');
    bw_u8(w, 'n');
    bw_u8(w, 'n');
}

static void prime(rt_cdc_decoder_t *d, char ident)
{
    bw_t w;
    rt_cdc_pg_msg_t m;
    build_relation(&w, ident, 0);
    assert_int_equal(decode(d, &w, &m), 0);
}

/* Every proper prefix of w is RT_EPROTO and a trailing byte too. */
static void assert_prefixes_fail(rt_cdc_decoder_t *d, const bw_t *w)
{
    rt_cdc_pg_msg_t m;
    for (size_t k = 0; k < w->len; k++) {
        uint8_t *p = malloc(k ? k : 1);
        memcpy(p, w->buf, k);
        int rc = rt_cdc_pg_decode(d, p, k, &m);
        if (rc != RT_EPROTO)
            fail_msg("prefix of %zu/%zu bytes gave %d", k, w->len, rc);
        free(p);
    }
    bw_t longer = *w;
    bw_u8(&longer, 0);
    assert_int_equal(decode(d, &longer, &m), RT_EPROTO);
}

/* -------------------------------------------------------------- tests */

static void test_decoder_versions(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = NULL;
    assert_int_equal(rt_cdc_decoder_new(0, &d), RT_EVERSION);
    assert_int_equal(rt_cdc_decoder_new(3, &d), RT_EVERSION);
    assert_null(d);
    rt_cdc_decoder_free(NULL);
}

static void test_begin_commit(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'B');
    bw_u64(&w, 0x16B3748ull);
    bw_u64(&w, 817000000000000ull);
    bw_u32(&w, 741);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_BEGIN);
    assert_int_equal(m.u.begin.final_lsn, 0x16B3748ull);
    assert_int_equal(m.u.begin.commit_time_us, 817000000000000ll);
    assert_int_equal(m.u.begin.xid, 741);
    assert_int_equal(m.xid, 741);
    assert_int_equal(m.streamed, 0);
    assert_prefixes_fail(d, &w);

    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'C');
    bw_u8(&w, 0);
    bw_u64(&w, 0x16B3748ull);
    bw_u64(&w, 0x16B3778ull);
    bw_u64(&w, 817000000000123ull);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_COMMIT);
    assert_int_equal(m.u.commit.flags, 0);
    assert_int_equal(m.u.commit.commit_lsn, 0x16B3748ull);
    assert_int_equal(m.u.commit.end_lsn, 0x16B3778ull);
    assert_int_equal(m.u.commit.commit_time_us, 817000000000123ll);
    assert_prefixes_fail(d, &w);
    rt_cdc_decoder_free(d);
}

static void test_origin(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'O');
    bw_u64(&w, 42);
    bw_str(&w, "node_a");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_ORIGIN);
    assert_int_equal(m.u.origin.lsn, 42);
    assert_string_equal(m.u.origin.name, "node_a");
    assert_prefixes_fail(d, &w);
    rt_cdc_decoder_free(d);
}

static void test_relation_and_alter(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w;
    rt_cdc_pg_msg_t m;
    build_relation(&w, 'd', 0);
    assert_prefixes_fail(d, &w);
    assert_null(rt_cdc_decoder_relation(d, RELID)); /* failed prefixes cached nothing */
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_RELATION);
    const rt_cdc_relation_t *rel = m.u.relation.rel;
    assert_ptr_equal(rel, rt_cdc_decoder_relation(d, RELID));
    assert_int_equal(rel->relid, RELID);
    assert_string_equal(rel->nspname, "public");
    assert_string_equal(rel->relname, "sessions");
    assert_string_equal(rel->qualified, "public.sessions");
    assert_int_equal(rel->replident, 'd');
    assert_int_equal(rel->ncols, 4);
    assert_string_equal(rel->cols[0].name, "id");
    assert_int_equal(rel->cols[0].flags, RT_CDC_COL_KEY);
    assert_int_equal(rel->cols[0].type_oid, RT_CDC_OID_INT4);
    assert_int_equal(rel->cols[0].typmod, -1);
    assert_string_equal(rel->cols[3].name, "note");
    assert_int_equal(rel->cols[3].flags, 0);

    /* ALTER TABLE ... ADD COLUMN, REPLICA IDENTITY FULL: replaced in place. */
    build_relation(&w, 'f', 1);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_ptr_equal(m.u.relation.rel, rel);
    assert_int_equal(rel->ncols, 5);
    assert_int_equal(rel->replident, 'f');
    assert_string_equal(rel->cols[4].name, "extra");
    assert_int_equal(rel->cols[4].type_oid, RT_CDC_OID_BOOL);
    assert_int_equal(rel->cols[2].flags, RT_CDC_COL_KEY);

    /* A broken Relation message leaves the entry as it was. */
    build_relation(&w, 'd', 0);
    w.len -= 3;
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);
    assert_int_equal(rel->ncols, 5);
    assert_string_equal(rel->cols[4].name, "extra");

    rt_cdc_decoder_reset(d);
    assert_null(rt_cdc_decoder_relation(d, RELID));
    rt_cdc_decoder_free(d);
}

static void test_relation_catalog_namespace(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'R');
    bw_u32(&w, 99);
    bw_str(&w, "");
    bw_str(&w, "t");
    bw_u8(&w, 'n');
    bw_u16(&w, 0);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_string_equal(m.u.relation.rel->nspname, "pg_catalog");
    assert_string_equal(m.u.relation.rel->qualified, "pg_catalog.t");
    assert_int_equal(m.u.relation.rel->ncols, 0);
    rt_cdc_decoder_free(d);
}

static void test_relation_malformed(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w;
    rt_cdc_pg_msg_t m;
    build_relation(&w, 'x', 0); /* no such replica identity */
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);

    memset(&w, 0, sizeof(w)); /* a name that is not UTF-8 */
    bw_u8(&w, 'R');
    bw_u32(&w, 7);
    bw_str(&w, "public");
    bw_str(&w, "bad\xff");
    bw_u8(&w, 'd');
    bw_u16(&w, 0);
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);

    memset(&w, 0, sizeof(w)); /* more columns than PostgreSQL allows */
    bw_u8(&w, 'R');
    bw_u32(&w, 7);
    bw_str(&w, "public");
    bw_str(&w, "t");
    bw_u8(&w, 'd');
    bw_u16(&w, RT_CDC_MAX_COLUMNS + 1);
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);

    memset(&w, 0, sizeof(w)); /* a column name over the cap */
    char longname[RT_CDC_NAME_MAX_BYTES + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    bw_u8(&w, 'R');
    bw_u32(&w, 7);
    bw_str(&w, "public");
    bw_str(&w, "t");
    bw_u8(&w, 'd');
    bw_u16(&w, 1);
    bw_col(&w, 0, longname, 25);
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);
    assert_null(rt_cdc_decoder_relation(d, 7));
    rt_cdc_decoder_free(d);
}

static void test_type_resolution(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    /* A domain over int4: the base type is sent, in pg_catalog (""). */
    bw_u8(&w, 'Y');
    bw_u32(&w, 16400);
    bw_str(&w, "");
    bw_str(&w, "int4");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_TYPE);
    assert_int_equal(m.u.type.oid, 16400);
    assert_string_equal(m.u.type.nspname, "pg_catalog");
    assert_string_equal(m.u.type.name, "int4");
    assert_int_equal(rt_cdc_decoder_type_resolve(d, 16400), RT_CDC_OID_INT4);
    assert_prefixes_fail(d, &w);

    memset(&w, 0, sizeof(w)); /* an enum and its array type */
    bw_u8(&w, 'Y');
    bw_u32(&w, OID_MOOD);
    bw_str(&w, "public");
    bw_str(&w, "mood");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(rt_cdc_decoder_type_resolve(d, OID_MOOD), OID_MOOD);
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'Y');
    bw_u32(&w, OID_MOOD + 1);
    bw_str(&w, "public");
    bw_str(&w, "_mood");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(rt_cdc_decoder_type_resolve(d, OID_MOOD + 1), RT_CDC_OID_TEXT_ARRAY);

    /* A user type named like a built-in outside pg_catalog is not one. */
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'Y');
    bw_u32(&w, 16500);
    bw_str(&w, "public");
    bw_str(&w, "int4");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(rt_cdc_decoder_type_resolve(d, 16500), 16500);
    assert_int_equal(rt_cdc_decoder_type_resolve(d, RT_CDC_OID_TEXT), RT_CDC_OID_TEXT);
    assert_int_equal(rt_cdc_decoder_type_resolve(d, 99999), 99999);
    rt_cdc_decoder_free(d);
}

static void test_insert(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    prime(d, 'd');
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'I');
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    build_tuple(&w, "7", NULL);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_INSERT);
    assert_ptr_equal(m.u.change.rel, rt_cdc_decoder_relation(d, RELID));
    assert_int_equal(m.u.change.old_tuple.kind, 0);
    const rt_cdc_tuple_t *t = &m.u.change.new_tuple;
    assert_int_equal(t->kind, 'N');
    assert_int_equal(t->ncols, 4);
    assert_int_equal(t->cols[0].kind, 't');
    assert_int_equal(t->cols[0].len, 1);
    assert_memory_equal(t->cols[0].data, "7", 1);
    assert_int_equal(t->cols[1].kind, 'n');
    assert_int_equal(t->cols[2].len, 5);
    assert_memory_equal(t->cols[2].data, "12.50", 5);
    assert_int_equal(t->cols[3].kind, 'u');
    /* The values point into the message buffer. */
    assert_true((const uint8_t *)t->cols[0].data > last_buf &&
                (const uint8_t *)t->cols[0].data < last_buf + w.len);

    json_t *unchanged = NULL;
    json_t *row = rt_cdc_pg_row_to_json(d, m.u.change.rel, t, &unchanged);
    json_t *want = json_pack("{s:i, s:n, s:s}", "id", 7, "status", "amount", "12.50");
    assert_true(json_equal(row, want));
    assert_int_equal(json_array_size(unchanged), 1);
    assert_string_equal(json_string_value(json_array_get(unchanged, 0)), "note");
    json_decref(row);
    json_decref(want);
    json_decref(unchanged);
    assert_prefixes_fail(d, &w);

    /* An Insert may not carry an old tuple. */
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'I');
    bw_u32(&w, RELID);
    bw_u8(&w, 'K');
    build_key_tuple(&w, "7");
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);
    rt_cdc_decoder_free(d);
}

static void test_update_forms(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    prime(d, 'd');
    bw_t w = {0};
    rt_cdc_pg_msg_t m;

    /* No old tuple: the key did not change (REPLICA IDENTITY DEFAULT). */
    bw_u8(&w, 'U');
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    build_tuple(&w, "7", "active");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_UPDATE);
    assert_int_equal(m.u.change.old_tuple.kind, 0);
    assert_int_equal(m.u.change.new_tuple.kind, 'N');
    assert_prefixes_fail(d, &w);

    /* 'K': the key changed; only key columns reach the old row. */
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'U');
    bw_u32(&w, RELID);
    bw_u8(&w, 'K');
    build_key_tuple(&w, "6");
    bw_u8(&w, 'N');
    build_tuple(&w, "7", "active");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.u.change.old_tuple.kind, 'K');
    assert_memory_equal(m.u.change.old_tuple.cols[0].data, "6", 1);
    assert_memory_equal(m.u.change.new_tuple.cols[0].data, "7", 1);
    json_t *old = rt_cdc_pg_row_to_json(d, m.u.change.rel, &m.u.change.old_tuple, NULL);
    json_t *want = json_pack("{s:i}", "id", 6);
    assert_true(json_equal(old, want));
    json_decref(old);
    json_decref(want);
    assert_prefixes_fail(d, &w);

    /* 'O': the whole old row (REPLICA IDENTITY FULL). */
    prime(d, 'f');
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'U');
    bw_u32(&w, RELID);
    bw_u8(&w, 'O');
    build_tuple(&w, "7", "pending");
    bw_u8(&w, 'N');
    build_tuple(&w, "7", "active");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.u.change.old_tuple.kind, 'O');
    assert_memory_equal(m.u.change.old_tuple.cols[1].data, "pending", 7);
    assert_memory_equal(m.u.change.new_tuple.cols[1].data, "active", 6);
    assert_prefixes_fail(d, &w);

    /* An old tuple must be followed by 'N'. */
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'U');
    bw_u32(&w, RELID);
    bw_u8(&w, 'O');
    build_tuple(&w, "7", "pending");
    bw_u8(&w, 'O');
    build_tuple(&w, "7", "active");
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);
    rt_cdc_decoder_free(d);
}

static void test_delete(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    prime(d, 'd');
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'D');
    bw_u32(&w, RELID);
    bw_u8(&w, 'K');
    build_key_tuple(&w, "7");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_DELETE);
    assert_int_equal(m.u.change.old_tuple.kind, 'K');
    assert_int_equal(m.u.change.new_tuple.kind, 0);
    assert_prefixes_fail(d, &w);

    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'D');
    bw_u32(&w, RELID);
    bw_u8(&w, 'O');
    build_tuple(&w, "7", "done");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.u.change.old_tuple.kind, 'O');
    assert_prefixes_fail(d, &w);

    memset(&w, 0, sizeof(w)); /* a Delete has no new tuple */
    bw_u8(&w, 'D');
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    build_tuple(&w, "7", "done");
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);
    rt_cdc_decoder_free(d);
}

static void test_change_errors(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'I');
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    build_tuple(&w, "7", "x");
    assert_int_equal(decode(d, &w, &m), RT_EPROTO); /* no Relation message yet */

    prime(d, 'd');
    memset(&w, 0, sizeof(w)); /* three columns for a four-column relation */
    bw_u8(&w, 'I');
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    bw_u16(&w, 3);
    bw_text(&w, "1");
    bw_text(&w, "2");
    bw_text(&w, "3");
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);

    memset(&w, 0, sizeof(w)); /* an unknown column kind */
    bw_u8(&w, 'I');
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    bw_u16(&w, 4);
    bw_text(&w, "1");
    bw_u8(&w, 'x');
    bw_u8(&w, 'n');
    bw_u8(&w, 'n');
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);

    memset(&w, 0, sizeof(w)); /* a length beyond the message */
    bw_u8(&w, 'I');
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    bw_u16(&w, 4);
    bw_u8(&w, 't');
    bw_u32(&w, 0x7fffffff);
    bw_bytes(&w, "1234", 4);
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);

    memset(&w, 0, sizeof(w)); /* a binary value is kept as bytes */
    bw_u8(&w, 'I');
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    bw_u16(&w, 4);
    bw_u8(&w, 'b');
    bw_u32(&w, 4);
    bw_bytes(&w, "\0\0\0\x07", 4);
    bw_u8(&w, 'n');
    bw_u8(&w, 'n');
    bw_u8(&w, 'n');
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.u.change.new_tuple.cols[0].kind, 'b');
    assert_int_equal(m.u.change.new_tuple.cols[0].len, 4);
    rt_cdc_decoder_free(d);
}

static void test_truncate(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'T');
    bw_u32(&w, 2);
    bw_u8(&w, RT_CDC_TRUNCATE_CASCADE | RT_CDC_TRUNCATE_RESTART_IDENTITY);
    bw_u32(&w, RELID);
    bw_u32(&w, 0x80000001u);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_TRUNCATE);
    assert_int_equal(m.u.truncate.nrels, 2);
    assert_int_equal(m.u.truncate.options, 3);
    assert_int_equal(rt_cdc_pg_truncate_relid(&m, 0), RELID);
    assert_int_equal(rt_cdc_pg_truncate_relid(&m, 1), 0x80000001u);
    assert_prefixes_fail(d, &w);

    memset(&w, 0, sizeof(w)); /* a count far beyond the message */
    bw_u8(&w, 'T');
    bw_u32(&w, 0xffffffffu);
    bw_u8(&w, 0);
    bw_u32(&w, RELID);
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);
    rt_cdc_decoder_free(d);
}

static void test_message(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'M');
    bw_u8(&w, RT_CDC_MESSAGE_TRANSACTIONAL);
    bw_u64(&w, 0x100);
    bw_str(&w, "realtime.heartbeat");
    bw_u32(&w, 3);
    bw_bytes(&w, "a\0b", 3);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_MESSAGE);
    assert_int_equal(m.u.message.flags, 1);
    assert_int_equal(m.u.message.lsn, 0x100);
    assert_string_equal(m.u.message.prefix, "realtime.heartbeat");
    assert_int_equal(m.u.message.len, 3);
    assert_memory_equal(m.u.message.content, "a\0b", 3);
    assert_prefixes_fail(d, &w);
    rt_cdc_decoder_free(d);
}

static void test_streaming(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(2);
    prime(d, 'd');
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'S');
    bw_u32(&w, 900);
    bw_u8(&w, 1);
    assert_prefixes_fail(d, &w);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_STREAM_START);
    assert_int_equal(m.xid, 900);
    assert_int_equal(m.u.stream_start.first_segment, 1);
    assert_int_equal(decode(d, &w, &m), RT_EPROTO); /* no nested stream */

    /* Inside the block a change carries the xid first. */
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'I');
    bw_u32(&w, 900);
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    build_tuple(&w, "1", "a");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_INSERT);
    assert_int_equal(m.streamed, 1);
    assert_int_equal(m.xid, 900);
    assert_prefixes_fail(d, &w);

    /* Relation and Message messages carry it too */
    bw_t rel;
    build_relation(&rel, 'f', 1);
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'R');
    bw_u32(&w, 900);
    bw_bytes(&w, rel.buf + 1, rel.len - 1);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_RELATION);
    assert_int_equal(m.u.relation.rel->ncols, 5);
    assert_int_equal(m.xid, 900);
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'M');
    bw_u32(&w, 900);
    bw_u8(&w, 1);
    bw_u64(&w, 7);
    bw_str(&w, "p");
    bw_u32(&w, 0);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_MESSAGE);
    assert_int_equal(m.streamed, 1);
    assert_int_equal(m.u.message.len, 0);

    memset(&w, 0, sizeof(w)); /* no Begin inside a stream block */
    bw_u8(&w, 'B');
    bw_u64(&w, 1);
    bw_u64(&w, 1);
    bw_u32(&w, 1);
    assert_int_equal(decode(d, &w, &m), RT_EPROTO);

    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'E');
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_STREAM_STOP);
    assert_int_equal(decode(d, &w, &m), RT_EPROTO); /* not in a stream any more */

    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'c');
    bw_u32(&w, 900);
    bw_u8(&w, 0);
    bw_u64(&w, 0x200);
    bw_u64(&w, 0x230);
    bw_u64(&w, 5);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_STREAM_COMMIT);
    assert_int_equal(m.xid, 900);
    assert_int_equal(m.u.commit.end_lsn, 0x230);
    assert_prefixes_fail(d, &w);

    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'A');
    bw_u32(&w, 901);
    bw_u32(&w, 902);
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.type, RT_CDC_MSG_STREAM_ABORT);
    assert_int_equal(m.xid, 901);
    assert_int_equal(m.u.stream_abort.subxid, 902);
    assert_prefixes_fail(d, &w);

    /* Outside a block the same Insert without xid decodes normally. */
    prime(d, 'd'); /* back to four columns */
    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'I');
    bw_u32(&w, RELID);
    bw_u8(&w, 'N');
    build_tuple(&w, "1", "a");
    assert_int_equal(decode(d, &w, &m), 0);
    assert_int_equal(m.streamed, 0);
    rt_cdc_decoder_free(d);
}

static void test_unsupported_and_unknown(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    bw_t w = {0};
    rt_cdc_pg_msg_t m;
    bw_u8(&w, 'S'); /* streaming needs protocol 2 */
    bw_u32(&w, 1);
    bw_u8(&w, 1);
    assert_int_equal(decode(d, &w, &m), RT_EVERSION);
    const char two_phase[] = {'b', 'P', 'K', 'r', 'p'};
    for (size_t i = 0; i < sizeof(two_phase); i++) {
        memset(&w, 0, sizeof(w));
        bw_u8(&w, (uint8_t)two_phase[i]);
        bw_u64(&w, 1);
        assert_int_equal(decode(d, &w, &m), RT_EVERSION);
    }
    const char unknown[] = {'Z', 'w', 0, 'x'};
    for (size_t i = 0; i < sizeof(unknown); i++) {
        memset(&w, 0, sizeof(w));
        bw_u8(&w, (uint8_t)unknown[i]);
        bw_u64(&w, 1);
        assert_int_equal(decode(d, &w, &m), RT_EPROTO);
    }
    assert_int_equal(rt_cdc_pg_decode(d, "", 0, &m), RT_EPROTO);
    rt_cdc_decoder_free(d);
}

static void test_relation_cache_limit(void **state)
{
    (void)state;
    rt_cdc_decoder_t *d = new_decoder(1);
    rt_cdc_pg_msg_t m;
    for (uint32_t i = 0; i <= RT_CDC_MAX_RELATIONS; i++) {
        bw_t w = {0};
        bw_u8(&w, 'R');
        bw_u32(&w, 20000 + i);
        bw_str(&w, "s");
        bw_str(&w, "t");
        bw_u8(&w, 'd');
        bw_u16(&w, 0);
        int rc = rt_cdc_pg_decode(d, w.buf, w.len, &m);
        assert_int_equal(rc, i < RT_CDC_MAX_RELATIONS ? 0 : RT_ELIMIT);
    }
    rt_cdc_decoder_free(d);
}

static void test_lsn(void **state)
{
    (void)state;
    uint64_t v = 0;
    char buf[RT_CDC_LSN_STR_MAX_BYTES];
    assert_int_equal(rt_cdc_lsn_parse("16/B374D848", 11, &v), 0);
    assert_int_equal(v, 0x16B374D848ull);
    rt_cdc_lsn_format(v, buf);
    assert_string_equal(buf, "16/B374D848");
    assert_int_equal(rt_cdc_lsn_parse("0/16b3748", 9, &v), 0);
    rt_cdc_lsn_format(v, buf);
    assert_string_equal(buf, "0/16B3748");
    rt_cdc_lsn_format(0, buf);
    assert_string_equal(buf, "0/0");
    rt_cdc_lsn_format(UINT64_MAX, buf);
    assert_string_equal(buf, "FFFFFFFF/FFFFFFFF");
    assert_int_equal(rt_cdc_lsn_parse(buf, strlen(buf), &v), 0);
    assert_int_equal(v, UINT64_MAX);
    const char *bad[] = {"",     "/",    "1/",   "/1",    "123456789/0", "0/123456789", "g/0",
                         "0/0 ", " 0/0", "0//0", "0/0/0", "+1/0",        "00"};
    v = 7;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rt_cdc_lsn_parse(bad[i], strlen(bad[i]), &v), RT_EINVAL);
    assert_int_equal(v, 7);                                      /* untouched on error */
    assert_int_equal(rt_cdc_lsn_parse("1/2", 2, &v), RT_EINVAL); /* exactly len bytes */
}

static void test_copy_framing(void **state)
{
    (void)state;
    bw_t w = {0};
    rt_cdc_copy_msg_t c;
    bw_u8(&w, 'w');
    bw_u64(&w, 0x10);
    bw_u64(&w, 0x20);
    bw_u64(&w, 12345);
    bw_bytes(&w, "B....", 5);
    uint8_t *p = bw_dup(&w);
    assert_int_equal(rt_cdc_copy_parse(p, w.len, &c), 0);
    assert_int_equal(c.type, 'w');
    assert_int_equal(c.wal_start, 0x10);
    assert_int_equal(c.wal_end, 0x20);
    assert_int_equal(c.send_time_us, 12345);
    assert_ptr_equal(c.data, p + RT_CDC_XLOGDATA_HEADER_BYTES);
    assert_int_equal(c.len, 5);
    for (size_t k = 0; k < RT_CDC_XLOGDATA_HEADER_BYTES; k++)
        assert_int_equal(rt_cdc_copy_parse(p, k, &c), RT_EPROTO);
    free(p);

    memset(&w, 0, sizeof(w));
    bw_u8(&w, 'k');
    bw_u64(&w, 0x30);
    bw_u64(&w, 99);
    bw_u8(&w, 1);
    assert_int_equal(w.len, RT_CDC_KEEPALIVE_BYTES);
    p = bw_dup(&w);
    assert_int_equal(rt_cdc_copy_parse(p, w.len, &c), 0);
    assert_int_equal(c.type, 'k');
    assert_int_equal(c.wal_end, 0x30);
    assert_int_equal(c.reply_requested, 1);
    for (size_t k = 0; k < w.len; k++)
        assert_int_equal(rt_cdc_copy_parse(p, k, &c), RT_EPROTO);
    free(p);
    assert_int_equal(rt_cdc_copy_parse("x", 1, &c), RT_ENOENT);

    uint8_t out[RT_CDC_STANDBY_STATUS_BYTES];
    rt_cdc_standby_status_encode(0x0102030405060708ull, 0x10, 0x11, -2, 1, out);
    const uint8_t want[RT_CDC_STANDBY_STATUS_BYTES] = {
        'r', 1, 2, 3, 4, 5, 6, 7,    8,    0,    0,    0,    0,    0,    0,    0,    0x10,
        0,   0, 0, 0, 0, 0, 0, 0x11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 1};
    assert_memory_equal(out, want, sizeof(want));
}

static void test_pg_time(void **state)
{
    (void)state;
    assert_int_equal(rt_cdc_pg_time_to_unix_ms(0), 946684800000ll);
    assert_int_equal(rt_cdc_pg_time_to_unix_ms(1999), 946684800001ll);
    assert_int_equal(rt_cdc_pg_time_to_unix_ms(-1), 946684799999ll);
    assert_int_equal(rt_cdc_pg_time_from_unix_ms(946684800001ll), 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_decoder_versions, teardown),
        cmocka_unit_test_teardown(test_begin_commit, teardown),
        cmocka_unit_test_teardown(test_origin, teardown),
        cmocka_unit_test_teardown(test_relation_and_alter, teardown),
        cmocka_unit_test_teardown(test_relation_catalog_namespace, teardown),
        cmocka_unit_test_teardown(test_relation_malformed, teardown),
        cmocka_unit_test_teardown(test_type_resolution, teardown),
        cmocka_unit_test_teardown(test_insert, teardown),
        cmocka_unit_test_teardown(test_update_forms, teardown),
        cmocka_unit_test_teardown(test_delete, teardown),
        cmocka_unit_test_teardown(test_change_errors, teardown),
        cmocka_unit_test_teardown(test_truncate, teardown),
        cmocka_unit_test_teardown(test_message, teardown),
        cmocka_unit_test_teardown(test_streaming, teardown),
        cmocka_unit_test_teardown(test_unsupported_and_unknown, teardown),
        cmocka_unit_test_teardown(test_relation_cache_limit, teardown),
        cmocka_unit_test_teardown(test_lsn, teardown),
        cmocka_unit_test_teardown(test_copy_framing, teardown),
        cmocka_unit_test_teardown(test_pg_time, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
