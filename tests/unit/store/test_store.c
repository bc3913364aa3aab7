/* Unit tests of the SQLite store (src/store/store_sqlite.c): migrations,
 * group commit order, per-job rollback, reads and reopening. */
#include "test_util.h"

#include <pthread.h>
#include <sqlite3.h>

#include "store/store.h"

typedef struct {
    pthread_mutex_t lock;
    int order[64];
    int status[64];
    int n;
} done_log_t;

static done_log_t dlog = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, 0};

static void on_done(void *arg, int status)
{
    pthread_mutex_lock(&dlog.lock);
    dlog.order[dlog.n] = (int)(intptr_t)arg;
    dlog.status[dlog.n] = status;
    dlog.n++;
    pthread_mutex_unlock(&dlog.lock);
}

static int count_row(void *arg, const rt_store_row_t *row)
{
    (void)row;
    (*(int *)arg)++;
    return 0;
}

static int read_seq(void *arg, const rt_store_row_t *row)
{
    *(int64_t *)arg = rt_store_row_int(row, 10);
    return 0;
}

static void test_migrate_fresh_and_reopen(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    rt_store_t *s = NULL;
    assert_int_equal(rt_store_open(dir, RT_STORE_FSYNC_NORMAL, &s), 0);
    int version = rt_store_schema_version(s);
    assert_true(version >= 2);
    rt_store_close(s);
    /* Reopening an up-to-date database runs no migration and keeps data. */
    assert_int_equal(rt_store_open(dir, RT_STORE_FSYNC_NORMAL, &s), 0);
    assert_int_equal(rt_store_schema_version(s), version);
    rt_store_close(s);
    test_rmdir(dir);
    free(dir);
}

static void test_refuses_newer_schema(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/realtime.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    rt_store_t *s = NULL;
    assert_int_equal(rt_store_open(dir, RT_STORE_FSYNC_NORMAL, &s), RT_EIO);
    test_rmdir(dir);
    free(dir);
}

static void test_group_commit_order_and_rollback(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    rt_store_t *s = NULL;
    assert_int_equal(rt_store_open(dir, RT_STORE_FSYNC_NORMAL, &s), 0);
    dlog.n = 0;
    for (int i = 0; i < 20; i++) {
        /* Job 7 appends seq 1 again: it fails alone, the others commit. */
        int seq = i == 7 ? 1 : i + 1;
        rt_store_write_t w = {RT_STORE_EVENT_APPEND,
                              5,
                              {rt_store_int(1), rt_store_int(seq), rt_store_text("evt_x"),
                               rt_store_int(0), rt_store_text("{}")}};
        assert_int_equal(rt_store_submit(s, &w, 1, on_done, (void *)(intptr_t)i), 0);
    }
    rt_store_close(s); /* drains the queue */
    assert_int_equal(dlog.n, 20);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(dlog.order[i], i);
        assert_int_equal(dlog.status[i], i == 7 ? RT_EEXIST : 0);
    }
    assert_int_equal(rt_store_open(dir, RT_STORE_FSYNC_NORMAL, &s), 0);
    int rows = 0;
    rt_store_val_t v[3] = {rt_store_int(1), rt_store_int(0), rt_store_int(1000)};
    assert_int_equal(rt_store_read(s, RT_STORE_EVENTS_RANGE, v, 3, count_row, &rows), 0);
    assert_int_equal(rows, 19);
    rt_store_close(s);
    test_rmdir(dir);
    free(dir);
}

static void test_trim_remembers_seq(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    rt_store_t *s = NULL;
    assert_int_equal(rt_store_open(dir, RT_STORE_FSYNC_NORMAL, &s), 0);
    rt_store_write_t t = {RT_STORE_TOPIC_PUT,
                          11,
                          {rt_store_int(5), rt_store_text("a"), rt_store_text("e"),
                           rt_store_text("x.y"), rt_store_text(""), rt_store_int(1000),
                           rt_store_int(10), rt_store_int(0), rt_store_text("BACKWARD"),
                           rt_store_int(0), rt_store_int(0)}};
    assert_int_equal(rt_store_submit(s, &t, 1, NULL, NULL), 0);
    for (int i = 1; i <= 3; i++) {
        rt_store_write_t w = {RT_STORE_EVENT_APPEND,
                              5,
                              {rt_store_int(5), rt_store_int(i), rt_store_text("evt_x"),
                               rt_store_int(0), rt_store_text("{}")}};
        assert_int_equal(rt_store_submit(s, &w, 1, NULL, NULL), 0);
    }
    rt_store_write_t trim = {
        RT_STORE_EVENT_TRIM, 3, {rt_store_int(5), rt_store_int(3), rt_store_int(0)}};
    assert_int_equal(rt_store_submit(s, &trim, 1, NULL, NULL), 0);
    rt_store_close(s);
    assert_int_equal(rt_store_open(dir, RT_STORE_FSYNC_NORMAL, &s), 0);
    int rows = 0;
    rt_store_val_t v[3] = {rt_store_int(5), rt_store_int(0), rt_store_int(1000)};
    assert_int_equal(rt_store_read(s, RT_STORE_EVENTS_RANGE, v, 3, count_row, &rows), 0);
    assert_int_equal(rows, 0);
    int64_t seq = -1;
    assert_int_equal(rt_store_read(s, RT_STORE_TOPICS_ALL, NULL, 0, read_seq, &seq), 0);
    assert_true(seq == 3);
    rt_store_close(s);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_fresh_and_reopen),
        cmocka_unit_test(test_refuses_newer_schema),
        cmocka_unit_test(test_group_commit_order_and_rollback),
        cmocka_unit_test(test_trim_remembers_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
