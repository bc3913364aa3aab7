#!/usr/bin/env bash
# bench/http_publish.sh BIN - HTTP publish throughput against the nginx ceiling.
#
# wrk (2 threads, 64 keep-alive connections, 10 s) POSTs 200-byte payloads to
# one topic of our server (acknowledged only after the durable commit), then,
# in the same run, to nginx answering a static 201: the ceiling of this
# machine for a trivial HTTP response. Prints both and the ratio.
set -euo pipefail
BIN=$(realpath "${1:?usage: http_publish.sh path/to/realtime}")
DUR=${DUR:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
NGINX_PORT=${NGINX_PORT:-18081}
work=$(mktemp -d)
trap 'kill $rt_pid $ng_pid 2>/dev/null || true; rm -rf "$work"' EXIT
rt_pid=""
ng_pid=""

KEY=bench-admin-key
"$BIN" serve --listen 127.0.0.1:$PORT --data "$work/data" --admin-key $KEY --log-level warn &
rt_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
api() { curl -fsS -X "$1" "http://127.0.0.1:$PORT$2" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
api POST /v1/apps '{"id":"bench"}' >/dev/null
api POST /v1/apps/bench/envs '{"id":"prod"}' >/dev/null
api POST /v1/apps/bench/envs/prod/topics '{"name":"bench.publish"}' >/dev/null

# A payload whose request body is 200 bytes.
pad=$(printf 'x%.0s' $(seq 1 168))
body="{\"payload\":{\"n\":1,\"pad\":\"$pad\"}}"
echo "body bytes: ${#body}"
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA

echo "== realtime: POST /v1/apps/bench/envs/prod/topics/bench.publish/events"
wrk -t$THREADS -c$CONNS -d$DUR --latency -s "$work/post.lua" \
  "http://127.0.0.1:$PORT/v1/apps/bench/envs/prod/topics/bench.publish/events" | tee "$work/rt.txt"

mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<NGX
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 201 '{"id":"evt_01JDQ3","seq":1}'; }
  }
}
NGX
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
ng_pid=$!
sleep 0.5
echo "== nginx ceiling: static 201"
wrk -t$THREADS -c$CONNS -d$DUR --latency -s "$work/post.lua" "http://127.0.0.1:$NGINX_PORT/" | tee "$work/ng.txt"

rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
rt=$(rps "$work/rt.txt"); ng=$(rps "$work/ng.txt")
echo
echo "RESULT realtime_rps=$rt realtime_p99=$(p99 "$work/rt.txt") nginx_rps=$ng nginx_p99=$(p99 "$work/ng.txt") ratio=$(awk -v a="$rt" -v b="$ng" 'BEGIN { printf "%.2f", a / b }')"
