#!/usr/bin/env bash
# The web pages in Debian's Chromium (headless, through playwright-core)
# against a fresh mesh of their own: see pages.test.js.
#
# Needs the debug `foodmesh` binary (`cargo build -p foodmesh`), Postgres,
# Redis, python3, node and npm (playwright-core is installed from
# package-lock.json into tests/browser/node_modules) and chromium.
#
#   SCREENSHOTS=docs/screenshots bash tests/browser/run.sh
# also refreshes the README's screenshots, and
#   BROWSER_TESTS='kitchen' bash tests/browser/run.sh
# runs only the tests whose names match that pattern.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/browser
for tool in node npm chromium; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "browser: $tool is needed (apt-get install chromium nodejs npm)" >&2
    exit 1
  }
done
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ -n "${SCREENSHOTS:-}" ]; then
  mkdir -p "$SCREENSHOTS"
  SCREENSHOTS=$(cd "$SCREENSHOTS" && pwd)
  export SCREENSHOTS
fi

MESH_NAME=browser
# shellcheck source=tests/lib/mesh.sh
. "$root/tests/lib/mesh.sh"
# shellcheck disable=SC2119
mesh_start

cd "$here"
FOODMESH_URL=$gateway FOODMESH_BIN=$bin MESH_PID=$mesh_pid node --test --test-concurrency=1 \
  ${BROWSER_TESTS:+"--test-name-pattern=$BROWSER_TESTS"} pages.test.js
