/*
 * libFuzzer target for the pgoutput decoder and the value conversions
 * (src/cdc/pgoutput.c, src/cdc/pgvalue.c).
 *
 * Input: one selector byte, then records of [Int16 length][bytes]. Bit 0 of
 * the selector picks protocol version 1 or 2; each record is decoded as one
 * pgoutput message by one decoder, so earlier Relation and Type messages
 * prime the caches for later changes, whose rows are converted to JSON and
 * must serialize. With bit 1 set, each record is instead [Int32 type oid]
 * [text] for rt_cdc_pg_value_to_json. The whole input also goes through the
 * CopyData and LSN parsers. Every record is copied to an exactly-sized heap
 * buffer so that ASan catches any read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/cdc.h"

/* A row must serialize: this checks that every string is valid UTF-8. */
static void must_dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_ENCODE_ANY);
    if (!s)
        abort();
    free(s);
}

/* The old and new rows of a change, the new one completed from the old. */
static void rows(const rt_cdc_decoder_t *d, const rt_cdc_pg_msg_t *m)
{
    json_t *old = NULL, *row = NULL, *unchanged = NULL;
    if (m->u.change.old_tuple.kind)
        old = rt_cdc_pg_row_to_json(d, m->u.change.rel, &m->u.change.old_tuple, NULL);
    if (m->u.change.new_tuple.kind) {
        row = rt_cdc_pg_row_to_json(d, m->u.change.rel, &m->u.change.new_tuple, &unchanged);
        rt_cdc_row_fill_unchanged(row, old, unchanged);
        must_dump(row);
        must_dump(unchanged);
    }
    if (old)
        must_dump(old);
    json_decref(old);
    json_decref(row);
    json_decref(unchanged);
}

static void use(const rt_cdc_decoder_t *d, const rt_cdc_pg_msg_t *m)
{
    volatile uint32_t sink = 0;
    switch (m->type) {
    case RT_CDC_MSG_INSERT:
    case RT_CDC_MSG_UPDATE:
    case RT_CDC_MSG_DELETE:
        rows(d, m);
        break;
    case RT_CDC_MSG_TRUNCATE:
        for (uint32_t i = 0; i < m->u.truncate.nrels; i++)
            sink += rt_cdc_pg_truncate_relid(m, i);
        break;
    case RT_CDC_MSG_RELATION:
        for (uint16_t i = 0; i < m->u.relation.rel->ncols; i++)
            sink += (uint32_t)strlen(m->u.relation.rel->cols[i].name);
        sink += (uint32_t)strlen(m->u.relation.rel->qualified);
        break;
    default:
        break;
    }
    (void)sink;
}

static void value(const uint8_t *p, size_t n)
{
    if (n < 4)
        return;
    uint32_t oid = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    json_t *j = rt_cdc_pg_value_to_json(oid, (const char *)p + 4, n - 4);
    must_dump(j);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt_cdc_copy_msg_t cm;
    uint64_t lsn;
    (void)rt_cdc_copy_parse(data, size, &cm);
    (void)rt_cdc_lsn_parse((const char *)data, size, &lsn);
    if (size < 1)
        return 0;
    rt_cdc_decoder_t *d = NULL;
    if (rt_cdc_decoder_new(1 + (data[0] & 1), &d) != 0)
        abort();
    int values = data[0] & 2;
    size_t i = 1;
    while (i + 2 <= size) {
        size_t n = (size_t)data[i] << 8 | data[i + 1];
        i += 2;
        if (n > size - i)
            n = size - i;
        uint8_t *msg = malloc(n ? n : 1);
        memcpy(msg, data + i, n);
        rt_cdc_pg_msg_t m;
        if (values)
            value(msg, n);
        else if (rt_cdc_pg_decode(d, msg, n, &m) == 0)
            use(d, &m);
        free(msg);
        i += n;
    }
    rt_cdc_decoder_free(d);
    return 0;
}
