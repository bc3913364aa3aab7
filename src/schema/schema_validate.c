/*
 * This file implements rt_schema_validate() and rt_schema_validate_bytes(): a
 * walk of the compiled graph over one instance, held as a document of
 * schema_doc.c (parsed from the bytes, or converted from the jansson value)
 * in an arena whose first block is on the C stack. Paths (instance and
 * keyword locations) are linked frames on the C stack and become strings
 * only when an error is reported, written straight into the caller's compact
 * error list (schema_errors.c), so a valid small instance costs no
 * allocation and an invalid one with an error or two costs none either.
 *
 * Annotations for unevaluatedProperties/unevaluatedItems (2020-12 core
 * §11.2-11.3) are bit sets over the instance's member positions or item
 * indices. A node that has an unevaluated* keyword starts a fresh set, its
 * in-place applicators ($ref, allOf, dependentSchemas, then/else) write into
 * it directly, and those whose success is optional (anyOf, oneOf, if,
 * contains) write into a temporary set that is merged only when the branch
 * holds, since annotations of failed subschemas are dropped (core §7.7.1.2).
 * Nodes without unevaluated* pass NULL down and pay nothing.
 *
 * Subschemas whose failure is not itself an error (anyOf, oneOf, not, if,
 * contains) are evaluated "quietly": no error is recorded and evaluation
 * stops at the first failure. With no error array requested the whole
 * validation is quiet, the fastest path.
 */
#include "schema/schema_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ============================================================== context */

/* One step of the instance location: a member name or an array index. */
typedef struct ipath_s {
    const struct ipath_s *up;
    const char *key; /* NULL: an index */
    size_t klen, idx;
} ipath_t;

/* One step of the keyword location: a keyword, optionally followed by a
 * member name (properties/…) or an index (allOf/…). */
typedef struct kpath_s {
    const struct kpath_s *up;
    const char *seg;
    const char *sub; /* NULL: idx if has_idx */
    size_t sublen, idx;
    int has_idx;
} kpath_t;

typedef struct vctx_s {
    const rt_schema_t *s;
    rt_schema_errors_t *errors; /* NULL: not collecting */
    size_t max, nerrors;
    int quiet;              /* > 0: inside a subschema whose failure is not an error */
    unsigned depth;         /* nodes entered */
    int overflow;           /* RT_SCHEMA_MAX_EVAL_DEPTH was hit somewhere */
    const sc_res_t **scope; /* dynamic scope (core §7.1), outermost first */
    size_t nscope;
    int utf8_checked; /* strings came through our parser: valid UTF-8 */
} vctx_t;

/* Evaluated member positions or item indices. */
typedef struct ann_s {
    uint64_t *bits;
    size_t n;
} ann_t;

/* A temporary annotation set, on the stack when small. */
typedef struct tmpann_s {
    ann_t a;
    uint64_t local[4];
} tmpann_t;

static int vnode(vctx_t *c, const sc_node_t *n, const sc_val_t *inst, const ipath_t *ip,
                 const kpath_t *kp, ann_t *ann);

static int stop(const vctx_t *c)
{
    return c->quiet > 0 || c->errors == NULL || c->nerrors >= c->max;
}

static int is_container(const sc_val_t *v)
{
    return v->type == SC_V_OBJECT || v->type == SC_V_ARRAY;
}

static ann_t *tmp_ann(tmpann_t *t, const sc_val_t *inst)
{
    size_t n = inst->n;
    size_t words = (n + 63) / 64;
    t->a.n = n;
    if (words <= RT_ARRAY_LEN(t->local)) {
        memset(t->local, 0, sizeof(t->local));
        t->a.bits = t->local;
    } else {
        t->a.bits = rt_calloc(words, sizeof(uint64_t));
    }
    return &t->a;
}

static void tmp_ann_close(tmpann_t *t)
{
    if (t->a.bits != t->local)
        rt_free(t->a.bits);
}

static void ann_set(ann_t *a, size_t i)
{
    if (a && i < a->n)
        a->bits[i / 64] |= 1ull << (i % 64);
}

static int ann_get(const ann_t *a, size_t i)
{
    return i < a->n && (a->bits[i / 64] >> (i % 64)) & 1;
}

static void ann_or(ann_t *dst, const ann_t *src)
{
    for (size_t w = 0; w < (dst->n + 63) / 64; w++)
        dst->bits[w] |= src->bits[w];
}

/* ============================================================== errors */

static void append_ipath(rt_buf_t *b, const ipath_t *ip)
{
    if (ip == NULL)
        return;
    append_ipath(b, ip->up);
    if (ip->key)
        rt_schema_ptr_push(b, ip->key, ip->klen);
    else
        rt_schema_ptr_push_index(b, ip->idx);
}

static void put_ipath(rt_schema_errors_t *e, const ipath_t *ip)
{
    if (ip == NULL)
        return;
    put_ipath(e, ip->up);
    if (ip->key)
        rt_schema_errors_put_ptr(e, ip->key, ip->klen);
    else
        rt_schema_errors_put_index(e, ip->idx);
}

static void put_kpath(rt_schema_errors_t *e, const kpath_t *kp)
{
    if (kp == NULL)
        return;
    put_kpath(e, kp->up);
    rt_schema_errors_put_ptr(e, kp->seg, strlen(kp->seg));
    if (kp->sub)
        rt_schema_errors_put_ptr(e, kp->sub, kp->sublen);
    else if (kp->has_idx)
        rt_schema_errors_put_index(e, kp->idx);
}

/* Longest error message, bytes with the terminator (names and values in
 * messages are cut to 200 bytes). */
#define MESSAGE_BYTES 384

/* Records one output unit (a "basic" output error, core §12.4.2) in the
 * compact list; jansson values are made from it only on request. */
static void add_error(vctx_t *c, const ipath_t *ip, const kpath_t *kp, const char *msg)
{
    if (c->quiet > 0 || c->errors == NULL || c->nerrors >= c->max)
        return;
    rt_schema_errors_t *e = c->errors;
    rt_schema_errors_open(e);
    put_ipath(e, ip);
    rt_schema_errors_end_string(e);
    put_kpath(e, kp);
    rt_schema_errors_end_string(e);
    rt_schema_errors_put(e, msg, strlen(msg));
    /* Our own check is several times faster than jansson's. A message is
     * invalid only where a quoted name or value was cut inside a UTF-8
     * sequence; the cut bytes become '?'. */
    size_t mlen;
    char *m = rt_schema_errors_string(e, &mlen);
    if (!rt_schema_utf8_valid(m, mlen))
        rt_schema_utf8_repair(m, mlen);
    rt_schema_errors_end_string(e);
    c->nerrors++;
}

static void report(vctx_t *c, const ipath_t *ip, const kpath_t *kp, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(vctx_t *c, const ipath_t *ip, const kpath_t *kp, const char *fmt, ...)
{
    if (c->quiet > 0 || c->errors == NULL || c->nerrors >= c->max)
        return;
    char msg[MESSAGE_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_error(c, ip, kp, msg);
}

static const char *type_name(const sc_val_t *v)
{
    static const char *const names[] = {"null",   "boolean", "boolean", "integer",
                                        "number", "string",  "array",   "object"};
    return v->type == SC_V_REAL && rt_schema_val_is_integer(v) ? "integer" : names[v->type];
}

static unsigned type_bits(const sc_val_t *v)
{
    static const unsigned bits[] = {
        SC_T_NULL,   SC_T_BOOLEAN, SC_T_BOOLEAN, SC_T_NUMBER | SC_T_INTEGER,
        SC_T_NUMBER, SC_T_STRING,  SC_T_ARRAY,   SC_T_OBJECT};
    return bits[v->type] | (v->type == SC_V_REAL && rt_schema_val_is_integer(v) ? SC_T_INTEGER : 0);
}

static void types_text(unsigned bits, char out[96])
{
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < RT_ARRAY_LEN(names); i++) {
        if (bits & (1u << i))
            len += (size_t)snprintf(out + len, 96 - len, "%s%s", len ? " or " : "", names[i]);
    }
}

/* ====================================================== scalar keywords */

static int v_type(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                  const kpath_t *kp)
{
    if (type_bits(inst) & k->u.types)
        return 1;
    char want[96];
    types_text(k->u.types, want);
    report(c, ip, kp, "expected %s, got %s", want, type_name(inst));
    return 0;
}

static int v_enum(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                  const kpath_t *kp)
{
    const sc_val_t *want = k->u.value.val;
    if (k->op == SC_OP_CONST) {
        if (rt_schema_val_equal(inst, want))
            return 1;
        add_error(c, ip, kp, k->u.value.msg);
        return 0;
    }
    for (size_t i = 0; i < want->n; i++) {
        if (rt_schema_val_equal(inst, &want->u.items[i]))
            return 1;
    }
    add_error(c, ip, kp, k->u.value.msg);
    return 0;
}

static int v_number(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                    const kpath_t *kp)
{
    sc_num_t x;
    if (!rt_schema_val_num(inst, &x))
        return 1;
    if (k->op == SC_OP_MULTIPLE_OF) {
        if (rt_schema_num_multiple_of(&x, &k->u.mult.num, &k->u.mult.dec))
            return 1;
        char a[32], b[32];
        rt_schema_num_text(&x, a);
        rt_schema_num_text(&k->u.mult.num, b);
        report(c, ip, kp, "%s is not a multiple of %s", a, b);
        return 0;
    }
    int cmp = x.is_int && k->u.num.is_int ? (x.i > k->u.num.i) - (x.i < k->u.num.i)
                                          : rt_schema_num_cmp(&x, &k->u.num);
    static const char *const what[] = {"greater than the maximum", "not less than exclusiveMaximum",
                                       "less than the minimum",
                                       "not greater than exclusiveMinimum"};
    int bad = k->op == SC_OP_MAXIMUM        ? cmp > 0
              : k->op == SC_OP_EXCL_MAXIMUM ? cmp >= 0
              : k->op == SC_OP_MINIMUM      ? cmp < 0
                                            : cmp <= 0;
    if (!bad)
        return 1;
    char a[32], b[32];
    rt_schema_num_text(&x, a);
    rt_schema_num_text(&k->u.num, b);
    report(c, ip, kp, "%s is %s %s", a, what[k->op - SC_OP_MAXIMUM], b);
    return 0;
}

static int v_string(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                    const kpath_t *kp)
{
    if (inst->type != SC_V_STRING)
        return 1;
    const char *s = inst->u.s;
    size_t n = inst->n;
    if (k->op == SC_OP_PATTERN) {
        if (rt_schema_regex_search(k->u.pattern.re, s, n, c->utf8_checked))
            return 1;
        report(c, ip, kp, "string does not match pattern %.200s", k->u.pattern.src);
        return 0;
    }
    if (k->op == SC_OP_FORMAT) {
        if (k->u.format.fn(s, n))
            return 1;
        report(c, ip, kp, "string is not a valid %s", k->u.format.name);
        return 0;
    }
    /* a code point takes 1 to 4 bytes: most strings need no counting */
    if (k->op == SC_OP_MAX_LENGTH ? n <= k->u.count : n / 4 >= k->u.count)
        return 1;
    size_t len = rt_schema_utf8_len(s, n);
    if (k->op == SC_OP_MAX_LENGTH ? len <= k->u.count : len >= k->u.count)
        return 1;
    report(c, ip, kp, "string has %zu characters, %s %s %zu", len,
           k->op == SC_OP_MAX_LENGTH ? "more than" : "fewer than", k->kw, k->u.count);
    return 0;
}

static int v_counts(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                    const kpath_t *kp)
{
    int is_items = k->op == SC_OP_MAX_ITEMS || k->op == SC_OP_MIN_ITEMS;
    if (inst->type != (is_items ? SC_V_ARRAY : SC_V_OBJECT))
        return 1;
    size_t n = inst->n;
    int is_max = k->op == SC_OP_MAX_ITEMS || k->op == SC_OP_MAX_PROPS;
    if (is_max ? n <= k->u.count : n >= k->u.count)
        return 1;
    report(c, ip, kp, "%s has %zu %s, %s %s %zu", is_items ? "array" : "object", n,
           is_items ? "items" : "properties", is_max ? "more than" : "fewer than", k->kw,
           k->u.count);
    return 0;
}

static int v_unique(vctx_t *c, const sc_val_t *inst, const ipath_t *ip, const kpath_t *kp)
{
    size_t i, j;
    if (inst->type != SC_V_ARRAY || !rt_schema_val_dup(inst, &i, &j))
        return 1;
    report(c, ip, kp, "items %zu and %zu are equal (uniqueItems)", i, j);
    return 0;
}

/* ======================================================= array keywords */

static int v_items(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                   const kpath_t *up, ann_t *ann)
{
    if (inst->type != SC_V_ARRAY)
        return 1;
    const sc_items_t *it = k->u.items;
    size_t n = inst->n;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        const sc_node_t *node = i < it->nprefix ? it->prefix[i] : it->rest;
        if (node == NULL)
            break;
        ipath_t cip = {ip, NULL, 0, i};
        kpath_t ckp = {
            up, i < it->nprefix ? it->prefix_kw : it->rest_kw, NULL, 0, i, i < it->nprefix};
        ann_set(ann, i);
        if (node->bool_schema == 0) {
            report(c, &cip, &ckp, "no item is allowed at index %zu", i);
            ok = 0;
        } else if (!vnode(c, node, &inst->u.items[i], &cip, &ckp, NULL)) {
            ok = 0;
        }
        if (!ok && stop(c))
            break;
    }
    return ok;
}

static int v_contains(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                      const kpath_t *up, ann_t *ann)
{
    if (inst->type != SC_V_ARRAY)
        return 1;
    const sc_contains_t *ct = k->u.contains;
    size_t n = inst->n, count = 0;
    kpath_t kp = {up, "contains", NULL, 0, 0, 0};
    c->quiet++;
    for (size_t i = 0; i < n; i++) {
        ipath_t cip = {ip, NULL, 0, i};
        if (vnode(c, ct->node, &inst->u.items[i], &cip, &kp, NULL)) {
            count++;
            ann_set(ann, i);
        }
        if (ann == NULL && (count > ct->max || (count >= ct->min && !ct->has_max)))
            break;
    }
    c->quiet--;
    if (count < ct->min) {
        kpath_t mkp = {up, ct->has_min ? "minContains" : "contains", NULL, 0, 0, 0};
        if (ct->has_min)
            report(c, ip, &mkp, "array has %zu items matching contains, fewer than minContains %zu",
                   count, ct->min);
        else
            report(c, ip, &mkp, "array has no item matching contains");
        return 0;
    }
    if (count > ct->max) {
        kpath_t mkp = {up, "maxContains", NULL, 0, 0, 0};
        report(c, ip, &mkp, "array has more than maxContains %zu items matching contains", ct->max);
        return 0;
    }
    return 1;
}

static int v_uneval_items(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                          const kpath_t *kp, ann_t *ann)
{
    if (inst->type != SC_V_ARRAY || ann == NULL)
        return 1;
    int ok = 1;
    for (size_t i = 0; i < inst->n; i++) {
        if (ann_get(ann, i))
            continue;
        ipath_t cip = {ip, NULL, 0, i};
        if (k->u.node->bool_schema == 0) {
            report(c, &cip, kp, "unevaluated item at index %zu is not allowed", i);
            ok = 0;
        } else if (!vnode(c, k->u.node, &inst->u.items[i], &cip, kp, NULL)) {
            ok = 0;
        }
        ann_set(ann, i);
        if (!ok && stop(c))
            break;
    }
    return ok;
}

/* ====================================================== object keywords */

/* The property named k. *next is where the previous member's property was
 * found plus one: tried first, as payloads tend to follow the schema's order. */
static const sc_prop_t *find_prop(const sc_props_t *p, const char *k, size_t klen, size_t *next)
{
    if (p->nprops == 0)
        return NULL;
    const sc_prop_t *guess = &p->props[*next < p->nprops ? *next : 0];
    if (guess->len == klen && rt_schema_bytes_eq(guess->name, k, klen)) {
        *next = (size_t)(guess - p->props) + 1;
        return guess;
    }
    uint32_t h = rt_schema_name_hash(k, klen);
    size_t mask = p->nslots - 1;
    for (size_t i = h & mask; p->slots[i]; i = (i + 1) & mask) {
        const sc_prop_t *pr = &p->props[p->slots[i] - 1];
        if (pr->len == klen && rt_schema_bytes_eq(pr->name, k, klen)) {
            *next = p->slots[i];
            return pr;
        }
    }
    return NULL;
}

/* Applies one subschema to a member; false schemas get a clearer message. */
static int v_member(vctx_t *c, const sc_node_t *node, const sc_val_t *v, const ipath_t *cip,
                    const kpath_t *kp, const char *what)
{
    if (node->bool_schema == 0) {
        report(c, cip, kp, "%s property \"%.*s\" is not allowed", what, (int)RT_MIN(cip->klen, 200),
               cip->key);
        return 0;
    }
    return vnode(c, node, v, cip, kp, NULL);
}

static int v_props(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                   const kpath_t *up, ann_t *ann)
{
    if (inst->type != SC_V_OBJECT)
        return 1;
    const sc_props_t *p = k->u.props;
    int ok = 1;
    size_t next = 0;
    for (size_t pos = 0; pos < inst->n; pos++) {
        const sc_member_t *m = &inst->u.members[pos];
        const char *key = m->key;
        size_t klen = m->klen;
        const sc_val_t *v = &m->val;
        ipath_t cip = {ip, key, klen, 0};
        int matched = 0;
        const sc_prop_t *pr = find_prop(p, key, klen, &next);
        if (pr) {
            kpath_t kp = {up, "properties", pr->name, pr->len, 0, 0};
            matched = 1;
            ok &= v_member(c, pr->node, v, &cip, &kp, "");
        }
        for (size_t i = 0; i < p->npats && (ok || !stop(c)); i++) {
            if (!rt_schema_regex_search(p->pats[i].re, key, klen, c->utf8_checked))
                continue;
            kpath_t kp = {up, "patternProperties", p->pats[i].src, strlen(p->pats[i].src), 0, 0};
            matched = 1;
            ok &= v_member(c, p->pats[i].node, v, &cip, &kp, "");
        }
        if (!matched && p->additional) {
            kpath_t kp = {up, "additionalProperties", NULL, 0, 0, 0};
            matched = 1;
            ok &= v_member(c, p->additional, v, &cip, &kp, "additional");
        }
        if (matched)
            ann_set(ann, pos);
        if (!ok && stop(c))
            break;
    }
    return ok;
}

static int v_uneval_props(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                          const kpath_t *kp, ann_t *ann)
{
    if (inst->type != SC_V_OBJECT || ann == NULL)
        return 1;
    int ok = 1;
    for (size_t pos = 0; pos < inst->n; pos++) {
        if (ann_get(ann, pos))
            continue;
        const sc_member_t *m = &inst->u.members[pos];
        ipath_t cip = {ip, m->key, m->klen, 0};
        ok &= v_member(c, k->u.node, &m->val, &cip, kp, "unevaluated");
        ann_set(ann, pos);
        if (!ok && stop(c))
            break;
    }
    return ok;
}

static int v_property_names(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                            const kpath_t *kp)
{
    if (inst->type != SC_V_OBJECT || k->u.node->bool_schema == 1)
        return 1;
    int ok = 1;
    for (size_t pos = 0; pos < inst->n; pos++) {
        const char *key = inst->u.members[pos].key;
        size_t klen = inst->u.members[pos].klen;
        ipath_t cip = {ip, key, klen, 0};
        if (k->u.node->bool_schema == 0) {
            report(c, &cip, kp, "property name \"%.*s\" is not allowed", (int)RT_MIN(klen, 200),
                   key);
            ok = 0;
        } else {
            sc_val_t name = {SC_V_STRING, (uint32_t)klen, {.s = key}};
            ok &= vnode(c, k->u.node, &name, &cip, kp, NULL);
        }
        if (!ok && stop(c))
            break;
    }
    return ok;
}

static int v_required(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                      const kpath_t *kp)
{
    if (inst->type != SC_V_OBJECT)
        return 1;
    int ok = 1;
    size_t hint = 0;
    for (size_t i = 0; i < k->u.req.n; i++) {
        if (rt_schema_val_find(inst, k->u.req.names[i], k->u.req.lens[i], &hint))
            continue;
        report(c, ip, kp, "missing required property \"%.*s\"", (int)RT_MIN(k->u.req.lens[i], 200),
               k->u.req.names[i]);
        ok = 0;
        if (stop(c))
            break;
    }
    return ok;
}

static int v_deps(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                  const kpath_t *up, ann_t *ann)
{
    if (inst->type != SC_V_OBJECT)
        return 1;
    int ok = 1;
    for (size_t i = 0; i < k->u.deps.n && (ok || !stop(c)); i++) {
        const sc_dep_t *d = &k->u.deps.deps[i];
        if (rt_schema_val_get(inst, d->name, strlen(d->name)) == NULL)
            continue;
        kpath_t kp = {up, k->kw, d->name, strlen(d->name), 0, 0};
        if (d->node) {
            ok &= vnode(c, d->node, inst, ip, &kp, ann);
            continue;
        }
        for (size_t r = 0; r < d->nreq; r++) {
            if (rt_schema_val_get(inst, d->req[r], strlen(d->req[r])))
                continue;
            report(c, ip, &kp, "property \"%.200s\" is required when \"%.200s\" is present",
                   d->req[r], d->name);
            ok = 0;
            if (stop(c))
                break;
        }
    }
    return ok;
}

/* ==================================================== applicator keywords */

static int v_all_of(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                    const kpath_t *up, ann_t *ann)
{
    int ok = 1;
    for (size_t i = 0; i < k->u.list.n; i++) {
        kpath_t kp = {up, "allOf", NULL, 0, i, 1};
        ok &= vnode(c, k->u.list.nodes[i], inst, ip, &kp, ann);
        if (!ok && stop(c))
            break;
    }
    return ok;
}

/* anyOf and oneOf: counts the branches that hold (all of them when
 * annotations are needed, else as few as decide the result). */
static int v_any_one_of(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                        const kpath_t *up, ann_t *ann)
{
    int one = k->op == SC_OP_ONE_OF;
    size_t matched = 0, first = 0, second = 0;
    int collect = ann && is_container(inst);
    c->quiet++;
    for (size_t i = 0; i < k->u.list.n; i++) {
        kpath_t kp = {up, k->kw, NULL, 0, i, 1};
        tmpann_t t;
        ann_t *a = collect ? tmp_ann(&t, inst) : NULL;
        int ok = vnode(c, k->u.list.nodes[i], inst, ip, &kp, a);
        if (ok && a)
            ann_or(ann, a);
        if (a)
            tmp_ann_close(&t);
        if (ok) {
            if (matched == 0)
                first = i;
            else if (matched == 1)
                second = i;
            matched++;
        }
        if (ok && !collect && !one)
            break;
        if (one && matched > 1)
            break;
    }
    c->quiet--;
    kpath_t kp = {up, k->kw, NULL, 0, 0, 0};
    if (matched == 0) {
        report(c, ip, &kp, "value does not match any of the %zu schemas in %s", k->u.list.n, k->kw);
        return 0;
    }
    if (one && matched > 1) {
        report(c, ip, &kp, "value matches more than one schema in oneOf (%zu and %zu)", first,
               second);
        return 0;
    }
    return 1;
}

static int v_not(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                 const kpath_t *kp)
{
    c->quiet++;
    int ok = vnode(c, k->u.node, inst, ip, kp, NULL);
    c->quiet--;
    if (!ok)
        return 1;
    report(c, ip, kp, "value must not match the schema in not");
    return 0;
}

static int v_if(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                const kpath_t *up, ann_t *ann)
{
    kpath_t kp = {up, "if", NULL, 0, 0, 0};
    int collect = ann && is_container(inst);
    tmpann_t t;
    ann_t *a = collect ? tmp_ann(&t, inst) : NULL;
    c->quiet++;
    int cond = vnode(c, k->u.cond.if_, inst, ip, &kp, a);
    c->quiet--;
    if (cond && a)
        ann_or(ann, a);
    if (a)
        tmp_ann_close(&t);
    const sc_node_t *next = cond ? k->u.cond.then_ : k->u.cond.else_;
    if (next == NULL)
        return 1;
    kp.seg = cond ? "then" : "else";
    return vnode(c, next, inst, ip, &kp, ann);
}

/* $dynamicRef (core §8.2.3.2): the outermost resource in the dynamic scope
 * that defines the anchor wins over the static target. */
static int v_dynref(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                    const kpath_t *kp, ann_t *ann)
{
    const sc_dynref_t *dr = k->u.dyn;
    const sc_node_t *target = dr->target;
    for (size_t i = 0; dr->anchor && i < c->nscope; i++) {
        const sc_res_t *r = c->scope[i];
        size_t j = 0;
        while (j < r->ndyn && strcmp(r->dyn_names[j], dr->anchor) != 0)
            j++;
        if (j < r->ndyn) {
            target = r->dyn_nodes[j];
            break;
        }
    }
    return vnode(c, target, inst, ip, kp, ann);
}

/* A $ref to a metaschema nobody supplied: the built-in check stands in. */
static int v_meta(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
                  const kpath_t *kp)
{
    int collect = !stop(c);
    json_t *probs = collect ? json_array() : NULL;
    json_t *doc = rt_schema_doc_to_json(inst); /* rare: a metaschema as a $ref target */
    size_t n = rt_schema_check(doc, k->u.meta, "", probs, collect ? c->max - c->nerrors : 1);
    json_decref(doc);
    for (size_t i = 0; i < json_array_size(probs); i++) {
        const json_t *p = json_array_get(probs, i);
        const char *loc = json_string_value(json_object_get(p, "keywordLocation"));
        /* the problem's location in the instance, under the current one */
        rt_buf_t il;
        rt_buf_init(&il);
        append_ipath(&il, ip);
        rt_buf_append_str(&il, loc ? loc : "");
        char msg[MESSAGE_BYTES];
        snprintf(msg, sizeof(msg), "not a valid schema at %s: %s", il.data ? il.data : "",
                 json_string_value(json_object_get(p, "message")));
        add_error(c, ip, kp, msg);
        rt_buf_close(&il);
    }
    json_decref(probs);
    return n == 0;
}

/* ============================================================== dispatch */

static int vkw(vctx_t *c, const sc_kw_t *k, const sc_val_t *inst, const ipath_t *ip,
               const kpath_t *up, ann_t *ann)
{
    if (k->op == SC_OP_META)
        return v_meta(c, k, inst, ip, up);
    kpath_t kp = {up, k->kw, NULL, 0, 0, 0};
    switch (k->op) {
    case SC_OP_TYPE:
        return v_type(c, k, inst, ip, &kp);
    case SC_OP_CONST:
    case SC_OP_ENUM:
        return v_enum(c, k, inst, ip, &kp);
    case SC_OP_MULTIPLE_OF:
    case SC_OP_MAXIMUM:
    case SC_OP_EXCL_MAXIMUM:
    case SC_OP_MINIMUM:
    case SC_OP_EXCL_MINIMUM:
        return v_number(c, k, inst, ip, &kp);
    case SC_OP_MAX_LENGTH:
    case SC_OP_MIN_LENGTH:
    case SC_OP_PATTERN:
    case SC_OP_FORMAT:
        return v_string(c, k, inst, ip, &kp);
    case SC_OP_MAX_ITEMS:
    case SC_OP_MIN_ITEMS:
    case SC_OP_MAX_PROPS:
    case SC_OP_MIN_PROPS:
        return v_counts(c, k, inst, ip, &kp);
    case SC_OP_UNIQUE_ITEMS:
        return v_unique(c, inst, ip, &kp);
    case SC_OP_ITEMS:
        return v_items(c, k, inst, ip, up, ann);
    case SC_OP_CONTAINS:
        return v_contains(c, k, inst, ip, up, ann);
    case SC_OP_REQUIRED:
        return v_required(c, k, inst, ip, &kp);
    case SC_OP_PROPS:
        return v_props(c, k, inst, ip, up, ann);
    case SC_OP_PROPERTY_NAMES:
        return v_property_names(c, k, inst, ip, &kp);
    case SC_OP_DEP_REQUIRED:
    case SC_OP_DEP_SCHEMAS:
        return v_deps(c, k, inst, ip, up, ann);
    case SC_OP_ALL_OF:
        return v_all_of(c, k, inst, ip, up, ann);
    case SC_OP_ANY_OF:
    case SC_OP_ONE_OF:
        return v_any_one_of(c, k, inst, ip, up, ann);
    case SC_OP_NOT:
        return v_not(c, k, inst, ip, &kp);
    case SC_OP_IF:
        return v_if(c, k, inst, ip, up, ann);
    case SC_OP_REF:
        return vnode(c, k->u.node, inst, ip, &kp, ann);
    case SC_OP_DYNREF:
        return v_dynref(c, k, inst, ip, &kp, ann);
    case SC_OP_UNEVAL_ITEMS:
        return v_uneval_items(c, k, inst, ip, &kp, ann);
    case SC_OP_UNEVAL_PROPS:
        return v_uneval_props(c, k, inst, ip, &kp, ann);
    default:
        rt_assert(!"unknown schema operation");
        return 0;
    }
}

static int run_keywords(vctx_t *c, const sc_node_t *n, const sc_val_t *inst, const ipath_t *ip,
                        const kpath_t *kp, ann_t *ann)
{
    int ok = 1;
    for (size_t i = 0; i < n->nkws; i++) {
        if (!vkw(c, &n->kws[i], inst, ip, kp, ann)) {
            ok = 0;
            if (stop(c))
                break;
        }
    }
    return ok;
}

static int vnode(vctx_t *c, const sc_node_t *n, const sc_val_t *inst, const ipath_t *ip,
                 const kpath_t *kp, ann_t *ann)
{
    if (n->bool_schema == 1)
        return 1;
    if (n->bool_schema == 0) {
        report(c, ip, kp, "no value is allowed here (false schema)");
        return 0;
    }
    if (c->depth >= RT_SCHEMA_MAX_EVAL_DEPTH) {
        c->overflow = 1;
        return 0;
    }
    int pushed = 0;
    if (c->s->dynamic && n->res && (c->nscope == 0 || c->scope[c->nscope - 1] != n->res)) {
        c->scope[c->nscope++] = n->res;
        pushed = 1;
    }
    c->depth++;
    int ok;
    if (n->uneval && is_container(inst)) {
        tmpann_t t;
        ann_t *local = tmp_ann(&t, inst);
        ok = run_keywords(c, n, inst, ip, kp, local);
        if (ok && ann)
            ann_or(ann, local);
        tmp_ann_close(&t);
    } else {
        ok = run_keywords(c, n, inst, ip, kp, ann);
    }
    c->depth--;
    c->nscope -= (size_t)pushed;
    return ok;
}

/* ================================================================ public */

/* Arena and parser stack lent to each document from the C stack, so that a
 * small document costs no malloc; bytes and entries. */
#define LOCAL_DOC_BYTES   4096
#define LOCAL_DOC_MEMBERS 64

/* utf8_checked: 1 when the document came from our parser; jansson values
 * made with its *_nocheck constructors (CDC rows) may hold any bytes.
 * errors: NULL, or an empty list to record up to max_errors units into. */
static int validate_val(const rt_schema_t *s, const sc_val_t *instance, int utf8_checked,
                        size_t max_errors, rt_schema_errors_t *errors)
{
    const sc_res_t *scope[RT_SCHEMA_MAX_EVAL_DEPTH];
    vctx_t c = {s, max_errors > 0 ? errors : NULL, max_errors, 0, 0, 0, 0, scope, 0, utf8_checked};
    int ok = vnode(&c, s->root, instance, NULL, NULL, NULL);
    if (c.overflow) {
        /* never let a too-deep branch pass silently (e.g. inside `not`) */
        c.quiet = 0;
        if (c.errors && c.nerrors >= c.max) {
            rt_schema_errors_drop_last(c.errors);
            c.nerrors--;
        }
        report(&c, NULL, NULL, "schema evaluation nested deeper than %d levels",
               RT_SCHEMA_MAX_EVAL_DEPTH);
        ok = 0;
    }
    if (ok && errors)
        rt_schema_errors_reset(errors);
    return ok ? 0 : RT_EINVAL;
}

int rt_schema_validate_collect(const rt_schema_t *s, const json_t *instance, size_t max_errors,
                               rt_schema_errors_t *errors)
{
    rt_assert(s != NULL && instance != NULL);
    if (errors)
        rt_schema_errors_reset(errors);
    max_align_t block[LOCAL_DOC_BYTES / sizeof(max_align_t)];
    sc_doc_t d;
    sc_val_t v;
    rt_schema_doc_init(&d, block, sizeof(block), NULL, 0);
    rt_schema_doc_from_json(&d, instance, &v);
    int rc = validate_val(s, &v, 0, max_errors, errors);
    rt_schema_doc_close(&d);
    return rc;
}

int rt_schema_validate_bytes_collect(const rt_schema_t *s, const char *data, size_t len,
                                     size_t max_errors, rt_schema_errors_t *errors)
{
    rt_assert(s != NULL && (data != NULL || len == 0));
    if (errors)
        rt_schema_errors_reset(errors);
    max_align_t block[LOCAL_DOC_BYTES / sizeof(max_align_t)];
    sc_member_t stack[LOCAL_DOC_MEMBERS];
    sc_doc_t d;
    sc_val_t v;
    rt_schema_doc_init(&d, block, sizeof(block), stack, RT_ARRAY_LEN(stack));
    int rc = rt_schema_doc_parse(&d, data, len, &v);
    if (rc == 0)
        rc = validate_val(s, &v, 1, max_errors, errors);
    rt_schema_doc_close(&d);
    return rc;
}

/* The json_t ** variants: the units collected, then turned into jansson. */
int rt_schema_validate(const rt_schema_t *s, const json_t *instance, size_t max_errors,
                       json_t **errors)
{
    rt_schema_errors_t e;
    rt_schema_errors_init(&e);
    int rc = rt_schema_validate_collect(s, instance, errors ? max_errors : 0, &e);
    if (rc == RT_EINVAL && errors)
        *errors = rt_schema_errors_to_json(&e);
    rt_schema_errors_close(&e);
    return rc;
}

int rt_schema_validate_bytes(const rt_schema_t *s, const char *data, size_t len, size_t max_errors,
                             json_t **errors)
{
    rt_schema_errors_t e;
    rt_schema_errors_init(&e);
    int rc = rt_schema_validate_bytes_collect(s, data, len, errors ? max_errors : 0, &e);
    if (rc == RT_EINVAL && errors)
        *errors = rt_schema_errors_to_json(&e);
    rt_schema_errors_close(&e);
    return rc;
}

int rt_schema_json_check(const char *data, size_t len)
{
    max_align_t block[LOCAL_DOC_BYTES / sizeof(max_align_t)];
    sc_member_t stack[LOCAL_DOC_MEMBERS];
    sc_doc_t d;
    sc_val_t v;
    rt_schema_doc_init(&d, block, sizeof(block), stack, RT_ARRAY_LEN(stack));
    int rc = rt_schema_doc_parse(&d, data, len, &v);
    rt_schema_doc_close(&d);
    return rc;
}
