/*
 * cdc_io.h - private to cdc_sources.c and cdc_reader.c: the in-memory source
 * and mapping records the manager keeps and a reader thread reads.
 */
#ifndef RT_CDC_IO_H
#define RT_CDC_IO_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "cdc/cdc.h"

/* A stored mapping with its counters. Refcounted: a reader holds its set of
 * mappings while it decodes a transaction. `m` is immutable; the counters
 * and dead letters are guarded by `lock`. */
typedef struct cdc_map_s {
    atomic_int refs;
    char *app, *env;
    rt_cdc_mapping_t *m;
    int64_t created_ms;
    pthread_mutex_t lock;
    int64_t events;   /* events published */
    int64_t rejected; /* events refused by the schema gate */
    json_t *dead;     /* array: the last RT_CDC_DEAD_LETTERS_MAX refused events */
} cdc_map_t;

/* An immutable snapshot of the mappings of one source, swapped whole on a
 * change. */
typedef struct {
    atomic_int refs;
    size_t n;
    cdc_map_t **maps; /* references */
} cdc_mapset_t;

/* A waiter for the reader's next publication sync or first session. */
typedef struct cdc_waiter_s {
    struct cdc_waiter_s *next;
    int first_session;   /* answer after the first connection attempt */
    const char *mapping; /* warnings for this mapping only (owned) */
    rt_cdc_done_fn done;
    void *arg;
    json_t *body; /* what to answer with (warnings added) */
} cdc_waiter_t;

/*
 * One source and its reader. Identity fields never change after creation.
 * Fields under "lock" are shared between the reader thread and API threads;
 * the rest of the reader state (rd) is touched by the reader thread only.
 */
typedef struct cdc_source_s {
    rt_cdc_t *cdc;
    char *app, *env, *name;
    char *dsn;
    char *slot, *publication;
    int own_publication; /* created (and kept in step) by us */
    json_t *tables;      /* array of "schema.table" of the source's own list */
    int64_t created_ms;

    pthread_t thread;
    int started;
    uv_async_t wake; /* valid while wake_open */
    int wake_open;   /* under lock */

    pthread_mutex_t lock;
    cdc_mapset_t *maps;
    cdc_waiter_t *waiters;
    int stop;      /* the reader must stop */
    int drop_slot; /* ... and drop its slot and publication */
    /* status */
    const char *state; /* static: starting, connecting, streaming, backoff, stopped */
    char last_error[RT_CDC_ERROR_MAX_BYTES];
    int64_t last_error_ms;
    uint64_t server_lsn, slot_lsn;
    int64_t lag_ms;
    int64_t reconnects;
    double events_per_s;
    json_t *published; /* array of the tables in the publication at the last sync */

    /* shared with the store's writer thread */
    _Atomic uint64_t durable_lsn; /* the checkpoint: end_lsn of the last stored txn */
    atomic_int inflight;          /* transactions queued to the store */
    atomic_int store_failed;      /* a queued commit failed: restart from durable */
    atomic_llong events;          /* events committed */
    atomic_llong last_commit_ms;  /* commit time of the last stored transaction */
} cdc_source_t;

struct rt_cdc_s {
    rt_registry_t *registry;
    rt_topics_t *topics;
    rt_store_t *store;
    pthread_mutex_t lock; /* guards the arrays below */
    cdc_source_t **sources;
    size_t nsources, capsources;
    cdc_map_t **maps;
    size_t nmaps, capmaps;
    cdc_source_t **retired; /* deleted sources whose threads are joined at stop */
    size_t nretired, capretired;
    int running;
};

/* Reference counting of mappings and sets. */
cdc_map_t *rt_cdc_map_retain(cdc_map_t *m);
void rt_cdc_map_release(cdc_map_t *m);
cdc_mapset_t *rt_cdc_mapset_get(cdc_source_t *s); /* a reference to the current set */
void rt_cdc_mapset_release(cdc_mapset_t *set);

/* Records an event the schema gate refused (any thread). */
void rt_cdc_map_dead_letter(cdc_map_t *m, const char *lsn, const json_t *payload,
                            const rt_publish_error_t *err);

/* The source as the API shows it, with its status (cdc_sources.c). New ref. */
json_t *rt_cdc_source_json(cdc_source_t *s);

/* Reader thread (cdc_reader.c). Starts the thread; 0 or RT_EIO. */
int rt_cdc_reader_start(cdc_source_t *s);

/* Asks the reader to stop (drop: also drop the slot); does not wait. */
void rt_cdc_reader_stop(cdc_source_t *s, int drop);

/* Queues w and wakes the reader, or, when the reader is not running,
 * answers w at once. Takes ownership of w. */
void rt_cdc_reader_wait(cdc_source_t *s, cdc_waiter_t *w);

/* Wakes the reader (mappings changed). */
void rt_cdc_reader_wake(cdc_source_t *s);

/* The status object of a source (takes s->lock). New reference. */
json_t *rt_cdc_reader_status(cdc_source_t *s);

#endif
