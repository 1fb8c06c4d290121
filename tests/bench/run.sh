#!/bin/bash
# run.sh -- mcpd's benchmark, in one command (not part of the test suite):
#
#   tests/bench/run.sh                      # wrk -t1 -c32 -d10s per target
#   BENCH_SECONDS=3 tests/bench/run.sh      # a quick run
#
# Installs what is missing (Debian packages: the build dependencies, wrk,
# nginx-light, python3-fastapi, python3-uvicorn; npm: the pinned peers of
# tests/bench/package-lock.json with `npm ci`), builds mcpd in Release mode
# into build-bench/ (build/, build-asan/ and build-tsan/ are left alone),
# raises `ulimit -n` for the open-streams measurement, and runs bench.mjs,
# which starts and stops every server itself, prints the table and writes
# tests/bench/RESULTS.md, then attack.mjs, which measures a victim's
# tools/call latency while other addresses attack and appends that table.
# Settings: see the top of bench.mjs and of attack.mjs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${MCPD_BUILD_DIR:-$root/build-bench}

"$root/packaging/install-deps.sh"
missing=""
for p in wrk nginx-light python3-fastapi python3-uvicorn nodejs npm; do
  if [ "$p" = nodejs ] || [ "$p" = npm ]; then
    command -v "${p%js}" >/dev/null 2>&1 && continue # node (any origin) and npm
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  echo "run.sh: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

echo "run.sh: npm ci in tests/bench" >&2
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

echo "run.sh: building mcpd (Release) in $build" >&2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMCPD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 >/dev/null

# 5,000 open SSE streams: the client and mcpd each hold one descriptor per
# stream, plus the sessions' setup connections.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then hard=65536; fi
ulimit -n "$hard"

export MCPD_BUILD_DIR="$build"
node "$here/bench.mjs" &
bench=$!
# bench.mjs stops its servers and removes its temporary files when it exits
# or gets SIGINT/SIGTERM/SIGHUP; pass ours on to it.
trap 'kill -TERM "$bench" 2>/dev/null; wait "$bench"; exit 130' INT TERM HUP
status=0
wait "$bench" || status=$?
[ "$status" -ne 0 ] && exit "$status"

# The victim's latency under each of the hostile-client attacks, appended
# to RESULTS.md (BENCH_ATTACKS=0 skips it).
if [ "${BENCH_ATTACKS:-1}" != 0 ]; then
  ATTACK_APPEND=1 node "$here/attack.mjs" &
  bench=$!
  wait "$bench" || status=$?
fi
exit "$status"
