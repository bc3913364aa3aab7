/*
 * This file implements clocks, ISO-8601 formatting, secure randomness and
 * ULIDs (https://github.com/ulid/spec): 48 bits of milliseconds and 80 random
 * bits in Crockford base32. Ids made in the same millisecond by this process
 * increment the random part so they still sort in creation order.
 */
#include "core/core.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

int64_t rt_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t rt_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void rt_time_iso8601(int64_t ms, char out[RT_ISO8601_LEN])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, RT_ISO8601_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    int milli = (int)(ms % 1000);
    out[n++] = '.';
    out[n++] = (char)('0' + milli / 100);
    out[n++] = (char)('0' + milli / 10 % 10);
    out[n++] = (char)('0' + milli % 10);
    out[n++] = 'Z';
    out[n] = '\0';
}

void rt_random_bytes(void *buf, size_t n)
{
    rt_assert(n < (size_t)1 << 30);
    if (RAND_bytes(buf, (int)n) != 1)
        rt_assert(!"RAND_bytes failed");
}

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t ulid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t ulid_last_ms = -1;
static uint8_t ulid_last_rand[10];

/* Adds one to the 80-bit big-endian counter; wraps only after 2^80 ids. */
static void rand_increment(uint8_t r[10])
{
    for (int i = 9; i >= 0; i--) {
        if (++r[i] != 0)
            break;
    }
}

void rt_ulid_new(int64_t ms, char out[RT_ULID_LEN + 1])
{
    uint8_t b[16];
    pthread_mutex_lock(&ulid_lock);
    if (ms <= ulid_last_ms) {
        ms = ulid_last_ms;
        rand_increment(ulid_last_rand);
    } else {
        ulid_last_ms = ms;
        rt_random_bytes(ulid_last_rand, sizeof(ulid_last_rand));
        ulid_last_rand[0] &= 0x7f; /* leave room so increments never wrap */
    }
    memcpy(b + 6, ulid_last_rand, 10);
    pthread_mutex_unlock(&ulid_lock);

    uint64_t t = (uint64_t)ms;
    for (int i = 5; i >= 0; i--) {
        b[i] = (uint8_t)(t & 0xff);
        t >>= 8;
    }
    /* 128 bits -> 26 base32 digits; the first digit carries the top 3 bits. */
    int bit = -2;
    for (int i = 0; i < RT_ULID_LEN; i++, bit += 5) {
        unsigned v = 0;
        for (int k = 0; k < 5; k++) {
            int pos = bit + k;
            v <<= 1;
            if (pos >= 0 && pos < 128)
                v |= (b[pos / 8] >> (7 - pos % 8)) & 1;
        }
        out[i] = crockford[v];
    }
    out[RT_ULID_LEN] = '\0';
}

int rt_ulid_valid(const char *s, size_t len)
{
    if (len != RT_ULID_LEN || s[0] > '7')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0' || strchr(crockford, s[i]) == NULL)
            return 0;
    }
    return 1;
}
