#!/usr/bin/env bash
# bench/floor/run.sh BIN - S1L (10,000 subscribers, 2 msg/s) against the
# floor server (floor.c: nothing but one write per subscriber, or io_uring
# batches), our server and nginx+nchan, in one run: how far each is from what
# this machine allows at all. Needs ../shared/bench (says so where absent).
set -euo pipefail
BIN=$(realpath "${1:?usage: floor/run.sh path/to/realtime}")
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/peer_env.sh
. "$here/peer_env.sh"
work="$here/../build/peer-bench"
peer_harness floor "$work"
floor="$here/../build/floor"
cc -O2 -Wall -Wextra -o "$floor" "$here/floor/floor.c" -lcrypto -luring -lpthread
REPEATS=${REPEATS:-2}
S1L=(-c 10000 -m 20 -r 2 -d 10 -s 100 --drain 5 --procs 2)

floor_run() { # MODE LABEL
  (ulimit -n "$(ulimit -Hn)" && exec "$floor" 18300 2 "$1") &
  local pid=$!
  sleep 0.3
  "$work/wsbench" --port 18300 --proto ws-raw --path /sub --pub ws --pub-path /pub \
    --server-pid $pid "${S1L[@]}" --label "$2/S1L" || true
  kill $pid
  wait $pid 2>/dev/null || true
}

raw=$(mktemp)
for _ in $(seq "$REPEATS"); do
  floor_run write floor-write | tee -a "$raw"
  floor_run uring floor-uring | tee -a "$raw"
done
rt_bench_env
peer_out=$(mktemp -d)
(cd "$work" && RT_PATH="/v1/apps/bench/envs/prod/ws?token={token}" RT_PUB=ws PEERS="rt nchan" \
  SCENARIOS="S1L" REPEATS="$REPEATS" OUT="$peer_out" ./run-peers.sh >/dev/null)
tee -a "$raw" <"$peer_out/raw.txt"
rm -rf "$data" "$peer_out"
echo "| server | p50 ms | p99 ms | krx p99 ms | server CPU s | client CPU s |"
echo "|---|---|---|---|---|---|"
tr ' ' '\n' <"$raw" | awk -F= '
  $1 == "label" { l = $2 } $1 == "p50_us" { p50 = $2 } $1 == "p99_us" { p99 = $2 }
  $1 == "krx_p99_us" { k = $2 } $1 == "srv_cpu_pub_s" { s = $2 }
  $1 == "cli_cpu_pub_s" { printf "| %s | %.0f | %.0f | %.0f | %s | %s |\n", l, p50 / 1000, p99 / 1000, k / 1000, s, $2 }'
rm -f "$raw"
