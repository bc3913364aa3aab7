/*
 * This file implements the libFuzzer target of the Engine.IO v4 decoders
 * (src/gateway/eio_codec.c). The input is tried as a WebSocket text and
 * binary frame, as a request query, and as a long-polling POST body; a body
 * that decodes must encode to a body that decodes to the same packets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/eio_codec.h"

/* Checks that two decoded payloads hold the same packets. */
static void same_packets(const rt_eio_payload_t *a, const rt_eio_payload_t *b)
{
    if (a->count != b->count)
        abort();
    for (size_t i = 0; i < a->count; i++) {
        const rt_eio_packet_t *x = &a->packets[i];
        const rt_eio_packet_t *y = &b->packets[i];
        if (x->type != y->type || x->binary != y->binary || x->len != y->len ||
            memcmp(x->data, y->data, x->len) != 0)
            abort();
    }
}

static void fuzz_payload(const char *s, size_t n)
{
    rt_eio_payload_t *p;
    if (rt_eio_payload_decode(s, n, n, &p) != 0)
        return;
    rt_buf_t body;
    rt_buf_init(&body);
    rt_eio_payload_encode(&body, p->packets, p->count);
    rt_eio_payload_t *again;
    if (rt_eio_payload_decode(body.data, body.len, body.len, &again) != 0)
        abort();
    same_packets(p, again);
    rt_eio_payload_free(again);
    rt_buf_close(&body);
    rt_eio_payload_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    rt_eio_packet_t pkt;
    if (rt_eio_packet_decode(s, size, 0, &pkt) == 0 && pkt.len != size - 1)
        abort();
    if (rt_eio_packet_decode(s, size, 1, &pkt) != 0 || pkt.len != size)
        abort();

    rt_eio_query_t q;
    rt_eio_error_t err;
    if (rt_eio_parse_query(s, size, &q, &err) == 0 && q.sid_len > RT_EIO_SID_MAX_BYTES)
        abort();

    fuzz_payload(s, size);
    return 0;
}
