#!/usr/bin/env bash
# bench/schema/run.sh - validations per second from raw JSON bytes (parse +
# validate, the schema gate's job on the publish path), ours against ajv@8 in
# the same run, for the schemas in cases/ with a valid and an invalid instance
# each. Prints a table with the ratio ours/ajv (> 1: we are faster), then the
# parse alone on each side. Fails if the two validators disagree on any
# verdict or an instance gets the wrong one (cases/NAME.valid.json must be valid).
# Env: BUILD_DIR (default <repo>/build), SCHEMA_BENCH_SECONDS (timed part of
# each measurement, default 1.5), CC (default cc).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
secs=${SCHEMA_BENCH_SECONDS:-1.5}
libs="libuv jansson sqlite3 libcrypto libjwt libpcre2-8 libcurl libpq"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRT_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target rt >/dev/null
# shellcheck disable=SC2046,SC2086 # pkg-config output is a word list
"${CC:-cc}" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -I"$root/src" \
  "$here/schema_bench.c" "$build/librt.a" $(pkg-config --libs $libs) -lpthread -lm \
  -o "$build/schema_bench"
[ -d "$here/node_modules/ajv" ] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

echo "schema bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${secs}s per measurement"
echo "ours: $("${CC:-cc}" --version | head -1), rt_schema_validate_bytes_collect (own parser + validate, max_errors $(grep -o 'DEFAULT_MAX_ERRORS [0-9]*' "$root/src/schema/schema.h" | cut -d' ' -f2), error units built into an rt_schema_errors_t, no jansson)"
echo "ajv:  $(node -p 'require("'"$here"'/node_modules/ajv/package.json").version') on node $(node --version), JSON.parse + compiled validate (allErrors false, its error objects built)"
printf '%-22s %-8s %14s %14s %8s\n' schema instance 'ours ops/s' 'ajv ops/s' ours/ajv
fail=0
# case  format_assert  label
while read -r name fa label; do
  for kind in valid invalid; do
    s="$here/cases/$name.schema.json" i="$here/cases/$name.$kind.json"
    o=$("$build/schema_bench" --seconds "$secs" --format-assert "$fa" "$s" "$i" </dev/null)
    a=$(node "$here/ajv_bench.mjs" --seconds "$secs" --format-assert "$fa" "$s" "$i" </dev/null)
    read -r ov ops _ <<<"$o"
    read -r av aps _ <<<"$a"
    if [ "$ov" != "$kind" ] || [ "$av" != "$kind" ]; then
      echo "VERDICT MISMATCH on $name.$kind.json: ours=$ov ajv=$av expected=$kind" >&2
      fail=1
    fi
    awk -v l="$label" -v k="$kind" -v o="$ops" -v a="$aps" \
      'BEGIN { printf "%-22s %-8s %14.0f %14.0f %8.2f\n", l, k, o, a, o / a }'
  done
done <<'CASES'
small      0 small-flat
order      0 order-event-refs
wide50     0 50-props(fmt-annot)
array1000  0 array-1000
wide50     1 50-props(fmt-assert)
CASES
[ $fail -eq 0 ] || { echo "schema bench: FAILED: verdicts disagree" >&2; exit 1; }

# Where the time goes: the parse alone (our parser, and jansson json_loadb for
# reference, vs JSON.parse; ratio = ours / JSON.parse).
printf '%-22s %-8s %14s %14s %14s %8s\n' 'parse only' instance 'ours ops/s' 'jansson ops/s' \
  'JSON.parse' ratio
for name in small order wide50 array1000; do
  s="$here/cases/$name.schema.json" i="$here/cases/$name.valid.json"
  o=$("$build/schema_bench" --seconds "$secs" --parse-only 1 "$s" "$i" </dev/null)
  j=$("$build/schema_bench" --seconds "$secs" --parse-only 2 "$s" "$i" </dev/null)
  a=$(node "$here/ajv_bench.mjs" --seconds "$secs" --parse-only 1 "$s" "$i" </dev/null)
  read -r _ ops _ <<<"$o"
  read -r _ jps _ <<<"$j"
  read -r _ aps _ <<<"$a"
  awk -v l="$name" -v o="$ops" -v j="$jps" -v a="$aps" \
    'BEGIN { printf "%-22s %-8s %14.0f %14.0f %14.0f %8.2f\n", l, "valid", o, j, a, o / a }'
done
