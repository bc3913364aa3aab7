/*
 * This file implements the Socket.IO v5 codec of sio_codec.h: the decoder
 * of `<type>[<#attachments>-][<namespace>,][<ack id>][<JSON>]` with the
 * payload rules of the reference parser (socket.io-parser
 * Decoder.decodeString, isPayloadValid and, for binary placeholders,
 * reconstructPacket), and the encoders of the packets the gateway sends,
 * including the fan-out event that splices an already-encoded envelope in
 * without parsing it. No I/O, no state.
 */
#include "gateway/sio_codec.h"

#include <inttypes.h>
#include <string.h>

#define TYPE_COUNT 7 /* RT_SIO_CONNECT .. RT_SIO_BINARY_ACK */

/* Event names the reference parser refuses (socket.io-parser
 * RESERVED_EVENTS): they mean something to the client or to Node's
 * EventEmitter. */
static const char *const reserved_events[] = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

static int is_binary_type(rt_sio_type_t t)
{
    return t == RT_SIO_BINARY_EVENT || t == RT_SIO_BINARY_ACK;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ============================================================== decoding */

/* Reads `<n>-` at s[*i]: at least one digit, n <= RT_SIO_MAX_ATTACHMENTS. */
static int read_attachments(const char *s, size_t len, size_t *i, int *out)
{
    size_t k = *i;
    int n = 0;
    while (k < len && is_digit(s[k])) {
        n = n * 10 + (s[k] - '0');
        if (n > RT_SIO_MAX_ATTACHMENTS)
            return RT_EPROTO; /* "too many attachments" */
        k++;
    }
    if (k == *i || k == len || s[k] != '-')
        return RT_EPROTO; /* "Illegal attachments" */
    *out = n;
    *i = k + 1;
    return 0;
}

/* Reads an optional namespace at s[*i]: from '/' to the first ',' (which is
 * consumed) or to the end. */
static int read_nsp(const char *s, size_t len, size_t *i, rt_sio_packet_t *p)
{
    if (*i >= len || s[*i] != '/')
        return 0;
    const char *start = s + *i;
    const char *comma = memchr(start, ',', len - *i);
    size_t n = comma != NULL ? (size_t)(comma - start) : len - *i;
    if (n > RT_SIO_MAX_NSP_BYTES || !rt_utf8_valid(start, n))
        return RT_EPROTO;
    p->nsp = start;
    p->nsp_len = n;
    *i += comma != NULL ? n + 1 : n;
    return 0;
}

/* Reads an optional ack id at s[*i]: a run of digits <= RT_SIO_MAX_ACK_ID. */
static int read_ack_id(const char *s, size_t len, size_t *i, int64_t *out)
{
    size_t k = *i;
    int64_t v = 0;
    while (k < len && is_digit(s[k])) {
        int d = s[k] - '0';
        if (v > (RT_SIO_MAX_ACK_ID - d) / 10)
            return RT_EPROTO;
        v = v * 10 + d;
        k++;
    }
    if (k > *i) {
        *out = v;
        *i = k;
    }
    return 0;
}

static int is_reserved_event(const json_t *name)
{
    const char *s = json_string_value(name);
    size_t n = json_string_length(name);
    for (size_t k = 0; k < RT_ARRAY_LEN(reserved_events); k++) {
        if (n == strlen(reserved_events[k]) && memcmp(s, reserved_events[k], n) == 0)
            return 1;
    }
    return 0;
}

/* An event's payload: a non-empty array whose first element is a number or
 * a non-reserved string (isPayloadValid; the Readme makes it mandatory). */
static int event_payload_valid(const json_t *data)
{
    if (!json_is_array(data) || json_array_size(data) == 0)
        return 0;
    const json_t *name = json_array_get(data, 0);
    return json_is_number(name) || (json_is_string(name) && !is_reserved_event(name));
}

/* The payload rule of each type (socket.io-parser isPayloadValid, and the
 * Readme's "The payload is mandatory" for EVENT and ACK). */
static int payload_valid(rt_sio_type_t type, const json_t *data)
{
    switch (type) {
    case RT_SIO_CONNECT:
        return data == NULL || json_is_object(data);
    case RT_SIO_DISCONNECT:
        return data == NULL;
    case RT_SIO_EVENT:
    case RT_SIO_BINARY_EVENT:
        return event_payload_valid(data);
    case RT_SIO_ACK:
    case RT_SIO_BINARY_ACK:
        return json_is_array(data);
    case RT_SIO_CONNECT_ERROR:
        return data == NULL || json_is_string(data) || json_is_object(data);
    }
    return 0;
}

/*
 * Checks every placeholder {"_placeholder":true,"num":n} in j: n must be an
 * integer in [0, attachments) (socket.io-parser reconstructPacket throws
 * "illegal attachments" otherwise). Recursion is bounded by jansson's
 * nesting limit.
 */
static int placeholders_valid(const json_t *j, int attachments)
{
    if (json_is_array(j)) {
        for (size_t k = 0; k < json_array_size(j); k++) {
            if (!placeholders_valid(json_array_get(j, k), attachments))
                return 0;
        }
        return 1;
    }
    if (!json_is_object(j))
        return 1;
    if (json_is_true(json_object_get(j, "_placeholder"))) {
        const json_t *num = json_object_get(j, "num");
        return json_is_integer(num) && json_integer_value(num) >= 0 &&
               json_integer_value(num) < attachments;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        if (!placeholders_valid(v, attachments))
            return 0;
    }
    return 1;
}

int rt_sio_packet_decode(const char *s, size_t len, rt_sio_packet_t *out)
{
    rt_sio_packet_t p = {RT_SIO_CONNECT, "/", 1, -1, 0, NULL};
    if (len == 0 || !is_digit(s[0]) || s[0] - '0' >= TYPE_COUNT)
        return RT_EPROTO; /* "unknown packet type" */
    p.type = (rt_sio_type_t)(s[0] - '0');
    size_t i = 1;
    if (is_binary_type(p.type) && read_attachments(s, len, &i, &p.attachments) != 0)
        return RT_EPROTO;
    if (read_nsp(s, len, &i, &p) != 0 || read_ack_id(s, len, &i, &p.ack_id) != 0)
        return RT_EPROTO;
    if (i < len) {
        json_error_t jerr;
        p.data = json_loadb(s + i, len - i, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (p.data == NULL)
            return RT_EPROTO;
    }
    if (!payload_valid(p.type, p.data) ||
        (is_binary_type(p.type) && !placeholders_valid(p.data, p.attachments))) {
        json_decref(p.data);
        return RT_EPROTO; /* "invalid payload" */
    }
    *out = p;
    return 0;
}

void rt_sio_packet_close(rt_sio_packet_t *p)
{
    if (p == NULL)
        return;
    json_decref(p->data);
    p->data = NULL;
}

int rt_sio_event_name(const rt_sio_packet_t *p, const char **name, size_t *len)
{
    if (p->type != RT_SIO_EVENT && p->type != RT_SIO_BINARY_EVENT)
        return RT_ENOENT;
    const json_t *n = json_array_get(p->data, 0);
    if (!json_is_string(n))
        return RT_ENOENT;
    *name = json_string_value(n);
    *len = json_string_length(n);
    return 0;
}

/* ============================================================== encoding */

/* Appends "4" and the packet header up to the payload (socket.io-parser
 * Encoder.encodeAsString). */
static void append_header(rt_buf_t *out, rt_sio_type_t type, int attachments, const char *nsp,
                          size_t nsp_len, int64_t ack_id)
{
    rt_assert((unsigned)type < TYPE_COUNT);
    rt_assert(ack_id >= -1 && ack_id <= RT_SIO_MAX_ACK_ID);
    char head[2] = {'4', (char)('0' + type)};
    rt_buf_append(out, head, 2);
    if (is_binary_type(type)) {
        rt_assert(attachments >= 0);
        rt_buf_appendf(out, "%d-", attachments);
    }
    if (nsp_len > 0 && !(nsp_len == 1 && nsp[0] == '/')) {
        rt_assert(nsp[0] == '/' && memchr(nsp, ',', nsp_len) == NULL);
        rt_buf_append(out, nsp, nsp_len);
        rt_buf_append(out, ",", 1);
    }
    if (ack_id >= 0)
        rt_buf_appendf(out, "%" PRId64, ack_id);
}

void rt_sio_packet_encode(rt_buf_t *out, const rt_sio_packet_t *p)
{
    append_header(out, p->type, p->attachments, p->nsp, p->nsp_len, p->ack_id);
    if (p->data != NULL)
        rt_buf_append_json(out, p->data);
}

void rt_sio_encode_connect(rt_buf_t *out, const char *nsp, size_t nsp_len, const char *sid,
                           const char *pid)
{
    append_header(out, RT_SIO_CONNECT, 0, nsp, nsp_len, -1);
    rt_buf_append_str(out, "{\"sid\":");
    rt_buf_append_json_str(out, sid, strlen(sid));
    if (pid != NULL) {
        rt_buf_append_str(out, ",\"pid\":");
        rt_buf_append_json_str(out, pid, strlen(pid));
    }
    rt_buf_append(out, "}", 1);
}

void rt_sio_encode_connect_error(rt_buf_t *out, const char *nsp, size_t nsp_len,
                                 const char *message, const json_t *data)
{
    append_header(out, RT_SIO_CONNECT_ERROR, 0, nsp, nsp_len, -1);
    rt_buf_append_str(out, "{\"message\":");
    rt_buf_append_json_str(out, message, strlen(message));
    if (data != NULL) {
        rt_buf_append_str(out, ",\"data\":");
        rt_buf_append_json(out, data);
    }
    rt_buf_append(out, "}", 1);
}

void rt_sio_encode_raw_event(rt_buf_t *out, const rt_sio_raw_event_t *ev)
{
    rt_assert(ev->arg_len > 0);
    rt_buf_reserve(out, 16 + ev->nsp_len + ev->name_len + ev->arg_len + ev->offset_len);
    append_header(out, RT_SIO_EVENT, 0, ev->nsp, ev->nsp_len, -1);
    rt_buf_append(out, "[", 1);
    rt_buf_append_json_str(out, ev->name, ev->name_len);
    rt_buf_append(out, ",", 1);
    rt_buf_append(out, ev->arg_json, ev->arg_len);
    if (ev->offset != NULL) {
        rt_buf_append(out, ",", 1);
        rt_buf_append_json_str(out, ev->offset, ev->offset_len);
    }
    rt_buf_append(out, "]", 1);
}
