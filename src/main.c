/*
 * This file implements the `realtime` command line: `serve` wires the
 * subsystems together (store, registry, topics, API, gateway, HTTP server)
 * and runs until SIGINT/SIGTERM, then shuts down gracefully; `version`
 * prints the version. Every serve flag has an environment variable.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api.h"
#include "cdc/cdc.h"
#include "core/core.h"
#include "gateway/gateway.h"
#include "net/net.h"
#include "registry/registry.h"
#include "store/store.h"
#include "topics/topics.h"
#include "webhooks/webhooks.h"

typedef struct {
    char listen[300];
    char data[1024];
    char admin_key[256];
    int workers;
    rt_log_level_t log_level;
    int log_json;
    size_t max_body_bytes;
    int flush_pacing_max_ms;
    int io_uring;
    rt_store_fsync_t fsync;
    rt_gateway_config_t gateway;
    rt_wh_config_t webhooks;
} config_t;

static void usage_main(FILE *out)
{
    fprintf(out,
            "realtime %s - an event platform: topics, schemas, WebSocket and Socket.IO\n"
            "fan-out, webhooks and change data capture.\n\n"
            "Usage:\n"
            "  realtime serve [options]   run the server (realtime serve --help)\n"
            "  realtime version           print the version\n"
            "  realtime --help            this text\n\n"
            "Docs: docs/ in the source tree (API reference, protocols, operations).\n",
            RT_VERSION);
}

static void usage_serve(FILE *out)
{
    fprintf(out,
            "Usage: realtime serve [options]\n\n"
            "Options (each also an environment variable):\n"
            "  --listen HOST:PORT     address to listen on        REALTIME_LISTEN "
            "(0.0.0.0:8080)\n"
            "  --data DIR             data directory              REALTIME_DATA (./data)\n"
            "  --admin-key KEY        admin API key               REALTIME_ADMIN_KEY\n"
            "                         (default: generated on first start, printed once,\n"
            "                         only its hash is stored)\n"
            "  --workers N            worker threads              REALTIME_WORKERS (cores)\n"
            "  --log-level LEVEL      debug|info|warn|error       REALTIME_LOG_LEVEL (info)\n"
            "  --log-format FORMAT    text|json                   REALTIME_LOG_FORMAT (text)\n"
            "  --max-body-bytes N     HTTP request body limit     REALTIME_MAX_BODY_BYTES "
            "(1048576)\n"
            "  --flush-pacing-max-ms N  longest a flooded worker holds back its next\n"
            "                         write round (0: never; docs/operations.md)\n"
            "                         REALTIME_FLUSH_PACING_MAX_MS (30)\n"
            "  --io-uring MODE        on|off: batch large fan-out writes through\n"
            "                         io_uring (on falls back where the kernel\n"
            "                         refuses it)                 REALTIME_IO_URING (on)\n"
            "  --fsync MODE           normal|always               REALTIME_FSYNC (normal)\n"
            "                         normal: durable against a process crash;\n"
            "                         always: also against power loss (slower)\n"
            "  --ws-max-message-bytes N  WebSocket message limit  REALTIME_WS_MAX_MESSAGE_BYTES "
            "(65536)\n"
            "  --ws-ping-interval-ms N   server ping period       REALTIME_WS_PING_INTERVAL_MS "
            "(25000)\n"
            "  --ws-send-queue-bytes N   per-connection send queue bound\n"
            "                            REALTIME_WS_SEND_QUEUE_BYTES (4194304)\n"
            "  --ws-max-subscriptions N  per connection         REALTIME_WS_MAX_SUBSCRIPTIONS "
            "(100)\n"
            "  --ws-publish-rate N       publishes/s per connection  REALTIME_WS_PUBLISH_RATE "
            "(100)\n"
            "  --ws-max-connections N    per environment        REALTIME_WS_MAX_CONNECTIONS "
            "(100000)\n"
            "  --socketio-ping-interval-ms N  Engine.IO ping period\n"
            "                            REALTIME_SOCKETIO_PING_INTERVAL_MS (25000)\n"
            "  --socketio-ping-timeout-ms N   pong deadline after a ping\n"
            "                            REALTIME_SOCKETIO_PING_TIMEOUT_MS (20000)\n"
            "  --socketio-max-payload-bytes N  POST body / message limit\n"
            "                            REALTIME_SOCKETIO_MAX_PAYLOAD_BYTES (1000000)\n"
            "  --socketio-cors-origins L  \"*\", \"\" (no CORS) or comma-separated origins\n"
            "                            REALTIME_SOCKETIO_CORS_ORIGINS (*)\n"
            "  --socketio-max-disconnection-ms N  connection state recovery window\n"
            "                            REALTIME_SOCKETIO_MAX_DISCONNECTION_MS (120000)\n"
            "  --socketio-conformance    echo handlers of the official protocol test suites\n"
            "                            instead of app/env namespaces\n"
            "                            REALTIME_SOCKETIO_CONFORMANCE (off)\n"
            "  --webhook-retry-schedule S  delays in seconds before each attempt\n"
            "                            REALTIME_WEBHOOK_RETRY_SCHEDULE\n"
            "                            (0,5,300,1800,7200,18000,36000,36000; +-20%% jitter)\n"
            "  --webhook-timeout-ms N    per attempt            REALTIME_WEBHOOK_TIMEOUT_MS "
            "(15000)\n"
            "  --webhook-allow-private   allow loopback/private/link-local targets\n"
            "                            REALTIME_WEBHOOK_ALLOW_PRIVATE (off)\n"
            "  --webhook-allow-cidrs L   CIDRs allowed despite the SSRF guard\n"
            "                            REALTIME_WEBHOOK_ALLOW_CIDRS (none)\n"
            "  --webhook-disable-after-s N  disable an endpoint failing this long\n"
            "                            REALTIME_WEBHOOK_DISABLE_AFTER_S (432000)\n"
            "  --webhook-log-retention-s N  attempt log retention\n"
            "                            REALTIME_WEBHOOK_LOG_RETENTION_S (2592000)\n"
            "  -h, --help             this text\n");
}

/* ================================================================ options */

enum {
    OPT_LISTEN = 1000,
    OPT_DATA,
    OPT_ADMIN_KEY,
    OPT_WORKERS,
    OPT_LOG_LEVEL,
    OPT_LOG_FORMAT,
    OPT_MAX_BODY,
    OPT_FLUSH_PACING,
    OPT_IO_URING,
    OPT_FSYNC,
    OPT_WS_MAX_MESSAGE,
    OPT_WS_PING,
    OPT_WS_QUEUE,
    OPT_WS_MAX_SUBS,
    OPT_WS_RATE,
    OPT_WS_MAX_CONNS,
    OPT_SIO_PING,
    OPT_SIO_TIMEOUT,
    OPT_SIO_PAYLOAD,
    OPT_SIO_CORS,
    OPT_SIO_RECOVERY,
    OPT_SIO_CONFORMANCE,
    OPT_WH_SCHEDULE,
    OPT_WH_TIMEOUT,
    OPT_WH_ALLOW_PRIVATE,
    OPT_WH_ALLOW_CIDRS,
    OPT_WH_DISABLE_AFTER,
    OPT_WH_RETENTION,
};

typedef struct {
    const char *flag;
    const char *env;
    int id;
} opt_t;

static const opt_t opts[] = {
    {"listen", "REALTIME_LISTEN", OPT_LISTEN},
    {"data", "REALTIME_DATA", OPT_DATA},
    {"admin-key", "REALTIME_ADMIN_KEY", OPT_ADMIN_KEY},
    {"workers", "REALTIME_WORKERS", OPT_WORKERS},
    {"log-level", "REALTIME_LOG_LEVEL", OPT_LOG_LEVEL},
    {"log-format", "REALTIME_LOG_FORMAT", OPT_LOG_FORMAT},
    {"max-body-bytes", "REALTIME_MAX_BODY_BYTES", OPT_MAX_BODY},
    {"flush-pacing-max-ms", "REALTIME_FLUSH_PACING_MAX_MS", OPT_FLUSH_PACING},
    {"io-uring", "REALTIME_IO_URING", OPT_IO_URING},
    {"fsync", "REALTIME_FSYNC", OPT_FSYNC},
    {"ws-max-message-bytes", "REALTIME_WS_MAX_MESSAGE_BYTES", OPT_WS_MAX_MESSAGE},
    {"ws-ping-interval-ms", "REALTIME_WS_PING_INTERVAL_MS", OPT_WS_PING},
    {"ws-send-queue-bytes", "REALTIME_WS_SEND_QUEUE_BYTES", OPT_WS_QUEUE},
    {"ws-max-subscriptions", "REALTIME_WS_MAX_SUBSCRIPTIONS", OPT_WS_MAX_SUBS},
    {"ws-publish-rate", "REALTIME_WS_PUBLISH_RATE", OPT_WS_RATE},
    {"ws-max-connections", "REALTIME_WS_MAX_CONNECTIONS", OPT_WS_MAX_CONNS},
    {"socketio-ping-interval-ms", "REALTIME_SOCKETIO_PING_INTERVAL_MS", OPT_SIO_PING},
    {"socketio-ping-timeout-ms", "REALTIME_SOCKETIO_PING_TIMEOUT_MS", OPT_SIO_TIMEOUT},
    {"socketio-max-payload-bytes", "REALTIME_SOCKETIO_MAX_PAYLOAD_BYTES", OPT_SIO_PAYLOAD},
    {"socketio-cors-origins", "REALTIME_SOCKETIO_CORS_ORIGINS", OPT_SIO_CORS},
    {"socketio-max-disconnection-ms", "REALTIME_SOCKETIO_MAX_DISCONNECTION_MS", OPT_SIO_RECOVERY},
    {"socketio-conformance", "REALTIME_SOCKETIO_CONFORMANCE", OPT_SIO_CONFORMANCE},
    {"webhook-retry-schedule", "REALTIME_WEBHOOK_RETRY_SCHEDULE", OPT_WH_SCHEDULE},
    {"webhook-timeout-ms", "REALTIME_WEBHOOK_TIMEOUT_MS", OPT_WH_TIMEOUT},
    {"webhook-allow-private", "REALTIME_WEBHOOK_ALLOW_PRIVATE", OPT_WH_ALLOW_PRIVATE},
    {"webhook-allow-cidrs", "REALTIME_WEBHOOK_ALLOW_CIDRS", OPT_WH_ALLOW_CIDRS},
    {"webhook-disable-after-s", "REALTIME_WEBHOOK_DISABLE_AFTER_S", OPT_WH_DISABLE_AFTER},
    {"webhook-log-retention-s", "REALTIME_WEBHOOK_LOG_RETENTION_S", OPT_WH_RETENTION},
};

static int parse_count(const char *name, const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (rt_parse_i64(v, strlen(v), out) != 0 || *out < min || *out > max) {
        fprintf(stderr, "realtime: --%s must be an integer in %lld..%lld (got \"%s\")\n", name,
                (long long)min, (long long)max, v);
        return -1;
    }
    return 0;
}

/* 0 if v is a, 1 if it is b; otherwise says what --name takes and
 * returns -1. */
static int parse_choice(const char *name, const char *v, const char *a, const char *b)
{
    if (strcmp(v, a) == 0)
        return 0;
    if (strcmp(v, b) == 0)
        return 1;
    fprintf(stderr, "realtime: --%s must be %s or %s (got \"%s\")\n", name, a, b, v);
    return -1;
}

static int set_copy(char *dst, size_t cap, const char *name, const char *v)
{
    if (strlen(v) >= cap) {
        fprintf(stderr, "realtime: --%s is too long\n", name);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int apply_int(const opt_t *o, const char *v, config_t *c)
{
    int64_t n;
    switch (o->id) {
    case OPT_WORKERS:
        if (parse_count(o->flag, v, 1, 256, &n) != 0)
            return -1;
        c->workers = (int)n;
        return 0;
    case OPT_MAX_BODY:
        if (parse_count(o->flag, v, 1024, 1LL << 30, &n) != 0)
            return -1;
        c->max_body_bytes = (size_t)n;
        return 0;
    case OPT_FLUSH_PACING:
        if (parse_count(o->flag, v, 0, 1000, &n) != 0)
            return -1;
        c->flush_pacing_max_ms = (int)n;
        return 0;
    case OPT_WS_MAX_MESSAGE:
        if (parse_count(o->flag, v, 128, 64LL << 20, &n) != 0)
            return -1;
        c->gateway.max_message_bytes = (size_t)n;
        return 0;
    case OPT_WS_PING:
        if (parse_count(o->flag, v, 100, 3600000, &n) != 0)
            return -1;
        c->gateway.ping_interval_ms = (int)n;
        return 0;
    case OPT_WS_QUEUE:
        if (parse_count(o->flag, v, 4096, 1LL << 30, &n) != 0)
            return -1;
        c->gateway.send_queue_bytes = (size_t)n;
        return 0;
    case OPT_WS_MAX_SUBS:
        if (parse_count(o->flag, v, 1, 1000000, &n) != 0)
            return -1;
        c->gateway.max_subscriptions = (int)n;
        return 0;
    case OPT_WS_RATE:
        if (parse_count(o->flag, v, 1, 1000000, &n) != 0)
            return -1;
        c->gateway.publish_rate = (int)n;
        return 0;
    default:
        if (parse_count(o->flag, v, 1, 100000000, &n) != 0)
            return -1;
        c->gateway.max_connections_per_env = (int)n;
        return 0;
    }
}

/* The Socket.IO options; v is NULL for a bare --socketio-conformance. */
static int apply_sio(const opt_t *o, const char *v, rt_gateway_config_t *g)
{
    int64_t n;
    switch (o->id) {
    case OPT_SIO_PING:
        if (parse_count(o->flag, v, 50, 3600000, &n) != 0)
            return -1;
        g->sio_ping_interval_ms = (int)n;
        return 0;
    case OPT_SIO_TIMEOUT:
        if (parse_count(o->flag, v, 50, 3600000, &n) != 0)
            return -1;
        g->sio_ping_timeout_ms = (int)n;
        return 0;
    case OPT_SIO_PAYLOAD:
        if (parse_count(o->flag, v, 1024, 64LL << 20, &n) != 0)
            return -1;
        g->sio_max_payload_bytes = (size_t)n;
        return 0;
    case OPT_SIO_CORS:
        return set_copy(g->sio_cors_origins, sizeof(g->sio_cors_origins), o->flag, v);
    case OPT_SIO_RECOVERY:
        if (parse_count(o->flag, v, 0, 7LL * 24 * 3600 * 1000, &n) != 0)
            return -1;
        g->sio_max_disconnect_ms = (int)n;
        return 0;
    default:
        g->sio_conformance = v == NULL || strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
        return 0;
    }
}

/* The webhook options; v is NULL for a bare --webhook-allow-private. */
static int apply_webhook(const opt_t *o, const char *v, rt_wh_config_t *w)
{
    int64_t n;
    switch (o->id) {
    case OPT_WH_SCHEDULE:
        if (rt_wh_parse_schedule(v, w) != 0) {
            fprintf(stderr, "realtime: --%s must be comma-separated seconds (at most %d)\n",
                    o->flag, RT_WH_MAX_RETRIES);
            return -1;
        }
        return 0;
    case OPT_WH_TIMEOUT:
        if (parse_count(o->flag, v, 100, 600000, &n) != 0)
            return -1;
        w->timeout_ms = n;
        return 0;
    case OPT_WH_ALLOW_PRIVATE:
        w->allow_private = v == NULL || strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
        return 0;
    case OPT_WH_ALLOW_CIDRS:
        if (rt_wh_parse_cidrs(v, w) != 0) {
            fprintf(stderr, "realtime: --%s must be comma-separated CIDRs (at most %d)\n", o->flag,
                    RT_WH_ALLOW_CIDRS_MAX);
            return -1;
        }
        return 0;
    case OPT_WH_DISABLE_AFTER:
        if (parse_count(o->flag, v, 1, 365LL * 24 * 3600, &n) != 0)
            return -1;
        w->disable_after_ms = n * 1000;
        return 0;
    default:
        if (parse_count(o->flag, v, 60, 3650LL * 24 * 3600, &n) != 0)
            return -1;
        w->retention_ms = n * 1000;
        return 0;
    }
}

static int apply(const opt_t *o, const char *v, config_t *c)
{
    int choice;
    if (o->id >= OPT_WH_SCHEDULE)
        return apply_webhook(o, v, &c->webhooks);
    if (o->id >= OPT_SIO_PING)
        return apply_sio(o, v, &c->gateway);
    switch (o->id) {
    case OPT_LISTEN:
        return set_copy(c->listen, sizeof(c->listen), o->flag, v);
    case OPT_DATA:
        return set_copy(c->data, sizeof(c->data), o->flag, v);
    case OPT_ADMIN_KEY:
        return set_copy(c->admin_key, sizeof(c->admin_key), o->flag, v);
    case OPT_LOG_LEVEL:
        if (rt_log_parse_level(v, &c->log_level) != 0) {
            fprintf(stderr, "realtime: --log-level must be debug, info, warn or error\n");
            return -1;
        }
        return 0;
    case OPT_LOG_FORMAT:
        if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0) {
            fprintf(stderr, "realtime: --log-format must be text or json\n");
            return -1;
        }
        c->log_json = strcmp(v, "json") == 0;
        return 0;
    case OPT_FSYNC:
        choice = parse_choice(o->flag, v, "normal", "always");
        c->fsync = choice == 1 ? RT_STORE_FSYNC_ALWAYS : RT_STORE_FSYNC_NORMAL;
        return choice < 0 ? -1 : 0;
    case OPT_IO_URING:
        choice = parse_choice(o->flag, v, "off", "on");
        c->io_uring = choice == 1;
        return choice < 0 ? -1 : 0;
    default:
        return apply_int(o, v, c);
    }
}

static int parse_serve(int argc, char **argv, config_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen, sizeof(c->listen), "0.0.0.0:8080");
    snprintf(c->data, sizeof(c->data), "./data");
    c->workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    c->log_level = RT_LOG_INFO;
    c->max_body_bytes = RT_HTTP_MAX_BODY_BYTES_DEFAULT;
    c->flush_pacing_max_ms = RT_NET_FLUSH_PACE_MAX_MS_DEFAULT;
    c->io_uring = 1;
    rt_gateway_config_defaults(&c->gateway);
    rt_wh_config_defaults(&c->webhooks);
    /* Environment first, flags override. */
    for (size_t i = 0; i < RT_ARRAY_LEN(opts); i++) {
        const char *v = getenv(opts[i].env);
        if (v && *v && apply(&opts[i], v, c) != 0)
            return -1;
    }
    struct option lo[RT_ARRAY_LEN(opts) + 2];
    for (size_t i = 0; i < RT_ARRAY_LEN(opts); i++)
        lo[i] =
            (struct option){opts[i].flag,
                            opts[i].id == OPT_WH_ALLOW_PRIVATE || opts[i].id == OPT_SIO_CONFORMANCE
                                ? no_argument
                                : required_argument,
                            NULL, opts[i].id};
    lo[RT_ARRAY_LEN(opts)] = (struct option){"help", no_argument, NULL, 'h'};
    lo[RT_ARRAY_LEN(opts) + 1] = (struct option){NULL, 0, NULL, 0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch == 'h') {
            usage_serve(stdout);
            exit(0);
        }
        if (ch == '?') {
            usage_serve(stderr);
            return -1;
        }
        for (size_t i = 0; i < RT_ARRAY_LEN(opts); i++) {
            if (opts[i].id == ch && apply(&opts[i], optarg, c) != 0)
                return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "realtime serve: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* "host:port", "[v6]:port" or ":port". */
static int split_listen(const char *s, rt_server_config_t *cfg)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL)
        return -1;
    int64_t port;
    if (rt_parse_i64(colon + 1, strlen(colon + 1), &port) != 0 || port < 0 || port > 65535)
        return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof(cfg->host))
        return -1;
    if (hl == 0)
        snprintf(cfg->host, sizeof(cfg->host), "0.0.0.0");
    else
        snprintf(cfg->host, sizeof(cfg->host), "%.*s", (int)hl, h);
    cfg->port = (int)port;
    return 0;
}

/* Idle WebSocket connections are cheap here; the descriptor limit is what
 * bounds them, so raise the soft limit to the hard one. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rt_log_info("fd_limit", "soft_before=%llu soft=%llu hard=%llu", (unsigned long long)before,
                (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
}

/* ================================================================== serve */

static int serve(int argc, char **argv)
{
    config_t c;
    if (parse_serve(argc, argv, &c) != 0)
        return 2;
    rt_log_setup(c.log_level, c.log_json);
    rt_server_config_t scfg;
    rt_server_config_defaults(&scfg);
    if (split_listen(c.listen, &scfg) != 0) {
        fprintf(stderr, "realtime: --listen must be HOST:PORT (got \"%s\")\n", c.listen);
        return 2;
    }
    scfg.workers = c.workers;
    scfg.max_body_bytes = c.max_body_bytes;
    scfg.flush_pacing_max_ms = c.flush_pacing_max_ms;
    scfg.io_uring = c.io_uring;

    /* Signals are taken by sigwait() in this thread only. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    int status = 1;
    rt_store_t *store = NULL;
    rt_registry_t *registry = NULL;
    rt_server_t *server = NULL;
    rt_topics_t *topics = NULL;
    rt_api_t *api = NULL;
    rt_gateway_t *gateway = NULL;
    rt_webhooks_t *webhooks = NULL;
    rt_cdc_t *cdc = NULL;
    char *generated = NULL;

    if (rt_store_open(c.data, c.fsync, &store) != 0)
        goto out;
    if (rt_registry_open(store, &registry) != 0)
        goto out;
    if (rt_registry_admin_setup(registry, c.admin_key, &generated) != 0)
        goto out;
    api = rt_api_new(registry);
    if (rt_server_new(&scfg, rt_api_handle, api, &server) != 0)
        goto out;
    rt_topics_new(registry, server, &topics);
    rt_api_set_topics(api, topics);
    if (rt_webhooks_new(&c.webhooks, registry, topics, &webhooks) != 0)
        goto out;
    rt_topics_set_outbox(topics, rt_webhooks_outbox, rt_webhooks_committed, webhooks);
    rt_api_set_webhooks(api, webhooks);
    if (rt_webhooks_start(webhooks) != 0)
        goto out;
    if (rt_cdc_open(registry, topics, &cdc) != 0)
        goto out;
    rt_api_set_cdc(api, cdc);
    gateway = rt_gateway_new(&c.gateway, registry, topics);
    rt_api_set_upgrade(api, rt_gateway_ws_upgrade, gateway);
    rt_gateway_sio_attach(gateway, server);
    rt_api_set_prefix(api, RT_SIO_PATH, rt_gateway_sio_handle, gateway);
    if (c.gateway.sio_conformance)
        rt_api_set_prefix(api, RT_SIO_CONFORMANCE_EIO_PATH, rt_gateway_sio_handle, gateway);
    if (rt_server_start(server) != 0)
        goto out;
    rt_cdc_start(cdc); /* one replication reader thread per source */
    if (generated) {
        /* stdout, once: the operator needs it, and it must not go to logs. */
        printf("\nAdmin key (shown once, only its hash is stored): %s\n\n", generated);
        fflush(stdout);
    }
    rt_log_info("listening", "addr=%s:%d workers=%d data=%s version=%s", scfg.host,
                rt_server_port(server), rt_server_nworkers(server), c.data, RT_VERSION);

    int sig = 0;
    sigwait(&sigs, &sig);
    rt_log_info("shutting_down", "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rt_gateway_sio_stop(gateway);
    rt_server_stop(server);
    status = 0;
out:
    if (status != 0)
        rt_log_error("start_failed", "see the messages above");
    /* Order matters: the workers have stopped; closing the store commits
     * what is queued and runs its completions, which post to the workers;
     * freeing the server runs those posts; only then do the subsystems the
     * posts touch go away. */
    rt_cdc_stop(cdc);           /* readers publish into the store */
    rt_webhooks_stop(webhooks); /* it reads the store */
    rt_store_close(store);
    rt_server_free(server);
    rt_webhooks_free(webhooks); /* commit callbacks touched it until the store closed */
    rt_cdc_free(cdc);           /* likewise */
    rt_gateway_free(gateway);
    rt_topics_free(topics);
    rt_api_free(api);
    rt_registry_close(registry);
    rt_free(generated);
    if (status == 0)
        rt_log_info("stopped", "status=%d", status);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage_main(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("realtime %s\n", RT_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    fprintf(stderr, "realtime: unknown command \"%s\" (try realtime --help)\n", argv[1]);
    return 2;
}
