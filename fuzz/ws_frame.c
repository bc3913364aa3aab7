/*
 * This file implements the libFuzzer target of the WebSocket frame decoder
 * (src/net/ws_codec.c). The first input byte picks the mode: bit 0 the
 * require_mask setting, bits 1-3 a small max_message_bytes, bit 4 whether
 * the rest is fed raw or first turned into well-formed frame headers (so the
 * fuzzer reaches fragmentation and UTF-8 with valid masking); the second
 * byte seeds the piece sizes. The stream is decoded twice, whole and in
 * random pieces the way the connection code feeds it, and both runs must
 * give the same messages and the same end. Invariants: consumed <= len,
 * data messages <= max_message_bytes, control frames <= 125 bytes, text
 * and close reasons valid UTF-8, errors sticky with codes 1002/1007/1009.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws_codec.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static const size_t max_sizes[8] = {1, 2, 7, 16, 125, 126, 300, 1000};

typedef struct {
    uint64_t hash;  /* of every message, in order */
    size_t count;   /* messages */
    int rc;         /* the last result */
    uint16_t code;  /* close code when rc is RT_EPROTO */
    size_t pending; /* bytes left with the caller */
} outcome_t;

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

static void check_msg(const rt_ws_msg_t *m, size_t max)
{
    CHECK(m->data != NULL);
    switch (m->opcode) {
    case RT_WS_OP_TEXT:
        CHECK(m->len <= max && rt_utf8_valid((const char *)m->data, m->len));
        break;
    case RT_WS_OP_BINARY:
        CHECK(m->len <= max);
        break;
    case RT_WS_OP_CLOSE:
        CHECK(m->len != 1 && m->len <= RT_WS_MAX_CONTROL_BYTES);
        CHECK(m->len == 0 || rt_utf8_valid((const char *)m->data + 2, m->len - 2));
        break;
    case RT_WS_OP_PING:
    case RT_WS_OP_PONG:
        CHECK(m->len <= RT_WS_MAX_CONTROL_BYTES);
        break;
    default:
        abort();
    }
}

/* Decodes buf[0..*have) until it needs more; keeps what is left. */
static void drain(rt_ws_decoder_t *d, uint8_t *buf, size_t *have, outcome_t *o)
{
    for (;;) {
        rt_ws_msg_t m;
        size_t used = SIZE_MAX;
        o->rc = rt_ws_decode(d, buf, *have, &used, &m, &o->code);
        if (o->rc == RT_EPROTO) {
            uint16_t again = 0;
            CHECK(o->code == 1002 || o->code == 1007 || o->code == 1009);
            CHECK(rt_ws_decode(d, buf, *have, &used, &m, &again) == RT_EPROTO);
            CHECK(again == o->code && d->asm_data == NULL);
            return;
        }
        CHECK(o->rc == 0 || o->rc == RT_EAGAIN);
        CHECK(used <= *have && d->asm_len <= d->max_message_bytes);
        CHECK(d->asm_cap <= d->max_message_bytes);
        if (o->rc == 0) {
            CHECK(used > 0);
            check_msg(&m, d->max_message_bytes);
            o->hash = mix(o->hash, &m.opcode, 1);
            o->hash = mix(o->hash, m.data, m.len);
            o->count++;
        }
        memmove(buf, buf + used, *have - used);
        *have -= used;
        if (o->rc == RT_EAGAIN)
            return;
    }
}

/* Feeds stream[0..len) in pieces of 1..(seed-driven) bytes, or whole when
 * seed is 0. */
static void run(const uint8_t *stream, size_t len, int require_mask, size_t max, uint32_t seed,
                outcome_t *o)
{
    rt_ws_decoder_t d;
    uint8_t *buf = malloc(len + 1);
    size_t have = 0, off = 0;
    memset(o, 0, sizeof(*o));
    o->rc = RT_EAGAIN;
    rt_ws_decoder_init(&d, max, require_mask);
    while (o->rc != RT_EPROTO) {
        size_t take = len - off;
        if (seed != 0) {
            seed = seed * 1103515245u + 12345u;
            take = RT_MIN(take, 1 + (seed >> 16) % 40);
        }
        memcpy(buf + have, stream + off, take);
        have += take;
        off += take;
        drain(&d, buf, &have, o);
        if (off == len)
            break;
    }
    o->pending = o->rc == RT_EPROTO ? 0 : have;
    rt_ws_decoder_close(&d);
    free(buf);
}

/*
 * Turns records [flags byte][length byte][payload...] into frames with that
 * first byte, a minimal-length header, masked when require_mask. Returns the
 * stream length; out has room for 14 + 2 bytes per input byte.
 */
static size_t build_frames(const uint8_t *in, size_t n, int require_mask, uint8_t *out)
{
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    size_t i = 0, o = 0;
    while (n - i >= 2) {
        uint8_t b0 = in[i];
        size_t plen = RT_MIN((size_t)in[i + 1], n - i - 2);
        const uint8_t *p = in + i + 2;
        i += 2 + plen;
        size_t h = require_mask ? rt_ws_client_frame_header(out + o, b0 & 0x0f, b0 >> 7, plen, key)
                                : rt_ws_frame_header(out + o, b0 & 0x0f, plen);
        out[o] = b0; /* keep the fuzzer's FIN and RSV bits */
        memcpy(out + o + h, p, plen);
        if (require_mask)
            rt_ws_mask(out + o + h, plen, key, 0);
        o += h + plen;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int require_mask = data[0] & 1;
    size_t max = max_sizes[(data[0] >> 1) & 7];
    uint32_t seed = data[1] | 1u;
    const uint8_t *rest = data + 2;
    size_t n = size - 2;
    uint8_t *framed = NULL;
    if (data[0] & 0x10) {
        framed = malloc(RT_WS_MAX_HEADER_BYTES * (n / 2 + 1) + n);
        n = build_frames(rest, n, require_mask, framed);
        rest = framed;
    }
    outcome_t whole, split;
    run(rest, n, require_mask, max, 0, &whole);
    run(rest, n, require_mask, max, seed, &split);
    CHECK(whole.hash == split.hash && whole.count == split.count);
    CHECK(whole.rc == split.rc && whole.pending == split.pending);
    CHECK(whole.rc != RT_EPROTO || whole.code == split.code);
    free(framed);
    return 0;
}
