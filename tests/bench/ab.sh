#!/bin/bash
# ab.sh -- this commit against another one, in one run on one machine
# (not part of the test suite): the benchmark's mcpd rows for both builds,
# interleaved round by round so that both see the same machine.
#
#   tests/bench/ab.sh OLD_REV [NEW_REV]     # NEW_REV defaults to the work tree
#   AB_SECONDS=5 AB_ROUNDS=3 tests/bench/ab.sh HEAD~3
#
# Builds each revision in Release mode into build-ab/ (a clean checkout of
# OLD_REV with `git worktree`; NEW_REV likewise, or this work tree), starts
# one nginx backend (the benchmark's /items/1 and /openapi.json), and for
# each build an mcpd with hello.so and http_backend.so in front of that
# nginx. Each round runs wrk (tests/bench/mcp_echo.lua, -t1 -c32) on
# tools/call echo (in a session, and 2026-07-28 without one) and on the
# http_backend tool, old then new; the table
# gives the median requests/s and p99 of the rounds, and each mcpd's RSS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
old=${1:?usage: ab.sh OLD_REV [NEW_REV]}
new=${2:-}
secs=${AB_SECONDS:-5}
rounds=${AB_ROUNDS:-3}
out=$root/build-ab
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "$out/src-old" "$out/src-new"; do
    [ -d "$d" ] && git -C "$root" worktree remove --force "$d" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

build() { # $1 = tag, $2 = revision ("" = this work tree)
  local src=$root
  if [ -n "$2" ]; then
    src=$out/src-$1
    git -C "$root" worktree remove --force "$src" 2>/dev/null || true
    git -C "$root" worktree add --detach "$src" "$2" >/dev/null 2>&1
  fi
  echo "ab.sh: building $1 (${2:-work tree}: $(git -C "$src" rev-parse --short HEAD))" >&2
  # A build directory configured from another source tree cannot be reused.
  if [ -f "$out/$1/CMakeCache.txt" ] &&
    ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$out/$1/CMakeCache.txt"; then
    rm -rf "${out:?}/$1"
  fi
  cmake -S "$src" -B "$out/$1" -DCMAKE_BUILD_TYPE=Release -DMCPD_BUILD_TESTS=OFF >/dev/null
  cmake --build "$out/$1" -j2 >/dev/null
}
build old "$old"
build new "$new"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "ab.sh: nothing listens on port $1" >&2
  return 1
}

# The backend: nginx, unprivileged, in its own directory.
nport=$(port)
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/cb;
  proxy_temp_path $work/nginx/p;
  fastcgi_temp_path $work/nginx/f;
  uwsgi_temp_path $work/nginx/u;
  scgi_temp_path $work/nginx/s;
  server {
    listen 127.0.0.1:$nport;
    location = /items/1 { default_type application/json; return 200 '{"id":1,"name":"widget","price":9.5,"tags":["a","b"]}'; }
    location = /openapi.json { default_type application/json; alias $here/openapi.json; }
  }
}
NGINX
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_port "$nport"

declare -A mport mpid
for tag in old new; do
  mkdir -p "$work/$tag/plugins"
  cp "$out/$tag/plugins/hello.so" "$out/$tag/plugins/http_backend.so" "$work/$tag/plugins/"
  mport[$tag]=$(port)
  cat >"$work/$tag/mcpd.json" <<JSON
{"listen": "127.0.0.1:${mport[$tag]}", "plugins_dir": "$work/$tag/plugins", "log_level": "warn",
 "plugins": {"http_backend": {"backends": [{"name": "bk", "base_url": "http://127.0.0.1:$nport", "openapi": "/openapi.json"}]}}}
JSON
  "$out/$tag/mcpd" --config "$work/$tag/mcpd.json" 2>"$work/$tag/log" &
  mpid[$tag]=$!
  pids+=($!)
  wait_port "${mport[$tag]}"
done
sleep 1 # http_backend fetches its document

declare -A rps p99
run() { # $1 = tag, $2 = row, $3 = tool, $4 = arguments, $5 = MCP_MODE (session)
  local r
  r=$(MCP_TOOL=$3 MCP_ARGS=$4 MCP_MODE=${5:-session} wrk -t1 -c32 -d"${secs}s" -s "$here/mcp_echo.lua" \
    "http://127.0.0.1:${mport[$1]}/mcp")
  local n us lat
  n=$(sed -n 's/^requests //p' <<<"$r")
  us=$(sed -n 's/^duration_us //p' <<<"$r")
  lat=$(sed -n 's/^latency_p99_us //p' <<<"$r")
  rps[$1,$2]+="$(( n * 1000000 / us )) "
  p99[$1,$2]+="$lat "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for tag in old new; do # warm-up
  MCP_TOOL=echo wrk -t1 -c32 -d1s -s "$here/mcp_echo.lua" "http://127.0.0.1:${mport[$tag]}/mcp" >/dev/null
done
for r in $(seq "$rounds"); do
  echo "ab.sh: round $r of $rounds" >&2
  for tag in old new; do
    run "$tag" echo echo '{"text":"hello, mcpd"}'
    run "$tag" modern echo '{"text":"hello, mcpd"}' modern
    run "$tag" backend get_item '{"item_id":1}'
  done
done

printf '\n| build | tools/call echo req/s | p99 | 2026-07-28 echo req/s | p99 | http_backend -> nginx req/s | p99 | RSS after |\n'
printf '|---|--:|--:|--:|--:|--:|--:|--:|\n'
for tag in old new; do
  rev=$old
  [ "$tag" = new ] && rev=${new:-work tree}
  rss=$(awk '/VmRSS/ {print $2}' "/proc/${mpid[$tag]}/status")
  awk -v t="$tag" -v r="$rev" -v e="$(median "${rps[$tag,echo]}")" \
    -v ep="$(median "${p99[$tag,echo]}")" -v o="$(median "${rps[$tag,modern]}")" \
    -v op="$(median "${p99[$tag,modern]}")" -v b="$(median "${rps[$tag,backend]}")" \
    -v bp="$(median "${p99[$tag,backend]}")" -v m="$rss" 'BEGIN {
      printf "| %s (%s) | %d | %.2f ms | %d | %.2f ms | %d | %.2f ms | %.1f MB |\n", t, r, e,
        ep / 1000, o, op / 1000, b, bp / 1000, m / 1024 }'
done
printf '\nrounds: %s x %s s per row; requests/s of each round:\n' "$rounds" "$secs"
for tag in old new; do
  printf '  %s echo: %s; 2026-07-28 echo: %s; http_backend: %s\n' "$tag" "${rps[$tag,echo]}" \
    "${rps[$tag,modern]}" "${rps[$tag,backend]}"
done
