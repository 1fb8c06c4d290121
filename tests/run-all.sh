#!/bin/sh
# run-all.sh -- the whole test suite, from a clean clone on Debian 12:
# installs what is missing, checks the source (tools/lint.sh: the layer
# rule, clang-format, clang-tidy), builds, runs the unit tests (ctest) and
# the integration tests (the real mcpd driven by the official MCP SDK
# client), a soak of SOAK_SECONDS (60) on the plain build (tests/soak/),
# runs every fuzz target for FUZZ_SECONDS (20) each
# (fuzz/run.sh, clang-14 + libFuzzer), then builds again with ASan+UBSan
# and runs the unit and integration tests once more, and once more with
# ThreadSanitizer (plugin threads, the worker pool, reloads).
# Exits non-zero on the first failure.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
packaging/install-deps.sh --test
(cd tests && npm ci --no-audit --no-fund --loglevel=error)

run_suite() { # $1 = build directory, $2 = extra cmake arguments
  step "build $1 $2"
  # shellcheck disable=SC2086
  cmake -S . -B "$1" $2 >/dev/null
  cmake --build "$1" -j2 >/dev/null
  step "unit tests ($1)"
  ctest --test-dir "$1" --output-on-failure
  step "integration tests ($1)"
  (cd tests && MCPD_BUILD_DIR="$root/$1" node --test --test-concurrency=1 --test-reporter=spec \
    integration/)
}

step "lint"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
tools/lint.sh build

run_suite build "-DCMAKE_BUILD_TYPE=RelWithDebInfo"
step "soak (build, ${SOAK_SECONDS:-60} s)"
(cd tests && MCPD_BUILD_DIR="$root/build" SOAK_SECONDS="${SOAK_SECONDS:-60}" node soak/soak.mjs)

step "fuzz (${FUZZ_SECONDS:-20} s per target)"
fuzz/run.sh "${FUZZ_SECONDS:-20}" build-fuzz
run_suite build-asan "-DCMAKE_BUILD_TYPE=Debug -DMCPD_SANITIZE=ON"
run_suite build-tsan "-DCMAKE_BUILD_TYPE=Debug -DMCPD_TSAN=ON"

step "all tests passed in $(( $(date +%s) - start )) s"
