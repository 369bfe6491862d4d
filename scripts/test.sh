#!/usr/bin/env bash
# Build and run every test of the workspace. One release build serves the tests, the benches
# and the binary, which is much cheaper on 2 cores than a debug build plus a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release --locked "$@"
