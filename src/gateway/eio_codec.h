/*
 * eio_codec.h - the pure (no I/O) codec of Engine.IO protocol v4 under the
 * Socket.IO gateway (ARCHITECTURE §5.5): packets, the long-polling payload
 * framing, the open packet, session ids, the request query and the error
 * bodies. Spec: github.com/socketio/engine.io-protocol README ("Protocol",
 * "Packet encoding", "Handshake"); our reading of it is written down in
 * docs/internals/socketio.md. Every function here is thread-safe.
 */
#ifndef RT_EIO_CODEC_H
#define RT_EIO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define RT_EIO_PROTOCOL_VERSION 4

/* Handshake defaults of the reference server (engine.io `ServerOptions`). */
#define RT_EIO_PING_INTERVAL_MS_DEFAULT  25000
#define RT_EIO_PING_TIMEOUT_MS_DEFAULT   20000
#define RT_EIO_MAX_PAYLOAD_BYTES_DEFAULT 1000000

/* Long-polling packet separator: the ASCII record separator (README
 * "Packet encoding / HTTP long-polling"). */
#define RT_EIO_RECORD_SEPARATOR '\x1e'

/* Most packets one POST body may carry. A client joins whatever it has
 * buffered, so this is far above any honest burst yet keeps the decoded list
 * of a 1 MB body small. */
#define RT_EIO_MAX_PAYLOAD_PACKETS 10000

/* Length of the session ids rt_eio_sid_new() makes (as the reference
 * server's base64id: 15 random bytes in URL-safe base64). */
#define RT_EIO_SID_LEN 20

/* Longest `sid` query value accepted before any session lookup. */
#define RT_EIO_SID_MAX_BYTES 64

/* Packet types (README "Protocol"). */
typedef enum {
    RT_EIO_OPEN = 0,
    RT_EIO_CLOSE = 1,
    RT_EIO_PING = 2,
    RT_EIO_PONG = 3,
    RT_EIO_MESSAGE = 4,
    RT_EIO_UPGRADE = 5,
    RT_EIO_NOOP = 6
} rt_eio_type_t;

/*
 * One decoded packet. A binary packet (a WebSocket binary frame, or "b" +
 * base64 in a polling payload) is always a message: type == RT_EIO_MESSAGE
 * and binary == 1, data holding the raw bytes.
 */
typedef struct rt_eio_packet_s {
    rt_eio_type_t type;
    int binary;       /* 1: data is raw bytes; 0: UTF-8 text */
    const char *data; /* the payload after the type character */
    size_t len;
} rt_eio_packet_t;

/*
 * A decoded long-polling payload: count packets in one allocation. Every
 * data pointer points into the payload's own copy of the body and is
 * NUL-terminated (so text data can go to string functions), valid until
 * rt_eio_payload_free().
 */
typedef struct rt_eio_payload_s {
    size_t count; /* 1 .. RT_EIO_MAX_PAYLOAD_PACKETS */
    rt_eio_packet_t packets[];
} rt_eio_payload_t;

/* The transports of the `transport` query parameter. */
typedef enum { RT_EIO_TRANSPORT_POLLING, RT_EIO_TRANSPORT_WEBSOCKET } rt_eio_transport_t;

/* The query of an Engine.IO request (README "Query parameters"). */
typedef struct rt_eio_query_s {
    rt_eio_transport_t transport;
    const char *sid; /* NULL when absent or empty; borrowed from the query */
    size_t sid_len;
} rt_eio_query_t;

/* The reference server's error codes (engine.io `Server.errors`), sent as
 * the JSON body of a refused request. */
typedef enum {
    RT_EIO_ERR_UNKNOWN_TRANSPORT = 0,
    RT_EIO_ERR_UNKNOWN_SID = 1,
    RT_EIO_ERR_BAD_HANDSHAKE_METHOD = 2,
    RT_EIO_ERR_BAD_REQUEST = 3,
    RT_EIO_ERR_FORBIDDEN = 4,
    RT_EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION = 5
} rt_eio_error_t;

/* What the open packet announces (README "Handshake"). */
typedef struct rt_eio_open_s {
    const char *sid;       /* NUL-terminated; from rt_eio_sid_new() */
    int upgrade_websocket; /* 1: "upgrades":["websocket"] (polling); 0: [] */
    uint32_t ping_interval_ms;
    uint32_t ping_timeout_ms;
    uint64_t max_payload_bytes;
} rt_eio_open_t;

/* ------------------------------------------------------------ decoding */

/*
 * Decodes one packet received in a WebSocket frame (README "Packet encoding
 * / WebSocket"): a binary frame is a binary message; a text frame (already
 * UTF-8 checked by the WebSocket layer) is "<type>[<data>]". out->data is
 * borrowed from frame, valid until frame is freed. Returns 0, or RT_EPROTO
 * for an empty text frame, an unknown type, or the polling-only "b" prefix.
 */
int rt_eio_packet_decode(const char *frame, size_t len, int binary, rt_eio_packet_t *out);

/*
 * Decodes a long-polling POST body: packets joined by RT_EIO_RECORD_SEPARATOR,
 * binary ones as "b" + base64 (README "Packet encoding / HTTP long-polling").
 * The whole body is refused if any packet is bad. On success *out is a new
 * payload (caller frees with rt_eio_payload_free()); body is not kept.
 * Returns 0; RT_ETOOBIG if len > max_bytes (answer 413); RT_ELIMIT over
 * RT_EIO_MAX_PAYLOAD_PACKETS packets; RT_EPROTO for an empty body or packet,
 * an unknown type, invalid base64 or text that is not UTF-8 (answer 400 and
 * close the session).
 */
int rt_eio_payload_decode(const char *body, size_t len, size_t max_bytes, rt_eio_payload_t **out);

/* Frees a payload from rt_eio_payload_decode(); NULL is a no-op. */
void rt_eio_payload_free(rt_eio_payload_t *p);

/*
 * Parses the query string of an Engine.IO request (without the '?'): EIO must
 * be "4", transport "polling" or "websocket", and sid, when present and not
 * empty, 1..RT_EIO_SID_MAX_BYTES URL-safe base64 characters. Values are
 * compared as sent (not percent-decoded); other keys are ignored; a repeated
 * EIO, transport or sid is an error. On success fills *q (sid borrowed from
 * query) and returns 0. On failure sets *err to the Engine.IO error to
 * answer with and returns RT_EVERSION (bad EIO, RT_EIO_ERR_UNSUPPORTED_
 * PROTOCOL_VERSION) or RT_EPROTO (bad transport, RT_EIO_ERR_UNKNOWN_TRANSPORT;
 * bad sid, RT_EIO_ERR_UNKNOWN_SID). Checks run in the reference server's
 * order: transport, sid, version.
 */
int rt_eio_parse_query(const char *query, size_t len, rt_eio_query_t *q, rt_eio_error_t *err);

/* ------------------------------------------------------------ encoding */

/* Appends the text packet "<type><data>" (one WebSocket text frame). */
void rt_eio_packet_encode(rt_buf_t *out, rt_eio_type_t type, const char *data, size_t len);

/*
 * Appends one packet to a long-polling GET body under construction in body
 * (which holds nothing else): the separator first unless body is empty, then
 * "<type><data>", or "b" + base64 (RFC 4648 §4, padded) for a binary packet.
 * Text data must not contain RT_EIO_RECORD_SEPARATOR (the README's framing
 * assumes it; JSON text never holds it raw).
 */
void rt_eio_payload_append(rt_buf_t *body, const rt_eio_packet_t *p);

/* Like rt_eio_payload_append() for a text packet already encoded with its
 * type character (such as a shared "42..." event frame). */
void rt_eio_payload_append_encoded(rt_buf_t *body, const char *packet, size_t len);

/* Appends the n packets as a long-polling payload (rt_eio_payload_append()
 * for each); n must be at least 1. */
void rt_eio_payload_encode(rt_buf_t *body, const rt_eio_packet_t *packets, size_t n);

/*
 * Appends the open packet: "0" + the JSON object with exactly the keys sid,
 * upgrades, pingInterval, pingTimeout, maxPayload, in that order (README
 * "Handshake"; the test suite checks the key set).
 */
void rt_eio_open_encode(rt_buf_t *out, const rt_eio_open_t *o);

/* Writes a new random session id: RT_EIO_SID_LEN URL-safe base64 characters
 * (15 bytes from rt_random_bytes) and a NUL. Also fit for Socket.IO's sid and
 * pid. */
void rt_eio_sid_new(char out[RT_EIO_SID_LEN + 1]);

/* ------------------------------------------------------------- errors */

/* Returns the reference server's message for code ("Transport unknown",
 * ...): a static string. */
const char *rt_eio_error_message(rt_eio_error_t code);

/* Returns the HTTP status of a refused request: 403 for RT_EIO_ERR_FORBIDDEN,
 * 400 for every other code. */
int rt_eio_error_status(rt_eio_error_t code);

/* Appends the JSON error body {"code":<code>,"message":"<message>"}. */
void rt_eio_error_body(rt_buf_t *out, rt_eio_error_t code);

#endif
