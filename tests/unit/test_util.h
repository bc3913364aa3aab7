/*
 * test_util.h - what every C unit test includes: cmocka, and a temporary
 * directory helper.
 */
#ifndef RT_TEST_UTIL_H
#define RT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes a fresh directory under /tmp; caller frees the path with free(). */
static inline char *test_tmpdir(void)
{
    char tmpl[] = "/tmp/rt-unit-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline void test_rmdir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fail_msg("could not remove %s", dir);
}

#endif
