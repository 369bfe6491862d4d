#!/usr/bin/env bash
# Build gridkb and serve the bundled demo corpus on http://127.0.0.1:7700.
# The first start ingests corpus/ into ./data (progress on stderr); later starts reuse it.
# Extra arguments go to `gridkb serve` (e.g. --addr 127.0.0.1:8080 --data /tmp/kb).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p gridkb
exec "${CARGO_TARGET_DIR:-target}/release/gridkb" serve "$@"
