/*
 * Unit tests of webhook endpoints over a real store: per-field validation,
 * create/patch/rotate/delete, reload after a restart, and the outbox hook
 * (which endpoints match an event, eight endpoint ids per store write).
 */
#include "test_util.h"

#include "webhooks/webhooks_internal.h"

typedef struct {
    char *dir;
    rt_store_t *store;
    rt_registry_t *reg;
    rt_webhooks_t *wh;
} fx_t;

static void fx_open(fx_t *f)
{
    rt_wh_config_t cfg;
    rt_wh_config_defaults(&cfg);
    assert_int_equal(rt_store_open(f->dir, RT_STORE_FSYNC_NORMAL, &f->store), 0);
    assert_int_equal(rt_registry_open(f->store, &f->reg), 0);
    assert_int_equal(rt_webhooks_new(&cfg, f->reg, NULL, &f->wh), 0);
}

static void fx_close(fx_t *f)
{
    rt_store_close(f->store); /* commits what is queued */
    rt_webhooks_free(f->wh);
    rt_registry_close(f->reg);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    f->dir = test_tmpdir();
    fx_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    fx_close(f);
    test_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Creates an endpoint from JSON text; returns its id (static buffer). */
static const char *create(fx_t *f, const char *app, const char *env, const char *body)
{
    static char id[32];
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    json_t *out = NULL;
    rt_wh_invalid_t inv = {NULL};
    int rc = rt_webhooks_endpoint_create(f->wh, app, env, b, &out, &inv, NULL, NULL);
    json_decref(b);
    assert_int_equal(rc, 0);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(out, "id")));
    assert_true(rt_wh_secret_valid(json_string_value(json_object_get(out, "secret"))));
    json_decref(out);
    return id;
}

static void test_validation(void **state)
{
    fx_t *f = *state;
    json_t *b = json_pack("{s:s,s:[s],s:s,s:i,s:{s:s},s:i}", "url", "ftp://x", "topics", "A B",
                          "secret", "whsec_AAAA", "rateLimit", -3, "headers", "Host", "x", "x", 1);
    json_t *out = NULL;
    rt_wh_invalid_t inv = {NULL};
    assert_int_equal(rt_webhooks_endpoint_create(f->wh, "a", "e", b, &out, &inv, NULL, NULL),
                     RT_EINVAL);
    assert_null(out);
    assert_int_equal(json_array_size(inv.details), 6);
    const char *want[] = {"url", "topics", "secret", "rateLimit", "headers", "x"};
    for (size_t i = 0; i < RT_ARRAY_LEN(want); i++) {
        json_t *d = json_array_get(inv.details, i);
        assert_string_equal(json_string_value(json_object_get(d, "field")), want[i]);
    }
    json_decref(inv.details);
    json_decref(b);
    b = json_pack("{s:s,s:[s]}", "url", "http://", "topics", "a.b");
    inv.details = NULL;
    assert_int_equal(rt_webhooks_endpoint_create(f->wh, "a", "e", b, &out, &inv, NULL, NULL),
                     RT_EINVAL);
    json_decref(inv.details);
    json_decref(b);
    json_t *list = rt_webhooks_endpoint_list(f->wh, "a", "e", NULL, 10);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
}

static int nvals_eid(const rt_store_write_t *w)
{
    return w->nvals - 4;
}

static void test_outbox_matches(void **state)
{
    fx_t *f = *state;
    create(f, "a", "e", "{\"url\":\"https://x.example/1\",\"topics\":[\"order.*\"]}");
    create(f, "a", "e", "{\"url\":\"https://x.example/2\",\"topics\":[\"session.status\"]}");
    create(f, "a", "e", "{\"url\":\"https://x.example/3\",\"topics\":[\"order.>\"]}");
    char off[32];
    snprintf(
        off, sizeof(off), "%s",
        create(f, "a", "e", "{\"url\":\"https://x.example/4\",\"topics\":[\"order.created\"]}"));
    create(f, "a", "other", "{\"url\":\"https://x.example/5\",\"topics\":[\"order.*\"]}");
    json_t *patch = json_pack("{s:b}", "enabled", 0);
    json_t *out = NULL;
    rt_wh_invalid_t inv = {NULL};
    assert_int_equal(
        rt_webhooks_endpoint_patch(f->wh, "a", "e", off, patch, &out, &inv, NULL, NULL), 0);
    json_decref(patch);
    json_decref(out);

    rt_topic_t t = {.app = "a", .env = "e", .name = "order.created", .key = "a/e/order.created"};
    rt_event_t ev = {.tid = 7, .seq = 3, .topic = &t, .id = "evt_x"};
    rt_store_write_t w[RT_OUTBOX_MAX_WRITES];
    assert_int_equal(rt_webhooks_outbox(f->wh, &ev, w, RT_OUTBOX_MAX_WRITES), 1);
    assert_int_equal(w[0].op, RT_STORE_WH_OUTBOX_PUT);
    assert_int_equal(nvals_eid(&w[0]), 2); /* order.* and order.>; not the disabled one */
    assert_int_equal(w[0].vals[4].i, 1);
    assert_int_equal(w[0].vals[5].i, 3);
    assert_int_equal(w[0].vals[1].i, 7);
    assert_int_equal(w[0].vals[2].i, 3);
    t.name = "session.status";
    assert_int_equal(rt_webhooks_outbox(f->wh, &ev, w, RT_OUTBOX_MAX_WRITES), 1);
    assert_int_equal(nvals_eid(&w[0]), 1);
    t.name = "nothing.here";
    assert_int_equal(rt_webhooks_outbox(f->wh, &ev, w, RT_OUTBOX_MAX_WRITES), 0);
}

static void test_outbox_many(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 19; i++)
        create(f, "a", "e", "{\"url\":\"https://x.example/\",\"topics\":[\"m.t\"]}");
    rt_topic_t t = {.app = "a", .env = "e", .name = "m.t", .key = "a/e/m.t"};
    rt_event_t ev = {.tid = 1, .seq = 1, .topic = &t, .id = "evt_y"};
    rt_store_write_t w[RT_OUTBOX_MAX_WRITES];
    assert_int_equal(rt_webhooks_outbox(f->wh, &ev, w, RT_OUTBOX_MAX_WRITES), 3);
    assert_int_equal(nvals_eid(&w[0]), 8);
    assert_int_equal(nvals_eid(&w[1]), 8);
    assert_int_equal(nvals_eid(&w[2]), 3);
    /* A cap below what matches: the first writes only. */
    assert_int_equal(rt_webhooks_outbox(f->wh, &ev, w, 2), 2);
}

static void test_rotate_reload_delete(void **state)
{
    fx_t *f = *state;
    char id[32];
    snprintf(id, sizeof(id), "%s",
             create(f, "a", "e",
                    "{\"url\":\"https://x.example/\",\"topics\":[\"r.t\"],\"ordered\":true,"
                    "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"rateLimit\":7,"
                    "\"headers\":{\"x-a\":\"b\"},\"description\":\"hi\"}"));
    json_t *out = NULL;
    assert_int_equal(rt_webhooks_endpoint_rotate(f->wh, "a", "e", id, &out, NULL, NULL), 0);
    char secret[128];
    snprintf(secret, sizeof(secret), "%s", json_string_value(json_object_get(out, "secret")));
    json_decref(out);
    assert_string_not_equal(secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_int_equal(rt_webhooks_endpoint_rotate(f->wh, "a", "e", "ep_nope", &out, NULL, NULL),
                     RT_ENOENT);

    fx_close(f);
    fx_open(f);
    json_t *s = rt_webhooks_endpoint_secret(f->wh, "a", "e", id);
    assert_string_equal(json_string_value(json_object_get(s, "secret")), secret);
    json_decref(s);
    json_t *j = rt_webhooks_endpoint_get(f->wh, "a", "e", id);
    assert_true(json_is_true(json_object_get(j, "ordered")));
    assert_int_equal(json_integer_value(json_object_get(j, "rateLimit")), 7);
    assert_string_equal(json_string_value(json_object_get(j, "description")), "hi");
    assert_null(json_object_get(j, "secret"));
    json_decref(j);
    assert_null(rt_webhooks_endpoint_get(f->wh, "a", "other", id));
    wh_endpoint_t *ep = rt_wh_ep_by_eid(f->wh, 1);
    assert_non_null(ep);
    assert_string_equal(ep->old_secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_true(ep->old_until_ms > rt_time_ms() + RT_WH_ROTATE_OVERLAP_MS - 60000);
    rt_wh_ep_release(ep);

    assert_int_equal(rt_webhooks_endpoint_delete(f->wh, "a", "e", id, NULL, NULL), 0);
    assert_int_equal(rt_webhooks_endpoint_delete(f->wh, "a", "e", id, NULL, NULL), RT_ENOENT);
    fx_close(f);
    fx_open(f);
    assert_null(rt_webhooks_endpoint_get(f->wh, "a", "e", id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_reload_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
