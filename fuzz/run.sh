#!/bin/sh
# run.sh -- builds the libFuzzer targets (clang-14, -DMCPD_FUZZ=ON) and runs
# each one for a while on a copy of its seed corpus.
#
#   fuzz/run.sh [SECONDS] [BUILD_DIR]      (defaults: 30, build-fuzz)
#
# BUILD_DIR is relative to the source tree, or absolute. Each target runs SECONDS on
# BUILD_DIR/fuzz/work/<target> (a fresh copy of fuzz/corpus/<target>: the
# committed corpus never grows), with its dictionary, an input size limit
# that suits it, a per-input timeout and an RSS limit. Its log goes to
# BUILD_DIR/fuzz/logs/<target>.log and whatever crashes to
# BUILD_DIR/fuzz/artifacts/. Prints one line per target (executions,
# coverage) and exits non-zero when any target failed (a crash, a leak, a
# timeout, an OOM, or a failed check). Environment: MCPD_FUZZ_CC (the
# compiler, default clang-14), MCPD_FUZZ_JOBS (build jobs, default 1),
# MCPD_FUZZ_TARGETS (a space-separated subset to run).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-30}
build=${2:-build-fuzz}
cc=${MCPD_FUZZ_CC:-clang-14}
jobs=${MCPD_FUZZ_JOBS:-1}
targets=${MCPD_FUZZ_TARGETS:-"fuzz_json_read fuzz_uri_template fuzz_schema fuzz_auth fuzz_dispatch fuzz_openapi fuzz_http"}

case $seconds in
'' | *[!0-9]*)
  echo "usage: fuzz/run.sh [SECONDS] [BUILD_DIR]" >&2
  exit 2
  ;;
esac
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "fuzz/run.sh: $cc not found (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi

# The largest input each target gets: a template and URI, a schema and
# instance, a JSON document or batch, an OpenAPI document, a connection's
# worth of pipelined requests.
max_len() {
  case $1 in
  fuzz_uri_template) echo 512 ;;
  fuzz_schema) echo 4096 ;;
  fuzz_auth) echo 8192 ;; # a token is at most 8 KiB
  fuzz_json_read | fuzz_dispatch) echo 8192 ;; # json_read: deep enough for the 2048-level limit
  *) echo 16384 ;;
  esac
}

case $build in
/*) ;;
*) build="$root/$build" ;;
esac
out="$build/fuzz"
mkdir -p "$out/logs" "$out/artifacts"

echo "==> configure and build ($cc, MCPD_FUZZ=ON) in $build"
cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCPD_FUZZ=ON \
  >"$out/logs/configure.log" 2>&1 || {
  cat "$out/logs/configure.log" >&2
  exit 1
}
cmake --build "$build" --target fuzz_all -j"$jobs" >"$out/logs/build.log" 2>&1 || {
  tail -n 50 "$out/logs/build.log" >&2
  exit 1
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
echo "==> running each target for ${seconds}s"
for t in $targets; do
  work="$out/work/$t"
  log="$out/logs/$t.log"
  rm -rf "$work"
  mkdir -p "$work"
  cp "fuzz/corpus/$t/"* "$work/"
  dict=""
  if [ -f "fuzz/$t.dict" ]; then
    dict="-dict=fuzz/$t.dict"
  fi
  rc=0
  # shellcheck disable=SC2086
  "$out/$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" $dict \
    "$work" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    printf '%-18s ok     execs=%s (%s/s) %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-}"
  else
    failed=1
    printf '%-18s FAILED (exit %s) execs=%s %s; log: %s\n' "$t" "$rc" "${execs:-?}" \
      "${cov:-}" "$log"
    grep -E 'ERROR|runtime error|fuzz check failed|SUMMARY|Test unit written' "$log" | head -n 8 |
      sed 's/^/    /'
  fi
done
exit $failed
