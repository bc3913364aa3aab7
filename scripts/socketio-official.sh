#!/usr/bin/env bash
# Runs the two official protocol test suites, as published, against
# `realtime serve --socketio-conformance` (docs/socketio.md "Conformance mode").
#
#   scripts/socketio-official.sh ENGINEIO SOCKETIO
#
# ENGINEIO and SOCKETIO are each either a `test-suite/` directory of
# socketio/engine.io-protocol and socketio/socket.io-protocol, or a git
# directory (bare or not) of those repositories, whose `test-suite/` at HEAD is
# exported to a temporary directory. A suite without node_modules gets
# `npm ci`, as its README says. Nothing is built: the binary is $REALTIME_BIN
# (default build/realtime). The suites' code is never copied into this tree.
#
# A developer tool, not part of `make test` (CI has no copy of the suites):
# without both suites it prints "SKIPPED: ..." and exits 0. Otherwise it exits 0
# only if both suites pass completely.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${REALTIME_BIN:-$root/build/realtime}

skip() {
    echo "SKIPPED: $*"
    exit 0
}

[ $# -eq 2 ] || skip "usage: $0 ENGINEIO_SUITE SOCKETIO_SUITE (test-suite/ dirs or git dirs)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    skip "node and npm are required"
fi
[ -x "$bin" ] || { echo "no realtime binary at $bin (set REALTIME_BIN)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/rt-sio-official.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Prints the directory holding test-suite.js for argument $1 (name $2), or
# nothing when there is none.
suite_dir() {
    local arg=$1 name=$2
    if [ -f "$arg/test-suite.js" ]; then
        (cd "$arg" && pwd)
    elif [ -f "$arg/test-suite/test-suite.js" ]; then
        (cd "$arg/test-suite" && pwd)
    elif git --git-dir="$arg" rev-parse --verify -q HEAD:test-suite >/dev/null 2>&1 ||
        git -C "$arg" rev-parse --verify -q HEAD:test-suite >/dev/null 2>&1; then
        local gd
        gd=$(git -C "$arg" rev-parse --absolute-git-dir 2>/dev/null || (cd "$arg" && pwd))
        mkdir -p "$work/$name"
        git --git-dir="$gd" archive HEAD test-suite | tar -x -C "$work/$name"
        echo "$work/$name/test-suite"
    fi
}

eio=$(suite_dir "$1" engine.io)
sio=$(suite_dir "$2" socket.io)
[ -n "$eio" ] || skip "no Engine.IO test suite at $1"
[ -n "$sio" ] || skip "no Socket.IO test suite at $2"

# Both suites hard-code their server's URL (`const URL = "http://localhost:3000"`).
port_of() {
    sed -n 's|^const URL = "http://localhost:\([0-9]*\)".*|\1|p' "$1/test-suite.js" | head -n 1
}
port=$(port_of "$eio")
[ -n "$port" ] || { echo "cannot find the server URL in $eio/test-suite.js" >&2; exit 2; }
[ "$(port_of "$sio")" = "$port" ] || { echo "the two suites expect different ports" >&2; exit 2; }
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use; the suites need it" >&2
    exit 2
fi

for d in "$eio" "$sio"; do
    [ -d "$d/node_modules" ] || (cd "$d" && npm ci --no-audit --no-fund >/dev/null)
done

"$bin" serve --socketio-conformance --listen "127.0.0.1:$port" --data "$work/data" \
    --admin-key "conformance-$$-$RANDOM$RANDOM" --log-level warn 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 2; }
    sleep 0.1
done

failed=0
summary=
for pair in "Engine.IO:$eio" "Socket.IO:$sio"; do
    name=${pair%%:*}
    dir=${pair#*:}
    echo "== $name test suite ($dir)"
    rc=0
    (cd "$dir" && npx --no-install mocha test-suite.js) 2>&1 | tee "$work/$name.out" || rc=$?
    passing=$(sed -n 's/^ *\([0-9]*\) passing.*/\1/p' "$work/$name.out" | tail -n 1)
    failing=$(sed -n 's/^ *\([0-9]*\) failing.*/\1/p' "$work/$name.out" | tail -n 1)
    summary+="$name: ${passing:-0} passing, ${failing:-0} failing"$'\n'
    [ "$rc" -eq 0 ] && [ -z "$failing" ] && [ -n "$passing" ] || failed=1
done

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || { echo "realtime exited with $rc" >&2; cat "$work/server.log" >&2; failed=1; }

printf '\n%s' "$summary"
if [ "$failed" -ne 0 ]; then
    echo "FAILED"
    exit 1
fi
echo "PASSED"
