/*
 * libFuzzer target over the WebSocket gateway's client message parser
 * (src/gateway/ws_message.c): arbitrary bytes as one text message. Checks
 * that a parsed request is self-consistent and that nothing leaks.
 */
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "gateway/ws_message.h"
#include "registry/registry.h"
#include "topics/topics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt_ws_message_t m;
    rt_ws_message_error_t err;
    if (rt_ws_message_parse((const char *)data, size, &m, &err) != 0) {
        rt_assert(err.code != NULL && err.message != NULL && err.id != NULL);
        json_decref(err.id);
        return 0;
    }
    rt_assert(m.id != NULL);
    if (m.type != RT_WSM_PING) {
        size_t n = strlen(m.topic);
        rt_assert(m.pattern ? rt_topics_pattern_valid(m.topic, n)
                            : rt_registry_topic_name_valid(m.topic, n));
    }
    if (m.type == RT_WSM_PUBLISH)
        rt_assert(m.payload != NULL && !m.pattern);
    if (m.type == RT_WSM_SUBSCRIBE && m.since >= 0)
        rt_assert(!m.pattern);
    rt_ws_message_close(&m);
    return 0;
}
