/*
 * sio_codec.h - the pure (no I/O) codec of the Socket.IO protocol v5 (used
 * by socket.io 3.x and 4.x) under the Socket.IO gateway (ARCHITECTURE §5.5).
 * A Socket.IO packet travels as the data of an Engine.IO message packet, so
 * the decoder takes that data and every encoder here writes the whole
 * Engine.IO message: the leading '4', then the Socket.IO packet.
 * Spec: github.com/socketio/socket.io-protocol Readme ("Packet encoding");
 * the decoder's checks are those of the reference parser (socketio/socket.io
 * packages/socket.io-parser, Decoder.decodeString and isPayloadValid), made
 * stricter where the spec says MUST; docs/internals/socketio.md lists each
 * decision. Every function here is thread-safe.
 */
#ifndef RT_SIO_CODEC_H
#define RT_SIO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define RT_SIO_PROTOCOL_VERSION 5

/* Most binary attachments one packet may announce (the reference decoder's
 * `maxAttachments` default). */
#define RT_SIO_MAX_ATTACHMENTS 10

/* Largest ack id: 2^53 - 1, the largest integer a JavaScript client holds
 * exactly (its ids count up from 0). */
#define RT_SIO_MAX_ACK_ID 9007199254740991LL

/* Longest namespace accepted, in bytes. */
#define RT_SIO_MAX_NSP_BYTES 512

/* Packet types (Readme "Exchange protocol"). */
typedef enum {
    RT_SIO_CONNECT = 0,
    RT_SIO_DISCONNECT = 1,
    RT_SIO_EVENT = 2,
    RT_SIO_ACK = 3,
    RT_SIO_CONNECT_ERROR = 4,
    RT_SIO_BINARY_EVENT = 5,
    RT_SIO_BINARY_ACK = 6
} rt_sio_type_t;

/*
 * One Socket.IO packet. Decoded: nsp is borrowed from the decoded text (or
 * the static "/"), valid until that text is freed, and not NUL-terminated;
 * data is owned by the packet, released by rt_sio_packet_close(). Given to an
 * encoder: every field is borrowed for the call.
 */
typedef struct rt_sio_packet_s {
    rt_sio_type_t type;
    const char *nsp; /* starts with '/', holds no ','; "/" is the main namespace */
    size_t nsp_len;
    int64_t ack_id;  /* -1: none; else 0 .. RT_SIO_MAX_ACK_ID */
    int attachments; /* BINARY_*: binary frames that follow; else 0 */
    json_t *data;    /* NULL: no payload */
} rt_sio_packet_t;

/* An EVENT whose single argument is already-encoded JSON, for fan-out. All
 * strings borrowed for the call; arg_json is copied as is, not parsed. */
typedef struct rt_sio_raw_event_s {
    const char *nsp;
    size_t nsp_len;
    const char *name; /* event name (UTF-8), JSON-escaped on output */
    size_t name_len;
    const char *arg_json; /* one complete JSON value */
    size_t arg_len;
    const char *offset; /* connection state recovery offset; NULL: none */
    size_t offset_len;
} rt_sio_raw_event_t;

/*
 * Decodes the data of one Engine.IO text message,
 * `<type>[<#attachments>-][<namespace>,][<ack id>][<JSON payload>]`
 * (Readme "Packet encoding / Format"). The namespace runs from a leading '/'
 * to the first ',' or the end. The payload must be: CONNECT, absent or an
 * object; DISCONNECT, absent; EVENT and BINARY_EVENT, a non-empty array whose
 * first element is a number or a string other than the reserved connect,
 * connect_error, disconnect, disconnecting, newListener, removeListener;
 * ACK and BINARY_ACK, an array; CONNECT_ERROR, absent, a string or an object.
 * In BINARY_* packets every {"_placeholder":true} object needs an integer
 * "num" below the attachment count. JSON is parsed with duplicate keys and
 * "\u0000" refused, as on the HTTP API.
 * On success fills *out (see rt_sio_packet_t for ownership) and returns 0;
 * otherwise returns RT_EPROTO (the spec says to close the connection).
 */
int rt_sio_packet_decode(const char *s, size_t len, rt_sio_packet_t *out);

/* Releases a decoded packet's data and sets it to NULL; NULL p is a no-op. */
void rt_sio_packet_close(rt_sio_packet_t *p);

/*
 * If p is an EVENT or BINARY_EVENT named by a string, points *name (borrowed
 * from p->data, valid until the packet is closed) and *len at it and returns
 * 0; returns RT_ENOENT for a numeric event name or another packet type.
 */
int rt_sio_event_name(const rt_sio_packet_t *p, const char **name, size_t *len);

/*
 * Appends the Engine.IO message carrying p: "4" +
 * `<type>[<attachments>-][<nsp>,][<ack id>][<JSON data>]`, the namespace
 * omitted for "/" (or nsp_len 0), as the reference encoder writes it.
 */
void rt_sio_packet_encode(rt_buf_t *out, const rt_sio_packet_t *p);

/*
 * Appends the CONNECT reply `40[<nsp>,]{"sid":"…"[,"pid":"…"]}`; sid and
 * pid are NUL-terminated, pid NULL when connection state recovery is off
 * (socket.io 4.6 adds pid for it). socket.io-client refuses a reply without
 * sid.
 */
void rt_sio_encode_connect(rt_buf_t *out, const char *nsp, size_t nsp_len, const char *sid,
                           const char *pid);

/* Appends the refusal `44[<nsp>,]{"message":"…"[,"data":…]}` (message
 * NUL-terminated; data borrowed, NULL for none), as socket.io's Namespace
 * sends a middleware error. */
void rt_sio_encode_connect_error(rt_buf_t *out, const char *nsp, size_t nsp_len,
                                 const char *message, const json_t *data);

/*
 * Appends `42[<nsp>,]["<name>",<arg_json>[,"<offset>"]]` without parsing
 * arg_json, so one event fanned out to many connections costs one copy of
 * its envelope. The offset goes last, as socket.io 4.6's session-aware
 * adapter appends it and socket.io-client reads it back.
 */
void rt_sio_encode_raw_event(rt_buf_t *out, const rt_sio_raw_event_t *ev);

#endif
