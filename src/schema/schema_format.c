/*
 * This file implements the `format` checks (validation spec §7.3) used when
 * formats are assertions: dates and times (RFC 3339 §5.6 and Appendix A
 * durations), e-mail addresses (RFC 5321 §4.1.2, RFC 6531 for idn-email),
 * host names (RFC 1123 §2.1, RFC 5890 A-labels with RFC 3492 Punycode),
 * IPv4/IPv6 (RFC 2673 §3.2, RFC 4291 §2.2), URIs and IRIs (RFC 3986 §3-4,
 * RFC 3987), URI templates (RFC 6570 §2), UUIDs (RFC 4122 §3), JSON pointers
 * (RFC 6901 §3), relative JSON pointers and ECMA-262 regular expressions.
 * Every check is ASCII-exact: a non-ASCII digit is never a digit.
 */
#include "schema/schema_internal.h"

#include <string.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Reads exactly k digits at s[*i] into *v. */
static int digits(const char *s, size_t n, size_t *i, size_t k, int *v)
{
    int x = 0;
    if (n - *i < k)
        return 0;
    for (size_t j = 0; j < k; j++) {
        if (!is_digit(s[*i + j]))
            return 0;
        x = x * 10 + (s[*i + j] - '0');
    }
    *i += k;
    *v = x;
    return 1;
}

static int expect(const char *s, size_t n, size_t *i, char c)
{
    if (*i >= n || s[*i] != c)
        return 0;
    (*i)++;
    return 1;
}

/* ======================================================= dates, times */

static int leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* RFC 3339 full-date at s[*i]. */
static int full_date(const char *s, size_t n, size_t *i)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (!digits(s, n, i, 4, &y) || !expect(s, n, i, '-') || !digits(s, n, i, 2, &m) ||
        !expect(s, n, i, '-') || !digits(s, n, i, 2, &d))
        return 0;
    if (m < 1 || m > 12 || d < 1)
        return 0;
    int max = mdays[m - 1] + (m == 2 && leap_year(y));
    return d <= max;
}

/* RFC 3339 full-time at s[*i], with the leap second rule: 60 only when the
 * time converted to UTC is 23:59:60. */
static int full_time(const char *s, size_t n, size_t *i)
{
    int h, m, sec, oh = 0, om = 0, sign = 0;
    if (!digits(s, n, i, 2, &h) || !expect(s, n, i, ':') || !digits(s, n, i, 2, &m) ||
        !expect(s, n, i, ':') || !digits(s, n, i, 2, &sec))
        return 0;
    if (*i < n && s[*i] == '.') {
        size_t start = ++*i;
        while (*i < n && is_digit(s[*i]))
            (*i)++;
        if (*i == start)
            return 0;
    }
    if (*i >= n)
        return 0;
    if (s[*i] == 'Z' || s[*i] == 'z') {
        (*i)++;
    } else if (s[*i] == '+' || s[*i] == '-') {
        sign = s[*i] == '+' ? 1 : -1;
        (*i)++;
        if (!digits(s, n, i, 2, &oh) || !expect(s, n, i, ':') || !digits(s, n, i, 2, &om))
            return 0;
        if (oh > 23 || om > 59)
            return 0;
    } else {
        return 0;
    }
    if (h > 23 || m > 59 || sec > 60)
        return 0;
    if (sec == 60) {
        int utc = ((h * 60 + m - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return 0;
    }
    return 1;
}

static int f_date(const char *s, size_t n)
{
    size_t i = 0;
    return full_date(s, n, &i) && i == n;
}

static int f_time(const char *s, size_t n)
{
    size_t i = 0;
    return full_time(s, n, &i) && i == n;
}

static int f_date_time(const char *s, size_t n)
{
    size_t i = 0;
    if (!full_date(s, n, &i) || i >= n || (s[i] != 'T' && s[i] != 't'))
        return 0;
    i++;
    return full_time(s, n, &i) && i == n;
}

/* Reads 1*DIGIT followed by a unit letter; returns the unit or 0. */
static char dur_elem(const char *s, size_t n, size_t *i)
{
    size_t start = *i;
    while (*i < n && is_digit(s[*i]))
        (*i)++;
    if (*i == start || *i >= n)
        return 0;
    return s[(*i)++];
}

/* Parses a chain of units in order (each optional after the first, but no
 * unit may be skipped inside the chain: Appendix A "dur-year = 1*DIGIT "Y"
 * [dur-month]"). Returns 1 if s[*i..] is one such chain up to 'T' or end. */
static int dur_chain(const char *s, size_t n, size_t *i, const char *units)
{
    const char *want = NULL;
    int first = 1;
    while (*i < n && s[*i] != 'T') {
        char u = dur_elem(s, n, i);
        if (u == 0)
            return 0;
        const char *p = strchr(units, u);
        if (p == NULL || u == '\0')
            return 0;
        if (!first && p != want)
            return 0;
        want = p + 1;
        first = 0;
    }
    return !first;
}

static int f_duration(const char *s, size_t n)
{
    size_t i = 0;
    if (!expect(s, n, &i, 'P') || i >= n)
        return 0;
    if (s[i] != 'T') {
        size_t save = i;
        char u = dur_elem(s, n, &i);
        if (u == 'W')
            return i == n;
        i = save;
        /* dur-date starts at Y, M or D and continues in order */
        size_t j = i;
        while (j < n && is_digit(s[j]))
            j++;
        const char *chain = j < n && s[j] == 'Y' ? "YMD" : j < n && s[j] == 'M' ? "MD" : "D";
        if (!dur_chain(s, n, &i, chain))
            return 0;
        if (i == n)
            return 1;
    }
    if (!expect(s, n, &i, 'T') || i >= n)
        return 0;
    size_t j = i;
    while (j < n && is_digit(s[j]))
        j++;
    const char *chain = j < n && s[j] == 'H' ? "HMS" : j < n && s[j] == 'M' ? "MS" : "S";
    return dur_chain(s, n, &i, chain) && i == n;
}

/* ========================================================= addresses */

/* RFC 2673 §3.2 dotted quad: four decimal octets, no leading zeros. */
static int ipv4_at(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0 && !expect(s, n, &i, '.'))
            return 0;
        size_t start = i;
        int v = 0;
        while (i < n && is_digit(s[i]) && i - start < 3)
            v = v * 10 + (s[i++] - '0');
        if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
            return 0;
    }
    return i == n;
}

static int f_ipv4(const char *s, size_t n)
{
    return ipv4_at(s, n);
}

/* RFC 4291 §2.2: up to eight 16-bit hex groups, one "::", an optional
 * trailing dotted quad counting as two groups; no zone, no prefix. */
static int f_ipv6(const char *s, size_t n)
{
    int groups = 0, compressed = 0;
    size_t i = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        compressed = 1;
        i = 2;
    } else if (n >= 1 && s[0] == ':') {
        return 0;
    }
    while (i < n) {
        size_t start = i;
        while (i < n && is_hex(s[i]) && i - start < 5)
            i++;
        if (i < n && s[i] == '.') {
            if (!ipv4_at(s + start, n - start))
                return 0;
            groups += 2;
            i = n;
            break;
        }
        if (i == start || i - start > 4)
            return 0;
        groups++;
        if (i == n)
            break;
        if (s[i] != ':')
            return 0;
        i++;
        if (i < n && s[i] == ':') {
            if (compressed)
                return 0;
            compressed = 1;
            i++;
        } else if (i == n) {
            return 0; /* a single trailing colon */
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

/* ====================================================== host names */

/* RFC 3492 §6.2 Punycode decoding of an A-label's tail (after "xn--");
 * returns 1 if it decodes to at least one non-basic code point. */
static int punycode_ok(const char *s, size_t n)
{
    enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700 };
    size_t b = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '-')
            b = k;
    }
    size_t out = b, in = b > 0 ? b + 1 : 0;
    uint64_t i = 0, bias = 72, nn = 128;
    int decoded = 0;
    while (in < n) {
        uint64_t oldi = i, w = 1;
        for (uint64_t k = BASE;; k += BASE) {
            if (in >= n)
                return 0;
            char c = s[in++];
            uint64_t d = is_digit(c)              ? (uint64_t)(c - '0' + 26)
                         : (c >= 'a' && c <= 'z') ? (uint64_t)(c - 'a')
                         : (c >= 'A' && c <= 'Z') ? (uint64_t)(c - 'A')
                                                  : 99;
            if (d >= BASE)
                return 0;
            i += d * w;
            uint64_t t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
            if (d < t)
                break;
            w *= BASE - t;
            if (i > 0x10ffffull * 64 || w > 0x10ffffull * 64)
                return 0;
        }
        uint64_t delta = oldi == 0 ? (i - oldi) / DAMP : (i - oldi) / 2;
        delta += delta / (out + 1);
        uint64_t k = 0;
        while (delta > ((BASE - TMIN) * TMAX) / 2) {
            delta /= BASE - TMIN;
            k += BASE;
        }
        bias = k + (BASE - TMIN + 1) * delta / (delta + SKEW);
        nn += i / (out + 1);
        i %= out + 1;
        if (nn > 0x10ffff || (nn >= 0xd800 && nn <= 0xdfff))
            return 0;
        out++;
        i++;
        decoded = 1;
    }
    return decoded;
}

/* One LDH label (RFC 1123 §2.1, RFC 5891 §4.2.3.1 for "--" in 3-4). */
static int ldh_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-')
            return 0;
    }
    if (n >= 4 && s[2] == '-' && s[3] == '-') {
        if ((s[0] != 'x' && s[0] != 'X') || (s[1] != 'n' && s[1] != 'N'))
            return 0;
        return punycode_ok(s + 4, n - 4);
    }
    return 1;
}

/* Splits on '.' (and, when idn, the ideographic full stops) and checks each
 * label: LDH, or for idn any non-ASCII label of at most 63 code points. */
static int hostname_check(const char *s, size_t n, int idn)
{
    if (n == 0 || rt_schema_utf8_len(s, n) > 253)
        return 0;
    size_t start = 0, i = 0;
    while (i <= n) {
        size_t sep = 0;
        if (i == n || s[i] == '.')
            sep = 1;
        else if (idn && n - i >= 3 &&
                 (memcmp(s + i, "\xe3\x80\x82", 3) == 0 || memcmp(s + i, "\xef\xbc\x8e", 3) == 0 ||
                  memcmp(s + i, "\xef\xbd\xa1", 3) == 0))
            sep = 3;
        if (sep == 0) {
            i++;
            continue;
        }
        const char *lab = s + start;
        size_t len = i - start;
        int ascii = 1;
        for (size_t k = 0; k < len; k++)
            ascii &= (unsigned char)lab[k] < 0x80;
        if (ascii ? !ldh_label(lab, len)
                  : (!idn || len == 0 || rt_schema_utf8_len(lab, len) > 63 || lab[0] == '-'))
            return 0;
        i += sep;
        start = i;
    }
    return 1;
}

static int f_hostname(const char *s, size_t n)
{
    return hostname_check(s, n, 0);
}

static int f_idn_hostname(const char *s, size_t n)
{
    return hostname_check(s, n, 1);
}

/* =========================================================== e-mail */

static int atext(char c, int idn)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c)) ||
           (idn && (unsigned char)c >= 0x80);
}

/* RFC 5321 §4.1.2 Local-part: Dot-string or Quoted-string; returns its length. */
static size_t local_part(const char *s, size_t n, int idn)
{
    size_t i = 0;
    if (n > 0 && s[0] == '"') {
        for (i = 1; i < n && s[i] != '"'; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\') {
                if (++i >= n || (unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
                    return 0;
            } else if ((c < 32 || c > 126) && !(idn && c >= 0x80)) {
                return 0;
            }
        }
        return i < n ? i + 1 : 0;
    }
    while (i < n && s[i] != '@') {
        size_t start = i;
        while (i < n && atext(s[i], idn))
            i++;
        if (i == start)
            return 0;
        if (i < n && s[i] == '.')
            i++;
        else
            break;
    }
    return i > 0 && s[i - 1] != '.' ? i : 0;
}

static int email_check(const char *s, size_t n, int idn)
{
    size_t l = local_part(s, n, idn);
    if (l == 0 || l >= n || s[l] != '@')
        return 0;
    const char *d = s + l + 1;
    size_t dn = n - l - 1;
    if (dn >= 2 && d[0] == '[' && d[dn - 1] == ']') {
        if (dn > 7 && memcmp(d + 1, "IPv6:", 5) == 0)
            return f_ipv6(d + 6, dn - 7);
        return ipv4_at(d + 1, dn - 2);
    }
    return hostname_check(d, dn, idn);
}

static int f_email(const char *s, size_t n)
{
    return email_check(s, n, 0);
}

static int f_idn_email(const char *s, size_t n)
{
    return email_check(s, n, 1);
}

/* ================================================================ URI */

/* Character classes of RFC 3986 §2; iri adds RFC 3987 ucschar/iprivate. */
static int unreserved(char c, int iri)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
           (iri && (unsigned char)c >= 0x80);
}

static int sub_delim(char c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* Scans *( allowed-char / pct-encoded ) from s[*i] up to end; extra lists
 * more allowed ASCII characters. Returns 0 on a bad percent escape. */
static int scan_chars(const char *s, size_t end, size_t *i, const char *extra, int iri)
{
    while (*i < end) {
        char c = s[*i];
        if (c == '%') {
            if (end - *i < 3 || !is_hex(s[*i + 1]) || !is_hex(s[*i + 2]))
                return 0;
            *i += 3;
        } else if (unreserved(c, iri) || sub_delim(c) || (c != '\0' && strchr(extra, c))) {
            (*i)++;
        } else {
            return 1;
        }
    }
    return 1;
}

/* RFC 3986 §3.2.2 IP-literal: IPv6address or IPvFuture inside brackets. */
static int ip_literal(const char *s, size_t n)
{
    if (n >= 1 && (s[0] == 'v' || s[0] == 'V')) {
        size_t i = 1;
        while (i < n && is_hex(s[i]))
            i++;
        if (i == 1 || i >= n || s[i] != '.' || i + 1 >= n)
            return 0;
        for (i++; i < n; i++) {
            if (!unreserved(s[i], 0) && !sub_delim(s[i]) && s[i] != ':')
                return 0;
        }
        return 1;
    }
    return f_ipv6(s, n);
}

/* authority = [ userinfo "@" ] host [ ":" port ], s[0..n) */
static int authority(const char *s, size_t n, int iri)
{
    const char *at = memchr(s, '@', n);
    size_t i = 0;
    if (at) {
        size_t ui = (size_t)(at - s);
        if (!scan_chars(s, ui, &i, ":", iri) || i != ui)
            return 0;
        i = ui + 1;
    }
    if (i < n && s[i] == '[') {
        const char *close = memchr(s + i, ']', n - i);
        if (close == NULL || !ip_literal(s + i + 1, (size_t)(close - s) - i - 1))
            return 0;
        i = (size_t)(close - s) + 1;
    } else if (!scan_chars(s, n, &i, "", iri)) {
        return 0;
    }
    if (i < n && s[i] == ':') {
        for (i++; i < n; i++) {
            if (!is_digit(s[i]))
                return 0;
        }
    }
    return i == n;
}

/* Checks a URI reference; need_scheme: "uri"/"iri" (absolute) vs "-reference". */
static int uri_check(const char *s, size_t n, int need_scheme, int iri)
{
    size_t i = 0, colon = strcspn(s, ":/?#");
    if (colon > n)
        colon = n;
    int has_scheme = colon < n && s[colon] == ':' && colon > 0 && is_alpha(s[0]);
    for (size_t k = 1; has_scheme && k < colon; k++) {
        if (!is_alpha(s[k]) && !is_digit(s[k]) && !strchr("+-.", s[k]))
            has_scheme = 0;
    }
    if (need_scheme && !has_scheme)
        return 0;
    if (has_scheme)
        i = colon + 1;
    size_t hier_end = i + strcspn(s + i, "?#");
    if (hier_end > n)
        hier_end = n;
    if (hier_end - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        size_t a = i + 2, aend = a + strcspn(s + a, "/?#");
        if (aend > hier_end)
            aend = hier_end;
        if (!authority(s + a, aend - a, iri))
            return 0;
        i = aend;
    } else if (!has_scheme) {
        /* path-noscheme: no ':' in the first segment */
        size_t seg = strcspn(s + i, "/?#");
        if (memchr(s + i, ':', RT_MIN(seg, hier_end - i)))
            return 0;
    }
    if (!scan_chars(s, hier_end, &i, ":@/", iri) || i != hier_end)
        return 0;
    if (i < n && s[i] == '?') {
        i++;
        if (!scan_chars(s, n, &i, ":@/?", iri))
            return 0;
    }
    if (i < n && s[i] == '#') {
        i++;
        if (!scan_chars(s, n, &i, ":@/?", iri))
            return 0;
    }
    return i == n;
}

static int f_uri(const char *s, size_t n)
{
    return uri_check(s, n, 1, 0);
}

static int f_uri_reference(const char *s, size_t n)
{
    return uri_check(s, n, 0, 0);
}

static int f_iri(const char *s, size_t n)
{
    return uri_check(s, n, 1, 1);
}

static int f_iri_reference(const char *s, size_t n)
{
    return uri_check(s, n, 0, 1);
}

/* RFC 6570 §2.3 varname = varchar *( ["."] varchar ), varchar = ALPHA /
 * DIGIT / "_" / pct-encoded; modifier ":" 1-4 digits (no leading 0) or "*". */
static int varspec(const char *s, size_t n)
{
    size_t i = 0;
    int need = 1;
    while (i < n && s[i] != ':' && s[i] != '*') {
        if (s[i] == '.') {
            if (need)
                return 0;
            need = 1;
            i++;
            continue;
        }
        if (s[i] == '%') {
            if (n - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return 0;
            i += 3;
        } else if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_') {
            i++;
        } else {
            return 0;
        }
        need = 0;
    }
    if (need)
        return 0;
    if (i < n && s[i] == '*')
        return i + 1 == n;
    if (i < n && s[i] == ':') {
        size_t d = n - i - 1;
        if (d < 1 || d > 4 || s[i + 1] == '0')
            return 0;
        for (size_t k = i + 1; k < n; k++) {
            if (!is_digit(s[k]))
                return 0;
        }
    }
    return 1;
}

static int uri_template_expr(const char *s, size_t n)
{
    size_t i = 0;
    if (n > 0 && strchr("+#./;?&=,!@|", s[0]))
        i = 1;
    if (i > 0 && strchr("=,!@|", s[0]))
        return 0; /* reserved for future extensions */
    size_t start = i;
    for (; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        if (!varspec(s + start, i - start))
            return 0;
        start = i + 1;
    }
    return 1;
}

static int f_uri_template(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '{') {
            const char *close = memchr(s + i, '}', n - i);
            if (close == NULL || !uri_template_expr(s + i + 1, (size_t)(close - s) - i - 1))
                return 0;
            i = (size_t)(close - s);
        } else if (c == '%') {
            if (n - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return 0;
        } else if (c <= 0x20 || c == 0x7f || strchr("\"<>\\^`|}", c)) {
            return 0;
        }
    }
    return 1;
}

/* ======================================================= identifiers */

static int f_uuid(const char *s, size_t n)
{
    if (n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return 0;
    }
    return 1;
}

static int json_pointer_at(const char *s, size_t n)
{
    if (n > 0 && s[0] != '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1')))
            return 0;
    }
    return 1;
}

static int f_json_pointer(const char *s, size_t n)
{
    return json_pointer_at(s, n);
}

static int f_relative_json_pointer(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_digit(s[i]))
        i++;
    if (i == 0 || (i > 1 && s[0] == '0'))
        return 0;
    if (i < n && s[i] == '#')
        return i + 1 == n;
    return json_pointer_at(s + i, n - i);
}

static int f_regex(const char *s, size_t n)
{
    pcre2_code *re = NULL;
    rt_buf_t err;
    rt_buf_init(&err);
    int ok = rt_schema_regex_compile(s, n, &re, &err) == 0;
    pcre2_code_free(re);
    rt_buf_close(&err);
    return ok;
}

static const struct {
    const char *name;
    sc_format_fn fn;
} formats[] = {
    {"date-time", f_date_time},
    {"date", f_date},
    {"time", f_time},
    {"duration", f_duration},
    {"email", f_email},
    {"idn-email", f_idn_email},
    {"hostname", f_hostname},
    {"idn-hostname", f_idn_hostname},
    {"ipv4", f_ipv4},
    {"ipv6", f_ipv6},
    {"uri", f_uri},
    {"uri-reference", f_uri_reference},
    {"iri", f_iri},
    {"iri-reference", f_iri_reference},
    {"uri-template", f_uri_template},
    {"uuid", f_uuid},
    {"json-pointer", f_json_pointer},
    {"relative-json-pointer", f_relative_json_pointer},
    {"regex", f_regex},
};

sc_format_fn rt_schema_format_lookup(const char *name)
{
    for (size_t i = 0; i < RT_ARRAY_LEN(formats); i++) {
        if (strcmp(formats[i].name, name) == 0)
            return formats[i].fn;
    }
    return NULL;
}
