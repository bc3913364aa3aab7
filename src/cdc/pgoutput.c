/*
 * This file implements the pure half of PostgreSQL logical replication: the
 * CopyData framing of a START_REPLICATION stream (XLogData, keepalive,
 * standby status update), LSN text forms, and the pgoutput decoder with its
 * per-session relation and type caches. The byte layouts are those of the
 * PostgreSQL 15 documentation, "Logical Replication Message Formats"
 * (protocol-logicalrep-message-formats) and "Streaming Replication Protocol"
 * (protocol-replication); every read is bounds-checked against the message,
 * so a truncated or hostile message yields RT_EPROTO and nothing else.
 */
#include "cdc/cdc_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Oids below this are assigned at initdb (FirstNormalObjectId). */
#define FIRST_USER_OID 16384
#define MAP_KEY_BYTES  12

/* =============================================================== reader */

/* 1 if c is one of the bytes of set (never for NUL). */
static int in_set(const char *set, char c)
{
    return c != '\0' && strchr(set, c) != NULL;
}

/* A cursor over one message; off never exceeds len. */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t off;
} rd_t;

static int rd_u8(rd_t *r, uint8_t *v)
{
    if (r->len - r->off < 1)
        return RT_EPROTO;
    *v = r->p[r->off++];
    return 0;
}

static int rd_u16(rd_t *r, uint16_t *v)
{
    if (r->len - r->off < 2)
        return RT_EPROTO;
    const uint8_t *b = r->p + r->off;
    *v = (uint16_t)((unsigned)b[0] << 8 | b[1]);
    r->off += 2;
    return 0;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t be64(const uint8_t *b)
{
    return (uint64_t)be32(b) << 32 | be32(b + 4);
}

static int rd_u32(rd_t *r, uint32_t *v)
{
    if (r->len - r->off < 4)
        return RT_EPROTO;
    *v = be32(r->p + r->off);
    r->off += 4;
    return 0;
}

static int rd_u64(rd_t *r, uint64_t *v)
{
    if (r->len - r->off < 8)
        return RT_EPROTO;
    *v = be64(r->p + r->off);
    r->off += 8;
    return 0;
}

static int rd_i64(rd_t *r, int64_t *v)
{
    uint64_t u;
    if (rd_u64(r, &u) < 0)
        return RT_EPROTO;
    *v = (int64_t)u;
    return 0;
}

/* A protocol String: NUL-terminated inside the message. */
static int rd_str(rd_t *r, const char **s, size_t *n)
{
    const uint8_t *start = r->p + r->off;
    const uint8_t *nul = memchr(start, 0, r->len - r->off);
    if (!nul)
        return RT_EPROTO;
    *s = (const char *)start;
    *n = (size_t)(nul - start);
    r->off += *n + 1;
    return 0;
}

/* A String that is a name: bounded and valid UTF-8, so it can be a JSON key. */
static int rd_name(rd_t *r, const char **s, size_t *n)
{
    if (rd_str(r, s, n) < 0 || *n > RT_CDC_NAME_MAX_BYTES || !rt_utf8_valid(*s, *n))
        return RT_EPROTO;
    return 0;
}

static int rd_bytes(rd_t *r, size_t n, const uint8_t **p)
{
    if (r->len - r->off < n)
        return RT_EPROTO;
    *p = r->p + r->off;
    r->off += n;
    return 0;
}

/* ============================================================== framing */

int rt_cdc_copy_parse(const void *buf, size_t len, rt_cdc_copy_msg_t *out)
{
    rd_t r = {buf, len, 0};
    rt_cdc_copy_msg_t m;
    uint8_t type;
    memset(&m, 0, sizeof(m));
    if (rd_u8(&r, &type) < 0)
        return RT_EPROTO;
    m.type = (char)type;
    if (type == 'w') {
        /* XLogData: Int64 walStart, Int64 walEnd, Int64 sendTime, data */
        if (rd_u64(&r, &m.wal_start) < 0 || rd_u64(&r, &m.wal_end) < 0 ||
            rd_i64(&r, &m.send_time_us) < 0)
            return RT_EPROTO;
        m.data = r.p + r.off;
        m.len = r.len - r.off;
    } else if (type == 'k') {
        /* Primary keepalive: Int64 walEnd, Int64 sendTime, Byte1 replyRequested */
        uint8_t reply;
        if (rd_u64(&r, &m.wal_end) < 0 || rd_i64(&r, &m.send_time_us) < 0 ||
            rd_u8(&r, &reply) < 0 || r.off != r.len)
            return RT_EPROTO;
        m.reply_requested = reply != 0;
    } else {
        return RT_ENOENT;
    }
    *out = m;
    return 0;
}

static void put64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

void rt_cdc_standby_status_encode(uint64_t write, uint64_t flush, uint64_t apply, int64_t now_us,
                                  int reply_requested, uint8_t out[RT_CDC_STANDBY_STATUS_BYTES])
{
    /* Standby status update: 'r', Int64 write, flush, apply, clock, Byte1 reply */
    out[0] = 'r';
    put64(out + 1, write);
    put64(out + 9, flush);
    put64(out + 17, apply);
    put64(out + 25, (uint64_t)now_us);
    out[33] = reply_requested ? 1 : 0;
}

int64_t rt_cdc_pg_time_to_unix_ms(int64_t pg_us)
{
    int64_t ms = pg_us / 1000;
    if (pg_us % 1000 < 0)
        ms--;
    return ms + RT_CDC_PG_EPOCH_UNIX_MS;
}

int64_t rt_cdc_pg_time_from_unix_ms(int64_t unix_ms)
{
    return (unix_ms - RT_CDC_PG_EPOCH_UNIX_MS) * 1000;
}

/* ================================================================= LSNs */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses 1..8 hex digits of s[*i..n) up to stop (or the end). */
static int hex32(const char *s, size_t n, size_t *i, char stop, uint32_t *out)
{
    uint32_t v = 0;
    size_t digits = 0;
    while (*i < n && s[*i] != stop) {
        int h = hexval(s[*i]);
        if (h < 0 || ++digits > 8)
            return RT_EINVAL;
        v = v << 4 | (uint32_t)h;
        (*i)++;
    }
    if (digits == 0)
        return RT_EINVAL;
    *out = v;
    return 0;
}

int rt_cdc_lsn_parse(const char *s, size_t len, uint64_t *out)
{
    size_t i = 0;
    uint32_t hi, lo;
    if (hex32(s, len, &i, '/', &hi) < 0 || i >= len)
        return RT_EINVAL;
    i++; /* the '/' */
    if (hex32(s, len, &i, '\0', &lo) < 0 || i != len)
        return RT_EINVAL;
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}

void rt_cdc_lsn_format(uint64_t lsn, char out[RT_CDC_LSN_STR_MAX_BYTES])
{
    snprintf(out, RT_CDC_LSN_STR_MAX_BYTES, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32),
             (uint32_t)lsn);
}

/* ============================================================== caches */

/* A relation cache entry: the public view plus the storage it points into. */
typedef struct {
    rt_cdc_relation_t pub;
    char *strings;         /* nspname, relname, qualified, column names */
    rt_cdc_column_t *cols; /* pub.ncols entries */
} relentry_t;

/* What a Type message told us: the oid values of this type convert as. */
typedef struct {
    uint32_t resolved;
} typeentry_t;

/*
 * Invariants: rels maps decimal relids to relentry_t, types decimal oids to
 * typeentry_t; both own their values. in_stream is 1 between Stream Start and
 * Stream Stop. scratch holds 2 * scratch_cols datums: old tuple first half,
 * new tuple second half.
 */
struct rt_cdc_decoder_s {
    int proto;
    int in_stream;
    rt_map_t rels;
    rt_map_t types;
    rt_cdc_datum_t *scratch;
    size_t scratch_cols;
};

static void map_key(uint32_t id, char key[MAP_KEY_BYTES])
{
    snprintf(key, MAP_KEY_BYTES, "%" PRIu32, id);
}

int rt_cdc_decoder_new(int proto_version, rt_cdc_decoder_t **out)
{
    if (proto_version != 1 && proto_version != 2)
        return RT_EVERSION;
    rt_cdc_decoder_t *d = rt_calloc(1, sizeof(*d));
    d->proto = proto_version;
    rt_map_init(&d->rels);
    rt_map_init(&d->types);
    *out = d;
    return 0;
}

static void relentry_free(relentry_t *e)
{
    rt_free(e->strings);
    rt_free(e->cols);
    rt_free(e);
}

static void clear_caches(rt_cdc_decoder_t *d)
{
    size_t it = 0;
    const char *key;
    void *val;
    while (rt_map_next(&d->rels, &it, &key, &val))
        relentry_free(val);
    it = 0;
    while (rt_map_next(&d->types, &it, &key, &val))
        rt_free(val);
    rt_map_close(&d->rels);
    rt_map_close(&d->types);
    rt_map_init(&d->rels);
    rt_map_init(&d->types);
}

void rt_cdc_decoder_reset(rt_cdc_decoder_t *d)
{
    clear_caches(d);
    d->in_stream = 0;
}

void rt_cdc_decoder_free(rt_cdc_decoder_t *d)
{
    if (!d)
        return;
    clear_caches(d);
    rt_map_close(&d->rels);
    rt_map_close(&d->types);
    rt_free(d->scratch);
    rt_free(d);
}

const rt_cdc_relation_t *rt_cdc_decoder_relation(const rt_cdc_decoder_t *d, uint32_t relid)
{
    char key[MAP_KEY_BYTES];
    map_key(relid, key);
    relentry_t *e = rt_map_get(&d->rels, key);
    return e ? &e->pub : NULL;
}

uint32_t rt_cdc_decoder_type_resolve(const rt_cdc_decoder_t *d, uint32_t type_oid)
{
    if (type_oid < FIRST_USER_OID)
        return type_oid;
    char key[MAP_KEY_BYTES];
    map_key(type_oid, key);
    typeentry_t *t = rt_map_get(&d->types, key);
    return t ? t->resolved : type_oid;
}

uint32_t rt_cdc_pg_truncate_relid(const rt_cdc_pg_msg_t *m, uint32_t i)
{
    rt_assert(m->type == RT_CDC_MSG_TRUNCATE && i < m->u.truncate.nrels);
    return be32(m->u.truncate.relids + 4 * (size_t)i);
}

/* ============================================================ messages */

/* Begin: Int64 final_lsn, Int64 commit_ts, Int32 xid. */
static int dec_begin(rd_t *r, rt_cdc_pg_msg_t *m)
{
    if (rd_u64(r, &m->u.begin.final_lsn) < 0 || rd_i64(r, &m->u.begin.commit_time_us) < 0 ||
        rd_u32(r, &m->u.begin.xid) < 0)
        return RT_EPROTO;
    m->xid = m->u.begin.xid;
    return 0;
}

/* Commit (and Stream Commit after its xid): Int8 flags, Int64 commit_lsn,
 * Int64 end_lsn, Int64 commit_ts. */
static int dec_commit(rd_t *r, rt_cdc_pg_msg_t *m)
{
    if (rd_u8(r, &m->u.commit.flags) < 0 || rd_u64(r, &m->u.commit.commit_lsn) < 0 ||
        rd_u64(r, &m->u.commit.end_lsn) < 0 || rd_i64(r, &m->u.commit.commit_time_us) < 0)
        return RT_EPROTO;
    return 0;
}

/* Origin: Int64 commit LSN on the origin server, String name. */
static int dec_origin(rd_t *r, rt_cdc_pg_msg_t *m)
{
    size_t n;
    if (rd_u64(r, &m->u.origin.lsn) < 0 || rd_str(r, &m->u.origin.name, &n) < 0)
        return RT_EPROTO;
    return 0;
}

/* "Namespace: an empty string means pg_catalog" (logicalrep_read_namespace). */
static const char *nsp_or_catalog(const char *s)
{
    return s[0] ? s : "pg_catalog";
}

/* Type: Int32 oid, String namespace, String name (of the base type). */
static int dec_type(rt_cdc_decoder_t *d, rd_t *r, rt_cdc_pg_msg_t *m)
{
    size_t nn, tn;
    const char *nsp, *name;
    if (rd_u32(r, &m->u.type.oid) < 0 || rd_name(r, &nsp, &nn) < 0 || rd_name(r, &name, &tn) < 0 ||
        r->off != r->len)
        return RT_EPROTO;
    m->u.type.nspname = nsp_or_catalog(nsp);
    m->u.type.name = name;
    if (m->u.type.oid < FIRST_USER_OID)
        return 0;
    uint32_t resolved = m->u.type.oid;
    uint32_t builtin = nsp[0] ? 0 : rt_cdc_builtin_type_oid(name);
    if (builtin)
        resolved = builtin; /* a domain over a built-in type */
    else if (name[0] == '_')
        resolved = RT_CDC_OID_TEXT_ARRAY; /* an array of a user type */
    char key[MAP_KEY_BYTES];
    map_key(m->u.type.oid, key);
    typeentry_t *t = rt_map_get(&d->types, key);
    if (!t) {
        if (d->types.len >= RT_CDC_MAX_TYPES)
            return RT_ELIMIT;
        t = rt_malloc(sizeof(*t));
        rt_map_put(&d->types, key, t);
    }
    t->resolved = resolved;
    return 0;
}

/* The fixed head of a Relation message. */
typedef struct {
    uint32_t relid;
    const char *nsp; /* as sent: "" means pg_catalog */
    size_t nn;
    const char *name;
    size_t rn;
    uint8_t ident;
    uint16_t ncols;
} relhead_t;

/* Int32 relid, String namespace, String name, Int8 replica identity, Int16 ncols. */
static int rd_relhead(rd_t *r, relhead_t *h)
{
    if (rd_u32(r, &h->relid) < 0 || rd_name(r, &h->nsp, &h->nn) < 0 ||
        rd_name(r, &h->name, &h->rn) < 0 || rd_u8(r, &h->ident) < 0 || rd_u16(r, &h->ncols) < 0)
        return RT_EPROTO;
    if (!in_set("dnfi", (char)h->ident) || h->ncols > RT_CDC_MAX_COLUMNS)
        return RT_EPROTO;
    if (h->nn == 0) {
        h->nsp = "pg_catalog";
        h->nn = strlen(h->nsp);
    }
    return 0;
}

/* One column: Int8 flags, String name, Int32 type oid, Int32 typmod. */
static int rd_column(rd_t *r, rt_cdc_column_t *c, size_t *namelen)
{
    uint32_t typmod;
    if (rd_u8(r, &c->flags) < 0 || rd_name(r, &c->name, namelen) < 0 ||
        rd_u32(r, &c->type_oid) < 0 || rd_u32(r, &typmod) < 0)
        return RT_EPROTO;
    c->typmod = (int32_t)typmod;
    return 0;
}

/* Appends s (n bytes) and a NUL at *w; returns where it starts. */
static const char *pack(char **w, const char *s, size_t n)
{
    char *start = *w;
    memcpy(start, s, n);
    start[n] = '\0';
    *w += n + 1;
    return start;
}

/* Second pass over a Relation message that rd_relhead/rd_column accepted:
 * copies it into e (whose previous storage is already freed). */
static void build_relation(rd_t *r, relentry_t *e, size_t bytes)
{
    relhead_t h;
    int rc = rd_relhead(r, &h);
    rt_assert(rc == 0);
    e->strings = rt_malloc(bytes);
    e->cols = rt_calloc(h.ncols ? h.ncols : 1, sizeof(rt_cdc_column_t));
    char *w = e->strings;
    e->pub.relid = h.relid;
    e->pub.nspname = pack(&w, h.nsp, h.nn);
    e->pub.relname = pack(&w, h.name, h.rn);
    e->pub.qualified = w;
    memcpy(w, h.nsp, h.nn);
    w += h.nn;
    *w++ = '.';
    pack(&w, h.name, h.rn);
    e->pub.replident = (char)h.ident;
    e->pub.ncols = h.ncols;
    e->pub.cols = e->cols;
    for (uint16_t i = 0; i < h.ncols; i++) {
        size_t n;
        rc = rd_column(r, &e->cols[i], &n);
        rt_assert(rc == 0);
        e->cols[i].name = pack(&w, e->cols[i].name, n);
    }
    rt_assert((size_t)(w - e->strings) == bytes);
}

/* Relation: the head, then ncols columns. Validated whole before the cache is
 * touched, so a bad message leaves the previous entry in place. */
static int dec_relation(rt_cdc_decoder_t *d, rd_t *r, rt_cdc_pg_msg_t *m)
{
    size_t start = r->off;
    relhead_t h;
    if (rd_relhead(r, &h) < 0)
        return RT_EPROTO;
    size_t bytes = 2 * (h.nn + 1) + 2 * (h.rn + 1); /* nsp, name, "nsp.name" */
    for (uint16_t i = 0; i < h.ncols; i++) {
        rt_cdc_column_t c;
        size_t n;
        if (rd_column(r, &c, &n) < 0)
            return RT_EPROTO;
        bytes += n + 1;
    }
    if (r->off != r->len)
        return RT_EPROTO;

    char key[MAP_KEY_BYTES];
    map_key(h.relid, key);
    relentry_t *e = rt_map_get(&d->rels, key);
    if (!e && d->rels.len >= RT_CDC_MAX_RELATIONS)
        return RT_ELIMIT;
    if (e) {
        rt_free(e->strings);
        rt_free(e->cols);
    } else {
        e = rt_calloc(1, sizeof(*e));
        rt_map_put(&d->rels, key, e);
    }
    rd_t again = {r->p, r->len, start};
    build_relation(&again, e, bytes);
    m->u.relation.rel = &e->pub;
    return 0;
}

/* Makes room for two tuples of ncols columns in the scratch. */
static void scratch_reserve(rt_cdc_decoder_t *d, size_t ncols)
{
    if (ncols <= d->scratch_cols)
        return;
    rt_free(d->scratch);
    d->scratch = rt_malloc(2 * ncols * sizeof(rt_cdc_datum_t));
    d->scratch_cols = ncols;
}

/* TupleData: Int16 ncols, then per column Byte1 kind ('n', 'u', or 't'/'b'
 * with Int32 length and that many bytes). */
static int dec_tuple(rt_cdc_decoder_t *d, rd_t *r, const rt_cdc_relation_t *rel, char kind,
                     int slot, rt_cdc_tuple_t *t)
{
    uint16_t ncols;
    if (rd_u16(r, &ncols) < 0 || ncols != rel->ncols)
        return RT_EPROTO;
    rt_cdc_datum_t *cols = d->scratch + (size_t)slot * d->scratch_cols;
    for (uint16_t i = 0; i < ncols; i++) {
        uint8_t k;
        if (rd_u8(r, &k) < 0)
            return RT_EPROTO;
        cols[i].kind = (char)k;
        cols[i].len = 0;
        cols[i].data = NULL;
        if (k == 'n' || k == 'u')
            continue;
        if (k != 't' && k != 'b')
            return RT_EPROTO;
        const uint8_t *p;
        if (rd_u32(r, &cols[i].len) < 0 || rd_bytes(r, cols[i].len, &p) < 0)
            return RT_EPROTO;
        cols[i].data = (const char *)p;
    }
    t->kind = kind;
    t->ncols = ncols;
    t->cols = cols;
    return 0;
}

/* The Int32 relid that opens Insert, Update and Delete, resolved. */
static int dec_rel_ref(rt_cdc_decoder_t *d, rd_t *r, const rt_cdc_relation_t **rel)
{
    uint32_t relid;
    if (rd_u32(r, &relid) < 0)
        return RT_EPROTO;
    *rel = rt_cdc_decoder_relation(d, relid);
    if (!*rel)
        return RT_EPROTO;
    scratch_reserve(d, (*rel)->ncols ? (*rel)->ncols : 1);
    return 0;
}

/* Insert: Int32 relid, 'N', TupleData.
 * Update: Int32 relid, optional 'K' or 'O' TupleData, 'N', TupleData.
 * Delete: Int32 relid, 'K' or 'O', TupleData. */
static int dec_change(rt_cdc_decoder_t *d, rd_t *r, rt_cdc_pg_msg_t *m)
{
    const rt_cdc_relation_t *rel;
    uint8_t tag;
    if (dec_rel_ref(d, r, &rel) < 0 || rd_u8(r, &tag) < 0)
        return RT_EPROTO;
    m->u.change.rel = rel;
    if (tag == 'K' || tag == 'O') {
        if (m->type == RT_CDC_MSG_INSERT)
            return RT_EPROTO;
        if (dec_tuple(d, r, rel, (char)tag, 0, &m->u.change.old_tuple) < 0)
            return RT_EPROTO;
        if (m->type == RT_CDC_MSG_DELETE)
            return 0;
        if (rd_u8(r, &tag) < 0)
            return RT_EPROTO;
    }
    if (tag != 'N' || m->type == RT_CDC_MSG_DELETE)
        return RT_EPROTO;
    return dec_tuple(d, r, rel, 'N', 1, &m->u.change.new_tuple);
}

/* Truncate: Int32 nrels, Int8 options, nrels x Int32 relid. */
static int dec_truncate(rd_t *r, rt_cdc_pg_msg_t *m)
{
    if (rd_u32(r, &m->u.truncate.nrels) < 0 || rd_u8(r, &m->u.truncate.options) < 0)
        return RT_EPROTO;
    if (m->u.truncate.nrels > (r->len - r->off) / 4)
        return RT_EPROTO;
    return rd_bytes(r, 4 * (size_t)m->u.truncate.nrels, &m->u.truncate.relids);
}

/* Message: Int8 flags, Int64 lsn, String prefix, Int32 length, bytes. */
static int dec_message(rd_t *r, rt_cdc_pg_msg_t *m)
{
    size_t n;
    const uint8_t *p;
    if (rd_u8(r, &m->u.message.flags) < 0 || rd_u64(r, &m->u.message.lsn) < 0 ||
        rd_str(r, &m->u.message.prefix, &n) < 0 || rd_u32(r, &m->u.message.len) < 0 ||
        rd_bytes(r, m->u.message.len, &p) < 0)
        return RT_EPROTO;
    m->u.message.content = (const char *)p;
    return 0;
}

/* Stream Start: Int32 xid, Int8 first segment. Stream Stop: nothing.
 * Stream Commit: Int32 xid, then as Commit. Stream Abort: Int32 xid, Int32
 * subxid (protocol 2; protocol 4 adds abort LSN and time, not spoken here). */
static int dec_stream(rt_cdc_decoder_t *d, rd_t *r, rt_cdc_pg_msg_t *m)
{
    uint8_t first;
    switch (m->type) {
    case RT_CDC_MSG_STREAM_START:
        if (d->in_stream || rd_u32(r, &m->xid) < 0 || rd_u8(r, &first) < 0)
            return RT_EPROTO;
        m->u.stream_start.first_segment = first == 1;
        return 0;
    case RT_CDC_MSG_STREAM_STOP:
        return d->in_stream ? 0 : RT_EPROTO;
    case RT_CDC_MSG_STREAM_COMMIT:
        if (d->in_stream || rd_u32(r, &m->xid) < 0)
            return RT_EPROTO;
        return dec_commit(r, m);
    default: /* RT_CDC_MSG_STREAM_ABORT */
        if (d->in_stream || rd_u32(r, &m->xid) < 0 || rd_u32(r, &m->u.stream_abort.subxid) < 0)
            return RT_EPROTO;
        return 0;
    }
}

static int is_stream_control(char t)
{
    return t == RT_CDC_MSG_STREAM_START || t == RT_CDC_MSG_STREAM_STOP ||
           t == RT_CDC_MSG_STREAM_COMMIT || t == RT_CDC_MSG_STREAM_ABORT;
}

/* Messages that carry an Int32 xid first when sent inside a stream block. */
static int carries_stream_xid(char t)
{
    return in_set("RYIUDTM", t);
}

/* Two-phase commit messages of protocol 3 (PostgreSQL 15). */
static int is_two_phase(char t)
{
    return in_set("bPKrp", t);
}

static int dec_body(rt_cdc_decoder_t *d, rd_t *r, rt_cdc_pg_msg_t *m)
{
    switch (m->type) {
    case RT_CDC_MSG_BEGIN:
        return dec_begin(r, m);
    case RT_CDC_MSG_COMMIT:
        return dec_commit(r, m);
    case RT_CDC_MSG_ORIGIN:
        return dec_origin(r, m);
    case RT_CDC_MSG_RELATION:
        return dec_relation(d, r, m);
    case RT_CDC_MSG_TYPE:
        return dec_type(d, r, m);
    case RT_CDC_MSG_INSERT:
    case RT_CDC_MSG_UPDATE:
    case RT_CDC_MSG_DELETE:
        return dec_change(d, r, m);
    case RT_CDC_MSG_TRUNCATE:
        return dec_truncate(r, m);
    case RT_CDC_MSG_MESSAGE:
        return dec_message(r, m);
    default:
        return dec_stream(d, r, m);
    }
}

/* Sets the stream state after a successfully decoded stream control message. */
static void track_stream(rt_cdc_decoder_t *d, const rt_cdc_pg_msg_t *m)
{
    if (m->type == RT_CDC_MSG_STREAM_START)
        d->in_stream = 1;
    else if (m->type == RT_CDC_MSG_STREAM_STOP)
        d->in_stream = 0;
}

int rt_cdc_pg_decode(rt_cdc_decoder_t *d, const void *buf, size_t len, rt_cdc_pg_msg_t *out)
{
    rd_t r = {buf, len, 0};
    rt_cdc_pg_msg_t m;
    uint8_t type;
    memset(&m, 0, sizeof(m));
    if (rd_u8(&r, &type) < 0)
        return RT_EPROTO;
    m.type = (char)type;
    if (is_two_phase(m.type))
        return RT_EVERSION;
    if (is_stream_control(m.type) && d->proto < 2)
        return RT_EVERSION;
    if (!is_stream_control(m.type) && !in_set("BCORYIUDTM", m.type))
        return RT_EPROTO;
    if (!is_stream_control(m.type) && d->in_stream) {
        /* Inside a stream block only changes (with their xid) may come. */
        if (!carries_stream_xid(m.type) || rd_u32(&r, &m.xid) < 0)
            return RT_EPROTO;
        m.streamed = 1;
    }
    int rc = dec_body(d, &r, &m);
    if (rc < 0)
        return rc;
    if (r.off != r.len)
        return RT_EPROTO;
    track_stream(d, &m);
    *out = m;
    return 0;
}
