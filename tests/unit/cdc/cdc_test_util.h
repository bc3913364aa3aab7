/*
 * cdc_test_util.h - a byte writer that builds pgoutput messages the way
 * PostgreSQL's proto.c writes them (big-endian integers, NUL-terminated
 * strings), shared by the cdc unit tests.
 */
#ifndef RT_CDC_TEST_UTIL_H
#define RT_CDC_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BW_CAP 4096

typedef struct {
    uint8_t buf[BW_CAP];
    size_t len;
} bw_t;

static inline void bw_u8(bw_t *w, uint8_t v)
{
    if (w->len < BW_CAP)
        w->buf[w->len++] = v;
}

static inline void bw_u16(bw_t *w, uint16_t v)
{
    bw_u8(w, (uint8_t)(v >> 8));
    bw_u8(w, (uint8_t)v);
}

static inline void bw_u32(bw_t *w, uint32_t v)
{
    bw_u16(w, (uint16_t)(v >> 16));
    bw_u16(w, (uint16_t)v);
}

static inline void bw_u64(bw_t *w, uint64_t v)
{
    bw_u32(w, (uint32_t)(v >> 32));
    bw_u32(w, (uint32_t)v);
}

static inline void bw_bytes(bw_t *w, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bw_u8(w, ((const uint8_t *)p)[i]);
}

/* A protocol String: the bytes and a NUL. */
static inline void bw_str(bw_t *w, const char *s)
{
    bw_bytes(w, s, strlen(s) + 1);
}

/* A TupleData column in text form: 't', Int32 length, bytes. */
static inline void bw_text(bw_t *w, const char *s)
{
    bw_u8(w, 't');
    bw_u32(w, (uint32_t)strlen(s));
    bw_bytes(w, s, strlen(s));
}

/* A Relation column: flags, name, type oid, typmod. */
static inline void bw_col(bw_t *w, uint8_t flags, const char *name, uint32_t oid)
{
    bw_u8(w, flags);
    bw_str(w, name);
    bw_u32(w, oid);
    bw_u32(w, 0xffffffffu);
}

/* A heap copy of exactly the written bytes, so that ASan sees any read past
 * the end of the message. Caller frees. */
static inline uint8_t *bw_dup(const bw_t *w)
{
    uint8_t *p = malloc(w->len ? w->len : 1);
    memcpy(p, w->buf, w->len);
    return p;
}

#endif
