/* Unit tests of topic patterns (src/topics/topics_pattern.c). */
#include "test_util.h"

#include "topics/topics.h"

static void test_valid(void **state)
{
    (void)state;
    const char *good[] = {"a", "a.b", "a.*", "*.b", "a.>", ">", "*", "a.*.c.>", "x_y-z.1"};
    const char *bad[] = {"", "a.", ".a", "a..b", "a.>.b", "A.b", "a b", "a.>>", "a.b*", "é"};
    for (size_t i = 0; i < RT_ARRAY_LEN(good); i++)
        assert_true(rt_topics_pattern_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < RT_ARRAY_LEN(bad); i++)
        assert_false(rt_topics_pattern_valid(bad[i], strlen(bad[i])));
}

static void test_match(void **state)
{
    (void)state;
    assert_true(rt_topics_match("session.status", "session.status"));
    assert_false(rt_topics_match("session.status", "session.statu"));
    assert_false(rt_topics_match("session.status", "session.status.x"));
    assert_true(rt_topics_match("session.*", "session.status"));
    assert_false(rt_topics_match("session.*", "session.status.x"));
    assert_false(rt_topics_match("session.*", "session"));
    assert_true(rt_topics_match("chat.>", "chat.room"));
    assert_true(rt_topics_match("chat.>", "chat.room.message"));
    assert_false(rt_topics_match("chat.>", "chat"));
    assert_true(rt_topics_match(">", "anything.at.all"));
    assert_true(rt_topics_match("*.room.*", "chat.room.message"));
    assert_false(rt_topics_match("*.room.*", "chat.hall.message"));
}

static void test_rights_cover_patterns(void **state)
{
    (void)state;
    /* A subscription pattern is allowed only if a right covers all of it. */
    assert_true(rt_topics_match("chat.>", "chat.*"));
    assert_true(rt_topics_match("chat.>", "chat.>"));
    assert_true(rt_topics_match("chat.*", "chat.*"));
    assert_false(rt_topics_match("chat.*", "chat.>"));
    assert_false(rt_topics_match("chat.room", "chat.*"));
    json_t *rights = json_pack("[s, s]", "session.*", "chat.>");
    assert_true(rt_topics_allowed(rights, "session.status"));
    assert_true(rt_topics_allowed(rights, "chat.a.b"));
    assert_false(rt_topics_allowed(rights, "order.updated"));
    assert_true(rt_topics_allowed(NULL, "order.updated"));
    json_t *none = json_array();
    assert_false(rt_topics_allowed(none, "order.updated"));
    json_decref(rights);
    json_decref(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_rights_cover_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
