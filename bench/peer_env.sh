# shellcheck shell=bash
# bench/peer_env.sh - sourced by bench/fanout.sh and bench/socketio.sh, not
# run. Needs $BIN (our server) and $here (the bench folder); uses port 18090
# for the set-up server.
#
# peer_harness NAME WORK: copies the read-only ../shared/bench into WORK and
#   builds it (wsbench + the Node peers), unless WORK already holds a build.
#   Where ../shared/bench is absent (a user's own clone) it says so and exits 0.
# rt_bench_env: makes a data directory ($data) holding app bench, env prod,
#   topic bench.fanout and a key ($TOKEN; admin key $KEY), and exports
#   RT_START_CMD for run-peers.sh: each run starts a fresh server on $data.
# shellcheck disable=SC2154 # $here and $BIN are set by the sourcing script
peer_harness() {
  local name=$1 work=$2 shared="$here/../../shared/bench"
  if [ ! -d "$shared" ]; then
    echo "$name: SKIPPED: the peer harness ../shared/bench is not present in this checkout"
    exit 0
  fi
  if [ ! -x "$work/wsbench" ] || [ ! -d "$work/node_modules/socket.io" ]; then
    rm -rf "$work" && cp -r "$shared" "$work" && chmod -R u+w "$work"
    (cd "$work" && make -s && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

rt_bench_env() {
  data=$(mktemp -d)
  KEY=bench-admin-key
  "$BIN" serve --listen 127.0.0.1:18090 --data "$data" --admin-key $KEY --log-level warn &
  local pid=$!
  for _ in $(seq 50); do curl -fs http://127.0.0.1:18090/healthz >/dev/null && break; sleep 0.1; done
  api() { curl -fsS -X "$1" "http://127.0.0.1:18090$2" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
  api POST /v1/apps '{"id":"bench"}' >/dev/null
  api POST /v1/apps/bench/envs '{"id":"prod"}' >/dev/null
  api POST /v1/apps/bench/envs/prod/topics '{"name":"bench.fanout"}' >/dev/null
  TOKEN=$(api POST /v1/apps/bench/envs/prod/keys '{"name":"bench"}' | sed -E 's/.*"key":"([^"]+)".*/\1/')
  kill $pid
  wait $pid || true
  # The benchmark publisher is one connection: lift the per-connection
  # publish rate limit (a client-protection default of 100/s).
  export RT_START_CMD="$BIN serve --listen 127.0.0.1:{port} --data $data --admin-key $KEY --log-level warn --ws-publish-rate 1000000"
  export RT_TOKEN="$TOKEN"
}
