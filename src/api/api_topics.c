/*
 * This file implements the topic resources of ARCHITECTURE §5.2: create,
 * list, read, patch (description, retention, compatibility,
 * activeSchemaVersion) and delete.
 */
#include "api/api_internal.h"

#include <string.h>

#define APP   (c->params[0])
#define ENV   (c->params[1])
#define TOPIC (c->params[2])

static void topic_invalid(api_call_t *c, const char *message)
{
    rt_api_error(c, 400, "invalid_field", message, json_pack("[{s:s}]", "message", message));
}

void rt_api_topics_create(api_call_t *c)
{
    json_t *out = NULL;
    const char *err = NULL;
    api_pending_t *p = rt_api_pending(c, 201, NULL);
    int rc = rt_registry_topic_create(c->api->registry, APP, ENV, c->body, &out, &err,
                                      rt_api_pending_done, p);
    if (rt_api_submitted(p, rc, out) == 0)
        return;
    if (rc == RT_EINVAL)
        topic_invalid(c, err);
    else
        rt_api_registry_fail(c, rc, rc == RT_ENOENT ? "environment" : "topic");
}

void rt_api_topics_list(api_call_t *c)
{
    size_t limit;
    char after[API_PARAM_MAX_BYTES];
    if (rt_api_paging(c, &limit, after, sizeof(after)) != 0)
        return;
    rt_api_reply(
        c, 200, rt_registry_topic_list(c->api->registry, APP, ENV, after[0] ? after : NULL, limit));
}

void rt_api_topic_get(api_call_t *c)
{
    rt_topic_t *t = rt_registry_topic_get(c->api->registry, APP, ENV, TOPIC);
    if (t == NULL) {
        rt_api_error(c, 404, "topic_not_found", "topic not found", NULL);
        return;
    }
    json_t *j = rt_registry_topic_json(c->api->registry, t);
    rt_topic_release(t);
    rt_api_reply(c, 200, j);
}

void rt_api_topic_patch(api_call_t *c)
{
    json_t *out = NULL;
    const char *err = NULL;
    api_pending_t *p = rt_api_pending(c, 200, NULL);
    int rc = rt_registry_topic_patch(c->api->registry, APP, ENV, TOPIC, c->body, &out, &err,
                                     rt_api_pending_done, p);
    if (rt_api_submitted(p, rc, out) == 0)
        return;
    if (rc == RT_EINVAL)
        topic_invalid(c, err);
    else if (rc == RT_ENOENT)
        rt_api_error(c, 404, "topic_not_found", "topic not found", NULL);
    else
        rt_api_registry_fail(c, rc, "topic");
}

void rt_api_topic_delete(api_call_t *c)
{
    api_pending_t *p = rt_api_pending(c, 204, NULL);
    int rc = rt_registry_topic_delete(c->api->registry, APP, ENV, TOPIC, rt_api_pending_done, p);
    if (rc == 0)
        return;
    rt_free(p);
    if (rc == RT_ENOENT)
        rt_api_error(c, 404, "topic_not_found", "topic not found", NULL);
    else
        rt_api_registry_fail(c, rc, "topic");
}
