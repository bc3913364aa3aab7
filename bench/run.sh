#!/usr/bin/env bash
# bench/run.sh BIN - `make bench`: every benchmark, with the peers in the same
# run. Numbers go to stdout and bench/results/<date>/; bench/RESULTS.md holds
# the curated record. Benchmarks never decide pass or fail of `make test`.
set -euo pipefail
BIN=$(realpath "${1:?usage: run.sh path/to/realtime}")
here=$(cd "$(dirname "$0")" && pwd)
out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)" | tee "$out/env.txt"

echo "### http_publish (wrk vs nginx ceiling)"
bash "$here/http_publish.sh" "$BIN" | tee "$out/http_publish.txt"

echo "### fan-out (wsbench, with peers)"
bash "$here/fanout.sh" "$BIN" | tee "$out/fanout.txt"

echo "### S1L floor (a server that only sends, our server, nchan)"
bash "$here/floor/run.sh" "$BIN" | tee "$out/floor.txt"

echo "### Socket.IO fan-out (wsbench --proto socketio, plain WS and Node socket.io in the same run)"
bash "$here/socketio.sh" "$BIN" | tee "$out/socketio.txt"

echo "### schema validation (parse + validate, vs ajv@8)"
bash "$here/schema/run.sh" | tee "$out/schema.txt"
bash "$here/cdc/run.sh" "$BIN" | tee "$out/cdc.txt"
bash "$here/webhooks/run.sh" "$BIN" | tee "$out/webhooks.txt"
echo "results in $out"
