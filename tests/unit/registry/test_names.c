/* Unit tests of the registry's name rules (src/registry/registry.c). */
#include "test_util.h"

#include "registry/registry.h"

static void test_topic_names(void **state)
{
    (void)state;
    char longest[256];
    memset(longest, 'a', 255);
    longest[255] = '\0';
    const char *good[] = {"session.status", "a", "chat.room.message", "x_1-y.z9", longest};
    for (size_t i = 0; i < RT_ARRAY_LEN(good); i++)
        assert_true(rt_registry_topic_name_valid(good[i], strlen(good[i])));
    char too_long[257];
    memset(too_long, 'a', 256);
    too_long[256] = '\0';
    const char *bad[] = {"",    ".",   "a.",  ".a", "a..b",  "Session",
                         "a b", "a/b", "a.*", "é",  too_long};
    for (size_t i = 0; i < RT_ARRAY_LEN(bad); i++)
        assert_false(rt_registry_topic_name_valid(bad[i], strlen(bad[i])));
}

static void test_slugs(void **state)
{
    (void)state;
    assert_true(rt_registry_slug_valid("acme", 4));
    assert_true(rt_registry_slug_valid("prod-2", 6));
    assert_false(rt_registry_slug_valid("-acme", 5));
    assert_false(rt_registry_slug_valid("Acme", 4));
    assert_false(rt_registry_slug_valid("a_b", 3));
    assert_false(rt_registry_slug_valid("", 0));
    char s[65];
    memset(s, 'a', 64);
    s[64] = '\0';
    assert_false(rt_registry_slug_valid(s, 64));
    assert_true(rt_registry_slug_valid(s, 63));
}

static void test_sha256(void **state)
{
    (void)state;
    char hex[65];
    rt_registry_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_names),
        cmocka_unit_test(test_slugs),
        cmocka_unit_test(test_sha256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
