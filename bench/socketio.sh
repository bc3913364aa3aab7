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
# shellcheck source=bench/peer_env.sh
. "$here/peer_env.sh"
work=${WORK:-"$here/../build/peer-bench"}
peer_harness socketio "$work"
SCENARIOS=${SCENARIOS:-"S1L S2"}
REPEATS=${REPEATS:-3}

rt_bench_env

cd "$work"
run=$(date -u +%Y%m%dT%H%M%SZ)-socketio
all="$work/results/$run"
mkdir -p "$all"
: >"$all/raw.txt"
export RT_PUB=ws SCENARIOS
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
