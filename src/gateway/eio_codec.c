/*
 * This file implements the Engine.IO v4 codec of eio_codec.h: decoding a
 * packet from a WebSocket frame and a list of packets from a long-polling
 * POST body, encoding text packets, GET bodies and the open packet, parsing
 * the request query, session ids, and the reference server's error bodies.
 * It does no I/O and keeps no state. Spec: socketio/engine.io-protocol
 * README; the reference parser is socketio/socket.io
 * packages/engine.io-parser (decodePacket, decodePayload).
 */
#include "gateway/eio_codec.h"

#include <inttypes.h>
#include <string.h>

#define TYPE_COUNT 7 /* RT_EIO_OPEN .. RT_EIO_NOOP */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ================================================================ base64 */

/* Appends n bytes as base64 in the given alphabet (RFC 4648 §4 or §5),
 * with '=' padding if pad. */
static void b64_append(rt_buf_t *out, const unsigned char *p, size_t n, const char *alphabet,
                       int pad)
{
    rt_buf_reserve(out, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)p[i] << 16;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        char q[4] = {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63], alphabet[v >> 6 & 63],
                     alphabet[v & 63]};
        size_t emit = left > 2 ? 4 : left + 1;
        if (pad && emit < 4) {
            memset(q + emit, '=', 4 - emit);
            emit = 4;
        }
        rt_buf_append(out, q, emit);
    }
}

/* Returns the 6-bit value of a standard base64 character, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Decodes standard base64 (RFC 4648 §4) from s[0..n) into out, which may
 * overlap s as long as out <= s (each group is read before its bytes are
 * written, and never more is written than read). Padding is optional but,
 * when present, must make n a multiple of 4. Returns 0 and sets *outlen, or
 * RT_EPROTO.
 */
static int b64_decode(const char *s, size_t n, char *out, size_t *outlen)
{
    size_t pad = 0;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
        pad++;
    if (pad > 0 && n % 4 != 0)
        return RT_EPROTO;
    size_t chars = n - pad;
    if (chars % 4 == 1)
        return RT_EPROTO;
    size_t o = 0;
    for (size_t i = 0; i < chars; i += 4) {
        size_t group = RT_MIN(chars - i, 4);
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = k < group ? b64_value((unsigned char)s[i + k]) : 0;
            if (d < 0)
                return RT_EPROTO;
            v = v << 6 | (uint32_t)d;
        }
        char bytes[3] = {(char)(v >> 16), (char)(v >> 8 & 0xff), (char)(v & 0xff)};
        memcpy(out + o, bytes, group - 1);
        o += group - 1;
    }
    *outlen = o;
    return 0;
}

/* ============================================================== decoding */

/* Reads the type character of a text packet (README "Protocol"). */
static int text_type(char c, rt_eio_type_t *type)
{
    if (c < '0' || c >= '0' + TYPE_COUNT)
        return RT_EPROTO;
    *type = (rt_eio_type_t)(c - '0');
    return 0;
}

int rt_eio_packet_decode(const char *frame, size_t len, int binary, rt_eio_packet_t *out)
{
    if (binary) {
        /* README "Packet encoding / WebSocket": binary payloads as is. */
        *out = (rt_eio_packet_t){RT_EIO_MESSAGE, 1, frame, len};
        return 0;
    }
    rt_eio_type_t type;
    if (len == 0 || text_type(frame[0], &type) != 0)
        return RT_EPROTO; /* "b" + base64 is long-polling only */
    *out = (rt_eio_packet_t){type, 0, frame + 1, len - 1};
    return 0;
}

/*
 * Decodes one packet of a polling payload in place: seg[0..n) is the
 * payload's own copy, and seg[n] is writable. Binary data is decoded over
 * the segment itself; the data is left NUL-terminated.
 */
static int decode_segment(char *seg, size_t n, rt_eio_packet_t *out)
{
    if (n == 0)
        return RT_EPROTO;
    if (seg[0] == 'b') {
        size_t m;
        if (b64_decode(seg + 1, n - 1, seg, &m) != 0)
            return RT_EPROTO;
        seg[m] = '\0';
        *out = (rt_eio_packet_t){RT_EIO_MESSAGE, 1, seg, m};
        return 0;
    }
    rt_eio_type_t type;
    if (text_type(seg[0], &type) != 0 || !rt_utf8_valid(seg + 1, n - 1))
        return RT_EPROTO;
    seg[n] = '\0';
    *out = (rt_eio_packet_t){type, 0, seg + 1, n - 1};
    return 0;
}

/* Counts the packets of a payload: one more than its separators. */
static size_t count_packets(const char *s, size_t len)
{
    size_t n = 1;
    const char *end = s + len;
    const char *p = memchr(s, RT_EIO_RECORD_SEPARATOR, len);
    while (p != NULL) {
        n++;
        p = memchr(p + 1, RT_EIO_RECORD_SEPARATOR, (size_t)(end - p - 1));
    }
    return n;
}

int rt_eio_payload_decode(const char *body, size_t len, size_t max_bytes, rt_eio_payload_t **out)
{
    if (len > max_bytes || len > SIZE_MAX / 2)
        return RT_ETOOBIG;
    if (len == 0)
        return RT_EPROTO; /* the reference parser reads "" as one bad packet */
    size_t count = count_packets(body, len);
    if (count > RT_EIO_MAX_PAYLOAD_PACKETS)
        return RT_ELIMIT;

    /* One block: the header, the packet list, then a copy of the body that
     * the packets point into. */
    rt_eio_payload_t *p = rt_malloc(sizeof(*p) + count * sizeof(rt_eio_packet_t) + len + 1);
    char *bytes = (char *)&p->packets[count];
    memcpy(bytes, body, len);
    bytes[len] = '\0';
    p->count = count;

    char *seg = bytes;
    const char *end = bytes + len;
    for (size_t i = 0; i < count; i++) {
        char *sep = memchr(seg, RT_EIO_RECORD_SEPARATOR, (size_t)(end - seg));
        size_t n = sep != NULL ? (size_t)(sep - seg) : (size_t)(end - seg);
        if (decode_segment(seg, n, &p->packets[i]) != 0) {
            rt_free(p);
            return RT_EPROTO;
        }
        seg += n + 1;
    }
    *out = p;
    return 0;
}

void rt_eio_payload_free(rt_eio_payload_t *p)
{
    rt_free(p);
}

/* ================================================================= query */

enum { Q_EIO, Q_TRANSPORT, Q_SID, Q_KEYS };

/* One parameter of interest: how often it appeared, and its last value. */
typedef struct {
    int seen;
    const char *v;
    size_t n;
} qparam_t;

/* Records the key=value pair s[0..n) if its key is one of ours. */
static void query_pair(const char *s, size_t n, qparam_t params[Q_KEYS])
{
    static const char *const keys[Q_KEYS] = {"EIO", "transport", "sid"};
    const char *eq = memchr(s, '=', n);
    size_t klen = eq != NULL ? (size_t)(eq - s) : n;
    for (int k = 0; k < Q_KEYS; k++) {
        if (klen != strlen(keys[k]) || memcmp(s, keys[k], klen) != 0)
            continue;
        params[k].seen++;
        params[k].v = eq != NULL ? eq + 1 : s + n;
        params[k].n = eq != NULL ? n - klen - 1 : 0;
    }
}

static int value_is(const qparam_t *p, const char *s)
{
    return p->n == strlen(s) && memcmp(p->v, s, p->n) == 0;
}

/* A sid we could have issued: URL-safe base64 characters, bounded. */
static int sid_plausible(const char *s, size_t n)
{
    if (n > RT_EIO_SID_MAX_BYTES)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (memchr(b64_url, s[i], sizeof(b64_url) - 1) == NULL)
            return 0;
    }
    return 1;
}

int rt_eio_parse_query(const char *query, size_t len, rt_eio_query_t *q, rt_eio_error_t *err)
{
    qparam_t params[Q_KEYS] = {{0, NULL, 0}, {0, NULL, 0}, {0, NULL, 0}};
    size_t start = 0;
    while (start < len) {
        const char *amp = memchr(query + start, '&', len - start);
        size_t end = amp != NULL ? (size_t)(amp - query) : len;
        query_pair(query + start, end - start, params);
        start = end + 1;
    }

    /* The reference server's order: transport (Server.verify), sid, then
     * the protocol version (Server.handshake). */
    const qparam_t *tp = &params[Q_TRANSPORT];
    int polling = tp->seen == 1 && value_is(tp, "polling");
    int websocket = tp->seen == 1 && value_is(tp, "websocket");
    if (!polling && !websocket) {
        *err = RT_EIO_ERR_UNKNOWN_TRANSPORT;
        return RT_EPROTO;
    }
    const qparam_t *sp = &params[Q_SID];
    if (sp->seen > 1 || (sp->seen == 1 && !sid_plausible(sp->v, sp->n))) {
        *err = RT_EIO_ERR_UNKNOWN_SID;
        return RT_EPROTO;
    }
    if (params[Q_EIO].seen != 1 || !value_is(&params[Q_EIO], "4")) {
        *err = RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION;
        return RT_EVERSION;
    }
    q->transport = polling ? RT_EIO_TRANSPORT_POLLING : RT_EIO_TRANSPORT_WEBSOCKET;
    /* An empty sid is no sid, as in the reference (`if (sid)`). */
    q->sid = sp->seen == 1 && sp->n > 0 ? sp->v : NULL;
    q->sid_len = q->sid != NULL ? sp->n : 0;
    return 0;
}

/* ============================================================== encoding */

void rt_eio_packet_encode(rt_buf_t *out, rt_eio_type_t type, const char *data, size_t len)
{
    rt_assert((unsigned)type < TYPE_COUNT);
    char t = (char)('0' + type);
    rt_buf_reserve(out, len + 1);
    rt_buf_append(out, &t, 1);
    rt_buf_append(out, data, len);
}

static void append_separator(rt_buf_t *body)
{
    if (body->len > 0) {
        char sep = RT_EIO_RECORD_SEPARATOR;
        rt_buf_append(body, &sep, 1);
    }
}

void rt_eio_payload_append(rt_buf_t *body, const rt_eio_packet_t *p)
{
    append_separator(body);
    if (p->binary) {
        rt_assert(p->type == RT_EIO_MESSAGE);
        rt_buf_append(body, "b", 1);
        b64_append(body, (const unsigned char *)p->data, p->len, b64_std, 1);
        return;
    }
    rt_eio_packet_encode(body, p->type, p->data, p->len);
}

void rt_eio_payload_append_encoded(rt_buf_t *body, const char *packet, size_t len)
{
    rt_assert(len > 0);
    append_separator(body);
    rt_buf_append(body, packet, len);
}

void rt_eio_payload_encode(rt_buf_t *body, const rt_eio_packet_t *packets, size_t n)
{
    rt_assert(n > 0);
    for (size_t i = 0; i < n; i++)
        rt_eio_payload_append(body, &packets[i]);
}

void rt_eio_open_encode(rt_buf_t *out, const rt_eio_open_t *o)
{
    rt_buf_append_str(out, "0{\"sid\":");
    rt_buf_append_json_str(out, o->sid, strlen(o->sid));
    rt_buf_appendf(out,
                   ",\"upgrades\":%s,\"pingInterval\":%" PRIu32 ",\"pingTimeout\":%" PRIu32
                   ",\"maxPayload\":%" PRIu64 "}",
                   o->upgrade_websocket ? "[\"websocket\"]" : "[]", o->ping_interval_ms,
                   o->ping_timeout_ms, o->max_payload_bytes);
}

void rt_eio_sid_new(char out[RT_EIO_SID_LEN + 1])
{
    unsigned char raw[RT_EIO_SID_LEN / 4 * 3];
    rt_buf_t b;
    rt_random_bytes(raw, sizeof(raw));
    rt_buf_init(&b);
    b64_append(&b, raw, sizeof(raw), b64_url, 0);
    rt_assert(b.len == RT_EIO_SID_LEN);
    memcpy(out, b.data, RT_EIO_SID_LEN + 1);
    rt_buf_close(&b);
}

/* ================================================================ errors */

const char *rt_eio_error_message(rt_eio_error_t code)
{
    /* engine.io Server.errorMessages */
    switch (code) {
    case RT_EIO_ERR_UNKNOWN_TRANSPORT:
        return "Transport unknown";
    case RT_EIO_ERR_UNKNOWN_SID:
        return "Session ID unknown";
    case RT_EIO_ERR_BAD_HANDSHAKE_METHOD:
        return "Bad handshake method";
    case RT_EIO_ERR_BAD_REQUEST:
        return "Bad request";
    case RT_EIO_ERR_FORBIDDEN:
        return "Forbidden";
    case RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION:
        return "Unsupported protocol version";
    }
    rt_assert(!"unknown Engine.IO error code");
    return "Bad request";
}

int rt_eio_error_status(rt_eio_error_t code)
{
    return code == RT_EIO_ERR_FORBIDDEN ? 403 : 400;
}

void rt_eio_error_body(rt_buf_t *out, rt_eio_error_t code)
{
    const char *msg = rt_eio_error_message(code);
    rt_buf_appendf(out, "{\"code\":%d,\"message\":", (int)code);
    rt_buf_append_json_str(out, msg, strlen(msg));
    rt_buf_append(out, "}", 1);
}
