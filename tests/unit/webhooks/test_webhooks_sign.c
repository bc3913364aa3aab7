/*
 * Unit tests of webhook signing (the Standard Webhooks test vectors), the
 * secret format, base64, the retry schedule and Retry-After parsers and the
 * SSRF guard.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "webhooks/webhooks.h"

/* Standard Webhooks spec v1.0.0 test vector (libraries/go/webhook_test.go). */
static void test_sign_vector(void **state)
{
    (void)state;
    rt_buf_t b;
    rt_buf_init(&b);
    const char *body = "{\"test\": 2432232314}";
    assert_int_equal(rt_wh_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), &b),
                     0);
    assert_string_equal(b.data, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    rt_buf_close(&b);
}

/* Svix docs vector, and two secrets give two space-separated entries. */
static void test_sign_two(void **state)
{
    (void)state;
    rt_buf_t b;
    rt_buf_init(&b);
    const char *body = "{\"event_type\":\"ping\",\"data\":{\"success\":true}}";
    assert_int_equal(rt_wh_sign("whsec_plJ3nmyCDGBKInavdOK15jsl", "msg_loFOjxBNrRLzqYUf",
                                1731705121, body, strlen(body), &b),
                     0);
    assert_string_equal(b.data, "v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0=");
    assert_int_equal(rt_wh_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_loFOjxBNrRLzqYUf",
                                1731705121, body, strlen(body), &b),
                     0);
    assert_non_null(strchr(b.data, ' '));
    assert_int_equal(strncmp(strchr(b.data, ' ') + 1, "v1,", 3), 0);
    assert_int_equal(rt_wh_sign("nope", "x", 1, "", 0, &b), RT_EINVAL);
    rt_buf_close(&b);
}

static void test_secret_format(void **state)
{
    (void)state;
    char *s = rt_wh_secret_new();
    assert_int_equal(strncmp(s, "whsec_", 6), 0);
    assert_true(rt_wh_secret_valid(s));
    rt_free(s);
    assert_true(rt_wh_secret_valid("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")); /* 24 bytes */
    assert_false(rt_wh_secret_valid("whsec_plJ3nmyCDGBKInavdOK15jsl"));        /* 18 bytes */
    assert_false(rt_wh_secret_valid("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    assert_false(rt_wh_secret_valid("whsec_!!!!9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    assert_false(rt_wh_secret_valid(NULL));
}

static void test_base64(void **state)
{
    (void)state;
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < RT_ARRAY_LEN(in); i++) {
        rt_buf_t b;
        rt_buf_init(&b);
        rt_wh_base64_encode((const unsigned char *)in[i], strlen(in[i]), &b);
        assert_string_equal(b.len ? b.data : "", out[i]);
        unsigned char dec[16];
        size_t n;
        assert_int_equal(rt_wh_base64_decode(out[i], strlen(out[i]), dec, sizeof(dec), &n), 0);
        assert_int_equal(n, strlen(in[i]));
        assert_memory_equal(dec, in[i], n);
        rt_buf_close(&b);
    }
    unsigned char dec[2];
    size_t n;
    assert_int_equal(rt_wh_base64_decode("Zm9vYmFy", 8, dec, sizeof(dec), &n), RT_ETOOBIG);
    assert_int_equal(rt_wh_base64_decode("Z", 1, dec, sizeof(dec), &n), RT_EINVAL);
}

static void test_schedule(void **state)
{
    (void)state;
    rt_wh_config_t c;
    rt_wh_config_defaults(&c);
    assert_int_equal(c.nretry, 8);
    assert_int_equal(c.retry_s[7], 36000);
    assert_int_equal(rt_wh_parse_schedule("0,1,2", &c), 0);
    assert_int_equal(c.nretry, 3);
    assert_int_equal(c.retry_s[2], 2);
    assert_int_equal(rt_wh_parse_schedule("0,x", &c), RT_EINVAL);
    assert_int_equal(rt_wh_parse_schedule("", &c), RT_EINVAL);
    assert_int_equal(rt_wh_parse_schedule("0,-1", &c), RT_EINVAL);
    assert_int_equal(c.nretry, 3); /* unchanged on failure */
}

static int allowed4(const rt_wh_config_t *c, const char *ip)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
    return rt_wh_addr_allowed(c, &sa);
}

static int allowed6(const rt_wh_config_t *c, const char *ip)
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, ip, &sa.sin6_addr), 1);
    return rt_wh_addr_allowed(c, &sa);
}

static int64_t retry_after(const char *v, int *rc)
{
    int64_t s = -1;
    *rc = rt_wh_retry_after(v, strlen(v), 1445412480 /* Wed, 21 Oct 2015 07:28:00 GMT */, &s);
    return s;
}

/* RFC 9110 §10.2.3. Regression (issue 6, fuzzing): junk and signed numbers
 * used to mean "retry now"; they are ignored now (the schedule applies). */
static void test_retry_after(void **state)
{
    (void)state;
    int rc;
    assert_int_equal(retry_after("120", &rc), 120);
    assert_int_equal(rc, 0);
    assert_int_equal(retry_after(" \t0 \r\n", &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(retry_after("99999999999999999999999999", &rc), RT_WH_RETRY_AFTER_MAX_S);
    assert_int_equal(rc, 0);
    assert_int_equal(retry_after("Wed, 21 Oct 2015 07:30:00 GMT", &rc), 120);
    assert_int_equal(rc, 0);
    assert_int_equal(retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", &rc), 60);
    assert_int_equal(rc, 0);
    assert_int_equal(retry_after("Wed Oct 21 07:28:30 2015", &rc), 30);
    assert_int_equal(rc, 0);
    assert_int_equal(retry_after("Tue, 20 Oct 2015 07:28:00 GMT", &rc), 0); /* past: now */
    assert_int_equal(rc, 0);
    assert_int_equal(retry_after("Fri, 21 Oct 2016 07:28:00 GMT", &rc), RT_WH_RETRY_AFTER_MAX_S);
    assert_int_equal(rc, 0);
    const char *bad[] = {
        "",   "  ",   "-5",  "+5",
        "5s", "soon", "1.5", "Wed, 21 Oct 2015 07:30:00 GMT but much longer than any date can be"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        retry_after(bad[i], &rc);
        assert_int_equal(rc, RT_EINVAL);
    }
    /* Only the given length is read. */
    int64_t s = -1;
    assert_int_equal(rt_wh_retry_after("12junk", 2, 0, &s), 0);
    assert_int_equal(s, 12);
}

static void test_ssrf(void **state)
{
    (void)state;
    rt_wh_config_t c;
    rt_wh_config_defaults(&c);
    const char *bad4[] = {"127.0.0.1",  "10.0.0.1",    "169.254.169.254",
                          "172.16.5.4", "192.168.1.1", "100.64.0.1",
                          "0.0.0.0",    "224.0.0.1",   "255.255.255.255"};
    for (size_t i = 0; i < RT_ARRAY_LEN(bad4); i++)
        assert_false(allowed4(&c, bad4[i]));
    assert_true(allowed4(&c, "93.184.216.34"));
    assert_true(allowed4(&c, "172.32.0.1"));
    assert_true(allowed4(&c, "100.128.0.1"));
    const char *bad6[] = {
        "::1",         "::", "fd00::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "64:ff9b::a00:1",
        "2002:a00:1::"};
    for (size_t i = 0; i < RT_ARRAY_LEN(bad6); i++)
        assert_false(allowed6(&c, bad6[i]));
    assert_true(allowed6(&c, "2606:4700::1111"));
    assert_int_equal(rt_wh_parse_cidrs("10.1.0.0/16,fd00::/8", &c), 0);
    assert_true(allowed4(&c, "10.1.2.3"));
    assert_false(allowed4(&c, "10.2.0.1"));
    assert_true(allowed6(&c, "fd12::1"));
    assert_false(allowed6(&c, "fe80::1"));
    assert_int_equal(rt_wh_parse_cidrs("10.0.0.0/33", &c), RT_EINVAL);
    assert_int_equal(rt_wh_parse_cidrs("nonsense", &c), RT_EINVAL);
    c.allow_private = 1;
    assert_true(allowed4(&c, "127.0.0.1"));
    assert_true(allowed6(&c, "::1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_vector),   cmocka_unit_test(test_sign_two),
        cmocka_unit_test(test_secret_format), cmocka_unit_test(test_base64),
        cmocka_unit_test(test_schedule),      cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_ssrf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
