#!/usr/bin/env bash
# bench/webhooks/run.sh BIN - webhook delivery throughput against the wrk
# ceiling of the same receiver, and publish->delivery latency (issue 6,
# "Performance").
#
# Starts bench/webhooks/receiver.mjs (Node, keep-alive, answers 204 at once)
# and our server with --webhook-allow-private, creates app/env/topic and one
# endpoint (not ordered, no rateLimit) pointing at the receiver, then:
#   1. wrk (WRK_THREADS threads, WRK_CONNS keep-alive connections, WRK_DUR)
#      POSTs a body of the webhook's size to the receiver: the ceiling. The
#      default 16 connections match the dispatcher's 16 requests in flight per
#      endpoint (docs/webhooks.md, "Pacing").
#   2. bench/webhooks/measure.mjs: EVENTS events in BATCH-item POST E/events
#      as fast as the server acknowledges them, deliveries/s from the first
#      publish to the last delivery and p50/p99 publish->delivery latency;
#      then LAT_RATE single events/s for LAT_SECONDS, p50/p99 latency (the
#      publish time stamped in the payload, compared on receipt).
# Knobs: EVENTS, BATCH, PUB_CONC, LAT_RATE, LAT_SECONDS, PAD, WRK_*.
set -euo pipefail
BIN=$(realpath "${1:?usage: bench/webhooks/run.sh path/to/realtime}")
here=$(cd "$(dirname "$0")" && pwd)
WRK_DUR=${WRK_DUR:-10s}
WRK_CONNS=${WRK_CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
export EVENTS=${EVENTS:-50000} BATCH=${BATCH:-1000} PAD=${PAD:-100}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d /tmp/rt-webhook-bench.XXXXXX)
rt_pid=""
rc_pid=""
cleanup() {
    for p in $rt_pid $rc_pid; do kill "$p" 2>/dev/null || true; done
    for p in $rt_pid $rc_pid; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

RPORT=$(free_port)
node "$here/receiver.mjs" "$RPORT" >"$work/receiver.log" 2>&1 &
rc_pid=$!
RECV_URL="http://127.0.0.1:$RPORT"
for _ in $(seq 100); do curl -fs "$RECV_URL/_stats" >/dev/null && break; sleep 0.1; done

PORT=$(free_port)
KEY=bench-admin-key
"$BIN" serve --listen "127.0.0.1:$PORT" --data "$work/data" --admin-key "$KEY" \
    --log-level warn --webhook-allow-private &
rt_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
api() {
    curl -fsS -X "$1" "http://127.0.0.1:$PORT$2" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' ${3:+-d "$3"}
}
E=/v1/apps/bench/envs/prod
TOPIC=bench.hooks
api POST /v1/apps '{"id":"bench"}' >/dev/null
api POST /v1/apps/bench/envs '{"id":"prod"}' >/dev/null
api POST "$E/topics" "{\"name\":\"$TOPIC\"}" >/dev/null
api POST "$E/webhooks/endpoints" "{\"url\":\"$RECV_URL/hook\",\"topics\":[\"$TOPIC\"]}" >/dev/null

# wrk's body: an envelope as the server sends it, of the same size.
pad=$(printf 'x%.0s' $(seq 1 "$PAD"))
body="{\"id\":\"evt_01KB0000000000000000000000\",\"topic\":\"$TOPIC\",\"seq\":1,\"time\":\"2026-11-28T00:00:00.000Z\",\"source\":\"api\",\"schemaVersion\":null,\"payload\":{\"t\":1795846749123.456,\"pad\":\"$pad\"},\"meta\":{}}"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["webhook-id"] = "evt_01KB0000000000000000000000"
wrk.headers["webhook-timestamp"] = "1795846749"
wrk.headers["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
LUA

echo "machine: $(nproc) cores, $(uname -r); node $(node --version); wrk body ${#body} B"
echo "== wrk ceiling: ${WRK_THREADS} threads, ${WRK_CONNS} connections, ${WRK_DUR} -> receiver POST /wrk"
wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DUR" --latency -s "$work/post.lua" "$RECV_URL/wrk" | tee "$work/wrk.txt"
WRK_RPS=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")

echo "== webhooks"
RT_URL="http://127.0.0.1:$PORT" RT_ADMIN_KEY="$KEY" RT_E="$E" TOPIC="$TOPIC" RECV_URL="$RECV_URL" \
    WRK_RPS="$WRK_RPS" WRK_CONNS="$WRK_CONNS" node "$here/measure.mjs"
