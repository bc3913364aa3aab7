/*
 * This file implements the change data capture resources of ARCHITECTURE
 * §5.2: sources (E/sources, E/sources/{name}) and mappings (E/mappings,
 * E/mappings/{name}, E/mappings/{name}/test). Validation, storage and the
 * replication readers live in src/cdc; changes are answered once durable
 * (and, for mappings, once the source's publication is in step).
 */
#include "api/api_internal.h"
#include "cdc/cdc.h"

#include <string.h>

#define APP  (c->params[0])
#define ENV  (c->params[1])
#define NAME (c->params[2])

void rt_api_set_cdc(rt_api_t *api, rt_cdc_t *cdc)
{
    api->cdc = cdc;
}

/* Any thread: hands the answer to the request's worker. */
static void cdc_done(void *arg, int status, json_t *body)
{
    api_pending_t *p = arg;
    rt_api_pending_set_body(p, body);
    rt_api_pending_done(p, status);
}

static int cdc_ready(api_call_t *c)
{
    if (c->api->cdc)
        return 1;
    rt_api_error(c, 503, "unavailable", "change data capture is not running", NULL);
    return 0;
}

/* Answers a create that was refused synchronously. */
static void create_failed(api_call_t *c, int rc, json_t *errors, const char *what)
{
    char msg[96];
    if (rc == RT_EINVAL) {
        snprintf(msg, sizeof(msg), "invalid %s", what);
        rt_api_error(c, 400, "invalid_field", msg, json_incref(errors));
    } else if (rc == RT_EEXIST) {
        snprintf(msg, sizeof(msg), "%s already exists", what);
        rt_api_error(c, 409, "already_exists", msg, NULL);
    } else {
        rt_api_error(c, 503, "unavailable", "the server is shutting down", NULL);
    }
}

void rt_api_sources_create(api_call_t *c)
{
    if (!cdc_ready(c))
        return;
    json_t *errors = json_array();
    api_pending_t *p = rt_api_pending(c, 201, NULL);
    int rc = rt_cdc_source_create(c->api->cdc, APP, ENV, c->body, errors, cdc_done, p);
    if (rc != 0) {
        rt_free(p);
        create_failed(c, rc, errors, "source");
    }
    json_decref(errors);
}

void rt_api_sources_list(api_call_t *c)
{
    if (cdc_ready(c))
        rt_api_reply(c, 200, rt_cdc_source_list(c->api->cdc, APP, ENV));
}

void rt_api_source_get(api_call_t *c)
{
    if (!cdc_ready(c))
        return;
    json_t *j = rt_cdc_source_get(c->api->cdc, APP, ENV, NAME);
    if (j == NULL)
        rt_api_error(c, 404, "not_found", "source not found", NULL);
    else
        rt_api_reply(c, 200, j);
}

/* ?keepSlot=true keeps the replication slot (and publication). */
static int keep_slot(api_call_t *c)
{
    const rt_http_request_t *h = &c->req->head;
    char v[8];
    size_t len;
    if (rt_http_query_get(h->query, h->query_len, "keepSlot", v, sizeof(v), &len) != 0)
        return 0;
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

void rt_api_source_delete(api_call_t *c)
{
    if (!cdc_ready(c))
        return;
    api_pending_t *p = rt_api_pending(c, 200, NULL);
    int rc = rt_cdc_source_delete(c->api->cdc, APP, ENV, NAME, keep_slot(c), cdc_done, p);
    if (rc == 0)
        return;
    rt_free(p);
    if (rc == RT_ENOENT)
        rt_api_error(c, 404, "not_found", "source not found", NULL);
    else if (rc == RT_ESTATE)
        rt_api_error(c, 409, "in_use", "mappings still read from this source: delete them first",
                     NULL);
    else
        rt_api_error(c, 503, "unavailable", "the server is shutting down", NULL);
}

void rt_api_mappings_create(api_call_t *c)
{
    if (!cdc_ready(c))
        return;
    json_t *errors = json_array();
    api_pending_t *p = rt_api_pending(c, 201, NULL);
    int rc = rt_cdc_mapping_create(c->api->cdc, APP, ENV, c->body, errors, cdc_done, p);
    if (rc != 0) {
        rt_free(p);
        create_failed(c, rc, errors, "mapping");
    }
    json_decref(errors);
}

void rt_api_mappings_list(api_call_t *c)
{
    if (cdc_ready(c))
        rt_api_reply(c, 200, rt_cdc_mapping_list(c->api->cdc, APP, ENV));
}

void rt_api_mapping_get(api_call_t *c)
{
    if (!cdc_ready(c))
        return;
    json_t *j = rt_cdc_mapping_get(c->api->cdc, APP, ENV, NAME);
    if (j == NULL)
        rt_api_error(c, 404, "not_found", "mapping not found", NULL);
    else
        rt_api_reply(c, 200, j);
}

void rt_api_mapping_delete(api_call_t *c)
{
    if (!cdc_ready(c))
        return;
    api_pending_t *p = rt_api_pending(c, 204, NULL);
    int rc = rt_cdc_mapping_delete(c->api->cdc, APP, ENV, NAME, cdc_done, p);
    if (rc == 0)
        return;
    rt_free(p);
    if (rc == RT_ENOENT)
        rt_api_error(c, 404, "not_found", "mapping not found", NULL);
    else
        rt_api_error(c, 503, "unavailable", "the server is shutting down", NULL);
}

void rt_api_mapping_test(api_call_t *c)
{
    if (!cdc_ready(c))
        return;
    json_t *out = NULL;
    const char *err = NULL;
    int rc = rt_cdc_mapping_test(c->api->cdc, APP, ENV, NAME, c->body, &out, &err);
    if (rc == RT_ENOENT)
        rt_api_error(c, 404, "not_found", "mapping not found", NULL);
    else if (rc != 0)
        rt_api_error(c, 400, "invalid_field", err, NULL);
    else
        rt_api_reply(c, 200, out);
}
