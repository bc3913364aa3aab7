/*
 * This file implements the libFuzzer target of the webhook endpoint body
 * validation (rt_wh_ep_validate, src/webhooks/webhooks_endpoints.c), which
 * sees every POST and PATCH body of E/webhooks/endpoints: url (through
 * libcurl's URL parser), topics (topic patterns), headers (HTTP tokens, no
 * CR/LF), description, enabled, ordered, rateLimit and secret.
 *
 * Input: byte 0 bit 0 picks create or PATCH; the rest is a JSON document
 * (objects only reach the validator, as in the API). Invariants: the result
 * is 0 or RT_EINVAL; RT_EINVAL comes with a non-empty array of
 * {"field","message"} strings, and 0 with nothing; a body accepted for
 * create is accepted for PATCH unless it carries a secret; header values
 * accepted carry no CR or LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhooks_internal.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const json_t *body, int create)
{
    rt_wh_invalid_t inv = {NULL};
    int rc = rt_wh_ep_validate(body, create, &inv);
    CHECK(rc == 0 || rc == RT_EINVAL);
    if (rc == 0) {
        CHECK(inv.details == NULL);
        return 0;
    }
    CHECK(json_is_array(inv.details) && json_array_size(inv.details) > 0);
    size_t i;
    json_t *d;
    json_array_foreach(inv.details, i, d)
    {
        CHECK(json_is_string(json_object_get(d, "field")));
        CHECK(json_is_string(json_object_get(d, "message")));
    }
    json_decref(inv.details);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int create = data[0] & 1;
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    int rc = check(body, create);
    if (rc == 0 && create && json_object_get(body, "secret") == NULL)
        CHECK(check(body, 0) == 0);
    if (rc == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(body, "headers"), k, v)
        {
            CHECK(memchr(json_string_value(v), '\r', json_string_length(v)) == NULL);
            CHECK(memchr(json_string_value(v), '\n', json_string_length(v)) == NULL);
        }
    }
    json_decref(body);
    return 0;
}
