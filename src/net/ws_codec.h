/*
 * ws_codec.h - the RFC 6455 WebSocket codec: an incremental frame decoder
 * that reassembles fragmented messages and enforces the protocol's rules,
 * frame header writers for both ends, masking, close payloads and the
 * opening handshake's key and subprotocol helpers.
 *
 * Pure functions, no I/O and no global state: the connection code in
 * net/ and gateway/ feeds bytes in and writes bytes out. Every function may
 * be called from any thread; one decoder belongs to one connection (one
 * thread at a time). docs/internals/websocket.md describes the contract,
 * the limits and the close-code mapping.
 */
#ifndef RT_WS_CODEC_H
#define RT_WS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define RT_WS_MAX_MESSAGE_BYTES_DEFAULT (64 * 1024) /* decoder cap on one (reassembled) message */
#define RT_WS_MAX_CONTROL_BYTES         125         /* control frame payload (RFC 6455 §5.5) */
#define RT_WS_MAX_HEADER_BYTES          14          /* 2 + 8 (64-bit length) + 4 (mask key) */
#define RT_WS_ACCEPT_KEY_CHARS          28          /* base64 of a SHA-1 digest */
#define RT_WS_KEY_CHARS                 24          /* base64 of the 16-byte Sec-WebSocket-Key */
#define RT_WS_ASSEMBLY_MIN_BYTES        1024 /* first allocation of a fragment assembly buffer */

/* Opcodes (RFC 6455 §5.2, §11.8). */
enum {
    RT_WS_OP_CONT = 0,
    RT_WS_OP_TEXT = 1,
    RT_WS_OP_BINARY = 2,
    RT_WS_OP_CLOSE = 8,
    RT_WS_OP_PING = 9,
    RT_WS_OP_PONG = 10
};

/* Close status codes (RFC 6455 §7.4.1). */
enum {
    RT_WS_CLOSE_NORMAL = 1000,
    RT_WS_CLOSE_GOING_AWAY = 1001,
    RT_WS_CLOSE_PROTOCOL = 1002,
    RT_WS_CLOSE_UNSUPPORTED = 1003,
    RT_WS_CLOSE_NO_STATUS = 1005,
    RT_WS_CLOSE_INVALID_DATA = 1007,
    RT_WS_CLOSE_POLICY = 1008,
    RT_WS_CLOSE_TOO_BIG = 1009,
    RT_WS_CLOSE_INTERNAL = 1011
};

/*
 * One decoded unit: a whole TEXT or BINARY message (fragments already
 * joined; opcode is never CONT), or one CLOSE, PING or PONG frame. data is
 * borrowed, valid until the next call on the decoder or until the caller's
 * buffer changes; it is never NUL-terminated. len is at most the decoder's
 * max_message_bytes for TEXT/BINARY and at most RT_WS_MAX_CONTROL_BYTES for
 * control frames. A CLOSE payload has already been validated: empty, or a
 * valid code (big-endian) followed by a UTF-8 reason.
 */
typedef struct {
    uint8_t opcode;
    const uint8_t *data;
    size_t len;
} rt_ws_msg_t;

/*
 * The decoder state of one connection; the fields are private to
 * ws_codec.c. Kept small (40 bytes on LP64) because every idle connection
 * holds one. Invariants: asm_len <= asm_cap <= max_message_bytes; asm_data
 * is NULL while no fragmented message is open, except between the delivery
 * of a reassembled message and the next call (the message still points into
 * it); utf8 is 0 unless a TEXT message is open; error != 0 after a violation
 * and then every call fails again with that code.
 */
typedef struct rt_ws_decoder_s {
    uint8_t *asm_data; /* fragment assembly buffer (rt_malloc), or NULL */
    size_t asm_len;    /* payload bytes assembled so far */
    size_t asm_cap;    /* allocated bytes of asm_data */
    size_t max_message_bytes;
    uint16_t error;       /* sticky close code after RT_EPROTO, else 0 */
    uint8_t asm_opcode;   /* TEXT or BINARY of the open fragmented message; 0 = none */
    uint8_t utf8;         /* incremental UTF-8 validator state of the open TEXT message */
    uint8_t require_mask; /* 1: frames must be masked (server); 0: must not be (client) */
} rt_ws_decoder_t;

/*
 * Sets up d. max_message_bytes caps one message, whole or reassembled (0
 * means RT_WS_MAX_MESSAGE_BYTES_DEFAULT). require_mask is 1 on the server
 * (every client frame must be masked, RFC 6455 §5.1) and 0 on the client
 * (every server frame must be unmasked). Allocates nothing.
 */
void rt_ws_decoder_init(rt_ws_decoder_t *d, size_t max_message_bytes, int require_mask);

/* Frees any assembly buffer. d may be NULL; d may be initialised again. */
void rt_ws_decoder_close(rt_ws_decoder_t *d);

/*
 * Decodes from buf[0..len), the caller's read buffer, unmasking complete
 * frames in place. Never reads at or past len.
 * Returns:
 *   0: *msg holds one whole message or control frame and *consumed the bytes
 *      used. msg->data points into buf (a single unfragmented frame or a
 *      control frame: zero-copy) or into the decoder's assembly buffer
 *      (fragmented message); borrowed, valid until the next call on d or
 *      until buf changes. Call again with the bytes after *consumed.
 *   RT_EAGAIN: more input is needed. *consumed is the number of bytes taken:
 *      complete fragments of a fragmented message are copied into the
 *      assembly buffer and counted; a partial frame is not, so the caller
 *      keeps buf[*consumed..len) and calls again with it at the front once
 *      more bytes arrived. The caller's buffer must therefore be able to hold
 *      one frame: RT_WS_MAX_HEADER_BYTES + max_message_bytes.
 *   RT_EPROTO: the peer broke the protocol; *close_code is the status to
 *      close with (RFC 6455 §7.4.1), and every later call fails the same way:
 *      1002 (RT_WS_CLOSE_PROTOCOL): reserved bits set (no extension is ever
 *        negotiated), unknown opcode, mask bit not as require_mask says,
 *        control frame fragmented or over 125 bytes, continuation without a
 *        started message, new TEXT/BINARY while a fragmented one is open,
 *        64-bit length with its most significant bit set, a length not in
 *        its minimal encoding (§5.2), close payload of 1 byte or with a code
 *        that may not be sent (§7.4);
 *      1007 (RT_WS_CLOSE_INVALID_DATA): TEXT message or close reason not
 *        valid UTF-8 (RFC 3629); fragments are checked as each one arrives,
 *        so an invalid prefix fails before the message ends, and a code point
 *        split across fragments is fine;
 *      1009 (RT_WS_CLOSE_TOO_BIG): the declared length of a data frame, or
 *        of the message it continues, is over max_message_bytes; found from
 *        the header, before any of the payload arrives.
 *   Errors are found in byte order, so feeding a stream in any pieces gives
 *   the same messages and the same final result as feeding it whole.
 * *consumed is set on 0 and RT_EAGAIN, *msg only on 0, *close_code only on
 * RT_EPROTO. Never allocates more than max_message_bytes for assembly.
 */
int rt_ws_decode(rt_ws_decoder_t *d, uint8_t *buf, size_t len, size_t *consumed, rt_ws_msg_t *msg,
                 uint16_t *close_code);

/*
 * Writes the header of an unmasked FIN frame (server to client, RFC 6455
 * §5.2) of opcode with payload_len bytes into out, which has room for
 * RT_WS_MAX_HEADER_BYTES. The length uses its minimal encoding. Returns the
 * header length: 2, 4 or 10.
 */
size_t rt_ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t payload_len);

/*
 * Writes the header of a masked frame (client to server) into out, which has
 * room for RT_WS_MAX_HEADER_BYTES: FIN bit from fin (0 or 1), opcode,
 * payload_len in its minimal encoding, then the 4-byte mask key. The caller
 * masks the payload with rt_ws_mask(payload, n, mask, 0). Returns the header
 * length: 6, 8 or 14.
 */
size_t rt_ws_client_frame_header(uint8_t *out, uint8_t opcode, int fin, uint64_t payload_len,
                                 const uint8_t mask[4]);

/*
 * XORs data[0..len) in place with the mask key (RFC 6455 §5.3), where data
 * starts at byte offset of the payload (so a payload can be masked in
 * pieces). Its own inverse. Works a machine word at a time.
 */
void rt_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);

/*
 * Builds a close frame payload (RFC 6455 §5.5.1) into out: the 2-byte
 * big-endian code, then reason (NUL-terminated UTF-8, may be NULL),
 * truncated to fit RT_WS_MAX_CONTROL_BYTES without splitting a UTF-8
 * sequence. Code RT_WS_CLOSE_NO_STATUS may never be sent (§7.4.1), so it
 * gives an empty payload. Returns the payload length.
 */
size_t rt_ws_close_payload(uint8_t out[RT_WS_MAX_CONTROL_BYTES], uint16_t code, const char *reason);

/*
 * Checks a Sec-WebSocket-Key value key[0..key_len) (optional whitespace
 * around it is trimmed): it must be the base64 of exactly 16 bytes (RFC 6455
 * §4.1, §11.3.1). Then writes the Sec-WebSocket-Accept value, base64 of
 * SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11") (§4.2.2), into out as
 * 28 characters plus a NUL. Returns 0, or RT_EINVAL for a bad key (out is
 * then untouched).
 */
int rt_ws_accept_key(const char *key, size_t key_len, char out[RT_WS_ACCEPT_KEY_CHARS + 1]);

/*
 * Returns 1 if the Sec-WebSocket-Protocol value value[0..len), a
 * comma-separated list of tokens with optional whitespace (RFC 6455
 * §4.1, §11.3.4), contains the token proto (NUL-terminated, compared
 * exactly, case-sensitive), else 0.
 */
int rt_ws_protocol_offered(const char *value, size_t len, const char *proto);

#endif
