#!/bin/sh
# install-deps.sh -- installs what building (and, with --test, testing) mcpd
# needs on Debian 12, skipping what is already there.
#   packaging/install-deps.sh          build dependencies
#   packaging/install-deps.sh --test   build and test dependencies
set -eu

pkgs="gcc make cmake pkg-config libuv1-dev libjansson-dev node-llhttp libcurl4-openssl-dev libssl-dev libcjose-dev libyaml-dev"
if [ "${1:-}" = "--test" ]; then
  # Node.js runs the official MCP SDK client in the integration tests.
  command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
  # The package test (tests/integration/package.test.mjs) builds the man page
  # with go-md2man, and checks the packages' Depends with dpkg-shlibdeps
  # (dpkg-dev). cpack -G DEB itself needs only dpkg (always there) and
  # binutils (with gcc); dpkg-deb, which takes the packages apart, is in dpkg.
  pkgs="$pkgs go-md2man dpkg-dev file"
  # /metrics is checked with promtool (prometheus), scale-out with a real
  # nginx (nginx-light), and sd_notify with a small Python listener.
  pkgs="$pkgs prometheus nginx-light python3"
  # The http_backend tests run a real FastAPI app (form bodies need multipart).
  pkgs="$pkgs python3-fastapi python3-uvicorn python3-multipart"
  # Lint (tools/lint.sh) and the fuzz targets (fuzz/run.sh: clang-14 with
  # libFuzzer and the sanitizer runtimes); git lists the files to check.
  pkgs="$pkgs git clang-format clang-tidy clang-14 libclang-rt-14-dev"
fi

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
