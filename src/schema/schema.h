/*
 * schema.h - the contract of the schema subsystem: a JSON Schema compiler and
 * validator (dialects 2020-12 and draft-07) and a schema compatibility checker
 * with Confluent's semantics (ARCHITECTURE.md §1 "Schema", §2 "schema gate").
 *
 * A schema is compiled once into an immutable validator graph; validating a
 * document walks that graph and never re-reads the schema text. Documents are
 * jansson values or raw JSON bytes. See docs/schema.md for the user-facing rules (dialects,
 * formats, regular expressions, numbers, error shape, compatibility) and
 * docs/internals/schema.md for the design.
 */
#ifndef RT_SCHEMA_H
#define RT_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/core.h"

/* ------------------------------------------------------------- limits */

/* Nested schema evaluations (one per subschema entered) before validation
 * gives up with an error; bounds the C stack on hostile schema/instance pairs. */
#define RT_SCHEMA_MAX_EVAL_DEPTH 512

/* Nesting of a schema document the compiler accepts. */
#define RT_SCHEMA_MAX_COMPILE_DEPTH 512

/* Remote documents one compilation may ask the resolver for. */
#define RT_SCHEMA_MAX_REMOTE_DOCS 64

/* PCRE2 match limit (backtracking steps) for one `pattern` test; a match that
 * exceeds it counts as "does not match" (ReDoS guard). */
#define RT_SCHEMA_REGEX_MATCH_LIMIT 1000000

/* Nested arrays/objects rt_schema_validate_bytes() accepts in a document:
 * jansson's JSON_PARSER_MAX_DEPTH, so both parsers accept the same texts. */
#define RT_SCHEMA_DOC_MAX_DEPTH 2048

/* Largest document rt_schema_validate_bytes() parses, in bytes: 16 times the
 * HTTP API's default body cap. A parse can take up to 32 bytes of memory per
 * input byte ("[1,1,…]"), so this bounds one call to about 512 MiB. */
#define RT_SCHEMA_DOC_MAX_BYTES (16u * 1024 * 1024)

/* A sensible max_errors for rt_schema_validate() on the publish path. */
#define RT_SCHEMA_DEFAULT_MAX_ERRORS 20

/* The $schema URIs of the two supported dialects. */
#define RT_SCHEMA_DIALECT_2020_12  "https://json-schema.org/draft/2020-12/schema"
#define RT_SCHEMA_DIALECT_DRAFT_07 "http://json-schema.org/draft-07/schema#"

/* ----------------------------------------------------------- compiler */

/* A compiled schema: immutable once built, so any number of threads may
 * validate against it at the same time. */
typedef struct rt_schema_s rt_schema_t;

/*
 * Resolver for remote $refs and custom $schema metaschemas: returns a NEW
 * reference to the document for an absolute URI without fragment, or NULL if
 * unknown. Called only during rt_schema_compile(), on the compiling thread.
 */
typedef json_t *(*rt_schema_resolve_fn)(void *ctx, const char *uri);

typedef struct rt_schema_opts_s {
    int format_assert;            /* 1: `format` is an assertion; 0: annotation only */
    rt_schema_resolve_fn resolve; /* NULL: only the built-in metaschemas resolve */
    void *resolve_ctx;            /* passed to resolve */
    const char *default_dialect;  /* dialect URI when a schema has no $schema; NULL = 2020-12 */
} rt_schema_opts_t;

/*
 * Compiles schema (borrowed, only during the call; the compiled schema keeps
 * its own copy) with opts (NULL = defaults). The schema is first checked
 * keyword by keyword as its dialect's metaschema would check it, then its
 * references are resolved (remote ones only through opts->resolve) and the
 * validator graph is built.
 * Returns 0 and *out (caller frees with rt_schema_free()), or RT_EINVAL and
 * *errors = a new array of {"keywordLocation","message"} objects (caller
 * json_decref()s it) naming each problem: metaschema violations, regular
 * expressions PCRE2 cannot compile, unresolvable references, unknown $schema,
 * a $ref cycle that never consumes the instance. errors may be NULL.
 * Any thread; no shared state.
 */
int rt_schema_compile(const json_t *schema, const rt_schema_opts_t *opts, rt_schema_t **out,
                      json_t **errors);

/* ------------------------------------------------------------- errors */

/* One output unit as rt_schema_errors_get() hands it out: three strings,
 * borrowed from the list (valid until it is reset or closed), each valid
 * UTF-8 and NUL-terminated at [len]. */
typedef struct rt_schema_error_s {
    const char *instance_location; /* JSON pointer into the instance */
    size_t instance_location_len;
    const char *keyword_location; /* JSON pointer into the schema */
    size_t keyword_location_len;
    const char *message;
    size_t message_len;
} rt_schema_error_t;

/* Units held inline before the list allocates, and bytes of their strings:
 * one typical error ("/properties/x/type" plus a short message) fits. */
#define RT_SCHEMA_ERRORS_LOCAL_UNITS 2
#define RT_SCHEMA_ERRORS_LOCAL_BYTES 256

/* Where a unit's three strings start in text (and their lengths). */
typedef struct rt_schema_err_unit_s {
    uint32_t off[3], len[3];
} rt_schema_err_unit_t;

/*
 * A list of "basic" output units collected by rt_schema_validate_collect()
 * and rt_schema_validate_bytes_collect(): a compact, caller-allocated
 * structure (usually on the stack) whose first units and bytes live inside
 * it, so recording an error or two costs no allocation; building jansson
 * values is left to callers that want them (rt_schema_errors_to_json()).
 * The fields are private: use the functions below. Invariant: units[0..n)
 * point into text[0..text_len), each string followed by a NUL.
 * Pair: rt_schema_errors_init() / rt_schema_errors_close(). Not thread-safe
 * (one list per validation).
 */
typedef struct rt_schema_errors_s {
    rt_schema_err_unit_t *units; /* local_units until more are needed */
    size_t n, units_cap;
    char *text; /* local_text until more is needed */
    size_t text_len, text_cap;
    int cur; /* while the validator writes units[n]: which of its strings */
    rt_schema_err_unit_t local_units[RT_SCHEMA_ERRORS_LOCAL_UNITS];
    char local_text[RT_SCHEMA_ERRORS_LOCAL_BYTES];
} rt_schema_errors_t;

/* Makes e an empty list. No allocation. */
void rt_schema_errors_init(rt_schema_errors_t *e);

/* Frees what e allocated; e may be NULL. e must be initialized again before
 * reuse. */
void rt_schema_errors_close(rt_schema_errors_t *e);

/* Empties e, keeping its storage for the next validation. */
void rt_schema_errors_reset(rt_schema_errors_t *e);

/* Returns the number of units in e. */
size_t rt_schema_errors_count(const rt_schema_errors_t *e);

/* Sets *out to unit i (i < rt_schema_errors_count(e)); strings borrowed from e. */
void rt_schema_errors_get(const rt_schema_errors_t *e, size_t i, rt_schema_error_t *out);

/*
 * Returns a new jansson array (caller json_decref()s it) of the units as
 * {"instanceLocation","keywordLocation","message"} objects, in that member
 * order: exactly what rt_schema_validate() reports.
 */
json_t *rt_schema_errors_to_json(const rt_schema_errors_t *e);

/*
 * Appends the units to out as compact JSON text, byte for byte what
 * rt_buf_append_json() writes for rt_schema_errors_to_json(e), without
 * building jansson values (for callers that only serialize).
 */
void rt_schema_errors_append_json(const rt_schema_errors_t *e, rt_buf_t *out);

/* ----------------------------------------------------------- validator */

/*
 * Validates instance (borrowed; neither it nor s may be NULL) against s.
 * Returns 0 if valid. Returns RT_EINVAL if invalid and, when errors is not
 * NULL, sets *errors to a new array (caller json_decref()s it; empty when
 * max_errors is 0) of at most max_errors JSON Schema "basic"
 * output units {"instanceLocation":"/a/0","keywordLocation":
 * "/properties/a/items/type","message":"…"}. With errors NULL or max_errors 0
 * validation stops at the first failure (the fastest path).
 * Thread-safe: any number of threads may validate against one s at once.
 */
int rt_schema_validate(const rt_schema_t *s, const json_t *instance, size_t max_errors,
                       json_t **errors);

/*
 * The same on raw JSON bytes (data borrowed, len bytes, no terminator
 * needed): parses them into a per-call arena (far cheaper than jansson) and
 * validates. Returns 0 if valid, RT_EINVAL with *errors as above if invalid,
 * RT_EPROTO if data is not one JSON text as json_loadb() with
 * JSON_DECODE_ANY | JSON_REJECT_DUPLICATES would accept it (errors untouched),
 * RT_ETOOBIG if len > RT_SCHEMA_DOC_MAX_BYTES. Thread-safe like
 * rt_schema_validate().
 */
int rt_schema_validate_bytes(const rt_schema_t *s, const char *data, size_t len, size_t max_errors,
                             json_t **errors);

/*
 * rt_schema_validate() and rt_schema_validate_bytes() with the units
 * collected into errors (initialized by the caller, reset first by the call,
 * still the caller's to close) instead of a jansson array: the same verdicts
 * and return codes, and the same units in the same order (errors is left
 * empty when valid or on RT_EPROTO/RT_ETOOBIG). errors NULL or max_errors 0
 * stops at the first failure. The cheapest way to report errors.
 */
int rt_schema_validate_collect(const rt_schema_t *s, const json_t *instance, size_t max_errors,
                               rt_schema_errors_t *errors);
int rt_schema_validate_bytes_collect(const rt_schema_t *s, const char *data, size_t len,
                                     size_t max_errors, rt_schema_errors_t *errors);

/*
 * Parses data (len bytes) exactly as rt_schema_validate_bytes() does and
 * discards the result: 0 for well-formed JSON, RT_EPROTO or RT_ETOOBIG as
 * above. Any thread.
 */
int rt_schema_json_check(const char *data, size_t len);

/* Frees a compiled schema; NULL is a no-op. No validation may be running on it. */
void rt_schema_free(rt_schema_t *s);

/* ------------------------------------------------------ compatibility */

/*
 * Checks a candidate schema against previous versions (oldest first; all
 * borrowed) under mode, one of "NONE", "BACKWARD", "BACKWARD_TRANSITIVE",
 * "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE" (Confluent's
 * meaning; the non-transitive modes compare with the last version only) and
 * the "strict" policy. Returns 0 and *breaking = a new array (caller
 * json_decref()s it; empty = compatible) of {"kind","path","previousPath",
 * "previousIndex","direction","message"}: kind is a stable rule id such as
 * "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", path a JSON pointer into the
 * candidate, previousPath one into previous[previousIndex], direction
 * "backward" or "forward". Returns RT_EINVAL for an unknown mode.
 * Any thread.
 */
int rt_schema_compat_check(const json_t *const *previous, size_t nprevious, const json_t *candidate,
                           const char *mode, json_t **breaking);

/*
 * The same with an explicit policy: "strict" (Confluent's default) or
 * "lenient" (additionally accepts properties added to or removed from open
 * content models and narrowed additionalProperties). RT_EINVAL for an unknown
 * mode or policy.
 */
int rt_schema_compat_check_policy(const json_t *const *previous, size_t nprevious,
                                  const json_t *candidate, const char *mode, const char *policy,
                                  json_t **breaking);

/* Returns 1 if mode is one of the seven compatibility mode names, else 0. */
int rt_schema_compat_mode_valid(const char *mode);

#endif
