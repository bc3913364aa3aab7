#!/usr/bin/env bash
# bench/fanout.sh BIN - the WebSocket fan-out scenarios (S1, S1L, S2, S3) of
# ../shared/bench with our server and the peers it can start, in one run.
# The harness is copied out of the read-only shared folder and built here.
# Where ../shared/bench is absent (a user's own clone) this says so and stops.
set -euo pipefail
BIN=$(realpath "${1:?usage: fanout.sh path/to/realtime}")
here=$(cd "$(dirname "$0")" && pwd)
shared="$here/../../shared/bench"
if [ ! -d "$shared" ]; then
  echo "fanout: SKIPPED: the peer harness ../shared/bench is not present in this checkout"
  exit 0
fi
work="$here/../build/peer-bench"
rm -rf "$work" && cp -r "$shared" "$work" && chmod -R u+w "$work"
(cd "$work" && make -s && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
for p in nats-server mosquitto; do command -v $p >/dev/null || echo "fanout: note: $p not installed (scripts/deps.sh --bench installs it)"; done

data=$(mktemp -d)
KEY=bench-admin-key
# Set up the environment, topic and token once; each run starts a fresh
# server on the same data directory.
"$BIN" serve --listen 127.0.0.1:18090 --data "$data" --admin-key $KEY --log-level warn &
pid=$!
for _ in $(seq 50); do curl -fs http://127.0.0.1:18090/healthz >/dev/null && break; sleep 0.1; done
api() { curl -fsS -X "$1" "http://127.0.0.1:18090$2" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
api POST /v1/apps '{"id":"bench"}' >/dev/null
api POST /v1/apps/bench/envs '{"id":"prod"}' >/dev/null
api POST /v1/apps/bench/envs/prod/topics '{"name":"bench.fanout"}' >/dev/null
TOKEN=$(api POST /v1/apps/bench/envs/prod/keys '{"name":"bench"}' | sed -E 's/.*"key":"([^"]+)".*/\1/')
kill $pid; wait $pid || true

cd "$work"
# The benchmark publisher is one connection: lift the per-connection
# publish rate limit (a client-protection default of 100/s).
export RT_START_CMD="$BIN serve --listen 127.0.0.1:{port} --data $data --admin-key $KEY --log-level warn --ws-publish-rate 1000000"
export RT_TOKEN="$TOKEN"
export RT_PATH="/v1/apps/bench/envs/prod/ws?token={token}"
export RT_PUB=ws
./run-peers.sh
rm -rf "$data"
