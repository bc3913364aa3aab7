/*
 * This file implements the libFuzzer target of the Socket.IO v5 decoder
 * (src/gateway/sio_codec.c) behind the Engine.IO one, as the gateway runs
 * them: the input is decoded as a Socket.IO packet, and as a long-polling
 * body whose text messages are decoded as Socket.IO packets. A packet that
 * decodes must encode to text that decodes to the same packet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/eio_codec.h"
#include "gateway/sio_codec.h"

static void same_packet(const rt_sio_packet_t *a, const rt_sio_packet_t *b)
{
    if (a->type != b->type || a->ack_id != b->ack_id || a->attachments != b->attachments)
        abort();
    if (a->nsp_len != b->nsp_len || memcmp(a->nsp, b->nsp, a->nsp_len) != 0)
        abort();
    if ((a->data == NULL) != (b->data == NULL))
        abort();
    if (a->data != NULL && !json_equal(a->data, b->data))
        abort();
}

static void fuzz_sio(const char *s, size_t n)
{
    rt_sio_packet_t p;
    if (rt_sio_packet_decode(s, n, &p) != 0)
        return;
    const char *name;
    size_t name_len;
    if (rt_sio_event_name(&p, &name, &name_len) == 0 && name == NULL)
        abort();
    rt_buf_t out;
    rt_buf_init(&out);
    rt_sio_packet_encode(&out, &p);
    rt_sio_packet_t again;
    if (out.data[0] != '4' || rt_sio_packet_decode(out.data + 1, out.len - 1, &again) != 0)
        abort();
    same_packet(&p, &again);
    rt_sio_packet_close(&again);
    rt_buf_close(&out);
    rt_sio_packet_close(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    fuzz_sio(s, size);

    rt_eio_payload_t *body;
    if (rt_eio_payload_decode(s, size, size, &body) != 0)
        return 0;
    for (size_t i = 0; i < body->count; i++) {
        const rt_eio_packet_t *pkt = &body->packets[i];
        if (pkt->type == RT_EIO_MESSAGE && !pkt->binary)
            fuzz_sio(pkt->data, pkt->len);
    }
    rt_eio_payload_free(body);
    return 0;
}
