/*
 * schema_bench.c - This file implements our side of bench/schema: how many
 * JSON documents per second the platform can take from raw bytes to a schema
 * verdict, the job of the schema gate on the publish path (ARCHITECTURE.md §2).
 * One iteration is rt_schema_validate_bytes_collect() (parse into a per-call
 * arena, then validate) with the error cap of rt_topic_publish(), recording
 * the error units into a fresh rt_schema_errors_t (init, collect, close: the
 * units' locations and messages are built every time, as ajv builds its
 * error objects; no jansson values are made from them). The schema is compiled once, outside the
 * timed loop, as the server caches it per topic version.
 *
 * Usage: schema_bench [--seconds S] [--format-assert 0|1] [--max-errors N]
 *                     [--parse-only 0|1|2] SCHEMA.json INSTANCE.json
 * Prints one line "valid|invalid OPS_PER_SEC ITERATIONS" on stdout ("parsed"
 * with --parse-only 1, which times the parse alone, rt_schema_json_check(),
 * or jansson's json_loadb() + json_decref() with --parse-only 2); exit 0, or
 * 1 with a message on stderr when an input cannot be read or compiled or the
 * verdict changes between iterations. bench/schema/run.sh runs it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "schema/schema.h"

/* The jansson flags of the publish path (src/api/api_router.c), for the
 * jansson parse-only row. */
#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* Untimed warm-up before each measurement, as a share of the timed part. */
#define WARMUP_SHARE 0.15

/* A timed batch grows until it lasts at least this long, so reading the clock
 * costs nothing measurable. */
#define MIN_BATCH_NS 5000000ull

typedef struct opts_s {
    double seconds;
    int format_assert;
    size_t max_errors;
    int parse_only;
    const char *schema_path;
    const char *instance_path;
} opts_t;

typedef struct job_s {
    const rt_schema_t *schema;
    const char *bytes;
    size_t len;
    size_t max_errors;
    int parse_only;
    int verdict; /* 0 valid, RT_EINVAL invalid: what every iteration must give */
} job_t;

static int read_file(const char *path, char **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "schema_bench: %s: %s\n", path, strerror(errno));
        return RT_EIO;
    }
    rt_buf_t b;
    rt_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rt_buf_append(&b, chunk, n);
    int rc = ferror(f) ? RT_EIO : 0;
    fclose(f);
    if (rc != 0) {
        fprintf(stderr, "schema_bench: %s: read error\n", path);
        rt_buf_close(&b);
        return rc;
    }
    *out = rt_buf_steal(&b, out_len);
    return 0;
}

/* One iteration: parse, validate, free. Returns the verdict, or RT_EPROTO
 * when the bytes are not JSON. */
static int one(const job_t *j)
{
    if (j->parse_only == 1)
        return rt_schema_json_check(j->bytes, j->len);
    if (j->parse_only == 2) {
        json_t *doc = json_loadb(j->bytes, j->len, LOAD_FLAGS, NULL);
        json_decref(doc);
        return doc ? 0 : RT_EPROTO;
    }
    rt_schema_errors_t errors;
    rt_schema_errors_init(&errors);
    int rc = rt_schema_validate_bytes_collect(j->schema, j->bytes, j->len, j->max_errors, &errors);
    /* a unit must really be there when the instance is invalid */
    if (rc == RT_EINVAL && rt_schema_errors_count(&errors) == 0 && j->max_errors > 0)
        rc = RT_EIO;
    rt_schema_errors_close(&errors);
    return rc;
}

/* Runs n iterations; returns 0, or -1 if a verdict differs from j->verdict. */
static int batch(const job_t *j, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (one(j) != j->verdict)
            return -1;
    }
    return 0;
}

/* Runs batches for about seconds; sets *iters and *elapsed_ns. */
static int timed(const job_t *j, double seconds, uint64_t *iters, uint64_t *elapsed_ns)
{
    uint64_t budget = (uint64_t)(seconds * 1e9), n = 1, done = 0;
    uint64_t t0 = rt_mono_ns(), now = t0;
    while (now - t0 < budget) {
        uint64_t b0 = now;
        if (batch(j, n) != 0)
            return -1;
        done += n;
        now = rt_mono_ns();
        if (now - b0 < MIN_BATCH_NS)
            n *= 2;
    }
    *iters = done;
    *elapsed_ns = now - t0;
    return 0;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return RT_EINVAL;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    o->seconds = 1.5;
    o->format_assert = 0;
    o->max_errors = RT_SCHEMA_DEFAULT_MAX_ERRORS;
    o->parse_only = 0;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        double v;
        if (strcmp(argv[i], "--seconds") == 0 && parse_num(argv[i + 1], 0.01, 600, &v) == 0)
            o->seconds = v;
        else if (strcmp(argv[i], "--format-assert") == 0 && parse_num(argv[i + 1], 0, 1, &v) == 0)
            o->format_assert = v != 0;
        else if (strcmp(argv[i], "--max-errors") == 0 && parse_num(argv[i + 1], 0, 1000, &v) == 0)
            o->max_errors = (size_t)v;
        else if (strcmp(argv[i], "--parse-only") == 0 && parse_num(argv[i + 1], 0, 2, &v) == 0)
            o->parse_only = (int)v;
        else
            return RT_EINVAL;
    }
    if (argc - i != 2)
        return RT_EINVAL;
    o->schema_path = argv[i];
    o->instance_path = argv[i + 1];
    return 0;
}

static int compile(const char *path, int format_assert, rt_schema_t **out)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        fprintf(stderr, "schema_bench: %s:%d: %s\n", path, jerr.line, jerr.text);
        return RT_EINVAL;
    }
    rt_schema_opts_t so = {format_assert, NULL, NULL, NULL};
    json_t *errors = NULL;
    int rc = rt_schema_compile(doc, &so, out, &errors);
    if (rc != 0) {
        char *text = errors ? json_dumps(errors, JSON_COMPACT) : NULL;
        fprintf(stderr, "schema_bench: %s does not compile: %s\n", path, text ? text : "?");
        free(text);
    }
    json_decref(errors);
    json_decref(doc);
    return rc;
}

static int run(const opts_t *o, rt_schema_t *s, const char *bytes, size_t len)
{
    job_t j = {s, bytes, len, o->max_errors, o->parse_only, 0};
    j.verdict = one(&j);
    if (j.verdict == RT_EPROTO) {
        fprintf(stderr, "schema_bench: %s is not JSON\n", o->instance_path);
        return -1;
    }
    uint64_t iters, ns;
    if (timed(&j, o->seconds * WARMUP_SHARE, &iters, &ns) != 0 ||
        timed(&j, o->seconds, &iters, &ns) != 0) {
        fprintf(stderr, "schema_bench: the verdict changed between iterations\n");
        return -1;
    }
    const char *verdict = j.parse_only ? "parsed" : j.verdict == 0 ? "valid" : "invalid";
    printf("%s %.1f %llu\n", verdict, (double)iters * 1e9 / (double)ns, (unsigned long long)iters);
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: schema_bench [--seconds S] [--format-assert 0|1] "
                        "[--max-errors N] [--parse-only 0|1|2] SCHEMA.json INSTANCE.json\n");
        return 1;
    }
    rt_schema_t *s = NULL;
    char *bytes = NULL;
    size_t len = 0;
    int rc = 1;
    if (compile(o.schema_path, o.format_assert, &s) != 0 ||
        read_file(o.instance_path, &bytes, &len) != 0)
        goto cleanup;
    rc = run(&o, s, bytes, len) == 0 ? 0 : 1;
cleanup:
    rt_free(bytes);
    rt_schema_free(s);
    return rc;
}
