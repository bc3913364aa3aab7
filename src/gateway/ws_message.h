/*
 * ws_message.h - the parser of the plain WebSocket protocol's client
 * messages (ARCHITECTURE §5.4): one JSON text message in, one checked
 * request out, or a stable error code. Pure: no connection, no registry, so
 * that it can be fuzzed alone (fuzz/ws_message.c).
 */
#ifndef RT_WS_MESSAGE_H
#define RT_WS_MESSAGE_H

#include <jansson.h>
#include <stdint.h>

typedef enum { RT_WSM_SUBSCRIBE, RT_WSM_UNSUBSCRIBE, RT_WSM_PUBLISH, RT_WSM_PING } rt_wsm_type_t;

/* A checked request. Every pointer is borrowed from root, which the message
 * owns; valid until rt_ws_message_close(). */
typedef struct {
    json_t *root;
    rt_wsm_type_t type;
    json_t *id;            /* as the client sent it; JSON null when absent */
    const char *topic;     /* subscribe/unsubscribe: a name or a pattern; publish: a name */
    int pattern;           /* topic is a pattern */
    int64_t since;         /* subscribe: -1 = live only */
    const json_t *payload; /* publish */
} rt_ws_message_t;

/* A refused message: the request id (new reference, JSON null when unknown)
 * and a stable code and message (static strings). */
typedef struct {
    json_t *id;
    const char *code;
    const char *message;
} rt_ws_message_error_t;

/*
 * Parses text[0..len). 0: *out is filled (caller closes it). RT_EINVAL: *err
 * is filled (caller json_decref's err->id). Codes: invalid_message,
 * unknown_type, invalid_topic, invalid_since, since_not_supported,
 * payload_required.
 */
int rt_ws_message_parse(const char *text, size_t len, rt_ws_message_t *out,
                        rt_ws_message_error_t *err);
void rt_ws_message_close(rt_ws_message_t *m);

#endif
