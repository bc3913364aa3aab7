#!/usr/bin/env bash
# bench/socketio.sh BIN - the Socket.IO fan-out scenarios of ../shared/bench
# (issue #4): our server over Socket.IO (`wsbench --proto socketio`), the same
# server over the plain WebSocket protocol, and the Node socket.io@4 peer, in
# one run. Each repeat runs the three back to back, so that the noise of a
# shared machine hits them alike; compare ratios within one run.
#
#   bash bench/socketio.sh build/realtime
#   SCENARIOS="S2" REPEATS=3 WORK=/tmp/me/peer-bench bash bench/socketio.sh build/realtime
#
# WORK is where the read-only harness is copied and built (default
# build/peer-bench; an existing built copy is reused). The combined table
# (peers rt-sio, rt-ws, socketio) is printed and kept in $WORK/results/.
set -euo pipefail
BIN=$(realpath "${1:?usage: socketio.sh path/to/realtime}")
here=$(cd "$(dirname "$0")" && pwd)
shared="$here/../../shared/bench"
if [ ! -d "$shared" ]; then
  echo "socketio: SKIPPED: the peer harness ../shared/bench is not present in this checkout"
  exit 0
fi
work=${WORK:-"$here/../build/peer-bench"}
if [ ! -x "$work/wsbench" ] || [ ! -d "$work/node_modules/socket.io" ]; then
  rm -rf "$work" && cp -r "$shared" "$work" && chmod -R u+w "$work"
  (cd "$work" && make -s && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
SCENARIOS=${SCENARIOS:-"S1L S2"}
REPEATS=${REPEATS:-3}

data=$(mktemp -d)
KEY=bench-admin-key
# Set up the environment, topic and key once (as bench/fanout.sh does); each
# run starts a fresh server on the same data directory.
"$BIN" serve --listen 127.0.0.1:18091 --data "$data" --admin-key $KEY --log-level warn &
pid=$!
for _ in $(seq 50); do curl -fs http://127.0.0.1:18091/healthz >/dev/null && break; sleep 0.1; done
api() { curl -fsS -X "$1" "http://127.0.0.1:18091$2" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
api POST /v1/apps '{"id":"bench"}' >/dev/null
api POST /v1/apps/bench/envs '{"id":"prod"}' >/dev/null
api POST /v1/apps/bench/envs/prod/topics '{"name":"bench.fanout"}' >/dev/null
TOKEN=$(api POST /v1/apps/bench/envs/prod/keys '{"name":"bench"}' | sed -E 's/.*"key":"([^"]+)".*/\1/')
kill $pid
wait $pid || true

cd "$work"
run=$(date -u +%Y%m%dT%H%M%SZ)-socketio
all="$work/results/$run"
mkdir -p "$all"
: >"$all/raw.txt"
# The benchmark publisher is one connection: lift the per-connection
# publish rate limit (a client-protection default of 100/s).
export RT_START_CMD="$BIN serve --listen 127.0.0.1:{port} --data $data --admin-key $KEY --log-level warn --ws-publish-rate 1000000"
export RT_TOKEN="$TOKEN" RT_PUB=ws SCENARIOS
# one(label, peer, extra env...): one repeat of one configuration, relabelled.
one() {
  local label=$1 peer=$2
  shift 2
  env "$@" PEERS="$peer" REPEATS=1 OUT="$all/$label-$rep" ./run-peers.sh >/dev/null
  sed -E "s#^label=$peer/#label=$label/#" "$all/$label-$rep/raw.txt" >>"$all/raw.txt"
  cat "$all/$label-$rep/commands.txt" >>"$all/commands.txt"
}
for ((rep = 1; rep <= REPEATS; rep++)); do
  one rt-sio rt RT_PROTO=socketio RT_EXTRA='--sio-nsp /bench/prod'
  one rt-ws rt RT_PROTO=rt RT_PATH='/v1/apps/bench/envs/prod/ws?token={token}'
  one socketio socketio
done
rm -rf "$data"
./summarize.sh "$all/raw.txt" | tee "$all/table.md"
echo "results in $all" >&2
