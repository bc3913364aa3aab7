/*
 * This file implements the RFC 6455 WebSocket codec declared in ws_codec.h:
 * the incremental frame decoder (header checks in byte order, in-place
 * unmasking, fragment reassembly into a buffer that exists only while a
 * fragmented message is open, incremental UTF-8 validation of text), the
 * frame header writers, word-at-a-time masking, close payloads, and the
 * handshake's Sec-WebSocket-Accept and subprotocol helpers. There is no I/O
 * and no global state; the decoder never reads past the bytes it is given
 * and never holds more than one message's worth of memory.
 */
#include "net/ws_codec.h"

#include <string.h>

#include <openssl/evp.h>

_Static_assert(sizeof(rt_ws_decoder_t) <= 48, "the decoder lives in every idle connection");

/* RFC 6455 §1.3: the GUID appended to the key before hashing. */
static const char accept_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ================================================================ UTF-8 */

/*
 * An incremental UTF-8 validator (RFC 3629 §4: no overlongs, no surrogates,
 * nothing above U+10FFFF). The state is one byte: 0 between code points,
 * else the continuation bytes still due in bits 0-1 and, in bits 2-4, which
 * range the next byte must fall in (the second byte after E0, ED, F0 and F4
 * is narrower than 80..BF). UTF8_REJECT is absorbing.
 */
#define UTF8_REJECT 0xff

static const uint8_t utf8_lo[5] = {0x80, 0xa0, 0x80, 0x90, 0x80};
static const uint8_t utf8_hi[5] = {0xbf, 0xbf, 0x9f, 0xbf, 0x8f};

/* The state after lead byte c (c >= 0x80). */
static uint8_t utf8_lead(uint8_t c)
{
    if (c >= 0xc2 && c <= 0xdf)
        return 1;
    if (c == 0xe0)
        return 2 | 1 << 2;
    if (c == 0xed)
        return 2 | 2 << 2;
    if (c >= 0xe1 && c <= 0xef)
        return 2;
    if (c == 0xf0)
        return 3 | 3 << 2;
    if (c == 0xf4)
        return 3 | 4 << 2;
    if (c >= 0xf1 && c <= 0xf3)
        return 3;
    return UTF8_REJECT;
}

/* Skips ASCII eight bytes at a time; returns the index of the first byte of
 * p[i..n) that may be non-ASCII. */
static size_t utf8_skip_ascii(const uint8_t *p, size_t i, size_t n)
{
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & UINT64_C(0x8080808080808080))
            break;
        i += 8;
    }
    return i;
}

/* Feeds p[0..n) to the validator in state st; returns the new state. */
static uint8_t utf8_step(uint8_t st, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && st != UTF8_REJECT) {
        if (st == 0) {
            i = utf8_skip_ascii(p, i, n);
            if (i == n)
                break;
            uint8_t c = p[i++];
            if (c >= 0x80)
                st = utf8_lead(c);
            continue;
        }
        uint8_t c = p[i++];
        unsigned range = st >> 2;
        if (c < utf8_lo[range] || c > utf8_hi[range])
            return UTF8_REJECT;
        st = (uint8_t)((st & 3) - 1);
    }
    return st;
}

/* ============================================================== decoder */

/* A parsed frame header (RFC 6455 §5.2). */
typedef struct {
    uint64_t payload_len;
    size_t header_len; /* including the mask key */
    uint8_t opcode;
    uint8_t fin;
    uint8_t masked;
    uint8_t mask[4];
} frame_t;

static const uint8_t empty_payload[1];

void rt_ws_decoder_init(rt_ws_decoder_t *d, size_t max_message_bytes, int require_mask)
{
    memset(d, 0, sizeof(*d));
    d->max_message_bytes = max_message_bytes ? max_message_bytes : RT_WS_MAX_MESSAGE_BYTES_DEFAULT;
    d->require_mask = require_mask ? 1 : 0;
}

static void assembly_free(rt_ws_decoder_t *d)
{
    rt_free(d->asm_data);
    d->asm_data = NULL;
    d->asm_len = 0;
    d->asm_cap = 0;
    d->asm_opcode = 0;
    d->utf8 = 0;
}

void rt_ws_decoder_close(rt_ws_decoder_t *d)
{
    if (d == NULL)
        return;
    assembly_free(d);
}

static int fail(rt_ws_decoder_t *d, uint16_t code, uint16_t *close_code)
{
    assembly_free(d);
    d->error = code;
    *close_code = code;
    return RT_EPROTO;
}

static int opcode_known(uint8_t op)
{
    return op <= RT_WS_OP_BINARY || (op >= RT_WS_OP_CLOSE && op <= RT_WS_OP_PONG);
}

/* Checks the first header byte against the rules and the fragmentation
 * state (RFC 6455 §5.2, §5.4, §5.5); returns 0 or a close code. */
static uint16_t check_first_byte(const rt_ws_decoder_t *d, uint8_t b0)
{
    uint8_t op = b0 & 0x0f;
    if (b0 & 0x70)
        return RT_WS_CLOSE_PROTOCOL; /* RSV1-3 without a negotiated extension */
    if (!opcode_known(op))
        return RT_WS_CLOSE_PROTOCOL;
    if (op >= RT_WS_OP_CLOSE && !(b0 & 0x80))
        return RT_WS_CLOSE_PROTOCOL; /* control frames MUST NOT be fragmented */
    if (op == RT_WS_OP_CONT && d->asm_opcode == 0)
        return RT_WS_CLOSE_PROTOCOL; /* nothing to continue */
    if (op != RT_WS_OP_CONT && op < RT_WS_OP_CLOSE && d->asm_opcode != 0)
        return RT_WS_CLOSE_PROTOCOL; /* a new message inside an open one */
    return 0;
}

static uint64_t read_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Reads the extended payload length (RFC 6455 §5.2) that follows the 7-bit
 * one, len7 (126 or 127). Returns 0, RT_EAGAIN, or RT_EPROTO with *why. */
static int read_ext_len(const uint8_t *p, size_t n, uint8_t len7, frame_t *f, uint16_t *why)
{
    size_t ext = len7 == 126 ? 2 : 8;
    if (n < 2 + ext)
        return RT_EAGAIN;
    uint64_t v = read_be(p + 2, ext);
    /* The most significant bit MUST be 0, and the minimal number of bytes
     * MUST be used. */
    if ((v >> 63) || (ext == 2 && v < 126) || (ext == 8 && v <= 0xffff)) {
        *why = RT_WS_CLOSE_PROTOCOL;
        return RT_EPROTO;
    }
    f->payload_len = v;
    f->header_len = 2 + ext;
    return 0;
}

/* Whether a data frame of n payload bytes would take its message over the
 * cap. asm_len <= max_message_bytes always holds, so this cannot wrap. */
static int too_big(const rt_ws_decoder_t *d, uint8_t op, uint64_t n)
{
    size_t before = op == RT_WS_OP_CONT ? d->asm_len : 0;
    return n > (uint64_t)(d->max_message_bytes - before);
}

/*
 * Parses the frame header at p[0..n), checking each byte as soon as it is
 * there. Returns 0 (*f filled, f->header_len <= n), RT_EAGAIN (header not
 * complete yet) or RT_EPROTO (*why set).
 */
static int parse_header(const rt_ws_decoder_t *d, const uint8_t *p, size_t n, frame_t *f,
                        uint16_t *why)
{
    if (n < 1)
        return RT_EAGAIN;
    *why = check_first_byte(d, p[0]);
    if (*why)
        return RT_EPROTO;
    if (n < 2)
        return RT_EAGAIN;
    f->fin = p[0] >> 7;
    f->opcode = p[0] & 0x0f;
    f->masked = p[1] >> 7;
    uint8_t len7 = p[1] & 0x7f;
    if (f->masked != d->require_mask || (f->opcode >= RT_WS_OP_CLOSE && len7 > 125)) {
        *why = RT_WS_CLOSE_PROTOCOL; /* §5.1 masking; §5.5 control payload cap */
        return RT_EPROTO;
    }
    f->payload_len = len7;
    f->header_len = 2;
    if (len7 >= 126) {
        int rc = read_ext_len(p, n, len7, f, why);
        if (rc != 0)
            return rc;
    }
    if (f->opcode < RT_WS_OP_CLOSE && too_big(d, f->opcode, f->payload_len)) {
        *why = RT_WS_CLOSE_TOO_BIG;
        return RT_EPROTO;
    }
    if (f->masked) {
        if (n < f->header_len + 4)
            return RT_EAGAIN;
        memcpy(f->mask, p + f->header_len, 4);
        f->header_len += 4;
    }
    return 0;
}

/* RFC 6455 §7.4: the codes a peer may put in a close frame. 1004, 1005,
 * 1006 and 1015 are never sent; 1012-1014 are later IANA registrations
 * (§11.7); 3000-4999 belong to libraries and applications. */
static int close_code_sendable(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return 1;
    return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

/* Checks a close payload (RFC 6455 §5.5.1); returns 0 or a close code. */
static uint16_t check_close(const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n == 1 || !close_code_sendable((unsigned)p[0] << 8 | p[1]))
        return RT_WS_CLOSE_PROTOCOL;
    if (utf8_step(0, p + 2, n - 2) != 0)
        return RT_WS_CLOSE_INVALID_DATA;
    return 0;
}

/* Makes room for need assembled bytes (need <= max_message_bytes), growing
 * geometrically but never past the cap. */
static void assembly_reserve(rt_ws_decoder_t *d, size_t need)
{
    size_t max = d->max_message_bytes;
    if (need <= d->asm_cap)
        return;
    size_t cap = d->asm_cap == 0        ? RT_WS_ASSEMBLY_MIN_BYTES
                 : d->asm_cap > max / 2 ? max
                                        : d->asm_cap * 2;
    cap = RT_MAX(need, RT_MIN(cap, max));
    d->asm_data = rt_realloc(d->asm_data, cap);
    d->asm_cap = cap;
}

/* Adds one complete fragment of a fragmented message (RFC 6455 §5.4),
 * validating text as it goes. Returns 0 or a close code. */
static uint16_t assembly_add(rt_ws_decoder_t *d, uint8_t op, const uint8_t *p, size_t n)
{
    if (op != RT_WS_OP_CONT)
        d->asm_opcode = op;
    if (d->asm_opcode == RT_WS_OP_TEXT) {
        d->utf8 = utf8_step(d->utf8, p, n);
        if (d->utf8 == UTF8_REJECT)
            return RT_WS_CLOSE_INVALID_DATA;
    }
    if (n == 0)
        return 0;
    assembly_reserve(d, d->asm_len + n);
    memcpy(d->asm_data + d->asm_len, p, n);
    d->asm_len += n;
    return 0;
}

/* Hands out the reassembled message; the buffer stays until the next call. */
static uint16_t assembly_finish(rt_ws_decoder_t *d, rt_ws_msg_t *msg)
{
    if (d->asm_opcode == RT_WS_OP_TEXT && d->utf8 != 0)
        return RT_WS_CLOSE_INVALID_DATA; /* ends inside a code point */
    msg->opcode = d->asm_opcode;
    msg->data = d->asm_data ? d->asm_data : empty_payload;
    msg->len = d->asm_len;
    d->asm_opcode = 0;
    return 0;
}

/*
 * Acts on one complete, unmasked frame. Returns 0 (*msg is ready),
 * RT_EAGAIN (a fragment was absorbed) or RT_EPROTO (*why set).
 */
static int frame_done(rt_ws_decoder_t *d, const frame_t *f, const uint8_t *p, size_t n,
                      rt_ws_msg_t *msg, uint16_t *why)
{
    int whole = f->opcode >= RT_WS_OP_CLOSE || (f->fin && f->opcode != RT_WS_OP_CONT);
    if (whole) {
        if (f->opcode == RT_WS_OP_CLOSE)
            *why = check_close(p, n);
        else if (f->opcode == RT_WS_OP_TEXT && utf8_step(0, p, n) != 0)
            *why = RT_WS_CLOSE_INVALID_DATA;
        if (*why)
            return RT_EPROTO;
        msg->opcode = f->opcode;
        msg->data = p;
        msg->len = n;
        return 0;
    }
    *why = assembly_add(d, f->opcode, p, n);
    if (*why == 0 && f->fin)
        *why = assembly_finish(d, msg);
    if (*why)
        return RT_EPROTO;
    return f->fin ? 0 : RT_EAGAIN;
}

int rt_ws_decode(rt_ws_decoder_t *d, uint8_t *buf, size_t len, size_t *consumed, rt_ws_msg_t *msg,
                 uint16_t *close_code)
{
    if (d->error)
        return fail(d, d->error, close_code);
    if (d->asm_opcode == 0 && d->asm_data)
        assembly_free(d); /* the message delivered last time */
    size_t pos = 0;
    for (;;) {
        frame_t f;
        uint16_t why = 0;
        int rc = parse_header(d, buf + pos, len - pos, &f, &why);
        if (rc == RT_EPROTO)
            return fail(d, why, close_code);
        if (rc == RT_EAGAIN || f.payload_len > len - pos - f.header_len) {
            *consumed = pos; /* a partial frame stays with the caller */
            return RT_EAGAIN;
        }
        uint8_t *payload = buf + pos + f.header_len;
        size_t n = (size_t)f.payload_len;
        if (f.masked)
            rt_ws_mask(payload, n, f.mask, 0);
        pos += f.header_len + n;
        rt_ws_msg_t m;
        rc = frame_done(d, &f, payload, n, &m, &why);
        if (rc == RT_EPROTO)
            return fail(d, why, close_code);
        if (rc == 0) {
            *msg = m;
            *consumed = pos;
            return 0;
        }
    }
}

/* ============================================================== writers */

/* Writes byte 0 and the length fields (RFC 6455 §5.2, minimal encoding). */
static size_t put_header(uint8_t *out, uint8_t b0, uint8_t mask_bit, uint64_t len)
{
    rt_assert(len >> 63 == 0);
    out[0] = b0;
    if (len < 126) {
        out[1] = (uint8_t)(mask_bit | len);
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t rt_ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t payload_len)
{
    rt_assert(opcode <= 0x0f);
    return put_header(out, (uint8_t)(0x80 | opcode), 0, payload_len);
}

size_t rt_ws_client_frame_header(uint8_t *out, uint8_t opcode, int fin, uint64_t payload_len,
                                 const uint8_t mask[4])
{
    rt_assert(opcode <= 0x0f);
    size_t n = put_header(out, (uint8_t)((fin ? 0x80 : 0) | opcode), 0x80, payload_len);
    memcpy(out + n, mask, 4);
    return n + 4;
}

void rt_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset)
{
    uint8_t key[8];
    for (size_t j = 0; j < 8; j++)
        key[j] = mask[(offset + j) & 3];
    uint64_t kw;
    memcpy(&kw, key, 8);
    /* Eight bytes is two whole mask periods, so the phase never shifts. */
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, data + i, 8);
        w ^= kw;
        memcpy(data + i, &w, 8);
    }
    for (; i < len; i++)
        data[i] ^= mask[(offset + i) & 3];
}

size_t rt_ws_close_payload(uint8_t out[RT_WS_MAX_CONTROL_BYTES], uint16_t code, const char *reason)
{
    const size_t room = RT_WS_MAX_CONTROL_BYTES - 2;
    if (code == RT_WS_CLOSE_NO_STATUS)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason ? strnlen(reason, room + 1) : 0;
    if (n > room) {
        /* Cut before reason[n] and step back while that byte is a UTF-8
         * continuation byte, so no sequence is split. */
        n = room;
        while (n > 0 && ((uint8_t)reason[n] & 0xc0) == 0x80)
            n--;
    }
    if (n > 0)
        memcpy(out + 2, reason, n);
    return 2 + n;
}

/* ============================================================ handshake */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* RFC 6455 §4.1: 16 bytes in base64 are 22 characters and "==". */
static int key_valid(const char *k, size_t n)
{
    if (n != RT_WS_KEY_CHARS || k[22] != '=' || k[23] != '=')
        return 0;
    for (size_t i = 0; i < 22; i++) {
        if (!is_base64_char(k[i]))
            return 0;
    }
    return 1;
}

int rt_ws_accept_key(const char *key, size_t key_len, char out[RT_WS_ACCEPT_KEY_CHARS + 1])
{
    while (key_len > 0 && is_ows(key[0])) {
        key++;
        key_len--;
    }
    while (key_len > 0 && is_ows(key[key_len - 1]))
        key_len--;
    if (!key_valid(key, key_len))
        return RT_EINVAL;
    uint8_t text[RT_WS_KEY_CHARS + sizeof(accept_guid) - 1];
    memcpy(text, key, RT_WS_KEY_CHARS);
    memcpy(text + RT_WS_KEY_CHARS, accept_guid, sizeof(accept_guid) - 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int ok = EVP_Digest(text, sizeof(text), md, &md_len, EVP_sha1(), NULL);
    rt_assert(ok == 1 && md_len == 20);
    int n = EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
    rt_assert(n == RT_WS_ACCEPT_KEY_CHARS);
    return 0;
}

int rt_ws_protocol_offered(const char *value, size_t len, const char *proto)
{
    size_t plen = strlen(proto);
    size_t i = 0;
    if (plen == 0)
        return 0;
    while (i < len) {
        size_t a = i;
        while (i < len && value[i] != ',')
            i++;
        size_t b = i++;
        while (a < b && is_ows(value[a]))
            a++;
        while (b > a && is_ows(value[b - 1]))
            b--;
        if (b - a == plen && memcmp(value + a, proto, plen) == 0)
            return 1;
    }
    return 0;
}
