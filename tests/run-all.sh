#!/bin/sh
# run-all.sh -- the whole test suite, from a clean clone on Debian 12:
# installs what is missing, checks the source (tools/lint.sh: the layer
# rule, clang-format, clang-tidy), builds, runs the unit tests (ctest) and
# the integration tests (the real mcpd driven by the official MCP SDK
# client), a soak of SOAK_SECONDS (60) on the plain build (tests/soak/),
# runs every fuzz target for FUZZ_SECONDS (10) each
# (fuzz/run.sh, clang-14 + libFuzzer), then builds again with ASan+UBSan
# and runs the unit and integration tests once more, and once more with
# ThreadSanitizer: the unit tests and the integration tests whose code
# runs on more than one thread (TSAN_TESTS: plugin threads, the worker
# pool, calls completed from workers, reloads with calls in flight).
# Exits non-zero on the first failure; each step says when it began.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)

step() { printf '\n==> %s (at %s s)\n' "$*" "$(( $(date +%s) - start ))"; }

# Where threads meet the loop: the rest is loop-thread code, which
# ThreadSanitizer has nothing to say about (ASan runs all of it).
TSAN_TESTS="abi11 abi12 conformance fair_share http_sse mcp_transport plugins regressions
  reload reload_rules sdk_authoring sdk_client sse_resume stdio"

step "dependencies"
packaging/install-deps.sh --test
(cd tests && npm ci --no-audit --no-fund --loglevel=error)

run_suite() { # $1 = build directory, $2 = extra cmake arguments, $3 = test names (all)
  build=$1
  step "build $build $2"
  # shellcheck disable=SC2086
  cmake -S . -B "$build" $2 >/dev/null
  cmake --build "$build" -j2 >/dev/null
  step "unit tests ($build)"
  ctest --test-dir "$build" --output-on-failure
  if [ -n "${3:-}" ]; then
    step "integration tests ($build: $(echo $3 | wc -w) files)"
    # shellcheck disable=SC2086
    set -- $(for n in $3; do echo "integration/$n.test.mjs"; done)
  else
    step "integration tests ($build)"
    set -- integration/
  fi
  (cd tests && MCPD_BUILD_DIR="$root/$build" node --test --test-concurrency=1 --test-reporter=spec "$@")
}

step "lint"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
tools/lint.sh build

run_suite build "-DCMAKE_BUILD_TYPE=RelWithDebInfo"
step "soak (build, ${SOAK_SECONDS:-60} s)"
(cd tests && MCPD_BUILD_DIR="$root/build" SOAK_SECONDS="${SOAK_SECONDS:-60}" node soak/soak.mjs)

step "fuzz (${FUZZ_SECONDS:-10} s per target)"
fuzz/run.sh "${FUZZ_SECONDS:-10}" build-fuzz
run_suite build-asan "-DCMAKE_BUILD_TYPE=Debug -DMCPD_SANITIZE=ON"
run_suite build-tsan "-DCMAKE_BUILD_TYPE=Debug -DMCPD_TSAN=ON" "$TSAN_TESTS"

step "all tests passed in $(( $(date +%s) - start )) s"
