#!/usr/bin/env bash
# bench/cdc/run.sh BIN - change data capture throughput against the
# pg_recvlogical ceiling, and commit->event latency (issue 7, "Performance").
#
# Starts a throwaway PostgreSQL 15 (initdb in a temp dir as the postgres user,
# wal_level=logical, a free port on 127.0.0.1, the unix socket in the temp
# dir: the approach of tests/integration/lib/postgres.mjs) and our server,
# creates app/env/topic, a source and one mapping, starts pg_recvlogical
# (pgoutput, its own slot and publication, output to /dev/null), then runs
# bench/cdc/measure.mjs:
#   1. 100,000 single-row INSERTs in 1,000-row transactions; our rate is the
#      rows divided by the time from the first commit until the topic's `seq`
#      reaches 100,000 (events durable in our log).
#   2. pg_recvlogical on the same workload at the same time: its rate is the
#      rows divided by the time from the first commit until its walsender's
#      sent_lsn reaches the WAL position after the last commit (the ceiling).
#   3. one row per transaction at 1,000 rows/s for 10 s, the commit time in a
#      column (clock_timestamp()), events received over WebSocket: p50/p99 of
#      arrival time - commit time.
# PostgreSQL runs with fsync=off (both readers see the same WAL; disk noise
# on a shared machine is not what is measured) and synchronous_commit=on
# (with it off, WAL reaches the walsenders only at wal_writer_delay ticks).
# Knobs: ROWS, TX_ROWS, LAT_RATE, LAT_SECONDS.
set -euo pipefail
BIN=$(realpath "${1:?usage: bench/cdc/run.sh path/to/realtime}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGBIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/initdb" ] || { echo "no PostgreSQL 15 at $PGBIN (scripts/deps.sh installs it)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
if [ "$(id -u)" = 0 ]; then aspg() { runuser -u postgres -- "$@"; }; else aspg() { "$@"; }; fi

work=$(mktemp -d /tmp/rt-cdc-bench.XXXXXX)
chmod 755 "$work"
pgdir="$work/pg"
mkdir -p "$pgdir"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$pgdir"
chmod 700 "$pgdir"
rt_pid=""
recv_pid=""
cleanup() {
    if [ -n "$recv_pid" ]; then kill "$recv_pid" 2>/dev/null || true; fi
    if [ -n "$rt_pid" ]; then
        kill "$rt_pid" 2>/dev/null || true
        wait "$rt_pid" 2>/dev/null || true
    fi
    aspg "$PGBIN/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

PGPORT=$(free_port)
aspg "$PGBIN/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
cat >>"$pgdir/data/postgresql.conf" <<CONF
listen_addresses='127.0.0.1'
port=$PGPORT
unix_socket_directories='$pgdir'
wal_level=logical
max_replication_slots=20
max_wal_senders=20
fsync=off
synchronous_commit=on
full_page_writes=off
log_min_messages=warning
CONF
aspg "$PGBIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -t 60 start >/dev/null
DSN="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$DSN" "$@"; }
psql -c "CREATE TABLE bench_rows(id bigint PRIMARY KEY, v int NOT NULL, note text,
           created_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE bench_lat(id bigint PRIMARY KEY, committed_at timestamptz NOT NULL);
         CREATE PUBLICATION bench_recv_pub FOR TABLE bench_rows;"

PORT=$(free_port)
KEY=bench-admin-key
"$BIN" serve --listen "127.0.0.1:$PORT" --data "$work/data" --admin-key "$KEY" --log-level warn &
rt_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
api() {
    curl -fsS -X "$1" "http://127.0.0.1:$PORT$2" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' ${3:+-d "$3"}
}
E=/v1/apps/bench/envs/prod
api POST /v1/apps '{"id":"bench"}' >/dev/null
api POST /v1/apps/bench/envs '{"id":"prod"}' >/dev/null
ENV_KEY=$(api POST "$E/keys" '{"name":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
api POST "$E/topics" '{"name":"bench.rows"}' >/dev/null
api POST "$E/topics" '{"name":"bench.lat"}' >/dev/null
state=$(api POST "$E/sources" "{\"name\":\"pg\",\"kind\":\"postgres\",\"dsn\":\"$DSN\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["state"])')
[ "$state" = streaming ] || { echo "source state: $state" >&2; exit 1; }
api POST "$E/mappings" '{"name":"rows","source":"pg","table":"public.bench_rows",
    "operations":["insert"],"topic":"bench.rows"}' >/dev/null

"$PGBIN/pg_recvlogical" -d "$DSN" -S bench_recv --create-slot -P pgoutput
"$PGBIN/pg_recvlogical" -d "$DSN" -S bench_recv --start -f /dev/null -s 1 -F 1 \
    -o proto_version=1 -o publication_names=bench_recv_pub &
recv_pid=$!

echo "machine: $(nproc) cores, $(uname -r); PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}')"
PG_DSN="$DSN" RT_URL="http://127.0.0.1:$PORT" RT_ADMIN_KEY="$KEY" RT_ENV_KEY="$ENV_KEY" RT_E="$E" \
    RECV_SLOT=bench_recv RECV_PID="$recv_pid" NODE_MODULES="$root/tests/node_modules" \
    node "$here/measure.mjs"
