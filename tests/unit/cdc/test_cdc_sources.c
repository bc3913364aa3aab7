/* Unit tests of the CDC manager (src/cdc/cdc_sources.c) over a real store and
 * registry, with no reader running (no PostgreSQL needed): validation,
 * conflicts, the redacted DSN, mappings and their references, the dry run,
 * persistence across a reopen, deletes. The replication reader is tested end
 * to end in tests/integration/cdc.test.mjs. */
#include "test_util.h"

#include <pthread.h>

#include "cdc/cdc.h"

/* A completion that can be waited for. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int fired;
    int status;
    json_t *body;
} waiter_t;

static void waiter_init(waiter_t *w)
{
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->fired = 0;
    w->body = NULL;
}

static void waiter_close(waiter_t *w)
{
    json_decref(w->body);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
}

static void cdc_done(void *arg, int status, json_t *body)
{
    waiter_t *w = arg;
    pthread_mutex_lock(&w->lock);
    w->fired = 1;
    w->status = status;
    w->body = body;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void reg_done(void *arg, int status)
{
    cdc_done(arg, status, NULL);
}

static void wait_for(waiter_t *w)
{
    pthread_mutex_lock(&w->lock);
    while (!w->fired)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    assert_int_equal(w->status, 0);
}

typedef struct {
    char *dir;
    rt_store_t *store;
    rt_registry_t *reg;
    rt_cdc_t *cdc;
} fixture_t;

static void open_all(fixture_t *f)
{
    assert_int_equal(rt_store_open(f->dir, RT_STORE_FSYNC_NORMAL, &f->store), 0);
    assert_int_equal(rt_registry_open(f->store, &f->reg), 0);
    assert_int_equal(rt_cdc_open(f->reg, NULL, &f->cdc), 0);
}

static void close_all(fixture_t *f)
{
    rt_cdc_stop(f->cdc);
    rt_store_close(f->store);
    rt_cdc_free(f->cdc);
    rt_registry_close(f->reg);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->dir = test_tmpdir();
    open_all(f);
    waiter_t w;
    waiter_init(&w);
    assert_int_equal(rt_registry_app_create(f->reg, "app", "App", NULL, reg_done, &w), 0);
    wait_for(&w);
    waiter_close(&w);
    waiter_init(&w);
    assert_int_equal(rt_registry_env_create(f->reg, "app", "prod", "Prod", NULL, reg_done, &w), 0);
    wait_for(&w);
    waiter_close(&w);
    waiter_init(&w);
    json_t *topic = json_pack("{s:s}", "name", "session.started");
    const char *err = NULL;
    assert_int_equal(
        rt_registry_topic_create(f->reg, "app", "prod", topic, NULL, &err, reg_done, &w), 0);
    json_decref(topic);
    wait_for(&w);
    waiter_close(&w);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    close_all(f);
    test_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int has_field(const json_t *errors, const char *field)
{
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
            return 1;
    }
    return 0;
}

static json_t *create_source(fixture_t *f, const char *json, int expect)
{
    json_t *spec = json_loads(json, 0, NULL);
    json_t *errors = json_array();
    waiter_t w;
    waiter_init(&w);
    int rc = rt_cdc_source_create(f->cdc, "app", "prod", spec, errors, cdc_done, &w);
    json_decref(spec);
    assert_int_equal(rc, expect);
    json_t *out = errors;
    if (rc == 0) {
        wait_for(&w);
        json_decref(errors);
        out = json_incref(w.body);
    }
    waiter_close(&w);
    return out;
}

static void test_source_validation(void **state)
{
    fixture_t *f = *state;
    json_t *e = create_source(
        f, "{\"name\":\"\",\"kind\":\"mysql\",\"slot\":\"Bad-Slot\",\"tables\":5,\"x\":1}",
        RT_EINVAL);
    assert_true(has_field(e, "name"));
    assert_true(has_field(e, "kind"));
    assert_true(has_field(e, "dsn"));
    assert_true(has_field(e, "slot"));
    assert_true(has_field(e, "tables"));
    assert_true(has_field(e, "x"));
    json_decref(e);
    e = create_source(f, "{\"name\":\"a\",\"dsn\":\"host=a port\"}", RT_EINVAL);
    assert_true(has_field(e, "dsn"));
    json_decref(e);
}

static void test_source_create_redacts_and_conflicts(void **state)
{
    fixture_t *f = *state;
    json_t *s = create_source(
        f, "{\"name\":\"main\",\"dsn\":\"postgresql://u:hunter2@127.0.0.1:1/db\"}", 0);
    char *text = json_dumps(s, 0);
    assert_null(strstr(text, "hunter2"));
    assert_non_null(strstr(text, "password=********"));
    free(text);
    const char *slot = json_string_value(json_object_get(s, "slot"));
    assert_int_equal(strlen(slot), 27);
    assert_memory_equal(slot, "rt_", 3);
    json_t *status = json_object_get(s, "status");
    assert_string_equal(json_string_value(json_object_get(status, "state")), "starting");
    assert_string_equal(json_string_value(json_object_get(status, "confirmedLsn")), "0/0");
    json_decref(s);
    json_t *e = create_source(f, "{\"name\":\"main\",\"dsn\":\"host=x\"}", RT_EEXIST);
    json_decref(e);
    json_t *list = rt_cdc_source_list(f->cdc, "app", "prod");
    assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);
    assert_null(rt_cdc_source_get(f->cdc, "app", "other", "main"));
}

static int create_mapping(fixture_t *f, const char *json, json_t **errors_out)
{
    json_t *spec = json_loads(json, 0, NULL);
    assert_non_null(spec);
    json_t *errors = json_array();
    waiter_t w;
    waiter_init(&w);
    int rc = rt_cdc_mapping_create(f->cdc, "app", "prod", spec, errors, cdc_done, &w);
    json_decref(spec);
    if (rc == 0)
        wait_for(&w);
    waiter_close(&w);
    if (errors_out)
        *errors_out = errors;
    else
        json_decref(errors);
    return rc;
}

static const char *const pattern1 =
    "{\"name\":\"started\",\"source\":\"main\",\"table\":\"public.sessions\","
    "\"operations\":[\"insert\",\"update\"],\"watchColumns\":[\"status\"],"
    "\"when\":\"new.status = 'active'\",\"payload\":{\"sessionId\":\"id\"},"
    "\"topic\":\"session.started\"}";

static void test_mappings_refs_test_and_persistence(void **state)
{
    fixture_t *f = *state;
    json_decref(create_source(f, "{\"name\":\"main\",\"dsn\":\"host=127.0.0.1 port=1\"}", 0));
    json_t *errors = NULL;
    assert_int_equal(create_mapping(f,
                                    "{\"name\":\"m\",\"source\":\"nope\",\"table\":\"t\","
                                    "\"topic\":\"no.such\"}",
                                    &errors),
                     RT_EINVAL);
    assert_true(has_field(errors, "source"));
    assert_true(has_field(errors, "topic"));
    json_decref(errors);
    assert_int_equal(create_mapping(f, pattern1, NULL), 0);
    assert_int_equal(create_mapping(f, pattern1, NULL), RT_EEXIST);

    /* The dry run. */
    json_t *body = json_loads("{\"op\":\"update\",\"row\":{\"id\":3,\"status\":\"active\"},"
                              "\"old\":{\"id\":3,\"status\":\"new\"}}",
                              0, NULL);
    json_t *out = NULL;
    const char *err = NULL;
    assert_int_equal(rt_cdc_mapping_test(f->cdc, "app", "prod", "started", body, &out, &err), 0);
    assert_true(json_is_true(json_object_get(out, "matched")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(out, "payload"), "sessionId")), 3);
    json_decref(out);
    json_decref(body);
    body = json_loads("{\"op\":\"delete\",\"old\":{\"id\":3}}", 0, NULL);
    assert_int_equal(rt_cdc_mapping_test(f->cdc, "app", "prod", "started", body, &out, &err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "reason")), "operation not mapped");
    json_decref(out);
    json_decref(body);
    body = json_loads("{\"op\":\"upsert\"}", 0, NULL);
    assert_int_equal(rt_cdc_mapping_test(f->cdc, "app", "prod", "started", body, &out, &err),
                     RT_EINVAL);
    json_decref(body);
    body = json_loads("{\"op\":\"insert\",\"row\":{}}", 0, NULL);
    assert_int_equal(rt_cdc_mapping_test(f->cdc, "app", "prod", "none", body, &out, &err),
                     RT_ENOENT);
    json_decref(body);

    /* A source with mappings cannot go. */
    assert_int_equal(rt_cdc_source_delete(f->cdc, "app", "prod", "main", 0, cdc_done, NULL),
                     RT_ESTATE);

    /* Everything survives a reopen. */
    close_all(f);
    open_all(f);
    json_t *m = rt_cdc_mapping_get(f->cdc, "app", "prod", "started");
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "when")), "new.status = 'active'");
    assert_int_equal(json_array_size(json_object_get(m, "deadLetters")), 0);
    json_decref(m);
    json_t *s = rt_cdc_source_get(f->cdc, "app", "prod", "main");
    assert_non_null(s);
    assert_true(json_is_true(json_object_get(s, "publicationManaged")));
    json_decref(s);

    /* Deletes, durable too. */
    waiter_t w;
    waiter_init(&w);
    assert_int_equal(rt_cdc_mapping_delete(f->cdc, "app", "prod", "started", cdc_done, &w), 0);
    wait_for(&w);
    waiter_close(&w);
    assert_int_equal(rt_cdc_mapping_delete(f->cdc, "app", "prod", "started", cdc_done, &w),
                     RT_ENOENT);
    waiter_init(&w);
    assert_int_equal(rt_cdc_source_delete(f->cdc, "app", "prod", "main", 1, cdc_done, &w), 0);
    wait_for(&w);
    waiter_close(&w);
    close_all(f);
    open_all(f);
    assert_null(rt_cdc_source_get(f->cdc, "app", "prod", "main"));
    assert_null(rt_cdc_mapping_get(f->cdc, "app", "prod", "started"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_source_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_create_redacts_and_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mappings_refs_test_and_persistence, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
