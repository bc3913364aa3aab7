/*
 * This file implements rt_schema_compile(): it turns a schema document into
 * the validator graph of schema_internal.h in four passes.
 *
 *   1. Check: each document (the submitted one, and every remote one the
 *      resolver supplies) is checked as its metaschema would (schema_check.c).
 *   2. Index: walk each document's subschemas, recording for every schema
 *      object its schema resource (a base URI set by $id, core §8.2.1), its
 *      dialect, and the $anchor/$dynamicAnchor names it defines (core §8.2.2;
 *      draft-07 plain-name "$id": "#foo").
 *   3. Build: compile the root node; keywords become sc_kw_t operations and
 *      $ref/$dynamicRef are resolved to nodes (core §8.2.3), loading remote
 *      resources through the resolver on demand. Nodes are memoised per schema
 *      object, so recursive schemas become cyclic graphs.
 *   4. Finish: bind every $dynamicAnchor to its node for the dynamic scope,
 *      and refuse reference cycles that never consume the instance (they
 *      would recurse forever on any input).
 *
 * Everything the graph points to lives in the schema's arena or in the
 * documents it keeps (deep copies), so validation never touches the caller's
 * JSON.
 */
#include "schema/schema_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_COMPILE_ERRORS 100

/* ============================================================ structures */

typedef struct anchor_s {
    struct anchor_s *next;
    const char *name;
    const json_t *schema;
    int dynamic;
} anchor_t;

/* A schema resource during compilation. */
typedef struct cres_s {
    const char *uri; /* absolute, without fragment; "" for an anonymous root */
    const json_t *root;
    sc_dialect_t d;
    anchor_t *anchors;
    sc_res_t *rt; /* what validation sees */
    int bound;    /* dynamic anchors compiled into rt */
} cres_t;

/* What the index knows about one schema object. */
typedef struct ent_s {
    cres_t *res;
    const char *ptr; /* its location, for keywordLocation of compile errors */
    sc_node_t *node; /* once compiled */
} ent_t;

typedef struct edge_s {
    const sc_node_t *from, *to;
} edge_t;

typedef struct cc_s {
    rt_schema_t *s;
    const rt_schema_opts_t *opts;
    json_t *errors;
    size_t nerrors;
    sc_arena_t tmp;  /* compile-time only: entries, anchors, strings */
    sc_ptrmap_t idx; /* const json_t * -> ent_t * */
    rt_map_t by_uri; /* resource URI -> cres_t * */
    cres_t **res;
    size_t nres;
    size_t nremote;
    edge_t *edges; /* in-place applications, for the cycle check */
    size_t nedges;
    const sc_node_t **nodes;
    size_t nnodes;
    sc_node_t *true_node, *false_node;
    int depth;
} cc_t;

static sc_node_t *compile_node(cc_t *cc, const json_t *s);

/* ================================================================ errors */

static void cerr(cc_t *cc, const char *loc, const char *kw, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void cerr(cc_t *cc, const char *loc, const char *kw, const char *fmt, ...)
{
    cc->nerrors++;
    if (cc->errors == NULL || json_array_size(cc->errors) >= MAX_COMPILE_ERRORS)
        return;
    rt_buf_t where;
    rt_buf_init(&where);
    rt_buf_append_str(&where, loc);
    if (kw)
        rt_schema_ptr_push(&where, kw, strlen(kw));
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(cc->errors, json_pack("{s:s,s:s}", "keywordLocation",
                                                where.data ? where.data : "", "message", msg));
    rt_buf_close(&where);
}

/* ============================================================= documents */

/* Makes room for element n of a vector that holds 8, 16, 32, ... elements. */
static void *vec_room(void *v, size_t n, size_t elem)
{
    if (n == 0)
        return rt_realloc(v, 8 * elem);
    if (n >= 8 && (n & (n - 1)) == 0)
        return rt_realloc(v, 2 * n * elem);
    return v;
}

static void keep_doc(cc_t *cc, json_t *doc)
{
    rt_schema_t *s = cc->s;
    s->docs = vec_room(s->docs, s->ndocs, sizeof(*s->docs));
    s->docs[s->ndocs++] = doc;
}

static cres_t *new_res(cc_t *cc, const char *uri, const json_t *root, sc_dialect_t d)
{
    cres_t *r = rt_schema_arena_alloc(&cc->tmp, sizeof(*r));
    r->uri = rt_schema_arena_strndup(&cc->tmp, uri, strlen(uri));
    r->root = root;
    r->d = d;
    r->rt = rt_schema_arena_alloc(&cc->s->arena, sizeof(*r->rt));
    cc->res = vec_room(cc->res, cc->nres, sizeof(*cc->res));
    cc->res[cc->nres++] = r;
    if (rt_map_get(&cc->by_uri, r->uri) == NULL)
        rt_map_put(&cc->by_uri, r->uri, r);
    return r;
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
static int is_absolute(const char *uri)
{
    size_t i = 0;
    while ((uri[i] >= 'a' && uri[i] <= 'z') || (uri[i] >= 'A' && uri[i] <= 'Z') ||
           (i > 0 &&
            ((uri[i] >= '0' && uri[i] <= '9') || uri[i] == '+' || uri[i] == '-' || uri[i] == '.')))
        i++;
    return i > 0 && uri[i] == ':';
}

/* Asks the resolver for an absolute uri; returns a deep copy the schema
 * keeps, or NULL. */
static json_t *fetch(cc_t *cc, const char *uri)
{
    if (cc->opts->resolve == NULL || cc->nremote >= RT_SCHEMA_MAX_REMOTE_DOCS || !is_absolute(uri))
        return NULL;
    cc->nremote++;
    json_t *doc = cc->opts->resolve(cc->opts->resolve_ctx, uri);
    if (doc == NULL)
        return NULL;
    json_t *copy = json_deep_copy(doc);
    json_decref(doc);
    if (copy)
        keep_doc(cc, copy);
    return copy;
}

static unsigned vocab_bit(const char *uri)
{
    static const char prefix[] = "https://json-schema.org/draft/2020-12/vocab/";
    static const struct {
        const char *name;
        unsigned bit;
    } v[] = {{"core", SC_VOC_CORE},
             {"applicator", SC_VOC_APPLICATOR},
             {"unevaluated", SC_VOC_UNEVALUATED},
             {"validation", SC_VOC_VALIDATION},
             {"meta-data", SC_VOC_METADATA},
             {"format-annotation", SC_VOC_FORMAT_ANNOTATION},
             {"format-assertion", SC_VOC_FORMAT_ASSERTION},
             {"content", SC_VOC_CONTENT}};
    if (strncmp(uri, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    for (size_t i = 0; i < RT_ARRAY_LEN(v); i++) {
        if (strcmp(uri + sizeof(prefix) - 1, v[i].name) == 0)
            return v[i].bit;
    }
    return 0;
}

/* Reads a custom metaschema's $vocabulary (core §8.1.2). */
static int vocab_of(cc_t *cc, const json_t *meta, const char *loc, sc_dialect_t *out)
{
    const json_t *ms = json_object_get(meta, "$schema");
    sc_dialect_t d = {SC_DRAFT2020, SC_VOC_DEFAULT};
    if (json_is_string(ms))
        rt_schema_dialect_known(json_string_value(ms), &d);
    const json_t *voc = json_object_get(meta, "$vocabulary");
    if (d.draft == SC_DRAFT2020 && json_is_object(voc)) {
        d.vocab = 0;
        const char *k;
        json_t *req;
        json_object_foreach((json_t *)voc, k, req)
        {
            unsigned bit = vocab_bit(k);
            if (bit == 0 && json_is_true(req)) {
                cerr(cc, loc, "$schema", "metaschema requires unsupported vocabulary \"%s\"", k);
                return RT_EINVAL;
            }
            d.vocab |= bit;
        }
    }
    *out = d;
    return 0;
}

/* The dialect a $schema URI names: built in, or a metaschema from the
 * resolver whose $vocabulary says which keywords apply. */
static int dialect_for(cc_t *cc, const char *uri, const char *loc, sc_dialect_t *out)
{
    if (rt_schema_dialect_known(uri, out))
        return 0;
    rt_buf_t base;
    rt_buf_init(&base);
    rt_buf_append(&base, uri, rt_schema_uri_nofrag_len(uri));
    json_t *meta = base.data ? fetch(cc, base.data) : NULL;
    rt_buf_close(&base);
    if (!json_is_object(meta)) {
        cerr(cc, loc, "$schema", "unknown $schema \"%s\" (supported: %s, %s)", uri,
             RT_SCHEMA_DIALECT_2020_12, RT_SCHEMA_DIALECT_DRAFT_07);
        return RT_EINVAL;
    }
    return vocab_of(cc, meta, loc, out);
}

/* ================================================================ index */

static void add_anchor(cc_t *cc, cres_t *r, const char *name, const json_t *s, int dynamic)
{
    anchor_t *a = rt_schema_arena_alloc(&cc->tmp, sizeof(*a));
    a->name = name;
    a->schema = s;
    a->dynamic = dynamic;
    a->next = r->anchors;
    r->anchors = a;
}

static void index_schema(cc_t *cc, const json_t *s, cres_t *r, rt_buf_t *ptr, int depth);

static void index_child(cc_t *cc, const json_t *s, cres_t *r, rt_buf_t *ptr, const char *kw,
                        const char *key, size_t keylen, size_t idx, int depth)
{
    size_t mark = ptr->len;
    rt_schema_ptr_push(ptr, kw, strlen(kw));
    if (key)
        rt_schema_ptr_push(ptr, key, keylen);
    else if (idx != (size_t)-1)
        rt_schema_ptr_push_index(ptr, idx);
    index_schema(cc, s, r, ptr, depth + 1);
    ptr->len = mark;
    ptr->data[mark] = '\0';
}

/* Subschema-bearing keywords (2020-12 core §10, draft-07 validation §6). */
static const char *const single_2020[] = {
    "items", "contains", "additionalProperties", "propertyNames",         "not",          "if",
    "then",  "else",     "unevaluatedItems",     "unevaluatedProperties", "contentSchema"};
static const char *const single_07[] = {"items",
                                        "additionalItems",
                                        "contains",
                                        "additionalProperties",
                                        "propertyNames",
                                        "not",
                                        "if",
                                        "then",
                                        "else"};
static const char *const maps_2020[] = {
    "$defs", "definitions", "properties", "patternProperties", "dependentSchemas", "dependencies"};
static const char *const maps_07[] = {"definitions", "properties", "patternProperties",
                                      "dependencies"};
static const char *const arrays_2020[] = {"allOf", "anyOf", "oneOf", "prefixItems"};
static const char *const arrays_07[] = {"allOf", "anyOf", "oneOf", "items"};

static void index_children(cc_t *cc, const json_t *s, cres_t *r, rt_buf_t *ptr, int depth)
{
    int d7 = r->d.draft == SC_DRAFT07;
    const char *const *single = d7 ? single_07 : single_2020;
    size_t nsingle = d7 ? RT_ARRAY_LEN(single_07) : RT_ARRAY_LEN(single_2020);
    for (size_t i = 0; i < nsingle; i++) {
        const json_t *v = json_object_get(s, single[i]);
        if (json_is_object(v) || json_is_boolean(v))
            index_child(cc, v, r, ptr, single[i], NULL, 0, (size_t)-1, depth);
    }
    const char *const *maps = d7 ? maps_07 : maps_2020;
    size_t nmaps = d7 ? RT_ARRAY_LEN(maps_07) : RT_ARRAY_LEN(maps_2020);
    for (size_t i = 0; i < nmaps; i++) {
        const json_t *m = json_object_get(s, maps[i]);
        const char *k;
        size_t klen;
        json_t *v;
        if (!json_is_object(m))
            continue;
        json_object_keylen_foreach((json_t *)m, k, klen, v)
        {
            index_child(cc, v, r, ptr, maps[i], k, klen, (size_t)-1, depth);
        }
    }
    const char *const *arrays = d7 ? arrays_07 : arrays_2020;
    size_t narrays = d7 ? RT_ARRAY_LEN(arrays_07) : RT_ARRAY_LEN(arrays_2020);
    for (size_t i = 0; i < narrays; i++) {
        const json_t *a = json_object_get(s, arrays[i]);
        for (size_t k = 0; json_is_array(a) && k < json_array_size(a); k++)
            index_child(cc, json_array_get(a, k), r, ptr, arrays[i], NULL, 0, k, depth);
    }
}

/* Handles $id: returns the resource s belongs to (a new one if s has an
 * $id that changes the base URI). */
static cres_t *index_id(cc_t *cc, const json_t *s, cres_t *r, const char *loc)
{
    const json_t *id = json_object_get(s, "$id");
    if (!json_is_string(id) || (r->d.draft == SC_DRAFT07 && json_object_get(s, "$ref")))
        return r;
    rt_buf_t abs;
    rt_buf_init(&abs);
    rt_schema_uri_resolve(r->uri, json_string_value(id), &abs);
    size_t nf = rt_schema_uri_nofrag_len(abs.data);
    const char *frag = abs.data[nf] == '#' ? abs.data + nf + 1 : "";
    abs.data[nf] = '\0';
    cres_t *nr = r;
    if (json_string_value(id)[0] != '#' && (r->root != s || strcmp(r->uri, abs.data) != 0)) {
        sc_dialect_t d = r->d;
        const json_t *ms = json_object_get(s, "$schema");
        if (json_is_string(ms) && r->root != s)
            dialect_for(cc, json_string_value(ms), loc, &d);
        if (r->root == s) {
            /* a document's own $id replaces its retrieval URI as base (§8.2.1) */
            r->uri = rt_schema_arena_strndup(&cc->tmp, abs.data, nf);
            if (rt_map_get(&cc->by_uri, r->uri) == NULL)
                rt_map_put(&cc->by_uri, r->uri, r);
        } else {
            nr = new_res(cc, abs.data, s, d);
        }
    }
    if (r->d.draft == SC_DRAFT07 && frag[0] != '\0' && frag[0] != '/')
        add_anchor(cc, nr, rt_schema_arena_strndup(&cc->tmp, frag, strlen(frag)), s, 0);
    rt_buf_close(&abs);
    return nr;
}

static void index_schema(cc_t *cc, const json_t *s, cres_t *r, rt_buf_t *ptr, int depth)
{
    if (!json_is_object(s) || depth > RT_SCHEMA_MAX_COMPILE_DEPTH ||
        rt_schema_ptrmap_get(&cc->idx, s))
        return;
    const char *loc = rt_schema_arena_strndup(&cc->tmp, ptr->data ? ptr->data : "", ptr->len);
    r = index_id(cc, s, r, loc);
    ent_t *e = rt_schema_arena_alloc(&cc->tmp, sizeof(*e));
    e->res = r;
    e->ptr = loc;
    rt_schema_ptrmap_put(&cc->idx, s, e);
    if (r->d.draft == SC_DRAFT2020) {
        const json_t *a = json_object_get(s, "$anchor");
        if (json_is_string(a))
            add_anchor(cc, r, json_string_value(a), s, 0);
        a = json_object_get(s, "$dynamicAnchor");
        if (json_is_string(a))
            add_anchor(cc, r, json_string_value(a), s, 1);
    }
    index_children(cc, s, r, ptr, depth);
}

/* Checks and indexes a document; uri is where it was retrieved ("" for the
 * submitted one). Returns its root resource or NULL. */
static cres_t *add_document(cc_t *cc, const json_t *doc, const char *uri, sc_dialect_t d)
{
    rt_buf_t prefix;
    rt_buf_init(&prefix);
    if (uri[0])
        rt_buf_appendf(&prefix, "%s#", uri);
    const json_t *ms = json_object_get(doc, "$schema");
    if (json_is_string(ms) &&
        dialect_for(cc, json_string_value(ms), prefix.data ? prefix.data : "", &d) < 0) {
        rt_buf_close(&prefix);
        return NULL;
    }
    size_t before = cc->errors ? json_array_size(cc->errors) : 0;
    size_t room = MAX_COMPILE_ERRORS > before ? MAX_COMPILE_ERRORS - before : 0;
    size_t n = rt_schema_check(doc, d, prefix.data ? prefix.data : "", cc->errors, room);
    cc->nerrors += n;
    cres_t *r = NULL;
    if (n == 0) {
        r = new_res(cc, uri, doc, d);
        index_schema(cc, doc, r, &prefix, 0);
    }
    rt_buf_close(&prefix);
    return r;
}

/* ========================================================= references */

static int is_indexed(void *ctx, const json_t *v)
{
    return rt_schema_ptrmap_get(&((cc_t *)ctx)->idx, v) != NULL;
}

static const json_t *find_anchor(const cres_t *r, const char *name, int *dynamic)
{
    for (const anchor_t *a = r->anchors; a; a = a->next) {
        if (strcmp(a->name, name) == 0) {
            *dynamic = a->dynamic;
            return a->schema;
        }
    }
    return NULL;
}

/* A node that runs the built-in metaschema check (no resolver document). */
static sc_node_t *meta_node(cc_t *cc, sc_dialect_t d)
{
    sc_node_t *n = rt_schema_arena_alloc(&cc->s->arena, sizeof(*n));
    n->bool_schema = -1;
    n->ptr = "";
    n->kws = rt_schema_arena_alloc(&cc->s->arena, sizeof(*n->kws));
    n->kws[0].op = SC_OP_META;
    n->kws[0].kw = "$ref";
    n->kws[0].u.meta = d;
    n->nkws = 1;
    return n;
}

/* Finds the resource for an absolute URI without fragment, loading it
 * through the resolver if needed. */
static cres_t *find_res(cc_t *cc, const char *base, sc_dialect_t d)
{
    cres_t *r = rt_map_get(&cc->by_uri, base);
    if (r)
        return r;
    json_t *doc = fetch(cc, base);
    if (doc == NULL)
        return NULL;
    return add_document(cc, doc, base, d);
}

/*
 * Resolves reference ref found in resource r (core §8.2.3.1). Returns the
 * target node, or NULL after reporting an error at loc/kw. *dyn_name is set
 * (for $dynamicRef) when the fragment names a $dynamicAnchor of the target.
 */
static sc_node_t *resolve_ref(cc_t *cc, cres_t *r, const char *ref, const char *loc, const char *kw,
                              const char **dyn_name)
{
    rt_buf_t abs;
    rt_buf_init(&abs);
    rt_schema_uri_resolve(r->uri, ref, &abs);
    size_t nf = rt_schema_uri_nofrag_len(abs.data);
    const char *frag = abs.data[nf] == '#' ? abs.data + nf + 1 : "";
    abs.data[nf] = '\0';
    sc_node_t *node = NULL;
    cres_t *tr = find_res(cc, abs.data, r->d);
    sc_dialect_t md;
    if (tr == NULL && frag[0] == '\0' && rt_schema_metaschema_builtin(abs.data, &md)) {
        node = meta_node(cc, md);
        goto out;
    }
    if (tr == NULL) {
        cerr(cc, loc, kw, "cannot resolve \"%s\": no schema with URI \"%s\"", ref, abs.data);
        goto out;
    }
    const json_t *target;
    if (frag[0] == '\0' || frag[0] == '/') {
        const json_t *known = NULL;
        target = rt_schema_ptr_resolve(tr->root, frag, strlen(frag), is_indexed, cc, &known);
        if (target && json_is_object(target) && !is_indexed(cc, target)) {
            /* a schema inside an unknown keyword: it inherits the nearest
             * indexed ancestor's resource */
            ent_t *ke = rt_schema_ptrmap_get(&cc->idx, known);
            ent_t *e = rt_schema_arena_alloc(&cc->tmp, sizeof(*e));
            e->res = ke ? ke->res : tr;
            e->ptr = rt_schema_arena_strndup(&cc->tmp, abs.data, strlen(abs.data));
            rt_schema_ptrmap_put(&cc->idx, target, e);
        }
    } else {
        int dynamic = 0;
        target = find_anchor(tr, frag, &dynamic);
        if (target && dynamic && dyn_name)
            *dyn_name = rt_schema_arena_strndup(&cc->s->arena, frag, strlen(frag));
    }
    if (target == NULL || !(json_is_object(target) || json_is_boolean(target))) {
        cerr(cc, loc, kw, "cannot resolve \"%s\": \"#%s\" is not a schema in \"%s\"", ref, frag,
             abs.data);
        goto out;
    }
    node = compile_node(cc, target);
out:
    rt_buf_close(&abs);
    return node;
}

/* ============================================================ keywords */

/* The node being built and what its keywords need. */
typedef struct nb_s {
    cc_t *cc;
    ent_t *e;
    const json_t *o;
    sc_node_t *n;
    sc_dialect_t d;
    size_t cap;
} nb_t;

static sc_kw_t *add_kw(nb_t *b, int op, const char *kw)
{
    rt_assert(b->n->nkws < b->cap);
    sc_kw_t *k = &b->n->kws[b->n->nkws++];
    k->op = (uint8_t)op;
    k->kw = kw;
    return k;
}

static void edge(cc_t *cc, const sc_node_t *from, const sc_node_t *to)
{
    if (to == NULL || to->bool_schema >= 0)
        return;
    cc->edges = vec_room(cc->edges, cc->nedges, sizeof(*cc->edges));
    cc->edges[cc->nedges++] = (edge_t){from, to};
}

static sc_node_t *child(nb_t *b, const json_t *v, int in_place)
{
    sc_node_t *n = compile_node(b->cc, v);
    if (n == NULL)
        n = b->cc->false_node;
    if (in_place)
        edge(b->cc, b->n, n);
    return n;
}

static size_t to_count(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) < 0 ? 0 : (size_t)json_integer_value(v);
    double d = json_number_value(v);
    return d >= 1.8e19 ? SIZE_MAX : d <= 0 ? 0 : (size_t)d;
}

static unsigned type_bit(const char *t)
{
    static const struct {
        const char *name;
        unsigned bit;
    } types[] = {{"null", SC_T_NULL},      {"boolean", SC_T_BOOLEAN}, {"object", SC_T_OBJECT},
                 {"array", SC_T_ARRAY},    {"number", SC_T_NUMBER},   {"string", SC_T_STRING},
                 {"integer", SC_T_INTEGER}};
    for (size_t i = 0; i < RT_ARRAY_LEN(types); i++) {
        if (strcmp(types[i].name, t) == 0)
            return types[i].bit;
    }
    return 0;
}

static void kw_type(nb_t *b, const json_t *v)
{
    unsigned bits = 0;
    if (json_is_string(v))
        bits = type_bit(json_string_value(v));
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
        const json_t *t = json_array_get(v, i);
        bits |= json_is_string(t) ? type_bit(json_string_value(t)) : 0;
    }
    add_kw(b, SC_OP_TYPE, "type")->u.types = bits;
}

/* First heap chunk for a schema's const/enum values, bytes. */
#define CONSTS_FIRST_CHUNK_BYTES 512

/* const or enum: the value in document form, as instances are compared in
 * that form (it points into the kept schema document). */
static void kw_value(nb_t *b, int op, const char *kw, const json_t *v)
{
    sc_kw_t *k = add_kw(b, op, kw);
    sc_val_t *val = rt_schema_arena_alloc(&b->cc->s->arena, sizeof(*val));
    rt_schema_doc_from_json(&b->cc->s->consts, v, val);
    k->u.value.val = val;
    /* the error message, with a short rendering of the value, made once */
    rt_buf_t t;
    rt_buf_init(&t);
    rt_buf_append_json(&t, v);
    char msg[128];
    const char *what = op == SC_OP_CONST ? "value must be" : "value must be one of";
    if (t.len > 80)
        snprintf(msg, sizeof(msg), "%s %.77s...", what, t.data);
    else
        snprintf(msg, sizeof(msg), "%s %s", what, t.data ? t.data : "");
    rt_buf_close(&t);
    k->u.value.msg = rt_schema_arena_strndup(&b->cc->s->arena, msg, strlen(msg));
}

/* type, const, enum, numeric, string and count assertions (validation §6). */
static void kw_assertions(nb_t *b)
{
    static const struct {
        const char *kw;
        int op;
    } nums[] = {{"maximum", SC_OP_MAXIMUM},
                {"exclusiveMaximum", SC_OP_EXCL_MAXIMUM},
                {"minimum", SC_OP_MINIMUM},
                {"exclusiveMinimum", SC_OP_EXCL_MINIMUM}},
      counts[] = {{"maxLength", SC_OP_MAX_LENGTH},    {"minLength", SC_OP_MIN_LENGTH},
                  {"maxItems", SC_OP_MAX_ITEMS},      {"minItems", SC_OP_MIN_ITEMS},
                  {"maxProperties", SC_OP_MAX_PROPS}, {"minProperties", SC_OP_MIN_PROPS}};
    const json_t *v = json_object_get(b->o, "type");
    if (v)
        kw_type(b, v);
    if ((v = json_object_get(b->o, "const")))
        kw_value(b, SC_OP_CONST, "const", v);
    if (json_is_array(v = json_object_get(b->o, "enum")))
        kw_value(b, SC_OP_ENUM, "enum", v);
    for (size_t i = 0; i < RT_ARRAY_LEN(nums); i++) {
        if (json_is_number(v = json_object_get(b->o, nums[i].kw)))
            rt_schema_num_get(v, &add_kw(b, nums[i].op, nums[i].kw)->u.num);
    }
    if (json_is_number(v = json_object_get(b->o, "multipleOf")) && json_number_value(v) > 0) {
        sc_kw_t *k = add_kw(b, SC_OP_MULTIPLE_OF, "multipleOf");
        rt_schema_num_get(v, &k->u.mult.num);
        rt_schema_num_decimal(&k->u.mult.num, &k->u.mult.dec);
    }
    for (size_t i = 0; i < RT_ARRAY_LEN(counts); i++) {
        if (json_is_number(v = json_object_get(b->o, counts[i].kw)))
            add_kw(b, counts[i].op, counts[i].kw)->u.count = to_count(v);
    }
    if (json_is_true(json_object_get(b->o, "uniqueItems")))
        add_kw(b, SC_OP_UNIQUE_ITEMS, "uniqueItems");
}

static void kw_pattern(nb_t *b)
{
    const json_t *v = json_object_get(b->o, "pattern");
    if (!json_is_string(v))
        return;
    pcre2_code *re = NULL;
    rt_buf_t err;
    rt_buf_init(&err);
    if (rt_schema_regex_compile(json_string_value(v), json_string_length(v), &re, &err) < 0) {
        cerr(b->cc, b->e->ptr, "pattern", "invalid regular expression: %s", err.data);
    } else {
        rt_schema_t *s = b->cc->s;
        s->codes = vec_room(s->codes, s->ncodes, sizeof(*s->codes));
        s->codes[s->ncodes++] = re;
        sc_kw_t *k = add_kw(b, SC_OP_PATTERN, "pattern");
        k->u.pattern.src = json_string_value(v);
        k->u.pattern.re = re;
    }
    rt_buf_close(&err);
}

static void kw_format(nb_t *b)
{
    const json_t *v = json_object_get(b->o, "format");
    int assert = b->cc->opts->format_assert ||
                 (b->d.draft == SC_DRAFT2020 && (b->d.vocab & SC_VOC_FORMAT_ASSERTION));
    if (!assert || !json_is_string(v))
        return;
    sc_format_fn fn = rt_schema_format_lookup(json_string_value(v));
    if (fn == NULL)
        return; /* unknown formats are ignored (validation §7.2.3) */
    sc_kw_t *k = add_kw(b, SC_OP_FORMAT, "format");
    k->u.format.name = json_string_value(v);
    k->u.format.fn = fn;
}

static void kw_required(nb_t *b)
{
    const json_t *v = json_object_get(b->o, "required");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return;
    sc_arena_t *a = &b->cc->s->arena;
    size_t n = json_array_size(v);
    const char **names = rt_schema_arena_alloc(a, n * sizeof(*names));
    size_t *lens = rt_schema_arena_alloc(a, n * sizeof(*lens));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        if (!json_is_string(s))
            continue;
        names[m] = json_string_value(s);
        lens[m++] = json_string_length(s);
    }
    sc_kw_t *k = add_kw(b, SC_OP_REQUIRED, "required");
    k->u.req.names = names;
    k->u.req.lens = lens;
    k->u.req.n = m;
}

/* dependentRequired/dependentSchemas (2020-12), dependencies (draft-07, and
 * accepted in 2020-12 as the 2020-12 metaschema still describes it). */
static void kw_deps(nb_t *b, const char *kw, int want_schemas, int want_arrays, int op)
{
    const json_t *m = json_object_get(b->o, kw);
    if (!json_is_object(m))
        return;
    sc_arena_t *a = &b->cc->s->arena;
    sc_dep_t *deps = rt_schema_arena_alloc(a, json_object_size(m) * sizeof(*deps));
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        sc_dep_t *d = &deps[n];
        if (want_arrays && json_is_array(v)) {
            const char **req = rt_schema_arena_alloc(a, (json_array_size(v) + 1) * sizeof(*req));
            for (size_t i = 0; i < json_array_size(v); i++) {
                const json_t *s = json_array_get(v, i);
                if (json_is_string(s))
                    req[d->nreq++] = json_string_value(s);
            }
            d->req = req;
        } else if (want_schemas && (json_is_object(v) || json_is_boolean(v))) {
            d->node = child(b, v, 1);
        } else {
            continue;
        }
        d->name = k;
        n++;
    }
    if (n == 0)
        return;
    sc_kw_t *kwp = add_kw(b, op, kw);
    kwp->u.deps.deps = deps;
    kwp->u.deps.n = n;
}

static void props_hash(sc_arena_t *a, sc_props_t *p)
{
    size_t cap = 4;
    while (cap < p->nprops * 2)
        cap *= 2;
    p->nslots = cap;
    p->slots = rt_schema_arena_alloc(a, cap * sizeof(*p->slots));
    for (size_t i = 0; i < p->nprops; i++) {
        size_t h = rt_schema_name_hash(p->props[i].name, p->props[i].len) & (cap - 1);
        while (p->slots[h])
            h = (h + 1) & (cap - 1);
        p->slots[h] = (uint32_t)(i + 1);
    }
}

static void kw_pattern_props(nb_t *b, sc_props_t *p, const json_t *pp)
{
    rt_schema_t *s = b->cc->s;
    p->pats = rt_schema_arena_alloc(&s->arena, json_object_size(pp) * sizeof(*p->pats));
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach((json_t *)pp, k, klen, v)
    {
        pcre2_code *re = NULL;
        rt_buf_t err;
        rt_buf_init(&err);
        if (rt_schema_regex_compile(k, klen, &re, &err) < 0) {
            rt_buf_t loc;
            rt_buf_init(&loc);
            rt_buf_append_str(&loc, b->e->ptr);
            rt_schema_ptr_push(&loc, "patternProperties", 17);
            cerr(b->cc, loc.data, k, "invalid regular expression: %s", err.data);
            rt_buf_close(&loc);
        } else {
            s->codes = vec_room(s->codes, s->ncodes, sizeof(*s->codes));
            s->codes[s->ncodes++] = re;
            p->pats[p->npats++] = (sc_pat_t){k, re, child(b, v, 0)};
        }
        rt_buf_close(&err);
    }
}

/* properties + patternProperties + additionalProperties (applicator §10.3.2). */
static void kw_props(nb_t *b)
{
    const json_t *pr = json_object_get(b->o, "properties");
    const json_t *pp = json_object_get(b->o, "patternProperties");
    const json_t *ap = json_object_get(b->o, "additionalProperties");
    if (!json_is_object(pr) && !json_is_object(pp) && !ap)
        return;
    sc_arena_t *a = &b->cc->s->arena;
    sc_props_t *p = rt_schema_arena_alloc(a, sizeof(*p));
    if (json_is_object(pr)) {
        p->props = rt_schema_arena_alloc(a, json_object_size(pr) * sizeof(*p->props));
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)pr, k, klen, v)
        {
            p->props[p->nprops++] = (sc_prop_t){k, klen, child(b, v, 0)};
        }
    }
    props_hash(a, p);
    if (json_is_object(pp))
        kw_pattern_props(b, p, pp);
    if (json_is_object(ap) || json_is_boolean(ap))
        p->additional = child(b, ap, 0);
    add_kw(b, SC_OP_PROPS, "properties")->u.props = p;
}

/* prefixItems/items (2020-12 §10.3.1) or items/additionalItems (draft-07 §6.4). */
static void kw_items(nb_t *b)
{
    const json_t *items = json_object_get(b->o, "items");
    const json_t *prefix = b->d.draft == SC_DRAFT07 ? (json_is_array(items) ? items : NULL)
                                                    : json_object_get(b->o, "prefixItems");
    const json_t *rest =
        b->d.draft == SC_DRAFT07
            ? (json_is_array(items) ? json_object_get(b->o, "additionalItems") : items)
            : items;
    if (!json_is_array(prefix) && !(json_is_object(rest) || json_is_boolean(rest)))
        return;
    sc_arena_t *a = &b->cc->s->arena;
    sc_items_t *it = rt_schema_arena_alloc(a, sizeof(*it));
    it->prefix_kw = b->d.draft == SC_DRAFT07 ? "items" : "prefixItems";
    it->rest_kw = b->d.draft == SC_DRAFT07 && prefix ? "additionalItems" : "items";
    if (json_is_array(prefix)) {
        it->nprefix = json_array_size(prefix);
        it->prefix = rt_schema_arena_alloc(a, it->nprefix * sizeof(*it->prefix));
        for (size_t i = 0; i < it->nprefix; i++)
            it->prefix[i] = child(b, json_array_get(prefix, i), 0);
    }
    if (json_is_object(rest) || json_is_boolean(rest))
        it->rest = child(b, rest, 0);
    add_kw(b, SC_OP_ITEMS, it->nprefix ? it->prefix_kw : it->rest_kw)->u.items = it;
}

static void kw_contains(nb_t *b)
{
    const json_t *c = json_object_get(b->o, "contains");
    if (!(json_is_object(c) || json_is_boolean(c)))
        return;
    sc_contains_t *ct = rt_schema_arena_alloc(&b->cc->s->arena, sizeof(*ct));
    ct->node = child(b, c, 0);
    ct->min = 1;
    ct->max = SIZE_MAX;
    if (b->d.draft == SC_DRAFT2020 && (b->d.vocab & SC_VOC_VALIDATION)) {
        const json_t *v = json_object_get(b->o, "minContains");
        if (json_is_number(v)) {
            ct->min = to_count(v);
            ct->has_min = 1;
        }
        if (json_is_number(v = json_object_get(b->o, "maxContains"))) {
            ct->max = to_count(v);
            ct->has_max = 1;
        }
    }
    add_kw(b, SC_OP_CONTAINS, "contains")->u.contains = ct;
}

static void kw_list(nb_t *b, const char *kw, int op)
{
    const json_t *v = json_object_get(b->o, kw);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return;
    size_t n = json_array_size(v);
    sc_node_t **nodes = rt_schema_arena_alloc(&b->cc->s->arena, n * sizeof(*nodes));
    for (size_t i = 0; i < n; i++)
        nodes[i] = child(b, json_array_get(v, i), 1);
    sc_kw_t *k = add_kw(b, op, kw);
    k->u.list.nodes = nodes;
    k->u.list.n = n;
}

static sc_node_t *opt_child(nb_t *b, const char *kw, int in_place)
{
    const json_t *v = json_object_get(b->o, kw);
    return json_is_object(v) || json_is_boolean(v) ? child(b, v, in_place) : NULL;
}

static void kw_applicators(nb_t *b)
{
    sc_node_t *n;
    kw_items(b);
    kw_contains(b);
    kw_props(b);
    if ((n = opt_child(b, "propertyNames", 0)))
        add_kw(b, SC_OP_PROPERTY_NAMES, "propertyNames")->u.node = n;
    if (b->d.draft == SC_DRAFT2020)
        kw_deps(b, "dependentSchemas", 1, 0, SC_OP_DEP_SCHEMAS);
    kw_deps(b, "dependencies", 1, 0, SC_OP_DEP_SCHEMAS);
    kw_list(b, "allOf", SC_OP_ALL_OF);
    kw_list(b, "anyOf", SC_OP_ANY_OF);
    kw_list(b, "oneOf", SC_OP_ONE_OF);
    if ((n = opt_child(b, "not", 1)))
        add_kw(b, SC_OP_NOT, "not")->u.node = n;
    sc_node_t *cond = opt_child(b, "if", 1);
    if (cond) {
        sc_kw_t *k = add_kw(b, SC_OP_IF, "if");
        k->u.cond.if_ = cond;
        k->u.cond.then_ = opt_child(b, "then", 1);
        k->u.cond.else_ = opt_child(b, "else", 1);
    }
}

static void kw_refs(nb_t *b)
{
    const json_t *v = json_object_get(b->o, "$ref");
    if (json_is_string(v)) {
        sc_node_t *t = resolve_ref(b->cc, b->e->res, json_string_value(v), b->e->ptr, "$ref", NULL);
        edge(b->cc, b->n, t);
        add_kw(b, SC_OP_REF, "$ref")->u.node = t ? t : b->cc->false_node;
    }
    v = json_object_get(b->o, "$dynamicRef");
    if (b->d.draft == SC_DRAFT2020 && json_is_string(v)) {
        sc_dynref_t *dr = rt_schema_arena_alloc(&b->cc->s->arena, sizeof(*dr));
        const char *name = NULL;
        dr->target =
            resolve_ref(b->cc, b->e->res, json_string_value(v), b->e->ptr, "$dynamicRef", &name);
        if (dr->target == NULL)
            dr->target = b->cc->false_node;
        dr->anchor = name;
        if (name)
            b->cc->s->dynamic = 1;
        else
            edge(b->cc, b->n, dr->target);
        add_kw(b, SC_OP_DYNREF, "$dynamicRef")->u.dyn = dr;
    }
}

static void kw_unevaluated(nb_t *b)
{
    sc_node_t *n;
    if ((n = opt_child(b, "unevaluatedItems", 0))) {
        add_kw(b, SC_OP_UNEVAL_ITEMS, "unevaluatedItems")->u.node = n;
        b->n->uneval = 1;
    }
    if ((n = opt_child(b, "unevaluatedProperties", 0))) {
        add_kw(b, SC_OP_UNEVAL_PROPS, "unevaluatedProperties")->u.node = n;
        b->n->uneval = 1;
    }
}

static void build_keywords(nb_t *b)
{
    int d7 = b->d.draft == SC_DRAFT07;
    unsigned voc = d7 ? SC_VOC_DEFAULT : b->d.vocab;
    if (d7 && json_object_get(b->o, "$ref")) {
        kw_refs(b); /* draft-07 §8.3: siblings of $ref are ignored */
        return;
    }
    if (voc & SC_VOC_VALIDATION) {
        kw_assertions(b);
        kw_pattern(b);
        kw_required(b);
        kw_deps(b, d7 ? "dependencies" : "dependentRequired", 0, 1, SC_OP_DEP_REQUIRED);
        if (!d7)
            kw_deps(b, "dependencies", 0, 1, SC_OP_DEP_REQUIRED);
    }
    kw_format(b);
    if (voc & SC_VOC_APPLICATOR)
        kw_applicators(b);
    if (voc & SC_VOC_CORE)
        kw_refs(b);
    if (!d7 && (voc & SC_VOC_UNEVALUATED))
        kw_unevaluated(b);
}

static sc_node_t *compile_node(cc_t *cc, const json_t *s)
{
    if (json_is_boolean(s))
        return json_is_true(s) ? cc->true_node : cc->false_node;
    ent_t *e = rt_schema_ptrmap_get(&cc->idx, s);
    if (e == NULL) {
        cerr(cc, "", NULL, "internal error: a subschema was not indexed");
        return NULL;
    }
    if (e->node)
        return e->node;
    if (cc->depth >= RT_SCHEMA_MAX_COMPILE_DEPTH) {
        cerr(cc, e->ptr, NULL, "schema nested more than %d levels deep",
             RT_SCHEMA_MAX_COMPILE_DEPTH);
        return NULL;
    }
    sc_arena_t *a = &cc->s->arena;
    sc_node_t *n = rt_schema_arena_alloc(a, sizeof(*n));
    n->bool_schema = -1;
    n->res = e->res->rt;
    n->ptr = rt_schema_arena_strndup(a, e->ptr, strlen(e->ptr));
    e->node = n;
    cc->nodes = vec_room(cc->nodes, cc->nnodes, sizeof(*cc->nodes));
    cc->nodes[cc->nnodes++] = n;
    nb_t b = {cc, e, s, n, e->res->d, json_object_size(s) + 1};
    n->kws = rt_schema_arena_alloc(a, b.cap * sizeof(*n->kws));
    cc->depth++;
    build_keywords(&b);
    cc->depth--;
    return n;
}

/* ============================================================== finish */

/* Compiles every $dynamicAnchor of every resource (compiling may load more
 * resources, hence the loop) and records them for the dynamic scope. */
static void bind_dynamic(cc_t *cc)
{
    for (size_t i = 0; i < cc->nres; i++) {
        cres_t *r = cc->res[i];
        size_t n = 0;
        for (anchor_t *a = r->anchors; a; a = a->next)
            n += a->dynamic;
        if (r->bound || n == 0)
            continue;
        r->bound = 1;
        sc_arena_t *ar = &cc->s->arena;
        r->rt->dyn_names = rt_schema_arena_alloc(ar, n * sizeof(*r->rt->dyn_names));
        r->rt->dyn_nodes = rt_schema_arena_alloc(ar, n * sizeof(*r->rt->dyn_nodes));
        for (anchor_t *a = r->anchors; a; a = a->next) {
            if (!a->dynamic)
                continue;
            sc_node_t *node = compile_node(cc, a->schema);
            r->rt->dyn_names[r->rt->ndyn] = rt_schema_arena_strndup(ar, a->name, strlen(a->name));
            r->rt->dyn_nodes[r->rt->ndyn++] = node ? node : cc->false_node;
        }
    }
}

static int edge_cmp(const void *pa, const void *pb)
{
    uintptr_t a = (uintptr_t)((const edge_t *)pa)->from;
    uintptr_t b = (uintptr_t)((const edge_t *)pb)->from;
    return a < b ? -1 : a > b;
}

/* Depth-first search over in-place edges (grouped by source); reaching a
 * node that is still on the path is a cycle that would re-enter the same
 * schema on the same instance forever. */
static void check_cycles(cc_t *cc)
{
    sc_ptrmap_t first, color;
    memset(&first, 0, sizeof(first));
    memset(&color, 0, sizeof(color));
    if (cc->nedges > 0)
        qsort(cc->edges, cc->nedges, sizeof(*cc->edges), edge_cmp);
    for (size_t i = cc->nedges; i-- > 0;)
        rt_schema_ptrmap_put(&first, cc->edges[i].from, (void *)(uintptr_t)(i + 1));
    size_t cap = cc->nnodes + cc->nedges + 1;
    const sc_node_t **path = rt_malloc(cap * sizeof(*path));
    size_t *next = rt_malloc(cap * sizeof(*next));
    for (size_t k = 0; k < cc->nnodes && cc->nerrors == 0; k++) {
        if (rt_schema_ptrmap_get(&color, cc->nodes[k]))
            continue;
        size_t sp = 0;
        path[sp] = cc->nodes[k];
        next[sp++] = (size_t)(uintptr_t)rt_schema_ptrmap_get(&first, cc->nodes[k]);
        rt_schema_ptrmap_put(&color, cc->nodes[k], (void *)1);
        while (sp > 0 && cc->nerrors == 0) {
            const sc_node_t *cur = path[sp - 1];
            size_t ei = next[sp - 1];
            if (ei == 0 || ei > cc->nedges || cc->edges[ei - 1].from != cur) {
                rt_schema_ptrmap_put(&color, cur, (void *)2);
                sp--;
                continue;
            }
            next[sp - 1] = ei + 1;
            const sc_node_t *to = cc->edges[ei - 1].to;
            uintptr_t c = (uintptr_t)rt_schema_ptrmap_get(&color, to);
            if (c == 1) {
                cerr(cc, to->ptr, NULL,
                     "reference cycle that never consumes the instance (infinite recursion)");
            } else if (c == 0) {
                rt_schema_ptrmap_put(&color, to, (void *)1);
                path[sp] = to;
                next[sp++] = (size_t)(uintptr_t)rt_schema_ptrmap_get(&first, to);
            }
        }
    }
    rt_free(path);
    rt_free(next);
    rt_schema_ptrmap_close(&first);
    rt_schema_ptrmap_close(&color);
}

/* ================================================================ public */

static sc_node_t *bool_node(sc_arena_t *a, int v)
{
    sc_node_t *n = rt_schema_arena_alloc(a, sizeof(*n));
    n->bool_schema = (int8_t)v;
    n->ptr = "";
    return n;
}

static void cc_close(cc_t *cc)
{
    rt_schema_arena_free(&cc->tmp);
    rt_schema_ptrmap_close(&cc->idx);
    rt_map_close(&cc->by_uri);
    rt_free(cc->res);
    rt_free(cc->edges);
    rt_free(cc->nodes);
}

static int default_dialect(const rt_schema_opts_t *opts, sc_dialect_t *d)
{
    *d = (sc_dialect_t){SC_DRAFT2020, SC_VOC_DEFAULT};
    if (opts->default_dialect == NULL)
        return 0;
    return rt_schema_dialect_known(opts->default_dialect, d) ? 0 : RT_EINVAL;
}

int rt_schema_compile(const json_t *schema, const rt_schema_opts_t *opts, rt_schema_t **out,
                      json_t **errors)
{
    static const rt_schema_opts_t defaults = {0, NULL, NULL, NULL};
    cc_t cc;
    memset(&cc, 0, sizeof(cc));
    cc.opts = opts ? opts : &defaults;
    cc.errors = json_array();
    cc.s = rt_calloc(1, sizeof(*cc.s));
    rt_schema_doc_init(&cc.s->consts, NULL, 0, NULL, 0);
    cc.s->consts.next_chunk = CONSTS_FIRST_CHUNK_BYTES; /* most schemas hold a few small values */
    rt_map_init(&cc.by_uri);
    cc.true_node = bool_node(&cc.s->arena, 1);
    cc.false_node = bool_node(&cc.s->arena, 0);
    sc_dialect_t d;
    json_t *doc = schema ? json_deep_copy(schema) : NULL;
    if (doc)
        keep_doc(&cc, doc);
    if (default_dialect(cc.opts, &d) < 0) {
        cerr(&cc, "", NULL, "unknown default dialect \"%s\"", cc.opts->default_dialect);
    } else if (doc == NULL) {
        cerr(&cc, "", NULL, "no schema (or a schema that contains itself)");
    } else {
        cres_t *r = add_document(&cc, doc, "", d);
        if (r && cc.nerrors == 0)
            cc.s->root = compile_node(&cc, doc);
        if (cc.nerrors == 0 && cc.s->dynamic)
            bind_dynamic(&cc);
        if (cc.nerrors == 0)
            check_cycles(&cc);
    }
    int rc = 0;
    if (cc.nerrors > 0 || cc.s->root == NULL) {
        if (cc.nerrors == 0)
            cerr(&cc, "", NULL, "schema could not be compiled");
        rt_schema_free(cc.s);
        if (errors)
            *errors = json_incref(cc.errors);
        rc = RT_EINVAL;
    } else {
        *out = cc.s;
    }
    json_decref(cc.errors);
    cc_close(&cc);
    return rc;
}

void rt_schema_free(rt_schema_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ncodes; i++)
        pcre2_code_free(s->codes[i]);
    rt_free(s->codes);
    for (size_t i = 0; i < s->ndocs; i++)
        json_decref(s->docs[i]);
    rt_free(s->docs);
    rt_schema_doc_close(&s->consts);
    rt_schema_arena_free(&s->arena);
    rt_free(s);
}
