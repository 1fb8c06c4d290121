#!/bin/sh
# build-and-run.sh -- installs the build dependencies, builds mcpd and its
# bundled plugins into build/, and runs it on the default configuration
# (http://127.0.0.1:8000/mcp, plugins from build/plugins). Arguments are
# passed to mcpd, e.g. --listen 127.0.0.1:9000 or --config mcpd.json.
set -eu
cd "$(dirname "$0")/.."
packaging/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null
exec ./build/mcpd "$@"
