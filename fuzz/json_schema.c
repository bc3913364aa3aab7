/*
 * libFuzzer target for the schema subsystem: the input is a schema and an
 * instance separated by the first NUL byte (no NUL: the schema is also the
 * instance). Both are parsed by jansson; the schema is compiled (formats as
 * assertions when the input length is odd, with a resolver that answers
 * every remote URI with one small document), the instance is validated with
 * and without error collection, and the instance is also compatibility-
 * checked against the schema as a previous version. No crash, no leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "schema/schema.h"

#define FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

static json_t *fuzz_resolve(void *ctx, const char *uri)
{
    (void)ctx;
    (void)uri;
    return json_loads("{\"$defs\":{\"a\":{\"type\":\"string\",\"maxLength\":3}},"
                      "\"$dynamicAnchor\":\"meta\",\"items\":{\"$dynamicRef\":\"#meta\"}}",
                      0, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul ? (size_t)(nul - data) : size;
    json_t *schema = json_loadb((const char *)data, slen, FLAGS, NULL);
    json_t *inst =
        nul ? json_loadb((const char *)nul + 1, size - slen - 1, FLAGS, NULL) : json_incref(schema);
    if (schema == NULL || inst == NULL)
        goto out;
    rt_schema_opts_t opts = {(int)(size & 1), fuzz_resolve, NULL, NULL};
    rt_schema_t *s = NULL;
    json_t *errors = NULL;
    if (rt_schema_compile(schema, &opts, &s, &errors) == 0) {
        json_t *verrors = NULL;
        int a = rt_schema_validate(s, inst, 0, NULL);
        int b = rt_schema_validate(s, inst, 8, &verrors);
        rt_assert(a == b);
        rt_assert(b == 0 || json_array_size(verrors) > 0);
        json_decref(verrors);
        rt_schema_free(s);
    }
    json_decref(errors);
    json_t *report = NULL;
    const json_t *prev = inst;
    if (rt_schema_compat_check(&prev, 1, schema, "FULL", &report) == 0)
        json_decref(report);
out:
    json_decref(schema);
    json_decref(inst);
    return 0;
}
