/*
 * schema_internal.h - private to src/schema/: the compiled validator graph,
 * the compile-time helpers shared by the compiler, the metaschema checker
 * and the validator (arena, pointer map, URIs, JSON pointers, exact numbers,
 * ECMA-262 regular expressions on PCRE2, formats). Nothing outside
 * src/schema/ (except its unit tests) may include this header.
 *
 * Private types are named sc_*; functions shared between the module's files
 * are rt_schema_* so that every exported symbol carries the project prefix.
 */
#ifndef RT_SCHEMA_INTERNAL_H
#define RT_SCHEMA_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "core/core.h"
#include "schema/schema.h"

/* ============================================================= dialects */

enum { SC_DRAFT07 = 7, SC_DRAFT2020 = 2020 };

/* 2020-12 vocabularies (§8.1.2 of the core spec); draft-07 has them all. */
enum {
    SC_VOC_CORE = 1u << 0,
    SC_VOC_APPLICATOR = 1u << 1,
    SC_VOC_UNEVALUATED = 1u << 2,
    SC_VOC_VALIDATION = 1u << 3,
    SC_VOC_METADATA = 1u << 4,
    SC_VOC_FORMAT_ANNOTATION = 1u << 5,
    SC_VOC_FORMAT_ASSERTION = 1u << 6,
    SC_VOC_CONTENT = 1u << 7,
    SC_VOC_DEFAULT = 0xffu & ~(1u << 6) /* the 2020-12 metaschema's set */
};

/* The rules a schema resource is read with: which draft and, for 2020-12,
 * which vocabularies its metaschema enables. */
typedef struct sc_dialect_s {
    int draft;      /* SC_DRAFT07 or SC_DRAFT2020 */
    unsigned vocab; /* SC_VOC_* bits */
} sc_dialect_t;

/* Returns 1 and *out for one of the two built-in dialect URIs (with or
 * without a trailing "#", http or https), else 0. */
int rt_schema_dialect_known(const char *uri, sc_dialect_t *out);

/* Returns 1 if uri (no fragment) names a built-in metaschema or one of the
 * 2020-12 vocabulary metaschemas, setting *out to the dialect and the
 * vocabularies it checks. */
int rt_schema_metaschema_builtin(const char *uri, sc_dialect_t *out);

/* ================================================================ arena */

/* A bump allocator that owns every byte of a compiled graph; freed whole. */
typedef struct sc_arena_s {
    struct sc_chunk_s *head;
} sc_arena_t;

/* Returns n zeroed bytes aligned for any type; valid until the arena is freed. */
void *rt_schema_arena_alloc(sc_arena_t *a, size_t n);
/* Copies n bytes of s plus a NUL terminator into the arena. */
char *rt_schema_arena_strndup(sc_arena_t *a, const char *s, size_t n);
void rt_schema_arena_free(sc_arena_t *a);

/* ========================================================== pointer map */

/* An open-addressing map from object addresses to pointers (compile time
 * only: json_t * → its index entry). Not thread-safe. */
typedef struct sc_ptrmap_s {
    struct sc_ptrslot_s *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
} sc_ptrmap_t;

void *rt_schema_ptrmap_get(const sc_ptrmap_t *m, const void *key);
void rt_schema_ptrmap_put(sc_ptrmap_t *m, const void *key, void *value);
void rt_schema_ptrmap_close(sc_ptrmap_t *m);

/* ======================================================== URIs, pointers */

/* Resolves reference ref against base (RFC 3986 §5.2, dot segments removed)
 * into out (reset first). base may be "" (no base: ref is kept relative). */
void rt_schema_uri_resolve(const char *base, const char *ref, rt_buf_t *out);

/* Returns the length of uri without its fragment (the offset of '#', or strlen). */
size_t rt_schema_uri_nofrag_len(const char *uri);

/* Writes "/" and tok (n bytes) escaped as a JSON pointer token (RFC 6901
 * §3) to out, which has room for 2 * n + 1 bytes (every byte escaped, at
 * worst); returns the bytes written. No NUL. */
size_t rt_schema_ptr_escape(char *out, const char *tok, size_t n);

/* Writes "/" and the decimal index i to the end of digits; returns where it
 * starts (it ends at digits + RT_SCHEMA_INDEX_BYTES). */
#define RT_SCHEMA_INDEX_BYTES 24
const char *rt_schema_ptr_index(char digits[RT_SCHEMA_INDEX_BYTES], size_t i);

/* Appends "/" and tok (n bytes) escaped as a JSON pointer token (RFC 6901 §3). */
void rt_schema_ptr_push(rt_buf_t *b, const char *tok, size_t n);

/* Appends "/" and the decimal index i. */
void rt_schema_ptr_push_index(rt_buf_t *b, size_t i);

/* Looks up a URI fragment that is a JSON pointer ("" or "/…", percent-
 * encoded, RFC 6901 §6) in doc. Returns the value (borrowed from doc) or NULL.
 * *last_schema, if not NULL, receives the deepest value on the path for
 * which is_known(ctx, value) returned 1 (the root counts). */
const json_t *rt_schema_ptr_resolve(const json_t *doc, const char *frag, size_t len,
                                    int (*is_known)(void *ctx, const json_t *v), void *ctx,
                                    const json_t **last_known);

/* ====================================================== error recording */

/* Writing one unit into an rt_schema_errors_t (schema_errors.c): open, then
 * for each of instanceLocation, keywordLocation, message in that order put*
 * its bytes and end_string. */
void rt_schema_errors_open(rt_schema_errors_t *e);
void rt_schema_errors_put(rt_schema_errors_t *e, const char *s, size_t n);
/* Appends "/" and tok (n bytes) escaped as a JSON pointer token (RFC 6901 §3). */
void rt_schema_errors_put_ptr(rt_schema_errors_t *e, const char *tok, size_t n);
/* Appends "/" and the decimal index i. */
void rt_schema_errors_put_index(rt_schema_errors_t *e, size_t i);
/* The string being written so far (*len bytes), to fix up in place. */
char *rt_schema_errors_string(rt_schema_errors_t *e, size_t *len);
void rt_schema_errors_end_string(rt_schema_errors_t *e);
/* Removes the last complete unit. */
void rt_schema_errors_drop_last(rt_schema_errors_t *e);

/* ========================================================= documents */

/*
 * A read-only JSON document as the validator walks it (schema_doc.c): compact
 * 16-byte values whose arrays and object members are contiguous, all in one
 * arena per document. Strings point into the input when they have no escape
 * (so the input must outlive the document) and into the arena otherwise;
 * they are valid UTF-8 and not NUL-terminated. Objects have unique keys, in
 * input order; those with at least SC_DOC_INDEX_MIN_MEMBERS members carry a
 * hash index of their keys right after the member array.
 */
enum {
    SC_V_NULL,
    SC_V_FALSE,
    SC_V_TRUE,
    SC_V_INT,
    SC_V_REAL,
    SC_V_STRING,
    SC_V_ARRAY,
    SC_V_OBJECT
};

/* Objects this large get a key index; smaller ones are scanned. */
#define SC_DOC_INDEX_MIN_MEMBERS 16

typedef struct sc_val_s sc_val_t;
typedef struct sc_member_s sc_member_t;

struct sc_val_s {
    uint8_t type; /* SC_V_* */
    uint32_t n;   /* string: bytes; array: items; object: members */
    union {
        int64_t i;                  /* SC_V_INT */
        double d;                   /* SC_V_REAL: finite */
        const char *s;              /* SC_V_STRING */
        const sc_val_t *items;      /* SC_V_ARRAY */
        const sc_member_t *members; /* SC_V_OBJECT */
    } u;
};

struct sc_member_s {
    const char *key; /* valid UTF-8, klen bytes, not NUL-terminated */
    uint32_t klen;
    sc_val_t val;
};

/* A document's storage: a bump arena (a caller-supplied first block, then
 * heap chunks) and the parser's stack of pending container members. */
typedef struct sc_doc_s {
    char *cur, *end;            /* free part of the current block */
    struct sc_dchunk_s *chunks; /* heap chunks, newest first */
    size_t next_chunk;          /* size of the next heap chunk, bytes */
    sc_member_t *stack;         /* pending members of open containers */
    size_t stack_cap;           /* entries */
    sc_member_t *stack_local;   /* caller-supplied first stack, or NULL */
} sc_doc_t;

/* Prepares d with optional caller-owned first blocks (NULL/0: none) for the
 * arena and the parser stack; valid until rt_schema_doc_close(). */
void rt_schema_doc_init(sc_doc_t *d, void *block, size_t block_bytes, sc_member_t *stack,
                        size_t stack_entries);
/* Frees the heap chunks; d must be initialised again before reuse. */
void rt_schema_doc_close(sc_doc_t *d);

/*
 * Parses data (len bytes, borrowed: strings point into it) as one strict
 * RFC 8259 JSON text with jansson's acceptance under JSON_DECODE_ANY |
 * JSON_REJECT_DUPLICATES: no duplicate keys, no "\u0000", no lone
 * surrogate, valid UTF-8, integers within int64, finite reals, at most
 * RT_SCHEMA_DOC_MAX_DEPTH nested containers. Returns 0 and *out (valid until
 * d is closed and while data lives), RT_EPROTO if data is not such JSON, or
 * RT_ETOOBIG above RT_SCHEMA_DOC_MAX_BYTES.
 */
int rt_schema_doc_parse(sc_doc_t *d, const char *data, size_t len, sc_val_t *out);

/* Converts a jansson value (borrowed: strings point into it) into d. */
void rt_schema_doc_from_json(sc_doc_t *d, const json_t *j, sc_val_t *out);

/* Converts v back into a new jansson value (caller json_decref()s it). */
json_t *rt_schema_doc_to_json(const sc_val_t *v);

/* Byte equality of two n-byte strings: the first byte settles most
 * mismatches of names without a call to memcmp(). */
static inline int rt_schema_bytes_eq(const char *a, const char *b, size_t n)
{
    return n == 0 || (a[0] == b[0] && memcmp(a, b, n) == 0);
}

/* FNV-1a of a member name: the one hash of the property tables (built by
 * schema_compile.c, probed by schema_validate.c) and the document key index
 * (schema_doc.c). Tables built and probed must use the same function. */
static inline uint32_t rt_schema_name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* The member value of object o named k (klen bytes), or NULL. */
const sc_val_t *rt_schema_val_get(const sc_val_t *o, const char *k, size_t klen);
/* The same, trying member *hint first and leaving *hint just after the
 * member found: names looked up in the order the object has them cost one
 * comparison each. */
const sc_val_t *rt_schema_val_find(const sc_val_t *o, const char *k, size_t klen, size_t *hint);

/* ============================================================= numbers */

/* A JSON number as jansson holds it: an int64 or a double. */
typedef struct sc_num_s {
    int is_int;
    int64_t i;
    double d;
} sc_num_t;

/* A finite decimal mant × 10^exp with at most 17 significant digits. */
typedef struct sc_dec_s {
    uint64_t mant;
    int exp;
} sc_dec_t;

/* Returns 1 and *out if j is a number, else 0. */
int rt_schema_num_get(const json_t *j, sc_num_t *out);
/* Exact comparison of two numbers: <0, 0, >0 (no rounding through double). */
int rt_schema_num_cmp(const sc_num_t *a, const sc_num_t *b);
/* Returns 1 if j is an integer in the JSON Schema sense (1 and 1.0). */
int rt_schema_num_is_integer(const json_t *j);
/* The shortest decimal that reads back as n (|n|; the sign is dropped). */
void rt_schema_num_decimal(const sc_num_t *n, sc_dec_t *out);
/* Returns 1 if x is an integer multiple of the divisor whose decimal is m
 * (m > 0), computed exactly on the decimals (0.0075 is a multiple of 0.0001). */
int rt_schema_num_multiple_of(const sc_num_t *x, const sc_num_t *m, const sc_dec_t *mdec);
/* Writes n as text (shortest round-trip for doubles) into out. */
void rt_schema_num_text(const sc_num_t *n, char out[32]);

/* JSON equality as JSON Schema defines it (1 == 1.0; objects unordered). */
int rt_schema_json_equal(const json_t *a, const json_t *b);
/* A hash consistent with rt_schema_json_equal. */
uint64_t rt_schema_json_hash(const json_t *a);
/* Returns the index pair (*i < *j) of the first two equal items of array a,
 * or 0 if all items are distinct. */
int rt_schema_json_dup(const json_t *a, size_t *i, size_t *j);

/* The same four on document values. */
int rt_schema_val_num(const sc_val_t *v, sc_num_t *out);
int rt_schema_val_is_integer(const sc_val_t *v);
int rt_schema_val_equal(const sc_val_t *a, const sc_val_t *b);
int rt_schema_val_dup(const sc_val_t *a, size_t *i, size_t *j);

/* Returns 1 if s (n bytes) is well-formed UTF-8 (RFC 3629), else 0. */
int rt_schema_utf8_valid(const char *s, size_t n);
/* Replaces each byte of s (n bytes) that is not part of a well-formed UTF-8
 * sequence with '?'. */
void rt_schema_utf8_repair(char *s, size_t n);

/* Number of Unicode code points in valid UTF-8 s (n bytes). */
size_t rt_schema_utf8_len(const char *s, size_t n);

/* ====================================================== regex (PCRE2) */

/*
 * Compiles an ECMA-262 regular expression (UTF-8, n bytes) to PCRE2 with the
 * ECMA behaviour described in docs/schema.md (\s, \S, `.`, `$`, \d, \w,
 * \u escapes, long Unicode property names, no PCRE-only syntax). Returns 0
 * and *out (free with pcre2_code_free()), or RT_EINVAL with a reason in err.
 */
int rt_schema_regex_compile(const char *src, size_t n, pcre2_code **out, rt_buf_t *err);

/* Returns 1 if re finds a match anywhere in s (n bytes), 0 if not (or if the
 * match limit was hit, or s is not valid UTF-8). utf8_checked: s is known to
 * be valid UTF-8 (PCRE2 skips its own scan; passing 1 for invalid UTF-8 is
 * undefined). Thread-safe (per-thread match data). */
int rt_schema_regex_search(const pcre2_code *re, const char *s, size_t n, int utf8_checked);

/* ============================================================== formats */

/* Checks a string (n bytes, valid UTF-8) against one format; 1 if valid. */
typedef int (*sc_format_fn)(const char *s, size_t n);

/* Returns the checker for a format name, or NULL for an unknown format. */
sc_format_fn rt_schema_format_lookup(const char *name);

/* ============================================================ checking */

/*
 * Checks doc, a schema read with dialect d, as that dialect's metaschema
 * would, appending {"keywordLocation": prefix + pointer, "message"} objects
 * to errors (at most max in all; errors may be NULL to only count).
 * Returns the number of problems found (capped at max).
 */
size_t rt_schema_check(const json_t *doc, sc_dialect_t d, const char *prefix, json_t *errors,
                       size_t max);

/* ===================================================== compiled graph */

typedef struct sc_node_s sc_node_t;

/* A schema resource as validation sees it: for the dynamic scope of
 * $dynamicRef (2020-12 core §8.2.3.2), its $dynamicAnchor names. */
typedef struct sc_res_s {
    size_t ndyn;
    const char **dyn_names;
    const sc_node_t **dyn_nodes;
} sc_res_t;

enum sc_op {
    SC_OP_TYPE,
    SC_OP_CONST,
    SC_OP_ENUM,
    SC_OP_MULTIPLE_OF,
    SC_OP_MAXIMUM,
    SC_OP_EXCL_MAXIMUM,
    SC_OP_MINIMUM,
    SC_OP_EXCL_MINIMUM,
    SC_OP_MAX_LENGTH,
    SC_OP_MIN_LENGTH,
    SC_OP_PATTERN,
    SC_OP_FORMAT,
    SC_OP_MAX_ITEMS,
    SC_OP_MIN_ITEMS,
    SC_OP_UNIQUE_ITEMS,
    SC_OP_ITEMS,
    SC_OP_CONTAINS,
    SC_OP_REQUIRED,
    SC_OP_MAX_PROPS,
    SC_OP_MIN_PROPS,
    SC_OP_PROPS,
    SC_OP_PROPERTY_NAMES,
    SC_OP_DEP_REQUIRED,
    SC_OP_DEP_SCHEMAS,
    SC_OP_ALL_OF,
    SC_OP_ANY_OF,
    SC_OP_ONE_OF,
    SC_OP_NOT,
    SC_OP_IF,
    SC_OP_REF,
    SC_OP_DYNREF,
    SC_OP_META,
    SC_OP_UNEVAL_ITEMS,
    SC_OP_UNEVAL_PROPS
};

/* JSON types as a bit set; integer is a subset of number. */
enum {
    SC_T_NULL = 1,
    SC_T_BOOLEAN = 2,
    SC_T_OBJECT = 4,
    SC_T_ARRAY = 8,
    SC_T_NUMBER = 16,
    SC_T_STRING = 32,
    SC_T_INTEGER = 64
};

typedef struct sc_prop_s {
    const char *name;
    size_t len;
    sc_node_t *node;
} sc_prop_t;

typedef struct sc_pat_s {
    const char *src; /* the pattern as written, for keywordLocation */
    pcre2_code *re;
    sc_node_t *node;
} sc_pat_t;

/* properties + patternProperties + additionalProperties: one pass over the
 * instance's members. slots hashes props (index + 1; 0 = empty). */
typedef struct sc_props_s {
    sc_prop_t *props;
    size_t nprops;
    uint32_t *slots;
    size_t nslots; /* power of two, >= 2 * nprops */
    sc_pat_t *pats;
    size_t npats;
    sc_node_t *additional; /* NULL: absent */
} sc_props_t;

/* prefixItems + items (2020-12), or items array + additionalItems (draft-07),
 * or items as one schema (rest only). */
typedef struct sc_items_s {
    const char *prefix_kw;
    sc_node_t **prefix;
    size_t nprefix;
    const char *rest_kw;
    sc_node_t *rest; /* NULL: absent */
} sc_items_t;

typedef struct sc_contains_s {
    sc_node_t *node;
    size_t min, max; /* min 1 and max SIZE_MAX unless given (2020-12 only) */
    int has_min, has_max;
} sc_contains_t;

typedef struct sc_dep_s {
    const char *name;
    const char *const *req; /* dependentRequired: names */
    size_t nreq;
    sc_node_t *node; /* dependentSchemas */
} sc_dep_t;

typedef struct sc_dynref_s {
    sc_node_t *target;  /* the static resolution */
    const char *anchor; /* NULL: no dynamic lookup (behaves as $ref) */
} sc_dynref_t;

typedef struct sc_kw_s {
    uint8_t op;     /* enum sc_op */
    const char *kw; /* the keyword, for keywordLocation */
    union {
        unsigned types;
        sc_num_t num;
        struct {
            sc_num_t num;
            sc_dec_t dec;
        } mult;
        size_t count;
        struct {
            const sc_val_t *val;
            const char *msg; /* the error message, quoting the value */
        } value;
        struct {
            const char *src;
            pcre2_code *re;
        } pattern;
        struct {
            const char *name;
            sc_format_fn fn;
        } format;
        struct {
            const char *const *names;
            const size_t *lens;
            size_t n;
        } req;
        struct {
            sc_dep_t *deps;
            size_t n;
        } deps;
        struct {
            sc_node_t **nodes;
            size_t n;
        } list;
        struct {
            sc_node_t *if_, *then_, *else_;
        } cond;
        sc_node_t *node;
        sc_props_t *props;
        sc_items_t *items;
        sc_contains_t *contains;
        sc_dynref_t *dyn;
        sc_dialect_t meta;
    } u;
} sc_kw_t;

/*
 * One compiled (sub)schema. Invariant: bool_schema >= 0 means nkws == 0.
 * Keywords are in evaluation order: cheap assertions first, in-place
 * applicators after, unevaluated* last (they read the others' annotations).
 */
struct sc_node_s {
    int8_t bool_schema; /* -1: an object schema; 0: false; 1: true */
    uint8_t uneval;     /* has unevaluatedItems/unevaluatedProperties */
    const sc_res_t *res;
    const char *ptr; /* location in its document, for messages */
    sc_kw_t *kws;
    size_t nkws;
};

struct rt_schema_s {
    sc_arena_t arena;
    sc_node_t *root;
    json_t **docs; /* copies of every document the graph points into */
    size_t ndocs;
    pcre2_code **codes;
    size_t ncodes;
    int dynamic;     /* some $dynamicRef needs the dynamic scope */
    sc_doc_t consts; /* const/enum values in document form */
};

#endif
