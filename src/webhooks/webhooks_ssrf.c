/*
 * This file implements the SSRF guard: the classification of a resolved
 * address as public or not (loopback, RFC 1918 private, link-local, RFC 6598
 * CGNAT, multicast, unspecified, reserved, IPv6 ULA and link-local, and IPv4
 * mapped into IPv6), the allow-list of CIDRs, and their parsing. It is called
 * from libcurl's open-socket callback, so every new connection is checked
 * after resolution and DNS rebinding cannot slip past it.
 */
#include "webhooks/webhooks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static int v4_blocked(const unsigned char *a)
{
    return a[0] == 0 ||                               /* 0/8 "this network" */
           a[0] == 10 ||                              /* RFC 1918 */
           a[0] == 127 ||                             /* loopback */
           (a[0] == 100 && (a[1] & 0xc0) == 64) ||    /* RFC 6598 CGNAT */
           (a[0] == 169 && a[1] == 254) ||            /* link-local, cloud metadata */
           (a[0] == 172 && (a[1] & 0xf0) == 16) ||    /* RFC 1918 */
           (a[0] == 192 && a[1] == 168) ||            /* RFC 1918 */
           (a[0] == 192 && a[1] == 0 && a[2] == 0) || /* IETF protocol assignments */
           (a[0] == 198 && (a[1] & 0xfe) == 18) ||    /* benchmarking */
           a[0] >= 224;                               /* multicast, reserved, broadcast */
}

static int v6_blocked(const unsigned char *a)
{
    static const unsigned char zero[16];
    if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
        return 1; /* :: and ::1 */
    if (memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff)
        return v4_blocked(a + 12); /* ::ffff:a.b.c.d */
    if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b)
        return v4_blocked(a + 12); /* NAT64 64:ff9b::/96 */
    if (a[0] == 0x20 && a[1] == 0x02)
        return v4_blocked(a + 2);                     /* 6to4 2002::/16 */
    return (a[0] & 0xfe) == 0xfc ||                   /* ULA fc00::/7 */
           (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || /* link-local fe80::/10 */
           (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) || /* site-local (deprecated) */
           a[0] == 0xff ||                            /* multicast */
           (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8); /* documentation */
}

static int cidr_match(const rt_wh_cidr_t *c, int family, const unsigned char *a)
{
    if (c->family != family)
        return 0;
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a[full] & mask);
}

int rt_wh_addr_allowed(const rt_wh_config_t *cfg, const void *sa)
{
    const struct sockaddr *s = sa;
    const unsigned char *a;
    int blocked;
    if (s->sa_family == AF_INET) {
        a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        blocked = v4_blocked(a);
    } else if (s->sa_family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        blocked = v6_blocked(a);
    } else {
        return 0;
    }
    if (!blocked || cfg->allow_private)
        return 1;
    for (int i = 0; i < cfg->nallow; i++) {
        if (cidr_match(&cfg->allow[i], s->sa_family, a))
            return 1;
    }
    return 0;
}

/* One "addr/prefix" (prefix optional: a single host). */
static int parse_cidr(const char *s, size_t n, rt_wh_cidr_t *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return RT_EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = memchr(buf, '/', n);
    int64_t prefix = -1;
    if (slash) {
        *slash = '\0';
        if (rt_parse_i64(slash + 1, strlen(slash + 1), &prefix) != 0)
            return RT_EINVAL;
    }
    rt_wh_cidr_t c;
    memset(&c, 0, sizeof(c));
    if (inet_pton(AF_INET, buf, c.addr) == 1) {
        c.family = AF_INET;
        c.prefix = prefix < 0 ? 32 : (int)prefix;
        if (prefix > 32)
            return RT_EINVAL;
    } else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
        c.family = AF_INET6;
        c.prefix = prefix < 0 ? 128 : (int)prefix;
        if (prefix > 128)
            return RT_EINVAL;
    } else {
        return RT_EINVAL;
    }
    *out = c;
    return 0;
}

int rt_wh_parse_cidrs(const char *s, rt_wh_config_t *c)
{
    rt_wh_cidr_t tmp[RT_WH_ALLOW_CIDRS_MAX];
    int n = 0;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (n == RT_WH_ALLOW_CIDRS_MAX || parse_cidr(s, len, &tmp[n]) != 0)
            return RT_EINVAL;
        n++;
        s += len + (comma ? 1 : 0);
    }
    memcpy(c->allow, tmp, (size_t)n * sizeof(tmp[0]));
    c->nallow = n;
    return 0;
}
