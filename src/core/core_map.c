/*
 * This file implements rt_map_t, a string-keyed open-addressing hash map
 * (linear probing, FNV-1a) with tombstones, and the Prometheus metrics
 * registry built on it.
 */
#include "core/core.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct rt_map_slot_s {
    char *key; /* NULL = empty; TOMB = deleted */
    void *value;
    uint64_t hash;
};

static char tomb_marker;
#define TOMB (&tomb_marker)

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

void rt_map_init(rt_map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void rt_map_close(rt_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key && m->slots[i].key != TOMB)
            rt_free(m->slots[i].key);
    }
    rt_free(m->slots);
    rt_map_init(m);
}

static struct rt_map_slot_s *find(const rt_map_t *m, const char *key, uint64_t h)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct rt_map_slot_s *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != TOMB && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

static void grow(rt_map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 8;
    if (m->len * 2 < m->cap)
        ncap = m->cap; /* mostly tombstones: rehash in place size */
    struct rt_map_slot_s *old = m->slots;
    size_t ocap = m->cap;
    m->slots = rt_calloc(ncap, sizeof(*m->slots));
    m->cap = ncap;
    m->tombs = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].key == NULL || old[i].key == TOMB)
            continue;
        size_t j = old[i].hash & (ncap - 1);
        while (m->slots[j].key)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = old[i];
    }
    rt_free(old);
}

void *rt_map_get(const rt_map_t *m, const char *key)
{
    struct rt_map_slot_s *s = find(m, key, hash_str(key));
    return s ? s->value : NULL;
}

void *rt_map_put(rt_map_t *m, const char *key, void *value)
{
    uint64_t h = hash_str(key);
    struct rt_map_slot_s *s = find(m, key, h);
    if (s) {
        void *old = s->value;
        s->value = value;
        return old;
    }
    if ((m->len + m->tombs + 1) * 4 > m->cap * 3)
        grow(m);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & mask;
    if (m->slots[i].key == TOMB)
        m->tombs--;
    m->slots[i].key = rt_strdup(key);
    m->slots[i].value = value;
    m->slots[i].hash = h;
    m->len++;
    return NULL;
}

void *rt_map_del(rt_map_t *m, const char *key)
{
    struct rt_map_slot_s *s = find(m, key, hash_str(key));
    if (s == NULL)
        return NULL;
    void *v = s->value;
    rt_free(s->key);
    s->key = TOMB;
    s->value = NULL;
    m->len--;
    m->tombs++;
    return v;
}

int rt_map_next(const rt_map_t *m, size_t *it, const char **key, void **value)
{
    for (; *it < m->cap; (*it)++) {
        struct rt_map_slot_s *s = &m->slots[*it];
        if (s->key && s->key != TOMB) {
            *key = s->key;
            *value = s->value;
            (*it)++;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ metrics */

struct rt_metric_s {
    char *name;
    char *labels;
    const char *type;
    const char *help;
    atomic_llong value;
    struct rt_histo_s *histo; /* non-NULL for histograms */
    struct rt_metric_s *next; /* registration order, for stable output */
};

static const double histo_bounds[RT_HISTO_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10};

struct rt_histo_s {
    atomic_llong buckets[RT_HISTO_BUCKETS];
    atomic_llong count;
    atomic_llong sum_ns;
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static rt_map_t metrics_map;
static rt_metric_t *metrics_head, **metrics_tail = &metrics_head;

static rt_metric_t *metric_find_or_add(const char *name, const char *labels, const char *type,
                                       const char *help)
{
    char key[512];
    snprintf(key, sizeof(key), "%s{%s}", name, labels);
    pthread_mutex_lock(&metrics_lock);
    rt_metric_t *m = rt_map_get(&metrics_map, key);
    if (m == NULL) {
        m = rt_calloc(1, sizeof(*m));
        m->name = rt_strdup(name);
        m->labels = rt_strdup(labels);
        m->type = type;
        m->help = help;
        atomic_init(&m->value, 0);
        if (strcmp(type, "histogram") == 0)
            m->histo = rt_calloc(1, sizeof(*m->histo));
        rt_map_put(&metrics_map, key, m);
        *metrics_tail = m;
        metrics_tail = &m->next;
    }
    pthread_mutex_unlock(&metrics_lock);
    return m;
}

rt_metric_t *rt_metric_get(const char *name, const char *labels, const char *type, const char *help)
{
    return metric_find_or_add(name, labels, type, help);
}

void rt_metric_add(rt_metric_t *m, int64_t delta)
{
    atomic_fetch_add_explicit(&m->value, delta, memory_order_relaxed);
}

void rt_metric_set(rt_metric_t *m, int64_t value)
{
    atomic_store_explicit(&m->value, value, memory_order_relaxed);
}

int64_t rt_metric_value(const rt_metric_t *m)
{
    return atomic_load_explicit(&m->value, memory_order_relaxed);
}

rt_histo_t *rt_histo_get(const char *name, const char *labels, const char *help)
{
    return metric_find_or_add(name, labels, "histogram", help)->histo;
}

void rt_histo_observe_ns(rt_histo_t *h, uint64_t ns)
{
    double secs = (double)ns / 1e9;
    for (int i = 0; i < RT_HISTO_BUCKETS; i++) {
        if (secs <= histo_bounds[i]) {
            atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (long long)ns, memory_order_relaxed);
}

static void render_histo(rt_buf_t *out, const rt_metric_t *m)
{
    const char *sep = m->labels[0] ? "," : "";
    long long cum = 0;
    for (int i = 0; i < RT_HISTO_BUCKETS; i++) {
        cum += atomic_load_explicit(&m->histo->buckets[i], memory_order_relaxed);
        rt_buf_appendf(out, "%s_bucket{%s%sle=\"%g\"} %lld\n", m->name, m->labels, sep,
                       histo_bounds[i], cum);
    }
    long long count = atomic_load_explicit(&m->histo->count, memory_order_relaxed);
    long long sum = atomic_load_explicit(&m->histo->sum_ns, memory_order_relaxed);
    rt_buf_appendf(out, "%s_bucket{%s%sle=\"+Inf\"} %lld\n", m->name, m->labels, sep, count);
    const char *lo = m->labels[0] ? "{" : "", *lc = m->labels[0] ? "}" : "";
    rt_buf_appendf(out, "%s_sum%s%s%s %.9f\n", m->name, lo, m->labels, lc, (double)sum / 1e9);
    rt_buf_appendf(out, "%s_count%s%s%s %lld\n", m->name, lo, m->labels, lc, count);
}

static int family_seen_before(const rt_metric_t *m)
{
    for (const rt_metric_t *p = metrics_head; p != m; p = p->next) {
        if (strcmp(p->name, m->name) == 0)
            return 1;
    }
    return 0;
}

static void render_series(rt_buf_t *out, const rt_metric_t *m)
{
    if (m->histo) {
        render_histo(out, m);
        return;
    }
    long long v = atomic_load_explicit(&m->value, memory_order_relaxed);
    if (m->labels[0])
        rt_buf_appendf(out, "%s{%s} %lld\n", m->name, m->labels, v);
    else
        rt_buf_appendf(out, "%s %lld\n", m->name, v);
}

/* Prometheus wants all series of a family together under one HELP/TYPE, but
 * series register in whatever order traffic creates them: group on output. */
void rt_metrics_render(rt_buf_t *out)
{
    pthread_mutex_lock(&metrics_lock);
    for (const rt_metric_t *m = metrics_head; m; m = m->next) {
        if (family_seen_before(m))
            continue;
        rt_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
        for (const rt_metric_t *s = m; s; s = s->next) {
            if (strcmp(s->name, m->name) == 0)
                render_series(out, s);
        }
    }
    pthread_mutex_unlock(&metrics_lock);
}
