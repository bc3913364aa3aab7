/*
 * This file implements the operational endpoints: /healthz (the process
 * answers), /readyz (storage is healthy) and /metrics (Prometheus text).
 */
#include "api/api_internal.h"

void rt_api_healthz(api_call_t *c)
{
    rt_api_reply(c, 200, json_pack("{s:s}", "status", "ok"));
}

void rt_api_readyz(api_call_t *c)
{
    rt_store_t *s = rt_registry_store(c->api->registry);
    if (!rt_store_healthy(s)) {
        rt_api_error(c, 503, "not_ready", "storage has failed a commit", NULL);
        return;
    }
    rt_api_reply(
        c, 200,
        json_pack("{s:s, s:i}", "status", "ready", "schemaVersion", rt_store_schema_version(s)));
}

void rt_api_metrics(api_call_t *c)
{
    rt_buf_t b;
    rt_buf_init(&b);
    rt_metrics_render(&b);
    rt_http_respond(c->req, 200, "text/plain; version=0.0.4", NULL, b.data ? b.data : "", b.len);
    rt_buf_close(&b);
    rt_api_call_free(c);
}
