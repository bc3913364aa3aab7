/*
 * This file implements rt_schema_compat_check(): Confluent's compatibility
 * modes for JSON Schema (research notes §B1) and its change-by-change rules
 * (§B2), clean-room. The core question is always the backward one: is every
 * document the old schema accepts also accepted by the new one? FORWARD asks
 * it with the roles swapped, FULL both ways, *_TRANSITIVE against every
 * earlier version.
 *
 * The comparison walks both schemas together. Each schema is read as a
 * "view": the conjunction of the schema object, its local $ref target and its
 * allOf branches, so a keyword moved into a $ref or an allOf branch is not a
 * change. Keywords are then compared group by group (types, enum/const,
 * numbers, strings, arrays, objects with open, closed and partially open
 * content models, anyOf/oneOf/not/if), and every narrowing is reported with a
 * stable rule id, a JSON pointer into both schemas and a sentence. The
 * "lenient" policy accepts the open-content-model changes that Confluent's
 * lenient policy accepts.
 */
#include "schema/schema_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define VIEW_MAX_PARTS   16
#define COMPAT_MAX_DEPTH 64
/* Schema pairs one check may compare: branch searches (anyOf against anyOf)
 * multiply, so a hostile schema could otherwise take exponential time. */
#define COMPAT_MAX_STEPS 50000

/* A schema as the conjunction of up to VIEW_MAX_PARTS objects. */
typedef struct view_s {
    const json_t *doc; /* the document its $refs resolve in */
    const json_t *parts[VIEW_MAX_PARTS];
    const char *paths[VIEW_MAX_PARTS]; /* JSON pointer of each part */
    size_t n;
    int is_false;     /* accepts nothing */
    int unresolved;   /* had a $ref that is not local */
    const char *refs; /* the first non-local $ref, for messages */
} view_t;

typedef struct pair_s {
    const json_t *o, *n;
} pair_t;

typedef struct cx_s {
    const json_t *old_doc, *new_doc;
    json_t *out;
    int lenient;
    int forward;    /* roles swapped: old = candidate */
    size_t previdx; /* index into previous[] */
    int trial;      /* > 0: count problems instead of reporting */
    size_t hits;
    sc_arena_t arena; /* paths */
    pair_t stack[COMPAT_MAX_DEPTH];
    size_t depth;
    size_t steps;  /* cmp() calls so far, against COMPAT_MAX_STEPS */
    int exhausted; /* the budget ran out: reported once */
} cx_t;

static void cmp(cx_t *x, const json_t *o, const char *op, const json_t *n, const char *np);

/* ============================================================ reporting */

/* Rule ids the lenient policy accepts (research notes §B2, "Lenient"). */
static const char *const lenient_ok[] = {
    "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
    "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ADDITIONAL_PROPERTIES_REMOVED",
    "ADDITIONAL_PROPERTIES_NARROWED",
    "PATTERN_PROPERTY_ADDED",
};

static void add(cx_t *x, const char *kind, const char *op, const char *np, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add(cx_t *x, const char *kind, const char *op, const char *np, const char *fmt, ...)
{
    if (x->lenient) {
        for (size_t i = 0; i < RT_ARRAY_LEN(lenient_ok); i++) {
            if (strcmp(kind, lenient_ok[i]) == 0)
                return;
        }
    }
    x->hits++;
    if (x->trial > 0)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* path points into the candidate, previousPath into the previous version */
    json_array_append_new(x->out,
                          json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "kind", kind, "path",
                                    x->forward ? op : np, "previousPath", x->forward ? np : op,
                                    "previousIndex", (json_int_t)x->previdx, "direction",
                                    x->forward ? "forward" : "backward", "message", msg));
}

/* Runs cmp without reporting; returns 1 if it found nothing. */
static int compatible(cx_t *x, const json_t *o, const char *op, const json_t *n, const char *np)
{
    size_t before = x->hits;
    x->trial++;
    cmp(x, o, op, n, np);
    x->trial--;
    int ok = x->hits == before;
    x->hits = before;
    return ok;
}

/* Paths are only read by reports, and a trial never reports: no copies then. */
static const char *path2(cx_t *x, const char *base, const char *a, const char *b)
{
    if (x->trial > 0)
        return "";
    rt_buf_t p;
    rt_buf_init(&p);
    rt_buf_append_str(&p, base);
    if (a)
        rt_schema_ptr_push(&p, a, strlen(a));
    if (b)
        rt_schema_ptr_push(&p, b, strlen(b));
    const char *s = rt_schema_arena_strndup(&x->arena, p.data ? p.data : "", p.len);
    rt_buf_close(&p);
    return s;
}

/* base + "/a" (when a is not NULL) + "/i" */
static const char *path_idx(cx_t *x, const char *base, const char *a, size_t i)
{
    if (x->trial > 0)
        return "";
    rt_buf_t p;
    rt_buf_init(&p);
    rt_buf_append_str(&p, base);
    if (a)
        rt_schema_ptr_push(&p, a, strlen(a));
    rt_schema_ptr_push_index(&p, i);
    const char *s = rt_schema_arena_strndup(&x->arena, p.data, p.len);
    rt_buf_close(&p);
    return s;
}

/* ================================================================ views */

static int find_anchor(const json_t *s, const char *name, rt_buf_t *path, int depth,
                       const json_t **out)
{
    if (depth > COMPAT_MAX_DEPTH || !(json_is_object(s) || json_is_array(s)))
        return 0;
    if (json_is_object(s)) {
        const json_t *a = json_object_get(s, "$anchor");
        const json_t *id = json_object_get(s, "$id");
        if ((json_is_string(a) && strcmp(json_string_value(a), name) == 0) ||
            (json_is_string(id) && json_string_value(id)[0] == '#' &&
             strcmp(json_string_value(id) + 1, name) == 0)) {
            *out = s;
            return 1;
        }
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)s, k, klen, v)
        {
            size_t mark = path->len;
            rt_schema_ptr_push(path, k, klen);
            if (find_anchor(v, name, path, depth + 1, out))
                return 1;
            path->len = mark;
        }
        return 0;
    }
    for (size_t i = 0; i < json_array_size(s); i++) {
        size_t mark = path->len;
        rt_schema_ptr_push_index(path, i);
        if (find_anchor(json_array_get(s, i), name, path, depth + 1, out))
            return 1;
        path->len = mark;
    }
    return 0;
}

/* Resolves a local $ref ("#/pointer" or "#anchor") in doc; *path gets its
 * location. Returns NULL for other references. */
static const json_t *deref(cx_t *x, const json_t *doc, const char *ref, const char **path)
{
    if (ref[0] != '#')
        return NULL;
    const json_t *t = NULL;
    rt_buf_t p;
    rt_buf_init(&p);
    if (ref[1] == '\0' || ref[1] == '/') {
        t = rt_schema_ptr_resolve(doc, ref + 1, strlen(ref + 1), NULL, NULL, NULL);
        rt_buf_append_str(&p, ref + 1);
    } else if (!find_anchor(doc, ref + 1, &p, 0, &t)) {
        t = NULL;
    }
    *path = rt_schema_arena_strndup(&x->arena, p.data ? p.data : "", p.len);
    rt_buf_close(&p);
    return t;
}

static void view_add(cx_t *x, view_t *v, const json_t *doc, const json_t *s, const char *path,
                     int depth)
{
    v->doc = doc;
    if (json_is_false(s)) {
        v->is_false = 1;
        return;
    }
    if (!json_is_object(s) || v->n >= VIEW_MAX_PARTS || depth > 8)
        return;
    for (size_t i = 0; i < v->n; i++) {
        if (v->parts[i] == s)
            return;
    }
    v->parts[v->n] = s;
    v->paths[v->n++] = path;
    const json_t *ref = json_object_get(s, "$ref");
    if (json_is_string(ref)) {
        const char *tp = NULL;
        const json_t *t = deref(x, doc, json_string_value(ref), &tp);
        if (t) {
            view_add(x, v, doc, t, tp, depth + 1);
        } else if (!v->unresolved) {
            v->unresolved = 1;
            v->refs = json_string_value(ref);
        }
    }
    const json_t *all = json_object_get(s, "allOf");
    for (size_t i = 0; json_is_array(all) && i < json_array_size(all); i++)
        view_add(x, v, doc, json_array_get(all, i), path_idx(x, path, "allOf", i), depth + 1);
}

/* The first part that has kw; *path gets that part's path + "/kw". */
static const json_t *vget(cx_t *x, const view_t *v, const char *kw, const char **path)
{
    for (size_t i = 0; i < v->n; i++) {
        const json_t *val = json_object_get(v->parts[i], kw);
        if (val) {
            if (path)
                *path = path2(x, v->paths[i], kw, NULL);
            return val;
        }
    }
    return NULL;
}

/* ================================================================ types */

enum { T_NULL = 1, T_BOOL = 2, T_OBJ = 4, T_ARR = 8, T_NUM = 16, T_STR = 32, T_INT = 64 };
#define T_ALL 127

static unsigned tbit(const char *name)
{
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    for (unsigned i = 0; i < RT_ARRAY_LEN(names); i++) {
        if (strcmp(names[i], name) == 0)
            return (1u << i) | (i == 4 ? T_INT : 0); /* number includes integer */
    }
    return 0;
}

static unsigned type_of_value(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return T_NULL;
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOL;
    case JSON_OBJECT:
        return T_OBJ;
    case JSON_ARRAY:
        return T_ARR;
    case JSON_STRING:
        return T_STR;
    default:
        return rt_schema_num_is_integer(v) ? T_INT : T_NUM | T_INT;
    }
}

static unsigned types_of(const json_t *t)
{
    if (json_is_string(t))
        return tbit(json_string_value(t));
    unsigned bits = 0;
    for (size_t i = 0; json_is_array(t) && i < json_array_size(t); i++) {
        const json_t *e = json_array_get(t, i);
        bits |= json_is_string(e) ? tbit(json_string_value(e)) : 0;
    }
    return bits;
}

static unsigned view_types(cx_t *x, const view_t *v, int depth);

static unsigned schema_types(cx_t *x, const json_t *doc, const json_t *s, int depth)
{
    if (++x->steps > COMPAT_MAX_STEPS)
        return T_ALL;
    view_t v;
    memset(&v, 0, sizeof(v));
    view_add(x, &v, doc, s, "", 0);
    return v.is_false ? 0 : view_types(x, &v, depth + 1);
}

/* The JSON types a view can accept: type ∩ types of enum/const values ∩
 * the union over anyOf/oneOf branches. */
static unsigned view_types(cx_t *x, const view_t *v, int depth)
{
    unsigned bits = T_ALL;
    const json_t *doc = v->doc;
    for (size_t i = 0; i < v->n; i++) {
        const json_t *p = v->parts[i];
        const json_t *t = json_object_get(p, "type");
        if (t)
            bits &= types_of(t);
        const json_t *e = json_object_get(p, "enum");
        if (json_is_array(e)) {
            unsigned eb = 0;
            for (size_t k = 0; k < json_array_size(e); k++)
                eb |= type_of_value(json_array_get(e, k));
            bits &= eb;
        }
        if ((e = json_object_get(p, "const")))
            bits &= type_of_value(e);
        const char *comb[] = {"anyOf", "oneOf"};
        for (size_t c = 0; c < 2 && depth < 8; c++) {
            const json_t *br = json_object_get(p, comb[c]);
            if (!json_is_array(br))
                continue;
            unsigned ub = 0;
            for (size_t k = 0; k < json_array_size(br); k++)
                ub |= schema_types(x, doc, json_array_get(br, k), depth);
            bits &= ub;
        }
    }
    return bits;
}

static const char *types_text(unsigned bits, char *buf, size_t n)
{
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < RT_ARRAY_LEN(names); i++) {
        if ((bits & (1u << i)) && !(i == 6 && (bits & T_NUM)))
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", names[i]);
    }
    return buf;
}

static void cmp_types(cx_t *x, unsigned to, unsigned tn, const view_t *vo, const view_t *vn,
                      const char *op, const char *np)
{
    unsigned lost = to & ~tn;
    if (lost == 0)
        return;
    const char *otp = op, *ntp = np;
    vget(x, vo, "type", &otp);
    vget(x, vn, "type", &ntp);
    char a[96], b[96];
    types_text(lost, a, sizeof(a));
    types_text(tn, b, sizeof(b));
    if ((to & tn) == 0)
        add(x, "TYPE_CHANGED", otp, ntp, "type changed: %s values were accepted, now only %s", a,
            tn ? b : "nothing");
    else
        add(x, "TYPE_NARROWED", otp, ntp, "type narrowed: %s values are no longer accepted", a);
}

/* ========================================================== enum, const */

static int in_list(const json_t *v, const json_t *list)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        if (rt_schema_json_equal(v, json_array_get(list, i)))
            return 1;
    }
    return 0;
}

static void cmp_enum(cx_t *x, const view_t *vo, const view_t *vn, const char *op)
{
    const char *oe, *ne, *oc, *nc;
    const json_t *old_enum = vget(x, vo, "enum", &oe), *new_enum = vget(x, vn, "enum", &ne);
    const json_t *old_const = vget(x, vo, "const", &oc), *new_const = vget(x, vn, "const", &nc);
    /* the finite set of old values, if any */
    json_t *olds = NULL;
    if (old_const)
        olds = json_pack("[O]", old_const);
    else if (json_is_array(old_enum))
        olds = json_incref((json_t *)old_enum);
    const char *olds_path = old_const ? oc : old_enum ? oe : op;
    if (json_is_array(new_enum)) {
        if (olds == NULL) {
            add(x, "ENUM_ADDED", op, ne, "enum added: only the listed values are accepted now");
        } else {
            for (size_t i = 0; i < json_array_size(olds); i++) {
                if (in_list(json_array_get(olds, i), new_enum))
                    continue;
                char *d = json_dumps(json_array_get(olds, i), JSON_ENCODE_ANY | JSON_COMPACT);
                add(x, "ENUM_NARROWED", olds_path, ne, "enum value %.100s is no longer accepted",
                    d);
                free(d);
            }
        }
    }
    if (new_const) {
        if (olds == NULL)
            add(x, "CONST_ADDED", op, nc, "const added: only one value is accepted now");
        else if (json_array_size(olds) != 1 ||
                 !rt_schema_json_equal(json_array_get(olds, 0), new_const))
            add(x, "CONST_CHANGED", olds_path, nc, "const changed: old values are not accepted");
    }
    json_decref(olds);
}

/* ============================================================== numbers */

/* A bound: value and whether it is exclusive; has = 0 for none. */
typedef struct bound_s {
    int has, excl;
    sc_num_t v;
    const char *path;
} bound_t;

/* The tighter of keyword kw (inclusive) and xkw (exclusive) in a view. */
static bound_t get_bound(cx_t *x, const view_t *v, const char *kw, const char *xkw, int upper)
{
    bound_t b = {0, 0, {0, 0, 0}, NULL};
    const char *p;
    const json_t *j = vget(x, v, kw, &p);
    if (json_is_number(j)) {
        b.has = 1;
        b.path = p;
        rt_schema_num_get(j, &b.v);
    }
    j = vget(x, v, xkw, &p);
    if (json_is_number(j)) {
        sc_num_t e;
        rt_schema_num_get(j, &e);
        int c = b.has ? rt_schema_num_cmp(&e, &b.v) : 0;
        if (!b.has || (upper ? c <= 0 : c >= 0))
            b = (bound_t){1, 1, e, p};
    }
    return b;
}

/* Returns 1 if new bound n is at least as loose as old bound o. */
static int bound_ok(const bound_t *o, const bound_t *n, int upper)
{
    if (!n->has)
        return 1;
    if (!o->has)
        return 0;
    int c = rt_schema_num_cmp(&n->v, &o->v);
    if (upper ? c > 0 : c < 0)
        return 1;
    return c == 0 && (!n->excl || o->excl);
}

static void cmp_numbers(cx_t *x, const view_t *vo, const view_t *vn, const char *op)
{
    for (int upper = 0; upper < 2; upper++) {
        bound_t o = get_bound(x, vo, upper ? "maximum" : "minimum",
                              upper ? "exclusiveMaximum" : "exclusiveMinimum", upper);
        bound_t n = get_bound(x, vn, upper ? "maximum" : "minimum",
                              upper ? "exclusiveMaximum" : "exclusiveMinimum", upper);
        if (bound_ok(&o, &n, upper))
            continue;
        char t[32];
        rt_schema_num_text(&n.v, t);
        if (!o.has)
            add(x, upper ? "MAXIMUM_ADDED" : "MINIMUM_ADDED", op, n.path, "%s %s added",
                upper ? "upper bound" : "lower bound", t);
        else
            add(x, upper ? "MAXIMUM_DECREASED" : "MINIMUM_INCREASED", o.path, n.path,
                "%s tightened to %s%s", upper ? "upper bound" : "lower bound", t,
                n.excl ? " (exclusive)" : "");
    }
    const char *om, *nm;
    const json_t *mo = vget(x, vo, "multipleOf", &om), *mn = vget(x, vn, "multipleOf", &nm);
    if (!json_is_number(mn) || json_number_value(mn) <= 0)
        return;
    sc_num_t a, b;
    sc_dec_t bd;
    rt_schema_num_get(mn, &b);
    rt_schema_num_decimal(&b, &bd);
    if (!json_is_number(mo)) {
        add(x, "MULTIPLE_OF_ADDED", op, nm, "multipleOf added");
        return;
    }
    rt_schema_num_get(mo, &a);
    if (!rt_schema_num_multiple_of(&a, &b, &bd))
        add(x, "MULTIPLE_OF_CHANGED", om, nm,
            "multipleOf changed to a value the old one is not a multiple of");
}

/* ===================================================== counts, strings */

/* Compares a non-negative count keyword (maxLength, minItems, ...). */
static void cmp_count(cx_t *x, const view_t *vo, const view_t *vn, const char *op, const char *kw,
                      int upper, const char *added, const char *tightened)
{
    const char *po, *pn;
    const json_t *o = vget(x, vo, kw, &po), *n = vget(x, vn, kw, &pn);
    if (!json_is_number(n))
        return;
    if (!json_is_number(o)) {
        add(x, added, op, pn, "%s added", kw);
        return;
    }
    double a = json_number_value(o), b = json_number_value(n);
    if (upper ? b < a : b > a)
        add(x, tightened, po, pn, "%s tightened from %g to %g", kw, a, b);
}

static void cmp_strings(cx_t *x, const view_t *vo, const view_t *vn, const char *op)
{
    cmp_count(x, vo, vn, op, "maxLength", 1, "MAX_LENGTH_ADDED", "MAX_LENGTH_DECREASED");
    cmp_count(x, vo, vn, op, "minLength", 0, "MIN_LENGTH_ADDED", "MIN_LENGTH_INCREASED");
    static const char *const kws[] = {"pattern", "format"};
    static const char *const added[] = {"PATTERN_ADDED", "FORMAT_ADDED"};
    static const char *const changed[] = {"PATTERN_CHANGED", "FORMAT_CHANGED"};
    for (size_t i = 0; i < 2; i++) {
        const char *po, *pn;
        const json_t *o = vget(x, vo, kws[i], &po), *n = vget(x, vn, kws[i], &pn);
        if (!json_is_string(n))
            continue;
        if (!json_is_string(o))
            add(x, added[i], op, pn, "%s %.100s added", kws[i], json_string_value(n));
        else if (strcmp(json_string_value(o), json_string_value(n)) != 0)
            add(x, changed[i], po, pn, "%s changed from %.100s to %.100s", kws[i],
                json_string_value(o), json_string_value(n));
    }
}

/* ================================================================ arrays */

/* The tuple part and the rest schema of an array schema, in either dialect. */
static void tuple_of(cx_t *x, const view_t *v, const json_t **tuple, const char **tpath,
                     const json_t **rest, const char **rpath)
{
    const char *ip = NULL, *pp = NULL, *ap = NULL;
    const json_t *items = vget(x, v, "items", &ip);
    const json_t *prefix = vget(x, v, "prefixItems", &pp);
    if (json_is_array(items)) {
        *tuple = items;
        *tpath = ip;
        *rest = vget(x, v, "additionalItems", &ap);
        *rpath = ap;
    } else {
        *tuple = json_is_array(prefix) ? prefix : NULL;
        *tpath = pp;
        *rest = items;
        *rpath = ip;
    }
}

static void cmp_arrays(cx_t *x, const view_t *vo, const view_t *vn, const char *op, const char *np)
{
    const json_t *to, *ro, *tn, *rn;
    const char *tpo, *rpo, *tpn, *rpn;
    json_t *any = json_object();
    tuple_of(x, vo, &to, &tpo, &ro, &rpo);
    tuple_of(x, vn, &tn, &tpn, &rn, &rpn);
    size_t lo = json_array_size(to), ln = json_array_size(tn);
    for (size_t i = 0; i < RT_MAX(lo, ln); i++) {
        const json_t *so = i < lo ? json_array_get(to, i) : ro ? ro : any;
        const json_t *sn = i < ln ? json_array_get(tn, i) : rn ? rn : any;
        const char *pa = i < lo ? path_idx(x, tpo, NULL, i) : rpo ? rpo : op;
        const char *pb = i < ln ? path_idx(x, tpn, NULL, i) : rpn ? rpn : np;
        cmp(x, so, pa, sn, pb);
    }
    if (rn)
        cmp(x, ro ? ro : any, rpo ? rpo : op, rn, rpn);
    json_decref(any);
    cmp_count(x, vo, vn, op, "maxItems", 1, "MAX_ITEMS_ADDED", "MAX_ITEMS_DECREASED");
    cmp_count(x, vo, vn, op, "minItems", 0, "MIN_ITEMS_ADDED", "MIN_ITEMS_INCREASED");
    const char *pu;
    if (json_is_true(vget(x, vn, "uniqueItems", &pu)) &&
        !json_is_true(vget(x, vo, "uniqueItems", NULL)))
        add(x, "UNIQUE_ITEMS_ADDED", op, pu, "uniqueItems added: repeated items are rejected");
    const char *pco, *pcn;
    const json_t *co = vget(x, vo, "contains", &pco), *cn = vget(x, vn, "contains", &pcn);
    if (cn && !co)
        add(x, "CONTAINS_ADDED", op, pcn, "contains added");
    else if (cn)
        cmp(x, co, pco, cn, pcn);
    cmp_count(x, vo, vn, op, "maxContains", 1, "MAX_CONTAINS_ADDED", "MAX_CONTAINS_DECREASED");
    cmp_count(x, vo, vn, op, "minContains", 0, "MIN_CONTAINS_ADDED", "MIN_CONTAINS_INCREASED");
}

/* =============================================================== objects */

/* Everything the object rules read from one side. */
typedef struct objside_s {
    json_t *props;      /* merged properties: name -> schema (borrowed values) */
    json_t *prop_paths; /* name -> path string */
    json_t *required;   /* merged names (array) */
    const json_t *ap;   /* additionalProperties (or unevaluatedProperties) */
    const char *ap_path;
    const json_t *pp; /* patternProperties */
    const char *pp_path;
    enum { OPEN, PARTIAL, CLOSED } model;
} objside_t;

static int is_empty_schema(const json_t *s)
{
    return json_is_true(s) || (json_is_object(s) && json_object_size(s) == 0);
}

static void objside_init(cx_t *x, const view_t *v, objside_t *s)
{
    memset(s, 0, sizeof(*s));
    s->props = json_object();
    s->prop_paths = json_object();
    s->required = json_array();
    for (size_t i = 0; i < v->n; i++) {
        const json_t *pr = json_object_get(v->parts[i], "properties");
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)pr, k, val)
        {
            if (json_object_get(s->props, k))
                continue;
            json_object_set(s->props, k, val);
            json_object_set_new(s->prop_paths, k,
                                json_string(path2(x, v->paths[i], "properties", k)));
        }
        const json_t *rq = json_object_get(v->parts[i], "required");
        for (size_t k = 0; json_is_array(rq) && k < json_array_size(rq); k++) {
            if (!in_list(json_array_get(rq, k), s->required))
                json_array_append(s->required, json_array_get(rq, k));
        }
    }
    s->ap = vget(x, v, "additionalProperties", &s->ap_path);
    if (s->ap == NULL)
        s->ap = vget(x, v, "unevaluatedProperties", &s->ap_path);
    s->pp = vget(x, v, "patternProperties", &s->pp_path);
    if (json_is_false(s->ap))
        s->model = CLOSED;
    else if ((json_is_object(s->pp) && json_object_size(s->pp) > 0) ||
             (s->ap && !is_empty_schema(s->ap)))
        s->model = PARTIAL;
    else
        s->model = OPEN;
}

static void objside_close(objside_t *s)
{
    json_decref(s->props);
    json_decref(s->prop_paths);
    json_decref(s->required);
}

static const char *prop_path(const objside_t *s, const char *name)
{
    return json_string_value(json_object_get(s->prop_paths, name));
}

/* The schema of side s that would apply to an undeclared member name:
 * a matching patternProperties schema, else additionalProperties, else {}. */
static const json_t *covering(cx_t *x, const objside_t *s, const char *name, const json_t *any,
                              const char **path)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s->pp, k, v)
    {
        pcre2_code *re = NULL;
        rt_buf_t err;
        rt_buf_init(&err);
        int match = rt_schema_regex_compile(k, strlen(k), &re, &err) == 0 &&
                    rt_schema_regex_search(re, name, strlen(name), 0);
        pcre2_code_free(re);
        rt_buf_close(&err);
        if (match) {
            *path = path2(x, s->pp_path, k, NULL);
            return v;
        }
    }
    *path = s->ap_path;
    return s->ap ? s->ap : any;
}

static void props_added(cx_t *x, const objside_t *o, const objside_t *n, const char *op,
                        const json_t *any)
{
    const char *k;
    json_t *sn;
    json_object_foreach(n->props, k, sn)
    {
        if (json_object_get(o->props, k) || o->model == CLOSED)
            continue;
        const char *np = prop_path(n, k), *cp;
        if (o->model == OPEN) {
            if (!is_empty_schema(sn))
                add(x, "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", op, np,
                    "property \"%.100s\" added to an open content model: old data may "
                    "already hold it with another value",
                    k);
            continue;
        }
        const json_t *cov = covering(x, o, k, any, &cp);
        if (!compatible(x, cov, cp ? cp : op, sn, np))
            add(x, "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", cp ? cp : op, np,
                "property \"%.100s\" added with a schema narrower than the one that covered it", k);
    }
}

static void props_removed(cx_t *x, const objside_t *o, const objside_t *n, const char *np,
                          const json_t *any)
{
    const char *k;
    json_t *so;
    json_object_foreach(o->props, k, so)
    {
        if (json_object_get(n->props, k) || json_is_false(so) || n->model == OPEN)
            continue;
        const char *op = prop_path(o, k), *cp;
        if (n->model == CLOSED) {
            json_t *name = json_string(k);
            int required = in_list(name, o->required);
            json_decref(name);
            if (!x->lenient || required)
                add(x, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", op, n->ap_path,
                    "property \"%.100s\" removed from a closed content model: old data that "
                    "has it is rejected",
                    k);
            continue;
        }
        const json_t *cov = covering(x, n, k, any, &cp);
        if (!compatible(x, so, op, cov, cp ? cp : np))
            add(x, "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", op, cp ? cp : np,
                "property \"%.100s\" removed, and the schema that now covers it is narrower", k);
    }
}

static void props_common(cx_t *x, const objside_t *o, const objside_t *n)
{
    const char *k;
    json_t *sn;
    json_object_foreach(n->props, k, sn)
    {
        const json_t *so = json_object_get(o->props, k);
        if (so)
            cmp(x, so, prop_path(o, k), sn, prop_path(n, k));
    }
}

static void required_added(cx_t *x, const objside_t *o, const objside_t *n, const view_t *vn,
                           const char *op)
{
    for (size_t i = 0; i < json_array_size(n->required); i++) {
        const json_t *r = json_array_get(n->required, i);
        if (!json_is_string(r) || in_list(r, o->required))
            continue;
        const json_t *ps = json_object_get(n->props, json_string_value(r));
        if (!x->lenient && json_is_object(ps) && json_object_get(ps, "default"))
            continue; /* strict: a default makes it readable (research §B2) */
        const char *rp = NULL;
        vget(x, vn, "required", &rp);
        add(x, "REQUIRED_PROPERTY_ADDED", op, rp,
            "property \"%.100s\" is now required; old data may lack it", json_string_value(r));
    }
}

static void additional_props(cx_t *x, const objside_t *o, const objside_t *n, const char *op,
                             const json_t *any)
{
    if (json_is_false(o->ap) || n->ap == NULL || is_empty_schema(n->ap))
        return;
    if (json_is_false(n->ap)) {
        add(x, "ADDITIONAL_PROPERTIES_REMOVED", o->ap_path ? o->ap_path : op, n->ap_path,
            "additional properties are no longer allowed");
        return;
    }
    if (!compatible(x, o->ap ? o->ap : any, o->ap_path ? o->ap_path : op, n->ap, n->ap_path))
        add(x, "ADDITIONAL_PROPERTIES_NARROWED", o->ap_path ? o->ap_path : op, n->ap_path,
            "the schema for additional properties is narrower");
}

static void pattern_props(cx_t *x, const objside_t *o, const objside_t *n, const char *op,
                          const json_t *any)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)n->pp, k, v)
    {
        const json_t *ov = json_object_get(o->pp, k);
        const char *npth = path2(x, n->pp_path, k, NULL);
        if (ov) {
            cmp(x, ov, path2(x, o->pp_path, k, NULL), v, npth);
        } else if (o->model != CLOSED &&
                   !compatible(x, o->ap ? o->ap : any, o->ap_path ? o->ap_path : op, v, npth)) {
            add(x, "PATTERN_PROPERTY_ADDED", op, npth,
                "patternProperties %.100s added with a narrower schema", k);
        }
    }
    json_object_foreach((json_t *)o->pp, k, v)
    {
        if (json_object_get(n->pp, k) || json_is_false(v))
            continue;
        const char *opth = path2(x, o->pp_path, k, NULL);
        if (json_is_false(n->ap) ||
            !compatible(x, v, opth, n->ap ? n->ap : any, n->ap_path ? n->ap_path : op))
            add(x, "PATTERN_PROPERTY_REMOVED", opth, n->ap_path ? n->ap_path : op,
                "patternProperties %.100s removed; its members now meet a narrower schema", k);
    }
}

/* dependentRequired/dependencies (arrays) and dependentSchemas/dependencies
 * (schemas): a new dependency or a longer list narrows. */
static void dependencies(cx_t *x, const view_t *vo, const view_t *vn, const char *op)
{
    static const char *const kws[] = {"dependentRequired", "dependentSchemas", "dependencies"};
    for (size_t i = 0; i < RT_ARRAY_LEN(kws); i++) {
        const char *po = op, *pn;
        const json_t *dn = vget(x, vn, kws[i], &pn), *dold = vget(x, vo, kws[i], &po);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)dn, k, v)
        {
            const json_t *ov = json_object_get(dold, k);
            const char *kp = path2(x, pn, k, NULL);
            if (ov == NULL) {
                add(x, json_is_array(v) ? "DEPENDENCY_ADDED" : "DEPENDENCY_SCHEMA_ADDED", po, kp,
                    "%s for \"%.100s\" added", kws[i], k);
            } else if (json_is_array(v) && json_is_array(ov)) {
                for (size_t j = 0; j < json_array_size(v); j++) {
                    if (!in_list(json_array_get(v, j), ov))
                        add(x, "DEPENDENCY_ARRAY_EXTENDED", path2(x, po, k, NULL), kp,
                            "%s for \"%.100s\" now also requires \"%.100s\"", kws[i], k,
                            json_string_value(json_array_get(v, j)));
                }
            } else if (!json_is_array(v)) {
                cmp(x, ov, path2(x, po, k, NULL), v, kp);
            }
        }
    }
}

static void cmp_objects(cx_t *x, const view_t *vo, const view_t *vn, const char *op, const char *np)
{
    objside_t o, n;
    objside_init(x, vo, &o);
    objside_init(x, vn, &n);
    json_t *any = json_object();
    props_added(x, &o, &n, op, any);
    props_removed(x, &o, &n, np, any);
    props_common(x, &o, &n);
    required_added(x, &o, &n, vn, op);
    additional_props(x, &o, &n, op, any);
    pattern_props(x, &o, &n, op, any);
    dependencies(x, vo, vn, op);
    cmp_count(x, vo, vn, op, "maxProperties", 1, "MAX_PROPERTIES_ADDED",
              "MAX_PROPERTIES_DECREASED");
    cmp_count(x, vo, vn, op, "minProperties", 0, "MIN_PROPERTIES_ADDED",
              "MIN_PROPERTIES_INCREASED");
    const char *pno, *pnn;
    const json_t *no = vget(x, vo, "propertyNames", &pno), *nn = vget(x, vn, "propertyNames", &pnn);
    if (nn && !is_empty_schema(nn))
        cmp(x, no ? no : any, no ? pno : op, nn, pnn);
    json_decref(any);
    objside_close(&o);
    objside_close(&n);
}

/* ========================================================== combinators */

static void swap_roles(cx_t *x)
{
    const json_t *d = x->old_doc;
    x->old_doc = x->new_doc;
    x->new_doc = d;
    x->forward = !x->forward;
}

static const json_t *sum_of(cx_t *x, const view_t *v, const char **path, const char **kw)
{
    const json_t *s = vget(x, v, "anyOf", path);
    *kw = "anyOf";
    if (!json_is_array(s)) {
        s = vget(x, v, "oneOf", path);
        *kw = "oneOf";
    }
    return json_is_array(s) ? s : NULL;
}

static void cmp_sums(cx_t *x, const json_t *o, const char *op, const json_t *n, const char *np,
                     const view_t *vo, const view_t *vn)
{
    const char *pbo, *pbn, *ko, *kn;
    const json_t *bo = sum_of(x, vo, &pbo, &ko), *bn = sum_of(x, vn, &pbn, &kn);
    if (bn && !bo) {
        for (size_t j = 0; j < json_array_size(bn); j++) {
            if (compatible(x, o, op, json_array_get(bn, j), path_idx(x, pbn, NULL, j)))
                return;
        }
        add(x, "SUM_TYPE_NARROWED", op, pbn,
            "no branch of the new %s accepts what the old "
            "schema accepted",
            kn);
        return;
    }
    for (size_t i = 0; bo && i < json_array_size(bo); i++) {
        const json_t *b = json_array_get(bo, i);
        const char *bp = path_idx(x, pbo, NULL, i);
        int ok = 0;
        for (size_t j = 0; bn && j < json_array_size(bn) && !ok; j++)
            ok = compatible(x, b, bp, json_array_get(bn, j), path_idx(x, pbn, NULL, j));
        if (!bn)
            ok = compatible(x, b, bp, n, np);
        if (!ok)
            add(x, "SUM_TYPE_NARROWED", bp, bn ? pbn : np,
                "branch %zu of the old %s is no longer accepted", i, ko);
    }
}

static void cmp_not_if(cx_t *x, const view_t *vo, const view_t *vn, const char *op)
{
    const char *po, *pn;
    const json_t *no = vget(x, vo, "not", &po), *nn = vget(x, vn, "not", &pn);
    if (nn && !no) {
        add(x, "NOT_ADDED", op, pn, "not added: some old values are now rejected");
    } else if (nn) {
        /* old accepts !no, new accepts !nn: need nn ⊆ no */
        swap_roles(x);
        int ok = compatible(x, nn, pn, no, po);
        swap_roles(x);
        if (!ok)
            add(x, "NOT_NARROWED", po, pn, "not now rejects more values");
    }
    static const char *const kws[] = {"if", "then", "else"};
    for (size_t i = 0; i < RT_ARRAY_LEN(kws); i++) {
        const json_t *a = vget(x, vo, kws[i], &po), *b = vget(x, vn, kws[i], &pn);
        if (b && !(a && rt_schema_json_equal(a, b))) {
            add(x, "CONDITIONAL_CHANGED", a ? po : op, pn, "%s added or changed", kws[i]);
            return;
        }
    }
}

/* ================================================================= core */

static void cmp_views(cx_t *x, const json_t *o, const char *op, const json_t *n, const char *np,
                      const view_t *vo, const view_t *vn)
{
    unsigned to = view_types(x, vo, 0), tn = view_types(x, vn, 0);
    cmp_types(x, to, tn, vo, vn, op, np);
    cmp_enum(x, vo, vn, op);
    unsigned both = to & tn;
    if (both & (T_NUM | T_INT))
        cmp_numbers(x, vo, vn, op);
    if (both & T_STR)
        cmp_strings(x, vo, vn, op);
    if (both & T_ARR)
        cmp_arrays(x, vo, vn, op, np);
    if (both & T_OBJ)
        cmp_objects(x, vo, vn, op, np);
    cmp_sums(x, o, op, n, np, vo, vn);
    cmp_not_if(x, vo, vn, op);
}

static void cmp(cx_t *x, const json_t *o, const char *op, const json_t *n, const char *np)
{
    const json_t *od = x->old_doc, *nd = x->new_doc;
    if (x->depth >= COMPAT_MAX_DEPTH)
        return;
    if (++x->steps > COMPAT_MAX_STEPS) {
        if (!x->exhausted && x->trial == 0) {
            x->exhausted = 1;
            add(x, "TOO_COMPLEX", op, np,
                "the schemas are too complex to compare; treated as "
                "incompatible");
        }
        x->hits++; /* in a trial: "not shown compatible" */
        return;
    }
    for (size_t i = 0; i < x->depth; i++) {
        if (x->stack[i].o == o && x->stack[i].n == n)
            return; /* recursive schemas: assume the cycle holds */
    }
    view_t vo, vn;
    memset(&vo, 0, sizeof(vo));
    memset(&vn, 0, sizeof(vn));
    view_add(x, &vo, od, o, op, 0);
    view_add(x, &vn, nd, n, np, 0);
    if (vo.is_false)
        return;
    if (vn.is_false) {
        add(x, "FALSE_SCHEMA", op, np, "the new schema accepts nothing here");
        return;
    }
    if (vn.unresolved && !(vo.unresolved && strcmp(vo.refs, vn.refs) == 0)) {
        add(x, "REFERENCE_UNRESOLVED", op, np,
            "$ref \"%.200s\" is not local, so the change cannot be checked", vn.refs);
    }
    x->stack[x->depth++] = (pair_t){o, n};
    cmp_views(x, o, op, n, np, &vo, &vn);
    x->depth--;
}

/* ================================================================ public */

static const char *const modes[] = {"NONE",           "BACKWARD",           "BACKWARD_TRANSITIVE",
                                    "FORWARD",        "FORWARD_TRANSITIVE", "FULL",
                                    "FULL_TRANSITIVE"};

int rt_schema_compat_mode_valid(const char *mode)
{
    for (size_t i = 0; mode && i < RT_ARRAY_LEN(modes); i++) {
        if (strcmp(mode, modes[i]) == 0)
            return 1;
    }
    return 0;
}

/* FORWARD: can the previous version read the candidate's data, i.e. the
 * backward question with the candidate in the old role. */
static void check_pair(cx_t *x, const json_t *prev, const json_t *cand, int forward)
{
    x->forward = forward;
    x->old_doc = forward ? cand : prev;
    x->new_doc = forward ? prev : cand;
    cmp(x, x->old_doc, "", x->new_doc, "");
}

int rt_schema_compat_check_policy(const json_t *const *previous, size_t nprevious,
                                  const json_t *candidate, const char *mode, const char *policy,
                                  json_t **breaking)
{
    if (!rt_schema_compat_mode_valid(mode) || policy == NULL ||
        (strcmp(policy, "strict") != 0 && strcmp(policy, "lenient") != 0) || candidate == NULL)
        return RT_EINVAL;
    cx_t x;
    memset(&x, 0, sizeof(x));
    x.out = json_array();
    x.lenient = strcmp(policy, "lenient") == 0;
    int back = strstr(mode, "BACKWARD") || strstr(mode, "FULL");
    int fwd = strstr(mode, "FORWARD") || strstr(mode, "FULL");
    size_t first = strstr(mode, "TRANSITIVE") || nprevious == 0 ? 0 : nprevious - 1;
    for (size_t i = first; i < nprevious; i++) {
        x.previdx = i;
        if (back)
            check_pair(&x, previous[i], candidate, 0);
        if (fwd)
            check_pair(&x, previous[i], candidate, 1);
    }
    if (x.steps > COMPAT_MAX_STEPS && !x.exhausted)
        add(&x, "TOO_COMPLEX", "", "",
            "the schemas are too complex to compare; treated as "
            "incompatible");
    rt_schema_arena_free(&x.arena);
    *breaking = x.out;
    return 0;
}

int rt_schema_compat_check(const json_t *const *previous, size_t nprevious, const json_t *candidate,
                           const char *mode, json_t **breaking)
{
    return rt_schema_compat_check_policy(previous, nprevious, candidate, mode, "strict", breaking);
}
