/*
 * libFuzzer target for the `when` language (src/cdc/when.c).
 *
 * Input: an expression, optionally followed by a NUL byte and a JSON object
 * used as the new row. A compiled expression is evaluated against fixed rows
 * of every JSON type for each operation, and against the given row; a
 * failed compile must leave a NUL-terminated error message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/cdc.h"

static const char NEW_ROW[] =
    "{\"id\": 7, \"status\": \"active\", \"amount\": \"150.00\", \"score\": 2.5, "
    "\"big\": \"9007199254740993\", \"flag\": true, \"gone\": null, \"name\": \"\xc3\x9cn\", "
    "\"a\": 1, \"b\": \"x\", \"meta\": {\"kind\": \"vip\", \"n\": [1, 2]}, \"tags\": [\"a\"]}";
static const char OLD_ROW[] = "{\"id\": 7, \"status\": \"pending\", \"amount\": \"-0.5e3\", "
                              "\"a\": null, \"b\": \"X\", \"tags\": [\"a\"]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t len = nul ? (size_t)(nul - data) : size;
    char *src = malloc(len ? len : 1); /* exactly sized, for ASan */
    memcpy(src, data, len);
    char err[RT_CDC_WHEN_ERR_BYTES];
    rt_cdc_when_t *w = NULL;
    if (rt_cdc_when_compile(src, len, &w, err, sizeof(err)) != 0) {
        if (strnlen(err, sizeof(err)) == sizeof(err))
            abort();
        free(src);
        return 0;
    }
    json_t *n = json_loads(NEW_ROW, 0, NULL), *o = json_loads(OLD_ROW, 0, NULL);
    static const char *const ops[] = {"insert", "update", "delete", NULL, "other"};
    volatile int sink = 0;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        sink += rt_cdc_when_eval(w, n, o, ops[i]);
        sink += rt_cdc_when_eval(w, NULL, o, ops[i]);
        sink += rt_cdc_when_eval(w, n, NULL, ops[i]);
    }
    if (nul) {
        json_t *given = json_loadb((const char *)nul + 1, size - len - 1, 0, NULL);
        sink += rt_cdc_when_eval(w, given, o, "update");
        sink += rt_cdc_when_eval(w, given, given, "delete");
        json_decref(given);
    }
    for (size_t i = 0; i < rt_cdc_when_ncolumns(w); i++) {
        unsigned flags;
        sink += (int)strlen(rt_cdc_when_column(w, i, &flags)) + (int)flags;
    }
    (void)sink;
    json_decref(n);
    json_decref(o);
    rt_cdc_when_free(w);
    free(src);
    return 0;
}
