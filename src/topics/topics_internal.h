/*
 * topics_internal.h - private to src/topics: the hub and the per-worker
 * subscription index.
 */
#ifndef RT_TOPICS_INTERNAL_H
#define RT_TOPICS_INTERNAL_H

#include "topics/topics.h"

/* Frame pages (rt_frame_t): their size, and the largest frame copied into
 * one (a bigger frame keeps its own block, so it never wastes a page). */
#define RT_TOPICS_FRAME_PAGE_BYTES        (64 * 1024)
#define RT_TOPICS_FRAME_IN_PAGE_MAX_BYTES (16 * 1024)

/* One worker's subscription index. Touched only on that worker's thread,
 * except nsubs, read by the writer thread to skip idle workers. */
typedef struct {
    rt_topics_t *hub;
    rt_worker_t *worker;
    rt_map_t exact;    /* "app/env/topic" -> first rt_sub_t */
    rt_map_t patterns; /* "app/env" -> first pattern rt_sub_t */
    atomic_long nsubs;
    rt_rc_t *page; /* frames of recent events (rt_frame_t) */
    size_t page_used;
    uv_timer_t retention; /* worker 0 only */
    int retention_on;
} local_t;

struct rt_topics_s {
    rt_registry_t *registry;
    rt_server_t *server;
    local_t *locals; /* one per worker */
    int nlocals;
    rt_histo_t *publish_latency;
    rt_metric_t *m_deliveries;
    rt_metric_t *m_subscriptions;
    rt_topics_outbox_fn outbox; /* set once at start-up */
    void (*outbox_committed)(void *ctx);
    void *outbox_ctx;
};

/* Appends an EVENTS_RANGE row (seq, envelope) to page, growing it (*cap is
 * its capacity). Used by history reads and replays, on the thread pool. */
void rt_topics_page_push(rt_history_t *page, size_t *cap, const rt_store_row_t *row);

/* Frees a topic's schema gate (the registry's publish_state destructor). */
void rt_topics_gate_free(void *p);

/* Writer thread: posts ev to every worker that has subscribers. */
void rt_topics_fanout(rt_topics_t *h, rt_event_t *ev);
void rt_topics_retention_sweep(rt_topics_t *h);

#endif
