/*
 * This file implements JSON Schema regular expressions (`pattern`,
 * `patternProperties`, format "regex"), which are ECMA-262 expressions
 * (validation spec §4.3; ECMA-262 §22.2 with the `u` flag), on top of PCRE2.
 * A small translator rewrites the places where PCRE2 and ECMA-262 disagree
 * and refuses PCRE-only syntax; docs/schema.md lists each difference:
 *
 *   - `\s`/`\S` use ECMA's whitespace set (Unicode spaces, U+FEFF, line
 *     terminators), not PCRE2's ASCII one;
 *   - `.` excludes exactly \n, \r, U+2028 and U+2029;
 *   - `$` matches only at the very end (PCRE2_DOLLAR_ENDONLY);
 *   - `\d`, `\w`, `\b` stay ASCII (no PCRE2_UCP), as in ECMA;
 *   - `\v`, `\0`, `\xHH`, `\uHHHH` (surrogate pairs joined), `\u{H…}`,
 *     `\cX`, `[\b]` and long Unicode property names are rewritten;
 *   - `[]` matches nothing and `[^]` anything (PCRE2_ALLOW_EMPTY_CLASS);
 *   - `(?i)`, `(?#…)`, `(?P<…>)`, atomic groups, possessive quantifiers and
 *     escapes such as `\A \Z \z \h \R \K \Q \e \a` are rejected.
 *
 * Matching uses a per-thread match data block and a shared match context
 * with RT_SCHEMA_REGEX_MATCH_LIMIT, JIT-compiled when PCRE2 supports it.
 */
#include "schema/schema_internal.h"

#include <pthread.h>
#include <string.h>

/* ECMA-262 §22.2.2.9 WhiteSpace and LineTerminator, as class contents. */
static const char WS_BODY[] = "\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
                              "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";
/* Its complement over all code points. */
static const char NOT_WS_BODY[] = "\\x{0}-\\x{8}\\x{e}-\\x{1f}\\x{21}-\\x{9f}\\x{a1}-\\x{167f}"
                                  "\\x{1681}-\\x{1fff}\\x{200b}-\\x{2027}\\x{202a}-\\x{202e}"
                                  "\\x{2030}-\\x{205e}\\x{2060}-\\x{2fff}\\x{3001}-\\x{fefe}"
                                  "\\x{ff00}-\\x{10ffff}";
static const char DOT_CLASS[] = "[^\\n\\r\\x{2028}\\x{2029}]";

/* Unicode General_Category long names (ECMA accepts them; PCRE2 10.42 only
 * the short ones). */
static const struct {
    const char *lng, *shrt;
} gc_names[] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
};

/* Translation state over the source pattern. */
typedef struct tr_s {
    const char *s;
    size_t n, i;
    rt_buf_t *out;
    rt_buf_t *err;
    int in_class;
    int after_quant; /* the last token was a quantifier */
} tr_t;

static int tr_fail(tr_t *t, const char *why)
{
    t->err->len = 0;
    rt_buf_appendf(t->err, "%s at offset %zu", why, t->i);
    return RT_EINVAL;
}

static int hexdig(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads exactly k hex digits at t->i; returns the value or -1. */
static long read_hex(tr_t *t, size_t k)
{
    long v = 0;
    if (t->n - t->i < k)
        return -1;
    for (size_t j = 0; j < k; j++) {
        int h = hexdig(t->s[t->i + j]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    t->i += k;
    return v;
}

static void emit_cp(tr_t *t, long cp)
{
    rt_buf_appendf(t->out, "\\x{%lx}", cp);
}

/* \u{H…} or \uHHHH (joining a surrogate pair); t->i is after 'u'. */
static int tr_unicode(tr_t *t)
{
    long cp;
    if (t->i < t->n && t->s[t->i] == '{') {
        size_t end = t->i + 1;
        cp = 0;
        while (end < t->n && hexdig(t->s[end]) >= 0 && cp <= 0x10ffff)
            cp = cp * 16 + hexdig(t->s[end++]);
        if (end == t->i + 1 || end >= t->n || t->s[end] != '}' || cp > 0x10ffff)
            return tr_fail(t, "bad \\u{...} escape");
        t->i = end + 1;
    } else {
        cp = read_hex(t, 4);
        if (cp < 0)
            return tr_fail(t, "bad \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff && t->n - t->i >= 6 && t->s[t->i] == '\\' &&
            t->s[t->i + 1] == 'u') {
            size_t save = t->i;
            t->i += 2;
            long lo = read_hex(t, 4);
            if (lo >= 0xdc00 && lo <= 0xdfff)
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            else
                t->i = save;
        }
    }
    if (cp >= 0xd800 && cp <= 0xdfff)
        return tr_fail(t, "lone surrogate escape");
    emit_cp(t, cp);
    return 0;
}

/* \p{…} / \P{…}; t->i is after 'p'. */
static int tr_property(tr_t *t, char p)
{
    if (t->i >= t->n || t->s[t->i] != '{')
        return tr_fail(t, "\\p needs {name}");
    size_t start = t->i + 1, end = start;
    while (end < t->n && t->s[end] != '}')
        end++;
    if (end >= t->n || end == start)
        return tr_fail(t, "bad \\p{...}");
    const char *name = t->s + start;
    size_t len = end - start;
    t->i = end + 1;
    const char *eq = memchr(name, '=', len);
    if (eq && ((eq - name == 16 && memcmp(name, "General_Category", 16) == 0) ||
               (eq - name == 2 && memcmp(name, "gc", 2) == 0))) {
        len -= (size_t)(eq + 1 - name);
        name = eq + 1;
    }
    for (size_t k = 0; k < RT_ARRAY_LEN(gc_names); k++) {
        if (strlen(gc_names[k].lng) == len && memcmp(gc_names[k].lng, name, len) == 0) {
            name = gc_names[k].shrt;
            len = strlen(name);
            break;
        }
    }
    rt_buf_appendf(t->out, "\\%c{%.*s}", p, (int)len, name);
    return 0;
}

static int is_syntax_char(char c)
{
    return c != '\0' && strchr("^$\\.*+?()[]{}|/-", c) != NULL;
}

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Class escapes and control escapes shared by both contexts; returns 1 if
 * handled, 0 if not one of them. */
static int tr_simple_escape(tr_t *t, char c)
{
    switch (c) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        rt_buf_appendf(t->out, "\\%c", c);
        return 1;
    case 'v':
        emit_cp(t, 0x0b);
        return 1;
    case 's':
        rt_buf_appendf(t->out, t->in_class ? "%s" : "[%s]", WS_BODY);
        return 1;
    case 'S':
        rt_buf_appendf(t->out, t->in_class ? "%s" : "[%s]", NOT_WS_BODY);
        return 1;
    default:
        return 0;
    }
}

/* One escape; t->i is on the character after the backslash. */
static int tr_escape(tr_t *t)
{
    if (t->i >= t->n)
        return tr_fail(t, "trailing backslash");
    char c = t->s[t->i++];
    if (tr_simple_escape(t, c))
        return 0;
    if (c == 'b' || c == 'B') {
        if (t->in_class && c == 'B')
            return tr_fail(t, "\\B in a character class");
        if (t->in_class)
            emit_cp(t, 0x08);
        else
            rt_buf_appendf(t->out, "\\%c", c);
        return 0;
    }
    if (c == 'c') {
        char l = t->i < t->n ? t->s[t->i] : '\0';
        if (!((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z')))
            return tr_fail(t, "\\c needs a letter");
        t->i++;
        emit_cp(t, l % 32);
        return 0;
    }
    if (c == '0') {
        if (t->i < t->n && t->s[t->i] >= '0' && t->s[t->i] <= '9')
            return tr_fail(t, "octal escapes are not ECMA-262");
        emit_cp(t, 0);
        return 0;
    }
    if (c >= '1' && c <= '9') {
        if (t->in_class)
            return tr_fail(t, "backreference in a character class");
        size_t start = t->i - 1;
        while (t->i < t->n && t->s[t->i] >= '0' && t->s[t->i] <= '9' && t->i - start < 6)
            t->i++;
        rt_buf_appendf(t->out, "\\g{%.*s}", (int)(t->i - start), t->s + start);
        return 0;
    }
    if (c == 'x') {
        long v = read_hex(t, 2);
        if (v < 0)
            return tr_fail(t, "\\x needs two hex digits");
        emit_cp(t, v);
        return 0;
    }
    if (c == 'u')
        return tr_unicode(t);
    if (c == 'p' || c == 'P')
        return tr_property(t, c);
    if (c == 'k' && !t->in_class) {
        size_t end = t->i;
        while (end < t->n && t->s[end] != '>')
            end++;
        if (t->i >= t->n || t->s[t->i] != '<' || end >= t->n)
            return tr_fail(t, "bad \\k<name>");
        rt_buf_appendf(t->out, "\\k%.*s", (int)(end + 1 - t->i), t->s + t->i);
        t->i = end + 1;
        return 0;
    }
    if (is_alnum(c))
        return tr_fail(t, "escape is not ECMA-262");
    if (is_syntax_char(c) || (unsigned char)c < 0x80) {
        rt_buf_appendf(t->out, "\\%c", c);
        return 0;
    }
    /* A non-ASCII character escaped: copy it whole, unescaped. */
    t->i--;
    size_t k = 1;
    while (t->i + k < t->n && ((unsigned char)t->s[t->i + k] & 0xc0) == 0x80)
        k++;
    rt_buf_append(t->out, t->s + t->i, k);
    t->i += k;
    return 0;
}

/* "(?…" groups: only ECMA's (?: (?= (?! (?<= (?<! (?<name> are allowed. */
static int tr_group(tr_t *t)
{
    const char *p = t->s + t->i;
    size_t left = t->n - t->i;
    rt_buf_append(t->out, "(", 1);
    t->i++;
    if (left < 2 || p[1] != '?')
        return 0;
    if (left >= 3 && (p[2] == ':' || p[2] == '=' || p[2] == '!'))
        return 0;
    if (left >= 4 && p[2] == '<' && (p[3] == '=' || p[3] == '!'))
        return 0;
    if (left >= 4 && p[2] == '<' && (is_alnum(p[3]) || p[3] == '_' || p[3] == '$'))
        return 0;
    return tr_fail(t, "group syntax is not ECMA-262");
}

/* "{n}", "{n,}", "{n,m}" at t->i: returns its length, or 0 if not a quantifier. */
static size_t brace_quant_len(const tr_t *t)
{
    size_t j = t->i + 1, digits = 0;
    while (j < t->n && t->s[j] >= '0' && t->s[j] <= '9')
        j++, digits++;
    if (digits == 0)
        return 0;
    if (j < t->n && t->s[j] == ',') {
        j++;
        while (j < t->n && t->s[j] >= '0' && t->s[j] <= '9')
            j++;
    }
    return j < t->n && t->s[j] == '}' ? j + 1 - t->i : 0;
}

static int tr_outside(tr_t *t, char c)
{
    int quant = 0;
    if (c == '\\') {
        t->i++;
        int rc = tr_escape(t);
        t->after_quant = 0;
        return rc;
    }
    if (c == '(') {
        t->after_quant = 0;
        return tr_group(t);
    }
    if ((c == '+' || c == '?' || c == '*') && t->after_quant) {
        if (c != '?')
            return tr_fail(t, "possessive or repeated quantifier");
        rt_buf_append(t->out, "?", 1);
        t->i++;
        t->after_quant = 0;
        return 0;
    }
    if (c == '.') {
        rt_buf_append_str(t->out, DOT_CLASS);
    } else if (c == '[') {
        t->in_class = 1;
        rt_buf_append(t->out, "[", 1);
        if (t->i + 1 < t->n && t->s[t->i + 1] == '^') {
            rt_buf_append(t->out, "^", 1);
            t->i++;
        }
        if (t->i + 1 < t->n && t->s[t->i + 1] == ']') {
            rt_buf_append(t->out, "]", 1);
            t->i++;
            t->in_class = 0;
        }
    } else if (c == '{') {
        size_t q = brace_quant_len(t);
        if (q == 0) {
            rt_buf_append(t->out, "\\{", 2);
        } else {
            rt_buf_append(t->out, t->s + t->i, q);
            t->i += q - 1;
            quant = 1;
        }
    } else {
        quant = c == '*' || c == '+' || c == '?';
        rt_buf_append(t->out, &c, 1);
    }
    t->i++;
    t->after_quant = quant;
    return 0;
}

static int tr_inside(tr_t *t, char c)
{
    if (c == '\\') {
        t->i++;
        return tr_escape(t);
    }
    if (c == '[') {
        rt_buf_append(t->out, "\\[", 2); /* not a POSIX [:class:] */
    } else {
        if (c == ']')
            t->in_class = 0;
        rt_buf_append(t->out, &c, 1);
    }
    t->i++;
    return 0;
}

/* Rewrites an ECMA-262 pattern as a PCRE2 one into out. */
static int translate(const char *src, size_t n, rt_buf_t *out, rt_buf_t *err)
{
    tr_t t = {src, n, 0, out, err, 0, 0};
    while (t.i < t.n) {
        char c = t.s[t.i];
        int rc = t.in_class ? tr_inside(&t, c) : tr_outside(&t, c);
        if (rc < 0)
            return rc;
    }
    if (t.in_class)
        return tr_fail(&t, "unterminated character class");
    rt_buf_reserve(out, 1);
    out->data[out->len] = '\0';
    return 0;
}

int rt_schema_regex_compile(const char *src, size_t n, pcre2_code **out, rt_buf_t *err)
{
    rt_buf_t pat;
    rt_buf_init(&pat);
    int rc = translate(src, n, &pat, err);
    if (rc < 0)
        goto out;
    int code;
    PCRE2_SIZE off;
    uint32_t opts =
        PCRE2_UTF | PCRE2_ALLOW_EMPTY_CLASS | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, opts, &code, &off, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof(msg));
        err->len = 0;
        rt_buf_appendf(err, "%s", (const char *)msg);
        rc = RT_EINVAL;
        goto out;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter remains if JIT fails */
    *out = re;
out:
    rt_buf_close(&pat);
    return rc;
}

/* ============================================================ matching */

static pthread_once_t match_once = PTHREAD_ONCE_INIT;
static pthread_key_t md_key;
static pcre2_match_context *match_ctx;

static void md_free(void *p)
{
    pcre2_match_data_free(p);
}

static void match_init(void)
{
    rt_assert(pthread_key_create(&md_key, md_free) == 0);
    match_ctx = pcre2_match_context_create(NULL);
    rt_assert(match_ctx != NULL);
    pcre2_set_match_limit(match_ctx, RT_SCHEMA_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(match_ctx, RT_SCHEMA_REGEX_MATCH_LIMIT / 100);
}

static pcre2_match_data *thread_md(void)
{
    pthread_once(&match_once, match_init);
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (md == NULL) {
        md = pcre2_match_data_create(1, NULL);
        rt_assert(md != NULL);
        rt_assert(pthread_setspecific(md_key, md) == 0);
    }
    return md;
}

int rt_schema_regex_search(const pcre2_code *re, const char *s, size_t n, int utf8_checked)
{
    pcre2_match_data *md = thread_md();
    uint32_t opts = utf8_checked ? PCRE2_NO_UTF_CHECK : 0;
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, opts, md, match_ctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, opts | PCRE2_NO_JIT, md, match_ctx);
    return rc >= 0;
}
