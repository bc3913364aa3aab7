/*
 * This file implements the parser of client messages of the plain WebSocket
 * protocol (ARCHITECTURE §5.4, docs/websocket.md): JSON objects with a
 * `type`, an optional `id` echoed in the answer, and per type `topic`,
 * `since` and `payload`. Everything a request needs checked without state is
 * checked here; rights, limits and existence are the gateway's.
 */
#include "gateway/ws_message.h"

#include <string.h>

#include "core/core.h"
#include "registry/registry.h"
#include "topics/topics.h"

static int fail(rt_ws_message_error_t *err, json_t *root, const char *code, const char *message)
{
    json_t *id = root ? json_object_get(root, "id") : NULL;
    err->id = id ? json_incref(id) : json_null();
    err->code = code;
    err->message = message;
    json_decref(root);
    return RT_EINVAL;
}

static const struct {
    const char *name;
    rt_wsm_type_t type;
} types[] = {{"subscribe", RT_WSM_SUBSCRIBE},
             {"unsubscribe", RT_WSM_UNSUBSCRIBE},
             {"publish", RT_WSM_PUBLISH},
             {"ping", RT_WSM_PING}};

/* Reads "topic": names everywhere, patterns where allowed. */
static int read_topic(rt_ws_message_t *m, int allow_pattern)
{
    json_t *t = json_object_get(m->root, "topic");
    const char *s = json_string_value(t);
    size_t n = json_string_length(t);
    if (s == NULL || strlen(s) != n)
        return -1;
    if (rt_registry_topic_name_valid(s, n)) {
        m->topic = s;
        return 0;
    }
    if (allow_pattern && rt_topics_pattern_valid(s, n)) {
        m->topic = s;
        m->pattern = 1;
        return 0;
    }
    return -1;
}

int rt_ws_message_parse(const char *text, size_t len, rt_ws_message_t *out,
                        rt_ws_message_error_t *err)
{
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root))
        return fail(err, NULL, "invalid_message", "messages must be JSON objects");
    const char *type = json_string_value(json_object_get(root, "type"));
    if (type == NULL)
        return fail(err, root, "invalid_message", "type is required");
    rt_ws_message_t m;
    memset(&m, 0, sizeof(m));
    m.root = root;
    m.since = -1;
    size_t i = 0;
    while (i < RT_ARRAY_LEN(types) && strcmp(types[i].name, type) != 0)
        i++;
    if (i == RT_ARRAY_LEN(types))
        return fail(err, root, "unknown_type",
                    "type must be subscribe, unsubscribe, publish or ping");
    m.type = types[i].type;
    json_t *id = json_object_get(root, "id");
    m.id = id ? id : json_null();
    if (m.type == RT_WSM_PING) {
        *out = m;
        return 0;
    }
    if (read_topic(&m, m.type != RT_WSM_PUBLISH) != 0)
        return fail(err, root, "invalid_topic",
                    m.type == RT_WSM_PUBLISH
                        ? "topic must be a topic name"
                        : "topic must be a topic name or pattern (`*` one segment, `>` one or "
                          "more at the end)");
    if (m.type == RT_WSM_SUBSCRIBE) {
        json_t *since = json_object_get(root, "since");
        if (since && !json_is_null(since)) {
            if (!json_is_integer(since) || json_integer_value(since) < 0)
                return fail(err, root, "invalid_since", "since must be a non-negative seq");
            if (m.pattern)
                return fail(err, root, "since_not_supported",
                            "since needs an exact topic: seqs are per topic");
            m.since = json_integer_value(since);
        }
    }
    if (m.type == RT_WSM_PUBLISH) {
        m.payload = json_object_get(root, "payload");
        if (m.payload == NULL)
            return fail(err, root, "payload_required", "publish needs a payload");
    }
    *out = m;
    return 0;
}

void rt_ws_message_close(rt_ws_message_t *m)
{
    json_decref(m->root);
    m->root = NULL;
}
