#!/bin/sh
# lint.sh -- the checks a machine can make of the source, run by the test
# command: the layer rule (tools/check-layers.py, and its self-test),
# clang-format over every C file, and clang-tidy (.clang-tidy) over core/
# and the bundled plugins, using BUILD_DIR/compile_commands.json.
#   tools/lint.sh [BUILD_DIR]     (default: build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}

echo "lint: layers"
python3 tools/check-layers.py
python3 tools/check-layers.py --self-test

echo "lint: clang-format"
# The frozen ABI 1.0 header is kept byte for byte as it shipped.
git ls-files '*.c' '*.h' | grep -v '^tests/fixtures/abi-1.0/' |
  xargs clang-format --dry-run -Werror

echo "lint: clang-tidy"
if [ ! -f "$build/compile_commands.json" ]; then
  cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
fi
git ls-files 'core/*.c' 'plugins/*.c' | xargs -P 2 -n 8 clang-tidy -p "$build" --quiet 2>/dev/null
echo "lint: ok"
