#!/usr/bin/env bash
# bench/fanout.sh BIN - the WebSocket fan-out scenarios (S1, S1L, S2, S3) of
# ../shared/bench with our server and the peers it can start, in one run.
# The harness is copied out of the read-only shared folder and built here.
# Where ../shared/bench is absent (a user's own clone) this says so and stops.
set -euo pipefail
BIN=$(realpath "${1:?usage: fanout.sh path/to/realtime}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/peer_env.sh
. "$here/peer_env.sh"
work="$here/../build/peer-bench"
peer_harness fanout "$work"
for p in nats-server mosquitto; do command -v $p >/dev/null || echo "fanout: note: $p not installed (scripts/deps.sh --bench installs it)"; done
rt_bench_env

cd "$work"
export RT_PATH="/v1/apps/bench/envs/prod/ws?token={token}"
export RT_PUB=ws
./run-peers.sh
rm -rf "$data"
