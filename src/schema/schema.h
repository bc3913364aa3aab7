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

#include <jansson.h>

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
