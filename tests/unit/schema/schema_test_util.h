/*
 * schema_test_util.h - helpers shared by the schema unit tests: where the
 * JSON-Schema-Test-Suite and the official metaschemas live, and a resolver
 * that serves the suite's remotes/ as http://localhost:1234/... and the
 * metaschema URIs from disk (test data only: the product never reads them).
 */
#ifndef RT_SCHEMA_TEST_UTIL_H
#define RT_SCHEMA_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "schema/schema.h"

#define SUITE_DEFAULT_DIR "../shared/data/json-schema-test-suite"
#define META_DEFAULT_DIR  "../shared/data/json-schema-metaschemas"

/* JSON_ALLOW_NUL: the suite has strings with \u0000. */
#define SUITE_JSON_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

static inline const char *suite_dir(void)
{
    const char *d = getenv("JSON_SCHEMA_TEST_SUITE");
    return d && d[0] ? d : SUITE_DEFAULT_DIR;
}

static inline const char *meta_dir(void)
{
    const char *d = getenv("JSON_SCHEMA_METASCHEMAS");
    return d && d[0] ? d : META_DEFAULT_DIR;
}

static inline int dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Loads a JSON file; big integers that overflow int64 are read as reals. */
static inline json_t *load_json_file(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, SUITE_JSON_FLAGS, &err);
    if (j == NULL)
        j = json_load_file(path, SUITE_JSON_FLAGS | JSON_DECODE_INT_AS_REAL, &err);
    return j;
}

static inline json_t *load_under(const char *dir, const char *rel, const char *suffix)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s%s", dir, rel, suffix);
    if (strstr(rel, ".."))
        return NULL;
    return load_json_file(path);
}

/* rt_schema_resolve_fn for the suite and the metaschemas. */
static inline json_t *test_resolve(void *ctx, const char *uri)
{
    (void)ctx;
    static const char remote[] = "http://localhost:1234/";
    static const char m2020[] = "https://json-schema.org/draft/2020-12/";
    char tmp[1024];
    if (strncmp(uri, remote, sizeof(remote) - 1) == 0) {
        snprintf(tmp, sizeof(tmp), "%s/remotes", suite_dir());
        return load_under(tmp, uri + sizeof(remote) - 1, "");
    }
    if (strncmp(uri, m2020, sizeof(m2020) - 1) == 0) {
        snprintf(tmp, sizeof(tmp), "%s/draft2020-12", meta_dir());
        return load_under(tmp, uri + sizeof(m2020) - 1, ".json");
    }
    if (strcmp(uri, "http://json-schema.org/draft-07/schema") == 0) {
        snprintf(tmp, sizeof(tmp), "%s/draft7", meta_dir());
        return load_under(tmp, "schema", ".json");
    }
    return NULL;
}

static inline int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the *.json files of dir, sorted; caller frees each and the array. */
static inline char **list_json(const char *dir, size_t *n)
{
    char **names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        names = rt_realloc(names, (*n + 1) * sizeof(*names));
        names[(*n)++] = rt_strdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof(*names), name_cmp);
    return names;
}

static inline void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rt_free(names[i]);
    rt_free(names);
}

#endif
