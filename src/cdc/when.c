/*
 * This file implements the `when` filter language of mappings: a lexer and a
 * recursive-descent parser that compile an expression once into a compact
 * syntax tree (nodes in one array, strings in one pool), and an evaluator
 * that walks it against a change's new and old rows with SQL's three-valued
 * logic. The grammar and the semantics are documented in docs/cdc.md. The
 * source, the nesting, the tree and `in` lists are bounded at compile time,
 * so evaluation is O(nodes), recursion is at most RT_CDC_WHEN_MAX_DEPTH deep,
 * and it neither allocates nor fails.
 */
#include "cdc/cdc_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NONE 0xffffu /* no node */

/* ================================================================ tree */

enum {
    K_NULL,
    K_TRUE,
    K_FALSE,
    K_NUM,     /* s/n: number text; is_int/i when it fits int64 */
    K_STR,     /* s/n: decoded string */
    K_OP,      /* the change's operation */
    K_REF,     /* row (ROW_*) column s/n, path segments from first */
    K_NAME,    /* a path segment or a changed() argument: s/n */
    K_CHANGED, /* arguments from first */
    K_LOWER,
    K_UPPER,
    K_LENGTH, /* function of a */
    K_NOT,    /* a */
    K_AND,    /* operands from first */
    K_OR,
    K_CMP,    /* a op b */
    K_IN,     /* a [not] in (items from first) */
    K_ISNULL, /* a is [not] null */
    K_LIKE    /* a [not] like|ilike b */
};

enum { ROW_AUTO, ROW_NEW, ROW_OLD };
enum { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

/* One node. Children of n-ary nodes are chained through next. */
typedef struct {
    uint8_t kind;
    uint8_t op;  /* CMP_* for K_CMP, ROW_* for K_REF, 1 = ilike for K_LIKE */
    uint8_t neg; /* not in, is not null, not like */
    uint8_t is_int;
    uint16_t a, b;
    uint16_t first; /* first child of a list */
    uint16_t next;  /* next sibling in the parent's list */
    const char *s;  /* in the pool, NUL-terminated */
    uint32_t n;
    int64_t i;
} node_t;

/* A distinct column the expression reads. */
typedef struct {
    const char *name;
    unsigned flags; /* RT_CDC_WHEN_REF_* */
} colref_t;

/* Invariants: every node index in the tree is < nnodes; pool is allocated
 * once at compile time so node strings never move. */
struct rt_cdc_when_s {
    node_t *nodes;
    uint16_t nnodes;
    uint16_t root;
    char *pool;
    colref_t *cols;
    size_t ncols;
};

/* =============================================================== lexer */

enum {
    T_EOF,
    T_IDENT,
    T_QIDENT, /* "quoted identifier" */
    T_STRING, /* 'string' */
    T_NUMBER,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_DOT,
    T_CMP, /* op in tok.op */
    T_AND, /* && */
    T_OR,  /* || */
    T_BANG /* ! */
};

typedef struct {
    int kind;
    int op;
    size_t start, len;
} tok_t;

/* Parser state. Errors are sticky: the first one is kept. */
typedef struct {
    const char *s;
    size_t n;
    size_t pos;
    tok_t t;
    rt_cdc_when_t *w;
    size_t cap;  /* allocated nodes */
    char *poolw; /* next free pool byte */
    int depth;
    int failed;
    char *err;
    size_t errcap;
} parser_t;

static void fail(parser_t *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(parser_t *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    if (!p->errcap)
        return;
    int k = snprintf(p->err, p->errcap, "at %zu: ", at + 1);
    if (k < 0 || (size_t)k >= p->errcap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + k, p->errcap - (size_t)k, fmt, ap);
    va_end(ap);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(char c)
{
    return is_ident_start(c) || is_digit(c);
}

/* A number: [-] digits [. digits] [e [+-] digits] (or [-] . digits ...). */
static size_t lex_number(const char *s, size_t n, size_t i)
{
    size_t start = i;
    if (i < n && s[i] == '-')
        i++;
    size_t mant = i;
    while (i < n && is_digit(s[i]))
        i++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i - mant == 0 || (i - mant == 1 && s[mant] == '.'))
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = i + 1;
        if (e < n && (s[e] == '+' || s[e] == '-'))
            e++;
        if (e < n && is_digit(s[e])) {
            while (e < n && is_digit(s[e]))
                e++;
            i = e;
        }
    }
    return i - start;
}

/* A quoted token ('...' or "..."), the quote doubled inside; 0 if open. */
static size_t lex_quoted(const char *s, size_t n, size_t i)
{
    char q = s[i];
    size_t start = i++;
    while (i < n) {
        if (s[i] == q) {
            if (i + 1 < n && s[i + 1] == q) {
                i += 2;
                continue;
            }
            return i + 1 - start;
        }
        i++;
    }
    return 0;
}

/* Two-character and one-character operators. */
static int lex_op(parser_t *p, size_t i)
{
    static const struct {
        const char *text;
        int kind, op;
    } ops[] = {
        {"==", T_CMP, CMP_EQ}, {"!=", T_CMP, CMP_NE}, {"<>", T_CMP, CMP_NE}, {"<=", T_CMP, CMP_LE},
        {">=", T_CMP, CMP_GE}, {"&&", T_AND, 0},      {"||", T_OR, 0},       {"=", T_CMP, CMP_EQ},
        {"<", T_CMP, CMP_LT},  {">", T_CMP, CMP_GT},  {"!", T_BANG, 0},      {"(", T_LPAREN, 0},
        {")", T_RPAREN, 0},    {",", T_COMMA, 0},     {".", T_DOT, 0},
    };
    for (size_t k = 0; k < RT_ARRAY_LEN(ops); k++) {
        size_t len = strlen(ops[k].text);
        if (p->n - i >= len && memcmp(p->s + i, ops[k].text, len) == 0) {
            p->t.kind = ops[k].kind;
            p->t.op = ops[k].op;
            p->t.len = len;
            return 0;
        }
    }
    return RT_EINVAL;
}

/* Reads the next token into p->t. */
static void next(parser_t *p)
{
    size_t i = p->pos;
    while (i < p->n && (p->s[i] == ' ' || p->s[i] == '\t' || p->s[i] == '\n' || p->s[i] == '\r'))
        i++;
    p->t.start = i;
    p->t.len = 0;
    p->t.op = 0;
    if (i >= p->n) {
        p->t.kind = T_EOF;
    } else if (is_ident_start(p->s[i])) {
        size_t j = i;
        while (j < p->n && is_ident(p->s[j]))
            j++;
        p->t.kind = T_IDENT;
        p->t.len = j - i;
    } else if (p->s[i] == '\'' || p->s[i] == '"') {
        p->t.kind = p->s[i] == '\'' ? T_STRING : T_QIDENT;
        p->t.len = lex_quoted(p->s, p->n, i);
        if (p->t.len == 0) {
            fail(p, i, "unterminated %s", p->s[i] == '\'' ? "string" : "quoted identifier");
            p->t.kind = T_EOF;
        }
    } else if (lex_number(p->s, p->n, i) > 0) {
        p->t.kind = T_NUMBER;
        p->t.len = lex_number(p->s, p->n, i);
    } else if (lex_op(p, i) < 0) {
        if ((unsigned char)p->s[i] >= 0x20 && (unsigned char)p->s[i] < 0x7f)
            fail(p, i, "unexpected character '%c'", p->s[i]);
        else
            fail(p, i, "unexpected character");
        p->t.kind = T_EOF;
    }
    p->pos = i + p->t.len;
}

/* Whether the current token is the keyword kw (case-insensitive). */
static int is_kw(const parser_t *p, const char *kw)
{
    return p->t.kind == T_IDENT && p->t.len == strlen(kw) &&
           strncasecmp(p->s + p->t.start, kw, p->t.len) == 0;
}

/* Whether the token after the current one is kind (one token lookahead). */
static int peek_is(parser_t *p, int kind)
{
    parser_t q = *p;
    q.err = NULL;
    q.errcap = 0;
    next(&q);
    return !q.failed && q.t.kind == kind;
}

static int peek_kw(parser_t *p, const char *kw)
{
    parser_t q = *p;
    q.err = NULL;
    q.errcap = 0;
    next(&q);
    return !q.failed && is_kw(&q, kw);
}

/* ========================================================== node pool */

static uint16_t new_node(parser_t *p, int kind)
{
    rt_cdc_when_t *w = p->w;
    if (w->nnodes >= RT_CDC_WHEN_MAX_NODES) {
        fail(p, p->t.start, "expression too complex (over %d nodes)", RT_CDC_WHEN_MAX_NODES);
        return NONE;
    }
    if (w->nnodes == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        w->nodes = rt_realloc(w->nodes, p->cap * sizeof(node_t));
    }
    node_t *nd = &w->nodes[w->nnodes];
    memset(nd, 0, sizeof(*nd));
    nd->kind = (uint8_t)kind;
    nd->a = nd->b = nd->first = nd->next = NONE;
    return w->nnodes++;
}

static node_t *nodeat(parser_t *p, uint16_t i)
{
    return &p->w->nodes[i];
}

/* Copies the current token's text into the pool, undoubling quotes when the
 * token is quoted, and points node i at it. */
static void set_text(parser_t *p, uint16_t i)
{
    const char *s = p->s + p->t.start;
    size_t len = p->t.len;
    char *w = p->poolw;
    if (p->t.kind == T_STRING || p->t.kind == T_QIDENT) {
        char q = s[0];
        for (size_t k = 1; k + 1 < len; k++) {
            *w++ = s[k];
            if (s[k] == q)
                k++; /* the doubled quote */
        }
    } else {
        memcpy(w, s, len);
        w += len;
    }
    *w = '\0';
    nodeat(p, i)->s = p->poolw;
    nodeat(p, i)->n = (uint32_t)(w - p->poolw);
    p->poolw = w + 1;
}

/* Appends child to the list of node parent; *tail tracks the last child. */
static void append_child(parser_t *p, uint16_t parent, uint16_t *tail, uint16_t child)
{
    if (*tail == NONE)
        nodeat(p, parent)->first = child;
    else
        nodeat(p, *tail)->next = child;
    *tail = child;
}

/* ============================================================== parser */

static uint16_t parse_expr(parser_t *p);
static uint16_t parse_operand(parser_t *p);

static int expect(parser_t *p, int kind, const char *what)
{
    if (p->failed)
        return RT_EINVAL;
    if (p->t.kind != kind) {
        fail(p, p->t.start, "expected %s", what);
        return RT_EINVAL;
    }
    next(p);
    return p->failed ? RT_EINVAL : 0;
}

static int enter(parser_t *p)
{
    if (++p->depth > RT_CDC_WHEN_MAX_DEPTH) {
        fail(p, p->t.start, "expression nested too deeply (over %d levels)", RT_CDC_WHEN_MAX_DEPTH);
        return RT_EINVAL;
    }
    return 0;
}

static int is_reserved(const parser_t *p)
{
    static const char *const kws[] = {"and",   "or",   "not",   "in",  "is",  "null", "true",
                                      "false", "like", "ilike", "new", "old", "op"};
    for (size_t k = 0; k < RT_ARRAY_LEN(kws); k++)
        if (is_kw(p, kws[k]))
            return 1;
    return 0;
}

/* A column or path name: an identifier or a "quoted identifier". */
static uint16_t parse_name(parser_t *p, int kind)
{
    if (p->t.kind != T_IDENT && p->t.kind != T_QIDENT) {
        fail(p, p->t.start, "expected a column name");
        return NONE;
    }
    uint16_t nd = new_node(p, kind);
    if (nd == NONE)
        return NONE;
    set_text(p, nd);
    if (nodeat(p, nd)->n == 0 || nodeat(p, nd)->n > RT_CDC_NAME_MAX_BYTES) {
        fail(p, p->t.start, "column names are 1 to %d bytes", RT_CDC_NAME_MAX_BYTES);
        return NONE;
    }
    next(p);
    return nd;
}

/* column {"." name}, the row already chosen. */
static uint16_t parse_ref(parser_t *p, int row)
{
    uint16_t ref = parse_name(p, K_REF);
    if (ref == NONE)
        return NONE;
    nodeat(p, ref)->op = (uint8_t)row;
    uint16_t tail = NONE;
    while (!p->failed && p->t.kind == T_DOT) {
        next(p);
        uint16_t seg = parse_name(p, K_NAME);
        if (seg == NONE)
            return NONE;
        append_child(p, ref, &tail, seg);
    }
    return p->failed ? NONE : ref;
}

/* changed(name {, name}) */
static uint16_t parse_changed(parser_t *p)
{
    uint16_t fn = new_node(p, K_CHANGED);
    uint16_t tail = NONE;
    if (fn == NONE || expect(p, T_LPAREN, "'('") < 0)
        return NONE;
    for (;;) {
        if (is_reserved(p)) {
            fail(p, p->t.start, "expected a column name");
            return NONE;
        }
        uint16_t arg = parse_name(p, K_NAME);
        if (arg == NONE)
            return NONE;
        append_child(p, fn, &tail, arg);
        if (p->t.kind != T_COMMA)
            break;
        next(p);
    }
    return expect(p, T_RPAREN, "')'") < 0 ? NONE : fn;
}

/* lower(expr), upper(expr), length(expr) */
static uint16_t parse_func1(parser_t *p, int kind)
{
    uint16_t fn = new_node(p, kind);
    if (fn == NONE || expect(p, T_LPAREN, "'('") < 0 || enter(p) < 0)
        return NONE;
    uint16_t arg = parse_expr(p);
    p->depth--;
    if (arg == NONE || expect(p, T_RPAREN, "')'") < 0)
        return NONE;
    nodeat(p, fn)->a = arg;
    return fn;
}

static uint16_t parse_function(parser_t *p)
{
    static const struct {
        const char *name;
        int kind;
    } fns[] = {
        {"changed", K_CHANGED}, {"lower", K_LOWER}, {"upper", K_UPPER}, {"length", K_LENGTH}};
    for (size_t k = 0; k < RT_ARRAY_LEN(fns); k++) {
        if (!is_kw(p, fns[k].name))
            continue;
        next(p);
        return fns[k].kind == K_CHANGED ? parse_changed(p) : parse_func1(p, fns[k].kind);
    }
    fail(p, p->t.start, "unknown function '%.*s'", (int)RT_MIN(p->t.len, 32), p->s + p->t.start);
    return NONE;
}

static uint16_t parse_literal_kw(parser_t *p)
{
    int kind = is_kw(p, "null") ? K_NULL : is_kw(p, "true") ? K_TRUE : K_FALSE;
    uint16_t nd = new_node(p, kind);
    next(p);
    return nd;
}

static uint16_t parse_number(parser_t *p)
{
    uint16_t nd = new_node(p, K_NUM);
    if (nd == NONE)
        return NONE;
    set_text(p, nd);
    int64_t v;
    if (rt_parse_i64(nodeat(p, nd)->s, nodeat(p, nd)->n, &v) == 0) {
        nodeat(p, nd)->is_int = 1;
        nodeat(p, nd)->i = v;
    }
    next(p);
    return nd;
}

/* new.col / old.col */
static uint16_t parse_qualified(parser_t *p)
{
    int row = is_kw(p, "new") ? ROW_NEW : ROW_OLD;
    const char *word = row == ROW_NEW ? "new" : "old";
    next(p);
    if (p->t.kind != T_DOT) {
        fail(p, p->t.start, "expected '.' after '%s'", word);
        return NONE;
    }
    next(p);
    return parse_ref(p, row);
}

static uint16_t parse_ident_operand(parser_t *p)
{
    if (is_kw(p, "null") || is_kw(p, "true") || is_kw(p, "false"))
        return parse_literal_kw(p);
    if (is_kw(p, "new") || is_kw(p, "old"))
        return parse_qualified(p);
    if (is_kw(p, "op")) {
        next(p);
        return new_node(p, K_OP);
    }
    if (peek_is(p, T_LPAREN))
        return parse_function(p);
    if (is_reserved(p)) {
        fail(p, p->t.start, "expected an operand, got '%.*s'", (int)p->t.len, p->s + p->t.start);
        return NONE;
    }
    return parse_ref(p, ROW_AUTO);
}

/* literal | column | op | function | "(" expr ")" */
static uint16_t parse_operand(parser_t *p)
{
    if (p->failed)
        return NONE;
    switch (p->t.kind) {
    case T_NUMBER:
        return parse_number(p);
    case T_STRING: {
        uint16_t nd = new_node(p, K_STR);
        if (nd != NONE) {
            set_text(p, nd);
            next(p);
        }
        return nd;
    }
    case T_QIDENT:
        return parse_ref(p, ROW_AUTO);
    case T_IDENT:
        return parse_ident_operand(p);
    case T_LPAREN: {
        if (enter(p) < 0)
            return NONE;
        next(p);
        uint16_t e = parse_expr(p);
        p->depth--;
        return e == NONE || expect(p, T_RPAREN, "')'") < 0 ? NONE : e;
    }
    default:
        fail(p, p->t.start, "expected an operand");
        return NONE;
    }
}

/* "(" operand {"," operand} ")" after `in` */
static uint16_t parse_in(parser_t *p, uint16_t subject, int neg)
{
    uint16_t in = new_node(p, K_IN);
    uint16_t tail = NONE;
    if (in == NONE || expect(p, T_LPAREN, "'(' after 'in'") < 0)
        return NONE;
    nodeat(p, in)->a = subject;
    nodeat(p, in)->neg = (uint8_t)neg;
    for (int count = 1;; count++) {
        if (count > RT_CDC_WHEN_MAX_IN_ITEMS) {
            fail(p, p->t.start, "too many values in 'in' list (at most %d)",
                 RT_CDC_WHEN_MAX_IN_ITEMS);
            return NONE;
        }
        uint16_t item = parse_operand(p);
        if (item == NONE)
            return NONE;
        append_child(p, in, &tail, item);
        if (p->t.kind != T_COMMA)
            break;
        next(p);
    }
    return expect(p, T_RPAREN, "')'") < 0 ? NONE : in;
}

/* [not] like|ilike 'pattern' */
static uint16_t parse_like(parser_t *p, uint16_t subject, int neg)
{
    uint16_t like = new_node(p, K_LIKE);
    if (like == NONE)
        return NONE;
    nodeat(p, like)->op = is_kw(p, "ilike");
    nodeat(p, like)->neg = (uint8_t)neg;
    nodeat(p, like)->a = subject;
    next(p);
    if (p->t.kind != T_STRING) {
        fail(p, p->t.start, "expected a string pattern after 'like'");
        return NONE;
    }
    if (p->t.len - 2 > RT_CDC_WHEN_MAX_LIKE_BYTES) {
        fail(p, p->t.start, "pattern longer than %d bytes", RT_CDC_WHEN_MAX_LIKE_BYTES);
        return NONE;
    }
    uint16_t pat = parse_operand(p); /* may move the node array */
    if (pat == NONE)
        return NONE;
    nodeat(p, like)->b = pat;
    return like;
}

/* is [not] null */
static uint16_t parse_is(parser_t *p, uint16_t subject)
{
    uint16_t is = new_node(p, K_ISNULL);
    if (is == NONE)
        return NONE;
    nodeat(p, is)->a = subject;
    next(p);
    if (is_kw(p, "not")) {
        nodeat(p, is)->neg = 1;
        next(p);
    }
    if (!is_kw(p, "null")) {
        fail(p, p->t.start, "expected 'null'");
        return NONE;
    }
    next(p);
    return is;
}

/* operand [cmp operand | [not] in (...) | is [not] null | [not] [i]like pat] */
static uint16_t parse_predicate(parser_t *p)
{
    uint16_t a = parse_operand(p);
    if (a == NONE || p->failed)
        return NONE;
    if (p->t.kind == T_CMP) {
        uint16_t cmp = new_node(p, K_CMP);
        if (cmp == NONE)
            return NONE;
        nodeat(p, cmp)->op = (uint8_t)p->t.op;
        next(p);
        nodeat(p, cmp)->a = a;
        uint16_t b = parse_operand(p); /* may move the node array */
        if (b == NONE)
            return NONE;
        nodeat(p, cmp)->b = b;
        return cmp;
    }
    int neg = 0;
    if (is_kw(p, "not") && (peek_kw(p, "in") || peek_kw(p, "like") || peek_kw(p, "ilike"))) {
        neg = 1;
        next(p);
    }
    if (is_kw(p, "in")) {
        next(p);
        return parse_in(p, a, neg);
    }
    if (is_kw(p, "like") || is_kw(p, "ilike"))
        return parse_like(p, a, neg);
    if (is_kw(p, "is"))
        return parse_is(p, a);
    return a;
}

/* ("not" | "!") unary | predicate */
static uint16_t parse_unary(parser_t *p)
{
    if (!is_kw(p, "not") && p->t.kind != T_BANG)
        return parse_predicate(p);
    uint16_t nd = new_node(p, K_NOT);
    if (nd == NONE || enter(p) < 0)
        return NONE;
    next(p);
    uint16_t a = parse_unary(p); /* may move the node array */
    p->depth--;
    if (a == NONE)
        return NONE;
    nodeat(p, nd)->a = a;
    return nd;
}

/* One n-ary level: operand {op operand}, op being the keyword or symbol. */
static uint16_t parse_chain(parser_t *p, int kind, const char *kw, int sym,
                            uint16_t (*sub)(parser_t *))
{
    uint16_t first = sub(p);
    if (first == NONE || p->failed)
        return NONE;
    if (!is_kw(p, kw) && p->t.kind != sym)
        return first;
    uint16_t nd = new_node(p, kind);
    uint16_t tail = NONE;
    if (nd == NONE)
        return NONE;
    append_child(p, nd, &tail, first);
    while (is_kw(p, kw) || p->t.kind == sym) {
        next(p);
        uint16_t more = sub(p);
        if (more == NONE || p->failed)
            return NONE;
        append_child(p, nd, &tail, more);
    }
    return nd;
}

static uint16_t parse_and(parser_t *p)
{
    return parse_chain(p, K_AND, "and", T_AND, parse_unary);
}

static uint16_t parse_expr(parser_t *p)
{
    return parse_chain(p, K_OR, "or", T_OR, parse_and);
}

/* ========================================================== compile */

static void add_col(rt_cdc_when_t *w, const char *name, unsigned flag)
{
    for (size_t i = 0; i < w->ncols; i++) {
        if (strcmp(w->cols[i].name, name) == 0) {
            w->cols[i].flags |= flag;
            return;
        }
    }
    w->cols[w->ncols].name = name;
    w->cols[w->ncols].flags = flag;
    w->ncols++;
}

/* Lists the columns read, in node (that is, source) order. */
static void collect_columns(rt_cdc_when_t *w)
{
    w->cols = rt_calloc(w->nnodes ? w->nnodes : 1, sizeof(colref_t));
    for (uint16_t i = 0; i < w->nnodes; i++) {
        const node_t *nd = &w->nodes[i];
        if (nd->kind == K_REF)
            add_col(w, nd->s, nd->op == ROW_OLD ? RT_CDC_WHEN_REF_OLD : RT_CDC_WHEN_REF_NEW);
        if (nd->kind != K_CHANGED)
            continue;
        for (uint16_t c = nd->first; c != NONE; c = w->nodes[c].next)
            add_col(w, w->nodes[c].s, RT_CDC_WHEN_REF_CHANGED);
    }
}

static void set_err(char *err, size_t errcap, const char *msg)
{
    if (errcap)
        snprintf(err, errcap, "%s", msg);
}

int rt_cdc_when_compile(const char *src, size_t len, rt_cdc_when_t **out, char *err, size_t errcap)
{
    if (len > RT_CDC_WHEN_MAX_BYTES) {
        set_err(err, errcap, "expression longer than 4096 bytes");
        return RT_EINVAL;
    }
    if (!rt_utf8_valid(src, len)) {
        set_err(err, errcap, "expression is not valid UTF-8");
        return RT_EINVAL;
    }
    rt_cdc_when_t *w = rt_calloc(1, sizeof(*w));
    w->pool = rt_malloc(2 * len + 2);
    parser_t p = {.s = src, .n = len, .w = w, .poolw = w->pool, .err = err, .errcap = errcap};
    next(&p);
    w->root = parse_expr(&p);
    if (!p.failed && p.t.kind != T_EOF)
        fail(&p, p.t.start, "expected end of expression");
    if (p.failed || w->root == NONE) {
        if (!p.failed)
            fail(&p, p.t.start, "expected an expression");
        rt_cdc_when_free(w);
        return RT_EINVAL;
    }
    collect_columns(w);
    *out = w;
    return 0;
}

void rt_cdc_when_free(rt_cdc_when_t *w)
{
    if (!w)
        return;
    rt_free(w->nodes);
    rt_free(w->pool);
    rt_free(w->cols);
    rt_free(w);
}

size_t rt_cdc_when_ncolumns(const rt_cdc_when_t *w)
{
    return w->ncols;
}

const char *rt_cdc_when_column(const rt_cdc_when_t *w, size_t i, unsigned *flags)
{
    rt_assert(i < w->ncols);
    if (flags)
        *flags = w->cols[i].flags;
    return w->cols[i].name;
}

/* ============================================================ values */

enum { V_MISSING, V_NULL, V_BOOL, V_NUM, V_STR, V_JSON };
enum { NK_TEXT, NK_INT, NK_REAL };
enum { FOLD_NONE, FOLD_LOWER, FOLD_UPPER };
typedef enum { TV_FALSE, TV_TRUE, TV_UNKNOWN } tv_t;

/* A value during evaluation; strings are borrowed from the tree or rows. */
typedef struct {
    uint8_t kind;
    uint8_t fold; /* V_STR: case folding still to apply */
    uint8_t numk; /* V_NUM: NK_* */
    int b;
    int64_t i;
    double d;
    const char *s; /* V_STR, V_NUM text */
    size_t n;
    const json_t *j; /* V_JSON */
} val_t;

typedef struct {
    const rt_cdc_when_t *w;
    const json_t *new_row;
    const json_t *old_row;
    const char *op;
    int is_delete;
} ctx_t;

static val_t from_json(const json_t *j)
{
    val_t v;
    memset(&v, 0, sizeof(v));
    switch (json_typeof(j)) {
    case JSON_NULL:
        v.kind = V_NULL;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v.kind = V_BOOL;
        v.b = json_is_true(j);
        break;
    case JSON_INTEGER:
        v.kind = V_NUM;
        v.numk = NK_INT;
        v.i = json_integer_value(j);
        break;
    case JSON_REAL:
        v.kind = V_NUM;
        v.numk = NK_REAL;
        v.d = json_real_value(j);
        break;
    case JSON_STRING:
        v.kind = V_STR;
        v.s = json_string_value(j);
        v.n = json_string_length(j);
        break;
    default:
        v.kind = V_JSON;
        v.j = j;
        break;
    }
    return v;
}

static val_t mk(int kind)
{
    val_t v;
    memset(&v, 0, sizeof(v));
    v.kind = (uint8_t)kind;
    return v;
}

static val_t eval_ref(const ctx_t *c, const node_t *nd)
{
    const json_t *row = nd->op == ROW_NEW   ? c->new_row
                        : nd->op == ROW_OLD ? c->old_row
                        : c->is_delete      ? c->old_row
                                            : c->new_row;
    const json_t *j = json_is_object(row) ? json_object_getn(row, nd->s, nd->n) : NULL;
    if (!j)
        return mk(V_MISSING); /* unknown: not sent, or unchanged TOAST */
    for (uint16_t s = nd->first; s != NONE; s = c->w->nodes[s].next) {
        const node_t *seg = &c->w->nodes[s];
        j = json_is_object(j) ? json_object_getn(j, seg->s, seg->n) : NULL;
        if (!j)
            return mk(V_NULL); /* an absent JSON member reads as null */
    }
    return from_json(j);
}

/* Code points of a UTF-8 string. */
static int64_t utf8_len(const char *s, size_t n)
{
    int64_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xc0) != 0x80;
    return count;
}

static tv_t eval_tv(const ctx_t *c, uint16_t i);

static val_t eval_func(const ctx_t *c, const node_t *nd);

static val_t eval_val(const ctx_t *c, uint16_t i)
{
    const node_t *nd = &c->w->nodes[i];
    val_t v = mk(V_NULL);
    switch (nd->kind) {
    case K_NULL:
        return v;
    case K_TRUE:
    case K_FALSE:
        v.kind = V_BOOL;
        v.b = nd->kind == K_TRUE;
        return v;
    case K_NUM:
        v.kind = V_NUM;
        v.numk = nd->is_int ? NK_INT : NK_TEXT;
        v.i = nd->i;
        v.s = nd->s;
        v.n = nd->n;
        return v;
    case K_STR:
        v.kind = V_STR;
        v.s = nd->s;
        v.n = nd->n;
        return v;
    case K_OP:
        if (c->op) {
            v.kind = V_STR;
            v.s = c->op;
            v.n = strlen(c->op);
        }
        return v;
    case K_REF:
        return eval_ref(c, nd);
    case K_LOWER:
    case K_UPPER:
    case K_LENGTH:
        return eval_func(c, nd);
    default: {
        tv_t t = eval_tv(c, i);
        if (t != TV_UNKNOWN) {
            v.kind = V_BOOL;
            v.b = t == TV_TRUE;
        }
        return v;
    }
    }
}

/* lower/upper mark a string for folding (applied lazily, ASCII only);
 * length counts code points or elements. Other types give null. */
static val_t eval_func(const ctx_t *c, const node_t *nd)
{
    val_t v = eval_val(c, nd->a);
    if (v.kind == V_NULL || v.kind == V_MISSING)
        return v;
    if (nd->kind != K_LENGTH) {
        if (v.kind != V_STR)
            return mk(V_NULL);
        v.fold = nd->kind == K_LOWER ? FOLD_LOWER : FOLD_UPPER;
        return v;
    }
    val_t r = mk(V_NUM);
    r.numk = NK_INT;
    if (v.kind == V_STR)
        r.i = utf8_len(v.s, v.n);
    else if (v.kind == V_JSON)
        r.i = (int64_t)(json_is_array(v.j) ? json_array_size(v.j) : json_object_size(v.j));
    else
        return mk(V_NULL);
    return r;
}

/* ========================================================== numbers */

/* A decimal number as 0.DDD x 10^exp; digits run from p to end, skipping
 * one '.'. zero has no digits. */
typedef struct {
    int neg;
    int zero;
    long exp;
    const char *p;
    const char *end;
} dec_t;

#define EXP_CLAMP 1000000L

static size_t skip_digits(const char *s, size_t n, size_t i)
{
    while (i < n && is_digit(s[i]))
        i++;
    return i;
}

/* [+-] digits [. digits] [e [+-] digits] exactly. */
static int dec_parse(const char *s, size_t n, dec_t *d)
{
    size_t i = 0;
    memset(d, 0, sizeof(*d));
    if (i < n && (s[i] == '-' || s[i] == '+'))
        d->neg = s[i++] == '-';
    size_t is = i, ie = skip_digits(s, n, i);
    size_t fs = ie, fe = ie;
    i = ie;
    if (i < n && s[i] == '.') {
        fs = i + 1;
        fe = skip_digits(s, n, fs);
        i = fe;
    }
    if (ie == is && fe == fs)
        return RT_EINVAL;
    long e = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n || !is_digit(s[i]))
            return RT_EINVAL;
        for (; i < n && is_digit(s[i]); i++)
            e = e < EXP_CLAMP ? e * 10 + (s[i] - '0') : EXP_CLAMP;
        e = eneg ? -e : e;
    }
    if (i != n)
        return RT_EINVAL;
    d->end = s + fe;
    for (size_t k = is; k < ie; k++) {
        if (s[k] != '0') {
            d->p = s + k;
            d->exp = (long)(ie - k) + e;
            return 0;
        }
    }
    for (size_t k = fs; k < fe; k++) {
        if (s[k] != '0') {
            d->p = s + k;
            d->exp = -(long)(k - fs) + e;
            return 0;
        }
    }
    d->zero = 1;
    return 0;
}

/* The next significant digit ('0' past the end). */
static char dec_next(const char **p, const char *end)
{
    if (*p < end && **p == '.')
        (*p)++;
    return *p < end ? *(*p)++ : '0';
}

static int dec_cmp(const dec_t *a, const dec_t *b)
{
    int sa = a->zero ? 0 : a->neg ? -1 : 1;
    int sb = b->zero ? 0 : b->neg ? -1 : 1;
    if (sa != sb || sa == 0)
        return sa < sb ? -1 : sa > sb;
    int mag = 0;
    if (a->exp != b->exp) {
        mag = a->exp > b->exp ? 1 : -1;
    } else {
        const char *pa = a->p, *pb = b->p;
        while (mag == 0 && (pa < a->end || pb < b->end)) {
            char da = dec_next(&pa, a->end), db = dec_next(&pb, b->end);
            mag = (da > db) - (da < db);
        }
    }
    return sa * mag;
}

/* The text of a number value, in buf when it has to be printed. */
static int num_text(const val_t *v, char *buf, size_t cap, dec_t *d)
{
    if (v->kind == V_STR || v->numk == NK_TEXT)
        return dec_parse(v->s, v->n, d);
    int k = v->numk == NK_INT ? snprintf(buf, cap, "%" PRId64, v->i)
                              : snprintf(buf, cap, "%.17g", v->d);
    if (k <= 0 || (size_t)k >= cap)
        return RT_EINVAL;
    return dec_parse(buf, (size_t)k, d);
}

/* Exact comparison of two numbers (or numeric strings). */
static int num_cmp(const val_t *a, const val_t *b, int *out)
{
    if (a->kind == V_NUM && b->kind == V_NUM && a->numk == NK_INT && b->numk == NK_INT) {
        *out = (a->i > b->i) - (a->i < b->i);
        return 0;
    }
    char ba[40], bb[40];
    dec_t da, db;
    if (num_text(a, ba, sizeof(ba), &da) < 0 || num_text(b, bb, sizeof(bb), &db) < 0)
        return RT_EINVAL;
    *out = dec_cmp(&da, &db);
    return 0;
}

/* PostgreSQL's canonical numeric text: -?(0|[1-9][0-9]*)(\.[0-9]+)? */
static int canon_num(const char *s, size_t n)
{
    size_t i = s && n && s[0] == '-' ? 1 : 0;
    if (i >= n || !is_digit(s[i]) || (s[i] == '0' && i + 1 < n && is_digit(s[i + 1])))
        return 0;
    i = skip_digits(s, n, i);
    if (i < n && s[i] == '.') {
        size_t f = skip_digits(s, n, i + 1);
        if (f == i + 1)
            return 0;
        i = f;
    }
    return i == n;
}

/* ========================================================== strings */

static unsigned char fold(unsigned char ch, int mode)
{
    if (mode == FOLD_LOWER && ch >= 'A' && ch <= 'Z')
        return (unsigned char)(ch + 32);
    if (mode == FOLD_UPPER && ch >= 'a' && ch <= 'z')
        return (unsigned char)(ch - 32);
    return ch;
}

static int str_cmp(const val_t *a, const val_t *b)
{
    size_t n = RT_MIN(a->n, b->n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ca = fold((unsigned char)a->s[i], a->fold);
        unsigned char cb = fold((unsigned char)b->s[i], b->fold);
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return (a->n > b->n) - (a->n < b->n);
}

/* Bytes of the UTF-8 character at s[i] (at least 1, within n). */
static size_t cp_len(const char *s, size_t i, size_t n)
{
    unsigned char ch = (unsigned char)s[i];
    size_t k = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc0 ? 2 : 1;
    return RT_MIN(k, n - i);
}

/* SQL LIKE: % any run, _ one character, backslash escapes. Iterative, with
 * one backtrack point; O(len(s) * len(pattern)). */
static int like(const char *s, size_t n, int sf, const char *p, size_t m, int pf)
{
    size_t si = 0, pi = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < n) {
        if (pi < m && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < m && p[pi] == '_') {
            si += cp_len(s, si, n);
            pi++;
            continue;
        }
        if (pi < m) {
            size_t adv = p[pi] == '\\' && pi + 1 < m ? 2 : 1;
            if (fold((unsigned char)p[pi + adv - 1], pf) == fold((unsigned char)s[si], sf)) {
                si++;
                pi += adv;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return 0;
        star_s += cp_len(s, star_s, n);
        si = star_s;
        pi = star_p;
    }
    while (pi < m && p[pi] == '%')
        pi++;
    return pi == m;
}

/* ======================================================= comparisons */

/* Orders a and b (neither null nor missing): 0 and *out, or RT_EINVAL when
 * their types do not compare. *ordered is 0 for JSON arrays and objects,
 * which only compare for equality. */
static int compare(const val_t *a, const val_t *b, int *out, int *ordered)
{
    *ordered = 1;
    if (a->kind == V_BOOL && b->kind == V_BOOL) {
        *out = a->b - b->b;
        return 0;
    }
    if (a->kind == V_NUM && b->kind == V_NUM)
        return num_cmp(a, b, out);
    if (a->kind == V_NUM && b->kind == V_STR)
        return canon_num(b->s, b->n) ? num_cmp(a, b, out) : RT_EINVAL;
    if (a->kind == V_STR && b->kind == V_NUM)
        return canon_num(a->s, a->n) ? num_cmp(a, b, out) : RT_EINVAL;
    if (a->kind == V_STR && b->kind == V_STR) {
        if (canon_num(a->s, a->n) && canon_num(b->s, b->n))
            return num_cmp(a, b, out);
        *out = str_cmp(a, b);
        return 0;
    }
    if (a->kind == V_JSON && b->kind == V_JSON) {
        *ordered = 0;
        *out = !json_equal((json_t *)a->j, (json_t *)b->j);
        return 0;
    }
    return RT_EINVAL;
}

static tv_t tv(int b)
{
    return b ? TV_TRUE : TV_FALSE;
}

static int is_unknown(const val_t *v)
{
    return v->kind == V_NULL || v->kind == V_MISSING;
}

/* A comparison: unknown with a null or missing side; a type mismatch is
 * false (true for !=). */
static tv_t cmp_tv(int op, const val_t *a, const val_t *b)
{
    if (is_unknown(a) || is_unknown(b))
        return TV_UNKNOWN;
    int c, ordered;
    if (compare(a, b, &c, &ordered) < 0)
        return tv(op == CMP_NE);
    switch (op) {
    case CMP_EQ:
        return tv(c == 0);
    case CMP_NE:
        return tv(c != 0);
    case CMP_LT:
        return tv(ordered && c < 0);
    case CMP_LE:
        return tv(ordered && c <= 0);
    case CMP_GT:
        return tv(ordered && c > 0);
    default:
        return tv(ordered && c >= 0);
    }
}

static tv_t negate(tv_t t, int neg)
{
    if (!neg || t == TV_UNKNOWN)
        return t;
    return t == TV_TRUE ? TV_FALSE : TV_TRUE;
}

/* x [not] in (items): SQL semantics, null items make a miss unknown. */
static tv_t eval_in(const ctx_t *c, const node_t *nd)
{
    val_t x = eval_val(c, nd->a);
    if (is_unknown(&x))
        return TV_UNKNOWN;
    tv_t r = TV_FALSE;
    for (uint16_t i = nd->first; i != NONE; i = c->w->nodes[i].next) {
        val_t v = eval_val(c, i);
        tv_t t = cmp_tv(CMP_EQ, &x, &v);
        if (t == TV_TRUE)
            return negate(TV_TRUE, nd->neg);
        if (t == TV_UNKNOWN)
            r = TV_UNKNOWN;
    }
    return negate(r, nd->neg);
}

static tv_t eval_like(const ctx_t *c, const node_t *nd)
{
    val_t v = eval_val(c, nd->a);
    val_t pat = eval_val(c, nd->b);
    if (is_unknown(&v))
        return TV_UNKNOWN;
    if (v.kind != V_STR)
        return negate(TV_FALSE, nd->neg);
    int sf = nd->op ? FOLD_LOWER : v.fold;
    int pf = nd->op ? FOLD_LOWER : FOLD_NONE;
    return negate(tv(like(v.s, v.n, sf, pat.s, pat.n, pf)), nd->neg);
}

static tv_t eval_list(const ctx_t *c, const node_t *nd)
{
    tv_t stop = nd->kind == K_AND ? TV_FALSE : TV_TRUE;
    tv_t r = nd->kind == K_AND ? TV_TRUE : TV_FALSE;
    for (uint16_t i = nd->first; i != NONE; i = c->w->nodes[i].next) {
        tv_t t = eval_tv(c, i);
        if (t == stop)
            return stop;
        if (t == TV_UNKNOWN)
            r = TV_UNKNOWN;
    }
    return r;
}

static tv_t eval_changed(const ctx_t *c, const node_t *nd)
{
    for (uint16_t i = nd->first; i != NONE; i = c->w->nodes[i].next)
        if (rt_cdc_changed(c->new_row, c->old_row, c->op, c->w->nodes[i].s))
            return TV_TRUE;
    return TV_FALSE;
}

static tv_t eval_tv(const ctx_t *c, uint16_t i)
{
    const node_t *nd = &c->w->nodes[i];
    switch (nd->kind) {
    case K_NOT:
        return negate(eval_tv(c, nd->a), 1);
    case K_AND:
    case K_OR:
        return eval_list(c, nd);
    case K_CMP: {
        val_t a = eval_val(c, nd->a), b = eval_val(c, nd->b);
        return cmp_tv(nd->op, &a, &b);
    }
    case K_IN:
        return eval_in(c, nd);
    case K_ISNULL: {
        val_t v = eval_val(c, nd->a);
        if (v.kind == V_MISSING)
            return TV_UNKNOWN;
        return negate(tv(v.kind == V_NULL), nd->neg);
    }
    case K_LIKE:
        return eval_like(c, nd);
    case K_CHANGED:
        return eval_changed(c, nd);
    default: {
        val_t v = eval_val(c, i);
        if (is_unknown(&v))
            return TV_UNKNOWN;
        return tv(v.kind == V_BOOL && v.b);
    }
    }
}

int rt_cdc_when_eval(const rt_cdc_when_t *w, const json_t *new_row, const json_t *old_row,
                     const char *op)
{
    ctx_t c = {w, new_row, old_row, op, op && strcmp(op, "delete") == 0};
    return eval_tv(&c, w->root) == TV_TRUE;
}

/* ========================================================== changes */

int rt_cdc_changed(const json_t *new_row, const json_t *old_row, const char *op, const char *col)
{
    const json_t *nv = json_is_object(new_row) ? json_object_get(new_row, col) : NULL;
    const json_t *ov = json_is_object(old_row) ? json_object_get(old_row, col) : NULL;
    if (nv && ov)
        return !json_equal((json_t *)nv, (json_t *)ov);
    if (nv)
        return 1;
    if (ov)
        return op && strcmp(op, "delete") == 0;
    return 0;
}

unsigned rt_cdc_op_parse(const char *op)
{
    if (!op)
        return 0;
    if (strcmp(op, "insert") == 0)
        return RT_CDC_OP_INSERT;
    if (strcmp(op, "update") == 0)
        return RT_CDC_OP_UPDATE;
    if (strcmp(op, "delete") == 0)
        return RT_CDC_OP_DELETE;
    return 0;
}
