#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks need,
# then the Node test clients. Idempotent: packages already present are not
# touched and `apt-get update` runs only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libuv1-dev libjansson-dev libsqlite3-dev libssl-dev libjwt-dev libpcre2-dev
  libcurl4-openssl-dev libpq-dev libcmocka-dev liburing-dev
  postgresql-15 chromium
  wrk nginx curl
  nats-server mosquitto libnginx-mod-nchan
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg -s "$p" >/dev/null 2>&1; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: all Debian packages present"
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "deps: Node.js with npm is required (Node 20+); install it and run again" >&2
  exit 1
fi

here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -f "$here/tests/package.json" ]; then
  if [ ! -d "$here/tests/node_modules" ] || [ "$here/tests/package-lock.json" -nt "$here/tests/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in tests/"
    (cd "$here/tests" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
